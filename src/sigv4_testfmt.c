/* sigv4_testfmt.c - parsers for the SigV4 test-suite files (see tad/sigv4_testfmt.h).
 * Single-threaded helpers for tests and tools; everything parsed is owned by the output. */
#include "tad/sigv4_testfmt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void tad_sigv4_testreq_release(struct tad_sigv4_testreq *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nheaders; i++) {
        free((char *)r->headers[i].name);
        free((char *)r->headers[i].value);
    }
    free(r->headers);
    free(r->method);
    free(r->path);
    free(r->query);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* Next line of text[*pos, len): returns its start and length without "\n" / "\r\n". */
static int next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *llen)
{
    if (*pos >= len)
        return 0;
    const char *start = text + *pos;
    const char *nl = memchr(start, '\n', len - *pos);
    size_t n = nl ? (size_t)(nl - start) : len - *pos;
    *pos += n + (nl ? 1 : 0);
    if (n > 0 && start[n - 1] == '\r')
        n--;
    *line = start;
    *llen = n;
    return 1;
}

tad_err tad_sigv4_testreq_parse(const char *text, size_t len, struct tad_sigv4_testreq *out,
                                struct tad_errinfo *err)
{
    struct tad_sigv4_testreq r;
    memset(&r, 0, sizeof(r));
    tad_err e = TAD_OK;
    size_t pos = 0, cap = 0, llen = 0;
    const char *line = NULL;

    if (!next_line(text, len, &pos, &line, &llen)) {
        e = tad_errinfo_set(err, TAD_ERR_PARSE, "request: empty");
        goto out;
    }
    const char *sp = memchr(line, ' ', llen);
    if (!sp || sp == line) {
        e = tad_errinfo_set(err, TAD_ERR_PARSE, "request: bad request line");
        goto out;
    }
    const char *target = sp + 1;
    size_t tlen = llen - (size_t)(target - line);
    /* The target may contain spaces; the protocol is the last " HTTP/" token. */
    for (size_t i = tlen; i-- > 0;) {
        if (tlen - i >= 6 && memcmp(target + i, " HTTP/", 6) == 0) {
            tlen = i;
            break;
        }
    }
    const char *qm = memchr(target, '?', tlen);
    size_t plen = qm ? (size_t)(qm - target) : tlen;
    r.method = dup_n(line, (size_t)(sp - line));
    r.path = dup_n(target, plen);
    if (qm)
        r.query = dup_n(qm + 1, tlen - plen - 1);
    if (!r.method || !r.path || (qm && !r.query)) {
        e = TAD_ERR_NOMEM;
        goto out;
    }

    while (next_line(text, len, &pos, &line, &llen)) {
        if (llen == 0)
            break;
        if (line[0] == ' ' || line[0] == '\t') {
            if (r.nheaders == 0) {
                e = tad_errinfo_set(err, TAD_ERR_PARSE, "request: continuation without header");
                goto out;
            }
            struct tad_sigv4_header *h = &r.headers[r.nheaders - 1];
            size_t old = strlen(h->value);
            char *v = realloc((char *)h->value, old + 1 + llen + 1);
            if (!v) {
                e = TAD_ERR_NOMEM;
                goto out;
            }
            v[old] = '\n';
            memcpy(v + old + 1, line, llen);
            v[old + 1 + llen] = '\0';
            h->value = v;
            continue;
        }
        const char *colon = memchr(line, ':', llen);
        if (!colon || colon == line) {
            e = tad_errinfo_set(err, TAD_ERR_PARSE, "request: header line without ':'");
            goto out;
        }
        if (r.nheaders == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct tad_sigv4_header *nh = realloc(r.headers, ncap * sizeof(*nh));
            if (!nh) {
                e = TAD_ERR_NOMEM;
                goto out;
            }
            r.headers = nh;
            cap = ncap;
        }
        char *name = dup_n(line, (size_t)(colon - line));
        char *value = dup_n(colon + 1, llen - (size_t)(colon + 1 - line));
        if (!name || !value) {
            free(name);
            free(value);
            e = TAD_ERR_NOMEM;
            goto out;
        }
        r.headers[r.nheaders].name = name;
        r.headers[r.nheaders].value = value;
        r.nheaders++;
    }
    r.body_len = pos < len ? len - pos : 0;
    r.body = dup_n(text + pos, r.body_len);
    if (!r.body) {
        e = TAD_ERR_NOMEM;
        goto out;
    }
    *out = r;
    return TAD_OK;
out:
    tad_sigv4_testreq_release(&r);
    if (e == TAD_ERR_NOMEM)
        tad_errinfo_set(err, e, "request: out of memory");
    return e;
}

size_t tad_sigv4_testreq_remove_header(struct tad_sigv4_testreq *r, const char *name,
                                       char **value_out)
{
    size_t removed = 0, j = 0;
    char *last = NULL;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, name) == 0) {
            free((char *)r->headers[i].name);
            free(last);
            last = (char *)r->headers[i].value;
            removed++;
            continue;
        }
        r->headers[j++] = r->headers[i];
    }
    r->nheaders = j;
    if (value_out && last)
        *value_out = last;
    else
        free(last);
    return removed;
}

void tad_sigv4_testctx_release(struct tad_sigv4_testctx *c)
{
    if (!c)
        return;
    free(c->access_key_id);
    free(c->secret_access_key);
    free(c->token);
    free(c->region);
    free(c->service);
    memset(c, 0, sizeof(*c));
}

static tad_err get_str(json_t *obj, const char *key, bool required, char **out,
                       struct tad_errinfo *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return tad_errinfo_set(err, TAD_ERR_PARSE, "context: missing %s", key);
        *out = NULL;
        return TAD_OK;
    }
    if (!json_is_string(v))
        return tad_errinfo_set(err, TAD_ERR_PARSE, "context: %s is not a string", key);
    *out = dup_n(json_string_value(v), json_string_length(v));
    return *out ? TAD_OK : TAD_ERR_NOMEM;
}

static bool get_bool(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return v && json_is_true(v);
}

tad_err tad_sigv4_testctx_parse(const char *json, size_t len, struct tad_sigv4_testctx *out,
                                struct tad_errinfo *err)
{
    struct tad_sigv4_testctx c;
    memset(&c, 0, sizeof(c));
    tad_err e = TAD_OK;
    char *ts = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (!root || !json_is_object(root)) {
        e = tad_errinfo_set(err, TAD_ERR_PARSE, "context: invalid JSON (line %d)", jerr.line);
        goto out;
    }
    json_t *cr = json_object_get(root, "credentials");
    if (!json_is_object(cr)) {
        e = tad_errinfo_set(err, TAD_ERR_PARSE, "context: missing credentials");
        goto out;
    }
    if ((e = get_str(cr, "access_key_id", true, &c.access_key_id, err)) != TAD_OK ||
        (e = get_str(cr, "secret_access_key", true, &c.secret_access_key, err)) != TAD_OK ||
        (e = get_str(cr, "token", false, &c.token, err)) != TAD_OK ||
        (e = get_str(root, "region", true, &c.region, err)) != TAD_OK ||
        (e = get_str(root, "service", true, &c.service, err)) != TAD_OK ||
        (e = get_str(root, "timestamp", true, &ts, err)) != TAD_OK)
        goto out;
    if (tad_parse_iso8601(ts, &c.timestamp) != TAD_OK) {
        e = tad_errinfo_set(err, TAD_ERR_PARSE, "context: bad timestamp");
        goto out;
    }
    json_t *nv = json_object_get(root, "normalize");
    c.normalize = nv ? json_is_true(nv) : true;
    c.sign_body = get_bool(root, "sign_body");
    c.omit_session_token = get_bool(root, "omit_session_token");
    json_t *ex = json_object_get(root, "expiration_in_seconds");
    c.expires = 3600;
    if (ex) {
        if (!json_is_integer(ex) || json_integer_value(ex) < 1 || json_integer_value(ex) > 604800) {
            e = tad_errinfo_set(err, TAD_ERR_PARSE, "context: bad expiration_in_seconds");
            goto out;
        }
        c.expires = (unsigned)json_integer_value(ex);
    }
    *out = c;
    memset(&c, 0, sizeof(c));
out:
    free(ts);
    json_decref(root);
    tad_sigv4_testctx_release(&c);
    return e;
}

tad_err tad_sigv4_read_file(const char *path, char **data, size_t *len, struct tad_errinfo *err)
{
    tad_err e = TAD_OK;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        char msg[128];
        const char *m = strerror_r(errno, msg, sizeof(msg));
        return tad_errinfo_set(err, TAD_ERR_IO, "%s: %s", path, m ? m : "open failed");
    }
    for (;;) {
        if (cap - n < 4096) {
            size_t ncap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                e = TAD_ERR_NOMEM;
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                e = tad_errinfo_set(err, TAD_ERR_IO, "%s: read error", path);
            break;
        }
    }
    if (e == TAD_OK) {
        buf[n] = '\0';
        *data = buf;
        *len = n;
        buf = NULL;
    }
out:
    free(buf);
    fclose(f);
    return e;
}

tad_err tad_sigv4_testcase_build(const struct tad_sigv4_testreq *tr,
                                 const struct tad_sigv4_testctx *ctx, struct tad_buf *wire,
                                 struct tad_sigv4_request *rq, struct tad_sigv4_creds *cr,
                                 struct tad_sigv4_params *pm)
{
    if (!ctx->normalize) {
        tad_err e = tad_uri_encode(wire, tr->path, strlen(tr->path), true);
        if (e)
            return e;
    }
    *rq = (struct tad_sigv4_request){
        .method = tr->method,
        .path = ctx->normalize ? tr->path : wire->data,
        .query = tr->query,
        .headers = tr->headers,
        .nheaders = tr->nheaders,
        .body = tr->body,
        .body_len = tr->body_len,
        .payload_hash = ctx->sign_body ? NULL : TAD_SIGV4_EMPTY_SHA256,
    };
    *cr = (struct tad_sigv4_creds){ctx->access_key_id, ctx->secret_access_key, ctx->token};
    *pm = (struct tad_sigv4_params){
        .region = ctx->region,
        .service = ctx->service,
        .now = ctx->timestamp,
        .raw_path = !ctx->normalize,
        .sign_body_header = ctx->sign_body,
        .omit_session_token = ctx->omit_session_token,
        .expires = ctx->expires,
    };
    return TAD_OK;
}
