/* t_tiktok_classify.c - the TikTok answer classification table (HTTP status x envelope code),
 * plus action names and the request-id list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "tad/tiktok.h"

struct row {
    long http;
    long code;
    tad_err want;
};

static const struct row table[] = {
    {200, 0, TAD_OK},
    {200, 20001, TAD_OK},
    {0, 0, TAD_OK},
    /* rate limits */
    {200, 40100, TAD_ERR_THROTTLED},
    {200, 40132, TAD_ERR_THROTTLED},
    {429, TAD_TIKTOK_NO_CODE, TAD_ERR_THROTTLED},
    {429, 0, TAD_ERR_THROTTLED},
    {429, 40002, TAD_ERR_THROTTLED},
    /* transient */
    {200, 40201, TAD_ERR_SERVER},
    {200, 40202, TAD_ERR_SERVER},
    {200, 50000, TAD_ERR_SERVER},
    {200, 50002, TAD_ERR_SERVER},
    {200, 51000, TAD_ERR_SERVER},
    {200, 51003, TAD_ERR_SERVER},
    {200, 51999, TAD_ERR_SERVER},
    {200, 52000, TAD_ERR_SERVER},
    {200, 52202, TAD_ERR_SERVER},
    {200, 60001, TAD_ERR_SERVER},
    {200, 61000, TAD_ERR_SERVER},
    {500, TAD_TIKTOK_NO_CODE, TAD_ERR_SERVER},
    {502, TAD_TIKTOK_NO_CODE, TAD_ERR_SERVER},
    {503, TAD_TIKTOK_NO_CODE, TAD_ERR_SERVER},
    {503, 40002, TAD_ERR_SERVER},
    {504, 0, TAD_ERR_SERVER},
    /* token errors */
    {200, 40102, TAD_ERR_AUTH},
    {200, 40104, TAD_ERR_AUTH},
    {200, 40105, TAD_ERR_AUTH},
    {401, 40105, TAD_ERR_AUTH},
    /* permanent */
    {200, 40007, TAD_ERR_NOT_FOUND},
    {200, 40001, TAD_ERR_DENIED},
    {200, 40003, TAD_ERR_DENIED},
    {200, 40000, TAD_ERR_CLIENT},
    {200, 40002, TAD_ERR_CLIENT},
    {200, 40130, TAD_ERR_CLIENT},
    {200, 40300, TAD_ERR_CLIENT},
    {200, 40900, TAD_ERR_CLIENT},
    {200, 40907, TAD_ERR_CLIENT},
    {200, 40910, TAD_ERR_CLIENT},
    {200, 50001, TAD_ERR_CLIENT},
    {200, 53000, TAD_ERR_CLIENT},
    {200, 60002, TAD_ERR_CLIENT},
    {404, 40000, TAD_ERR_CLIENT},
    {405, 40000, TAD_ERR_CLIENT},
    /* no envelope */
    {200, TAD_TIKTOK_NO_CODE, TAD_ERR_PARSE},
    {0, TAD_TIKTOK_NO_CODE, TAD_ERR_PARSE},
    {404, TAD_TIKTOK_NO_CODE, TAD_ERR_NOT_FOUND},
    {403, TAD_TIKTOK_NO_CODE, TAD_ERR_DENIED},
    {400, TAD_TIKTOK_NO_CODE, TAD_ERR_CLIENT},
    {408, TAD_TIKTOK_NO_CODE, TAD_ERR_NETWORK},
    /* code 0 but an error status */
    {400, 0, TAD_ERR_CLIENT},
};

static void classification_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        tad_err got = tad_tiktok_classify(table[i].http, table[i].code);
        if (got != table[i].want)
            fail_msg("http %ld code %ld: got %s want %s", table[i].http, table[i].code,
                     tad_err_str(got), tad_err_str(table[i].want));
    }
}

static void retryable_matches_spec(void **state)
{
    (void)state;
    static const long transient[] = {40100, 40132, 40201, 40202, 50000,
                                     50002, 51010, 52100, 60001, 61000};
    static const long permanent[] = {40001, 40002, 40003, 40007, 40102, 40104, 40105, 40900};
    for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
        assert_true(tad_err_retryable(tad_tiktok_classify(200, transient[i])));
    for (size_t i = 0; i < sizeof(permanent) / sizeof(permanent[0]); i++)
        assert_false(tad_err_retryable(tad_tiktok_classify(200, permanent[i])));
    assert_true(tad_err_throttling(tad_tiktok_classify(200, 40100)));
    assert_true(tad_err_throttling(tad_tiktok_classify(429, TAD_TIKTOK_NO_CODE)));
    assert_false(tad_err_throttling(tad_tiktok_classify(200, 50000)));
}

static void actions(void **state)
{
    (void)state;
    enum tad_tiktok_action a;
    assert_int_equal(tad_tiktok_action_parse("append", &a), TAD_OK);
    assert_int_equal(a, TAD_TIKTOK_APPEND);
    assert_int_equal(tad_tiktok_action_parse("Remove", &a), TAD_OK);
    assert_int_equal(a, TAD_TIKTOK_REMOVE);
    assert_int_equal(tad_tiktok_action_parse("REPLACE", &a), TAD_OK);
    assert_int_equal(a, TAD_TIKTOK_REPLACE);
    assert_int_equal(tad_tiktok_action_parse("merge", &a), TAD_ERR_INVALID);
    assert_string_equal(tad_tiktok_action_name(TAD_TIKTOK_APPEND), "APPEND");
    assert_string_equal(tad_tiktok_action_name(TAD_TIKTOK_REMOVE), "REMOVE");
    assert_string_equal(tad_tiktok_action_name(TAD_TIKTOK_REPLACE), "REPLACE");
}

static void id_list(void **state)
{
    (void)state;
    struct tad_tiktok_ids ids = {0};
    char buf[32];
    for (int i = 0; i < 20; i++) {
        snprintf(buf, sizeof(buf), "rid-%d", i);
        assert_int_equal(tad_tiktok_ids_add(&ids, buf), TAD_OK);
    }
    assert_int_equal(tad_tiktok_ids_add(&ids, ""), TAD_OK); /* empty ids are skipped */
    assert_int_equal(ids.n, 20);
    assert_string_equal(ids.v[19], "rid-19");
    tad_tiktok_ids_release(&ids);
    assert_int_equal(ids.n, 0);
    assert_null(ids.v);
}

static void client_options(void **state)
{
    (void)state;
    struct tad_tiktok *tt = NULL;
    struct tad_tiktok_opts o = {.api_base = "ftp://example"};
    assert_int_equal(tad_tiktok_new(&o, &tt), TAD_ERR_INVALID);
    assert_null(tt);
    assert_int_equal(tad_tiktok_new(NULL, &tt), TAD_OK);
    assert_int_equal(tad_tiktok_retry_policy(tt)->max_attempts, 5);
    tad_tiktok_free(tt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classification_table),
        cmocka_unit_test(retryable_matches_spec),
        cmocka_unit_test(actions),
        cmocka_unit_test(id_list),
        cmocka_unit_test(client_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
