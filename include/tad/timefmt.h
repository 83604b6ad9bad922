/* timefmt.h - parsing of ISO 8601 UTC timestamps ("2020-11-05T02:02:26Z", fraction allowed,
 * "Z" or "+00:00" required), as AWS writes them. Pure. */
#ifndef TAD_TIMEFMT_H
#define TAD_TIMEFMT_H

#include <time.h>

#include "tad/error.h"

TAD_MUST_CHECK tad_err tad_parse_iso8601(const char *s, time_t *ret);

#endif
