/* upload_apply.c - AWS client set-up from the configuration and the TikTok apply step of the
 * upload command (see tad/upload_apply.h). The env owns every client it creates. */
#include "tad/upload_apply.h"

#include <stdlib.h>
#include <string.h>

#include "tad/creds_sources.h"
#include "tad/ratelimit.h"
#include "tad/tiktok.h"

tad_err tad_aws_region_resolve(const struct tad_config *cfg, char *out, size_t outsz,
                               struct tad_errinfo *err)
{
    const char *r = tad_config_region(cfg, NULL, out, outsz);
    if (r) {
        if (r != out)
            tad_strlcpy(out, outsz, r, strlen(r));
        return TAD_OK;
    }
    struct tad_creds_opts co = {0};
    if (tad_imds_region(&co, out, outsz, err) == TAD_OK)
        return TAD_OK;
    return tad_errinfo_set(err, TAD_ERR_INVALID,
                           "no AWS region: set region, AWS_REGION or AWS_DEFAULT_REGION");
}

tad_err tad_upload_env_init(struct tad_upload_env *env, const struct tad_config *cfg, bool with_aws,
                            const struct tad_upload_hooks *hooks, struct tad_errinfo *err)
{
    static const struct tad_upload_hooks no_hooks = {0};
    if (!hooks)
        hooks = &no_hooks;
    memset(env, 0, sizeof(*env));
    env->cfg = cfg;
    struct tad_http_opts ho = {.cancel = hooks->cancel};
    tad_err e = tad_http_new(&ho, &env->http);
    if (e || !with_aws)
        return e;
    e = tad_ratelimit_new(cfg->tiktok_max_requests_per_second, NULL, &env->ratelimit);
    if (e)
        goto fail;
    struct tad_tiktok_opts to = {
        .api_base = cfg->tiktok_api_base,
        .timeout_ms = cfg->tiktok_timeout_seconds * 1000,
        .rl = env->ratelimit,
        .cancel = hooks->cancel,
        .observe = hooks->tiktok_observe,
        .observe_ctx = hooks->ctx,
        .retry = {(unsigned)cfg->retry_max_attempts, (unsigned)cfg->retry_base_delay_ms,
                  (unsigned)cfg->retry_max_delay_ms},
    };
    e = tad_tiktok_new(&to, &env->tiktok);
    if (e) {
        tad_errinfo_set(err, e, "bad tiktok.api_base");
        goto fail;
    }
    struct tad_audience_sync_opts syo = {.tiktok = env->tiktok};
    e = tad_audience_sync_new(&syo, &env->sync);
    if (e)
        goto fail;
    char region[64];
    e = tad_aws_region_resolve(cfg, region, sizeof(region), err);
    if (e)
        goto fail;
    struct tad_creds_opts co = {.region = region};
    e = tad_creds_provider_new(&co, &env->creds, err);
    if (e)
        goto fail;
    struct tad_aws_opts ao = {.creds = env->creds,
                              .region = region,
                              .observe = hooks->aws_observe,
                              .observe_ctx = hooks->ctx};
    e = tad_aws_new(&ao, &env->aws, err);
    if (e)
        goto fail;
    struct tad_secrets_opts so = {.aws = env->aws,
                                  .ttl_seconds = (unsigned)cfg->secret_ttl_seconds};
    e = tad_secrets_new(&so, &env->secrets);
    if (e)
        goto fail;
    return TAD_OK;
fail:
    tad_upload_env_release(env);
    return e;
}

void tad_upload_env_release(struct tad_upload_env *env)
{
    tad_audience_sync_free(env->sync);
    tad_tiktok_free(env->tiktok);
    tad_ratelimit_free(env->ratelimit);
    tad_secrets_free(env->secrets);
    tad_aws_free(env->aws);
    tad_creds_provider_free(env->creds);
    tad_http_free(env->http);
    memset(env, 0, sizeof(*env));
}

struct creds_ctx {
    struct tad_upload_env *env;
    const char *secret_id;
};

static tad_err get_creds(void *vctx, struct tad_http *h, struct tad_tiktok_creds *ret,
                         struct tad_errinfo *err)
{
    struct creds_ctx *c = vctx;
    struct tad_secret *s = NULL;
    tad_err e = tad_secrets_get(c->env->secrets, h, c->secret_id, &s, err);
    if (e)
        return e;
    e = tad_tiktok_creds_parse(s->value, s->len, ret, err);
    tad_secret_unref(s);
    if (e && err) {
        char why[sizeof(err->msg)];
        tad_strlcpy(why, sizeof(why), err->msg, strlen(err->msg));
        tad_errinfo_set(err, e, "secret %s: %s", c->secret_id, why);
    }
    return e;
}

static void invalidate_creds(void *vctx)
{
    struct creds_ctx *c = vctx;
    tad_secrets_invalidate(c->env->secrets, c->secret_id);
}

tad_err tad_upload_apply(struct tad_upload_env *env, struct tad_http *h, const struct tad_route *rt,
                         const char *secret_id, const struct tad_pipeline_result *res, bool dry_run,
                         struct tad_upload_outcome *out, struct tad_errinfo *err)
{
    memset(out, 0, sizeof(*out));
    if (!env->sync) /* no AWS, so no credentials: a dry run of a local file stops here */
        return dry_run ? TAD_OK
                       : tad_errinfo_set(err, TAD_ERR_INVALID, "uploading needs AWS access");
    struct creds_ctx cc = {env, secret_id};
    struct tad_audience_job job = {
        .get_creds = get_creds,
        .invalidate_creds = invalidate_creds,
        .creds_ctx = &cc,
        .audience_name = rt->by_id ? NULL : rt->audience_name,
        .audience_id = rt->by_id ? rt->audience_id : NULL,
        .calculate_type = tad_format_upload_name(rt->format),
        .parts = res->parts,
        .nparts = res->nparts,
        .dry_run = dry_run,
    };
    tad_err e = tad_tiktok_action_parse(tad_route_action_api_name(rt->action), &job.action);
    if (e)
        return tad_errinfo_set(err, e, "bad action");
    struct tad_audience_outcome o;
    memset(&o, 0, sizeof(o));
    e = tad_audience_apply(env->sync, h, &job, &o, err);
    tad_strlcpy(out->custom_audience_id, sizeof(out->custom_audience_id), o.custom_audience_id,
                strlen(o.custom_audience_id));
    out->created = o.created;
    out->would_create = o.would_create;
    size_t used = 0;
    for (size_t i = 0; i < o.request_ids.n && used + 2 < sizeof(out->request_ids); i++) {
        int n = snprintf(out->request_ids + used, sizeof(out->request_ids) - used, "%s%s",
                         i ? "," : "", o.request_ids.v[i]);
        if (n < 0 || (size_t)n >= sizeof(out->request_ids) - used)
            break;
        used += (size_t)n;
    }
    tad_audience_outcome_release(&o);
    return e;
}
