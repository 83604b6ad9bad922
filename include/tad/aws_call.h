/* aws_call.h - the one path every AWS request takes: resolve the endpoint, take credentials,
 * sign (SigV4), send, parse the error (JSON protocols: __type / message / x-amzn-query-error;
 * S3 and STS: XML <Code>/<Message>), classify it onto tad_err, and retry the way the AWS SDKs'
 * "standard" mode does (attempt limit, full-jitter backoff, a shared retry quota). Expired
 * credentials are refreshed and the request retried once; RequestTimeTooSkewed (and other
 * clock-skew answers) correct a process-wide clock offset from the response's Date header and
 * retry once.
 *
 * struct tad_aws is shared by every thread (immutable after creation except for the atomic
 * clock offset and the locked retry quota). struct tad_http clients are per thread and passed
 * in on each call.
 */
#ifndef TAD_AWS_CALL_H
#define TAD_AWS_CALL_H

#include <stdbool.h>
#include <time.h>

#include "tad/aws_creds.h"
#include "tad/aws_endpoint.h"
#include "tad/buf.h"
#include "tad/error.h"
#include "tad/http.h"
#include "tad/retry.h"

struct tad_aws;

struct tad_aws_opts {
    struct tad_creds_provider *creds; /* borrowed; must outlive the tad_aws */
    const char *region;               /* required */
    tad_getenv_fn env;                /* NULL = getenv (endpoint overrides) */
    struct tad_retry_policy retry; /* max_attempts 0 = the SDK default of 3, 1 s base, 20 s cap */
    const struct tad_rng *rng;     /* NULL = default */
    time_t (*now)(void *ctx);      /* NULL = time() */
    void *now_ctx;
    /* Called (if set) after every request with the service and outcome: "ok", "throttled",
     * "error", "retry"... for metrics. May be called from any thread. */
    void (*observe)(void *ctx, enum tad_aws_service svc, const char *outcome);
    void *observe_ctx;
};

TAD_MUST_CHECK tad_err tad_aws_new(const struct tad_aws_opts *opts, struct tad_aws **ret,
                                   struct tad_errinfo *err);
void tad_aws_free(struct tad_aws *aws);

const char *tad_aws_region(const struct tad_aws *aws);
const struct tad_aws_endpoint *tad_aws_endpoint(const struct tad_aws *aws,
                                                enum tad_aws_service svc);
/* Seconds added to the local clock when signing (learnt from skew errors). */
long tad_aws_clock_offset(const struct tad_aws *aws);

struct tad_aws_request {
    enum tad_aws_service svc;
    const char *method;
    /* Full URL, wire path (encoded once) and query, and the Host header value; for JSON
     * services use tad_aws_json_call which fills these. */
    const char *url;
    const char *path;
    const char *query;
    const char *host;
    const struct tad_http_header *headers; /* extra headers, signed (Content-Type, Range...) */
    size_t nheaders;
    const void *body; /* in memory; signed */
    size_t body_len;
    /* Where a 2xx body goes. DISCARD/BUF/CALLBACK as in http.h; error bodies never reach a
     * callback sink (they are parsed for the error). With a CALLBACK sink, no retry happens
     * once body bytes were delivered: the caller resumes (see s3.c). */
    struct tad_http_sink sink;
    long timeout_ms;       /* 0 = client default */
    unsigned max_attempts; /* 0 = the policy's */
    bool unsigned_payload; /* S3: sign UNSIGNED-PAYLOAD instead of hashing the body */
    bool no_sign;          /* send without signing (STS web identity) */
};

/* Result of one call. body holds a 2xx body for BUF sinks (borrowed from the request's buf)
 * and error details in err. */
struct tad_aws_result {
    long status;
    uint64_t body_bytes; /* bytes delivered to the sink in the last attempt */
    unsigned attempts;
    char etag[128];
    char request_id[96];
    struct tad_http_response http; /* headers of the last response (owned) */
};

void tad_aws_result_init(struct tad_aws_result *r);
void tad_aws_result_release(struct tad_aws_result *r);

TAD_MUST_CHECK tad_err tad_aws_call(struct tad_aws *aws, struct tad_http *h,
                                    const struct tad_aws_request *req, struct tad_aws_result *res,
                                    struct tad_errinfo *err);

/* AWS JSON 1.0/1.1 call: POST / to the service endpoint with X-Amz-Target = target and the
 * given JSON body; the response JSON (or "{}") is appended to out (capped by out->cap). */
TAD_MUST_CHECK tad_err tad_aws_json_call(struct tad_aws *aws, struct tad_http *h,
                                         enum tad_aws_service svc, const char *target,
                                         const char *json_version, const char *body,
                                         struct tad_buf *out, long timeout_ms,
                                         struct tad_errinfo *err);

/* Pure helpers, exposed for tests. */
/* Maps an AWS error code (already sanitised: no namespace, no ':' suffix) and HTTP status to
 * the error model. */
tad_err tad_aws_classify(long status, const char *code, const char *message);
/* Whether code means "the credentials expired" (refresh and retry once). */
bool tad_aws_code_is_expired_creds(const char *code);
/* Whether code/message mean "your clock is off" (fix the offset and retry once). */
bool tad_aws_code_is_clock_skew(const char *code, const char *message);
/* Fills err->code / msg / request_id from a JSON or XML error body and headers. */
void tad_aws_parse_error(const char *body, size_t len, const struct tad_http_response *http,
                         struct tad_errinfo *err);
/* Extracts the text of the first <tag>...</tag> in an XML document (entities decoded) into out;
 * false if absent. */
bool tad_xml_text(const char *xml, size_t len, const char *tag, char *out, size_t outsz);

#endif
