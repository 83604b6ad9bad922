/* config.h - the daemon's configuration: defaults, YAML file, environment, command line.
 *
 * Precedence (later wins): built-in defaults, the YAML file, the environment
 * (TIKTOK_AUDIENCED_<KEY PATH UPPER-CASED, '.' -> '_'>), command-line overrides. Every key is
 * one row of a table (tad_config_keys()) that drives the file reader, the environment reader,
 * validation, the printer and the reload diff.
 *
 * `routes` is a YAML list of {prefix, secret_id} maps. From the environment it is
 * TIKTOK_AUDIENCED_ROUTES="prefix=secret_id,prefix2=secret_id2": items are separated by ',',
 * each item is split at its LAST '=' (so a prefix may contain '=', e.g. "dt=2024/"; a secret id
 * given this way may contain neither ',' nor '='); spaces around items are ignored and an
 * empty value means "no routes". Environment values (and $STATE_DIRECTORY) must be valid UTF-8,
 * like the YAML file, so that tad_config_print() output always loads again.
 *
 * Threading and ownership: a struct tad_config is immutable once tad_config_load*() returns it.
 * It is shared between threads as a reference-counted snapshot: tad_config_ref() /
 * tad_config_unref() are atomic. struct tad_config_slot holds the current snapshot so that a
 * reload (SIGHUP) can swap in a new one while workers keep using the one they took.
 * All strings inside a config are owned by it.
 */
#ifndef TAD_CONFIG_H
#define TAD_CONFIG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "tad/error.h"

#define TAD_CONFIG_DEFAULT_PATH "/etc/tiktok-audienced/config.yaml"
#define TAD_CONFIG_ENV_PREFIX "TIKTOK_AUDIENCED_"
#define TAD_CONFIG_MAX_ROUTES 256
#define TAD_CONFIG_MAX_FILE_SIZE (1024 * 1024) /* a larger config file is refused */

/* One id per key, in table (and print) order. */
enum tad_config_key_id {
    TAD_CK_QUEUE_URL = 0,
    TAD_CK_REGION,
    TAD_CK_WORKERS,
    TAD_CK_RECEIVE_WAIT_SECONDS,
    TAD_CK_RECEIVE_MAX_MESSAGES,
    TAD_CK_RECEIVE_VISIBILITY_TIMEOUT,
    TAD_CK_KEY_PREFIX,
    TAD_CK_SECRET_ID,
    TAD_CK_SECRET_TTL_SECONDS,
    TAD_CK_ROUTES,
    TAD_CK_SPOOL_DIR,
    TAD_CK_TIKTOK_API_BASE,
    TAD_CK_TIKTOK_MAX_FILE_BYTES,
    TAD_CK_TIKTOK_TIMEOUT_SECONDS,
    TAD_CK_TIKTOK_MAX_REQUESTS_PER_SECOND,
    TAD_CK_RETRY_MAX_ATTEMPTS,
    TAD_CK_RETRY_BASE_DELAY_MS,
    TAD_CK_RETRY_MAX_DELAY_MS,
    TAD_CK_VALIDATION_MAX_INVALID_RATIO,
    TAD_CK_FAILURE_QUEUE_URL,
    TAD_CK_REPORT_PREFIX,
    TAD_CK_METRICS_LISTEN,
    TAD_CK_SHUTDOWN_GRACE_SECONDS,
    TAD_CK_LOG_LEVEL,
    TAD_CK_LOG_FORMAT,
    TAD_CK_DRY_RUN,
    TAD_CK__MAX
};

enum tad_config_type {
    TAD_CFG_STRING = 0, /* char *; NULL = not set (only for TAD_CFG_F_NULLABLE keys) */
    TAD_CFG_INT,        /* long, within [min, max] */
    TAD_CFG_DOUBLE,     /* double, within [dmin, dmax] */
    TAD_CFG_BOOL,       /* bool: true/false, yes/no, on/off, 1/0 */
    TAD_CFG_ENUM,       /* int: index into enum_names */
    TAD_CFG_ROUTES,     /* the routes list (struct tad_config_route array) */
};

enum tad_config_source {
    TAD_CFG_SRC_DEFAULT = 0,
    TAD_CFG_SRC_FILE,
    TAD_CFG_SRC_ENV,
    TAD_CFG_SRC_CLI,
};

/* Key flags. */
#define TAD_CFG_F_LIVE 0x01u     /* a reload applies it at once; otherwise it needs a restart */
#define TAD_CFG_F_SECRET 0x02u   /* never printed (shown as <redacted>) */
#define TAD_CFG_F_NULLABLE 0x04u /* may be unset (~ in YAML, "" in the environment) */
#define TAD_CFG_F_URL 0x08u      /* URL: any user:pass@ part is redacted when printed */

struct tad_config_key {
    enum tad_config_key_id id;
    const char *path; /* "receive.wait_seconds" */
    enum tad_config_type type;
    size_t offset; /* of the field inside struct tad_config */
    long long min, max;
    double dmin, dmax;
    const char *def;               /* default as text (parsed like any value); NULL = unset */
    const char *const *enum_names; /* NULL-terminated, for TAD_CFG_ENUM */
    unsigned flags;
    /* Extra check on a string value; returns a message ("must end with '/'") or NULL. */
    const char *(*check)(const char *value);
    const char *help; /* one line, for docs and the example file */
};

struct tad_config_route {
    char *prefix;    /* owned; non-empty */
    char *secret_id; /* owned; non-empty */
};

struct tad_config {
    atomic_uint refs; /* private: use tad_config_ref / tad_config_unref */

    char *queue_url; /* NULL = not set (required only by run) */
    char *region;    /* NULL = resolve with tad_config_region() */
    long workers;
    long receive_wait_seconds;
    long receive_max_messages;
    long receive_visibility_timeout;
    char *key_prefix; /* "" or ends with '/' */
    char *secret_id;
    long secret_ttl_seconds;
    struct tad_config_route *routes; /* nroutes entries */
    size_t nroutes;
    char *spool_dir;
    char *tiktok_api_base;
    long tiktok_max_file_bytes;
    long tiktok_timeout_seconds;
    double tiktok_max_requests_per_second;
    long retry_max_attempts;
    long retry_base_delay_ms;
    long retry_max_delay_ms;
    double validation_max_invalid_ratio;
    char *failure_queue_url; /* NULL = none */
    char *report_prefix;     /* NULL = none */
    char *metrics_listen;    /* "" = off; else host:port or [v6]:port */
    long shutdown_grace_seconds;
    int log_level;  /* enum tad_log_level */
    int log_format; /* enum tad_log_format */
    bool dry_run;

    unsigned char source[TAD_CK__MAX]; /* enum tad_config_source of each key */
};

/* Command-line overrides; a field is "not set" when NULL / -1. Strings are borrowed. */
struct tad_config_overrides {
    long workers;
    int dry_run; /* -1, 0 or 1 */
    const char *log_level;
    const char *log_format;
};

#define TAD_CONFIG_OVERRIDES_INIT                                                                  \
    {                                                                                              \
        -1, -1, NULL, NULL                                                                         \
    }

/* getenv-like lookup (the value is borrowed). NULL means the process environment. */
typedef const char *(*tad_config_getenv_fn)(const char *name);

/* The key table (static, borrowed); *n receives its length (TAD_CK__MAX). */
const struct tad_config_key *tad_config_keys(size_t *n);
/* The key with this dotted path, or NULL. */
const struct tad_config_key *tad_config_key_find(const char *path);
/* Writes the environment variable name of key (TIKTOK_AUDIENCED_RECEIVE_WAIT_SECONDS).
 * TAD_ERR_INVALID if it does not fit. */
TAD_MUST_CHECK tad_err tad_config_env_name(const struct tad_config_key *key, char *buf,
                                           size_t size);
const char *tad_config_source_name(enum tad_config_source src); /* "default", "file", ... */

/* Loads the configuration. path NULL = TAD_CONFIG_DEFAULT_PATH. When the file does not exist
 * and path_explicit is false it is skipped; a missing named file is an error (TAD_ERR_IO).
 * Errors name the file, line and key: "config.yaml:7: receive.wait_seconds: must be between
 * 0 and 20 (got 30)" (TAD_ERR_INVALID for bad values, TAD_ERR_PARSE for bad YAML). cli may be
 * NULL. *ret is new (tad_config_unref it). */
TAD_MUST_CHECK tad_err tad_config_load(const char *path, bool path_explicit,
                                       const struct tad_config_overrides *cli,
                                       struct tad_config **ret, struct tad_errinfo *err);
/* The same with an injected environment (getenv_fn NULL = process environment). */
TAD_MUST_CHECK tad_err tad_config_load_env(const char *path, bool path_explicit,
                                           const struct tad_config_overrides *cli,
                                           tad_config_getenv_fn getenv_fn, struct tad_config **ret,
                                           struct tad_errinfo *err);
/* Loads from YAML text in memory (borrowed; len bytes); name is used in messages. text NULL =
 * no file layer. */
TAD_MUST_CHECK tad_err tad_config_load_text(const char *text, size_t len, const char *name,
                                            const struct tad_config_overrides *cli,
                                            tad_config_getenv_fn getenv_fn, struct tad_config **ret,
                                            struct tad_errinfo *err);

/* Checks what only `run` needs (queue_url). */
TAD_MUST_CHECK tad_err tad_config_validate_for_run(const struct tad_config *cfg,
                                                   struct tad_errinfo *err);

/* Takes a reference; returns cfg. */
struct tad_config *tad_config_ref(struct tad_config *cfg);
/* Drops a reference; the last one frees the config. NULL is allowed. Returns NULL. */
struct tad_config *tad_config_unref(struct tad_config *cfg);

/* AWS region: cfg->region, else AWS_REGION, else AWS_DEFAULT_REGION, else taken from the queue
 * URL's host (sqs.<region>.amazonaws.com[.cn] or <region>.queue.amazonaws.com), else NULL (ask
 * IMDS). Writes it into buf (size bytes); returns buf or NULL. Pure: getenv_fn NULL = process
 * environment. */
const char *tad_config_region(const struct tad_config *cfg, tad_config_getenv_fn getenv_fn,
                              char *buf, size_t size);

/* Writes the effective configuration as YAML, every key, each with its source as a comment.
 * Secret keys print as <redacted>; user:pass@ in URLs is redacted. TAD_ERR_IO on write error. */
TAD_MUST_CHECK tad_err tad_config_print(const struct tad_config *cfg, FILE *out);

/* Calls cb once for every key whose value differs between old and new, with whether the
 * change takes effect live (true) or needs a restart (false). Returns the number of changes. */
size_t tad_config_diff_reload(const struct tad_config *old, const struct tad_config *new_cfg,
                              void (*cb)(void *ctx, const struct tad_config_key *key, bool live),
                              void *ctx);

/* The current snapshot, replaced atomically on reload. */
struct tad_config_slot {
    pthread_mutex_t lock;
    struct tad_config *cur; /* owned reference; NULL until the first swap */
};

void tad_config_slot_init(struct tad_config_slot *slot);
/* Drops the held reference. */
void tad_config_slot_release(struct tad_config_slot *slot);
/* The current snapshot: new reference (unref it), or NULL if none was ever set. */
struct tad_config *tad_config_slot_get(struct tad_config_slot *slot);
/* Installs cfg (steals the caller's reference) and drops the slot's reference to the old one. */
void tad_config_slot_swap(struct tad_config_slot *slot, struct tad_config *cfg);

#endif
