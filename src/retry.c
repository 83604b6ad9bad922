/* retry.c - backoff arithmetic, retry quota and release delays (see tad/retry.h).
 * Pure except for the default RNG, which keeps its state per thread. */
#include "tad/retry.h"

#include <errno.h>
#include <sys/random.h>
#include <time.h>

static uint64_t xorshift_next(void *ctx)
{
    (void)ctx;
    static __thread uint64_t state;
    if (state == 0) {
        if (getrandom(&state, sizeof(state), 0) != (ssize_t)sizeof(state) || state == 0) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ 0x9e3779b97f4a7c15ull;
        }
    }
    /* xorshift64* */
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545f4914f6cdd1dull;
}

uint64_t tad_mono_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const struct tad_rng default_rng = {xorshift_next, NULL};

const struct tad_rng *tad_rng_default(void)
{
    return &default_rng;
}

static uint64_t ceiling_ms(const struct tad_retry_policy *p, unsigned failures)
{
    uint64_t c = p->base_ms;
    for (unsigned i = 1; i < failures && c < p->max_ms; i++)
        c *= 2;
    return c < p->max_ms ? c : p->max_ms;
}

uint64_t tad_retry_delay_ms(const struct tad_retry_policy *p, unsigned failures,
                            const struct tad_rng *rng)
{
    if (!rng)
        rng = tad_rng_default();
    if (failures == 0)
        return 0;
    uint64_t c = ceiling_ms(p, failures);
    return rng->next(rng->ctx) % (c + 1);
}

uint64_t tad_retry_delay_with_hint_ms(const struct tad_retry_policy *p, unsigned failures,
                                      unsigned retry_after_s, const struct tad_rng *rng)
{
    uint64_t d = tad_retry_delay_ms(p, failures, rng);
    uint64_t hint = (uint64_t)retry_after_s * 1000u;
    if (hint > d)
        d = hint;
    return d < p->max_ms ? d : p->max_ms;
}

bool tad_retry_should(const struct tad_retry_policy *p, tad_err err, unsigned attempts)
{
    return tad_err_retryable(err) && attempts < p->max_attempts;
}

void tad_retry_quota_init(struct tad_retry_quota *q, unsigned capacity)
{
    pthread_mutex_init(&q->lock, NULL);
    q->capacity = capacity;
    q->tokens = capacity;
}

void tad_retry_quota_release(struct tad_retry_quota *q)
{
    pthread_mutex_destroy(&q->lock);
}

unsigned tad_retry_quota_acquire(struct tad_retry_quota *q, tad_err err)
{
    unsigned cost = err == TAD_ERR_NETWORK ? TAD_RETRY_QUOTA_TIMEOUT_COST : TAD_RETRY_QUOTA_COST;
    pthread_mutex_lock(&q->lock);
    if (q->tokens < cost)
        cost = 0;
    else
        q->tokens -= cost;
    pthread_mutex_unlock(&q->lock);
    return cost;
}

void tad_retry_quota_success(struct tad_retry_quota *q, unsigned cost)
{
    pthread_mutex_lock(&q->lock);
    q->tokens += cost ? cost : 1;
    if (q->tokens > q->capacity)
        q->tokens = q->capacity;
    pthread_mutex_unlock(&q->lock);
}

unsigned tad_retry_quota_tokens(struct tad_retry_quota *q)
{
    pthread_mutex_lock(&q->lock);
    unsigned t = q->tokens;
    pthread_mutex_unlock(&q->lock);
    return t;
}

unsigned tad_retry_release_delay_s(unsigned receive_count)
{
    unsigned d = 30;
    for (unsigned i = 1; i < receive_count && d < 900; i++)
        d *= 2;
    return d < 900 ? d : 900;
}

#define PAUSE_SLICE_MS 100u

bool tad_pause_ms(uint64_t ms, const atomic_int *cancel)
{
    while (ms > 0) {
        if (cancel && atomic_load(cancel))
            return false;
        uint64_t step = ms < PAUSE_SLICE_MS ? ms : PAUSE_SLICE_MS;
        struct timespec ts = {(time_t)(step / 1000u), (long)(step % 1000u) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        ms -= step;
    }
    return !(cancel && atomic_load(cancel));
}
