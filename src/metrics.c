/* metrics.c - in-memory Prometheus registry of the daemon (see tad/metrics.h).
 *
 * Plain counters and the in-flight gauge are C11 atomics updated with relaxed ordering: each
 * is independent and only its total matters. The labelled families and the duration histogram
 * are protected by one mutex; their series tables are allocated in full at creation, so an
 * update never allocates and never fails. Rendering takes the mutex for the whole exposition,
 * which keeps a scrape consistent (a file counted in files_total is also in the histogram).
 */
#include "tad/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tad/version.h"

#define PREFIX "tiktok_audienced_"
#define LABEL_SZ (TAD_METRICS_LABEL_MAX + 1)
#define HASH_SLOTS 512u /* power of two, at least twice TAD_METRICS_MAX_SERIES */
#define OTHER "other"

static const double bucket_bounds[] = {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
static const char *const bucket_labels[] = {"0.1", "0.5", "1",   "2.5", "5",    "10",  "30",
                                            "60",  "120", "300", "600", "1800", "3600"};
#define NBOUNDS (sizeof(bucket_bounds) / sizeof(bucket_bounds[0]))

struct series {
    char v[2][LABEL_SZ];
    uint64_t value;
};

/* A labelled counter family with one or two labels, in insertion order. */
struct family {
    const char *name; /* without the prefix */
    const char *help;
    const char *label[2]; /* label[1] NULL for one-label families */
    struct series *s;     /* TAD_METRICS_MAX_SERIES entries */
    size_t n;
    uint16_t slot[HASH_SLOTS]; /* 0 = empty, else series index + 1 */
};

struct tad_metrics {
    _Atomic uint64_t received, deleted, released, failed_over, vis_ext;
    _Atomic uint64_t rows_valid, rows_invalid, rows_blank;
    _Atomic int64_t inflight;
    double start_time;

    pthread_mutex_t lock; /* guards everything below */
    struct family files, tiktok, aws;
    uint64_t buckets[NBOUNDS + 1]; /* per-bucket (not cumulative) counts, last = +Inf only */
    double dur_sum;
    uint64_t dur_count;
};

/* ---- families ----------------------------------------------------------------------------- */

static bool family_init(struct family *f, const char *name, const char *help, const char *l0,
                        const char *l1)
{
    f->name = name;
    f->help = help;
    f->label[0] = l0;
    f->label[1] = l1;
    f->n = 0;
    memset(f->slot, 0, sizeof(f->slot));
    f->s = calloc(TAD_METRICS_MAX_SERIES, sizeof(*f->s));
    return f->s != NULL;
}

static void copy_label(char dst[LABEL_SZ], const char *src)
{
    if (!src || !*src)
        src = "unknown";
    size_t n = strnlen(src, TAD_METRICS_LABEL_MAX);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static uint32_t hash_labels(const char *a, const char *b)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)a; *p; p++)
        h = (h ^ *p) * 16777619u;
    h = (h ^ 0xffu) * 16777619u; /* separator, so ("ab","c") differs from ("a","bc") */
    for (const unsigned char *p = (const unsigned char *)b; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

/* Call with the lock held. Returns the series for (a, b), creating it, or the "other" series
 * once the family is full. Never NULL. */
static struct series *family_get(struct family *f, const char *a, const char *b)
{
    uint32_t i = hash_labels(a, b) & (HASH_SLOTS - 1);
    for (;; i = (i + 1) & (HASH_SLOTS - 1)) {
        uint16_t k = f->slot[i];
        if (k == 0)
            break;
        struct series *s = &f->s[k - 1];
        if (strcmp(s->v[0], a) == 0 && strcmp(s->v[1], b) == 0)
            return s;
    }
    /* i is a free slot on the probe path of (a, b) */
    bool is_other = strcmp(a, OTHER) == 0 && strcmp(b, f->label[1] ? OTHER : "") == 0;
    if (f->n + 1 >= TAD_METRICS_MAX_SERIES && !is_other)
        return family_get(f, OTHER, f->label[1] ? OTHER : ""); /* keep the last slot for it */
    struct series *s = &f->s[f->n];
    copy_label(s->v[0], a);
    if (f->label[1])
        copy_label(s->v[1], b);
    else
        s->v[1][0] = '\0';
    s->value = 0;
    f->slot[i] = (uint16_t)(f->n + 1);
    f->n++;
    return s;
}

static void family_add(struct tad_metrics *m, struct family *f, const char *a, const char *b,
                       uint64_t n)
{
    /* look up with the stored (cut) form of the labels so long values map to one series */
    char ka[LABEL_SZ], kb[LABEL_SZ];
    copy_label(ka, a);
    if (f->label[1])
        copy_label(kb, b);
    else
        kb[0] = '\0';
    pthread_mutex_lock(&m->lock);
    family_get(f, ka, kb)->value += n;
    pthread_mutex_unlock(&m->lock);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

tad_err tad_metrics_new(struct tad_metrics **ret)
{
    if (!ret)
        return TAD_ERR_INVALID;
    struct tad_metrics *m = calloc(1, sizeof(*m));
    if (!m)
        return TAD_ERR_NOMEM;
    atomic_init(&m->received, 0);
    atomic_init(&m->deleted, 0);
    atomic_init(&m->released, 0);
    atomic_init(&m->failed_over, 0);
    atomic_init(&m->vis_ext, 0);
    atomic_init(&m->rows_valid, 0);
    atomic_init(&m->rows_invalid, 0);
    atomic_init(&m->rows_blank, 0);
    atomic_init(&m->inflight, 0);
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return TAD_ERR_NOMEM;
    }
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
        m->start_time = (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0;
    bool ok =
        family_init(&m->files, "files_total", "Files finished, by result.", "result", NULL) &&
        family_init(&m->tiktok, "tiktok_requests_total",
                    "TikTok API requests, by endpoint and response code.", "endpoint", "code") &&
        family_init(&m->aws, "aws_requests_total", "AWS API requests, by service and outcome.",
                    "service", "outcome");
    if (!ok) {
        tad_metrics_free(m);
        return TAD_ERR_NOMEM;
    }
    /* the usual results are shown from the start so that rate() sees them begin at 0 */
    static const char *const results[] = {"applied", "failed", "released", "ignored", "dry_run"};
    for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++)
        (void)family_get(&m->files, results[i], "");
    *ret = m;
    return TAD_OK;
}

void tad_metrics_free(struct tad_metrics *m)
{
    if (!m)
        return;
    free(m->files.s);
    free(m->tiktok.s);
    free(m->aws.s);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* ---- updates ------------------------------------------------------------------------------ */

static void add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

void tad_metrics_messages_received(struct tad_metrics *m, unsigned n)
{
    if (m)
        add(&m->received, n);
}

void tad_metrics_messages_deleted(struct tad_metrics *m, unsigned n)
{
    if (m)
        add(&m->deleted, n);
}

void tad_metrics_messages_released(struct tad_metrics *m, unsigned n)
{
    if (m)
        add(&m->released, n);
}

void tad_metrics_messages_failed_over(struct tad_metrics *m, unsigned n)
{
    if (m)
        add(&m->failed_over, n);
}

void tad_metrics_visibility_extensions(struct tad_metrics *m, unsigned n)
{
    if (m)
        add(&m->vis_ext, n);
}

void tad_metrics_rows(struct tad_metrics *m, uint64_t valid, uint64_t invalid, uint64_t blank)
{
    if (!m)
        return;
    add(&m->rows_valid, valid);
    add(&m->rows_invalid, invalid);
    add(&m->rows_blank, blank);
}

void tad_metrics_inflight_add(struct tad_metrics *m, int delta)
{
    if (m)
        atomic_fetch_add_explicit(&m->inflight, (int64_t)delta, memory_order_relaxed);
}

void tad_metrics_file_done(struct tad_metrics *m, const char *result, double seconds)
{
    if (!m)
        return;
    bool timed = seconds >= 0.0; /* negative (or NaN): counted, not timed */
    size_t b = 0;
    while (timed && b < NBOUNDS && seconds > bucket_bounds[b])
        b++;
    char key[LABEL_SZ];
    copy_label(key, result);
    pthread_mutex_lock(&m->lock);
    family_get(&m->files, key, "")->value++;
    if (timed) {
        m->buckets[b]++;
        m->dur_sum += seconds;
        m->dur_count++;
    }
    pthread_mutex_unlock(&m->lock);
}

void tad_metrics_tiktok_request(struct tad_metrics *m, const char *endpoint, long code)
{
    if (!m)
        return;
    char c[24];
    if (code == -1)
        memcpy(c, "network", sizeof("network"));
    else
        snprintf(c, sizeof(c), "%ld", code); /* always fits */
    family_add(m, &m->tiktok, endpoint, c, 1);
}

void tad_metrics_aws_request(struct tad_metrics *m, const char *service, const char *outcome)
{
    if (m)
        family_add(m, &m->aws, service, outcome, 1);
}

/* ---- rendering ---------------------------------------------------------------------------- */

tad_err tad_metrics_escape_label(struct tad_buf *out, const char *value)
{
    const char *run = value;
    const char *p = value;
    tad_err e = TAD_OK;
    for (; *p && e == TAD_OK; p++) {
        const char *rep = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        if (!rep)
            continue;
        e = tad_buf_append(out, run, (size_t)(p - run));
        if (e == TAD_OK)
            e = tad_buf_append(out, rep, 2);
        run = p + 1;
    }
    if (e == TAD_OK)
        e = tad_buf_append(out, run, (size_t)(p - run));
    return e;
}

/* Shortest of %.15g / %.17g that reads back as the same double; Prometheus spellings for
 * the special values. */
static tad_err append_double(struct tad_buf *out, double v)
{
    if (isnan(v))
        return tad_buf_append_str(out, "NaN");
    if (isinf(v))
        return tad_buf_append_str(out, v > 0 ? "+Inf" : "-Inf");
    char s[40];
    snprintf(s, sizeof(s), "%.15g", v);
    if (strtod(s, NULL) != v)
        snprintf(s, sizeof(s), "%.17g", v);
    return tad_buf_append_str(out, s);
}

static tad_err head(struct tad_buf *out, const char *name, const char *type, const char *help)
{
    return tad_buf_appendf(out, "# HELP " PREFIX "%s %s\n# TYPE " PREFIX "%s %s\n", name, help,
                           name, type);
}

static tad_err counter(struct tad_buf *out, const char *name, const char *help, uint64_t v)
{
    tad_err e = head(out, name, "counter", help);
    if (e == TAD_OK)
        e = tad_buf_appendf(out, PREFIX "%s %llu\n", name, (unsigned long long)v);
    return e;
}

static tad_err label_pair(struct tad_buf *out, const char *name, const char *value)
{
    tad_err e = tad_buf_appendf(out, "%s=\"", name);
    if (e == TAD_OK)
        e = tad_metrics_escape_label(out, value);
    if (e == TAD_OK)
        e = tad_buf_append_byte(out, '"');
    return e;
}

static tad_err render_family(struct tad_buf *out, const struct family *f)
{
    tad_err e = head(out, f->name, "counter", f->help);
    for (size_t i = 0; i < f->n && e == TAD_OK; i++) {
        const struct series *s = &f->s[i];
        e = tad_buf_appendf(out, PREFIX "%s{", f->name);
        if (e == TAD_OK)
            e = label_pair(out, f->label[0], s->v[0]);
        if (e == TAD_OK && f->label[1]) {
            e = tad_buf_append_byte(out, ',');
            if (e == TAD_OK)
                e = label_pair(out, f->label[1], s->v[1]);
        }
        if (e == TAD_OK)
            e = tad_buf_appendf(out, "} %llu\n", (unsigned long long)s->value);
    }
    return e;
}

static tad_err render_rows(struct tad_buf *out, struct tad_metrics *m)
{
    const char *name = "rows_total";
    tad_err e = head(out, name, "counter", "Rows of finished files, by result.");
    if (e == TAD_OK)
        e = tad_buf_appendf(
            out,
            PREFIX "%s{result=\"valid\"} %llu\n" PREFIX "%s{result=\"invalid\"} %llu\n" PREFIX
                   "%s{result=\"blank\"} %llu\n",
            name, (unsigned long long)atomic_load_explicit(&m->rows_valid, memory_order_relaxed),
            name, (unsigned long long)atomic_load_explicit(&m->rows_invalid, memory_order_relaxed),
            name, (unsigned long long)atomic_load_explicit(&m->rows_blank, memory_order_relaxed));
    return e;
}

/* Call with the lock held. */
static tad_err render_histogram(struct tad_buf *out, struct tad_metrics *m)
{
    const char *name = "file_duration_seconds";
    tad_err e = head(out, name, "histogram", "Time from receiving a file's message to its end.");
    uint64_t cum = 0;
    for (size_t b = 0; b <= NBOUNDS && e == TAD_OK; b++) {
        cum += m->buckets[b];
        e = tad_buf_appendf(out, PREFIX "%s_bucket{le=\"%s\"} %llu\n", name,
                            b < NBOUNDS ? bucket_labels[b] : "+Inf", (unsigned long long)cum);
    }
    if (e == TAD_OK)
        e = tad_buf_appendf(out, PREFIX "%s_sum ", name);
    if (e == TAD_OK)
        e = append_double(out, m->dur_sum);
    if (e == TAD_OK)
        e = tad_buf_appendf(out, "\n" PREFIX "%s_count %llu\n", name,
                            (unsigned long long)m->dur_count);
    return e;
}

static uint64_t load(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

tad_err tad_metrics_render(struct tad_metrics *m, struct tad_buf *out)
{
    if (!m || !out)
        return TAD_ERR_INVALID;
    size_t start = out->len;
    tad_err e = head(out, "up", "gauge", "1 while the daemon runs.");
    if (e == TAD_OK)
        e = tad_buf_append_str(out, PREFIX "up 1\n");
    if (e == TAD_OK)
        e = head(out, "build_info", "gauge", "Build of the running daemon (value 1).");
    if (e == TAD_OK)
        e = tad_buf_append_str(out, PREFIX "build_info{");
    if (e == TAD_OK)
        e = label_pair(out, "version", TAD_VERSION_STRING);
    if (e == TAD_OK)
        e = tad_buf_append_str(out, "} 1\n");
    if (e == TAD_OK)
        e = head(out, "start_time_seconds", "gauge", "Start time of the daemon, Unix seconds.");
    if (e == TAD_OK)
        e = tad_buf_append_str(out, PREFIX "start_time_seconds ");
    if (e == TAD_OK)
        e = append_double(out, m->start_time);
    if (e == TAD_OK)
        e = tad_buf_append_byte(out, '\n');
    if (e == TAD_OK)
        e = counter(out, "messages_received_total", "Queue messages received.", load(&m->received));
    if (e == TAD_OK)
        e = counter(out, "messages_deleted_total", "Queue messages deleted after handling.",
                    load(&m->deleted));
    if (e == TAD_OK)
        e = counter(out, "messages_released_total",
                    "Queue messages made visible again for a later attempt.", load(&m->released));
    if (e == TAD_OK)
        e = counter(out, "messages_failed_over_total", "Queue messages sent to the failure queue.",
                    load(&m->failed_over));
    if (e == TAD_OK)
        e = render_rows(out, m);
    if (e == TAD_OK)
        e = head(out, "inflight_files", "gauge", "Files being processed now.");
    if (e == TAD_OK)
        e = tad_buf_appendf(out, PREFIX "inflight_files %lld\n",
                            (long long)atomic_load_explicit(&m->inflight, memory_order_relaxed));
    if (e == TAD_OK)
        e = counter(out, "visibility_extensions_total", "Visibility timeout extensions.",
                    load(&m->vis_ext));
    if (e == TAD_OK) {
        pthread_mutex_lock(&m->lock);
        e = render_family(out, &m->files);
        if (e == TAD_OK)
            e = render_family(out, &m->tiktok);
        if (e == TAD_OK)
            e = render_family(out, &m->aws);
        if (e == TAD_OK)
            e = render_histogram(out, m);
        pthread_mutex_unlock(&m->lock);
    }
    if (e != TAD_OK && out->data) {
        out->len = start;
        out->data[start] = '\0';
    }
    return e;
}
