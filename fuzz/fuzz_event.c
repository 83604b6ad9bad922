/* fuzz_event.c - libFuzzer target: one SQS message body through the event parser, then each
 * resulting key through the decoder and the router, checking the result's invariants. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tad/event.h"
#include "tad/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tad_event_result r;
    struct tad_errinfo info;
    tad_errinfo_clear(&info);
    if (tad_event_parse((const char *)data, size, &r, &info) != TAD_OK) {
        check(memchr(info.msg, '\0', sizeof(info.msg)) != NULL && info.msg[0] != '\0');
        return 0;
    }
    check(r.source_format != NULL);
    check(r.kind != TAD_EVENT_JOBS || r.n_jobs > 0);
    check(r.kind == TAD_EVENT_JOBS || r.n_jobs == 0);
    static const struct tad_route_rule rules[] = {{"tiktok/a", "s1"}, {"tiktok/ab/", "s2"}};
    static const struct tad_route_table table = {NULL, NULL, rules, 2};
    for (size_t i = 0; i < r.n_jobs; i++) {
        const struct tad_event_job *j = &r.jobs[i];
        check(j->bucket && j->bucket[0] && j->key && j->source_format);
        check(strlen(j->key) == j->key_len && j->key_len > 0 && j->key_len <= TAD_EVENT_KEY_MAX);
        check(j->size >= -1);
        /* only EventBridge keys are taken as they are and may still be encoded */
        if (strstr(j->source_format, "eventbridge"))
            check(j->key_maybe_encoded == tad_event_key_maybe_encoded(j->key, j->key_len));
        else
            check(!j->key_maybe_encoded);
        char *dec = NULL;
        size_t dec_len = 0;
        if (tad_event_key_decode(j->key, j->key_len, &dec, &dec_len, NULL) == TAD_OK) {
            check(dec_len <= j->key_len && strlen(dec) == dec_len);
            free(dec);
        }
        struct tad_route route;
        if (tad_route_resolve(&table, j->key, j->key_len, &route, NULL) == TAD_OK &&
            route.kind == TAD_ROUTE_JOB)
            check(route.secret_id != NULL && route.file_name[0] != '\0');
    }
    tad_event_result_release(&r);
    return 0;
}
