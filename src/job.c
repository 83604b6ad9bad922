/* job.c - one SQS message through event parsing, routing, S3, the row pipeline, TikTok and
 * the report, ending in a disposition for the message (see tad/job.h). Owns nothing beyond
 * the call; every buffer and result it makes is released before it returns. */
#include "tad/job.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tad/event.h"
#include "tad/ingest.h"
#include "tad/log.h"
#include "tad/metrics.h"
#include "tad/report.h"
#include "tad/retry.h"
#include "tad/route.h"

const char *tad_job_disposition_name(enum tad_job_disposition d)
{
    switch (d) {
    case TAD_JOB_DELETE:
        return "delete";
    case TAD_JOB_FAILOVER:
        return "failover";
    case TAD_JOB_RELEASE:
        return "release";
    case TAD_JOB_KEEP:
        return "keep";
    }
    return "?";
}

/* Transient: a later attempt may succeed (the peer, the network, or this machine's disk or
 * memory was at fault, or the work was cut short); everything else is the input's fault. */
static bool transient(tad_err e)
{
    return tad_err_retryable(e) || e == TAD_ERR_CANCELLED || e == TAD_ERR_NOMEM || e == TAD_ERR_IO;
}

/* Records a failed object in the message's result, keeping the most serious one: a transient
 * failure outranks a permanent one, which outranks none. */
static void note_failure(struct tad_job_result *r, tad_err e, const char *stage, const char *key,
                         const struct tad_errinfo *info)
{
    r->failed++;
    bool incoming_transient = transient(e);
    if (r->err != TAD_OK && (transient(r->err) || !incoming_transient))
        return;
    r->err = e;
    r->stage = stage;
    tad_strlcpy(r->key, sizeof(r->key), key ? key : "", key ? strlen(key) : 0);
    if (info)
        r->info = *info;
    else
        tad_errinfo_clear(&r->info);
}

static const char *err_text(tad_err e, const struct tad_errinfo *ei)
{
    return ei->msg[0] ? ei->msg : tad_err_str(e);
}

struct object_run {
    struct tad_job_ctx *ctx;
    const struct tad_config *cfg;
    const struct tad_sqs_message *msg;
    const struct tad_event_job *ev;
    const char *key; /* the key in use (may be the form-decoded one) */
    struct tad_route rt;
    struct tad_pipeline_result res;
    struct tad_upload_outcome out;
    struct tad_errinfo ei;
    time_t started;
    uint64_t started_ms;
};

static void log_outcome(const struct object_run *o, enum tad_log_level lvl, tad_err e,
                        const char *what)
{
    const struct tad_route *rt = &o->rt;
    bool counted = o->res.rows_total > 0; /* the pipeline finished */
    struct tad_log_kv kv[20];
    size_t n = 0;
    kv[n++] = TAD_KV_S(TAD_F_BUCKET, o->ev->bucket);
    kv[n++] = TAD_KV_S(TAD_F_S3_KEY, o->key);
    kv[n++] = TAD_KV_S(TAD_F_AUDIENCE, rt->by_id ? rt->audience_id : rt->audience_name);
    kv[n++] = TAD_KV_S(TAD_F_FORMAT, tad_format_upload_name(rt->format));
    kv[n++] = TAD_KV_S(TAD_F_ACTION, tad_route_action_name(rt->action));
    kv[n++] = TAD_KV_S(TAD_F_MESSAGE_ID, o->msg->message_id);
    if (counted) {
        kv[n++] = TAD_KV_N(TAD_F_ROWS_TOTAL, o->res.rows_total);
        kv[n++] = TAD_KV_N(TAD_F_ROWS_VALID, o->res.rows_valid);
        kv[n++] = TAD_KV_N(TAD_F_ROWS_INVALID, o->res.rows_invalid);
        kv[n++] = TAD_KV_N(TAD_F_PARTS, o->res.nparts);
    }
    if (o->out.custom_audience_id[0])
        kv[n++] = TAD_KV_S(TAD_F_AUDIENCE_ID, o->out.custom_audience_id);
    const char *rids = o->out.request_ids[0] ? o->out.request_ids : o->ei.request_id;
    if (rids[0])
        kv[n++] = TAD_KV_S(TAD_F_REQUEST_ID, rids);
    kv[n++] = TAD_KV_N(TAD_F_DURATION_MS, tad_mono_ms(NULL) - o->started_ms);
    kv[n++] = TAD_KV_N(TAD_F_WORKER, o->ctx->worker);
    if (e) {
        kv[n++] = TAD_KV_S(TAD_F_ERROR, tad_err_str(e));
        if (o->ei.code[0])
            kv[n++] = TAD_KV_S(TAD_F_CODE, o->ei.code);
        if (o->ei.http_status >= 300) /* the failing answer, not an earlier good one */
            kv[n++] = TAD_KV_N(TAD_F_HTTP_STATUS, o->ei.http_status);
        log_kv(lvl, kv, n, "%s: %s", what, err_text(e, &o->ei));
    } else {
        log_kv(lvl, kv, n, "%s", what);
    }
}

static void write_report(struct object_run *o, tad_err e)
{
    const struct tad_config *cfg = o->cfg;
    if (!cfg->report_prefix || !*cfg->report_prefix || cfg->dry_run)
        return;
    char audience[TAD_ROUTE_NAME_MAX_CHARS * 4 + 8];
    if (o->rt.by_id)
        snprintf(audience, sizeof(audience), "id:%s", o->rt.audience_id);
    else
        tad_strlcpy(audience, sizeof(audience), o->rt.audience_name, strlen(o->rt.audience_name));
    struct tad_report r = {
        .key = o->key,
        .audience = audience,
        .calculate_type = tad_format_upload_name(o->rt.format),
        .action = tad_route_action_name(o->rt.action),
        .status = e ? "failed" : "applied",
        .rows_total = o->res.rows_total,
        .rows_valid = o->res.rows_valid,
        .rows_invalid = o->res.rows_invalid,
        .parts = o->res.nparts,
        .custom_audience_id = o->out.custom_audience_id,
        .request_ids = o->out.request_ids,
        .error = e ? err_text(e, &o->ei) : NULL,
        .started_at = o->started,
        .finished_at = time(NULL),
    };
    struct tad_errinfo rei;
    tad_errinfo_clear(&rei);
    tad_err re =
        tad_report_put(o->ctx->env->aws, o->ctx->http, o->ev->bucket, cfg->report_prefix, &r, &rei);
    if (re != TAD_OK) {
        struct tad_log_kv kv[] = {TAD_KV_S(TAD_F_S3_KEY, o->key),
                                  TAD_KV_S(TAD_F_ERROR, tad_err_str(re))};
        log_kv(TAD_LOG_WARN, kv, 2, "cannot write the report: %s", err_text(re, &rei));
    }
}

/* The version to read: an event's "null" version id names the object of an unversioned
 * bucket (some emulators send it), which a plain GET reads. */
static const char *version_of(const struct tad_event_job *ev)
{
    return ev->version_id && strcmp(ev->version_id, "null") != 0 ? ev->version_id : NULL;
}

/* Streams the object under o->key through the pipeline with o->rt's format. */
static tad_err ingest_key(struct object_run *o)
{
    struct tad_pipeline_opts po;
    tad_ingest_opts(o->rt.format, o->cfg, o->key, &po);
    po.cancel = o->ctx->cancel;
    tad_errinfo_clear(&o->ei);
    return tad_ingest_s3(o->ctx->env->aws, o->ctx->http, o->ev->bucket, o->key, version_of(o->ev),
                         &po, &o->res, NULL, &o->ei);
}

/* Streams the object through the pipeline; an EventBridge key that may be form-encoded and
 * is missing is tried once more decoded (SPEC section 5). On success o->key is the key used;
 * *decoded (new) holds the decoded key when it was tried. */
static tad_err ingest(struct object_run *o, const struct tad_route_table *table, char **decoded)
{
    tad_err e = ingest_key(o);
    if (e != TAD_ERR_NOT_FOUND || !o->ev->key_maybe_encoded)
        return e;
    size_t dlen = 0;
    struct tad_errinfo dei;
    tad_errinfo_clear(&dei);
    struct tad_route rt2;
    if (tad_event_key_decode(o->ev->key, o->ev->key_len, decoded, &dlen, &dei) != TAD_OK ||
        tad_route_resolve(table, *decoded, dlen, &rt2, &dei) != TAD_OK || rt2.kind != TAD_ROUTE_JOB)
        return e;
    log_debug("object missing under its key as sent; trying the form-decoded key");
    o->key = *decoded;
    o->rt = rt2;
    return ingest_key(o);
}

static bool under_report_prefix(const struct tad_config *cfg, const char *key)
{
    const char *p = cfg->report_prefix;
    return p && *p && strncmp(key, p, strlen(p)) == 0;
}

static void process_object(struct tad_job_ctx *ctx, const struct tad_config *cfg,
                           const struct tad_route_table *table, const struct tad_sqs_message *msg,
                           const struct tad_event_job *ev, struct tad_job_result *r)
{
    struct object_run o;
    memset(&o, 0, sizeof(o));
    o.ctx = ctx;
    o.cfg = cfg;
    o.msg = msg;
    o.ev = ev;
    o.key = ev->key;
    o.started = time(NULL);
    o.started_ms = tad_mono_ms(NULL);
    char *decoded = NULL;

    struct tad_log_kv kkv[] = {TAD_KV_S(TAD_F_BUCKET, ev->bucket), TAD_KV_S(TAD_F_S3_KEY, ev->key),
                               TAD_KV_S(TAD_F_MESSAGE_ID, msg->message_id)};
    if (under_report_prefix(cfg, ev->key)) {
        log_kv(TAD_LOG_INFO, kkv, 3, "ignored: the key is under report_prefix");
        r->ignored++;
        tad_metrics_file_done(ctx->metrics, "ignored", -1);
        return;
    }
    tad_err e = tad_route_resolve(table, ev->key, ev->key_len, &o.rt, &o.ei);
    if (e != TAD_OK) {
        log_kv(TAD_LOG_ERROR, kkv, 3, "rejected key: %s", err_text(e, &o.ei));
        note_failure(r, e, "route", ev->key, &o.ei);
        tad_metrics_file_done(ctx->metrics, "failed", -1);
        return;
    }
    if (o.rt.kind == TAD_ROUTE_IGNORE) {
        log_kv(TAD_LOG_INFO, kkv, 3, "ignored: %s",
               o.rt.ignore_reason == TAD_ROUTE_IGNORE_FOLDER_MARKER ? "folder marker"
                                                                    : "outside key_prefix");
        r->ignored++;
        tad_metrics_file_done(ctx->metrics, "ignored", -1);
        return;
    }
    const char *stage = "s3";
    e = ingest(&o, table, &decoded);
    if (e == TAD_ERR_INVALID || e == TAD_ERR_PARSE)
        stage = "rows";
    if (e == TAD_OK) {
        tad_metrics_rows(ctx->metrics, o.res.rows_valid, o.res.rows_invalid, o.res.rows_blank);
        stage = "tiktok";
        e = tad_upload_apply(ctx->env, ctx->http, &o.rt, o.rt.secret_id, &o.res, cfg->dry_run,
                             &o.out, &o.ei);
    }
    double secs = (double)(tad_mono_ms(NULL) - o.started_ms) / 1000.0;
    if (e == TAD_OK) {
        r->applied++;
        log_outcome(&o, TAD_LOG_INFO, TAD_OK,
                    cfg->dry_run    ? "dry run: file checked, nothing sent to TikTok"
                    : o.out.created ? "file applied: audience created"
                                    : "file applied");
        tad_metrics_file_done(ctx->metrics, cfg->dry_run ? "dry_run" : "applied", secs);
        write_report(&o, TAD_OK);
    } else if (transient(e)) {
        log_outcome(&o, TAD_LOG_WARN, e,
                    e == TAD_ERR_CANCELLED ? "file interrupted; the message will be released"
                                           : "file failed for now; the message will be retried");
        note_failure(r, e, stage, o.key, &o.ei);
        tad_metrics_file_done(ctx->metrics, "released", secs);
    } else {
        log_outcome(&o, TAD_LOG_ERROR, e, "file rejected");
        note_failure(r, e, stage, o.key, &o.ei);
        tad_metrics_file_done(ctx->metrics, "failed", secs);
        write_report(&o, e);
    }
    tad_pipeline_result_release(&o.res);
    free(decoded);
}

/* The route table of a configuration snapshot (rules borrowed from cfg). */
static tad_err route_table(const struct tad_config *cfg, struct tad_route_table *t,
                           struct tad_route_rule **rules)
{
    *rules = NULL;
    if (cfg->nroutes) {
        *rules = calloc(cfg->nroutes, sizeof(**rules));
        if (!*rules)
            return TAD_ERR_NOMEM;
        for (size_t i = 0; i < cfg->nroutes; i++)
            (*rules)[i] = (struct tad_route_rule){cfg->routes[i].prefix, cfg->routes[i].secret_id};
    }
    *t = (struct tad_route_table){.key_prefix = cfg->key_prefix,
                                  .default_secret_id = cfg->secret_id,
                                  .rules = *rules,
                                  .n_rules = cfg->nroutes};
    return TAD_OK;
}

void tad_job_process(struct tad_job_ctx *ctx, const struct tad_config *cfg,
                     const struct tad_sqs_message *msg, struct tad_job_result *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->stage = "";
    struct tad_event_result ev;
    struct tad_errinfo ei;
    tad_errinfo_clear(&ei);
    const char *body = msg->body ? msg->body : "";
    struct tad_log_kv mkv[] = {TAD_KV_S(TAD_F_MESSAGE_ID, msg->message_id)};
    tad_err e = tad_event_parse(body, strlen(body), &ev, &ei);
    if (e != TAD_OK) {
        log_kv(TAD_LOG_ERROR, mkv, 1, "message is not a usable S3 event: %s", err_text(e, &ei));
        note_failure(ret, e, "event", NULL, &ei);
        goto decide;
    }
    if (ev.kind == TAD_EVENT_TEST) {
        log_kv(TAD_LOG_INFO, mkv, 1, "s3:TestEvent received and deleted");
        ret->ignored++;
        goto decide_ev;
    }
    if (ev.kind == TAD_EVENT_IGNORABLE) {
        log_kv(TAD_LOG_INFO, mkv, 1, "ignored: not an object creation (%s)", ev.ignored_what);
        ret->ignored++;
        goto decide_ev;
    }
    struct tad_route_table table;
    struct tad_route_rule *rules = NULL;
    if (route_table(cfg, &table, &rules) != TAD_OK) {
        note_failure(ret, TAD_ERR_NOMEM, "route", NULL, NULL);
        goto decide_ev;
    }
    for (size_t i = 0; i < ev.n_jobs; i++) {
        if (ctx->cancel && atomic_load(ctx->cancel)) {
            note_failure(ret, TAD_ERR_CANCELLED, "", ev.jobs[i].key, NULL);
            break;
        }
        process_object(ctx, cfg, &table, msg, &ev.jobs[i], ret);
    }
    free(rules);
decide_ev:
    tad_event_result_release(&ev);
decide:
    if (cfg->dry_run)
        ret->disposition = TAD_JOB_KEEP;
    else if (ret->err == TAD_OK)
        ret->disposition = TAD_JOB_DELETE;
    else if (transient(ret->err))
        ret->disposition = TAD_JOB_RELEASE;
    else
        ret->disposition = TAD_JOB_FAILOVER;
}
