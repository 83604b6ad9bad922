/* creds_profile.c - the shared-files link of the credential chain: static keys
 * (aws_access_key_id / aws_secret_access_key / aws_session_token) of the selected profile in
 * ~/.aws/credentials and ~/.aws/config, plus the profile loader that the web-identity link and
 * region resolution use. Both files are read afresh on every fetch so rotated keys are seen.
 *
 * Threading: no shared state besides the immutable context. Ownership: the loaded profile owns
 * its parsed files; never logs key material.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tad/creds_sources.h"
#include "tad/ini.h"

struct profile_ctx {
    tad_getenv_fn env;
};

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

/* Path from the variable, else $HOME/<rel>; a leading "~/" is expanded too. */
static tad_err file_path(tad_getenv_fn env, const char *var, const char *rel, char *out,
                         size_t outsz, struct tad_errinfo *err)
{
    const char *p = nonempty(env(var));
    const char *home = nonempty(env("HOME"));
    int n;
    if (p && strncmp(p, "~/", 2) == 0) {
        if (!home)
            return TAD_ERR_NOT_FOUND;
        n = snprintf(out, outsz, "%s/%s", home, p + 2);
    } else if (p) {
        n = snprintf(out, outsz, "%s", p);
    } else {
        if (!home)
            return TAD_ERR_NOT_FOUND;
        n = snprintf(out, outsz, "%s/%s", home, rel);
    }
    if (n < 0 || (size_t)n >= outsz)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "%s: path too long", var);
    return TAD_OK;
}

static tad_err load_one(tad_getenv_fn env, const char *var, const char *rel, struct tad_ini **ret,
                        struct tad_errinfo *err)
{
    char path[4096];
    tad_err e = file_path(env, var, rel, path, sizeof(path), err);
    if (e != TAD_OK)
        return e;
    return tad_ini_load(path, ret, err);
}

static bool config_has(const struct tad_aws_profile *p, const char *section_suffix)
{
    char sec[160];
    int n = snprintf(sec, sizeof(sec), "profile %s", section_suffix);
    if (n > 0 && (size_t)n < sizeof(sec) && tad_ini_has_section(p->config, sec))
        return true;
    return strcmp(section_suffix, "default") == 0 && tad_ini_has_section(p->config, "default");
}

tad_err tad_aws_profile_load(tad_getenv_fn env, struct tad_aws_profile *ret,
                             struct tad_errinfo *err)
{
    struct tad_aws_profile p;
    memset(&p, 0, sizeof(p));
    const char *name = nonempty(env("AWS_PROFILE"));
    if (!name)
        name = nonempty(env("AWS_DEFAULT_PROFILE"));
    p.explicit_name = name != NULL;
    if (!name)
        name = "default";
    if (strlen(name) >= sizeof(p.name))
        return tad_errinfo_set(err, TAD_ERR_INVALID, "AWS profile name too long");
    memcpy(p.name, name, strlen(name) + 1);

    tad_err e =
        load_one(env, "AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials", &p.credentials, err);
    if (e != TAD_OK && e != TAD_ERR_NOT_FOUND)
        goto out;
    e = load_one(env, "AWS_CONFIG_FILE", ".aws/config", &p.config, err);
    if (e != TAD_OK && e != TAD_ERR_NOT_FOUND)
        goto out;
    if (!p.credentials && !p.config) {
        e = TAD_ERR_NOT_FOUND;
        goto out;
    }
    p.exists = tad_ini_has_section(p.credentials, p.name) || config_has(&p, p.name);
    e = TAD_OK;
out:
    if (e != TAD_OK) {
        tad_aws_profile_release(&p);
        return e;
    }
    *ret = p;
    return TAD_OK;
}

const char *tad_aws_profile_get(const struct tad_aws_profile *p, const char *key)
{
    const char *v = nonempty(tad_ini_get(p->credentials, p->name, key));
    if (v)
        return v;
    char sec[160];
    int n = snprintf(sec, sizeof(sec), "profile %s", p->name);
    if (n > 0 && (size_t)n < sizeof(sec)) {
        v = nonempty(tad_ini_get(p->config, sec, key));
        if (v)
            return v;
    }
    if (strcmp(p->name, "default") == 0)
        return nonempty(tad_ini_get(p->config, "default", key));
    return NULL;
}

void tad_aws_profile_release(struct tad_aws_profile *p)
{
    tad_ini_free(p->credentials);
    tad_ini_free(p->config);
    p->credentials = NULL;
    p->config = NULL;
}

/* Static keys come as a pair from one file: the credentials file wins over the config file. */
static void static_keys(const struct tad_aws_profile *p, const char **ak, const char **sk,
                        const char **tok)
{
    *ak = nonempty(tad_ini_get(p->credentials, p->name, "aws_access_key_id"));
    *sk = nonempty(tad_ini_get(p->credentials, p->name, "aws_secret_access_key"));
    *tok = nonempty(tad_ini_get(p->credentials, p->name, "aws_session_token"));
    if (*ak || *sk)
        return;
    char sec[160];
    int n = snprintf(sec, sizeof(sec), "profile %s", p->name);
    if (n > 0 && (size_t)n < sizeof(sec) && tad_ini_has_section(p->config, sec)) {
        *ak = nonempty(tad_ini_get(p->config, sec, "aws_access_key_id"));
        *sk = nonempty(tad_ini_get(p->config, sec, "aws_secret_access_key"));
        *tok = nonempty(tad_ini_get(p->config, sec, "aws_session_token"));
    }
    if (!*ak && !*sk && strcmp(p->name, "default") == 0) {
        *ak = nonempty(tad_ini_get(p->config, "default", "aws_access_key_id"));
        *sk = nonempty(tad_ini_get(p->config, "default", "aws_secret_access_key"));
        *tok = nonempty(tad_ini_get(p->config, "default", "aws_session_token"));
    }
}

static tad_err profile_fetch(void *vctx, struct tad_aws_creds **ret, struct tad_errinfo *err)
{
    struct profile_ctx *ctx = vctx;
    struct tad_aws_profile p;
    tad_err e = tad_aws_profile_load(ctx->env, &p, err);
    if (e != TAD_OK) /* NOT_FOUND: neither file exists */
        return e;
    if (!p.exists) {
        if (p.explicit_name)
            e = tad_errinfo_set(
                err, TAD_ERR_AUTH,
                "AWS profile '%s' not found in the shared credentials or config file", p.name);
        else
            e = TAD_ERR_NOT_FOUND;
        goto out;
    }
    const char *ak, *sk, *tok;
    static_keys(&p, &ak, &sk, &tok);
    if (!ak && !sk) {
        e = TAD_ERR_NOT_FOUND; /* e.g. a web-identity profile: a later link handles it */
        goto out;
    }
    if (!ak || !sk) {
        e = tad_errinfo_set(
            err, TAD_ERR_AUTH,
            "AWS profile '%s' has only one of aws_access_key_id and aws_secret_access_key", p.name);
        goto out;
    }
    struct tad_aws_creds *c = tad_aws_creds_new(ak, sk, tok, 0, "profile");
    if (!c) {
        e = TAD_ERR_NOMEM;
        goto out;
    }
    *ret = c;
    e = TAD_OK;
out:
    tad_aws_profile_release(&p);
    return e;
}

tad_err tad_creds_source_profile(const struct tad_creds_opts *o, struct tad_creds_source *ret)
{
    struct profile_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return TAD_ERR_NOMEM;
    ctx->env = o && o->env ? o->env : (tad_getenv_fn)getenv;
    ret->name = "profile";
    ret->fetch = profile_fetch;
    ret->free = free;
    ret->ctx = ctx;
    return TAD_OK;
}
