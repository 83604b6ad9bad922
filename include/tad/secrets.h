/* secrets.h - AWS Secrets Manager GetSecretValue with a TTL cache per secret id, and the parse
 * of the TikTok credentials held in the secret (JSON with ACCESS_TOKEN and ADVERTISER_ID).
 *
 * Threading: the cache is shared by every worker. Fetches are single flight per secret id
 * (other callers wait for the one in progress); each caller passes its own HTTP client.
 * Ownership: values are immutable refcounted snapshots (tad_secret_unref); their bytes are
 * wiped when the last reference goes. Secret values are registered with the log redactor.
 */
#ifndef TAD_SECRETS_H
#define TAD_SECRETS_H

#include <stddef.h>
#include <time.h>

#include "tad/aws_call.h"

struct tad_secret {
    const char *value; /* SecretString, or the decoded SecretBinary; NUL-terminated */
    size_t len;
    char version_id[80];
    /* private */
    int refs;
    char storage[];
};

struct tad_secret *tad_secret_ref(struct tad_secret *s);
struct tad_secret *tad_secret_unref(struct tad_secret *s); /* always NULL */

/* The raw fetch (GetSecretValue); *ret is new. Exposed for tests and the upload command. */
TAD_MUST_CHECK tad_err tad_secrets_fetch(struct tad_aws *aws, struct tad_http *h,
                                         const char *secret_id, struct tad_secret **ret,
                                         struct tad_errinfo *err);

struct tad_secrets;

struct tad_secrets_opts {
    struct tad_aws *aws;  /* borrowed */
    unsigned ttl_seconds; /* 0 = 300 */
    time_t (*now)(void *ctx);
    void *now_ctx;
    /* Tests: replaces tad_secrets_fetch. */
    tad_err (*fetch)(void *ctx, struct tad_http *h, const char *secret_id, struct tad_secret **ret,
                     struct tad_errinfo *err);
    void *fetch_ctx;
};

TAD_MUST_CHECK tad_err tad_secrets_new(const struct tad_secrets_opts *opts,
                                       struct tad_secrets **ret);
void tad_secrets_free(struct tad_secrets *s);

/* Cached value (new reference), fetched when absent or older than the TTL. */
TAD_MUST_CHECK tad_err tad_secrets_get(struct tad_secrets *s, struct tad_http *h,
                                       const char *secret_id, struct tad_secret **ret,
                                       struct tad_errinfo *err);
/* Drops one id (TikTok rejected the token) so the next get fetches it again. */
void tad_secrets_invalidate(struct tad_secrets *s, const char *secret_id);
/* Drops every cached value (SIGHUP). */
void tad_secrets_clear(struct tad_secrets *s);
void tad_secrets_set_ttl(struct tad_secrets *s, unsigned ttl_seconds);

/* TikTok credentials parsed from a secret value. access_token is wiped by _release. */
struct tad_tiktok_creds {
    char *access_token;
    char advertiser_id[32];
};

TAD_MUST_CHECK tad_err tad_tiktok_creds_parse(const char *json, size_t len,
                                              struct tad_tiktok_creds *ret,
                                              struct tad_errinfo *err);
void tad_tiktok_creds_release(struct tad_tiktok_creds *c);

#endif
