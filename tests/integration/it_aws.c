/* it_aws.c - the AWS layer against moto with SigV4 enforced (run by test_aws_moto, which
 * starts moto, seeds it and exports the environment read here). Covers SQS receive, delete,
 * visibility and batch partial failures, S3 keys with special characters, a download cut
 * mid-body and resumed, Secrets Manager with TTL expiry and rotation, and credentials that
 * are refreshed or rejected while requests continue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "tad/aws_call.h"
#include "tad/creds_sources.h"
#include "tad/s3.h"
#include "tad/secrets.h"
#include "tad/sqs.h"

#define BUCKET "ingest-bucket"

static struct tad_creds_provider *creds;
static struct tad_aws *aws;
static struct tad_http *http;
static const char *queue;

static const char *need(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "missing environment variable %s\n", name);
        exit(1);
    }
    return v;
}

static int setup(void **state)
{
    (void)state;
    struct tad_errinfo ei;
    assert_int_equal(tad_http_global_init(), TAD_OK);
    struct tad_creds_opts co = {.no_refresh_thread = true};
    assert_int_equal(tad_creds_provider_new(&co, &creds, &ei), TAD_OK);
    struct tad_aws_opts ao = {.creds = creds, .region = "us-east-1"};
    assert_int_equal(tad_aws_new(&ao, &aws, &ei), TAD_OK);
    assert_int_equal(tad_http_new(NULL, &http), TAD_OK);
    queue = need("QUEUE_URL_INGEST");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tad_http_free(http);
    tad_aws_free(aws);
    tad_creds_provider_free(creds);
    return 0;
}

static void drain(void)
{
    struct tad_sqs_messages m;
    struct tad_errinfo ei;
    for (;;) {
        assert_int_equal(tad_sqs_receive(aws, http, queue, 10, 0, 0, &m, &ei), TAD_OK);
        size_t n = m.n;
        for (size_t i = 0; i < n; i++)
            assert_int_equal(tad_sqs_delete(aws, http, queue, m.msgs[i].receipt_handle, &ei),
                             TAD_OK);
        tad_sqs_messages_release(&m);
        if (n == 0)
            break;
    }
}

static void sqs_send_receive_batch_delete(void **state)
{
    (void)state;
    struct tad_errinfo ei;
    drain();
    struct tad_sqs_attribute attrs[] = {{"error", "something \"bad\""}, {"empty", ""}};
    char id[128];
    for (int i = 0; i < 3; i++) {
        char body[64];
        snprintf(body, sizeof(body), "{\"n\":%d,\"text\":\"caf\xc3\xa9\"}", i);
        assert_int_equal(tad_sqs_send(aws, http, queue, body, attrs, 2, 0, id, sizeof(id), &ei),
                         TAD_OK);
        assert_true(strlen(id) > 0);
    }
    struct tad_sqs_messages m = {0};
    size_t got = 0;
    struct tad_sqs_entry entries[4];
    char *handles[4] = {0};
    for (int tries = 0; tries < 5 && got < 3; tries++) {
        assert_int_equal(tad_sqs_receive(aws, http, queue, 10, 1, 30, &m, &ei), TAD_OK);
        for (size_t i = 0; i < m.n; i++) {
            assert_int_equal(m.msgs[i].receive_count, 1);
            assert_true(m.msgs[i].sent_timestamp_ms > 1600000000000ull);
            assert_non_null(strstr(m.msgs[i].body, "caf\xc3\xa9"));
            assert_non_null(m.msgs[i].attributes_json);
            assert_non_null(strstr(m.msgs[i].attributes_json, "something \\\"bad\\\""));
            handles[got] = strdup(m.msgs[i].receipt_handle);
            got++;
        }
        tad_sqs_messages_release(&m);
    }
    assert_int_equal(got, 3);
    /* extend visibility in one batch */
    const char *ids[] = {"a", "b", "c", "bogus"};
    for (size_t i = 0; i < 3; i++)
        entries[i] = (struct tad_sqs_entry){ids[i], handles[i], 60};
    struct tad_sqs_batch_result br;
    assert_int_equal(tad_sqs_change_visibility_batch(aws, http, queue, entries, 3, &br, &ei),
                     TAD_OK);
    assert_int_equal(br.nok, 3);
    assert_int_equal(br.nfailed, 0);
    /* delete with one bad receipt handle: a per-entry failure, the rest deleted */
    entries[3] = (struct tad_sqs_entry){ids[3], "not-a-real-receipt-handle", 0};
    assert_int_equal(tad_sqs_delete_batch(aws, http, queue, entries, 4, &br, &ei), TAD_OK);
    assert_int_equal(br.nok, 3);
    assert_int_equal(br.nfailed, 1);
    assert_string_equal(br.failed[0].id, "bogus");
    assert_string_equal(br.failed[0].code, "ReceiptHandleIsInvalid");
    assert_true(br.failed[0].sender_fault);
    for (int i = 0; i < 3; i++)
        free(handles[i]);
    assert_int_equal(tad_sqs_receive(aws, http, queue, 10, 0, 0, &m, &ei), TAD_OK);
    assert_int_equal(m.n, 0);
    tad_sqs_messages_release(&m);
}

static void sqs_visibility_release_and_receive_count(void **state)
{
    (void)state;
    struct tad_errinfo ei;
    drain();
    assert_int_equal(tad_sqs_send(aws, http, queue, "vis", NULL, 0, 0, NULL, 0, &ei), TAD_OK);
    struct tad_sqs_messages m;
    assert_int_equal(tad_sqs_receive(aws, http, queue, 1, 2, 30, &m, &ei), TAD_OK);
    assert_int_equal(m.n, 1);
    /* hidden now */
    struct tad_sqs_messages m2;
    assert_int_equal(tad_sqs_receive(aws, http, queue, 1, 0, 30, &m2, &ei), TAD_OK);
    assert_int_equal(m2.n, 0);
    tad_sqs_messages_release(&m2);
    /* release it (visibility 0): visible again at once, receive count 2 */
    assert_int_equal(tad_sqs_change_visibility(aws, http, queue, m.msgs[0].receipt_handle, 0, &ei),
                     TAD_OK);
    tad_sqs_messages_release(&m);
    assert_int_equal(tad_sqs_receive(aws, http, queue, 1, 2, 30, &m, &ei), TAD_OK);
    assert_int_equal(m.n, 1);
    assert_int_equal(m.msgs[0].receive_count, 2);
    assert_int_equal(
        tad_sqs_change_visibility(aws, http, queue, m.msgs[0].receipt_handle, 43201, &ei),
        TAD_ERR_INVALID);
    assert_int_equal(tad_sqs_delete(aws, http, queue, m.msgs[0].receipt_handle, &ei), TAD_OK);
    tad_sqs_messages_release(&m);
}

static void sqs_queue_attributes_and_missing_queue(void **state)
{
    (void)state;
    struct tad_errinfo ei;
    struct tad_sqs_queue_info qi;
    assert_int_equal(tad_sqs_get_attributes(aws, http, queue, &qi, &ei), TAD_OK);
    assert_int_equal(qi.visibility_timeout, 30);
    assert_non_null(strstr(qi.queue_arn, "arn:aws:sqs:"));
    char bad[512];
    snprintf(bad, sizeof(bad), "%s-does-not-exist", queue);
    tad_errinfo_clear(&ei);
    assert_int_equal(tad_sqs_get_attributes(aws, http, bad, &qi, &ei), TAD_ERR_NOT_FOUND);
    assert_int_equal(ei.http_status, 400);
    assert_string_equal(ei.code, "QueueDoesNotExist");
}

struct collect {
    struct tad_buf buf;
    EVP_MD_CTX *md5;
    uint64_t n;
};

static tad_err collect_write(void *ctx, const char *data, size_t len)
{
    struct collect *c = ctx;
    c->n += len;
    if (c->md5)
        return EVP_DigestUpdate(c->md5, data, len) == 1 ? TAD_OK : TAD_ERR_NOMEM;
    return tad_buf_append(&c->buf, data, len);
}

static void s3_keys_with_special_characters(void **state)
{
    (void)state;
    static const char *const keys[] = {
        "tiktok/simple/EMAIL_SHA256/file.csv",
        "tiktok/with space/PHONE/a b.csv",
        "tiktok/plus+equals=amp&/EMAIL/x+y=z&w.csv",
        "tiktok/paren(s)*;%25/EMAIL/f;(1)*.csv",
        "tiktok/\xc3\xbcnic\xc3\xb8"
        "de \xe2\x9c\x93/EMAIL/\xe6\x97\xa5\xe6\x9c\xac.csv",
        "tiktok/tilde~dash-under_dot./EMAIL/..csv",
    };
    struct tad_errinfo ei;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char body[256];
        int n = snprintf(body, sizeof(body), "row for %s\n", keys[i]);
        tad_errinfo_clear(&ei);
        tad_err e = tad_s3_put(aws, http, BUCKET, keys[i], body, (size_t)n, "text/csv", &ei);
        if (e)
            fprintf(stderr, "put %s: %s %s\n", keys[i], ei.code, ei.msg);
        assert_int_equal(e, TAD_OK);
        struct tad_s3_object_info info;
        assert_int_equal(tad_s3_head(aws, http, BUCKET, keys[i], NULL, &info, &ei), TAD_OK);
        assert_int_equal(info.size, (uint64_t)n);
        assert_true(info.etag[0] == '"');
        struct collect c = {.md5 = NULL};
        tad_buf_init(&c.buf, 0);
        assert_int_equal(
            tad_s3_get(aws, http, BUCKET, keys[i], NULL, collect_write, &c, &info, &ei), TAD_OK);
        assert_int_equal(c.buf.len, (size_t)n);
        assert_memory_equal(c.buf.data, body, (size_t)n);
        tad_buf_release(&c.buf);
    }
}

static void s3_missing_object_and_bucket(void **state)
{
    (void)state;
    struct tad_errinfo ei;
    struct collect c = {.md5 = NULL};
    tad_buf_init(&c.buf, 0);
    tad_errinfo_clear(&ei);
    assert_int_equal(tad_s3_get(aws, http, BUCKET, "tiktok/none/EMAIL/missing.csv", NULL,
                                collect_write, &c, NULL, &ei),
                     TAD_ERR_NOT_FOUND);
    assert_string_equal(ei.code, "NoSuchKey");
    assert_int_equal(c.n, 0); /* the error body never reaches the sink */
    struct tad_s3_object_info info;
    assert_int_equal(tad_s3_head(aws, http, "no-such-bucket-here", "k", NULL, &info, &ei),
                     TAD_ERR_NOT_FOUND);
    tad_buf_release(&c.buf);
}

static void s3_download_cut_mid_body_resumes(void **state)
{
    (void)state;
    const char *proxy = getenv("CUT_PROXY_URL");
    if (!proxy) {
        fprintf(stderr, "CUT_PROXY_URL not set\n");
        fail();
    }
    struct tad_errinfo ei;
    /* 6 MiB object, written directly */
    size_t size = 6u << 20;
    char *data = malloc(size);
    assert_non_null(data);
    for (size_t i = 0; i < size; i++)
        data[i] = (char)('a' + (i * 7 + i / 4096) % 26);
    assert_int_equal(
        tad_s3_put(aws, http, BUCKET, "tiktok/big/EMAIL/big file.csv", data, size, NULL, &ei),
        TAD_OK);
    unsigned char want[16], got[16];
    unsigned int wl = 0, gl = 0;
    EVP_Digest(data, size, want, &wl, EVP_md5(), NULL);
    free(data);

    /* a second client whose S3 endpoint is the cutting proxy */
    setenv("AWS_ENDPOINT_URL_S3", proxy, 1);
    struct tad_aws *via;
    struct tad_aws_opts ao = {.creds = creds, .region = "us-east-1"};
    assert_int_equal(tad_aws_new(&ao, &via, &ei), TAD_OK);
    unsetenv("AWS_ENDPOINT_URL_S3");
    struct collect c = {.md5 = EVP_MD_CTX_new()};
    EVP_DigestInit_ex(c.md5, EVP_md5(), NULL);
    struct tad_s3_object_info info;
    tad_err e = tad_s3_get(via, http, BUCKET, "tiktok/big/EMAIL/big file.csv", NULL, collect_write,
                           &c, &info, &ei);
    if (e)
        fprintf(stderr, "resumed get: %s %s\n", tad_err_str(e), ei.msg);
    assert_int_equal(e, TAD_OK);
    EVP_DigestFinal_ex(c.md5, got, &gl);
    EVP_MD_CTX_free(c.md5);
    assert_int_equal(c.n, size);
    assert_true(info.resumes >= 1);
    assert_memory_equal(want, got, 16);
    tad_aws_free(via);
}

static unsigned fetches;
static time_t fake_now = 1700000000;
static time_t now_fn(void *ctx)
{
    (void)ctx;
    return fake_now;
}

static tad_err counting_fetch(void *ctx, struct tad_http *h, const char *id,
                              struct tad_secret **ret, struct tad_errinfo *err)
{
    fetches++;
    return tad_secrets_fetch(ctx, h, id, ret, err);
}

static void secrets_ttl_rotation_and_parse(void **state)
{
    (void)state;
    struct tad_errinfo ei;
    struct tad_secrets *cache;
    struct tad_secrets_opts so = {
        .aws = aws, .ttl_seconds = 300, .now = now_fn, .fetch = counting_fetch, .fetch_ctx = aws};
    assert_int_equal(tad_secrets_new(&so, &cache), TAD_OK);
    struct tad_secret *s1, *s2;
    assert_int_equal(tad_secrets_get(cache, http, "tiktok_activation_credentials", &s1, &ei),
                     TAD_OK);
    assert_int_equal(tad_secrets_get(cache, http, "tiktok_activation_credentials", &s2, &ei),
                     TAD_OK);
    assert_int_equal(fetches, 1);
    assert_ptr_equal(s1, s2);
    struct tad_tiktok_creds tc = {0};
    assert_int_equal(tad_tiktok_creds_parse(s1->value, s1->len, &tc, &ei), TAD_OK);
    assert_string_equal(tc.access_token, "token-one-abcdef");
    assert_string_equal(tc.advertiser_id, "7000000001");
    tad_tiktok_creds_release(&tc);
    tad_secret_unref(s1);
    tad_secret_unref(s2);
    /* rotate in Secrets Manager: the cache serves the old value until the TTL passes */
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "\"%s\" tests/lib/aws_admin.py put-secret tiktok_activation_credentials "
             "'{\"ACCESS_TOKEN\":\"token-two-abcdef\",\"ADVERTISER_ID\":7000000001}'",
             need("MOTO_PY"));
    assert_int_equal(system(cmd), 0);
    assert_int_equal(tad_secrets_get(cache, http, "tiktok_activation_credentials", &s1, &ei),
                     TAD_OK);
    assert_non_null(strstr(s1->value, "token-one"));
    tad_secret_unref(s1);
    fake_now += 301;
    assert_int_equal(tad_secrets_get(cache, http, "tiktok_activation_credentials", &s1, &ei),
                     TAD_OK);
    assert_int_equal(fetches, 2);
    assert_non_null(strstr(s1->value, "token-two"));
    tad_secret_unref(s1);
    /* explicit invalidation (TikTok rejected the token) refetches at once */
    tad_secrets_invalidate(cache, "tiktok_activation_credentials");
    assert_int_equal(tad_secrets_get(cache, http, "tiktok_activation_credentials", &s1, &ei),
                     TAD_OK);
    assert_int_equal(fetches, 3);
    tad_secret_unref(s1);
    /* a missing secret is a clear permanent error */
    tad_errinfo_clear(&ei);
    assert_int_equal(tad_secrets_get(cache, http, "no-such-secret", &s1, &ei), TAD_ERR_NOT_FOUND);
    assert_non_null(strstr(ei.msg, "no-such-secret"));
    tad_secrets_free(cache);
}

/* A credential source scripted by the test: first answer is wrong/expired creds, then good. */
struct script_src {
    unsigned calls;
    bool first_bad;
    time_t lifetime;
    const char *secret; /* NULL = the real secret key */
};

static tad_err script_fetch(void *ctx, struct tad_aws_creds **ret, struct tad_errinfo *err)
{
    (void)err;
    struct script_src *s = ctx;
    s->calls++;
    const char *ak = getenv("AWS_ACCESS_KEY_ID");
    const char *sk = s->secret ? s->secret : getenv("AWS_SECRET_ACCESS_KEY");
    if (s->first_bad && s->calls == 1)
        ak = "AKIDNOTKNOWNTOMOTO00";
    *ret = tad_aws_creds_new(ak, sk, NULL, s->lifetime ? fake_now + s->lifetime : 0, "script");
    return *ret ? TAD_OK : TAD_ERR_NOMEM;
}

static void rejected_credentials_are_refreshed_once(void **state)
{
    (void)state;
    struct script_src src = {.first_bad = true};
    struct tad_creds_source one = {"script", script_fetch, NULL, &src};
    struct tad_creds_source *sources = malloc(sizeof(one));
    *sources = one;
    struct tad_creds_provider *p;
    struct tad_creds_opts co = {.no_refresh_thread = true, .now = now_fn};
    assert_int_equal(tad_creds_provider_new_chain(&co, sources, 1, &p), TAD_OK);
    struct tad_aws *a;
    struct tad_errinfo ei;
    struct tad_aws_opts ao = {.creds = p, .region = "us-east-1"};
    assert_int_equal(tad_aws_new(&ao, &a, &ei), TAD_OK);
    struct tad_sqs_queue_info qi;
    assert_int_equal(tad_sqs_get_attributes(a, http, queue, &qi, &ei), TAD_OK);
    assert_int_equal(src.calls, 2);
    tad_aws_free(a);
    tad_creds_provider_free(p);
}

static void wrong_secret_key_is_rejected_by_signature_check(void **state)
{
    (void)state;
    /* the right key id with a wrong secret: moto must refuse the signature, and that is not
     * something a retry or a credential refresh can cure */
    struct script_src src = {.secret = "wrong-secret-key"};
    struct tad_creds_source one = {"script", script_fetch, NULL, &src};
    struct tad_creds_source *sources = malloc(sizeof(one));
    *sources = one;
    struct tad_creds_provider *p;
    struct tad_creds_opts co = {.no_refresh_thread = true, .now = now_fn};
    assert_int_equal(tad_creds_provider_new_chain(&co, sources, 1, &p), TAD_OK);
    struct tad_aws *a;
    struct tad_errinfo ei;
    struct tad_aws_opts ao = {.creds = p, .region = "us-east-1"};
    assert_int_equal(tad_aws_new(&ao, &a, &ei), TAD_OK);
    struct tad_sqs_queue_info qi;
    tad_errinfo_clear(&ei);
    tad_err e = tad_sqs_get_attributes(a, http, queue, &qi, &ei);
    assert_int_not_equal(e, TAD_OK);
    assert_int_equal(ei.http_status, 403);
    assert_false(tad_err_retryable(e));
    assert_int_equal(src.calls, 1); /* not mistaken for expired credentials */
    tad_aws_free(a);
    tad_creds_provider_free(p);
}

struct hammer {
    struct tad_aws *aws;
    int failures;
    int done;
};

static void *hammer_thread(void *arg)
{
    struct hammer *hm = arg;
    struct tad_http *h;
    if (tad_http_new(NULL, &h) != TAD_OK)
        return NULL;
    for (int i = 0; i < 20; i++) {
        struct tad_sqs_queue_info qi;
        struct tad_errinfo ei;
        if (tad_sqs_get_attributes(hm->aws, h, queue, &qi, &ei) != TAD_OK)
            __atomic_add_fetch(&hm->failures, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&hm->done, 1, __ATOMIC_RELAXED);
    }
    tad_http_free(h);
    return NULL;
}

static void credentials_refresh_while_requests_continue(void **state)
{
    (void)state;
    struct script_src src = {.lifetime = 3600};
    struct tad_creds_source one = {"script", script_fetch, NULL, &src};
    struct tad_creds_source *sources = malloc(sizeof(one));
    *sources = one;
    struct tad_creds_provider *p;
    struct tad_creds_opts co = {.no_refresh_thread = true, .now = now_fn};
    assert_int_equal(tad_creds_provider_new_chain(&co, sources, 1, &p), TAD_OK);
    struct tad_aws *a;
    struct tad_errinfo ei;
    struct tad_aws_opts ao = {.creds = p, .region = "us-east-1"};
    assert_int_equal(tad_aws_new(&ao, &a, &ei), TAD_OK);
    struct hammer hm = {.aws = a};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, hammer_thread, &hm);
    /* move the clock into the refresh window, refresh while the threads keep calling */
    while (__atomic_load_n(&hm.done, __ATOMIC_RELAXED) < 5)
        usleep(1000);
    fake_now += 3600 - 10 * 60;
    unsigned wait = tad_creds_refresh_due(p);
    assert_true(wait > 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(hm.failures, 0);
    assert_int_equal(src.calls, 2);
    tad_aws_free(a);
    tad_creds_provider_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sqs_send_receive_batch_delete),
        cmocka_unit_test(sqs_visibility_release_and_receive_count),
        cmocka_unit_test(sqs_queue_attributes_and_missing_queue),
        cmocka_unit_test(s3_keys_with_special_characters),
        cmocka_unit_test(s3_missing_object_and_bucket),
        cmocka_unit_test(s3_download_cut_mid_body_resumes),
        cmocka_unit_test(secrets_ttl_rotation_and_parse),
        cmocka_unit_test(rejected_credentials_are_refreshed_once),
        cmocka_unit_test(wrong_secret_key_is_rejected_by_signature_check),
        cmocka_unit_test(credentials_refresh_while_requests_continue),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
