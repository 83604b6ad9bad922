/* buf.c - growable capped byte buffer (see tad/buf.h). Single owner, no locking. */
#include "tad/buf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

struct tad_str tad_str_from(const char *cstr)
{
    struct tad_str s = {cstr ? cstr : "", cstr ? strlen(cstr) : 0};
    return s;
}

int tad_str_eq(struct tad_str a, struct tad_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

int tad_str_eq_nocase(struct tad_str a, struct tad_str b)
{
    if (a.len != b.len)
        return 0;
    for (size_t i = 0; i < a.len; i++)
        if (tolower((unsigned char)a.ptr[i]) != tolower((unsigned char)b.ptr[i]))
            return 0;
    return 1;
}

int tad_str_starts_with(struct tad_str s, struct tad_str prefix)
{
    return s.len >= prefix.len && (prefix.len == 0 || memcmp(s.ptr, prefix.ptr, prefix.len) == 0);
}

void tad_buf_init(struct tad_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void tad_buf_release(struct tad_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

void tad_buf_release_wipe(struct tad_buf *b)
{
    if (b->data)
        OPENSSL_cleanse(b->data, b->alloc);
    tad_buf_release(b);
}

void tad_buf_reset(struct tad_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

tad_err tad_buf_reserve(struct tad_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return TAD_ERR_NOMEM;
    size_t need = b->len + extra + 1; /* +1 for the NUL */
    if (b->cap && need - 1 > b->cap)
        return TAD_ERR_INVALID;
    if (need <= b->alloc)
        return TAD_OK;
    size_t n = b->alloc ? b->alloc : 64;
    while (n < need)
        n = n > SIZE_MAX / 2 ? need : n * 2;
    if (b->cap && n > b->cap + 1)
        n = b->cap + 1;
    char *p = realloc(b->data, n);
    if (!p)
        return TAD_ERR_NOMEM;
    b->data = p;
    b->alloc = n;
    return TAD_OK;
}

tad_err tad_buf_append(struct tad_buf *b, const void *data, size_t len)
{
    tad_err err = tad_buf_reserve(b, len);
    if (err)
        return err;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return TAD_OK;
}

tad_err tad_buf_append_str(struct tad_buf *b, const char *s)
{
    return tad_buf_append(b, s, strlen(s));
}

tad_err tad_buf_append_byte(struct tad_buf *b, char c)
{
    return tad_buf_append(b, &c, 1);
}

tad_err tad_buf_vappendf(struct tad_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return TAD_ERR_INVALID;
    tad_err err = tad_buf_reserve(b, (size_t)n);
    if (err)
        return err;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return TAD_OK;
}

tad_err tad_buf_appendf(struct tad_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tad_err err = tad_buf_vappendf(b, fmt, ap);
    va_end(ap);
    return err;
}

void tad_hex_encode(const unsigned char *p, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
}

tad_err tad_buf_append_hex(struct tad_buf *b, const unsigned char *p, size_t len)
{
    tad_err err = tad_buf_reserve(b, 2 * len);
    if (err)
        return err;
    tad_hex_encode(p, len, b->data + b->len);
    b->len += 2 * len;
    return TAD_OK;
}

tad_err tad_buf_take(struct tad_buf *b, char **ret)
{
    if (!b->data) {
        tad_err err = tad_buf_reserve(b, 0);
        if (err)
            return err;
        b->data[0] = '\0';
    }
    *ret = b->data;
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    return TAD_OK;
}

int tad_hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void tad_excerpt(const char *s, size_t len, char out[TAD_EXCERPT_SIZE])
{
    size_t n = len > TAD_EXCERPT_MAX ? TAD_EXCERPT_MAX : len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (len > TAD_EXCERPT_MAX) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}
