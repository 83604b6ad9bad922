/* http.c - the HTTP client layer over libcurl (see tad/http.h).
 *
 * Each client owns one easy handle and one multi handle; the multi handle holds the
 * connection cache, so connections are kept alive between requests. The easy handle is reset
 * and fully configured again for every request, so no option leaks from one request into the
 * next. The transfer runs in a curl_multi_poll loop with a short timeout, which lets the
 * cancel flag stop even an idle transfer quickly.
 *
 * Threading: a client belongs to one thread at a time; only the cancel flag is touched by
 * other threads. Ownership: request strings and buffers are borrowed for the duration of
 * tad_http_perform(); response headers are owned by struct tad_http_response.
 */
#include "tad/http.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "tad/log.h"
#include "tad/version.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_LOW_SPEED_LIMIT 1L
#define DEFAULT_LOW_SPEED_TIME 60L
#define POLL_INTERVAL_MS 100
#define MAX_RESPONSE_HEADERS 256

struct tad_http {
    CURL *easy;
    CURLM *multi;
    long connect_timeout_ms;
    long low_speed_limit;
    long low_speed_time;
    long total_timeout_ms;
    char *ca_bundle;               /* owned, NULL = library default */
    struct curl_slist *connect_to; /* owned */
    const atomic_int *cancel;
    bool debug_trace;
    bool no_proxy;
};

_Static_assert(sizeof(((struct tad_http_response *)0)->error) >= CURL_ERROR_SIZE,
               "the response error field must hold CURLOPT_ERRORBUFFER");

/* Per-request state shared with the libcurl callbacks. */
struct xfer {
    struct tad_http *h;
    const struct tad_http_request *req;
    struct tad_http_response *resp;
    uint64_t sent;    /* body bytes handed to libcurl (memory and fd bodies) */
    tad_err cb_err;   /* error raised inside a callback */
    char cb_msg[200]; /* its detail */
    bool cancelled;
};

tad_err tad_http_global_init(void)
{
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        return TAD_ERR_INVALID;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return TAD_ERR_NOMEM;
    return TAD_OK;
}

void tad_http_global_cleanup(void)
{
    curl_global_cleanup();
}

static bool is_cancelled(const struct tad_http *h)
{
    return h->cancel && atomic_load(h->cancel) != 0;
}

const atomic_int *tad_http_cancel_flag(const struct tad_http *h)
{
    return h ? h->cancel : NULL;
}

static void set_cb_err(struct xfer *x, tad_err err, const char *fmt, ...) TAD_PRINTF(3, 4);
static void set_cb_err(struct xfer *x, tad_err err, const char *fmt, ...)
{
    if (x->cb_err != TAD_OK)
        return;
    x->cb_err = err;
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(x->cb_msg, sizeof(x->cb_msg), fmt, ap) < 0)
        x->cb_msg[0] = '\0';
    va_end(ap);
}

/* ---- client ---- */

/* The CA bundle named by the environment, if any (*ret stays NULL when none is set). */
static tad_err env_ca_bundle(char **ret)
{
    static const char *const names[] = {"AWS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = secure_getenv(names[i]);
        if (v && *v) {
            *ret = strdup(v);
            return *ret ? TAD_OK : TAD_ERR_NOMEM;
        }
    }
    return TAD_OK;
}

static tad_err parse_connect_to(const char *list, struct curl_slist **ret)
{
    struct curl_slist *sl = NULL;
    tad_err err = TAD_OK;
    const char *p = list;
    while (p && *p) {
        size_t n = strcspn(p, ",");
        size_t s = 0;
        while (s < n && isspace((unsigned char)p[s]))
            s++;
        size_t e = n;
        while (e > s && isspace((unsigned char)p[e - 1]))
            e--;
        if (e > s) {
            char *item = strndup(p + s, e - s);
            if (!item) {
                err = TAD_ERR_NOMEM;
                goto out;
            }
            struct curl_slist *nsl = curl_slist_append(sl, item);
            free(item);
            if (!nsl) {
                err = TAD_ERR_NOMEM;
                goto out;
            }
            sl = nsl;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    *ret = sl;
    sl = NULL;
out:
    curl_slist_free_all(sl);
    return err;
}

void tad_http_free(struct tad_http *h)
{
    if (!h)
        return;
    if (h->easy)
        curl_easy_cleanup(h->easy);
    if (h->multi)
        curl_multi_cleanup(h->multi);
    curl_slist_free_all(h->connect_to);
    free(h->ca_bundle);
    free(h);
}

tad_err tad_http_new(const struct tad_http_opts *opts, struct tad_http **ret)
{
    static const struct tad_http_opts defaults = {0};
    tad_err err = TAD_ERR_NOMEM;
    if (!opts)
        opts = &defaults;
    struct tad_http *h = calloc(1, sizeof(*h));
    if (!h)
        goto out;
    h->connect_timeout_ms =
        opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    if (opts->low_speed_limit > 0 || opts->low_speed_time > 0) {
        h->low_speed_limit = opts->low_speed_limit > 0 ? opts->low_speed_limit : 1;
        h->low_speed_time =
            opts->low_speed_time > 0 ? opts->low_speed_time : DEFAULT_LOW_SPEED_TIME;
    } else {
        h->low_speed_limit = DEFAULT_LOW_SPEED_LIMIT;
        h->low_speed_time = DEFAULT_LOW_SPEED_TIME;
    }
    h->total_timeout_ms = opts->total_timeout_ms > 0 ? opts->total_timeout_ms : 0;
    h->cancel = opts->cancel;
    h->debug_trace = opts->debug_trace;
    h->no_proxy = opts->no_proxy;
    if (opts->ca_bundle && *opts->ca_bundle) {
        h->ca_bundle = strdup(opts->ca_bundle);
        if (!h->ca_bundle)
            goto out;
    } else if (env_ca_bundle(&h->ca_bundle) != TAD_OK) {
        goto out;
    }
    err = parse_connect_to(opts->connect_to, &h->connect_to);
    if (err)
        goto out;
    err = TAD_ERR_NOMEM;
    h->easy = curl_easy_init();
    h->multi = curl_multi_init();
    if (!h->easy || !h->multi)
        goto out;
    *ret = h;
    h = NULL;
    err = TAD_OK;
out:
    tad_http_free(h);
    return err;
}

/* ---- response ---- */

void tad_http_response_init(struct tad_http_response *resp)
{
    memset(resp, 0, sizeof(*resp));
}

static void response_clear_headers(struct tad_http_response *resp)
{
    for (size_t i = 0; i < resp->nheaders; i++)
        free(resp->headers[i].name); /* value lives in the same block */
    resp->nheaders = 0;
}

void tad_http_response_release(struct tad_http_response *resp)
{
    if (!resp)
        return;
    response_clear_headers(resp);
    free(resp->headers);
    tad_http_response_init(resp);
}

const char *tad_http_response_header(const struct tad_http_response *resp, const char *name)
{
    if (!resp || !name)
        return NULL;
    for (size_t i = 0; i < resp->nheaders; i++)
        if (strcasecmp(resp->headers[i].name, name) == 0)
            return resp->headers[i].value;
    return NULL;
}

tad_err tad_http_status_class(long status)
{
    if (status >= 200 && status <= 299)
        return TAD_OK;
    if (status == 429)
        return TAD_ERR_THROTTLED;
    if (status >= 500 && status <= 599)
        return TAD_ERR_SERVER;
    switch (status) {
    case 401:
        return TAD_ERR_AUTH;
    case 403:
        return TAD_ERR_DENIED;
    case 404:
        return TAD_ERR_NOT_FOUND;
    case 408:
        return TAD_ERR_NETWORK;
    default:
        return TAD_ERR_CLIENT;
    }
}

/* ---- callbacks ---- */

static tad_err add_response_header(struct tad_http_response *resp, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    if (!colon || colon == line)
        return TAD_OK; /* not a header line (obsolete folding or garbage): ignore */
    size_t nl = (size_t)(colon - line);
    const char *v = colon + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vl = (size_t)(end - v);
    if (resp->nheaders == MAX_RESPONSE_HEADERS)
        return TAD_ERR_PARSE;
    if (resp->nheaders == resp->headers_alloc) {
        size_t na = resp->headers_alloc ? resp->headers_alloc * 2 : 16;
        struct tad_http_rheader *nh = realloc(resp->headers, na * sizeof(*nh));
        if (!nh)
            return TAD_ERR_NOMEM;
        resp->headers = nh;
        resp->headers_alloc = na;
    }
    char *block = malloc(nl + vl + 2);
    if (!block)
        return TAD_ERR_NOMEM;
    memcpy(block, line, nl);
    block[nl] = '\0';
    memcpy(block + nl + 1, v, vl);
    block[nl + 1 + vl] = '\0';
    resp->headers[resp->nheaders].name = block;
    resp->headers[resp->nheaders].value = block + nl + 1;
    resp->nheaders++;
    return TAD_OK;
}

static size_t header_cb(char *data, size_t size, size_t nitems, void *userdata)
{
    struct xfer *x = userdata;
    size_t len = size * nitems;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* a new status line: only the final response's headers are kept, and its status is
         * known to the sink before the body arrives */
        response_clear_headers(x->resp);
        const char *sp = memchr(data, ' ', len);
        if (sp && (size_t)(sp - data) + 4 <= len)
            x->resp->status = strtol(sp + 1, NULL, 10);
        return len;
    }
    tad_err err = add_response_header(x->resp, data, len);
    if (err) {
        set_cb_err(x, err, "%s",
                   err == TAD_ERR_PARSE ? "too many response headers" : "out of memory");
        return 0;
    }
    return len;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct xfer *x = userdata;
    const struct tad_http_sink *sink = &x->req->sink;
    size_t len = size * nmemb;
    tad_err err = TAD_OK;
    switch (sink->kind) {
    case TAD_HTTP_SINK_DISCARD:
        break;
    case TAD_HTTP_SINK_BUF:
        err = tad_buf_append(sink->buf, data, len);
        if (err == TAD_ERR_INVALID) {
            set_cb_err(x, TAD_ERR_PARSE, "response body exceeds %zu bytes", sink->buf->cap);
            return 0;
        }
        break;
    case TAD_HTTP_SINK_CALLBACK:
        err = sink->write(sink->ctx, data, len);
        break;
    }
    if (err) {
        set_cb_err(x, err, "response sink failed: %s", tad_err_str(err));
        return 0;
    }
    x->resp->body_bytes += len;
    return len;
}

static size_t pread_full(struct xfer *x, int fd, off_t off, char *dst, size_t want)
{
    size_t got = 0;
    while (got < want) {
        ssize_t n = pread(fd, dst + got, want - got, off + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            char eb[128];
            const char *es = strerror_r(errno, eb, sizeof(eb));
            set_cb_err(x, TAD_ERR_IO, "reading the request body: %s", es);
            return CURL_READFUNC_ABORT;
        }
        if (n == 0) {
            set_cb_err(x, TAD_ERR_IO, "request body file is shorter than declared");
            return CURL_READFUNC_ABORT;
        }
        got += (size_t)n;
    }
    return got;
}

static size_t read_cb(char *dst, size_t size, size_t nitems, void *userdata)
{
    struct xfer *x = userdata;
    const struct tad_http_body *b = &x->req->body;
    size_t cap = size * nitems;
    switch (b->kind) {
    case TAD_HTTP_BODY_MEMORY: {
        size_t left = b->mem.len - (size_t)x->sent;
        size_t n = left < cap ? left : cap;
        if (n)
            memcpy(dst, (const char *)b->mem.data + x->sent, n);
        x->sent += n;
        return n;
    }
    case TAD_HTTP_BODY_FD: {
        uint64_t left = b->file.len - x->sent;
        size_t n = left < cap ? (size_t)left : cap;
        if (n == 0)
            return 0;
        size_t got = pread_full(x, b->file.fd, b->file.offset + (off_t)x->sent, dst, n);
        if (got == CURL_READFUNC_ABORT)
            return got;
        x->sent += got;
        return got;
    }
    case TAD_HTTP_BODY_CALLBACK: {
        size_t n = 0;
        tad_err err = b->cb.read(b->cb.ctx, dst, cap, &n);
        if (err || n > cap) {
            set_cb_err(x, err ? err : TAD_ERR_INVALID, "request body reader failed: %s",
                       tad_err_str(err ? err : TAD_ERR_INVALID));
            return CURL_READFUNC_ABORT;
        }
        x->sent += n;
        return n;
    }
    default:
        return 0;
    }
}

static int seek_cb(void *userdata, curl_off_t offset, int origin)
{
    struct xfer *x = userdata;
    const struct tad_http_body *b = &x->req->body;
    if (origin != SEEK_SET || offset != 0)
        return CURL_SEEKFUNC_CANTSEEK;
    if (b->kind == TAD_HTTP_BODY_CALLBACK) {
        if (!b->cb.rewind || b->cb.rewind(b->cb.ctx) != TAD_OK)
            return CURL_SEEKFUNC_CANTSEEK;
    }
    x->sent = 0;
    return CURL_SEEKFUNC_OK;
}

/* The multipart file part: its own position, since libcurl reads it through the mime API. */
struct form_file {
    struct xfer *x;
    uint64_t pos;
};

static size_t form_read_cb(char *dst, size_t size, size_t nitems, void *arg)
{
    struct form_file *ff = arg;
    const struct tad_http_body *b = &ff->x->req->body;
    size_t cap = size * nitems;
    uint64_t left = b->form.len - ff->pos;
    size_t n = left < cap ? (size_t)left : cap;
    if (n == 0)
        return 0;
    size_t got = pread_full(ff->x, b->form.fd, b->form.offset + (off_t)ff->pos, dst, n);
    if (got == CURL_READFUNC_ABORT)
        return got;
    ff->pos += got;
    return got;
}

static int form_seek_cb(void *arg, curl_off_t offset, int origin)
{
    struct form_file *ff = arg;
    const struct tad_http_body *b = &ff->x->req->body;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > b->form.len)
        return CURL_SEEKFUNC_CANTSEEK;
    ff->pos = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

static int xferinfo_cb(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct xfer *x = userdata;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    if (is_cancelled(x->h)) {
        x->cancelled = true;
        return 1;
    }
    return 0;
}

/* Replaces the whole value of a credential-carrying header line (the generic redaction stops
 * at the first comma, and an Authorization value has several). */
static void mask_sensitive_header(char *line, size_t linesz)
{
    static const char *const names[] = {
        "authorization", "proxy-authorization", "x-amz-security-token", "access-token",
        "cookie",        "set-cookie"};
    const char *colon = strchr(line, ':');
    if (!colon)
        return;
    size_t nl = (size_t)(colon - line);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i]) == nl && strncasecmp(line, names[i], nl) == 0) {
            if (snprintf(line + nl, linesz - nl, ": [REDACTED]") < 0)
                line[nl] = '\0';
            return;
        }
    }
}

/* Logs each header line of a block, redacted. Bodies and TLS data are never logged. */
static int debug_cb(CURL *easy, curl_infotype type, char *data, size_t size, void *userdata)
{
    (void)easy;
    (void)userdata;
    const char *dir;
    switch (type) {
    case CURLINFO_TEXT:
        dir = "*";
        break;
    case CURLINFO_HEADER_IN:
        dir = "<";
        break;
    case CURLINFO_HEADER_OUT:
        dir = ">";
        break;
    default:
        return 0;
    }
    while (size > 0) {
        const char *nl = memchr(data, '\n', size);
        size_t ll = nl ? (size_t)(nl - data) + 1 : size;
        size_t tl = ll;
        while (tl > 0 && (data[tl - 1] == '\n' || data[tl - 1] == '\r'))
            tl--;
        if (tl > 0) {
            char line[1024];
            size_t cl = tl < sizeof(line) - 1 ? tl : sizeof(line) - 1;
            memcpy(line, data, cl);
            line[cl] = '\0';
            if (type != CURLINFO_TEXT)
                mask_sensitive_header(line, sizeof(line));
            tad_log_redact(line);
            log_debug("http %s %s", dir, line);
        }
        data += ll;
        size -= ll;
    }
    return 0;
}

/* ---- request building ---- */

static bool is_token(const char *s)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (!s || !*s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p > 0x7f)
            return false;
        if (!isalnum(*p) && !strchr(extra, *p))
            return false;
    }
    return true;
}

static bool has_header(const struct tad_http_request *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return true;
    return false;
}

/* Body length when known in advance; -1 for chunked. */
static int64_t body_length(const struct tad_http_body *b)
{
    switch (b->kind) {
    case TAD_HTTP_BODY_NONE:
        return 0;
    case TAD_HTTP_BODY_MEMORY:
        return (int64_t)b->mem.len;
    case TAD_HTTP_BODY_FD:
        return (int64_t)b->file.len;
    case TAD_HTTP_BODY_CALLBACK:
        return b->cb.len < 0 ? -1 : b->cb.len;
    default:
        return -1; /* multipart: computed by libcurl */
    }
}

/* The Host header the URL implies: host, plus ":port" when a non-default port is given. */
static tad_err url_host(const char *url, char *out, size_t outsz)
{
    tad_err err = TAD_ERR_INVALID;
    char *host = NULL, *port = NULL, *scheme = NULL;
    CURLU *u = curl_url();
    if (!u)
        return TAD_ERR_NOMEM;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
        goto out;
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
        goto out;
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)
        goto out;
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
        port = NULL;
    bool dflt = !port || (strcasecmp(scheme, "http") == 0 && strcmp(port, "80") == 0) ||
                (strcasecmp(scheme, "https") == 0 && strcmp(port, "443") == 0);
    int n = dflt ? snprintf(out, outsz, "%s", host) : snprintf(out, outsz, "%s:%s", host, port);
    if (n < 0 || (size_t)n >= outsz)
        goto out;
    err = TAD_OK;
out:
    curl_free(host);
    curl_free(port);
    curl_free(scheme);
    curl_url_cleanup(u);
    return err;
}

static tad_err check_request(const struct tad_http_request *req, struct tad_errinfo *info)
{
    if (!req->url || !is_token(req->method))
        return tad_errinfo_set(info, TAD_ERR_INVALID, "http: request needs a method and a URL");
    char host[512];
    if (url_host(req->url, host, sizeof(host)) != TAD_OK)
        return tad_errinfo_set(info, TAD_ERR_INVALID, "http: unusable URL");
    int64_t blen = body_length(&req->body);
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct tad_http_header *hd = &req->headers[i];
        if (!is_token(hd->name) || !hd->value || strpbrk(hd->value, "\r\n"))
            return tad_errinfo_set(info, TAD_ERR_INVALID, "http: malformed request header %s",
                                   is_token(hd->name) ? hd->name : "(name)");
        if (strcasecmp(hd->name, "Host") == 0 && strcasecmp(hd->value, host) != 0)
            return tad_errinfo_set(info, TAD_ERR_INVALID,
                                   "http: Host header does not match the URL");
        if (strcasecmp(hd->name, "Transfer-Encoding") == 0)
            return tad_errinfo_set(info, TAD_ERR_INVALID,
                                   "http: Transfer-Encoding is set by the HTTP layer");
        if (strcasecmp(hd->name, "Content-Length") == 0) {
            char want[32];
            int n = snprintf(want, sizeof(want), "%lld", (long long)blen);
            if (blen < 0 || n < 0 || strcmp(hd->value, want) != 0)
                return tad_errinfo_set(info, TAD_ERR_INVALID,
                                       "http: Content-Length does not match the body");
        }
        if (req->body.kind == TAD_HTTP_BODY_MULTIPART && strcasecmp(hd->name, "Content-Type") == 0)
            return tad_errinfo_set(info, TAD_ERR_INVALID,
                                   "http: multipart Content-Type is set by the HTTP layer");
    }
    switch (req->body.kind) {
    case TAD_HTTP_BODY_NONE:
        break;
    case TAD_HTTP_BODY_MEMORY:
        if (!req->body.mem.data && req->body.mem.len)
            return tad_errinfo_set(info, TAD_ERR_INVALID, "http: memory body without data");
        break;
    case TAD_HTTP_BODY_FD:
        if (req->body.file.fd < 0 || req->body.file.offset < 0)
            return tad_errinfo_set(info, TAD_ERR_INVALID, "http: bad body file");
        break;
    case TAD_HTTP_BODY_CALLBACK:
        if (!req->body.cb.read)
            return tad_errinfo_set(info, TAD_ERR_INVALID, "http: body callback missing");
        break;
    case TAD_HTTP_BODY_MULTIPART:
        if (req->body.form.fd < 0 || req->body.form.offset < 0 || !req->body.form.file_field ||
            (req->body.form.nfields && !req->body.form.fields))
            return tad_errinfo_set(info, TAD_ERR_INVALID, "http: bad multipart body");
        for (size_t i = 0; i < req->body.form.nfields; i++)
            if (!req->body.form.fields[i].name || !req->body.form.fields[i].value)
                return tad_errinfo_set(info, TAD_ERR_INVALID, "http: bad multipart field");
        break;
    default:
        return tad_errinfo_set(info, TAD_ERR_INVALID, "http: unknown body kind");
    }
    switch (req->sink.kind) {
    case TAD_HTTP_SINK_DISCARD:
        break;
    case TAD_HTTP_SINK_BUF:
        if (!req->sink.buf)
            return tad_errinfo_set(info, TAD_ERR_INVALID, "http: buffer sink without buffer");
        break;
    case TAD_HTTP_SINK_CALLBACK:
        if (!req->sink.write)
            return tad_errinfo_set(info, TAD_ERR_INVALID, "http: sink callback missing");
        break;
    default:
        return tad_errinfo_set(info, TAD_ERR_INVALID, "http: unknown sink kind");
    }
    return TAD_OK;
}

static tad_err append_header(struct curl_slist **sl, const char *name, const char *value)
{
    size_t len = strlen(name) + strlen(value) + 3;
    char *line = malloc(len);
    if (!line)
        return TAD_ERR_NOMEM;
    /* "Name;" is libcurl's way of sending a header with an empty value; "Name:" removes one */
    int n = *value ? snprintf(line, len, "%s: %s", name, value) : snprintf(line, len, "%s;", name);
    struct curl_slist *nsl = n < 0 ? NULL : curl_slist_append(*sl, line);
    free(line);
    if (!nsl)
        return TAD_ERR_NOMEM;
    *sl = nsl;
    return TAD_OK;
}

static tad_err build_headers(const struct tad_http_request *req, struct curl_slist **ret)
{
    struct curl_slist *sl = NULL;
    tad_err err = TAD_OK;
    for (size_t i = 0; i < req->nheaders; i++) {
        err = append_header(&sl, req->headers[i].name, req->headers[i].value);
        if (err)
            goto out;
    }
    /* "Name:" with nothing after it tells libcurl not to send its own version */
    static const char *const suppress[] = {"Accept:", "Expect:", "Content-Type:"};
    for (size_t i = 0; i < sizeof(suppress) / sizeof(suppress[0]); i++) {
        char name[32];
        size_t nl = strlen(suppress[i]) - 1;
        memcpy(name, suppress[i], nl);
        name[nl] = '\0';
        if (has_header(req, name))
            continue;
        if (i == 2 && req->body.kind == TAD_HTTP_BODY_MULTIPART)
            continue; /* the multipart Content-Type with its boundary is libcurl's */
        struct curl_slist *nsl = curl_slist_append(sl, suppress[i]);
        if (!nsl) {
            err = TAD_ERR_NOMEM;
            goto out;
        }
        sl = nsl;
    }
    *ret = sl;
    sl = NULL;
out:
    curl_slist_free_all(sl);
    return err;
}

static tad_err build_mime(struct tad_http *h, const struct tad_http_body *b, struct form_file *ff,
                          curl_mime **ret)
{
    tad_err err = TAD_ERR_NOMEM;
    curl_mime *mime = curl_mime_init(h->easy);
    if (!mime)
        goto out;
    for (size_t i = 0; i < b->form.nfields; i++) {
        curl_mimepart *part = curl_mime_addpart(mime);
        if (!part || curl_mime_name(part, b->form.fields[i].name) != CURLE_OK ||
            curl_mime_data(part, b->form.fields[i].value, CURL_ZERO_TERMINATED) != CURLE_OK)
            goto out;
    }
    curl_mimepart *fp = curl_mime_addpart(mime);
    if (!fp || curl_mime_name(fp, b->form.file_field) != CURLE_OK)
        goto out;
    if (b->form.file_name && curl_mime_filename(fp, b->form.file_name) != CURLE_OK)
        goto out;
    if (b->form.file_type && curl_mime_type(fp, b->form.file_type) != CURLE_OK)
        goto out;
    if (curl_mime_data_cb(fp, (curl_off_t)b->form.len, form_read_cb, form_seek_cb, NULL, ff) !=
        CURLE_OK)
        goto out;
    *ret = mime;
    mime = NULL;
    err = TAD_OK;
out:
    curl_mime_free(mime);
    return err;
}

#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (curl_easy_setopt(easy, (opt), (val)) != CURLE_OK) {                                    \
            err = tad_errinfo_set(info, TAD_ERR_INVALID, "http: libcurl rejected %s", #opt);       \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

static tad_err configure(struct tad_http *h, struct xfer *x, struct curl_slist *headers,
                         curl_mime *mime, struct tad_errinfo *info)
{
    tad_err err = TAD_OK;
    CURL *easy = h->easy;
    const struct tad_http_request *req = x->req;
    long timeout = req->timeout_ms > 0 ? req->timeout_ms : h->total_timeout_ms;

    curl_easy_reset(easy);
    SETOPT(CURLOPT_URL, req->url);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_USERAGENT, TAD_USER_AGENT);
    SETOPT(CURLOPT_HTTPHEADER, headers);
    SETOPT(CURLOPT_ERRORBUFFER, x->resp->error);
    SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
    SETOPT(CURLOPT_LOW_SPEED_LIMIT, h->low_speed_limit);
    SETOPT(CURLOPT_LOW_SPEED_TIME, h->low_speed_time);
    SETOPT(CURLOPT_TIMEOUT_MS, timeout);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    if (h->ca_bundle)
        SETOPT(CURLOPT_CAINFO, h->ca_bundle);
    if (h->connect_to)
        SETOPT(CURLOPT_CONNECT_TO, h->connect_to);
    if (h->no_proxy)
        SETOPT(CURLOPT_NOPROXY, "*");
    SETOPT(CURLOPT_HEADERFUNCTION, header_cb);
    SETOPT(CURLOPT_HEADERDATA, x);
    SETOPT(CURLOPT_WRITEFUNCTION, write_cb);
    SETOPT(CURLOPT_WRITEDATA, x);
    SETOPT(CURLOPT_NOPROGRESS, 0L);
    SETOPT(CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
    SETOPT(CURLOPT_XFERINFODATA, x);
    if (h->debug_trace && tad_log_min_level <= TAD_LOG_DEBUG) {
        SETOPT(CURLOPT_DEBUGFUNCTION, debug_cb);
        SETOPT(CURLOPT_VERBOSE, 1L);
    }

    if (strcmp(req->method, "HEAD") == 0)
        SETOPT(CURLOPT_NOBODY, 1L);
    else if (strcmp(req->method, "GET") != 0 || req->body.kind != TAD_HTTP_BODY_NONE)
        SETOPT(CURLOPT_CUSTOMREQUEST, req->method);

    switch (req->body.kind) {
    case TAD_HTTP_BODY_NONE:
        if (strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0) {
            /* an empty upload, so the request carries Content-Length: 0 */
            SETOPT(CURLOPT_UPLOAD, 1L);
            SETOPT(CURLOPT_INFILESIZE_LARGE, (curl_off_t)0);
            SETOPT(CURLOPT_READFUNCTION, read_cb);
            SETOPT(CURLOPT_READDATA, x);
        }
        break;
    case TAD_HTTP_BODY_MEMORY:
    case TAD_HTTP_BODY_FD:
    case TAD_HTTP_BODY_CALLBACK:
        SETOPT(CURLOPT_UPLOAD, 1L);
        SETOPT(CURLOPT_INFILESIZE_LARGE, (curl_off_t)body_length(&req->body));
        SETOPT(CURLOPT_READFUNCTION, read_cb);
        SETOPT(CURLOPT_READDATA, x);
        SETOPT(CURLOPT_SEEKFUNCTION, seek_cb);
        SETOPT(CURLOPT_SEEKDATA, x);
        break;
    case TAD_HTTP_BODY_MULTIPART:
        SETOPT(CURLOPT_MIMEPOST, mime);
        break;
    }
out:
    return err;
}

static tad_err map_curl_error(CURLcode rc, struct xfer *x, struct tad_errinfo *info)
{
    const char *detail = x->resp->error[0] ? x->resp->error : curl_easy_strerror(rc);
    if (x->cancelled)
        return tad_errinfo_set(info, TAD_ERR_CANCELLED, "http: transfer cancelled");
    if (x->cb_err != TAD_OK)
        return tad_errinfo_set(info, x->cb_err, "http: %s", x->cb_msg);
    switch (rc) {
    case CURLE_OUT_OF_MEMORY:
        return tad_errinfo_set(info, TAD_ERR_NOMEM, "http: out of memory");
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return tad_errinfo_set(info, TAD_ERR_INVALID, "http: %s", detail);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return tad_errinfo_set(info, TAD_ERR_NETWORK,
                               "http: TLS certificate of the server could not be verified: %s",
                               detail);
    case CURLE_OPERATION_TIMEDOUT:
        return tad_errinfo_set(info, TAD_ERR_NETWORK, "http: timed out: %s", detail);
    default:
        return tad_errinfo_set(info, TAD_ERR_NETWORK, "http: %s", detail);
    }
}

/* Runs the transfer in the client's multi handle, checking the cancel flag between polls. */
static CURLcode run_transfer(struct tad_http *h, struct xfer *x)
{
    CURLcode rc = CURLE_OK;
    if (curl_multi_add_handle(h->multi, h->easy) != CURLM_OK)
        return CURLE_OUT_OF_MEMORY;
    bool done = false;
    while (!done) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(h->multi, &running);
        if (mc != CURLM_OK) {
            rc = mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_SEND_ERROR;
            break;
        }
        int left = 0;
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == h->easy) {
                rc = msg->data.result;
                done = true;
            }
        }
        if (done)
            break;
        if (is_cancelled(h)) {
            x->cancelled = true;
            rc = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        mc = curl_multi_poll(h->multi, NULL, 0, POLL_INTERVAL_MS, NULL);
        if (mc != CURLM_OK) {
            rc = CURLE_RECV_ERROR;
            break;
        }
    }
    if (curl_multi_remove_handle(h->multi, h->easy) != CURLM_OK && rc == CURLE_OK)
        rc = CURLE_SEND_ERROR;
    return rc;
}

tad_err tad_http_perform(struct tad_http *h, const struct tad_http_request *req,
                         struct tad_http_response *resp, struct tad_errinfo *info)
{
    tad_err err;
    struct curl_slist *headers = NULL;
    curl_mime *mime = NULL;
    struct xfer x = {.h = h, .req = req, .resp = resp};
    struct form_file ff = {.x = &x};

    response_clear_headers(resp);
    resp->status = 0;
    resp->body_bytes = 0;
    resp->error[0] = '\0';
    tad_errinfo_clear(info);

    err = check_request(req, info);
    if (err)
        goto out;
    if (is_cancelled(h)) {
        err = tad_errinfo_set(info, TAD_ERR_CANCELLED, "http: cancelled before the request");
        goto out;
    }
    err = build_headers(req, &headers);
    if (err)
        goto out;
    if (req->body.kind == TAD_HTTP_BODY_MULTIPART) {
        err = build_mime(h, &req->body, &ff, &mime);
        if (err)
            goto out;
    }
    err = configure(h, &x, headers, mime, info);
    if (err)
        goto out;

    CURLcode rc = run_transfer(h, &x);
    long status = 0;
    if (curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK)
        resp->status = status;
    if (rc != CURLE_OK || x.cancelled || x.cb_err != TAD_OK) {
        if (!resp->error[0])
            tad_strlcpy(resp->error, sizeof(resp->error), curl_easy_strerror(rc),
                        strlen(curl_easy_strerror(rc)));
        err = map_curl_error(rc, &x, info);
        if (info)
            info->http_status = resp->status;
        goto out;
    }
    if (info)
        info->http_status = resp->status;
    err = TAD_OK;
out:
    if (h && h->easy) {
        /* drop pointers into this call's stack and lists before freeing them */
        curl_easy_reset(h->easy);
    }
    curl_mime_free(mime);
    curl_slist_free_all(headers);
    return err;
}
