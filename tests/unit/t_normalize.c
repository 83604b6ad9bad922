/* t_normalize.c - unit tests for identifier normalisation and hashing (TikTok's examples). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tad/normalize.h"

#define JANE_SHA "d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69"
#define PHONE_SHA "65b7e6dcf6f4310f8d7cbfbd78289a753062fb054d6664fb9aaac5df66a422d4"
#define MAID_SHA "83dc3f5f32b9472613b0f038d36f22585a609d018af6f6067f50da318bf354bd"

static int setup(void **state)
{
    struct tad_normalize *n = NULL;
    if (tad_normalize_new(&n) != TAD_OK)
        return -1;
    *state = n;
    return 0;
}

static int teardown(void **state)
{
    tad_normalize_free(*state);
    return 0;
}

static tad_err row(void **state, enum tad_row_kind kind, const char *in, char *out)
{
    return tad_normalize_row(*state, kind, in, strlen(in), out);
}

static void assert_row(void **state, enum tad_row_kind kind, const char *in, const char *want)
{
    char out[TAD_NORMALIZE_HEX_MAX];
    assert_int_equal(row(state, kind, in, out), TAD_OK);
    assert_string_equal(out, want);
}

static void assert_row_invalid(void **state, enum tad_row_kind kind, const char *in)
{
    char out[TAD_NORMALIZE_HEX_MAX] = "untouched";
    assert_int_equal(row(state, kind, in, out), TAD_ERR_INVALID);
    assert_string_equal(out, "untouched");
}

static void email_published_example(void **state)
{
    assert_row(state, TAD_ROW_RAW_EMAIL, "janedoe@gmail.com", JANE_SHA);
    assert_row(state, TAD_ROW_RAW_EMAIL, "  JaneDoe@GMAIL.com\t", JANE_SHA);
    char norm[TAD_NORMALIZE_MAX];
    size_t len = 0;
    assert_int_equal(tad_normalize_email(" Jane.Doe+x@Example.CO.uk ", 26, norm, &len), TAD_OK);
    assert_string_equal(norm, "jane.doe+x@example.co.uk");
    assert_int_equal(len, 24);
}

static void email_rejections(void **state)
{
    static const char *const bad[] = {
        "",
        "   ",
        "janedoe",
        "@gmail.com",
        "jane@gmail",
        "a@@b.com",
        "a@b@c.com",
        "jane doe@x.com",
        "jane@x .com",
        "jane\t@x.com",
        "jane@x.com\x01",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_row_invalid(state, TAD_ROW_RAW_EMAIL, bad[i]);
    char longmail[300];
    memset(longmail, 'a', sizeof(longmail));
    memcpy(longmail + 280, "@example.com", 13);
    assert_row_invalid(state, TAD_ROW_RAW_EMAIL, longmail);
}

static void phone_published_example(void **state)
{
    assert_row(state, TAD_ROW_RAW_PHONE, "37493828222", PHONE_SHA);
    assert_row(state, TAD_ROW_RAW_PHONE, "+374 93 828222", PHONE_SHA);
    assert_row(state, TAD_ROW_RAW_PHONE, "0037493828222", PHONE_SHA);
    assert_row(state, TAD_ROW_RAW_PHONE, " (374) 93-828.222 ", PHONE_SHA);
    char norm[TAD_NORMALIZE_MAX];
    size_t len = 0;
    assert_int_equal(tad_normalize_phone("+1 (657) 777-0000", 17, norm, &len), TAD_OK);
    assert_string_equal(norm, "16577770000");
    assert_int_equal(len, 11);
}

static void phone_rejections(void **state)
{
    static const char *const bad[] = {
        "",      "+",           "123456",     "0000123456", "1234567890123456", "37493828222x",
        "ext 1", "374/93/8282", "374#938282",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_row_invalid(state, TAD_ROW_RAW_PHONE, bad[i]);
    /* bounds: 7 and 15 digits are fine */
    char out[TAD_NORMALIZE_HEX_MAX];
    assert_int_equal(row(state, TAD_ROW_RAW_PHONE, "1234567", out), TAD_OK);
    assert_int_equal(row(state, TAD_ROW_RAW_PHONE, "00123456789012345", out), TAD_OK);
}

static void maid_published_example(void **state)
{
    assert_row(state, TAD_ROW_RAW_MAID, "5F3A2B18-9C4D-4E7F-B8E2-17D3A1E69B25", MAID_SHA);
    assert_row(state, TAD_ROW_RAW_MAID, " 5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25 ", MAID_SHA);
    static const char *const bad[] = {
        "5F3A2B189C4D4E7FB8E217D3A1E69B25",      "5F3A2B18-9C4D-4E7F-B8E2-17D3A1E69B2",
        "5F3A2B18-9C4D-4E7F-B8E2-17D3A1E69B25A", "5G3A2B18-9C4D-4E7F-B8E2-17D3A1E69B25",
        "5F3A2B18-9C4D4-E7F-B8E2-17D3A1E69B25",  "{5F3A2B18-9C4D-4E7F-B8E2-17D3A1E69B2}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_row_invalid(state, TAD_ROW_RAW_MAID, bad[i]);
}

static void hashed_rows_lower_cased(void **state)
{
    assert_row(state, TAD_ROW_SHA256,
               "D6117306485ED0E50AFAB3AC871E98F81699151F30281527D63FF5F233656C69", JANE_SHA);
    assert_row(state, TAD_ROW_SHA256, " " JANE_SHA "\t", JANE_SHA);
    assert_row(state, TAD_ROW_MD5, "0123456789ABCDEFabcdef0123456789",
               "0123456789abcdefabcdef0123456789");
    assert_row_invalid(state, TAD_ROW_MD5, JANE_SHA);
    assert_row_invalid(state, TAD_ROW_SHA256, "0123456789ABCDEFabcdef0123456789");
    assert_row_invalid(state, TAD_ROW_SHA256, JANE_SHA "0");
    assert_row_invalid(state, TAD_ROW_SHA256, JANE_SHA + 1);
    assert_row_invalid(state, TAD_ROW_SHA256, "janedoe@gmail.com");
}

/* Every position and every byte value: only 0-9a-fA-F pass, wherever they sit. */
static void hex_check_every_position(void **state)
{
    (void)state;
    char in[64], out[65];
    memcpy(in, JANE_SHA, 64);
    for (size_t pos = 0; pos < 64; pos++) {
        for (int c = 0; c < 256; c++) {
            char save = in[pos];
            in[pos] = (char)c;
            int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            tad_err err = tad_normalize_hex(in, 64, 64, out);
            assert_int_equal(err, hex ? TAD_OK : TAD_ERR_INVALID);
            if (hex)
                assert_int_equal(out[pos], (c >= 'A' && c <= 'F') ? c + 32 : c);
            in[pos] = save;
        }
    }
    assert_int_equal(tad_normalize_hex(in, 63, 64, out), TAD_ERR_INVALID);
    assert_int_equal(tad_normalize_hex(in, 32, 32, out), TAD_OK);
    assert_int_equal(out[32], '\0');
    assert_int_equal(tad_normalize_hex_len(TAD_ROW_MD5), 32);
    assert_int_equal(tad_normalize_hex_len(TAD_ROW_RAW_EMAIL), 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(email_published_example, setup, teardown),
        cmocka_unit_test_setup_teardown(email_rejections, setup, teardown),
        cmocka_unit_test_setup_teardown(phone_published_example, setup, teardown),
        cmocka_unit_test_setup_teardown(phone_rejections, setup, teardown),
        cmocka_unit_test_setup_teardown(maid_published_example, setup, teardown),
        cmocka_unit_test_setup_teardown(hashed_rows_lower_cased, setup, teardown),
        cmocka_unit_test(hex_check_every_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
