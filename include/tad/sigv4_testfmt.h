/* sigv4_testfmt.h - readers for the AWS SigV4 test-suite formats (aws-c-auth and botocore).
 *
 * request.txt / .req: "METHOD SP target SP HTTP/1.1", then "Name:value" header lines (a line
 * starting with whitespace continues the previous value; the fold is kept and the signer
 * collapses it), an empty line, then the body. context.json: credentials, region, service,
 * timestamp, normalize, sign_body, expiration_in_seconds, omit_session_token.
 *
 * Used by the unit tests and developer tools only. Single-threaded; every parsed object owns
 * its strings (release functions free them).
 */
#ifndef TAD_SIGV4_TESTFMT_H
#define TAD_SIGV4_TESTFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "tad/error.h"
#include "tad/sigv4.h"
#include "tad/timefmt.h"

struct tad_sigv4_testreq {
    char *method;
    char *path;                       /* as written in the file (the suites write it unencoded) */
    char *query;                      /* after '?', NULL if none */
    struct tad_sigv4_header *headers; /* name/value strings owned by this struct */
    size_t nheaders;
    char *body; /* NUL-terminated for convenience; body_len bytes */
    size_t body_len;
};

struct tad_sigv4_testctx {
    char *access_key_id, *secret_access_key, *token; /* token NULL if absent */
    char *region, *service;
    time_t timestamp;
    bool normalize, sign_body, omit_session_token;
    unsigned expires;
};

/* Parses a request file held in memory. *out is new (tad_sigv4_testreq_release). */
TAD_MUST_CHECK tad_err tad_sigv4_testreq_parse(const char *text, size_t len,
                                               struct tad_sigv4_testreq *out,
                                               struct tad_errinfo *err);
void tad_sigv4_testreq_release(struct tad_sigv4_testreq *r);

/* Removes every header named name (case-insensitive); returns how many were removed and, if
 * value_out is not NULL and one was removed, the last removed value (new, caller frees). */
size_t tad_sigv4_testreq_remove_header(struct tad_sigv4_testreq *r, const char *name,
                                       char **value_out);

/* Parses context.json text. *out is new (tad_sigv4_testctx_release). */
TAD_MUST_CHECK tad_err tad_sigv4_testctx_parse(const char *json, size_t len,
                                               struct tad_sigv4_testctx *out,
                                               struct tad_errinfo *err);
void tad_sigv4_testctx_release(struct tad_sigv4_testctx *c);

/* Turns a suite case into signer inputs. The suites write paths unencoded: a normalising
 * signer encodes them itself, otherwise the wire form (encoded once) is built in wire, which
 * must outlive *rq. Without sign_body the payload hash is the empty-body hash. */
TAD_MUST_CHECK tad_err tad_sigv4_testcase_build(const struct tad_sigv4_testreq *tr,
                                                const struct tad_sigv4_testctx *ctx,
                                                struct tad_buf *wire, struct tad_sigv4_request *rq,
                                                struct tad_sigv4_creds *cr,
                                                struct tad_sigv4_params *pm);

/* Reads a whole file; *data is new, NUL-terminated, *len excludes the NUL. */
TAD_MUST_CHECK tad_err tad_sigv4_read_file(const char *path, char **data, size_t *len,
                                           struct tad_errinfo *err);

#endif
