/* daemon.c - the service's threads and their life cycle: start-up, the receive loop, the
 * worker pool, the SQS housekeeping thread, signals, reload, systemd notification and the
 * drain on shutdown (see tad/daemon.h for the threading model). The struct daemon owns every
 * client, thread and message it holds; messages move from the receiver to a worker through
 * the work queue and are accounted for in the in-flight table until SQS has been told. */
#include "tad/daemon.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "tad/cli.h"
#include "tad/inflight.h"
#include "tad/job.h"
#include "tad/log.h"
#include "tad/metrics.h"
#include "tad/metrics_server.h"
#include "tad/notify.h"
#include "tad/ratelimit.h"
#include "tad/retry.h"
#include "tad/sqs.h"
#include "tad/timefmt.h"
#include "tad/upload_apply.h"

#define TICK_MS 1000                 /* main loop wake-up */
#define STATUS_EVERY_MS 5000u        /* STATUS= refresh */
#define RECEIVER_STALL_MS 15000u     /* beyond the long-poll wait: the receiver is stuck */
#define RECEIVE_FAILURES_UNHEALTHY 5 /* consecutive receive failures that make /healthz 503 */
#define RECEIVE_BACKOFF_MAX_MS 30000u

struct queued {
    struct tad_sqs_message msg; /* owned */
    uint64_t inflight_id;
};

struct daemon {
    struct tad_config_slot slot;
    const struct tad_daemon_args *args;
    unsigned nworkers;

    struct tad_upload_env env; /* shared services; env.http belongs to the main thread */
    struct tad_metrics *metrics;
    struct tad_metrics_server *msrv;
    struct tad_inflight *inflight;

    atomic_int stop_receiving; /* the receive loop ends after its current poll */
    atomic_int abort_work;     /* cancels the workers' transfers (drain deadline) */
    atomic_int stopping;       /* no new work is started */

    /* work queue */
    pthread_mutex_t qlock;
    pthread_cond_t qcond; /* work queued, a worker became free, or stopping */
    struct queued *q;     /* ring of nworkers entries */
    size_t qhead, qlen;
    unsigned busy;

    /* housekeeper */
    pthread_mutex_t hlock;
    pthread_cond_t hcond;
    bool hk_kick, hk_stop;

    pthread_t receiver, housekeeper, *workers;
    bool receiver_started, housekeeper_started;
    unsigned workers_started;

    _Atomic uint64_t receiver_beat_ms;
    atomic_int receive_failures;
    atomic_int fatal_exit;    /* non-zero: the receiver found the queue unusable */
    atomic_int receiver_done; /* the receive loop has returned */
    int wake_fd;              /* eventfd: the receiver wakes the main loop */

    atomic_ulong received, applied, failed;
};

/* ---- metrics hooks ---- */

static void observe_tiktok(void *ctx, const char *endpoint, long code)
{
    struct daemon *d = ctx;
    tad_metrics_tiktok_request(d->metrics, endpoint, code);
}

static void observe_aws(void *ctx, enum tad_aws_service svc, const char *outcome)
{
    struct daemon *d = ctx;
    tad_metrics_aws_request(d->metrics, tad_aws_service_name(svc), outcome);
}

/* ---- health ---- */

static bool receiver_alive(void *ctx)
{
    struct daemon *d = ctx;
    if (atomic_load(&d->stopping) || atomic_load(&d->stop_receiving))
        return false;
    uint64_t beat = atomic_load(&d->receiver_beat_ms);
    if (beat == 0)
        return false;
    struct tad_config *cfg = tad_config_slot_get(&d->slot);
    uint64_t limit = (uint64_t)cfg->receive_wait_seconds * 1000u + RECEIVER_STALL_MS;
    tad_config_unref(cfg);
    return tad_mono_ms(NULL) - beat <= limit &&
           atomic_load(&d->receive_failures) < RECEIVE_FAILURES_UNHEALTHY;
}

/* ---- housekeeper ---- */

static void kick_housekeeper(struct daemon *d)
{
    pthread_mutex_lock(&d->hlock);
    d->hk_kick = true;
    pthread_cond_signal(&d->hcond);
    pthread_mutex_unlock(&d->hlock);
}

static bool handle_gone(const char *code)
{
    return strcmp(code, "ReceiptHandleIsInvalid") == 0 || strcmp(code, "MessageNotInflight") == 0 ||
           strstr(code, "ReceiptHandle") != NULL;
}

/* One batch: the SQS call, then the per-entry results back into the table. */
static void run_batch(struct daemon *d, struct tad_http *h, const char *queue_url,
                      struct tad_inflight_batch *b)
{
    struct tad_sqs_entry entries[TAD_SQS_MAX_BATCH];
    enum tad_inflight_item_result results[TAD_SQS_MAX_BATCH];
    for (size_t i = 0; i < b->n; i++) {
        entries[i] = (struct tad_sqs_entry){b->items[i].entry_id, b->items[i].receipt_handle,
                                            b->items[i].visibility};
        results[i] = TAD_INFLIGHT_OK;
    }
    struct tad_sqs_batch_result br;
    memset(&br, 0, sizeof(br));
    struct tad_errinfo ei;
    tad_errinfo_clear(&ei);
    tad_err e =
        b->kind == TAD_INFLIGHT_BATCH_DELETE
            ? tad_sqs_delete_batch(d->env.aws, h, queue_url, entries, b->n, &br, &ei)
            : tad_sqs_change_visibility_batch(d->env.aws, h, queue_url, entries, b->n, &br, &ei);
    const char *what = b->kind == TAD_INFLIGHT_BATCH_DELETE    ? "delete"
                       : b->kind == TAD_INFLIGHT_BATCH_RELEASE ? "release"
                                                               : "extend the visibility of";
    size_t ok = b->n;
    if (e != TAD_OK) {
        log_warn("cannot %s %zu message(s): %s; will try again", what, b->n,
                 ei.msg[0] ? ei.msg : tad_err_str(e));
        for (size_t i = 0; i < b->n; i++)
            results[i] = TAD_INFLIGHT_RETRY;
        ok = 0;
    } else {
        for (size_t f = 0; f < br.nfailed; f++) {
            for (size_t i = 0; i < b->n; i++) {
                if (strcmp(br.failed[f].id, b->items[i].entry_id) != 0)
                    continue;
                bool gone = handle_gone(br.failed[f].code);
                results[i] = gone ? TAD_INFLIGHT_GONE : TAD_INFLIGHT_RETRY;
                ok--;
                struct tad_log_kv kv[] = {TAD_KV_S(TAD_F_MESSAGE_ID, b->items[i].message_id),
                                          TAD_KV_S(TAD_F_CODE, br.failed[f].code)};
                log_kv(gone ? TAD_LOG_WARN : TAD_LOG_INFO, kv, 2, "cannot %s a message: %s%s", what,
                       br.failed[f].message,
                       gone ? " (it is no longer held: SQS will deliver it again)" : "");
            }
        }
    }
    if (b->kind == TAD_INFLIGHT_BATCH_DELETE)
        tad_metrics_messages_deleted(d->metrics, (unsigned)ok);
    else if (b->kind == TAD_INFLIGHT_BATCH_RELEASE)
        tad_metrics_messages_released(d->metrics, (unsigned)ok);
    else
        tad_metrics_visibility_extensions(d->metrics, (unsigned)ok);
    size_t dropped = tad_inflight_complete(d->inflight, b, results, tad_mono_ms(NULL));
    if (dropped)
        log_error("gave up trying to %s %zu message(s) after %d attempts; SQS will deliver "
                  "them again when their visibility runs out",
                  what, dropped, TAD_INFLIGHT_MAX_CALL_FAILURES);
}

static void housekeeping_pass(struct daemon *d, struct tad_http *h)
{
    struct tad_config *cfg = tad_config_slot_get(&d->slot);
    unsigned vis = (unsigned)cfg->receive_visibility_timeout;
    static const enum tad_inflight_batch_kind kinds[] = {
        TAD_INFLIGHT_BATCH_DELETE, TAD_INFLIGHT_BATCH_RELEASE, TAD_INFLIGHT_BATCH_EXTEND};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        struct tad_inflight_batch b;
        /* every batch due now; entries that failed stay out until the next pass */
        struct tad_inflight_batch done[16];
        size_t nd = 0;
        while (nd < 16 && tad_inflight_take(d->inflight, kinds[k], tad_mono_ms(NULL), vis, &b) > 0)
            done[nd++] = b;
        for (size_t i = 0; i < nd; i++)
            run_batch(d, h, cfg->queue_url, &done[i]);
    }
    tad_config_unref(cfg);
}

static void *housekeeper_main(void *arg)
{
    struct daemon *d = arg;
    struct tad_http *h = NULL;
    if (tad_http_new(NULL, &h) != TAD_OK) {
        log_error("housekeeper: cannot create an HTTP client");
        return NULL;
    }
    for (;;) {
        struct tad_config *cfg = tad_config_slot_get(&d->slot);
        unsigned vis = (unsigned)cfg->receive_visibility_timeout;
        tad_config_unref(cfg);
        uint64_t wait = tad_inflight_next_due_ms(d->inflight, tad_mono_ms(NULL), vis);
        if (wait > TICK_MS)
            wait = TICK_MS;
        pthread_mutex_lock(&d->hlock);
        if (d->hk_stop && tad_inflight_count(d->inflight) == 0) {
            pthread_mutex_unlock(&d->hlock);
            break;
        }
        if (!d->hk_kick && wait > 0) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += (time_t)(wait / 1000);
            ts.tv_nsec += (long)(wait % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&d->hcond, &d->hlock, &ts);
        }
        d->hk_kick = false;
        pthread_mutex_unlock(&d->hlock);
        housekeeping_pass(d, h);
    }
    tad_http_free(h);
    return NULL;
}

/* ---- workers ---- */

static void fail_over(struct daemon *d, struct tad_job_ctx *jc, const struct tad_config *cfg,
                      const struct tad_sqs_message *m, const struct tad_job_result *r, uint64_t id)
{
    char count[16], when[TAD_ISO8601_SIZE];
    snprintf(count, sizeof(count), "%u", m->receive_count);
    (void)tad_format_iso8601(time(NULL), when); /* "" is left out of the attributes */
    const struct tad_sqs_attribute attrs[] = {
        {"error", tad_err_str(r->err)},
        {"error_message", r->info.msg[0] ? r->info.msg : tad_err_str(r->err)},
        {"error_code", r->info.code},
        {"stage", r->stage},
        {"s3_key", r->key},
        {"tiktok_request_id", r->info.request_id},
        {"source_message_id", m->message_id},
        {"receive_count", count},
        {"failed_at", when},
    };
    struct tad_errinfo ei;
    tad_errinfo_clear(&ei);
    tad_err e = tad_sqs_send(d->env.aws, jc->http, cfg->failure_queue_url, m->body ? m->body : "",
                             attrs, sizeof(attrs) / sizeof(attrs[0]), 0, NULL, 0, &ei);
    struct tad_log_kv kv[] = {TAD_KV_S(TAD_F_MESSAGE_ID, m->message_id),
                              TAD_KV_S(TAD_F_S3_KEY, r->key)};
    if (e == TAD_OK) {
        log_kv(TAD_LOG_INFO, kv, 2, "message handed to the failure queue");
        tad_metrics_messages_failed_over(d->metrics, 1);
        tad_inflight_finish(d->inflight, id, TAD_INFLIGHT_DELETE, 0);
        return;
    }
    unsigned delay = tad_retry_release_delay_s(m->receive_count);
    log_kv(TAD_LOG_WARN, kv, 2, "cannot send to the failure queue (%s); released for %u s",
           ei.msg[0] ? ei.msg : tad_err_str(e), delay);
    tad_inflight_finish(d->inflight, id, TAD_INFLIGHT_RELEASE, delay);
}

static void dispose(struct daemon *d, struct tad_job_ctx *jc, const struct tad_config *cfg,
                    const struct queued *item, const struct tad_job_result *r)
{
    const struct tad_sqs_message *m = &item->msg;
    switch (r->disposition) {
    case TAD_JOB_DELETE:
        tad_inflight_finish(d->inflight, item->inflight_id, TAD_INFLIGHT_DELETE, 0);
        break;
    case TAD_JOB_KEEP:
        tad_inflight_forget(d->inflight, item->inflight_id);
        break;
    case TAD_JOB_FAILOVER:
        if (cfg->failure_queue_url && *cfg->failure_queue_url) {
            fail_over(d, jc, cfg, m, r, item->inflight_id);
            break;
        }
        /* no failure queue: the queue's redrive policy decides */
        /* fall through */
    case TAD_JOB_RELEASE: {
        unsigned delay =
            r->err == TAD_ERR_CANCELLED ? 0 : tad_retry_release_delay_s(m->receive_count);
        tad_inflight_finish(d->inflight, item->inflight_id, TAD_INFLIGHT_RELEASE, delay);
        break;
    }
    }
    if (r->disposition != TAD_JOB_KEEP)
        kick_housekeeper(d);
}

struct worker_arg {
    struct daemon *d;
    unsigned index;
};

static void *worker_main(void *varg)
{
    struct worker_arg *wa = varg;
    struct daemon *d = wa->d;
    struct tad_http_opts ho = {.cancel = &d->abort_work};
    struct tad_http *h = NULL;
    if (tad_http_new(&ho, &h) != TAD_OK) {
        log_error("worker %u: cannot create an HTTP client", wa->index);
        return NULL;
    }
    struct tad_job_ctx jc = {.env = &d->env,
                             .http = h,
                             .metrics = d->metrics,
                             .cancel = &d->abort_work,
                             .worker = wa->index};
    for (;;) {
        pthread_mutex_lock(&d->qlock);
        while (d->qlen == 0 && !atomic_load(&d->stopping))
            pthread_cond_wait(&d->qcond, &d->qlock);
        if (atomic_load(&d->stopping)) { /* queued, unstarted messages are released at stop */
            pthread_mutex_unlock(&d->qlock);
            break;
        }
        struct queued item = d->q[d->qhead];
        memset(&d->q[d->qhead], 0, sizeof(d->q[d->qhead]));
        d->qhead = (d->qhead + 1) % d->nworkers;
        d->qlen--;
        d->busy++;
        pthread_mutex_unlock(&d->qlock);

        tad_metrics_inflight_add(d->metrics, 1);
        struct tad_config *cfg = tad_config_slot_get(&d->slot);
        struct tad_job_result r;
        tad_job_process(&jc, cfg, &item.msg, &r);
        if (r.applied)
            atomic_fetch_add(&d->applied, r.applied);
        if (r.failed)
            atomic_fetch_add(&d->failed, r.failed);
        dispose(d, &jc, cfg, &item, &r);
        tad_config_unref(cfg);
        tad_sqs_message_release(&item.msg);
        tad_metrics_inflight_add(d->metrics, -1);

        pthread_mutex_lock(&d->qlock);
        d->busy--;
        pthread_cond_broadcast(&d->qcond);
        pthread_mutex_unlock(&d->qlock);
    }
    tad_http_free(h);
    return NULL;
}

/* ---- receiver ---- */

static void beat(struct daemon *d)
{
    atomic_store(&d->receiver_beat_ms, tad_mono_ms(NULL));
}

static void wake_main(struct daemon *d)
{
    uint64_t one = 1;
    ssize_t n = write(d->wake_fd, &one, sizeof(one));
    (void)n; /* an eventfd write only fails when the counter is saturated: already awake */
}

/* Sleeps ms unless the receiver is told to stop, showing it is alive every second. */
static void receiver_pause(struct daemon *d, uint64_t ms)
{
    while (ms > 0) {
        uint64_t slice = ms < 1000 ? ms : 1000;
        if (!tad_pause_ms(slice, &d->stop_receiving))
            return;
        ms -= slice;
        beat(d);
    }
}

/* Start-up check of the queue (the first thing the receiver does, after READY=1). */
static bool check_queue(struct daemon *d, struct tad_http *h)
{
    struct tad_config *cfg = tad_config_slot_get(&d->slot);
    struct tad_sqs_queue_info qi;
    struct tad_errinfo ei;
    tad_errinfo_clear(&ei);
    tad_err e = tad_sqs_get_attributes(d->env.aws, h, cfg->queue_url, &qi, &ei);
    bool ok = true;
    if (e == TAD_ERR_NOT_FOUND || e == TAD_ERR_DENIED || e == TAD_ERR_INVALID ||
        e == TAD_ERR_CLIENT) {
        log_error("queue %s cannot be used: %s", cfg->queue_url,
                  ei.msg[0] ? ei.msg : tad_err_str(e));
        atomic_store(&d->fatal_exit, TAD_EXIT_CONFIG);
        wake_main(d);
        ok = false;
    } else if (e != TAD_OK) {
        log_warn("queue %s not reachable yet (%s); the receive loop keeps trying", cfg->queue_url,
                 ei.msg[0] ? ei.msg : tad_err_str(e));
    } else {
        if (!qi.has_redrive_policy && !(cfg->failure_queue_url && *cfg->failure_queue_url))
            log_warn("the queue has no redrive policy and no failure_queue_url is set: "
                     "messages that keep failing are retried forever");
        if (qi.visibility_timeout && qi.visibility_timeout < 30)
            log_info("queue visibility timeout is %u s; the daemon asks for %ld s per receive",
                     qi.visibility_timeout, cfg->receive_visibility_timeout);
    }
    tad_config_unref(cfg);
    return ok;
}

static void enqueue(struct daemon *d, struct tad_sqs_messages *ms, unsigned visibility)
{
    for (size_t i = 0; i < ms->n; i++) {
        struct tad_sqs_message *m = &ms->msgs[i];
        uint64_t id = 0;
        if (tad_inflight_add(d->inflight, m->message_id, m->receipt_handle, tad_mono_ms(NULL),
                             visibility, &id) != TAD_OK) {
            log_error("out of memory: a received message is left to SQS");
            continue;
        }
        struct tad_log_kv kv[] = {TAD_KV_S(TAD_F_MESSAGE_ID, m->message_id),
                                  TAD_KV_N(TAD_F_ATTEMPT, m->receive_count)};
        log_kv(TAD_LOG_DEBUG, kv, 2, "message received");
        pthread_mutex_lock(&d->qlock);
        size_t slot = (d->qhead + d->qlen) % d->nworkers;
        d->q[slot].msg = *m;
        d->q[slot].inflight_id = id;
        d->qlen++;
        memset(m, 0, sizeof(*m));
        pthread_cond_broadcast(&d->qcond);
        pthread_mutex_unlock(&d->qlock);
    }
    atomic_fetch_add(&d->received, ms->n);
    tad_metrics_messages_received(d->metrics, (unsigned)ms->n);
}

/* The receiver's HTTP client is cancelled only by abort_work (the end of the grace), not by
 * the stop itself: SQS may hand messages to a long poll whose connection was dropped, and they
 * would then stay invisible for a whole visibility timeout. So a stop lets the current poll
 * finish (at most receive.wait_seconds) and releases what it brought at once. */
static void *receiver_main(void *arg)
{
    struct daemon *d = arg;
    struct tad_http_opts ho = {.cancel = &d->abort_work};
    struct tad_http *h = NULL;
    if (tad_http_new(&ho, &h) != TAD_OK) {
        log_error("receiver: cannot create an HTTP client");
        atomic_store(&d->fatal_exit, TAD_EXIT_FAILURE);
        atomic_store(&d->receiver_done, 1);
        wake_main(d);
        return NULL;
    }
    beat(d);
    if (!check_queue(d, h))
        goto out;
    unsigned failures = 0;
    while (!atomic_load(&d->stop_receiving)) {
        beat(d);
        pthread_mutex_lock(&d->qlock);
        unsigned used = d->busy + (unsigned)d->qlen;
        unsigned free_workers = used < d->nworkers ? d->nworkers - used : 0;
        if (free_workers == 0) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&d->qcond, &d->qlock, &ts);
            pthread_mutex_unlock(&d->qlock);
            continue;
        }
        pthread_mutex_unlock(&d->qlock);

        struct tad_config *cfg = tad_config_slot_get(&d->slot);
        unsigned max = (unsigned)cfg->receive_max_messages;
        if (max > free_workers)
            max = free_workers;
        unsigned vis = (unsigned)cfg->receive_visibility_timeout;
        struct tad_sqs_messages ms = {0};
        struct tad_errinfo ei;
        tad_errinfo_clear(&ei);
        tad_err e = tad_sqs_receive(d->env.aws, h, cfg->queue_url, max,
                                    (unsigned)cfg->receive_wait_seconds, (int)vis, &ms, &ei);
        tad_config_unref(cfg);
        beat(d);
        if (e == TAD_ERR_CANCELLED)
            break;
        if (e != TAD_OK) {
            failures++;
            atomic_store(&d->receive_failures, (int)failures);
            struct tad_log_kv kv[] = {TAD_KV_S(TAD_F_SERVICE, tad_aws_service_name(TAD_AWS_SQS)),
                                      TAD_KV_S(TAD_F_ERROR, tad_err_str(e)),
                                      TAD_KV_S(TAD_F_CODE, ei.code)};
            if (failures == 1 || failures % 10 == 0)
                log_kv(TAD_LOG_WARN, kv, 3, "receive failed (%u in a row): %s", failures,
                       ei.msg[0] ? ei.msg : tad_err_str(e));
            uint64_t pause = 1000u << (failures < 5 ? failures : 5);
            receiver_pause(d, pause < RECEIVE_BACKOFF_MAX_MS ? pause : RECEIVE_BACKOFF_MAX_MS);
            continue;
        }
        if (failures)
            log_info("receiving again after %u failure(s)", failures);
        failures = 0;
        atomic_store(&d->receive_failures, 0);
        if (ms.n)
            enqueue(d, &ms, vis);
        tad_sqs_messages_release(&ms);
        kick_housekeeper(d);
    }
out:
    tad_http_free(h);
    atomic_store(&d->receiver_done, 1);
    return NULL;
}

/* ---- reload ---- */

static void log_change(void *ctx, const struct tad_config_key *key, bool live)
{
    (void)ctx;
    if (live)
        log_info("reload: %s changed, applied now", key->path);
    else
        log_warn("reload: %s changed, takes effect after a restart", key->path);
}

static void reload(struct daemon *d)
{
    tad_notify_reloading();
    struct tad_config *nc = NULL;
    struct tad_errinfo ei;
    tad_errinfo_clear(&ei);
    const char *path = d->args->config_path;
    tad_err e = tad_config_load(path ? path : TAD_CONFIG_DEFAULT_PATH, path != NULL,
                                &d->args->overrides, &nc, &ei);
    if (e == TAD_OK)
        e = tad_config_validate_for_run(nc, &ei);
    if (e != TAD_OK) {
        log_error("reload failed, keeping the running configuration: %s",
                  ei.msg[0] ? ei.msg : tad_err_str(e));
        tad_config_unref(nc);
        tad_notify_ready();
        return;
    }
    struct tad_config *old = tad_config_slot_get(&d->slot);
    size_t n = tad_config_diff_reload(old, nc, log_change, NULL);
    tad_config_unref(old);
    tad_log_setup((enum tad_log_level)nc->log_level, (enum tad_log_format)nc->log_format);
    tad_secrets_set_ttl(d->env.secrets, (unsigned)nc->secret_ttl_seconds);
    if (tad_ratelimit_set_rate(d->env.ratelimit, nc->tiktok_max_requests_per_second) != TAD_OK)
        log_warn("reload: tiktok.max_requests_per_second not applied");
    tad_secrets_clear(d->env.secrets);
    tad_audience_sync_clear(d->env.sync);
    tad_config_slot_swap(&d->slot, nc);
    log_info("configuration reloaded (%zu change(s)); cached secrets dropped", n);
    tad_notify_ready();
}

/* ---- start and stop ---- */

static tad_err start_threads(struct daemon *d, struct worker_arg *wargs)
{
    if (pthread_create(&d->housekeeper, NULL, housekeeper_main, d) != 0)
        return TAD_ERR_IO;
    d->housekeeper_started = true;
    for (unsigned i = 0; i < d->nworkers; i++) {
        wargs[i] = (struct worker_arg){d, i};
        if (pthread_create(&d->workers[i], NULL, worker_main, &wargs[i]) != 0)
            return TAD_ERR_IO;
        d->workers_started++;
    }
    if (pthread_create(&d->receiver, NULL, receiver_main, d) != 0)
        return TAD_ERR_IO;
    d->receiver_started = true;
    return TAD_OK;
}

/* Stops receiving, lets the workers finish until the deadline (or abort), releases whatever
 * is left, and waits for the housekeeper to tell SQS. */
static void stop_threads(struct daemon *d)
{
    atomic_store(&d->stop_receiving, 1);
    if (d->receiver_started)
        pthread_join(d->receiver, NULL);
    pthread_mutex_lock(&d->qlock);
    atomic_store(&d->stopping, 1);
    pthread_cond_broadcast(&d->qcond);
    pthread_mutex_unlock(&d->qlock);
    for (unsigned i = 0; i < d->workers_started; i++)
        pthread_join(d->workers[i], NULL);
    /* queued messages no worker started: hand them back at once */
    size_t released = 0;
    while (d->qlen) {
        struct queued *item = &d->q[d->qhead];
        tad_inflight_finish(d->inflight, item->inflight_id, TAD_INFLIGHT_RELEASE, 0);
        tad_sqs_message_release(&item->msg);
        d->qhead = (d->qhead + 1) % d->nworkers;
        d->qlen--;
        released++;
    }
    released += tad_inflight_release_working(d->inflight);
    if (released)
        log_info("released %zu message(s) not finished before the stop", released);
    if (d->housekeeper_started) {
        pthread_mutex_lock(&d->hlock);
        d->hk_stop = true;
        d->hk_kick = true;
        pthread_cond_signal(&d->hcond);
        pthread_mutex_unlock(&d->hlock);
        pthread_join(d->housekeeper, NULL);
    }
}

static void post_status(struct daemon *d)
{
    pthread_mutex_lock(&d->qlock);
    unsigned busy = d->busy;
    pthread_mutex_unlock(&d->qlock);
    tad_notify_status("%s; %u of %u workers busy; %lu received, %lu applied, %lu failed",
                      atomic_load(&d->stopping)         ? "stopping"
                      : atomic_load(&d->stop_receiving) ? "draining"
                                                        : "receiving",
                      busy, d->nworkers, atomic_load(&d->received), atomic_load(&d->applied),
                      atomic_load(&d->failed));
}

static int block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, set, NULL) != 0)
        return -1;
    return signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static unsigned busy_count(struct daemon *d)
{
    pthread_mutex_lock(&d->qlock);
    unsigned n = d->busy;
    pthread_mutex_unlock(&d->qlock);
    return n;
}

/* The main loop: signals, watchdog, status, drain. Returns the exit code. */
static int main_loop(struct daemon *d, int sfd, unsigned grace_s)
{
    uint64_t wd_usec = tad_notify_watchdog_usec();
    uint64_t wd_every_ms = wd_usec ? wd_usec / 2000u : 0;
    if (wd_every_ms > TICK_MS)
        wd_every_ms = TICK_MS;
    uint64_t last_status = 0, deadline = 0;
    bool draining = false;
    for (;;) {
        struct pollfd pfd[2] = {{sfd, POLLIN, 0}, {d->wake_fd, POLLIN, 0}};
        int timeout = wd_every_ms && wd_every_ms < TICK_MS ? (int)wd_every_ms : TICK_MS;
        if (draining)
            timeout = 100;
        int pr = poll(pfd, 2, timeout);
        uint64_t now = tad_mono_ms(NULL);
        if (pr > 0 && (pfd[0].revents & POLLIN)) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGHUP && !draining) {
                    log_info("SIGHUP: reloading the configuration");
                    reload(d);
                } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                    if (!draining) {
                        draining = true;
                        deadline = now + (uint64_t)grace_s * 1000u;
                        tad_notify_stopping();
                        log_info("%s: stopping; in-flight files get %u s to finish, the "
                                 "current long poll its last seconds",
                                 si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT", grace_s);
                        atomic_store(&d->stop_receiving, 1);
                        pthread_mutex_lock(&d->qlock);
                        atomic_store(&d->stopping, 1); /* no worker starts another message */
                        pthread_cond_broadcast(&d->qcond);
                        pthread_mutex_unlock(&d->qlock);
                    } else if (!atomic_load(&d->abort_work)) {
                        log_warn("second stop signal: interrupting in-flight files now");
                        atomic_store(&d->abort_work, 1);
                    }
                }
            }
        }
        if (pr > 0 && (pfd[1].revents & POLLIN)) {
            uint64_t v;
            ssize_t n = read(d->wake_fd, &v, sizeof(v));
            (void)n;
            int fatal = atomic_load(&d->fatal_exit);
            if (fatal) {
                tad_notify_stopping();
                atomic_store(&d->stop_receiving, 1);
                atomic_store(&d->abort_work, 1);
                return fatal;
            }
        }
        if (!draining && receiver_alive(d))
            tad_notify_watchdog();
        if (now - last_status >= STATUS_EVERY_MS) {
            post_status(d);
            last_status = now;
        }
        if (draining) {
            /* the queue's unstarted messages are released by stop_threads */
            if (busy_count(d) == 0 && atomic_load(&d->receiver_done))
                return TAD_EXIT_OK;
            if (now >= deadline && !atomic_load(&d->abort_work)) {
                log_warn("shutdown grace of %u s is over: interrupting %u in-flight file(s)",
                         grace_s, busy_count(d));
                atomic_store(&d->abort_work, 1);
            }
        }
    }
}

static tad_err daemon_init(struct daemon *d, struct tad_config *cfg, struct tad_errinfo *ei)
{
    d->nworkers = (unsigned)cfg->workers;
    d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    d->q = calloc(d->nworkers, sizeof(*d->q));
    d->workers = calloc(d->nworkers, sizeof(*d->workers));
    if (d->wake_fd < 0 || !d->q || !d->workers)
        return tad_errinfo_set(ei, TAD_ERR_NOMEM, "cannot allocate the worker pool");
    tad_err e = tad_metrics_new(&d->metrics);
    if (e == TAD_OK)
        e = tad_inflight_new(&d->inflight);
    if (e != TAD_OK)
        return tad_errinfo_set(ei, e, "out of memory");
    struct tad_upload_hooks hooks = {.cancel = &d->abort_work,
                                     .tiktok_observe = observe_tiktok,
                                     .aws_observe = observe_aws,
                                     .ctx = d};
    e = tad_upload_env_init(&d->env, cfg, true, &hooks, ei);
    if (e != TAD_OK)
        return e;
    if (cfg->metrics_listen && *cfg->metrics_listen) {
        e = tad_metrics_server_start(cfg->metrics_listen, d->metrics, receiver_alive, d, &d->msrv,
                                     ei);
        if (e != TAD_OK)
            return e;
        log_info("metrics and health on %s (port %u)", cfg->metrics_listen,
                 tad_metrics_server_port(d->msrv));
    }
    return TAD_OK;
}

static void daemon_release(struct daemon *d)
{
    tad_metrics_server_stop(d->msrv);
    tad_upload_env_release(&d->env);
    tad_inflight_free(d->inflight);
    tad_metrics_free(d->metrics);
    free(d->q);
    free(d->workers);
    if (d->wake_fd >= 0)
        close(d->wake_fd);
    tad_config_slot_release(&d->slot);
    pthread_mutex_destroy(&d->qlock);
    pthread_cond_destroy(&d->qcond);
    pthread_mutex_destroy(&d->hlock);
    pthread_cond_destroy(&d->hcond);
}

int tad_daemon_run(struct tad_config *cfg, const struct tad_daemon_args *args)
{
    struct daemon d;
    memset(&d, 0, sizeof(d));
    d.args = args;
    d.wake_fd = -1;
    pthread_mutex_init(&d.qlock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&d.qcond, NULL);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&d.hlock, NULL);
    pthread_cond_init(&d.hcond, &ca);
    pthread_condattr_destroy(&ca);
    tad_config_slot_init(&d.slot);
    tad_config_slot_swap(&d.slot, tad_config_ref(cfg));

    sigset_t set;
    int sfd = block_signals(&set);
    int rc = TAD_EXIT_FAILURE;
    struct worker_arg *wargs = calloc((size_t)cfg->workers, sizeof(*wargs));
    struct tad_errinfo ei;
    tad_errinfo_clear(&ei);
    if (sfd < 0 || !wargs) {
        log_error("cannot set up signal handling");
        goto out;
    }
    tad_err e = daemon_init(&d, cfg, &ei);
    if (e != TAD_OK) {
        log_error("cannot start: %s", ei.msg[0] ? ei.msg : tad_err_str(e));
        rc = e == TAD_ERR_INVALID ? TAD_EXIT_CONFIG : TAD_EXIT_FAILURE;
        goto out;
    }
    if (start_threads(&d, wargs) != TAD_OK) {
        log_error("cannot start the worker threads");
        atomic_store(&d.abort_work, 1);
        stop_threads(&d);
        goto out;
    }
    tad_notify_ready();
    log_info("tiktok-audienced started: %u workers, queue %s%s", d.nworkers, cfg->queue_url,
             cfg->dry_run ? " (dry run: nothing changes at TikTok, no message is deleted)" : "");
    post_status(&d);
    rc = main_loop(&d, sfd, (unsigned)cfg->shutdown_grace_seconds);
    stop_threads(&d);
    log_info("stopped");
out:
    free(wargs);
    if (sfd >= 0)
        close(sfd);
    daemon_release(&d);
    return rc;
}
