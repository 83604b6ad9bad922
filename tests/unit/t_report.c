/* t_report.c - the per-file report: every field of SPEC section 8 with the right JSON type,
 * nulls when unknown, request ids as an array, UTC times, and the report key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "tad/report.h"

static json_t *build(const struct tad_report *r)
{
    struct tad_buf b;
    tad_buf_init(&b, 0);
    assert_int_equal(tad_report_json(r, &b), TAD_OK);
    json_error_t je;
    json_t *o = json_loadb(b.data, b.len, 0, &je);
    assert_non_null(o);
    tad_buf_release(&b);
    return o;
}

static void applied_report_has_every_field(void **state)
{
    (void)state;
    struct tad_report r = {
        .key = "tiktok/Foodies/phone_sha256/a \"b\".csv",
        .audience = "Foodies",
        .calculate_type = "PHONE_SHA256",
        .action = "append",
        .status = "applied",
        .rows_total = 12,
        .rows_valid = 10,
        .rows_invalid = 1,
        .parts = 2,
        .custom_audience_id = "7300000000000000001",
        .request_ids = "r1,r2,r3",
        .started_at = 1795921744,
        .finished_at = 1795921745,
    };
    json_t *o = build(&r);
    assert_string_equal(json_string_value(json_object_get(o, "key")), r.key);
    assert_string_equal(json_string_value(json_object_get(o, "status")), "applied");
    assert_int_equal(json_integer_value(json_object_get(o, "rows_total")), 12);
    assert_int_equal(json_integer_value(json_object_get(o, "rows_valid")), 10);
    assert_int_equal(json_integer_value(json_object_get(o, "rows_invalid")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "parts")), 2);
    assert_string_equal(json_string_value(json_object_get(o, "custom_audience_id")),
                        "7300000000000000001");
    json_t *ids = json_object_get(o, "tiktok_request_ids");
    assert_true(json_is_array(ids));
    assert_int_equal(json_array_size(ids), 3);
    assert_string_equal(json_string_value(json_array_get(ids, 2)), "r3");
    assert_true(json_is_null(json_object_get(o, "error")));
    assert_string_equal(json_string_value(json_object_get(o, "started_at")),
                        "2026-11-29T03:09:04Z");
    assert_string_equal(json_string_value(json_object_get(o, "finished_at")),
                        "2026-11-29T03:09:05Z");
    static const char *const fields[] = {
        "key",        "audience",           "calculate_type",     "action",
        "status",     "rows_total",         "rows_valid",         "rows_invalid",
        "parts",      "custom_audience_id", "tiktok_request_ids", "error",
        "started_at", "finished_at"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        assert_non_null(json_object_get(o, fields[i]));
    assert_int_equal(json_object_size(o), sizeof(fields) / sizeof(fields[0]));
    json_decref(o);
}

static void failed_report_has_nulls(void **state)
{
    (void)state;
    struct tad_report r = {.key = "k", .status = "failed", .error = "rejected: 5 of 9 rows"};
    json_t *o = build(&r);
    assert_true(json_is_null(json_object_get(o, "custom_audience_id")));
    assert_true(json_is_null(json_object_get(o, "started_at")));
    assert_int_equal(json_array_size(json_object_get(o, "tiktok_request_ids")), 0);
    assert_string_equal(json_string_value(json_object_get(o, "error")), r.error);
    json_decref(o);
}

static void report_key(void **state)
{
    (void)state;
    char out[1100];
    assert_int_equal(tad_report_key("reports/", "tiktok/a/b/c.csv", out, sizeof(out)), TAD_OK);
    assert_string_equal(out, "reports/tiktok/a/b/c.csv.json");
    char longkey[1020];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    assert_int_equal(tad_report_key("reports/", longkey, out, sizeof(out)), TAD_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(applied_report_has_every_field),
        cmocka_unit_test(failed_report_has_nulls),
        cmocka_unit_test(report_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
