/* t_event.c - unit tests for the SQS body parser: every accepted format (sample events from
 * tests/data/events/ and inline cases), key decoding, and every rejection.
 * Inline JSON is written with ' for " to stay readable; j() swaps them back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tad/event.h"

#define DATA_DIR "tests/data/events/"

/* Copies s into a new string with every ' replaced by ". */
static char *j(const char *s)
{
    char *out = strdup(s);
    assert_non_null(out);
    for (char *p = out; *p; p++)
        if (*p == '\'')
            *p = '"';
    return out;
}

static char *read_data(const char *name, size_t *len)
{
    char path[256];
    assert_true(snprintf(path, sizeof(path), DATA_DIR "%s", name) < (int)sizeof(path));
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (run from the repository root)", path);
    char *buf = malloc(65536);
    assert_non_null(buf);
    *len = fread(buf, 1, 65535, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static void null_or_equal(const char *got, const char *want)
{
    if (!want)
        assert_null(got);
    else
        assert_string_equal(got, want);
}

static void sample_s3_notification(void **state)
{
    (void)state;
    size_t len;
    char *body = read_data("s3-put.json", &len);
    struct tad_event_result r;
    struct tad_errinfo info;
    tad_errinfo_clear(&info);
    assert_int_equal(tad_event_parse(body, len, &r, &info), TAD_OK);
    assert_int_equal(r.kind, TAD_EVENT_JOBS);
    assert_string_equal(r.source_format, "s3");
    assert_int_equal(r.n_jobs, 1);
    assert_int_equal(r.n_ignored, 0);
    const struct tad_event_job *jb = &r.jobs[0];
    assert_string_equal(jb->bucket, "mybucket");
    assert_string_equal(jb->key, "tiktok/Summer Buyers/EMAIL_SHA256/part+1@x.csv");
    assert_int_equal(jb->key_len, strlen(jb->key));
    assert_false(jb->key_maybe_encoded);
    assert_int_equal(jb->size, 1024);
    assert_string_equal(jb->etag, "d41d8cd98f00b204e9800998ecf8427e");
    assert_string_equal(jb->version_id, "096fKKXTRTtl3on89fVO.nfljtsv6qko");
    assert_string_equal(jb->sequencer, "0055AED6DCD90281E5");
    assert_string_equal(jb->event_time, "1970-01-01T00:00:00.000Z");
    assert_string_equal(jb->event_name, "ObjectCreated:Put");
    assert_string_equal(jb->region, "us-west-2");
    assert_string_equal(jb->source_format, "s3");
    tad_event_result_release(&r);
    assert_null(r.jobs);
    assert_int_equal(r.n_jobs, 0);
    tad_event_result_release(&r); /* twice is harmless */
    tad_event_result_release(NULL);
    free(body);
}

static void sample_eventbridge(void **state)
{
    (void)state;
    size_t len;
    char *body = read_data("eventbridge-created.json", &len);
    struct tad_event_result r;
    assert_int_equal(tad_event_parse(body, len, &r, NULL), TAD_OK);
    assert_int_equal(r.kind, TAD_EVENT_JOBS);
    assert_string_equal(r.source_format, "eventbridge");
    assert_int_equal(r.n_jobs, 1);
    const struct tad_event_job *jb = &r.jobs[0];
    assert_string_equal(jb->bucket, "DOC-EXAMPLE-BUCKET1");
    /* taken as it is, flagged because of the '+' */
    assert_string_equal(jb->key, "tiktok/Summer Buyers/PHONE/replace/a+b.csv");
    assert_true(jb->key_maybe_encoded);
    assert_int_equal(jb->size, 5);
    assert_string_equal(jb->etag, "b1946ac92492d2347c6235b4d2611184");
    assert_string_equal(jb->version_id, "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e");
    assert_string_equal(jb->sequencer, "617f08299329d189");
    assert_string_equal(jb->event_time, "2021-11-12T00:00:00Z");
    assert_string_equal(jb->event_name, "PutObject");
    assert_string_equal(jb->region, "ca-central-1");
    assert_string_equal(jb->source_format, "eventbridge");
    tad_event_result_release(&r);
    free(body);
}

static void sample_sns_and_test_event(void **state)
{
    (void)state;
    size_t len;
    char *body = read_data("sns-s3.json", &len);
    struct tad_event_result r;
    assert_int_equal(tad_event_parse(body, len, &r, NULL), TAD_OK);
    assert_int_equal(r.kind, TAD_EVENT_JOBS);
    assert_string_equal(r.source_format, "sns+s3");
    assert_int_equal(r.n_jobs, 1);
    assert_string_equal(r.jobs[0].key, "tiktok/id:7123456789/MAID_SHA256/f.csv.gz");
    assert_int_equal(r.jobs[0].size, 2048);
    assert_null(r.jobs[0].version_id);
    assert_string_equal(r.jobs[0].event_name, "ObjectCreated:CompleteMultipartUpload");
    assert_string_equal(r.jobs[0].source_format, "sns+s3");
    tad_event_result_release(&r);
    free(body);

    body = read_data("s3-test-event.json", &len);
    assert_int_equal(tad_event_parse(body, len, &r, NULL), TAD_OK);
    assert_int_equal(r.kind, TAD_EVENT_TEST);
    assert_string_equal(r.source_format, "s3-test");
    assert_int_equal(r.n_jobs, 0);
    assert_null(r.jobs);
    tad_event_result_release(&r);
    free(body);

    body = read_data("s3-mixed.json", &len);
    assert_int_equal(tad_event_parse(body, len, &r, NULL), TAD_OK);
    assert_int_equal(r.kind, TAD_EVENT_JOBS);
    assert_int_equal(r.n_jobs, 1);
    assert_int_equal(r.n_ignored, 1);
    assert_string_equal(r.ignored_what, "ObjectRemoved:Delete");
    assert_string_equal(r.jobs[0].key, "tiktok/a/EMAIL/new.csv");
    assert_int_equal(r.jobs[0].size, 0);
    assert_string_equal(r.jobs[0].etag, "d41d8cd98f00b204e9800998ecf8427e"); /* unquoted */
    tad_event_result_release(&r);
    free(body);
}

/* ---- inline accepted cases ---- */

#define REC(name, key, extra)                                                                      \
    "{'eventVersion':'2.1','eventSource':'aws:s3','eventName':'" name "','s3':{'bucket':{'name':"  \
    "'bkt'},'object':{'key':'" key "'" extra "}}}"
#define EB(dtype, key, extra)                                                                      \
    "{'source':'aws.s3','detail-type':'" dtype "','detail':{'bucket':{'name':'bkt'},'object':{"    \
    "'key':'" key "'" extra "}}}"

struct ok_case {
    const char *body;
    enum tad_event_kind kind;
    const char *src;
    size_t n_jobs;
    size_t n_ignored;
    const char *key0; /* first job's key */
    bool maybe_encoded0;
    int64_t size0;
    const char *etag0;
    const char *last_key; /* last job's key, NULL = same check skipped */
};

static const struct ok_case ok_cases[] = {
    /* S3 notification keys are form-decoded */
    {"{'Records':[" REC("ObjectCreated:Put", "tiktok/a+b/EMAIL/x%2By%20z%2Fw%40.csv", "") "]}",
     TAD_EVENT_JOBS, "s3", 1, 0, "tiktok/a b/EMAIL/x+y z/w@.csv", false, -1, NULL, NULL},
    {"{'Records':[" REC("ObjectCreated:Post", "tiktok/K%C3%A4ufer/EMAIL/f", ",'size':0") "]}",
     TAD_EVENT_JOBS, "s3", 1, 0, "tiktok/K\xc3\xa4ufer/EMAIL/f", false, 0, NULL, NULL},
    {"{'Records':[" REC("ObjectCreated:Put", "a%2b%2B", "") "]}", TAD_EVENT_JOBS, "s3", 1, 0, "a++",
     false, -1, NULL, NULL},
    /* several records give several jobs, in order; others are counted as ignored */
    {"{'Records':[" REC("ObjectCreated:Put", "k1", ",'size':1") "," REC(
         "ObjectRemoved:Delete", "k2", "") "," REC("ObjectCreated:Copy", "k3",
                                                   ",'size':5368709120000") "]}",
     TAD_EVENT_JOBS, "s3", 2, 1, "k1", false, 1, NULL, "k3"},
    {"{'Records':[" REC("ObjectRemoved:DeleteMarkerCreated", "k",
                        "") "," REC("ObjectRestore:Completed", "k", "") "]}",
     TAD_EVENT_IGNORABLE, "s3", 0, 2, NULL, false, 0, NULL, NULL},
    {"{'Records':[" REC("ObjectCreated", "k", "") "]}", TAD_EVENT_IGNORABLE, "s3", 0, 1, NULL,
     false, 0, NULL, NULL},
    /* eTag quotes stripped; null optional members are absent */
    {"{'Records':[" REC("ObjectCreated:Put", "k",
                        ",'eTag':'\\'abc\\'','size':null,'versionId':null") "]}",
     TAD_EVENT_JOBS, "s3", 1, 0, "k", false, -1, "abc", NULL},
    /* eventVersion: major 2, any minor; absent is fine */
    {"{'Records':[{'eventVersion':'2.10','eventSource':'aws:s3','eventName':'ObjectCreated:Put',"
     "'s3':{'bucket':{'name':'b'},'object':{'key':'k'}}}]}",
     TAD_EVENT_JOBS, "s3", 1, 0, "k", false, -1, NULL, NULL},
    {"{'Records':[{'eventSource':'aws:s3','eventName':'ObjectCreated:Put',"
     "'s3':{'bucket':{'name':'b'},'object':{'key':'k'}},'unknown':[1,2]}]}",
     TAD_EVENT_JOBS, "s3", 1, 0, "k", false, -1, NULL, NULL},
    /* EventBridge: as-is, flagged when it might be encoded */
    {EB("Object Created", "tiktok/a b/EMAIL/f.csv", ",'size':7"), TAD_EVENT_JOBS, "eventbridge", 1,
     0, "tiktok/a b/EMAIL/f.csv", false, 7, NULL, NULL},
    {EB("Object Created", "tiktok/a%20b/EMAIL/f.csv", ""), TAD_EVENT_JOBS, "eventbridge", 1, 0,
     "tiktok/a%20b/EMAIL/f.csv", true, -1, NULL, NULL},
    {EB("Object Created", "100%/x%zz/y%4", ""), TAD_EVENT_JOBS, "eventbridge", 1, 0,
     "100%/x%zz/y%4", false, -1, NULL, NULL},
    {EB("Object Created", "k", ",'etag':'\\'e\\''"), TAD_EVENT_JOBS, "eventbridge", 1, 0, "k",
     false, -1, "e", NULL},
    /* other aws.s3 object events are ignorable */
    {EB("Object Deleted", "k", ""), TAD_EVENT_IGNORABLE, "eventbridge", 0, 1, NULL, false, 0, NULL,
     NULL},
    {"{'source':'aws.s3','detail-type':'Object Restore Completed'}", TAD_EVENT_IGNORABLE,
     "eventbridge", 0, 1, NULL, false, 0, NULL, NULL},
    /* SNS envelopes */
    {"{'Type':'Notification','Message':'{\\'Records\\':[{\\'eventSource\\':\\'aws:s3\\',"
     "\\'eventName\\':\\'ObjectCreated:Put\\',\\'s3\\':{\\'bucket\\':{\\'name\\':\\'b\\'},"
     "\\'object\\':{\\'key\\':\\'a+b\\'}}}]}'}",
     TAD_EVENT_JOBS, "sns+s3", 1, 0, "a b", false, -1, NULL, NULL},
    {"{'Type':'Notification','Message':'{\\'source\\':\\'aws.s3\\',\\'detail-type\\':\\'Object "
     "Created\\',\\'detail\\':{\\'bucket\\':{\\'name\\':\\'b\\'},\\'object\\':{\\'key\\':\\'a+b\\'"
     "}}}'}",
     TAD_EVENT_JOBS, "sns+eventbridge", 1, 0, "a+b", true, -1, NULL, NULL},
    {"{'Type':'Notification','Subject':'Amazon S3 Notification','Message':'{\\'Service\\':"
     "\\'Amazon S3\\',\\'Event\\':\\'s3:TestEvent\\'}'}",
     TAD_EVENT_TEST, "sns+s3-test", 0, 0, NULL, false, 0, NULL, NULL},
    {"{'Type':'Notification','Message':'{\\'Records\\':[{\\'eventSource\\':\\'aws:s3\\',"
     "\\'eventName\\':\\'ObjectRemoved:Delete\\'}]}'}",
     TAD_EVENT_IGNORABLE, "sns+s3", 0, 1, NULL, false, 0, NULL, NULL},
    {"{'Event':'s3:TestEvent'}", TAD_EVENT_TEST, "s3-test", 0, 0, NULL, false, 0, NULL, NULL},
    {"  {'Event':'s3:TestEvent'}\n", TAD_EVENT_TEST, "s3-test", 0, 0, NULL, false, 0, NULL, NULL},
};

static void accepted_inline_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
        const struct ok_case *c = &ok_cases[i];
        char *body = j(c->body);
        struct tad_event_result r;
        struct tad_errinfo info;
        tad_errinfo_clear(&info);
        tad_err err = tad_event_parse(body, strlen(body), &r, &info);
        if (err != TAD_OK)
            fail_msg("case %zu: %s (%s)", i, tad_err_str(err), info.msg);
        if (r.kind != c->kind)
            fail_msg("case %zu: kind %d", i, r.kind);
        assert_string_equal(r.source_format, c->src);
        assert_int_equal(r.n_jobs, c->n_jobs);
        assert_int_equal(r.n_ignored, c->n_ignored);
        if (c->n_ignored == 0)
            assert_string_equal(r.ignored_what, "");
        else
            assert_true(r.ignored_what[0] != '\0');
        if (c->n_jobs) {
            const struct tad_event_job *jb = &r.jobs[0];
            assert_string_equal(jb->key, c->key0);
            assert_int_equal(jb->key_len, strlen(c->key0));
            assert_int_equal(jb->key_maybe_encoded, c->maybe_encoded0);
            assert_int_equal(jb->size, c->size0);
            null_or_equal(jb->etag, c->etag0);
            assert_non_null(jb->bucket);
            assert_string_equal(jb->source_format, c->src);
            if (c->last_key)
                assert_string_equal(r.jobs[r.n_jobs - 1].key, c->last_key);
        } else {
            assert_null(r.jobs);
        }
        tad_event_result_release(&r);
        free(body);
    }
}

/* ---- rejections ---- */

struct bad_case {
    const char *body;
    tad_err err;
    const char *msg;
};

static const struct bad_case bad_cases[] = {
    {"not json", TAD_ERR_PARSE, "message body is not valid JSON"},
    {"", TAD_ERR_PARSE, "not valid JSON"},
    {"{'Records':[]", TAD_ERR_PARSE, "not valid JSON"},
    {"[]", TAD_ERR_PARSE, "message body is not a JSON object"},
    {"'Records'", TAD_ERR_PARSE, "message body is not a JSON object"},
    {"null", TAD_ERR_PARSE, "message body is not a JSON object"},
    {"{'a':1,'a':2}", TAD_ERR_PARSE, "not valid JSON"},
    {"{'foo':1}", TAD_ERR_INVALID, "is not an S3 event notification, EventBridge event"},
    /* S3 notification shape */
    {"{'Records':{}}", TAD_ERR_PARSE, "Records is not an array"},
    {"{'Records':[]}", TAD_ERR_PARSE, "Records is empty"},
    {"{'Records':[1]}", TAD_ERR_PARSE, "record 0 is not an object"},
    {"{'Records':[{'eventName':'ObjectCreated:Put'}]}", TAD_ERR_PARSE,
     "record 0 has no eventSource"},
    {"{'Records':[{'eventSource':'aws:sqs','eventName':'ObjectCreated:Put'}]}", TAD_ERR_INVALID,
     "record 0: eventSource 'aws:sqs' is not aws:s3"},
    {"{'Records':[{'eventSource':'aws:s3','eventVersion':'1.0','eventName':'ObjectCreated:Put'}]}",
     TAD_ERR_INVALID, "unsupported eventVersion '1.0'"},
    {"{'Records':[{'eventSource':'aws:s3','eventVersion':'20.1','eventName':'ObjectCreated:Put'}]}",
     TAD_ERR_INVALID, "unsupported eventVersion"},
    {"{'Records':[{'eventSource':'aws:s3','eventVersion':2,'eventName':'ObjectCreated:Put'}]}",
     TAD_ERR_INVALID, "unsupported eventVersion"},
    {"{'Records':[{'eventSource':'aws:s3'}]}", TAD_ERR_PARSE, "record 0 has no eventName"},
    {"{'Records':[{'eventSource':'aws:s3','eventName':'ObjectCreated:Put'}]}", TAD_ERR_PARSE,
     "record has no s3 object"},
    {"{'Records':[{'eventSource':'aws:s3','eventName':'ObjectCreated:Put','s3':{}}]}",
     TAD_ERR_PARSE, "s3.bucket is missing"},
    {"{'Records':[{'eventSource':'aws:s3','eventName':'ObjectCreated:Put','s3':{'bucket':{}}}]}",
     TAD_ERR_PARSE, "s3.bucket.name is missing"},
    {"{'Records':[{'eventSource':'aws:s3','eventName':'ObjectCreated:Put','s3':{'bucket':{'name':"
     "'b'}}}]}",
     TAD_ERR_PARSE, "s3.object is missing"},
    {"{'Records':[" REC("ObjectCreated:Put", "k", "") "," REC("ObjectCreated:Put", "a%zz", "") "]}",
     TAD_ERR_INVALID, "bad percent-encoding"},
    {"{'Records':[" REC("ObjectCreated:Put", "abc%4", "") "]}", TAD_ERR_INVALID,
     "bad percent-encoding at byte 3"},
    {"{'Records':[" REC("ObjectCreated:Put", "abc%", "") "]}", TAD_ERR_INVALID,
     "bad percent-encoding"},
    {"{'Records':[" REC("ObjectCreated:Put", "a%00b", "") "]}", TAD_ERR_INVALID,
     "object key holds a NUL byte"},
    {"{'Records':[" REC("ObjectCreated:Put", "a\\u0000b", "") "]}", TAD_ERR_INVALID,
     "object key holds a NUL byte"},
    {"{'Records':[" REC("ObjectCreated:Put", "", "") "]}", TAD_ERR_INVALID,
     "s3.object.key is empty"},
    {"{'Records':[" REC("ObjectCreated:Put", "k", ",'size':'5'") "]}", TAD_ERR_PARSE,
     "object size is not a non-negative integer"},
    {"{'Records':[" REC("ObjectCreated:Put", "k", ",'size':-1") "]}", TAD_ERR_PARSE, "object size"},
    {"{'Records':[" REC("ObjectCreated:Put", "k", ",'size':1.5") "]}", TAD_ERR_PARSE,
     "object size"},
    {"{'Records':[" REC("ObjectCreated:Put", "k", ",'eTag':5") "]}", TAD_ERR_PARSE,
     "s3.object.eTag is not a string"},
    {"{'Records':[" REC("ObjectCreated:Put", "k", ",'versionId':'a\\u0000'") "]}", TAD_ERR_INVALID,
     "s3.object.versionId holds a NUL byte"},
    {"{'Records':[{'eventSource':'aws:s3','eventName':'ObjectCreated:Put','s3':{'bucket':{'name':"
     "'b'},'object':{'key':7}}}]}",
     TAD_ERR_PARSE, "s3.object.key is not a string"},
    {"{'Records':[{'eventSource':'aws:s3','eventName':'ObjectCreated:Put','s3':{'bucket':{'name':"
     "'bad/bucket'},'object':{'key':'k'}}}]}",
     TAD_ERR_INVALID, "bucket name holds a character"},
    {"{'Records':[{'eventSource':'aws:s3','eventName':'ObjectCreated:Put','s3':{'bucket':{'name':"
     "''},'object':{'key':'k'}}}]}",
     TAD_ERR_INVALID, "s3.bucket.name is empty"},
    /* EventBridge */
    {"{'source':'aws.ec2','detail-type':'Object Created'}", TAD_ERR_INVALID,
     "EventBridge source 'aws.ec2' is not aws.s3"},
    {"{'detail-type':'Object Created'}", TAD_ERR_PARSE, "EventBridge source is missing"},
    {"{'source':'aws.s3'}", TAD_ERR_PARSE, "EventBridge detail-type is missing"},
    {"{'source':'aws.s3','detail-type':'AWS API Call via CloudTrail'}", TAD_ERR_INVALID,
     "unsupported EventBridge detail-type 'AWS API Call via CloudTrail'"},
    {"{'source':'aws.s3','detail-type':'Object Created'}", TAD_ERR_PARSE,
     "EventBridge event has no detail object"},
    {"{'source':'aws.s3','detail-type':'Object Created','detail':{'object':{'key':'k'}}}",
     TAD_ERR_PARSE, "detail.bucket is missing"},
    {"{'source':'aws.s3','detail-type':'Object Created','detail':{'bucket':{'name':'b'}}}",
     TAD_ERR_PARSE, "detail.object is missing"},
    {"{'source':'aws.s3','detail-type':'Object Created','detail':{'bucket':{'name':'b'},"
     "'object':{}}}",
     TAD_ERR_PARSE, "detail.object.key is missing"},
    {EB("Object Created", "a\\u0000", ""), TAD_ERR_INVALID, "object key holds a NUL byte"},
    {EB("Object Created", "k", ",'size':true"), TAD_ERR_PARSE, "object size"},
    {EB("Object Created", "k", ",'version-id':[]"), TAD_ERR_PARSE,
     "detail.object.version-id is not a string"},
    /* SNS */
    {"{'Type':'SubscriptionConfirmation','Message':'x'}", TAD_ERR_INVALID,
     "SNS message of Type 'SubscriptionConfirmation' is not handled"},
    {"{'Type':5}", TAD_ERR_PARSE, "SNS Type is not a string"},
    {"{'Type':'Notification'}", TAD_ERR_PARSE, "SNS notification has no Message"},
    {"{'Type':'Notification','Message':{'Records':[]}}", TAD_ERR_PARSE,
     "SNS Message is not a string"},
    {"{'Type':'Notification','Message':'hello'}", TAD_ERR_PARSE, "SNS Message is not valid JSON"},
    {"{'Type':'Notification','Message':'[1]'}", TAD_ERR_PARSE, "SNS Message is not a JSON object"},
    {"{'Type':'Notification','Message':'{}'}", TAD_ERR_INVALID,
     "SNS Message is not an S3 event notification"},
    {"{'Type':'Notification','Message':'{\\'Type\\':\\'Notification\\',\\'Message\\':\\'{}\\'}'}",
     TAD_ERR_INVALID, "SNS envelope nested in an SNS Message"},
    {"{'Type':'Notification','Message':'{\\'Records\\':[{\\'eventSource\\':\\'aws:s3\\',"
     "\\'eventName\\':\\'ObjectCreated:Put\\',\\'s3\\':{\\'bucket\\':{\\'name\\':\\'b\\'},"
     "\\'object\\':{\\'key\\':\\'%\\'}}}]}'}",
     TAD_ERR_INVALID, "bad percent-encoding"},
    /* test event look-alikes */
    {"{'Event':'s3:ObjectCreated:Put'}", TAD_ERR_INVALID, "unsupported S3 Event"},
    {"{'Event':1}", TAD_ERR_PARSE, "Event is not a string"},
};

static void rejections(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        char *body = j(c->body);
        struct tad_event_result r;
        memset(&r, 0xa5, sizeof(r));
        struct tad_errinfo info;
        tad_errinfo_clear(&info);
        tad_err err = tad_event_parse(body, strlen(body), &r, &info);
        if (err != c->err)
            fail_msg("case %zu: expected %s, got %s (%s)", i, tad_err_str(c->err), tad_err_str(err),
                     info.msg);
        if (!strstr(info.msg, c->msg))
            fail_msg("case %zu: message '%s' lacks '%s'", i, info.msg, c->msg);
        /* the result is untouched on failure */
        unsigned char *p = (unsigned char *)&r;
        for (size_t k = 0; k < sizeof(r); k++)
            assert_int_equal(p[k], 0xa5);
        free(body);
    }
}

#define EB_PRE                                                                                     \
    "{\"source\":\"aws.s3\",\"detail-type\":\"Object Created\",\"detail\":{\"bucket\":{\"name\":"  \
    "\"b\"},\"object\":{\"key\":\""
#define EB_POST "\"}}}"
#define S3_PRE                                                                                     \
    "{\"Records\":[{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\",\"s3\":{"       \
    "\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\""
#define S3_POST "\"}}}]}"

static void body_and_key_limits(void **state)
{
    (void)state;
    struct tad_event_result r;
    struct tad_errinfo info;
    /* a body of exactly 256 KiB is parsed; one byte more is refused before parsing */
    size_t max = TAD_EVENT_BODY_MAX;
    char *big = malloc(max + 2);
    assert_non_null(big);
    static const char test_event[] = "{\"Event\":\"s3:TestEvent\"}";
    memset(big, ' ', max + 1);
    memcpy(big, test_event, sizeof(test_event) - 1);
    big[max + 1] = '\0';
    assert_int_equal(tad_event_parse(big, max, &r, NULL), TAD_OK);
    assert_int_equal(r.kind, TAD_EVENT_TEST);
    tad_event_result_release(&r);
    tad_errinfo_clear(&info);
    assert_int_equal(tad_event_parse(big, max + 1, &r, &info), TAD_ERR_INVALID);
    assert_non_null(strstr(info.msg, "262145 bytes"));
    free(big);

    /* keys: 1024 bytes after decoding are fine, 1025 are not (both formats) */
    char key[3200];
    char body[4096];
    memset(key, 'k', 1024);
    key[1024] = '\0';
    assert_true(snprintf(body, sizeof(body), "%s%s%s", EB_PRE, key, EB_POST) < (int)sizeof(body));
    assert_int_equal(tad_event_parse(body, strlen(body), &r, NULL), TAD_OK);
    assert_int_equal(r.jobs[0].key_len, 1024);
    tad_event_result_release(&r);
    key[1024] = 'k';
    key[1025] = '\0';
    assert_true(snprintf(body, sizeof(body), "%s%s%s", EB_PRE, key, EB_POST) < (int)sizeof(body));
    tad_errinfo_clear(&info);
    assert_int_equal(tad_event_parse(body, strlen(body), &r, &info), TAD_ERR_INVALID);
    assert_non_null(strstr(info.msg, "1025 bytes"));

    /* 1024 encoded bytes %41 -> 1024 decoded bytes: fine even though 3072 bytes on the wire */
    for (int i = 0; i < 1024; i++)
        memcpy(key + 3 * i, "%41", 3);
    key[3072] = '\0';
    assert_true(snprintf(body, sizeof(body), "%s%s%s", S3_PRE, key, S3_POST) < (int)sizeof(body));
    assert_int_equal(tad_event_parse(body, strlen(body), &r, NULL), TAD_OK);
    assert_int_equal(r.jobs[0].key_len, 1024);
    assert_int_equal(r.jobs[0].key[1023], 'A');
    tad_event_result_release(&r);
    memcpy(key + 3072, "+", 2);
    assert_true(snprintf(body, sizeof(body), "%s%s%s", S3_PRE, key, S3_POST) < (int)sizeof(body));
    assert_int_equal(tad_event_parse(body, strlen(body), &r, NULL), TAD_ERR_INVALID);

    /* a NUL byte in the body itself */
    static const char nul_body[] = "{\"Event\":\"s3:TestEvent\"}\0junk";
    assert_int_equal(tad_event_parse(nul_body, sizeof(nul_body) - 1, &r, NULL), TAD_ERR_PARSE);
    /* missing arguments */
    assert_int_equal(tad_event_parse(NULL, 0, &r, NULL), TAD_ERR_INVALID);
    assert_int_equal(tad_event_parse("{}", 2, NULL, NULL), TAD_ERR_INVALID);
    /* the length bounds the body */
    assert_int_equal(tad_event_parse(test_event, sizeof(test_event) - 2, &r, NULL), TAD_ERR_PARSE);
}

struct decode_case {
    const char *in;
    const char *out; /* NULL = rejected */
};

static const struct decode_case decode_cases[] = {
    {"", ""},
    {"plain/key.csv", "plain/key.csv"},
    {"red+flower.jpg", "red flower.jpg"},
    {"a%2Bb", "a+b"},
    {"a%2bb", "a+b"},
    {"%40%2F%2f%25", "@//%"},
    {"%E2%82%AC", "\xe2\x82\xac"},
    {"++", "  "},
    {"%", NULL},
    {"%4", NULL},
    {"%g0", NULL},
    {"%0g", NULL},
    {"a%00", NULL},
    {"%%41", NULL},
};

static void key_decoding(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
        const struct decode_case *c = &decode_cases[i];
        char *out = (char *)0x1;
        size_t out_len = 999;
        tad_err err = tad_event_key_decode(c->in, strlen(c->in), &out, &out_len, NULL);
        if (!c->out) {
            if (err != TAD_ERR_INVALID)
                fail_msg("'%s' accepted", c->in);
            assert_ptr_equal(out, (char *)0x1);
            assert_int_equal(out_len, 999);
            continue;
        }
        if (err != TAD_OK)
            fail_msg("'%s' rejected", c->in);
        assert_string_equal(out, c->out);
        assert_int_equal(out_len, strlen(c->out));
        free(out);
    }
    /* the length bounds the input: "%41" cut to "%4" is bad */
    char *out = NULL;
    assert_int_equal(tad_event_key_decode("%41", 2, &out, NULL, NULL), TAD_ERR_INVALID);
    assert_int_equal(tad_event_key_decode("x%41", 4, &out, NULL, NULL), TAD_OK);
    assert_string_equal(out, "xA");
    free(out);
}

static void maybe_encoded(void **state)
{
    (void)state;
    assert_true(tad_event_key_maybe_encoded("a+b", 3));
    assert_true(tad_event_key_maybe_encoded("a%20b", 5));
    assert_true(tad_event_key_maybe_encoded("%2f", 3));
    assert_false(tad_event_key_maybe_encoded("a b", 3));
    assert_false(tad_event_key_maybe_encoded("100%", 4));
    assert_false(tad_event_key_maybe_encoded("%zz", 3));
    assert_false(tad_event_key_maybe_encoded("%2", 2));
    assert_false(tad_event_key_maybe_encoded("%20", 2)); /* length respected */
    assert_false(tad_event_key_maybe_encoded("", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sample_s3_notification),
        cmocka_unit_test(sample_eventbridge),
        cmocka_unit_test(sample_sns_and_test_event),
        cmocka_unit_test(accepted_inline_cases),
        cmocka_unit_test(rejections),
        cmocka_unit_test(body_and_key_limits),
        cmocka_unit_test(key_decoding),
        cmocka_unit_test(maybe_encoded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
