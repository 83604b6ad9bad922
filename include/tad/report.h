/* report.h - the per-file JSON report (SPEC section 8) written to
 * s3://<bucket>/<report_prefix><key>.json when report_prefix is set.
 *
 * tad_report_json() is pure; tad_report_put() writes it with the caller's clients.
 * Every string is borrowed for the call.
 */
#ifndef TAD_REPORT_H
#define TAD_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "tad/aws_call.h"
#include "tad/buf.h"

struct tad_report {
    const char *key;
    const char *audience;       /* name, or "id:<digits>" */
    const char *calculate_type; /* "PHONE_SHA256" */
    const char *action;         /* "append", "remove", "replace" */
    const char *status;         /* "applied" or "failed" */
    uint64_t rows_total, rows_valid, rows_invalid;
    size_t parts;
    const char *custom_audience_id; /* "" or NULL = unknown */
    const char *request_ids;        /* comma-separated TikTok request ids, may be NULL */
    const char *error;              /* NULL on success */
    time_t started_at, finished_at;
};

/* Appends the report as one JSON object (ISO 8601 UTC times; custom_audience_id and error
 * null when unknown; tiktok_request_ids an array). */
TAD_MUST_CHECK tad_err tad_report_json(const struct tad_report *r, struct tad_buf *out);

/* The object key: report_prefix + key + ".json". TAD_ERR_INVALID if over S3's 1024 bytes. */
TAD_MUST_CHECK tad_err tad_report_key(const char *report_prefix, const char *key, char *out,
                                      size_t outsz);

/* Builds the report and puts it to bucket under tad_report_key(). */
TAD_MUST_CHECK tad_err tad_report_put(struct tad_aws *aws, struct tad_http *h, const char *bucket,
                                      const char *report_prefix, const struct tad_report *r,
                                      struct tad_errinfo *err);

#endif
