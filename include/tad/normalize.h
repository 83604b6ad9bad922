/* normalize.h - per-row validation, normalisation and hashing of audience identifiers.
 *
 * Pure computation: no I/O, no logging. Raw identifiers (email, phone, mobile advertising id)
 * are normalised by TikTok's rules (docs/formats.md) and hashed with SHA-256; pre-hashed rows
 * (SHA-256 or MD5 hex) are checked and lower-cased. Every output is lower-case hex.
 *
 * The stateless functions are thread-safe. A struct tad_normalize holds a reusable digest
 * context so hashing allocates nothing per row; it belongs to one thread at a time.
 */
#ifndef TAD_NORMALIZE_H
#define TAD_NORMALIZE_H

#include <stddef.h>

#include "tad/error.h"

/* What a row holds. The raw kinds are hashed with SHA-256. */
enum tad_row_kind {
    TAD_ROW_SHA256 = 0,
    TAD_ROW_MD5,
    TAD_ROW_RAW_EMAIL,
    TAD_ROW_RAW_PHONE,
    TAD_ROW_RAW_MAID,
};

/* Longest normalised raw identifier (an email address: 254 octets) plus its NUL. */
#define TAD_NORMALIZE_MAX 255
/* Size of an output buffer: 64 hex digits plus a NUL. */
#define TAD_NORMALIZE_HEX_MAX 65

/* Length of the hex output for a kind: 32 for TAD_ROW_MD5, 64 for every other kind. */
size_t tad_normalize_hex_len(enum tad_row_kind kind);

/* Canonical forms of raw identifiers. Each writes the normalised text plus a NUL into out
 * (TAD_NORMALIZE_MAX bytes) and its length into *outlen, or returns TAD_ERR_INVALID (out
 * untouched) when the input is not a valid identifier of that kind. in need not be
 * NUL-terminated.
 *   email: trim ASCII whitespace, lower-case ASCII; exactly one '@', non-empty local part,
 *          a domain holding a '.', no whitespace or control byte inside, at most 254 bytes.
 *   phone: digits kept; '+', whitespace, '-', '(', ')', '.' dropped; anything else invalid;
 *          leading zeros stripped; 7..15 digits remain.
 *   maid:  trim, lower-case; must be a UUID 8-4-4-4-12 of hex digits. */
TAD_MUST_CHECK tad_err tad_normalize_email(const char *in, size_t len, char *out, size_t *outlen);
TAD_MUST_CHECK tad_err tad_normalize_phone(const char *in, size_t len, char *out, size_t *outlen);
TAD_MUST_CHECK tad_err tad_normalize_maid(const char *in, size_t len, char *out, size_t *outlen);

/* Checks that in is exactly want (32 or 64) hex digits in any case and writes them lower-cased
 * plus a NUL into out (want + 1 bytes). No trimming. TAD_ERR_INVALID otherwise. */
TAD_MUST_CHECK tad_err tad_normalize_hex(const char *in, size_t len, size_t want, char *out);

/* Reusable per-thread state (digest context). */
struct tad_normalize;

/* *new*: free with tad_normalize_free. */
TAD_MUST_CHECK tad_err tad_normalize_new(struct tad_normalize **ret);
void tad_normalize_free(struct tad_normalize *n);

/* Full treatment of one field: surrounding ASCII whitespace is trimmed, the value is
 * validated and normalised for its kind, raw kinds are SHA-256 hashed, and the lower-case hex
 * (tad_normalize_hex_len(kind) digits) plus a NUL is written to out (TAD_NORMALIZE_HEX_MAX
 * bytes). TAD_ERR_INVALID for a row that does not qualify (out untouched), TAD_ERR_NOMEM
 * or TAD_ERR_INVALID on a digest failure. No allocation per call. */
TAD_MUST_CHECK tad_err tad_normalize_row(struct tad_normalize *n, enum tad_row_kind kind,
                                         const char *in, size_t len, char *out);

/* SHA-256 of len bytes as lower-case hex plus a NUL (65 bytes) using n's context. */
TAD_MUST_CHECK tad_err tad_normalize_sha256_hex(struct tad_normalize *n, const void *data,
                                                size_t len, char *out);

/* Narrows [*in, *in + *len) to drop leading and trailing ASCII white space. */
void tad_normalize_trim(const char **in, size_t *len);

#endif
