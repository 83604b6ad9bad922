/* creds_web_identity.c - the web-identity link of the credential chain (EKS IRSA and the like):
 * an unsigned STS AssumeRoleWithWebIdentity call with the token read from
 * AWS_WEB_IDENTITY_TOKEN_FILE (or the profile's web_identity_token_file), re-read on every fetch
 * because it is rotated. The STS reply is XML; a small purpose-built extractor reads the few
 * elements needed (no XML library).
 *
 * Threading: fetch() is never called concurrently for one source (the provider guarantees
 * it), so the context's HTTP client needs no lock. Ownership: the context owns its client;
 * the token and the response body are wiped after use and never logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tad/buf.h"
#include "tad/creds_sources.h"
#include "tad/creds_util.h"
#include "tad/http.h"
#include "tad/log.h"

#define STS_ATTEMPTS 3
#define STS_TIMEOUT_MS 5000
#define STS_CONNECT_TIMEOUT_MS 2000
#define STS_BODY_MAX (256 * 1024)
#define STS_PAUSE_MS 100

struct wi_ctx {
    tad_getenv_fn env;
    char *region; /* owned copy of opts->region, may be NULL */
    struct tad_http *http;
};

/* Settings of one fetch, from the environment or the profile. */
struct wi_conf {
    char token_file[4096];
    char role_arn[2048];
    char session[128];
};

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

static void copy_str(char *dst, size_t dstsz, const char *src)
{
    tad_strlcpy(dst, dstsz, src, strlen(src));
}

/* NOT_FOUND when neither the environment nor the profile configures web identity. */
static tad_err read_conf(struct wi_ctx *ctx, struct wi_conf *c, struct tad_errinfo *err)
{
    memset(c, 0, sizeof(*c));
    const char *tf = nonempty(ctx->env("AWS_WEB_IDENTITY_TOKEN_FILE"));
    const char *arn = nonempty(ctx->env("AWS_ROLE_ARN"));
    const char *sess = nonempty(ctx->env("AWS_ROLE_SESSION_NAME"));
    struct tad_aws_profile prof;
    bool have_prof = false;
    if (!tf && !arn) {
        struct tad_errinfo ignored;
        /* a broken shared file is reported by the profile link, which runs first */
        if (tad_aws_profile_load(ctx->env, &prof, &ignored) == TAD_OK) {
            have_prof = true;
            tf = tad_aws_profile_get(&prof, "web_identity_token_file");
            arn = tf ? tad_aws_profile_get(&prof, "role_arn") : NULL;
            if (!sess && tf)
                sess = tad_aws_profile_get(&prof, "role_session_name");
        }
    }
    tad_err e = TAD_OK;
    if (!tf && !arn)
        e = TAD_ERR_NOT_FOUND;
    else if (!tf)
        e = tad_errinfo_set(err, TAD_ERR_AUTH,
                            "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not");
    else if (!arn)
        e = tad_errinfo_set(
            err, TAD_ERR_AUTH,
            "web identity token file is set but no role ARN (AWS_ROLE_ARN or role_arn)");
    else if (strlen(tf) >= sizeof(c->token_file) || strlen(arn) >= sizeof(c->role_arn))
        e = tad_errinfo_set(err, TAD_ERR_INVALID,
                            "web identity token file path or role ARN too long");
    if (e == TAD_OK && tf && arn) {
        copy_str(c->token_file, sizeof(c->token_file), tf);
        copy_str(c->role_arn, sizeof(c->role_arn), arn);
        if (sess)
            copy_str(c->session, sizeof(c->session), sess);
        else
            snprintf(c->session, sizeof(c->session), "tiktok-audienced-%lld",
                     (long long)time(NULL));
    }
    if (have_prof)
        tad_aws_profile_release(&prof);
    return e;
}

/* application/x-www-form-urlencoded value: unreserved characters as they are, the rest %XX. */
static tad_err form_append(struct tad_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        tad_err e;
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            e = tad_buf_append_byte(b, (char)*p);
        } else {
            char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            e = tad_buf_append(b, enc, 3);
        }
        if (e != TAD_OK)
            return e;
    }
    return TAD_OK;
}

/* Locates the text of the first <tag>...</tag> (attributes allowed) in [doc, doc+len). */
static bool xml_find(const char *doc, size_t len, const char *tag, const char **ret,
                     size_t *ret_len)
{
    size_t tl = strlen(tag);
    const char *end = doc + len;
    for (const char *p = doc; p + tl + 2 <= end; p++) {
        p = memchr(p, '<', (size_t)(end - p));
        if (!p || p + tl + 2 > end)
            return false;
        if (memcmp(p + 1, tag, tl) != 0 || (p[1 + tl] != '>' && p[1 + tl] != ' '))
            continue;
        const char *gt = memchr(p + 1 + tl, '>', (size_t)(end - (p + 1 + tl)));
        if (!gt)
            return false;
        if (gt[-1] == '/') { /* <Tag/>: empty */
            *ret = gt + 1;
            *ret_len = 0;
            return true;
        }
        const char *body = gt + 1;
        for (const char *q = body; q + tl + 3 <= end; q++) {
            q = memchr(q, '<', (size_t)(end - q));
            if (!q || q + tl + 3 > end)
                return false;
            if (q[1] == '/' && memcmp(q + 2, tag, tl) == 0 && q[2 + tl] == '>') {
                *ret = body;
                *ret_len = (size_t)(q - body);
                return true;
            }
        }
        return false;
    }
    return false;
}

static tad_err utf8_append(struct tad_buf *b, unsigned long cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return tad_buf_append(b, u, n);
}

/* Appends the XML text s[0..len) to b with entities decoded; PARSE on a bad entity. */
static tad_err xml_unescape(const char *s, size_t len, struct tad_buf *b)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    size_t i = 0;
    while (i < len) {
        tad_err e;
        if (s[i] != '&') {
            e = tad_buf_append_byte(b, s[i++]);
            if (e != TAD_OK)
                return e;
            continue;
        }
        const char *semi = memchr(s + i, ';', len - i);
        if (!semi || semi - (s + i) > 10)
            return TAD_ERR_PARSE;
        size_t elen = (size_t)(semi - (s + i)) + 1; /* "&...;" */
        bool done = false;
        for (size_t k = 0; k < sizeof(named) / sizeof(named[0]); k++) {
            size_t nl = strlen(named[k].name);
            if (elen == nl + 1 && memcmp(s + i + 1, named[k].name, nl) == 0) {
                e = tad_buf_append_byte(b, named[k].c);
                if (e != TAD_OK)
                    return e;
                done = true;
                break;
            }
        }
        if (!done) {
            if (elen < 4 || s[i + 1] != '#')
                return TAD_ERR_PARSE;
            bool hexa = s[i + 2] == 'x' || s[i + 2] == 'X';
            unsigned long cp = 0;
            size_t k = i + (hexa ? 3 : 2);
            if (k >= (size_t)(semi - s))
                return TAD_ERR_PARSE;
            for (; k < (size_t)(semi - s); k++) {
                int d;
                char c = s[k];
                if (c >= '0' && c <= '9')
                    d = c - '0';
                else if (hexa && c >= 'a' && c <= 'f')
                    d = c - 'a' + 10;
                else if (hexa && c >= 'A' && c <= 'F')
                    d = c - 'A' + 10;
                else
                    return TAD_ERR_PARSE;
                cp = cp * (hexa ? 16 : 10) + (unsigned long)d;
                if (cp > 0x10FFFF)
                    return TAD_ERR_PARSE;
            }
            if (cp == 0)
                return TAD_ERR_PARSE;
            e = utf8_append(b, cp);
            if (e != TAD_OK)
                return e;
        }
        i += elen;
    }
    return TAD_OK;
}

/* Decoded text of <tag> inside [doc, doc+len) into b (reset first). NOT_FOUND if absent. */
static tad_err xml_text(const char *doc, size_t len, const char *tag, struct tad_buf *b)
{
    const char *t;
    size_t tl;
    tad_buf_reset(b);
    if (!xml_find(doc, len, tag, &t, &tl))
        return TAD_ERR_NOT_FOUND;
    tad_err e = xml_unescape(t, tl, b);
    if (e == TAD_OK && b->len == 0)
        e = tad_buf_append(b, "", 0); /* make b->data non-NULL */
    return e;
}

static tad_err parse_success(const struct tad_buf *body, struct tad_aws_creds **ret,
                             struct tad_errinfo *err)
{
    const char *cr;
    size_t crl;
    if (!xml_find(body->data, body->len, "Credentials", &cr, &crl))
        return tad_errinfo_set(err, TAD_ERR_PARSE,
                               "STS AssumeRoleWithWebIdentity: no Credentials in the response");
    struct tad_buf v[4];
    static const char *const names[4] = {"AccessKeyId", "SecretAccessKey", "SessionToken",
                                         "Expiration"};
    tad_err e = TAD_OK;
    for (int i = 0; i < 4; i++)
        tad_buf_init(&v[i], 64 * 1024);
    for (int i = 0; i < 4 && e == TAD_OK; i++) {
        e = xml_text(cr, crl, names[i], &v[i]);
        if (e == TAD_OK && v[i].len == 0)
            e = TAD_ERR_NOT_FOUND;
        if (e == TAD_ERR_NOT_FOUND || e == TAD_ERR_PARSE)
            e = tad_errinfo_set(err, TAD_ERR_PARSE, "STS AssumeRoleWithWebIdentity: %s %s",
                                e == TAD_ERR_PARSE ? "malformed" : "missing", names[i]);
    }
    time_t exp = 0;
    if (e == TAD_OK && tad_parse_iso8601(v[3].data, &exp) != TAD_OK)
        e = tad_errinfo_set(err, TAD_ERR_PARSE, "STS AssumeRoleWithWebIdentity: bad Expiration");
    if (e == TAD_OK) {
        struct tad_aws_creds *c =
            tad_aws_creds_new(v[0].data, v[1].data, v[2].data, exp, "web-identity");
        if (c)
            *ret = c;
        else
            e = TAD_ERR_NOMEM;
    }
    for (int i = 0; i < 4; i++)
        tad_buf_release_wipe(&v[i]);
    return e;
}

/* Fills err from an STS error document; returns whether the code is worth another attempt. */
static bool parse_error(const struct tad_buf *body, long status, struct tad_errinfo *err)
{
    struct tad_buf code, msg, rid;
    tad_buf_init(&code, 4096);
    tad_buf_init(&msg, 4096);
    tad_buf_init(&rid, 4096);
    bool have_code = xml_text(body->data, body->len, "Code", &code) == TAD_OK && code.len;
    bool have_msg = xml_text(body->data, body->len, "Message", &msg) == TAD_OK && msg.len;
    bool have_rid = xml_text(body->data, body->len, "RequestId", &rid) == TAD_OK && rid.len;
    bool retry = status >= 500;
    if (have_code && (strcmp(code.data, "IDPCommunicationError") == 0 ||
                      strcmp(code.data, "InvalidIdentityToken") == 0))
        retry = true;
    tad_errinfo_set(err, TAD_ERR_AUTH, "STS AssumeRoleWithWebIdentity failed (HTTP %ld): %s%s%s",
                    status, have_code ? code.data : "no error code", have_msg ? ": " : "",
                    have_msg ? msg.data : "");
    if (err) {
        err->http_status = status;
        if (have_code)
            tad_strlcpy(err->code, sizeof(err->code), code.data, code.len);
        if (have_rid)
            tad_strlcpy(err->request_id, sizeof(err->request_id), rid.data, rid.len);
    }
    tad_buf_release(&code);
    tad_buf_release(&msg);
    tad_buf_release(&rid);
    return retry;
}

static tad_err build_url(struct wi_ctx *ctx, struct tad_buf *url, struct tad_errinfo *err)
{
    const char *region = nonempty(ctx->region);
    if (!region)
        region = nonempty(ctx->env("AWS_REGION"));
    if (!region)
        region = nonempty(ctx->env("AWS_DEFAULT_REGION"));
    struct tad_aws_endpoint ep;
    tad_err e =
        tad_aws_endpoint_resolve(TAD_AWS_STS, region ? region : "us-east-1", ctx->env, &ep, err);
    if (e != TAD_OK)
        return e;
    if (!region && !ep.overridden)
        copy_str(ep.host, sizeof(ep.host), "sts.amazonaws.com");
    char host[300];
    tad_aws_endpoint_host_header(&ep, host, sizeof(host));
    return tad_buf_appendf(url, "%s://%s%s/", ep.scheme, host, ep.base_path);
}

static tad_err wi_fetch(void *vctx, struct tad_aws_creds **ret, struct tad_errinfo *err)
{
    struct wi_ctx *ctx = vctx;
    struct wi_conf conf;
    struct tad_buf token, form, url, body;
    tad_buf_init(&token, 0);
    tad_buf_init(&form, 0);
    tad_buf_init(&url, 0);
    tad_buf_init(&body, STS_BODY_MAX);
    struct tad_http_response resp;
    tad_http_response_init(&resp);

    tad_err e = read_conf(ctx, &conf, err);
    if (e != TAD_OK)
        goto out;
    e = build_url(ctx, &url, err);
    if (e != TAD_OK)
        goto out;
    if (!ctx->http) {
        struct tad_http_opts ho = {.connect_timeout_ms = STS_CONNECT_TIMEOUT_MS,
                                   .total_timeout_ms = STS_TIMEOUT_MS};
        e = tad_http_new(&ho, &ctx->http);
        if (e != TAD_OK)
            goto out;
    }
    static const struct tad_http_header hdrs[] = {
        {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
        {"X-Amz-Api-Version", "2011-06-15"},
        {"Accept", "text/xml"},
    };
    for (int attempt = 1; attempt <= STS_ATTEMPTS; attempt++) {
        if (attempt > 1)
            tad_creds_pause_ms(STS_PAUSE_MS * (unsigned)(attempt - 1));
        /* the token file is rotated: read it for every request */
        tad_buf_release_wipe(&token);
        tad_buf_release_wipe(&form);
        e = tad_creds_read_token_file(conf.token_file, "web identity token file", &token, err);
        if (e != TAD_OK)
            goto out;
        e = tad_buf_append_str(&form, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15"
                                      "&RoleArn=");
        if (e == TAD_OK)
            e = form_append(&form, conf.role_arn);
        if (e == TAD_OK)
            e = tad_buf_append_str(&form, "&RoleSessionName=");
        if (e == TAD_OK)
            e = form_append(&form, conf.session);
        if (e == TAD_OK)
            e = tad_buf_append_str(&form, "&WebIdentityToken=");
        if (e == TAD_OK)
            e = form_append(&form, token.data);
        if (e != TAD_OK)
            goto out;
        tad_buf_release_wipe(&body);
        struct tad_http_request req = {
            .method = "POST",
            .url = url.data,
            .headers = hdrs,
            .nheaders = sizeof(hdrs) / sizeof(hdrs[0]),
            .body = {.kind = TAD_HTTP_BODY_MEMORY, .mem = {form.data, form.len}},
            .sink = {.kind = TAD_HTTP_SINK_BUF, .buf = &body},
        };
        e = tad_http_perform(ctx->http, &req, &resp, err);
        if (e == TAD_ERR_NETWORK) {
            log_debug("sts web identity: attempt %d: network error", attempt);
            continue;
        }
        if (e != TAD_OK)
            goto out;
        if (resp.status == 200) {
            e = parse_success(&body, ret, err);
            goto out;
        }
        bool retry = parse_error(&body, resp.status, err);
        e = resp.status >= 500 ? TAD_ERR_SERVER : TAD_ERR_AUTH;
        if (!retry)
            goto out;
        log_debug("sts web identity: attempt %d: HTTP %ld", attempt, resp.status);
    }
out:
    if (e == TAD_OK)
        log_debug("sts web identity: credentials obtained");
    tad_http_response_release(&resp);
    tad_buf_release_wipe(&token);
    tad_buf_release_wipe(&form);
    tad_buf_release(&url);
    tad_buf_release_wipe(&body);
    return e;
}

static void wi_free(void *vctx)
{
    struct wi_ctx *ctx = vctx;
    if (!ctx)
        return;
    tad_http_free(ctx->http);
    free(ctx->region);
    free(ctx);
}

tad_err tad_creds_source_web_identity(const struct tad_creds_opts *o, struct tad_creds_source *ret)
{
    struct wi_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return TAD_ERR_NOMEM;
    ctx->env = o && o->env ? o->env : (tad_getenv_fn)getenv;
    if (o && o->region && *o->region) {
        ctx->region = strdup(o->region);
        if (!ctx->region) {
            free(ctx);
            return TAD_ERR_NOMEM;
        }
    }
    ret->name = "web-identity";
    ret->fetch = wi_fetch;
    ret->free = wi_free;
    ret->ctx = ctx;
    return TAD_OK;
}
