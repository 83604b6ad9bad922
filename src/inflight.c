/* inflight.c - the table of held SQS messages and the batching of the calls about them (see
 * tad/inflight.h). A small array scanned linearly: it never holds more than the workers plus
 * one receive batch. */
#include "tad/inflight.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    uint64_t id;
    char *receipt_handle;
    char *message_id;
    enum tad_inflight_state state;
    unsigned release_delay_s;
    uint64_t received_ms;
    uint64_t visible_at_ms;
    unsigned failures;
    bool taken; /* in a batch being worked on */
};

struct tad_inflight {
    pthread_mutex_t lock;
    struct entry *v;
    size_t n, alloc;
    uint64_t next_id;
};

tad_err tad_inflight_new(struct tad_inflight **ret)
{
    struct tad_inflight *t = calloc(1, sizeof(*t));
    if (!t)
        return TAD_ERR_NOMEM;
    pthread_mutex_init(&t->lock, NULL);
    t->next_id = 1;
    *ret = t;
    return TAD_OK;
}

static void entry_free(struct entry *e)
{
    free(e->receipt_handle);
    free(e->message_id);
}

void tad_inflight_free(struct tad_inflight *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        entry_free(&t->v[i]);
    free(t->v);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

tad_err tad_inflight_add(struct tad_inflight *t, const char *message_id, const char *receipt_handle,
                         uint64_t now_ms, unsigned visibility_s, uint64_t *id)
{
    struct entry e = {
        .receipt_handle = strdup(receipt_handle ? receipt_handle : ""),
        .message_id = strdup(message_id ? message_id : ""),
        .state = TAD_INFLIGHT_WORKING,
        .received_ms = now_ms,
        .visible_at_ms = now_ms + (uint64_t)visibility_s * 1000u,
    };
    if (!e.receipt_handle || !e.message_id) {
        entry_free(&e);
        return TAD_ERR_NOMEM;
    }
    pthread_mutex_lock(&t->lock);
    if (t->n == t->alloc) {
        size_t na = t->alloc ? t->alloc * 2 : 16;
        struct entry *nv = realloc(t->v, na * sizeof(*nv));
        if (!nv) {
            pthread_mutex_unlock(&t->lock);
            entry_free(&e);
            return TAD_ERR_NOMEM;
        }
        t->v = nv;
        t->alloc = na;
    }
    e.id = t->next_id++;
    t->v[t->n++] = e;
    *id = e.id;
    pthread_mutex_unlock(&t->lock);
    return TAD_OK;
}

static struct entry *find(struct tad_inflight *t, uint64_t id)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].id == id)
            return &t->v[i];
    return NULL;
}

static void remove_at(struct tad_inflight *t, size_t i)
{
    entry_free(&t->v[i]);
    t->v[i] = t->v[--t->n];
}

void tad_inflight_finish(struct tad_inflight *t, uint64_t id, enum tad_inflight_state state,
                         unsigned release_delay_s)
{
    pthread_mutex_lock(&t->lock);
    struct entry *e = find(t, id);
    if (e) {
        e->state = state;
        e->release_delay_s =
            release_delay_s > TAD_SQS_MAX_VISIBILITY ? TAD_SQS_MAX_VISIBILITY : release_delay_s;
        e->failures = 0;
    }
    pthread_mutex_unlock(&t->lock);
}

void tad_inflight_forget(struct tad_inflight *t, uint64_t id)
{
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].id == id) {
            if (t->v[i].taken) /* an extension is on its way: complete() drops it */
                t->v[i].receipt_handle[0] = '\0';
            else
                remove_at(t, i);
            break;
        }
    }
    pthread_mutex_unlock(&t->lock);
}

size_t tad_inflight_release_working(struct tad_inflight *t)
{
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].state == TAD_INFLIGHT_WORKING) {
            t->v[i].state = TAD_INFLIGHT_RELEASE;
            t->v[i].release_delay_s = 0;
            t->v[i].failures = 0;
            n++;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

static size_t count_where(struct tad_inflight *t, bool working_only)
{
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n; i++)
        if (!working_only || t->v[i].state == TAD_INFLIGHT_WORKING)
            n++;
    pthread_mutex_unlock(&t->lock);
    return n;
}

size_t tad_inflight_count(struct tad_inflight *t)
{
    return count_where(t, false);
}

size_t tad_inflight_working(struct tad_inflight *t)
{
    return count_where(t, true);
}

static uint64_t lead_ms(unsigned visibility_s)
{
    uint64_t half = (uint64_t)visibility_s * 500u;
    return half > TAD_INFLIGHT_MIN_LEAD_MS ? half : TAD_INFLIGHT_MIN_LEAD_MS;
}

/* Seconds the entry may still be kept invisible from now (12-hour limit minus margin). */
static uint64_t limit_left_s(const struct entry *e, uint64_t now_ms)
{
    uint64_t elapsed_s = (now_ms - e->received_ms) / 1000u;
    uint64_t limit = TAD_SQS_MAX_VISIBILITY - TAD_INFLIGHT_LIMIT_MARGIN_S;
    return elapsed_s >= limit ? 0 : limit - elapsed_s;
}

/* New visibility for an extension now, or 0 when it cannot (or need not) be extended. */
static unsigned extension_s(const struct entry *e, uint64_t now_ms, unsigned visibility_s)
{
    if (visibility_s == 0)
        visibility_s = 1;
    uint64_t left = limit_left_s(e, now_ms);
    uint64_t want = visibility_s < left ? visibility_s : left;
    /* worth a call only if it pushes the expiry later */
    return now_ms + want * 1000u > e->visible_at_ms ? (unsigned)want : 0;
}

static bool due(const struct entry *e, uint64_t now_ms, unsigned visibility_s)
{
    return e->visible_at_ms <= now_ms + lead_ms(visibility_s);
}

size_t tad_inflight_take(struct tad_inflight *t, enum tad_inflight_batch_kind kind, uint64_t now_ms,
                         unsigned visibility_s, struct tad_inflight_batch *b)
{
    b->kind = kind;
    b->n = 0;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n && b->n < TAD_SQS_MAX_BATCH; i++) {
        struct entry *e = &t->v[i];
        if (e->taken || !e->receipt_handle[0])
            continue;
        unsigned vis = 0;
        if (kind == TAD_INFLIGHT_BATCH_DELETE && e->state == TAD_INFLIGHT_DELETE) {
            vis = 0;
        } else if (kind == TAD_INFLIGHT_BATCH_RELEASE && e->state == TAD_INFLIGHT_RELEASE) {
            vis = e->release_delay_s;
        } else if (kind == TAD_INFLIGHT_BATCH_EXTEND && e->state == TAD_INFLIGHT_WORKING &&
                   due(e, now_ms, visibility_s)) {
            vis = extension_s(e, now_ms, visibility_s);
            if (vis == 0)
                continue; /* at the 12-hour limit */
        } else {
            continue;
        }
        struct tad_inflight_item *it = &b->items[b->n++];
        it->id = e->id;
        it->receipt_handle = e->receipt_handle;
        it->message_id = e->message_id;
        it->visibility = vis;
        snprintf(it->entry_id, sizeof(it->entry_id), "e%llu", (unsigned long long)e->id);
        e->taken = true;
    }
    pthread_mutex_unlock(&t->lock);
    return b->n;
}

size_t tad_inflight_complete(struct tad_inflight *t, const struct tad_inflight_batch *b,
                             const enum tad_inflight_item_result *results, uint64_t now_ms)
{
    size_t dropped = 0;
    pthread_mutex_lock(&t->lock);
    for (size_t k = 0; k < b->n; k++) {
        size_t i;
        for (i = 0; i < t->n && t->v[i].id != b->items[k].id; i++)
            ;
        if (i == t->n)
            continue;
        struct entry *e = &t->v[i];
        e->taken = false;
        if (!e->receipt_handle[0]) { /* forgotten while the call ran */
            remove_at(t, i);
            continue;
        }
        if (results[k] == TAD_INFLIGHT_GONE) {
            remove_at(t, i);
            continue;
        }
        if (b->kind == TAD_INFLIGHT_BATCH_EXTEND) {
            if (results[k] == TAD_INFLIGHT_OK)
                e->visible_at_ms = now_ms + (uint64_t)b->items[k].visibility * 1000u;
            continue; /* a failed extension is simply tried again */
        }
        /* delete or release: only if the entry still wants that action */
        bool same = (b->kind == TAD_INFLIGHT_BATCH_DELETE && e->state == TAD_INFLIGHT_DELETE) ||
                    (b->kind == TAD_INFLIGHT_BATCH_RELEASE && e->state == TAD_INFLIGHT_RELEASE);
        if (!same)
            continue;
        if (results[k] == TAD_INFLIGHT_OK) {
            remove_at(t, i);
        } else if (++e->failures >= TAD_INFLIGHT_MAX_CALL_FAILURES) {
            remove_at(t, i);
            dropped++;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return dropped;
}

uint64_t tad_inflight_next_due_ms(struct tad_inflight *t, uint64_t now_ms, unsigned visibility_s)
{
    uint64_t best = UINT64_MAX;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n; i++) {
        const struct entry *e = &t->v[i];
        if (e->taken)
            continue;
        if (e->state != TAD_INFLIGHT_WORKING) {
            best = 0;
            break;
        }
        if (extension_s(e, now_ms, visibility_s) == 0 && due(e, now_ms, visibility_s))
            continue; /* cannot be extended any more */
        uint64_t at = e->visible_at_ms - lead_ms(visibility_s);
        uint64_t wait = at > now_ms && e->visible_at_ms > lead_ms(visibility_s) ? at - now_ms : 0;
        if (wait < best)
            best = wait;
    }
    pthread_mutex_unlock(&t->lock);
    return best;
}

bool tad_inflight_extendable(struct tad_inflight *t, uint64_t id, uint64_t now_ms)
{
    pthread_mutex_lock(&t->lock);
    struct entry *e = find(t, id);
    bool ok = e && limit_left_s(e, now_ms) > 0;
    pthread_mutex_unlock(&t->lock);
    return ok;
}
