/* t_metrics.c - the metrics registry (exact exposition lines, label escaping, histogram
 * buckets, series cap, concurrent updates, buffer cap) and the /metrics + /healthz server
 * (status codes, content types, bind errors, listen-string validation), driven with libcurl
 * over loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tad/buf.h"
#include "tad/metrics.h"
#include "tad/metrics_server.h"
#include "tad/version.h"

#define P "tiktok_audienced_"

/* ---- helpers ------------------------------------------------------------------------------ */

static char *render(struct tad_metrics *m)
{
    struct tad_buf b;
    tad_buf_init(&b, 0);
    assert_int_equal(tad_metrics_render(m, &b), TAD_OK);
    char *s = NULL;
    assert_int_equal(tad_buf_take(&b, &s), TAD_OK);
    return s;
}

/* True when text holds line as one complete line. */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}

#define assert_line(text, line)                                                                    \
    do {                                                                                           \
        if (!has_line((text), (line)))                                                             \
            fail_msg("missing line: %s", (line));                                                  \
    } while (0)

static size_t count_prefix(const char *text, const char *prefix)
{
    size_t n = 0, pl = strlen(prefix);
    for (const char *p = text; *p;) {
        if (strncmp(p, prefix, pl) == 0)
            n++;
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return n;
}

/* ---- registry ----------------------------------------------------------------------------- */

static void fresh_registry(void **state)
{
    (void)state;
    struct tad_metrics *m = NULL;
    assert_int_equal(tad_metrics_new(&m), TAD_OK);
    char *t = render(m);
    assert_line(t, "# TYPE " P "up gauge");
    assert_line(t, P "up 1");
    assert_line(t, P "build_info{version=\"" TAD_VERSION_STRING "\"} 1");
    assert_line(t, "# TYPE " P "messages_received_total counter");
    assert_line(t, P "messages_received_total 0");
    assert_line(t, P "messages_deleted_total 0");
    assert_line(t, P "messages_released_total 0");
    assert_line(t, P "messages_failed_over_total 0");
    assert_line(t, P "visibility_extensions_total 0");
    assert_line(t, "# TYPE " P "inflight_files gauge");
    assert_line(t, P "inflight_files 0");
    assert_line(t, P "files_total{result=\"applied\"} 0");
    assert_line(t, P "files_total{result=\"dry_run\"} 0");
    assert_line(t, P "rows_total{result=\"valid\"} 0");
    assert_line(t, P "rows_total{result=\"invalid\"} 0");
    assert_line(t, P "rows_total{result=\"blank\"} 0");
    assert_line(t, "# TYPE " P "tiktok_requests_total counter");
    assert_line(t, "# TYPE " P "aws_requests_total counter");
    assert_int_equal(count_prefix(t, P "tiktok_requests_total{"), 0);
    assert_line(t, "# TYPE " P "file_duration_seconds histogram");
    assert_line(t, P "file_duration_seconds_bucket{le=\"+Inf\"} 0");
    assert_line(t, P "file_duration_seconds_sum 0");
    assert_line(t, P "file_duration_seconds_count 0");
    /* start time is "now" in Unix seconds */
    const char *st = strstr(t, "\n" P "start_time_seconds ");
    assert_non_null(st);
    double v = strtod(st + strlen("\n" P "start_time_seconds "), NULL);
    double now = (double)time(NULL);
    assert_true(v > now - 60 && v < now + 60);
    /* every line is a comment or a prefixed sample, every TYPE has a HELP before it */
    size_t len = strlen(t);
    assert_true(len > 0 && t[len - 1] == '\n');
    for (const char *p = t; *p;) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        if (strncmp(p, "# TYPE ", 7) != 0 && strncmp(p, "# HELP ", 7) != 0 &&
            strncmp(p, P, strlen(P)) != 0)
            fail_msg("unexpected line: %.*s", (int)(nl - p), p);
        p = nl + 1;
    }
    assert_int_equal(count_prefix(t, "# HELP "), count_prefix(t, "# TYPE "));
    assert_int_equal(count_prefix(t, "# TYPE "), 14);
    free(t);
    tad_metrics_free(m);
}

static void counters_and_labels(void **state)
{
    (void)state;
    struct tad_metrics *m = NULL;
    assert_int_equal(tad_metrics_new(&m), TAD_OK);
    tad_metrics_messages_received(m, 3);
    tad_metrics_messages_received(m, 2);
    tad_metrics_messages_deleted(m, 4);
    tad_metrics_messages_released(m, 1);
    tad_metrics_messages_failed_over(m, 2);
    tad_metrics_visibility_extensions(m, 7);
    tad_metrics_rows(m, 10, 2, 1);
    tad_metrics_rows(m, 5, 0, 0);
    tad_metrics_inflight_add(m, 3);
    tad_metrics_inflight_add(m, -1);
    tad_metrics_tiktok_request(m, "file/upload", 0);
    tad_metrics_tiktok_request(m, "file/upload", 0);
    tad_metrics_tiktok_request(m, "create", 40001);
    tad_metrics_tiktok_request(m, "list", -1);
    tad_metrics_tiktok_request(m, "get", 503);
    tad_metrics_aws_request(m, "sqs", "ok");
    tad_metrics_aws_request(m, "sqs", "ok");
    tad_metrics_aws_request(m, "sqs", "ok");
    tad_metrics_aws_request(m, "s3", "throttled");
    tad_metrics_aws_request(m, "a\"b\\c\nd", "ok");
    tad_metrics_aws_request(m, "", "error");
    /* a NULL registry is accepted everywhere */
    tad_metrics_messages_received(NULL, 1);
    tad_metrics_file_done(NULL, "applied", 1.0);
    tad_metrics_aws_request(NULL, "sqs", "ok");
    tad_metrics_inflight_add(NULL, 1);

    char *t = render(m);
    assert_line(t, P "messages_received_total 5");
    assert_line(t, P "messages_deleted_total 4");
    assert_line(t, P "messages_released_total 1");
    assert_line(t, P "messages_failed_over_total 2");
    assert_line(t, P "visibility_extensions_total 7");
    assert_line(t, P "rows_total{result=\"valid\"} 15");
    assert_line(t, P "rows_total{result=\"invalid\"} 2");
    assert_line(t, P "rows_total{result=\"blank\"} 1");
    assert_line(t, P "inflight_files 2");
    assert_line(t, P "tiktok_requests_total{endpoint=\"file/upload\",code=\"0\"} 2");
    assert_line(t, P "tiktok_requests_total{endpoint=\"create\",code=\"40001\"} 1");
    assert_line(t, P "tiktok_requests_total{endpoint=\"list\",code=\"network\"} 1");
    assert_line(t, P "tiktok_requests_total{endpoint=\"get\",code=\"503\"} 1");
    assert_int_equal(count_prefix(t, P "tiktok_requests_total{"), 4);
    assert_line(t, P "aws_requests_total{service=\"sqs\",outcome=\"ok\"} 3");
    assert_line(t, P "aws_requests_total{service=\"s3\",outcome=\"throttled\"} 1");
    assert_line(t, P "aws_requests_total{service=\"a\\\"b\\\\c\\nd\",outcome=\"ok\"} 1");
    assert_line(t, P "aws_requests_total{service=\"unknown\",outcome=\"error\"} 1");
    assert_int_equal(count_prefix(t, P "aws_requests_total{"), 4);
    free(t);
    tad_metrics_inflight_add(m, -4);
    t = render(m);
    assert_line(t, P "inflight_files -2");
    free(t);
    tad_metrics_free(m);
}

static void escape_label(void **state)
{
    (void)state;
    struct tad_buf b;
    tad_buf_init(&b, 0);
    assert_int_equal(tad_metrics_escape_label(&b, "plain"), TAD_OK);
    assert_int_equal(tad_metrics_escape_label(&b, "|\\|\"|\n|"), TAD_OK);
    assert_int_equal(tad_metrics_escape_label(&b, ""), TAD_OK);
    assert_string_equal(b.data, "plain|\\\\|\\\"|\\n|");
    tad_buf_release(&b);
}

static void histogram(void **state)
{
    (void)state;
    struct tad_metrics *m = NULL;
    assert_int_equal(tad_metrics_new(&m), TAD_OK);
    tad_metrics_file_done(m, "applied", 0.0625);
    tad_metrics_file_done(m, "applied", 0.5); /* on a bound: counts in le="0.5" */
    tad_metrics_file_done(m, "failed", 0.75);
    tad_metrics_file_done(m, "dry_run", 4000.0);
    tad_metrics_file_done(m, "weird_result", -1.0); /* counted, not timed */
    char *t = render(m);
    assert_line(t, P "files_total{result=\"applied\"} 2");
    assert_line(t, P "files_total{result=\"failed\"} 1");
    assert_line(t, P "files_total{result=\"dry_run\"} 1");
    assert_line(t, P "files_total{result=\"released\"} 0");
    assert_line(t, P "files_total{result=\"ignored\"} 0");
    assert_line(t, P "files_total{result=\"weird_result\"} 1");
    static const char *const want[][2] = {{"0.1", "1"},  {"0.5", "2"}, {"1", "3"},   {"2.5", "3"},
                                          {"5", "3"},    {"10", "3"},  {"30", "3"},  {"60", "3"},
                                          {"120", "3"},  {"300", "3"}, {"600", "3"}, {"1800", "3"},
                                          {"3600", "3"}, {"+Inf", "4"}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        char line[128];
        snprintf(line, sizeof(line), P "file_duration_seconds_bucket{le=\"%s\"} %s", want[i][0],
                 want[i][1]);
        assert_line(t, line);
    }
    assert_int_equal(count_prefix(t, P "file_duration_seconds_bucket{"), 14);
    /* buckets come in increasing order */
    assert_true(strstr(t, "le=\"0.1\"") < strstr(t, "le=\"0.5\""));
    assert_true(strstr(t, "le=\"3600\"") < strstr(t, "le=\"+Inf\""));
    assert_line(t, P "file_duration_seconds_sum 4001.3125");
    assert_line(t, P "file_duration_seconds_count 4");
    free(t);
    tad_metrics_free(m);
}

static void series_cap_overflows_to_other(void **state)
{
    (void)state;
    struct tad_metrics *m = NULL;
    assert_int_equal(tad_metrics_new(&m), TAD_OK);
    for (int i = 0; i < 300; i++) {
        char svc[32];
        snprintf(svc, sizeof(svc), "svc%d", i);
        tad_metrics_aws_request(m, svc, "ok");
    }
    tad_metrics_aws_request(m, "svc0", "ok");   /* existing series still counted */
    tad_metrics_aws_request(m, "svc999", "ok"); /* new one goes to other */
    /* labels longer than the limit are cut, and the cut forms share one series */
    char longv[200];
    memset(longv, 'x', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    tad_metrics_tiktok_request(m, longv, 0);
    longv[150] = 'y';
    tad_metrics_tiktok_request(m, longv, 0);

    char *t = render(m);
    assert_int_equal(count_prefix(t, P "aws_requests_total{"), TAD_METRICS_MAX_SERIES);
    assert_line(t, P "aws_requests_total{service=\"svc0\",outcome=\"ok\"} 2");
    assert_line(t, P "aws_requests_total{service=\"svc254\",outcome=\"ok\"} 1");
    assert_null(strstr(t, "service=\"svc255\""));
    assert_line(t, P "aws_requests_total{service=\"other\",outcome=\"other\"} 46");
    char line[256];
    snprintf(line, sizeof(line), P "tiktok_requests_total{endpoint=\"%.*s\",code=\"0\"} 2",
             TAD_METRICS_LABEL_MAX, longv);
    assert_line(t, line);
    free(t);

    /* files_total has 5 preset results: 250 more fit, then "other" */
    for (int i = 0; i < 260; i++) {
        char r[32];
        snprintf(r, sizeof(r), "r%d", i);
        tad_metrics_file_done(m, r, 1.0);
    }
    t = render(m);
    assert_int_equal(count_prefix(t, P "files_total{"), TAD_METRICS_MAX_SERIES);
    assert_line(t, P "files_total{result=\"r249\"} 1");
    assert_line(t, P "files_total{result=\"other\"} 10");
    assert_line(t, P "file_duration_seconds_count 260");
    free(t);
    tad_metrics_free(m);
}

#define THREADS 4
#define ITER 20000

static void *hammer(void *arg)
{
    struct tad_metrics *m = arg;
    for (int i = 0; i < ITER; i++) {
        tad_metrics_messages_received(m, 1);
        tad_metrics_inflight_add(m, 1);
        tad_metrics_aws_request(m, "sqs", (i & 1) ? "ok" : "retry");
        tad_metrics_tiktok_request(m, "create", i % 3 == 0 ? -1 : 0);
        tad_metrics_rows(m, 1, 2, 3);
        tad_metrics_file_done(m, "applied", 2.0);
        tad_metrics_inflight_add(m, -1);
    }
    return NULL;
}

static void concurrent_updates(void **state)
{
    (void)state;
    struct tad_metrics *m = NULL;
    assert_int_equal(tad_metrics_new(&m), TAD_OK);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, m), 0);
    for (int k = 0; k < 5; k++) /* scrapes while the workers run */
        free(render(m));
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    char *t = render(m);
    char line[160];
#define EXPECT(fmt, v)                                                                             \
    do {                                                                                           \
        snprintf(line, sizeof(line), fmt, (unsigned long)(v));                                     \
        assert_line(t, line);                                                                      \
    } while (0)
    EXPECT(P "messages_received_total %lu", THREADS * ITER);
    EXPECT(P "aws_requests_total{service=\"sqs\",outcome=\"ok\"} %lu", THREADS * ITER / 2);
    EXPECT(P "aws_requests_total{service=\"sqs\",outcome=\"retry\"} %lu", THREADS * ITER / 2);
    EXPECT(P "tiktok_requests_total{endpoint=\"create\",code=\"network\"} %lu",
           THREADS * ((ITER + 2) / 3));
    EXPECT(P "tiktok_requests_total{endpoint=\"create\",code=\"0\"} %lu",
           THREADS * (ITER - (ITER + 2) / 3));
    EXPECT(P "rows_total{result=\"valid\"} %lu", THREADS * ITER);
    EXPECT(P "rows_total{result=\"invalid\"} %lu", 2 * THREADS * ITER);
    EXPECT(P "rows_total{result=\"blank\"} %lu", 3 * THREADS * ITER);
    EXPECT(P "files_total{result=\"applied\"} %lu", THREADS * ITER);
    EXPECT(P "file_duration_seconds_bucket{le=\"1\"} %lu", 0);
    EXPECT(P "file_duration_seconds_bucket{le=\"2.5\"} %lu", THREADS * ITER);
    EXPECT(P "file_duration_seconds_count %lu", THREADS * ITER);
    EXPECT(P "file_duration_seconds_sum %lu", 2 * THREADS * ITER);
    EXPECT(P "inflight_files %lu", 0);
#undef EXPECT
    free(t);
    tad_metrics_free(m);
}

static void render_respects_cap(void **state)
{
    (void)state;
    struct tad_metrics *m = NULL;
    assert_int_equal(tad_metrics_new(&m), TAD_OK);
    struct tad_buf b;
    tad_buf_init(&b, 200);
    assert_int_equal(tad_buf_append_str(&b, "keep"), TAD_OK);
    assert_int_equal(tad_metrics_render(m, &b), TAD_ERR_INVALID);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "keep");
    tad_buf_release(&b);
    /* appended after existing content when it fits */
    tad_buf_init(&b, 0);
    assert_int_equal(tad_buf_append_str(&b, "keep\n"), TAD_OK);
    assert_int_equal(tad_metrics_render(m, &b), TAD_OK);
    assert_true(strncmp(b.data, "keep\n# HELP ", 12) == 0);
    tad_buf_release(&b);
    assert_int_equal(tad_metrics_render(m, NULL), TAD_ERR_INVALID);
    tad_metrics_free(m);
}

/* ---- server ------------------------------------------------------------------------------- */

struct reply {
    long status;
    struct tad_buf body;
    struct tad_buf headers;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    return tad_buf_append(ud, p, sz * n) == TAD_OK ? sz * n : 0;
}

static void fetch(unsigned port, const char *method, const char *path, struct reply *r)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
    tad_buf_init(&r->body, 0);
    tad_buf_init(&r->headers, 0);
    r->status = 0;
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(c);
    assert_int_equal(tad_buf_append_byte(&r->body, '\0'), TAD_OK); /* never NULL data */
    r->body.len--;
    assert_int_equal(tad_buf_append_byte(&r->headers, '\0'), TAD_OK);
    r->headers.len--;
}

static void reply_release(struct reply *r)
{
    tad_buf_release(&r->body);
    tad_buf_release(&r->headers);
}

static unsigned count_fds(void)
{
    unsigned n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static bool alive_fn(void *ctx)
{
    return atomic_load((atomic_bool *)ctx);
}

static void server_endpoints(void **state)
{
    (void)state;
    struct tad_metrics *m = NULL;
    assert_int_equal(tad_metrics_new(&m), TAD_OK);
    tad_metrics_messages_received(m, 42);
    atomic_bool alive;
    atomic_init(&alive, true);
    unsigned fds_before = count_fds();
    struct tad_metrics_server *s = NULL;
    struct tad_errinfo ei;
    tad_errinfo_clear(&ei);
    assert_int_equal(tad_metrics_server_start("127.0.0.1:0", m, alive_fn, &alive, &s, &ei), TAD_OK);
    unsigned port = tad_metrics_server_port(s);
    assert_true(port > 0 && port < 65536);
    struct reply r;

    fetch(port, "GET", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strcasestr(r.headers.data,
                               "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    assert_line(r.body.data, P "messages_received_total 42");
    assert_line(r.body.data, P "up 1");
    reply_release(&r);

    tad_metrics_messages_received(m, 1); /* each scrape is fresh */
    fetch(port, "GET", "/metrics?x=1", &r);
    assert_int_equal(r.status, 200);
    assert_line(r.body.data, P "messages_received_total 43");
    reply_release(&r);

    fetch(port, "HEAD", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    reply_release(&r);

    fetch(port, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "ok\n");
    reply_release(&r);

    atomic_store(&alive, false);
    fetch(port, "GET", "/healthz", &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body.data, "unavailable\n");
    reply_release(&r);

    atomic_store(&alive, true);
    fetch(port, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    reply_release(&r);

    fetch(port, "GET", "/nope", &r);
    assert_int_equal(r.status, 404);
    reply_release(&r);
    fetch(port, "GET", "/metrics/", &r);
    assert_int_equal(r.status, 404);
    reply_release(&r);

    fetch(port, "POST", "/metrics", &r);
    assert_int_equal(r.status, 405);
    assert_non_null(strcasestr(r.headers.data, "\r\nAllow: GET, HEAD\r\n"));
    reply_release(&r);
    fetch(port, "DELETE", "/healthz", &r);
    assert_int_equal(r.status, 405);
    reply_release(&r);

    /* the port is taken now: a second server fails with IO naming the address */
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
    struct tad_metrics_server *s2 = NULL;
    tad_errinfo_clear(&ei);
    assert_int_equal(tad_metrics_server_start(addr, m, NULL, NULL, &s2, &ei), TAD_ERR_IO);
    assert_null(s2);
    char want[96];
    snprintf(want, sizeof(want), "cannot listen on %s: ", addr);
    assert_non_null(strstr(ei.msg, want));
    assert_non_null(strstr(ei.msg, "in use")); /* EADDRINUSE text */

    tad_metrics_server_stop(s);
    tad_metrics_server_stop(NULL);
    assert_int_equal(count_fds(), fds_before); /* listening socket and failed bind closed */
    tad_metrics_free(m);
}

static void server_without_health_fn_and_ipv6(void **state)
{
    (void)state;
    struct tad_metrics *m = NULL;
    assert_int_equal(tad_metrics_new(&m), TAD_OK);
    /* a host name is resolved; the server binds whatever it resolves to first */
    struct tad_metrics_server *s = NULL;
    assert_int_equal(tad_metrics_server_start("localhost:0", m, NULL, NULL, &s, NULL), TAD_OK);
    assert_true(tad_metrics_server_port(s) > 0);
    tad_metrics_server_stop(s);
    s = NULL;
    assert_int_equal(tad_metrics_server_start("127.0.0.1:0", m, NULL, NULL, &s, NULL), TAD_OK);
    struct reply r;
    fetch(tad_metrics_server_port(s), "GET", "/healthz", &r);
    assert_int_equal(r.status, 200); /* no health function: alive */
    reply_release(&r);
    tad_metrics_server_stop(s);

    s = NULL;
    struct tad_errinfo ei;
    tad_errinfo_clear(&ei);
    tad_err e = tad_metrics_server_start("[::1]:0", m, NULL, NULL, &s, &ei);
    if (e == TAD_OK) {
        char url[96];
        snprintf(url, sizeof(url), "http://[::1]:%u/metrics", tad_metrics_server_port(s));
        CURL *c = curl_easy_init();
        assert_non_null(c);
        struct tad_buf body;
        tad_buf_init(&body, 0);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        assert_int_equal(status, 200);
        assert_true(body.len > 0);
        curl_easy_cleanup(c);
        tad_buf_release(&body);
        tad_metrics_server_stop(s);
    } else {
        assert_int_equal(e, TAD_ERR_IO); /* no IPv6 on this host */
    }
    tad_metrics_free(m);
}

static void bad_listen_strings(void **state)
{
    (void)state;
    struct tad_metrics *m = NULL;
    assert_int_equal(tad_metrics_new(&m), TAD_OK);
    static const char *const bad[] = {"",
                                      "nohost",
                                      "127.0.0.1",
                                      "127.0.0.1:",
                                      ":9464",
                                      "127.0.0.1:65536",
                                      "127.0.0.1:123456",
                                      "127.0.0.1:12ab",
                                      "127.0.0.1:-1",
                                      "::1:9464",
                                      "[::1]9464",
                                      "[::1",
                                      "[]:9464",
                                      "[127.0.0.1]:9464",
                                      "no-such-host.invalid:9464"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct tad_metrics_server *s = NULL;
        struct tad_errinfo ei;
        tad_errinfo_clear(&ei);
        tad_err e = tad_metrics_server_start(bad[i], m, NULL, NULL, &s, &ei);
        if (e != TAD_ERR_INVALID)
            fail_msg("'%s': got %s", bad[i], tad_err_str(e));
        assert_null(s);
        assert_true(ei.msg[0] != '\0');
    }
    struct tad_metrics_server *s = NULL;
    assert_int_equal(tad_metrics_server_start(NULL, m, NULL, NULL, &s, NULL), TAD_ERR_INVALID);
    assert_int_equal(tad_metrics_server_start("127.0.0.1:0", NULL, NULL, NULL, &s, NULL),
                     TAD_ERR_INVALID);
    assert_null(s);
    tad_metrics_free(m);
}

static int setup(void **state)
{
    (void)state;
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fresh_registry),
        cmocka_unit_test(counters_and_labels),
        cmocka_unit_test(escape_label),
        cmocka_unit_test(histogram),
        cmocka_unit_test(series_cap_overflows_to_other),
        cmocka_unit_test(concurrent_updates),
        cmocka_unit_test(render_respects_cap),
        cmocka_unit_test(server_endpoints),
        cmocka_unit_test(server_without_health_fn_and_ipv6),
        cmocka_unit_test(bad_listen_strings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
