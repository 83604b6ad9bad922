/* error.h - the one error model of tiktok-audienced.
 *
 * Every function that can fail returns a tad_err. Human-readable detail (HTTP status, the
 * service's error code, its message and request id) goes into an optional caller-owned
 * struct tad_errinfo. The classification helpers decide what the retry and failure-routing
 * code does with an error; nothing else in the program interprets error codes.
 */
#ifndef TAD_ERROR_H
#define TAD_ERROR_H

#include <stdbool.h>
#include <stddef.h>

#define TAD_MUST_CHECK __attribute__((warn_unused_result))
#define TAD_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))

typedef enum tad_err {
    TAD_OK = 0,
    TAD_ERR_NOMEM,     /* allocation failed */
    TAD_ERR_INVALID,   /* bad argument or bad input (permanent) */
    TAD_ERR_IO,        /* local file system error */
    TAD_ERR_PARSE,     /* malformed data from a peer or a file (permanent) */
    TAD_ERR_NETWORK,   /* DNS, connect, TLS, reset, timeout: retry */
    TAD_ERR_THROTTLED, /* 429, SlowDown, Throttling*, TikTok 40100: retry, slow down */
    TAD_ERR_SERVER,    /* 5xx and transient service codes: retry */
    TAD_ERR_AUTH,      /* expired or rejected credentials: refresh once, then permanent */
    TAD_ERR_DENIED,    /* access denied (permanent) */
    TAD_ERR_NOT_FOUND, /* missing object, queue, secret or audience (permanent) */
    TAD_ERR_CLIENT,    /* any other 4xx / service error (permanent) */
    TAD_ERR_CANCELLED, /* shutdown or drain deadline */
    TAD_ERR__MAX,
} tad_err;

/* Detail about the last failure. All strings are NUL-terminated and may be empty. */
struct tad_errinfo {
    long http_status;     /* 0 when no HTTP exchange happened */
    long service_code;    /* numeric service code (TikTok), 0 if none */
    char code[64];        /* service error code (AWS __type / <Code>), "" if none */
    char msg[256];        /* human-readable message; never contains secrets */
    char request_id[96];  /* x-amzn-RequestId / x-amz-request-id / TikTok request_id */
    unsigned retry_after; /* seconds the peer asked us to wait, 0 if it did not say */
};

/* Stable lower-case name of an error ("network", "throttled", ...). Never NULL. */
const char *tad_err_str(tad_err e);

/* True for errors that a later attempt may cure (network, throttled, server). */
bool tad_err_retryable(tad_err e);

/* True for errors that mean "slow down" (the shared rate limits react to these). */
bool tad_err_throttling(tad_err e);

/* Clears every field; info may be NULL. */
void tad_errinfo_clear(struct tad_errinfo *info);

/* Formats info->msg (truncating); info may be NULL. Returns err so callers can write
 * `return tad_errinfo_set(info, TAD_ERR_PARSE, "bad %s", what);`. */
tad_err tad_errinfo_set(struct tad_errinfo *info, tad_err err, const char *fmt, ...)
    TAD_PRINTF(3, 4);

/* Copies a possibly unterminated string into a fixed field, truncating. */
void tad_strlcpy(char *dst, size_t dstsz, const char *src, size_t srclen);

#endif
