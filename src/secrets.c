/* secrets.c - Secrets Manager GetSecretValue, the per-id TTL cache and the TikTok credential
 * parse (see tad/secrets.h).
 *
 * Ownership: the cache owns one reference per cached value. Threading: one mutex guards the
 * entry list; a fetch runs with the mutex released while its entry is marked `fetching`
 * (single flight); waiters sleep on the condition variable.
 */
#include "tad/secrets.h"

#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "tad/log.h"

#define SECRET_RESPONSE_CAP (256 * 1024)

struct tad_secret *tad_secret_ref(struct tad_secret *s)
{
    if (s)
        __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
    return s;
}

struct tad_secret *tad_secret_unref(struct tad_secret *s)
{
    if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        OPENSSL_cleanse(s->storage, s->len + 1);
        free(s);
    }
    return NULL;
}

static struct tad_secret *secret_new(const void *data, size_t len, const char *version)
{
    struct tad_secret *s = calloc(1, sizeof(*s) + len + 1);
    if (!s)
        return NULL;
    memcpy(s->storage, data, len);
    s->storage[len] = '\0';
    s->value = s->storage;
    s->len = len;
    s->refs = 1;
    if (version)
        tad_strlcpy(s->version_id, sizeof(s->version_id), version, strlen(version));
    return s;
}

tad_err tad_secrets_fetch(struct tad_aws *aws, struct tad_http *h, const char *secret_id,
                          struct tad_secret **ret, struct tad_errinfo *err)
{
    json_t *req = json_pack("{s:s}", "SecretId", secret_id);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body)
        return TAD_ERR_NOMEM;
    struct tad_buf out;
    tad_buf_init(&out, SECRET_RESPONSE_CAP);
    tad_err e = tad_aws_json_call(aws, h, TAD_AWS_SECRETS, "secretsmanager.GetSecretValue", "1.1",
                                  body, &out, 0, err);
    free(body);
    json_t *resp = NULL;
    if (e == TAD_OK) {
        json_error_t jerr;
        resp = json_loadb(out.data, out.len, 0, &jerr);
        if (!resp)
            e = tad_errinfo_set(err, TAD_ERR_PARSE, "GetSecretValue: response is not JSON");
    }
    tad_buf_release_wipe(&out);
    if (e) {
        if (e == TAD_ERR_NOT_FOUND && err)
            tad_errinfo_set(err, e, "secret %s not found", secret_id);
        return e;
    }
    const char *version = json_string_value(json_object_get(resp, "VersionId"));
    json_t *str = json_object_get(resp, "SecretString");
    json_t *bin = json_object_get(resp, "SecretBinary");
    struct tad_secret *s = NULL;
    if (json_is_string(str)) {
        s = secret_new(json_string_value(str), json_string_length(str), version);
    } else if (json_is_string(bin)) {
        size_t b64len = json_string_length(bin);
        unsigned char *raw = malloc(b64len / 4 * 3 + 4);
        int n =
            raw ? EVP_DecodeBlock(raw, (const unsigned char *)json_string_value(bin), (int)b64len)
                : -1;
        if (n >= 0) {
            const char *b = json_string_value(bin); /* drop the padding's zero bytes */
            if (b64len >= 1 && b[b64len - 1] == '=')
                n--;
            if (b64len >= 2 && b[b64len - 2] == '=')
                n--;
            s = secret_new(raw, (size_t)n, version);
            OPENSSL_cleanse(raw, b64len / 4 * 3 + 4);
        } else {
            e = tad_errinfo_set(err, TAD_ERR_PARSE, "secret %s: SecretBinary is not base64",
                                secret_id);
        }
        free(raw);
    } else {
        e = tad_errinfo_set(err, TAD_ERR_PARSE,
                            "secret %s has neither SecretString nor SecretBinary", secret_id);
    }
    /* wipe the JSON copy of the value */
    if (json_is_string(str))
        OPENSSL_cleanse((char *)json_string_value(str), json_string_length(str));
    json_decref(resp);
    if (e)
        return e;
    if (!s)
        return TAD_ERR_NOMEM;
    *ret = s;
    return TAD_OK;
}

struct entry {
    struct entry *next;
    char *id;
    struct tad_secret *value;
    time_t fetched;
    bool fetching;
};

struct tad_secrets {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct entry *entries;
    struct tad_secrets_opts opts;
};

static time_t now_of(struct tad_secrets *s)
{
    return s->opts.now ? s->opts.now(s->opts.now_ctx) : time(NULL);
}

tad_err tad_secrets_new(const struct tad_secrets_opts *opts, struct tad_secrets **ret)
{
    struct tad_secrets *s = calloc(1, sizeof(*s));
    if (!s)
        return TAD_ERR_NOMEM;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->opts = *opts;
    if (!s->opts.ttl_seconds)
        s->opts.ttl_seconds = 300;
    *ret = s;
    return TAD_OK;
}

void tad_secrets_free(struct tad_secrets *s)
{
    if (!s)
        return;
    tad_secrets_clear(s);
    for (struct entry *e = s->entries, *next; e; e = next) {
        next = e->next;
        free(e->id);
        free(e);
    }
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static struct entry *find(struct tad_secrets *s, const char *id, bool create)
{
    for (struct entry *e = s->entries; e; e = e->next)
        if (strcmp(e->id, id) == 0)
            return e;
    if (!create)
        return NULL;
    struct entry *e = calloc(1, sizeof(*e));
    if (!e || !(e->id = strdup(id))) {
        free(e);
        return NULL;
    }
    e->next = s->entries;
    s->entries = e;
    return e;
}

tad_err tad_secrets_get(struct tad_secrets *s, struct tad_http *h, const char *secret_id,
                        struct tad_secret **ret, struct tad_errinfo *err)
{
    tad_err rc = TAD_OK;
    pthread_mutex_lock(&s->lock);
    struct entry *e = find(s, secret_id, true);
    if (!e) {
        pthread_mutex_unlock(&s->lock);
        return TAD_ERR_NOMEM;
    }
    for (;;) {
        if (e->value && now_of(s) - e->fetched < (time_t)s->opts.ttl_seconds) {
            *ret = tad_secret_ref(e->value);
            break;
        }
        if (e->fetching) {
            pthread_cond_wait(&s->cond, &s->lock);
            continue;
        }
        e->fetching = true;
        pthread_mutex_unlock(&s->lock);
        struct tad_secret *fresh = NULL;
        rc = s->opts.fetch ? s->opts.fetch(s->opts.fetch_ctx, h, secret_id, &fresh, err)
                           : tad_secrets_fetch(s->opts.aws, h, secret_id, &fresh, err);
        if (rc == TAD_OK)
            tad_log_register_secret(fresh->value);
        pthread_mutex_lock(&s->lock);
        e->fetching = false;
        pthread_cond_broadcast(&s->cond);
        if (rc != TAD_OK)
            break;
        tad_secret_unref(e->value);
        e->value = fresh;
        e->fetched = now_of(s);
        *ret = tad_secret_ref(fresh);
        break;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void tad_secrets_invalidate(struct tad_secrets *s, const char *secret_id)
{
    pthread_mutex_lock(&s->lock);
    struct entry *e = find(s, secret_id, false);
    if (e)
        e->value = tad_secret_unref(e->value);
    pthread_mutex_unlock(&s->lock);
}

void tad_secrets_clear(struct tad_secrets *s)
{
    pthread_mutex_lock(&s->lock);
    for (struct entry *e = s->entries; e; e = e->next)
        e->value = tad_secret_unref(e->value);
    pthread_mutex_unlock(&s->lock);
}

void tad_secrets_set_ttl(struct tad_secrets *s, unsigned ttl_seconds)
{
    pthread_mutex_lock(&s->lock);
    s->opts.ttl_seconds = ttl_seconds ? ttl_seconds : 300;
    pthread_mutex_unlock(&s->lock);
}

tad_err tad_tiktok_creds_parse(const char *json, size_t len, struct tad_tiktok_creds *ret,
                               struct tad_errinfo *err)
{
    json_error_t jerr;
    json_t *j = json_loadb(json, len, 0, &jerr);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        /* jerr.text may quote the input: never copy it */
        return tad_errinfo_set(err, TAD_ERR_PARSE, "TikTok secret is not a JSON object");
    }
    tad_err e = TAD_OK;
    json_t *tok = json_object_get(j, "ACCESS_TOKEN");
    json_t *adv = json_object_get(j, "ADVERTISER_ID");
    char advbuf[32];
    if (!json_is_string(tok) || json_string_length(tok) == 0) {
        e = tad_errinfo_set(err, TAD_ERR_PARSE, "TikTok secret has no ACCESS_TOKEN string");
        goto out;
    }
    if (json_is_integer(adv)) {
        snprintf(advbuf, sizeof(advbuf), "%lld", (long long)json_integer_value(adv));
    } else if (json_is_string(adv) && json_string_length(adv) > 0 &&
               json_string_length(adv) < sizeof(advbuf)) {
        tad_strlcpy(advbuf, sizeof(advbuf), json_string_value(adv), json_string_length(adv));
    } else {
        e = tad_errinfo_set(err, TAD_ERR_PARSE, "TikTok secret has no ADVERTISER_ID");
        goto out;
    }
    for (const char *p = advbuf; *p; p++)
        if (!isdigit((unsigned char)*p)) {
            e = tad_errinfo_set(err, TAD_ERR_PARSE, "TikTok secret: ADVERTISER_ID must be digits");
            goto out;
        }
    for (const char *p = json_string_value(tok); *p; p++)
        if ((unsigned char)*p < 0x21 || *p == 0x7f) {
            e = tad_errinfo_set(
                err, TAD_ERR_PARSE,
                "TikTok secret: ACCESS_TOKEN has white space or control characters");
            goto out;
        }
    ret->access_token = strdup(json_string_value(tok));
    if (!ret->access_token) {
        e = TAD_ERR_NOMEM;
        goto out;
    }
    memcpy(ret->advertiser_id, advbuf, sizeof(advbuf));
    tad_log_register_secret(ret->access_token);
out:
    if (json_is_string(tok))
        OPENSSL_cleanse((char *)json_string_value(tok), json_string_length(tok));
    json_decref(j);
    return e;
}

void tad_tiktok_creds_release(struct tad_tiktok_creds *c)
{
    if (c->access_token) {
        OPENSSL_cleanse(c->access_token, strlen(c->access_token));
        free(c->access_token);
        c->access_token = NULL;
    }
}
