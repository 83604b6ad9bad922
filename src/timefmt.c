/* timefmt.c - ISO 8601 UTC timestamps, as AWS writes them (credential expiry, test-suite
 * contexts). Pure and thread-safe. */
#include "tad/timefmt.h"

#include <string.h>

tad_err tad_parse_iso8601(const char *s, time_t *ret)
{
    /* YYYY-MM-DDTHH:MM:SS[.fff][Z|+00:00] */
    int f[6] = {0};
    static const char seps[] = "--T::";
    const char *p = s;
    for (int i = 0; i < 6; i++) {
        int digits = i == 0 ? 4 : 2, v = 0;
        for (int d = 0; d < digits; d++, p++) {
            if (*p < '0' || *p > '9')
                return TAD_ERR_PARSE;
            v = v * 10 + (*p - '0');
        }
        f[i] = v;
        if (i < 5) {
            if (*p != seps[i] && !(i == 2 && *p == 't'))
                return TAD_ERR_PARSE;
            p++;
        }
    }
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    if (!((*p == 'Z' || *p == 'z') && p[1] == '\0') && strcmp(p, "+00:00") != 0)
        return TAD_ERR_PARSE;
    if (f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 || f[5] > 60)
        return TAD_ERR_PARSE;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = f[0] - 1900;
    tm.tm_mon = f[1] - 1;
    tm.tm_mday = f[2];
    tm.tm_hour = f[3];
    tm.tm_min = f[4];
    tm.tm_sec = f[5];
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return TAD_ERR_PARSE;
    *ret = t;
    return TAD_OK;
}

bool tad_format_iso8601(time_t t, char out[TAD_ISO8601_SIZE])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, TAD_ISO8601_SIZE, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        out[0] = '\0';
        return false;
    }
    return true;
}
