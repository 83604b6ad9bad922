/* sigv4-sign.c - developer tool: signs a request with the daemon's SigV4 signer.
 *
 *   sigv4-sign --context CONTEXT.json REQUEST.txt [--query]
 *   sigv4-sign --batch [--bench-repeat N] [--no-cache] < requests.jsonl
 *
 * Single-threaded. Prints signatures only; never prints secrets (the presigned URL contains
 * the session token by design, as any presigned URL does).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "tad/buf.h"
#include "tad/sigv4.h"
#include "tad/sigv4_testfmt.h"

static void usage(FILE *f)
{
    fputs("usage: sigv4-sign --context CONTEXT.json REQUEST.txt [--query]\n"
          "       sigv4-sign --batch [--bench-repeat N] [--no-cache] < requests.jsonl\n"
          "\n"
          "Single mode reads an aws-c-auth test-suite case (context.json + request.txt) and\n"
          "prints the Authorization header value, or with --query the presigned URL\n"
          "https://<host><path>?<query>. A context with \"normalize\": false signs the path as\n"
          "given (S3 rule); \"sign_body\": true adds and signs X-Amz-Content-Sha256.\n"
          "\n"
          "Batch mode reads one JSON object per line from stdin:\n"
          "  {\"method\":\"GET\", \"path\":\"/wire/path\", \"query\":\"a=1&b\",\n"
          "   \"headers\":[[\"Host\",\"example.com\"],...], \"body\":\"...\",\n"
          "   \"region\":\"us-east-1\", \"service\":\"sqs\", \"time\":1440938160,\n"
          "   \"access_key_id\":\"...\", \"secret_access_key\":\"...\", \"token\":\"...\",\n"
          "   \"s3\":false, \"unsigned_payload\":false, \"sign_body_header\":false,\n"
          "   \"omit_session_token\":false, \"presign\":false, \"expires\":3600}\n"
          "(path is the wire path, already percent-encoded; query is the raw wire query;\n"
          "optional keys default to empty/false) and writes one line per request: the\n"
          "Authorization value (presign: the query string), or \"ERROR <message>\".\n"
          "--bench-repeat N signs the whole batch N times, timing only the signing (CPU time of\n"
          "the process, so other load on the machine does not count), and prints\n"
          "\"requests R signatures S seconds T per_second P\"; --no-cache disables the\n"
          "signing-key cache.\n",
          f);
}

static int run_single(const char *ctx_path, const char *req_path, int query)
{
    int rc = 1;
    char *ctxt = NULL, *rtxt = NULL;
    size_t clen = 0, rlen = 0;
    struct tad_errinfo ei;
    struct tad_sigv4_testctx ctx;
    struct tad_sigv4_testreq tr;
    struct tad_buf wire = TAD_BUF_INIT;
    struct tad_sigv4_result res = TAD_SIGV4_RESULT_INIT;
    int have_ctx = 0, have_req = 0;

    tad_errinfo_clear(&ei);
    if (tad_sigv4_read_file(ctx_path, &ctxt, &clen, &ei) != TAD_OK ||
        tad_sigv4_read_file(req_path, &rtxt, &rlen, &ei) != TAD_OK)
        goto out;
    if (tad_sigv4_testctx_parse(ctxt, clen, &ctx, &ei) != TAD_OK)
        goto out;
    have_ctx = 1;
    if (tad_sigv4_testreq_parse(rtxt, rlen, &tr, &ei) != TAD_OK)
        goto out;
    have_req = 1;
    struct tad_sigv4_request rq;
    struct tad_sigv4_creds cr;
    struct tad_sigv4_params pm;
    if (tad_sigv4_testcase_build(&tr, &ctx, &wire, &rq, &cr, &pm) != TAD_OK) {
        tad_errinfo_set(&ei, TAD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (query) {
        if (tad_sigv4_presign(&rq, &cr, &pm, NULL, &res, &ei) != TAD_OK)
            goto out;
        const char *host = "";
        for (size_t i = 0; i < tr.nheaders; i++)
            if (strcasecmp(tr.headers[i].name, "host") == 0)
                host = tr.headers[i].value;
        /* the URL carries the path encoded once, whatever the signer did with it */
        if (ctx.normalize && tad_uri_encode(&wire, tr.path, strlen(tr.path), true) != TAD_OK)
            goto out;
        printf("https://%s%s?%s\n", host, wire.len ? wire.data : "/", res.presigned_query);
    } else {
        if (tad_sigv4_sign(&rq, &cr, &pm, NULL, &res, &ei) != TAD_OK)
            goto out;
        printf("%s\n", res.authorization);
    }
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "sigv4-sign: %s\n", ei.msg[0] ? ei.msg : "failed");
    tad_sigv4_result_release(&res);
    tad_buf_release(&wire);
    if (have_req)
        tad_sigv4_testreq_release(&tr);
    if (have_ctx)
        tad_sigv4_testctx_release(&ctx);
    free(ctxt);
    free(rtxt);
    return rc;
}

/* One parsed batch request. Strings first point into the JSON object; pack_job() then copies
 * them into one block (`arena`) and drops the JSON, as a caller holding a request would. */
struct job {
    json_t *json;
    char *arena;
    struct tad_sigv4_request rq;
    struct tad_sigv4_header *hdrs;
    struct tad_sigv4_creds cr;
    struct tad_sigv4_params pm;
    int presign;
};

static const char *opt_str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int opt_bool(json_t *o, const char *k)
{
    return json_is_true(json_object_get(o, k));
}

static int parse_job(const char *line, size_t len, struct job *j, char *msg, size_t msgsz)
{
    json_error_t jerr;
    memset(j, 0, sizeof(*j));
    j->json = json_loadb(line, len, 0, &jerr);
    if (!json_is_object(j->json)) {
        snprintf(msg, msgsz, "bad JSON: %s", jerr.text);
        return 0;
    }
    json_t *o = j->json, *hs = json_object_get(o, "headers"), *body = json_object_get(o, "body");
    size_t nh = json_is_array(hs) ? json_array_size(hs) : 0;
    j->hdrs = calloc(nh ? nh : 1, sizeof(*j->hdrs));
    if (!j->hdrs) {
        snprintf(msg, msgsz, "out of memory");
        return 0;
    }
    for (size_t i = 0; i < nh; i++) {
        json_t *h = json_array_get(hs, i);
        if (!json_is_array(h) || json_array_size(h) != 2 || !json_is_string(json_array_get(h, 0)) ||
            !json_is_string(json_array_get(h, 1))) {
            snprintf(msg, msgsz, "bad header %zu", i);
            return 0;
        }
        j->hdrs[i].name = json_string_value(json_array_get(h, 0));
        j->hdrs[i].value = json_string_value(json_array_get(h, 1));
    }
    j->rq.method = opt_str(o, "method");
    j->rq.path = opt_str(o, "path");
    j->rq.query = opt_str(o, "query");
    j->rq.headers = j->hdrs;
    j->rq.nheaders = nh;
    if (json_is_string(body)) {
        j->rq.body = json_string_value(body);
        j->rq.body_len = json_string_length(body);
    }
    if (opt_bool(o, "unsigned_payload"))
        j->rq.payload_hash = TAD_SIGV4_UNSIGNED_PAYLOAD;
    j->cr.access_key_id = opt_str(o, "access_key_id");
    j->cr.secret_access_key = opt_str(o, "secret_access_key");
    j->cr.session_token = opt_str(o, "token");
    j->pm.region = opt_str(o, "region");
    j->pm.service = opt_str(o, "service");
    json_t *t = json_object_get(o, "time"), *ex = json_object_get(o, "expires");
    j->pm.now = json_is_integer(t) ? (time_t)json_integer_value(t) : 0;
    j->pm.s3_style = opt_bool(o, "s3");
    j->pm.sign_body_header = opt_bool(o, "sign_body_header");
    j->pm.omit_session_token = opt_bool(o, "omit_session_token");
    j->pm.expires = json_is_integer(ex) ? (unsigned)json_integer_value(ex) : 3600;
    j->presign = opt_bool(o, "presign");
    return 1;
}

static void free_job(struct job *j)
{
    free(j->hdrs);
    free(j->arena);
    json_decref(j->json);
}

static size_t str_need(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

static const char *str_pack(char **p, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = *p;
    memcpy(d, s, n);
    *p += n;
    return d;
}

/* Copies every string of the job into one allocation and releases the JSON object. */
static int pack_job(struct job *j)
{
    size_t need = j->rq.nheaders * sizeof(struct tad_sigv4_header) + j->rq.body_len + 1;
    const char *strs[] = {j->rq.method,
                          j->rq.path,
                          j->rq.query,
                          j->cr.access_key_id,
                          j->cr.secret_access_key,
                          j->cr.session_token,
                          j->pm.region,
                          j->pm.service};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        need += str_need(strs[i]);
    for (size_t i = 0; i < j->rq.nheaders; i++)
        need += str_need(j->hdrs[i].name) + str_need(j->hdrs[i].value);
    char *a = malloc(need);
    if (!a)
        return 0;
    struct tad_sigv4_header *h = (struct tad_sigv4_header *)a;
    char *p = a + j->rq.nheaders * sizeof(*h);
    for (size_t i = 0; i < j->rq.nheaders; i++) {
        h[i].name = str_pack(&p, j->hdrs[i].name);
        h[i].value = str_pack(&p, j->hdrs[i].value);
    }
    j->rq.headers = h;
    j->rq.method = str_pack(&p, j->rq.method);
    j->rq.path = str_pack(&p, j->rq.path);
    j->rq.query = str_pack(&p, j->rq.query);
    j->cr.access_key_id = str_pack(&p, j->cr.access_key_id);
    j->cr.secret_access_key = str_pack(&p, j->cr.secret_access_key);
    j->cr.session_token = str_pack(&p, j->cr.session_token);
    j->pm.region = str_pack(&p, j->pm.region);
    j->pm.service = str_pack(&p, j->pm.service);
    if (j->rq.body) {
        memcpy(p, j->rq.body, j->rq.body_len);
        j->rq.body = p;
    }
    free(j->hdrs);
    j->hdrs = NULL;
    json_decref(j->json);
    j->json = NULL;
    j->arena = a;
    return 1;
}

static tad_err sign_job(const struct job *j, struct tad_sigv4_key_cache *cache,
                        struct tad_sigv4_result *res, struct tad_errinfo *ei)
{
    if (j->presign)
        return tad_sigv4_presign(&j->rq, &j->cr, &j->pm, cache, res, ei);
    return tad_sigv4_sign(&j->rq, &j->cr, &j->pm, cache, res, ei);
}

static int run_batch(unsigned long repeat, int use_cache)
{
    int rc = 1;
    char *line = NULL;
    size_t cap = 0, njobs = 0, jcap = 0;
    ssize_t n;
    struct job *jobs = NULL;
    struct tad_sigv4_key_cache *cache = NULL;
    struct tad_sigv4_result res = TAD_SIGV4_RESULT_INIT;
    struct tad_errinfo ei;

    if (use_cache && tad_sigv4_key_cache_new(&cache) != TAD_OK)
        goto out;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        struct job j;
        char msg[200];
        int ok = parse_job(line, len, &j, msg, sizeof(msg));
        if (repeat == 0) {
            /* Streaming: sign and print right away. */
            tad_errinfo_clear(&ei);
            if (!ok)
                printf("ERROR %s\n", msg);
            else if (sign_job(&j, cache, &res, &ei) != TAD_OK)
                printf("ERROR %s\n", ei.msg);
            else
                printf("%s\n", j.presign ? res.presigned_query : res.authorization);
            free_job(&j);
            continue;
        }
        if (!ok || !pack_job(&j)) {
            fprintf(stderr, "sigv4-sign: %s\n", ok ? "out of memory" : msg);
            free_job(&j);
            goto out;
        }
        if (njobs == jcap) {
            jcap = jcap ? jcap * 2 : 1024;
            struct job *nj = realloc(jobs, jcap * sizeof(*nj));
            if (!nj) {
                free_job(&j);
                goto out;
            }
            jobs = nj;
        }
        jobs[njobs++] = j;
    }
    if (repeat > 0) {
        struct timespec t0, t1;
        size_t sigs = 0;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
        for (unsigned long r = 0; r < repeat; r++) {
            for (size_t i = 0; i < njobs; i++) {
                if (sign_job(&jobs[i], cache, &res, &ei) != TAD_OK) {
                    fprintf(stderr, "sigv4-sign: request %zu: %s\n", i, ei.msg);
                    goto out;
                }
                sigs++;
            }
        }
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        printf("requests %zu signatures %zu seconds %.3f per_second %.0f\n", njobs, sigs, secs,
               secs > 0 ? (double)sigs / secs : 0.0);
    }
    rc = fflush(stdout) == 0 ? 0 : 1;
out:
    for (size_t i = 0; i < njobs; i++)
        free_job(&jobs[i]);
    free(jobs);
    free(line);
    tad_sigv4_result_release(&res);
    tad_sigv4_key_cache_free(cache);
    return rc;
}

int main(int argc, char **argv)
{
    const char *ctx = NULL, *req = NULL;
    int query = 0, batch = 0, use_cache = 1;
    unsigned long repeat = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--context") == 0 && i + 1 < argc) {
            ctx = argv[++i];
        } else if (strcmp(argv[i], "--query") == 0) {
            query = 1;
        } else if (strcmp(argv[i], "--batch") == 0) {
            batch = 1;
        } else if (strcmp(argv[i], "--no-cache") == 0) {
            use_cache = 0;
        } else if (strcmp(argv[i], "--bench-repeat") == 0 && i + 1 < argc) {
            char *end = NULL;
            errno = 0;
            unsigned long long v = strtoull(argv[++i], &end, 10);
            if (errno || !end || *end || v < 1 || v > 1000000) {
                fprintf(stderr, "sigv4-sign: bad --bench-repeat\n");
                return 2;
            }
            repeat = (unsigned long)v;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] != '-' && !req) {
            req = argv[i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (batch)
        return run_batch(repeat, use_cache);
    if (!ctx || !req) {
        usage(stderr);
        return 2;
    }
    return run_single(ctx, req, query);
}
