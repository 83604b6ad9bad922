/* t_format.c - unit tests for identifier formats: parsing, upload types, hash kinds and CSV
 * header matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tad/format.h"

struct parse_case {
    const char *name;
    enum tad_format want;
    const char *canonical;
    const char *upload;
    bool raw;
    enum tad_hash_kind hash;
};

static const struct parse_case parse_cases[] = {
    {"EMAIL_SHA256", TAD_FORMAT_EMAIL_SHA256, "EMAIL_SHA256", "EMAIL_SHA256", false,
     TAD_HASH_SHA256},
    {"email_sha256", TAD_FORMAT_EMAIL_SHA256, "EMAIL_SHA256", "EMAIL_SHA256", false,
     TAD_HASH_SHA256},
    {"Phone_Sha256", TAD_FORMAT_PHONE_SHA256, "PHONE_SHA256", "PHONE_SHA256", false,
     TAD_HASH_SHA256},
    {"IDFA_SHA256", TAD_FORMAT_IDFA_SHA256, "IDFA_SHA256", "IDFA_SHA256", false, TAD_HASH_SHA256},
    {"gaid_sha256", TAD_FORMAT_GAID_SHA256, "GAID_SHA256", "GAID_SHA256", false, TAD_HASH_SHA256},
    {"FIRST_SHA256", TAD_FORMAT_FIRST_SHA256, "FIRST_SHA256", "FIRST_SHA256", false,
     TAD_HASH_SHA256},
    {"MAID_SHA256", TAD_FORMAT_FIRST_SHA256, "FIRST_SHA256", "FIRST_SHA256", false,
     TAD_HASH_SHA256},
    {"maid_sha256", TAD_FORMAT_FIRST_SHA256, "FIRST_SHA256", "FIRST_SHA256", false,
     TAD_HASH_SHA256},
    {"IDFA_MD5", TAD_FORMAT_IDFA_MD5, "IDFA_MD5", "IDFA_MD5", false, TAD_HASH_MD5},
    {"gaid_md5", TAD_FORMAT_GAID_MD5, "GAID_MD5", "GAID_MD5", false, TAD_HASH_MD5},
    {"FIRST_MD5", TAD_FORMAT_FIRST_MD5, "FIRST_MD5", "FIRST_MD5", false, TAD_HASH_MD5},
    {"Maid_Md5", TAD_FORMAT_FIRST_MD5, "FIRST_MD5", "FIRST_MD5", false, TAD_HASH_MD5},
    {"EMAIL", TAD_FORMAT_EMAIL, "EMAIL", "EMAIL_SHA256", true, TAD_HASH_SHA256},
    {"email", TAD_FORMAT_EMAIL, "EMAIL", "EMAIL_SHA256", true, TAD_HASH_SHA256},
    {"PHONE", TAD_FORMAT_PHONE, "PHONE", "PHONE_SHA256", true, TAD_HASH_SHA256},
    {"idfa", TAD_FORMAT_IDFA, "IDFA", "IDFA_SHA256", true, TAD_HASH_SHA256},
    {"GaId", TAD_FORMAT_GAID, "GAID", "GAID_SHA256", true, TAD_HASH_SHA256},
    {"MAID", TAD_FORMAT_MAID, "MAID", "FIRST_SHA256", true, TAD_HASH_SHA256},
};

static void parse_accepts_every_format(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *c = &parse_cases[i];
        enum tad_format f = TAD_FORMAT__MAX;
        struct tad_errinfo info;
        tad_errinfo_clear(&info);
        assert_int_equal(tad_format_parse(c->name, strlen(c->name), &f, &info), TAD_OK);
        assert_int_equal(f, c->want);
        assert_string_equal(tad_format_name(f), c->canonical);
        assert_string_equal(tad_format_upload_name(f), c->upload);
        assert_int_equal(tad_format_is_raw(f), c->raw);
        assert_int_equal(tad_format_hash_kind(f), c->hash);
        assert_int_equal(tad_format_hex_len(f), c->hash == TAD_HASH_MD5 ? 32 : 64);
    }
}

static void parse_rejects_unknown_names(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "EMAIL_SHA",
        "SHA256",
        "EMAIL_SHA256 ",
        " EMAIL",
        "EMAIL_SHA1",
        "MAID_SHA1",
        "MULTIPLE_TYPES",
        "FIRST_NORMAL",
        "FIRST",
        "EMAILSHA256",
        "EMAIL-SHA256",
        "PHONE_MD5",
        "EMAIL_MD5",
        "MAIDS",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum tad_format f = TAD_FORMAT_GAID_MD5;
        struct tad_errinfo info;
        tad_errinfo_clear(&info);
        assert_int_equal(tad_format_parse(bad[i], strlen(bad[i]), &f, &info), TAD_ERR_INVALID);
        assert_int_equal(f, TAD_FORMAT_GAID_MD5); /* untouched on failure */
        assert_non_null(strstr(info.msg, "unknown format"));
    }
    /* length is honoured: an embedded NUL or a prefix is not a match */
    enum tad_format f;
    assert_int_equal(tad_format_parse("EMAIL\0X", 7, &f, NULL), TAD_ERR_INVALID);
    assert_int_equal(tad_format_parse("EMAIL_SHA256", 5, &f, NULL), TAD_OK);
    assert_int_equal(f, TAD_FORMAT_EMAIL);
    assert_int_equal(tad_format_parse(NULL, 0, &f, NULL), TAD_ERR_INVALID);
}

static void out_of_range_is_safe(void **state)
{
    (void)state;
    enum tad_format bad = TAD_FORMAT__MAX;
    assert_string_equal(tad_format_name(bad), "?");
    assert_string_equal(tad_format_upload_name(bad), "?");
    assert_false(tad_format_is_raw(bad));
    assert_false(tad_format_header_matches(bad, "email", 5));
}

struct header_case {
    enum tad_format f;
    const char *cell;
    bool want;
};

static const struct header_case header_cases[] = {
    {TAD_FORMAT_PHONE_SHA256, "phone_sha256", true},
    {TAD_FORMAT_PHONE_SHA256, "PHONE_SHA256", true},
    {TAD_FORMAT_PHONE_SHA256, "Phone_Sha256", true},
    {TAD_FORMAT_PHONE_SHA256, "phone", true},
    {TAD_FORMAT_PHONE_SHA256, " \"Phone SHA256\" ", true},
    {TAD_FORMAT_PHONE_SHA256, "phone-sha256\r", true},
    {TAD_FORMAT_PHONE_SHA256, "email_sha256", false},
    {TAD_FORMAT_PHONE_SHA256, "phone_md5", false},
    {TAD_FORMAT_PHONE_SHA256, "phones", false},
    {TAD_FORMAT_PHONE_SHA256, "", false},
    {TAD_FORMAT_PHONE_SHA256, "\"\"", false},
    {TAD_FORMAT_EMAIL_SHA256, "email", true},
    {TAD_FORMAT_EMAIL_SHA256, "Email_SHA256", true},
    {TAD_FORMAT_EMAIL_SHA256, "hashed_email", true},
    {TAD_FORMAT_EMAIL_SHA256, "phone", false},
    {TAD_FORMAT_FIRST_SHA256, "MAID_SHA256", true},
    {TAD_FORMAT_FIRST_SHA256, "maid", true},
    {TAD_FORMAT_FIRST_SHA256, "first_sha256", true},
    {TAD_FORMAT_FIRST_SHA256, "maid_md5", false},
    {TAD_FORMAT_FIRST_MD5, "maid_md5", true},
    {TAD_FORMAT_FIRST_MD5, "maid_sha256", false},
    {TAD_FORMAT_IDFA_SHA256, "idfa", true},
    {TAD_FORMAT_IDFA_SHA256, "gaid", false},
    {TAD_FORMAT_IDFA_MD5, "IDFA_MD5", true},
    {TAD_FORMAT_GAID_MD5, "gaid", true},
    {TAD_FORMAT_GAID_SHA256, "GAID_SHA256", true},
    /* raw formats never take a hashed column */
    {TAD_FORMAT_EMAIL, "email", true},
    {TAD_FORMAT_EMAIL, "EMAIL_ADDRESS", true},
    {TAD_FORMAT_EMAIL, "email_sha256", false},
    {TAD_FORMAT_PHONE, "phone", true},
    {TAD_FORMAT_PHONE, "Phone Number", true},
    {TAD_FORMAT_PHONE, "phone_sha256", false},
    {TAD_FORMAT_MAID, "maid", true},
    {TAD_FORMAT_MAID, "maid_sha256", false},
    {TAD_FORMAT_IDFA, "idfa", true},
    {TAD_FORMAT_GAID, "GAID", true},
    {TAD_FORMAT_GAID, "idfa", false},
    /* too long to be a header name */
    {TAD_FORMAT_EMAIL, "email                                                        x", false},
};

static void header_matching(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(header_cases) / sizeof(header_cases[0]); i++) {
        const struct header_case *c = &header_cases[i];
        bool got = tad_format_header_matches(c->f, c->cell, strlen(c->cell));
        if (got != c->want)
            fail_msg("header '%s' for %s: got %d", c->cell, tad_format_name(c->f), got);
    }
    /* the length bounds the cell */
    assert_true(tad_format_header_matches(TAD_FORMAT_PHONE, "phone,email", 5));
    assert_false(tad_format_header_matches(TAD_FORMAT_PHONE, NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_accepts_every_format),
        cmocka_unit_test(parse_rejects_unknown_names),
        cmocka_unit_test(out_of_range_is_safe),
        cmocka_unit_test(header_matching),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
