/* aws_creds.c - credential snapshots, the provider chain, its cache and the refresh thread.
 *
 * Ownership: the provider owns its sources and one reference to the current snapshot.
 * Threading: `lock` guards cur/fetching/stop; fetches run with the lock released while
 * `fetching` is set (single flight), and waiters sleep on `cond`. The refresh thread sleeps on
 * the same condition variable until the next refresh is due or the provider is freed.
 */
#include "tad/aws_creds.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "tad/creds_sources.h"

#define ADVISORY_WINDOW_S (15 * 60) /* refresh this long before expiry */
#define EXPIRY_MARGIN_S 30          /* never sign with credentials this close to expiry */
#define RETRY_MIN_S 5
#define RETRY_MAX_S 300

struct tad_aws_creds *tad_aws_creds_new(const char *access_key_id, const char *secret_access_key,
                                        const char *session_token, time_t expiration,
                                        const char *source)
{
    if (!access_key_id || !secret_access_key || !source)
        return NULL;
    size_t la = strlen(access_key_id) + 1, ls = strlen(secret_access_key) + 1;
    size_t lt = session_token ? strlen(session_token) + 1 : 0, lsrc = strlen(source) + 1;
    struct tad_aws_creds *c = calloc(1, sizeof(*c) + la + ls + lt + lsrc);
    if (!c)
        return NULL;
    char *p = c->storage;
    memcpy(p, access_key_id, la);
    c->access_key_id = p;
    p += la;
    memcpy(p, secret_access_key, ls);
    c->secret_access_key = p;
    p += ls;
    if (session_token) {
        memcpy(p, session_token, lt);
        c->session_token = p;
        p += lt;
    }
    memcpy(p, source, lsrc);
    c->source = p;
    c->expiration = expiration;
    c->refs = 1;
    return c;
}

struct tad_aws_creds *tad_aws_creds_ref(struct tad_aws_creds *c)
{
    if (c)
        __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
    return c;
}

struct tad_aws_creds *tad_aws_creds_unref(struct tad_aws_creds *c)
{
    if (c && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        size_t len = strlen(c->access_key_id) + strlen(c->secret_access_key) + 2 +
                     (c->session_token ? strlen(c->session_token) + 1 : 0) + strlen(c->source) + 1;
        OPENSSL_cleanse(c->storage, len);
        free(c);
    }
    return NULL;
}

struct tad_creds_provider {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct tad_creds_source *sources;
    size_t nsources;
    size_t chosen; /* index of the source that answered last; nsources = none yet */
    struct tad_aws_creds *cur;
    bool fetching;
    bool stop;
    bool have_thread;
    pthread_t thread;
    time_t next_refresh; /* 0 = none scheduled */
    unsigned retry_s;
    time_t (*now)(void *);
    void *now_ctx;
    char last_error[256];
};

static time_t real_now(void *ctx)
{
    (void)ctx;
    return time(NULL);
}

static time_t now_of(struct tad_creds_provider *p)
{
    return p->now(p->now_ctx);
}

static bool usable(const struct tad_aws_creds *c, time_t now)
{
    return c && (c->expiration == 0 || now < c->expiration - EXPIRY_MARGIN_S);
}

/* When to refresh credentials fetched at `now`: 15 minutes before expiry, or half-way for
 * credentials that live less than 30 minutes. */
static time_t refresh_time(const struct tad_aws_creds *c, time_t now)
{
    if (c->expiration == 0)
        return 0;
    time_t life = c->expiration - now;
    if (life <= 2 * ADVISORY_WINDOW_S)
        return now + (life > 2 ? life / 2 : 1);
    return c->expiration - ADVISORY_WINDOW_S;
}

/* Walks the chain (or the chosen source). Called with the lock released. */
static tad_err fetch_chain(struct tad_creds_provider *p, size_t *chosen, struct tad_aws_creds **ret,
                           struct tad_errinfo *err)
{
    size_t start = *chosen < p->nsources ? *chosen : 0;
    size_t end = *chosen < p->nsources ? *chosen + 1 : p->nsources;
    for (size_t i = start; i < end; i++) {
        struct tad_creds_source *s = &p->sources[i];
        tad_errinfo_clear(err);
        tad_err e = s->fetch(s->ctx, ret, err);
        if (e == TAD_ERR_NOT_FOUND)
            continue;
        if (e == TAD_OK)
            *chosen = i;
        else if (err && err->msg[0] == '\0')
            tad_errinfo_set(err, e, "%s credentials: %s", s->name, tad_err_str(e));
        return e;
    }
    if (*chosen < p->nsources) /* the source that worked before is gone: walk the chain */
        return TAD_ERR_NOT_FOUND;
    return tad_errinfo_set(err, TAD_ERR_AUTH,
                           "no AWS credentials found (environment, shared files, web identity, "
                           "container or instance metadata)");
}

/* One single-flight fetch; the lock is held on entry and on return. */
static tad_err refresh_locked(struct tad_creds_provider *p, struct tad_errinfo *err)
{
    p->fetching = true;
    size_t chosen = p->chosen;
    pthread_mutex_unlock(&p->lock);
    struct tad_aws_creds *fresh = NULL;
    tad_err e = fetch_chain(p, &chosen, &fresh, err);
    if (e == TAD_ERR_NOT_FOUND && chosen < p->nsources) {
        chosen = p->nsources;
        e = fetch_chain(p, &chosen, &fresh, err);
    }
    pthread_mutex_lock(&p->lock);
    p->fetching = false;
    time_t now = now_of(p);
    if (e == TAD_OK) {
        tad_aws_creds_unref(p->cur);
        p->cur = fresh;
        p->chosen = chosen;
        p->retry_s = 0;
        p->next_refresh = refresh_time(fresh, now);
        p->last_error[0] = '\0';
    } else {
        /* keep what we have; try again with backoff while the old ones still work */
        p->retry_s = p->retry_s ? p->retry_s * 2 : RETRY_MIN_S;
        if (p->retry_s > RETRY_MAX_S)
            p->retry_s = RETRY_MAX_S;
        p->next_refresh = p->cur && p->cur->expiration ? now + p->retry_s : 0;
        if (err)
            tad_strlcpy(p->last_error, sizeof(p->last_error), err->msg, strlen(err->msg));
    }
    pthread_cond_broadcast(&p->cond);
    return e;
}

tad_err tad_creds_get(struct tad_creds_provider *p, struct tad_aws_creds **ret,
                      struct tad_errinfo *err)
{
    tad_err e = TAD_OK;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        if (usable(p->cur, now_of(p))) {
            *ret = tad_aws_creds_ref(p->cur);
            break;
        }
        if (p->fetching) {
            pthread_cond_wait(&p->cond, &p->lock);
            if (!p->fetching && !usable(p->cur, now_of(p)) && p->last_error[0]) {
                e = tad_errinfo_set(err, TAD_ERR_AUTH, "%s", p->last_error);
                break;
            }
            continue;
        }
        e = refresh_locked(p, err);
        if (e != TAD_OK)
            break;
        if (!usable(p->cur, now_of(p))) { /* fetched but already (nearly) expired */
            e = tad_errinfo_set(err, TAD_ERR_AUTH, "%s credentials are already expired",
                                p->sources[p->chosen].name);
            break;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return e;
}

void tad_creds_invalidate(struct tad_creds_provider *p, const struct tad_aws_creds *seen)
{
    pthread_mutex_lock(&p->lock);
    if (p->cur && p->cur == seen) {
        p->cur = tad_aws_creds_unref(p->cur);
        p->next_refresh = 0;
    }
    pthread_mutex_unlock(&p->lock);
}

unsigned tad_creds_refresh_due(struct tad_creds_provider *p)
{
    pthread_mutex_lock(&p->lock);
    time_t now = now_of(p);
    if (p->next_refresh && now >= p->next_refresh && !p->fetching) {
        struct tad_errinfo ei;
        tad_errinfo_clear(&ei);
        tad_err e = refresh_locked(p, &ei);
        (void)e; /* failures are kept in last_error and retried with backoff */
        now = now_of(p);
    }
    unsigned wait = 0;
    if (p->next_refresh)
        wait = p->next_refresh > now ? (unsigned)(p->next_refresh - now) : 1;
    pthread_mutex_unlock(&p->lock);
    return wait;
}

const char *tad_creds_source_name(struct tad_creds_provider *p)
{
    const char *name = "";
    pthread_mutex_lock(&p->lock);
    if (p->chosen < p->nsources)
        name = p->sources[p->chosen].name;
    pthread_mutex_unlock(&p->lock);
    return name;
}

static void *refresh_thread(void *arg)
{
    struct tad_creds_provider *p = arg;
    for (;;) {
        unsigned wait = tad_creds_refresh_due(p);
        pthread_mutex_lock(&p->lock);
        if (p->stop) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += wait ? wait : 60; /* re-check now and then: a get() may schedule one */
        int rc = 0;
        while (!p->stop && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&p->cond, &p->lock, &ts);
        bool stop = p->stop;
        pthread_mutex_unlock(&p->lock);
        if (stop)
            break;
    }
    return NULL;
}

tad_err tad_creds_provider_new_chain(const struct tad_creds_opts *opts,
                                     struct tad_creds_source *sources, size_t nsources,
                                     struct tad_creds_provider **ret)
{
    struct tad_creds_provider *p = calloc(1, sizeof(*p));
    if (!p)
        return TAD_ERR_NOMEM;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->sources = sources;
    p->nsources = nsources;
    p->chosen = nsources;
    p->now = opts && opts->now ? opts->now : real_now;
    p->now_ctx = opts ? opts->now_ctx : NULL;
    if (!(opts && opts->no_refresh_thread)) {
        if (pthread_create(&p->thread, NULL, refresh_thread, p) == 0)
            p->have_thread = true;
    }
    *ret = p;
    return TAD_OK;
}

tad_err tad_creds_provider_new(const struct tad_creds_opts *opts, struct tad_creds_provider **ret,
                               struct tad_errinfo *err)
{
    static tad_err (*const ctors[])(const struct tad_creds_opts *, struct tad_creds_source *) = {
        tad_creds_source_env,       tad_creds_source_profile, tad_creds_source_web_identity,
        tad_creds_source_container, tad_creds_source_imds,
    };
    size_t n = sizeof(ctors) / sizeof(ctors[0]);
    struct tad_creds_source *sources = calloc(n, sizeof(*sources));
    if (!sources)
        return TAD_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        tad_err e = ctors[i](opts, &sources[i]);
        if (e != TAD_OK) {
            for (size_t j = 0; j < i; j++)
                if (sources[j].free)
                    sources[j].free(sources[j].ctx);
            free(sources);
            return tad_errinfo_set(err, e, "cannot set up the AWS credential chain");
        }
    }
    tad_err e = tad_creds_provider_new_chain(opts, sources, n, ret);
    if (e != TAD_OK) {
        for (size_t j = 0; j < n; j++)
            if (sources[j].free)
                sources[j].free(sources[j].ctx);
        free(sources);
    }
    return e;
}

void tad_creds_provider_free(struct tad_creds_provider *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    if (p->have_thread)
        pthread_join(p->thread, NULL);
    for (size_t i = 0; i < p->nsources; i++)
        if (p->sources[i].free)
            p->sources[i].free(p->sources[i].ctx);
    free(p->sources);
    tad_aws_creds_unref(p->cur);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
