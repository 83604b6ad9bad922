/* log.h - levelled, structured logging to text, JSON lines or the systemd journal.
 *
 * The level is checked before anything is formatted. Structured fields come from a fixed
 * enum of names that can never hold a secret (there is no "token" field), and every line is
 * passed through the secret registry: any value registered with tad_log_register_secret()
 * (access tokens, AWS secret keys, session tokens) is replaced by "[REDACTED]" wherever it
 * appears, as are the values of Authorization / Access-Token / X-Amz-Security-Token headers.
 * Library modules log at debug level at most; the daemon's top level logs failures once.
 * Thread-safe: each line is written with a single write(2).
 */
#ifndef TAD_LOG_H
#define TAD_LOG_H

#include <stdatomic.h>
#include <stddef.h>

#include "tad/error.h"

enum tad_log_level { TAD_LOG_DEBUG = 0, TAD_LOG_INFO, TAD_LOG_WARN, TAD_LOG_ERROR };
enum tad_log_format {
    TAD_LOG_FMT_AUTO = 0,
    TAD_LOG_FMT_TEXT,
    TAD_LOG_FMT_JSON,
    TAD_LOG_FMT_JOURNAL
};

/* Field names are fixed: the journal gets the upper-case name (S3_KEY=...), JSON and text the
 * lower-case one (s3_key). */
enum tad_log_field {
    TAD_F_BUCKET = 0,
    TAD_F_S3_KEY,
    TAD_F_AUDIENCE,
    TAD_F_FORMAT,
    TAD_F_ACTION,
    TAD_F_MESSAGE_ID,
    TAD_F_REQUEST_ID,
    TAD_F_AUDIENCE_ID,
    TAD_F_ROWS_TOTAL,
    TAD_F_ROWS_VALID,
    TAD_F_ROWS_INVALID,
    TAD_F_PARTS,
    TAD_F_ATTEMPT,
    TAD_F_ERROR,
    TAD_F_SERVICE,
    TAD_F_HTTP_STATUS,
    TAD_F_CODE,
    TAD_F_DURATION_MS,
    TAD_F_WORKER,
    TAD_F__MAX
};

struct tad_log_kv {
    enum tad_log_field field;
    const char *str; /* borrowed; used when non-NULL */
    long long num;   /* used when str is NULL */
};

#define TAD_KV_S(f, s) ((struct tad_log_kv){(f), (s) ? (s) : "", 0})
#define TAD_KV_N(f, n) ((struct tad_log_kv){(f), NULL, (long long)(n)})

/* Read with relaxed atomic loads: set at start and by a reload while other threads log. */
extern _Atomic int tad_log_min_level;

/* Chooses level and format. AUTO picks the journal when stderr is connected to it
 * (JOURNAL_STREAM), text on a TTY, JSON lines otherwise. */
void tad_log_setup(enum tad_log_level level, enum tad_log_format format);
enum tad_log_format tad_log_effective_format(void);

/* Parse "debug|info|warn|error" and "auto|text|json|journal"; -1 if unknown. */
int tad_log_level_parse(const char *s);
int tad_log_format_parse(const char *s);
const char *tad_log_level_name(enum tad_log_level level);
const char *tad_log_format_name(enum tad_log_format format);

/* Remember a secret value (copied) so that it is masked in every later log line. Values shorter
 * than 6 bytes are ignored (too likely to mask ordinary words). */
void tad_log_register_secret(const char *value);
/* Forget every registered secret (wiped). */
void tad_log_forget_secrets(void);

/* Masks registered secrets and sensitive header values in s (in place, same length or shorter).
 * Exposed for the HTTP trace and tests. */
void tad_log_redact(char *s);

/* Writes one line. Use the macros, which check the level first. */
void tad_log_write(enum tad_log_level level, const struct tad_log_kv *kv, size_t nkv,
                   const char *fmt, ...) TAD_PRINTF(4, 5);

/* Where lines go in text/JSON mode (default stderr); tests point it at a pipe or file. */
void tad_log_set_fd(int fd);

#define TAD_LOG_(lvl, kv, nkv, ...)                                                                \
    do {                                                                                           \
        if ((int)(lvl) >= atomic_load_explicit(&tad_log_min_level, memory_order_relaxed))          \
            tad_log_write((lvl), (kv), (nkv), __VA_ARGS__);                                        \
    } while (0)

#define log_debug(...) TAD_LOG_(TAD_LOG_DEBUG, NULL, 0, __VA_ARGS__)
#define log_info(...) TAD_LOG_(TAD_LOG_INFO, NULL, 0, __VA_ARGS__)
#define log_warn(...) TAD_LOG_(TAD_LOG_WARN, NULL, 0, __VA_ARGS__)
#define log_error(...) TAD_LOG_(TAD_LOG_ERROR, NULL, 0, __VA_ARGS__)

/* With fields: log_kv(TAD_LOG_INFO, ((struct tad_log_kv[]){TAD_KV_S(TAD_F_S3_KEY, k)}), 1, "..."); */
#define log_kv(lvl, kv, nkv, ...) TAD_LOG_(lvl, kv, nkv, __VA_ARGS__)

#endif
