/* aws_creds.h - AWS credentials: immutable refcounted snapshots, and a provider that walks the
 * SDKs' chain (environment, shared files/profile, web identity, container, EC2 IMDSv2), caches
 * the result and refreshes it before it expires.
 *
 * Threading: tad_creds_get() may be called from any thread. Refresh is single flight: one
 * refresh at a time, done by a background thread ahead of expiry (15 minutes before, or at
 * half-life for short-lived credentials); callers keep the old snapshot until it actually
 * expires, and only block when no unexpired credentials exist at all.
 * Ownership: snapshots are shared read-only; every *ret is a NEW reference released with
 * tad_aws_creds_unref(). Secret material is wiped when the last reference goes.
 */
#ifndef TAD_AWS_CREDS_H
#define TAD_AWS_CREDS_H

#include <stdbool.h>
#include <time.h>

#include "tad/aws_endpoint.h"
#include "tad/error.h"
#include "tad/timefmt.h"

struct tad_aws_creds {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL for long-term keys */
    time_t expiration;         /* 0 = does not expire */
    const char *source;        /* "environment", "profile", "web-identity", "container", "imds" */
    /* private */
    int refs;
    char storage[];
};

/* New snapshot with one reference; copies every string. NULL on allocation failure. */
struct tad_aws_creds *tad_aws_creds_new(const char *access_key_id, const char *secret_access_key,
                                        const char *session_token, time_t expiration,
                                        const char *source);
struct tad_aws_creds *tad_aws_creds_ref(struct tad_aws_creds *c);
/* Drops a reference (NULL is fine); always returns NULL. */
struct tad_aws_creds *tad_aws_creds_unref(struct tad_aws_creds *c);

/* One link of the chain. fetch returns TAD_ERR_NOT_FOUND when the source is not configured
 * here (then the chain moves on); any other error stops the chain (a configured source that
 * fails is reported, as the SDKs do). fetch is never called concurrently for one source. */
struct tad_creds_source {
    const char *name;
    tad_err (*fetch)(void *ctx, struct tad_aws_creds **ret, struct tad_errinfo *err);
    void (*free)(void *ctx);
    void *ctx;
};

struct tad_creds_provider;

struct tad_creds_opts {
    tad_getenv_fn env;        /* NULL = getenv */
    time_t (*now)(void *ctx); /* NULL = time() */
    void *now_ctx;
    const char *region;       /* for STS web identity; may be NULL */
    unsigned imds_timeout_ms; /* 0 = 1000 */
    bool no_refresh_thread;   /* tests: refresh only on demand */
};

/* Builds the default chain (environment, profile, web identity, container, IMDS). */
TAD_MUST_CHECK tad_err tad_creds_provider_new(const struct tad_creds_opts *opts,
                                              struct tad_creds_provider **ret,
                                              struct tad_errinfo *err);
/* Builds a provider over the given sources (steals them; tests and special set-ups). */
TAD_MUST_CHECK tad_err tad_creds_provider_new_chain(const struct tad_creds_opts *opts,
                                                    struct tad_creds_source *sources,
                                                    size_t nsources,
                                                    struct tad_creds_provider **ret);
void tad_creds_provider_free(struct tad_creds_provider *p);

/* Current unexpired credentials (new reference), fetching them if there are none. */
TAD_MUST_CHECK tad_err tad_creds_get(struct tad_creds_provider *p, struct tad_aws_creds **ret,
                                     struct tad_errinfo *err);

/* The service rejected `seen` (ExpiredToken...): drop it so the next get fetches anew. */
void tad_creds_invalidate(struct tad_creds_provider *p, const struct tad_aws_creds *seen);

/* Runs one refresh now if one is due (for the refresh thread and for tests); returns the
 * number of seconds until the next refresh should happen (0 = none scheduled). */
unsigned tad_creds_refresh_due(struct tad_creds_provider *p);

/* Name of the source that produced the current credentials, "" if none yet. */
const char *tad_creds_source_name(struct tad_creds_provider *p);

#endif
