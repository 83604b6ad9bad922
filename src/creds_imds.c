/* creds_imds.c - the EC2 instance metadata link of the credential chain (IMDSv2, with the
 * IMDSv1 fallback the SDKs allow) and the instance's region.
 *
 * Flow: PUT /latest/api/token (cached ~6 h), GET /latest/meta-data/iam/security-credentials/
 * for the role name, GET .../<role> for the JSON credentials. Timeouts are short and there is a
 * single attempt, so a machine off EC2 learns quickly that there is nothing here: until the
 * service has answered once, a connect failure or timeout means "not configured"
 * (TAD_ERR_NOT_FOUND); afterwards it is a network error to retry.
 *
 * Threading: fetch() is never called concurrently for one source, so the context (HTTP client,
 * cached token) needs no lock. Ownership: the context owns its client and its token; the token
 * and response bodies are wiped after use and never logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "tad/buf.h"
#include "tad/creds_sources.h"
#include "tad/creds_util.h"
#include "tad/http.h"
#include "tad/log.h"

#define IMDS_DEFAULT_V4 "http://169.254.169.254"
#define IMDS_DEFAULT_V6 "http://[fd00:ec2::254]"
#define IMDS_TOKEN_TTL_S 21600
#define IMDS_TOKEN_REUSE_S (IMDS_TOKEN_TTL_S - 300)
#define IMDS_V1_RETRY_S 300 /* after a refused token, try one again this much later */
#define IMDS_BODY_MAX (64 * 1024)
#define IMDS_ROLE_PATH "/latest/meta-data/iam/security-credentials/"

struct imds_ctx {
    tad_getenv_fn env;
    unsigned timeout_ms;
    struct tad_http *http;
    char base[512];     /* endpoint without trailing '/' */
    char token[1024];   /* "" = none (IMDSv1 or not fetched yet) */
    time_t token_until; /* monotonic seconds; 0 = no token */
    bool v1;            /* the token endpoint refused: run without one ... */
    time_t v1_until;    /* ... until then (monotonic), when a token is tried again */
    bool reached;       /* the service has answered at least once */
};

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

static bool env_true(tad_getenv_fn env, const char *name)
{
    const char *v = env(name);
    return v && strcasecmp(v, "true") == 0;
}

static time_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static void drop_token(struct imds_ctx *ctx)
{
    OPENSSL_cleanse(ctx->token, sizeof(ctx->token));
    ctx->token_until = 0;
}

static tad_err set_base(struct imds_ctx *ctx, struct tad_errinfo *err)
{
    const char *ep = nonempty(ctx->env("AWS_EC2_METADATA_SERVICE_ENDPOINT"));
    if (!ep) {
        const char *mode = nonempty(ctx->env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"));
        ep = mode && strcasecmp(mode, "IPv6") == 0 ? IMDS_DEFAULT_V6 : IMDS_DEFAULT_V4;
    }
    if (strncasecmp(ep, "http://", 7) != 0 && strncasecmp(ep, "https://", 8) != 0)
        return tad_errinfo_set(err, TAD_ERR_INVALID,
                               "AWS_EC2_METADATA_SERVICE_ENDPOINT must be an http:// URL");
    size_t len = strlen(ep);
    while (len > 0 && ep[len - 1] == '/')
        len--;
    if (len >= sizeof(ctx->base))
        return tad_errinfo_set(err, TAD_ERR_INVALID, "AWS_EC2_METADATA_SERVICE_ENDPOINT too long");
    if (strcmp(ctx->base, "") != 0 && (strlen(ctx->base) != len || memcmp(ctx->base, ep, len)))
        drop_token(ctx); /* endpoint changed */
    memcpy(ctx->base, ep, len);
    ctx->base[len] = '\0';
    return TAD_OK;
}

static tad_err ensure_http(struct imds_ctx *ctx)
{
    if (ctx->http)
        return TAD_OK;
    struct tad_http_opts ho = {.connect_timeout_ms = (long)ctx->timeout_ms,
                               .total_timeout_ms = (long)ctx->timeout_ms,
                               .no_proxy = true};
    return tad_http_new(&ho, &ctx->http);
}

/* One exchange: method on base+path, body into out. */
static tad_err exchange(struct imds_ctx *ctx, const char *method, const char *path,
                        const struct tad_http_header *hdrs, size_t nhdrs, struct tad_buf *out,
                        long *status, struct tad_errinfo *err)
{
    char url[1024];
    int n = snprintf(url, sizeof(url), "%s%s", ctx->base, path);
    if (n < 0 || (size_t)n >= sizeof(url))
        return tad_errinfo_set(err, TAD_ERR_INVALID, "instance metadata URL too long");
    tad_buf_release_wipe(out);
    struct tad_http_response resp;
    tad_http_response_init(&resp);
    struct tad_http_request req = {
        .method = method,
        .url = url,
        .headers = hdrs,
        .nheaders = nhdrs,
        .sink = {.kind = TAD_HTTP_SINK_BUF, .buf = out},
    };
    if (strcmp(method, "PUT") == 0) {
        req.body.kind = TAD_HTTP_BODY_MEMORY;
        req.body.mem.data = "";
        req.body.mem.len = 0;
    }
    tad_err e = tad_http_perform(ctx->http, &req, &resp, err);
    *status = resp.status;
    tad_http_response_release(&resp);
    if (e == TAD_ERR_NETWORK && !ctx->reached)
        return tad_errinfo_set(err, TAD_ERR_NOT_FOUND, "instance metadata service not reachable");
    if (e == TAD_OK)
        ctx->reached = true;
    return e;
}

/* Makes sure a token is cached, or that IMDSv1 is in use. */
static tad_err get_token(struct imds_ctx *ctx, struct tad_errinfo *err)
{
    if (ctx->token[0] && mono_s() < ctx->token_until)
        return TAD_OK;
    if (ctx->v1 && mono_s() < ctx->v1_until)
        return TAD_OK;
    drop_token(ctx);
    static const struct tad_http_header hdrs[] = {
        {"X-aws-ec2-metadata-token-ttl-seconds", "21600"}};
    struct tad_buf body;
    tad_buf_init(&body, sizeof(ctx->token) - 1);
    long status = 0;
    tad_err e = exchange(ctx, "PUT", "/latest/api/token", hdrs, 1, &body, &status, err);
    if (e != TAD_OK)
        goto out;
    if (status == 200) {
        while (body.len && (body.data[body.len - 1] == '\n' || body.data[body.len - 1] == '\r'))
            body.len--;
        bool ok = body.len > 0;
        for (size_t i = 0; ok && i < body.len; i++)
            ok = body.data[i] > 0x20 && body.data[i] < 0x7f;
        if (!ok) {
            e = tad_errinfo_set(err, TAD_ERR_PARSE, "instance metadata returned a malformed token");
            goto out;
        }
        memcpy(ctx->token, body.data, body.len);
        ctx->token[body.len] = '\0';
        ctx->token_until = mono_s() + IMDS_TOKEN_REUSE_S;
        ctx->v1 = false;
        goto out;
    }
    if (status == 403 || status == 404 || status == 405) {
        if (env_true(ctx->env, "AWS_EC2_METADATA_V1_DISABLED")) {
            e = tad_errinfo_set(
                err, TAD_ERR_AUTH,
                "instance metadata refused a session token (HTTP %ld) and AWS_EC2_METADATA_V1_DISABLED is set",
                status);
        } else {
            log_debug("imds: token request answered HTTP %ld, using IMDSv1", status);
            ctx->v1 = true;
            ctx->v1_until = mono_s() + IMDS_V1_RETRY_S;
        }
        goto out;
    }
    e = tad_errinfo_set(err, status >= 500 ? TAD_ERR_SERVER : TAD_ERR_AUTH,
                        "instance metadata token request failed (HTTP %ld)", status);
    if (err)
        err->http_status = status;
out:
    tad_buf_release_wipe(&body);
    return e;
}

/* GET path with the session token; 200 -> OK, 404 -> NOT_FOUND, else an error. A 401 drops the
 * token and tries once more with a fresh one. */
static tad_err imds_get(struct imds_ctx *ctx, const char *path, struct tad_buf *out,
                        struct tad_errinfo *err)
{
    for (int round = 0; round < 2; round++) {
        tad_err e = get_token(ctx, err);
        if (e != TAD_OK)
            return e;
        struct tad_http_header h = {"X-aws-ec2-metadata-token", ctx->token};
        long status = 0;
        e = exchange(ctx, "GET", path, &h, ctx->token[0] ? 1 : 0, out, &status, err);
        if (e != TAD_OK)
            return e;
        if (status == 200)
            return TAD_OK;
        if (status == 401 && round == 0) {
            log_debug("imds: HTTP 401, fetching a new session token");
            drop_token(ctx);
            ctx->v1 = false;
            continue;
        }
        if (status == 404)
            return tad_errinfo_set(err, TAD_ERR_NOT_FOUND, "instance metadata: %s not found", path);
        tad_err cls = tad_http_status_class(status);
        e = tad_errinfo_set(err,
                            cls == TAD_ERR_SERVER || cls == TAD_ERR_THROTTLED ? cls : TAD_ERR_AUTH,
                            "instance metadata %s answered HTTP %ld", path, status);
        if (err)
            err->http_status = status;
        return e;
    }
    return tad_errinfo_set(err, TAD_ERR_AUTH, "instance metadata rejected the session token");
}

static bool role_char_ok(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           strchr("+=,.@_-", c) != NULL;
}

static tad_err imds_fetch(void *vctx, struct tad_aws_creds **ret, struct tad_errinfo *err)
{
    struct imds_ctx *ctx = vctx;
    if (env_true(ctx->env, "AWS_EC2_METADATA_DISABLED"))
        return TAD_ERR_NOT_FOUND;
    struct tad_buf body;
    tad_buf_init(&body, IMDS_BODY_MAX);
    char path[256];
    tad_err e = set_base(ctx, err);
    if (e == TAD_OK)
        e = ensure_http(ctx);
    if (e == TAD_OK)
        e = imds_get(ctx, IMDS_ROLE_PATH, &body, err);
    if (e == TAD_ERR_NOT_FOUND && ctx->reached)
        e = tad_errinfo_set(err, TAD_ERR_NOT_FOUND, "no IAM role is attached to this instance");
    if (e != TAD_OK)
        goto out;
    size_t rl = 0;
    const char *role = body.data ? body.data : "";
    while (rl < body.len && role[rl] != '\n' && role[rl] != '\r')
        rl++;
    bool ok = rl > 0 && rl < 128;
    for (size_t i = 0; ok && i < rl; i++)
        ok = role_char_ok(role[i]);
    if (!ok) {
        e = tad_errinfo_set(err, TAD_ERR_PARSE, "instance metadata returned a malformed role name");
        goto out;
    }
    int n = snprintf(path, sizeof(path), "%s%.*s", IMDS_ROLE_PATH, (int)rl, role);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        e = TAD_ERR_INVALID;
        goto out;
    }
    e = imds_get(ctx, path, &body, err);
    if (e == TAD_ERR_NOT_FOUND) /* the role listed a moment ago is gone: report, do not skip */
        e = tad_errinfo_set(err, TAD_ERR_AUTH,
                            "instance metadata: credentials of the instance role not found");
    if (e != TAD_OK)
        goto out;
    e = tad_creds_from_json(body.data ? body.data : "", body.len, "imds", true, ret, err);
out:
    if (e == TAD_OK)
        log_debug("imds: credentials obtained");
    tad_buf_release_wipe(&body);
    return e;
}

static void imds_free(void *vctx)
{
    struct imds_ctx *ctx = vctx;
    if (!ctx)
        return;
    tad_http_free(ctx->http);
    OPENSSL_cleanse(ctx, sizeof(*ctx));
    free(ctx);
}

static void ctx_init(struct imds_ctx *ctx, const struct tad_creds_opts *o)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->env = o && o->env ? o->env : (tad_getenv_fn)getenv;
    ctx->timeout_ms = o && o->imds_timeout_ms ? o->imds_timeout_ms : 1000;
}

tad_err tad_creds_source_imds(const struct tad_creds_opts *o, struct tad_creds_source *ret)
{
    struct imds_ctx *ctx = malloc(sizeof(*ctx));
    if (!ctx)
        return TAD_ERR_NOMEM;
    ctx_init(ctx, o);
    ret->name = "imds";
    ret->fetch = imds_fetch;
    ret->free = imds_free;
    ret->ctx = ctx;
    return TAD_OK;
}

static bool region_ok(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

tad_err tad_imds_region(const struct tad_creds_opts *o, char *out, size_t outsz,
                        struct tad_errinfo *err)
{
    struct imds_ctx ctx;
    ctx_init(&ctx, o);
    if (env_true(ctx.env, "AWS_EC2_METADATA_DISABLED"))
        return TAD_ERR_NOT_FOUND;
    struct tad_buf body;
    tad_buf_init(&body, 4096);
    tad_err e = set_base(&ctx, err);
    if (e == TAD_OK)
        e = ensure_http(&ctx);
    if (e == TAD_OK)
        e = imds_get(&ctx, "/latest/meta-data/placement/region", &body, err);
    size_t len = body.len;
    while (e == TAD_OK && len && (body.data[len - 1] == '\n' || body.data[len - 1] == '\r'))
        len--;
    if (e == TAD_ERR_NOT_FOUND && ctx.reached) {
        e = imds_get(&ctx, "/latest/meta-data/placement/availability-zone", &body, err);
        len = body.len;
        while (e == TAD_OK && len && (body.data[len - 1] == '\n' || body.data[len - 1] == '\r'))
            len--;
        if (e == TAD_OK)
            len = len ? len - 1 : 0; /* "eu-west-1a" -> "eu-west-1" */
    }
    if (e == TAD_OK && !region_ok(body.data, len))
        e = tad_errinfo_set(err, TAD_ERR_PARSE, "instance metadata returned a malformed region");
    if (e == TAD_OK && len >= outsz)
        e = tad_errinfo_set(err, TAD_ERR_INVALID, "region buffer too small");
    if (e == TAD_OK) {
        memcpy(out, body.data, len);
        out[len] = '\0';
    }
    tad_buf_release(&body);
    tad_http_free(ctx.http);
    OPENSSL_cleanse(ctx.token, sizeof(ctx.token));
    return e;
}
