/* metrics.h - the daemon's Prometheus metrics (SPEC §8), kept in process memory.
 *
 * One struct tad_metrics per process. Every update function may be called from any thread at
 * any time (plain counters are atomics; labelled families and the histogram sit behind one
 * mutex). Update functions accept a NULL registry and do nothing, so code paths without
 * metrics need no checks. Label strings are copied (borrowed only for the call); a value
 * longer than TAD_METRICS_LABEL_MAX bytes is cut. Each labelled family holds at most
 * TAD_METRICS_MAX_SERIES series; once full, new label combinations are counted in one series
 * whose label values are all "other".
 */
#ifndef TAD_METRICS_H
#define TAD_METRICS_H

#include <stdint.h>

#include "tad/buf.h"
#include "tad/error.h"

#define TAD_METRICS_MAX_SERIES 256
#define TAD_METRICS_LABEL_MAX 63

struct tad_metrics;

/* *ret is new (tad_metrics_free). Records the start time for start_time_seconds. */
TAD_MUST_CHECK tad_err tad_metrics_new(struct tad_metrics **ret);
/* NULL ok. No update or render may run concurrently with or after this. */
void tad_metrics_free(struct tad_metrics *m);

void tad_metrics_messages_received(struct tad_metrics *m, unsigned n);
/* result: "applied", "failed", "released", "ignored", "dry_run" (any short label [a-z_]);
 * seconds: wall time the file took, observed in file_duration_seconds; a negative value counts
 * the file without timing it (ignored keys, keys rejected before any work). */
void tad_metrics_file_done(struct tad_metrics *m, const char *result, double seconds);
void tad_metrics_rows(struct tad_metrics *m, uint64_t valid, uint64_t invalid, uint64_t blank);
/* endpoint: TikTok path label ("file/upload", "create", "update", "list", "get", "delete");
 * code: TikTok envelope code, the HTTP status when there was no envelope, or -1 for a network
 * failure (rendered as code="network"). */
void tad_metrics_tiktok_request(struct tad_metrics *m, const char *endpoint, long code);
/* service: "sqs", "s3", "secretsmanager", "sts"...; outcome: "ok", "throttled", "error",
 * "retry". */
void tad_metrics_aws_request(struct tad_metrics *m, const char *service, const char *outcome);
void tad_metrics_inflight_add(struct tad_metrics *m, int delta);
void tad_metrics_visibility_extensions(struct tad_metrics *m, unsigned n);
void tad_metrics_messages_deleted(struct tad_metrics *m, unsigned n);
void tad_metrics_messages_released(struct tad_metrics *m, unsigned n);
/* Messages sent to the failure queue. */
void tad_metrics_messages_failed_over(struct tad_metrics *m, unsigned n);

/* Appends the Prometheus text exposition (format 0.0.4) of every metric to out (borrowed;
 * grows within its cap). On failure out is left as it was (TAD_ERR_INVALID when the cap would
 * be passed, TAD_ERR_NOMEM). All metric names carry the prefix tiktok_audienced_. */
TAD_MUST_CHECK tad_err tad_metrics_render(struct tad_metrics *m, struct tad_buf *out);

/* Appends value to out with the label-value escapes of the exposition format (backslash,
 * double quote and newline become \\, \" and \n). */
TAD_MUST_CHECK tad_err tad_metrics_escape_label(struct tad_buf *out, const char *value);

#endif
