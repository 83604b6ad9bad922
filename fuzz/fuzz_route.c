/* fuzz_route.c - libFuzzer target: the input is an S3 key, routed with a table of overlapping
 * route prefixes and with an empty key prefix; also fed to the format and action parsers and
 * the CSV header matcher. Checks the invariants of every accepted route. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tad/format.h"
#include "tad/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        __builtin_trap();
}

static void check_route(const struct tad_route_table *t, const char *key, size_t len)
{
    struct tad_route r;
    struct tad_errinfo info;
    tad_errinfo_clear(&info);
    tad_err err = tad_route_resolve(t, key, len, &r, &info);
    if (err != TAD_OK) {
        check(err == TAD_ERR_INVALID && info.msg[0] != '\0');
        return;
    }
    if (r.kind == TAD_ROUTE_IGNORE) {
        check(r.ignore_reason != TAD_ROUTE_IGNORE_NONE);
        return;
    }
    check(r.kind == TAD_ROUTE_JOB);
    check((unsigned)r.format < TAD_FORMAT__MAX);
    check(r.secret_id != NULL);
    size_t fl = strlen(r.file_name);
    check(fl > 0 && fl <= len && memcmp(key + len - fl, r.file_name, fl) == 0);
    check(memchr(r.file_name, '/', fl) == NULL);
    if (r.by_id) {
        size_t n = strlen(r.audience_id);
        check(n >= 1 && n <= TAD_ROUTE_ID_MAX_DIGITS && r.audience_name[0] == '\0');
        for (size_t i = 0; i < n; i++)
            check(r.audience_id[i] >= '0' && r.audience_id[i] <= '9');
    } else {
        size_t n = strlen(r.audience_name);
        check(n >= 1 && n <= TAD_ROUTE_NAME_MAX_CHARS * 4 && r.audience_id[0] == '\0');
        check(memchr(r.audience_name, '/', n) == NULL);
    }
    check(strcmp(tad_route_action_name(r.action), "?") != 0);
    check(strcmp(tad_format_upload_name(r.format), "?") != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *key = (const char *)data;
    static const struct tad_route_rule rules[] = {
        {"tiktok/", "all"}, {"tiktok/a", "a"}, {"tiktok/ab/", "ab"}, {"", "empty"}};
    static const struct tad_route_table deflt = {NULL, NULL, rules, 4};
    static const struct tad_route_table noprefix = {"", "d", NULL, 0};
    check_route(&deflt, key, size);
    check_route(&noprefix, key, size);

    enum tad_format f;
    if (tad_format_parse(key, size, &f, NULL) == TAD_OK)
        check((unsigned)f < TAD_FORMAT__MAX);
    enum tad_action a;
    if (tad_route_action_parse(key, size, &a, NULL) == TAD_OK)
        check(a == TAD_ACTION_APPEND || a == TAD_ACTION_REMOVE || a == TAD_ACTION_REPLACE);
    for (int i = 0; i < TAD_FORMAT__MAX; i++)
        (void)tad_format_header_matches((enum tad_format)i, key, size);
    return 0;
}
