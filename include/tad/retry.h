/* retry.h - the retry policy, pure: exponential backoff with full jitter, a cap, attempt
 * limits, the AWS "standard" retry quota, and the release delay for messages handed back to
 * SQS. Randomness is injected (struct tad_rng) so tests are deterministic.
 *
 * The policy object is immutable and may be shared. The quota is thread-safe (mutex).
 */
#ifndef TAD_RETRY_H
#define TAD_RETRY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tad/error.h"

struct tad_rng {
    uint64_t (*next)(void *ctx); /* uniformly distributed 64-bit values */
    void *ctx;
};

/* Milliseconds on the monotonic clock (ctx unused; fits clock-callback slots). */
uint64_t tad_mono_ms(void *ctx);

/* Sleeps ms milliseconds in slices of at most 100 ms, returning early when *cancel (may be
 * NULL) becomes non-zero. Returns false if it was cancelled (before or during the sleep). */
bool tad_pause_ms(uint64_t ms, const atomic_int *cancel);

/* A per-thread xorshift generator seeded from getrandom(); good enough for jitter. */
const struct tad_rng *tad_rng_default(void);

struct tad_retry_policy {
    unsigned max_attempts; /* total attempts including the first; >= 1 */
    unsigned base_ms;      /* first backoff ceiling */
    unsigned max_ms;       /* cap on any single delay */
};

#define TAD_RETRY_POLICY_DEFAULT                                                                   \
    {                                                                                              \
        5, 500, 60000                                                                              \
    }

/* Delay before the next try after `failures` failed attempts (1 = after the first failure):
 * uniform in [0, min(max_ms, base_ms * 2^(failures-1))]. rng NULL = tad_rng_default(). */
uint64_t tad_retry_delay_ms(const struct tad_retry_policy *p, unsigned failures,
                            const struct tad_rng *rng);

/* Should the caller try again after `attempts` attempts that ended in err? */
bool tad_retry_should(const struct tad_retry_policy *p, tad_err err, unsigned attempts);

/* Honour a peer's Retry-After: the larger of the jittered delay and retry_after seconds,
 * still capped at max_ms. */
uint64_t tad_retry_delay_with_hint_ms(const struct tad_retry_policy *p, unsigned failures,
                                      unsigned retry_after_s, const struct tad_rng *rng);

/* The AWS SDKs' "standard" mode retry quota: a bucket of 500 tokens; a retry costs 5 (10
 * after a timeout or network error); a success refunds what its retry cost (or 1 token when
 * no retry was needed). When the bucket cannot pay, the caller stops retrying. */
struct tad_retry_quota {
    pthread_mutex_t lock;
    unsigned capacity;
    unsigned tokens;
};

#define TAD_RETRY_QUOTA_CAPACITY 500u
#define TAD_RETRY_QUOTA_COST 5u
#define TAD_RETRY_QUOTA_TIMEOUT_COST 10u

void tad_retry_quota_init(struct tad_retry_quota *q, unsigned capacity);
void tad_retry_quota_release(struct tad_retry_quota *q);
/* Takes the cost of a retry after err; returns the cost taken, or 0 when the quota is empty
 * (then do not retry). */
unsigned tad_retry_quota_acquire(struct tad_retry_quota *q, tad_err err);
/* After a success: refund `cost` (what the successful retry took), or 1 if it was 0. */
void tad_retry_quota_success(struct tad_retry_quota *q, unsigned cost);
unsigned tad_retry_quota_tokens(struct tad_retry_quota *q);

/* Visibility delay (seconds) for a message released after a transient failure: grows with
 * the message's receive count (30 s, 60 s, 120 s, ... capped at 15 minutes) and never exceeds
 * SQS's 12-hour limit. */
unsigned tad_retry_release_delay_s(unsigned receive_count);

#endif
