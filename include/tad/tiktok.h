/* tiktok.h - client for TikTok's API for Business (v1.3) custom-audience file endpoints:
 * file upload, list (every page), get, create, update and delete.
 *
 * Threading: one struct tad_tiktok is shared by all workers (it is immutable after
 * tad_tiktok_new; the rate limit it points to is itself thread-safe). Each call takes the
 * calling thread's own struct tad_http and the credentials to use.
 *
 * Every call first passes the shared rate limit, then checks the response envelope
 * (code, message, request_id, data) whatever the HTTP status. Errors are classified by
 * tad_tiktok_classify(); rate-limit answers slow the shared rate limit down. Transient
 * failures are retried in the call with the retry policy, except for create: a create whose
 * answer was lost may have happened, so create makes exactly one attempt and the caller
 * decides (it lists again before trying once more). On failure errinfo carries the HTTP
 * status, TikTok's code (service_code), its message (msg) and the request_id.
 * Every request_id seen (successes and failures) is appended to the optional `ids` list.
 * The access token is registered with the log redactor and never logged.
 */
#ifndef TAD_TIKTOK_H
#define TAD_TIKTOK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "tad/error.h"
#include "tad/http.h"
#include "tad/pipeline.h"
#include "tad/ratelimit.h"
#include "tad/retry.h"
#include "tad/secrets.h"

#define TAD_TIKTOK_DEFAULT_API_BASE "https://business-api.tiktok.com/open_api/v1.3"
#define TAD_TIKTOK_MAX_PATHS_PER_CALL 50u
#define TAD_TIKTOK_NO_CODE (-1L)

enum tad_tiktok_action {
    TAD_TIKTOK_APPEND = 0,
    TAD_TIKTOK_REMOVE,
    TAD_TIKTOK_REPLACE,
};

/* "APPEND", "REMOVE", "REPLACE". */
const char *tad_tiktok_action_name(enum tad_tiktok_action a);
/* "append|remove|replace" (case-insensitive) -> action; TAD_ERR_INVALID otherwise. */
TAD_MUST_CHECK tad_err tad_tiktok_action_parse(const char *s, enum tad_tiktok_action *ret);

/* Maps an answer to an error: http_status 0 = no status known; code TAD_TIKTOK_NO_CODE = the
 * body had no envelope. 0 and 20001 (partial OK) with a 2xx status are TAD_OK; HTTP 429,
 * 40100 and 40132 are THROTTLED; HTTP 5xx, 40201, 40202, 50000, 50002, 51xxx, 52xxx, 60001,
 * 61000 are SERVER; 40102, 40104, 40105 are AUTH; 40007 NOT_FOUND; 40001 and 40003 DENIED;
 * any other code CLIENT; a 2xx answer without an envelope PARSE. */
tad_err tad_tiktok_classify(long http_status, long code);

struct json_t; /* jansson */

/* One TikTok answer taken apart by tad_tiktok_parse_answer(). */
struct tad_tiktok_answer {
    long code;              /* the envelope's code; TAD_TIKTOK_NO_CODE when there is none */
    const char *message;    /* the envelope's message (borrowed from the answer), or NULL */
    const char *request_id; /* the envelope's request_id (borrowed from the answer), or NULL */
    struct json_t *data;    /* on TAD_OK: the data object (empty when absent); else NULL */
    struct json_t *priv_root;
};

/* Parses a response body (len bytes, borrowed, need not be NUL-terminated) as a TikTok JSON
 * envelope and classifies it with tad_tiktok_classify(http_status, code). Pure (no I/O, no
 * logging); every call and the fuzz target go through it. *ans is always filled, whatever the
 * result, and must be released with tad_tiktok_answer_release. Returns the classification, or
 * TAD_ERR_NOMEM when the empty data object cannot be made. */
TAD_MUST_CHECK tad_err tad_tiktok_parse_answer(const char *body, size_t len, long http_status,
                                               struct tad_tiktok_answer *ans);
/* Drops the references held by ans (NULL ok); message, request_id and data become invalid. */
void tad_tiktok_answer_release(struct tad_tiktok_answer *ans);

/* Growable list of request ids. Zero-initialise; free with tad_tiktok_ids_release. */
struct tad_tiktok_ids {
    char **v; /* owned strings */
    size_t n;
    size_t alloc;
};
TAD_MUST_CHECK tad_err tad_tiktok_ids_add(struct tad_tiktok_ids *ids, const char *s);
void tad_tiktok_ids_release(struct tad_tiktok_ids *ids);

struct tad_tiktok_opts {
    const char *api_base;          /* borrowed (copied); NULL = TAD_TIKTOK_DEFAULT_API_BASE */
    long timeout_ms;               /* per request; 0 = 300000 */
    struct tad_ratelimit *rl;      /* borrowed, may be NULL (no limit) */
    struct tad_retry_policy retry; /* max_attempts 0 = TAD_RETRY_POLICY_DEFAULT */
    const struct tad_rng *rng;     /* borrowed, NULL = default jitter */
    const atomic_int *cancel;      /* borrowed, may be NULL: ends waits with CANCELLED */
    /* Called (if set) after every attempt, from the calling thread, for metrics: endpoint is
     * "upload", "list", ...; code is the envelope's code, else the HTTP status, else -1 when
     * no answer arrived. */
    void (*observe)(void *ctx, const char *endpoint, long code);
    void *observe_ctx;
};

struct tad_tiktok;

/* *ret is new (tad_tiktok_free). TAD_ERR_INVALID for a base that is not http(s)://. */
TAD_MUST_CHECK tad_err tad_tiktok_new(const struct tad_tiktok_opts *opts, struct tad_tiktok **ret);
void tad_tiktok_free(struct tad_tiktok *tt);
/* The policy in use (borrowed). */
const struct tad_retry_policy *tad_tiktok_retry_policy(const struct tad_tiktok *tt);
/* Sleeps ms unless the client's cancel flag is set (TAD_ERR_CANCELLED then). */
TAD_MUST_CHECK tad_err tad_tiktok_pause(const struct tad_tiktok *tt, uint64_t ms);

/* One audience as list/ or get/ reports it. */
struct tad_tiktok_audience {
    char audience_id[32];
    char *name; /* owned */
    char calculate_type[32];
    bool is_creator;
    char owner_id[32];
    char create_time[32];
};

struct tad_tiktok_audiences {
    struct tad_tiktok_audience *v; /* owned */
    size_t n;
};
void tad_tiktok_audiences_release(struct tad_tiktok_audiences *list);

/* Takes one list/ answer's data object (borrowed) for page number `page` (1-based): on page 1
 * *total_page becomes data.page_info.total_page (required, >= 0); on later pages a larger
 * total_page replaces it. The page's audiences are appended to *acc. Pure. TAD_ERR_PARSE for a
 * missing total_page, a non-array list or a bad entry; on failure *acc and *total_page keep
 * their contents (acc->v may have been reallocated). */
TAD_MUST_CHECK tad_err tad_tiktok_parse_list_page(const struct json_t *data, unsigned page,
                                                  unsigned long long *total_page,
                                                  struct tad_tiktok_audiences *acc,
                                                  struct tad_errinfo *err);

/* Upload one part (multipart: advertiser_id, calculate_type, file_signature = part->md5, file
 * streamed from part->fd as file_name with text/csv). file_name must end in .csv or .txt.
 * *ret_path is new (free()). */
TAD_MUST_CHECK tad_err tad_tiktok_upload(struct tad_tiktok *tt, struct tad_http *h,
                                         const struct tad_tiktok_creds *creds,
                                         const struct tad_part *part, const char *file_name,
                                         const char *calculate_type, char **ret_path,
                                         struct tad_tiktok_ids *ids, struct tad_errinfo *err);

/* Every audience the advertiser sees (owned and shared), all pages of 100. *ret is new. */
TAD_MUST_CHECK tad_err tad_tiktok_list(struct tad_tiktok *tt, struct tad_http *h,
                                       const struct tad_tiktok_creds *creds,
                                       struct tad_tiktok_audiences *ret, struct tad_tiktok_ids *ids,
                                       struct tad_errinfo *err);

/* Details of one audience; NOT_FOUND when it does not exist or is not visible. */
TAD_MUST_CHECK tad_err tad_tiktok_get(struct tad_tiktok *tt, struct tad_http *h,
                                      const struct tad_tiktok_creds *creds, const char *audience_id,
                                      struct tad_tiktok_audience *ret, struct tad_tiktok_ids *ids,
                                      struct tad_errinfo *err);
void tad_tiktok_audience_release(struct tad_tiktok_audience *a);

/* Create an audience from 1..50 file paths; ONE attempt (see above). ret_id must hold 32
 * bytes; it receives data.custom_audience_id (or data.audience_id). */
TAD_MUST_CHECK tad_err tad_tiktok_create(struct tad_tiktok *tt, struct tad_http *h,
                                         const struct tad_tiktok_creds *creds, const char *name,
                                         const char *calculate_type, char *const *paths,
                                         size_t npaths, char ret_id[32], struct tad_tiktok_ids *ids,
                                         struct tad_errinfo *err);

/* Apply 1..50 file paths to an audience; `action` is always sent. */
TAD_MUST_CHECK tad_err tad_tiktok_update(struct tad_tiktok *tt, struct tad_http *h,
                                         const struct tad_tiktok_creds *creds,
                                         const char *audience_id, enum tad_tiktok_action action,
                                         char *const *paths, size_t npaths,
                                         struct tad_tiktok_ids *ids, struct tad_errinfo *err);

/* Delete 1..100 audiences. */
TAD_MUST_CHECK tad_err tad_tiktok_delete(struct tad_tiktok *tt, struct tad_http *h,
                                         const struct tad_tiktok_creds *creds,
                                         const char *const *audience_ids, size_t n,
                                         struct tad_tiktok_ids *ids, struct tad_errinfo *err);

#endif
