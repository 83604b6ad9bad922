/* audience.c - upload a file's parts and apply them to the right custom audience
 * (see tad/audience.h).
 *
 * Threading: struct tad_audience_sync is shared; one mutex guards the name cache and the
 * per-name lock flags, one condition variable wakes workers waiting for a name. No TikTok
 * call is made while the mutex is held (only while a name's flag is held). Each apply uses
 * the caller's HTTP client. Ownership: job and its parts are borrowed; the outcome owns
 * its strings.
 */
#include "tad/audience.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tad/log.h"
#include "tad/retry.h"

/* One (advertiser, calculate_type, name): the cached audience id and the name's lock. */
struct entry {
    struct entry *next;
    char *key;
    char audience_id[32]; /* "" = nothing cached */
    uint64_t expires_ms;
    bool busy;
    unsigned users; /* holders and waiters: the entry is kept while > 0 */
};

struct tad_audience_sync {
    struct tad_tiktok *tt;
    uint64_t ttl_ms;
    uint64_t (*now_ms)(void *ctx);
    void *clock_ctx;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct entry *entries;
};

/* State of one apply. */
struct run {
    struct tad_audience_sync *sync;
    struct tad_http *h;
    const struct tad_audience_job *job;
    struct tad_audience_outcome *out;
    struct tad_tiktok_creds creds;
    bool have_creds;
    bool refreshed;
};

tad_err tad_audience_sync_new(const struct tad_audience_sync_opts *opts,
                              struct tad_audience_sync **ret)
{
    if (!opts || !opts->tiktok || !ret)
        return TAD_ERR_INVALID;
    struct tad_audience_sync *s = calloc(1, sizeof(*s));
    if (!s)
        return TAD_ERR_NOMEM;
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        return TAD_ERR_NOMEM;
    }
    if (pthread_cond_init(&s->cond, NULL) != 0) {
        pthread_mutex_destroy(&s->lock);
        free(s);
        return TAD_ERR_NOMEM;
    }
    s->tt = opts->tiktok;
    s->ttl_ms =
        (uint64_t)(opts->cache_ttl_s ? opts->cache_ttl_s : TAD_AUDIENCE_CACHE_TTL_S) * 1000u;
    s->now_ms = opts->now_ms ? opts->now_ms : tad_mono_ms;
    s->clock_ctx = opts->clock_ctx;
    *ret = s;
    return TAD_OK;
}

void tad_audience_sync_free(struct tad_audience_sync *sync)
{
    if (!sync)
        return;
    struct entry *e = sync->entries;
    while (e) {
        struct entry *n = e->next;
        free(e->key);
        free(e);
        e = n;
    }
    pthread_cond_destroy(&sync->cond);
    pthread_mutex_destroy(&sync->lock);
    free(sync);
}

void tad_audience_sync_clear(struct tad_audience_sync *sync)
{
    if (!sync)
        return;
    pthread_mutex_lock(&sync->lock);
    for (struct entry *e = sync->entries; e; e = e->next)
        e->audience_id[0] = '\0';
    pthread_mutex_unlock(&sync->lock);
}

void tad_audience_outcome_release(struct tad_audience_outcome *out)
{
    if (!out)
        return;
    for (size_t i = 0; i < out->nfile_paths; i++)
        free(out->file_paths[i]);
    free(out->file_paths);
    tad_tiktok_ids_release(&out->request_ids);
    memset(out, 0, sizeof(*out));
}

/* Drops unused entries whose cache expired. Lock held. */
static void prune(struct tad_audience_sync *s, uint64_t now)
{
    struct entry **pp = &s->entries;
    while (*pp) {
        struct entry *e = *pp;
        if (e->users == 0 && now >= e->expires_ms) {
            *pp = e->next;
            free(e->key);
            free(e);
        } else {
            pp = &e->next;
        }
    }
}

/* Takes the name's lock (waits while another worker holds it). *ret is the held entry. */
static tad_err name_lock(struct tad_audience_sync *s, const char *key, struct entry **ret)
{
    tad_err e = TAD_OK;
    pthread_mutex_lock(&s->lock);
    prune(s, s->now_ms(s->clock_ctx));
    struct entry *en = s->entries;
    while (en && strcmp(en->key, key) != 0)
        en = en->next;
    if (!en) {
        en = calloc(1, sizeof(*en));
        if (!en || !(en->key = strdup(key))) {
            free(en);
            e = TAD_ERR_NOMEM;
            goto out;
        }
        en->next = s->entries;
        s->entries = en;
    }
    en->users++;
    while (en->busy)
        pthread_cond_wait(&s->cond, &s->lock);
    en->busy = true;
    *ret = en;
out:
    pthread_mutex_unlock(&s->lock);
    return e;
}

static void name_unlock(struct tad_audience_sync *s, struct entry *en)
{
    pthread_mutex_lock(&s->lock);
    en->busy = false;
    en->users--;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* Cached id (lock flag held by the caller, so only the mutex is needed for the clock). */
static bool cache_get(struct tad_audience_sync *s, struct entry *en, char id[32])
{
    pthread_mutex_lock(&s->lock);
    bool hit = en->audience_id[0] && s->now_ms(s->clock_ctx) < en->expires_ms;
    if (hit)
        memcpy(id, en->audience_id, 32);
    pthread_mutex_unlock(&s->lock);
    return hit;
}

static void cache_put(struct tad_audience_sync *s, struct entry *en, const char *id)
{
    pthread_mutex_lock(&s->lock);
    if (id)
        tad_strlcpy(en->audience_id, sizeof(en->audience_id), id, strlen(id));
    else
        en->audience_id[0] = '\0';
    en->expires_ms = s->now_ms(s->clock_ctx) + s->ttl_ms;
    pthread_mutex_unlock(&s->lock);
}

/* Numeric order of two digit strings without leading zeros. */
static int id_cmp(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return la < lb ? -1 : 1;
    return strcmp(a, b);
}

/* MAID_* uploads are FIRST_* audiences. */
static const char *audience_type(const char *t)
{
    if (strcmp(t, "MAID_SHA256") == 0)
        return "FIRST_SHA256";
    if (strcmp(t, "MAID_MD5") == 0)
        return "FIRST_MD5";
    return t;
}

static tad_err load_creds(struct run *r, struct tad_errinfo *err)
{
    if (r->have_creds) {
        tad_tiktok_creds_release(&r->creds);
        r->have_creds = false;
    }
    struct tad_tiktok_creds c;
    memset(&c, 0, sizeof(c));
    tad_err e = r->job->get_creds(r->job->creds_ctx, r->h, &c, err);
    if (e != TAD_OK)
        return e;
    r->creds = c;
    r->have_creds = true;
    if (c.access_token)
        tad_log_register_secret(c.access_token);
    return TAD_OK;
}

/* After a step failed with e: true when the step should run again with fresh credentials
 * (first token error of this apply); *e is replaced when the refresh itself fails. */
static bool auth_again(struct run *r, tad_err *e, struct tad_errinfo *err)
{
    if (*e != TAD_ERR_AUTH || r->refreshed)
        return false;
    r->refreshed = true;
    log_debug("TikTok rejected the access token; refreshing the credentials once");
    if (r->job->invalidate_creds)
        r->job->invalidate_creds(r->job->creds_ctx);
    tad_err le = load_creds(r, err);
    if (le != TAD_OK) {
        *e = le;
        return false;
    }
    return true;
}

static tad_err upload_parts(struct run *r, struct tad_errinfo *err)
{
    struct tad_audience_outcome *out = r->out;
    out->file_paths = calloc(r->job->nparts, sizeof(*out->file_paths));
    if (!out->file_paths)
        return TAD_ERR_NOMEM;
    for (size_t i = 0; i < r->job->nparts; i++) {
        char name[32];
        int n = snprintf(name, sizeof(name), "part-%05zu.csv", i + 1);
        if (n < 0 || (size_t)n >= sizeof(name))
            return TAD_ERR_INVALID;
        char *path = NULL;
        tad_err e;
        do {
            e = tad_tiktok_upload(r->sync->tt, r->h, &r->creds, &r->job->parts[i], name,
                                  r->job->calculate_type, &path, &out->request_ids, err);
        } while (e != TAD_OK && auth_again(r, &e, err));
        if (e != TAD_OK)
            return e;
        out->file_paths[out->nfile_paths++] = path;
    }
    return TAD_OK;
}

/* Oldest owned audience with this exact name and type, or "" (found_id[0] == 0). */
static tad_err find_oldest(struct run *r, char found_id[32], struct tad_errinfo *err)
{
    struct tad_tiktok_audiences list = {NULL, 0};
    tad_err e;
    do {
        e = tad_tiktok_list(r->sync->tt, r->h, &r->creds, &list, &r->out->request_ids, err);
    } while (e != TAD_OK && auth_again(r, &e, err));
    if (e != TAD_OK)
        return e;
    const char *want_type = audience_type(r->job->calculate_type);
    const char *best = NULL;
    for (size_t i = 0; i < list.n; i++) {
        const struct tad_tiktok_audience *a = &list.v[i];
        if (!a->is_creator || strcmp(a->name, r->job->audience_name) != 0 ||
            strcmp(audience_type(a->calculate_type), want_type) != 0)
            continue;
        if (!best || id_cmp(a->audience_id, best) < 0)
            best = a->audience_id;
    }
    if (best)
        tad_strlcpy(found_id, 32, best, strlen(best));
    else
        found_id[0] = '\0';
    tad_tiktok_audiences_release(&list);
    return TAD_OK;
}

/* Applies paths[0..n) to id, at most 50 per call. The first call uses `action`; for REPLACE
 * the later calls APPEND (they must add to what the first call put in place). */
static tad_err apply_paths(struct run *r, const char *id, enum tad_tiktok_action action,
                           char *const *paths, size_t n, struct tad_errinfo *err)
{
    for (size_t off = 0; off < n; off += TAD_TIKTOK_MAX_PATHS_PER_CALL) {
        size_t cnt =
            n - off < TAD_TIKTOK_MAX_PATHS_PER_CALL ? n - off : TAD_TIKTOK_MAX_PATHS_PER_CALL;
        enum tad_tiktok_action act =
            off > 0 && action == TAD_TIKTOK_REPLACE ? TAD_TIKTOK_APPEND : action;
        tad_err e;
        do {
            e = tad_tiktok_update(r->sync->tt, r->h, &r->creds, id, act, paths + off, cnt,
                                  &r->out->request_ids, err);
        } while (e != TAD_OK && auth_again(r, &e, err));
        if (e != TAD_OK)
            return e;
    }
    return TAD_OK;
}

static tad_err delete_one(struct run *r, const char *id, struct tad_errinfo *err)
{
    const char *ids[1] = {id};
    tad_err e;
    do {
        e = tad_tiktok_delete(r->sync->tt, r->h, &r->creds, ids, 1, &r->out->request_ids, err);
    } while (e != TAD_OK && auth_again(r, &e, err));
    /* a retried delete whose first answer was lost finds nothing to delete */
    return e == TAD_ERR_NOT_FOUND ? TAD_OK : e;
}

/* Creates the audience with the first <= 50 paths. A create is attempted once per try; after
 * a transient failure (the create may have happened) the name is looked up again before the
 * next try. *adopted is set when the lookup found an audience instead. */
static tad_err create_audience(struct run *r, char id[32], bool *adopted, struct tad_errinfo *err)
{
    const struct tad_retry_policy *pol = tad_tiktok_retry_policy(r->sync->tt);
    size_t first = r->out->nfile_paths < TAD_TIKTOK_MAX_PATHS_PER_CALL
                       ? r->out->nfile_paths
                       : TAD_TIKTOK_MAX_PATHS_PER_CALL;
    *adopted = false;
    for (unsigned attempt = 1;; attempt++) {
        tad_err e;
        do {
            e = tad_tiktok_create(r->sync->tt, r->h, &r->creds, r->job->audience_name,
                                  audience_type(r->job->calculate_type), r->out->file_paths, first,
                                  id, &r->out->request_ids, err);
        } while (e != TAD_OK && auth_again(r, &e, err));
        if (e == TAD_OK || !tad_err_retryable(e) || attempt >= pol->max_attempts)
            return e;
        tad_err pe = tad_tiktok_pause(r->sync->tt, tad_retry_delay_ms(pol, attempt, NULL));
        if (pe != TAD_OK)
            return tad_errinfo_set(err, pe, "cancelled while creating the audience");
        char found[32];
        tad_err fe = find_oldest(r, found, err);
        if (fe != TAD_OK)
            return fe;
        if (found[0]) {
            memcpy(id, found, 32);
            *adopted = true;
            return TAD_OK;
        }
    }
}

/* Audience targeted by id: update only, never list or create. */
static tad_err apply_by_id(struct run *r, struct tad_errinfo *err)
{
    struct tad_audience_outcome *out = r->out;
    const char *id = r->job->audience_id;
    tad_strlcpy(out->custom_audience_id, sizeof(out->custom_audience_id), id, strlen(id));
    if (r->job->dry_run)
        return TAD_OK;
    tad_err e = apply_paths(r, id, r->job->action, out->file_paths, out->nfile_paths, err);
    if (e == TAD_ERR_NOT_FOUND)
        return tad_errinfo_set(err, e, "audience id %s does not exist", id);
    return e;
}

/* Audience targeted by name. */
static tad_err apply_by_name(struct run *r, struct tad_errinfo *err)
{
    struct tad_audience_sync *s = r->sync;
    const struct tad_audience_job *job = r->job;
    struct tad_audience_outcome *out = r->out;
    struct entry *en = NULL;
    char *key = NULL;
    char id[32] = "";
    tad_err e = TAD_OK;
    size_t klen = strlen(r->creds.advertiser_id) + strlen(job->calculate_type) +
                  strlen(job->audience_name) + 3;
    key = malloc(klen);
    if (!key)
        return TAD_ERR_NOMEM;
    int kn = snprintf(key, klen, "%s\x1f%s\x1f%s", r->creds.advertiser_id,
                      audience_type(job->calculate_type), job->audience_name);
    if (kn < 0 || (size_t)kn >= klen) {
        e = TAD_ERR_INVALID;
        goto out;
    }

    for (int pass = 0; pass < 2; pass++) {
        e = name_lock(s, key, &en);
        if (e != TAD_OK)
            goto out;
        bool cached = cache_get(s, en, id);
        if (!cached) {
            e = find_oldest(r, id, err);
            if (e != TAD_OK)
                goto out;
        }
        if (id[0]) {
            cache_put(s, en, id);
            name_unlock(s, en);
            en = NULL;
            tad_strlcpy(out->custom_audience_id, sizeof(out->custom_audience_id), id, strlen(id));
            if (job->dry_run)
                goto out;
            e = apply_paths(r, id, job->action, out->file_paths, out->nfile_paths, err);
            if (e == TAD_ERR_NOT_FOUND && cached && pass == 0) {
                /* the cached audience is gone: look the name up again */
                e = name_lock(s, key, &en);
                if (e != TAD_OK)
                    goto out;
                cache_put(s, en, NULL);
                name_unlock(s, en);
                en = NULL;
                out->custom_audience_id[0] = '\0';
                continue;
            }
            goto out;
        }
        break;
    }

    /* absent (the name's lock is held) */
    if (job->action == TAD_TIKTOK_REMOVE) {
        e = tad_errinfo_set(err, TAD_ERR_NOT_FOUND, "audience %s does not exist",
                            job->audience_name);
        goto out;
    }
    if (job->dry_run) {
        out->would_create = true;
        goto out;
    }
    bool adopted = false;
    e = create_audience(r, id, &adopted, err);
    if (e != TAD_OK)
        goto out;
    size_t done = 0; /* paths already in the audience `id` */
    if (!adopted) {
        out->created = true;
        done = out->nfile_paths < TAD_TIKTOK_MAX_PATHS_PER_CALL ? out->nfile_paths
                                                                : TAD_TIKTOK_MAX_PATHS_PER_CALL;
        char oldest[32];
        e = find_oldest(r, oldest, err);
        if (e != TAD_OK)
            goto out;
        if (oldest[0] && id_cmp(oldest, id) < 0) {
            /* another process created this name first: converge on the older audience */
            log_debug("audience %s: an older audience %s exists; dropping %s", job->audience_name,
                      oldest, id);
            e = apply_paths(r, oldest, job->action, out->file_paths, out->nfile_paths, err);
            if (e != TAD_OK)
                goto out;
            e = delete_one(r, id, err);
            if (e != TAD_OK)
                goto out;
            memcpy(id, oldest, sizeof(oldest));
            out->created = false;
            out->converged = true;
            done = out->nfile_paths;
        }
    }
    tad_strlcpy(out->custom_audience_id, sizeof(out->custom_audience_id), id, strlen(id));
    cache_put(s, en, id);
    name_unlock(s, en);
    en = NULL;
    if (adopted) {
        e = apply_paths(r, id, job->action, out->file_paths, out->nfile_paths, err);
    } else if (done < out->nfile_paths) {
        e = apply_paths(r, id, TAD_TIKTOK_APPEND, out->file_paths + done, out->nfile_paths - done,
                        err);
    }
out:
    if (en)
        name_unlock(s, en);
    free(key);
    return e;
}

static bool valid_job(const struct tad_audience_job *job)
{
    if (!job || !job->get_creds || !job->calculate_type || !*job->calculate_type)
        return false;
    if ((job->audience_name != NULL) == (job->audience_id != NULL))
        return false;
    if (job->audience_name) {
        size_t n = strlen(job->audience_name);
        if (n == 0 || n > 128)
            return false;
    } else {
        const char *p = job->audience_id;
        if (!*p || strlen(p) > 30)
            return false;
        for (; *p; p++) {
            if (*p < '0' || *p > '9')
                return false;
        }
    }
    if ((unsigned)job->action > TAD_TIKTOK_REPLACE)
        return false;
    if (!job->dry_run && (job->nparts == 0 || !job->parts))
        return false;
    return true;
}

tad_err tad_audience_apply(struct tad_audience_sync *sync, struct tad_http *h,
                           const struct tad_audience_job *job, struct tad_audience_outcome *out,
                           struct tad_errinfo *err)
{
    if (!sync || !h || !out)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "bad audience apply arguments");
    memset(out, 0, sizeof(*out));
    if (!valid_job(job))
        return tad_errinfo_set(err, TAD_ERR_INVALID, "bad audience job");
    struct run r = {.sync = sync, .h = h, .job = job, .out = out};
    tad_err e = load_creds(&r, err);
    if (e != TAD_OK)
        goto out;
    if (!job->dry_run) {
        e = upload_parts(&r, err);
        if (e != TAD_OK)
            goto out;
    }
    if (job->audience_id)
        e = apply_by_id(&r, err);
    else
        e = apply_by_name(&r, err);
out:
    if (e == TAD_ERR_AUTH && r.refreshed)
        log_debug("TikTok still rejects the access token after a refresh");
    if (r.have_creds)
        tad_tiktok_creds_release(&r.creds);
    return e;
}
