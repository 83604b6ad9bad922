/* t_retry.c - unit tests for backoff, the retry quota and release delays (fixed RNG). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tad/retry.h"

static uint64_t fixed_next(void *ctx)
{
    return *(uint64_t *)ctx;
}

static void backoff_ceiling_doubles_then_caps(void **state)
{
    (void)state;
    struct tad_retry_policy p = {5, 500, 60000};
    uint64_t max = UINT64_MAX; /* x % (c+1) == c for the largest draw when c+1 divides 2^64-1+1 */
    struct tad_rng rng = {fixed_next, &max};
    /* With the draw at UINT64_MAX the delay is UINT64_MAX % (c + 1); check bounds instead. */
    for (unsigned f = 1; f <= 12; f++) {
        uint64_t c = 500ull << (f - 1);
        if (c > 60000)
            c = 60000;
        uint64_t d = tad_retry_delay_ms(&p, f, &rng);
        assert_true(d <= c);
    }
    uint64_t zero = 0;
    struct tad_rng rz = {fixed_next, &zero};
    assert_int_equal(tad_retry_delay_ms(&p, 3, &rz), 0);
    /* draw = c exactly gives the full ceiling */
    uint64_t v = 2000;
    struct tad_rng rv = {fixed_next, &v};
    assert_int_equal(tad_retry_delay_ms(&p, 3, &rv), 2000);
    v = 60000;
    assert_int_equal(tad_retry_delay_ms(&p, 40, &rv), 60000);
    assert_int_equal(tad_retry_delay_ms(&p, 0, &rv), 0);
}

static void full_jitter_spreads_over_range(void **state)
{
    (void)state;
    struct tad_retry_policy p = {5, 1000, 60000};
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < 2000; i++) {
        uint64_t d = tad_retry_delay_ms(&p, 2, NULL);
        assert_true(d <= 2000);
        if (d < lo)
            lo = d;
        if (d > hi)
            hi = d;
    }
    assert_true(lo < 200);
    assert_true(hi > 1800);
}

static void retry_after_hint_wins_but_is_capped(void **state)
{
    (void)state;
    struct tad_retry_policy p = {5, 100, 10000};
    uint64_t zero = 0;
    struct tad_rng rz = {fixed_next, &zero};
    assert_int_equal(tad_retry_delay_with_hint_ms(&p, 1, 3, &rz), 3000);
    assert_int_equal(tad_retry_delay_with_hint_ms(&p, 1, 300, &rz), 10000);
}

static void should_retry_only_transient_within_attempts(void **state)
{
    (void)state;
    struct tad_retry_policy p = TAD_RETRY_POLICY_DEFAULT;
    assert_true(tad_retry_should(&p, TAD_ERR_NETWORK, 1));
    assert_true(tad_retry_should(&p, TAD_ERR_THROTTLED, 4));
    assert_false(tad_retry_should(&p, TAD_ERR_SERVER, 5));
    assert_false(tad_retry_should(&p, TAD_ERR_CLIENT, 1));
    assert_false(tad_retry_should(&p, TAD_ERR_AUTH, 1));
    assert_false(tad_retry_should(&p, TAD_ERR_NOT_FOUND, 1));
    assert_false(tad_retry_should(&p, TAD_ERR_CANCELLED, 1));
}

static void quota_drains_and_refills(void **state)
{
    (void)state;
    struct tad_retry_quota q;
    tad_retry_quota_init(&q, 20);
    assert_int_equal(tad_retry_quota_acquire(&q, TAD_ERR_SERVER), 5);
    assert_int_equal(tad_retry_quota_acquire(&q, TAD_ERR_NETWORK), 10);
    assert_int_equal(tad_retry_quota_tokens(&q), 5);
    assert_int_equal(tad_retry_quota_acquire(&q, TAD_ERR_NETWORK), 0); /* cannot pay 10 */
    assert_int_equal(tad_retry_quota_acquire(&q, TAD_ERR_SERVER), 5);
    assert_int_equal(tad_retry_quota_acquire(&q, TAD_ERR_SERVER), 0);
    tad_retry_quota_success(&q, 5);
    tad_retry_quota_success(&q, 0);
    assert_int_equal(tad_retry_quota_tokens(&q), 6);
    for (int i = 0; i < 100; i++)
        tad_retry_quota_success(&q, 5);
    assert_int_equal(tad_retry_quota_tokens(&q), 20);
    tad_retry_quota_release(&q);
}

static void release_delay_grows_with_receive_count(void **state)
{
    (void)state;
    assert_int_equal(tad_retry_release_delay_s(0), 30);
    assert_int_equal(tad_retry_release_delay_s(1), 30);
    assert_int_equal(tad_retry_release_delay_s(2), 60);
    assert_int_equal(tad_retry_release_delay_s(3), 120);
    assert_int_equal(tad_retry_release_delay_s(6), 900);
    assert_int_equal(tad_retry_release_delay_s(1000), 900);
}

static void error_classification(void **state)
{
    (void)state;
    assert_true(tad_err_retryable(TAD_ERR_NETWORK));
    assert_true(tad_err_retryable(TAD_ERR_SERVER));
    assert_true(tad_err_throttling(TAD_ERR_THROTTLED));
    assert_false(tad_err_throttling(TAD_ERR_SERVER));
    assert_false(tad_err_retryable(TAD_ERR_PARSE));
    assert_string_equal(tad_err_str(TAD_ERR_NOT_FOUND), "not found");
    assert_string_equal(tad_err_str((tad_err)999), "unknown");
    struct tad_errinfo ei;
    tad_errinfo_clear(&ei);
    assert_int_equal(tad_errinfo_set(&ei, TAD_ERR_PARSE, "bad %s", "thing"), TAD_ERR_PARSE);
    assert_string_equal(ei.msg, "bad thing");
    assert_int_equal(tad_errinfo_set(NULL, TAD_ERR_IO, "x"), TAD_ERR_IO);
    char small[4];
    tad_strlcpy(small, sizeof(small), "abcdef", 6);
    assert_string_equal(small, "abc");
}

/* The shared cancellable sleep: sleeps the time asked, or returns at once when cancelled. */
static void pause_sleeps_or_stops_when_cancelled(void **state)
{
    (void)state;
    atomic_int flag = 0;
    uint64_t t0 = tad_mono_ms(NULL);
    assert_true(tad_pause_ms(120, &flag));
    assert_true(tad_mono_ms(NULL) - t0 >= 120);
    assert_true(tad_pause_ms(0, NULL));
    atomic_store(&flag, 1);
    t0 = tad_mono_ms(NULL);
    assert_false(tad_pause_ms(60000, &flag));
    assert_true(tad_mono_ms(NULL) - t0 < 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pause_sleeps_or_stops_when_cancelled),
        cmocka_unit_test(backoff_ceiling_doubles_then_caps),
        cmocka_unit_test(full_jitter_spreads_over_range),
        cmocka_unit_test(retry_after_hint_wins_but_is_capped),
        cmocka_unit_test(should_retry_only_transient_within_attempts),
        cmocka_unit_test(quota_drains_and_refills),
        cmocka_unit_test(release_delay_grows_with_receive_count),
        cmocka_unit_test(error_classification),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
