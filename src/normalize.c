/* normalize.c - validation, normalisation and hashing of single identifiers (tad/normalize.h).
 *
 * No I/O and no logging; identifiers are never copied anywhere but the caller's buffers. The
 * stateless functions are thread-safe; a struct tad_normalize (one digest context, reused for
 * every row) is used by one thread at a time.
 */
#include "tad/normalize.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct tad_normalize {
    EVP_MD *sha256;
    EVP_MD_CTX *ctx;
};

/* Lower-case value of a hex digit, 0 for anything else. */
static const unsigned char hex_lower[256] = {
    ['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4', ['5'] = '5',
    ['6'] = '6', ['7'] = '7', ['8'] = '8', ['9'] = '9', ['a'] = 'a', ['b'] = 'b',
    ['c'] = 'c', ['d'] = 'd', ['e'] = 'e', ['f'] = 'f', ['A'] = 'a', ['B'] = 'b',
    ['C'] = 'c', ['D'] = 'd', ['E'] = 'e', ['F'] = 'f',
};

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

void tad_normalize_trim(const char **in, size_t *len)
{
    const char *p = *in;
    size_t n = *len;
    while (n > 0 && is_space((unsigned char)p[0])) {
        p++;
        n--;
    }
    while (n > 0 && is_space((unsigned char)p[n - 1]))
        n--;
    *in = p;
    *len = n;
}

size_t tad_normalize_hex_len(enum tad_row_kind kind)
{
    return kind == TAD_ROW_MD5 ? 32 : 64;
}

/* 16 bytes at a time with the compiler's generic vectors (SSE2 / NEON / scalar fallback):
 * a byte is a hex digit when it is '0'..'9', or 'a'..'f' once the 0x20 bit is set; that same
 * OR lower-cases it and leaves digits alone. Bytes >= 0x80 compare as neither. */
typedef unsigned char v16u8 __attribute__((vector_size(16)));

tad_err tad_normalize_hex(const char *in, size_t len, size_t want, char *out)
{
    if (len != want || want % 16 != 0 || want > 64)
        return TAD_ERR_INVALID;
    const v16u8 c20 = {0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
                       0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20};
    v16u8 low[4];
    v16u8 ok = ~(v16u8){0};
    for (size_t i = 0; i < want / 16; i++) {
        v16u8 x;
        memcpy(&x, in + 16 * i, 16);
        v16u8 l = x | c20;
        v16u8 digit = (v16u8)((x >= (unsigned char)'0') & (x <= (unsigned char)'9'));
        v16u8 alpha = (v16u8)((l >= (unsigned char)'a') & (l <= (unsigned char)'f'));
        ok &= digit | alpha;
        low[i] = l;
    }
    uint64_t acc[2];
    memcpy(acc, &ok, sizeof(acc));
    if ((acc[0] & acc[1]) != UINT64_MAX)
        return TAD_ERR_INVALID;
    memcpy(out, low, want);
    out[want] = '\0';
    return TAD_OK;
}

tad_err tad_normalize_email(const char *in, size_t len, char *out, size_t *outlen)
{
    tad_normalize_trim(&in, &len);
    if (len == 0 || len > TAD_NORMALIZE_MAX - 1)
        return TAD_ERR_INVALID;
    char tmp[TAD_NORMALIZE_MAX];
    size_t at = SIZE_MAX;
    int dot_after_at = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c <= 0x20 || c == 0x7f)
            return TAD_ERR_INVALID;
        if (c == '@') {
            if (at != SIZE_MAX)
                return TAD_ERR_INVALID;
            at = i;
        } else if (c == '.' && at != SIZE_MAX) {
            dot_after_at = 1;
        }
        tmp[i] = (char)ascii_lower(c);
    }
    if (at == SIZE_MAX || at == 0 || !dot_after_at)
        return TAD_ERR_INVALID;
    memcpy(out, tmp, len);
    out[len] = '\0';
    *outlen = len;
    return TAD_OK;
}

tad_err tad_normalize_phone(const char *in, size_t len, char *out, size_t *outlen)
{
    char digits[16];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c >= '0' && c <= '9') {
            if (n == 0 && c == '0')
                continue; /* leading zeros (international prefix "00") */
            if (n == sizeof(digits) - 1)
                return TAD_ERR_INVALID;
            digits[n++] = (char)c;
        } else if (c == '+' || c == '-' || c == '(' || c == ')' || c == '.' || is_space(c)) {
            continue;
        } else {
            return TAD_ERR_INVALID;
        }
    }
    if (n < 7 || n > 15)
        return TAD_ERR_INVALID;
    memcpy(out, digits, n);
    out[n] = '\0';
    *outlen = n;
    return TAD_OK;
}

tad_err tad_normalize_maid(const char *in, size_t len, char *out, size_t *outlen)
{
    tad_normalize_trim(&in, &len);
    if (len != 36)
        return TAD_ERR_INVALID;
    char tmp[36];
    for (size_t i = 0; i < 36; i++) {
        unsigned char c = (unsigned char)in[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return TAD_ERR_INVALID;
            tmp[i] = '-';
        } else {
            unsigned char h = hex_lower[c];
            if (h == 0)
                return TAD_ERR_INVALID;
            tmp[i] = (char)h;
        }
    }
    memcpy(out, tmp, 36);
    out[36] = '\0';
    *outlen = 36;
    return TAD_OK;
}

tad_err tad_normalize_new(struct tad_normalize **ret)
{
    tad_err err = TAD_ERR_NOMEM;
    struct tad_normalize *n = calloc(1, sizeof(*n));
    if (!n)
        goto out;
    n->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    n->ctx = EVP_MD_CTX_new();
    if (!n->sha256 || !n->ctx)
        goto out;
    *ret = n;
    n = NULL;
    err = TAD_OK;
out:
    tad_normalize_free(n);
    return err;
}

void tad_normalize_free(struct tad_normalize *n)
{
    if (!n)
        return;
    EVP_MD_CTX_free(n->ctx);
    EVP_MD_free(n->sha256);
    free(n);
}

static const char hexdig[] = "0123456789abcdef";

tad_err tad_normalize_sha256_hex(struct tad_normalize *n, const void *data, size_t len, char *out)
{
    unsigned char md[32];
    unsigned mdlen = 0;
    /* Re-initialising a context that already holds the same digest reuses its provider
     * state: no allocation per call. */
    if (EVP_DigestInit_ex2(n->ctx, n->sha256, NULL) != 1 ||
        EVP_DigestUpdate(n->ctx, data, len) != 1 || EVP_DigestFinal_ex(n->ctx, md, &mdlen) != 1 ||
        mdlen != sizeof(md))
        return TAD_ERR_INVALID;
    for (size_t i = 0; i < sizeof(md); i++) {
        out[2 * i] = hexdig[md[i] >> 4];
        out[2 * i + 1] = hexdig[md[i] & 15];
    }
    out[64] = '\0';
    return TAD_OK;
}

tad_err tad_normalize_row(struct tad_normalize *n, enum tad_row_kind kind, const char *in,
                          size_t len, char *out)
{
    char norm[TAD_NORMALIZE_MAX];
    size_t nlen = 0;
    tad_err err;

    tad_normalize_trim(&in, &len);
    switch (kind) {
    case TAD_ROW_SHA256:
        return tad_normalize_hex(in, len, 64, out);
    case TAD_ROW_MD5:
        return tad_normalize_hex(in, len, 32, out);
    case TAD_ROW_RAW_EMAIL:
        err = tad_normalize_email(in, len, norm, &nlen);
        break;
    case TAD_ROW_RAW_PHONE:
        err = tad_normalize_phone(in, len, norm, &nlen);
        break;
    case TAD_ROW_RAW_MAID:
        err = tad_normalize_maid(in, len, norm, &nlen);
        break;
    default:
        return TAD_ERR_INVALID;
    }
    if (err != TAD_OK)
        return err;
    return tad_normalize_sha256_hex(n, norm, nlen, out);
}
