/* creds_util.c - helpers shared by the remote credential links (see tad/creds_util.h).
 * No state; never logs file contents or credential values. */
#include "tad/creds_util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

tad_err tad_creds_read_token_file(const char *path, const char *what, struct tad_buf *out,
                                  struct tad_errinfo *err)
{
    char eb[128];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tad_errinfo_set(err, TAD_ERR_AUTH, "cannot open %s %s: %s", what, path,
                               strerror_r(errno, eb, sizeof(eb)));
    tad_err e = TAD_OK;
    size_t start = out->len;
    char chunk[4096];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            e = tad_errinfo_set(err, TAD_ERR_AUTH, "cannot read %s %s: %s", what, path,
                                strerror_r(errno, eb, sizeof(eb)));
            break;
        }
        if (r == 0)
            break;
        if (out->len - start + (size_t)r > TAD_CREDS_TOKEN_FILE_MAX) {
            e = tad_errinfo_set(err, TAD_ERR_AUTH, "%s %s is too large", what, path);
            break;
        }
        e = tad_buf_append(out, chunk, (size_t)r);
        if (e != TAD_OK)
            break;
    }
    memset(chunk, 0, sizeof(chunk));
    close(fd);
    if (e != TAD_OK)
        return e;
    while (out->len > start &&
           (out->data[out->len - 1] == '\n' || out->data[out->len - 1] == '\r' ||
            out->data[out->len - 1] == ' ' || out->data[out->len - 1] == '\t'))
        out->data[--out->len] = '\0';
    if (out->len == start)
        return tad_errinfo_set(err, TAD_ERR_AUTH, "%s %s is empty", what, path);
    if (memchr(out->data + start, '\0', out->len - start))
        return tad_errinfo_set(err, TAD_ERR_AUTH, "%s %s contains a NUL byte", what, path);
    return TAD_OK;
}

static const char *json_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    return s && *s ? s : NULL;
}

tad_err tad_creds_from_json(const char *body, size_t len, const char *source, bool require_session,
                            struct tad_aws_creds **ret, struct tad_errinfo *err)
{
    tad_err e;
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc || !json_is_object(doc)) {
        e = tad_errinfo_set(err, TAD_ERR_PARSE, "%s credentials: response is not a JSON object",
                            source);
        goto out;
    }
    const char *code = json_str(doc, "Code");
    if (code && strcmp(code, "Success") != 0) {
        const char *msg = json_str(doc, "Message");
        e = tad_errinfo_set(err, TAD_ERR_AUTH, "%s credentials: %s%s%s", source, code,
                            msg ? ": " : "", msg ? msg : "");
        if (err)
            tad_strlcpy(err->code, sizeof(err->code), code, strlen(code));
        goto out;
    }
    const char *ak = json_str(doc, "AccessKeyId");
    const char *sk = json_str(doc, "SecretAccessKey");
    const char *tok = json_str(doc, "Token");
    const char *exps = json_str(doc, "Expiration");
    if (!ak || !sk || (require_session && (!tok || !exps))) {
        e = tad_errinfo_set(err, TAD_ERR_PARSE, "%s credentials: response lacks %s", source,
                            !ak    ? "AccessKeyId"
                            : !sk  ? "SecretAccessKey"
                            : !tok ? "Token"
                                   : "Expiration");
        goto out;
    }
    time_t exp = 0;
    if (exps && tad_parse_iso8601(exps, &exp) != TAD_OK) {
        e = tad_errinfo_set(err, TAD_ERR_PARSE, "%s credentials: bad Expiration", source);
        goto out;
    }
    struct tad_aws_creds *c = tad_aws_creds_new(ak, sk, tok, exp, source);
    if (!c) {
        e = TAD_ERR_NOMEM;
        goto out;
    }
    *ret = c;
    e = TAD_OK;
out:
    json_decref(doc);
    return e;
}

void tad_creds_pause_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
