/* ini.h - a small INI reader for the AWS shared files (~/.aws/credentials, ~/.aws/config).
 *
 * Syntax: "[section]" headers (inner white space collapsed, so "[profile  a]" is "profile a"),
 * "key = value" properties (key and value trimmed; a value's " #..." / " ;..." tail is a
 * comment), whole-line comments starting with '#' or ';', blank lines. Indented lines are
 * sub-properties of the previous key (e.g. "s3 =\n  max_concurrent_requests = 10") and are
 * ignored. A repeated section is merged; a repeated key keeps its last value.
 *
 * Threading: a parsed struct tad_ini is immutable; concurrent readers are fine.
 * Ownership: tad_ini_load/tad_ini_parse return a new object freed (and wiped, since the files
 * hold secrets) with tad_ini_free; strings returned by tad_ini_get are borrowed from it.
 */
#ifndef TAD_INI_H
#define TAD_INI_H

#include <stdbool.h>
#include <stddef.h>

#include "tad/error.h"

struct tad_ini;

#define TAD_INI_MAX_FILE (1024 * 1024) /* larger files are refused */

/* Parses text (len bytes, need not be NUL-terminated). PARSE names the bad line number. */
TAD_MUST_CHECK tad_err tad_ini_parse(const char *text, size_t len, struct tad_ini **ret,
                                     struct tad_errinfo *err);
/* Reads and parses a file. NOT_FOUND when it does not exist, IO when it cannot be read. */
TAD_MUST_CHECK tad_err tad_ini_load(const char *path, struct tad_ini **ret,
                                    struct tad_errinfo *err);
void tad_ini_free(struct tad_ini *ini);

/* Whether the section exists (even empty). ini may be NULL (then false). */
bool tad_ini_has_section(const struct tad_ini *ini, const char *section);
/* Value of key in section (borrowed), NULL if absent. ini may be NULL. */
const char *tad_ini_get(const struct tad_ini *ini, const char *section, const char *key);

#endif
