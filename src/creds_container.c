/* creds_container.c - the container link of the credential chain (ECS task roles, Fargate,
 * EKS Pod Identity): GET http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, or
 * $AWS_CONTAINER_CREDENTIALS_FULL_URI (https anywhere; plain http only to loopback and the
 * container metadata addresses), with an optional Authorization token from
 * AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (re-read every time) or
 * AWS_CONTAINER_AUTHORIZATION_TOKEN. The answer is the JSON credential document.
 *
 * Threading: fetch() is never called concurrently for one source, so the context's HTTP client
 * needs no lock. Ownership: the context owns its client; tokens and bodies are wiped after
 * use and never logged.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tad/buf.h"
#include "tad/creds_sources.h"
#include "tad/creds_util.h"
#include "tad/http.h"
#include "tad/log.h"

#define CONTAINER_HOST "http://169.254.170.2"
#define CONTAINER_ATTEMPTS 3
#define CONTAINER_TIMEOUT_MS 2000
#define CONTAINER_BODY_MAX (64 * 1024)
#define CONTAINER_PAUSE_MS 100

struct container_ctx {
    tad_getenv_fn env;
    struct tad_http *http;
};

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

/* Whether plain http may go to this host (no brackets around IPv6). */
static bool http_host_allowed(const char *host)
{
    if (strcasecmp(host, "localhost") == 0)
        return true;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1) {
        const unsigned char *b = (const unsigned char *)&a4.s_addr;
        if (b[0] == 127)
            return true;
        return strcmp(host, "169.254.170.2") == 0 || strcmp(host, "169.254.170.23") == 0;
    }
    struct in6_addr a6, want;
    if (inet_pton(AF_INET6, host, &a6) == 1) {
        if (memcmp(&a6, &in6addr_loopback, sizeof(a6)) == 0)
            return true;
        return inet_pton(AF_INET6, "fd00:ec2::23", &want) == 1 &&
               memcmp(&a6, &want, sizeof(a6)) == 0;
    }
    return false;
}

static bool has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == ' ')
            return true;
    return false;
}

static tad_err check_full_uri(const char *uri, struct tad_errinfo *err)
{
    const char *p;
    if (strncasecmp(uri, "https://", 8) == 0)
        return TAD_OK;
    if (strncasecmp(uri, "http://", 7) != 0)
        return tad_errinfo_set(
            err, TAD_ERR_INVALID,
            "AWS_CONTAINER_CREDENTIALS_FULL_URI must be an http:// or https:// URL");
    p = uri + 7;
    char host[256];
    size_t hl;
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (!close)
            return tad_errinfo_set(err, TAD_ERR_INVALID,
                                   "AWS_CONTAINER_CREDENTIALS_FULL_URI has a bad host");
        p++;
        hl = (size_t)(close - p);
    } else {
        hl = strcspn(p, ":/?#");
    }
    if (hl == 0 || hl >= sizeof(host) || memchr(p, '@', hl))
        return tad_errinfo_set(err, TAD_ERR_INVALID,
                               "AWS_CONTAINER_CREDENTIALS_FULL_URI has a bad host");
    memcpy(host, p, hl);
    host[hl] = '\0';
    if (!http_host_allowed(host))
        return tad_errinfo_set(
            err, TAD_ERR_INVALID,
            "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http is allowed only to loopback, 169.254.170.2, 169.254.170.23 or fd00:ec2::23 (host %s)",
            host);
    return TAD_OK;
}

static tad_err build_url(struct container_ctx *ctx, struct tad_buf *url, struct tad_errinfo *err)
{
    const char *rel = nonempty(ctx->env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"));
    const char *full = nonempty(ctx->env("AWS_CONTAINER_CREDENTIALS_FULL_URI"));
    tad_err e;
    if (rel) {
        if (has_ctl(rel))
            return tad_errinfo_set(
                err, TAD_ERR_INVALID,
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI contains bad characters");
        e = tad_buf_appendf(url, "%s%s%s", CONTAINER_HOST, rel[0] == '/' ? "" : "/", rel);
    } else if (full) {
        if (has_ctl(full))
            return tad_errinfo_set(err, TAD_ERR_INVALID,
                                   "AWS_CONTAINER_CREDENTIALS_FULL_URI contains bad characters");
        e = check_full_uri(full, err);
        if (e == TAD_OK)
            e = tad_buf_append_str(url, full);
    } else {
        return TAD_ERR_NOT_FOUND;
    }
    return e;
}

/* Authorization value into auth (empty when none is configured). */
static tad_err read_auth(struct container_ctx *ctx, struct tad_buf *auth, struct tad_errinfo *err)
{
    const char *file = nonempty(ctx->env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"));
    const char *tok = nonempty(ctx->env("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
    tad_err e = TAD_OK;
    if (file)
        e = tad_creds_read_token_file(file, "container authorization token file", auth, err);
    else if (tok)
        e = tad_buf_append_str(auth, tok);
    if (e != TAD_OK)
        return e;
    if (auth->len && (memchr(auth->data, '\r', auth->len) || memchr(auth->data, '\n', auth->len)))
        return tad_errinfo_set(err, TAD_ERR_INVALID,
                               "container authorization token contains a line break");
    return TAD_OK;
}

static tad_err container_fetch(void *vctx, struct tad_aws_creds **ret, struct tad_errinfo *err)
{
    struct container_ctx *ctx = vctx;
    struct tad_buf url, auth, body;
    tad_buf_init(&url, 0);
    tad_buf_init(&auth, 0);
    tad_buf_init(&body, CONTAINER_BODY_MAX);
    struct tad_http_response resp;
    tad_http_response_init(&resp);

    tad_err e = build_url(ctx, &url, err);
    if (e != TAD_OK)
        goto out;
    if (!ctx->http) {
        struct tad_http_opts ho = {.connect_timeout_ms = CONTAINER_TIMEOUT_MS,
                                   .total_timeout_ms = CONTAINER_TIMEOUT_MS,
                                   .no_proxy = true};
        e = tad_http_new(&ho, &ctx->http);
        if (e != TAD_OK)
            goto out;
    }
    for (int attempt = 1; attempt <= CONTAINER_ATTEMPTS; attempt++) {
        if (attempt > 1)
            tad_creds_pause_ms(CONTAINER_PAUSE_MS * (unsigned)(attempt - 1));
        tad_buf_release_wipe(&auth);
        e = read_auth(ctx, &auth, err);
        if (e != TAD_OK)
            goto out;
        struct tad_http_header hdrs[2] = {{"Accept", "application/json"},
                                          {"Authorization", auth.data}};
        tad_buf_release_wipe(&body);
        struct tad_http_request req = {
            .method = "GET",
            .url = url.data,
            .headers = hdrs,
            .nheaders = auth.len ? 2 : 1,
            .sink = {.kind = TAD_HTTP_SINK_BUF, .buf = &body},
        };
        e = tad_http_perform(ctx->http, &req, &resp, err);
        if (e == TAD_ERR_NETWORK) {
            log_debug("container credentials: attempt %d: network error", attempt);
            continue;
        }
        if (e != TAD_OK)
            goto out;
        if (resp.status == 200) {
            e = tad_creds_from_json(body.data ? body.data : "", body.len, "container", false, ret,
                                    err);
            goto out;
        }
        e = tad_http_status_class(resp.status);
        tad_errinfo_set(err, e == TAD_ERR_SERVER || e == TAD_ERR_THROTTLED ? e : TAD_ERR_AUTH,
                        "container credentials endpoint answered HTTP %ld", resp.status);
        if (err)
            err->http_status = resp.status;
        if (e != TAD_ERR_SERVER && e != TAD_ERR_THROTTLED) {
            e = TAD_ERR_AUTH;
            goto out;
        }
        log_debug("container credentials: attempt %d: HTTP %ld", attempt, resp.status);
    }
out:
    if (e == TAD_OK)
        log_debug("container credentials: obtained");
    tad_http_response_release(&resp);
    tad_buf_release(&url);
    tad_buf_release_wipe(&auth);
    tad_buf_release_wipe(&body);
    return e;
}

static void container_free(void *vctx)
{
    struct container_ctx *ctx = vctx;
    if (!ctx)
        return;
    tad_http_free(ctx->http);
    free(ctx);
}

tad_err tad_creds_source_container(const struct tad_creds_opts *o, struct tad_creds_source *ret)
{
    struct container_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return TAD_ERR_NOMEM;
    ctx->env = o && o->env ? o->env : (tad_getenv_fn)getenv;
    ret->name = "container";
    ret->fetch = container_fetch;
    ret->free = container_free;
    ret->ctx = ctx;
    return TAD_OK;
}
