/* it_tiktok.c - the TikTok client and audience sync against the fake TikTok (run by
 * test_tiktok_fake, which starts the fake and exports TIKTOK_API_BASE and TIKTOK_URL).
 * Assertions are made on the fake's /_fake/state and /_fake/calls. Credentials come from a
 * callback. Retry delays are small so the whole run stays short. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>

#include "tad/audience.h"
#include "tad/http.h"
#include "tad/ratelimit.h"
#include "tad/tiktok.h"

#define ADV "7000000001"
#define ADV2 "7000000002"

static const char *fake_url;
static struct tad_http *http;
static struct tad_ratelimit *rl;
static struct tad_tiktok *tt;

/* ---- the fake's control API ---- */

static json_t *ctl(const char *method, const char *path, const char *body)
{
    char url[512];
    assert_true(snprintf(url, sizeof(url), "%s%s", fake_url, path) < (int)sizeof(url));
    struct tad_buf out;
    tad_buf_init(&out, 64u * 1024u * 1024u);
    struct tad_http_header hdr = {"Content-Type", "application/json"};
    struct tad_http_request req = {.method = method,
                                   .url = url,
                                   .headers = &hdr,
                                   .nheaders = body ? 1 : 0,
                                   .sink = {.kind = TAD_HTTP_SINK_BUF, .buf = &out}};
    if (body) {
        req.body.kind = TAD_HTTP_BODY_MEMORY;
        req.body.mem.data = body;
        req.body.mem.len = strlen(body);
    }
    struct tad_http_response resp;
    tad_http_response_init(&resp);
    assert_int_equal(tad_http_perform(http, &req, &resp, NULL), TAD_OK);
    if (resp.status != 200)
        fail_msg("control %s %s: HTTP %ld %s", method, path, resp.status, out.data ? out.data : "");
    json_t *j = json_loadb(out.data, out.len, 0, NULL);
    assert_non_null(j);
    tad_http_response_release(&resp);
    tad_buf_release(&out);
    return j;
}

static void ctl_post(const char *path, const char *body)
{
    json_decref(ctl("POST", path, body));
}

/* Calls of one endpoint (NULL = all) since the last reset; new reference. */
static json_t *calls(const char *endpoint)
{
    char path[128];
    snprintf(path, sizeof(path), "/_fake/calls%s%s", endpoint ? "?endpoint=" : "",
             endpoint ? endpoint : "");
    json_t *j = ctl("GET", path, NULL);
    json_t *c = json_incref(json_object_get(j, "calls"));
    json_decref(j);
    return c;
}

static size_t ncalls(const char *endpoint)
{
    json_t *c = calls(endpoint);
    size_t n = json_array_size(c);
    json_decref(c);
    return n;
}

/* Audiences named `name` in the state, oldest first; new reference. */
static json_t *audiences_named(const char *name)
{
    json_t *st = ctl("GET", "/_fake/state", NULL);
    json_t *res = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(st, "audiences"), i, a)
    {
        if (strcmp(json_string_value(json_object_get(a, "name")), name) == 0)
            json_array_append(res, a);
    }
    json_decref(st);
    return res;
}

/* ---- parts ---- */

struct tpart {
    struct tad_part p;
    char (*rows)[65];
    size_t n;
};

static void hash_of(const char *s, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    assert_int_equal(EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL), 1);
    tad_hex_encode(md, len, out);
}

/* A part of n rows sha256("<tag>-<i>") for i in [first, first+n). */
static void make_part(struct tpart *t, const char *tag, unsigned first, size_t n)
{
    char tmpl[] = "/tmp/it_tiktok.XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    unlink(tmpl);
    t->rows = calloc(n, sizeof(*t->rows));
    assert_non_null(t->rows);
    t->n = n;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestInit_ex(md, EVP_md5(), NULL), 1);
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        char seed[96];
        snprintf(seed, sizeof(seed), "%s-%zu", tag, first + i);
        hash_of(seed, t->rows[i]);
        char line[66];
        memcpy(line, t->rows[i], 64);
        line[64] = '\n';
        assert_int_equal(write(fd, line, 65), 65);
        assert_int_equal(EVP_DigestUpdate(md, line, 65), 1);
        bytes += 65;
    }
    unsigned char dig[16];
    unsigned dl = 0;
    assert_int_equal(EVP_DigestFinal_ex(md, dig, &dl), 1);
    EVP_MD_CTX_free(md);
    memset(&t->p, 0, sizeof(t->p));
    t->p.fd = fd;
    t->p.bytes = bytes;
    t->p.rows = n;
    tad_hex_encode(dig, 16, t->p.md5);
}

static void free_part(struct tpart *t)
{
    close(t->p.fd);
    free(t->rows);
}

/* Checks that the audience's members are exactly the rows of parts[0..n). */
static void assert_members(json_t *aud, struct tpart *parts, size_t n)
{
    json_t *m = json_object_get(aud, "members");
    size_t want = 0;
    for (size_t i = 0; i < n; i++)
        want += parts[i].n;
    assert_int_equal(json_array_size(m), want);
    for (size_t i = 0; i < n; i++) {
        for (size_t r = 0; r < parts[i].n; r++) {
            bool found = false;
            size_t k;
            json_t *v;
            json_array_foreach(m, k, v)
            {
                if (strcmp(json_string_value(v), parts[i].rows[r]) == 0) {
                    found = true;
                    break;
                }
            }
            if (!found)
                fail_msg("member %s missing", parts[i].rows[r]);
        }
    }
}

/* ---- credentials ---- */

struct credsrc {
    pthread_mutex_t lock;
    char token[64];
    char next[64];
    int invalidations;
};

static tad_err get_creds(void *ctx, struct tad_http *h, struct tad_tiktok_creds *ret,
                         struct tad_errinfo *err)
{
    (void)h;
    (void)err;
    struct credsrc *c = ctx;
    pthread_mutex_lock(&c->lock);
    ret->access_token = strdup(c->token);
    pthread_mutex_unlock(&c->lock);
    snprintf(ret->advertiser_id, sizeof(ret->advertiser_id), "%s", ADV);
    return ret->access_token ? TAD_OK : TAD_ERR_NOMEM;
}

static void invalidate(void *ctx)
{
    struct credsrc *c = ctx;
    pthread_mutex_lock(&c->lock);
    c->invalidations++;
    if (c->next[0])
        memcpy(c->token, c->next, sizeof(c->token));
    pthread_mutex_unlock(&c->lock);
}

static struct credsrc creds_a = {PTHREAD_MUTEX_INITIALIZER, "tok-a", "", 0};

static struct tad_audience_job job_for(const char *name, enum tad_tiktok_action action,
                                       struct tad_part *parts, size_t n)
{
    struct tad_audience_job j = {.get_creds = get_creds,
                                 .invalidate_creds = invalidate,
                                 .creds_ctx = &creds_a,
                                 .audience_name = name,
                                 .calculate_type = "EMAIL_SHA256",
                                 .action = action,
                                 .parts = parts,
                                 .nparts = n};
    return j;
}

static struct tad_audience_sync *new_sync(void)
{
    struct tad_audience_sync_opts o = {.tiktok = tt};
    struct tad_audience_sync *s = NULL;
    assert_int_equal(tad_audience_sync_new(&o, &s), TAD_OK);
    return s;
}

/* Applies parts of tp[] to name; expects want. */
static tad_err apply(struct tad_audience_sync *s, struct tad_audience_job *job, struct tpart *tp,
                     size_t n, struct tad_audience_outcome *out, struct tad_errinfo *ei)
{
    struct tad_part *parts = calloc(n ? n : 1, sizeof(*parts));
    assert_non_null(parts);
    for (size_t i = 0; i < n; i++)
        parts[i] = tp[i].p;
    job->parts = parts;
    job->nparts = n;
    tad_errinfo_clear(ei);
    tad_err e = tad_audience_apply(s, http, job, out, ei);
    free(parts);
    job->parts = NULL;
    return e;
}

static int reset_fake(void **state)
{
    (void)state;
    ctl_post("/_fake/reset", "{}");
    creds_a.invalidations = 0;
    snprintf(creds_a.token, sizeof(creds_a.token), "tok-a");
    creds_a.next[0] = '\0';
    return 0;
}

/* ---- scenarios ---- */

static void create_new_audience(void **state)
{
    (void)state;
    struct tad_audience_sync *s = new_sync();
    struct tpart tp[2];
    make_part(&tp[0], "create", 0, 3);
    make_part(&tp[1], "create", 3, 2);
    struct tad_audience_job job = job_for("Fresh Audience", TAD_TIKTOK_APPEND, NULL, 0);
    struct tad_audience_outcome out;
    struct tad_errinfo ei;
    assert_int_equal(apply(s, &job, tp, 2, &out, &ei), TAD_OK);
    assert_true(out.created);
    assert_int_equal(out.nfile_paths, 2);
    assert_true(out.request_ids.n >= 5); /* 2 uploads, list, create, list */
    json_t *a = audiences_named("Fresh Audience");
    assert_int_equal(json_array_size(a), 1);
    json_t *aud = json_array_get(a, 0);
    assert_string_equal(json_string_value(json_object_get(aud, "audience_id")),
                        out.custom_audience_id);
    assert_string_equal(json_string_value(json_object_get(aud, "calculate_type")), "EMAIL_SHA256");
    assert_string_equal(json_string_value(json_object_get(aud, "owner")), ADV);
    assert_members(aud, tp, 2);
    json_decref(a);
    /* the upload carried the MD5, the .csv name and the type */
    json_t *up = calls("upload");
    assert_int_equal(json_array_size(up), 2);
    json_t *c0 = json_array_get(up, 0);
    assert_int_equal(json_integer_value(json_object_get(c0, "code")), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "file_name")), "part-00001.csv");
    assert_string_equal(json_string_value(json_object_get(c0, "calculate_type")), "EMAIL_SHA256");
    json_decref(up);
    json_t *cr = calls("create");
    assert_int_equal(json_array_size(cr), 1);
    assert_int_equal(json_array_size(json_object_get(json_array_get(cr, 0), "file_paths")), 2);
    json_decref(cr);
    assert_int_equal(ncalls("update"), 0);
    tad_audience_outcome_release(&out);
    for (int i = 0; i < 2; i++)
        free_part(&tp[i]);
    tad_audience_sync_free(s);
}

static void append_found_on_last_page(void **state)
{
    (void)state;
    /* the target is the oldest, so with newest-first paging it sits on the last page */
    ctl_post("/_fake/seed", "{\"owner\":\"" ADV "\",\"name\":\"Deep\",\"members\":4}");
    char buf[256];
    json_t *many = json_array();
    for (int i = 0; i < 230; i++) {
        snprintf(buf, sizeof(buf), "filler %d", i);
        json_array_append_new(many,
                              json_pack("{s:s,s:s,s:i}", "owner", ADV, "name", buf, "members", 1));
    }
    char *txt = json_dumps(many, JSON_COMPACT);
    ctl_post("/_fake/seed", txt);
    free(txt);
    json_decref(many);
    json_t *before = audiences_named("Deep");
    const char *deep_id =
        json_string_value(json_object_get(json_array_get(before, 0), "audience_id"));

    struct tad_audience_sync *s = new_sync();
    struct tpart tp[1];
    make_part(&tp[0], "deep", 0, 3);
    struct tad_audience_job job = job_for("Deep", TAD_TIKTOK_APPEND, NULL, 0);
    struct tad_audience_outcome out;
    struct tad_errinfo ei;
    assert_int_equal(apply(s, &job, tp, 1, &out, &ei), TAD_OK);
    assert_false(out.created);
    assert_string_equal(out.custom_audience_id, deep_id);
    assert_int_equal(ncalls("create"), 0);
    json_t *lc = calls("list");
    assert_int_equal(json_array_size(lc), 3); /* 231 audiences = 3 pages of 100 */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(lc, 2), "page")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(lc, 0), "page_size")), 100);
    json_decref(lc);
    json_t *up = calls("update");
    assert_int_equal(json_array_size(up), 1);
    json_t *u = json_array_get(up, 0);
    assert_string_equal(json_string_value(json_object_get(u, "action")), "APPEND");
    assert_false(json_is_true(json_object_get(u, "action_omitted")));
    assert_string_equal(json_string_value(json_object_get(u, "audience_id")), deep_id);
    json_decref(up);
    json_t *after = audiences_named("Deep");
    assert_int_equal(json_array_size(json_object_get(json_array_get(after, 0), "members")), 7);
    json_decref(after);
    json_decref(before);

    /* a second file within the cache TTL does not list again */
    struct tpart tp2[1];
    make_part(&tp2[0], "deep2", 0, 1);
    tad_audience_outcome_release(&out);
    assert_int_equal(apply(s, &job, tp2, 1, &out, &ei), TAD_OK);
    assert_int_equal(ncalls("list"), 3);
    assert_int_equal(ncalls("update"), 2);
    tad_audience_outcome_release(&out);
    free_part(&tp[0]);
    free_part(&tp2[0]);
    tad_audience_sync_free(s);
}

static void other_type_and_shared_not_matched(void **state)
{
    (void)state;
    ctl_post("/_fake/seed", "[{\"owner\":\"" ADV "\",\"name\":\"Twin\",\"calculate_type\":"
                            "\"PHONE_SHA256\",\"members\":2},"
                            "{\"owner\":\"" ADV2 "\",\"name\":\"Twin\",\"members\":2,"
                            "\"shared_with\":[\"" ADV "\"]}]");
    struct tad_audience_sync *s = new_sync();
    struct tpart tp[1];
    make_part(&tp[0], "twin", 0, 2);
    struct tad_audience_job job = job_for("Twin", TAD_TIKTOK_APPEND, NULL, 0);
    struct tad_audience_outcome out;
    struct tad_errinfo ei;
    assert_int_equal(apply(s, &job, tp, 1, &out, &ei), TAD_OK);
    assert_true(out.created);
    json_t *a = audiences_named("Twin");
    assert_int_equal(json_array_size(a), 3);
    json_t *mine = json_array_get(a, 2); /* the newest */
    assert_string_equal(json_string_value(json_object_get(mine, "audience_id")),
                        out.custom_audience_id);
    assert_string_equal(json_string_value(json_object_get(mine, "owner")), ADV);
    assert_string_equal(json_string_value(json_object_get(mine, "calculate_type")), "EMAIL_SHA256");
    assert_members(mine, tp, 1);
    /* the seeded ones are untouched */
    assert_int_equal(json_array_size(json_object_get(json_array_get(a, 0), "members")), 2);
    assert_int_equal(json_array_size(json_object_get(json_array_get(a, 1), "members")), 2);
    assert_int_equal(ncalls("update"), 0);
    json_decref(a);
    tad_audience_outcome_release(&out);
    free_part(&tp[0]);
    tad_audience_sync_free(s);
}

static void oldest_of_several_is_chosen(void **state)
{
    (void)state;
    json_t *r = ctl("POST", "/_fake/seed",
                    "[{\"owner\":\"" ADV "\",\"name\":\"Dup\",\"members\":1},"
                    "{\"owner\":\"" ADV "\",\"name\":\"Dup\",\"members\":1}]");
    const char *oldest = json_string_value(json_array_get(json_object_get(r, "audience_ids"), 0));
    struct tad_audience_sync *s = new_sync();
    struct tpart tp[1];
    make_part(&tp[0], "dup", 0, 2);
    struct tad_audience_job job = job_for("Dup", TAD_TIKTOK_APPEND, NULL, 0);
    struct tad_audience_outcome out;
    struct tad_errinfo ei;
    assert_int_equal(apply(s, &job, tp, 1, &out, &ei), TAD_OK);
    assert_string_equal(out.custom_audience_id, oldest);
    json_t *up = calls("update");
    assert_int_equal(json_array_size(up), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(up, 0), "audience_id")),
                        oldest);
    json_decref(up);
    json_decref(r);
    tad_audience_outcome_release(&out);
    free_part(&tp[0]);
    tad_audience_sync_free(s);
}

static void remove_and_replace(void **state)
{
    (void)state;
    struct tpart base[1], rm[1], rep[1];
    make_part(&base[0], "rr", 0, 6);
    make_part(&rm[0], "rr", 0, 2);   /* rows 0,1 */
    make_part(&rep[0], "new", 0, 3); /* disjoint */
    struct tad_audience_sync *s = new_sync();
    struct tad_audience_outcome out;
    struct tad_errinfo ei;

    /* remove from an audience that does not exist: permanent, nothing created */
    struct tad_audience_job job = job_for("RR", TAD_TIKTOK_REMOVE, NULL, 0);
    assert_int_equal(apply(s, &job, rm, 1, &out, &ei), TAD_ERR_NOT_FOUND);
    assert_non_null(strstr(ei.msg, "RR"));
    assert_int_equal(ncalls("create"), 0);
    tad_audience_outcome_release(&out);

    job.action = TAD_TIKTOK_APPEND;
    assert_int_equal(apply(s, &job, base, 1, &out, &ei), TAD_OK);
    tad_audience_outcome_release(&out);

    job.action = TAD_TIKTOK_REMOVE;
    assert_int_equal(apply(s, &job, rm, 1, &out, &ei), TAD_OK);
    tad_audience_outcome_release(&out);
    json_t *a = audiences_named("RR");
    json_t *m = json_object_get(json_array_get(a, 0), "members");
    assert_int_equal(json_array_size(m), 4);
    size_t k;
    json_t *v;
    json_array_foreach(m, k, v)
    {
        assert_string_not_equal(json_string_value(v), rm[0].rows[0]);
        assert_string_not_equal(json_string_value(v), rm[0].rows[1]);
    }
    json_decref(a);

    job.action = TAD_TIKTOK_REPLACE;
    assert_int_equal(apply(s, &job, rep, 1, &out, &ei), TAD_OK);
    tad_audience_outcome_release(&out);
    a = audiences_named("RR");
    assert_int_equal(json_array_size(a), 1);
    assert_members(json_array_get(a, 0), rep, 1);
    json_decref(a);
    json_t *up = calls("update");
    assert_int_equal(json_array_size(up), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(up, 0), "action")),
                        "REMOVE");
    assert_string_equal(json_string_value(json_object_get(json_array_get(up, 1), "action")),
                        "REPLACE");
    json_decref(up);

    /* replace on an absent audience creates it */
    struct tad_audience_job j2 = job_for("RR-new", TAD_TIKTOK_REPLACE, NULL, 0);
    assert_int_equal(apply(s, &j2, rep, 1, &out, &ei), TAD_OK);
    assert_true(out.created);
    tad_audience_outcome_release(&out);
    free_part(&base[0]);
    free_part(&rm[0]);
    free_part(&rep[0]);
    tad_audience_sync_free(s);
}

static void more_than_fifty_parts(void **state)
{
    (void)state;
    enum { N = 56 };
    struct tpart tp[N];
    for (unsigned i = 0; i < N; i++)
        make_part(&tp[i], "big", i * 2, 2);
    struct tad_audience_sync *s = new_sync();
    struct tad_audience_job job = job_for("Big", TAD_TIKTOK_APPEND, NULL, 0);
    struct tad_audience_outcome out;
    struct tad_errinfo ei;
    assert_int_equal(apply(s, &job, tp, N, &out, &ei), TAD_OK);
    assert_true(out.created);
    assert_int_equal(out.nfile_paths, N);
    tad_audience_outcome_release(&out);
    json_t *cr = calls("create");
    assert_int_equal(json_array_size(cr), 1);
    assert_int_equal(json_array_size(json_object_get(json_array_get(cr, 0), "file_paths")), 50);
    json_decref(cr);
    json_t *up = calls("update");
    assert_int_equal(json_array_size(up), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(up, 0), "action")),
                        "APPEND");
    assert_int_equal(json_array_size(json_object_get(json_array_get(up, 0), "file_paths")), 6);
    json_decref(up);
    json_t *a = audiences_named("Big");
    assert_members(json_array_get(a, 0), tp, N);
    json_decref(a);

    /* REPLACE with 56 parts: REPLACE 50, then APPEND 6; the result is exactly the new set */
    struct tpart rp[N];
    for (unsigned i = 0; i < N; i++)
        make_part(&rp[i], "big-replace", i, 1);
    job.action = TAD_TIKTOK_REPLACE;
    assert_int_equal(apply(s, &job, rp, N, &out, &ei), TAD_OK);
    tad_audience_outcome_release(&out);
    up = calls("update");
    assert_int_equal(json_array_size(up), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(up, 1), "action")),
                        "REPLACE");
    assert_int_equal(json_array_size(json_object_get(json_array_get(up, 1), "file_paths")), 50);
    assert_string_equal(json_string_value(json_object_get(json_array_get(up, 2), "action")),
                        "APPEND");
    json_decref(up);
    a = audiences_named("Big");
    assert_members(json_array_get(a, 0), rp, N);
    json_decref(a);
    for (unsigned i = 0; i < N; i++) {
        free_part(&tp[i]);
        free_part(&rp[i]);
    }
    tad_audience_sync_free(s);
}

static void transient_faults_then_success(void **state)
{
    (void)state;
    ctl_post("/_fake/faults", "[{\"endpoint\":\"upload\",\"code\":40100},"
                              "{\"endpoint\":\"upload\",\"http\":503},"
                              "{\"endpoint\":\"list\",\"code\":50000},"
                              "{\"endpoint\":\"list\",\"http\":429},"
                              "{\"endpoint\":\"create\",\"reset\":true},"
                              "{\"endpoint\":\"update\",\"code\":40201},"
                              "{\"endpoint\":\"update\",\"delay_ms\":300}]");
    double rate0 = tad_ratelimit_rate(rl);
    struct tad_audience_sync *s = new_sync();
    struct tpart tp[2];
    make_part(&tp[0], "flaky", 0, 2);
    make_part(&tp[1], "flaky", 2, 2);
    struct tad_audience_job job = job_for("Flaky", TAD_TIKTOK_APPEND, NULL, 0);
    struct tad_audience_outcome out;
    struct tad_errinfo ei;
    assert_int_equal(apply(s, &job, tp, 2, &out, &ei), TAD_OK);
    assert_true(out.created);
    tad_audience_outcome_release(&out);
    assert_true(tad_ratelimit_rate(rl) < rate0); /* rate-limit answers slowed us down */
    /* an update: a write conflict, then a delayed (but complete) answer */
    struct tpart more[1];
    make_part(&more[0], "flaky", 4, 2);
    assert_int_equal(apply(s, &job, more, 1, &out, &ei), TAD_OK);
    tad_audience_outcome_release(&out);

    json_t *f = ctl("GET", "/_fake/faults", NULL);
    assert_int_equal(json_array_size(json_object_get(f, "faults")), 0);
    json_decref(f);
    assert_int_equal(ncalls("upload"), 5);
    assert_int_equal(ncalls("create"), 2);
    json_t *a = audiences_named("Flaky");
    assert_int_equal(json_array_size(a), 1); /* the reset create did not leave a duplicate */
    struct tpart all[3] = {tp[0], tp[1], more[0]};
    assert_members(json_array_get(a, 0), all, 3);
    json_decref(a);
    free_part(&tp[0]);
    free_part(&tp[1]);
    free_part(&more[0]);
    tad_audience_sync_free(s);
}

static void lost_create_answer_is_not_duplicated(void **state)
{
    (void)state;
    ctl_post("/_fake/faults", "{\"endpoint\":\"create\",\"code\":50000,\"apply\":true}");
    struct tad_audience_sync *s = new_sync();
    struct tpart tp[1];
    make_part(&tp[0], "lost", 0, 3);
    struct tad_audience_job job = job_for("Lost", TAD_TIKTOK_APPEND, NULL, 0);
    struct tad_audience_outcome out;
    struct tad_errinfo ei;
    assert_int_equal(apply(s, &job, tp, 1, &out, &ei), TAD_OK);
    json_t *a = audiences_named("Lost");
    assert_int_equal(json_array_size(a), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "audience_id")),
                        out.custom_audience_id);
    assert_members(json_array_get(a, 0), tp, 1);
    assert_int_equal(ncalls("create"), 1);
    json_decref(a);
    tad_audience_outcome_release(&out);
    free_part(&tp[0]);
    tad_audience_sync_free(s);
}

static void permanent_failures(void **state)
{
    (void)state;
    ctl_post("/_fake/faults", "{\"endpoint\":\"upload\",\"code\":40002,\"message\":\"bad field\"}");
    struct tad_audience_sync *s = new_sync();
    struct tpart tp[1];
    make_part(&tp[0], "perm", 0, 1);
    struct tad_audience_job job = job_for("Perm", TAD_TIKTOK_APPEND, NULL, 0);
    struct tad_audience_outcome out;
    struct tad_errinfo ei;
    assert_int_equal(apply(s, &job, tp, 1, &out, &ei), TAD_ERR_CLIENT);
    assert_int_equal(ei.service_code, 40002);
    assert_string_equal(ei.msg, "bad field");
    assert_true(ei.request_id[0] != '\0');
    assert_int_equal(out.request_ids.n, 1);
    assert_string_equal(out.request_ids.v[0], ei.request_id);
    tad_audience_outcome_release(&out);
    assert_int_equal(ncalls("upload"), 1); /* not retried */
    assert_int_equal(ncalls("list") + ncalls("create"), 0);

    /* transient failures that never end: the attempts run out */
    ctl_post("/_fake/faults", "{\"endpoint\":\"list\",\"code\":50002,\"times\":20}");
    assert_int_equal(apply(s, &job, tp, 1, &out, &ei), TAD_ERR_SERVER);
    assert_int_equal(ei.service_code, 50002);
    assert_int_equal(ncalls("list"), tad_tiktok_retry_policy(tt)->max_attempts);
    tad_audience_outcome_release(&out);
    ctl_post("/_fake/faults", "{\"clear\":true,\"faults\":[]}");

    /* by id: an unknown id is permanent, and id jobs never list nor create */
    struct tad_audience_job ij = job;
    ij.audience_name = NULL;
    ij.audience_id = "7399999999999999999";
    size_t lists = ncalls("list");
    assert_int_equal(apply(s, &ij, tp, 1, &out, &ei), TAD_ERR_NOT_FOUND);
    assert_int_equal(ei.service_code, 40007);
    assert_int_equal(ncalls("list"), lists);
    assert_int_equal(ncalls("create"), 0);
    tad_audience_outcome_release(&out);
    free_part(&tp[0]);
    tad_audience_sync_free(s);
}

static void by_id_and_dry_run(void **state)
{
    (void)state;
    json_t *r =
        ctl("POST", "/_fake/seed", "{\"owner\":\"" ADV "\",\"name\":\"ById\",\"members\":2}");
    const char *id = json_string_value(json_array_get(json_object_get(r, "audience_ids"), 0));
    struct tad_audience_sync *s = new_sync();
    struct tpart tp[1];
    make_part(&tp[0], "byid", 0, 2);
    struct tad_audience_job job = job_for(NULL, TAD_TIKTOK_APPEND, NULL, 0);
    job.audience_id = id;
    struct tad_audience_outcome out;
    struct tad_errinfo ei;
    assert_int_equal(apply(s, &job, tp, 1, &out, &ei), TAD_OK);
    assert_string_equal(out.custom_audience_id, id);
    assert_int_equal(ncalls("list"), 0);
    tad_audience_outcome_release(&out);
    json_t *a = audiences_named("ById");
    assert_int_equal(json_array_size(json_object_get(json_array_get(a, 0), "members")), 4);
    json_decref(a);
    json_decref(r);

    /* dry run: lists, but never uploads, creates or updates */
    size_t before = ncalls(NULL);
    struct tad_audience_job dj = job_for("Dry", TAD_TIKTOK_APPEND, NULL, 0);
    dj.dry_run = true;
    assert_int_equal(apply(s, &dj, tp, 1, &out, &ei), TAD_OK);
    assert_true(out.would_create);
    assert_false(out.created);
    assert_int_equal(out.nfile_paths, 0);
    tad_audience_outcome_release(&out);
    json_t *all = calls(NULL);
    for (size_t i = before; i < json_array_size(all); i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(all, i), "endpoint")),
                            "list");
    json_decref(all);
    a = audiences_named("Dry");
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);
    free_part(&tp[0]);
    tad_audience_sync_free(s);
}

static void token_rotation(void **state)
{
    (void)state;
    ctl_post("/_fake/tokens", "{\"tok-new\":[\"" ADV "\"]}");
    snprintf(creds_a.token, sizeof(creds_a.token), "tok-old");
    snprintf(creds_a.next, sizeof(creds_a.next), "tok-new");
    struct tad_audience_sync *s = new_sync();
    struct tpart tp[1];
    make_part(&tp[0], "rot", 0, 2);
    struct tad_audience_job job = job_for("Rotated", TAD_TIKTOK_APPEND, NULL, 0);
    struct tad_audience_outcome out;
    struct tad_errinfo ei;
    assert_int_equal(apply(s, &job, tp, 1, &out, &ei), TAD_OK);
    assert_int_equal(creds_a.invalidations, 1);
    assert_true(out.created);
    tad_audience_outcome_release(&out);
    json_t *up = calls("upload");
    assert_int_equal(json_array_size(up), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(up, 0), "code")), 40105);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(up, 1), "code")), 0);
    json_decref(up);

    /* a token that stays rejected: one refresh, then a permanent AUTH error */
    snprintf(creds_a.token, sizeof(creds_a.token), "tok-bad");
    snprintf(creds_a.next, sizeof(creds_a.next), "tok-bad-too");
    creds_a.invalidations = 0;
    assert_int_equal(apply(s, &job, tp, 1, &out, &ei), TAD_ERR_AUTH);
    assert_int_equal(creds_a.invalidations, 1);
    assert_int_equal(ei.service_code, 40105);
    assert_false(tad_err_retryable(TAD_ERR_AUTH));
    tad_audience_outcome_release(&out);
    free_part(&tp[0]);
    tad_audience_sync_free(s);
}

struct worker {
    struct tad_audience_sync *s;
    struct tpart *tp;
    pthread_barrier_t *bar;
    tad_err e;
    char id[32];
    bool created;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct tad_http *h = NULL;
    if (tad_http_new(NULL, &h) != TAD_OK) {
        w->e = TAD_ERR_NOMEM;
        return NULL;
    }
    struct tad_audience_job job = job_for("Racy", TAD_TIKTOK_APPEND, &w->tp->p, 1);
    struct tad_audience_outcome out;
    struct tad_errinfo ei;
    pthread_barrier_wait(w->bar);
    w->e = tad_audience_apply(w->s, h, &job, &out, &ei);
    memcpy(w->id, out.custom_audience_id, sizeof(w->id));
    w->created = out.created;
    tad_audience_outcome_release(&out);
    tad_http_free(h);
    return NULL;
}

static void two_threads_create_once(void **state)
{
    (void)state;
    /* make the list slow so both workers are in flight together */
    ctl_post("/_fake/faults", "{\"endpoint\":\"list\",\"delay_ms\":200,\"times\":2}");
    struct tad_audience_sync *s = new_sync();
    struct tpart tp[2];
    make_part(&tp[0], "racy", 0, 2);
    make_part(&tp[1], "racy", 2, 2);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    struct worker w[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        w[i] = (struct worker){.s = s, .tp = &tp[i], .bar = &bar};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    assert_int_equal(w[0].e, TAD_OK);
    assert_int_equal(w[1].e, TAD_OK);
    assert_string_equal(w[0].id, w[1].id);
    assert_true(w[0].created != w[1].created);
    assert_int_equal(ncalls("create"), 1);
    json_t *a = audiences_named("Racy");
    assert_int_equal(json_array_size(a), 1);
    assert_members(json_array_get(a, 0), tp, 2);
    json_decref(a);
    free_part(&tp[0]);
    free_part(&tp[1]);
    tad_audience_sync_free(s);
}

struct conv {
    struct tad_audience_sync *s;
    struct tpart *tp;
    tad_err e;
    struct tad_audience_outcome out;
};

static void *conv_main(void *arg)
{
    struct conv *c = arg;
    struct tad_http *h = NULL;
    if (tad_http_new(NULL, &h) != TAD_OK) {
        c->e = TAD_ERR_NOMEM;
        return NULL;
    }
    struct tad_audience_job job = job_for("Converge", TAD_TIKTOK_APPEND, &c->tp->p, 1);
    struct tad_errinfo ei;
    c->e = tad_audience_apply(c->s, h, &job, &c->out, &ei);
    tad_http_free(h);
    return NULL;
}

static void converges_on_older_audience(void **state)
{
    (void)state;
    /* the first list answers at once, the one after the create waits while another
     * "process" creates an older audience of the same name */
    ctl_post("/_fake/faults", "[{\"endpoint\":\"list\",\"delay_ms\":1},"
                              "{\"endpoint\":\"list\",\"delay_ms\":1500}]");
    struct tad_audience_sync *s = new_sync();
    struct tpart tp[1];
    make_part(&tp[0], "conv", 0, 3);
    struct conv c = {.s = s, .tp = &tp[0]};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, conv_main, &c), 0);
    bool seen = false;
    for (int i = 0; i < 100 && !seen; i++) {
        seen = ncalls("create") > 0;
        if (!seen)
            usleep(20000);
    }
    assert_true(seen);
    ctl_post("/_fake/seed", "{\"owner\":\"" ADV "\",\"name\":\"Converge\",\"members\":1,"
                            "\"audience_id\":\"1000000000000000001\"}");
    pthread_join(th, NULL);
    assert_int_equal(c.e, TAD_OK);
    assert_true(c.out.converged);
    assert_false(c.out.created);
    assert_string_equal(c.out.custom_audience_id, "1000000000000000001");
    json_t *a = audiences_named("Converge");
    assert_int_equal(json_array_size(a), 1); /* ours was deleted */
    json_t *aud = json_array_get(a, 0);
    assert_string_equal(json_string_value(json_object_get(aud, "audience_id")),
                        "1000000000000000001");
    assert_int_equal(json_array_size(json_object_get(aud, "members")), 4);
    json_decref(a);
    assert_int_equal(ncalls("delete"), 1);
    tad_audience_outcome_release(&c.out);
    free_part(&tp[0]);
    tad_audience_sync_free(s);
}

static void client_get(void **state)
{
    (void)state;
    json_t *r =
        ctl("POST", "/_fake/seed", "{\"owner\":\"" ADV "\",\"name\":\"Got\",\"members\":2}");
    const char *id = json_string_value(json_array_get(json_object_get(r, "audience_ids"), 0));
    struct tad_tiktok_creds cr = {.access_token = "tok-b", .advertiser_id = ADV};
    struct tad_tiktok_audience a;
    struct tad_tiktok_ids ids = {0};
    struct tad_errinfo ei;
    assert_int_equal(tad_tiktok_get(tt, http, &cr, id, &a, &ids, &ei), TAD_OK);
    assert_string_equal(a.audience_id, id);
    assert_string_equal(a.name, "Got");
    assert_true(a.is_creator);
    assert_int_equal(ids.n, 1);
    tad_tiktok_audience_release(&a);
    assert_int_equal(tad_tiktok_get(tt, http, &cr, "7399999999999999998", &a, &ids, &ei),
                     TAD_ERR_NOT_FOUND);
    tad_tiktok_ids_release(&ids);
    json_decref(r);
}

static int setup(void **state)
{
    (void)state;
    fake_url = getenv("TIKTOK_URL");
    const char *base = getenv("TIKTOK_API_BASE");
    if (!fake_url || !base) {
        fprintf(stderr, "TIKTOK_URL and TIKTOK_API_BASE must be set\n");
        exit(1);
    }
    assert_int_equal(tad_http_global_init(), TAD_OK);
    assert_int_equal(tad_http_new(NULL, &http), TAD_OK);
    assert_int_equal(tad_ratelimit_new(200.0, NULL, &rl), TAD_OK);
    struct tad_tiktok_opts o = {
        .api_base = base, .timeout_ms = 10000, .rl = rl, .retry = {4, 10, 100}};
    assert_int_equal(tad_tiktok_new(&o, &tt), TAD_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tad_tiktok_free(tt);
    tad_ratelimit_free(rl);
    tad_http_free(http);
    tad_http_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(create_new_audience, reset_fake),
        cmocka_unit_test_setup(append_found_on_last_page, reset_fake),
        cmocka_unit_test_setup(other_type_and_shared_not_matched, reset_fake),
        cmocka_unit_test_setup(oldest_of_several_is_chosen, reset_fake),
        cmocka_unit_test_setup(remove_and_replace, reset_fake),
        cmocka_unit_test_setup(more_than_fifty_parts, reset_fake),
        cmocka_unit_test_setup(transient_faults_then_success, reset_fake),
        cmocka_unit_test_setup(lost_create_answer_is_not_duplicated, reset_fake),
        cmocka_unit_test_setup(permanent_failures, reset_fake),
        cmocka_unit_test_setup(by_id_and_dry_run, reset_fake),
        cmocka_unit_test_setup(token_rotation, reset_fake),
        cmocka_unit_test_setup(two_threads_create_once, reset_fake),
        cmocka_unit_test_setup(converges_on_older_audience, reset_fake),
        cmocka_unit_test_setup(client_get, reset_fake),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
