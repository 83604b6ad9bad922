/* upload_apply.c - AWS client set-up from the configuration and the TikTok apply step of the
 * upload command (see tad/upload_apply.h). The env owns every client it creates. */
#include "tad/upload_apply.h"

#include <stdlib.h>
#include <string.h>

#include "tad/creds_sources.h"

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
                            struct tad_errinfo *err)
{
    memset(env, 0, sizeof(*env));
    env->cfg = cfg;
    tad_err e = tad_http_new(NULL, &env->http);
    if (e || !with_aws)
        return e;
    char region[64];
    e = tad_aws_region_resolve(cfg, region, sizeof(region), err);
    if (e)
        goto fail;
    struct tad_creds_opts co = {.region = region};
    e = tad_creds_provider_new(&co, &env->creds, err);
    if (e)
        goto fail;
    struct tad_aws_opts ao = {.creds = env->creds, .region = region};
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
    tad_secrets_free(env->secrets);
    tad_aws_free(env->aws);
    tad_creds_provider_free(env->creds);
    tad_http_free(env->http);
    memset(env, 0, sizeof(*env));
}

tad_err tad_upload_apply(struct tad_upload_env *env, const struct tad_route *rt,
                         const char *secret_id, const struct tad_pipeline_result *res, bool dry_run,
                         struct tad_upload_outcome *out, struct tad_errinfo *err)
{
    (void)env;
    (void)rt;
    (void)secret_id;
    (void)res;
    memset(out, 0, sizeof(*out));
    if (dry_run)
        return TAD_OK;
    return tad_errinfo_set(err, TAD_ERR_INVALID,
                           "uploading to TikTok is not wired in yet; use --dry-run");
}
