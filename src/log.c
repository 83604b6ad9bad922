/* log.c - text / JSON-lines / journald output with level gating and secret redaction.
 *
 * Ownership: the secret registry owns copies of registered values and wipes them when
 * forgotten. Threading: the registry is guarded by a mutex; level, format and output fd are
 * relaxed atomics (a reload changes them while other threads log); lines are built in a local
 * buffer and written with one write(2) (or one sd_journal_sendv) so lines never interleave.
 */
#include "tad/log.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <systemd/sd-journal.h>

#include "tad/buf.h"

_Atomic int tad_log_min_level = TAD_LOG_INFO;
static _Atomic int out_format = TAD_LOG_FMT_TEXT; /* enum tad_log_format */
static _Atomic int out_fd = 2;

#define MAX_SECRETS 64
#define MIN_SECRET_LEN 6
static pthread_mutex_t secrets_lock = PTHREAD_MUTEX_INITIALIZER;
static char *secrets[MAX_SECRETS];
static size_t nsecrets;

static const char *const field_names[TAD_F__MAX] = {
    [TAD_F_BUCKET] = "bucket",
    [TAD_F_S3_KEY] = "s3_key",
    [TAD_F_AUDIENCE] = "audience",
    [TAD_F_FORMAT] = "format",
    [TAD_F_ACTION] = "action",
    [TAD_F_MESSAGE_ID] = "message_id",
    [TAD_F_REQUEST_ID] = "request_id",
    [TAD_F_AUDIENCE_ID] = "custom_audience_id",
    [TAD_F_ROWS_TOTAL] = "rows_total",
    [TAD_F_ROWS_VALID] = "rows_valid",
    [TAD_F_ROWS_INVALID] = "rows_invalid",
    [TAD_F_PARTS] = "parts",
    [TAD_F_ATTEMPT] = "attempt",
    [TAD_F_ERROR] = "error",
    [TAD_F_SERVICE] = "service",
    [TAD_F_HTTP_STATUS] = "http_status",
    [TAD_F_CODE] = "code",
    [TAD_F_DURATION_MS] = "duration_ms",
    [TAD_F_WORKER] = "worker",
};

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *const format_names[] = {"auto", "text", "json", "journal"};

int tad_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (s && strcasecmp(s, level_names[i]) == 0)
            return i;
    if (s && strcasecmp(s, "warning") == 0)
        return TAD_LOG_WARN;
    return -1;
}

int tad_log_format_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (s && strcasecmp(s, format_names[i]) == 0)
            return i;
    return -1;
}

const char *tad_log_level_name(enum tad_log_level level)
{
    return (unsigned)level < 4 ? level_names[level] : "?";
}

const char *tad_log_format_name(enum tad_log_format format)
{
    return (unsigned)format < 4 ? format_names[format] : "?";
}

/* systemd sets JOURNAL_STREAM=dev:ino for a stderr connected to the journal. */
static int stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    if (!js)
        return 0;
    unsigned long long dev, ino;
    char *end;
    dev = strtoull(js, &end, 10);
    if (*end != ':')
        return 0;
    ino = strtoull(end + 1, &end, 10);
    struct stat st;
    if (fstat(2, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void tad_log_setup(enum tad_log_level level, enum tad_log_format format)
{
    atomic_store_explicit(&tad_log_min_level, (int)level, memory_order_relaxed);
    if (format == TAD_LOG_FMT_AUTO) {
        if (stderr_is_journal())
            format = TAD_LOG_FMT_JOURNAL;
        else if (isatty(2))
            format = TAD_LOG_FMT_TEXT;
        else
            format = TAD_LOG_FMT_JSON;
    }
    atomic_store_explicit(&out_format, (int)format, memory_order_relaxed);
}

enum tad_log_format tad_log_effective_format(void)
{
    return (enum tad_log_format)atomic_load_explicit(&out_format, memory_order_relaxed);
}

void tad_log_set_fd(int fd)
{
    atomic_store_explicit(&out_fd, fd, memory_order_relaxed);
}

void tad_log_register_secret(const char *value)
{
    if (!value || strlen(value) < MIN_SECRET_LEN)
        return;
    pthread_mutex_lock(&secrets_lock);
    for (size_t i = 0; i < nsecrets; i++)
        if (strcmp(secrets[i], value) == 0)
            goto out;
    if (nsecrets == MAX_SECRETS) { /* drop the oldest: rotated secrets age out */
        OPENSSL_cleanse(secrets[0], strlen(secrets[0]));
        free(secrets[0]);
        memmove(secrets, secrets + 1, (MAX_SECRETS - 1) * sizeof(secrets[0]));
        nsecrets--;
    }
    secrets[nsecrets] = strdup(value);
    if (secrets[nsecrets])
        nsecrets++;
out:
    pthread_mutex_unlock(&secrets_lock);
}

void tad_log_forget_secrets(void)
{
    pthread_mutex_lock(&secrets_lock);
    for (size_t i = 0; i < nsecrets; i++) {
        OPENSSL_cleanse(secrets[i], strlen(secrets[i]));
        free(secrets[i]);
        secrets[i] = NULL;
    }
    nsecrets = 0;
    pthread_mutex_unlock(&secrets_lock);
}

/* Log lines are best effort: a failed append only shortens the line. */
static void putf(struct tad_buf *b, const char *fmt, ...) TAD_PRINTF(2, 3);
static void putf(struct tad_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tad_err err = tad_buf_vappendf(b, fmt, ap); /* on failure the line keeps what fitted */
    va_end(ap);
    (void)err;
}

static void putch(struct tad_buf *b, char c)
{
    if (tad_buf_append_byte(b, c) != TAD_OK)
        return;
}

static void putstr(struct tad_buf *b, const char *s)
{
    if (tad_buf_append_str(b, s) != TAD_OK)
        return;
}

static const char redacted[] = "[REDACTED]";

/* Replaces [start, start+len) of s by the marker, shifting the tail. The marker is never
 * longer than what it replaces when len >= sizeof(redacted)-1; shorter values get '*'s. */
static void mask_span(char *s, size_t start, size_t len)
{
    size_t mlen = sizeof(redacted) - 1;
    if (len < mlen) {
        memset(s + start, '*', len);
        return;
    }
    memcpy(s + start, redacted, mlen);
    memmove(s + start + mlen, s + start + len, strlen(s + start + len) + 1);
}

static void redact_headers(char *s)
{
    static const char *const names[] = {"authorization", "access-token", "x-amz-security-token",
                                        "x-aws-ec2-metadata-token", "aws_secret_access_key"};
    for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
        size_t nl = strlen(names[n]);
        for (char *p = s; (p = strcasestr(p, names[n])) != NULL;) {
            char *v = p + nl;
            while (*v == ' ' || *v == '\t' || *v == '"')
                v++;
            if (*v != ':' && *v != '=') {
                p += nl;
                continue;
            }
            /* "Name: value" runs to the end of the line; "name=value" (query, JSON-ish) to
             * the next separator. */
            const char *stop = *v == ':' ? "\r\n\"" : "\r\n\",& ";
            v++;
            while (*v == ' ' || *v == '\t' || *v == '"')
                v++;
            size_t len = strcspn(v, stop);
            if (len && strncmp(v, redacted, sizeof(redacted) - 1) != 0)
                mask_span(s, (size_t)(v - s), len);
            p = v;
        }
    }
}

void tad_log_redact(char *s)
{
    redact_headers(s);
    pthread_mutex_lock(&secrets_lock);
    for (size_t i = 0; i < nsecrets; i++) {
        size_t sl = strlen(secrets[i]);
        for (char *p = s; (p = strstr(p, secrets[i])) != NULL;) {
            mask_span(s, (size_t)(p - s), sl);
            p += sl < sizeof(redacted) - 1 ? sl : sizeof(redacted) - 1;
        }
    }
    pthread_mutex_unlock(&secrets_lock);
}

static void json_escape(struct tad_buf *b, const char *s)
{
    tad_err err = TAD_OK;
    for (const unsigned char *p = (const unsigned char *)s; *p && !err; p++) {
        if (*p == '"' || *p == '\\')
            err = tad_buf_appendf(b, "\\%c", *p);
        else if (*p < 0x20)
            err = tad_buf_appendf(b, "\\u%04x", *p);
        else
            err = tad_buf_append_byte(b, (char)*p);
    }
}

/* Text values with spaces or quotes are quoted so lines stay machine-splittable. */
static void text_value(struct tad_buf *b, const char *s)
{
    if (*s && !strpbrk(s, " \t\"=\n")) {
        putstr(b, s);
        return;
    }
    putch(b, '"');
    json_escape(b, s);
    putch(b, '"');
}

static void timestamp(char *out, size_t outsz)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, outsz, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, outsz - n, ".%03dZ", (int)(ts.tv_nsec / 1000000) % 1000);
}

static void write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

static void emit_journal(enum tad_log_level level, const struct tad_log_kv *kv, size_t nkv,
                         const char *msg)
{
    static const int prio[] = {7, 6, 4, 3};
    struct iovec iov[TAD_F__MAX + 3];
    struct tad_buf parts[TAD_F__MAX + 3];
    size_t n = 0;
    if (nkv > TAD_F__MAX)
        nkv = TAD_F__MAX;
    for (size_t i = 0; i < nkv + 2; i++)
        tad_buf_init(&parts[i], 0);
    putf(&parts[n++], "MESSAGE=%s", msg);
    putf(&parts[n++], "PRIORITY=%d", prio[level]);
    for (size_t i = 0; i < nkv; i++) {
        if ((unsigned)kv[i].field >= TAD_F__MAX)
            continue;
        struct tad_buf *b = &parts[n++];
        for (const char *f = field_names[kv[i].field]; *f; f++)
            putch(b, (char)toupper((unsigned char)*f));
        if (kv[i].str)
            putf(b, "=%s", kv[i].str);
        else
            putf(b, "=%lld", kv[i].num);
        if (b->data)
            tad_log_redact(b->data);
    }
    size_t niov = 0;
    for (size_t i = 0; i < n; i++) {
        if (!parts[i].data)
            continue;
        iov[niov].iov_base = parts[i].data;
        iov[niov].iov_len = strlen(parts[i].data);
        niov++;
    }
    sd_journal_sendv(iov, (int)niov);
    for (size_t i = 0; i < n; i++)
        tad_buf_release(&parts[i]);
}

void tad_log_write(enum tad_log_level level, const struct tad_log_kv *kv, size_t nkv,
                   const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    tad_log_redact(msg);
    if ((unsigned)level > TAD_LOG_ERROR)
        level = TAD_LOG_ERROR;

    /* one snapshot per line: a reload may change the format meanwhile */
    int format = atomic_load_explicit(&out_format, memory_order_relaxed);
    if (format == TAD_LOG_FMT_JOURNAL) {
        emit_journal(level, kv, nkv, msg);
        return;
    }

    char ts[40];
    timestamp(ts, sizeof(ts));
    struct tad_buf b;
    tad_buf_init(&b, 0);
    int json = format == TAD_LOG_FMT_JSON;
    if (json) {
        putf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts, level_names[level]);
        json_escape(&b, msg);
        putch(&b, '"');
    } else {
        putf(&b, "%s %-5s %s", ts, level_names[level], msg);
    }
    for (size_t i = 0; i < nkv; i++) {
        if ((unsigned)kv[i].field >= TAD_F__MAX)
            continue;
        const char *name = field_names[kv[i].field];
        if (json) {
            putf(&b, ",\"%s\":", name);
            if (kv[i].str) {
                putch(&b, '"');
                json_escape(&b, kv[i].str);
                putch(&b, '"');
            } else {
                putf(&b, "%lld", kv[i].num);
            }
        } else {
            putf(&b, " %s=", name);
            if (kv[i].str)
                text_value(&b, kv[i].str);
            else
                putf(&b, "%lld", kv[i].num);
        }
    }
    if (json)
        putch(&b, '}');
    putch(&b, '\n');
    if (b.data) {
        tad_log_redact(b.data);
        write_all(atomic_load_explicit(&out_fd, memory_order_relaxed), b.data, strlen(b.data));
    }
    tad_buf_release(&b);
}
