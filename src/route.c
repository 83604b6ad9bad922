/* route.c - S3 key -> audience, format, action, file name and secret (see tad/route.h).
 * Pure: no I/O, no allocation, no state; thread-safe. */
#include "tad/route.h"

#include <stdint.h>
#include <string.h>

#include "tad/buf.h"

#define DEFAULT_KEY_PREFIX "tiktok/"
#define DEFAULT_SECRET_ID "tiktok_activation_credentials"
#define LAYOUT "<key_prefix><audience>/<format>/[<action>/]<file>"

struct seg {
    const char *p;
    size_t len;
};

static const char *const action_names[] = {
    [TAD_ACTION_APPEND] = "append",
    [TAD_ACTION_REMOVE] = "remove",
    [TAD_ACTION_REPLACE] = "replace",
};

static const char *const action_api_names[] = {
    [TAD_ACTION_APPEND] = "APPEND",
    [TAD_ACTION_REMOVE] = "REMOVE",
    [TAD_ACTION_REPLACE] = "REPLACE",
};

#define N_ACTIONS (sizeof(action_names) / sizeof(action_names[0]))

/* Decodes one UTF-8 sequence at s[0..len); returns its length (0 if invalid) and the code
 * point in *cp. Rejects overlong forms, surrogates and values past U+10FFFF. */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xe0) == 0xc0) {
        n = 2;
        v = c & 0x1f;
        min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3;
        v = c & 0x0f;
        min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

static bool is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* Checks UTF-8 and control characters; counts code points. Returns a reason or NULL. */
static const char *check_text(const char *s, size_t len, size_t *n_chars)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, n = 0;
    while (i < len) {
        uint32_t cp;
        size_t step = utf8_next(u + i, len - i, &cp);
        if (step == 0)
            return "is not valid UTF-8";
        if (is_control(cp))
            return "holds a control character";
        i += step;
        n++;
    }
    *n_chars = n;
    return NULL;
}

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool eq_nocase(const char *a, size_t len, const char *b)
{
    if (strlen(b) != len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (ascii_lower(a[i]) != b[i])
            return false;
    return true;
}

const char *tad_route_action_name(enum tad_action a)
{
    return (unsigned)a < N_ACTIONS ? action_names[a] : "?";
}

const char *tad_route_action_api_name(enum tad_action a)
{
    return (unsigned)a < N_ACTIONS ? action_api_names[a] : "?";
}

tad_err tad_route_action_parse(const char *name, size_t len, enum tad_action *ret,
                               struct tad_errinfo *info)
{
    if (!name || !ret)
        return tad_errinfo_set(info, TAD_ERR_INVALID, "action: no name given");
    for (size_t a = 0; a < N_ACTIONS; a++) {
        if (eq_nocase(name, len, action_names[a])) {
            *ret = (enum tad_action)a;
            return TAD_OK;
        }
    }
    char ex[TAD_EXCERPT_SIZE];
    tad_excerpt(name, len, ex);
    return tad_errinfo_set(info, TAD_ERR_INVALID,
                           "unknown action '%s' (expected append, remove or replace)", ex);
}

static tad_err parse_audience(struct seg s, struct tad_route *r, struct tad_errinfo *info)
{
    if (s.len >= 3 && memcmp(s.p, "id:", 3) == 0) {
        size_t nd = s.len - 3;
        bool digits = nd >= 1 && nd <= TAD_ROUTE_ID_MAX_DIGITS;
        for (size_t i = 3; digits && i < s.len; i++)
            digits = s.p[i] >= '0' && s.p[i] <= '9';
        if (!digits)
            return tad_errinfo_set(info, TAD_ERR_INVALID,
                                   "audience id must be 'id:' followed by 1-%d digits",
                                   TAD_ROUTE_ID_MAX_DIGITS);
        memcpy(r->audience_id, s.p + 3, nd);
        r->audience_id[nd] = '\0';
        r->by_id = true;
        return TAD_OK;
    }
    size_t n_chars = 0;
    const char *why = check_text(s.p, s.len, &n_chars);
    if (why)
        return tad_errinfo_set(info, TAD_ERR_INVALID, "audience name %s", why);
    if (n_chars > TAD_ROUTE_NAME_MAX_CHARS)
        return tad_errinfo_set(info, TAD_ERR_INVALID,
                               "audience name is %zu characters long (at most %d)", n_chars,
                               TAD_ROUTE_NAME_MAX_CHARS);
    /* n_chars <= 128 code points of at most 4 bytes each: fits */
    memcpy(r->audience_name, s.p, s.len);
    r->audience_name[s.len] = '\0';
    return TAD_OK;
}

static void pick_secret(const struct tad_route_table *t, const char *key, size_t key_len,
                        struct tad_route *r)
{
    const struct tad_route_rule *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; t->rules && i < t->n_rules; i++) {
        const struct tad_route_rule *rule = &t->rules[i];
        if (!rule->prefix || !rule->secret_id)
            continue;
        size_t plen = strlen(rule->prefix);
        if (plen > key_len || memcmp(key, rule->prefix, plen) != 0)
            continue;
        if (!best || plen > best_len) {
            best = rule;
            best_len = plen;
        }
    }
    r->secret_id =
        best ? best->secret_id : (t->default_secret_id ? t->default_secret_id : DEFAULT_SECRET_ID);
    r->route_prefix = best ? best->prefix : NULL;
}

tad_err tad_route_resolve(const struct tad_route_table *table, const char *key, size_t key_len,
                          struct tad_route *ret, struct tad_errinfo *info)
{
    if (!table || !key || !ret)
        return tad_errinfo_set(info, TAD_ERR_INVALID, "route: missing argument");
    if (key_len == 0)
        return tad_errinfo_set(info, TAD_ERR_INVALID, "empty object key");
    if (key_len > TAD_ROUTE_KEY_MAX)
        return tad_errinfo_set(info, TAD_ERR_INVALID, "object key is %zu bytes long (at most %d)",
                               key_len, TAD_ROUTE_KEY_MAX);
    if (memchr(key, '\0', key_len))
        return tad_errinfo_set(info, TAD_ERR_INVALID, "object key holds a NUL byte");

    struct tad_route r;
    memset(&r, 0, sizeof(r));
    const char *kp = table->key_prefix ? table->key_prefix : DEFAULT_KEY_PREFIX;
    size_t kp_len = strlen(kp);
    if (kp_len > key_len || memcmp(key, kp, kp_len) != 0) {
        r.kind = TAD_ROUTE_IGNORE;
        r.ignore_reason = TAD_ROUTE_IGNORE_OUTSIDE_PREFIX;
        goto out;
    }
    if (key[key_len - 1] == '/') {
        r.kind = TAD_ROUTE_IGNORE;
        r.ignore_reason = TAD_ROUTE_IGNORE_FOLDER_MARKER;
        goto out;
    }

    /* split what follows the prefix into at most 4 segments */
    struct seg segs[4];
    size_t n = 0;
    const char *p = key + kp_len, *end = key + key_len;
    for (;;) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *stop = slash ? slash : end;
        if (stop == p)
            return tad_errinfo_set(info, TAD_ERR_INVALID,
                                   "object key has an empty path segment; expected " LAYOUT);
        if (n == 4)
            return tad_errinfo_set(info, TAD_ERR_INVALID,
                                   "object key is nested too deeply; expected " LAYOUT);
        segs[n].p = p;
        segs[n].len = (size_t)(stop - p);
        n++;
        if (!slash)
            break;
        p = slash + 1;
    }
    if (n < 3)
        return tad_errinfo_set(info, TAD_ERR_INVALID,
                               "object key has too few path segments; expected " LAYOUT);

    tad_err err = parse_audience(segs[0], &r, info);
    if (err != TAD_OK)
        return err;

    char ex[TAD_EXCERPT_SIZE];
    if (tad_format_parse(segs[1].p, segs[1].len, &r.format, NULL) != TAD_OK) {
        tad_excerpt(segs[1].p, segs[1].len, ex);
        return tad_errinfo_set(info, TAD_ERR_INVALID,
                               "unknown format '%s' (expected EMAIL_SHA256, PHONE_SHA256, "
                               "IDFA_SHA256, GAID_SHA256, FIRST_SHA256, IDFA_MD5, GAID_MD5, "
                               "FIRST_MD5, MAID_SHA256, MAID_MD5, EMAIL, PHONE, IDFA, GAID, MAID)",
                               ex);
    }

    r.action = TAD_ACTION_APPEND;
    if (n == 4) {
        err = tad_route_action_parse(segs[2].p, segs[2].len, &r.action, info);
        if (err != TAD_OK)
            return err;
        r.action_explicit = true;
    }

    struct seg file = segs[n - 1];
    size_t n_chars = 0;
    const char *why = check_text(file.p, file.len, &n_chars);
    if (why)
        return tad_errinfo_set(info, TAD_ERR_INVALID, "file name %s", why);
    memcpy(r.file_name, file.p, file.len);
    r.file_name[file.len] = '\0';

    r.kind = TAD_ROUTE_JOB;
    pick_secret(table, key, key_len, &r);
out:
    *ret = r;
    return TAD_OK;
}
