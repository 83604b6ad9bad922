/* t_inflight.c - the in-flight table: when entries are extended and by how much (never past
 * the 12-hour limit), batching of deletes and releases, per-entry results, give-up after
 * repeated failures, forget during a running extension, and shutdown release. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "tad/inflight.h"

static struct tad_inflight *mk(void)
{
    struct tad_inflight *t = NULL;
    assert_int_equal(tad_inflight_new(&t), TAD_OK);
    return t;
}

static uint64_t add(struct tad_inflight *t, const char *mid, uint64_t now, unsigned vis)
{
    uint64_t id = 0;
    char rh[32];
    snprintf(rh, sizeof(rh), "rh-%s", mid);
    assert_int_equal(tad_inflight_add(t, mid, rh, now, vis, &id), TAD_OK);
    return id;
}

static void complete_all(struct tad_inflight *t, struct tad_inflight_batch *b,
                         enum tad_inflight_item_result r, uint64_t now)
{
    enum tad_inflight_item_result res[TAD_SQS_MAX_BATCH];
    for (size_t i = 0; i < b->n; i++)
        res[i] = r;
    (void)tad_inflight_complete(t, b, res, now);
}

static void extension_is_due_at_half_the_timeout(void **state)
{
    (void)state;
    struct tad_inflight *t = mk();
    uint64_t id = add(t, "m1", 1000, 120);
    struct tad_inflight_batch b;
    /* 59 s in: 61 s left, more than half: nothing to do */
    assert_int_equal(tad_inflight_take(t, TAD_INFLIGHT_BATCH_EXTEND, 1000 + 59000, 120, &b), 0);
    assert_int_equal(tad_inflight_next_due_ms(t, 1000 + 59000, 120), 1000);
    /* 60 s in: due, extended back to the full 120 s */
    assert_int_equal(tad_inflight_take(t, TAD_INFLIGHT_BATCH_EXTEND, 1000 + 60000, 120, &b), 1);
    assert_int_equal(b.items[0].id, id);
    assert_int_equal(b.items[0].visibility, 120);
    assert_string_equal(b.items[0].receipt_handle, "rh-m1");
    /* while taken it is not handed out again */
    struct tad_inflight_batch b2;
    assert_int_equal(tad_inflight_take(t, TAD_INFLIGHT_BATCH_EXTEND, 1000 + 61000, 120, &b2), 0);
    complete_all(t, &b, TAD_INFLIGHT_OK, 1000 + 60000);
    /* new expiry 180 s: next due at 120 s */
    assert_int_equal(tad_inflight_next_due_ms(t, 1000 + 60000, 120), 60000);
    assert_int_equal(tad_inflight_take(t, TAD_INFLIGHT_BATCH_EXTEND, 1000 + 119000, 120, &b), 0);
    assert_int_equal(tad_inflight_take(t, TAD_INFLIGHT_BATCH_EXTEND, 1000 + 120000, 120, &b), 1);
    /* a failed extension is simply offered again */
    complete_all(t, &b, TAD_INFLIGHT_RETRY, 1000 + 120000);
    assert_int_equal(tad_inflight_take(t, TAD_INFLIGHT_BATCH_EXTEND, 1000 + 121000, 120, &b), 1);
    assert_int_equal(tad_inflight_working(t), 1);
    tad_inflight_free(t);
}

static void short_timeouts_keep_a_minimum_lead(void **state)
{
    (void)state;
    struct tad_inflight *t = mk();
    (void)add(t, "m1", 0, 1); /* 1 s visibility: half is below the 1 s minimum lead */
    struct tad_inflight_batch b;
    /* at once: an extension to 1 s would not push the expiry later */
    assert_int_equal(tad_inflight_take(t, TAD_INFLIGHT_BATCH_EXTEND, 0, 1, &b), 0);
    /* half-way: due, and it is extended by the full second */
    assert_int_equal(tad_inflight_take(t, TAD_INFLIGHT_BATCH_EXTEND, 500, 1, &b), 1);
    assert_int_equal(b.items[0].visibility, 1);
    tad_inflight_free(t);
}

static void never_past_twelve_hours(void **state)
{
    (void)state;
    struct tad_inflight *t = mk();
    uint64_t id = add(t, "m1", 0, 3600);
    struct tad_inflight_batch b;
    uint64_t now = 0;
    unsigned last = 0;
    /* extend every time it is due until it no longer can */
    for (int i = 0; i < 100; i++) {
        uint64_t wait = tad_inflight_next_due_ms(t, now, 3600);
        if (wait == UINT64_MAX)
            break;
        now += wait;
        if (tad_inflight_take(t, TAD_INFLIGHT_BATCH_EXTEND, now, 3600, &b) == 0)
            break;
        last = b.items[0].visibility;
        /* the new expiry never passes 12 h after the receive */
        assert_true(now / 1000 + b.items[0].visibility <=
                    TAD_SQS_MAX_VISIBILITY - TAD_INFLIGHT_LIMIT_MARGIN_S);
        complete_all(t, &b, TAD_INFLIGHT_OK, now);
    }
    assert_true(last > 0 && last < 3600); /* the last extension was cut short */
    assert_true(now / 1000 > 11 * 3600);
    assert_int_equal(tad_inflight_take(t, TAD_INFLIGHT_BATCH_EXTEND, now + 3600000, 3600, &b), 0);
    assert_false(tad_inflight_extendable(t, id, TAD_SQS_MAX_VISIBILITY * 1000ull));
    tad_inflight_free(t);
}

static void deletes_and_releases_in_batches_of_ten(void **state)
{
    (void)state;
    struct tad_inflight *t = mk();
    uint64_t ids[25];
    for (int i = 0; i < 25; i++) {
        char mid[16];
        snprintf(mid, sizeof(mid), "m%d", i);
        ids[i] = add(t, mid, 0, 120);
    }
    for (int i = 0; i < 23; i++)
        tad_inflight_finish(t, ids[i], TAD_INFLIGHT_DELETE, 0);
    tad_inflight_finish(t, ids[23], TAD_INFLIGHT_RELEASE, 90);
    assert_int_equal(tad_inflight_count(t), 25);
    assert_int_equal(tad_inflight_working(t), 1);
    assert_int_equal(tad_inflight_next_due_ms(t, 0, 120), 0);
    struct tad_inflight_batch b1, b2, b3, b4;
    assert_int_equal(tad_inflight_take(t, TAD_INFLIGHT_BATCH_DELETE, 0, 120, &b1), 10);
    assert_int_equal(tad_inflight_take(t, TAD_INFLIGHT_BATCH_DELETE, 0, 120, &b2), 10);
    assert_int_equal(tad_inflight_take(t, TAD_INFLIGHT_BATCH_DELETE, 0, 120, &b3), 3);
    assert_int_equal(tad_inflight_take(t, TAD_INFLIGHT_BATCH_DELETE, 0, 120, &b4), 0);
    /* entry ids are unique within a batch */
    for (size_t i = 0; i < b1.n; i++)
        for (size_t j = i + 1; j < b1.n; j++)
            assert_string_not_equal(b1.items[i].entry_id, b1.items[j].entry_id);
    complete_all(t, &b1, TAD_INFLIGHT_OK, 0);
    /* per-entry results: one gone, one to retry, the rest done */
    enum tad_inflight_item_result res[TAD_SQS_MAX_BATCH];
    for (size_t i = 0; i < b2.n; i++)
        res[i] = TAD_INFLIGHT_OK;
    res[3] = TAD_INFLIGHT_GONE;
    res[4] = TAD_INFLIGHT_RETRY;
    assert_int_equal(tad_inflight_complete(t, &b2, res, 0), 0);
    complete_all(t, &b3, TAD_INFLIGHT_OK, 0);
    assert_int_equal(tad_inflight_count(t), 3); /* the retry, the release, the worker */
    assert_int_equal(tad_inflight_take(t, TAD_INFLIGHT_BATCH_DELETE, 0, 120, &b4), 1);
    assert_string_equal(b4.items[0].message_id, b2.items[4].message_id);
    complete_all(t, &b4, TAD_INFLIGHT_OK, 0);
    assert_int_equal(tad_inflight_take(t, TAD_INFLIGHT_BATCH_RELEASE, 0, 120, &b4), 1);
    assert_int_equal(b4.items[0].visibility, 90);
    complete_all(t, &b4, TAD_INFLIGHT_OK, 0);
    assert_int_equal(tad_inflight_count(t), 1);
    tad_inflight_free(t);
}

static void repeated_failures_give_up(void **state)
{
    (void)state;
    struct tad_inflight *t = mk();
    uint64_t id = add(t, "m1", 0, 120);
    tad_inflight_finish(t, id, TAD_INFLIGHT_DELETE, 0);
    struct tad_inflight_batch b;
    enum tad_inflight_item_result r = TAD_INFLIGHT_RETRY;
    size_t dropped = 0;
    for (int i = 0; i < TAD_INFLIGHT_MAX_CALL_FAILURES; i++) {
        assert_int_equal(tad_inflight_take(t, TAD_INFLIGHT_BATCH_DELETE, 0, 120, &b), 1);
        dropped += tad_inflight_complete(t, &b, &r, 0);
    }
    assert_int_equal(dropped, 1);
    assert_int_equal(tad_inflight_count(t), 0);
    tad_inflight_free(t);
}

static void finish_during_extension_and_forget(void **state)
{
    (void)state;
    struct tad_inflight *t = mk();
    uint64_t a = add(t, "a", 0, 10);
    uint64_t k = add(t, "k", 0, 10);
    struct tad_inflight_batch b;
    assert_int_equal(tad_inflight_take(t, TAD_INFLIGHT_BATCH_EXTEND, 5000, 10, &b), 2);
    /* the worker finishes a while its extension is on the way */
    tad_inflight_finish(t, a, TAD_INFLIGHT_DELETE, 0);
    /* k is forgotten (dry run) while its extension is on the way */
    tad_inflight_forget(t, k);
    struct tad_inflight_batch d;
    assert_int_equal(tad_inflight_take(t, TAD_INFLIGHT_BATCH_DELETE, 5000, 10, &d), 0);
    complete_all(t, &b, TAD_INFLIGHT_OK, 5000);
    assert_int_equal(tad_inflight_count(t), 1); /* k dropped, a waits for its delete */
    assert_int_equal(tad_inflight_take(t, TAD_INFLIGHT_BATCH_DELETE, 5000, 10, &d), 1);
    assert_int_equal(d.items[0].id, a);
    complete_all(t, &d, TAD_INFLIGHT_OK, 5000);
    assert_int_equal(tad_inflight_count(t), 0);
    /* forget without a batch removes at once */
    uint64_t f = add(t, "f", 0, 10);
    tad_inflight_forget(t, f);
    assert_int_equal(tad_inflight_count(t), 0);
    tad_inflight_free(t);
}

static void shutdown_releases_working_entries(void **state)
{
    (void)state;
    struct tad_inflight *t = mk();
    (void)add(t, "w1", 0, 30);
    (void)add(t, "w2", 0, 30);
    uint64_t d = add(t, "d", 0, 30);
    tad_inflight_finish(t, d, TAD_INFLIGHT_DELETE, 0);
    assert_int_equal(tad_inflight_release_working(t), 2);
    assert_int_equal(tad_inflight_working(t), 0);
    struct tad_inflight_batch b;
    assert_int_equal(tad_inflight_take(t, TAD_INFLIGHT_BATCH_RELEASE, 0, 30, &b), 2);
    assert_int_equal(b.items[0].visibility, 0);
    assert_int_equal(b.items[1].visibility, 0);
    assert_int_equal(tad_inflight_next_due_ms(t, 0, 30), 0); /* the delete is pending */
    tad_inflight_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(extension_is_due_at_half_the_timeout),
        cmocka_unit_test(short_timeouts_keep_a_minimum_lead),
        cmocka_unit_test(never_past_twelve_hours),
        cmocka_unit_test(deletes_and_releases_in_batches_of_ten),
        cmocka_unit_test(repeated_failures_give_up),
        cmocka_unit_test(finish_during_extension_and_forget),
        cmocka_unit_test(shutdown_releases_working_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
