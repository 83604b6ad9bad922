/* event.h - parses one SQS message body (an S3 event) into the objects to process.
 *
 * Accepted bodies: an EventBridge "Object Created" event (source aws.s3; the key is taken as
 * it is), an S3 event notification (Records[], eventSource aws:s3, ObjectCreated:*; keys are
 * form-URL-decoded), either of those inside an SNS envelope (Type Notification, Message a JSON
 * string), and the s3:TestEvent (bare or inside SNS). S3 records of other event names (e.g.
 * ObjectRemoved:*) and aws.s3 EventBridge events of other "Object ..." detail-types are
 * reported as ignorable. Everything else is an error: TAD_ERR_PARSE for bodies that are not
 * JSON or do not have the expected shape, TAD_ERR_INVALID for unsupported sources or types
 * and for unusable values (body over 256 KiB, bad bucket, bad percent-encoding, NUL in a key,
 * key over 1024 bytes, ...); info->msg says which. Both are permanent.
 *
 * Pure (jansson, no I/O, no logging) and thread-safe. The result is owned by the caller and
 * freed with tad_event_result_release().
 */
#ifndef TAD_EVENT_H
#define TAD_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tad/error.h"

#define TAD_EVENT_BODY_MAX (256 * 1024) /* the SQS message size limit */
#define TAD_EVENT_KEY_MAX 1024          /* bytes, after decoding */

enum tad_event_kind {
    TAD_EVENT_JOBS,      /* n_jobs >= 1 objects to process (n_ignored may be > 0 too) */
    TAD_EVENT_TEST,      /* s3:TestEvent: delete the message */
    TAD_EVENT_IGNORABLE, /* only events that are not object creations: delete the message */
};

/* One created object. Strings are owned by the result; optional ones may be NULL. */
struct tad_event_job {
    char *bucket;           /* never NULL */
    char *key;              /* never NULL; decoded for S3 notifications, as-is for EventBridge */
    size_t key_len;         /* bytes of key (keys never hold NUL) */
    bool key_maybe_encoded; /* EventBridge key holding '+' or %XX: see tad_event_key_decode */
    int64_t size;           /* object size, -1 if the event does not say */
    char *etag;             /* without surrounding quotes, or NULL */
    char *version_id;       /* or NULL */
    char *sequencer;        /* or NULL */
    char *event_time;       /* ISO 8601 as sent, or NULL */
    char *event_name;       /* "ObjectCreated:Put" (S3) or detail.reason (EventBridge), or NULL */
    char *region;           /* awsRegion / region, or NULL */
    const char *source_format; /* static: "s3", "eventbridge", "sns+s3", "sns+eventbridge" */
};

struct tad_event_result {
    enum tad_event_kind kind;
    const char *source_format;  /* static, as in the jobs; "s3:TestEvent" forms give "s3-test"
                                  or "sns+s3-test" */
    struct tad_event_job *jobs; /* n_jobs entries, NULL when n_jobs == 0 */
    size_t n_jobs;
    size_t n_ignored;      /* records or events that are not object creations */
    char ignored_what[64]; /* name of the first ignored event ("ObjectRemoved:Delete"), or "" */
};

/* Parses body (len bytes, need not be NUL-terminated). *ret (new; release it) is written only
 * on success; on failure nothing needs releasing. */
TAD_MUST_CHECK tad_err tad_event_parse(const char *body, size_t len, struct tad_event_result *ret,
                                       struct tad_errinfo *info);

/* Frees everything the result owns and zeroes it. NULL and zeroed results are fine. */
void tad_event_result_release(struct tad_event_result *r);

/* application/x-www-form-urlencoded decoding of an S3 key: '+' -> space, %XX -> byte.
 * TAD_ERR_INVALID on a '%' not followed by two hex digits, a decoded NUL, or a result over
 * TAD_EVENT_KEY_MAX bytes. *ret is new (free()), NUL-terminated; *ret_len its length (may be
 * NULL). Used for S3 notification keys, and by callers to retry an EventBridge key whose
 * object is missing when key_maybe_encoded is set. */
TAD_MUST_CHECK tad_err tad_event_key_decode(const char *in, size_t len, char **ret, size_t *ret_len,
                                            struct tad_errinfo *info);

/* True if the key holds '+' or a '%' followed by two hex digits. */
bool tad_event_key_maybe_encoded(const char *key, size_t len);

#endif
