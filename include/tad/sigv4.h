/* sigv4.h - AWS Signature Version 4 signer (header and presigned-query forms).
 *
 * Pure: no I/O, no clock, no environment. The caller passes the request as it will go on the
 * wire, the credentials and the signing time. Results are written into a caller-owned
 * struct tad_sigv4_result whose storage is reused across calls (zero-initialise it once, sign
 * many times, release it at the end); every string in it stays valid until the next sign
 * call on the same result or tad_sigv4_result_release.
 *
 * Threading: a result belongs to one thread at a time. struct tad_sigv4_key_cache is
 * thread-safe (mutex) and may be shared by every signer in the process.
 * Nothing here logs; secrets are never copied anywhere except the key cache, which wipes them.
 */
#ifndef TAD_SIGV4_H
#define TAD_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "tad/buf.h"
#include "tad/error.h"

#define TAD_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* SHA-256 of the empty string. */
#define TAD_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct tad_sigv4_creds {
    const char *access_key_id;     /* borrowed */
    const char *secret_access_key; /* borrowed */
    const char *session_token;     /* borrowed; NULL or "" for long-term credentials */
};

struct tad_sigv4_header {
    const char *name;
    const char *value;
};

struct tad_sigv4_request {
    const char *method; /* "GET", "POST", ... */
    /* Path as sent on the wire (already percent-encoded once). NULL or "" means "/". */
    const char *path;
    /* Raw wire query without the '?', NULL or "" if none. */
    const char *query;
    /* Must contain Host. Must not contain Authorization, X-Amz-Date, X-Amz-Security-Token or
     * X-Amz-Content-Sha256: the signer adds those (TAD_ERR_INVALID otherwise). Headers SDKs
     * never sign (User-Agent, Expect, Connection, Transfer-Encoding, ...) are skipped. */
    const struct tad_sigv4_header *headers;
    size_t nheaders;
    const void *body;
    size_t body_len;
    /* NULL: hex SHA-256 of body; otherwise the lower-case hex hash to use, or
     * TAD_SIGV4_UNSIGNED_PAYLOAD. */
    const char *payload_hash;
};

struct tad_sigv4_params {
    const char *region;  /* "us-east-1" */
    const char *service; /* "sqs", "s3", "secretsmanager", "sts" */
    time_t now;          /* signing time (UTC seconds) */
    /* S3 rules: raw_path + sign_body_header. */
    bool s3_style;
    /* Canonical URI = the wire path exactly as given (no normalisation, no second encoding).
     * Implied by s3_style. */
    bool raw_path;
    /* Add and sign X-Amz-Content-Sha256 = payload hash (header form only). Implied by
     * s3_style. */
    bool sign_body_header;
    /* The session token header/parameter is sent but not signed. */
    bool omit_session_token;
    unsigned expires; /* presign only: X-Amz-Expires in seconds (1..604800) */
};

struct tad_sigv4_result {
    /* Outputs; point into storage owned by the result. */
    const char *canonical_request;
    const char *string_to_sign;
    const char *signature;       /* lower-case hex */
    const char *authorization;   /* header form: value of the Authorization header */
    const char *signed_headers;  /* "host;x-amz-date" */
    const char *presigned_query; /* presign: full query incl. X-Amz-Signature; else NULL */
    char amz_date[17];           /* YYYYMMDDTHHMMSSZ */
    /* Headers the caller must add to the request, in this order: X-Amz-Date,
     * X-Amz-Security-Token, X-Amz-Content-Sha256 (as applicable), Authorization last.
     * Empty for presign. */
    struct tad_sigv4_header add[4];
    size_t nadd;
    /* Private: storage reused across calls. */
    struct tad_buf priv_store, priv_work, priv_qbuf, priv_tmp, priv_names;
    void *priv_hents, *priv_qents, *priv_mac, *priv_md;
    size_t priv_hcap, priv_qcap;
    int priv_mac_keyed;
    unsigned char priv_mac_key[32]; /* wiped by tad_sigv4_result_release */
};

#define TAD_SIGV4_RESULT_INIT                                                                      \
    {                                                                                              \
        0                                                                                          \
    }

/* Opaque, thread-safe cache of derived signing keys, keyed by
 * (secret, date, region, service). Key material is wiped on eviction and on free. */
struct tad_sigv4_key_cache;

/* *out is new (tad_sigv4_key_cache_free). */
TAD_MUST_CHECK tad_err tad_sigv4_key_cache_new(struct tad_sigv4_key_cache **out);
void tad_sigv4_key_cache_free(struct tad_sigv4_key_cache *cache); /* NULL ok */
/* Counters for diagnostics and tests. */
void tad_sigv4_key_cache_stats(struct tad_sigv4_key_cache *cache, uint64_t *hits, uint64_t *misses);

/* Header form. cache may be NULL (key derived every time). On failure *out keeps whatever it
 * held before. */
TAD_MUST_CHECK tad_err tad_sigv4_sign(const struct tad_sigv4_request *req,
                                      const struct tad_sigv4_creds *creds,
                                      const struct tad_sigv4_params *params,
                                      struct tad_sigv4_key_cache *cache,
                                      struct tad_sigv4_result *out, struct tad_errinfo *err);

/* Presigned-query form: X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders and
 * -Security-Token join the canonical query; out->presigned_query is the query to send. */
TAD_MUST_CHECK tad_err tad_sigv4_presign(const struct tad_sigv4_request *req,
                                         const struct tad_sigv4_creds *creds,
                                         const struct tad_sigv4_params *params,
                                         struct tad_sigv4_key_cache *cache,
                                         struct tad_sigv4_result *out, struct tad_errinfo *err);

/* Frees the result's storage; it can be reused afterwards. */
void tad_sigv4_result_release(struct tad_sigv4_result *res);

/* Appends s percent-encoded: RFC 3986 unreserved bytes (A-Za-z0-9-_.~) kept, and '/' when
 * keep_slash, every other byte as %XX with upper-case hex. */
TAD_MUST_CHECK tad_err tad_uri_encode(struct tad_buf *out, const char *s, size_t len,
                                      bool keep_slash);
/* Appends s with %XX sequences decoded; a '%' not followed by two hex digits is kept as is
 * and '+' is not special. */
TAD_MUST_CHECK tad_err tad_uri_decode(struct tad_buf *out, const char *s, size_t len);

#endif
