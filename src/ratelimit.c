/* ratelimit.c - token bucket shared by all workers, with a temporary slow-down after
 * rate-limit answers (see tad/ratelimit.h). All state sits behind one mutex; waiting is done
 * outside it in short slices. */
#include "tad/ratelimit.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "tad/retry.h"

#define MAX_SLICE_MS 100u
#define MIN_FACTOR (1.0 / 64.0)
#define DEBOUNCE_MS 1000u

struct tad_ratelimit {
    pthread_mutex_t lock;
    struct tad_ratelimit_clock clock;
    double base_rate; /* configured tokens per second */
    double factor;    /* 1.0, or reduced during a slow-down */
    uint64_t slow_until_ms;
    uint64_t last_slow_ms;
    int slowed; /* a slow-down happened at least once */
    double tokens;
    uint64_t last_ms;
};

static void mono_sleep_ms(void *ctx, uint64_t ms)
{
    (void)ctx;
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Call with the lock held: ends an expired slow-down and adds the tokens earned since the
 * last refill. */
static void refill(struct tad_ratelimit *rl, uint64_t now)
{
    if (rl->factor < 1.0 && now >= rl->slow_until_ms)
        rl->factor = 1.0;
    double rate = rl->base_rate * rl->factor;
    double burst = rate < 1.0 ? 1.0 : rate;
    if (now > rl->last_ms) {
        rl->tokens += (double)(now - rl->last_ms) * rate / 1000.0;
        rl->last_ms = now;
    }
    if (rl->tokens > burst)
        rl->tokens = burst;
}

tad_err tad_ratelimit_new(double per_second, const struct tad_ratelimit_clock *clock,
                          struct tad_ratelimit **ret)
{
    if (!(per_second > 0.0) || !ret)
        return TAD_ERR_INVALID;
    struct tad_ratelimit *rl = calloc(1, sizeof(*rl));
    if (!rl)
        return TAD_ERR_NOMEM;
    if (pthread_mutex_init(&rl->lock, NULL) != 0) {
        free(rl);
        return TAD_ERR_NOMEM;
    }
    if (clock && clock->now_ms) {
        rl->clock = *clock;
        if (!rl->clock.sleep_ms)
            rl->clock.sleep_ms = mono_sleep_ms;
    } else {
        rl->clock.now_ms = tad_mono_ms;
        rl->clock.sleep_ms = mono_sleep_ms;
    }
    rl->base_rate = per_second;
    rl->factor = 1.0;
    rl->tokens = per_second < 1.0 ? 1.0 : per_second;
    rl->last_ms = rl->clock.now_ms(rl->clock.ctx);
    *ret = rl;
    return TAD_OK;
}

void tad_ratelimit_free(struct tad_ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

int tad_ratelimit_try_acquire(struct tad_ratelimit *rl, uint64_t *wait_ms)
{
    if (!rl)
        return 1;
    pthread_mutex_lock(&rl->lock);
    uint64_t now = rl->clock.now_ms(rl->clock.ctx);
    refill(rl, now);
    int got = 0;
    if (rl->tokens >= 1.0) {
        rl->tokens -= 1.0;
        got = 1;
    } else if (wait_ms) {
        double rate = rl->base_rate * rl->factor;
        double ms = (1.0 - rl->tokens) * 1000.0 / rate;
        uint64_t w = (uint64_t)ms + 1u;
        /* a slow-down that ends earlier makes the token come sooner; re-check then */
        if (rl->factor < 1.0 && rl->slow_until_ms > now && rl->slow_until_ms - now < w)
            w = rl->slow_until_ms - now;
        *wait_ms = w;
    }
    pthread_mutex_unlock(&rl->lock);
    return got;
}

tad_err tad_ratelimit_acquire(struct tad_ratelimit *rl, const atomic_int *cancel)
{
    if (!rl)
        return TAD_OK;
    for (;;) {
        if (cancel && atomic_load(cancel))
            return TAD_ERR_CANCELLED;
        uint64_t wait = 0;
        if (tad_ratelimit_try_acquire(rl, &wait))
            return TAD_OK;
        if (wait == 0)
            wait = 1;
        rl->clock.sleep_ms(rl->clock.ctx, wait < MAX_SLICE_MS ? wait : MAX_SLICE_MS);
    }
}

void tad_ratelimit_slow_down(struct tad_ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_lock(&rl->lock);
    uint64_t now = rl->clock.now_ms(rl->clock.ctx);
    refill(rl, now);
    int debounced = rl->slowed && rl->factor < 1.0 && now - rl->last_slow_ms < DEBOUNCE_MS;
    if (!debounced) {
        rl->factor /= 2.0;
        if (rl->factor < MIN_FACTOR)
            rl->factor = MIN_FACTOR;
        rl->last_slow_ms = now;
        rl->slowed = 1;
        double rate = rl->base_rate * rl->factor;
        double burst = rate < 1.0 ? 1.0 : rate;
        if (rl->tokens > burst)
            rl->tokens = burst;
    }
    rl->slow_until_ms = now + TAD_RATELIMIT_SLOW_MS;
    pthread_mutex_unlock(&rl->lock);
}

tad_err tad_ratelimit_set_rate(struct tad_ratelimit *rl, double per_second)
{
    if (!rl || !(per_second > 0.0))
        return TAD_ERR_INVALID;
    pthread_mutex_lock(&rl->lock);
    refill(rl, rl->clock.now_ms(rl->clock.ctx));
    rl->base_rate = per_second;
    double rate = per_second * rl->factor;
    double burst = rate < 1.0 ? 1.0 : rate;
    if (rl->tokens > burst)
        rl->tokens = burst;
    pthread_mutex_unlock(&rl->lock);
    return TAD_OK;
}

double tad_ratelimit_rate(struct tad_ratelimit *rl)
{
    if (!rl)
        return 0.0;
    pthread_mutex_lock(&rl->lock);
    refill(rl, rl->clock.now_ms(rl->clock.ctx));
    double r = rl->base_rate * rl->factor;
    pthread_mutex_unlock(&rl->lock);
    return r;
}
