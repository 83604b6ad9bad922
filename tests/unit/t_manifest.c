/* t_manifest.c - unit tests for manifest.json writing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "tad/manifest.h"

static void writes_counts_and_parts(void **state)
{
    (void)state;
    char dir[] = "/tmp/t_manifest_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p1[128];
    assert_true(snprintf(p1, sizeof(p1), "%s/part-00001.csv", dir) > 0);
    struct tad_part parts[2] = {
        {.fd = -1, .bytes = 650, .rows = 10, .md5 = "0123456789abcdef0123456789abcdef", .path = p1},
        {.fd = -1, .bytes = 65, .rows = 1, .md5 = "fedcba9876543210fedcba9876543210", .path = NULL},
    };
    struct tad_pipeline_result res = {.rows_total = 14,
                                      .rows_valid = 11,
                                      .rows_invalid = 1,
                                      .rows_blank = 2,
                                      .parts = parts,
                                      .nparts = 2};
    struct tad_errinfo info;
    assert_int_equal(tad_manifest_write(dir, &res, "bench \"aud\"", "EMAIL_SHA256", &info), TAD_OK);

    char path[128];
    assert_true(snprintf(path, sizeof(path), "%s/manifest.json", dir) > 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "audience")), "bench \"aud\"");
    assert_string_equal(json_string_value(json_object_get(root, "calculate_type")), "EMAIL_SHA256");
    assert_int_equal(json_integer_value(json_object_get(root, "rows_total")), 14);
    assert_int_equal(json_integer_value(json_object_get(root, "rows_valid")), 11);
    assert_int_equal(json_integer_value(json_object_get(root, "rows_invalid")), 1);
    json_t *arr = json_object_get(root, "parts");
    assert_int_equal(json_array_size(arr), 2);
    json_t *a = json_array_get(arr, 0), *b = json_array_get(arr, 1);
    assert_string_equal(json_string_value(json_object_get(a, "file")), "part-00001.csv");
    assert_int_equal(json_integer_value(json_object_get(a, "bytes")), 650);
    assert_int_equal(json_integer_value(json_object_get(a, "rows")), 10);
    assert_string_equal(json_string_value(json_object_get(a, "md5")),
                        "0123456789abcdef0123456789abcdef");
    assert_string_equal(json_string_value(json_object_get(b, "file")), "part-00002.csv");
    json_decref(root);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0); /* no temporary file left behind */

    /* a missing directory fails cleanly */
    assert_int_equal(tad_manifest_write("/nonexistent/dir", &res, "a", "b", &info), TAD_ERR_IO);
    assert_int_equal(tad_manifest_write(NULL, &res, "a", "b", &info), TAD_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writes_counts_and_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
