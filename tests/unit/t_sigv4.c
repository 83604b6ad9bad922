/* t_sigv4.c - SigV4 signer: every vector of the aws-c-auth v4 suite (header and query forms)
 * and of the botocore aws4_testsuite, found by listing $SIGV4_SUITE, plus URI encoding, the
 * key cache and the S3 payload-hash rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tad/buf.h"
#include "tad/sigv4.h"
#include "tad/sigv4_testfmt.h"

#define SUITE_TIME 1440938160 /* 2015-08-30T12:36:00Z */
#define EX_AKID "AKIDEXAMPLE"
#define EX_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

static const char *suite_dir(void)
{
    const char *d = getenv("SIGV4_SUITE");
    return d && *d ? d : "../shared/sigv4-suite";
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static char *slurp(const char *dir, const char *name)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return NULL;
    char *data = NULL;
    size_t len = 0;
    if (tad_sigv4_read_file(path, &data, &len, NULL) != TAD_OK)
        return NULL;
    return data;
}

static int sort_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted subdirectory names of dir (new array of new strings). */
static size_t list_dirs(const char *dir, char ***out)
{
    DIR *d = opendir(dir);
    size_t n = 0, cap = 0;
    char **v = NULL;
    if (!d) {
        *out = NULL;
        return 0;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        int k = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (k < 0 || (size_t)k >= sizeof(path) || !is_dir(path))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nv = realloc(v, cap * sizeof(*v));
            assert_non_null(nv);
            v = nv;
        }
        v[n] = strdup(de->d_name);
        assert_non_null(v[n]);
        n++;
    }
    closedir(d);
    if (n)
        qsort(v, n, sizeof(*v), sort_names);
    *out = v;
    return n;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int expect_eq(const char *casename, const char *what, const char *got, const char *want)
{
    if (got && want && strcmp(got, want) == 0)
        return 1;
    fprintf(stderr, "MISMATCH %s %s\n--- got:\n%s\n--- want:\n%s\n", casename, what,
            got ? got : "(null)", want ? want : "(null)");
    return 0;
}

static int check_file(const char *dir, const char *casename, const char *file, const char *got)
{
    char *want = slurp(dir, file);
    int ok = expect_eq(casename, file, got, want);
    free(want);
    return ok;
}

/* ---- aws-c-auth v4 ---- */

static void aws_c_auth_suite(void **state)
{
    (void)state;
    char base[2048];
    snprintf(base, sizeof(base), "%s/aws-c-auth/v4", suite_dir());
    if (!is_dir(base))
        fail_msg("suite directory %s missing (set SIGV4_SUITE)", base);
    char **cases = NULL;
    size_t ncases = list_dirs(base, &cases);
    assert_true(ncases > 0);

    struct tad_sigv4_key_cache *cache = NULL;
    assert_int_equal(tad_sigv4_key_cache_new(&cache), TAD_OK);
    struct tad_sigv4_result res = TAD_SIGV4_RESULT_INIT;
    size_t passed = 0, failed = 0;
    for (size_t c = 0; c < ncases; c++) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/%s", base, cases[c]);
        char *ctxt = slurp(dir, "context.json"), *rtxt = slurp(dir, "request.txt");
        assert_non_null(ctxt);
        assert_non_null(rtxt);
        struct tad_sigv4_testctx ctx;
        struct tad_sigv4_testreq tr;
        assert_int_equal(tad_sigv4_testctx_parse(ctxt, strlen(ctxt), &ctx, NULL), TAD_OK);
        assert_int_equal(tad_sigv4_testreq_parse(rtxt, strlen(rtxt), &tr, NULL), TAD_OK);

        struct tad_buf wire = TAD_BUF_INIT;
        struct tad_sigv4_request rq;
        struct tad_sigv4_creds cr;
        struct tad_sigv4_params pm;
        assert_int_equal(tad_sigv4_testcase_build(&tr, &ctx, &wire, &rq, &cr, &pm), TAD_OK);

        struct tad_errinfo ei;
        tad_errinfo_clear(&ei);
        assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, cache, &res, &ei), TAD_OK);
        int ok = check_file(dir, cases[c], "header-canonical-request.txt", res.canonical_request) &&
                 check_file(dir, cases[c], "header-string-to-sign.txt", res.string_to_sign) &&
                 check_file(dir, cases[c], "header-signature.txt", res.signature);
        if (ok) {
            /* The signed request carries exactly our Authorization value. */
            char *sreq = slurp(dir, "header-signed-request.txt");
            assert_non_null(sreq);
            char line[1024];
            snprintf(line, sizeof(line), "\nAuthorization:%s\n", res.authorization);
            ok = strstr(sreq, line) != NULL;
            if (!ok)
                fprintf(stderr, "MISMATCH %s signed request lacks %s", cases[c], line + 1);
            free(sreq);
        }
        ok ? passed++ : failed++;

        assert_int_equal(tad_sigv4_presign(&rq, &cr, &pm, cache, &res, &ei), TAD_OK);
        ok = check_file(dir, cases[c], "query-canonical-request.txt", res.canonical_request) &&
             check_file(dir, cases[c], "query-string-to-sign.txt", res.string_to_sign) &&
             check_file(dir, cases[c], "query-signature.txt", res.signature);
        if (ok) {
            char tail[128];
            snprintf(tail, sizeof(tail), "&X-Amz-Signature=%s", res.signature);
            size_t ql = strlen(res.presigned_query), tl = strlen(tail);
            ok = ql > tl && strcmp(res.presigned_query + ql - tl, tail) == 0 && res.nadd == 0;
            if (ok && ctx.token)
                ok = strstr(res.presigned_query, "X-Amz-Security-Token=") != NULL;
        }
        ok ? passed++ : failed++;

        tad_buf_release(&wire);
        tad_sigv4_testreq_release(&tr);
        tad_sigv4_testctx_release(&ctx);
        free(ctxt);
        free(rtxt);
    }
    printf("aws-c-auth v4: %zu cases, %zu/%zu header+query vectors passed\n", ncases, passed,
           passed + failed);
    tad_sigv4_result_release(&res);
    tad_sigv4_key_cache_free(cache);
    free_list(cases, ncases);
    assert_int_equal(failed, 0);
    assert_int_equal(passed, 2 * ncases);
}

/* ---- botocore aws4_testsuite ---- */

/* The token value from a "x-amz-security-token:" line of a canonical request, new or NULL. */
static char *creq_token(const char *creq)
{
    const char *p = strstr(creq, "\nx-amz-security-token:");
    if (!p)
        return NULL;
    p += strlen("\nx-amz-security-token:");
    const char *e = strchr(p, '\n');
    return strndup(p, e ? (size_t)(e - p) : strlen(p));
}

static int botocore_case(const char *dir, const char *name, struct tad_sigv4_key_cache *cache,
                         struct tad_sigv4_result *res)
{
    char file[512];
    snprintf(file, sizeof(file), "%s.req", name);
    char *rtxt = slurp(dir, file);
    snprintf(file, sizeof(file), "%s.creq", name);
    char *creq = slurp(dir, file);
    assert_non_null(rtxt);
    assert_non_null(creq);
    struct tad_sigv4_testreq tr;
    assert_int_equal(tad_sigv4_testreq_parse(rtxt, strlen(rtxt), &tr, NULL), TAD_OK);

    /* The .req files carry X-Amz-Date (the signer adds it from the time) and sometimes the
     * token; the token is signed exactly when the expected canonical request shows it. */
    char *date = NULL, *req_token = NULL;
    assert_int_equal(tad_sigv4_testreq_remove_header(&tr, "X-Amz-Date", &date), 1);
    assert_string_equal(date, "20150830T123600Z");
    tad_sigv4_testreq_remove_header(&tr, "X-Amz-Security-Token", &req_token);
    char *signed_token = creq_token(creq);
    const char *token = signed_token ? signed_token : req_token;

    struct tad_sigv4_request rq = {
        .method = tr.method,
        .path = tr.path,
        .query = tr.query,
        .headers = tr.headers,
        .nheaders = tr.nheaders,
        .body = tr.body,
        .body_len = tr.body_len,
    };
    struct tad_sigv4_creds cr = {EX_AKID, EX_SECRET, token};
    struct tad_sigv4_params pm = {
        .region = "us-east-1",
        .service = "service",
        .now = SUITE_TIME,
        .omit_session_token = token && !signed_token,
    };
    struct tad_errinfo ei;
    tad_errinfo_clear(&ei);
    assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, cache, res, &ei), TAD_OK);
    int ok = expect_eq(name, "creq", res->canonical_request, creq);
    snprintf(file, sizeof(file), "%s.sts", name);
    ok = ok && check_file(dir, name, file, res->string_to_sign);
    snprintf(file, sizeof(file), "%s.authz", name);
    ok = ok && check_file(dir, name, file, res->authorization);
    if (ok && token) /* the caller is told to send the token either way */
        ok = res->nadd == 3 && strcmp(res->add[1].value, token) == 0;

    free(date);
    free(req_token);
    free(signed_token);
    tad_sigv4_testreq_release(&tr);
    free(rtxt);
    free(creq);
    return ok;
}

static void botocore_walk(const char *dir, struct tad_sigv4_key_cache *cache,
                          struct tad_sigv4_result *res, size_t *passed, size_t *failed)
{
    char **subs = NULL;
    size_t n = list_dirs(dir, &subs);
    for (size_t i = 0; i < n; i++) {
        char sub[4096], req[4200];
        snprintf(sub, sizeof(sub), "%s/%s", dir, subs[i]);
        snprintf(req, sizeof(req), "%s/%s.req", sub, subs[i]);
        struct stat st;
        if (stat(req, &st) == 0) {
            if (botocore_case(sub, subs[i], cache, res))
                (*passed)++;
            else
                (*failed)++;
        } else {
            botocore_walk(sub, cache, res, passed, failed);
        }
    }
    free_list(subs, n);
}

static void botocore_suite(void **state)
{
    (void)state;
    char base[2048];
    snprintf(base, sizeof(base), "%s/botocore-aws4_testsuite", suite_dir());
    if (!is_dir(base))
        fail_msg("suite directory %s missing (set SIGV4_SUITE)", base);
    struct tad_sigv4_result res = TAD_SIGV4_RESULT_INIT;
    size_t passed = 0, failed = 0;
    botocore_walk(base, NULL, &res, &passed, &failed);
    printf("botocore aws4_testsuite: %zu/%zu vectors passed\n", passed, passed + failed);
    tad_sigv4_result_release(&res);
    assert_int_equal(failed, 0);
    assert_true(passed > 0);
}

/* ---- focused unit tests ---- */

static void uri_encode_decode(void **state)
{
    (void)state;
    struct tad_buf b = TAD_BUF_INIT;
    const char *s = "a b/c~-_.+=&%\xe1\x88\xb4Z9";
    assert_int_equal(tad_uri_encode(&b, s, strlen(s), true), TAD_OK);
    assert_string_equal(b.data, "a%20b/c~-_.%2B%3D%26%25%E1%88%B4Z9");
    tad_buf_reset(&b);
    assert_int_equal(tad_uri_encode(&b, s, strlen(s), false), TAD_OK);
    assert_string_equal(b.data, "a%20b%2Fc~-_.%2B%3D%26%25%E1%88%B4Z9");
    tad_buf_reset(&b);
    assert_int_equal(tad_uri_encode(&b, "", 0, false), TAD_OK);
    assert_int_equal(b.len, 0);
    assert_int_equal(tad_uri_decode(&b, "%41%e1%88%B4+%zz%4", 18), TAD_OK);
    assert_string_equal(b.data, "A\xe1\x88\xb4+%zz%4");
    tad_buf_release(&b);
}

static const struct tad_sigv4_header vanilla_hdrs[] = {{"Host", "example.amazonaws.com"}};

static void key_cache_reuse(void **state)
{
    (void)state;
    struct tad_sigv4_key_cache *cache = NULL;
    assert_int_equal(tad_sigv4_key_cache_new(&cache), TAD_OK);
    struct tad_sigv4_request rq = {
        .method = "GET", .path = "/", .headers = vanilla_hdrs, .nheaders = 1};
    struct tad_sigv4_creds cr = {EX_AKID, EX_SECRET, NULL};
    struct tad_sigv4_params pm = {.region = "us-east-1", .service = "service", .now = SUITE_TIME};
    struct tad_sigv4_result r = TAD_SIGV4_RESULT_INIT;
    uint64_t hits, misses;

    assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, cache, &r, NULL), TAD_OK);
    assert_string_equal(r.signature,
                        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    tad_sigv4_key_cache_stats(cache, &hits, &misses);
    assert_int_equal(hits, 0);
    assert_int_equal(misses, 1);
    pm.now += 60; /* same day: cached key */
    assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, cache, &r, NULL), TAD_OK);
    tad_sigv4_key_cache_stats(cache, &hits, &misses);
    assert_int_equal(hits, 1);
    assert_int_equal(misses, 1);
    char cached_sig[65];
    memcpy(cached_sig, r.signature, 65);
    assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, NULL, &r, NULL), TAD_OK);
    assert_string_equal(cached_sig, r.signature);

    pm.now += 86400; /* next day: new key */
    assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, cache, &r, NULL), TAD_OK);
    pm.region = "eu-west-1";
    assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, cache, &r, NULL), TAD_OK);
    cr.secret_access_key = "another-secret";
    assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, cache, &r, NULL), TAD_OK);
    char other[65];
    memcpy(other, r.signature, 65);
    tad_sigv4_key_cache_stats(cache, &hits, &misses);
    assert_int_equal(hits, 1);
    assert_int_equal(misses, 4);
    /* A different secret never reuses the key of the first. */
    assert_string_not_equal(other, cached_sig);
    assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, NULL, &r, NULL), TAD_OK);
    assert_string_equal(other, r.signature);

    /* More keys than the cache holds (128): evictions happen and keep results right. */
    uint64_t misses_before = misses;
    cr.secret_access_key = EX_SECRET;
    for (int i = 0; i < 300; i++) {
        pm.now = SUITE_TIME + (time_t)(i % 150) * 86400;
        assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, cache, &r, NULL), TAD_OK);
        memcpy(other, r.signature, 65);
        assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, NULL, &r, NULL), TAD_OK);
        assert_string_equal(other, r.signature);
    }
    tad_sigv4_key_cache_stats(cache, &hits, &misses);
    assert_true(misses - misses_before > 150);
    assert_true(misses - misses_before < 300);
    tad_sigv4_result_release(&r);
    tad_sigv4_key_cache_free(cache);
}

struct thread_arg {
    struct tad_sigv4_key_cache *cache;
    int ok;
};

static void *sign_thread(void *p)
{
    struct thread_arg *a = p;
    struct tad_sigv4_request rq = {
        .method = "GET", .path = "/", .headers = vanilla_hdrs, .nheaders = 1};
    struct tad_sigv4_creds cr = {EX_AKID, EX_SECRET, NULL};
    struct tad_sigv4_params pm = {.region = "us-east-1", .service = "service", .now = SUITE_TIME};
    struct tad_sigv4_result r = TAD_SIGV4_RESULT_INIT;
    a->ok = 1;
    for (int i = 0; i < 300 && a->ok; i++) {
        pm.now = SUITE_TIME + (i % 2) * 86400;
        if (tad_sigv4_sign(&rq, &cr, &pm, a->cache, &r, NULL) != TAD_OK)
            a->ok = 0;
        else if (i % 2 == 0 &&
                 strcmp(r.signature,
                        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31") != 0)
            a->ok = 0;
    }
    tad_sigv4_result_release(&r);
    return NULL;
}

static void key_cache_threads(void **state)
{
    (void)state;
    struct tad_sigv4_key_cache *cache = NULL;
    assert_int_equal(tad_sigv4_key_cache_new(&cache), TAD_OK);
    pthread_t t[4];
    struct thread_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i].cache = cache;
        assert_int_equal(pthread_create(&t[i], NULL, sign_thread, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_true(a[i].ok);
    }
    uint64_t hits, misses;
    tad_sigv4_key_cache_stats(cache, &hits, &misses);
    assert_int_equal(hits + misses, 1200);
    assert_true(misses <= 8); /* two keys, at most one miss per thread and key */
    tad_sigv4_key_cache_free(cache);
}

/* Known answer from the Amazon S3 API reference (GET object with Range, header form). */
static void s3_get_object_known_answer(void **state)
{
    (void)state;
    const struct tad_sigv4_header hdrs[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                                            {"Range", "bytes=0-9"}};
    struct tad_sigv4_request rq = {
        .method = "GET", .path = "/test.txt", .headers = hdrs, .nheaders = 2};
    struct tad_sigv4_creds cr = {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                 NULL};
    struct tad_sigv4_params pm = {
        .region = "us-east-1", .service = "s3", .now = 1369353600, .s3_style = true};
    struct tad_sigv4_result r = TAD_SIGV4_RESULT_INIT;
    assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, NULL, &r, NULL), TAD_OK);
    assert_string_equal(r.amz_date, "20130524T000000Z");
    assert_string_equal(r.signed_headers, "host;range;x-amz-content-sha256;x-amz-date");
    assert_string_equal(r.signature,
                        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    assert_int_equal(r.nadd, 3);
    assert_string_equal(r.add[0].name, "X-Amz-Date");
    assert_string_equal(r.add[1].name, "X-Amz-Content-Sha256");
    assert_string_equal(r.add[1].value, TAD_SIGV4_EMPTY_SHA256);
    assert_string_equal(r.add[2].name, "Authorization");

    /* Presigned form of the same object (X-Amz-Expires=86400). */
    const struct tad_sigv4_header host[] = {{"Host", "examplebucket.s3.amazonaws.com"}};
    rq.headers = host;
    rq.nheaders = 1;
    rq.payload_hash = TAD_SIGV4_UNSIGNED_PAYLOAD;
    pm.expires = 86400;
    assert_int_equal(tad_sigv4_presign(&rq, &cr, &pm, NULL, &r, NULL), TAD_OK);
    assert_string_equal(r.signature,
                        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    assert_non_null(strstr(r.presigned_query, "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"
                                              "%2Fus-east-1%2Fs3%2Faws4_request"));
    assert_null(r.authorization);
    tad_sigv4_result_release(&r);
}

static const char *last_line(const char *s)
{
    const char *p = strrchr(s, '\n');
    return p ? p + 1 : s;
}

static void s3_payload_and_path_rules(void **state)
{
    (void)state;
    const struct tad_sigv4_header hdrs[] = {{"Host", "b.s3.amazonaws.com"},
                                            {"Content-Type", "text/plain"}};
    struct tad_sigv4_request rq = {.method = "PUT",
                                   .path = "/my-object//ex%2Bample/./photo.user",
                                   .headers = hdrs,
                                   .nheaders = 2,
                                   .body = "hello",
                                   .body_len = 5};
    struct tad_sigv4_creds cr = {EX_AKID, EX_SECRET, "tok"};
    struct tad_sigv4_params pm = {
        .region = "us-east-1", .service = "s3", .now = SUITE_TIME, .s3_style = true};
    struct tad_sigv4_result r = TAD_SIGV4_RESULT_INIT;
    const char *hello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, NULL, &r, NULL), TAD_OK);
    assert_non_null(strstr(r.canonical_request, "\n/my-object//ex%2Bample/./photo.user\n"));
    assert_string_equal(last_line(r.canonical_request), hello);
    assert_non_null(strstr(r.canonical_request, "\nx-amz-content-sha256:2cf24dba"));
    assert_string_equal(r.signed_headers,
                        "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
    assert_int_equal(r.nadd, 4);
    assert_string_equal(r.add[1].value, "tok");
    assert_string_equal(r.add[2].name, "X-Amz-Content-Sha256");
    assert_string_equal(r.add[2].value, hello);
    assert_string_equal(r.add[3].value, r.authorization);

    rq.payload_hash = TAD_SIGV4_UNSIGNED_PAYLOAD;
    assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, NULL, &r, NULL), TAD_OK);
    assert_string_equal(last_line(r.canonical_request), "UNSIGNED-PAYLOAD");
    assert_non_null(strstr(r.canonical_request, "\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n"));
    assert_string_equal(r.add[2].value, "UNSIGNED-PAYLOAD");

    /* The same request to a non-S3 service: normalised, double-encoded, no sha256 header. */
    pm.s3_style = false;
    pm.service = "sqs";
    rq.payload_hash = NULL;
    assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, NULL, &r, NULL), TAD_OK);
    assert_non_null(strstr(r.canonical_request, "\n/my-object/ex%252Bample/photo.user\n"));
    assert_null(strstr(r.canonical_request, "x-amz-content-sha256"));
    assert_int_equal(r.nadd, 3);
    pm.sign_body_header = true;
    assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, NULL, &r, NULL), TAD_OK);
    assert_non_null(strstr(r.canonical_request, "\nx-amz-content-sha256:2cf24dba"));
    tad_sigv4_result_release(&r);
}

static void normalisation_and_query(void **state)
{
    (void)state;
    struct {
        const char *path, *want;
    } cases[] = {
        {"", "/"},
        {"/", "/"},
        {"/a/./b/../c/", "/a/c/"},
        {"/a/..", "/"},
        {"/../..", "/"},
        {"//a//b//", "/a/b/"},
        {"/a/b/..", "/a"},
        {"/%41 b", "/%2541%20b"},
    };
    struct tad_sigv4_request rq = {.method = "GET", .headers = vanilla_hdrs, .nheaders = 1};
    struct tad_sigv4_creds cr = {EX_AKID, EX_SECRET, NULL};
    struct tad_sigv4_params pm = {.region = "us-east-1", .service = "sqs", .now = SUITE_TIME};
    struct tad_sigv4_result r = TAD_SIGV4_RESULT_INIT;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rq.path = cases[i].path;
        assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, NULL, &r, NULL), TAD_OK);
        const char *uri = strchr(r.canonical_request, '\n') + 1;
        size_t n = (size_t)(strchr(uri, '\n') - uri);
        char got[64];
        snprintf(got, sizeof(got), "%.*s", (int)n, uri);
        assert_string_equal(got, cases[i].want);
    }
    rq.path = "/";
    rq.query = "b=2&a=&a&c=%7e+x&b=1&&%41=%zz";
    assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, NULL, &r, NULL), TAD_OK);
    assert_non_null(strstr(r.canonical_request, "\nA=%25zz&a=&a=&b=1&b=2&c=~%2Bx\n"));
    tad_sigv4_result_release(&r);
}

static void headers_and_errors(void **state)
{
    (void)state;
    const struct tad_sigv4_header hdrs[] = {
        {"My-Header", "  a \t  b\r\n   c  "},
        {"host", "h.example"},
        {"User-Agent", "x/1"},
        {"my-header", "second"},
        {"Expect", "100-continue"},
        {"Content-Type", ""},
    };
    struct tad_sigv4_request rq = {.method = "POST", .path = "/", .headers = hdrs, .nheaders = 6};
    struct tad_sigv4_creds cr = {EX_AKID, EX_SECRET, NULL};
    struct tad_sigv4_params pm = {.region = "us-east-1", .service = "sqs", .now = SUITE_TIME};
    struct tad_sigv4_result r = TAD_SIGV4_RESULT_INIT;
    assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, NULL, &r, NULL), TAD_OK);
    assert_non_null(
        strstr(r.canonical_request, "\ncontent-type:\nhost:h.example\nmy-header:a b c,second\n"));
    assert_string_equal(r.signed_headers, "content-type;host;my-header;x-amz-date");
    const char *keep = r.canonical_request;
    char saved[65];
    memcpy(saved, r.signature, 65);

    /* Failures leave the previous result alone. */
    struct tad_errinfo ei;
    tad_errinfo_clear(&ei);
    const struct tad_sigv4_header bad[] = {{"Host", "h"}, {"X-Amz-Date", "x"}};
    rq.headers = bad;
    rq.nheaders = 2;
    assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, NULL, &r, &ei), TAD_ERR_INVALID);
    assert_non_null(strstr(ei.msg, "X-Amz-Date"));
    rq.nheaders = 0;
    assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, NULL, &r, NULL), TAD_ERR_INVALID);
    rq.headers = hdrs;
    rq.nheaders = 6;
    cr.secret_access_key = "";
    assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, NULL, &r, NULL), TAD_ERR_INVALID);
    cr.secret_access_key = EX_SECRET;
    pm.region = "us/east";
    assert_int_equal(tad_sigv4_sign(&rq, &cr, &pm, NULL, &r, NULL), TAD_ERR_INVALID);
    pm.region = "us-east-1";
    assert_int_equal(tad_sigv4_presign(&rq, &cr, &pm, NULL, &r, NULL), TAD_ERR_INVALID);
    assert_ptr_equal(r.canonical_request, keep);
    assert_string_equal(r.signature, saved);
    tad_sigv4_result_release(&r);
}

static void testfmt_parser(void **state)
{
    (void)state;
    const char *text = "GET /a b/?x=1&y HTTP/1.1\nHost:h\nX-A:v1\n  v2\n\nbody\nmore";
    struct tad_sigv4_testreq tr;
    assert_int_equal(tad_sigv4_testreq_parse(text, strlen(text), &tr, NULL), TAD_OK);
    assert_string_equal(tr.method, "GET");
    assert_string_equal(tr.path, "/a b/");
    assert_string_equal(tr.query, "x=1&y");
    assert_int_equal(tr.nheaders, 2);
    assert_string_equal(tr.headers[1].value, "v1\n  v2");
    assert_int_equal(tr.body_len, 9);
    assert_memory_equal(tr.body, "body\nmore", 9);
    tad_sigv4_testreq_release(&tr);
    assert_int_equal(tad_sigv4_testreq_parse("GET / HTTP/1.1\nnocolon\n", 23, &tr, NULL),
                     TAD_ERR_PARSE);
    time_t t;
    assert_int_equal(tad_parse_iso8601("2015-08-30T12:36:00Z", &t), TAD_OK);
    assert_int_equal(t, SUITE_TIME);
    assert_int_equal(tad_parse_iso8601("2015-08-30 12:36:00", &t), TAD_ERR_PARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(aws_c_auth_suite),          cmocka_unit_test(botocore_suite),
        cmocka_unit_test(uri_encode_decode),         cmocka_unit_test(key_cache_reuse),
        cmocka_unit_test(key_cache_threads),         cmocka_unit_test(s3_get_object_known_answer),
        cmocka_unit_test(s3_payload_and_path_rules), cmocka_unit_test(normalisation_and_query),
        cmocka_unit_test(headers_and_errors),        cmocka_unit_test(testfmt_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
