/* t_aws_endpoint.c - unit tests for endpoint resolution, URL parsing, Host headers, S3
 * addressing and the region found in SQS queue URLs (tad/aws_endpoint.h).
 *
 * The environment is a small static table read through a getenv-like function; tests are
 * single-threaded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "tad/aws_endpoint.h"

/* ---- table-backed environment ---- */

#define ENV_MAX 8

static struct {
    const char *name;
    const char *value;
} env_tab[ENV_MAX];

static void env_reset(void)
{
    memset(env_tab, 0, sizeof(env_tab));
}

static void env_set(const char *name, const char *value)
{
    for (size_t i = 0; i < ENV_MAX; i++) {
        if (!env_tab[i].name || strcmp(env_tab[i].name, name) == 0) {
            env_tab[i].name = name;
            env_tab[i].value = value;
            return;
        }
    }
    fail_msg("environment table full");
}

static const char *tenv(const char *name)
{
    for (size_t i = 0; i < ENV_MAX && env_tab[i].name; i++)
        if (strcmp(env_tab[i].name, name) == 0)
            return env_tab[i].value;
    return NULL;
}

/* ---- service names ---- */

static void service_names(void **state)
{
    (void)state;
    assert_string_equal(tad_aws_service_name(TAD_AWS_SQS), "sqs");
    assert_string_equal(tad_aws_service_name(TAD_AWS_S3), "s3");
    assert_string_equal(tad_aws_service_name(TAD_AWS_SECRETS), "secretsmanager");
    assert_string_equal(tad_aws_service_name(TAD_AWS_STS), "sts");
    assert_string_equal(tad_aws_service_name(TAD_AWS__SERVICES), "?");
}

/* ---- default endpoints ---- */

static void default_hosts(void **state)
{
    (void)state;
    static const struct {
        enum tad_aws_service svc;
        const char *region;
        const char *host;
    } cases[] = {
        {TAD_AWS_SQS, "us-east-1", "sqs.us-east-1.amazonaws.com"},
        {TAD_AWS_S3, "eu-west-3", "s3.eu-west-3.amazonaws.com"},
        {TAD_AWS_SECRETS, "ap-southeast-2", "secretsmanager.ap-southeast-2.amazonaws.com"},
        {TAD_AWS_STS, "us-gov-west-1", "sts.us-gov-west-1.amazonaws.com"},
        {TAD_AWS_SQS, "cn-north-1", "sqs.cn-north-1.amazonaws.com.cn"},
        {TAD_AWS_S3, "cn-northwest-1", "s3.cn-northwest-1.amazonaws.com.cn"},
        {TAD_AWS_STS, "cn-north-1", "sts.cn-north-1.amazonaws.com.cn"},
    };
    env_reset();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tad_aws_endpoint ep;
        memset(&ep, 0x5a, sizeof(ep));
        struct tad_errinfo ei;
        tad_errinfo_clear(&ei);
        assert_int_equal(tad_aws_endpoint_resolve(cases[i].svc, cases[i].region, tenv, &ep, &ei),
                         TAD_OK);
        assert_string_equal(ep.scheme, "https");
        assert_string_equal(ep.host, cases[i].host);
        assert_int_equal(ep.port, 0);
        assert_string_equal(ep.base_path, "");
        assert_false(ep.overridden);
    }
}

static void bad_regions(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",          "us east 1",     "us-east-1/evil", "us-east-1.evil.com", "us-east-1?x",
        "us_east_1", "us-east-1:443", "us-east-1\n",
    };
    char longreg[300];
    memset(longreg, 'a', sizeof(longreg) - 1);
    longreg[sizeof(longreg) - 1] = '\0';
    env_reset();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct tad_aws_endpoint ep = {.port = 7};
        struct tad_errinfo ei;
        tad_errinfo_clear(&ei);
        assert_int_equal(tad_aws_endpoint_resolve(TAD_AWS_SQS, bad[i], tenv, &ep, &ei),
                         TAD_ERR_INVALID);
        assert_int_equal(ep.port, 7); /* untouched on failure */
        assert_true(ei.msg[0] != '\0');
    }
    struct tad_aws_endpoint ep;
    assert_int_equal(tad_aws_endpoint_resolve(TAD_AWS_SQS, NULL, tenv, &ep, NULL), TAD_ERR_INVALID);
    assert_int_equal(tad_aws_endpoint_resolve(TAD_AWS_SQS, longreg, tenv, &ep, NULL),
                     TAD_ERR_INVALID);
    assert_int_equal(tad_aws_endpoint_resolve(TAD_AWS__SERVICES, "us-east-1", tenv, &ep, NULL),
                     TAD_ERR_INVALID);
}

/* ---- overrides ---- */

static void override_precedence(void **state)
{
    (void)state;
    struct tad_aws_endpoint ep;
    struct tad_errinfo ei;

    /* the service-specific variable beats the global one */
    env_reset();
    env_set("AWS_ENDPOINT_URL", "http://global.example:1000");
    env_set("AWS_ENDPOINT_URL_SQS", "http://sqs.local:4566");
    env_set("AWS_ENDPOINT_URL_S3", "https://s3.local:9000/minio");
    env_set("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://sm.local:4584");
    assert_int_equal(tad_aws_endpoint_resolve(TAD_AWS_SQS, "us-east-1", tenv, &ep, &ei), TAD_OK);
    assert_string_equal(ep.host, "sqs.local");
    assert_int_equal(ep.port, 4566);
    assert_string_equal(ep.scheme, "http");
    assert_true(ep.overridden);
    assert_int_equal(tad_aws_endpoint_resolve(TAD_AWS_S3, "us-east-1", tenv, &ep, &ei), TAD_OK);
    assert_string_equal(ep.host, "s3.local");
    assert_int_equal(ep.port, 9000);
    assert_string_equal(ep.scheme, "https");
    assert_string_equal(ep.base_path, "/minio");
    assert_true(ep.overridden);
    assert_int_equal(tad_aws_endpoint_resolve(TAD_AWS_SECRETS, "us-east-1", tenv, &ep, &ei),
                     TAD_OK);
    assert_string_equal(ep.host, "sm.local");
    assert_int_equal(ep.port, 4584);
    /* STS has no specific variable: the global one applies */
    assert_int_equal(tad_aws_endpoint_resolve(TAD_AWS_STS, "us-east-1", tenv, &ep, &ei), TAD_OK);
    assert_string_equal(ep.host, "global.example");
    assert_int_equal(ep.port, 1000);
    assert_true(ep.overridden);

    /* an empty service variable falls through to the global one */
    env_set("AWS_ENDPOINT_URL_SQS", "");
    assert_int_equal(tad_aws_endpoint_resolve(TAD_AWS_SQS, "us-east-1", tenv, &ep, &ei), TAD_OK);
    assert_string_equal(ep.host, "global.example");

    /* with overrides, no region is needed */
    assert_int_equal(tad_aws_endpoint_resolve(TAD_AWS_SQS, NULL, tenv, &ep, &ei), TAD_OK);
    assert_string_equal(ep.host, "global.example");

    /* ignored on request (case-insensitive "true") */
    static const char *const truthy[] = {"true", "TRUE", "True"};
    for (size_t i = 0; i < 3; i++) {
        env_set("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", truthy[i]);
        assert_int_equal(tad_aws_endpoint_resolve(TAD_AWS_SQS, "eu-west-1", tenv, &ep, &ei),
                         TAD_OK);
        assert_string_equal(ep.host, "sqs.eu-west-1.amazonaws.com");
        assert_false(ep.overridden);
        assert_int_equal(tad_aws_endpoint_resolve(TAD_AWS_S3, "eu-west-1", tenv, &ep, &ei), TAD_OK);
        assert_string_equal(ep.host, "s3.eu-west-1.amazonaws.com");
        assert_string_equal(ep.base_path, "");
    }
    /* anything else does not disable them */
    env_set("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false");
    assert_int_equal(tad_aws_endpoint_resolve(TAD_AWS_S3, "eu-west-1", tenv, &ep, &ei), TAD_OK);
    assert_string_equal(ep.host, "s3.local");

    /* a bad override is an error, not a silent fallback */
    env_reset();
    env_set("AWS_ENDPOINT_URL_SQS", "ftp://sqs.local");
    tad_errinfo_clear(&ei);
    assert_int_equal(tad_aws_endpoint_resolve(TAD_AWS_SQS, "us-east-1", tenv, &ep, &ei),
                     TAD_ERR_INVALID);
    assert_true(ei.msg[0] != '\0');
}

/* ---- URL parsing ---- */

static void url_parsing(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        const char *scheme, *host;
        unsigned port;
        const char *base;
    } good[] = {
        {"http://localhost:4566", "http", "localhost", 4566, ""},
        {"http://localhost:4566/", "http", "localhost", 4566, ""},
        {"HTTPS://s3.example.com", "https", "s3.example.com", 0, ""},
        {"https://s3.example.com:443/", "https", "s3.example.com", 443, ""},
        {"http://127.0.0.1:1/a/b/", "http", "127.0.0.1", 1, "/a/b"},
        {"http://127.0.0.1:65535/a//", "http", "127.0.0.1", 65535, "/a"},
        {"http://[::1]:4566", "http", "::1", 4566, ""},
        {"https://[fd00:ec2::254]/base", "https", "fd00:ec2::254", 0, "/base"},
        {"http://[::1]", "http", "::1", 0, ""},
        {"http://minio/bucket-root", "http", "minio", 0, "/bucket-root"},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct tad_aws_endpoint ep;
        struct tad_errinfo ei;
        tad_errinfo_clear(&ei);
        tad_err e = tad_aws_endpoint_parse(good[i].url, &ep, &ei);
        if (e != TAD_OK)
            fail_msg("%s: %s", good[i].url, ei.msg);
        assert_string_equal(ep.scheme, good[i].scheme);
        assert_string_equal(ep.host, good[i].host);
        assert_int_equal(ep.port, good[i].port);
        assert_string_equal(ep.base_path, good[i].base);
        assert_false(ep.overridden);
    }

    static const char *const bad[] = {
        "localhost:4566",        "ftp://host",           "http://",
        "http:///path",          "http://:80",           "http://host:",
        "http://host:0",         "http://host:65536",    "http://host:99999999999999999999",
        "http://host:-1",        "http://host:+80",      "http://host: 80",
        "http://host:80x",       "http://host:80?x=1",   "http://user@host",
        "http://user@host:80/",  "http://user:pw@host/", "http://[::1",
        "http://[]:80",          "http://[::1]x",        "http://host?x=1",
        "http://host#frag",      "http://host/?x=1",     "http://host:4566/base?x=1",
        "http://host/base#frag",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct tad_aws_endpoint ep = {.port = 7};
        struct tad_errinfo ei;
        tad_errinfo_clear(&ei);
        if (tad_aws_endpoint_parse(bad[i], &ep, &ei) != TAD_ERR_INVALID)
            fail_msg("accepted bad URL %s", bad[i]);
        assert_int_equal(ep.port, 7);
        assert_true(ei.msg[0] != '\0');
    }
}

/* ---- Host header ---- */

static void host_headers(void **state)
{
    (void)state;
    static const struct {
        const char *scheme, *host;
        unsigned port;
        const char *want;
    } cases[] = {
        {"https", "sqs.us-east-1.amazonaws.com", 0, "sqs.us-east-1.amazonaws.com"},
        {"https", "s3.local", 443, "s3.local"},
        {"http", "s3.local", 80, "s3.local"},
        {"http", "s3.local", 443, "s3.local:443"},
        {"https", "s3.local", 80, "s3.local:80"},
        {"http", "127.0.0.1", 4566, "127.0.0.1:4566"},
        {"http", "::1", 4566, "[::1]:4566"},
        {"https", "fd00:ec2::254", 0, "[fd00:ec2::254]"},
        {"http", "::1", 80, "[::1]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tad_aws_endpoint ep;
        memset(&ep, 0, sizeof(ep));
        snprintf(ep.scheme, sizeof(ep.scheme), "%s", cases[i].scheme);
        snprintf(ep.host, sizeof(ep.host), "%s", cases[i].host);
        ep.port = cases[i].port;
        char out[300];
        tad_aws_endpoint_host_header(&ep, out, sizeof(out));
        assert_string_equal(out, cases[i].want);
    }
    /* a parsed override gives the same answer */
    struct tad_aws_endpoint ep;
    assert_int_equal(tad_aws_endpoint_parse("http://[::1]:8080/x", &ep, NULL), TAD_OK);
    char out[300];
    tad_aws_endpoint_host_header(&ep, out, sizeof(out));
    assert_string_equal(out, "[::1]:8080");
    /* a small buffer is truncated, never overrun */
    char small[5];
    memset(small, 'x', sizeof(small));
    tad_aws_endpoint_host_header(&ep, small, sizeof(small));
    assert_string_equal(small, "[::1");
}

/* ---- S3 addressing ---- */

static void s3_path_style(void **state)
{
    (void)state;
    struct tad_aws_endpoint ep;
    env_reset();
    assert_int_equal(tad_aws_endpoint_resolve(TAD_AWS_S3, "us-east-1", tenv, &ep, NULL), TAD_OK);
    static const struct {
        const char *bucket;
        bool path;
    } cases[] = {
        {"my-bucket", false},
        {"abc", false},
        {"a1b2-c3", false},
        {"123456789012-logs", false},
        /* 63 characters: still a DNS label */
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
        /* 64 characters */
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", true},
        {"ab", true},
        {"", true},
        {"my.bucket", true},
        {"192.168.5.4", true},
        {"MyBucket", true},
        {"my_bucket", true},
        {"-bucket", true},
        {"bucket-", true},
        {"my bucket", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (tad_s3_use_path_style(&ep, cases[i].bucket) != cases[i].path)
            fail_msg("bucket '%s': expected %s", cases[i].bucket,
                     cases[i].path ? "path-style" : "virtual-hosted");

    /* any override forces path style, even for DNS-safe names */
    env_set("AWS_ENDPOINT_URL_S3", "https://s3.example.com");
    assert_int_equal(tad_aws_endpoint_resolve(TAD_AWS_S3, "us-east-1", tenv, &ep, NULL), TAD_OK);
    assert_true(tad_s3_use_path_style(&ep, "my-bucket"));
    assert_true(tad_s3_use_path_style(&ep, "abc"));
}

static void s3_targets(void **state)
{
    (void)state;
    struct tad_aws_endpoint aws_ep, local_ep, base_ep, v6_ep;
    env_reset();
    assert_int_equal(tad_aws_endpoint_resolve(TAD_AWS_S3, "eu-west-1", tenv, &aws_ep, NULL),
                     TAD_OK);
    env_set("AWS_ENDPOINT_URL", "http://127.0.0.1:4566");
    assert_int_equal(tad_aws_endpoint_resolve(TAD_AWS_S3, "eu-west-1", tenv, &local_ep, NULL),
                     TAD_OK);
    env_set("AWS_ENDPOINT_URL", "https://gw.example.com/s3/");
    assert_int_equal(tad_aws_endpoint_resolve(TAD_AWS_S3, "eu-west-1", tenv, &base_ep, NULL),
                     TAD_OK);
    env_set("AWS_ENDPOINT_URL", "http://[::1]:9000");
    assert_int_equal(tad_aws_endpoint_resolve(TAD_AWS_S3, "eu-west-1", tenv, &v6_ep, NULL), TAD_OK);

    const struct {
        const struct tad_aws_endpoint *ep;
        const char *bucket, *key, *query;
        const char *url, *path, *host;
    } cases[] = {
        {&aws_ep, "my-bucket", "a b.csv", NULL,
         "https://my-bucket.s3.eu-west-1.amazonaws.com/a%20b.csv", "/a%20b.csv",
         "my-bucket.s3.eu-west-1.amazonaws.com"},
        {&aws_ep, "my-bucket", "dir/sub dir/x+y=z&w.csv", NULL,
         "https://my-bucket.s3.eu-west-1.amazonaws.com/dir/sub%20dir/x%2By%3Dz%26w.csv",
         "/dir/sub%20dir/x%2By%3Dz%26w.csv", "my-bucket.s3.eu-west-1.amazonaws.com"},
        {&aws_ep, "my-bucket", "caf\xc3\xa9~_-.txt", NULL,
         "https://my-bucket.s3.eu-west-1.amazonaws.com/caf%C3%A9~_-.txt", "/caf%C3%A9~_-.txt",
         "my-bucket.s3.eu-west-1.amazonaws.com"},
        {&aws_ep, "my.bucket", "k%?#:@.csv", NULL,
         "https://s3.eu-west-1.amazonaws.com/my.bucket/k%25%3F%23%3A%40.csv",
         "/my.bucket/k%25%3F%23%3A%40.csv", "s3.eu-west-1.amazonaws.com"},
        {&aws_ep, "MyBucket", "/lead", "versionId=abc",
         "https://s3.eu-west-1.amazonaws.com/MyBucket//lead?versionId=abc", "/MyBucket//lead",
         "s3.eu-west-1.amazonaws.com"},
        {&aws_ep, "my-bucket", "x", "", "https://my-bucket.s3.eu-west-1.amazonaws.com/x", "/x",
         "my-bucket.s3.eu-west-1.amazonaws.com"},
        {&local_ep, "my-bucket", "in/2024 01.csv", "partNumber=1",
         "http://127.0.0.1:4566/my-bucket/in/2024%2001.csv?partNumber=1",
         "/my-bucket/in/2024%2001.csv", "127.0.0.1:4566"},
        {&base_ep, "my-bucket", "a b", NULL, "https://gw.example.com/s3/my-bucket/a%20b",
         "/s3/my-bucket/a%20b", "gw.example.com"},
        {&v6_ep, "b-1", "k", NULL, "http://[::1]:9000/b-1/k", "/b-1/k", "[::1]:9000"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tad_s3_target t;
        assert_int_equal(
            tad_s3_target_build(cases[i].ep, cases[i].bucket, cases[i].key, cases[i].query, &t),
            TAD_OK);
        assert_string_equal(t.url.data, cases[i].url);
        assert_string_equal(t.path.data, cases[i].path);
        assert_string_equal(t.host, cases[i].host);
        tad_s3_target_release(&t);
    }
}

/* ---- region from queue URLs ---- */

static void queue_url_regions(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        const char *region; /* NULL = no region */
    } cases[] = {
        {"https://sqs.us-east-1.amazonaws.com/123456789012/q", "us-east-1"},
        {"https://sqs.eu-central-1.amazonaws.com/123456789012/q.fifo", "eu-central-1"},
        {"https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q", "cn-north-1"},
        {"https://sqs-fips.us-gov-west-1.amazonaws.com/123456789012/q", "us-gov-west-1"},
        {"https://sqs.ap-south-1.api.aws/123456789012/q", "ap-south-1"},
        {"https://eu-west-1.queue.amazonaws.com/123456789012/q", "eu-west-1"},
        {"https://sqs.us-east-1.amazonaws.com:443/123456789012/q", "us-east-1"},
        {"https://queue.amazonaws.com/123456789012/q", NULL},
        {"http://127.0.0.1:5000/123456789012/q", NULL},
        {"http://localhost:4566/000000000000/q", NULL},
        {"http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/q", NULL},
        {"https://sqs..amazonaws.com/1/q", NULL},
        {"https://sqs.us-east-1.amazonaws.com.evil.example/1/q", NULL},
        {"https://eu-west-1.queue.amazonaws.com.evil.example/1/q", NULL},
        {"https://a.b.queue.amazonaws.com/1/q", NULL},
        {"https://sqs.us-east-1.example.com/1/q", NULL},
        {"not a url", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[64] = "untouched";
        bool ok = tad_aws_region_from_queue_url(cases[i].url, out, sizeof(out));
        if (cases[i].region) {
            if (!ok)
                fail_msg("no region from %s", cases[i].url);
            assert_string_equal(out, cases[i].region);
        } else {
            if (ok)
                fail_msg("region '%s' from %s", out, cases[i].url);
        }
    }
    /* too small an output buffer */
    char small[9];
    assert_false(tad_aws_region_from_queue_url("https://sqs.us-east-1.amazonaws.com/1/q", small,
                                               sizeof(small)));
    char exact[10];
    assert_true(tad_aws_region_from_queue_url("https://sqs.us-east-1.amazonaws.com/1/q", exact,
                                              sizeof(exact)));
    assert_string_equal(exact, "us-east-1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(service_names),     cmocka_unit_test(default_hosts),
        cmocka_unit_test(bad_regions),       cmocka_unit_test(override_precedence),
        cmocka_unit_test(url_parsing),       cmocka_unit_test(host_headers),
        cmocka_unit_test(s3_path_style),     cmocka_unit_test(s3_targets),
        cmocka_unit_test(queue_url_regions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
