/* event.c - SQS message body -> objects to process (see tad/event.h).
 * Pure: jansson only, no I/O, no logging, no state; thread-safe. Messages quote at most a
 * short printable excerpt of unexpected field values, never whole bodies. */
#include "tad/event.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tad/buf.h"

#define BUCKET_MAX 255

static const char SRC_S3[] = "s3";
static const char SRC_EB[] = "eventbridge";
static const char SRC_SNS_S3[] = "sns+s3";
static const char SRC_SNS_EB[] = "sns+eventbridge";
static const char SRC_TEST[] = "s3-test";
static const char SRC_SNS_TEST[] = "sns+s3-test";

bool tad_event_key_maybe_encoded(const char *key, size_t len)
{
    for (size_t i = 0; key && i < len; i++) {
        if (key[i] == '+')
            return true;
        if (key[i] == '%' && i + 2 < len && tad_hex_value((unsigned char)key[i + 1]) >= 0 &&
            tad_hex_value((unsigned char)key[i + 2]) >= 0)
            return true;
    }
    return false;
}

tad_err tad_event_key_decode(const char *in, size_t len, char **ret, size_t *ret_len,
                             struct tad_errinfo *info)
{
    if (!in || !ret)
        return tad_errinfo_set(info, TAD_ERR_INVALID, "key decode: missing argument");
    /* decoding never makes the text longer */
    char *out = malloc(len + 1);
    if (!out)
        return tad_errinfo_set(info, TAD_ERR_NOMEM, "out of memory");
    tad_err err = TAD_OK;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 2 < len ? tad_hex_value((unsigned char)in[i + 1]) : -1;
            int lo = hi >= 0 ? tad_hex_value((unsigned char)in[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                err = tad_errinfo_set(info, TAD_ERR_INVALID,
                                      "object key has bad percent-encoding at byte %zu", i);
                goto out;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0') {
            err = tad_errinfo_set(info, TAD_ERR_INVALID, "object key holds a NUL byte");
            goto out;
        }
        out[n++] = c;
    }
    if (n > TAD_EVENT_KEY_MAX) {
        err = tad_errinfo_set(info, TAD_ERR_INVALID, "object key is %zu bytes long (at most %d)", n,
                              TAD_EVENT_KEY_MAX);
        goto out;
    }
    out[n] = '\0';
    *ret = out;
    if (ret_len)
        *ret_len = n;
    out = NULL;
out:
    free(out);
    return err;
}

static void free_job(struct tad_event_job *j)
{
    free(j->bucket);
    free(j->key);
    free(j->etag);
    free(j->version_id);
    free(j->sequencer);
    free(j->event_time);
    free(j->event_name);
    free(j->region);
    memset(j, 0, sizeof(*j));
}

void tad_event_result_release(struct tad_event_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_jobs; i++)
        free_job(&r->jobs[i]);
    free(r->jobs);
    memset(r, 0, sizeof(*r));
}

/* Optional string member: absent or null gives NULL; other types are an error. A copy (new)
 * goes to *ret. NUL bytes inside are refused. */
static tad_err opt_string(json_t *obj, const char *name, const char *what, char **ret,
                          struct tad_errinfo *info)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v)) {
        *ret = NULL;
        return TAD_OK;
    }
    if (!json_is_string(v))
        return tad_errinfo_set(info, TAD_ERR_PARSE, "%s is not a string", what);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (memchr(s, '\0', len))
        return tad_errinfo_set(info, TAD_ERR_INVALID, "%s holds a NUL byte", what);
    char *copy = strndup(s, len);
    if (!copy)
        return tad_errinfo_set(info, TAD_ERR_NOMEM, "out of memory");
    *ret = copy;
    return TAD_OK;
}

/* Required string member, borrowed; must be non-empty. */
static tad_err req_string(json_t *obj, const char *name, const char *what, const char **ret,
                          size_t *ret_len, struct tad_errinfo *info)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, name) : NULL;
    if (!v || json_is_null(v))
        return tad_errinfo_set(info, TAD_ERR_PARSE, "%s is missing", what);
    if (!json_is_string(v))
        return tad_errinfo_set(info, TAD_ERR_PARSE, "%s is not a string", what);
    if (json_string_length(v) == 0)
        return tad_errinfo_set(info, TAD_ERR_INVALID, "%s is empty", what);
    *ret = json_string_value(v);
    if (ret_len)
        *ret_len = json_string_length(v);
    return TAD_OK;
}

static bool str_is(json_t *v, const char *s)
{
    return json_is_string(v) && json_string_length(v) == strlen(s) &&
           memcmp(json_string_value(v), s, strlen(s)) == 0;
}

static tad_err set_bucket(json_t *bucket_obj, const char *what, struct tad_event_job *j,
                          struct tad_errinfo *info)
{
    const char *name;
    size_t len;
    tad_err err = req_string(bucket_obj, "name", what, &name, &len, info);
    if (err != TAD_OK)
        return err;
    if (len > BUCKET_MAX)
        return tad_errinfo_set(info, TAD_ERR_INVALID, "bucket name is %zu bytes long", len);
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_';
        if (!ok)
            return tad_errinfo_set(info, TAD_ERR_INVALID,
                                   "bucket name holds a character not allowed in bucket names");
    }
    j->bucket = strndup(name, len);
    if (!j->bucket)
        return tad_errinfo_set(info, TAD_ERR_NOMEM, "out of memory");
    return TAD_OK;
}

static tad_err set_size(json_t *obj, struct tad_event_job *j, struct tad_errinfo *info)
{
    json_t *v = json_object_get(obj, "size");
    j->size = -1;
    if (!v || json_is_null(v))
        return TAD_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return tad_errinfo_set(info, TAD_ERR_PARSE, "object size is not a non-negative integer");
    j->size = (int64_t)json_integer_value(v);
    return TAD_OK;
}

static void strip_quotes(char *s)
{
    if (!s)
        return;
    size_t len = strlen(s);
    if (len && s[len - 1] == '"')
        s[--len] = '\0';
    if (len && s[0] == '"')
        memmove(s, s + 1, len); /* moves the terminator too */
}

/* Moves *j into r->jobs (steals its strings). */
static tad_err push_job(struct tad_event_result *r, struct tad_event_job *j,
                        struct tad_errinfo *info)
{
    struct tad_event_job *grown = realloc(r->jobs, (r->n_jobs + 1) * sizeof(*grown));
    if (!grown)
        return tad_errinfo_set(info, TAD_ERR_NOMEM, "out of memory");
    r->jobs = grown;
    r->jobs[r->n_jobs++] = *j;
    memset(j, 0, sizeof(*j));
    return TAD_OK;
}

static void note_ignored(struct tad_event_result *r, const char *name, size_t len)
{
    if (r->n_ignored++ == 0)
        tad_strlcpy(r->ignored_what, sizeof(r->ignored_what), name, len);
}

/* One ObjectCreated record of an S3 notification. */
static tad_err s3_record_job(json_t *rec, const char *src, struct tad_event_job *j,
                             struct tad_errinfo *info)
{
    json_t *s3 = json_object_get(rec, "s3");
    if (!json_is_object(s3))
        return tad_errinfo_set(info, TAD_ERR_PARSE, "record has no s3 object");
    json_t *bucket = json_object_get(s3, "bucket");
    if (!json_is_object(bucket))
        return tad_errinfo_set(info, TAD_ERR_PARSE, "s3.bucket is missing");
    tad_err err = set_bucket(bucket, "s3.bucket.name", j, info);
    if (err != TAD_OK)
        return err;
    json_t *obj = json_object_get(s3, "object");
    if (!json_is_object(obj))
        return tad_errinfo_set(info, TAD_ERR_PARSE, "s3.object is missing");
    const char *key;
    size_t key_len;
    err = req_string(obj, "key", "s3.object.key", &key, &key_len, info);
    if (err != TAD_OK)
        return err;
    err = tad_event_key_decode(key, key_len, &j->key, &j->key_len, info);
    if (err != TAD_OK)
        return err;
    if (j->key_len == 0)
        return tad_errinfo_set(info, TAD_ERR_INVALID, "s3.object.key is empty");
    err = set_size(obj, j, info);
    if (err == TAD_OK)
        err = opt_string(obj, "eTag", "s3.object.eTag", &j->etag, info);
    if (err == TAD_OK)
        err = opt_string(obj, "versionId", "s3.object.versionId", &j->version_id, info);
    if (err == TAD_OK)
        err = opt_string(obj, "sequencer", "s3.object.sequencer", &j->sequencer, info);
    if (err == TAD_OK)
        err = opt_string(rec, "eventTime", "eventTime", &j->event_time, info);
    if (err == TAD_OK)
        err = opt_string(rec, "eventName", "eventName", &j->event_name, info);
    if (err == TAD_OK)
        err = opt_string(rec, "awsRegion", "awsRegion", &j->region, info);
    if (err != TAD_OK)
        return err;
    strip_quotes(j->etag);
    j->source_format = src;
    return TAD_OK;
}

static tad_err parse_s3_records(json_t *root, bool in_sns, struct tad_event_result *r,
                                struct tad_errinfo *info)
{
    const char *src = in_sns ? SRC_SNS_S3 : SRC_S3;
    json_t *records = json_object_get(root, "Records");
    char ex[TAD_EXCERPT_SIZE];
    r->source_format = src;
    if (!json_is_array(records))
        return tad_errinfo_set(info, TAD_ERR_PARSE, "Records is not an array");
    if (json_array_size(records) == 0)
        return tad_errinfo_set(info, TAD_ERR_PARSE, "Records is empty");
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec)
    {
        if (!json_is_object(rec))
            return tad_errinfo_set(info, TAD_ERR_PARSE, "record %zu is not an object", i);
        json_t *es = json_object_get(rec, "eventSource");
        if (!json_is_string(es))
            return tad_errinfo_set(info, TAD_ERR_PARSE, "record %zu has no eventSource", i);
        if (!str_is(es, "aws:s3")) {
            tad_excerpt(json_string_value(es), json_string_length(es), ex);
            return tad_errinfo_set(info, TAD_ERR_INVALID,
                                   "record %zu: eventSource '%s' is not aws:s3", i, ex);
        }
        json_t *ev = json_object_get(rec, "eventVersion");
        if (ev && !json_is_null(ev)) {
            const char *v = json_is_string(ev) ? json_string_value(ev) : "";
            if (strncmp(v, "2.", 2) != 0 && strcmp(v, "2") != 0) {
                tad_excerpt(v, strlen(v), ex);
                return tad_errinfo_set(info, TAD_ERR_INVALID,
                                       "record %zu: unsupported eventVersion '%s' (need 2.x)", i,
                                       ex);
            }
        }
        json_t *name = json_object_get(rec, "eventName");
        if (!json_is_string(name))
            return tad_errinfo_set(info, TAD_ERR_PARSE, "record %zu has no eventName", i);
        const char *nm = json_string_value(name);
        size_t nm_len = json_string_length(name);
        if (nm_len < 14 || memcmp(nm, "ObjectCreated:", 14) != 0) {
            note_ignored(r, nm, nm_len);
            continue;
        }
        struct tad_event_job j;
        memset(&j, 0, sizeof(j));
        tad_err err = s3_record_job(rec, src, &j, info);
        if (err == TAD_OK)
            err = push_job(r, &j, info);
        if (err != TAD_OK) {
            free_job(&j);
            return err;
        }
    }
    r->kind = r->n_jobs ? TAD_EVENT_JOBS : TAD_EVENT_IGNORABLE;
    return TAD_OK;
}

static tad_err eventbridge_job(json_t *root, const char *src, struct tad_event_job *j,
                               struct tad_errinfo *info)
{
    json_t *detail = json_object_get(root, "detail");
    if (!json_is_object(detail))
        return tad_errinfo_set(info, TAD_ERR_PARSE, "EventBridge event has no detail object");
    json_t *bucket = json_object_get(detail, "bucket");
    if (!json_is_object(bucket))
        return tad_errinfo_set(info, TAD_ERR_PARSE, "detail.bucket is missing");
    tad_err err = set_bucket(bucket, "detail.bucket.name", j, info);
    if (err != TAD_OK)
        return err;
    json_t *obj = json_object_get(detail, "object");
    if (!json_is_object(obj))
        return tad_errinfo_set(info, TAD_ERR_PARSE, "detail.object is missing");
    const char *key;
    size_t key_len;
    err = req_string(obj, "key", "detail.object.key", &key, &key_len, info);
    if (err != TAD_OK)
        return err;
    if (memchr(key, '\0', key_len))
        return tad_errinfo_set(info, TAD_ERR_INVALID, "object key holds a NUL byte");
    if (key_len > TAD_EVENT_KEY_MAX)
        return tad_errinfo_set(info, TAD_ERR_INVALID, "object key is %zu bytes long (at most %d)",
                               key_len, TAD_EVENT_KEY_MAX);
    j->key = strndup(key, key_len);
    if (!j->key)
        return tad_errinfo_set(info, TAD_ERR_NOMEM, "out of memory");
    j->key_len = key_len;
    j->key_maybe_encoded = tad_event_key_maybe_encoded(key, key_len);
    err = set_size(obj, j, info);
    if (err == TAD_OK)
        err = opt_string(obj, "etag", "detail.object.etag", &j->etag, info);
    if (err == TAD_OK)
        err = opt_string(obj, "version-id", "detail.object.version-id", &j->version_id, info);
    if (err == TAD_OK)
        err = opt_string(obj, "sequencer", "detail.object.sequencer", &j->sequencer, info);
    if (err == TAD_OK)
        err = opt_string(root, "time", "time", &j->event_time, info);
    if (err == TAD_OK)
        err = opt_string(detail, "reason", "detail.reason", &j->event_name, info);
    if (err == TAD_OK)
        err = opt_string(root, "region", "region", &j->region, info);
    if (err != TAD_OK)
        return err;
    strip_quotes(j->etag);
    j->source_format = src;
    return TAD_OK;
}

static tad_err parse_eventbridge(json_t *root, bool in_sns, struct tad_event_result *r,
                                 struct tad_errinfo *info)
{
    const char *src = in_sns ? SRC_SNS_EB : SRC_EB;
    char ex[TAD_EXCERPT_SIZE];
    const char *s;
    size_t len;
    r->source_format = src;
    tad_err err = req_string(root, "source", "EventBridge source", &s, &len, info);
    if (err != TAD_OK)
        return err;
    if (!(len == 6 && memcmp(s, "aws.s3", 6) == 0)) {
        tad_excerpt(s, len, ex);
        return tad_errinfo_set(info, TAD_ERR_INVALID, "EventBridge source '%s' is not aws.s3", ex);
    }
    err = req_string(root, "detail-type", "EventBridge detail-type", &s, &len, info);
    if (err != TAD_OK)
        return err;
    if (!(len == 14 && memcmp(s, "Object Created", 14) == 0)) {
        if (len > 7 && memcmp(s, "Object ", 7) == 0) {
            note_ignored(r, s, len);
            r->kind = TAD_EVENT_IGNORABLE;
            return TAD_OK;
        }
        tad_excerpt(s, len, ex);
        return tad_errinfo_set(info, TAD_ERR_INVALID,
                               "unsupported EventBridge detail-type '%s' for aws.s3", ex);
    }
    struct tad_event_job j;
    memset(&j, 0, sizeof(j));
    err = eventbridge_job(root, src, &j, info);
    if (err == TAD_OK)
        err = push_job(r, &j, info);
    if (err != TAD_OK) {
        free_job(&j);
        return err;
    }
    r->kind = TAD_EVENT_JOBS;
    return TAD_OK;
}

static tad_err parse_root(json_t *root, bool in_sns, struct tad_event_result *r,
                          struct tad_errinfo *info);

static tad_err parse_sns(json_t *root, struct tad_event_result *r, struct tad_errinfo *info)
{
    json_t *type = json_object_get(root, "Type");
    char ex[TAD_EXCERPT_SIZE];
    if (!json_is_string(type))
        return tad_errinfo_set(info, TAD_ERR_PARSE, "SNS Type is not a string");
    if (!str_is(type, "Notification")) {
        tad_excerpt(json_string_value(type), json_string_length(type), ex);
        return tad_errinfo_set(info, TAD_ERR_INVALID,
                               "SNS message of Type '%s' is not handled (only Notification)", ex);
    }
    json_t *msg = json_object_get(root, "Message");
    if (!msg)
        return tad_errinfo_set(info, TAD_ERR_PARSE, "SNS notification has no Message");
    if (!json_is_string(msg))
        return tad_errinfo_set(info, TAD_ERR_PARSE, "SNS Message is not a string");
    json_error_t jerr;
    json_t *inner = json_loadb(json_string_value(msg), json_string_length(msg),
                               JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
    if (!inner)
        return tad_errinfo_set(info, TAD_ERR_PARSE,
                               "SNS Message is not valid JSON (line %d, column %d)", jerr.line,
                               jerr.column);
    tad_err err = parse_root(inner, true, r, info);
    json_decref(inner);
    return err;
}

static tad_err parse_root(json_t *root, bool in_sns, struct tad_event_result *r,
                          struct tad_errinfo *info)
{
    const char *what = in_sns ? "SNS Message" : "message body";
    if (!json_is_object(root))
        return tad_errinfo_set(info, TAD_ERR_PARSE, "%s is not a JSON object", what);
    if (json_object_get(root, "Type")) {
        if (in_sns)
            return tad_errinfo_set(info, TAD_ERR_INVALID, "SNS envelope nested in an SNS Message");
        return parse_sns(root, r, info);
    }
    if (json_object_get(root, "Records"))
        return parse_s3_records(root, in_sns, r, info);
    if (json_object_get(root, "source") || json_object_get(root, "detail-type"))
        return parse_eventbridge(root, in_sns, r, info);
    json_t *ev = json_object_get(root, "Event");
    if (ev) {
        char ex[TAD_EXCERPT_SIZE];
        if (!json_is_string(ev))
            return tad_errinfo_set(info, TAD_ERR_PARSE, "Event is not a string");
        if (!str_is(ev, "s3:TestEvent")) {
            tad_excerpt(json_string_value(ev), json_string_length(ev), ex);
            return tad_errinfo_set(info, TAD_ERR_INVALID, "unsupported S3 Event '%s'", ex);
        }
        r->kind = TAD_EVENT_TEST;
        r->source_format = in_sns ? SRC_SNS_TEST : SRC_TEST;
        return TAD_OK;
    }
    return tad_errinfo_set(info, TAD_ERR_INVALID,
                           "%s is not an S3 event notification, EventBridge event, SNS "
                           "notification or s3:TestEvent",
                           what);
}

tad_err tad_event_parse(const char *body, size_t len, struct tad_event_result *ret,
                        struct tad_errinfo *info)
{
    if (!body || !ret)
        return tad_errinfo_set(info, TAD_ERR_INVALID, "event parse: missing argument");
    if (len > TAD_EVENT_BODY_MAX)
        return tad_errinfo_set(info, TAD_ERR_INVALID,
                               "message body is %zu bytes (SQS allows at most %d)", len,
                               TAD_EVENT_BODY_MAX);
    struct tad_event_result r;
    memset(&r, 0, sizeof(r));
    json_error_t jerr;
    json_t *root =
        json_loadb(body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return tad_errinfo_set(info, TAD_ERR_PARSE,
                               "message body is not valid JSON (line %d, column %d)", jerr.line,
                               jerr.column);
    tad_err err = parse_root(root, false, &r, info);
    json_decref(root);
    if (err != TAD_OK)
        goto out;
    *ret = r;
    memset(&r, 0, sizeof(r));
out:
    tad_event_result_release(&r);
    return err;
}
