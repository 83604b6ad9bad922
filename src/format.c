/* format.c - identifier formats: names, upload types, hash kinds, CSV header names.
 * Pure tables, no state; thread-safe. */
#include "tad/format.h"

#include <string.h>

struct format_info {
    const char *name;        /* canonical name in the key layout */
    const char *alias;       /* second accepted spelling, or NULL */
    const char *upload;      /* calculate_type sent to TikTok */
    bool raw;                /* the daemon normalises and hashes */
    enum tad_hash_kind hash; /* hash of the uploaded values */
    const char *headers[5];  /* lower-case CSV header names, NULL-terminated */
};

static const struct format_info formats[TAD_FORMAT__MAX] = {
    [TAD_FORMAT_EMAIL_SHA256] = {"EMAIL_SHA256",
                                 NULL,
                                 "EMAIL_SHA256",
                                 false,
                                 TAD_HASH_SHA256,
                                 {"email_sha256", "sha256_email", "hashed_email", "email", NULL}},
    [TAD_FORMAT_PHONE_SHA256] = {"PHONE_SHA256",
                                 NULL,
                                 "PHONE_SHA256",
                                 false,
                                 TAD_HASH_SHA256,
                                 {"phone_sha256", "sha256_phone", "hashed_phone", "phone", NULL}},
    [TAD_FORMAT_IDFA_SHA256] =
        {"IDFA_SHA256", NULL, "IDFA_SHA256", false, TAD_HASH_SHA256, {"idfa_sha256", "idfa", NULL}},
    [TAD_FORMAT_GAID_SHA256] =
        {"GAID_SHA256", NULL, "GAID_SHA256", false, TAD_HASH_SHA256, {"gaid_sha256", "gaid", NULL}},
    [TAD_FORMAT_FIRST_SHA256] = {"FIRST_SHA256",
                                 "MAID_SHA256",
                                 "FIRST_SHA256",
                                 false,
                                 TAD_HASH_SHA256,
                                 {"first_sha256", "maid_sha256", "maid", NULL}},
    [TAD_FORMAT_IDFA_MD5] =
        {"IDFA_MD5", NULL, "IDFA_MD5", false, TAD_HASH_MD5, {"idfa_md5", "idfa", NULL}},
    [TAD_FORMAT_GAID_MD5] =
        {"GAID_MD5", NULL, "GAID_MD5", false, TAD_HASH_MD5, {"gaid_md5", "gaid", NULL}},
    [TAD_FORMAT_FIRST_MD5] = {"FIRST_MD5",
                              "MAID_MD5",
                              "FIRST_MD5",
                              false,
                              TAD_HASH_MD5,
                              {"first_md5", "maid_md5", "maid", NULL}},
    [TAD_FORMAT_EMAIL] =
        {"EMAIL", NULL, "EMAIL_SHA256", true, TAD_HASH_SHA256, {"email", "email_address", NULL}},
    [TAD_FORMAT_PHONE] =
        {"PHONE", NULL, "PHONE_SHA256", true, TAD_HASH_SHA256, {"phone", "phone_number", NULL}},
    [TAD_FORMAT_IDFA] = {"IDFA", NULL, "IDFA_SHA256", true, TAD_HASH_SHA256, {"idfa", NULL}},
    [TAD_FORMAT_GAID] = {"GAID", NULL, "GAID_SHA256", true, TAD_HASH_SHA256, {"gaid", NULL}},
    [TAD_FORMAT_MAID] = {"MAID", NULL, "FIRST_SHA256", true, TAD_HASH_SHA256, {"maid", NULL}},
};

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* a (len bytes) equals the NUL-terminated b, ignoring ASCII case */
static bool eq_nocase(const char *a, size_t len, const char *b)
{
    size_t blen = strlen(b);
    if (len != blen)
        return false;
    for (size_t i = 0; i < len; i++)
        if (ascii_lower(a[i]) != ascii_lower(b[i]))
            return false;
    return true;
}

static bool valid(enum tad_format f)
{
    return (unsigned)f < TAD_FORMAT__MAX;
}

tad_err tad_format_parse(const char *name, size_t len, enum tad_format *ret,
                         struct tad_errinfo *info)
{
    if (!name || !ret)
        return tad_errinfo_set(info, TAD_ERR_INVALID, "format: no name given");
    for (int f = 0; f < TAD_FORMAT__MAX; f++) {
        const struct format_info *fi = &formats[f];
        if (eq_nocase(name, len, fi->name) || (fi->alias && eq_nocase(name, len, fi->alias))) {
            *ret = (enum tad_format)f;
            return TAD_OK;
        }
    }
    return tad_errinfo_set(info, TAD_ERR_INVALID,
                           "unknown format (expected EMAIL_SHA256, PHONE_SHA256, IDFA_SHA256, "
                           "GAID_SHA256, FIRST_SHA256, IDFA_MD5, GAID_MD5, FIRST_MD5, "
                           "MAID_SHA256, MAID_MD5, EMAIL, PHONE, IDFA, GAID or MAID)");
}

const char *tad_format_name(enum tad_format f)
{
    return valid(f) ? formats[f].name : "?";
}

const char *tad_format_upload_name(enum tad_format f)
{
    return valid(f) ? formats[f].upload : "?";
}

bool tad_format_is_raw(enum tad_format f)
{
    return valid(f) && formats[f].raw;
}

enum tad_hash_kind tad_format_hash_kind(enum tad_format f)
{
    return valid(f) ? formats[f].hash : TAD_HASH_SHA256;
}

size_t tad_format_hex_len(enum tad_format f)
{
    return tad_format_hash_kind(f) == TAD_HASH_MD5 ? 32 : 64;
}

bool tad_format_header_matches(enum tad_format f, const char *cell, size_t len)
{
    if (!valid(f) || !cell)
        return false;
    /* trim blanks and one pair of double quotes */
    while (len && (cell[0] == ' ' || cell[0] == '\t')) {
        cell++;
        len--;
    }
    while (len && (cell[len - 1] == ' ' || cell[len - 1] == '\t' || cell[len - 1] == '\r'))
        len--;
    if (len >= 2 && cell[0] == '"' && cell[len - 1] == '"') {
        cell++;
        len -= 2;
        while (len && cell[0] == ' ') {
            cell++;
            len--;
        }
        while (len && cell[len - 1] == ' ')
            len--;
    }
    char norm[32];
    if (len == 0 || len >= sizeof(norm))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = cell[i];
        norm[i] = (c == '-' || c == ' ') ? '_' : ascii_lower(c);
    }
    for (const char *const *h = formats[f].headers; *h; h++)
        if (strlen(*h) == len && memcmp(*h, norm, len) == 0)
            return true;
    return false;
}

const char *const *tad_format_header_names(enum tad_format f)
{
    static const char *const none[] = {NULL};
    return valid(f) ? formats[f].headers : none;
}
