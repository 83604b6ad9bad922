/* aws_call.c - sign, send, parse errors, classify and retry for every AWS request (see
 * tad/aws_call.h).
 *
 * Ownership: struct tad_aws owns its key cache and endpoints; the credential provider is
 * borrowed. Threading: the clock offset is an atomic; the retry quota has its own lock;
 * everything else is read-only after tad_aws_new, so one tad_aws serves every thread.
 */
#include "tad/aws_call.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tad/log.h"
#include "tad/sigv4.h"

#define MAX_HEADERS 24
#define ERROR_BODY_CAP (64 * 1024)

struct tad_aws {
    struct tad_creds_provider *creds;
    char region[64];
    struct tad_aws_endpoint endpoints[TAD_AWS__SERVICES];
    struct tad_sigv4_key_cache *keys;
    struct tad_retry_policy retry;
    const struct tad_rng *rng;
    struct tad_retry_quota quota;
    long clock_offset; /* atomic */
    time_t (*now)(void *);
    void *now_ctx;
    void (*observe)(void *, enum tad_aws_service, const char *);
    void *observe_ctx;
};

static time_t real_now(void *ctx)
{
    (void)ctx;
    return time(NULL);
}

tad_err tad_aws_new(const struct tad_aws_opts *opts, struct tad_aws **ret, struct tad_errinfo *err)
{
    if (!opts->creds || !opts->region || !*opts->region)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "AWS client needs credentials and a region");
    struct tad_aws *a = calloc(1, sizeof(*a));
    if (!a)
        return TAD_ERR_NOMEM;
    tad_err e;
    tad_getenv_fn env = opts->env ? opts->env : (tad_getenv_fn)getenv;
    a->creds = opts->creds;
    tad_strlcpy(a->region, sizeof(a->region), opts->region, strlen(opts->region));
    for (int s = 0; s < TAD_AWS__SERVICES; s++) {
        e = tad_aws_endpoint_resolve((enum tad_aws_service)s, a->region, env, &a->endpoints[s],
                                     err);
        if (e)
            goto fail;
    }
    e = tad_sigv4_key_cache_new(&a->keys);
    if (e)
        goto fail;
    a->retry = opts->retry;
    if (a->retry.max_attempts == 0)
        a->retry = (struct tad_retry_policy){3, 1000, 20000};
    a->rng = opts->rng ? opts->rng : tad_rng_default();
    tad_retry_quota_init(&a->quota, TAD_RETRY_QUOTA_CAPACITY);
    a->now = opts->now ? opts->now : real_now;
    a->now_ctx = opts->now_ctx;
    a->observe = opts->observe;
    a->observe_ctx = opts->observe_ctx;
    *ret = a;
    return TAD_OK;
fail:
    free(a);
    return e;
}

void tad_aws_free(struct tad_aws *aws)
{
    if (!aws)
        return;
    tad_sigv4_key_cache_free(aws->keys);
    tad_retry_quota_release(&aws->quota);
    free(aws);
}

const char *tad_aws_region(const struct tad_aws *aws)
{
    return aws->region;
}

const struct tad_aws_endpoint *tad_aws_endpoint(const struct tad_aws *aws, enum tad_aws_service svc)
{
    return &aws->endpoints[svc];
}

long tad_aws_clock_offset(const struct tad_aws *aws)
{
    return __atomic_load_n(&aws->clock_offset, __ATOMIC_RELAXED);
}

void tad_aws_result_init(struct tad_aws_result *r)
{
    memset(r, 0, sizeof(*r));
    tad_http_response_init(&r->http);
}

void tad_aws_result_release(struct tad_aws_result *r)
{
    tad_http_response_release(&r->http);
}

/* ---- error classification (pure) ---- */

static bool in_list(const char *code, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(code, *list) == 0)
            return true;
    return false;
}

static const char *const throttling_codes[] = {"Throttling",
                                               "ThrottlingException",
                                               "ThrottledException",
                                               "RequestThrottledException",
                                               "TooManyRequestsException",
                                               "ProvisionedThroughputExceededException",
                                               "TransactionInProgressException",
                                               "RequestLimitExceeded",
                                               "BandwidthLimitExceeded",
                                               "LimitExceededException",
                                               "RequestThrottled",
                                               "SlowDown",
                                               "PriorRequestNotComplete",
                                               "EC2ThrottledException",
                                               "KmsThrottled",
                                               "KmsThrottledException",
                                               NULL};

static const char *const transient_codes[] = {
    "RequestTimeout",       "RequestTimeoutException", "InternalError",         "InternalFailure",
    "InternalServiceError", "ServiceUnavailable",      "IDPCommunicationError", NULL};

static const char *const expired_codes[] = {"ExpiredToken",
                                            "ExpiredTokenException",
                                            "RequestExpired",
                                            "InvalidClientTokenId",
                                            "UnrecognizedClientException",
                                            "TokenRefreshRequired",
                                            NULL};

static const char *const not_found_codes[] = {"NoSuchKey",
                                              "NoSuchBucket",
                                              "NoSuchVersion",
                                              "QueueDoesNotExist",
                                              "AWS.SimpleQueueService.NonExistentQueue",
                                              "ResourceNotFoundException",
                                              "NotFound",
                                              NULL};

static const char *const denied_codes[] = {"AccessDenied",
                                           "AccessDeniedException",
                                           "KmsAccessDenied",
                                           "KmsAccessDeniedException",
                                           "InvalidObjectState",
                                           "AllAccessDisabled",
                                           NULL};

bool tad_aws_code_is_expired_creds(const char *code)
{
    return code && in_list(code, expired_codes);
}

bool tad_aws_code_is_clock_skew(const char *code, const char *message)
{
    if (!code)
        return false;
    if (strcmp(code, "RequestTimeTooSkewed") == 0 || strcmp(code, "RequestExpired") == 0)
        return true;
    if ((strcmp(code, "InvalidSignatureException") == 0 ||
         strcmp(code, "SignatureDoesNotMatch") == 0 || strcmp(code, "AuthFailure") == 0) &&
        message && strstr(message, "Signature expired"))
        return true;
    return false;
}

tad_err tad_aws_classify(long status, const char *code, const char *message)
{
    if (code && *code) {
        if (in_list(code, throttling_codes))
            return TAD_ERR_THROTTLED;
        if (in_list(code, transient_codes))
            return TAD_ERR_SERVER;
        if (tad_aws_code_is_expired_creds(code) || tad_aws_code_is_clock_skew(code, message))
            return TAD_ERR_AUTH;
        if (in_list(code, not_found_codes))
            return TAD_ERR_NOT_FOUND;
        if (in_list(code, denied_codes))
            return TAD_ERR_DENIED;
        if (strcmp(code, "PreconditionFailed") == 0)
            return TAD_ERR_CLIENT;
    }
    if (status == 429)
        return TAD_ERR_THROTTLED;
    if (status == 500 || status == 502 || status == 503 || status == 504)
        return TAD_ERR_SERVER;
    if (status >= 500)
        return TAD_ERR_SERVER;
    if (status == 404)
        return TAD_ERR_NOT_FOUND;
    if (status == 403)
        return TAD_ERR_DENIED;
    if (status == 401)
        return TAD_ERR_AUTH;
    return TAD_ERR_CLIENT;
}

/* ---- error parsing ---- */

static void decode_entities(char *s)
{
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    char *w = s;
    for (const char *r = s; *r;) {
        bool done = false;
        if (*r == '&')
            for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
                size_t l = strlen(ents[i].ent);
                if (strncmp(r, ents[i].ent, l) == 0) {
                    *w++ = ents[i].c;
                    r += l;
                    done = true;
                    break;
                }
            }
        if (!done)
            *w++ = *r++;
    }
    *w = '\0';
}

bool tad_xml_text(const char *xml, size_t len, const char *tag, char *out, size_t outsz)
{
    char open[80], close[80];
    int no = snprintf(open, sizeof(open), "<%s>", tag);
    int nc = snprintf(close, sizeof(close), "</%s>", tag);
    if (no < 0 || nc < 0 || (size_t)no >= sizeof(open) || (size_t)nc >= sizeof(close) || outsz == 0)
        return false;
    const char *s = memmem(xml, len, open, (size_t)no);
    if (!s)
        return false;
    s += no;
    const char *e = memmem(s, len - (size_t)(s - xml), close, (size_t)nc);
    if (!e)
        return false;
    tad_strlcpy(out, outsz, s, (size_t)(e - s));
    decode_entities(out);
    return true;
}

/* "com.amazonaws.sqs#QueueDoesNotExist:http://..." -> "QueueDoesNotExist" */
static void sanitize_code(char *code)
{
    char *colon = strchr(code, ':');
    if (colon)
        *colon = '\0';
    char *hash = strrchr(code, '#');
    if (hash)
        memmove(code, hash + 1, strlen(hash + 1) + 1);
}

void tad_aws_parse_error(const char *body, size_t len, const struct tad_http_response *http,
                         struct tad_errinfo *err)
{
    if (!err)
        return;
    const char *rid = http ? tad_http_response_header(http, "x-amzn-requestid") : NULL;
    if (!rid && http)
        rid = tad_http_response_header(http, "x-amz-request-id");
    if (rid)
        tad_strlcpy(err->request_id, sizeof(err->request_id), rid, strlen(rid));
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t'))
        i++;
    if (i < len && body[i] == '{') {
        json_error_t jerr;
        json_t *j = json_loadb(body, len, 0, &jerr);
        if (j) {
            const char *type = json_string_value(json_object_get(j, "__type"));
            if (!type)
                type = json_string_value(json_object_get(j, "code"));
            const char *msg = json_string_value(json_object_get(j, "message"));
            if (!msg)
                msg = json_string_value(json_object_get(j, "Message"));
            if (type)
                tad_strlcpy(err->code, sizeof(err->code), type, strlen(type));
            if (msg)
                tad_strlcpy(err->msg, sizeof(err->msg), msg, strlen(msg));
            json_decref(j);
        }
    } else if (i < len && body[i] == '<') {
        tad_xml_text(body, len, "Code", err->code, sizeof(err->code));
        tad_xml_text(body, len, "Message", err->msg, sizeof(err->msg));
        if (!err->request_id[0])
            tad_xml_text(body, len, "RequestId", err->request_id, sizeof(err->request_id));
    }
    if (!err->code[0] && http) {
        const char *et = tad_http_response_header(http, "x-amzn-errortype");
        if (et)
            tad_strlcpy(err->code, sizeof(err->code), et, strlen(et));
    }
    sanitize_code(err->code);
    /* awsQueryCompatible services name the legacy code in x-amzn-query-error: "Code;Sender" */
    const char *qe = http ? tad_http_response_header(http, "x-amzn-query-error") : NULL;
    if (qe) {
        const char *semi = strchr(qe, ';');
        if (semi && semi != qe && !strchr(semi + 1, ';') &&
            (!err->code[0] || tad_aws_classify(0, err->code, NULL) == TAD_ERR_CLIENT))
            tad_strlcpy(err->code, sizeof(err->code), qe, (size_t)(semi - qe));
    }
}

/* ---- the call ---- */

/* Routes 2xx bodies to the caller's sink and everything else to an error buffer. */
struct route_sink {
    const struct tad_http_sink *user;
    struct tad_http_response *resp;
    struct tad_buf errbody;
    uint64_t delivered;
};

static tad_err route_write(void *ctx, const char *data, size_t len)
{
    struct route_sink *r = ctx;
    if (r->resp->status >= 200 && r->resp->status <= 299) {
        r->delivered += len;
        switch (r->user->kind) {
        case TAD_HTTP_SINK_BUF: {
            tad_err e = tad_buf_append(r->user->buf, data, len);
            return e == TAD_ERR_INVALID ? TAD_ERR_PARSE : e;
        }
        case TAD_HTTP_SINK_CALLBACK:
            return r->user->write(r->user->ctx, data, len);
        default:
            return TAD_OK;
        }
    }
    if (r->errbody.len + len > ERROR_BODY_CAP)
        len = ERROR_BODY_CAP - r->errbody.len;
    return len ? tad_buf_append(&r->errbody, data, len) : TAD_OK;
}

static void observe(struct tad_aws *aws, enum tad_aws_service svc, const char *outcome)
{
    if (aws->observe)
        aws->observe(aws->observe_ctx, svc, outcome);
}

/* Learns the clock offset from the response's Date header. */
static bool learn_offset(struct tad_aws *aws, const struct tad_http_response *http)
{
    const char *date = tad_http_response_header(http, "date");
    if (!date)
        return false;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end)
        return false;
    time_t server = timegm(&tm);
    long off = (long)(server - aws->now(aws->now_ctx));
    __atomic_store_n(&aws->clock_offset, off, __ATOMIC_RELAXED);
    return true;
}

static tad_err one_attempt(struct tad_aws *aws, struct tad_http *h,
                           const struct tad_aws_request *req, struct tad_aws_creds *creds,
                           struct tad_sigv4_result *sig, struct tad_aws_result *res,
                           struct route_sink *route, struct tad_errinfo *err)
{
    struct tad_http_header hdrs[MAX_HEADERS];
    size_t n = 0;
    if (req->nheaders + 6 > MAX_HEADERS)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "too many request headers");
    hdrs[n++] = (struct tad_http_header){"Host", req->host};
    for (size_t i = 0; i < req->nheaders; i++)
        hdrs[n++] = req->headers[i];
    if (!req->no_sign) {
        struct tad_sigv4_request sreq = {
            .method = req->method,
            .path = req->path,
            .query = req->query,
            .headers = (const struct tad_sigv4_header *)hdrs,
            .nheaders = n,
            .body = req->body,
            .body_len = req->body_len,
            .payload_hash = req->unsigned_payload ? TAD_SIGV4_UNSIGNED_PAYLOAD : NULL,
        };
        struct tad_sigv4_params params = {
            .region = aws->region,
            .service = tad_aws_service_name(req->svc),
            .now = aws->now(aws->now_ctx) + tad_aws_clock_offset(aws),
            .s3_style = req->svc == TAD_AWS_S3,
        };
        struct tad_sigv4_creds sc = {creds->access_key_id, creds->secret_access_key,
                                     creds->session_token};
        tad_err e = tad_sigv4_sign(&sreq, &sc, &params, aws->keys, sig, err);
        if (e)
            return e;
        for (size_t i = 0; i < sig->nadd; i++)
            hdrs[n++] = (struct tad_http_header){sig->add[i].name, sig->add[i].value};
    }
    struct tad_http_request hreq = {
        .method = req->method,
        .url = req->url,
        .headers = hdrs,
        .nheaders = n,
        .timeout_ms = req->timeout_ms,
    };
    if (req->body_len ||
        (req->body && strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)) {
        hreq.body.kind = TAD_HTTP_BODY_MEMORY;
        hreq.body.mem.data = req->body ? req->body : "";
        hreq.body.mem.len = req->body_len;
    }
    hreq.sink.kind = TAD_HTTP_SINK_CALLBACK;
    hreq.sink.write = route_write;
    hreq.sink.ctx = route;
    route->resp = &res->http;
    route->delivered = 0;
    tad_buf_reset(&route->errbody);
    tad_err e = tad_http_perform(h, &hreq, &res->http, err);
    res->status = res->http.status;
    res->body_bytes = route->delivered;
    const char *etag = tad_http_response_header(&res->http, "etag");
    if (etag)
        tad_strlcpy(res->etag, sizeof(res->etag), etag, strlen(etag));
    const char *rid = tad_http_response_header(&res->http, "x-amzn-requestid");
    if (!rid)
        rid = tad_http_response_header(&res->http, "x-amz-request-id");
    if (rid)
        tad_strlcpy(res->request_id, sizeof(res->request_id), rid, strlen(rid));
    if (e)
        return e;
    if (res->status >= 200 && res->status <= 299)
        return TAD_OK;
    if (res->status == 304)
        return TAD_OK;
    if (err) {
        long st = res->status;
        tad_errinfo_clear(err);
        err->http_status = st;
        tad_aws_parse_error(route->errbody.data ? route->errbody.data : "", route->errbody.len,
                            &res->http, err);
        if (!err->msg[0])
            tad_errinfo_set(err, TAD_ERR_CLIENT, "HTTP %ld%s%s", st, err->code[0] ? " " : "",
                            err->code);
        return tad_aws_classify(st, err->code, err->msg);
    }
    return tad_aws_classify(res->status, NULL, NULL);
}

tad_err tad_aws_call(struct tad_aws *aws, struct tad_http *h, const struct tad_aws_request *req,
                     struct tad_aws_result *res, struct tad_errinfo *err)
{
    struct tad_errinfo local;
    if (!err)
        err = &local;
    struct tad_sigv4_result sig = TAD_SIGV4_RESULT_INIT;
    struct route_sink route = {.user = &req->sink};
    tad_buf_init(&route.errbody, ERROR_BODY_CAP);
    unsigned max = req->max_attempts ? req->max_attempts : aws->retry.max_attempts;
    bool refreshed = false, skew_fixed = false;
    unsigned quota_cost = 0, failures = 0;
    size_t buf_start = req->sink.kind == TAD_HTTP_SINK_BUF ? req->sink.buf->len : 0;
    tad_err e;
    for (res->attempts = 1;; res->attempts++) {
        struct tad_aws_creds *creds = NULL;
        tad_errinfo_clear(err);
        if (!req->no_sign) {
            e = tad_creds_get(aws->creds, &creds, err);
            if (e) {
                observe(aws, req->svc, "credentials");
                break;
            }
        }
        if (req->sink.kind == TAD_HTTP_SINK_BUF) { /* drop a partial body of a failed try */
            req->sink.buf->len = buf_start;
            if (req->sink.buf->data)
                req->sink.buf->data[buf_start] = '\0';
        }
        e = one_attempt(aws, h, req, creds, &sig, res, &route, err);
        if (e == TAD_OK) {
            tad_retry_quota_success(&aws->quota, quota_cost);
            observe(aws, req->svc, "ok");
            tad_aws_creds_unref(creds);
            break;
        }
        /* credentials or clock: fix and retry once, outside the attempt budget */
        if (e == TAD_ERR_AUTH && !skew_fixed && tad_aws_code_is_clock_skew(err->code, err->msg) &&
            learn_offset(aws, &res->http)) {
            skew_fixed = true;
            observe(aws, req->svc, "clock_skew");
            tad_aws_creds_unref(creds);
            res->attempts--;
            continue;
        }
        if (e == TAD_ERR_AUTH && !refreshed && tad_aws_code_is_expired_creds(err->code)) {
            refreshed = true;
            tad_creds_invalidate(aws->creds, creds);
            observe(aws, req->svc, "expired_credentials");
            tad_aws_creds_unref(creds);
            res->attempts--;
            continue;
        }
        tad_aws_creds_unref(creds);
        observe(aws, req->svc, tad_err_throttling(e) ? "throttled" : "error");
        if (e == TAD_ERR_CANCELLED || !tad_err_retryable(e) || res->attempts >= max)
            break;
        if (req->sink.kind == TAD_HTTP_SINK_CALLBACK && route.delivered > 0)
            break; /* the caller owns resumption of a partly delivered stream */
        unsigned cost = tad_retry_quota_acquire(&aws->quota, e);
        if (cost == 0)
            break;
        quota_cost = cost;
        failures++;
        uint64_t delay =
            tad_retry_delay_with_hint_ms(&aws->retry, failures, err->retry_after, aws->rng);
        log_debug("%s request failed (%s, HTTP %ld %s); retry %u in %llu ms",
                  tad_aws_service_name(req->svc), tad_err_str(e), err->http_status, err->code,
                  res->attempts, (unsigned long long)delay);
        if (!tad_pause_ms(delay, tad_http_cancel_flag(h))) {
            e = tad_errinfo_set(err, TAD_ERR_CANCELLED, "%s request cancelled",
                                tad_aws_service_name(req->svc));
            break;
        }
    }
    tad_sigv4_result_release(&sig);
    tad_buf_release(&route.errbody);
    return e;
}

tad_err tad_aws_json_call(struct tad_aws *aws, struct tad_http *h, enum tad_aws_service svc,
                          const char *target, const char *json_version, const char *body,
                          struct tad_buf *out, long timeout_ms, struct tad_errinfo *err)
{
    const struct tad_aws_endpoint *ep = &aws->endpoints[svc];
    char host[300], url[700], ctype[40];
    tad_aws_endpoint_host_header(ep, host, sizeof(host));
    const char *path = ep->base_path[0] ? ep->base_path : "/";
    int n = snprintf(url, sizeof(url), "%s://%s%s%s", ep->scheme, host, ep->base_path,
                     ep->base_path[0] ? "" : "/");
    if (n < 0 || (size_t)n >= sizeof(url))
        return tad_errinfo_set(err, TAD_ERR_INVALID, "endpoint URL too long");
    snprintf(ctype, sizeof(ctype), "application/x-amz-json-%s", json_version);
    struct tad_http_header hdrs[] = {
        {"Content-Type", ctype},
        {"X-Amz-Target", target},
    };
    struct tad_aws_request req = {
        .svc = svc,
        .method = "POST",
        .url = url,
        .path = path,
        .host = host,
        .headers = hdrs,
        .nheaders = 2,
        .body = body,
        .body_len = strlen(body),
        .sink = {.kind = TAD_HTTP_SINK_BUF, .buf = out},
        .timeout_ms = timeout_ms,
    };
    struct tad_aws_result res;
    tad_aws_result_init(&res);
    tad_err e = tad_aws_call(aws, h, &req, &res, err);
    if (e == TAD_OK && out->len == 0)
        e = tad_buf_append_str(out, "{}");
    tad_aws_result_release(&res);
    return e;
}
