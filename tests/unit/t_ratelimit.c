/* t_ratelimit.c - the shared token bucket with a fake clock: burst, steady rate, slow-down
 * for 60 s after rate-limit answers, rate changes, cancellation and concurrent takers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>

#include "tad/ratelimit.h"

struct fake_clock {
    _Atomic uint64_t now;
    _Atomic uint64_t slept;
    atomic_int *cancel_after_sleep;
};

static uint64_t fake_now(void *ctx)
{
    struct fake_clock *c = ctx;
    return atomic_load(&c->now);
}

static void fake_sleep(void *ctx, uint64_t ms)
{
    struct fake_clock *c = ctx;
    atomic_fetch_add(&c->now, ms);
    atomic_fetch_add(&c->slept, ms);
    if (c->cancel_after_sleep)
        atomic_store(c->cancel_after_sleep, 1);
}

static struct tad_ratelimit *make(struct fake_clock *fc, double rate)
{
    struct tad_ratelimit_clock clk = {fake_now, fake_sleep, fc};
    struct tad_ratelimit *rl = NULL;
    assert_int_equal(tad_ratelimit_new(rate, &clk, &rl), TAD_OK);
    return rl;
}

static unsigned drain(struct tad_ratelimit *rl)
{
    unsigned n = 0;
    while (tad_ratelimit_try_acquire(rl, NULL))
        n++;
    return n;
}

static void burst_then_steady(void **state)
{
    (void)state;
    struct fake_clock fc = {.now = 1000};
    struct tad_ratelimit *rl = make(&fc, 10.0);
    assert_int_equal(drain(rl), 10); /* a burst of one second's worth */
    uint64_t wait = 0;
    assert_int_equal(tad_ratelimit_try_acquire(rl, &wait), 0);
    assert_true(wait >= 99 && wait <= 101);
    atomic_fetch_add(&fc.now, 50);
    assert_int_equal(tad_ratelimit_try_acquire(rl, NULL), 0);
    atomic_fetch_add(&fc.now, 50);
    assert_int_equal(tad_ratelimit_try_acquire(rl, NULL), 1);
    /* a long idle period refills only up to the burst */
    atomic_fetch_add(&fc.now, 100000);
    assert_int_equal(drain(rl), 10);
    tad_ratelimit_free(rl);
}

static void acquire_blocks_for_the_right_time(void **state)
{
    (void)state;
    struct fake_clock fc = {.now = 5};
    struct tad_ratelimit *rl = make(&fc, 4.0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(tad_ratelimit_acquire(rl, NULL), TAD_OK);
    assert_int_equal(atomic_load(&fc.slept), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(tad_ratelimit_acquire(rl, NULL), TAD_OK);
    /* 8 more tokens at 4/s take about 2 s of (fake) waiting */
    uint64_t slept = atomic_load(&fc.slept);
    assert_true(slept >= 1990 && slept <= 2020);
    tad_ratelimit_free(rl);
}

static void slow_down_halves_for_a_minute(void **state)
{
    (void)state;
    struct fake_clock fc = {.now = 0};
    struct tad_ratelimit *rl = make(&fc, 8.0);
    tad_ratelimit_slow_down(rl);
    assert_true(tad_ratelimit_rate(rl) == 4.0);
    /* a second answer in the same second does not halve again */
    tad_ratelimit_slow_down(rl);
    assert_true(tad_ratelimit_rate(rl) == 4.0);
    assert_int_equal(drain(rl), 4);
    atomic_fetch_add(&fc.now, 1000);
    assert_int_equal(drain(rl), 4);
    /* another answer later halves again and restarts the window */
    atomic_fetch_add(&fc.now, 1500);
    tad_ratelimit_slow_down(rl);
    assert_true(tad_ratelimit_rate(rl) == 2.0);
    uint64_t t = atomic_load(&fc.now);
    atomic_store(&fc.now, t + TAD_RATELIMIT_SLOW_MS - 1);
    assert_true(tad_ratelimit_rate(rl) == 2.0);
    atomic_store(&fc.now, t + TAD_RATELIMIT_SLOW_MS);
    assert_true(tad_ratelimit_rate(rl) == 8.0);
    (void)drain(rl);
    atomic_fetch_add(&fc.now, 1000);
    assert_int_equal(drain(rl), 8); /* a full second now earns the whole rate again */
    tad_ratelimit_free(rl);
}

static void slow_down_has_a_floor(void **state)
{
    (void)state;
    struct fake_clock fc = {.now = 0};
    struct tad_ratelimit *rl = make(&fc, 64.0);
    for (int i = 0; i < 20; i++) {
        tad_ratelimit_slow_down(rl);
        atomic_fetch_add(&fc.now, 2000);
    }
    assert_true(tad_ratelimit_rate(rl) == 1.0);
    tad_ratelimit_free(rl);
}

static void set_rate(void **state)
{
    (void)state;
    struct fake_clock fc = {.now = 0};
    struct tad_ratelimit *rl = make(&fc, 10.0);
    assert_int_equal(tad_ratelimit_set_rate(rl, 0.0), TAD_ERR_INVALID);
    assert_int_equal(tad_ratelimit_set_rate(rl, 2.0), TAD_OK);
    assert_int_equal(drain(rl), 2);
    atomic_fetch_add(&fc.now, 500);
    assert_int_equal(drain(rl), 1);
    assert_true(tad_ratelimit_rate(rl) == 2.0);
    struct tad_ratelimit *bad = NULL;
    assert_int_equal(tad_ratelimit_new(-1.0, NULL, &bad), TAD_ERR_INVALID);
    assert_null(bad);
    tad_ratelimit_free(rl);
}

static void cancel_ends_wait(void **state)
{
    (void)state;
    atomic_int cancel = 0;
    struct fake_clock fc = {.now = 0};
    struct tad_ratelimit *rl = make(&fc, 0.01); /* one token per 100 s */
    assert_int_equal(tad_ratelimit_acquire(rl, &cancel), TAD_OK);
    fc.cancel_after_sleep = &cancel;
    assert_int_equal(tad_ratelimit_acquire(rl, &cancel), TAD_ERR_CANCELLED);
    assert_true(atomic_load(&fc.slept) <= 100);
    assert_int_equal(tad_ratelimit_acquire(NULL, NULL), TAD_OK);
    tad_ratelimit_free(rl);
}

struct taker {
    struct tad_ratelimit *rl;
    unsigned got;
};

static void *take_many(void *arg)
{
    struct taker *t = arg;
    for (int i = 0; i < 1000; i++)
        t->got += (unsigned)tad_ratelimit_try_acquire(t->rl, NULL);
    return NULL;
}

static void shared_by_threads(void **state)
{
    (void)state;
    struct fake_clock fc = {.now = 0};
    struct tad_ratelimit *rl = make(&fc, 25.0);
    struct taker t[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (struct taker){rl, 0};
        assert_int_equal(pthread_create(&th[i], NULL, take_many, &t[i]), 0);
    }
    unsigned total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += t[i].got;
    }
    assert_int_equal(total, 25); /* the clock did not move: exactly the burst */
    tad_ratelimit_free(rl);
}

static void real_clock(void **state)
{
    (void)state;
    struct tad_ratelimit *rl = NULL;
    assert_int_equal(tad_ratelimit_new(100.0, NULL, &rl), TAD_OK);
    for (int i = 0; i < 105; i++)
        assert_int_equal(tad_ratelimit_acquire(rl, NULL), TAD_OK);
    tad_ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(burst_then_steady),
        cmocka_unit_test(acquire_blocks_for_the_right_time),
        cmocka_unit_test(slow_down_halves_for_a_minute),
        cmocka_unit_test(slow_down_has_a_floor),
        cmocka_unit_test(set_rate),
        cmocka_unit_test(cancel_ends_wait),
        cmocka_unit_test(shared_by_threads),
        cmocka_unit_test(real_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
