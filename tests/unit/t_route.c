/* t_route.c - unit tests for the S3 key router: layout, ignore rules, every rejection, and
 * longest-prefix secret routing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tad/route.h"

static const struct tad_route_rule rules[] = {
    {"tiktok/brand", "secret_brand"},
    {"tiktok/brandA/", "secret_a"},
    {"tiktok/brandA/EMAIL_SHA256/", "secret_a_email"},
    {"tiktok/brandA/", "secret_a_duplicate"}, /* same length: the first one wins */
    {"other/", "secret_other"},
};

static const struct tad_route_table table = {NULL, "default_secret", rules,
                                             sizeof(rules) / sizeof(rules[0])};

struct ok_case {
    const char *key;
    const char *name; /* NULL when by id */
    const char *id;   /* NULL when by name */
    enum tad_format format;
    enum tad_action action;
    bool explicit_action;
    const char *file;
    const char *secret;
};

static const struct ok_case ok_cases[] = {
    {"tiktok/Summer Buyers/EMAIL_SHA256/part-0001.csv", "Summer Buyers", NULL,
     TAD_FORMAT_EMAIL_SHA256, TAD_ACTION_APPEND, false, "part-0001.csv", "default_secret"},
    {"tiktok/buyers/phone_sha256/a.csv.gz", "buyers", NULL, TAD_FORMAT_PHONE_SHA256,
     TAD_ACTION_APPEND, false, "a.csv.gz", "default_secret"},
    {"tiktok/buyers/Maid_Sha256/x", "buyers", NULL, TAD_FORMAT_FIRST_SHA256, TAD_ACTION_APPEND,
     false, "x", "default_secret"},
    {"tiktok/buyers/MAID_MD5/x", "buyers", NULL, TAD_FORMAT_FIRST_MD5, TAD_ACTION_APPEND, false,
     "x", "default_secret"},
    {"tiktok/buyers/email/remove/f.csv", "buyers", NULL, TAD_FORMAT_EMAIL, TAD_ACTION_REMOVE, true,
     "f.csv", "default_secret"},
    {"tiktok/buyers/PHONE/REPLACE/f.csv", "buyers", NULL, TAD_FORMAT_PHONE, TAD_ACTION_REPLACE,
     true, "f.csv", "default_secret"},
    {"tiktok/buyers/IDFA/Append/f", "buyers", NULL, TAD_FORMAT_IDFA, TAD_ACTION_APPEND, true, "f",
     "default_secret"},
    {"tiktok/buyers/gaid/f", "buyers", NULL, TAD_FORMAT_GAID, TAD_ACTION_APPEND, false, "f",
     "default_secret"},
    {"tiktok/buyers/maid/f", "buyers", NULL, TAD_FORMAT_MAID, TAD_ACTION_APPEND, false, "f",
     "default_secret"},
    {"tiktok/buyers/IDFA_MD5/f", "buyers", NULL, TAD_FORMAT_IDFA_MD5, TAD_ACTION_APPEND, false, "f",
     "default_secret"},
    {"tiktok/buyers/GAID_MD5/f", "buyers", NULL, TAD_FORMAT_GAID_MD5, TAD_ACTION_APPEND, false, "f",
     "default_secret"},
    {"tiktok/buyers/FIRST_MD5/f", "buyers", NULL, TAD_FORMAT_FIRST_MD5, TAD_ACTION_APPEND, false,
     "f", "default_secret"},
    {"tiktok/buyers/GAID_SHA256/f", "buyers", NULL, TAD_FORMAT_GAID_SHA256, TAD_ACTION_APPEND,
     false, "f", "default_secret"},
    {"tiktok/buyers/IDFA_SHA256/f", "buyers", NULL, TAD_FORMAT_IDFA_SHA256, TAD_ACTION_APPEND,
     false, "f", "default_secret"},
    /* names are case-sensitive and may hold any printable UTF-8, including ':' */
    {"tiktok/Käufer – Sommer 🌞/EMAIL/f", "Käufer – Sommer 🌞", NULL, TAD_FORMAT_EMAIL,
     TAD_ACTION_APPEND, false, "f", "default_secret"},
    {"tiktok/ID:123/EMAIL/f", "ID:123", NULL, TAD_FORMAT_EMAIL, TAD_ACTION_APPEND, false, "f",
     "default_secret"},
    {"tiktok/a:b/EMAIL/f", "a:b", NULL, TAD_FORMAT_EMAIL, TAD_ACTION_APPEND, false, "f",
     "default_secret"},
    /* id targets */
    {"tiktok/id:7123456789012345678/EMAIL_SHA256/f.csv", NULL, "7123456789012345678",
     TAD_FORMAT_EMAIL_SHA256, TAD_ACTION_APPEND, false, "f.csv", "default_secret"},
    {"tiktok/id:1/PHONE/replace/f.csv", NULL, "1", TAD_FORMAT_PHONE, TAD_ACTION_REPLACE, true,
     "f.csv", "default_secret"},
    {"tiktok/id:12345678901234567890/EMAIL/f", NULL, "12345678901234567890", TAD_FORMAT_EMAIL,
     TAD_ACTION_APPEND, false, "f", "default_secret"},
    /* longest route prefix wins, matched on the full key */
    {"tiktok/brandA/EMAIL_SHA256/f", "brandA", NULL, TAD_FORMAT_EMAIL_SHA256, TAD_ACTION_APPEND,
     false, "f", "secret_a_email"},
    {"tiktok/brandA/PHONE_SHA256/f", "brandA", NULL, TAD_FORMAT_PHONE_SHA256, TAD_ACTION_APPEND,
     false, "f", "secret_a"},
    {"tiktok/brandB/PHONE_SHA256/f", "brandB", NULL, TAD_FORMAT_PHONE_SHA256, TAD_ACTION_APPEND,
     false, "f", "secret_brand"},
    {"tiktok/brandA/email_sha256/f", "brandA", NULL, TAD_FORMAT_EMAIL_SHA256, TAD_ACTION_APPEND,
     false, "f", "secret_a"}, /* route prefixes are case-sensitive */
    {"tiktok/bran/EMAIL/f", "bran", NULL, TAD_FORMAT_EMAIL, TAD_ACTION_APPEND, false, "f",
     "default_secret"},
    /* the file name is the last segment, whatever it holds */
    {"tiktok/x/EMAIL/append/..", "x", NULL, TAD_FORMAT_EMAIL, TAD_ACTION_APPEND, true, "..",
     "default_secret"},
    {"tiktok/x/EMAIL/data file (1).csv", "x", NULL, TAD_FORMAT_EMAIL, TAD_ACTION_APPEND, false,
     "data file (1).csv", "default_secret"},
};

static void resolves_valid_keys(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
        const struct ok_case *c = &ok_cases[i];
        struct tad_route r;
        struct tad_errinfo info;
        tad_errinfo_clear(&info);
        tad_err err = tad_route_resolve(&table, c->key, strlen(c->key), &r, &info);
        if (err != TAD_OK)
            fail_msg("%s: %s (%s)", c->key, tad_err_str(err), info.msg);
        assert_int_equal(r.kind, TAD_ROUTE_JOB);
        assert_int_equal(r.ignore_reason, TAD_ROUTE_IGNORE_NONE);
        if (c->name) {
            assert_false(r.by_id);
            assert_string_equal(r.audience_name, c->name);
            assert_string_equal(r.audience_id, "");
        } else {
            assert_true(r.by_id);
            assert_string_equal(r.audience_id, c->id);
            assert_string_equal(r.audience_name, "");
        }
        assert_int_equal(r.format, c->format);
        assert_int_equal(r.action, c->action);
        assert_int_equal(r.action_explicit, c->explicit_action);
        assert_string_equal(r.file_name, c->file);
        assert_non_null(r.secret_id);
        assert_string_equal(r.secret_id, c->secret);
        if (strcmp(c->secret, "default_secret") == 0)
            assert_null(r.route_prefix);
        else
            assert_non_null(r.route_prefix);
    }
}

struct ignore_case {
    const char *key;
    enum tad_route_ignore_reason why;
};

static const struct ignore_case ignore_cases[] = {
    {"other/buyers/EMAIL/f", TAD_ROUTE_IGNORE_OUTSIDE_PREFIX},
    {"TikTok/buyers/EMAIL/f", TAD_ROUTE_IGNORE_OUTSIDE_PREFIX},
    {"tiktok", TAD_ROUTE_IGNORE_OUTSIDE_PREFIX},
    {"x/tiktok/buyers/EMAIL/f", TAD_ROUTE_IGNORE_OUTSIDE_PREFIX},
    {"tiktok/", TAD_ROUTE_IGNORE_FOLDER_MARKER},
    {"tiktok/buyers/", TAD_ROUTE_IGNORE_FOLDER_MARKER},
    {"tiktok/buyers/EMAIL/", TAD_ROUTE_IGNORE_FOLDER_MARKER},
    {"tiktok/buyers/EMAIL/remove/", TAD_ROUTE_IGNORE_FOLDER_MARKER},
    {"tiktok/buyers/BOGUS/a/b/c/", TAD_ROUTE_IGNORE_FOLDER_MARKER},
};

static void ignores_foreign_keys_and_folders(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(ignore_cases) / sizeof(ignore_cases[0]); i++) {
        const struct ignore_case *c = &ignore_cases[i];
        struct tad_route r;
        tad_err err = tad_route_resolve(&table, c->key, strlen(c->key), &r, NULL);
        if (err != TAD_OK)
            fail_msg("%s: %s", c->key, tad_err_str(err));
        assert_int_equal(r.kind, TAD_ROUTE_IGNORE);
        if (r.ignore_reason != c->why)
            fail_msg("%s: reason %d", c->key, r.ignore_reason);
        assert_null(r.secret_id);
    }
}

struct bad_case {
    const char *key;
    const char *msg; /* substring expected in info.msg */
};

static const struct bad_case bad_cases[] = {
    {"tiktok/buyers/EMAIL", "too few path segments"},
    {"tiktok/buyers", "too few path segments"},
    {"tiktok/f.csv", "too few path segments"},
    {"tiktok/buyers/EMAIL/append/sub/f.csv", "nested too deeply"},
    {"tiktok/a/b/c/d/e/f", "nested too deeply"},
    {"tiktok//EMAIL/f", "empty path segment"},
    {"tiktok/buyers//f", "empty path segment"},
    {"tiktok/buyers/EMAIL//f", "empty path segment"},
    {"tiktok//buyers/EMAIL/f", "empty path segment"},
    {"tiktok/buyers/EMAIL_SHA1/f", "unknown format 'EMAIL_SHA1'"},
    {"tiktok/buyers/MULTIPLE_TYPES/f", "unknown format"},
    {"tiktok/buyers/EMAIL_SHA256 /f", "unknown format"},
    {"tiktok/buyers/csv/EMAIL/f", "unknown format 'csv'"},
    {"tiktok/buyers/EMAIL/delete/f", "unknown action 'delete'"},
    {"tiktok/buyers/EMAIL/2024/f.csv", "unknown action '2024'"},
    {"tiktok/buyers/EMAIL/appendx/f", "unknown action"},
    {"tiktok/id:/EMAIL/f", "audience id"},
    {"tiktok/id:12a/EMAIL/f", "audience id"},
    {"tiktok/id:-1/EMAIL/f", "audience id"},
    {"tiktok/id: 1/EMAIL/f", "audience id"},
    {"tiktok/id:123456789012345678901/EMAIL/f", "audience id"},
    {"tiktok/bad\tname/EMAIL/f", "audience name holds a control character"},
    {"tiktok/bad\x7fname/EMAIL/f", "audience name holds a control character"},
    {"tiktok/bad\xc2\x85name/EMAIL/f", "audience name holds a control character"},
    {"tiktok/bad\xffname/EMAIL/f", "audience name is not valid UTF-8"},
    {"tiktok/bad\xc3name/EMAIL/f", "audience name is not valid UTF-8"},
    {"tiktok/over\xc0\xaflong/EMAIL/f", "audience name is not valid UTF-8"},
    {"tiktok/surrogate\xed\xa0\x80/EMAIL/f", "audience name is not valid UTF-8"},
    {"tiktok/big\xf4\x90\x80\x80/EMAIL/f", "audience name is not valid UTF-8"},
    {"tiktok/buyers/EMAIL/bad\nfile", "file name holds a control character"},
    {"tiktok/buyers/EMAIL/bad\xfe", "file name is not valid UTF-8"},
    {"", "empty object key"},
};

static void rejects_bad_layouts(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        struct tad_route r;
        r.kind = TAD_ROUTE_IGNORE;
        r.audience_name[0] = 'Z';
        struct tad_errinfo info;
        tad_errinfo_clear(&info);
        tad_err err = tad_route_resolve(&table, c->key, strlen(c->key), &r, &info);
        if (err != TAD_ERR_INVALID)
            fail_msg("key %zu: expected invalid, got %s", i, tad_err_str(err));
        if (!strstr(info.msg, c->msg))
            fail_msg("key %zu: message '%s' lacks '%s'", i, info.msg, c->msg);
        /* outputs untouched on failure */
        assert_int_equal(r.kind, TAD_ROUTE_IGNORE);
        assert_int_equal(r.audience_name[0], 'Z');
    }
}

/* dst = unit repeated n times (dst must be large enough) */
static void repeat(char *dst, const char *unit, int n)
{
    size_t ul = strlen(unit);
    for (int i = 0; i < n; i++)
        memcpy(dst + (size_t)i * ul, unit, ul);
    dst[(size_t)n * ul] = '\0';
}

static void audience_name_length_counts_code_points(void **state)
{
    (void)state;
    char key[1100];
    char name[600];
    struct tad_route r;
    struct tad_errinfo info;

    /* 128 ASCII characters: fine; 129: too long */
    memset(name, 'a', 129);
    name[128] = '\0';
    assert_true(snprintf(key, sizeof(key), "tiktok/%s/EMAIL/f", name) < (int)sizeof(key));
    assert_int_equal(tad_route_resolve(&table, key, strlen(key), &r, NULL), TAD_OK);
    assert_int_equal(strlen(r.audience_name), 128);
    name[128] = 'a';
    name[129] = '\0';
    assert_true(snprintf(key, sizeof(key), "tiktok/%s/EMAIL/f", name) < (int)sizeof(key));
    tad_errinfo_clear(&info);
    assert_int_equal(tad_route_resolve(&table, key, strlen(key), &r, &info), TAD_ERR_INVALID);
    assert_non_null(strstr(info.msg, "129 characters"));

    /* 128 four-byte characters (512 bytes) fit; 129 do not */
    repeat(name, "\xf0\x9f\x98\x80", 128); /* U+1F600 */
    assert_true(snprintf(key, sizeof(key), "tiktok/%s/EMAIL/f", name) < (int)sizeof(key));
    assert_int_equal(tad_route_resolve(&table, key, strlen(key), &r, NULL), TAD_OK);
    assert_int_equal(strlen(r.audience_name), 512);
    assert_string_equal(r.audience_name, name);
    repeat(name, "\xf0\x9f\x98\x80", 129);
    assert_true(snprintf(key, sizeof(key), "tiktok/%s/EMAIL/f", name) < (int)sizeof(key));
    assert_int_equal(tad_route_resolve(&table, key, strlen(key), &r, NULL), TAD_ERR_INVALID);

    /* 128 two-byte characters */
    repeat(name, "\xc3\xa9", 128);
    assert_true(snprintf(key, sizeof(key), "tiktok/%s/EMAIL/f", name) < (int)sizeof(key));
    assert_int_equal(tad_route_resolve(&table, key, strlen(key), &r, NULL), TAD_OK);
}

static void key_limits(void **state)
{
    (void)state;
    char key[1100];
    struct tad_route r;
    struct tad_errinfo info;
    /* exactly 1024 bytes: fine; the file name takes the rest */
    int n = snprintf(key, sizeof(key), "tiktok/a/EMAIL/");
    memset(key + n, 'f', 1024 - (size_t)n);
    key[1024] = '\0';
    assert_int_equal(tad_route_resolve(&table, key, 1024, &r, NULL), TAD_OK);
    assert_int_equal(strlen(r.file_name), 1024 - (size_t)n);
    key[1024] = 'f';
    key[1025] = '\0';
    tad_errinfo_clear(&info);
    assert_int_equal(tad_route_resolve(&table, key, 1025, &r, &info), TAD_ERR_INVALID);
    assert_non_null(strstr(info.msg, "1025 bytes"));
    /* embedded NUL */
    static const char nul_key[] = "tiktok/a/EMAIL/f\0g";
    tad_errinfo_clear(&info);
    assert_int_equal(tad_route_resolve(&table, nul_key, sizeof(nul_key) - 1, &r, &info),
                     TAD_ERR_INVALID);
    assert_non_null(strstr(info.msg, "NUL"));
    /* the length bounds the key: a longer buffer is not read past key_len */
    static const char longer[] = "tiktok/a/EMAIL/f.csv/extra/segments";
    assert_int_equal(tad_route_resolve(&table, longer, 20, &r, NULL), TAD_OK);
    assert_string_equal(r.file_name, "f.csv");
    /* missing arguments */
    assert_int_equal(tad_route_resolve(NULL, "k", 1, &r, NULL), TAD_ERR_INVALID);
    assert_int_equal(tad_route_resolve(&table, NULL, 0, &r, NULL), TAD_ERR_INVALID);
    assert_int_equal(tad_route_resolve(&table, "k", 1, NULL, NULL), TAD_ERR_INVALID);
}

static void prefix_and_defaults(void **state)
{
    (void)state;
    struct tad_route r;
    /* all defaults: tiktok/ and tiktok_activation_credentials */
    struct tad_route_table defaults = {NULL, NULL, NULL, 0};
    assert_int_equal(tad_route_resolve(&defaults, "tiktok/a/EMAIL/f", 16, &r, NULL), TAD_OK);
    assert_int_equal(r.kind, TAD_ROUTE_JOB);
    assert_string_equal(r.secret_id, "tiktok_activation_credentials");

    /* a custom prefix; the default one is then outside */
    struct tad_route_table custom = {"data/audiences/", "s", NULL, 0};
    static const char k1[] = "data/audiences/a/PHONE/remove/f";
    assert_int_equal(tad_route_resolve(&custom, k1, sizeof(k1) - 1, &r, NULL), TAD_OK);
    assert_int_equal(r.kind, TAD_ROUTE_JOB);
    assert_string_equal(r.audience_name, "a");
    assert_int_equal(r.action, TAD_ACTION_REMOVE);
    assert_int_equal(tad_route_resolve(&custom, "tiktok/a/EMAIL/f", 16, &r, NULL), TAD_OK);
    assert_int_equal(r.kind, TAD_ROUTE_IGNORE);
    assert_int_equal(r.ignore_reason, TAD_ROUTE_IGNORE_OUTSIDE_PREFIX);

    /* an empty prefix takes every key */
    struct tad_route_table all = {"", "s", NULL, 0};
    assert_int_equal(tad_route_resolve(&all, "a/EMAIL/f", 9, &r, NULL), TAD_OK);
    assert_int_equal(r.kind, TAD_ROUTE_JOB);
    assert_string_equal(r.audience_name, "a");
    assert_int_equal(tad_route_resolve(&all, "a/EMAIL", 7, &r, NULL), TAD_ERR_INVALID);

    /* routes outside the key prefix never match; a route may cover the whole prefix */
    static const struct tad_route_rule wide[] = {{"tiktok/", "wide"}, {"", "empty"}};
    struct tad_route_table w = {NULL, "s", wide, 2};
    assert_int_equal(tad_route_resolve(&w, "tiktok/a/EMAIL/f", 16, &r, NULL), TAD_OK);
    assert_string_equal(r.secret_id, "wide");
    assert_string_equal(r.route_prefix, "tiktok/");
}

static void action_names(void **state)
{
    (void)state;
    assert_string_equal(tad_route_action_name(TAD_ACTION_APPEND), "append");
    assert_string_equal(tad_route_action_name(TAD_ACTION_REMOVE), "remove");
    assert_string_equal(tad_route_action_name(TAD_ACTION_REPLACE), "replace");
    assert_string_equal(tad_route_action_api_name(TAD_ACTION_APPEND), "APPEND");
    assert_string_equal(tad_route_action_api_name(TAD_ACTION_REMOVE), "REMOVE");
    assert_string_equal(tad_route_action_api_name(TAD_ACTION_REPLACE), "REPLACE");
    assert_string_equal(tad_route_action_name((enum tad_action)7), "?");
    enum tad_action a = TAD_ACTION_APPEND;
    assert_int_equal(tad_route_action_parse("RePlAcE", 7, &a, NULL), TAD_OK);
    assert_int_equal(a, TAD_ACTION_REPLACE);
    assert_int_equal(tad_route_action_parse("remove", 6, &a, NULL), TAD_OK);
    assert_int_equal(a, TAD_ACTION_REMOVE);
    assert_int_equal(tad_route_action_parse("rem", 3, &a, NULL), TAD_ERR_INVALID);
    assert_int_equal(a, TAD_ACTION_REMOVE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resolves_valid_keys),
        cmocka_unit_test(ignores_foreign_keys_and_folders),
        cmocka_unit_test(rejects_bad_layouts),
        cmocka_unit_test(audience_name_length_counts_code_points),
        cmocka_unit_test(key_limits),
        cmocka_unit_test(prefix_and_defaults),
        cmocka_unit_test(action_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
