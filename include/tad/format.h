/* format.h - the identifier formats of the S3 key layout (`.../<audience>/<format>/...`).
 *
 * One enum for every accepted format, with TikTok's calculate_type to upload, whether the
 * daemon hashes the values itself (raw formats), the hash kind, and the CSV column names that
 * name the format. Pure and stateless; every function is thread-safe. Strings returned are
 * static (borrowed, never freed).
 */
#ifndef TAD_FORMAT_H
#define TAD_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include "tad/error.h"

enum tad_format {
    /* pre-hashed */
    TAD_FORMAT_EMAIL_SHA256,
    TAD_FORMAT_PHONE_SHA256,
    TAD_FORMAT_IDFA_SHA256,
    TAD_FORMAT_GAID_SHA256,
    TAD_FORMAT_FIRST_SHA256, /* also spelled MAID_SHA256 */
    TAD_FORMAT_IDFA_MD5,
    TAD_FORMAT_GAID_MD5,
    TAD_FORMAT_FIRST_MD5, /* also spelled MAID_MD5 */
    /* raw: normalised and SHA-256 hashed by the daemon */
    TAD_FORMAT_EMAIL,
    TAD_FORMAT_PHONE,
    TAD_FORMAT_IDFA,
    TAD_FORMAT_GAID,
    TAD_FORMAT_MAID,
    TAD_FORMAT__MAX,
};

enum tad_hash_kind {
    TAD_HASH_SHA256,
    TAD_HASH_MD5,
};

/* Parses a format name (len bytes, not necessarily NUL-terminated), ASCII case-insensitive.
 * MAID_SHA256 / MAID_MD5 give TAD_FORMAT_FIRST_SHA256 / TAD_FORMAT_FIRST_MD5.
 * Unknown names: TAD_ERR_INVALID. *ret written only on success. */
TAD_MUST_CHECK tad_err tad_format_parse(const char *name, size_t len, enum tad_format *ret,
                                        struct tad_errinfo *info);

/* Canonical upper-case name of the format itself ("EMAIL", "FIRST_SHA256"); "?" if out of
 * range. */
const char *tad_format_name(enum tad_format f);

/* TikTok calculate_type to upload the (possibly daemon-hashed) values as: raw formats give
 * their *_SHA256 type (MAID -> FIRST_SHA256). "?" if out of range. */
const char *tad_format_upload_name(enum tad_format f);

/* True for the raw formats (EMAIL, PHONE, IDFA, GAID, MAID), which the daemon hashes. */
bool tad_format_is_raw(enum tad_format f);

/* Hash of the uploaded values: MD5 for the *_MD5 formats, SHA-256 otherwise (raw formats are
 * hashed with SHA-256). */
enum tad_hash_kind tad_format_hash_kind(enum tad_format f);

/* Number of hex digits of one uploaded value: 64 (SHA-256) or 32 (MD5). */
size_t tad_format_hex_len(enum tad_format f);

/* Does a CSV header cell name this format? ASCII case-insensitive; surrounding blanks and
 * double quotes are ignored and '-' or ' ' count as '_'. Pre-hashed formats accept their own
 * name, their alias and the plain identifier name ("phone_sha256", "phone"); raw formats accept
 * only plain identifier names ("phone", "phone_number"), never hashed ones. */
bool tad_format_header_matches(enum tad_format f, const char *cell, size_t len);

/* The lower-case CSV header names that select this format's column (NULL-terminated,
 * static). */
const char *const *tad_format_header_names(enum tad_format f);

#endif
