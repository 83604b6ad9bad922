/* t_aws_call.c - unit tests for the AWS call path (tad/aws_call.h): error classification,
 * error parsing, the small XML reader, and signed calls with retries, clock-skew correction
 * and credential refresh against the scripted loopback server.
 *
 * Each loopback test gets a fresh server, credential provider (a counting fake source, no
 * refresh thread), AWS client (endpoint override pointing at the server, fixed clock, 1-5 ms
 * backoff) and HTTP client. Tests run on one thread; the server runs on its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loopback_server.h"
#include "tad/aws_call.h"
#include "tad/aws_creds.h"
#include "tad/http.h"

/* 2026-01-01T00:00:00Z, a Thursday */
#define T0 ((time_t)1767225600)

/* ================================ pure helpers ================================ */

static void classify_codes(void **state)
{
    (void)state;
    static const struct {
        const char *code;
        tad_err want;
    } cases[] = {
        /* throttling */
        {"Throttling", TAD_ERR_THROTTLED},
        {"ThrottlingException", TAD_ERR_THROTTLED},
        {"ThrottledException", TAD_ERR_THROTTLED},
        {"RequestThrottledException", TAD_ERR_THROTTLED},
        {"TooManyRequestsException", TAD_ERR_THROTTLED},
        {"ProvisionedThroughputExceededException", TAD_ERR_THROTTLED},
        {"TransactionInProgressException", TAD_ERR_THROTTLED},
        {"RequestLimitExceeded", TAD_ERR_THROTTLED},
        {"BandwidthLimitExceeded", TAD_ERR_THROTTLED},
        {"LimitExceededException", TAD_ERR_THROTTLED},
        {"RequestThrottled", TAD_ERR_THROTTLED},
        {"SlowDown", TAD_ERR_THROTTLED},
        {"PriorRequestNotComplete", TAD_ERR_THROTTLED},
        {"EC2ThrottledException", TAD_ERR_THROTTLED},
        {"KmsThrottled", TAD_ERR_THROTTLED},
        {"KmsThrottledException", TAD_ERR_THROTTLED},
        /* transient */
        {"RequestTimeout", TAD_ERR_SERVER},
        {"RequestTimeoutException", TAD_ERR_SERVER},
        {"InternalError", TAD_ERR_SERVER},
        {"InternalFailure", TAD_ERR_SERVER},
        {"InternalServiceError", TAD_ERR_SERVER},
        {"ServiceUnavailable", TAD_ERR_SERVER},
        {"IDPCommunicationError", TAD_ERR_SERVER},
        /* expired credentials and clock skew */
        {"ExpiredToken", TAD_ERR_AUTH},
        {"ExpiredTokenException", TAD_ERR_AUTH},
        {"RequestExpired", TAD_ERR_AUTH},
        {"InvalidClientTokenId", TAD_ERR_AUTH},
        {"UnrecognizedClientException", TAD_ERR_AUTH},
        {"TokenRefreshRequired", TAD_ERR_AUTH},
        {"RequestTimeTooSkewed", TAD_ERR_AUTH},
        /* not found */
        {"NoSuchKey", TAD_ERR_NOT_FOUND},
        {"NoSuchBucket", TAD_ERR_NOT_FOUND},
        {"NoSuchVersion", TAD_ERR_NOT_FOUND},
        {"QueueDoesNotExist", TAD_ERR_NOT_FOUND},
        {"AWS.SimpleQueueService.NonExistentQueue", TAD_ERR_NOT_FOUND},
        {"ResourceNotFoundException", TAD_ERR_NOT_FOUND},
        {"NotFound", TAD_ERR_NOT_FOUND},
        /* denied */
        {"AccessDenied", TAD_ERR_DENIED},
        {"AccessDeniedException", TAD_ERR_DENIED},
        {"KmsAccessDenied", TAD_ERR_DENIED},
        {"KmsAccessDeniedException", TAD_ERR_DENIED},
        {"InvalidObjectState", TAD_ERR_DENIED},
        {"AllAccessDisabled", TAD_ERR_DENIED},
        /* other client errors */
        {"PreconditionFailed", TAD_ERR_CLIENT},
        {"ValidationError", TAD_ERR_CLIENT},
        {"ReceiptHandleIsInvalid", TAD_ERR_CLIENT},
        {"OverLimit", TAD_ERR_CLIENT},
        /* codes are case-sensitive */
        {"throttlingexception", TAD_ERR_CLIENT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tad_err got = tad_aws_classify(400, cases[i].code, "m");
        if (got != cases[i].want)
            fail_msg("%s: got %s want %s", cases[i].code, tad_err_str(got),
                     tad_err_str(cases[i].want));
    }
    /* a known code wins over the status */
    assert_int_equal(tad_aws_classify(503, "SlowDown", NULL), TAD_ERR_THROTTLED);
    assert_int_equal(tad_aws_classify(403, "RequestThrottled", NULL), TAD_ERR_THROTTLED);
    assert_int_equal(tad_aws_classify(404, "AccessDenied", NULL), TAD_ERR_DENIED);
    assert_int_equal(tad_aws_classify(500, "NoSuchKey", NULL), TAD_ERR_NOT_FOUND);
    /* PreconditionFailed is a plain client error even on 412 */
    assert_int_equal(tad_aws_classify(412, "PreconditionFailed", NULL), TAD_ERR_CLIENT);
}

static void classify_status(void **state)
{
    (void)state;
    static const struct {
        long status;
        tad_err want;
    } cases[] = {
        {429, TAD_ERR_THROTTLED}, {500, TAD_ERR_SERVER},    {502, TAD_ERR_SERVER},
        {503, TAD_ERR_SERVER},    {504, TAD_ERR_SERVER},    {501, TAD_ERR_SERVER},
        {599, TAD_ERR_SERVER},    {404, TAD_ERR_NOT_FOUND}, {403, TAD_ERR_DENIED},
        {401, TAD_ERR_AUTH},      {400, TAD_ERR_CLIENT},    {409, TAD_ERR_CLIENT},
        {412, TAD_ERR_CLIENT},    {416, TAD_ERR_CLIENT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* no code, an empty code, and an unknown code all fall back to the status */
        const char *codes[] = {NULL, "", "SomethingNew"};
        for (size_t c = 0; c < 3; c++) {
            tad_err got = tad_aws_classify(cases[i].status, codes[c], NULL);
            if (got != cases[i].want)
                fail_msg("HTTP %ld code %s: got %s want %s", cases[i].status,
                         codes[c] ? codes[c] : "(null)", tad_err_str(got),
                         tad_err_str(cases[i].want));
        }
    }
}

static void skew_and_expiry_codes(void **state)
{
    (void)state;
    static const struct {
        const char *code, *msg;
        bool skew;
    } cases[] = {
        {"RequestTimeTooSkewed", NULL, true},
        {"RequestTimeTooSkewed", "anything", true},
        {"RequestExpired", NULL, true},
        {"InvalidSignatureException", "Signature expired: 20260101T000000Z is now earlier than",
         true},
        {"SignatureDoesNotMatch", "Signature expired: 20260101T000000Z", true},
        {"AuthFailure", "Signature expired: x", true},
        {"InvalidSignatureException", "The request signature we calculated does not match", false},
        {"InvalidSignatureException", NULL, false},
        {"SignatureDoesNotMatch", NULL, false},
        {"ThrottlingException", "Signature expired", false},
        {"ExpiredToken", NULL, false},
        {NULL, "Signature expired", false},
        {"", NULL, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (tad_aws_code_is_clock_skew(cases[i].code, cases[i].msg) != cases[i].skew)
            fail_msg("case %zu (%s / %s)", i, cases[i].code ? cases[i].code : "(null)",
                     cases[i].msg ? cases[i].msg : "(null)");
    /* a signature answered with "Signature expired" is an AUTH error */
    assert_int_equal(tad_aws_classify(403, "InvalidSignatureException", "Signature expired: x"),
                     TAD_ERR_AUTH);
    assert_int_equal(tad_aws_classify(403, "InvalidSignatureException", "mismatch"),
                     TAD_ERR_DENIED);

    assert_true(tad_aws_code_is_expired_creds("ExpiredToken"));
    assert_true(tad_aws_code_is_expired_creds("ExpiredTokenException"));
    assert_true(tad_aws_code_is_expired_creds("InvalidClientTokenId"));
    assert_true(tad_aws_code_is_expired_creds("UnrecognizedClientException"));
    assert_false(tad_aws_code_is_expired_creds("AccessDenied"));
    assert_false(tad_aws_code_is_expired_creds(""));
    assert_false(tad_aws_code_is_expired_creds(NULL));
}

/* Builds a response whose headers are the given name/value pairs (NULL-terminated). */
static void fake_response(struct tad_http_response *r, long status, const char *const *kv)
{
    tad_http_response_init(r);
    r->status = status;
    size_t n = 0;
    while (kv && kv[2 * n])
        n++;
    if (n == 0)
        return;
    r->headers = calloc(n, sizeof(*r->headers));
    assert_non_null(r->headers);
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(kv[2 * i]), vl = strlen(kv[2 * i + 1]);
        char *mem = malloc(nl + vl + 2);
        assert_non_null(mem);
        memcpy(mem, kv[2 * i], nl + 1);
        memcpy(mem + nl + 1, kv[2 * i + 1], vl + 1);
        r->headers[i].name = mem;
        r->headers[i].value = mem + nl + 1;
    }
    r->nheaders = n;
    r->headers_alloc = n;
}

static void parse_errors(void **state)
{
    (void)state;
    static const char *const sqs_hdrs[] = {"x-amzn-RequestId", "0a1b2c3d-rid", "x-amzn-query-error",
                                           "AWS.SimpleQueueService.NonExistentQueue;Sender", NULL};
    static const char *const exists_hdrs[] = {"x-amzn-query-error", "QueueAlreadyExists;Sender",
                                              NULL};
    static const char *const bad_qe1[] = {"x-amzn-query-error", "A;B;C", NULL};
    static const char *const bad_qe2[] = {"x-amzn-query-error", ";Sender", NULL};
    static const char *const bad_qe3[] = {"x-amzn-query-error", "NoSemicolon", NULL};
    static const char *const s3_hdrs[] = {"x-amz-request-id", "HDRRID", NULL};
    static const char *const et_hdrs[] = {"X-Amzn-ErrorType",
                                          "AccessDeniedException:http://internal.amazon.com/",
                                          "x-amzn-requestid", "r-1", NULL};
    static const char *const both_rid[] = {"x-amz-request-id", "second", "x-amzn-RequestId",
                                           "first", NULL};
    static const struct {
        const char *body;
        long status;
        const char *const *hdrs;
        const char *code, *msg, *rid;
    } cases[] = {
        /* SQS JSON 1.0 with the awsQueryCompatible header: the modeled name is kept because
         * it already classifies (not found) */
        {"{\"__type\":\"com.amazonaws.sqs#QueueDoesNotExist\",\"message\":\"The specified "
         "queue does not exist.\"}",
         400, sqs_hdrs, "QueueDoesNotExist", "The specified queue does not exist.", "0a1b2c3d-rid"},
        /* an unclassified modeled name gives way to the legacy code */
        {"{\"__type\":\"com.amazonaws.sqs#QueueNameExists\",\"message\":\"m\"}", 400, exists_hdrs,
         "QueueAlreadyExists", "m", ""},
        /* malformed query-error headers are ignored */
        {"{\"__type\":\"com.amazonaws.sqs#QueueNameExists\"}", 400, bad_qe1, "QueueNameExists", "",
         ""},
        {"{\"__type\":\"com.amazonaws.sqs#QueueNameExists\"}", 400, bad_qe2, "QueueNameExists", "",
         ""},
        {"{\"__type\":\"com.amazonaws.sqs#QueueNameExists\"}", 400, bad_qe3, "QueueNameExists", "",
         ""},
        /* only the header, empty body */
        {"", 400, exists_hdrs, "QueueAlreadyExists", "", ""},
        /* JSON 1.1: bare __type and capitalised Message, leading white space */
        {" \r\n{\"__type\":\"ResourceNotFoundException\",\"Message\":\"Secrets Manager can't "
         "find the specified secret.\"}",
         400, NULL, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.",
         ""},
        /* "code" field and a ':' suffix on the name */
        {"{\"code\":\"ThrottlingException:http://internal.amazon.com/coral/\",\"message\":\"Rate "
         "exceeded\"}",
         400, NULL, "ThrottlingException", "Rate exceeded", ""},
        /* namespaced name with a suffix: before ':' first, then after '#' */
        {"{\"__type\":\"com.amazon.coral.service#ExpiredTokenException:http://x#y\"}", 400, NULL,
         "ExpiredTokenException", "", ""},
        /* S3 XML with entities; request id from the body when no header */
        {"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The "
         "key &lt;a&amp;b&gt; &quot;x&quot; isn&apos;t there</Message><Key>a&amp;b</Key>"
         "<RequestId>4442587FB7D0A2F9</RequestId><HostId>h</HostId></Error>",
         404, NULL, "NoSuchKey", "The key <a&b> \"x\" isn't there", "4442587FB7D0A2F9"},
        /* the header request id wins over the body one */
        {"<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
         "<RequestId>BODYRID</RequestId></Error>",
         403, s3_hdrs, "AccessDenied", "Access Denied", "HDRRID"},
        /* STS-style nested XML */
        {"<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender"
         "</Type><Code>InvalidIdentityToken</Code><Message>Incorrect token audience</Message>"
         "</Error><RequestId>sts-rid</RequestId></ErrorResponse>",
         400, NULL, "InvalidIdentityToken", "Incorrect token audience", "sts-rid"},
        /* empty body with X-Amzn-ErrorType (sanitised) */
        {"", 403, et_hdrs, "AccessDeniedException", "", "r-1"},
        /* x-amzn-RequestId is preferred to x-amz-request-id */
        {"", 500, both_rid, "", "", "first"},
        /* unparseable bodies leave only what the headers say */
        {"{not json", 500, NULL, "", "", ""},
        {"<html><body>Bad Gateway</body></html>", 502, NULL, "", "", ""},
        {"plain text", 500, s3_hdrs, "", "", "HDRRID"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tad_http_response r;
        fake_response(&r, cases[i].status, cases[i].hdrs);
        struct tad_errinfo ei;
        tad_errinfo_clear(&ei);
        tad_aws_parse_error(cases[i].body, strlen(cases[i].body), &r, &ei);
        if (strcmp(ei.code, cases[i].code) != 0 || strcmp(ei.msg, cases[i].msg) != 0 ||
            strcmp(ei.request_id, cases[i].rid) != 0)
            fail_msg("case %zu: code '%s' msg '%s' rid '%s'", i, ei.code, ei.msg, ei.request_id);
        tad_http_response_release(&r);
    }
    /* the body length bounds the parse: a truncated XML document has no Code */
    const char *xml = "<Error><Code>SlowDown</Code></Error>";
    struct tad_errinfo ei;
    tad_errinfo_clear(&ei);
    tad_aws_parse_error(xml, 20, NULL, &ei);
    assert_string_equal(ei.code, "");
    tad_aws_parse_error(xml, strlen(xml), NULL, &ei);
    assert_string_equal(ei.code, "SlowDown");
    /* NULL errinfo is fine */
    tad_aws_parse_error(xml, strlen(xml), NULL, NULL);
}

static void xml_text(void **state)
{
    (void)state;
    static const struct {
        const char *xml;
        const char *tag;
        size_t outsz;
        const char *want; /* NULL = absent */
    } cases[] = {
        {"<a><Code>X</Code></a>", "Code", 64, "X"},
        {"<Code></Code>", "Code", 64, ""},
        {"<Code>first</Code><Code>second</Code>", "Code", 64, "first"},
        {"<CodeX>no</CodeX><Code>yes</Code>", "Code", 64, "yes"},
        {"<Code>abc", "Code", 64, NULL},
        {"abc</Code>", "Code", 64, NULL},
        {"<code>lower</code>", "Code", 64, NULL},
        {"<Code attr=\"1\">attr</Code>", "Code", 64, NULL},
        {"", "Code", 64, NULL},
        {"<M>&lt;&gt;&amp;&quot;&apos;</M>", "M", 64, "<>&\"'"},
        {"<M>&amp;lt; stays &lt;</M>", "M", 64, "&lt; stays <"},
        {"<M>&unknown; &amp &#65;</M>", "M", 64, "&unknown; &amp &#65;"},
        {"<M>trailing &</M>", "M", 64, "trailing &"},
        {"<M>abcdefgh</M>", "M", 5, "abcd"},
        {"<M>abcdefgh</M>", "M", 1, ""},
        {"<M>\n  spaced  \n</M>", "M", 64, "\n  spaced  \n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[64];
        memset(out, '#', sizeof(out));
        bool ok =
            tad_xml_text(cases[i].xml, strlen(cases[i].xml), cases[i].tag, out, cases[i].outsz);
        if (!cases[i].want) {
            if (ok)
                fail_msg("case %zu: found '%s'", i, out);
            continue;
        }
        if (!ok)
            fail_msg("case %zu: not found", i);
        assert_string_equal(out, cases[i].want);
        if (cases[i].outsz < sizeof(out))
            assert_int_equal(out[cases[i].outsz], '#'); /* no write past outsz */
    }
    char out[8];
    /* outsz 0 never writes */
    assert_false(tad_xml_text("<M>x</M>", 8, "M", out, 0));
    /* the length bounds the search, even without a NUL in range */
    const char doc[] = "<M>abc</M>";
    assert_false(tad_xml_text(doc, 9, "M", out, sizeof(out)));
    assert_true(tad_xml_text(doc, 10, "M", out, sizeof(out)));
    assert_string_equal(out, "abc");
    /* a tag too long for the internal pattern is simply absent */
    char longtag[100];
    memset(longtag, 'T', sizeof(longtag) - 1);
    longtag[sizeof(longtag) - 1] = '\0';
    assert_false(tad_xml_text(doc, 10, longtag, out, sizeof(out)));
}

/* ================================ loopback fixture ================================ */

struct fake_src {
    atomic_int calls;
};

static tad_err fake_fetch(void *vctx, struct tad_aws_creds **ret, struct tad_errinfo *err)
{
    (void)err;
    struct fake_src *f = vctx;
    int n = atomic_fetch_add(&f->calls, 1) + 1;
    char ak[32];
    snprintf(ak, sizeof(ak), "AKIDTEST%d", n);
    struct tad_aws_creds *c = tad_aws_creds_new(ak, "secret-key", "session-token", 0, "fake");
    if (!c)
        return TAD_ERR_NOMEM;
    *ret = c;
    return TAD_OK;
}

static char endpoint_url[64];

static const char *fixture_env(const char *name)
{
    if (strcmp(name, "AWS_ENDPOINT_URL") == 0)
        return endpoint_url;
    return NULL;
}

static time_t fixed_now(void *ctx)
{
    (void)ctx;
    return T0;
}

struct observed {
    unsigned ok, error, throttled, clock_skew, expired;
};

static void observe_cb(void *ctx, enum tad_aws_service svc, const char *outcome)
{
    (void)svc;
    struct observed *o = ctx;
    if (strcmp(outcome, "ok") == 0)
        o->ok++;
    else if (strcmp(outcome, "error") == 0)
        o->error++;
    else if (strcmp(outcome, "throttled") == 0)
        o->throttled++;
    else if (strcmp(outcome, "clock_skew") == 0)
        o->clock_skew++;
    else if (strcmp(outcome, "expired_credentials") == 0)
        o->expired++;
}

struct fx {
    struct lbs *srv;
    struct fake_src src;
    struct tad_creds_provider *creds;
    struct tad_aws *aws;
    struct tad_http *h;
    struct observed obs;
    char host[64]; /* Host header of the server */
};

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->srv = lbs_start();
    if (!f->srv)
        return -1;
    snprintf(endpoint_url, sizeof(endpoint_url), "http://127.0.0.1:%d", lbs_port(f->srv));
    snprintf(f->host, sizeof(f->host), "127.0.0.1:%d", lbs_port(f->srv));
    struct tad_creds_source *src = calloc(1, sizeof(*src));
    if (!src)
        return -1;
    *src = (struct tad_creds_source){"fake", fake_fetch, NULL, &f->src};
    struct tad_creds_opts co = {.env = fixture_env, .no_refresh_thread = true};
    if (tad_creds_provider_new_chain(&co, src, 1, &f->creds) != TAD_OK)
        return -1;
    struct tad_aws_opts ao = {
        .creds = f->creds,
        .region = "us-east-1",
        .env = fixture_env,
        .retry = {3, 1, 5},
        .now = fixed_now,
        .observe = observe_cb,
        .observe_ctx = &f->obs,
    };
    struct tad_errinfo ei;
    tad_errinfo_clear(&ei);
    if (tad_aws_new(&ao, &f->aws, &ei) != TAD_OK)
        return -1;
    if (tad_http_new(NULL, &f->h) != TAD_OK)
        return -1;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    tad_http_free(f->h);
    tad_aws_free(f->aws);
    tad_creds_provider_free(f->creds);
    lbs_stop(f->srv);
    free(f);
    return 0;
}

/* Queues a reply: status, extra header lines (each ending in CRLF, may be ""), body. */
static void push(struct fx *f, int status, const char *extra, const char *body)
{
    char head[1024];
    int n = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n", status,
                     strlen(body), extra);
    assert_true(n > 0 && (size_t)n < sizeof(head));
    struct lbs_reply r = {.head = head, .body = body, .body_len = strlen(body)};
    assert_int_equal(lbs_push(f->srv, &r), 0);
}

static void push_json_error(struct fx *f, int status, const char *type, const char *msg)
{
    char body[512];
    int n = snprintf(body, sizeof(body), "{\"__type\":\"%s\",\"message\":\"%s\"}", type, msg);
    assert_true(n > 0 && (size_t)n < sizeof(body));
    push(f, status, "Content-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: rid-1\r\n",
         body);
}

static void assert_header(const struct lbs_request *r, const char *name, const char *want)
{
    assert_non_null(r);
    char *v = lbs_header(r, name);
    if (!want) {
        assert_null(v);
        return;
    }
    if (!v)
        fail_msg("request has no %s header", name);
    assert_string_equal(v, want);
    free(v);
}

/* The access key id in the Authorization header's Credential= of request i. */
static void request_key(struct fx *f, size_t i, char *out, size_t outsz)
{
    char *a = lbs_header(lbs_get(f->srv, i), "Authorization");
    assert_non_null(a);
    const char *c = strstr(a, "Credential=");
    assert_non_null(c);
    c += strlen("Credential=");
    size_t n = strcspn(c, "/");
    assert_true(n < outsz);
    memcpy(out, c, n);
    out[n] = '\0';
    free(a);
}

static tad_err sqs_call(struct fx *f, struct tad_buf *out, struct tad_errinfo *ei)
{
    tad_errinfo_clear(ei);
    return tad_aws_json_call(f->aws, f->h, TAD_AWS_SQS, "AmazonSQS.ReceiveMessage", "1.0",
                             "{\"QueueUrl\":\"q\"}", out, 0, ei);
}

/* A plain S3-style GET through tad_aws_call. */
static tad_err s3_get(struct fx *f, unsigned max_attempts, struct tad_http_sink sink,
                      struct tad_aws_result *res, struct tad_errinfo *ei)
{
    char url[128];
    snprintf(url, sizeof(url), "http://%s/bucket/a%%20b.csv", f->host);
    struct tad_aws_request req = {
        .svc = TAD_AWS_S3,
        .method = "GET",
        .url = url,
        .path = "/bucket/a%20b.csv",
        .host = f->host,
        .sink = sink,
        .max_attempts = max_attempts,
    };
    tad_errinfo_clear(ei);
    return tad_aws_call(f->aws, f->h, &req, res, ei);
}

/* ================================ loopback tests ================================ */

static void client_basics(void **state)
{
    struct fx *f = *state;
    assert_string_equal(tad_aws_region(f->aws), "us-east-1");
    const struct tad_aws_endpoint *ep = tad_aws_endpoint(f->aws, TAD_AWS_SQS);
    assert_string_equal(ep->host, "127.0.0.1");
    assert_int_equal(ep->port, lbs_port(f->srv));
    assert_true(ep->overridden);
    assert_int_equal(tad_aws_clock_offset(f->aws), 0);

    struct tad_aws *a = NULL;
    struct tad_aws_opts bad = {.creds = f->creds, .region = "", .env = fixture_env};
    struct tad_errinfo ei;
    tad_errinfo_clear(&ei);
    assert_int_equal(tad_aws_new(&bad, &a, &ei), TAD_ERR_INVALID);
    assert_null(a);
    bad.region = "us-east-1";
    bad.creds = NULL;
    assert_int_equal(tad_aws_new(&bad, &a, &ei), TAD_ERR_INVALID);
    assert_null(a);
}

static void signed_json_request(void **state)
{
    struct fx *f = *state;
    push(f, 200, "Content-Type: application/x-amz-json-1.0\r\n", "{\"Messages\":[]}");
    struct tad_buf out;
    tad_buf_init(&out, 0);
    struct tad_errinfo ei;
    assert_int_equal(sqs_call(f, &out, &ei), TAD_OK);
    assert_string_equal(out.data, "{\"Messages\":[]}");
    assert_int_equal(lbs_count(f->srv), 1);
    const struct lbs_request *r = lbs_get(f->srv, 0);
    assert_memory_equal(r->raw, "POST / HTTP/1.1\r\n", 17);
    assert_string_equal(r->body, "{\"QueueUrl\":\"q\"}");
    assert_header(r, "Host", f->host);
    assert_header(r, "X-Amz-Date", "20260101T000000Z");
    assert_header(r, "X-Amz-Target", "AmazonSQS.ReceiveMessage");
    assert_header(r, "Content-Type", "application/x-amz-json-1.0");
    assert_header(r, "X-Amz-Security-Token", "session-token");
    assert_header(r, "X-Amz-Content-Sha256", NULL); /* S3 only */
    char *auth = lbs_header(r, "Authorization");
    assert_non_null(auth);
    const char *prefix = "AWS4-HMAC-SHA256 Credential=AKIDTEST1/20260101/us-east-1/sqs/"
                         "aws4_request, SignedHeaders=content-type;host;x-amz-date;"
                         "x-amz-security-token;x-amz-target, Signature=";
    if (strncmp(auth, prefix, strlen(prefix)) != 0)
        fail_msg("Authorization: %s", auth);
    const char *sig = auth + strlen(prefix);
    assert_int_equal(strlen(sig), 64);
    assert_int_equal(strspn(sig, "0123456789abcdef"), 64);
    free(auth);
    /* no secret on the wire */
    assert_null(strstr(r->raw, "secret-key"));

    /* an empty 2xx body becomes "{}" */
    push(f, 200, "", "");
    tad_buf_reset(&out);
    assert_int_equal(sqs_call(f, &out, &ei), TAD_OK);
    assert_string_equal(out.data, "{}");
    assert_int_equal(f->obs.ok, 2);
    tad_buf_release(&out);
}

static void signed_s3_request(void **state)
{
    struct fx *f = *state;
    push(f, 200, "ETag: \"abc\"\r\nx-amz-request-id: S3RID\r\n", "hello");
    struct tad_buf body;
    tad_buf_init(&body, 0);
    struct tad_aws_result res;
    tad_aws_result_init(&res);
    struct tad_errinfo ei;
    struct tad_http_sink sink = {.kind = TAD_HTTP_SINK_BUF, .buf = &body};
    assert_int_equal(s3_get(f, 0, sink, &res, &ei), TAD_OK);
    assert_string_equal(body.data, "hello");
    assert_int_equal(res.status, 200);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(res.body_bytes, 5);
    assert_string_equal(res.etag, "\"abc\"");
    assert_string_equal(res.request_id, "S3RID");
    const struct lbs_request *r = lbs_get(f->srv, 0);
    assert_memory_equal(r->raw, "GET /bucket/a%20b.csv HTTP/1.1\r\n", 32);
    assert_header(r, "Host", f->host);
    assert_header(r, "X-Amz-Date", "20260101T000000Z");
    assert_header(r, "X-Amz-Content-Sha256",
                  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    char *auth = lbs_header(r, "Authorization");
    assert_non_null(auth);
    assert_non_null(strstr(auth, "Credential=AKIDTEST1/20260101/us-east-1/s3/aws4_request, "));
    assert_non_null(
        strstr(auth, "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token"));
    free(auth);
    tad_aws_result_release(&res);

    /* an unsigned-payload PUT */
    char url[128];
    snprintf(url, sizeof(url), "http://%s/bucket/k", f->host);
    struct tad_aws_request req = {
        .svc = TAD_AWS_S3,
        .method = "PUT",
        .url = url,
        .path = "/bucket/k",
        .host = f->host,
        .body = "data",
        .body_len = 4,
        .unsigned_payload = true,
    };
    tad_aws_result_init(&res);
    tad_errinfo_clear(&ei);
    assert_int_equal(tad_aws_call(f->aws, f->h, &req, &res, &ei), TAD_OK);
    r = lbs_get(f->srv, 1);
    assert_non_null(r);
    assert_header(r, "X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD");
    assert_string_equal(r->body, "data");
    tad_aws_result_release(&res);

    /* no_sign: nothing added */
    req.no_sign = true;
    req.unsigned_payload = false;
    tad_aws_result_init(&res);
    assert_int_equal(tad_aws_call(f->aws, f->h, &req, &res, &ei), TAD_OK);
    r = lbs_get(f->srv, 2);
    assert_non_null(r);
    assert_header(r, "Authorization", NULL);
    assert_header(r, "X-Amz-Date", NULL);
    assert_header(r, "X-Amz-Content-Sha256", NULL);
    tad_aws_result_release(&res);
    tad_buf_release(&body);
}

static void retry_503_then_ok(void **state)
{
    struct fx *f = *state;
    push(f, 503, "", "<html>busy</html>");
    push(f, 200, "", "{\"ok\":1}");
    struct tad_buf out;
    tad_buf_init(&out, 0);
    struct tad_errinfo ei;
    assert_int_equal(sqs_call(f, &out, &ei), TAD_OK);
    assert_int_equal(lbs_count(f->srv), 2);
    /* the failed attempt's body never reaches the output */
    assert_string_equal(out.data, "{\"ok\":1}");
    assert_int_equal(f->obs.error, 1);
    assert_int_equal(f->obs.ok, 1);

    /* the same through tad_aws_call: two attempts */
    push(f, 502, "", "");
    push(f, 200, "", "x");
    struct tad_aws_result res;
    tad_aws_result_init(&res);
    struct tad_http_sink sink = {.kind = TAD_HTTP_SINK_DISCARD};
    assert_int_equal(s3_get(f, 0, sink, &res, &ei), TAD_OK);
    assert_int_equal(res.attempts, 2);
    assert_int_equal(res.status, 200);
    assert_int_equal(lbs_count(f->srv), 4);
    tad_aws_result_release(&res);
    tad_buf_release(&out);
}

static void throttling_retried(void **state)
{
    struct fx *f = *state;
    push_json_error(f, 400, "com.amazonaws.sqs#ThrottlingException", "Rate exceeded");
    push_json_error(f, 400, "RequestThrottled", "slow");
    push(f, 200, "", "{}");
    struct tad_buf out;
    tad_buf_init(&out, 0);
    struct tad_errinfo ei;
    assert_int_equal(sqs_call(f, &out, &ei), TAD_OK);
    assert_int_equal(lbs_count(f->srv), 3);
    assert_int_equal(f->obs.throttled, 2);
    tad_buf_release(&out);
}

static void non_retryable_not_retried(void **state)
{
    struct fx *f = *state;
    static const struct {
        int status;
        const char *type;
        tad_err want;
        const char *code;
    } cases[] = {
        {400, "com.amazonaws.sqs#QueueDoesNotExist", TAD_ERR_NOT_FOUND, "QueueDoesNotExist"},
        {400, "com.amazonaws.sqs#InvalidAddress", TAD_ERR_CLIENT, "InvalidAddress"},
        {400, "ValidationError", TAD_ERR_CLIENT, "ValidationError"},
        {403, "AccessDeniedException", TAD_ERR_DENIED, "AccessDeniedException"},
        {400, "com.amazonaws.sqs#KmsAccessDenied", TAD_ERR_DENIED, "KmsAccessDenied"},
    };
    struct tad_buf out;
    tad_buf_init(&out, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t before = lbs_count(f->srv);
        push_json_error(f, cases[i].status, cases[i].type, "nope");
        push(f, 200, "", "{}"); /* would be taken by a wrong retry */
        struct tad_errinfo ei;
        assert_int_equal(sqs_call(f, &out, &ei), cases[i].want);
        assert_int_equal(lbs_count(f->srv), before + 1);
        assert_string_equal(ei.code, cases[i].code);
        assert_string_equal(ei.msg, "nope");
        assert_string_equal(ei.request_id, "rid-1");
        assert_int_equal(ei.http_status, cases[i].status);
        assert_int_equal(out.len, 0);
        /* drain the spare reply */
        assert_int_equal(sqs_call(f, &out, &ei), TAD_OK);
        tad_buf_reset(&out);
    }
    /* the query-error header names the legacy code when the modeled one is unclassified */
    push(f, 400,
         "x-amzn-query-error: AWS.SimpleQueueService.NonExistentQueue;Sender\r\n"
         "x-amzn-RequestId: rid-2\r\n",
         "{\"__type\":\"com.amazonaws.sqs#SomethingElse\"}");
    struct tad_errinfo ei;
    assert_int_equal(sqs_call(f, &out, &ei), TAD_ERR_NOT_FOUND);
    assert_string_equal(ei.code, "AWS.SimpleQueueService.NonExistentQueue");
    assert_string_equal(ei.request_id, "rid-2");
    /* without a message, errinfo still says what happened */
    assert_non_null(strstr(ei.msg, "400"));
    tad_buf_release(&out);
}

static void max_attempts_respected(void **state)
{
    struct fx *f = *state;
    struct tad_buf out;
    tad_buf_init(&out, 0);
    struct tad_errinfo ei;
    for (int i = 0; i < 4; i++)
        push(f, 503, "", "");
    /* policy: 3 attempts */
    assert_int_equal(sqs_call(f, &out, &ei), TAD_ERR_SERVER);
    assert_int_equal(lbs_count(f->srv), 3);
    assert_int_equal(ei.http_status, 503);
    /* the fourth 503 is retried into the server's default 200 */
    assert_int_equal(sqs_call(f, &out, &ei), TAD_OK);
    assert_int_equal(lbs_count(f->srv), 5);

    /* per-request limits override the policy */
    struct tad_http_sink sink = {.kind = TAD_HTTP_SINK_DISCARD};
    static const unsigned limits[] = {1, 2, 5};
    for (size_t i = 0; i < 3; i++) {
        size_t before = lbs_count(f->srv);
        for (unsigned k = 0; k < limits[i]; k++)
            push(f, 500, "", "<Error><Code>InternalError</Code></Error>");
        push(f, 200, "", "late");
        struct tad_aws_result res;
        tad_aws_result_init(&res);
        assert_int_equal(s3_get(f, limits[i], sink, &res, &ei), TAD_ERR_SERVER);
        assert_int_equal(res.attempts, limits[i]);
        assert_int_equal(res.status, 500);
        assert_string_equal(ei.code, "InternalError");
        assert_int_equal(lbs_count(f->srv), before + limits[i]);
        tad_aws_result_release(&res);
        tad_aws_result_init(&res);
        assert_int_equal(s3_get(f, 1, sink, &res, &ei), TAD_OK); /* take "late" */
        tad_aws_result_release(&res);
    }
    tad_buf_release(&out);
}

static void clock_skew_corrected(void **state)
{
    struct fx *f = *state;
    const char *skew = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>RequestTimeTooSkewed"
                       "</Code><Message>The difference between the request time and the current "
                       "time is too large.</Message></Error>";
    push(f, 403, "Date: Thu, 01 Jan 2026 01:00:00 GMT\r\n", skew);
    push(f, 200, "", "body");
    struct tad_buf body;
    tad_buf_init(&body, 0);
    struct tad_aws_result res;
    tad_aws_result_init(&res);
    struct tad_errinfo ei;
    struct tad_http_sink sink = {.kind = TAD_HTTP_SINK_BUF, .buf = &body};
    assert_int_equal(s3_get(f, 1, sink, &res, &ei), TAD_OK);
    assert_string_equal(body.data, "body");
    assert_int_equal(lbs_count(f->srv), 2);
    /* the skew retry is outside the attempt budget (max_attempts 1 here) */
    assert_int_equal(res.attempts, 1);
    assert_int_equal(tad_aws_clock_offset(f->aws), 3600);
    assert_int_equal(f->obs.clock_skew, 1);
    assert_header(lbs_get(f->srv, 0), "X-Amz-Date", "20260101T000000Z");
    assert_header(lbs_get(f->srv, 1), "X-Amz-Date", "20260101T010000Z");
    char *auth = lbs_header(lbs_get(f->srv, 1), "Authorization");
    assert_non_null(auth);
    assert_non_null(strstr(auth, "/20260101/us-east-1/s3/aws4_request"));
    free(auth);
    tad_aws_result_release(&res);

    /* the offset sticks for later calls */
    push(f, 200, "", "");
    tad_aws_result_init(&res);
    assert_int_equal(s3_get(f, 1, sink, &res, &ei), TAD_OK);
    assert_header(lbs_get(f->srv, 2), "X-Amz-Date", "20260101T010000Z");
    tad_aws_result_release(&res);

    /* only one correction per call: a second skew answer is final */
    push(f, 403, "Date: Thu, 01 Jan 2026 02:00:00 GMT\r\n", skew);
    push(f, 403, "Date: Thu, 01 Jan 2026 03:00:00 GMT\r\n", skew);
    push(f, 200, "", "spare");
    tad_aws_result_init(&res);
    assert_int_equal(s3_get(f, 3, sink, &res, &ei), TAD_ERR_AUTH);
    assert_string_equal(ei.code, "RequestTimeTooSkewed");
    assert_int_equal(lbs_count(f->srv), 5);
    assert_int_equal(tad_aws_clock_offset(f->aws), 7200);
    assert_header(lbs_get(f->srv, 4), "X-Amz-Date", "20260101T020000Z");
    tad_aws_result_release(&res);
    tad_aws_result_init(&res);
    assert_int_equal(s3_get(f, 1, sink, &res, &ei), TAD_OK); /* take "spare" */
    assert_int_equal(lbs_count(f->srv), 6);
    tad_aws_result_release(&res);

    /* a skew answer without a usable Date header is not retried */
    push(f, 403, "", skew);
    tad_aws_result_init(&res);
    assert_int_equal(s3_get(f, 3, sink, &res, &ei), TAD_ERR_AUTH);
    assert_int_equal(lbs_count(f->srv), 7);
    assert_int_equal(tad_aws_clock_offset(f->aws), 7200);
    tad_aws_result_release(&res);

    /* JSON "Signature expired" with a Date header behind us: negative offset */
    push(f, 400, "Date: Wed, 31 Dec 2025 23:50:00 GMT\r\n",
         "{\"__type\":\"InvalidSignatureException\",\"message\":\"Signature expired: "
         "20260101T020000Z is now later than 20260101T000500Z\"}");
    push(f, 200, "", "{}");
    struct tad_buf out;
    tad_buf_init(&out, 0);
    assert_int_equal(sqs_call(f, &out, &ei), TAD_OK);
    assert_int_equal(tad_aws_clock_offset(f->aws), -600);
    assert_header(lbs_get(f->srv, 8), "X-Amz-Date", "20251231T235000Z");
    assert_int_equal(lbs_count(f->srv), 9);
    tad_buf_release(&out);
    tad_buf_release(&body);
}

static void expired_token_refreshed(void **state)
{
    struct fx *f = *state;
    push_json_error(f, 400, "com.amazon.coral.service#ExpiredTokenException",
                    "The security token included in the request is expired");
    push(f, 200, "", "{\"ok\":true}");
    struct tad_buf out;
    tad_buf_init(&out, 0);
    struct tad_errinfo ei;
    assert_int_equal(sqs_call(f, &out, &ei), TAD_OK);
    assert_string_equal(out.data, "{\"ok\":true}");
    assert_int_equal(lbs_count(f->srv), 2);
    assert_int_equal(atomic_load(&f->src.calls), 2);
    assert_int_equal(f->obs.expired, 1);
    char k0[32], k1[32];
    request_key(f, 0, k0, sizeof(k0));
    request_key(f, 1, k1, sizeof(k1));
    assert_string_equal(k0, "AKIDTEST1");
    assert_string_equal(k1, "AKIDTEST2");

    /* later calls reuse the fresh credentials */
    push(f, 200, "", "{}");
    tad_buf_reset(&out);
    assert_int_equal(sqs_call(f, &out, &ei), TAD_OK);
    assert_int_equal(atomic_load(&f->src.calls), 2);

    /* refreshed once per call: a second expiry answer is final */
    push_json_error(f, 400, "ExpiredTokenException", "expired");
    push_json_error(f, 400, "ExpiredTokenException", "expired");
    push(f, 200, "", "{}");
    tad_buf_reset(&out);
    assert_int_equal(sqs_call(f, &out, &ei), TAD_ERR_AUTH);
    assert_string_equal(ei.code, "ExpiredTokenException");
    assert_int_equal(lbs_count(f->srv), 5);
    assert_int_equal(atomic_load(&f->src.calls), 3);
    tad_buf_release(&out);
}

static void retry_quota_drains(void **state)
{
    struct fx *f = *state;
    struct tad_http_sink sink = {.kind = TAD_HTTP_SINK_DISCARD};
    struct tad_errinfo ei;
    /* 500 tokens, 5 per retry: 50 calls of 3 attempts (2 retries) empty the bucket */
    for (int call = 0; call < 50; call++) {
        for (int k = 0; k < 3; k++)
            push(f, 503, "", "");
        struct tad_aws_result res;
        tad_aws_result_init(&res);
        assert_int_equal(s3_get(f, 3, sink, &res, &ei), TAD_ERR_SERVER);
        if (res.attempts != 3)
            fail_msg("call %d: %u attempts", call, res.attempts);
        tad_aws_result_release(&res);
    }
    assert_int_equal(lbs_count(f->srv), 150);
    /* now no retry at all */
    push(f, 503, "", "");
    push(f, 200, "", "");
    struct tad_aws_result res;
    tad_aws_result_init(&res);
    assert_int_equal(s3_get(f, 3, sink, &res, &ei), TAD_ERR_SERVER);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(lbs_count(f->srv), 151);
    tad_aws_result_release(&res);
    /* a first-try success refunds one token: still not enough for a retry */
    tad_aws_result_init(&res);
    assert_int_equal(s3_get(f, 3, sink, &res, &ei), TAD_OK);
    tad_aws_result_release(&res);
    push(f, 503, "", "");
    push(f, 200, "", "");
    tad_aws_result_init(&res);
    assert_int_equal(s3_get(f, 3, sink, &res, &ei), TAD_ERR_SERVER);
    assert_int_equal(res.attempts, 1);
    tad_aws_result_release(&res);
}

struct collector {
    struct tad_buf got;
    unsigned calls;
};

static tad_err collect(void *ctx, const char *data, size_t len)
{
    struct collector *c = ctx;
    c->calls++;
    return tad_buf_append(&c->got, data, len);
}

static void error_bodies_skip_callback(void **state)
{
    struct fx *f = *state;
    struct collector c = {.calls = 0};
    tad_buf_init(&c.got, 0);
    struct tad_http_sink sink = {.kind = TAD_HTTP_SINK_CALLBACK, .write = collect, .ctx = &c};
    struct tad_errinfo ei;
    struct tad_aws_result res;

    push(f, 404, "x-amz-request-id: NK1\r\nContent-Type: application/xml\r\n",
         "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>"
         "</Error>");
    tad_aws_result_init(&res);
    assert_int_equal(s3_get(f, 0, sink, &res, &ei), TAD_ERR_NOT_FOUND);
    assert_int_equal(c.calls, 0);
    assert_int_equal(c.got.len, 0);
    assert_int_equal(res.body_bytes, 0);
    assert_string_equal(ei.code, "NoSuchKey");
    assert_string_equal(ei.msg, "The specified key does not exist.");
    assert_string_equal(ei.request_id, "NK1");
    assert_int_equal(ei.http_status, 404);
    assert_int_equal(res.attempts, 1);
    tad_aws_result_release(&res);

    /* a retried 500: only the successful body reaches the callback */
    push(f, 500, "", "<Error><Code>InternalError</Code><Message>oops</Message></Error>");
    push(f, 200, "", "payload-bytes");
    tad_aws_result_init(&res);
    assert_int_equal(s3_get(f, 0, sink, &res, &ei), TAD_OK);
    assert_int_equal(res.attempts, 2);
    assert_int_equal(c.got.len, strlen("payload-bytes"));
    assert_memory_equal(c.got.data, "payload-bytes", c.got.len);
    assert_int_equal(res.body_bytes, strlen("payload-bytes"));
    tad_aws_result_release(&res);

    /* 304 is not an error and delivers nothing */
    push(f, 304, "ETag: \"e\"\r\n", "");
    tad_buf_reset(&c.got);
    tad_aws_result_init(&res);
    assert_int_equal(s3_get(f, 0, sink, &res, &ei), TAD_OK);
    assert_int_equal(res.status, 304);
    assert_int_equal(c.got.len, 0);
    tad_aws_result_release(&res);
    tad_buf_release(&c.got);
}

static int group_setup(void **state)
{
    (void)state;
    return tad_http_global_init() == TAD_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    tad_http_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classify_codes),
        cmocka_unit_test(classify_status),
        cmocka_unit_test(skew_and_expiry_codes),
        cmocka_unit_test(parse_errors),
        cmocka_unit_test(xml_text),
        cmocka_unit_test_setup_teardown(client_basics, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(signed_json_request, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(signed_s3_request, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(retry_503_then_ok, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(throttling_retried, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(non_retryable_not_retried, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(max_attempts_respected, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(clock_skew_corrected, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(expired_token_refreshed, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(retry_quota_drains, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(error_bodies_skip_callback, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
