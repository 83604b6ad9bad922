/* fuzz_sigv4.c - libFuzzer target: the SigV4 signer. Input layout: byte 0 = option bits
 * (s3_style, raw_path, sign_body_header, omit_session_token, session token, UNSIGNED-PAYLOAD,
 * key cache), byte 1 = expiry and signing-day selector, then an HTTP/1.1-style request:
 * "METHOD TARGET[ HTTP/1.1]" line, "Name:value" header lines, an empty line and the body.
 * The request is signed in header and presigned-query form, each twice (fresh and reused
 * results, with and without the key cache). Checks: a well-formed request (method, Host,
 * token-character header names, none of the headers the signer adds) always signs; the
 * signature is 64 lower-case hex; the canonical request, string to sign and signature are
 * deterministic; SignedHeaders is lower-case, strictly sorted and ends the canonical request
 * before the payload hash; Authorization and the presigned query carry the signature.
 * Single-threaded. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tad/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HEADERS 40

static void check(int cond)
{
    if (!cond)
        __builtin_trap();
}

static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_reserved(const char *name)
{
    static const char *const reserved[] = {"authorization", "x-amz-date", "x-amz-security-token",
                                           "x-amz-content-sha256"};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strcasecmp(name, reserved[i]) == 0)
            return true;
    return false;
}

static bool lower_hex(const char *s, size_t n)
{
    if (!s || strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* SignedHeaders: non-empty names, no upper case, strictly ascending (byte order). */
static void check_signed_headers(const char *sh, bool token_names)
{
    check(sh != NULL && *sh != '\0');
    if (!token_names)
        return;
    const char *prev = NULL;
    size_t prevlen = 0;
    for (const char *p = sh;;) {
        size_t n = strcspn(p, ";");
        check(n > 0);
        for (size_t i = 0; i < n; i++)
            check(!(p[i] >= 'A' && p[i] <= 'Z'));
        if (prev) {
            size_t m = n < prevlen ? n : prevlen;
            int c = memcmp(prev, p, m);
            check(c < 0 || (c == 0 && prevlen < n));
        }
        prev = p;
        prevlen = n;
        if (!p[n])
            break;
        p += n + 1;
    }
}

/* The canonical request's last two lines are SignedHeaders and the payload hash. */
static void check_canonical(const struct tad_sigv4_result *r)
{
    const char *cr = r->canonical_request;
    check(cr != NULL);
    const char *last = strrchr(cr, '\n');
    check(last != NULL);
    size_t before = (size_t)(last - cr);
    const char *sh = r->signed_headers;
    size_t shlen = strlen(sh);
    check(before >= shlen + 1 && cr[before - shlen - 1] == '\n' &&
          memcmp(cr + before - shlen, sh, shlen) == 0);
    check(r->string_to_sign != NULL);
    check(strncmp(r->string_to_sign, "AWS4-HMAC-SHA256\n", 17) == 0);
    check(strstr(r->string_to_sign, r->amz_date) == r->string_to_sign + 17);
}

static void check_result(const struct tad_sigv4_result *r, bool presign, bool token_names)
{
    check(lower_hex(r->signature, 64));
    check(strlen(r->amz_date) == 16 && r->amz_date[8] == 'T' && r->amz_date[15] == 'Z');
    check_signed_headers(r->signed_headers, token_names);
    check_canonical(r);
    if (presign) {
        check(r->nadd == 0);
        const char *q = r->presigned_query;
        check(q != NULL);
        /* the signature is the last parameter (the request's own query may hold anything) */
        size_t ql = strlen(q);
        check(ql > 81 && memcmp(q + ql - 81, "&X-Amz-Signature=", 17) == 0 &&
              strcmp(q + ql - 64, r->signature) == 0);
    } else {
        check(r->nadd >= 2 && r->nadd <= 4);
        check(strcmp(r->add[0].name, "X-Amz-Date") == 0 &&
              strcmp(r->add[0].value, r->amz_date) == 0);
        check(strcmp(r->add[r->nadd - 1].name, "Authorization") == 0);
        check(r->add[r->nadd - 1].value == r->authorization);
        const char *a = r->authorization;
        check(strncmp(a, "AWS4-HMAC-SHA256 Credential=", 28) == 0);
        size_t al = strlen(a);
        check(al > 76 && memcmp(a + al - 76, ", Signature=", 12) == 0 &&
              strcmp(a + al - 64, r->signature) == 0);
        const char *h = strstr(a, "SignedHeaders=");
        check(h != NULL && strncmp(h + 14, r->signed_headers, strlen(r->signed_headers)) == 0);
    }
}

struct parsed {
    char *text; /* owned copy the pointers below point into */
    const char *method, *path, *query;
    struct tad_sigv4_header h[MAX_HEADERS];
    size_t nh;
    const char *body;
    size_t body_len;
};

/* Cuts the line starting at *p (ending at '\n' or end); strips a trailing '\r'. */
static char *next_line(char **p, char *end)
{
    if (*p >= end)
        return NULL;
    char *s = *p;
    char *nl = memchr(s, '\n', (size_t)(end - s));
    char *e = nl ? nl : end;
    *e = '\0';
    if (e > s && e[-1] == '\r')
        e[-1] = '\0';
    *p = nl ? nl + 1 : end;
    return s;
}

static void parse_request(const uint8_t *data, size_t size, struct parsed *pr)
{
    memset(pr, 0, sizeof(*pr));
    pr->text = malloc(size + 1);
    check(pr->text != NULL);
    memcpy(pr->text, data, size);
    pr->text[size] = '\0';
    char *p = pr->text, *end = pr->text + size;
    char *line = next_line(&p, end);
    if (!line)
        line = end; /* the empty string */
    char *sp = strchr(line, ' ');
    if (sp)
        *sp = '\0';
    pr->method = line;
    char *target = sp ? sp + 1 : end;
    sp = strchr(target, ' ');
    if (sp)
        *sp = '\0';
    char *qm = strchr(target, '?');
    if (qm) {
        *qm = '\0';
        pr->query = qm + 1;
    }
    pr->path = target;
    while ((line = next_line(&p, end)) != NULL && *line) {
        if (pr->nh == MAX_HEADERS)
            continue;
        char *colon = strchr(line, ':');
        if (colon)
            *colon = '\0';
        pr->h[pr->nh].name = line;
        pr->h[pr->nh].value = colon ? colon + 1 : "";
        pr->nh++;
    }
    pr->body = p;
    pr->body_len = (size_t)(end - p);
}

/* What sigv4.h promises to sign. Also reports whether every header name is an HTTP token. */
static bool well_formed(const struct parsed *pr, bool *token_names)
{
    bool ok = pr->method[0] != '\0', host = false;
    *token_names = true;
    for (size_t i = 0; i < pr->nh; i++) {
        const char *n = pr->h[i].name;
        if (!*n || is_reserved(n))
            ok = false;
        if (strcasecmp(n, "host") == 0)
            host = true;
        for (const char *c = n; *c; c++)
            if (!is_tchar((unsigned char)*c))
                *token_names = false;
    }
    return ok && host;
}

static tad_err sign(bool presign, const struct tad_sigv4_request *req,
                    const struct tad_sigv4_creds *cr, const struct tad_sigv4_params *prm,
                    struct tad_sigv4_key_cache *cache, struct tad_sigv4_result *r,
                    struct tad_errinfo *info)
{
    tad_errinfo_clear(info);
    return presign ? tad_sigv4_presign(req, cr, prm, cache, r, info)
                   : tad_sigv4_sign(req, cr, prm, cache, r, info);
}

static char *dup_or_null(const char *s)
{
    char *c = s ? strdup(s) : NULL;
    check(!s || c);
    return c;
}

static struct tad_sigv4_key_cache *cache;
static struct tad_sigv4_result reused = TAD_SIGV4_RESULT_INIT;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    if (!cache)
        check(tad_sigv4_key_cache_new(&cache) == TAD_OK);
    uint8_t flags = data[0], sel = data[1];
    struct parsed pr;
    parse_request(data + 2, size - 2, &pr);

    struct tad_sigv4_request req = {
        .method = pr.method,
        .path = pr.path,
        .query = pr.query,
        .headers = pr.h,
        .nheaders = pr.nh,
        .body = pr.body,
        .body_len = pr.body_len,
        .payload_hash = (flags & 0x20) ? TAD_SIGV4_UNSIGNED_PAYLOAD : NULL,
    };
    struct tad_sigv4_creds creds = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                    (flags & 0x10) ? "IQoJb3JpZ2luX2VjE+/token==" : NULL};
    struct tad_sigv4_params prm = {
        .region = "us-east-1",
        .service = (flags & 0x80) ? "s3" : "service",
        .now = (time_t)1440938160 + (time_t)sel * 86400 * 37 + (sel & 7) * 3599,
        .s3_style = flags & 0x01,
        .raw_path = flags & 0x02,
        .sign_body_header = flags & 0x04,
        .omit_session_token = flags & 0x08,
        .expires = 1u + (unsigned)sel * 2371u,
    };
    bool token_names;
    bool good = well_formed(&pr, &token_names);
    struct tad_sigv4_key_cache *c = (flags & 0x40) ? cache : NULL;

    for (int presign = 0; presign <= 1; presign++) {
        struct tad_sigv4_result fresh = TAD_SIGV4_RESULT_INIT;
        struct tad_errinfo info;
        tad_err e = sign(presign, &req, &creds, &prm, c, &fresh, &info);
        if (e != TAD_OK) {
            check(!good);
            check(e == TAD_ERR_INVALID && info.msg[0] != '\0');
            tad_sigv4_result_release(&fresh);
            continue;
        }
        check_result(&fresh, presign, token_names);
        /* the same request again, on a result reused across inputs and the other key path */
        e = sign(presign, &req, &creds, &prm, c ? NULL : cache, &reused, &info);
        check(e == TAD_OK);
        check_result(&reused, presign, token_names);
        check(strcmp(fresh.canonical_request, reused.canonical_request) == 0);
        check(strcmp(fresh.string_to_sign, reused.string_to_sign) == 0);
        check(strcmp(fresh.signature, reused.signature) == 0);
        check(strcmp(fresh.signed_headers, reused.signed_headers) == 0);
        /* and once more on the fresh result: its storage is reused too */
        char *cr = dup_or_null(fresh.canonical_request);
        char *sig = dup_or_null(fresh.signature);
        e = sign(presign, &req, &creds, &prm, c, &fresh, &info);
        check(e == TAD_OK);
        check(strcmp(fresh.canonical_request, cr) == 0 && strcmp(fresh.signature, sig) == 0);
        if (presign)
            check(strcmp(fresh.presigned_query, reused.presigned_query) == 0);
        else
            check(strcmp(fresh.authorization, reused.authorization) == 0);
        free(cr);
        free(sig);
        tad_sigv4_result_release(&fresh);
    }
    free(pr.text);
    return 0;
}
