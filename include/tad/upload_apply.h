/* upload_apply.h - what one upload needs around the pipeline: the AWS clients built from the
 * configuration (region resolution, credential chain, signed-call client, Secrets Manager
 * cache), an HTTP client for the calling thread, and the step that applies finished parts to
 * TikTok. Used by the upload command; the daemon builds the same pieces once per process.
 */
#ifndef TAD_UPLOAD_APPLY_H
#define TAD_UPLOAD_APPLY_H

#include <stdatomic.h>
#include <stdbool.h>

#include "tad/audience.h"
#include "tad/aws_call.h"
#include "tad/config.h"
#include "tad/pipeline.h"
#include "tad/route.h"
#include "tad/secrets.h"

struct tad_upload_env {
    const struct tad_config *cfg; /* borrowed */
    struct tad_creds_provider *creds;
    struct tad_aws *aws;
    struct tad_secrets *secrets;
    struct tad_http *http;
    struct tad_ratelimit *ratelimit;
    struct tad_tiktok *tiktok;
    struct tad_audience_sync *sync;
};

/* Resolves the AWS region: config, AWS_REGION, AWS_DEFAULT_REGION, the queue URL's host,
 * then the instance metadata service. */
TAD_MUST_CHECK tad_err tad_aws_region_resolve(const struct tad_config *cfg, char *out, size_t outsz,
                                              struct tad_errinfo *err);

/* What the daemon hooks into the clients (all optional; the upload command passes NULL). */
struct tad_upload_hooks {
    const atomic_int *cancel; /* borrowed: ends TikTok waits, rate-limit waits and the env's
                                 own HTTP client's transfers */
    void (*tiktok_observe)(void *ctx, const char *endpoint, long code);
    void (*aws_observe)(void *ctx, enum tad_aws_service svc, const char *outcome);
    void *ctx;
};

/* with_aws false: only the HTTP client (a dry run of a local file needs no AWS). hooks may be
 * NULL. */
TAD_MUST_CHECK tad_err tad_upload_env_init(struct tad_upload_env *env, const struct tad_config *cfg,
                                           bool with_aws, const struct tad_upload_hooks *hooks,
                                           struct tad_errinfo *err);
void tad_upload_env_release(struct tad_upload_env *env);

struct tad_upload_outcome {
    char custom_audience_id[32];
    bool created;
    bool would_create;     /* dry run: the audience does not exist yet */
    char request_ids[512]; /* TikTok request ids, comma-separated (may be cut) */
};

/* Applies the parts to the audience the route names, with the TikTok credentials of
 * secret_id (nothing changes at TikTok when dry_run; a dry run with AWS looks the audience up).
 * h is the calling thread's HTTP client (env->http for a single-threaded caller).
 */
TAD_MUST_CHECK tad_err tad_upload_apply(struct tad_upload_env *env, struct tad_http *h,
                                        const struct tad_route *rt, const char *secret_id,
                                        const struct tad_pipeline_result *res, bool dry_run,
                                        struct tad_upload_outcome *out, struct tad_errinfo *err);

#endif
