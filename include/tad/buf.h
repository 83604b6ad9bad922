/* buf.h - growable byte buffer with a size cap, and borrowed string views.
 *
 * struct tad_buf is embedded by its owner (tad_buf_init / tad_buf_release). The data is
 * always NUL-terminated after len bytes, so it can be used as a C string when it holds text.
 * A buffer never grows past its cap (0 = unlimited): appends that would pass it fail with
 * TAD_ERR_INVALID and leave the buffer unchanged. Not thread-safe; one owner at a time.
 */
#ifndef TAD_BUF_H
#define TAD_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "tad/error.h"

/* A borrowed view: valid while the memory it points into lives. */
struct tad_str {
    const char *ptr;
    size_t len;
};

#define TAD_STR_C(s) ((struct tad_str){(s), sizeof(s) - 1})
struct tad_str tad_str_from(const char *cstr); /* NULL gives the empty view */
int tad_str_eq(struct tad_str a, struct tad_str b);
int tad_str_eq_nocase(struct tad_str a, struct tad_str b);
int tad_str_starts_with(struct tad_str s, struct tad_str prefix);

struct tad_buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t alloc;
    size_t cap; /* 0 = unlimited */
};

#define TAD_BUF_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

void tad_buf_init(struct tad_buf *b, size_t cap);
/* Frees the storage. The buffer can be used again afterwards (empty, same cap). */
void tad_buf_release(struct tad_buf *b);
/* Like release, but wipes the bytes first (for secrets). */
void tad_buf_release_wipe(struct tad_buf *b);
/* Empties the buffer, keeping its storage. */
void tad_buf_reset(struct tad_buf *b);

TAD_MUST_CHECK tad_err tad_buf_reserve(struct tad_buf *b, size_t extra);
TAD_MUST_CHECK tad_err tad_buf_append(struct tad_buf *b, const void *data, size_t len);
TAD_MUST_CHECK tad_err tad_buf_append_str(struct tad_buf *b, const char *s);
TAD_MUST_CHECK tad_err tad_buf_append_byte(struct tad_buf *b, char c);
TAD_MUST_CHECK tad_err tad_buf_appendf(struct tad_buf *b, const char *fmt, ...) TAD_PRINTF(2, 3);
TAD_MUST_CHECK tad_err tad_buf_vappendf(struct tad_buf *b, const char *fmt, va_list ap);
/* Appends the lower-case hex of len bytes. */
TAD_MUST_CHECK tad_err tad_buf_append_hex(struct tad_buf *b, const unsigned char *p, size_t len);

/* Hands the storage to the caller (new, free() it; never NULL on success) and empties b. */
TAD_MUST_CHECK tad_err tad_buf_take(struct tad_buf *b, char **ret);

/* Value of one hex digit (either case), or -1. */
int tad_hex_value(unsigned char c);

/* Length of an excerpt buffer for TAD_EXCERPT_MAX input bytes ("..." and the NUL included). */
#define TAD_EXCERPT_MAX 40
#define TAD_EXCERPT_SIZE (TAD_EXCERPT_MAX + 4)
/* Printable-ASCII copy of s for error messages: other bytes become '?', input longer than
 * TAD_EXCERPT_MAX is cut and marked "...". out holds TAD_EXCERPT_SIZE bytes. */
void tad_excerpt(const char *s, size_t len, char out[TAD_EXCERPT_SIZE]);

/* Writes the lower-case hex of len bytes plus a NUL into out (2*len+1 bytes). */
void tad_hex_encode(const unsigned char *p, size_t len, char *out);

#endif
