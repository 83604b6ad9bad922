/* t_buf.c - unit tests for the capped byte buffer and string views. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tad/buf.h"

static void append_grows_and_terminates(void **state)
{
    (void)state;
    struct tad_buf b = TAD_BUF_INIT;
    for (int i = 0; i < 1000; i++)
        assert_int_equal(tad_buf_append_str(&b, "ab"), TAD_OK);
    assert_int_equal(b.len, 2000);
    assert_int_equal(b.data[2000], '\0');
    assert_int_equal(tad_buf_appendf(&b, "%d-%s", 42, "x"), TAD_OK);
    assert_string_equal(b.data + 2000, "42-x");
    tad_buf_release(&b);
    assert_null(b.data);
}

static void cap_is_enforced_and_buffer_unchanged(void **state)
{
    (void)state;
    struct tad_buf b;
    tad_buf_init(&b, 8);
    assert_int_equal(tad_buf_append_str(&b, "12345678"), TAD_OK);
    assert_int_equal(tad_buf_append_byte(&b, 'x'), TAD_ERR_INVALID);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "12345678");
    assert_int_equal(tad_buf_appendf(&b, "%s", "y"), TAD_ERR_INVALID);
    tad_buf_release(&b);
}

static void take_hands_over_storage(void **state)
{
    (void)state;
    struct tad_buf b = TAD_BUF_INIT;
    char *s = NULL;
    assert_int_equal(tad_buf_take(&b, &s), TAD_OK);
    assert_string_equal(s, "");
    free(s);
    assert_int_equal(tad_buf_append_hex(&b, (const unsigned char *)"\x01\xab\xff", 3), TAD_OK);
    assert_int_equal(tad_buf_take(&b, &s), TAD_OK);
    assert_string_equal(s, "01abff");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(s);
}

static void views_compare(void **state)
{
    (void)state;
    assert_true(tad_str_eq(tad_str_from("abc"), TAD_STR_C("abc")));
    assert_false(tad_str_eq(tad_str_from("abc"), TAD_STR_C("abd")));
    assert_true(tad_str_eq_nocase(tad_str_from("Email_SHA256"), TAD_STR_C("EMAIL_sha256")));
    assert_true(tad_str_starts_with(tad_str_from("tiktok/x"), TAD_STR_C("tiktok/")));
    assert_false(tad_str_starts_with(tad_str_from("tik"), TAD_STR_C("tiktok/")));
    assert_int_equal(tad_str_from(NULL).len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(append_grows_and_terminates),
        cmocka_unit_test(cap_is_enforced_and_buffer_unchanged),
        cmocka_unit_test(take_hands_over_storage),
        cmocka_unit_test(views_compare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
