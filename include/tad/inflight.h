/* inflight.h - the daemon's table of SQS messages it holds, and the decisions about them.
 *
 * Every received message is entered here until SQS has been told what became of it. A worker
 * owns its message while it is WORKING; when the work ends it marks the entry for deletion,
 * for release (visibility set to a delay so SQS redelivers it later), or forgets it (dry run).
 * One housekeeping thread takes batches of at most TAD_SQS_MAX_BATCH entries that need an SQS
 * call (deletes, releases, and visibility extensions of WORKING entries whose visibility is
 * about to run out), performs the call and reports the per-entry results back.
 *
 * Extension rule: a WORKING entry is extended once less than half of its visibility timeout
 * (at least TAD_INFLIGHT_MIN_LEAD_MS) is left, back to the full timeout, but never past SQS's
 * limit of 12 hours after the message was received (with a safety margin).
 *
 * Pure bookkeeping: no I/O, times are passed in (monotonic ms). Thread-safe (one mutex).
 * Receipt handles are copied in; pointers handed out in a batch stay valid until the batch is
 * completed, because only tad_inflight_complete() removes entries.
 */
#ifndef TAD_INFLIGHT_H
#define TAD_INFLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tad/error.h"
#include "tad/sqs.h"

#define TAD_INFLIGHT_MIN_LEAD_MS 1000u   /* extend at least this long before expiry */
#define TAD_INFLIGHT_LIMIT_MARGIN_S 30u  /* stay this far below the 12-hour limit */
#define TAD_INFLIGHT_MAX_CALL_FAILURES 5 /* an SQS action failing this often is given up */

enum tad_inflight_state {
    TAD_INFLIGHT_WORKING, /* a worker has it; extended while needed */
    TAD_INFLIGHT_DELETE,  /* delete it */
    TAD_INFLIGHT_RELEASE, /* set its visibility to release_delay_s */
};

enum tad_inflight_batch_kind {
    TAD_INFLIGHT_BATCH_DELETE,
    TAD_INFLIGHT_BATCH_RELEASE,
    TAD_INFLIGHT_BATCH_EXTEND,
};

struct tad_inflight_item {
    uint64_t id;
    const char *receipt_handle; /* borrowed from the table */
    const char *message_id;     /* borrowed from the table */
    unsigned visibility;        /* release delay or new visibility (seconds) */
    char entry_id[24];          /* batch entry id ("e<id>") */
};

struct tad_inflight_batch {
    enum tad_inflight_batch_kind kind;
    size_t n;
    struct tad_inflight_item items[TAD_SQS_MAX_BATCH];
};

struct tad_inflight;

TAD_MUST_CHECK tad_err tad_inflight_new(struct tad_inflight **ret);
void tad_inflight_free(struct tad_inflight *t);

/* Enters a received message (WORKING), visible again at now_ms + visibility_s unless extended.
 * *id identifies it from now on. */
TAD_MUST_CHECK tad_err tad_inflight_add(struct tad_inflight *t, const char *message_id,
                                        const char *receipt_handle, uint64_t now_ms,
                                        unsigned visibility_s, uint64_t *id);

/* The worker is done: DELETE, or RELEASE with a visibility delay (seconds). */
void tad_inflight_finish(struct tad_inflight *t, uint64_t id, enum tad_inflight_state state,
                         unsigned release_delay_s);
/* Drops an entry without any SQS action (dry run: the message reappears by itself). */
void tad_inflight_forget(struct tad_inflight *t, uint64_t id);

/* Every WORKING entry becomes RELEASE with delay 0 (shutdown). Returns how many. */
size_t tad_inflight_release_working(struct tad_inflight *t);

/* Counts: all entries, and those still WORKING. */
size_t tad_inflight_count(struct tad_inflight *t);
size_t tad_inflight_working(struct tad_inflight *t);

/* Fills *b with up to TAD_SQS_MAX_BATCH entries of this kind that need a call now (for
 * EXTEND: WORKING entries due at now_ms, with the new visibility computed from
 * visibility_s). Entries in a taken batch are not handed out again until completed.
 * Returns b->n. */
size_t tad_inflight_take(struct tad_inflight *t, enum tad_inflight_batch_kind kind, uint64_t now_ms,
                         unsigned visibility_s, struct tad_inflight_batch *b);

/* Outcome of one item of a taken batch. */
enum tad_inflight_item_result {
    TAD_INFLIGHT_OK,
    TAD_INFLIGHT_RETRY, /* try again later (transient or whole-call failure) */
    TAD_INFLIGHT_GONE,  /* the handle is no longer valid: drop the entry */
};

/* Reports a batch's results (results[i] for b->items[i]). Deleted and released entries that
 * succeeded, and GONE entries, are removed; extended ones get their new expiry (now_ms +
 * visibility). An item that failed TAD_INFLIGHT_MAX_CALL_FAILURES times in a row is dropped
 * (not for EXTEND of a WORKING entry, which stays). Returns how many entries were dropped
 * because of failures (the caller logs them). */
size_t tad_inflight_complete(struct tad_inflight *t, const struct tad_inflight_batch *b,
                             const enum tad_inflight_item_result *results, uint64_t now_ms);

/* Milliseconds until the earliest WORKING entry is due for extension (0 if one is due now,
 * UINT64_MAX if none). Pending DELETE/RELEASE entries give 0. */
uint64_t tad_inflight_next_due_ms(struct tad_inflight *t, uint64_t now_ms, unsigned visibility_s);

/* Whether entry id can still be extended (false once the 12-hour limit is reached). */
bool tad_inflight_extendable(struct tad_inflight *t, uint64_t id, uint64_t now_ms);

#endif
