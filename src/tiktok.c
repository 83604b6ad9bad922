/* tiktok.c - TikTok API for Business v1.3 custom-audience client (see tad/tiktok.h).
 *
 * Each call: rate limit, one HTTP exchange on the caller's client, envelope check, error
 * classification, and in-call retries with full-jitter backoff (never for create). The
 * struct tad_tiktok is read-only after creation and shared by all threads. Nothing here logs
 * above debug, and the Access-Token value is only ever placed in the request header.
 */
#include "tad/tiktok.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "tad/buf.h"
#include "tad/log.h"

#define BODY_CAP (16u * 1024u * 1024u)
#define LIST_PAGE_SIZE 100u
#define LIST_MAX_PAGES 1000u

struct tad_tiktok {
    char *api_base; /* without a trailing slash */
    long timeout_ms;
    struct tad_ratelimit *rl;
    struct tad_retry_policy retry;
    const struct tad_rng *rng;
    const atomic_int *cancel;
    void (*observe)(void *ctx, const char *endpoint, long code);
    void *observe_ctx;
};

/* One API request as the retry loop needs it. */
struct call {
    const char *endpoint; /* for messages: "upload", "list", ... */
    const char *method;
    const char *url;
    const char *json;                 /* POST JSON body, or NULL */
    const struct tad_http_body *form; /* multipart body, or NULL */
    const struct tad_tiktok_creds *creds;
    bool retry; /* retry transient failures in the call */
};

static const char *const action_names[] = {"APPEND", "REMOVE", "REPLACE"};

const char *tad_tiktok_action_name(enum tad_tiktok_action a)
{
    if ((unsigned)a < sizeof(action_names) / sizeof(action_names[0]))
        return action_names[a];
    return "APPEND";
}

tad_err tad_tiktok_action_parse(const char *s, enum tad_tiktok_action *ret)
{
    if (!s)
        return TAD_ERR_INVALID;
    for (unsigned i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++) {
        if (strcasecmp(s, action_names[i]) == 0) {
            *ret = (enum tad_tiktok_action)i;
            return TAD_OK;
        }
    }
    return TAD_ERR_INVALID;
}

tad_err tad_tiktok_classify(long http_status, long code)
{
    if (http_status == 429)
        return TAD_ERR_THROTTLED;
    if (http_status >= 500 && http_status <= 599)
        return TAD_ERR_SERVER;
    if (code == TAD_TIKTOK_NO_CODE) {
        if (http_status == 0 || (http_status >= 200 && http_status <= 299))
            return TAD_ERR_PARSE;
        return tad_http_status_class(http_status);
    }
    if (code == 0 || code == 20001) {
        if (http_status == 0 || (http_status >= 200 && http_status <= 299))
            return TAD_OK;
        return tad_http_status_class(http_status);
    }
    switch (code) {
    case 40100:
    case 40132:
        return TAD_ERR_THROTTLED;
    case 40201:
    case 40202:
    case 50000:
    case 50002:
    case 60001:
    case 61000:
        return TAD_ERR_SERVER;
    case 40102:
    case 40104:
    case 40105:
        return TAD_ERR_AUTH;
    case 40007:
        return TAD_ERR_NOT_FOUND;
    case 40001:
    case 40003:
        return TAD_ERR_DENIED;
    default:
        break;
    }
    if ((code >= 51000 && code <= 51999) || (code >= 52000 && code <= 52999))
        return TAD_ERR_SERVER;
    return TAD_ERR_CLIENT;
}

tad_err tad_tiktok_ids_add(struct tad_tiktok_ids *ids, const char *s)
{
    if (!ids || !s || !*s)
        return TAD_OK;
    if (ids->n == ids->alloc) {
        size_t na = ids->alloc ? ids->alloc * 2 : 8;
        char **nv = realloc(ids->v, na * sizeof(*nv));
        if (!nv)
            return TAD_ERR_NOMEM;
        ids->v = nv;
        ids->alloc = na;
    }
    char *c = strdup(s);
    if (!c)
        return TAD_ERR_NOMEM;
    ids->v[ids->n++] = c;
    return TAD_OK;
}

void tad_tiktok_ids_release(struct tad_tiktok_ids *ids)
{
    if (!ids)
        return;
    for (size_t i = 0; i < ids->n; i++)
        free(ids->v[i]);
    free(ids->v);
    ids->v = NULL;
    ids->n = ids->alloc = 0;
}

tad_err tad_tiktok_new(const struct tad_tiktok_opts *opts, struct tad_tiktok **ret)
{
    const char *base =
        opts && opts->api_base && *opts->api_base ? opts->api_base : TAD_TIKTOK_DEFAULT_API_BASE;
    if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)
        return TAD_ERR_INVALID;
    struct tad_tiktok *tt = calloc(1, sizeof(*tt));
    if (!tt)
        return TAD_ERR_NOMEM;
    size_t len = strlen(base);
    while (len > 0 && base[len - 1] == '/')
        len--;
    tt->api_base = strndup(base, len);
    if (!tt->api_base) {
        free(tt);
        return TAD_ERR_NOMEM;
    }
    tt->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : 300000;
    tt->rl = opts ? opts->rl : NULL;
    struct tad_retry_policy def = TAD_RETRY_POLICY_DEFAULT;
    tt->retry = opts && opts->retry.max_attempts > 0 ? opts->retry : def;
    tt->rng = opts ? opts->rng : NULL;
    tt->cancel = opts ? opts->cancel : NULL;
    tt->observe = opts ? opts->observe : NULL;
    tt->observe_ctx = opts ? opts->observe_ctx : NULL;
    *ret = tt;
    return TAD_OK;
}

void tad_tiktok_free(struct tad_tiktok *tt)
{
    if (!tt)
        return;
    free(tt->api_base);
    free(tt);
}

const struct tad_retry_policy *tad_tiktok_retry_policy(const struct tad_tiktok *tt)
{
    return &tt->retry;
}

tad_err tad_tiktok_pause(const struct tad_tiktok *tt, uint64_t ms)
{
    return tad_pause_ms(ms, tt->cancel) ? TAD_OK : TAD_ERR_CANCELLED;
}

static bool all_digits(const char *s, size_t max)
{
    if (!s || !*s)
        return false;
    size_t n = 0;
    for (; s[n]; n++) {
        if (s[n] < '0' || s[n] > '9' || n >= max)
            return false;
    }
    return true;
}

static tad_err check_creds(const struct tad_tiktok_creds *creds, struct tad_errinfo *err)
{
    if (!creds || !creds->access_token || !*creds->access_token)
        return tad_errinfo_set(err, TAD_ERR_AUTH, "TikTok access token is empty");
    if (strpbrk(creds->access_token, "\r\n"))
        return tad_errinfo_set(err, TAD_ERR_AUTH, "TikTok access token contains a line break");
    if (!all_digits(creds->advertiser_id, 30))
        return tad_errinfo_set(err, TAD_ERR_INVALID, "advertiser id must be digits");
    tad_log_register_secret(creds->access_token);
    return TAD_OK;
}

static unsigned parse_retry_after(const struct tad_http_response *resp)
{
    const char *v = tad_http_response_header(resp, "Retry-After");
    if (!v || *v < '0' || *v > '9')
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || (end && *end) || n > 3600)
        return 0;
    return (unsigned)n;
}

tad_err tad_tiktok_parse_answer(const char *body, size_t len, long http_status,
                                struct tad_tiktok_answer *ans)
{
    memset(ans, 0, sizeof(*ans));
    ans->code = TAD_TIKTOK_NO_CODE;
    json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    if (j) {
        ans->priv_root = j;
        json_t *c = json_object_get(j, "code");
        if (json_is_integer(c))
            ans->code = (long)json_integer_value(c);
        else if (json_is_string(c) && all_digits(json_string_value(c), 12))
            ans->code = strtol(json_string_value(c), NULL, 10);
        ans->request_id = json_string_value(json_object_get(j, "request_id"));
        ans->message = json_string_value(json_object_get(j, "message"));
    }
    tad_err e = tad_tiktok_classify(http_status, ans->code);
    if (e == TAD_OK) {
        json_t *d = json_object_get(j, "data");
        ans->data = json_is_object(d) ? json_incref(d) : json_object();
        if (!ans->data)
            e = TAD_ERR_NOMEM;
    }
    return e;
}

void tad_tiktok_answer_release(struct tad_tiktok_answer *ans)
{
    if (!ans)
        return;
    json_decref(ans->data);
    json_decref(ans->priv_root);
    memset(ans, 0, sizeof(*ans));
    ans->code = TAD_TIKTOK_NO_CODE;
}

/* One attempt: rate limit, exchange, envelope. Fills ei (always) and *retry_after. */
static tad_err one_attempt(struct tad_tiktok *tt, struct tad_http *h, const struct call *c,
                           const struct tad_http_request *req, struct tad_buf *body,
                           struct tad_http_response *resp, json_t **data,
                           struct tad_tiktok_ids *ids, struct tad_errinfo *ei,
                           unsigned *retry_after)
{
    struct tad_tiktok_answer ans = {TAD_TIKTOK_NO_CODE, NULL, NULL, NULL, NULL};
    tad_buf_reset(body);
    tad_err e = tad_ratelimit_acquire(tt->rl, tt->cancel);
    if (e != TAD_OK) {
        tad_errinfo_set(ei, e, "TikTok %s: cancelled", c->endpoint);
        goto out;
    }
    e = tad_http_perform(h, req, resp, ei);
    if (e != TAD_OK) {
        if (tt->observe && e != TAD_ERR_CANCELLED)
            tt->observe(tt->observe_ctx, c->endpoint, -1);
        char msg[sizeof(ei->msg)];
        tad_strlcpy(msg, sizeof(msg), ei->msg, strlen(ei->msg));
        tad_errinfo_set(ei, e, "TikTok %s: %s", c->endpoint, msg);
        goto out;
    }
    tad_err classified = tad_tiktok_parse_answer(body->data, body->len, resp->status, &ans);
    long code = ans.code;
    ei->http_status = resp->status;
    if (tt->observe)
        tt->observe(tt->observe_ctx, c->endpoint, code != TAD_TIKTOK_NO_CODE ? code : resp->status);
    const char *rid = ans.request_id;
    if (rid) {
        tad_strlcpy(ei->request_id, sizeof(ei->request_id), rid, strlen(rid));
        e = tad_tiktok_ids_add(ids, rid);
        if (e != TAD_OK)
            goto out;
    }
    e = classified;
    if (e == TAD_OK) {
        *data = ans.data;
        ans.data = NULL;
        goto out;
    }
    if (e == TAD_ERR_NOMEM)
        goto out;
    if (code != TAD_TIKTOK_NO_CODE) {
        const char *m = ans.message;
        ei->service_code = code;
        snprintf(ei->code, sizeof(ei->code), "%ld", code);
        tad_errinfo_set(ei, e, "%s", m && *m ? m : "TikTok error");
    } else {
        tad_errinfo_set(ei, e, "TikTok %s: HTTP %ld without a TikTok answer", c->endpoint,
                        resp->status);
    }
    *retry_after = parse_retry_after(resp);
    ei->retry_after = *retry_after;
    if (e == TAD_ERR_THROTTLED)
        tad_ratelimit_slow_down(tt->rl);
out:
    tad_tiktok_answer_release(&ans);
    return e;
}

/* Runs a call with the rate limit and retries. On success *data (new reference, may be an
 * empty object) holds the envelope's data. */
static tad_err run_call(struct tad_tiktok *tt, struct tad_http *h, const struct call *c,
                        json_t **data, struct tad_tiktok_ids *ids, struct tad_errinfo *err)
{
    struct tad_buf body;
    tad_buf_init(&body, BODY_CAP);
    struct tad_http_response resp;
    tad_http_response_init(&resp);
    tad_err e = TAD_OK;

    struct tad_http_header hdrs[2] = {{"Access-Token", c->creds->access_token},
                                      {"Content-Type", "application/json"}};
    struct tad_http_request req = {
        .method = c->method,
        .url = c->url,
        .headers = hdrs,
        .nheaders = c->json ? 2 : 1,
        .sink = {.kind = TAD_HTTP_SINK_BUF, .buf = &body},
        .timeout_ms = tt->timeout_ms,
    };
    if (c->json) {
        req.body.kind = TAD_HTTP_BODY_MEMORY;
        req.body.mem.data = c->json;
        req.body.mem.len = strlen(c->json);
    } else if (c->form) {
        req.body = *c->form;
    }

    for (unsigned attempt = 1;; attempt++) {
        struct tad_errinfo ei;
        tad_errinfo_clear(&ei);
        unsigned retry_after = 0;
        e = one_attempt(tt, h, c, &req, &body, &resp, data, ids, &ei, &retry_after);
        if (e == TAD_OK)
            break;
        log_debug("TikTok %s attempt %u failed: %s (http %ld, code %ld)", c->endpoint, attempt,
                  tad_err_str(e), ei.http_status, ei.service_code);
        if (err)
            *err = ei;
        if (!c->retry || !tad_err_retryable(e) || attempt >= tt->retry.max_attempts)
            break;
        uint64_t delay = tad_retry_delay_with_hint_ms(&tt->retry, attempt, retry_after, tt->rng);
        tad_err pe = tad_tiktok_pause(tt, delay);
        if (pe != TAD_OK) {
            e = tad_errinfo_set(err, pe, "TikTok %s: cancelled", c->endpoint);
            break;
        }
    }
    tad_http_response_release(&resp);
    tad_buf_release(&body);
    return e;
}

static tad_err make_url(struct tad_tiktok *tt, const char *path, struct tad_buf *url)
{
    tad_err e = tad_buf_append_str(url, tt->api_base);
    if (e == TAD_OK)
        e = tad_buf_append_str(url, path);
    return e;
}

static tad_err post_json(struct tad_tiktok *tt, struct tad_http *h,
                         const struct tad_tiktok_creds *creds, const char *endpoint,
                         const char *path, json_t *body, bool retry, json_t **data,
                         struct tad_tiktok_ids *ids, struct tad_errinfo *err)
{
    struct tad_buf url;
    tad_buf_init(&url, 0);
    char *text = NULL;
    tad_err e = make_url(tt, path, &url);
    if (e != TAD_OK)
        goto out;
    text = json_dumps(body, JSON_COMPACT);
    if (!text) {
        e = TAD_ERR_NOMEM;
        goto out;
    }
    struct call c = {endpoint, "POST", url.data, text, NULL, creds, retry};
    e = run_call(tt, h, &c, data, ids, err);
out:
    free(text);
    tad_buf_release(&url);
    return e;
}

tad_err tad_tiktok_upload(struct tad_tiktok *tt, struct tad_http *h,
                          const struct tad_tiktok_creds *creds, const struct tad_part *part,
                          const char *file_name, const char *calculate_type, char **ret_path,
                          struct tad_tiktok_ids *ids, struct tad_errinfo *err)
{
    tad_err e = check_creds(creds, err);
    if (e != TAD_OK)
        return e;
    size_t fl = file_name ? strlen(file_name) : 0;
    if (fl < 5 ||
        (strcmp(file_name + fl - 4, ".csv") != 0 && strcmp(file_name + fl - 4, ".txt") != 0))
        return tad_errinfo_set(err, TAD_ERR_INVALID, "upload file name must end in .csv/.txt");
    if (!calculate_type || !*calculate_type || !part || part->fd < 0 || strlen(part->md5) != 32)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "bad upload arguments");

    struct tad_buf url;
    tad_buf_init(&url, 0);
    json_t *data = NULL;
    e = make_url(tt, "/dmp/custom_audience/file/upload/", &url);
    if (e != TAD_OK)
        goto out;
    struct tad_http_form_field fields[3] = {{"advertiser_id", creds->advertiser_id},
                                            {"calculate_type", calculate_type},
                                            {"file_signature", part->md5}};
    struct tad_http_body form = {.kind = TAD_HTTP_BODY_MULTIPART};
    form.form.fields = fields;
    form.form.nfields = 3;
    form.form.file_field = "file";
    form.form.file_name = file_name;
    form.form.file_type = "text/csv";
    form.form.fd = part->fd;
    form.form.offset = 0;
    form.form.len = part->bytes;
    struct call c = {"upload", "POST", url.data, NULL, &form, creds, true};
    e = run_call(tt, h, &c, &data, ids, err);
    if (e != TAD_OK)
        goto out;
    const char *p = json_string_value(json_object_get(data, "file_path"));
    if (!p || !*p) {
        e = tad_errinfo_set(err, TAD_ERR_PARSE, "TikTok upload answer has no file_path");
        goto out;
    }
    char *copy = strdup(p);
    if (!copy) {
        e = TAD_ERR_NOMEM;
        goto out;
    }
    *ret_path = copy;
out:
    json_decref(data);
    tad_buf_release(&url);
    return e;
}

/* Copies a string or integer JSON value into dst; "" otherwise. */
static void json_scalar(json_t *v, char *dst, size_t dstsz)
{
    dst[0] = '\0';
    if (json_is_string(v))
        tad_strlcpy(dst, dstsz, json_string_value(v), json_string_length(v));
    else if (json_is_integer(v))
        snprintf(dst, dstsz, "%lld", (long long)json_integer_value(v));
}

static tad_err parse_audience(json_t *o, struct tad_tiktok_audience *a)
{
    memset(a, 0, sizeof(*a));
    if (!json_is_object(o))
        return TAD_ERR_PARSE;
    json_scalar(json_object_get(o, "audience_id"), a->audience_id, sizeof(a->audience_id));
    if (!a->audience_id[0])
        json_scalar(json_object_get(o, "custom_audience_id"), a->audience_id,
                    sizeof(a->audience_id));
    if (!all_digits(a->audience_id, 30))
        return TAD_ERR_PARSE;
    const char *name = json_string_value(json_object_get(o, "name"));
    a->name = strdup(name ? name : "");
    if (!a->name)
        return TAD_ERR_NOMEM;
    json_scalar(json_object_get(o, "calculate_type"), a->calculate_type, sizeof(a->calculate_type));
    a->is_creator = json_is_true(json_object_get(o, "is_creator"));
    json_scalar(json_object_get(o, "owner_id"), a->owner_id, sizeof(a->owner_id));
    json_scalar(json_object_get(o, "create_time"), a->create_time, sizeof(a->create_time));
    return TAD_OK;
}

void tad_tiktok_audience_release(struct tad_tiktok_audience *a)
{
    if (!a)
        return;
    free(a->name);
    a->name = NULL;
}

void tad_tiktok_audiences_release(struct tad_tiktok_audiences *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++)
        tad_tiktok_audience_release(&list->v[i]);
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

tad_err tad_tiktok_parse_list_page(const struct json_t *data, unsigned page,
                                   unsigned long long *total_page, struct tad_tiktok_audiences *acc,
                                   struct tad_errinfo *err)
{
    json_t *pi = json_object_get(data, "page_info");
    json_t *tp = json_object_get(pi, "total_page");
    unsigned long long total = *total_page;
    if (page == 1) {
        if (!json_is_integer(tp) || json_integer_value(tp) < 0)
            return tad_errinfo_set(err, TAD_ERR_PARSE, "TikTok list answer has no total_page");
        total = (unsigned long long)json_integer_value(tp);
    } else if (json_is_integer(tp) && json_integer_value(tp) > (json_int_t)total) {
        /* audiences were added while paging: follow the new count */
        total = (unsigned long long)json_integer_value(tp);
    }
    json_t *list = json_object_get(data, "list");
    if (list && !json_is_array(list))
        return tad_errinfo_set(err, TAD_ERR_PARSE, "TikTok list answer: list is not an array");
    size_t n = json_array_size(list);
    if (n > 0) {
        if (n > SIZE_MAX / sizeof(*acc->v) - acc->n)
            return TAD_ERR_NOMEM;
        struct tad_tiktok_audience *nv = realloc(acc->v, (acc->n + n) * sizeof(*nv));
        if (!nv)
            return TAD_ERR_NOMEM;
        acc->v = nv;
    }
    for (size_t i = 0; i < n; i++) {
        tad_err e = parse_audience(json_array_get(list, i), &acc->v[acc->n + i]);
        if (e != TAD_OK) {
            for (size_t k = 0; k <= i; k++)
                tad_tiktok_audience_release(&acc->v[acc->n + k]);
            return tad_errinfo_set(err, e, "TikTok list answer: bad audience entry");
        }
    }
    acc->n += n;
    *total_page = total;
    return TAD_OK;
}

static tad_err get_query(struct tad_tiktok *tt, struct tad_http *h,
                         const struct tad_tiktok_creds *creds, const char *endpoint,
                         const char *url, json_t **data, struct tad_tiktok_ids *ids,
                         struct tad_errinfo *err)
{
    struct call c = {endpoint, "GET", url, NULL, NULL, creds, true};
    return run_call(tt, h, &c, data, ids, err);
}

tad_err tad_tiktok_list(struct tad_tiktok *tt, struct tad_http *h,
                        const struct tad_tiktok_creds *creds, struct tad_tiktok_audiences *ret,
                        struct tad_tiktok_ids *ids, struct tad_errinfo *err)
{
    tad_err e = check_creds(creds, err);
    if (e != TAD_OK)
        return e;
    struct tad_tiktok_audiences acc = {NULL, 0};
    struct tad_buf url;
    tad_buf_init(&url, 0);
    json_t *data = NULL;
    unsigned long long total_page = 1;
    for (unsigned page = 1; page <= total_page; page++) {
        if (page > LIST_MAX_PAGES) {
            e = tad_errinfo_set(err, TAD_ERR_PARSE, "TikTok list has too many pages");
            goto out;
        }
        tad_buf_reset(&url);
        e = make_url(tt, "/dmp/custom_audience/list/", &url);
        if (e == TAD_OK)
            e = tad_buf_appendf(&url, "?advertiser_id=%s&page=%u&page_size=%u",
                                creds->advertiser_id, page, LIST_PAGE_SIZE);
        if (e != TAD_OK)
            goto out;
        json_decref(data);
        data = NULL;
        e = get_query(tt, h, creds, "list", url.data, &data, ids, err);
        if (e != TAD_OK)
            goto out;
        e = tad_tiktok_parse_list_page(data, page, &total_page, &acc, err);
        if (e != TAD_OK)
            goto out;
    }
    *ret = acc;
    acc.v = NULL;
    acc.n = 0;
out:
    tad_tiktok_audiences_release(&acc);
    json_decref(data);
    tad_buf_release(&url);
    return e;
}

tad_err tad_tiktok_get(struct tad_tiktok *tt, struct tad_http *h,
                       const struct tad_tiktok_creds *creds, const char *audience_id,
                       struct tad_tiktok_audience *ret, struct tad_tiktok_ids *ids,
                       struct tad_errinfo *err)
{
    tad_err e = check_creds(creds, err);
    if (e != TAD_OK)
        return e;
    if (!all_digits(audience_id, 30))
        return tad_errinfo_set(err, TAD_ERR_INVALID, "audience id must be digits");
    struct tad_buf url;
    tad_buf_init(&url, 0);
    json_t *data = NULL;
    e = make_url(tt, "/dmp/custom_audience/get/", &url);
    if (e == TAD_OK)
        e = tad_buf_appendf(&url, "?advertiser_id=%s&custom_audience_ids=%%5B%%22%s%%22%%5D",
                            creds->advertiser_id, audience_id);
    if (e != TAD_OK)
        goto out;
    e = get_query(tt, h, creds, "get", url.data, &data, ids, err);
    if (e != TAD_OK)
        goto out;
    json_t *list = json_object_get(data, "list");
    json_t *first = json_array_get(list, 0);
    json_t *details = json_object_get(first, "audience_details");
    if (!details) {
        e = tad_errinfo_set(err, TAD_ERR_NOT_FOUND, "audience %s does not exist", audience_id);
        goto out;
    }
    struct tad_tiktok_audience a;
    e = parse_audience(details, &a);
    if (e != TAD_OK) {
        tad_tiktok_audience_release(&a);
        tad_errinfo_set(err, e, "TikTok get answer: bad audience details");
        goto out;
    }
    *ret = a;
out:
    json_decref(data);
    tad_buf_release(&url);
    return e;
}

static json_t *string_array(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        if (json_array_append_new(a, json_string(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

tad_err tad_tiktok_create(struct tad_tiktok *tt, struct tad_http *h,
                          const struct tad_tiktok_creds *creds, const char *name,
                          const char *calculate_type, char *const *paths, size_t npaths,
                          char ret_id[32], struct tad_tiktok_ids *ids, struct tad_errinfo *err)
{
    tad_err e = check_creds(creds, err);
    if (e != TAD_OK)
        return e;
    if (!name || !*name || strlen(name) > 128 || !calculate_type || npaths == 0 ||
        npaths > TAD_TIKTOK_MAX_PATHS_PER_CALL)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "bad create arguments");
    json_t *data = NULL;
    json_t *body = json_pack("{s:s, s:s, s:s, s:o*}", "advertiser_id", creds->advertiser_id,
                             "custom_audience_name", name, "calculate_type", calculate_type,
                             "file_paths", string_array(paths, npaths));
    if (!body || !json_is_array(json_object_get(body, "file_paths"))) {
        e = TAD_ERR_NOMEM;
        goto out;
    }
    e = post_json(tt, h, creds, "create", "/dmp/custom_audience/create/", body, false, &data, ids,
                  err);
    if (e != TAD_OK)
        goto out;
    char id[32];
    json_scalar(json_object_get(data, "custom_audience_id"), id, sizeof(id));
    if (!id[0])
        json_scalar(json_object_get(data, "audience_id"), id, sizeof(id));
    if (!all_digits(id, 30)) {
        e = tad_errinfo_set(err, TAD_ERR_PARSE, "TikTok create answer has no audience id");
        goto out;
    }
    memcpy(ret_id, id, sizeof(id));
out:
    json_decref(body);
    json_decref(data);
    return e;
}

tad_err tad_tiktok_update(struct tad_tiktok *tt, struct tad_http *h,
                          const struct tad_tiktok_creds *creds, const char *audience_id,
                          enum tad_tiktok_action action, char *const *paths, size_t npaths,
                          struct tad_tiktok_ids *ids, struct tad_errinfo *err)
{
    tad_err e = check_creds(creds, err);
    if (e != TAD_OK)
        return e;
    if (!all_digits(audience_id, 30) || npaths == 0 || npaths > TAD_TIKTOK_MAX_PATHS_PER_CALL)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "bad update arguments");
    json_t *data = NULL;
    json_t *body =
        json_pack("{s:s, s:s, s:s, s:o*}", "advertiser_id", creds->advertiser_id,
                  "custom_audience_id", audience_id, "action", tad_tiktok_action_name(action),
                  "file_paths", string_array(paths, npaths));
    if (!body || !json_is_array(json_object_get(body, "file_paths"))) {
        e = TAD_ERR_NOMEM;
        goto out;
    }
    e = post_json(tt, h, creds, "update", "/dmp/custom_audience/update/", body, true, &data, ids,
                  err);
out:
    json_decref(body);
    json_decref(data);
    return e;
}

tad_err tad_tiktok_delete(struct tad_tiktok *tt, struct tad_http *h,
                          const struct tad_tiktok_creds *creds, const char *const *audience_ids,
                          size_t n, struct tad_tiktok_ids *ids, struct tad_errinfo *err)
{
    tad_err e = check_creds(creds, err);
    if (e != TAD_OK)
        return e;
    if (n == 0 || n > 100)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "delete takes 1 to 100 audience ids");
    for (size_t i = 0; i < n; i++) {
        if (!all_digits(audience_ids[i], 30))
            return tad_errinfo_set(err, TAD_ERR_INVALID, "audience id must be digits");
    }
    json_t *data = NULL;
    json_t *body = json_pack("{s:s, s:o*}", "advertiser_id", creds->advertiser_id,
                             "custom_audience_ids", string_array((char *const *)audience_ids, n));
    if (!body || !json_is_array(json_object_get(body, "custom_audience_ids"))) {
        e = TAD_ERR_NOMEM;
        goto out;
    }
    e = post_json(tt, h, creds, "delete", "/dmp/custom_audience/delete/", body, true, &data, ids,
                  err);
out:
    json_decref(body);
    json_decref(data);
    return e;
}
