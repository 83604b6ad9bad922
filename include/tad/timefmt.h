/* timefmt.h - ISO 8601 UTC timestamps ("2020-11-05T02:02:26Z"): parsing (fraction allowed,
 * "Z" or "+00:00" required), as AWS writes them, and formatting, for reports and message
 * attributes. Pure. */
#ifndef TAD_TIMEFMT_H
#define TAD_TIMEFMT_H

#include <stdbool.h>
#include <time.h>

#include "tad/error.h"

TAD_MUST_CHECK tad_err tad_parse_iso8601(const char *s, time_t *ret);

#define TAD_ISO8601_SIZE 21 /* "YYYY-MM-DDTHH:MM:SSZ" and its NUL */

/* Writes t as "YYYY-MM-DDTHH:MM:SSZ"; "" (and false) when t cannot be represented. */
bool tad_format_iso8601(time_t t, char out[TAD_ISO8601_SIZE]);

#endif
