/* audience.h - apply a file's uploaded parts to the right TikTok custom audience.
 *
 * tad_audience_apply() uploads every part, finds the audience by exact name (all pages, same
 * calculate_type, owned by the advertiser; the oldest, i.e. smallest id, when several match)
 * or takes the given id, then creates or updates it with at most 50 file paths per call.
 * Names converge across processes: right after a create it lists again and, when an older
 * same-name same-type audience exists, applies the paths to that one and deletes its own.
 * A token error (40102/40104/40105) invalidates the credentials once and retries the step.
 *
 * Threading: one struct tad_audience_sync is shared by all workers. It holds a per-advertiser
 * name -> id cache with a TTL and a per-(advertiser, type, name) lock, so two workers of one
 * process never create the same audience twice (the second waits, then finds the first's).
 * Each worker passes its own struct tad_http.
 */
#ifndef TAD_AUDIENCE_H
#define TAD_AUDIENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tad/error.h"
#include "tad/http.h"
#include "tad/pipeline.h"
#include "tad/secrets.h"
#include "tad/tiktok.h"

#define TAD_AUDIENCE_CACHE_TTL_S 60u

/* Fills *ret (the caller releases it with tad_tiktok_creds_release) with the credentials of
 * the job's secret. */
typedef tad_err (*tad_audience_creds_fn)(void *ctx, struct tad_http *h,
                                         struct tad_tiktok_creds *ret, struct tad_errinfo *err);
/* TikTok rejected the token: drop the cached secret so the next get fetches it again. */
typedef void (*tad_audience_invalidate_fn)(void *ctx);

struct tad_audience_job {
    tad_audience_creds_fn get_creds;             /* required */
    tad_audience_invalidate_fn invalidate_creds; /* may be NULL */
    void *creds_ctx;
    const char *audience_name;  /* borrowed: target by name (1..128 chars), or NULL ... */
    const char *audience_id;    /* ... borrowed: target by id (digits, "id:" already split) */
    const char *calculate_type; /* borrowed: upload name, e.g. "EMAIL_SHA256" */
    enum tad_tiktok_action action;
    const struct tad_part *parts; /* borrowed; fds are read, not closed */
    size_t nparts;
    bool dry_run; /* no upload/create/update/delete; list allowed */
};

struct tad_audience_outcome {
    char custom_audience_id[32]; /* "" when unknown (dry run of a new audience, failures) */
    bool created;                /* this call created the audience (and kept it) */
    bool would_create;           /* dry run: the audience does not exist and would be created */
    bool converged;              /* an older same-name audience won; ours was deleted */
    char **file_paths;           /* owned: the uploaded parts' file paths, in part order */
    size_t nfile_paths;
    struct tad_tiktok_ids request_ids; /* every TikTok request_id seen, in order */
};

void tad_audience_outcome_release(struct tad_audience_outcome *out);

struct tad_audience_sync_opts {
    struct tad_tiktok *tiktok;     /* borrowed, required */
    unsigned cache_ttl_s;          /* 0 = TAD_AUDIENCE_CACHE_TTL_S */
    uint64_t (*now_ms)(void *ctx); /* monotonic clock; NULL = CLOCK_MONOTONIC */
    void *clock_ctx;
};

struct tad_audience_sync;

TAD_MUST_CHECK tad_err tad_audience_sync_new(const struct tad_audience_sync_opts *opts,
                                             struct tad_audience_sync **ret);
void tad_audience_sync_free(struct tad_audience_sync *sync);
/* Forgets every cached name (SIGHUP). */
void tad_audience_sync_clear(struct tad_audience_sync *sync);

/* Applies job's parts. *out is reset first and filled as the work goes, on failure too, so a
 * failure report can cite the request ids and uploaded paths (release it in both cases).
 * Errors: INVALID (bad job), NOT_FOUND (remove from / update of an audience that does not
 * exist), AUTH (token still rejected after one refresh), the TikTok client's errors
 * (see tad/tiktok.h; transient ones after the in-process retries), CANCELLED. */
TAD_MUST_CHECK tad_err tad_audience_apply(struct tad_audience_sync *sync, struct tad_http *h,
                                          const struct tad_audience_job *job,
                                          struct tad_audience_outcome *out,
                                          struct tad_errinfo *err);

#endif
