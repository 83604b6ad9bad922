/* ratelimit.h - the client-side request rate limit for TikTok, shared by every worker.
 *
 * A token bucket: tokens accrue at the current rate up to a burst of max(1, rate) tokens and
 * each request takes one. tad_ratelimit_slow_down() halves the rate for 60 seconds after a
 * rate-limit answer (slow-downs less than a second apart only extend the 60 s window, so a
 * burst of answers from many workers counts once); the rate never drops below 1/64 of the
 * configured one.
 *
 * Threading: one object is shared by all threads (a mutex guards the state; waiting happens
 * outside the lock in slices of at most 100 ms so cancellation is noticed quickly).
 * The clock and the sleep are injectable for tests.
 */
#ifndef TAD_RATELIMIT_H
#define TAD_RATELIMIT_H

#include <stdatomic.h>
#include <stdint.h>

#include "tad/error.h"

#define TAD_RATELIMIT_SLOW_MS 60000u

struct tad_ratelimit;

struct tad_ratelimit_clock {
    uint64_t (*now_ms)(void *ctx);            /* monotonic milliseconds */
    void (*sleep_ms)(void *ctx, uint64_t ms); /* waits (a fake may just advance now_ms) */
    void *ctx;
};

/* *ret is new (tad_ratelimit_free). per_second must be > 0. clock is copied; NULL = the
 * monotonic clock and nanosleep. TAD_ERR_INVALID, TAD_ERR_NOMEM. */
TAD_MUST_CHECK tad_err tad_ratelimit_new(double per_second, const struct tad_ratelimit_clock *clock,
                                         struct tad_ratelimit **ret);
void tad_ratelimit_free(struct tad_ratelimit *rl);

/* Blocks until a token is free and takes it. cancel is borrowed and may be NULL; when it is
 * set non-zero the wait ends with TAD_ERR_CANCELLED. NULL rl = no limit (TAD_OK at once). */
TAD_MUST_CHECK tad_err tad_ratelimit_acquire(struct tad_ratelimit *rl, const atomic_int *cancel);

/* Takes a token if one is free (returns 1); otherwise returns 0 and, when wait_ms is not NULL,
 * stores how long until the next token. */
int tad_ratelimit_try_acquire(struct tad_ratelimit *rl, uint64_t *wait_ms);

/* A rate-limit answer arrived: halve the rate for the next 60 s. */
void tad_ratelimit_slow_down(struct tad_ratelimit *rl);

/* Changes the configured rate (config reload); TAD_ERR_INVALID unless per_second > 0. */
TAD_MUST_CHECK tad_err tad_ratelimit_set_rate(struct tad_ratelimit *rl, double per_second);

/* The rate in force now (configured rate, or the reduced one during a slow-down). */
double tad_ratelimit_rate(struct tad_ratelimit *rl);

#endif
