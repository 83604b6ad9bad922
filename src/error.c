/* error.c - names and classification of tad_err, and the errinfo helpers.
 * Pure and thread-safe: no state. */
#include "tad/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const names[TAD_ERR__MAX] = {
    [TAD_OK] = "ok",
    [TAD_ERR_NOMEM] = "no memory",
    [TAD_ERR_INVALID] = "invalid",
    [TAD_ERR_IO] = "io",
    [TAD_ERR_PARSE] = "parse",
    [TAD_ERR_NETWORK] = "network",
    [TAD_ERR_THROTTLED] = "throttled",
    [TAD_ERR_SERVER] = "server",
    [TAD_ERR_AUTH] = "auth",
    [TAD_ERR_DENIED] = "denied",
    [TAD_ERR_NOT_FOUND] = "not found",
    [TAD_ERR_CLIENT] = "client",
    [TAD_ERR_CANCELLED] = "cancelled",
};

const char *tad_err_str(tad_err e)
{
    if ((unsigned)e >= TAD_ERR__MAX || !names[e])
        return "unknown";
    return names[e];
}

bool tad_err_retryable(tad_err e)
{
    return e == TAD_ERR_NETWORK || e == TAD_ERR_THROTTLED || e == TAD_ERR_SERVER;
}

bool tad_err_throttling(tad_err e)
{
    return e == TAD_ERR_THROTTLED;
}

void tad_errinfo_clear(struct tad_errinfo *info)
{
    if (info)
        memset(info, 0, sizeof(*info));
}

tad_err tad_errinfo_set(struct tad_errinfo *info, tad_err err, const char *fmt, ...)
{
    if (!info)
        return err;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(info->msg, sizeof(info->msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        info->msg[0] = '\0';
    return err;
}

void tad_strlcpy(char *dst, size_t dstsz, const char *src, size_t srclen)
{
    if (dstsz == 0)
        return;
    if (!src)
        srclen = 0;
    if (srclen >= dstsz)
        srclen = dstsz - 1;
    if (srclen)
        memcpy(dst, src, srclen);
    dst[srclen] = '\0';
}
