/* config.c - table-driven configuration: defaults, YAML file (libyaml), environment, command
 * line; validation with file/line/key in every message; printer; reload diff; snapshot slot.
 *
 * One row of `keys` per key gives its path, type, bounds, default, flags and extra check.
 * Every layer (default text, YAML scalar, environment string, command-line value) goes through
 * the same set_value(), so a value is validated the same way whatever its source, and the error
 * names where it came from ("config.yaml:7", "$TIKTOK_AUDIENCED_WORKERS", "--workers").
 *
 * Threading: loading builds a private object; once returned it is never modified. Reference
 * counts are atomic; the slot swaps snapshots under a mutex. Nothing here logs.
 */
#include "tad/config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "tad/buf.h"
#include "tad/log.h"

_Static_assert(TAD_LOG_DEBUG == 0 && TAD_LOG_INFO == 1 && TAD_LOG_WARN == 2 && TAD_LOG_ERROR == 3,
               "log.level names follow enum tad_log_level");
_Static_assert(TAD_LOG_FMT_AUTO == 0 && TAD_LOG_FMT_TEXT == 1 && TAD_LOG_FMT_JSON == 2 &&
                   TAD_LOG_FMT_JOURNAL == 3,
               "log.format names follow enum tad_log_format");

#define WHERE_MAX 96
#define PROBLEM_MAX 160

/* ---- extra checks on string values ------------------------------------------------------ */

/* Splits an http(s) URL: host (without userinfo and port) into host/hostlen. Returns a
 * problem message or NULL. */
static const char *url_host(const char *url, const char **host, size_t *hostlen, bool *https)
{
    const char *p;
    if (strncasecmp(url, "https://", 8) == 0) {
        *https = true;
        p = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        *https = false;
        p = url + 7;
    } else {
        return "must be an http:// or https:// URL";
    }
    size_t authlen = strcspn(p, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < authlen; i++)
        if (p[i] == '@')
            at = p + i;
    const char *h = at ? at + 1 : p;
    const char *end = p + authlen;
    const char *hend;
    if (h < end && *h == '[') {
        hend = memchr(h, ']', (size_t)(end - h));
        if (!hend)
            return "has an unterminated [IPv6] host";
        hend++;
    } else {
        hend = h;
        while (hend < end && *hend != ':')
            hend++;
    }
    if (hend == h || (hend - h == 2 && h[0] == '['))
        return "has no host";
    for (const char *c = h; c < end; c++)
        if (*c == ' ' || *c == '\t' || (unsigned char)*c < 0x20)
            return "must not contain spaces or control characters";
    *host = h;
    *hostlen = (size_t)(hend - h);
    return NULL;
}

static const char *check_url(const char *v)
{
    const char *host;
    size_t hostlen;
    bool https;
    return url_host(v, &host, &hostlen, &https);
}

static bool host_is_loopback(const char *h, size_t n)
{
    if (n == 9 && strncasecmp(h, "localhost", 9) == 0)
        return true;
    if (n == 5 && memcmp(h, "[::1]", 5) == 0)
        return true;
    if (n > 4 && memcmp(h, "127.", 4) == 0) {
        for (size_t i = 4; i < n; i++)
            if (!(h[i] == '.' || (h[i] >= '0' && h[i] <= '9')))
                return false;
        return true;
    }
    return false;
}

static const char *check_api_base(const char *v)
{
    const char *host;
    size_t hostlen;
    bool https;
    const char *problem = url_host(v, &host, &hostlen, &https);
    if (problem)
        return problem;
    if (!https && !host_is_loopback(host, hostlen))
        return "must be an https:// URL (http:// only for a loopback host)";
    return NULL;
}

static const char *check_nonempty(const char *v)
{
    return *v ? NULL : "must not be empty";
}

static const char *check_key_prefix(const char *v)
{
    size_t n = strlen(v);
    if (n > 0 && v[n - 1] != '/')
        return "must be empty or end with '/'";
    if (n > 0 && v[0] == '/')
        return "must not start with '/' (S3 keys have no leading slash)";
    return NULL;
}

static const char *check_region(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 32)
        return "must be an AWS region name such as us-east-1";
    for (size_t i = 0; i < n; i++)
        if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '-'))
            return "must be an AWS region name such as us-east-1";
    return NULL;
}

static bool parse_port(const char *s)
{
    if (*s == '\0' || strlen(s) > 5)
        return false;
    long port = 0;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
        port = port * 10 + (*c - '0');
    }
    return port >= 1 && port <= 65535;
}

static const char *check_listen(const char *v)
{
    static const char msg[] = "must be empty (off), host:port or [ipv6]:port";
    if (*v == '\0')
        return NULL;
    const char *colon;
    if (*v == '[') {
        const char *close = strchr(v, ']');
        if (!close || close == v + 1 || close[1] != ':')
            return msg;
        for (const char *c = v + 1; c < close; c++)
            if (!(*c == ':' || *c == '.' || (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') ||
                  (*c >= 'A' && *c <= 'F')))
                return msg;
        colon = close + 1;
    } else {
        colon = strrchr(v, ':');
        if (!colon || colon == v)
            return msg;
        for (const char *c = v; c < colon; c++)
            if (!(*c == '.' || *c == '-' || (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
                  (*c >= 'A' && *c <= 'Z')))
                return msg;
    }
    if (!parse_port(colon + 1))
        return "port must be between 1 and 65535";
    return NULL;
}

/* ---- the key table ---------------------------------------------------------------------- */

static const char *const level_names[] = {"debug", "info", "warn", "error", NULL};
static const char *const format_names[] = {"auto", "text", "json", "journal", NULL};

#define OFF(field) offsetof(struct tad_config, field)
#define LIVE TAD_CFG_F_LIVE
#define NUL TAD_CFG_F_NULLABLE
#define URL TAD_CFG_F_URL

#define K_STR(id_, path_, field_, def_, flags_, check_, help_)                                     \
    [id_] = {id_, path_, TAD_CFG_STRING, OFF(field_), 0, 0, 0, 0, def_, NULL, flags_, check_, help_}
#define K_INT(id_, path_, field_, lo_, hi_, def_, flags_, help_)                                   \
    [id_] = {id_, path_, TAD_CFG_INT, OFF(field_), lo_, hi_, 0, 0, def_, NULL, flags_, NULL, help_}
#define K_DBL(id_, path_, field_, lo_, hi_, def_, flags_, help_)                                   \
    [id_] = {id_, path_, TAD_CFG_DOUBLE, OFF(field_), 0,    0,    lo_,                             \
             hi_, def_,  NULL,           flags_,      NULL, help_}
#define K_ENUM(id_, path_, field_, names_, def_, flags_, help_)                                    \
    [id_] = {id_, path_, TAD_CFG_ENUM, OFF(field_), 0, 0, 0, 0, def_, names_, flags_, NULL, help_}

static const struct tad_config_key keys[TAD_CK__MAX] = {
    K_STR(TAD_CK_QUEUE_URL, "queue_url", queue_url, NULL, NUL | URL, check_url,
          "SQS queue URL (required by run)"),
    K_STR(TAD_CK_REGION, "region", region, NULL, NUL, check_region,
          "AWS region; unset: AWS_REGION, AWS_DEFAULT_REGION, the queue URL's host, then IMDS"),
    K_INT(TAD_CK_WORKERS, "workers", workers, 1, 256, "4", 0, "files processed at once"),
    K_INT(TAD_CK_RECEIVE_WAIT_SECONDS, "receive.wait_seconds", receive_wait_seconds, 0, 20, "20",
          LIVE, "long-poll wait (0-20)"),
    K_INT(TAD_CK_RECEIVE_MAX_MESSAGES, "receive.max_messages", receive_max_messages, 1, 10, "10",
          LIVE, "messages per ReceiveMessage (1-10; never more than free workers)"),
    K_INT(TAD_CK_RECEIVE_VISIBILITY_TIMEOUT, "receive.visibility_timeout",
          receive_visibility_timeout, 0, 43200, "120", LIVE,
          "seconds; extended while a file is being worked on"),
    K_STR(TAD_CK_KEY_PREFIX, "key_prefix", key_prefix, "tiktok/", LIVE, check_key_prefix,
          "objects outside this prefix are ignored"),
    K_STR(TAD_CK_SECRET_ID, "secret_id", secret_id, "tiktok_activation_credentials", LIVE,
          check_nonempty, "Secrets Manager secret with ACCESS_TOKEN and ADVERTISER_ID"),
    K_INT(TAD_CK_SECRET_TTL_SECONDS, "secret_ttl_seconds", secret_ttl_seconds, 0, 86400, "300",
          LIVE, "secret cache lifetime in seconds"),
    [TAD_CK_ROUTES] = {TAD_CK_ROUTES, "routes", TAD_CFG_ROUTES, OFF(routes), 0, 0, 0, 0, NULL, NULL,
                       LIVE, NULL,
                       "list of {prefix, secret_id}: objects under prefix use that secret"},
    K_STR(TAD_CK_SPOOL_DIR, "spool_dir", spool_dir, NULL, 0, check_nonempty,
          "where part files are written; default $STATE_DIRECTORY, else /var/tmp"),
    K_STR(TAD_CK_TIKTOK_API_BASE, "tiktok.api_base", tiktok_api_base,
          "https://business-api.tiktok.com/open_api/v1.3", URL, check_api_base,
          "TikTok Business API base URL (https; http only for a loopback host)"),
    K_INT(TAD_CK_TIKTOK_MAX_FILE_BYTES, "tiktok.max_file_bytes", tiktok_max_file_bytes, 256,
          52428800, "52428800", 0, "largest part uploaded; bigger inputs are split"),
    K_INT(TAD_CK_TIKTOK_TIMEOUT_SECONDS, "tiktok.timeout_seconds", tiktok_timeout_seconds, 1, 3600,
          "300", 0, "per-request timeout in seconds"),
    K_DBL(TAD_CK_TIKTOK_MAX_REQUESTS_PER_SECOND, "tiktok.max_requests_per_second",
          tiktok_max_requests_per_second, 0.01, 10000.0, "10", LIVE,
          "client-side rate limit shared by all workers"),
    K_INT(TAD_CK_RETRY_MAX_ATTEMPTS, "retry.max_attempts", retry_max_attempts, 1, 100, "5", 0,
          "attempts per call before the message is released"),
    K_INT(TAD_CK_RETRY_BASE_DELAY_MS, "retry.base_delay_ms", retry_base_delay_ms, 1, 3600000, "500",
          0, "first backoff ceiling in milliseconds"),
    K_INT(TAD_CK_RETRY_MAX_DELAY_MS, "retry.max_delay_ms", retry_max_delay_ms, 1, 3600000, "60000",
          0, "largest backoff in milliseconds"),
    K_DBL(TAD_CK_VALIDATION_MAX_INVALID_RATIO, "validation.max_invalid_ratio",
          validation_max_invalid_ratio, 0.0, 1.0, "0.01", LIVE,
          "share of invalid rows above which a file is rejected (0-1)"),
    K_STR(TAD_CK_FAILURE_QUEUE_URL, "failure_queue_url", failure_queue_url, NULL, NUL | URL | LIVE,
          check_url, "SQS queue for permanent failures; unset: none"),
    K_STR(TAD_CK_REPORT_PREFIX, "report_prefix", report_prefix, NULL, NUL | LIVE, NULL,
          "if set, a JSON report per file goes to s3://<bucket>/<report_prefix><key>.json"),
    K_STR(TAD_CK_METRICS_LISTEN, "metrics.listen", metrics_listen, "127.0.0.1:9464", 0,
          check_listen, "address of /metrics and /healthz; empty = off"),
    K_INT(TAD_CK_SHUTDOWN_GRACE_SECONDS, "shutdown_grace_seconds", shutdown_grace_seconds, 0, 3600,
          "30", 0, "time in-flight files get after SIGTERM"),
    K_ENUM(TAD_CK_LOG_LEVEL, "log.level", log_level, level_names, "info", LIVE,
           "debug, info, warn or error"),
    K_ENUM(TAD_CK_LOG_FORMAT, "log.format", log_format, format_names, "auto", LIVE,
           "auto (journal under systemd, text on a TTY, else JSON lines), text, json, journal"),
    [TAD_CK_DRY_RUN] = {TAD_CK_DRY_RUN, "dry_run", TAD_CFG_BOOL, OFF(dry_run), 0, 0, 0, 0, "false",
                        NULL, 0, NULL, "do everything except the calls that change TikTok"},
};

#undef LIVE
#undef NUL
#undef URL

const struct tad_config_key *tad_config_keys(size_t *n)
{
    if (n)
        *n = TAD_CK__MAX;
    return keys;
}

const struct tad_config_key *tad_config_key_find(const char *path)
{
    for (size_t i = 0; i < TAD_CK__MAX; i++)
        if (strcmp(keys[i].path, path) == 0)
            return &keys[i];
    return NULL;
}

tad_err tad_config_env_name(const struct tad_config_key *key, char *buf, size_t size)
{
    size_t plen = sizeof(TAD_CONFIG_ENV_PREFIX) - 1;
    size_t klen = strlen(key->path);
    if (plen + klen + 1 > size)
        return TAD_ERR_INVALID;
    memcpy(buf, TAD_CONFIG_ENV_PREFIX, plen);
    for (size_t i = 0; i < klen; i++) {
        char c = key->path[i];
        if (c == '.')
            c = '_';
        else if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        buf[plen + i] = c;
    }
    buf[plen + klen] = '\0';
    return TAD_OK;
}

const char *tad_config_source_name(enum tad_config_source src)
{
    switch (src) {
    case TAD_CFG_SRC_DEFAULT:
        return "default";
    case TAD_CFG_SRC_FILE:
        return "file";
    case TAD_CFG_SRC_ENV:
        return "env";
    case TAD_CFG_SRC_CLI:
        return "cli";
    }
    return "?";
}

/* ---- object lifetime -------------------------------------------------------------------- */

#define FIELD(cfg, k, type) ((type *)(void *)((char *)(cfg) + (k)->offset))
#define CFIELD(cfg, k, type) ((const type *)(const void *)((const char *)(cfg) + (k)->offset))

static void routes_free(struct tad_config_route *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].prefix);
        free(r[i].secret_id);
    }
    free(r);
}

static void config_free(struct tad_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < TAD_CK__MAX; i++)
        if (keys[i].type == TAD_CFG_STRING)
            free(*FIELD(cfg, &keys[i], char *));
    routes_free(cfg->routes, cfg->nroutes);
    free(cfg);
}

struct tad_config *tad_config_ref(struct tad_config *cfg)
{
    if (cfg)
        atomic_fetch_add_explicit(&cfg->refs, 1, memory_order_relaxed);
    return cfg;
}

struct tad_config *tad_config_unref(struct tad_config *cfg)
{
    if (cfg && atomic_fetch_sub_explicit(&cfg->refs, 1, memory_order_acq_rel) == 1)
        config_free(cfg);
    return NULL;
}

/* ---- setting one value ------------------------------------------------------------------ */

struct loader {
    struct tad_config *cfg;
    const char *name; /* file name for messages */
    tad_config_getenv_fn getenv_fn;
    char where[TAD_CK__MAX][WHERE_MAX]; /* where each key's value came from, for messages */
    struct tad_errinfo *err;
};

/* Quotes a value for a message: at most 40 bytes, non-printable bytes as '?'. */
static void quote_value(char *out, size_t size, const char *v)
{
    size_t o = 0;
    if (size < 8)
        return;
    out[o++] = '"';
    /* cppcheck-suppress arrayIndexOutOfBoundsCond ; v is a NUL-terminated string */
    for (size_t i = 0; v[i] && o + 5 < size; i++) {
        if (i == 40) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        unsigned char c = (unsigned char)v[i];
        out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    out[o++] = '"';
    out[o] = '\0';
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool parse_ll(const char *s, long long *out)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (*p < '0' || *p > '9')
        return false;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || !end || *end != '\0')
        return false;
    *out = v;
    return true;
}

static bool parse_double(const char *s, double *out)
{
    if (*s == '\0' || *s == ' ' || *s == '\t')
        return false;
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (errno != 0 || !end || *end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static void format_double(char *buf, size_t size, double d)
{
    int n = snprintf(buf, size, "%.15g", d);
    double back;
    if (n > 0 && (size_t)n < size && parse_double(buf, &back) && back == d)
        return;
    n = snprintf(buf, size, "%.17g", d);
    if (n < 0 || (size_t)n >= size)
        buf[0] = '\0';
}

/* Applies text (NULL = explicit null) to key k of cfg. On failure fills *problem. */
static tad_err apply_scalar(struct tad_config *cfg, const struct tad_config_key *k,
                            const char *text, char *problem, size_t psize)
{
    char shown[64];
    quote_value(shown, sizeof(shown), text ? text : "null");
    if (k->flags & TAD_CFG_F_SECRET)
        snprintf(shown, sizeof(shown), "<redacted>");

    switch (k->type) {
    case TAD_CFG_STRING: {
        if (text && strlen(text) == 0 && (k->flags & TAD_CFG_F_NULLABLE))
            text = NULL;
        if (!text) {
            if (!(k->flags & TAD_CFG_F_NULLABLE)) {
                snprintf(problem, psize, "must be set");
                return TAD_ERR_INVALID;
            }
        } else if (k->check) {
            const char *why = k->check(text);
            if (why) {
                if (k->flags & (TAD_CFG_F_URL | TAD_CFG_F_SECRET))
                    snprintf(problem, psize, "%s", why);
                else
                    snprintf(problem, psize, "%s (got %s)", why, shown);
                return TAD_ERR_INVALID;
            }
        }
        char *copy = NULL;
        if (text) {
            copy = strdup(text);
            if (!copy)
                return TAD_ERR_NOMEM;
        }
        char **slot = FIELD(cfg, k, char *);
        free(*slot);
        *slot = copy;
        return TAD_OK;
    }
    case TAD_CFG_INT: {
        long long v;
        if (!text || !parse_ll(text, &v)) {
            snprintf(problem, psize, "must be an integer (got %s)", shown);
            return TAD_ERR_INVALID;
        }
        if (v < k->min || v > k->max) {
            snprintf(problem, psize, "must be between %lld and %lld (got %lld)", k->min, k->max, v);
            return TAD_ERR_INVALID;
        }
        *FIELD(cfg, k, long) = (long)v;
        return TAD_OK;
    }
    case TAD_CFG_DOUBLE: {
        double v;
        if (!text || !parse_double(text, &v)) {
            snprintf(problem, psize, "must be a number (got %s)", shown);
            return TAD_ERR_INVALID;
        }
        if (v < k->dmin || v > k->dmax) {
            char lo[32], hi[32];
            format_double(lo, sizeof(lo), k->dmin);
            format_double(hi, sizeof(hi), k->dmax);
            snprintf(problem, psize, "must be between %s and %s (got %s)", lo, hi, text);
            return TAD_ERR_INVALID;
        }
        *FIELD(cfg, k, double) = v;
        return TAD_OK;
    }
    case TAD_CFG_BOOL: {
        bool v;
        if (!text || !parse_bool(text, &v)) {
            snprintf(problem, psize, "must be true or false (got %s)", shown);
            return TAD_ERR_INVALID;
        }
        *FIELD(cfg, k, bool) = v;
        return TAD_OK;
    }
    case TAD_CFG_ENUM: {
        for (int i = 0; text && k->enum_names[i]; i++) {
            if (strcasecmp(text, k->enum_names[i]) == 0) {
                *FIELD(cfg, k, int) = i;
                return TAD_OK;
            }
        }
        struct tad_buf names = TAD_BUF_INIT;
        for (int i = 0; k->enum_names[i]; i++)
            if (tad_buf_appendf(&names, "%s%s", i ? ", " : "", k->enum_names[i]) != TAD_OK)
                break;
        snprintf(problem, psize, "must be one of %s (got %s)", names.data ? names.data : "", shown);
        tad_buf_release(&names);
        return TAD_ERR_INVALID;
    }
    case TAD_CFG_ROUTES:
        break;
    }
    snprintf(problem, psize, "is not a scalar key");
    return TAD_ERR_INVALID;
}

/* Sets key k from text, recording its source; errors read "<where>: <path>: <problem>". */
static tad_err set_value(struct loader *ld, const struct tad_config_key *k, const char *text,
                         enum tad_config_source src, const char *where)
{
    char problem[PROBLEM_MAX];
    problem[0] = '\0';
    tad_err e = apply_scalar(ld->cfg, k, text, problem, sizeof(problem));
    if (e == TAD_ERR_NOMEM)
        return tad_errinfo_set(ld->err, e, "%s: %s: out of memory", where, k->path);
    if (e != TAD_OK)
        return tad_errinfo_set(ld->err, e, "%s: %s: %s", where, k->path, problem);
    ld->cfg->source[k->id] = (unsigned char)src;
    snprintf(ld->where[k->id], WHERE_MAX, "%s", where);
    return TAD_OK;
}

/* ---- routes ----------------------------------------------------------------------------- */

struct route_list {
    struct tad_config_route *v;
    size_t n;
};

static tad_err route_add(struct route_list *rl, const char *prefix, size_t plen, const char *secret,
                         size_t slen)
{
    if (rl->n >= TAD_CONFIG_MAX_ROUTES)
        return TAD_ERR_INVALID;
    struct tad_config_route *nv = realloc(rl->v, (rl->n + 1) * sizeof(*nv));
    if (!nv)
        return TAD_ERR_NOMEM;
    rl->v = nv;
    char *p = strndup(prefix, plen);
    char *s = strndup(secret, slen);
    if (!p || !s) {
        free(p);
        free(s);
        return TAD_ERR_NOMEM;
    }
    rl->v[rl->n].prefix = p;
    rl->v[rl->n].secret_id = s;
    rl->n++;
    return TAD_OK;
}

/* Checks route i of rl; returns a problem or NULL. */
static const char *route_problem(const struct route_list *rl, size_t i, bool *on_prefix)
{
    *on_prefix = true;
    if (rl->v[i].prefix[0] == '\0')
        return "must not be empty";
    for (size_t j = 0; j < i; j++)
        if (strcmp(rl->v[j].prefix, rl->v[i].prefix) == 0)
            return "duplicate route prefix";
    *on_prefix = false;
    if (rl->v[i].secret_id[0] == '\0')
        return "must not be empty";
    return NULL;
}

static void install_routes(struct loader *ld, struct route_list *rl, enum tad_config_source src,
                           const char *where)
{
    routes_free(ld->cfg->routes, ld->cfg->nroutes);
    ld->cfg->routes = rl->v;
    ld->cfg->nroutes = rl->n;
    rl->v = NULL;
    rl->n = 0;
    ld->cfg->source[TAD_CK_ROUTES] = (unsigned char)src;
    snprintf(ld->where[TAD_CK_ROUTES], WHERE_MAX, "%s", where);
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/* TIKTOK_AUDIENCED_ROUTES="prefix=secret,prefix2=secret2" (split at each item's last '='). */
static tad_err routes_from_env(struct loader *ld, const char *v, const char *where)
{
    struct route_list rl = {NULL, 0};
    tad_err e = TAD_OK;
    const char *p = v;
    size_t item = 0;
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *s = p;
        size_t sn = n;
        p += n;
        if (*p == ',')
            p++;
        trim(&s, &sn);
        if (sn == 0)
            continue;
        const char *eq = NULL;
        for (size_t i = 0; i < sn; i++)
            if (s[i] == '=')
                eq = s + i;
        if (!eq) {
            e = tad_errinfo_set(ld->err, TAD_ERR_INVALID,
                                "%s: routes[%zu]: expected prefix=secret_id", where, item);
            goto out;
        }
        const char *pre = s, *sec = eq + 1;
        size_t pn = (size_t)(eq - s), secn = sn - pn - 1;
        trim(&pre, &pn);
        trim(&sec, &secn);
        e = route_add(&rl, pre, pn, sec, secn);
        if (e == TAD_ERR_NOMEM)
            goto out;
        if (e != TAD_OK) {
            e = tad_errinfo_set(ld->err, e, "%s: routes: more than %d routes", where,
                                TAD_CONFIG_MAX_ROUTES);
            goto out;
        }
        bool on_prefix;
        const char *why = route_problem(&rl, rl.n - 1, &on_prefix);
        if (why) {
            e = tad_errinfo_set(ld->err, TAD_ERR_INVALID, "%s: routes[%zu].%s: %s", where, item,
                                on_prefix ? "prefix" : "secret_id", why);
            goto out;
        }
        item++;
    }
    install_routes(ld, &rl, TAD_CFG_SRC_ENV, where);
out:
    routes_free(rl.v, rl.n);
    return e;
}

/* ---- YAML ------------------------------------------------------------------------------- */

struct yctx {
    struct loader *ld;
    yaml_document_t *doc;
};

static unsigned long node_line(const yaml_node_t *n)
{
    return (unsigned long)n->start_mark.line + 1;
}

static bool scalar_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE)
        return false;
    if (n->tag && strcmp((const char *)n->tag, YAML_NULL_TAG) == 0)
        return true;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return n->data.scalar.length == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static tad_err yerr(struct yctx *y, const yaml_node_t *at, tad_err e, const char *what,
                    const char *problem)
{
    return tad_errinfo_set(y->ld->err, e, "%s:%lu: %s: %s", y->ld->name, node_line(at), what,
                           problem);
}

/* Scalar text of n, or NULL with an error for non-scalars and embedded NULs. */
static tad_err scalar_text(struct yctx *y, const yaml_node_t *n, const char *what, const char **ret)
{
    if (n->type != YAML_SCALAR_NODE)
        return yerr(y, n, TAD_ERR_INVALID, what,
                    n->type == YAML_MAPPING_NODE ? "expected a value, got a mapping"
                                                 : "expected a value, got a list");
    const char *v = (const char *)n->data.scalar.value;
    if (strlen(v) != n->data.scalar.length)
        return yerr(y, n, TAD_ERR_INVALID, what, "must not contain NUL characters");
    *ret = v;
    return TAD_OK;
}

/* Rejects duplicate keys in a mapping (YAML forbids them; libyaml does not check). */
static tad_err check_duplicates(struct yctx *y, const yaml_node_t *map, const char *section)
{
    for (yaml_node_pair_t *a = map->data.mapping.pairs.start; a < map->data.mapping.pairs.top;
         a++) {
        yaml_node_t *ka = yaml_document_get_node(y->doc, a->key);
        if (!ka || ka->type != YAML_SCALAR_NODE)
            return yerr(y, ka ? ka : map, TAD_ERR_INVALID, section ? section : "config",
                        "keys must be plain names");
        for (yaml_node_pair_t *b = map->data.mapping.pairs.start; b < a; b++) {
            yaml_node_t *kb = yaml_document_get_node(y->doc, b->key);
            if (kb && kb->type == YAML_SCALAR_NODE &&
                strcmp((const char *)ka->data.scalar.value, (const char *)kb->data.scalar.value) ==
                    0) {
                char what[128], problem[64];
                snprintf(what, sizeof(what), "%s%s%s", section ? section : "", section ? "." : "",
                         (const char *)ka->data.scalar.value);
                snprintf(problem, sizeof(problem), "duplicate key (first at line %lu)",
                         node_line(kb));
                return yerr(y, ka, TAD_ERR_INVALID, what, problem);
            }
        }
    }
    return TAD_OK;
}

static tad_err yaml_routes(struct yctx *y, const yaml_node_t *val)
{
    struct loader *ld = y->ld;
    struct route_list rl = {NULL, 0};
    tad_err e = TAD_OK;
    char where[WHERE_MAX];
    snprintf(where, sizeof(where), "%s:%lu", ld->name, node_line(val));
    if (scalar_is_null(val))
        goto done;
    if (val->type != YAML_SEQUENCE_NODE) {
        e = yerr(y, val, TAD_ERR_INVALID, "routes", "expected a list of {prefix, secret_id}");
        goto out;
    }
    size_t idx = 0;
    for (yaml_node_item_t *it = val->data.sequence.items.start; it < val->data.sequence.items.top;
         it++, idx++) {
        yaml_node_t *item = yaml_document_get_node(y->doc, *it);
        char what[64];
        snprintf(what, sizeof(what), "routes[%zu]", idx);
        if (!item || item->type != YAML_MAPPING_NODE) {
            e = yerr(y, item ? item : val, TAD_ERR_INVALID, what,
                     "expected a map with prefix and secret_id");
            goto out;
        }
        e = check_duplicates(y, item, what);
        if (e != TAD_OK)
            goto out;
        const char *prefix = NULL, *secret = NULL;
        const yaml_node_t *pnode = item, *snode = item;
        for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = yaml_document_get_node(y->doc, p->key);
            yaml_node_t *v = yaml_document_get_node(y->doc, p->value);
            const char *kname = (const char *)k->data.scalar.value;
            char kwhat[96];
            snprintf(kwhat, sizeof(kwhat), "%s.%s", what, kname);
            if (!v) {
                e = yerr(y, k, TAD_ERR_INVALID, kwhat, "has no value");
                goto out;
            }
            const char **dst;
            if (strcmp(kname, "prefix") == 0) {
                dst = &prefix;
                pnode = v;
            } else if (strcmp(kname, "secret_id") == 0) {
                dst = &secret;
                snode = v;
            } else {
                e = yerr(y, k, TAD_ERR_INVALID, kwhat, "unknown key (expected prefix, secret_id)");
                goto out;
            }
            if (scalar_is_null(v)) {
                e = yerr(y, v, TAD_ERR_INVALID, kwhat, "must not be empty");
                goto out;
            }
            e = scalar_text(y, v, kwhat, dst);
            if (e != TAD_OK)
                goto out;
        }
        if (!prefix || !secret) {
            e = yerr(y, item, TAD_ERR_INVALID, what,
                     !prefix ? "missing prefix" : "missing secret_id");
            goto out;
        }
        e = route_add(&rl, prefix, strlen(prefix), secret, strlen(secret));
        if (e == TAD_ERR_NOMEM)
            goto out;
        if (e != TAD_OK) {
            char problem[64];
            snprintf(problem, sizeof(problem), "more than %d routes", TAD_CONFIG_MAX_ROUTES);
            e = yerr(y, item, e, "routes", problem);
            goto out;
        }
        bool on_prefix;
        const char *why = route_problem(&rl, rl.n - 1, &on_prefix);
        if (why) {
            snprintf(what, sizeof(what), "routes[%zu].%s", idx, on_prefix ? "prefix" : "secret_id");
            e = yerr(y, on_prefix ? pnode : snode, TAD_ERR_INVALID, what, why);
            goto out;
        }
    }
done:
    install_routes(ld, &rl, TAD_CFG_SRC_FILE, where);
out:
    routes_free(rl.v, rl.n);
    return e;
}

static tad_err yaml_value(struct yctx *y, const struct tad_config_key *k, const yaml_node_t *val)
{
    if (k->type == TAD_CFG_ROUTES)
        return yaml_routes(y, val);
    const char *text = NULL;
    if (!scalar_is_null(val)) {
        tad_err e = scalar_text(y, val, k->path, &text);
        if (e != TAD_OK)
            return e;
    }
    char where[WHERE_MAX];
    snprintf(where, sizeof(where), "%s:%lu", y->ld->name, node_line(val));
    return set_value(y->ld, k, text, TAD_CFG_SRC_FILE, where);
}

static bool is_section(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < TAD_CK__MAX; i++)
        if (strncmp(keys[i].path, name, n) == 0 && keys[i].path[n] == '.')
            return true;
    return false;
}

static tad_err yaml_mapping(struct yctx *y, const yaml_node_t *map, const char *section)
{
    tad_err e = check_duplicates(y, map, section);
    if (e != TAD_OK)
        return e;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_document_get_node(y->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(y->doc, p->value);
        const char *name = (const char *)kn->data.scalar.value;
        char path[128];
        int n = snprintf(path, sizeof(path), "%s%s%s", section ? section : "", section ? "." : "",
                         name);
        if (n < 0 || (size_t)n >= sizeof(path) || !vn)
            return yerr(y, kn, TAD_ERR_INVALID, "config", "unknown key");
        const struct tad_config_key *k = tad_config_key_find(path);
        if (k) {
            e = yaml_value(y, k, vn);
        } else if (!section && is_section(path)) {
            if (scalar_is_null(vn))
                continue;
            if (vn->type != YAML_MAPPING_NODE)
                return yerr(y, vn, TAD_ERR_INVALID, path, "expected a mapping of keys");
            e = yaml_mapping(y, vn, path);
        } else {
            char what[160];
            snprintf(what, sizeof(what), "unknown key \"%s\"", path);
            return tad_errinfo_set(y->ld->err, TAD_ERR_INVALID, "%s:%lu: %s", y->ld->name,
                                   node_line(kn), what);
        }
        if (e != TAD_OK)
            return e;
    }
    return TAD_OK;
}

static tad_err load_yaml(struct loader *ld, const char *text, size_t len)
{
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    bool have_doc = false, have_extra = false;
    tad_err e = TAD_OK;

    if (!yaml_parser_initialize(&parser))
        return tad_errinfo_set(ld->err, TAD_ERR_NOMEM, "%s: out of memory", ld->name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc))
        goto syntax;
    have_doc = true;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root) {
        if (!yaml_parser_load(&parser, &extra))
            goto syntax;
        have_extra = true;
        if (yaml_document_get_root_node(&extra)) {
            e = tad_errinfo_set(ld->err, TAD_ERR_PARSE, "%s:%lu: only one YAML document is allowed",
                                ld->name, node_line(yaml_document_get_root_node(&extra)));
            goto out;
        }
    }
    if (!root || scalar_is_null(root))
        goto out; /* empty file: defaults */
    if (root->type != YAML_MAPPING_NODE) {
        e = tad_errinfo_set(ld->err, TAD_ERR_INVALID, "%s:%lu: expected a mapping of keys",
                            ld->name, node_line(root));
        goto out;
    }
    struct yctx y = {ld, &doc};
    e = yaml_mapping(&y, root, NULL);
    goto out;

syntax:
    if (parser.error == YAML_MEMORY_ERROR) {
        e = tad_errinfo_set(ld->err, TAD_ERR_NOMEM, "%s: out of memory", ld->name);
    } else {
        e = tad_errinfo_set(ld->err, TAD_ERR_PARSE, "%s:%lu:%lu: YAML syntax error: %s%s%s",
                            ld->name, (unsigned long)parser.problem_mark.line + 1,
                            (unsigned long)parser.problem_mark.column + 1,
                            parser.problem ? parser.problem : "malformed",
                            parser.context ? " " : "", parser.context ? parser.context : "");
    }
out:
    if (have_extra)
        yaml_document_delete(&extra);
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return e;
}

/* ---- loading ---------------------------------------------------------------------------- */

static const char *process_getenv(const char *name)
{
    return secure_getenv(name);
}

/* Decodes the UTF-8 sequence at s: returns its length and sets *cp (when not NULL), or -1 when
 * s does not start a valid (shortest-form, non-surrogate) sequence. For a whole string
 * (cp NULL) returns 0 when every sequence is valid, -1 otherwise. */
static int utf8_len(const char *str, unsigned long *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    if (!cp) {
        unsigned long c;
        while (*s) {
            int n = utf8_len((const char *)s, &c);
            if (n < 0)
                return -1;
            s += n;
        }
        return 0;
    }
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    int n = (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0)
        return -1;
    static const unsigned long min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    unsigned long c = s[0] & (0x7fu >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        c = (c << 6) | (s[i] & 0x3fu);
    }
    if (c < min_cp[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return -1;
    *cp = c;
    return n;
}

static tad_err set_defaults(struct loader *ld)
{
    for (size_t i = 0; i < TAD_CK__MAX; i++) {
        const struct tad_config_key *k = &keys[i];
        if (k->type == TAD_CFG_ROUTES || (!k->def && k->id != TAD_CK_SPOOL_DIR))
            continue;
        const char *def = k->def;
        char spool[4096];
        if (k->id == TAD_CK_SPOOL_DIR) {
            /* systemd's StateDirectory=: the first of possibly several colon-separated paths */
            const char *sd = ld->getenv_fn("STATE_DIRECTORY");
            size_t n = sd ? strcspn(sd, ":") : 0;
            if (n > 0 && n < sizeof(spool)) {
                memcpy(spool, sd, n);
                spool[n] = '\0';
                if (utf8_len(spool, NULL) < 0)
                    return tad_errinfo_set(ld->err, TAD_ERR_INVALID,
                                           "$STATE_DIRECTORY: spool_dir: not valid UTF-8");
                def = spool;
            } else {
                def = "/var/tmp";
            }
        }
        tad_err e = set_value(ld, k, def, TAD_CFG_SRC_DEFAULT, "default");
        if (e != TAD_OK)
            return e;
    }
    return TAD_OK;
}

static tad_err load_env(struct loader *ld)
{
    for (size_t i = 0; i < TAD_CK__MAX; i++) {
        const struct tad_config_key *k = &keys[i];
        char name[64];
        tad_err e = tad_config_env_name(k, name, sizeof(name));
        if (e != TAD_OK)
            return tad_errinfo_set(ld->err, e, "%s: environment name too long", k->path);
        const char *v = ld->getenv_fn(name);
        if (!v)
            continue;
        char where[WHERE_MAX];
        snprintf(where, sizeof(where), "$%s", name);
        if (utf8_len(v, NULL) < 0)
            return tad_errinfo_set(ld->err, TAD_ERR_INVALID, "%s: %s: not valid UTF-8", where,
                                   k->path);
        if (k->type == TAD_CFG_ROUTES)
            e = routes_from_env(ld, v, where);
        else
            e = set_value(ld, k, v, TAD_CFG_SRC_ENV, where);
        if (e != TAD_OK)
            return e;
    }
    return TAD_OK;
}

static tad_err load_cli(struct loader *ld, const struct tad_config_overrides *cli)
{
    tad_err e = TAD_OK;
    if (cli->workers != -1) {
        char num[32];
        snprintf(num, sizeof(num), "%ld", cli->workers);
        e = set_value(ld, &keys[TAD_CK_WORKERS], num, TAD_CFG_SRC_CLI, "--workers");
        if (e != TAD_OK)
            return e;
    }
    if (cli->dry_run != -1) {
        e = set_value(ld, &keys[TAD_CK_DRY_RUN], cli->dry_run ? "true" : "false", TAD_CFG_SRC_CLI,
                      "--dry-run");
        if (e != TAD_OK)
            return e;
    }
    if (cli->log_level) {
        e = set_value(ld, &keys[TAD_CK_LOG_LEVEL], cli->log_level, TAD_CFG_SRC_CLI, "--log-level");
        if (e != TAD_OK)
            return e;
    }
    if (cli->log_format)
        e = set_value(ld, &keys[TAD_CK_LOG_FORMAT], cli->log_format, TAD_CFG_SRC_CLI,
                      "--log-format");
    return e;
}

/* Checks that involve more than one key. */
static tad_err cross_check(struct loader *ld)
{
    const struct tad_config *c = ld->cfg;
    if (c->retry_base_delay_ms > c->retry_max_delay_ms)
        return tad_errinfo_set(ld->err, TAD_ERR_INVALID,
                               "%s: retry.base_delay_ms: must not exceed retry.max_delay_ms "
                               "(%ld > %ld)",
                               ld->where[TAD_CK_RETRY_BASE_DELAY_MS], c->retry_base_delay_ms,
                               c->retry_max_delay_ms);
    return TAD_OK;
}

tad_err tad_config_load_text(const char *text, size_t len, const char *name,
                             const struct tad_config_overrides *cli, tad_config_getenv_fn getenv_fn,
                             struct tad_config **ret, struct tad_errinfo *err)
{
    tad_err e = TAD_OK;
    struct loader *ld = calloc(1, sizeof(*ld));
    if (!ld)
        return tad_errinfo_set(err, TAD_ERR_NOMEM, "config: out of memory");
    ld->cfg = calloc(1, sizeof(*ld->cfg));
    if (!ld->cfg) {
        e = tad_errinfo_set(err, TAD_ERR_NOMEM, "config: out of memory");
        goto out;
    }
    atomic_init(&ld->cfg->refs, 1);
    ld->name = name ? name : "config";
    ld->getenv_fn = getenv_fn ? getenv_fn : process_getenv;
    ld->err = err;

    e = set_defaults(ld);
    if (e == TAD_OK && text)
        e = load_yaml(ld, text, len);
    if (e == TAD_OK)
        e = load_env(ld);
    if (e == TAD_OK && cli)
        e = load_cli(ld, cli);
    if (e == TAD_OK)
        e = cross_check(ld);
    if (e == TAD_OK) {
        *ret = ld->cfg;
        ld->cfg = NULL;
    }
out:
    if (ld->cfg)
        config_free(ld->cfg);
    free(ld);
    return e;
}

/* Reads a whole file (at most TAD_CONFIG_MAX_FILE_SIZE). *ret NULL when it does not exist. */
static tad_err read_file(const char *path, char **ret, size_t *retlen, struct tad_errinfo *err)
{
    char ebuf[128];
    FILE *f = fopen(path, "re");
    if (!f) {
        if (errno == ENOENT) {
            *ret = NULL;
            *retlen = 0;
            return TAD_OK;
        }
        return tad_errinfo_set(err, TAD_ERR_IO, "%s: cannot open: %s", path,
                               strerror_r(errno, ebuf, sizeof(ebuf)));
    }
    tad_err e = TAD_OK;
    struct tad_buf b;
    tad_buf_init(&b, TAD_CONFIG_MAX_FILE_SIZE);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        e = tad_buf_append(&b, chunk, n);
        if (e != TAD_OK) {
            e = tad_errinfo_set(err, e == TAD_ERR_NOMEM ? e : TAD_ERR_INVALID, "%s: %s", path,
                                e == TAD_ERR_NOMEM ? "out of memory" : "file larger than 1 MiB");
            goto out;
        }
    }
    if (ferror(f)) {
        e = tad_errinfo_set(err, TAD_ERR_IO, "%s: read error: %s", path,
                            strerror_r(errno, ebuf, sizeof(ebuf)));
        goto out;
    }
    if (!b.data) {
        e = tad_buf_append(&b, "", 0);
        if (e != TAD_OK || !b.data) {
            e = tad_errinfo_set(err, TAD_ERR_NOMEM, "%s: out of memory", path);
            goto out;
        }
    }
    *retlen = b.len;
    e = tad_buf_take(&b, ret);
    if (e != TAD_OK)
        e = tad_errinfo_set(err, e, "%s: out of memory", path);
out:
    tad_buf_release(&b);
    fclose(f);
    return e;
}

tad_err tad_config_load_env(const char *path, bool path_explicit,
                            const struct tad_config_overrides *cli, tad_config_getenv_fn getenv_fn,
                            struct tad_config **ret, struct tad_errinfo *err)
{
    if (!path)
        path = TAD_CONFIG_DEFAULT_PATH;
    char *text = NULL;
    size_t len = 0;
    tad_err e = read_file(path, &text, &len, err);
    if (e != TAD_OK)
        return e;
    if (!text && path_explicit)
        return tad_errinfo_set(err, TAD_ERR_IO, "%s: no such file", path);
    e = tad_config_load_text(text, len, path, cli, getenv_fn, ret, err);
    free(text);
    return e;
}

tad_err tad_config_load(const char *path, bool path_explicit,
                        const struct tad_config_overrides *cli, struct tad_config **ret,
                        struct tad_errinfo *err)
{
    return tad_config_load_env(path, path_explicit, cli, NULL, ret, err);
}

tad_err tad_config_validate_for_run(const struct tad_config *cfg, struct tad_errinfo *err)
{
    if (!cfg->queue_url)
        return tad_errinfo_set(err, TAD_ERR_INVALID,
                               "queue_url: required by run (set it in the config file or "
                               "TIKTOK_AUDIENCED_QUEUE_URL)");
    return TAD_OK;
}

/* ---- region ----------------------------------------------------------------------------- */

static const char *copy_out(char *buf, size_t size, const char *s, size_t n)
{
    if (n == 0 || n >= size)
        return NULL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}

static bool region_chars(const char *s, size_t n)
{
    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);
    return n >= m && strncasecmp(s + n - m, suffix, m) == 0;
}

const char *tad_config_region(const struct tad_config *cfg, tad_config_getenv_fn getenv_fn,
                              char *buf, size_t size)
{
    if (!getenv_fn)
        getenv_fn = process_getenv;
    if (cfg && cfg->region && cfg->region[0])
        return copy_out(buf, size, cfg->region, strlen(cfg->region));
    static const char *const vars[] = {"AWS_REGION", "AWS_DEFAULT_REGION"};
    for (size_t i = 0; i < 2; i++) {
        const char *v = getenv_fn(vars[i]);
        if (v && v[0])
            return copy_out(buf, size, v, strlen(v));
    }
    if (!cfg || !cfg->queue_url)
        return NULL;
    const char *host;
    size_t hlen;
    bool https;
    if (url_host(cfg->queue_url, &host, &hlen, &https))
        return NULL;
    /* sqs.<region>.amazonaws.com[.cn] / sqs.<region>.api.aws */
    if (hlen > 4 && strncasecmp(host, "sqs.", 4) == 0) {
        const char *r = host + 4;
        const char *dot = memchr(r, '.', hlen - 4);
        if (dot) {
            size_t rn = (size_t)(dot - r), rest = hlen - 4 - rn;
            if ((rest == 14 && ends_with(dot, rest, ".amazonaws.com")) ||
                (rest == 17 && ends_with(dot, rest, ".amazonaws.com.cn")) ||
                (rest == 8 && ends_with(dot, rest, ".api.aws")))
                return region_chars(r, rn) ? copy_out(buf, size, r, rn) : NULL;
        }
    }
    /* legacy <region>.queue.amazonaws.com */
    if (ends_with(host, hlen, ".queue.amazonaws.com")) {
        size_t rn = hlen - strlen(".queue.amazonaws.com");
        if (memchr(host, '.', rn) == NULL && region_chars(host, rn))
            return copy_out(buf, size, host, rn);
    }
    return NULL;
}

/* ---- printing --------------------------------------------------------------------------- */

static tad_err put_quoted(struct tad_buf *b, const char *s)
{
    tad_err e = tad_buf_append_byte(b, '"');
    for (; e == TAD_OK && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            e = tad_buf_appendf(b, "\\%c", c);
        else if (c == '\n')
            e = tad_buf_append_str(b, "\\n");
        else if (c == '\t')
            e = tad_buf_append_str(b, "\\t");
        else if (c < 0x20 || c == 0x7f)
            e = tad_buf_appendf(b, "\\x%02x", c);
        else if (c < 0x80)
            e = tad_buf_append_byte(b, (char)c);
        else {
            /* a YAML reader refuses raw C1 controls and U+FFFE/U+FFFF and folds a raw NEL
             * (U+0085) into a space; U+2028/9 and U+FEFF are line-break and byte-order
             * characters to it: escape all of these, copy any other code point as is */
            unsigned long cp;
            int n = utf8_len(s, &cp);
            if (n < 0)
                return TAD_ERR_INVALID;
            if (cp <= 0x9f || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff || cp == 0xfffe ||
                cp == 0xffff)
                e = tad_buf_appendf(b, "\\u%04lx", cp);
            else
                e = tad_buf_append(b, s, (size_t)n);
            s += n - 1;
        }
    }
    if (e == TAD_OK)
        e = tad_buf_append_byte(b, '"');
    return e;
}

/* A URL with any user:pass@ replaced by <redacted>@. */
static tad_err put_url(struct tad_buf *b, const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return put_quoted(b, url);
    p += 3;
    size_t authlen = strcspn(p, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < authlen; i++)
        if (p[i] == '@')
            at = p + i;
    if (!at)
        return put_quoted(b, url);
    struct tad_buf tmp = TAD_BUF_INIT;
    tad_err e = tad_buf_append(&tmp, url, (size_t)(p - url));
    if (e == TAD_OK)
        e = tad_buf_append_str(&tmp, "<redacted>");
    if (e == TAD_OK)
        e = tad_buf_append_str(&tmp, at);
    if (e == TAD_OK)
        e = put_quoted(b, tmp.data);
    tad_buf_release(&tmp);
    return e;
}

static tad_err put_value(struct tad_buf *b, const struct tad_config *cfg,
                         const struct tad_config_key *k)
{
    if (k->flags & TAD_CFG_F_SECRET)
        return tad_buf_append_str(b, "\"<redacted>\"");
    char num[64];
    switch (k->type) {
    case TAD_CFG_STRING: {
        const char *s = *CFIELD(cfg, k, char *);
        if (!s)
            return tad_buf_append_str(b, "~");
        return (k->flags & TAD_CFG_F_URL) ? put_url(b, s) : put_quoted(b, s);
    }
    case TAD_CFG_INT:
        return tad_buf_appendf(b, "%ld", *CFIELD(cfg, k, long));
    case TAD_CFG_DOUBLE:
        format_double(num, sizeof(num), *CFIELD(cfg, k, double));
        return tad_buf_append_str(b, num);
    case TAD_CFG_BOOL:
        return tad_buf_append_str(b, *CFIELD(cfg, k, bool) ? "true" : "false");
    case TAD_CFG_ENUM: {
        int v = *CFIELD(cfg, k, int);
        int n = 0;
        while (k->enum_names[n])
            n++;
        return tad_buf_append_str(b, v >= 0 && v < n ? k->enum_names[v] : "?");
    }
    case TAD_CFG_ROUTES:
        return cfg->nroutes ? TAD_OK : tad_buf_append_str(b, "[]");
    }
    return TAD_ERR_INVALID;
}

#define COMMENT_COL 48

tad_err tad_config_print(const struct tad_config *cfg, FILE *out)
{
    struct tad_buf b = TAD_BUF_INIT;
    tad_err e = tad_buf_append_str(&b, "# tiktok-audienced effective configuration\n"
                                       "# (the comment after each value says where it came from: "
                                       "default, file, env or cli)\n");
    char section[64] = "";
    for (size_t i = 0; e == TAD_OK && i < TAD_CK__MAX; i++) {
        const struct tad_config_key *k = &keys[i];
        const char *dot = strchr(k->path, '.');
        size_t slen = dot ? (size_t)(dot - k->path) : 0;
        const char *leaf = dot ? dot + 1 : k->path;
        if (slen != strlen(section) || strncmp(section, k->path, slen) != 0) {
            snprintf(section, sizeof(section), "%.*s", (int)slen, k->path);
            if (slen)
                e = tad_buf_appendf(&b, "%s:\n", section);
        }
        size_t start = b.len;
        if (e == TAD_OK)
            e = tad_buf_appendf(&b, "%s%s: ", slen ? "  " : "", leaf);
        if (e == TAD_OK)
            e = put_value(&b, cfg, k);
        while (e == TAD_OK && b.len - start < COMMENT_COL)
            e = tad_buf_append_byte(&b, ' ');
        if (e == TAD_OK)
            e = tad_buf_appendf(&b, " # %s\n",
                                tad_config_source_name((enum tad_config_source)cfg->source[i]));
        if (k->type == TAD_CFG_ROUTES) {
            for (size_t r = 0; e == TAD_OK && r < cfg->nroutes; r++) {
                e = tad_buf_append_str(&b, "  - prefix: ");
                if (e == TAD_OK)
                    e = put_quoted(&b, cfg->routes[r].prefix);
                if (e == TAD_OK)
                    e = tad_buf_append_str(&b, "\n    secret_id: ");
                if (e == TAD_OK)
                    e = put_quoted(&b, cfg->routes[r].secret_id);
                if (e == TAD_OK)
                    e = tad_buf_append_byte(&b, '\n');
            }
        }
    }
    if (e == TAD_OK && (fwrite(b.data, 1, b.len, out) != b.len || fflush(out) != 0))
        e = TAD_ERR_IO;
    tad_buf_release(&b);
    return e;
}

/* ---- reload diff ------------------------------------------------------------------------ */

static bool str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static bool key_equal(const struct tad_config *a, const struct tad_config *b,
                      const struct tad_config_key *k)
{
    switch (k->type) {
    case TAD_CFG_STRING:
        return str_eq(*CFIELD(a, k, char *), *CFIELD(b, k, char *));
    case TAD_CFG_INT:
        return *CFIELD(a, k, long) == *CFIELD(b, k, long);
    case TAD_CFG_DOUBLE:
        return *CFIELD(a, k, double) == *CFIELD(b, k, double);
    case TAD_CFG_BOOL:
        return *CFIELD(a, k, bool) == *CFIELD(b, k, bool);
    case TAD_CFG_ENUM:
        return *CFIELD(a, k, int) == *CFIELD(b, k, int);
    case TAD_CFG_ROUTES:
        if (a->nroutes != b->nroutes)
            return false;
        for (size_t i = 0; i < a->nroutes; i++)
            if (!str_eq(a->routes[i].prefix, b->routes[i].prefix) ||
                !str_eq(a->routes[i].secret_id, b->routes[i].secret_id))
                return false;
        return true;
    }
    return false;
}

size_t tad_config_diff_reload(const struct tad_config *old, const struct tad_config *new_cfg,
                              void (*cb)(void *ctx, const struct tad_config_key *key, bool live),
                              void *ctx)
{
    size_t n = 0;
    for (size_t i = 0; i < TAD_CK__MAX; i++) {
        if (key_equal(old, new_cfg, &keys[i]))
            continue;
        n++;
        if (cb)
            cb(ctx, &keys[i], (keys[i].flags & TAD_CFG_F_LIVE) != 0);
    }
    return n;
}

/* ---- snapshot slot ---------------------------------------------------------------------- */

void tad_config_slot_init(struct tad_config_slot *slot)
{
    pthread_mutex_init(&slot->lock, NULL);
    slot->cur = NULL;
}

void tad_config_slot_release(struct tad_config_slot *slot)
{
    slot->cur = tad_config_unref(slot->cur);
    pthread_mutex_destroy(&slot->lock);
}

struct tad_config *tad_config_slot_get(struct tad_config_slot *slot)
{
    pthread_mutex_lock(&slot->lock);
    struct tad_config *c = tad_config_ref(slot->cur);
    pthread_mutex_unlock(&slot->lock);
    return c;
}

void tad_config_slot_swap(struct tad_config_slot *slot, struct tad_config *cfg)
{
    pthread_mutex_lock(&slot->lock);
    struct tad_config *old = slot->cur;
    slot->cur = cfg;
    pthread_mutex_unlock(&slot->lock);
    tad_config_unref(old);
}
