/* job.h - what a daemon worker does with one SQS message: parse the event, route each object
 * key, stream the object from S3 through the row pipeline, apply the parts to TikTok, write
 * the report, and decide the message's fate (SPEC sections 5-7):
 *
 *   DELETE   every object was applied, or the message was ignorable (test event, not an
 *            object creation, key outside the prefix, folder marker, a report object)
 *   FAILOVER a permanent failure: hand the message to failure_queue_url, then delete it
 *            (without a failure queue: RELEASE, and the queue's redrive policy decides)
 *   RELEASE  a transient failure (after the clients' in-process retries) or cancellation:
 *            make the message visible again after a delay
 *   KEEP     dry run: nothing is deleted; the message reappears after its visibility timeout
 *
 * A message naming several objects is released if any of them failed transiently, failed over
 * if any failed permanently, deleted only when all were applied or ignorable.
 *
 * Threading: tad_job_process() runs on a worker thread with that worker's own HTTP client; the
 * shared services in the context are thread-safe. Logs one line per object outcome (never row
 * contents or tokens).
 */
#ifndef TAD_JOB_H
#define TAD_JOB_H

#include <stdatomic.h>
#include <stdbool.h>

#include "tad/config.h"
#include "tad/error.h"
#include "tad/sqs.h"
#include "tad/upload_apply.h"

struct tad_metrics;

enum tad_job_disposition {
    TAD_JOB_DELETE,
    TAD_JOB_FAILOVER,
    TAD_JOB_RELEASE,
    TAD_JOB_KEEP,
};

struct tad_job_ctx {
    struct tad_upload_env *env; /* borrowed: shared AWS and TikTok services */
    struct tad_http *http;      /* borrowed: this worker's client */
    struct tad_metrics *metrics;
    const atomic_int *cancel; /* borrowed: set when the drain deadline passes */
    unsigned worker;          /* index, for logs */
};

struct tad_job_result {
    enum tad_job_disposition disposition;
    tad_err err;                       /* the deciding failure (TAD_OK when none) */
    const char *stage;                 /* static: "event", "route", "s3", "rows", "tiktok", "" */
    char key[1025];                    /* the object key of the deciding failure, "" if none */
    struct tad_errinfo info;           /* its detail */
    unsigned applied, ignored, failed; /* objects */
};

/* Processes one message with the configuration snapshot cfg. Never fails as such: the outcome
 * is in *ret. */
void tad_job_process(struct tad_job_ctx *ctx, const struct tad_config *cfg,
                     const struct tad_sqs_message *msg, struct tad_job_result *ret);

const char *tad_job_disposition_name(enum tad_job_disposition d);

#endif
