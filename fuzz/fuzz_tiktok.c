/* fuzz_tiktok.c - libFuzzer target: TikTok API answers. Byte 0 picks the HTTP status, byte 1
 * the list page number and the total_page known before it; the rest is the response body.
 * The body goes through tad_tiktok_parse_answer() (the code every client call runs) and, when
 * it is a success, its data object through tad_tiktok_parse_list_page() as page 1 and then as
 * a later page. Checks: the result is tad_tiktok_classify() of the status and the code found;
 * code, message and request_id are what the envelope holds; data is an object exactly on
 * success; the parse is deterministic; the list parser appends exactly the list's entries,
 * each with a 1-30 digit id and a name, follows total_page by its rules and leaves its
 * outputs untouched on failure. Single-threaded. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tad/tiktok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        __builtin_trap();
}

static const long statuses[] = {200, 0,   201, 204, 299, 300, 302, 400, 401, 403,
                                404, 408, 409, 429, 499, 500, 502, 503, 599, 600};

static bool str_same(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* The envelope's fields as the reference reading of the same bytes sees them. */
static void check_envelope(const char *body, size_t len, const struct tad_tiktok_answer *a)
{
    json_t *j = len ? json_loadb(body, len, 0, NULL) : NULL;
    if (!json_is_object(j)) {
        check(a->code == TAD_TIKTOK_NO_CODE && !a->message && !a->request_id);
        json_decref(j);
        return;
    }
    json_t *c = json_object_get(j, "code");
    if (json_is_integer(c))
        check(a->code == (long)json_integer_value(c));
    else if (!json_is_string(c))
        check(a->code == TAD_TIKTOK_NO_CODE);
    else if (a->code != TAD_TIKTOK_NO_CODE)
        check(a->code >= 0 && a->code <= 999999999999L);
    check(str_same(a->message, json_string_value(json_object_get(j, "message"))));
    check(str_same(a->request_id, json_string_value(json_object_get(j, "request_id"))));
    json_decref(j);
}

static bool digits_1_30(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 30)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Parses data as list page `page` onto acc and checks the outcome. */
static void list_page(const json_t *d, unsigned page, unsigned long long *total,
                      struct tad_tiktok_audiences *acc)
{
    size_t n0 = acc->n;
    unsigned long long t0 = *total;
    const char *first_name = n0 ? acc->v[0].name : NULL;
    struct tad_errinfo info;
    tad_errinfo_clear(&info);
    tad_err e = tad_tiktok_parse_list_page(d, page, total, acc, &info);
    const json_t *list = json_object_get(d, "list");
    json_t *tp = json_object_get(json_object_get(d, "page_info"), "total_page");
    if (e != TAD_OK) {
        check(e == TAD_ERR_PARSE || e == TAD_ERR_NOMEM);
        check(e == TAD_ERR_NOMEM || info.msg[0] != '\0');
        check(acc->n == n0 && *total == t0);
        check(!n0 || acc->v[0].name == first_name);
        return;
    }
    check(!list || json_is_array(list));
    check(acc->n == n0 + json_array_size(list));
    if (page == 1)
        check(json_is_integer(tp) && *total == (unsigned long long)json_integer_value(tp));
    else if (json_is_integer(tp) && json_integer_value(tp) > (json_int_t)t0)
        check(*total == (unsigned long long)json_integer_value(tp));
    else
        check(*total == t0);
    for (size_t i = n0; i < acc->n; i++) {
        const struct tad_tiktok_audience *a = &acc->v[i];
        check(digits_1_30(a->audience_id));
        check(a->name != NULL);
        check(strlen(a->calculate_type) < sizeof(a->calculate_type));
        check(strlen(a->owner_id) < sizeof(a->owner_id));
        check(strlen(a->create_time) < sizeof(a->create_time));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    long status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
    unsigned page = 2u + (data[1] & 0x0fu);
    const char *body = (const char *)data + 2;
    size_t len = size - 2;

    struct tad_tiktok_answer a, b;
    tad_err e = tad_tiktok_parse_answer(body, len, status, &a);
    tad_err e2 = tad_tiktok_parse_answer(body, len, status, &b);
    check(e == e2 && a.code == b.code && str_same(a.message, b.message) &&
          str_same(a.request_id, b.request_id));
    tad_tiktok_answer_release(&b);
    check_envelope(body, len, &a);
    check(e == TAD_ERR_NOMEM || e == tad_tiktok_classify(status, a.code));
    if (e != TAD_OK) {
        check(a.data == NULL);
        tad_tiktok_answer_release(&a);
        return 0;
    }
    check(json_is_object(a.data));
    check(a.code == 0 || a.code == 20001);

    struct tad_tiktok_audiences acc = {NULL, 0};
    unsigned long long total = 0;
    list_page(a.data, 1, &total, &acc);
    total = data[1] >> 4;
    list_page(a.data, page, &total, &acc);
    tad_tiktok_audiences_release(&acc);
    check(acc.v == NULL && acc.n == 0);

    tad_tiktok_answer_release(&a);
    check(a.data == NULL && a.priv_root == NULL);
    return 0;
}
