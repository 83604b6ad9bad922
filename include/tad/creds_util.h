/* creds_util.h - helpers shared by the remote links of the credential chain (web identity,
 * container, instance metadata): token files, the JSON credential document, retry pauses.
 * Pure functions; no state; thread-safe.
 */
#ifndef TAD_CREDS_UTIL_H
#define TAD_CREDS_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "tad/aws_creds.h"
#include "tad/buf.h"
#include "tad/error.h"

#define TAD_CREDS_TOKEN_FILE_MAX (64 * 1024)

/* Reads a token file (what names it in errors) into out (appended; the caller wipes it),
 * without trailing white space. AUTH when it is missing, unreadable, empty or too large. */
TAD_MUST_CHECK tad_err tad_creds_read_token_file(const char *path, const char *what,
                                                 struct tad_buf *out, struct tad_errinfo *err);

/* Builds a snapshot (new) from the JSON credential document of the container endpoint and
 * IMDS: AccessKeyId, SecretAccessKey, Token, Expiration (ISO 8601). require_session makes
 * Token and Expiration mandatory. PARSE on a malformed document; AUTH when a "Code" member
 * is present and is not "Success" (IMDS error documents). */
TAD_MUST_CHECK tad_err tad_creds_from_json(const char *body, size_t len, const char *source,
                                           bool require_session, struct tad_aws_creds **ret,
                                           struct tad_errinfo *err);

/* Sleeps ms milliseconds (between attempts). */
void tad_creds_pause_ms(unsigned ms);

#endif
