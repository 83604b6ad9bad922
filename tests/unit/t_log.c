/* t_log.c - unit tests for log formats, level gating and secret redaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "tad/log.h"

static int capture_fd = -1;
static FILE *capture;

static int setup(void **state)
{
    (void)state;
    capture = tmpfile();
    capture_fd = fileno(capture);
    tad_log_set_fd(capture_fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tad_log_set_fd(2);
    fclose(capture);
    tad_log_forget_secrets();
    return 0;
}

/* Returns everything logged since the last call (new string). */
static char *captured(void)
{
    long end = lseek(capture_fd, 0, SEEK_END);
    char *s = calloc(1, (size_t)end + 1);
    assert_non_null(s);
    assert_int_equal(pread(capture_fd, s, (size_t)end, 0), end);
    assert_int_equal(ftruncate(capture_fd, 0), 0);
    lseek(capture_fd, 0, SEEK_SET);
    return s;
}

static int calls;
static const char *counted(void)
{
    calls++;
    return "x";
}

static void level_checked_before_formatting(void **state)
{
    (void)state;
    tad_log_setup(TAD_LOG_WARN, TAD_LOG_FMT_TEXT);
    calls = 0;
    log_info("%s", counted());
    log_debug("%s", counted());
    assert_int_equal(calls, 0);
    log_error("%s", counted());
    assert_int_equal(calls, 1);
    char *out = captured();
    assert_non_null(strstr(out, "error x"));
    free(out);
}

static void json_lines_carry_fields(void **state)
{
    (void)state;
    tad_log_setup(TAD_LOG_DEBUG, TAD_LOG_FMT_JSON);
    struct tad_log_kv kv[] = {TAD_KV_S(TAD_F_S3_KEY, "tiktok/a b/EMAIL/f.csv"),
                              TAD_KV_N(TAD_F_ROWS_VALID, 42),
                              TAD_KV_S(TAD_F_REQUEST_ID, "req-\"1\"")};
    log_kv(TAD_LOG_INFO, kv, 3, "file applied in %d parts", 2);
    char *out = captured();
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "file applied in 2 parts");
    assert_string_equal(json_string_value(json_object_get(j, "s3_key")), "tiktok/a b/EMAIL/f.csv");
    assert_int_equal(json_integer_value(json_object_get(j, "rows_valid")), 42);
    assert_string_equal(json_string_value(json_object_get(j, "request_id")), "req-\"1\"");
    assert_non_null(json_object_get(j, "ts"));
    json_decref(j);
    free(out);
}

static void text_lines_quote_values(void **state)
{
    (void)state;
    tad_log_setup(TAD_LOG_INFO, TAD_LOG_FMT_TEXT);
    struct tad_log_kv kv[] = {TAD_KV_S(TAD_F_AUDIENCE, "my audience"), TAD_KV_N(TAD_F_PARTS, 3)};
    log_kv(TAD_LOG_WARN, kv, 2, "hello");
    char *out = captured();
    assert_non_null(strstr(out, "warn  hello audience=\"my audience\" parts=3\n"));
    free(out);
}

static void registered_secrets_and_headers_are_redacted(void **state)
{
    (void)state;
    tad_log_setup(TAD_LOG_DEBUG, TAD_LOG_FMT_TEXT);
    tad_log_register_secret("s3cr3t-token-value-123");
    tad_log_register_secret("abc"); /* too short: ignored */
    struct tad_log_kv kv[] = {TAD_KV_S(TAD_F_ERROR, "bad s3cr3t-token-value-123 seen")};
    log_kv(TAD_LOG_INFO, kv, 1, "token=%s and again s3cr3t-token-value-123",
           "s3cr3t-token-value-123");
    log_info("> Authorization: AWS4-HMAC-SHA256 Credential=AKID/x, Signature=abcdef");
    log_info("Access-Token: 0123456789abcdef");
    log_info("x-amz-security-token:FQoGZXIvYXdzEJr");
    log_info("{\"Access-Token\":\"tok-in-json-1\"}");
    log_info("abc is fine");
    char *out = captured();
    assert_null(strstr(out, "s3cr3t-token-value-123"));
    assert_null(strstr(out, "Signature=abcdef"));
    assert_null(strstr(out, "0123456789abcdef"));
    assert_null(strstr(out, "FQoGZXIvYXdzEJr"));
    assert_null(strstr(out, "tok-in-json-1"));
    assert_non_null(strstr(out, "[REDACTED]"));
    assert_non_null(strstr(out, "abc is fine"));
    free(out);
    tad_log_forget_secrets();
    log_info("s3cr3t-token-value-123");
    out = captured();
    assert_non_null(strstr(out, "s3cr3t-token-value-123"));
    free(out);
}

static void parse_names(void **state)
{
    (void)state;
    assert_int_equal(tad_log_level_parse("WARN"), TAD_LOG_WARN);
    assert_int_equal(tad_log_level_parse("debug"), TAD_LOG_DEBUG);
    assert_int_equal(tad_log_level_parse("loud"), -1);
    assert_int_equal(tad_log_format_parse("journal"), TAD_LOG_FMT_JOURNAL);
    assert_int_equal(tad_log_format_parse(NULL), -1);
    /* auto without a TTY or journal gives JSON */
    unsetenv("JOURNAL_STREAM");
    if (!isatty(2)) {
        tad_log_setup(TAD_LOG_INFO, TAD_LOG_FMT_AUTO);
        assert_int_equal(tad_log_effective_format(), TAD_LOG_FMT_JSON);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(level_checked_before_formatting),
        cmocka_unit_test(json_lines_carry_fields),
        cmocka_unit_test(text_lines_quote_values),
        cmocka_unit_test(registered_secrets_and_headers_are_redacted),
        cmocka_unit_test(parse_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
