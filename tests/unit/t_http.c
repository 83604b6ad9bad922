/* t_http.c - unit tests for the libcurl HTTP layer against the in-process loopback server.
 *
 * Covers the exact header set on the wire, every body source, keep-alive reuse, both sinks,
 * low-speed abort, mid-body close and reset, cancellation from another thread, response
 * headers, proxy variables, request validation and the redacted debug trace.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#include "loopback_server.h"
#include "tad/http.h"
#include "tad/log.h"
#include "tad/version.h"

struct fixture {
    struct lbs *srv;
    struct tad_http *http;
    char base[64]; /* http://127.0.0.1:PORT */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->srv = lbs_start();
    if (!f->srv) {
        free(f);
        return -1;
    }
    struct tad_http_opts o = {.connect_timeout_ms = 2000};
    if (tad_http_new(&o, &f->http) != TAD_OK) {
        lbs_stop(f->srv);
        free(f);
        return -1;
    }
    if (snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", lbs_port(f->srv)) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tad_http_free(f->http);
    lbs_stop(f->srv);
    free(f);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void url(const struct fixture *f, const char *path, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "%s%s", f->base, path);
    assert_true(n > 0 && (size_t)n < outsz);
}

static void push(struct fixture *f, const char *head, const void *body, size_t len,
                 enum lbs_action action, size_t cut)
{
    struct lbs_reply r = {
        .head = head, .body = body, .body_len = len, .action = action, .cut = cut};
    assert_int_equal(lbs_push(f->srv, &r), 0);
}

/* Header names of a recorded request, lower-cased, in wire order, joined by ','. */
static void header_names(const struct lbs_request *r, char *out, size_t outsz)
{
    size_t o = 0;
    const char *p = strstr(r->raw, "\r\n");
    const char *end = r->raw + r->head_len - 2;
    out[0] = '\0';
    while (p && p + 2 < end) {
        p += 2;
        const char *colon = strchr(p, ':');
        const char *semi = strchr(p, ';');
        const char *eol = strstr(p, "\r\n");
        assert_non_null(eol);
        const char *stop = colon && colon < eol ? colon : (semi && semi < eol ? semi : eol);
        if (o)
            out[o++] = ',';
        for (const char *c = p; c < stop && o + 2 < outsz; c++)
            out[o++] = (char)tolower((unsigned char)*c);
        out[o] = '\0';
        p = eol;
    }
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static char *make_pattern(size_t len, unsigned seed)
{
    char *p = malloc(len);
    assert_non_null(p);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (char)(x & 0xff);
    }
    return p;
}

static int temp_file_with(const char *data, size_t len)
{
    char path[] = "/tmp/t_http_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(unlink(path), 0);
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        assert_true(n > 0);
        off += (size_t)n;
    }
    return fd;
}

/* ---- tests ---- */

static void exact_headers_on_the_wire(void **state)
{
    struct fixture *f = *state;
    char host[64], u[128], c2[128];
    int port = lbs_port(f->srv);
    assert_true(snprintf(host, sizeof(host), "bucket.s3.example.test:%d", port) > 0);
    assert_true(snprintf(u, sizeof(u), "http://%s/a%%2Bb?x=1", host) > 0);
    assert_true(snprintf(c2, sizeof(c2), "bucket.s3.example.test:%d:127.0.0.1:%d", port, port) > 0);
    struct tad_http_opts o = {.connect_to = c2};
    struct tad_http *h = NULL;
    assert_int_equal(tad_http_new(&o, &h), TAD_OK);

    static const char body[] = "{\"QueueUrl\":\"q\"}";
    const struct tad_http_header hdrs[] = {
        {"Host", host},
        {"X-Amz-Date", "20240101T000000Z"},
        {"Content-Type", "application/x-amz-json-1.0"},
        {"X-Empty", ""},
        {"Authorization", "AWS4-HMAC-SHA256 Credential=AKID/x, Signature=abc"},
    };
    struct tad_buf out = TAD_BUF_INIT;
    push(f, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", "{}", 2, LBS_REPLY, 0);
    struct tad_http_request req = {.method = "POST", .url = u, .headers = hdrs, .nheaders = 5};
    req.body.kind = TAD_HTTP_BODY_MEMORY;
    req.body.mem.data = body;
    req.body.mem.len = sizeof(body) - 1;
    req.sink.kind = TAD_HTTP_SINK_BUF;
    req.sink.buf = &out;
    struct tad_http_response resp;
    tad_http_response_init(&resp);
    struct tad_errinfo info;
    assert_int_equal(tad_http_perform(h, &req, &resp, &info), TAD_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(info.http_status, 200);
    assert_string_equal(out.data, "{}");

    const struct lbs_request *r = lbs_get(f->srv, 0);
    assert_non_null(r);
    assert_true(starts_with(r->raw, "POST /a%2Bb?x=1 HTTP/1.1\r\n"));
    char names[512];
    header_names(r, names, sizeof(names));
    /* the set is ours plus User-Agent and Content-Length, nothing else */
    const char *want[] = {"host",          "x-amz-date", "content-type",  "x-empty",
                          "authorization", "user-agent", "content-length"};
    size_t count = 1;
    for (const char *p = names; *p; p++)
        count += *p == ',';
    assert_int_equal(count, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_non_null(strstr(names, want[i]));
    assert_null(strcasestr(r->raw, "\r\nAccept:"));
    assert_null(strcasestr(r->raw, "\r\nExpect:"));
    char *v = lbs_header(r, "Host");
    assert_string_equal(v, host);
    free(v);
    v = lbs_header(r, "User-Agent");
    assert_string_equal(v, TAD_USER_AGENT);
    free(v);
    v = lbs_header(r, "Content-Type");
    assert_string_equal(v, "application/x-amz-json-1.0");
    free(v);
    v = lbs_header(r, "Content-Length");
    assert_string_equal(v, "16");
    free(v);
    assert_non_null(strstr(r->raw, "\r\nX-Empty:"));
    assert_string_equal(r->body, body);

    /* GET: no body headers at all, and no form Content-Type either */
    tad_buf_reset(&out);
    req.method = "GET";
    req.body.kind = TAD_HTTP_BODY_NONE;
    req.nheaders = 2;
    assert_int_equal(tad_http_perform(h, &req, &resp, NULL), TAD_OK);
    r = lbs_get(f->srv, 1);
    assert_non_null(r);
    header_names(r, names, sizeof(names));
    assert_string_equal(names, "host,user-agent,x-amz-date");
    assert_true(starts_with(r->raw, "GET /a%2Bb?x=1 HTTP/1.1\r\n"));

    tad_buf_release(&out);
    tad_http_response_release(&resp);
    tad_http_free(h);
}

static void bodies_arrive_intact(void **state)
{
    struct fixture *f = *state;
    char u[128];
    url(f, "/up", u, sizeof(u));
    struct tad_http_response resp;
    tad_http_response_init(&resp);

    /* 2 MB from a file descriptor, starting at an offset */
    size_t big = 2u * 1024 * 1024, off = 4096;
    char *data = make_pattern(big + off + 10, 7);
    int fd = temp_file_with(data, big + off + 10);
    struct tad_http_request req = {.method = "PUT", .url = u};
    req.body.kind = TAD_HTTP_BODY_FD;
    req.body.file.fd = fd;
    req.body.file.offset = (off_t)off;
    req.body.file.len = big;
    assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_OK);
    const struct lbs_request *r = lbs_get(f->srv, 0);
    assert_non_null(r);
    assert_true(starts_with(r->raw, "PUT /up HTTP/1.1\r\n"));
    assert_int_equal(r->body_len, big);
    assert_memory_equal(r->body, data + off, big);
    assert_null(strcasestr(r->raw, "\r\nExpect:"));
    assert_null(strcasestr(r->raw, "\r\nContent-Type:"));

    /* the same fd body again: re-readable, independent of the file position */
    assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_OK);
    r = lbs_get(f->srv, 1);
    assert_non_null(r);
    assert_int_equal(r->body_len, big);
    assert_memory_equal(r->body, data + off, big);

    /* a file shorter than declared is a local I/O error */
    req.body.file.len = big + 4096 + 11;
    req.body.file.offset = 0;
    struct tad_errinfo info;
    assert_int_equal(tad_http_perform(f->http, &req, &resp, &info), TAD_ERR_IO);
    assert_non_null(strstr(info.msg, "shorter"));
    close(fd);
    free(data);
    tad_http_response_release(&resp);
}

struct chunk_src {
    const char *data;
    size_t len, pos, step;
    int rewinds;
};

static tad_err chunk_read(void *ctx, char *dst, size_t cap, size_t *ret_n)
{
    struct chunk_src *c = ctx;
    size_t n = c->len - c->pos;
    if (n > c->step)
        n = c->step;
    if (n > cap)
        n = cap;
    memcpy(dst, c->data + c->pos, n);
    c->pos += n;
    *ret_n = n;
    return TAD_OK;
}

static tad_err chunk_rewind(void *ctx)
{
    struct chunk_src *c = ctx;
    c->pos = 0;
    c->rewinds++;
    return TAD_OK;
}

static tad_err failing_read(void *ctx, char *dst, size_t cap, size_t *ret_n)
{
    (void)ctx;
    (void)dst;
    (void)cap;
    (void)ret_n;
    return TAD_ERR_IO;
}

static void callback_bodies(void **state)
{
    struct fixture *f = *state;
    char u[128];
    url(f, "/cb", u, sizeof(u));
    size_t len = 300000;
    char *data = make_pattern(len, 3);
    struct chunk_src src = {.data = data, .len = len, .step = 7777};
    struct tad_http_request req = {.method = "POST", .url = u};
    req.body.kind = TAD_HTTP_BODY_CALLBACK;
    req.body.cb.read = chunk_read;
    req.body.cb.rewind = chunk_rewind;
    req.body.cb.ctx = &src;
    req.body.cb.len = -1;
    struct tad_http_response resp;
    tad_http_response_init(&resp);
    assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_OK);
    const struct lbs_request *r = lbs_get(f->srv, 0);
    assert_non_null(r);
    char *te = lbs_header(r, "Transfer-Encoding");
    assert_string_equal(te, "chunked");
    free(te);
    assert_null(lbs_header(r, "Content-Length"));
    assert_null(strcasestr(r->raw, "\r\nExpect:"));
    assert_int_equal(r->body_len, len);
    assert_memory_equal(r->body, data, len);

    /* known length: Content-Length, not chunked */
    src.pos = 0;
    req.body.cb.len = (int64_t)len;
    assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_OK);
    r = lbs_get(f->srv, 1);
    assert_non_null(r);
    char *cl = lbs_header(r, "Content-Length");
    assert_string_equal(cl, "300000");
    free(cl);
    assert_null(lbs_header(r, "Transfer-Encoding"));
    assert_memory_equal(r->body, data, len);

    /* a reader error aborts the request and is returned as is */
    req.body.cb.read = failing_read;
    struct tad_errinfo info;
    assert_int_equal(tad_http_perform(f->http, &req, &resp, &info), TAD_ERR_IO);
    free(data);
    tad_http_response_release(&resp);
}

static void multipart_body(void **state)
{
    struct fixture *f = *state;
    char u[128];
    url(f, "/open_api/v1.3/dmp/custom_audience/file/upload/", u, sizeof(u));
    size_t len = 100000;
    char *data = make_pattern(len + 50, 11);
    int fd = temp_file_with(data, len + 50);
    const struct tad_http_form_field fields[] = {
        {"advertiser_id", "7000000001"},
        {"calculate_type", "EMAIL_SHA256"},
        {"file_signature", "0123456789abcdef0123456789abcdef"},
    };
    const struct tad_http_header hdrs[] = {{"Access-Token", "tok-abcdef"}};
    struct tad_http_request req = {.method = "POST", .url = u, .headers = hdrs, .nheaders = 1};
    req.body.kind = TAD_HTTP_BODY_MULTIPART;
    req.body.form.fields = fields;
    req.body.form.nfields = 3;
    req.body.form.file_field = "file";
    req.body.form.file_name = "audience.csv";
    req.body.form.file_type = "text/csv";
    req.body.form.fd = fd;
    req.body.form.offset = 50;
    req.body.form.len = len;
    struct tad_http_response resp;
    tad_http_response_init(&resp);
    assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_OK);
    const struct lbs_request *r = lbs_get(f->srv, 0);
    assert_non_null(r);
    char *ct = lbs_header(r, "Content-Type");
    assert_non_null(ct);
    assert_true(strncmp(ct, "multipart/form-data; boundary=", 30) == 0);
    char boundary[128];
    assert_true(snprintf(boundary, sizeof(boundary), "--%s", ct + 30) > 0);
    free(ct);
    assert_null(strcasestr(r->raw, "\r\nExpect:"));
    assert_null(strcasestr(r->raw, "\r\nAccept:"));
    /* fields in order, then the file part with its metadata and exact bytes */
    const char *b = r->body;
    const char *p1 = strstr(b, "name=\"advertiser_id\"\r\n\r\n7000000001\r\n");
    const char *p2 = strstr(b, "name=\"calculate_type\"\r\n\r\nEMAIL_SHA256\r\n");
    const char *p3 =
        strstr(b, "name=\"file\"; filename=\"audience.csv\"\r\nContent-Type: text/csv");
    assert_non_null(p1);
    assert_non_null(p2);
    assert_non_null(p3);
    assert_true(p1 < p2 && p2 < p3);
    const char *fstart = strstr(p3, "\r\n\r\n");
    assert_non_null(fstart);
    fstart += 4;
    size_t before = (size_t)(fstart - b);
    assert_true(r->body_len >= before + len);
    assert_memory_equal(fstart, data + 50, len);
    size_t blen = strlen(boundary);
    assert_true(r->body_len >= before + len + 2 + blen + 4);
    assert_memory_equal(fstart + len, "\r\n", 2);
    assert_memory_equal(fstart + len + 2, boundary, blen);
    assert_memory_equal(fstart + len + 2 + blen, "--\r\n", 4);

    /* a Content-Type of our own would fight libcurl's boundary: refused */
    const struct tad_http_header bad[] = {{"Content-Type", "multipart/form-data"}};
    req.headers = bad;
    assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_ERR_INVALID);
    close(fd);
    free(data);
    tad_http_response_release(&resp);
}

static void keep_alive_reuses_connection(void **state)
{
    struct fixture *f = *state;
    char u[128];
    url(f, "/k", u, sizeof(u));
    struct tad_http_request req = {.method = "GET", .url = u};
    struct tad_http_response resp;
    tad_http_response_init(&resp);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_OK);
    assert_int_equal(lbs_count(f->srv), 3);
    assert_int_equal(lbs_get(f->srv, 0)->conn, 1);
    assert_int_equal(lbs_get(f->srv, 1)->conn, 1);
    assert_int_equal(lbs_get(f->srv, 2)->conn, 1);

    /* the server closing the connection is not an error; the next request reconnects */
    push(f, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", NULL, 0, LBS_REPLY, 0);
    assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_OK);
    assert_int_equal(resp.status, 204);
    assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_OK);
    assert_int_equal(lbs_get(f->srv, 4)->conn, 2);
    tad_http_response_release(&resp);
}

static void capped_buffer_sink(void **state)
{
    struct fixture *f = *state;
    char u[128];
    url(f, "/big", u, sizeof(u));
    char *body = make_pattern(5000, 5);
    push(f, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", body, 5000, LBS_REPLY, 0);
    push(f, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", body, 5000, LBS_REPLY, 0);
    struct tad_buf out;
    tad_buf_init(&out, 4999);
    struct tad_http_request req = {.method = "GET", .url = u};
    req.sink.kind = TAD_HTTP_SINK_BUF;
    req.sink.buf = &out;
    struct tad_http_response resp;
    tad_http_response_init(&resp);
    struct tad_errinfo info;
    assert_int_equal(tad_http_perform(f->http, &req, &resp, &info), TAD_ERR_PARSE);
    assert_non_null(strstr(info.msg, "4999"));
    assert_true(out.len <= 4999);

    /* exactly at the cap is fine */
    tad_buf_release(&out);
    tad_buf_init(&out, 5000);
    assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_OK);
    assert_int_equal(out.len, 5000);
    assert_memory_equal(out.data, body, 5000);
    assert_int_equal(resp.body_bytes, 5000);
    tad_buf_release(&out);
    tad_http_response_release(&resp);
    free(body);
}

struct counting_sink {
    const char *expect;
    size_t got;
    int calls;
    bool mismatch;
    size_t fail_after; /* 0 = never */
};

static tad_err counting_write(void *ctx, const char *data, size_t len)
{
    struct counting_sink *c = ctx;
    if (memcmp(c->expect + c->got, data, len) != 0)
        c->mismatch = true;
    c->got += len;
    c->calls++;
    if (c->fail_after && c->got >= c->fail_after)
        return TAD_ERR_IO;
    return TAD_OK;
}

static void streaming_sink(void **state)
{
    struct fixture *f = *state;
    char u[128];
    url(f, "/stream", u, sizeof(u));
    size_t len = 1500000;
    char *body = make_pattern(len, 9);
    push(f, "HTTP/1.1 200 OK\r\nContent-Length: 1500000\r\n\r\n", body, len, LBS_REPLY, 0);
    push(f, "HTTP/1.1 200 OK\r\nContent-Length: 1500000\r\n\r\n", body, len, LBS_REPLY, 0);
    struct counting_sink cs = {.expect = body};
    struct tad_http_request req = {.method = "GET", .url = u};
    req.sink.kind = TAD_HTTP_SINK_CALLBACK;
    req.sink.write = counting_write;
    req.sink.ctx = &cs;
    struct tad_http_response resp;
    tad_http_response_init(&resp);
    assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_OK);
    assert_int_equal(cs.got, len);
    assert_false(cs.mismatch);
    assert_true(cs.calls > 1);
    assert_int_equal(resp.body_bytes, len);

    /* a sink error stops the transfer and is returned */
    struct counting_sink cs2 = {.expect = body, .fail_after = 100000};
    req.sink.ctx = &cs2;
    assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_ERR_IO);
    assert_true(cs2.got < len);
    tad_http_response_release(&resp);
    free(body);
}

static void low_speed_abort(void **state)
{
    struct fixture *f = *state;
    char u[128];
    url(f, "/slow", u, sizeof(u));
    struct tad_http_opts o = {.low_speed_limit = 100, .low_speed_time = 1};
    struct tad_http *h = NULL;
    assert_int_equal(tad_http_new(&o, &h), TAD_OK);
    static const char body[] = "0123456789";
    push(f, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", body, 10, LBS_STALL, 10);
    struct tad_http_request req = {.method = "GET", .url = u};
    struct tad_http_response resp;
    tad_http_response_init(&resp);
    struct tad_errinfo info;
    double t0 = now_s();
    assert_int_equal(tad_http_perform(h, &req, &resp, &info), TAD_ERR_NETWORK);
    double dt = now_s() - t0;
    assert_true(dt < 4.0);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body_bytes, 10);
    assert_true(resp.error[0] != '\0');
    assert_true(tad_err_retryable(TAD_ERR_NETWORK));
    tad_http_response_release(&resp);
    tad_http_free(h);
}

static void close_and_reset_mid_body(void **state)
{
    struct fixture *f = *state;
    char u[128];
    url(f, "/cut", u, sizeof(u));
    char *body = make_pattern(10000, 13);
    push(f, "HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n", body, 10000, LBS_CLOSE, 4000);
    push(f, "HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n", body, 10000, LBS_RESET, 6000);
    struct counting_sink cs = {.expect = body};
    struct tad_http_request req = {.method = "GET", .url = u};
    req.sink.kind = TAD_HTTP_SINK_CALLBACK;
    req.sink.write = counting_write;
    req.sink.ctx = &cs;
    struct tad_http_response resp;
    tad_http_response_init(&resp);
    struct tad_errinfo info;
    assert_int_equal(tad_http_perform(f->http, &req, &resp, &info), TAD_ERR_NETWORK);
    assert_int_equal(resp.body_bytes, 4000);
    assert_int_equal(cs.got, 4000);
    assert_false(cs.mismatch);
    assert_true(resp.error[0] != '\0');

    cs.got = 0;
    assert_int_equal(tad_http_perform(f->http, &req, &resp, &info), TAD_ERR_NETWORK);
    assert_true(resp.body_bytes <= 6000);
    assert_int_equal(resp.body_bytes, cs.got);
    assert_false(cs.mismatch);
    tad_http_response_release(&resp);
    free(body);
}

struct canceller {
    atomic_int *flag;
    double set_at;
};

static void *cancel_later(void *arg)
{
    struct canceller *c = arg;
    usleep(300 * 1000);
    c->set_at = now_s();
    atomic_store(c->flag, 1);
    return NULL;
}

static void cancel_from_another_thread(void **state)
{
    struct fixture *f = *state;
    char u[128];
    url(f, "/hang", u, sizeof(u));
    atomic_int flag = 0;
    struct tad_http_opts o = {.cancel = &flag};
    struct tad_http *h = NULL;
    assert_int_equal(tad_http_new(&o, &h), TAD_OK);
    push(f, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", "abc", 3, LBS_STALL, 3);
    struct tad_http_request req = {.method = "GET", .url = u};
    struct tad_http_response resp;
    tad_http_response_init(&resp);
    struct canceller c = {.flag = &flag};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_later, &c), 0);
    struct tad_errinfo info;
    assert_int_equal(tad_http_perform(h, &req, &resp, &info), TAD_ERR_CANCELLED);
    double done = now_s();
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(c.set_at > 0);
    assert_true(done - c.set_at < 0.5);
    assert_int_equal(resp.body_bytes, 3);

    /* with the flag still set, nothing new starts */
    size_t before = lbs_count(f->srv);
    assert_int_equal(tad_http_perform(h, &req, &resp, NULL), TAD_ERR_CANCELLED);
    assert_int_equal(lbs_count(f->srv), before);

    /* cleared: the client works again */
    atomic_store(&flag, 0);
    assert_int_equal(tad_http_perform(h, &req, &resp, NULL), TAD_OK);
    assert_int_equal(resp.status, 200);
    tad_http_response_release(&resp);
    tad_http_free(h);
}

static void response_headers_and_status(void **state)
{
    struct fixture *f = *state;
    char u[128];
    url(f, "/h", u, sizeof(u));
    push(f,
         "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n"
         "HTTP/1.1 404 Not Found\r\nETag:  \"abc123\"  \r\nx-amz-request-id: R1\r\n"
         "X-Dup: first\r\nX-Dup: second\r\nContent-Length: 9\r\n\r\n",
         "not found", 9, LBS_REPLY, 0);
    struct tad_buf out = TAD_BUF_INIT;
    struct tad_http_request req = {.method = "GET", .url = u};
    req.sink.kind = TAD_HTTP_SINK_BUF;
    req.sink.buf = &out;
    struct tad_http_response resp;
    tad_http_response_init(&resp);
    struct tad_errinfo info;
    assert_int_equal(tad_http_perform(f->http, &req, &resp, &info), TAD_OK);
    assert_int_equal(resp.status, 404);
    assert_int_equal(info.http_status, 404);
    assert_string_equal(out.data, "not found");
    assert_string_equal(tad_http_response_header(&resp, "etag"), "\"abc123\"");
    assert_string_equal(tad_http_response_header(&resp, "ETAG"), "\"abc123\"");
    assert_string_equal(tad_http_response_header(&resp, "X-Amz-Request-Id"), "R1");
    assert_string_equal(tad_http_response_header(&resp, "x-dup"), "first");
    assert_string_equal(tad_http_response_header(&resp, "content-length"), "9");
    assert_null(tad_http_response_header(&resp, "x-interim"));
    assert_null(tad_http_response_header(&resp, "missing"));

    /* HEAD: headers only, nothing waits for the announced body */
    push(f, "HTTP/1.1 200 OK\r\nContent-Length: 12345\r\nETag: \"e\"\r\n\r\n", NULL, 0, LBS_REPLY,
         0);
    req.method = "HEAD";
    tad_buf_reset(&out);
    assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body_bytes, 0);
    assert_string_equal(tad_http_response_header(&resp, "etag"), "\"e\"");
    assert_null(tad_http_response_header(&resp, "x-dup"));
    const struct lbs_request *r = lbs_get(f->srv, 1);
    assert_non_null(r);
    assert_true(starts_with(r->raw, "HEAD /h HTTP/1.1\r\n"));

    /* a flood of response headers is refused rather than stored */
    struct tad_buf flood = TAD_BUF_INIT;
    assert_int_equal(tad_buf_append_str(&flood, "HTTP/1.1 200 OK\r\n"), TAD_OK);
    for (int i = 0; i < 300; i++)
        assert_int_equal(tad_buf_appendf(&flood, "X-H%d: v\r\n", i), TAD_OK);
    assert_int_equal(tad_buf_append_str(&flood, "Content-Length: 0\r\n\r\n"), TAD_OK);
    push(f, flood.data, NULL, 0, LBS_REPLY, 0);
    req.method = "GET";
    assert_int_equal(tad_http_perform(f->http, &req, &resp, &info), TAD_ERR_PARSE);
    assert_non_null(strstr(info.msg, "headers"));
    tad_buf_release(&flood);
    tad_buf_release(&out);
    tad_http_response_release(&resp);
}

static void status_classes(void **state)
{
    (void)state;
    assert_int_equal(tad_http_status_class(200), TAD_OK);
    assert_int_equal(tad_http_status_class(206), TAD_OK);
    assert_int_equal(tad_http_status_class(429), TAD_ERR_THROTTLED);
    assert_int_equal(tad_http_status_class(500), TAD_ERR_SERVER);
    assert_int_equal(tad_http_status_class(503), TAD_ERR_SERVER);
    assert_int_equal(tad_http_status_class(401), TAD_ERR_AUTH);
    assert_int_equal(tad_http_status_class(403), TAD_ERR_DENIED);
    assert_int_equal(tad_http_status_class(404), TAD_ERR_NOT_FOUND);
    assert_int_equal(tad_http_status_class(408), TAD_ERR_NETWORK);
    assert_int_equal(tad_http_status_class(400), TAD_ERR_CLIENT);
    assert_int_equal(tad_http_status_class(412), TAD_ERR_CLIENT);
    assert_int_equal(tad_http_status_class(301), TAD_ERR_CLIENT);
    assert_int_equal(tad_http_status_class(0), TAD_ERR_CLIENT);
}

static void invalid_requests_are_refused(void **state)
{
    struct fixture *f = *state;
    char u[128];
    url(f, "/x", u, sizeof(u));
    struct tad_http_response resp;
    tad_http_response_init(&resp);
    struct tad_http_request req = {.method = "GET", .url = u};

    const struct tad_http_header wrong_host[] = {{"Host", "other.example:1"}};
    req.headers = wrong_host;
    req.nheaders = 1;
    assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_ERR_INVALID);

    const struct tad_http_header inject[] = {{"X-A", "a\r\nX-B: b"}};
    req.headers = inject;
    assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_ERR_INVALID);

    const struct tad_http_header bad_name[] = {{"X A", "a"}};
    req.headers = bad_name;
    assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_ERR_INVALID);

    const struct tad_http_header cl[] = {{"Content-Length", "3"}};
    req.headers = cl;
    req.method = "PUT";
    req.body.kind = TAD_HTTP_BODY_MEMORY;
    req.body.mem.data = "abcd";
    req.body.mem.len = 4;
    assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_ERR_INVALID);
    const struct tad_http_header cl_ok[] = {{"Content-Length", "4"}};
    req.headers = cl_ok;
    assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_OK);

    req.headers = NULL;
    req.nheaders = 0;
    req.url = "ftp://127.0.0.1/x";
    assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_ERR_INVALID);
    req.url = u;
    req.method = "GE T";
    assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_ERR_INVALID);
    /* only the one valid request reached the server */
    assert_int_equal(lbs_count(f->srv), 1);

    /* nothing listens: connection refused is a network error */
    req.method = "GET";
    req.url = "http://127.0.0.1:1/";
    struct tad_errinfo info;
    assert_int_equal(tad_http_perform(f->http, &req, &resp, &info), TAD_ERR_NETWORK);
    assert_int_equal(resp.status, 0);
    assert_true(info.msg[0] != '\0');
    tad_http_response_release(&resp);
}

static void proxy_environment(void **state)
{
    struct fixture *f = *state;
    char u[128], proxy[64];
    url(f, "/p", u, sizeof(u));
    assert_true(snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", lbs_port(f->srv)) > 0);
    struct tad_http_response resp;
    tad_http_response_init(&resp);
    struct tad_http_request req = {.method = "GET", .url = u};

    /* http_proxy: the request goes to the proxy with an absolute URL */
    assert_int_equal(setenv("http_proxy", proxy, 1), 0);
    struct tad_http *h = NULL;
    assert_int_equal(tad_http_new(NULL, &h), TAD_OK);
    assert_int_equal(tad_http_perform(h, &req, &resp, NULL), TAD_OK);
    const struct lbs_request *r = lbs_get(f->srv, 0);
    assert_non_null(r);
    char line[160];
    assert_true(snprintf(line, sizeof(line), "GET %s HTTP/1.1\r\n", u) > 0);
    assert_true(starts_with(r->raw, line));
    tad_http_free(h);

    /* NO_PROXY (upper case) bypasses it */
    assert_int_equal(setenv("NO_PROXY", "127.0.0.1", 1), 0);
    assert_int_equal(tad_http_new(NULL, &h), TAD_OK);
    assert_int_equal(tad_http_perform(h, &req, &resp, NULL), TAD_OK);
    r = lbs_get(f->srv, 1);
    assert_non_null(r);
    assert_true(starts_with(r->raw, "GET /p HTTP/1.1\r\n"));
    tad_http_free(h);
    assert_int_equal(unsetenv("NO_PROXY"), 0);
    assert_int_equal(unsetenv("http_proxy"), 0);

    /* HTTPS_PROXY (upper case): https goes through a CONNECT tunnel */
    assert_int_equal(setenv("HTTPS_PROXY", proxy, 1), 0);
    push(f, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", NULL, 0, LBS_REPLY, 0);
    assert_int_equal(tad_http_new(NULL, &h), TAD_OK);
    req.url = "https://bucket.s3.eu-west-1.amazonaws.com/k";
    struct tad_errinfo info;
    assert_int_equal(tad_http_perform(h, &req, &resp, &info), TAD_ERR_NETWORK);
    r = lbs_get(f->srv, 2);
    assert_non_null(r);
    assert_true(starts_with(r->raw, "CONNECT bucket.s3.eu-west-1.amazonaws.com:443 HTTP/1.1"));
    tad_http_free(h);
    assert_int_equal(unsetenv("HTTPS_PROXY"), 0);
    tad_http_response_release(&resp);
}

static void empty_bodies(void **state)
{
    struct fixture *f = *state;
    char u[128];
    url(f, "/e", u, sizeof(u));
    struct tad_http_response resp;
    tad_http_response_init(&resp);
    struct tad_http_request req = {.method = "POST", .url = u};
    assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_OK);
    req.method = "DELETE";
    assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_OK);
    req.method = "PUT";
    req.body.kind = TAD_HTTP_BODY_MEMORY;
    assert_int_equal(tad_http_perform(f->http, &req, &resp, NULL), TAD_OK);

    const struct lbs_request *r = lbs_get(f->srv, 0);
    assert_non_null(r);
    assert_true(starts_with(r->raw, "POST /e HTTP/1.1\r\n"));
    char *cl = lbs_header(r, "Content-Length");
    assert_string_equal(cl, "0");
    free(cl);
    assert_null(lbs_header(r, "Content-Type"));
    r = lbs_get(f->srv, 1);
    assert_non_null(r);
    assert_true(starts_with(r->raw, "DELETE /e HTTP/1.1\r\n"));
    assert_null(lbs_header(r, "Content-Length"));
    r = lbs_get(f->srv, 2);
    assert_non_null(r);
    assert_true(starts_with(r->raw, "PUT /e HTTP/1.1\r\n"));
    cl = lbs_header(r, "Content-Length");
    assert_string_equal(cl, "0");
    free(cl);
    tad_http_response_release(&resp);
}

static void https_to_plain_server_fails(void **state)
{
    struct fixture *f = *state;
    char u[128];
    assert_true(snprintf(u, sizeof(u), "https://127.0.0.1:%d/", lbs_port(f->srv)) > 0);
    struct tad_http_opts o = {.connect_timeout_ms = 500};
    struct tad_http *h = NULL;
    assert_int_equal(tad_http_new(&o, &h), TAD_OK);
    struct tad_http_request req = {.method = "GET", .url = u};
    struct tad_http_response resp;
    tad_http_response_init(&resp);
    assert_int_equal(tad_http_perform(h, &req, &resp, NULL), TAD_ERR_NETWORK);
    assert_int_equal(resp.status, 0);
    tad_http_free(h);

    /* an unreadable CA bundle (option or environment) fails before any handshake, and says so */
    struct tad_errinfo info;
    o.ca_bundle = "/nonexistent/ca.pem";
    assert_int_equal(tad_http_new(&o, &h), TAD_OK);
    assert_int_equal(tad_http_perform(h, &req, &resp, &info), TAD_ERR_NETWORK);
    assert_non_null(strstr(info.msg, "certificate"));
    tad_http_free(h);
    o.ca_bundle = NULL;
    assert_int_equal(setenv("AWS_CA_BUNDLE", "/nonexistent/env-ca.pem", 1), 0);
    assert_int_equal(tad_http_new(&o, &h), TAD_OK);
    assert_int_equal(unsetenv("AWS_CA_BUNDLE"), 0);
    assert_int_equal(tad_http_perform(h, &req, &resp, &info), TAD_ERR_NETWORK);
    assert_non_null(strstr(info.msg, "certificate"));
    assert_non_null(strstr(info.msg, "env-ca.pem"));
    tad_http_free(h);
    tad_http_response_release(&resp);
}

/* Runs argv (argv[0] looked up in PATH) with output discarded; returns its pid or -1. */
static pid_t spawn_quiet(char *const argv[])
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return -1;
    pid_t pid = -1;
    if (posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) != 0 ||
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0) != 0 ||
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0) != 0 ||
        posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
        pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static pid_t tls_server_pid = -1;
static char tls_dir[64];

/* A real TLS peer (openssl s_server with a fresh self-signed certificate for localhost and
 * 127.0.0.1): the system trust store rejects it, the certificate as CA bundle accepts it, and
 * a name the certificate does not cover is rejected even with that bundle. */
static void tls_verification_is_always_on(void **state)
{
    (void)state;
    char *dir = tls_dir;
    assert_true(snprintf(tls_dir, sizeof(tls_dir), "/tmp/t_http_tls_XXXXXX") > 0);
    assert_non_null(mkdtemp(dir));
    char key[64], cert[64];
    assert_true(snprintf(key, sizeof(key), "%s/key.pem", dir) > 0);
    assert_true(snprintf(cert, sizeof(cert), "%s/cert.pem", dir) > 0);
    char *gen[] = {"openssl",
                   "req",
                   "-x509",
                   "-newkey",
                   "ec",
                   "-pkeyopt",
                   "ec_paramgen_curve:P-256",
                   "-nodes",
                   "-keyout",
                   key,
                   "-out",
                   cert,
                   "-subj",
                   "/CN=localhost",
                   "-addext",
                   "subjectAltName=DNS:localhost,IP:127.0.0.1",
                   "-days",
                   "1",
                   NULL};
    pid_t pid = spawn_quiet(gen);
    int st = -1;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        skip(); /* no openssl command line tool */
    int port = free_port();
    char portstr[16];
    assert_true(snprintf(portstr, sizeof(portstr), "%d", port) > 0);
    char *srv[] = {"openssl", "s_server", "-quiet", "-www", "-accept", portstr,
                   "-cert",   cert,       "-key",   key,    NULL};
    tls_server_pid = spawn_quiet(srv);
    assert_true(tls_server_pid > 0);
    for (int i = 0; i < 200 && !port_open(port); i++)
        usleep(10 * 1000);

    char u[128];
    assert_true(snprintf(u, sizeof(u), "https://localhost:%d/", port) > 0);
    struct tad_http_request req = {.method = "GET", .url = u};
    struct tad_http_response resp;
    tad_http_response_init(&resp);
    struct tad_errinfo info;
    struct tad_http_opts o = {.connect_timeout_ms = 3000};
    struct tad_http *h = NULL;

    assert_int_equal(tad_http_new(&o, &h), TAD_OK);
    assert_int_equal(tad_http_perform(h, &req, &resp, &info), TAD_ERR_NETWORK);
    assert_non_null(strstr(info.msg, "certificate"));
    tad_http_free(h);

    o.ca_bundle = cert;
    assert_int_equal(tad_http_new(&o, &h), TAD_OK);
    assert_int_equal(tad_http_perform(h, &req, &resp, &info), TAD_OK);
    assert_int_equal(resp.status, 200);
    tad_http_free(h);

    char c2[128];
    assert_true(snprintf(c2, sizeof(c2), "bucket.s3.example.test:%d:127.0.0.1:%d", port, port) > 0);
    o.connect_to = c2;
    assert_true(snprintf(u, sizeof(u), "https://bucket.s3.example.test:%d/", port) > 0);
    assert_int_equal(tad_http_new(&o, &h), TAD_OK);
    assert_int_equal(tad_http_perform(h, &req, &resp, &info), TAD_ERR_NETWORK);
    assert_non_null(strstr(info.msg, "certificate"));
    tad_http_free(h);

    tad_http_response_release(&resp);
}

/* Runs even when the test failed: stops the TLS server and removes its files. */
static int tls_teardown(void **state)
{
    (void)state;
    if (tls_server_pid > 0) {
        kill(tls_server_pid, SIGTERM);
        waitpid(tls_server_pid, NULL, 0);
        tls_server_pid = -1;
    }
    if (tls_dir[0]) {
        char p[96];
        if (snprintf(p, sizeof(p), "%s/key.pem", tls_dir) > 0)
            unlink(p);
        if (snprintf(p, sizeof(p), "%s/cert.pem", tls_dir) > 0)
            unlink(p);
        rmdir(tls_dir);
        tls_dir[0] = '\0';
    }
    return 0;
}

static void debug_trace_is_redacted(void **state)
{
    struct fixture *f = *state;
    char u[128];
    url(f, "/trace", u, sizeof(u));
    FILE *tf = tmpfile();
    assert_non_null(tf);
    tad_log_setup(TAD_LOG_DEBUG, TAD_LOG_FMT_TEXT);
    tad_log_set_fd(fileno(tf));

    struct tad_http_opts o = {.debug_trace = true};
    struct tad_http *h = NULL;
    assert_int_equal(tad_http_new(&o, &h), TAD_OK);
    const struct tad_http_header hdrs[] = {
        {"Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-west-1/s3/"
                          "aws4_request, SignedHeaders=host, Signature=5ec7e75ab1e5"},
        {"X-Amz-Security-Token", "SessionTokenSecretValue"},
        {"Access-Token", "tiktokTokenValue42"},
        {"X-Visible", "plainvalue"},
    };
    push(f, "HTTP/1.1 200 OK\r\nX-Reply: shown\r\nContent-Length: 12\r\n\r\n", "bodysecret!!", 12,
         LBS_REPLY, 0);
    struct tad_http_request req = {.method = "POST", .url = u, .headers = hdrs, .nheaders = 4};
    req.body.kind = TAD_HTTP_BODY_MEMORY;
    req.body.mem.data = "requestbodysecret";
    req.body.mem.len = 17;
    struct tad_http_response resp;
    tad_http_response_init(&resp);
    assert_int_equal(tad_http_perform(h, &req, &resp, NULL), TAD_OK);
    tad_http_free(h);
    tad_log_set_fd(2);
    tad_log_setup(TAD_LOG_WARN, TAD_LOG_FMT_TEXT);

    long sz = ftell(tf);
    assert_true(sz > 0);
    char *log = calloc(1, (size_t)sz + 1);
    assert_non_null(log);
    rewind(tf);
    assert_int_equal(fread(log, 1, (size_t)sz, tf), (size_t)sz);
    fclose(tf);
    /* the trace is there ... */
    assert_non_null(strstr(log, "POST /trace HTTP/1.1"));
    assert_non_null(strstr(log, "X-Visible: plainvalue"));
    assert_non_null(strstr(log, "X-Reply: shown"));
    assert_non_null(strstr(log, "Authorization"));
    /* ... without any credential or body */
    assert_null(strstr(log, "AKIDEXAMPLE"));
    assert_null(strstr(log, "5ec7e75ab1e5"));
    assert_null(strstr(log, "SessionTokenSecretValue"));
    assert_null(strstr(log, "tiktokTokenValue42"));
    assert_null(strstr(log, "requestbodysecret"));
    assert_null(strstr(log, "bodysecret!!"));
    free(log);
    tad_http_response_release(&resp);
}

int main(void)
{
    static const char *const proxy_vars[] = {"http_proxy",  "HTTP_PROXY", "https_proxy",
                                             "HTTPS_PROXY", "all_proxy",  "ALL_PROXY",
                                             "no_proxy",    "NO_PROXY"};
    for (size_t i = 0; i < sizeof(proxy_vars) / sizeof(proxy_vars[0]); i++)
        if (unsetenv(proxy_vars[i]) != 0)
            return 1;
    if (tad_http_global_init() != TAD_OK)
        return 1;
    tad_log_setup(TAD_LOG_WARN, TAD_LOG_FMT_TEXT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(exact_headers_on_the_wire, setup, teardown),
        cmocka_unit_test_setup_teardown(bodies_arrive_intact, setup, teardown),
        cmocka_unit_test_setup_teardown(callback_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(multipart_body, setup, teardown),
        cmocka_unit_test_setup_teardown(keep_alive_reuses_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(capped_buffer_sink, setup, teardown),
        cmocka_unit_test_setup_teardown(streaming_sink, setup, teardown),
        cmocka_unit_test_setup_teardown(low_speed_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(close_and_reset_mid_body, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_from_another_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(response_headers_and_status, setup, teardown),
        cmocka_unit_test(status_classes),
        cmocka_unit_test_setup_teardown(invalid_requests_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(proxy_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(empty_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(https_to_plain_server_fails, setup, teardown),
        cmocka_unit_test_teardown(tls_verification_is_always_on, tls_teardown),
        cmocka_unit_test_setup_teardown(debug_trace_is_redacted, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tad_http_global_cleanup();
    return rc;
}
