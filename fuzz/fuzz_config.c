/* fuzz_config.c - libFuzzer target: the configuration loader. The input up to the first NUL
 * byte is the YAML file given to tad_config_load_text(); after it come environment lines
 * "NAME=value" (NAME with or without the TIKTOK_AUDIENCED_ prefix; STATE_DIRECTORY and the
 * AWS region variables too) served by an injected getenv, so the environment layer is fuzzed
 * as well. On success every value must lie inside its key's table range, the printed YAML
 * must load again (with an empty environment) to the very same values, and the region lookup
 * must stay within its buffer; on failure the error must be INVALID, PARSE, IO or NOMEM with a
 * message. Single-threaded: the environment lives in file-scope state. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tad/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ENV 12

struct env_entry {
    const char *name;
    const char *value;
};

static struct env_entry env[MAX_ENV];
static size_t nenv;

static void check(int cond)
{
    if (!cond)
        __builtin_trap();
}

static const char *fuzz_getenv(const char *name)
{
    const size_t plen = strlen(TAD_CONFIG_ENV_PREFIX);
    for (size_t i = 0; i < nenv; i++) {
        if (strcmp(env[i].name, name) == 0)
            return env[i].value;
        if (strncmp(name, TAD_CONFIG_ENV_PREFIX, plen) == 0 &&
            strcmp(env[i].name, name + plen) == 0)
            return env[i].value;
    }
    return NULL;
}

static const char *empty_getenv(const char *name)
{
    (void)name;
    return NULL;
}

/* Splits the NUL-terminated text s (modified in place) into environment entries. */
static void parse_env(char *s)
{
    nenv = 0;
    while (*s && nenv < MAX_ENV) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        char *eq = strchr(s, '=');
        if (eq && eq != s) {
            *eq = '\0';
            env[nenv].name = s;
            env[nenv].value = eq + 1;
            nenv++;
        }
        if (!nl)
            break;
        s = nl + 1;
    }
}

/* True when the URL has a user:pass@ part, which tad_config_print() redacts. */
static int has_userinfo(const char *url)
{
    if (!url)
        return 0;
    const char *p = strstr(url, "://");
    if (!p)
        return 0;
    p += 3;
    size_t authlen = strcspn(p, "/?#");
    return memchr(p, '@', authlen) != NULL;
}

static void check_ranges(const struct tad_config *cfg)
{
    size_t n = 0;
    const struct tad_config_key *keys = tad_config_keys(&n);
    check(n == TAD_CK__MAX);
    for (size_t i = 0; i < n; i++) {
        const struct tad_config_key *k = &keys[i];
        const char *field = (const char *)cfg + k->offset;
        check(cfg->source[i] <= TAD_CFG_SRC_CLI);
        switch (k->type) {
        case TAD_CFG_STRING: {
            const char *s;
            memcpy(&s, field, sizeof(s));
            if (!(k->flags & TAD_CFG_F_NULLABLE))
                check(s != NULL);
            break;
        }
        case TAD_CFG_INT: {
            long v;
            memcpy(&v, field, sizeof(v));
            check(v >= k->min && v <= k->max);
            break;
        }
        case TAD_CFG_DOUBLE: {
            double v;
            memcpy(&v, field, sizeof(v));
            check(!isnan(v) && v >= k->dmin && v <= k->dmax);
            break;
        }
        case TAD_CFG_BOOL:
            break;
        case TAD_CFG_ENUM: {
            int v;
            memcpy(&v, field, sizeof(v));
            int names = 0;
            while (k->enum_names[names])
                names++;
            check(v >= 0 && v < names);
            break;
        }
        case TAD_CFG_ROUTES:
            check(cfg->nroutes <= TAD_CONFIG_MAX_ROUTES);
            check(cfg->nroutes == 0 || cfg->routes != NULL);
            for (size_t r = 0; r < cfg->nroutes; r++) {
                check(cfg->routes[r].prefix && cfg->routes[r].prefix[0]);
                check(cfg->routes[r].secret_id && cfg->routes[r].secret_id[0]);
            }
            break;
        }
    }
    check(cfg->key_prefix != NULL);
    size_t kp = strlen(cfg->key_prefix);
    check(kp == 0 || cfg->key_prefix[kp - 1] == '/');
}

static void check_failure(tad_err e, const struct tad_errinfo *info)
{
    check(e == TAD_ERR_INVALID || e == TAD_ERR_PARSE || e == TAD_ERR_IO || e == TAD_ERR_NOMEM);
    check(info->msg[0] != '\0');
}

/* Prints cfg, loads the printout with no environment and compares. */
static void check_round_trip(const struct tad_config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    check(f != NULL);
    tad_err e = tad_config_print(cfg, f);
    check(fclose(f) == 0);
    check(e == TAD_OK);
    check(text != NULL && len > 0 && strlen(text) == len);

    /* user:pass@ in a URL prints as <redacted>: that value cannot come back */
    int redacted = has_userinfo(cfg->queue_url) || has_userinfo(cfg->failure_queue_url) ||
                   has_userinfo(cfg->tiktok_api_base);
    struct tad_config *again = NULL;
    struct tad_errinfo info;
    tad_errinfo_clear(&info);
    e = tad_config_load_text(text, len, "printed", NULL, empty_getenv, &again, &info);
    if (!redacted) {
        if (e != TAD_OK) {
            fprintf(stderr, "reload failed: %s\n--- printed ---\n%s", info.msg, text);
            check(0);
        }
        size_t changes = tad_config_diff_reload(cfg, again, NULL, NULL);
        if (changes != 0)
            fprintf(stderr, "round trip changed %zu keys\n--- printed ---\n%s", changes, text);
        check(changes == 0);
    } else if (e != TAD_OK) {
        check_failure(e, &info);
    }
    tad_config_unref(again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    check(copy != NULL);
    memcpy(copy, data, size);
    copy[size] = '\0';
    size_t ylen = strlen(copy);
    nenv = 0;
    if (ylen < size)
        parse_env(copy + ylen + 1);

    struct tad_config *cfg = NULL;
    struct tad_errinfo info;
    tad_errinfo_clear(&info);
    tad_err e = tad_config_load_text(copy, ylen, "fuzz.yaml", NULL, fuzz_getenv, &cfg, &info);
    if (e != TAD_OK) {
        check(cfg == NULL);
        check_failure(e, &info);
    } else {
        check(cfg != NULL);
        check_ranges(cfg);
        check_round_trip(cfg);
        char region[64];
        const char *r = tad_config_region(cfg, fuzz_getenv, region, sizeof(region));
        if (r)
            check(r == region && strlen(region) < sizeof(region));
        tad_errinfo_clear(&info);
        if (tad_config_validate_for_run(cfg, &info) != TAD_OK)
            check(info.msg[0] != '\0');
        tad_config_unref(cfg);
    }
    nenv = 0;
    free(copy);
    return 0;
}
