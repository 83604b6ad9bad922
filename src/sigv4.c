/* sigv4.c - AWS Signature Version 4: canonical request, string to sign, signing key,
 * Authorization header and presigned query (see tad/sigv4.h).
 *
 * Pure computation. A struct tad_sigv4_result is used by one thread at a time and keeps its
 * buffers between calls so steady-state signing does not allocate. The key cache is shared
 * and guarded by a mutex; secrets and derived keys in it are wiped with OPENSSL_cleanse.
 */
#include "tad/sigv4.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define ALGO "AWS4-HMAC-SHA256"
#define MAX_NAME 64    /* region / service */
#define MAX_SECRET 128 /* longer secrets are not cached */
#define CACHE_SETS 32  /* set-associative: hash picks the set */
#define CACHE_WAYS 4

/* ---- crypto primitives ---- */

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static EVP_MAC *hmac_alg;
static EVP_MD *sha256_alg;

static void crypto_init(void)
{
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    sha256_alg = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static int crypto_ready(void)
{
    if (pthread_once(&crypto_once, crypto_init) != 0)
        return 0;
    return hmac_alg != NULL && sha256_alg != NULL;
}

/* Per-result OpenSSL contexts, created once and reused (a result is used by one thread). */
struct crypto_ctx {
    EVP_MAC_CTX *mac;
    EVP_MD_CTX *md;
    int *mac_keyed; /* the MAC context holds the key in *mac_key */
    unsigned char *mac_key;
};

static int crypto_ctx_get(struct tad_sigv4_result *r, struct crypto_ctx *cc)
{
    if (!r->priv_mac) {
        char digest[] = "SHA256";
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
        EVP_MAC_CTX *m = EVP_MAC_CTX_new(hmac_alg);
        if (!m)
            return 0;
        if (EVP_MAC_CTX_set_params(m, params) != 1) {
            EVP_MAC_CTX_free(m);
            return 0;
        }
        r->priv_mac = m;
    }
    if (!r->priv_md) {
        r->priv_md = EVP_MD_CTX_new();
        if (!r->priv_md)
            return 0;
    }
    cc->mac = r->priv_mac;
    cc->md = r->priv_md;
    cc->mac_keyed = &r->priv_mac_keyed;
    cc->mac_key = r->priv_mac_key;
    return 1;
}

static int sha256(struct crypto_ctx *cc, const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 0;
    return EVP_DigestInit_ex(cc->md, sha256_alg, NULL) == 1 &&
           EVP_DigestUpdate(cc->md, data, len) == 1 && EVP_DigestFinal_ex(cc->md, out, &n) == 1 &&
           n == 32;
}

static int hmac_sha256(struct crypto_ctx *cc, const void *key, size_t klen, const void *data,
                       size_t dlen, unsigned char out[32])
{
    size_t n = 0;
    *cc->mac_keyed = 0;
    return EVP_MAC_init(cc->mac, key, klen, NULL) == 1 &&
           EVP_MAC_update(cc->mac, data, dlen) == 1 && EVP_MAC_final(cc->mac, out, &n, 32) == 1 &&
           n == 32;
}

/* HMAC with a 32-byte signing key; re-keys the context only when the key changed. */
static int hmac_signing(struct crypto_ctx *cc, const unsigned char key[32], const void *data,
                        size_t dlen, unsigned char out[32])
{
    size_t n = 0;
    int same = *cc->mac_keyed && CRYPTO_memcmp(cc->mac_key, key, 32) == 0;
    *cc->mac_keyed = 0;
    if (EVP_MAC_init(cc->mac, same ? NULL : key, same ? 0 : 32, NULL) != 1 ||
        EVP_MAC_update(cc->mac, data, dlen) != 1 || EVP_MAC_final(cc->mac, out, &n, 32) != 1 ||
        n != 32)
        return 0;
    memcpy(cc->mac_key, key, 32);
    *cc->mac_keyed = 1;
    return 1;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request") */
static int derive_key(struct crypto_ctx *cc, const char *secret, size_t slen, const char *date8,
                      const char *region, const char *service, unsigned char out[32])
{
    int ok = 0;
    unsigned char k[32], local[MAX_SECRET + 4];
    unsigned char *seed = slen <= MAX_SECRET ? local : malloc(slen + 4);
    if (!seed)
        return 0;
    memcpy(seed, "AWS4", 4);
    memcpy(seed + 4, secret, slen);
    if (hmac_sha256(cc, seed, slen + 4, date8, 8, k) &&
        hmac_sha256(cc, k, 32, region, strlen(region), k) &&
        hmac_sha256(cc, k, 32, service, strlen(service), k) &&
        hmac_sha256(cc, k, 32, "aws4_request", 12, out))
        ok = 1;
    OPENSSL_cleanse(seed, slen + 4);
    OPENSSL_cleanse(k, sizeof(k));
    if (seed != local)
        free(seed);
    return ok;
}

/* ---- key cache ---- */

struct cache_slot {
    int used;
    uint64_t hash;
    size_t secret_len;
    char secret[MAX_SECRET];
    char date[8];
    char region[MAX_NAME + 1];
    char service[MAX_NAME + 1];
    unsigned char key[32];
    uint64_t last_use;
};

struct tad_sigv4_key_cache {
    pthread_mutex_t mu;
    uint64_t tick, hits, misses;
    struct cache_slot slot[CACHE_SETS][CACHE_WAYS];
};

tad_err tad_sigv4_key_cache_new(struct tad_sigv4_key_cache **out)
{
    struct tad_sigv4_key_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return TAD_ERR_NOMEM;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        return TAD_ERR_NOMEM;
    }
    *out = c;
    return TAD_OK;
}

void tad_sigv4_key_cache_free(struct tad_sigv4_key_cache *cache)
{
    if (!cache)
        return;
    pthread_mutex_destroy(&cache->mu);
    OPENSSL_cleanse(cache, sizeof(*cache));
    free(cache);
}

void tad_sigv4_key_cache_stats(struct tad_sigv4_key_cache *cache, uint64_t *hits, uint64_t *misses)
{
    uint64_t h = 0, m = 0;
    if (cache) {
        pthread_mutex_lock(&cache->mu);
        h = cache->hits;
        m = cache->misses;
        pthread_mutex_unlock(&cache->mu);
    }
    if (hits)
        *hits = h;
    if (misses)
        *misses = m;
}

/* FNV-1a over the lookup key; only a pre-filter, slots are compared in full. */
static uint64_t fnv1a(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ull;
    }
    return h ^ 0xff; /* separator */
}

static int slot_matches(const struct cache_slot *s, uint64_t hash, const char *secret, size_t slen,
                        const char *date8, const char *region, const char *service)
{
    return s->used && s->hash == hash && s->secret_len == slen && memcmp(s->date, date8, 8) == 0 &&
           strcmp(s->region, region) == 0 && strcmp(s->service, service) == 0 &&
           CRYPTO_memcmp(s->secret, secret, slen) == 0;
}

static int signing_key(struct crypto_ctx *cc, struct tad_sigv4_key_cache *c, const char *secret,
                       const char *date8, const char *region, const char *service,
                       unsigned char out[32])
{
    size_t slen = strlen(secret);
    if (!c || slen > MAX_SECRET)
        return derive_key(cc, secret, slen, date8, region, service, out);

    uint64_t hash = fnv1a(0xcbf29ce484222325ull, secret, slen);
    hash = fnv1a(hash, date8, 8);
    hash = fnv1a(hash, region, strlen(region));
    hash = fnv1a(hash, service, strlen(service));

    struct cache_slot *set = c->slot[hash % CACHE_SETS];
    pthread_mutex_lock(&c->mu);
    c->tick++;
    for (int i = 0; i < CACHE_WAYS; i++) {
        struct cache_slot *s = &set[i];
        if (slot_matches(s, hash, secret, slen, date8, region, service)) {
            memcpy(out, s->key, 32);
            s->last_use = c->tick;
            c->hits++;
            pthread_mutex_unlock(&c->mu);
            return 1;
        }
    }
    c->misses++;
    pthread_mutex_unlock(&c->mu);

    unsigned char key[32];
    if (!derive_key(cc, secret, slen, date8, region, service, key))
        return 0;

    pthread_mutex_lock(&c->mu);
    struct cache_slot *victim = &set[0];
    for (int i = 0; i < CACHE_WAYS; i++) {
        struct cache_slot *s = &set[i];
        if (slot_matches(s, hash, secret, slen, date8, region, service)) {
            victim = s; /* another thread stored it meanwhile */
            break;
        }
        if (!s->used) {
            victim = s;
            break;
        }
        if (s->last_use < victim->last_use)
            victim = s;
    }
    OPENSSL_cleanse(victim, sizeof(*victim));
    victim->used = 1;
    victim->hash = hash;
    victim->secret_len = slen;
    memcpy(victim->secret, secret, slen);
    memcpy(victim->date, date8, 8);
    memcpy(victim->region, region, strlen(region) + 1);
    memcpy(victim->service, service, strlen(service) + 1);
    memcpy(victim->key, key, 32);
    victim->last_use = ++c->tick;
    pthread_mutex_unlock(&c->mu);

    memcpy(out, key, 32);
    OPENSSL_cleanse(key, sizeof(key));
    return 1;
}

/* ---- URI encoding ---- */

static const char hexdig[] = "0123456789ABCDEF";

/* 1 = unreserved (A-Za-z0-9-_.~), 2 = '/' */
static const unsigned char uri_class[256] = {
    ['-'] = 1, ['_'] = 1, ['.'] = 1, ['~'] = 1, ['/'] = 2, ['0'] = 1, ['1'] = 1, ['2'] = 1,
    ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['A'] = 1,
    ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1,
    ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1,
    ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1,
    ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
    ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1,
    ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1,
    ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

tad_err tad_uri_encode(struct tad_buf *out, const char *s, size_t len, bool keep_slash)
{
    if (len > (SIZE_MAX - 1) / 3)
        return TAD_ERR_NOMEM;
    tad_err e = tad_buf_reserve(out, len * 3);
    if (e != TAD_OK)
        return e;
    char *p = out->data + out->len;
    unsigned char keep = keep_slash ? 3 : 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (uri_class[c] & keep) {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hexdig[c >> 4];
            *p++ = hexdig[c & 15];
        }
    }
    out->len = (size_t)(p - out->data);
    out->data[out->len] = '\0';
    return TAD_OK;
}

tad_err tad_uri_decode(struct tad_buf *out, const char *s, size_t len)
{
    tad_err e = tad_buf_reserve(out, len);
    if (e != TAD_OK)
        return e;
    char *p = out->data + out->len;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = tad_hex_value((unsigned char)s[i + 1])) >= 0 &&
            (lo = tad_hex_value((unsigned char)s[i + 2])) >= 0) {
            *p++ = (char)((hi << 4) | lo);
            i += 2;
        } else {
            *p++ = s[i];
        }
    }
    out->len = (size_t)(p - out->data);
    out->data[out->len] = '\0';
    return TAD_OK;
}

/* ---- helpers ---- */

static unsigned char lc(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int name_is(const char *name, size_t nlen, const char *lower)
{
    size_t i = 0;
    for (; i < nlen; i++) {
        if (lower[i] == '\0' || lc((unsigned char)name[i]) != (unsigned char)lower[i])
            return 0;
    }
    return lower[i] == '\0';
}

struct name {
    const char *s;
    size_t len;
};
#define NAME(x)                                                                                    \
    {                                                                                              \
        x, sizeof(x) - 1                                                                           \
    }

/* Headers the SDKs never sign (union of the botocore and aws-c-auth skip lists). */
static const struct name skipped_headers[] = {
    NAME("connection"),
    NAME("expect"),
    NAME("keep-alive"),
    NAME("proxy-authenticate"),
    NAME("proxy-authorization"),
    NAME("te"),
    NAME("trailer"),
    NAME("transfer-encoding"),
    NAME("upgrade"),
    NAME("user-agent"),
    NAME("x-amzn-trace-id"),
    NAME("sec-websocket-key"),
    NAME("sec-websocket-protocol"),
    NAME("sec-websocket-version"),
};

/* Headers the signer adds itself. */
static const struct name reserved_headers[] = {
    NAME("authorization"),
    NAME("x-amz-date"),
    NAME("x-amz-security-token"),
    NAME("x-amz-content-sha256"),
};

static int in_list(const char *name, size_t nlen, const struct name *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].len == nlen && name_is(name, nlen, list[i].s))
            return 1;
    return 0;
}

struct hent {
    const char *name;
    size_t nlen;
    const char *val;
    size_t vlen;
    size_t idx;
};

/* Names are already lower-case (copied into priv_names). Stable through idx. */
static int hent_cmp(const void *a, const void *b)
{
    const struct hent *x = a, *y = b;
    size_t n = x->nlen < y->nlen ? x->nlen : y->nlen;
    int c = memcmp(x->name, y->name, n);
    if (c != 0)
        return c;
    if (x->nlen != y->nlen)
        return x->nlen < y->nlen ? -1 : 1;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

/* Stable insertion sorts for the usual handful of entries; qsort beyond that. */
static void sort_hents(struct hent *h, size_t n)
{
    if (n > 24) {
        qsort(h, n, sizeof(*h), hent_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        struct hent t = h[i];
        size_t j = i;
        while (j > 0 && hent_cmp(&h[j - 1], &t) > 0) {
            h[j] = h[j - 1];
            j--;
        }
        h[j] = t;
    }
}

static int same_name(const struct hent *x, const struct hent *y)
{
    return x->nlen == y->nlen && memcmp(x->name, y->name, x->nlen) == 0;
}

struct qent {
    size_t koff, klen, voff, vlen;
};

static int qent_cmp(const void *a, const void *b, void *arg)
{
    const char *base = arg;
    const struct qent *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(base + x->koff, base + y->koff, n);
    if (c != 0)
        return c;
    if (x->klen != y->klen)
        return x->klen < y->klen ? -1 : 1;
    n = x->vlen < y->vlen ? x->vlen : y->vlen;
    c = memcmp(base + x->voff, base + y->voff, n);
    if (c != 0)
        return c;
    return x->vlen < y->vlen ? -1 : (x->vlen > y->vlen);
}

static void sort_qents(struct qent *q, size_t n, char *base)
{
    if (n > 24) {
        qsort_r(q, n, sizeof(*q), qent_cmp, base);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        struct qent t = q[i];
        size_t j = i;
        while (j > 0 && qent_cmp(&q[j - 1], &t, base) > 0) {
            q[j] = q[j - 1];
            j--;
        }
        q[j] = t;
    }
}

static tad_err grow_array(void **arr, size_t *cap, size_t need, size_t elsize)
{
    if (need <= *cap)
        return TAD_OK;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *p = realloc(*arr, n * elsize);
    if (!p)
        return TAD_ERR_NOMEM;
    *arr = p;
    *cap = n;
    return TAD_OK;
}

/* Appends a copy of buf[off, off+len) to buf itself (safe across reallocation). */
static tad_err append_self(struct tad_buf *b, size_t off, size_t len)
{
    tad_err e = tad_buf_reserve(b, len);
    if (e != TAD_OK)
        return e;
    memmove(b->data + b->len, b->data + off, len);
    b->len += len;
    b->data[b->len] = '\0';
    return TAD_OK;
}

static void format_amz_date(time_t now, char out[17])
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    gmtime_r(&now, &tm);
    unsigned v[6] = {(unsigned)tm.tm_year + 1900, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday,
                     (unsigned)tm.tm_hour,        (unsigned)tm.tm_min,     (unsigned)tm.tm_sec};
    char *p = out;
    unsigned y = v[0] % 10000;
    *p++ = (char)('0' + y / 1000);
    *p++ = (char)('0' + y / 100 % 10);
    *p++ = (char)('0' + y / 10 % 10);
    *p++ = (char)('0' + y % 10);
    for (int i = 1; i < 6; i++) {
        if (i == 3)
            *p++ = 'T';
        *p++ = (char)('0' + v[i] / 10 % 10);
        *p++ = (char)('0' + v[i] % 10);
    }
    *p++ = 'Z';
    *p = '\0';
}

/* Canonical URI: RFC 3986 dot-segment removal plus dropping empty segments (keeps the leading
 * '/' and a trailing '/'), then percent-encoding again. */
static tad_err append_normalized_path(struct tad_buf *out, struct tad_buf *tmp, const char *path)
{
    size_t plen = strlen(path);
    tad_buf_reset(tmp);
    tad_err e = tad_buf_reserve(tmp, plen + 1);
    if (e != TAD_OK)
        return e;
    size_t i = 0;
    while (i < plen) {
        while (i < plen && path[i] == '/')
            i++;
        size_t start = i;
        while (i < plen && path[i] != '/')
            i++;
        size_t slen = i - start;
        if (slen == 0 || (slen == 1 && path[start] == '.'))
            continue;
        if (slen == 2 && path[start] == '.' && path[start + 1] == '.') {
            while (tmp->len > 0 && tmp->data[tmp->len - 1] != '/')
                tmp->len--;
            if (tmp->len > 0)
                tmp->len--; /* drop the segment's '/' */
            continue;
        }
        tmp->data[tmp->len++] = '/';
        memcpy(tmp->data + tmp->len, path + start, slen);
        tmp->len += slen;
    }
    tmp->data[tmp->len] = '\0';
    const char *norm = tmp->data;
    size_t nlen = tmp->len;
    if (path[0] != '/' && nlen > 0) {
        norm++;
        nlen--;
    }
    if (nlen == 0)
        return tad_buf_append_byte(out, '/');
    e = tad_uri_encode(out, norm, nlen, true);
    if (e == TAD_OK && plen > 0 && path[plen - 1] == '/')
        e = tad_buf_append_byte(out, '/');
    return e;
}

/* Appends one canonical header value: trimmed, inner whitespace runs collapsed to one space. */
static tad_err append_trimmed(struct tad_buf *out, const char *v, size_t len)
{
    tad_err e = tad_buf_reserve(out, len);
    if (e != TAD_OK)
        return e;
    char *p = out->data + out->len;
    size_t i = 0;
    while (i < len) {
        while (i < len && is_ws((unsigned char)v[i]))
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && !is_ws((unsigned char)v[i]))
            i++;
        if (p != out->data + out->len)
            *p++ = ' ';
        memcpy(p, v + start, i - start);
        p += i - start;
    }
    out->len = (size_t)(p - out->data);
    out->data[out->len] = '\0';
    return TAD_OK;
}

static tad_err add_qent(struct tad_sigv4_result *r, size_t *nq, size_t koff, size_t klen,
                        size_t voff, size_t vlen)
{
    tad_err e = grow_array(&r->priv_qents, &r->priv_qcap, *nq + 1, sizeof(struct qent));
    if (e != TAD_OK)
        return e;
    struct qent *q = r->priv_qents;
    q[*nq] = (struct qent){koff, klen, voff, vlen};
    (*nq)++;
    return TAD_OK;
}

/* Adds an already-encoded parameter name and a raw value (encoded strictly here). */
static tad_err add_amz_param(struct tad_sigv4_result *r, size_t *nq, const char *name,
                             const char *value, size_t vlen)
{
    struct tad_buf *qb = &r->priv_qbuf;
    size_t koff = qb->len, klen = strlen(name);
    tad_err e = tad_buf_append(qb, name, klen);
    if (e != TAD_OK)
        return e;
    size_t voff = qb->len;
    e = tad_uri_encode(qb, value, vlen, false);
    if (e != TAD_OK)
        return e;
    return add_qent(r, nq, koff, klen, voff, qb->len - voff);
}

/* Appends s decoded and then strictly re-encoded; strings that are already strict (only
 * unreserved bytes and upper-case %XX) are copied as they are. */
static tad_err reencode(struct tad_buf *out, struct tad_buf *tmp, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (uri_class[c] & 1) {
            i++;
            continue;
        }
        if (c != '%' || i + 2 >= len ||
            !((s[i + 1] >= '0' && s[i + 1] <= '9') || (s[i + 1] >= 'A' && s[i + 1] <= 'F')) ||
            !((s[i + 2] >= '0' && s[i + 2] <= '9') || (s[i + 2] >= 'A' && s[i + 2] <= 'F')))
            break;
        /* %XX of an unreserved byte would be decoded to the byte itself: not strict. */
        unsigned char d = (unsigned char)((tad_hex_value((unsigned char)s[i + 1]) << 4) |
                                          tad_hex_value((unsigned char)s[i + 2]));
        if (uri_class[d] & 1)
            break;
        i += 3;
    }
    if (i == len)
        return tad_buf_append(out, s, len);
    tad_buf_reset(tmp);
    tad_err e = tad_uri_decode(tmp, s, len);
    if (e == TAD_OK)
        e = tad_uri_encode(out, tmp->data ? tmp->data : "", tmp->len, false);
    return e;
}

static tad_err parse_query(struct tad_sigv4_result *r, size_t *nq, const char *q)
{
    struct tad_buf *qb = &r->priv_qbuf, *tmp = &r->priv_tmp;
    tad_err e = TAD_OK;
    while (q && *q) {
        const char *end = strchr(q, '&');
        size_t seglen = end ? (size_t)(end - q) : strlen(q);
        if (seglen > 0) {
            const char *eq = memchr(q, '=', seglen);
            size_t klen = eq ? (size_t)(eq - q) : seglen;
            const char *v = eq ? eq + 1 : q + seglen;
            size_t vlen = eq ? seglen - klen - 1 : 0;
            size_t koff = qb->len;
            if ((e = reencode(qb, tmp, q, klen)) != TAD_OK)
                return e;
            size_t voff = qb->len;
            if ((e = reencode(qb, tmp, v, vlen)) != TAD_OK)
                return e;
            if ((e = add_qent(r, nq, koff, voff - koff, voff, qb->len - voff)) != TAD_OK)
                return e;
        }
        q = end ? end + 1 : q + seglen;
    }
    return e;
}

static tad_err check_name(const char *s, const char *what, struct tad_errinfo *err)
{
    if (!s || !*s)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "sigv4: missing %s", what);
    if (strlen(s) > MAX_NAME)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "sigv4: %s too long", what);
    for (const char *p = s; *p; p++)
        if (*p == '/' || is_ws((unsigned char)*p))
            return tad_errinfo_set(err, TAD_ERR_INVALID, "sigv4: bad %s", what);
    return TAD_OK;
}

/* ---- the signer ---- */

enum { OFF_SH, OFF_CR, OFF_STS, OFF_SIG, OFF_AUTHZ, OFF_PQ, OFF_TOKEN, OFF_PHASH, OFF__N };

static tad_err sign_common(const struct tad_sigv4_request *req, const struct tad_sigv4_creds *creds,
                           const struct tad_sigv4_params *prm, struct tad_sigv4_key_cache *cache,
                           struct tad_sigv4_result *r, int presign, struct tad_errinfo *err)
{
    tad_err e = TAD_OK;
    unsigned char md[32], key[32];
    char hex[65], phash_buf[65], amz_date[17], scope[8 + 1 + MAX_NAME + 1 + MAX_NAME + 14];
    size_t off[OFF__N], len[OFF__N];
    struct tad_buf *w = NULL;
    int detailed = 0;

    if (!req || !creds || !prm || !r)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "sigv4: NULL argument");
    if (!req->method || !*req->method)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "sigv4: missing method");
    if (!creds->access_key_id || !*creds->access_key_id || !creds->secret_access_key ||
        !*creds->secret_access_key)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "sigv4: missing credentials");
    if ((e = check_name(prm->region, "region", err)) != TAD_OK ||
        (e = check_name(prm->service, "service", err)) != TAD_OK)
        return e;
    if (presign && (prm->expires < 1 || prm->expires > 604800))
        return tad_errinfo_set(err, TAD_ERR_INVALID, "sigv4: expires out of range");
    if (req->nheaders && !req->headers)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "sigv4: NULL headers");
    struct crypto_ctx cc;
    if (!crypto_ready() || !crypto_ctx_get(r, &cc))
        return tad_errinfo_set(err, TAD_ERR_NOMEM, "sigv4: OpenSSL SHA256/HMAC unavailable");
    w = &r->priv_work;

    const char *token = creds->session_token;
    int has_token = token && *token;
    int sign_token = has_token && !prm->omit_session_token;
    int raw_path = prm->s3_style || prm->raw_path;
    int body_hdr = !presign && (prm->s3_style || prm->sign_body_header);

    format_amz_date(prm->now, amz_date);
    /* check_name bounded region and service, so the scope always fits. */
    size_t rlen = strlen(prm->region), svlen = strlen(prm->service), scope_len = 0;
    memcpy(scope, amz_date, 8);
    scope[8] = '/';
    memcpy(scope + 9, prm->region, rlen);
    scope[9 + rlen] = '/';
    memcpy(scope + 10 + rlen, prm->service, svlen);
    memcpy(scope + 10 + rlen + svlen, "/aws4_request", 14);
    scope_len = 10 + rlen + svlen + 13;

    const char *phash = req->payload_hash;
    if (!phash) {
        if (req->body_len && !req->body)
            return tad_errinfo_set(err, TAD_ERR_INVALID, "sigv4: NULL body");
        if (!sha256(&cc, req->body_len ? req->body : "", req->body_len, md))
            return tad_errinfo_set(err, TAD_ERR_NOMEM, "sigv4: SHA-256 failed");
        tad_hex_encode(md, 32, phash_buf);
        phash = phash_buf;
    } else if (!*phash || strchr(phash, '\n')) {
        return tad_errinfo_set(err, TAD_ERR_INVALID, "sigv4: bad payload hash");
    }

    /* Headers to sign, sorted by lower-case name, stable. */
    if ((e = grow_array(&r->priv_hents, &r->priv_hcap, req->nheaders + 3, sizeof(struct hent))) !=
        TAD_OK)
        return tad_errinfo_set(err, e, "sigv4: out of memory");
    struct hent *h = r->priv_hents;
    size_t nh = 0, names_total = 0;
    int have_host = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        const char *name = req->headers[i].name, *val = req->headers[i].value;
        if (!name || !*name || !val)
            return tad_errinfo_set(err, TAD_ERR_INVALID, "sigv4: bad header %zu", i);
        names_total += strlen(name);
    }
    /* Lower-case copies of the names; reserved up front so the pointers stay valid. */
    struct tad_buf *names = &r->priv_names;
    tad_buf_reset(names);
    if ((e = tad_buf_reserve(names, names_total)) != TAD_OK)
        return tad_errinfo_set(err, e, "sigv4: out of memory");
    for (size_t i = 0; i < req->nheaders; i++) {
        const char *name = req->headers[i].name, *val = req->headers[i].value;
        size_t nlen = strlen(name);
        if (in_list(name, nlen, reserved_headers,
                    sizeof(reserved_headers) / sizeof(reserved_headers[0])))
            return tad_errinfo_set(err, TAD_ERR_INVALID, "sigv4: request already has %s", name);
        if (in_list(name, nlen, skipped_headers,
                    sizeof(skipped_headers) / sizeof(skipped_headers[0])))
            continue;
        if (name_is(name, nlen, "host"))
            have_host = 1;
        char *lower = names->data + names->len;
        for (size_t k = 0; k < nlen; k++)
            lower[k] = (char)lc((unsigned char)name[k]);
        names->len += nlen;
        h[nh++] = (struct hent){lower, nlen, val, strlen(val), i};
    }
    if (!have_host)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "sigv4: request has no Host header");
    if (!presign) {
        h[nh++] = (struct hent){"x-amz-date", 10, amz_date, 16, req->nheaders};
        if (sign_token)
            h[nh++] =
                (struct hent){"x-amz-security-token", 20, token, strlen(token), req->nheaders + 1};
        if (body_hdr)
            h[nh++] =
                (struct hent){"x-amz-content-sha256", 20, phash, strlen(phash), req->nheaders + 2};
    }
    sort_hents(h, nh);

    tad_buf_reset(w);
    tad_buf_reset(&r->priv_qbuf);

    /* SignedHeaders */
    off[OFF_SH] = w->len;
    for (size_t i = 0; i < nh; i++) {
        if (i > 0 && same_name(&h[i], &h[i - 1]))
            continue;
        if ((i > 0 && (e = tad_buf_append_byte(w, ';')) != TAD_OK) ||
            (e = tad_buf_append(w, h[i].name, h[i].nlen)) != TAD_OK)
            goto out;
    }
    len[OFF_SH] = w->len - off[OFF_SH];
    if ((e = tad_buf_append_byte(w, '\0')) != TAD_OK)
        goto out;

    /* Canonical query parameters. */
    size_t nq = 0;
    if ((e = parse_query(r, &nq, req->query)) != TAD_OK)
        goto out;
    if (presign) {
        char credential[256], expires[16];
        int cn = snprintf(credential, sizeof(credential), "%s/%s", creds->access_key_id, scope);
        if (cn < 0 || (size_t)cn >= sizeof(credential)) {
            e = tad_errinfo_set(err, TAD_ERR_INVALID, "sigv4: access key id too long");
            detailed = 1;
            goto out;
        }
        cn = snprintf(expires, sizeof(expires), "%u", prm->expires);
        if (cn < 0 || (size_t)cn >= sizeof(expires)) {
            e = TAD_ERR_INVALID;
            goto out;
        }
        if ((e = add_amz_param(r, &nq, "X-Amz-Algorithm", ALGO, strlen(ALGO))) != TAD_OK ||
            (e = add_amz_param(r, &nq, "X-Amz-Credential", credential, strlen(credential))) !=
                TAD_OK ||
            (e = add_amz_param(r, &nq, "X-Amz-Date", amz_date, 16)) != TAD_OK ||
            (e = add_amz_param(r, &nq, "X-Amz-Expires", expires, strlen(expires))) != TAD_OK ||
            (e = add_amz_param(r, &nq, "X-Amz-SignedHeaders", w->data + off[OFF_SH],
                               len[OFF_SH])) != TAD_OK)
            goto out;
        if (sign_token &&
            (e = add_amz_param(r, &nq, "X-Amz-Security-Token", token, strlen(token))) != TAD_OK)
            goto out;
    }
    sort_qents(r->priv_qents, nq, r->priv_qbuf.data);

    /* Canonical request. */
    off[OFF_CR] = w->len;
    if ((e = tad_buf_append_str(w, req->method)) != TAD_OK ||
        (e = tad_buf_append_byte(w, '\n')) != TAD_OK)
        goto out;
    const char *path = req->path && *req->path ? req->path : "/";
    if (raw_path)
        e = tad_buf_append_str(w, path);
    else
        e = append_normalized_path(w, &r->priv_tmp, path);
    if (e != TAD_OK || (e = tad_buf_append_byte(w, '\n')) != TAD_OK)
        goto out;
    size_t cq_off = w->len;
    const struct qent *q = r->priv_qents;
    for (size_t i = 0; i < nq; i++) {
        const char *base = r->priv_qbuf.data;
        if ((i > 0 && (e = tad_buf_append_byte(w, '&')) != TAD_OK) ||
            (e = tad_buf_append(w, base + q[i].koff, q[i].klen)) != TAD_OK ||
            (e = tad_buf_append_byte(w, '=')) != TAD_OK ||
            (e = tad_buf_append(w, base + q[i].voff, q[i].vlen)) != TAD_OK)
            goto out;
    }
    size_t cq_len = w->len - cq_off;
    if ((e = tad_buf_append_byte(w, '\n')) != TAD_OK)
        goto out;
    for (size_t i = 0; i < nh;) {
        size_t j = i;
        if ((e = tad_buf_append(w, h[i].name, h[i].nlen)) != TAD_OK ||
            (e = tad_buf_append_byte(w, ':')) != TAD_OK)
            goto out;
        for (; j < nh; j++) {
            if (j > i) {
                if (!same_name(&h[j], &h[i]))
                    break;
                if ((e = tad_buf_append_byte(w, ',')) != TAD_OK)
                    goto out;
            }
            if ((e = append_trimmed(w, h[j].val, h[j].vlen)) != TAD_OK)
                goto out;
        }
        if ((e = tad_buf_append_byte(w, '\n')) != TAD_OK)
            goto out;
        i = j;
    }
    if ((e = tad_buf_append_byte(w, '\n')) != TAD_OK ||
        (e = append_self(w, off[OFF_SH], len[OFF_SH])) != TAD_OK ||
        (e = tad_buf_append_byte(w, '\n')) != TAD_OK ||
        (e = tad_buf_append_str(w, phash)) != TAD_OK)
        goto out;
    len[OFF_CR] = w->len - off[OFF_CR];
    if ((e = tad_buf_append_byte(w, '\0')) != TAD_OK)
        goto out;

    /* String to sign. */
    if (!sha256(&cc, w->data + off[OFF_CR], len[OFF_CR], md)) {
        e = TAD_ERR_NOMEM;
        goto out;
    }
    tad_hex_encode(md, 32, hex);
    off[OFF_STS] = w->len;
    if ((e = tad_buf_reserve(w, sizeof(ALGO) + 17 + scope_len + 1 + 64)) != TAD_OK)
        goto out;
    {
        char *p = w->data + w->len;
        memcpy(p, ALGO "\n", sizeof(ALGO));
        p += sizeof(ALGO);
        memcpy(p, amz_date, 16);
        p[16] = '\n';
        p += 17;
        memcpy(p, scope, scope_len);
        p[scope_len] = '\n';
        p += scope_len + 1;
        memcpy(p, hex, 64);
        w->len += sizeof(ALGO) + 17 + scope_len + 1 + 64;
        w->data[w->len] = '\0';
    }
    len[OFF_STS] = w->len - off[OFF_STS];
    if ((e = tad_buf_append_byte(w, '\0')) != TAD_OK)
        goto out;

    /* Signature. */
    if (!signing_key(&cc, cache, creds->secret_access_key, amz_date, prm->region, prm->service,
                     key) ||
        !hmac_signing(&cc, key, w->data + off[OFF_STS], len[OFF_STS], md)) {
        e = TAD_ERR_NOMEM;
        goto out;
    }
    tad_hex_encode(md, 32, hex);
    off[OFF_SIG] = w->len;
    len[OFF_SIG] = 64;
    if ((e = tad_buf_append(w, hex, 65)) != TAD_OK)
        goto out;

    /* Authorization header / presigned query. */
    off[OFF_AUTHZ] = off[OFF_PQ] = off[OFF_TOKEN] = off[OFF_PHASH] = SIZE_MAX;
    if (!presign) {
        off[OFF_AUTHZ] = w->len;
        if ((e = tad_buf_append_str(w, ALGO " Credential=")) != TAD_OK ||
            (e = tad_buf_append_str(w, creds->access_key_id)) != TAD_OK ||
            (e = tad_buf_append_byte(w, '/')) != TAD_OK ||
            (e = tad_buf_append(w, scope, scope_len)) != TAD_OK ||
            (e = tad_buf_append_str(w, ", SignedHeaders=")) != TAD_OK ||
            (e = append_self(w, off[OFF_SH], len[OFF_SH])) != TAD_OK ||
            (e = tad_buf_append_str(w, ", Signature=")) != TAD_OK ||
            (e = tad_buf_append(w, hex, 65)) != TAD_OK)
            goto out;
        if (has_token) {
            off[OFF_TOKEN] = w->len;
            if ((e = tad_buf_append(w, token, strlen(token) + 1)) != TAD_OK)
                goto out;
        }
        if (body_hdr) {
            off[OFF_PHASH] = w->len;
            if ((e = tad_buf_append(w, phash, strlen(phash) + 1)) != TAD_OK)
                goto out;
        }
    } else {
        off[OFF_PQ] = w->len;
        if ((e = append_self(w, cq_off, cq_len)) != TAD_OK)
            goto out;
        if (has_token && !sign_token) {
            if ((e = tad_buf_append_str(w, "&X-Amz-Security-Token=")) != TAD_OK ||
                (e = tad_uri_encode(w, token, strlen(token), false)) != TAD_OK)
                goto out;
        }
        if ((e = tad_buf_append_str(w, "&X-Amz-Signature=")) != TAD_OK ||
            (e = tad_buf_append(w, hex, 65)) != TAD_OK)
            goto out;
    }

    /* Success: publish. */
    struct tad_buf swap = r->priv_store;
    r->priv_store = *w;
    *w = swap;
    const char *base = r->priv_store.data;
    r->signed_headers = base + off[OFF_SH];
    r->canonical_request = base + off[OFF_CR];
    r->string_to_sign = base + off[OFF_STS];
    r->signature = base + off[OFF_SIG];
    r->authorization = off[OFF_AUTHZ] != SIZE_MAX ? base + off[OFF_AUTHZ] : NULL;
    r->presigned_query = off[OFF_PQ] != SIZE_MAX ? base + off[OFF_PQ] : NULL;
    memcpy(r->amz_date, amz_date, sizeof(amz_date));
    r->nadd = 0;
    if (!presign) {
        r->add[r->nadd++] = (struct tad_sigv4_header){"X-Amz-Date", r->amz_date};
        if (has_token)
            r->add[r->nadd++] =
                (struct tad_sigv4_header){"X-Amz-Security-Token", base + off[OFF_TOKEN]};
        if (body_hdr)
            r->add[r->nadd++] =
                (struct tad_sigv4_header){"X-Amz-Content-Sha256", base + off[OFF_PHASH]};
        r->add[r->nadd++] = (struct tad_sigv4_header){"Authorization", r->authorization};
    }
out:
    OPENSSL_cleanse(key, sizeof(key));
    if (e != TAD_OK && !detailed)
        tad_errinfo_set(err, e, "sigv4: signing failed (%s)", tad_err_str(e));
    return e;
}

tad_err tad_sigv4_sign(const struct tad_sigv4_request *req, const struct tad_sigv4_creds *creds,
                       const struct tad_sigv4_params *params, struct tad_sigv4_key_cache *cache,
                       struct tad_sigv4_result *out, struct tad_errinfo *err)
{
    return sign_common(req, creds, params, cache, out, 0, err);
}

tad_err tad_sigv4_presign(const struct tad_sigv4_request *req, const struct tad_sigv4_creds *creds,
                          const struct tad_sigv4_params *params, struct tad_sigv4_key_cache *cache,
                          struct tad_sigv4_result *out, struct tad_errinfo *err)
{
    return sign_common(req, creds, params, cache, out, 1, err);
}

void tad_sigv4_result_release(struct tad_sigv4_result *res)
{
    if (!res)
        return;
    tad_buf_release(&res->priv_store);
    tad_buf_release(&res->priv_work);
    tad_buf_release(&res->priv_qbuf);
    tad_buf_release(&res->priv_tmp);
    tad_buf_release(&res->priv_names);
    free(res->priv_hents);
    free(res->priv_qents);
    EVP_MAC_CTX_free(res->priv_mac);
    OPENSSL_cleanse(res->priv_mac_key, sizeof(res->priv_mac_key));
    EVP_MD_CTX_free(res->priv_md);
    memset(res, 0, sizeof(*res));
}
