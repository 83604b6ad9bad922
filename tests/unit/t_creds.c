/* t_creds.c - unit tests for the AWS credential chain: the environment link, the provider's
 * cache / single-flight / refresh logic (fake source, injected clock), the INI reader and the
 * shared-files link (temporary files), and the web-identity, container and instance-metadata
 * links against the scripted loopback HTTP server.
 *
 * The environment is injected through a table-backed lookup (nothing calls setenv).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "loopback_server.h"
#include "tad/aws_creds.h"
#include "tad/creds_sources.h"
#include "tad/http.h"
#include "tad/ini.h"

/* ---- injected environment ---------------------------------------------------------------- */

#define ENV_MAX 32
static char env_names[ENV_MAX][64];
static char env_values[ENV_MAX][512];
static size_t env_n;

static const char *tenv(const char *name)
{
    for (size_t i = 0; i < env_n; i++)
        if (strcmp(env_names[i], name) == 0)
            return env_values[i];
    return NULL;
}

static void env_set(const char *name, const char *value)
{
    size_t i;
    for (i = 0; i < env_n; i++)
        if (strcmp(env_names[i], name) == 0)
            break;
    assert_true(i < ENV_MAX);
    if (i == env_n)
        env_n++;
    snprintf(env_names[i], sizeof(env_names[i]), "%s", name);
    snprintf(env_values[i], sizeof(env_values[i]), "%s", value);
}

static void env_reset(void)
{
    env_n = 0;
    env_set("HOME", "/nonexistent-home-for-tests");
}

/* ---- injected clock ---------------------------------------------------------------------- */

static _Atomic long long fake_now = 1700000000;

static time_t clock_now(void *ctx)
{
    (void)ctx;
    return (time_t)atomic_load(&fake_now);
}

static struct tad_creds_opts test_opts(void)
{
    struct tad_creds_opts o = {.env = tenv, .now = clock_now, .no_refresh_thread = true};
    return o;
}

/* ---- files ------------------------------------------------------------------------------- */

static char tmpdir[64];

static void write_file(const char *name, const char *text, char *path, size_t pathsz)
{
    int n = snprintf(path, pathsz, "%s/%s", tmpdir, name);
    assert_true(n > 0 && (size_t)n < pathsz);
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0);
}

/* ---- loopback server helpers -------------------------------------------------------------- */

static void push_reply(struct lbs *s, int status, const char *ctype, const char *body)
{
    char head[256];
    snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
             status, ctype, strlen(body));
    struct lbs_reply r = {.head = head, .body = body, .body_len = strlen(body)};
    assert_int_equal(lbs_push(s, &r), 0);
}

static void base_url(struct lbs *s, char *out, size_t outsz, const char *path)
{
    snprintf(out, outsz, "http://127.0.0.1:%d%s", lbs_port(s), path);
}

static bool request_line_is(const struct lbs_request *r, const char *line)
{
    return r && strncmp(r->raw, line, strlen(line)) == 0 && r->raw[strlen(line)] == '\r';
}

static void assert_header(const struct lbs_request *r, const char *name, const char *want)
{
    char *v = lbs_header(r, name);
    if (want) {
        assert_non_null(v);
        assert_string_equal(v, want);
    } else {
        assert_null(v);
    }
    free(v);
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ================================ environment link ================================ */

static tad_err fetch_once(tad_err (*ctor)(const struct tad_creds_opts *, struct tad_creds_source *),
                          struct tad_aws_creds **ret, struct tad_errinfo *ei)
{
    struct tad_creds_opts o = test_opts();
    struct tad_creds_source src;
    assert_int_equal(ctor(&o, &src), TAD_OK);
    tad_errinfo_clear(ei);
    tad_err e = src.fetch(src.ctx, ret, ei);
    src.free(src.ctx);
    return e;
}

static void env_link(void **state)
{
    (void)state;
    env_reset();
    struct tad_aws_creds *c = NULL;
    struct tad_errinfo ei;
    assert_int_equal(fetch_once(tad_creds_source_env, &c, &ei), TAD_ERR_NOT_FOUND);

    env_set("AWS_ACCESS_KEY_ID", "AKIDENV");
    assert_int_equal(fetch_once(tad_creds_source_env, &c, &ei), TAD_ERR_AUTH);
    assert_non_null(strstr(ei.msg, "AWS_SECRET_ACCESS_KEY"));

    env_set("AWS_SECRET_ACCESS_KEY", "secretenv");
    env_set("AWS_SECURITY_TOKEN", "oldtok");
    env_set("AWS_CREDENTIAL_EXPIRATION", "2030-01-02T03:04:05Z");
    assert_int_equal(fetch_once(tad_creds_source_env, &c, &ei), TAD_OK);
    assert_string_equal(c->access_key_id, "AKIDENV");
    assert_string_equal(c->secret_access_key, "secretenv");
    assert_string_equal(c->session_token, "oldtok");
    assert_string_equal(c->source, "environment");
    assert_int_equal(c->expiration, 1893553445);
    c = tad_aws_creds_unref(c);

    env_set("AWS_SESSION_TOKEN", "newtok");
    assert_int_equal(fetch_once(tad_creds_source_env, &c, &ei), TAD_OK);
    assert_string_equal(c->session_token, "newtok");
    c = tad_aws_creds_unref(c);

    env_set("AWS_CREDENTIAL_EXPIRATION", "tomorrow");
    assert_int_equal(fetch_once(tad_creds_source_env, &c, &ei), TAD_ERR_AUTH);
}

static void iso8601(void **state)
{
    (void)state;
    time_t t = 0;
    assert_int_equal(tad_parse_iso8601("2020-11-05T02:02:26Z", &t), TAD_OK);
    assert_int_equal(t, 1604541746);
    assert_int_equal(tad_parse_iso8601("2020-11-05T02:02:26.123Z", &t), TAD_OK);
    assert_int_equal(t, 1604541746);
    assert_int_equal(tad_parse_iso8601("2020-13-05T02:02:26Z", &t), TAD_ERR_PARSE);
    assert_int_equal(tad_parse_iso8601("2020-11-05 junk", &t), TAD_ERR_PARSE);
}

/* ================================ provider with a fake source ================================ */

enum fake_mode { FAKE_OK = 0, FAKE_FAIL, FAKE_NOT_FOUND, FAKE_EXPIRED };

struct fake_src {
    const char *key;
    enum fake_mode mode;
    long life; /* seconds; 0 = no expiry */
    unsigned delay_ms;
    atomic_int calls;
    atomic_int serial;
};

static tad_err fake_fetch(void *vctx, struct tad_aws_creds **ret, struct tad_errinfo *err)
{
    struct fake_src *f = vctx;
    atomic_fetch_add(&f->calls, 1);
    if (f->delay_ms)
        usleep(f->delay_ms * 1000);
    if (f->mode == FAKE_NOT_FOUND)
        return TAD_ERR_NOT_FOUND;
    if (f->mode == FAKE_FAIL)
        return tad_errinfo_set(err, TAD_ERR_NETWORK, "fake %s is down", f->key);
    char ak[64];
    snprintf(ak, sizeof(ak), "%s-%d", f->key, atomic_fetch_add(&f->serial, 1) + 1);
    time_t now = clock_now(NULL);
    time_t exp = f->mode == FAKE_EXPIRED ? now - 10 : f->life ? now + f->life : 0;
    struct tad_aws_creds *c = tad_aws_creds_new(ak, "sk", "tok", exp, "fake");
    if (!c)
        return TAD_ERR_NOMEM;
    *ret = c;
    return TAD_OK;
}

static struct tad_creds_provider *fake_provider(struct fake_src **fs, size_t n)
{
    struct tad_creds_source *src = calloc(n, sizeof(*src));
    assert_non_null(src);
    for (size_t i = 0; i < n; i++)
        src[i] = (struct tad_creds_source){fs[i]->key, fake_fetch, NULL, fs[i]};
    struct tad_creds_opts o = test_opts();
    struct tad_creds_provider *p = NULL;
    assert_int_equal(tad_creds_provider_new_chain(&o, src, n, &p), TAD_OK);
    return p;
}

struct getter {
    struct tad_creds_provider *p;
    struct tad_aws_creds *got;
    tad_err e;
};

static void *getter_main(void *arg)
{
    struct getter *g = arg;
    g->e = tad_creds_get(g->p, &g->got, NULL);
    return NULL;
}

static void single_flight(void **state)
{
    (void)state;
    struct fake_src a = {.key = "A", .life = 3600, .delay_ms = 200};
    struct fake_src *fs[] = {&a};
    struct tad_creds_provider *p = fake_provider(fs, 1);
    enum { N = 8 };
    struct getter g[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        g[i] = (struct getter){.p = p};
        assert_int_equal(pthread_create(&th[i], NULL, getter_main, &g[i]), 0);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(atomic_load(&a.calls), 1);
    for (int i = 0; i < N; i++) {
        assert_int_equal(g[i].e, TAD_OK);
        assert_ptr_equal(g[i].got, g[0].got);
        assert_string_equal(g[i].got->access_key_id, "A-1");
        tad_aws_creds_unref(g[i].got);
    }
    assert_string_equal(tad_creds_source_name(p), "A");
    tad_creds_provider_free(p);
}

static void refresh_schedule_and_failure(void **state)
{
    (void)state;
    atomic_store(&fake_now, 1700000000);
    struct fake_src a = {.key = "A", .life = 3600};
    struct fake_src *fs[] = {&a};
    struct tad_creds_provider *p = fake_provider(fs, 1);
    assert_int_equal(tad_creds_refresh_due(p), 0); /* nothing fetched, nothing scheduled */
    struct tad_aws_creds *c1 = NULL, *c2 = NULL;
    assert_int_equal(tad_creds_get(p, &c1, NULL), TAD_OK);
    /* 15 minutes before expiry */
    assert_int_equal(tad_creds_refresh_due(p), 3600 - 900);
    assert_int_equal(tad_creds_get(p, &c2, NULL), TAD_OK); /* cached */
    assert_ptr_equal(c1, c2);
    c2 = tad_aws_creds_unref(c2);
    assert_int_equal(atomic_load(&a.calls), 1);

    /* at the refresh time the source fails: the old credentials stay in use */
    atomic_fetch_add(&fake_now, 2700);
    a.mode = FAKE_FAIL;
    unsigned wait = tad_creds_refresh_due(p);
    assert_int_equal(atomic_load(&a.calls), 2);
    assert_true(wait >= 1 && wait <= 300); /* retried with backoff */
    assert_int_equal(tad_creds_get(p, &c2, NULL), TAD_OK);
    assert_ptr_equal(c1, c2);
    c2 = tad_aws_creds_unref(c2);
    assert_int_equal(atomic_load(&a.calls), 2);

    /* once they have expired, get fetches and reports the failure */
    atomic_fetch_add(&fake_now, 900);
    struct tad_errinfo ei;
    tad_errinfo_clear(&ei);
    assert_int_not_equal(tad_creds_get(p, &c2, &ei), TAD_OK);
    assert_non_null(strstr(ei.msg, "fake A is down"));

    /* the source recovers */
    a.mode = FAKE_OK;
    assert_int_equal(tad_creds_get(p, &c2, NULL), TAD_OK);
    assert_string_equal(c2->access_key_id, "A-2");
    c2 = tad_aws_creds_unref(c2);
    c1 = tad_aws_creds_unref(c1);
    tad_creds_provider_free(p);
}

static void refresh_half_life(void **state)
{
    (void)state;
    atomic_store(&fake_now, 1700000000);
    struct fake_src a = {.key = "A", .life = 1200};
    struct fake_src *fs[] = {&a};
    struct tad_creds_provider *p = fake_provider(fs, 1);
    struct tad_aws_creds *c = NULL;
    assert_int_equal(tad_creds_get(p, &c, NULL), TAD_OK);
    c = tad_aws_creds_unref(c);
    assert_int_equal(tad_creds_refresh_due(p), 600);
    atomic_fetch_add(&fake_now, 599);
    assert_int_equal(tad_creds_refresh_due(p), 1);
    assert_int_equal(atomic_load(&a.calls), 1);
    atomic_fetch_add(&fake_now, 1);
    assert_int_equal(tad_creds_refresh_due(p), 600); /* refreshed: new 1200 s credentials */
    assert_int_equal(atomic_load(&a.calls), 2);
    assert_int_equal(tad_creds_get(p, &c, NULL), TAD_OK);
    assert_string_equal(c->access_key_id, "A-2");
    c = tad_aws_creds_unref(c);
    tad_creds_provider_free(p);
}

static void invalidate_refetches(void **state)
{
    (void)state;
    struct fake_src a = {.key = "A", .life = 0};
    struct fake_src *fs[] = {&a};
    struct tad_creds_provider *p = fake_provider(fs, 1);
    struct tad_aws_creds *c1 = NULL, *c2 = NULL;
    assert_int_equal(tad_creds_get(p, &c1, NULL), TAD_OK);
    assert_int_equal(tad_creds_refresh_due(p), 0); /* no expiry: nothing scheduled */
    tad_creds_invalidate(p, c1);
    assert_int_equal(tad_creds_get(p, &c2, NULL), TAD_OK);
    assert_int_equal(atomic_load(&a.calls), 2);
    assert_ptr_not_equal(c1, c2);
    assert_string_equal(c2->access_key_id, "A-2");
    /* invalidating a snapshot that is no longer current changes nothing */
    tad_creds_invalidate(p, c1);
    struct tad_aws_creds *c3 = NULL;
    assert_int_equal(tad_creds_get(p, &c3, NULL), TAD_OK);
    assert_ptr_equal(c2, c3);
    tad_aws_creds_unref(c1);
    tad_aws_creds_unref(c2);
    tad_aws_creds_unref(c3);
    tad_creds_provider_free(p);
}

static void chain_order(void **state)
{
    (void)state;
    struct fake_src a = {.key = "A", .mode = FAKE_NOT_FOUND};
    struct fake_src b = {.key = "B"};
    struct fake_src c = {.key = "C"};
    struct fake_src *fs[] = {&a, &b, &c};
    struct tad_creds_provider *p = fake_provider(fs, 3);
    struct tad_aws_creds *got = NULL;
    assert_int_equal(tad_creds_get(p, &got, NULL), TAD_OK);
    assert_string_equal(got->access_key_id, "B-1");
    assert_string_equal(tad_creds_source_name(p), "B");
    assert_int_equal(atomic_load(&c.calls), 0);
    tad_creds_invalidate(p, got);
    got = tad_aws_creds_unref(got);
    /* the chosen source is asked again first */
    assert_int_equal(tad_creds_get(p, &got, NULL), TAD_OK);
    assert_int_equal(atomic_load(&a.calls), 1);
    got = tad_aws_creds_unref(got);
    tad_creds_provider_free(p);

    /* a configured source that fails stops the chain */
    struct fake_src a2 = {.key = "A", .mode = FAKE_NOT_FOUND};
    struct fake_src b2 = {.key = "B", .mode = FAKE_FAIL};
    struct fake_src c2 = {.key = "C"};
    struct fake_src *fs2[] = {&a2, &b2, &c2};
    p = fake_provider(fs2, 3);
    struct tad_errinfo ei;
    tad_errinfo_clear(&ei);
    assert_int_equal(tad_creds_get(p, &got, &ei), TAD_ERR_NETWORK);
    assert_non_null(strstr(ei.msg, "fake B"));
    assert_int_equal(atomic_load(&c2.calls), 0);
    tad_creds_provider_free(p);

    /* nothing configured anywhere */
    struct fake_src a3 = {.key = "A", .mode = FAKE_NOT_FOUND};
    struct fake_src *fs3[] = {&a3};
    p = fake_provider(fs3, 1);
    assert_int_equal(tad_creds_get(p, &got, &ei), TAD_ERR_AUTH);
    assert_non_null(strstr(ei.msg, "no AWS credentials"));
    tad_creds_provider_free(p);

    /* a source that hands out expired credentials is an error, not a busy loop */
    struct fake_src a4 = {.key = "A", .mode = FAKE_EXPIRED};
    struct fake_src *fs4[] = {&a4};
    p = fake_provider(fs4, 1);
    assert_int_equal(tad_creds_get(p, &got, &ei), TAD_ERR_AUTH);
    assert_int_equal(atomic_load(&a4.calls), 1);
    tad_creds_provider_free(p);
}

/* ================================ INI and shared files ================================ */

static void ini_parser(void **state)
{
    (void)state;
    static const char text[] = "# top comment\n"
                               "; another\n"
                               "[default]\n"
                               "  region = eu-west-1   \n"
                               "key=value # trailing comment\n"
                               "s3 =\n"
                               "    max_concurrent_requests = 20\n"
                               "    addressing_style = path\n"
                               "after = yes\n"
                               "url = http://x/#frag\n"
                               "\n"
                               "[profile   dev]\r\n"
                               "region = us-east-2\r\n"
                               "[default]\n"
                               "key = second\n";
    struct tad_ini *ini = NULL;
    struct tad_errinfo ei;
    assert_int_equal(tad_ini_parse(text, strlen(text), &ini, &ei), TAD_OK);
    assert_true(tad_ini_has_section(ini, "default"));
    assert_true(tad_ini_has_section(ini, "profile dev"));
    assert_false(tad_ini_has_section(ini, "dev"));
    assert_string_equal(tad_ini_get(ini, "default", "region"), "eu-west-1");
    assert_string_equal(tad_ini_get(ini, "default", "key"), "second");
    assert_string_equal(tad_ini_get(ini, "default", "s3"), "");
    assert_null(tad_ini_get(ini, "default", "max_concurrent_requests"));
    assert_string_equal(tad_ini_get(ini, "default", "after"), "yes");
    assert_string_equal(tad_ini_get(ini, "default", "url"), "http://x/#frag");
    assert_string_equal(tad_ini_get(ini, "profile dev", "region"), "us-east-2");
    assert_null(tad_ini_get(ini, "profile dev", "key"));
    tad_ini_free(ini);

    static const char bad1[] = "[default]\nregion = a\njunk line\n";
    tad_errinfo_clear(&ei);
    assert_int_equal(tad_ini_parse(bad1, strlen(bad1), &ini, &ei), TAD_ERR_PARSE);
    assert_non_null(strstr(ei.msg, "line 3"));
    static const char bad2[] = "region = a\n";
    assert_int_equal(tad_ini_parse(bad2, strlen(bad2), &ini, &ei), TAD_ERR_PARSE);
    static const char bad3[] = "[default\n";
    assert_int_equal(tad_ini_parse(bad3, strlen(bad3), &ini, &ei), TAD_ERR_PARSE);
    assert_int_equal(tad_ini_load("/nonexistent/file", &ini, &ei), TAD_ERR_NOT_FOUND);
}

static void profile_files(void **state)
{
    (void)state;
    env_reset();
    char cpath[512], fpath[512], missing[512];
    snprintf(missing, sizeof(missing), "%s/missing", tmpdir);
    struct tad_aws_creds *c = NULL;
    struct tad_errinfo ei;

    /* no files at all */
    env_set("AWS_SHARED_CREDENTIALS_FILE", missing);
    env_set("AWS_CONFIG_FILE", missing);
    assert_int_equal(fetch_once(tad_creds_source_profile, &c, &ei), TAD_ERR_NOT_FOUND);

    write_file("credentials",
               "[default]\naws_access_key_id = AKIDCRED\naws_secret_access_key = credsecret\n"
               "[both]\naws_access_key_id = AKIDBOTHCRED\naws_secret_access_key = s1\n"
               "[half]\naws_access_key_id = AKIDHALF\n",
               cpath, sizeof(cpath));
    write_file("config",
               "[default]\nregion = eu-west-1\n"
               "[profile dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = devsecret\n"
               "aws_session_token = devtoken\n"
               "[profile both]\naws_access_key_id = AKIDBOTHCFG\naws_secret_access_key = s2\n"
               "[profile roleonly]\nrole_arn = arn:aws:iam::1:role/r\n",
               fpath, sizeof(fpath));
    env_set("AWS_SHARED_CREDENTIALS_FILE", cpath);
    env_set("AWS_CONFIG_FILE", fpath);

    assert_int_equal(fetch_once(tad_creds_source_profile, &c, &ei), TAD_OK);
    assert_string_equal(c->access_key_id, "AKIDCRED");
    assert_string_equal(c->source, "profile");
    assert_null(c->session_token);
    assert_int_equal(c->expiration, 0);
    c = tad_aws_creds_unref(c);

    env_set("AWS_DEFAULT_PROFILE", "dev");
    assert_int_equal(fetch_once(tad_creds_source_profile, &c, &ei), TAD_OK);
    assert_string_equal(c->access_key_id, "AKIDDEV");
    assert_string_equal(c->session_token, "devtoken");
    c = tad_aws_creds_unref(c);

    env_set("AWS_PROFILE", "both"); /* AWS_PROFILE wins; credentials file wins over config */
    assert_int_equal(fetch_once(tad_creds_source_profile, &c, &ei), TAD_OK);
    assert_string_equal(c->access_key_id, "AKIDBOTHCRED");
    assert_string_equal(c->secret_access_key, "s1");
    c = tad_aws_creds_unref(c);

    env_set("AWS_PROFILE", "roleonly"); /* no static keys: a later link's business */
    assert_int_equal(fetch_once(tad_creds_source_profile, &c, &ei), TAD_ERR_NOT_FOUND);

    env_set("AWS_PROFILE", "half");
    assert_int_equal(fetch_once(tad_creds_source_profile, &c, &ei), TAD_ERR_AUTH);

    env_set("AWS_PROFILE", "nosuch");
    assert_int_equal(fetch_once(tad_creds_source_profile, &c, &ei), TAD_ERR_AUTH);
    assert_non_null(strstr(ei.msg, "'nosuch' not found"));

    /* the profile loader used by other links */
    env_set("AWS_PROFILE", "dev");
    struct tad_aws_profile prof;
    assert_int_equal(tad_aws_profile_load(tenv, &prof, &ei), TAD_OK);
    assert_true(prof.exists);
    assert_true(prof.explicit_name);
    assert_string_equal(tad_aws_profile_get(&prof, "aws_session_token"), "devtoken");
    assert_null(tad_aws_profile_get(&prof, "region"));
    tad_aws_profile_release(&prof);
    env_set("AWS_PROFILE", "");
    env_set("AWS_DEFAULT_PROFILE", "");
    assert_int_equal(tad_aws_profile_load(tenv, &prof, &ei), TAD_OK);
    assert_false(prof.explicit_name);
    assert_string_equal(prof.name, "default");
    assert_string_equal(tad_aws_profile_get(&prof, "region"), "eu-west-1");
    tad_aws_profile_release(&prof);

    /* files are re-read on every fetch: rotation is seen */
    struct tad_creds_opts o = test_opts();
    struct tad_creds_source src;
    assert_int_equal(tad_creds_source_profile(&o, &src), TAD_OK);
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_OK);
    assert_string_equal(c->access_key_id, "AKIDCRED");
    c = tad_aws_creds_unref(c);
    write_file("credentials",
               "[default]\naws_access_key_id = AKIDROTATED\naws_secret_access_key = x\n", cpath,
               sizeof(cpath));
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_OK);
    assert_string_equal(c->access_key_id, "AKIDROTATED");
    c = tad_aws_creds_unref(c);
    src.free(src.ctx);

    /* default locations under HOME */
    env_reset();
    char awsdir[512];
    snprintf(awsdir, sizeof(awsdir), "%s/.aws", tmpdir);
    assert_int_equal(mkdir(awsdir, 0700), 0);
    write_file(".aws/credentials",
               "[default]\naws_access_key_id = AKIDHOME\naws_secret_access_key = h\n", cpath,
               sizeof(cpath));
    env_set("HOME", tmpdir);
    assert_int_equal(fetch_once(tad_creds_source_profile, &c, &ei), TAD_OK);
    assert_string_equal(c->access_key_id, "AKIDHOME");
    c = tad_aws_creds_unref(c);
    unlink(cpath);
    rmdir(awsdir);
}

/* ================================ web identity ================================ */

static const char sts_ok[] =
    "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
    "  <AssumeRoleWithWebIdentityResult>\n"
    "    <SubjectFromWebIdentityToken>sub</SubjectFromWebIdentityToken>\n"
    "    <AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/R/s</Arn></AssumedRoleUser>\n"
    "    <Credentials>\n"
    "      <SessionToken>FwoG&amp;tok&lt;en&gt;&quot;&apos;&#65;&#x42;</SessionToken>\n"
    "      <SecretAccessKey>wJalrSTS</SecretAccessKey>\n"
    "      <Expiration>2030-01-01T00:00:00Z</Expiration>\n"
    "      <AccessKeyId>ASIASTS%d</AccessKeyId>\n"
    "    </Credentials>\n"
    "  </AssumeRoleWithWebIdentityResult>\n"
    "  <ResponseMetadata><RequestId>rid-1</RequestId></ResponseMetadata>\n"
    "</AssumeRoleWithWebIdentityResponse>\n";

static void push_sts_ok(struct lbs *s, int n)
{
    char body[2048];
    snprintf(body, sizeof(body), sts_ok, n);
    push_reply(s, 200, "text/xml", body);
}

static void push_sts_error(struct lbs *s, int status, const char *code)
{
    char body[1024];
    snprintf(body, sizeof(body),
             "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>"
             "<Type>Sender</Type><Code>%s</Code><Message>it &amp; failed</Message></Error>"
             "<RequestId>rid-err</RequestId></ErrorResponse>",
             code);
    push_reply(s, status, "text/xml", body);
}

static void web_identity(void **state)
{
    (void)state;
    struct lbs *s = lbs_start();
    assert_non_null(s);
    env_reset();
    char url[128], tokpath[512];
    base_url(s, url, sizeof(url), "");
    env_set("AWS_ENDPOINT_URL_STS", url);
    env_set("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/c");
    env_set("AWS_CONFIG_FILE", "/nonexistent/c");
    struct tad_creds_opts o = test_opts();
    struct tad_creds_source src;
    struct tad_aws_creds *c = NULL;
    struct tad_errinfo ei;
    assert_int_equal(tad_creds_source_web_identity(&o, &src), TAD_OK);
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_ERR_NOT_FOUND);

    write_file("wi-token", "eyJ.first+token/=\n", tokpath, sizeof(tokpath));
    env_set("AWS_WEB_IDENTITY_TOKEN_FILE", tokpath);
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_ERR_AUTH); /* no role ARN */
    env_set("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/app role");
    env_set("AWS_ROLE_SESSION_NAME", "sess-1");

    /* success */
    push_sts_ok(s, 1);
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_OK);
    assert_string_equal(c->access_key_id, "ASIASTS1");
    assert_string_equal(c->secret_access_key, "wJalrSTS");
    assert_string_equal(c->session_token, "FwoG&tok<en>\"'AB");
    assert_string_equal(c->source, "web-identity");
    assert_int_equal(c->expiration, 1893456000);
    c = tad_aws_creds_unref(c);
    assert_int_equal(lbs_count(s), 1);
    const struct lbs_request *r = lbs_get(s, 0);
    assert_true(request_line_is(r, "POST / HTTP/1.1"));
    assert_header(r, "Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
    assert_header(r, "X-Amz-Api-Version", "2011-06-15");
    assert_header(r, "Authorization", NULL);
    assert_string_equal(r->body, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15"
                                 "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fapp%20role"
                                 "&RoleSessionName=sess-1"
                                 "&WebIdentityToken=eyJ.first%2Btoken%2F%3D");

    /* a non-retryable STS error */
    push_sts_error(s, 403, "AccessDenied");
    tad_errinfo_clear(&ei);
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_ERR_AUTH);
    assert_string_equal(ei.code, "AccessDenied");
    assert_string_equal(ei.request_id, "rid-err");
    assert_int_equal(ei.http_status, 403);
    assert_non_null(strstr(ei.msg, "it & failed"));
    assert_int_equal(lbs_count(s), 2);

    /* IDPCommunicationError is retried; the token file is read again for each request */
    push_sts_error(s, 400, "IDPCommunicationError");
    push_sts_ok(s, 2);
    write_file("wi-token", "second-token", tokpath, sizeof(tokpath));
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_OK);
    assert_string_equal(c->access_key_id, "ASIASTS2");
    c = tad_aws_creds_unref(c);
    assert_int_equal(lbs_count(s), 4);
    assert_non_null(strstr(lbs_get(s, 3)->body, "&WebIdentityToken=second-token"));

    /* retries stop after three attempts */
    push_sts_error(s, 400, "InvalidIdentityToken");
    push_sts_error(s, 500, "InternalFailure");
    push_sts_error(s, 400, "IDPCommunicationError");
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_ERR_AUTH);
    assert_string_equal(ei.code, "IDPCommunicationError");
    assert_int_equal(lbs_count(s), 7);

    /* a garbled success body */
    push_reply(s, 200, "text/xml",
               "<AssumeRoleWithWebIdentityResponse><Credentials>"
               "<AccessKeyId>A</AccessKeyId></Credentials>");
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_ERR_PARSE);
    push_reply(s, 200, "text/xml",
               "<Credentials><AccessKeyId>A&bogus;</AccessKeyId><SecretAccessKey>s"
               "</SecretAccessKey><SessionToken>t</SessionToken><Expiration>"
               "2030-01-01T00:00:00Z</Expiration></Credentials>");
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_ERR_PARSE);
    src.free(src.ctx);
    lbs_stop(s);
}

static void web_identity_from_profile(void **state)
{
    (void)state;
    struct lbs *s = lbs_start();
    assert_non_null(s);
    env_reset();
    char url[128], tokpath[512], cfg[512], body[1024];
    base_url(s, url, sizeof(url), "");
    env_set("AWS_ENDPOINT_URL", url);
    write_file("wi-token2", "profile-token", tokpath, sizeof(tokpath));
    snprintf(body, sizeof(body),
             "[profile irsa]\nrole_arn = arn:aws:iam::1:role/p\nweb_identity_token_file = %s\n"
             "role_session_name = from-profile\n",
             tokpath);
    write_file("config-wi", body, cfg, sizeof(cfg));
    env_set("AWS_CONFIG_FILE", cfg);
    env_set("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/c");
    env_set("AWS_PROFILE", "irsa");
    push_sts_ok(s, 9);
    struct tad_aws_creds *c = NULL;
    struct tad_errinfo ei;
    /* the static-key link passes, the web-identity link answers */
    assert_int_equal(fetch_once(tad_creds_source_profile, &c, &ei), TAD_ERR_NOT_FOUND);
    assert_int_equal(fetch_once(tad_creds_source_web_identity, &c, &ei), TAD_OK);
    assert_string_equal(c->access_key_id, "ASIASTS9");
    c = tad_aws_creds_unref(c);
    assert_string_equal(lbs_get(s, 0)->body,
                        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15"
                        "&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fp"
                        "&RoleSessionName=from-profile&WebIdentityToken=profile-token");
    lbs_stop(s);
}

/* ================================ container ================================ */

static const char container_json[] =
    "{\"AccessKeyId\":\"ASIACONT%d\",\"SecretAccessKey\":\"contsecret\",\"Token\":\"conttok\","
    "\"Expiration\":\"2030-01-01T00:00:00Z\",\"RoleArn\":\"arn:x\",\"AccountId\":\"1\"}";

static void push_container_ok(struct lbs *s, int n)
{
    char body[512];
    snprintf(body, sizeof(body), container_json, n);
    push_reply(s, 200, "application/json", body);
}

static void container(void **state)
{
    (void)state;
    struct lbs *s = lbs_start();
    assert_non_null(s);
    env_reset();
    char url[128], tokpath[512];
    struct tad_creds_opts o = test_opts();
    struct tad_creds_source src;
    struct tad_aws_creds *c = NULL;
    struct tad_errinfo ei;
    assert_int_equal(tad_creds_source_container(&o, &src), TAD_OK);
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_ERR_NOT_FOUND);

    base_url(s, url, sizeof(url), "/v2/credentials/abc");
    env_set("AWS_CONTAINER_CREDENTIALS_FULL_URI", url);
    env_set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer env-token");
    push_container_ok(s, 1);
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_OK);
    assert_string_equal(c->access_key_id, "ASIACONT1");
    assert_string_equal(c->secret_access_key, "contsecret");
    assert_string_equal(c->session_token, "conttok");
    assert_string_equal(c->source, "container");
    assert_int_equal(c->expiration, 1893456000);
    c = tad_aws_creds_unref(c);
    const struct lbs_request *r = lbs_get(s, 0);
    assert_true(request_line_is(r, "GET /v2/credentials/abc HTTP/1.1"));
    assert_header(r, "Accept", "application/json");
    assert_header(r, "Authorization", "Bearer env-token");

    /* the token file wins and is re-read every time */
    write_file("cont-token", "file-token-1\n", tokpath, sizeof(tokpath));
    env_set("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokpath);
    push_container_ok(s, 2);
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_OK);
    c = tad_aws_creds_unref(c);
    assert_header(lbs_get(s, 1), "Authorization", "file-token-1");
    write_file("cont-token", "file-token-2", tokpath, sizeof(tokpath));
    push_reply(s, 500, "text/plain", "busy"); /* retried */
    push_container_ok(s, 3);
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_OK);
    assert_string_equal(c->access_key_id, "ASIACONT3");
    c = tad_aws_creds_unref(c);
    assert_int_equal(lbs_count(s), 4);
    assert_header(lbs_get(s, 3), "Authorization", "file-token-2");

    /* a token with a line break is refused before any request */
    write_file("cont-token", "evil\r\nX-Injected: 1", tokpath, sizeof(tokpath));
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_ERR_INVALID);
    env_set("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "");
    env_set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "evil\nX: y");
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_ERR_INVALID);
    assert_int_equal(lbs_count(s), 4);

    /* a client error is final */
    env_set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "");
    push_reply(s, 403, "application/json", "{\"code\":\"Denied\"}");
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_ERR_AUTH);
    assert_int_equal(ei.http_status, 403);
    assert_int_equal(lbs_count(s), 5);
    assert_header(lbs_get(s, 4), "Authorization", NULL);

    /* malformed documents */
    push_reply(s, 200, "application/json", "{\"AccessKeyId\":\"A\"}");
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_ERR_PARSE);
    push_reply(s, 200, "application/json", "not json");
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_ERR_PARSE);

    /* plain http only to loopback and the container metadata addresses */
    static const char *const refused[] = {
        "http://example.com/creds", "http://169.254.169.254/creds", "http://10.0.0.1/x",
        "http://[fd00:ec2::24]/x",  "http://127.0.0.1@evil.com/x",  "ftp://127.0.0.1/x"};
    size_t before = lbs_count(s);
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        env_set("AWS_CONTAINER_CREDENTIALS_FULL_URI", refused[i]);
        tad_errinfo_clear(&ei);
        assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_ERR_INVALID);
        assert_non_null(strstr(ei.msg, "FULL_URI"));
    }
    assert_int_equal(lbs_count(s), before);

    /* localhost by name is allowed (a new client: the server serves one connection at a time) */
    src.free(src.ctx);
    assert_int_equal(tad_creds_source_container(&o, &src), TAD_OK);
    char lh[128];
    snprintf(lh, sizeof(lh), "http://localhost:%d/c", lbs_port(s));
    env_set("AWS_CONTAINER_CREDENTIALS_FULL_URI", lh);
    push_container_ok(s, 4);
    tad_err e = src.fetch(src.ctx, &c, &ei);
    if (e == TAD_OK) /* localhost may resolve to ::1 first on some hosts; the server is v4 */
        c = tad_aws_creds_unref(c);
    else
        assert_int_equal(e, TAD_ERR_NETWORK);
    src.free(src.ctx);
    lbs_stop(s);
}

/* ================================ instance metadata ================================ */

static const char imds_json[] =
    "{\"Code\":\"Success\",\"LastUpdated\":\"2020-11-04T19:38:27Z\",\"Type\":\"AWS-HMAC\","
    "\"AccessKeyId\":\"ASIAIMDS%d\",\"SecretAccessKey\":\"imdssecret\",\"Token\":\"imdstok\","
    "\"Expiration\":\"2030-01-01T00:00:00Z\"}";

static void push_imds_creds(struct lbs *s, int n)
{
    char body[512];
    snprintf(body, sizeof(body), imds_json, n);
    push_reply(s, 200, "text/plain", body);
}

static void imds_env(struct lbs *s)
{
    char url[128];
    env_reset();
    base_url(s, url, sizeof(url), "/");
    env_set("AWS_EC2_METADATA_SERVICE_ENDPOINT", url);
}

static void imds_v2(void **state)
{
    (void)state;
    struct lbs *s = lbs_start();
    assert_non_null(s);
    imds_env(s);
    struct tad_creds_opts o = test_opts();
    struct tad_creds_source src;
    struct tad_aws_creds *c = NULL;
    struct tad_errinfo ei;
    assert_int_equal(tad_creds_source_imds(&o, &src), TAD_OK);
    push_reply(s, 200, "text/plain", "TOKEN-ONE");
    push_reply(s, 200, "text/plain", "my-role\nother\n");
    push_imds_creds(s, 1);
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_OK);
    assert_string_equal(c->access_key_id, "ASIAIMDS1");
    assert_string_equal(c->secret_access_key, "imdssecret");
    assert_string_equal(c->session_token, "imdstok");
    assert_string_equal(c->source, "imds");
    assert_int_equal(c->expiration, 1893456000);
    c = tad_aws_creds_unref(c);
    assert_int_equal(lbs_count(s), 3);
    const struct lbs_request *r = lbs_get(s, 0);
    assert_true(request_line_is(r, "PUT /latest/api/token HTTP/1.1"));
    assert_header(r, "X-aws-ec2-metadata-token-ttl-seconds", "21600");
    r = lbs_get(s, 1);
    assert_true(request_line_is(r, "GET /latest/meta-data/iam/security-credentials/ HTTP/1.1"));
    assert_header(r, "X-aws-ec2-metadata-token", "TOKEN-ONE");
    r = lbs_get(s, 2);
    assert_true(
        request_line_is(r, "GET /latest/meta-data/iam/security-credentials/my-role HTTP/1.1"));
    assert_header(r, "X-aws-ec2-metadata-token", "TOKEN-ONE");

    /* the token is cached; a 401 drops it, fetches a new one and retries once */
    push_reply(s, 401, "text/plain", "");
    push_reply(s, 200, "text/plain", "TOKEN-TWO");
    push_reply(s, 200, "text/plain", "my-role");
    push_imds_creds(s, 2);
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_OK);
    assert_string_equal(c->access_key_id, "ASIAIMDS2");
    c = tad_aws_creds_unref(c);
    assert_int_equal(lbs_count(s), 7);
    r = lbs_get(s, 3);
    assert_true(request_line_is(r, "GET /latest/meta-data/iam/security-credentials/ HTTP/1.1"));
    assert_header(r, "X-aws-ec2-metadata-token", "TOKEN-ONE");
    assert_true(request_line_is(lbs_get(s, 4), "PUT /latest/api/token HTTP/1.1"));
    assert_header(lbs_get(s, 6), "X-aws-ec2-metadata-token", "TOKEN-TWO");

    /* an error document in a 200 */
    push_reply(s, 200, "text/plain", "my-role");
    push_reply(s, 200, "text/plain",
               "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"no\"}");
    tad_errinfo_clear(&ei);
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_ERR_AUTH);
    assert_string_equal(ei.code, "AssumeRoleUnauthorizedAccess");

    /* no role attached */
    push_reply(s, 404, "text/plain", "");
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_ERR_NOT_FOUND);

    /* disabled: nothing is asked */
    size_t before = lbs_count(s);
    env_set("AWS_EC2_METADATA_DISABLED", "true");
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_ERR_NOT_FOUND);
    assert_int_equal(lbs_count(s), before);
    src.free(src.ctx);

    /* region: placement/region, else the availability zone minus its letter */
    env_set("AWS_EC2_METADATA_DISABLED", "false");
    char region[32];
    push_reply(s, 200, "text/plain", "T");
    push_reply(s, 200, "text/plain", "eu-central-1");
    assert_int_equal(tad_imds_region(&o, region, sizeof(region), &ei), TAD_OK);
    assert_string_equal(region, "eu-central-1");
    push_reply(s, 200, "text/plain", "T");
    push_reply(s, 404, "text/plain", "");
    push_reply(s, 200, "text/plain", "us-west-2b");
    assert_int_equal(tad_imds_region(&o, region, sizeof(region), &ei), TAD_OK);
    assert_string_equal(region, "us-west-2");
    assert_true(request_line_is(lbs_get(s, lbs_count(s) - 1),
                                "GET /latest/meta-data/placement/availability-zone HTTP/1.1"));
    lbs_stop(s);
}

static void imds_v1_fallback(void **state)
{
    (void)state;
    struct lbs *s = lbs_start();
    assert_non_null(s);
    imds_env(s);
    struct tad_creds_opts o = test_opts();
    struct tad_creds_source src;
    struct tad_aws_creds *c = NULL;
    struct tad_errinfo ei;
    assert_int_equal(tad_creds_source_imds(&o, &src), TAD_OK);
    push_reply(s, 405, "text/plain", "");
    push_reply(s, 200, "text/plain", "v1-role");
    push_imds_creds(s, 5);
    tad_err e = src.fetch(src.ctx, &c, &ei);
    if (e != TAD_OK) {
        print_message("fetch: %s\n", ei.msg);
        for (size_t i = 0; i < lbs_count(s); i++)
            print_message("req %zu: %.60s\n", i, lbs_get(s, i)->raw);
    }
    assert_int_equal(e, TAD_OK);
    assert_string_equal(c->access_key_id, "ASIAIMDS5");
    c = tad_aws_creds_unref(c);
    assert_int_equal(lbs_count(s), 3);
    assert_header(lbs_get(s, 1), "X-aws-ec2-metadata-token", NULL);
    assert_true(request_line_is(lbs_get(s, 2),
                                "GET /latest/meta-data/iam/security-credentials/v1-role HTTP/1.1"));
    src.free(src.ctx);

    /* with IMDSv1 disabled the refusal is final */
    env_set("AWS_EC2_METADATA_V1_DISABLED", "true");
    assert_int_equal(tad_creds_source_imds(&o, &src), TAD_OK);
    push_reply(s, 403, "text/plain", "");
    tad_errinfo_clear(&ei);
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_ERR_AUTH);
    assert_non_null(strstr(ei.msg, "V1_DISABLED"));
    assert_int_equal(lbs_count(s), 4);
    src.free(src.ctx);
    lbs_stop(s);
}

static void imds_unreachable(void **state)
{
    (void)state;
    /* a closed loopback port: connection refused */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    env_reset();
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sa.sin_port));
    env_set("AWS_EC2_METADATA_SERVICE_ENDPOINT", url);
    struct tad_creds_opts o = test_opts();
    struct tad_creds_source src;
    struct tad_aws_creds *c = NULL;
    struct tad_errinfo ei;
    assert_int_equal(tad_creds_source_imds(&o, &src), TAD_OK);
    double t0 = mono_now();
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_ERR_NOT_FOUND);
    assert_true(mono_now() - t0 < 2.0);
    src.free(src.ctx);

    /* a server that never answers: the short timeout applies */
    struct lbs *s = lbs_start();
    assert_non_null(s);
    imds_env(s);
    struct lbs_reply stall = {.head = "", .action = LBS_STALL};
    assert_int_equal(lbs_push(s, &stall), 0);
    o.imds_timeout_ms = 300;
    assert_int_equal(tad_creds_source_imds(&o, &src), TAD_OK);
    t0 = mono_now();
    assert_int_equal(src.fetch(src.ctx, &c, &ei), TAD_ERR_NOT_FOUND);
    double took = mono_now() - t0;
    assert_true(took < 2.0);
    assert_true(took >= 0.25);
    assert_int_equal(lbs_count(s), 1);
    src.free(src.ctx);
    lbs_stop(s);

    /* the whole chain ends in "no credentials" quickly off EC2 */
    env_reset();
    env_set("AWS_EC2_METADATA_SERVICE_ENDPOINT", url);
    env_set("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/c");
    env_set("AWS_CONFIG_FILE", "/nonexistent/c");
    struct tad_creds_provider *p = NULL;
    assert_int_equal(tad_creds_provider_new(&o, &p, &ei), TAD_OK);
    t0 = mono_now();
    assert_int_equal(tad_creds_get(p, &c, &ei), TAD_ERR_AUTH);
    assert_true(mono_now() - t0 < 2.0);
    tad_creds_provider_free(p);
}

/* ================================ expiry and refresh through each link ================ */

static void refresh_through(struct lbs *s, void (*push_first)(struct lbs *),
                            void (*push_second)(struct lbs *), const char *first_key,
                            const char *second_key, const char *source)
{
    atomic_store(&fake_now, 1893456000 - 3600); /* an hour before the served Expiration */
    struct tad_creds_opts o = test_opts();
    struct tad_creds_provider *p = NULL;
    struct tad_errinfo ei;
    assert_int_equal(tad_creds_provider_new(&o, &p, &ei), TAD_OK);
    push_first(s);
    struct tad_aws_creds *c = NULL;
    assert_int_equal(tad_creds_get(p, &c, &ei), TAD_OK);
    assert_string_equal(c->access_key_id, first_key);
    assert_string_equal(tad_creds_source_name(p), source);
    c = tad_aws_creds_unref(c);
    size_t n = lbs_count(s);
    assert_int_equal(tad_creds_refresh_due(p), 2700);
    assert_int_equal(lbs_count(s), n); /* not due yet: no request */
    atomic_fetch_add(&fake_now, 2700);
    push_second(s);
    assert_true(tad_creds_refresh_due(p) > 0);
    assert_true(lbs_count(s) > n);
    assert_int_equal(tad_creds_get(p, &c, &ei), TAD_OK);
    assert_string_equal(c->access_key_id, second_key);
    c = tad_aws_creds_unref(c);
    tad_creds_provider_free(p);
}

static void push_sts_1(struct lbs *s)
{
    push_sts_ok(s, 1);
}
static void push_sts_2(struct lbs *s)
{
    push_sts_ok(s, 2);
}
static void push_cont_1(struct lbs *s)
{
    push_container_ok(s, 1);
}
static void push_cont_2(struct lbs *s)
{
    push_container_ok(s, 2);
}
static void push_imds_1(struct lbs *s)
{
    push_reply(s, 200, "text/plain", "TOK");
    push_reply(s, 200, "text/plain", "role");
    push_imds_creds(s, 1);
}
static void push_imds_2(struct lbs *s)
{
    push_reply(s, 200, "text/plain", "role"); /* token still cached */
    push_imds_creds(s, 2);
}

static void refresh_each_remote(void **state)
{
    (void)state;
    char url[128], tokpath[512];
    struct lbs *s = lbs_start();
    assert_non_null(s);

    env_reset();
    env_set("AWS_EC2_METADATA_DISABLED", "true");
    env_set("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/c");
    env_set("AWS_CONFIG_FILE", "/nonexistent/c");
    base_url(s, url, sizeof(url), "");
    env_set("AWS_ENDPOINT_URL_STS", url);
    write_file("wi-token3", "tok", tokpath, sizeof(tokpath));
    env_set("AWS_WEB_IDENTITY_TOKEN_FILE", tokpath);
    env_set("AWS_ROLE_ARN", "arn:aws:iam::1:role/r");
    refresh_through(s, push_sts_1, push_sts_2, "ASIASTS1", "ASIASTS2", "web-identity");

    env_set("AWS_WEB_IDENTITY_TOKEN_FILE", "");
    env_set("AWS_ROLE_ARN", "");
    base_url(s, url, sizeof(url), "/creds");
    env_set("AWS_CONTAINER_CREDENTIALS_FULL_URI", url);
    refresh_through(s, push_cont_1, push_cont_2, "ASIACONT1", "ASIACONT2", "container");

    env_set("AWS_CONTAINER_CREDENTIALS_FULL_URI", "");
    env_set("AWS_EC2_METADATA_DISABLED", "false");
    base_url(s, url, sizeof(url), "");
    env_set("AWS_EC2_METADATA_SERVICE_ENDPOINT", url);
    refresh_through(s, push_imds_1, push_imds_2, "ASIAIMDS1", "ASIAIMDS2", "imds");
    lbs_stop(s);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/t_creds.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    return tad_http_global_init() == TAD_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    static const char *const files[] = {"credentials", "config",    "wi-token",  "wi-token2",
                                        "wi-token3",   "config-wi", "cont-token"};
    char path[600];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
        unlink(path);
    }
    rmdir(tmpdir);
    tad_http_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(env_link),
        cmocka_unit_test(iso8601),
        cmocka_unit_test(single_flight),
        cmocka_unit_test(refresh_schedule_and_failure),
        cmocka_unit_test(refresh_half_life),
        cmocka_unit_test(invalidate_refetches),
        cmocka_unit_test(chain_order),
        cmocka_unit_test(ini_parser),
        cmocka_unit_test(profile_files),
        cmocka_unit_test(web_identity),
        cmocka_unit_test(web_identity_from_profile),
        cmocka_unit_test(container),
        cmocka_unit_test(imds_v2),
        cmocka_unit_test(imds_v1_fallback),
        cmocka_unit_test(imds_unreachable),
        cmocka_unit_test(refresh_each_remote),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
