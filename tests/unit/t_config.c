/* t_config.c - unit tests for configuration loading, validation, printing and reload diffs.
 * The environment is injected through a fake getenv; data files are read relative to
 * $TAD_SRCDIR (default: the current directory, the repository root under run-tests.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tad/config.h"
#include "tad/log.h"

/* ---- fake environment ------------------------------------------------------------------- */

#define MAX_ENV 32
static const char *env_names[MAX_ENV];
static const char *env_values[MAX_ENV];
static size_t env_n;

static const char *fake_getenv(const char *name)
{
    for (size_t i = 0; i < env_n; i++)
        if (strcmp(env_names[i], name) == 0)
            return env_values[i];
    return NULL;
}

static void env_set(const char *name, const char *value)
{
    assert_true(env_n < MAX_ENV);
    env_names[env_n] = name;
    env_values[env_n] = value;
    env_n++;
}

static int reset_env(void **state)
{
    (void)state;
    env_n = 0;
    return 0;
}

static tad_err load_str(const char *yaml, const struct tad_config_overrides *cli,
                        struct tad_config **cfg, struct tad_errinfo *err)
{
    tad_errinfo_clear(err);
    return tad_config_load_text(yaml, yaml ? strlen(yaml) : 0, "config.yaml", cli, fake_getenv, cfg,
                                err);
}

static struct tad_config *must_load(const char *yaml, const struct tad_config_overrides *cli)
{
    struct tad_config *cfg = NULL;
    struct tad_errinfo err;
    tad_err e = load_str(yaml, cli, &cfg, &err);
    if (e != TAD_OK)
        fail_msg("load failed: %s", err.msg);
    assert_non_null(cfg);
    return cfg;
}

static const char *srcdir(void)
{
    const char *d = getenv("TAD_SRCDIR");
    return d && *d ? d : ".";
}

/* ---- defaults and layering -------------------------------------------------------------- */

static void defaults_match_the_spec(void **state)
{
    (void)state;
    struct tad_config *c = must_load(NULL, NULL);
    assert_null(c->queue_url);
    assert_null(c->region);
    assert_int_equal(c->workers, 4);
    assert_int_equal(c->receive_wait_seconds, 20);
    assert_int_equal(c->receive_max_messages, 10);
    assert_int_equal(c->receive_visibility_timeout, 120);
    assert_string_equal(c->key_prefix, "tiktok/");
    assert_string_equal(c->secret_id, "tiktok_activation_credentials");
    assert_int_equal(c->secret_ttl_seconds, 300);
    assert_int_equal(c->nroutes, 0);
    assert_null(c->routes);
    assert_string_equal(c->spool_dir, "/var/tmp");
    assert_string_equal(c->tiktok_api_base, "https://business-api.tiktok.com/open_api/v1.3");
    assert_int_equal(c->tiktok_max_file_bytes, 52428800);
    assert_int_equal(c->tiktok_timeout_seconds, 300);
    assert_true(c->tiktok_max_requests_per_second == 10.0);
    assert_int_equal(c->retry_max_attempts, 5);
    assert_int_equal(c->retry_base_delay_ms, 500);
    assert_int_equal(c->retry_max_delay_ms, 60000);
    assert_true(c->validation_max_invalid_ratio == 0.01);
    assert_null(c->failure_queue_url);
    assert_null(c->report_prefix);
    assert_string_equal(c->metrics_listen, "127.0.0.1:9464");
    assert_int_equal(c->shutdown_grace_seconds, 30);
    assert_int_equal(c->log_level, TAD_LOG_INFO);
    assert_int_equal(c->log_format, TAD_LOG_FMT_AUTO);
    assert_false(c->dry_run);
    for (size_t i = 0; i < TAD_CK__MAX; i++)
        assert_int_equal(c->source[i], TAD_CFG_SRC_DEFAULT);
    tad_config_unref(c);

    /* systemd StateDirectory=: first of the colon-separated paths */
    env_set("STATE_DIRECTORY", "/var/lib/tiktok-audienced:/var/lib/other");
    c = must_load(NULL, NULL);
    assert_string_equal(c->spool_dir, "/var/lib/tiktok-audienced");
    assert_int_equal(c->source[TAD_CK_SPOOL_DIR], TAD_CFG_SRC_DEFAULT);
    tad_config_unref(c);
}

static void key_table_is_consistent(void **state)
{
    (void)state;
    size_t n = 0;
    const struct tad_config_key *k = tad_config_keys(&n);
    assert_int_equal(n, TAD_CK__MAX);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(k[i].id, i);
        assert_non_null(k[i].path);
        assert_non_null(k[i].help);
        assert_ptr_equal(tad_config_key_find(k[i].path), &k[i]);
    }
    char name[64];
    assert_int_equal(tad_config_env_name(&k[TAD_CK_RECEIVE_WAIT_SECONDS], name, sizeof(name)),
                     TAD_OK);
    assert_string_equal(name, "TIKTOK_AUDIENCED_RECEIVE_WAIT_SECONDS");
    assert_int_equal(tad_config_env_name(&k[TAD_CK_TIKTOK_API_BASE], name, 10), TAD_ERR_INVALID);
    assert_null(tad_config_key_find("receive"));
    /* the enum names follow log.h */
    const char *lv[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(tad_log_level_parse(lv[i]), i);
}

static void file_values_are_read(void **state)
{
    (void)state;
    const char *yaml = "# comment\n"
                       "queue_url: https://sqs.eu-west-1.amazonaws.com/123456789012/q\n"
                       "workers: 8\n"
                       "receive:\n"
                       "  wait_seconds: 5\n"
                       "  max_messages: 3\n"
                       "  visibility_timeout: 600\n"
                       "key_prefix: ''\n"
                       "secret_id: other\n"
                       "spool_dir: /srv/spool\n"
                       "tiktok:\n"
                       "  api_base: http://127.0.0.1:8080/open_api/v1.3\n"
                       "  max_file_bytes: 1024\n"
                       "  max_requests_per_second: 2.5\n"
                       "retry: {max_attempts: 3, base_delay_ms: 10, max_delay_ms: 100}\n"
                       "validation:\n"
                       "  max_invalid_ratio: 0\n"
                       "failure_queue_url: http://localhost:4566/000000000000/dlq\n"
                       "report_prefix: reports/\n"
                       "metrics:\n"
                       "  listen: '[::1]:9000'\n"
                       "shutdown_grace_seconds: 5\n"
                       "log:\n"
                       "  level: DEBUG\n"
                       "  format: json\n"
                       "region: ~\n"
                       "dry_run: yes\n";
    struct tad_config *c = must_load(yaml, NULL);
    assert_string_equal(c->queue_url, "https://sqs.eu-west-1.amazonaws.com/123456789012/q");
    assert_int_equal(c->workers, 8);
    assert_int_equal(c->receive_wait_seconds, 5);
    assert_int_equal(c->receive_max_messages, 3);
    assert_int_equal(c->receive_visibility_timeout, 600);
    assert_string_equal(c->key_prefix, "");
    assert_string_equal(c->secret_id, "other");
    assert_string_equal(c->spool_dir, "/srv/spool");
    assert_string_equal(c->tiktok_api_base, "http://127.0.0.1:8080/open_api/v1.3");
    assert_int_equal(c->tiktok_max_file_bytes, 1024);
    assert_true(c->tiktok_max_requests_per_second == 2.5);
    assert_int_equal(c->retry_max_attempts, 3);
    assert_int_equal(c->retry_base_delay_ms, 10);
    assert_int_equal(c->retry_max_delay_ms, 100);
    assert_true(c->validation_max_invalid_ratio == 0.0);
    assert_string_equal(c->failure_queue_url, "http://localhost:4566/000000000000/dlq");
    assert_string_equal(c->report_prefix, "reports/");
    assert_string_equal(c->metrics_listen, "[::1]:9000");
    assert_int_equal(c->shutdown_grace_seconds, 5);
    assert_int_equal(c->log_level, TAD_LOG_DEBUG);
    assert_int_equal(c->log_format, TAD_LOG_FMT_JSON);
    assert_null(c->region);
    assert_true(c->dry_run);
    assert_int_equal(c->source[TAD_CK_WORKERS], TAD_CFG_SRC_FILE);
    assert_int_equal(c->source[TAD_CK_REGION], TAD_CFG_SRC_FILE);
    assert_int_equal(c->source[TAD_CK_SECRET_TTL_SECONDS], TAD_CFG_SRC_DEFAULT);
    assert_int_equal(c->tiktok_timeout_seconds, 300);
    assert_int_equal(tad_config_validate_for_run(c, NULL), TAD_OK);
    tad_config_unref(c);

    /* an empty file and a comment-only file give the defaults */
    c = must_load("", NULL);
    assert_int_equal(c->workers, 4);
    tad_config_unref(c);
    c = must_load("# nothing\n---\n", NULL);
    assert_int_equal(c->workers, 4);
    tad_config_unref(c);
}

static void env_beats_file(void **state)
{
    (void)state;
    const char *yaml = "workers: 8\n"
                       "receive:\n"
                       "  wait_seconds: 5\n"
                       "failure_queue_url: https://sqs.us-east-1.amazonaws.com/1/dlq\n"
                       "log:\n"
                       "  level: warn\n";
    env_set("TIKTOK_AUDIENCED_WORKERS", "16");
    env_set("TIKTOK_AUDIENCED_RECEIVE_WAIT_SECONDS", "0");
    env_set("TIKTOK_AUDIENCED_FAILURE_QUEUE_URL", ""); /* empty unsets a nullable key */
    env_set("TIKTOK_AUDIENCED_LOG_LEVEL", "error");
    env_set("TIKTOK_AUDIENCED_VALIDATION_MAX_INVALID_RATIO", "0.25");
    env_set("TIKTOK_AUDIENCED_DRY_RUN", "1");
    env_set("TIKTOK_AUDIENCED_QUEUE_URL", "http://localhost:9324/000000000000/q");
    struct tad_config *c = must_load(yaml, NULL);
    assert_int_equal(c->workers, 16);
    assert_int_equal(c->receive_wait_seconds, 0);
    assert_null(c->failure_queue_url);
    assert_int_equal(c->log_level, TAD_LOG_ERROR);
    assert_true(c->validation_max_invalid_ratio == 0.25);
    assert_true(c->dry_run);
    assert_string_equal(c->queue_url, "http://localhost:9324/000000000000/q");
    assert_int_equal(c->source[TAD_CK_WORKERS], TAD_CFG_SRC_ENV);
    assert_int_equal(c->source[TAD_CK_FAILURE_QUEUE_URL], TAD_CFG_SRC_ENV);
    assert_int_equal(c->source[TAD_CK_RECEIVE_MAX_MESSAGES], TAD_CFG_SRC_DEFAULT);
    tad_config_unref(c);

    /* a bad environment value names the variable */
    env_set("TIKTOK_AUDIENCED_RECEIVE_MAX_MESSAGES", "0");
    struct tad_config *bad = NULL;
    struct tad_errinfo err;
    assert_int_equal(load_str(yaml, NULL, &bad, &err), TAD_ERR_INVALID);
    assert_null(bad);
    assert_string_equal(err.msg, "$TIKTOK_AUDIENCED_RECEIVE_MAX_MESSAGES: receive.max_messages: "
                                 "must be between 1 and 10 (got 0)");
}

static void cli_beats_env(void **state)
{
    (void)state;
    env_set("TIKTOK_AUDIENCED_WORKERS", "16");
    env_set("TIKTOK_AUDIENCED_LOG_FORMAT", "text");
    env_set("TIKTOK_AUDIENCED_DRY_RUN", "true");
    struct tad_config_overrides cli = TAD_CONFIG_OVERRIDES_INIT;
    cli.workers = 32;
    cli.dry_run = 0;
    cli.log_level = "debug";
    cli.log_format = "journal";
    struct tad_config *c = must_load("workers: 2\n", &cli);
    assert_int_equal(c->workers, 32);
    assert_false(c->dry_run);
    assert_int_equal(c->log_level, TAD_LOG_DEBUG);
    assert_int_equal(c->log_format, TAD_LOG_FMT_JOURNAL);
    assert_int_equal(c->source[TAD_CK_WORKERS], TAD_CFG_SRC_CLI);
    assert_int_equal(c->source[TAD_CK_DRY_RUN], TAD_CFG_SRC_CLI);
    tad_config_unref(c);

    /* unset overrides leave the environment in place */
    struct tad_config_overrides none = TAD_CONFIG_OVERRIDES_INIT;
    c = must_load("workers: 2\n", &none);
    assert_int_equal(c->workers, 16);
    assert_true(c->dry_run);
    assert_int_equal(c->log_format, TAD_LOG_FMT_TEXT);
    tad_config_unref(c);

    struct tad_errinfo err;
    struct tad_config *bad = NULL;
    cli.workers = 0;
    assert_int_equal(load_str(NULL, &cli, &bad, &err), TAD_ERR_INVALID);
    assert_string_equal(err.msg, "--workers: workers: must be between 1 and 256 (got 0)");
    cli.workers = 3;
    cli.log_level = "loud";
    assert_int_equal(load_str(NULL, &cli, &bad, &err), TAD_ERR_INVALID);
    assert_string_equal(err.msg,
                        "--log-level: log.level: must be one of debug, info, warn, error (got "
                        "\"loud\")");
    assert_null(bad);
}

/* ---- validation ------------------------------------------------------------------------- */

struct bad_case {
    const char *yaml;
    tad_err err;
    const char *msg;
};

static const struct bad_case bad_cases[] = {
    {"workers: 4\nreceive:\n  wait_seconds: 30\n", TAD_ERR_INVALID,
     "config.yaml:3: receive.wait_seconds: must be between 0 and 20 (got 30)"},
    {"workers: 0\n", TAD_ERR_INVALID, "config.yaml:1: workers: must be between 1 and 256 (got 0)"},
    {"workers: 257\n", TAD_ERR_INVALID,
     "config.yaml:1: workers: must be between 1 and 256 (got 257)"},
    {"workers: four\n", TAD_ERR_INVALID,
     "config.yaml:1: workers: must be an integer (got \"four\")"},
    {"workers: 4.5\n", TAD_ERR_INVALID, "config.yaml:1: workers: must be an integer (got \"4.5\")"},
    {"workers: ~\n", TAD_ERR_INVALID, "config.yaml:1: workers: must be an integer (got \"null\")"},
    {"workers:\n  - 1\n", TAD_ERR_INVALID, "config.yaml:2: workers: expected a value, got a list"},
    {"receive:\n  max_messages: 11\n", TAD_ERR_INVALID,
     "config.yaml:2: receive.max_messages: must be between 1 and 10 (got 11)"},
    {"receive:\n  visibility_timeout: 43201\n", TAD_ERR_INVALID,
     "config.yaml:2: receive.visibility_timeout: must be between 0 and 43200 (got 43201)"},
    {"receive: 5\n", TAD_ERR_INVALID, "config.yaml:1: receive: expected a mapping of keys"},
    {"tiktok:\n  max_file_bytes: 52428801\n", TAD_ERR_INVALID,
     "config.yaml:2: tiktok.max_file_bytes: must be between 256 and 52428800 (got 52428801)"},
    {"tiktok:\n  max_file_bytes: 100\n", TAD_ERR_INVALID,
     "config.yaml:2: tiktok.max_file_bytes: must be between 256 and 52428800 (got 100)"},
    {"tiktok:\n  timeout_seconds: 0\n", TAD_ERR_INVALID,
     "config.yaml:2: tiktok.timeout_seconds: must be between 1 and 3600 (got 0)"},
    {"tiktok:\n  max_requests_per_second: 0\n", TAD_ERR_INVALID,
     "config.yaml:2: tiktok.max_requests_per_second: must be between 0.01 and 10000 (got 0)"},
    {"tiktok:\n  api_base: http://business-api.tiktok.com/open_api/v1.3\n", TAD_ERR_INVALID,
     "config.yaml:2: tiktok.api_base: must be an https:// URL (http:// only for a loopback "
     "host)"},
    {"tiktok:\n  api_base: business-api.tiktok.com\n", TAD_ERR_INVALID,
     "config.yaml:2: tiktok.api_base: must be an http:// or https:// URL"},
    {"validation:\n  max_invalid_ratio: 1.5\n", TAD_ERR_INVALID,
     "config.yaml:2: validation.max_invalid_ratio: must be between 0 and 1 (got 1.5)"},
    {"validation:\n  max_invalid_ratio: -0.1\n", TAD_ERR_INVALID,
     "config.yaml:2: validation.max_invalid_ratio: must be between 0 and 1 (got -0.1)"},
    {"validation:\n  max_invalid_ratio: lots\n", TAD_ERR_INVALID,
     "config.yaml:2: validation.max_invalid_ratio: must be a number (got \"lots\")"},
    {"queue_url: ftp://example.com/q\n", TAD_ERR_INVALID,
     "config.yaml:1: queue_url: must be an http:// or https:// URL"},
    {"queue_url: 'https:///q'\n", TAD_ERR_INVALID, "config.yaml:1: queue_url: has no host"},
    {"failure_queue_url: sqs://dlq\n", TAD_ERR_INVALID,
     "config.yaml:1: failure_queue_url: must be an http:// or https:// URL"},
    {"metrics:\n  listen: localhost\n", TAD_ERR_INVALID,
     "config.yaml:2: metrics.listen: must be empty (off), host:port or [ipv6]:port (got "
     "\"localhost\")"},
    {"metrics:\n  listen: '127.0.0.1:99999'\n", TAD_ERR_INVALID,
     "config.yaml:2: metrics.listen: port must be between 1 and 65535 (got \"127.0.0.1:99999\")"},
    {"metrics:\n  listen: '::1:9464'\n", TAD_ERR_INVALID,
     "config.yaml:2: metrics.listen: must be empty (off), host:port or [ipv6]:port (got "
     "\"::1:9464\")"},
    {"log:\n  level: loud\n", TAD_ERR_INVALID,
     "config.yaml:2: log.level: must be one of debug, info, warn, error (got \"loud\")"},
    {"log:\n  format: xml\n", TAD_ERR_INVALID,
     "config.yaml:2: log.format: must be one of auto, text, json, journal (got \"xml\")"},
    {"key_prefix: tiktok\n", TAD_ERR_INVALID,
     "config.yaml:1: key_prefix: must be empty or end with '/' (got \"tiktok\")"},
    {"secret_id: ''\n", TAD_ERR_INVALID, "config.yaml:1: secret_id: must not be empty (got \"\")"},
    {"secret_id: ~\n", TAD_ERR_INVALID, "config.yaml:1: secret_id: must be set"},
    {"region: US East\n", TAD_ERR_INVALID,
     "config.yaml:1: region: must be an AWS region name such as us-east-1 (got \"US East\")"},
    {"dry_run: maybe\n", TAD_ERR_INVALID,
     "config.yaml:1: dry_run: must be true or false (got \"maybe\")"},
    {"secret_ttl_seconds: -1\n", TAD_ERR_INVALID,
     "config.yaml:1: secret_ttl_seconds: must be between 0 and 86400 (got -1)"},
    {"shutdown_grace_seconds: 3601\n", TAD_ERR_INVALID,
     "config.yaml:1: shutdown_grace_seconds: must be between 0 and 3600 (got 3601)"},
    {"retry:\n  max_attempts: 0\n", TAD_ERR_INVALID,
     "config.yaml:2: retry.max_attempts: must be between 1 and 100 (got 0)"},
    {"retry:\n  base_delay_ms: 5000\n  max_delay_ms: 1000\n", TAD_ERR_INVALID,
     "config.yaml:2: retry.base_delay_ms: must not exceed retry.max_delay_ms (5000 > 1000)"},
    /* structure */
    {"workers: 4\nrecieve:\n  wait_seconds: 1\n", TAD_ERR_INVALID,
     "config.yaml:2: unknown key \"recieve\""},
    {"receive:\n  wait_second: 1\n", TAD_ERR_INVALID,
     "config.yaml:2: unknown key \"receive.wait_second\""},
    {"workers: 4\nlog:\n  level: info\nworkers: 5\n", TAD_ERR_INVALID,
     "config.yaml:4: workers: duplicate key (first at line 1)"},
    {"receive:\n  wait_seconds: 1\n  wait_seconds: 2\n", TAD_ERR_INVALID,
     "config.yaml:3: receive.wait_seconds: duplicate key (first at line 2)"},
    {"- workers\n", TAD_ERR_INVALID, "config.yaml:1: expected a mapping of keys"},
    {"workers: 4\n---\nworkers: 5\n", TAD_ERR_PARSE,
     "config.yaml:3: only one YAML document is allowed"},
    {"workers: 4\n  receive: 5\n", TAD_ERR_PARSE,
     "config.yaml:2:10: YAML syntax error: mapping values are not allowed in this context"},
    {"workers: [4\n", TAD_ERR_PARSE,
     "config.yaml:2:1: YAML syntax error: did not find expected ',' or ']' while parsing a flow "
     "sequence"},
    /* routes */
    {"routes:\n  - prefix: ''\n    secret_id: s\n", TAD_ERR_INVALID,
     "config.yaml:2: routes[0].prefix: must not be empty"},
    {"routes:\n  - prefix: a/\n", TAD_ERR_INVALID, "config.yaml:2: routes[0]: missing secret_id"},
    {"routes:\n  - prefix: a/\n    secret_id: x\n  - secret_id: y\n", TAD_ERR_INVALID,
     "config.yaml:4: routes[1]: missing prefix"},
    {"routes:\n  - prefix: a/\n    secret_id: x\n    extra: 1\n", TAD_ERR_INVALID,
     "config.yaml:4: routes[0].extra: unknown key (expected prefix, secret_id)"},
    {"routes:\n  - prefix: a/\n    secret_id: x\n  - prefix: a/\n    secret_id: y\n",
     TAD_ERR_INVALID, "config.yaml:4: routes[1].prefix: duplicate route prefix"},
    {"routes: a/=x\n", TAD_ERR_INVALID,
     "config.yaml:1: routes: expected a list of {prefix, secret_id}"},
    {"routes:\n  - a/\n", TAD_ERR_INVALID,
     "config.yaml:2: routes[0]: expected a map with prefix and secret_id"},
};

static void every_validation_error_names_key_and_line(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        struct tad_config *c = NULL;
        struct tad_errinfo err;
        tad_err e = load_str(bad_cases[i].yaml, NULL, &c, &err);
        if (e != bad_cases[i].err || strcmp(err.msg, bad_cases[i].msg) != 0)
            fail_msg("case %zu: got %s \"%s\", want %s \"%s\"", i, tad_err_str(e), err.msg,
                     tad_err_str(bad_cases[i].err), bad_cases[i].msg);
        assert_null(c);
    }
}

static void good_edge_values_are_accepted(void **state)
{
    (void)state;
    static const char *const good[] = {
        "workers: 1\nreceive: {wait_seconds: 0, max_messages: 1, visibility_timeout: 0}\n",
        "workers: 256\nreceive: {wait_seconds: 20, max_messages: 10, visibility_timeout: 43200}\n",
        "metrics:\n  listen: ''\n",
        "metrics:\n  listen: '0.0.0.0:1'\n",
        "metrics:\n  listen: '[::]:65535'\n",
        "metrics:\n  listen: 'localhost:9464'\n",
        "tiktok:\n  api_base: http://localhost:18080\n",
        "tiktok:\n  api_base: 'http://[::1]:8080/x'\n",
        "tiktok:\n  api_base: HTTPS://sandbox-ads.tiktok.com/open_api/v1.3\n",
        "tiktok: {max_file_bytes: 256}\n",
        "validation: {max_invalid_ratio: 1}\n",
        "report_prefix: ''\n",
        "receive:\n",
        "routes: []\n",
        "routes: ~\n",
        "log: {level: WARN, format: Text}\n",
        "queue_url: \"https://user:pw@sqs.us-east-1.amazonaws.com/1/q\"\n",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct tad_config *c = NULL;
        struct tad_errinfo err;
        if (load_str(good[i], NULL, &c, &err) != TAD_OK)
            fail_msg("good case %zu rejected: %s", i, err.msg);
        tad_config_unref(c);
    }
    struct tad_config *c = must_load("report_prefix: ''\nmetrics: {listen: ''}\n", NULL);
    assert_null(c->report_prefix); /* empty = unset for nullable keys */
    assert_string_equal(c->metrics_listen, "");
    tad_config_unref(c);
}

static void queue_url_required_only_for_run(void **state)
{
    (void)state;
    struct tad_config *c = must_load("workers: 2\n", NULL);
    struct tad_errinfo err;
    tad_errinfo_clear(&err);
    assert_int_equal(tad_config_validate_for_run(c, &err), TAD_ERR_INVALID);
    assert_non_null(strstr(err.msg, "queue_url: required by run"));
    tad_config_unref(c);
}

/* ---- files ------------------------------------------------------------------------------ */

static void missing_default_file_is_fine_named_file_is_not(void **state)
{
    (void)state;
    struct tad_config *c = NULL;
    struct tad_errinfo err;
    tad_errinfo_clear(&err);
    env_set("TIKTOK_AUDIENCED_WORKERS", "7");
    assert_int_equal(tad_config_load_env("/nonexistent/tiktok-audienced/config.yaml", false, NULL,
                                         fake_getenv, &c, &err),
                     TAD_OK);
    assert_int_equal(c->workers, 7); /* runs from the environment alone */
    tad_config_unref(c);
    c = NULL;
    assert_int_equal(tad_config_load_env("/nonexistent/tiktok-audienced/config.yaml", true, NULL,
                                         fake_getenv, &c, &err),
                     TAD_ERR_IO);
    assert_null(c);
    assert_string_equal(err.msg, "/nonexistent/tiktok-audienced/config.yaml: no such file");
    /* a directory is not a config file, even as the default path */
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/tests/data/config", srcdir());
    assert_int_not_equal(tad_config_load_env(dir, false, NULL, fake_getenv, &c, &err), TAD_OK);
    assert_null(c);
}

/* Each .yaml file in tests/data/config/good and tests/data/config/bad starts with
 * "# expect: ok" or "# expect: <message after the file name>". */
static void run_data_dir(const char *kind, size_t *count)
{
    char dirpath[512];
    snprintf(dirpath, sizeof(dirpath), "%s/tests/data/config/%s", srcdir(), kind);
    DIR *d = opendir(dirpath);
    if (!d)
        fail_msg("cannot open %s (set TAD_SRCDIR to the source tree)", dirpath);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".yaml") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dirpath, de->d_name);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        char line[512] = "";
        assert_non_null(fgets(line, sizeof(line), f));
        fclose(f);
        line[strcspn(line, "\n")] = '\0';
        assert_true(strncmp(line, "# expect: ", 10) == 0);
        const char *want = line + 10;
        struct tad_config *c = NULL;
        struct tad_errinfo err;
        tad_errinfo_clear(&err);
        tad_err e = tad_config_load_env(path, true, NULL, fake_getenv, &c, &err);
        if (strcmp(want, "ok") == 0) {
            if (e != TAD_OK)
                fail_msg("%s: %s", path, err.msg);
            tad_config_unref(c);
        } else {
            char full[2048];
            snprintf(full, sizeof(full), "%s:%s", path, want);
            if (e == TAD_OK || strcmp(err.msg, full) != 0)
                fail_msg("%s: got \"%s\", want \"%s\"", path, err.msg, full);
            assert_null(c);
        }
        (*count)++;
    }
    closedir(d);
}

static void data_files_load_or_fail_as_expected(void **state)
{
    (void)state;
    size_t good = 0, bad = 0;
    run_data_dir("good", &good);
    run_data_dir("bad", &bad);
    assert_true(good >= 2);
    assert_true(bad >= 4);
}

static void example_file_has_every_key_at_its_default(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/etc/config.yaml.example", srcdir());
    struct tad_config *ex = NULL, *def = NULL;
    struct tad_errinfo err;
    tad_errinfo_clear(&err);
    if (tad_config_load_env(path, true, NULL, fake_getenv, &ex, &err) != TAD_OK)
        fail_msg("%s", err.msg);
    def = must_load(NULL, NULL);
    assert_int_equal(tad_config_diff_reload(def, ex, NULL, NULL), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char text[16384];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    for (size_t i = 0; i < TAD_CK__MAX; i++) {
        const struct tad_config_key *k = &tad_config_keys(NULL)[i];
        const char *leaf = strrchr(k->path, '.');
        char needle[80];
        snprintf(needle, sizeof(needle), "%s:", leaf ? leaf + 1 : k->path);
        if (!strstr(text, needle))
            fail_msg("example lacks %s", k->path);
    }
    tad_config_unref(ex);
    tad_config_unref(def);
}

/* ---- routes ----------------------------------------------------------------------------- */

static void routes_from_yaml_and_env(void **state)
{
    (void)state;
    const char *yaml = "routes:\n"
                       "  - prefix: tiktok/brand-a/\n"
                       "    secret_id: brand_a_creds\n"
                       "  - {prefix: tiktok/brand-b/, secret_id: 'arn:aws:secretsmanager:x'}\n";
    struct tad_config *c = must_load(yaml, NULL);
    assert_int_equal(c->nroutes, 2);
    assert_string_equal(c->routes[0].prefix, "tiktok/brand-a/");
    assert_string_equal(c->routes[0].secret_id, "brand_a_creds");
    assert_string_equal(c->routes[1].prefix, "tiktok/brand-b/");
    assert_string_equal(c->routes[1].secret_id, "arn:aws:secretsmanager:x");
    assert_int_equal(c->source[TAD_CK_ROUTES], TAD_CFG_SRC_FILE);
    tad_config_unref(c);

    /* the environment replaces the file's list; each item splits at its last '=' */
    env_set("TIKTOK_AUDIENCED_ROUTES", " tiktok/dt=2024/=s1 , tiktok/c/=s2,,");
    c = must_load(yaml, NULL);
    assert_int_equal(c->nroutes, 2);
    assert_string_equal(c->routes[0].prefix, "tiktok/dt=2024/");
    assert_string_equal(c->routes[0].secret_id, "s1");
    assert_string_equal(c->routes[1].prefix, "tiktok/c/");
    assert_string_equal(c->routes[1].secret_id, "s2");
    assert_int_equal(c->source[TAD_CK_ROUTES], TAD_CFG_SRC_ENV);
    tad_config_unref(c);

    /* empty = no routes */
    env_values[0] = "";
    c = must_load(yaml, NULL);
    assert_int_equal(c->nroutes, 0);
    tad_config_unref(c);

    struct tad_errinfo err;
    struct tad_config *bad = NULL;
    env_values[0] = "a/=x,b/";
    assert_int_equal(load_str(NULL, NULL, &bad, &err), TAD_ERR_INVALID);
    assert_string_equal(err.msg, "$TIKTOK_AUDIENCED_ROUTES: routes[1]: expected prefix=secret_id");
    env_values[0] = "a/=x,a/=y";
    assert_int_equal(load_str(NULL, NULL, &bad, &err), TAD_ERR_INVALID);
    assert_string_equal(err.msg, "$TIKTOK_AUDIENCED_ROUTES: routes[1].prefix: duplicate route "
                                 "prefix");
    env_values[0] = "a/=";
    assert_int_equal(load_str(NULL, NULL, &bad, &err), TAD_ERR_INVALID);
    assert_string_equal(err.msg, "$TIKTOK_AUDIENCED_ROUTES: routes[0].secret_id: must not be "
                                 "empty");
    env_values[0] = "=x";
    assert_int_equal(load_str(NULL, NULL, &bad, &err), TAD_ERR_INVALID);
    assert_string_equal(err.msg, "$TIKTOK_AUDIENCED_ROUTES: routes[0].prefix: must not be empty");
    assert_null(bad);
}

/* ---- region ----------------------------------------------------------------------------- */

static const char *region_of(const char *yaml, char *buf, size_t size)
{
    struct tad_config *c = must_load(yaml, NULL);
    const char *r = tad_config_region(c, fake_getenv, buf, size);
    tad_config_unref(c);
    return r;
}

static void region_resolution_order(void **state)
{
    (void)state;
    char buf[64];
    const char *q = "queue_url: https://sqs.ap-southeast-2.amazonaws.com/123456789012/q\n";
    assert_string_equal(region_of(q, buf, sizeof(buf)), "ap-southeast-2");
    assert_string_equal(
        region_of("queue_url: https://eu-central-1.queue.amazonaws.com/1/q\n", buf, sizeof(buf)),
        "eu-central-1");
    assert_string_equal(
        region_of("queue_url: https://sqs.cn-north-1.amazonaws.com.cn/1/q\n", buf, sizeof(buf)),
        "cn-north-1");
    assert_null(region_of("queue_url: http://localhost:4566/000000000000/q\n", buf, sizeof(buf)));
    assert_null(region_of("queue_url: https://sqs.example.com/1/q\n", buf, sizeof(buf)));
    assert_null(region_of("workers: 1\n", buf, sizeof(buf)));

    env_set("AWS_DEFAULT_REGION", "us-west-1");
    assert_string_equal(region_of(q, buf, sizeof(buf)), "us-west-1");
    env_set("AWS_REGION", "us-west-2");
    assert_string_equal(region_of(q, buf, sizeof(buf)), "us-west-2");
    char yaml[256];
    snprintf(yaml, sizeof(yaml), "%sregion: eu-west-3\n", q);
    assert_string_equal(region_of(yaml, buf, sizeof(buf)), "eu-west-3");
    /* too small a buffer gives NULL rather than a truncated region */
    assert_null(region_of(yaml, buf, 4));
}

/* ---- printer ---------------------------------------------------------------------------- */

static char *print_to_string(const struct tad_config *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(tad_config_print(c, f), TAD_OK);
    fclose(f);
    return text;
}

static void printer_shows_every_key_with_source(void **state)
{
    (void)state;
    env_set("TIKTOK_AUDIENCED_RECEIVE_WAIT_SECONDS", "7");
    struct tad_config_overrides cli = TAD_CONFIG_OVERRIDES_INIT;
    cli.workers = 9;
    const char *yaml = "queue_url: https://sqs.us-east-1.amazonaws.com/1/q\n"
                       "report_prefix: \"rep \\\"x\\\"/\"\n"
                       "routes:\n  - {prefix: a/, secret_id: sa}\n"
                       "validation: {max_invalid_ratio: 0.1}\n";
    struct tad_config *c = must_load(yaml, &cli);
    char *text = print_to_string(c);
    for (size_t i = 0; i < TAD_CK__MAX; i++) {
        const struct tad_config_key *k = &tad_config_keys(NULL)[i];
        const char *dot = strchr(k->path, '.');
        char needle[96];
        if (dot) {
            snprintf(needle, sizeof(needle), "\n%.*s:\n", (int)(dot - k->path), k->path);
            if (!strstr(text, needle))
                fail_msg("no section for %s in:\n%s", k->path, text);
            snprintf(needle, sizeof(needle), "\n  %s: ", dot + 1);
        } else {
            snprintf(needle, sizeof(needle), "\n%s: ", k->path);
        }
        if (!strstr(text, needle))
            fail_msg("no %s in:\n%s", k->path, text);
    }
    assert_non_null(strstr(text, "\nworkers: 9 "));
    assert_non_null(strstr(text, "# cli\n"));
    assert_non_null(strstr(text, "  wait_seconds: 7 "));
    assert_non_null(strstr(text, "# env\n"));
    assert_non_null(strstr(text, "# file\n"));
    assert_non_null(strstr(text, "# default\n"));
    assert_non_null(strstr(text, "\nregion: ~ "));
    assert_non_null(strstr(text, "  - prefix: \"a/\"\n    secret_id: \"sa\"\n"));
    assert_non_null(strstr(text, "report_prefix: \"rep \\\"x\\\"/\""));

    /* the printed YAML reads back to the same configuration */
    struct tad_config *back = must_load(text, NULL);
    assert_int_equal(tad_config_diff_reload(c, back, NULL, NULL), 0);
    tad_config_unref(back);
    free(text);
    tad_config_unref(c);
}

static void printer_redacts_url_userinfo(void **state)
{
    (void)state;
    struct tad_config *c =
        must_load("queue_url: https://AKIDEXAMPLE:s3cr3tpassw0rd@sqs.us-east-1.amazonaws.com/1/q\n"
                  "failure_queue_url: http://u:hunter2hunter2@localhost:4566/1/dlq\n"
                  "tiktok: {api_base: 'https://tok:zzsecretzz@example.com/x@y'}\n",
                  NULL);
    char *text = print_to_string(c);
    assert_null(strstr(text, "s3cr3tpassw0rd"));
    assert_null(strstr(text, "AKIDEXAMPLE"));
    assert_null(strstr(text, "hunter2"));
    assert_null(strstr(text, "zzsecretzz"));
    assert_non_null(
        strstr(text, "queue_url: \"https://<redacted>@sqs.us-east-1.amazonaws.com/1/q\""));
    assert_non_null(strstr(text, "\"http://<redacted>@localhost:4566/1/dlq\""));
    assert_non_null(strstr(text, "\"https://<redacted>@example.com/x@y\""));
    free(text);
    tad_config_unref(c);
}

/* ---- reload diff, references ------------------------------------------------------------ */

struct seen {
    char paths[TAD_CK__MAX][64];
    bool live[TAD_CK__MAX];
    size_t n;
};

static void record_change(void *ctx, const struct tad_config_key *key, bool live)
{
    struct seen *s = ctx;
    snprintf(s->paths[s->n], sizeof(s->paths[0]), "%s", key->path);
    s->live[s->n] = live;
    s->n++;
}

/* Values from the environment must be UTF-8 like the file's (the printed configuration has to
 * load again), and what the printer writes must load back to the same values. */
static void environment_must_be_utf8_and_print_round_trips(void **state)
{
    (void)state;
    struct tad_config *cfg = NULL;
    struct tad_errinfo err;
    env_set("TIKTOK_AUDIENCED_KEY_PREFIX", "caf\xe9/"); /* Latin-1, not UTF-8 */
    assert_int_equal(load_str(NULL, NULL, &cfg, &err), TAD_ERR_INVALID);
    assert_non_null(strstr(err.msg, "not valid UTF-8"));
    env_n = 0;
    env_set("TIKTOK_AUDIENCED_KEY_PREFIX", "caf\xc3\xa9 \xc2\x85 \xef\xbb\xbf/"); /* NEL, BOM */
    cfg = must_load(NULL, NULL);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(tad_config_print(cfg, f), TAD_OK);
    assert_int_equal(fclose(f), 0);
    env_n = 0;
    struct tad_config *again = must_load(text, NULL);
    assert_string_equal(again->key_prefix, cfg->key_prefix);
    free(text);
    tad_config_unref(again);
    tad_config_unref(cfg);
}

static void reload_diff_lists_changes_and_liveness(void **state)
{
    (void)state;
    struct tad_config *old = must_load("workers: 4\nroutes: [{prefix: a/, secret_id: x}]\n", NULL);
    struct tad_config *same = must_load("workers: 4\nroutes: [{prefix: a/, secret_id: x}]\n", NULL);
    struct seen s = {0};
    assert_int_equal(tad_config_diff_reload(old, same, record_change, &s), 0);
    assert_int_equal(s.n, 0);

    struct tad_config *nw = must_load("workers: 8\n"
                                      "log: {level: debug}\n"
                                      "routes: [{prefix: a/, secret_id: y}]\n"
                                      "retry: {max_attempts: 2}\n"
                                      "metrics: {listen: ''}\n"
                                      "queue_url: https://sqs.us-east-1.amazonaws.com/1/q\n"
                                      "validation: {max_invalid_ratio: 0.5}\n",
                                      NULL);
    assert_int_equal(tad_config_diff_reload(old, nw, record_change, &s), 7);
    assert_int_equal(s.n, 7);
    /* table order */
    const char *want[] = {"queue_url",
                          "workers",
                          "routes",
                          "retry.max_attempts",
                          "validation.max_invalid_ratio",
                          "metrics.listen",
                          "log.level"};
    const bool want_live[] = {false, false, true, false, true, false, true};
    for (size_t i = 0; i < 7; i++) {
        assert_string_equal(s.paths[i], want[i]);
        assert_int_equal(s.live[i], want_live[i]);
    }
    /* restart-only keys named by the contract */
    static const enum tad_config_key_id restart[] = {TAD_CK_QUEUE_URL,
                                                     TAD_CK_WORKERS,
                                                     TAD_CK_METRICS_LISTEN,
                                                     TAD_CK_SPOOL_DIR,
                                                     TAD_CK_REGION,
                                                     TAD_CK_RETRY_MAX_ATTEMPTS,
                                                     TAD_CK_RETRY_BASE_DELAY_MS,
                                                     TAD_CK_RETRY_MAX_DELAY_MS,
                                                     TAD_CK_TIKTOK_API_BASE};
    for (size_t i = 0; i < sizeof(restart) / sizeof(restart[0]); i++)
        assert_false(tad_config_keys(NULL)[restart[i]].flags & TAD_CFG_F_LIVE);
    static const enum tad_config_key_id live[] = {TAD_CK_LOG_LEVEL,
                                                  TAD_CK_LOG_FORMAT,
                                                  TAD_CK_RECEIVE_WAIT_SECONDS,
                                                  TAD_CK_RECEIVE_MAX_MESSAGES,
                                                  TAD_CK_RECEIVE_VISIBILITY_TIMEOUT,
                                                  TAD_CK_KEY_PREFIX,
                                                  TAD_CK_SECRET_ID,
                                                  TAD_CK_TIKTOK_MAX_REQUESTS_PER_SECOND,
                                                  TAD_CK_VALIDATION_MAX_INVALID_RATIO,
                                                  TAD_CK_ROUTES,
                                                  TAD_CK_SECRET_TTL_SECONDS,
                                                  TAD_CK_REPORT_PREFIX,
                                                  TAD_CK_FAILURE_QUEUE_URL};
    for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
        assert_true(tad_config_keys(NULL)[live[i]].flags & TAD_CFG_F_LIVE);
    tad_config_unref(old);
    tad_config_unref(same);
    tad_config_unref(nw);
}

static void slot_swaps_snapshots(void **state)
{
    (void)state;
    struct tad_config_slot slot;
    tad_config_slot_init(&slot);
    assert_null(tad_config_slot_get(&slot));
    tad_config_slot_swap(&slot, must_load("workers: 2\n", NULL));
    struct tad_config *held = tad_config_slot_get(&slot);
    assert_int_equal(held->workers, 2);
    tad_config_slot_swap(&slot, must_load("workers: 3\n", NULL));
    /* the old snapshot stays valid for whoever still holds it */
    assert_int_equal(held->workers, 2);
    struct tad_config *cur = tad_config_slot_get(&slot);
    assert_int_equal(cur->workers, 3);
    assert_ptr_equal(tad_config_ref(cur), cur);
    tad_config_unref(cur);
    tad_config_unref(cur);
    assert_null(tad_config_unref(held));
    assert_null(tad_config_unref(NULL));
    tad_config_slot_release(&slot);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(defaults_match_the_spec, reset_env),
        cmocka_unit_test_setup(key_table_is_consistent, reset_env),
        cmocka_unit_test_setup(file_values_are_read, reset_env),
        cmocka_unit_test_setup(env_beats_file, reset_env),
        cmocka_unit_test_setup(cli_beats_env, reset_env),
        cmocka_unit_test_setup(every_validation_error_names_key_and_line, reset_env),
        cmocka_unit_test_setup(good_edge_values_are_accepted, reset_env),
        cmocka_unit_test_setup(queue_url_required_only_for_run, reset_env),
        cmocka_unit_test_setup(missing_default_file_is_fine_named_file_is_not, reset_env),
        cmocka_unit_test_setup(data_files_load_or_fail_as_expected, reset_env),
        cmocka_unit_test_setup(example_file_has_every_key_at_its_default, reset_env),
        cmocka_unit_test_setup(routes_from_yaml_and_env, reset_env),
        cmocka_unit_test_setup(region_resolution_order, reset_env),
        cmocka_unit_test_setup(printer_shows_every_key_with_source, reset_env),
        cmocka_unit_test_setup(printer_redacts_url_userinfo, reset_env),
        cmocka_unit_test_setup(environment_must_be_utf8_and_print_round_trips, reset_env),
        cmocka_unit_test_setup(reload_diff_lists_changes_and_liveness, reset_env),
        cmocka_unit_test_setup(slot_swaps_snapshots, reset_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
