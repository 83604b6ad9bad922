/* creds_env.c - the environment link of the credential chain: AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (or the older AWS_SECURITY_TOKEN) and the optional
 * AWS_CREDENTIAL_EXPIRATION. Reads the environment through the injected lookup; no state. */
#include <stdlib.h>
#include <string.h>

#include "tad/creds_sources.h"

struct env_ctx {
    tad_getenv_fn env;
};

static tad_err env_fetch(void *vctx, struct tad_aws_creds **ret, struct tad_errinfo *err)
{
    struct env_ctx *ctx = vctx;
    const char *ak = ctx->env("AWS_ACCESS_KEY_ID");
    const char *sk = ctx->env("AWS_SECRET_ACCESS_KEY");
    const char *tok = ctx->env("AWS_SESSION_TOKEN");
    if (!tok || !*tok)
        tok = ctx->env("AWS_SECURITY_TOKEN");
    if ((!ak || !*ak) && (!sk || !*sk))
        return TAD_ERR_NOT_FOUND;
    if (!ak || !*ak)
        return tad_errinfo_set(err, TAD_ERR_AUTH,
                               "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
    if (!sk || !*sk)
        return tad_errinfo_set(err, TAD_ERR_AUTH,
                               "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    time_t exp = 0;
    const char *exps = ctx->env("AWS_CREDENTIAL_EXPIRATION");
    if (exps && *exps && tad_parse_iso8601(exps, &exp) != TAD_OK)
        return tad_errinfo_set(err, TAD_ERR_AUTH,
                               "AWS_CREDENTIAL_EXPIRATION is not an ISO 8601 time");
    struct tad_aws_creds *c =
        tad_aws_creds_new(ak, sk, tok && *tok ? tok : NULL, exp, "environment");
    if (!c)
        return TAD_ERR_NOMEM;
    *ret = c;
    return TAD_OK;
}

tad_err tad_creds_source_env(const struct tad_creds_opts *o, struct tad_creds_source *ret)
{
    struct env_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return TAD_ERR_NOMEM;
    ctx->env = o && o->env ? o->env : (tad_getenv_fn)getenv;
    ret->name = "environment";
    ret->fetch = env_fetch;
    ret->free = free;
    ret->ctx = ctx;
    return TAD_OK;
}
