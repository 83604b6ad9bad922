/* aws_endpoint.c - endpoint, S3 addressing and queue-URL region resolution (see
 * tad/aws_endpoint.h). Pure; no state. */
#include "tad/aws_endpoint.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tad/sigv4.h"

static const char *const signing_names[TAD_AWS__SERVICES] = {
    [TAD_AWS_SQS] = "sqs",
    [TAD_AWS_S3] = "s3",
    [TAD_AWS_SECRETS] = "secretsmanager",
    [TAD_AWS_STS] = "sts",
};

static const char *const override_vars[TAD_AWS__SERVICES] = {
    [TAD_AWS_SQS] = "AWS_ENDPOINT_URL_SQS",
    [TAD_AWS_S3] = "AWS_ENDPOINT_URL_S3",
    [TAD_AWS_SECRETS] = "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    [TAD_AWS_STS] = "AWS_ENDPOINT_URL_STS",
};

const char *tad_aws_service_name(enum tad_aws_service svc)
{
    return (unsigned)svc < TAD_AWS__SERVICES ? signing_names[svc] : "?";
}

static bool is_true(const char *v)
{
    return v && strcasecmp(v, "true") == 0;
}

tad_err tad_aws_endpoint_parse(const char *url, struct tad_aws_endpoint *ret,
                               struct tad_errinfo *err)
{
    struct tad_aws_endpoint ep;
    memset(&ep, 0, sizeof(ep));
    const char *p;
    if (strncasecmp(url, "https://", 8) == 0) {
        memcpy(ep.scheme, "https", 6);
        p = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        memcpy(ep.scheme, "http", 5);
        p = url + 7;
    } else {
        return tad_errinfo_set(err, TAD_ERR_INVALID,
                               "endpoint URL must start with http:// or https://");
    }
    size_t hostlen;
    const char *after;
    if (*p == '[') { /* IPv6 literal */
        const char *close = strchr(p, ']');
        if (!close)
            return tad_errinfo_set(err, TAD_ERR_INVALID,
                                   "endpoint URL has an unterminated IPv6 address");
        hostlen = (size_t)(close - p - 1);
        if (hostlen == 0 || hostlen >= sizeof(ep.host))
            return tad_errinfo_set(err, TAD_ERR_INVALID, "endpoint URL has a bad host");
        memcpy(ep.host, p + 1, hostlen);
        after = close + 1;
    } else {
        hostlen = strcspn(p, ":/?#");
        if (hostlen == 0 || hostlen >= sizeof(ep.host))
            return tad_errinfo_set(err, TAD_ERR_INVALID, "endpoint URL has no host");
        memcpy(ep.host, p, hostlen);
        after = p + hostlen;
    }
    if (strchr(ep.host, '@'))
        return tad_errinfo_set(err, TAD_ERR_INVALID,
                               "endpoint URL must not carry user information");
    if (*after == ':') {
        char *end;
        unsigned long port = strtoul(after + 1, &end, 10);
        if (!isdigit((unsigned char)after[1]) || port == 0 || port > 65535 || (*end && *end != '/'))
            return tad_errinfo_set(err, TAD_ERR_INVALID, "endpoint URL has a bad port");
        ep.port = (unsigned)port;
        after = end;
    }
    if (*after == '/') {
        size_t plen = strcspn(after, "?#");
        if (after[plen])
            return tad_errinfo_set(err, TAD_ERR_INVALID, "endpoint URL must not have a query");
        while (plen > 0 && after[plen - 1] == '/')
            plen--;
        if (plen >= sizeof(ep.base_path))
            return tad_errinfo_set(err, TAD_ERR_INVALID, "endpoint URL path too long");
        memcpy(ep.base_path, after, plen);
    } else if (*after) {
        return tad_errinfo_set(err, TAD_ERR_INVALID, "endpoint URL must not have a query");
    }
    *ret = ep;
    return TAD_OK;
}

tad_err tad_aws_endpoint_resolve(enum tad_aws_service svc, const char *region, tad_getenv_fn env,
                                 struct tad_aws_endpoint *ret, struct tad_errinfo *err)
{
    if ((unsigned)svc >= TAD_AWS__SERVICES)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "unknown AWS service");
    if (!is_true(env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"))) {
        const char *url = env(override_vars[svc]);
        if (!url || !*url)
            url = env("AWS_ENDPOINT_URL");
        if (url && *url) {
            tad_err e = tad_aws_endpoint_parse(url, ret, err);
            if (e == TAD_OK)
                ret->overridden = true;
            return e;
        }
    }
    if (!region || !*region)
        return tad_errinfo_set(err, TAD_ERR_INVALID,
                               "no AWS region: set region, AWS_REGION or AWS_DEFAULT_REGION");
    for (const char *c = region; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '-')
            return tad_errinfo_set(err, TAD_ERR_INVALID, "bad AWS region name");
    struct tad_aws_endpoint ep;
    memset(&ep, 0, sizeof(ep));
    memcpy(ep.scheme, "https", 6);
    const char *suffix = strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
    int n = snprintf(ep.host, sizeof(ep.host), "%s.%s.%s", signing_names[svc], region, suffix);
    if (n < 0 || (size_t)n >= sizeof(ep.host))
        return tad_errinfo_set(err, TAD_ERR_INVALID, "AWS region name too long");
    *ret = ep;
    return TAD_OK;
}

void tad_aws_endpoint_host_header(const struct tad_aws_endpoint *ep, char *out, size_t outsz)
{
    bool v6 = strchr(ep->host, ':') != NULL;
    bool default_port = ep->port == 0 || (ep->port == 443 && strcmp(ep->scheme, "https") == 0) ||
                        (ep->port == 80 && strcmp(ep->scheme, "http") == 0);
    if (default_port)
        snprintf(out, outsz, v6 ? "[%s]" : "%s", ep->host);
    else
        snprintf(out, outsz, v6 ? "[%s]:%u" : "%s:%u", ep->host, ep->port);
}

bool tad_s3_use_path_style(const struct tad_aws_endpoint *ep, const char *bucket)
{
    if (ep->overridden)
        return true;
    size_t len = strlen(bucket);
    if (len < 3 || len > 63)
        return true;
    for (size_t i = 0; i < len; i++) {
        char c = bucket[i];
        if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-'))
            return true; /* dots break the TLS wildcard; upper case is not DNS-safe */
    }
    return bucket[0] == '-' || bucket[len - 1] == '-';
}

tad_err tad_s3_target_build(const struct tad_aws_endpoint *ep, const char *bucket, const char *key,
                            const char *query, struct tad_s3_target *ret)
{
    struct tad_s3_target t;
    tad_buf_init(&t.url, 0);
    tad_buf_init(&t.path, 0);
    tad_err err;
    bool path_style = tad_s3_use_path_style(ep, bucket);
    struct tad_aws_endpoint vh = *ep;
    if (!path_style) {
        int n = snprintf(vh.host, sizeof(vh.host), "%s.%s", bucket, ep->host);
        if (n < 0 || (size_t)n >= sizeof(vh.host)) {
            err = TAD_ERR_INVALID;
            goto fail;
        }
    }
    tad_aws_endpoint_host_header(&vh, t.host, sizeof(t.host));
    err = tad_buf_append_str(&t.path, ep->base_path);
    if (!err && path_style) {
        err = tad_buf_append_byte(&t.path, '/');
        if (!err)
            err = tad_uri_encode(&t.path, bucket, strlen(bucket), false);
    }
    if (!err)
        err = tad_buf_append_byte(&t.path, '/');
    if (!err)
        err = tad_uri_encode(&t.path, key, strlen(key), true);
    if (!err)
        err = tad_buf_appendf(&t.url, "%s://%s%s", ep->scheme, t.host, t.path.data);
    if (!err && query && *query)
        err = tad_buf_appendf(&t.url, "?%s", query);
    if (err)
        goto fail;
    *ret = t;
    return TAD_OK;
fail:
    tad_buf_release(&t.url);
    tad_buf_release(&t.path);
    return err;
}

void tad_s3_target_release(struct tad_s3_target *t)
{
    tad_buf_release(&t->url);
    tad_buf_release(&t->path);
}

bool tad_aws_region_from_queue_url(const char *url, char *out, size_t outsz)
{
    struct tad_aws_endpoint ep;
    if (tad_aws_endpoint_parse(url, &ep, NULL) != TAD_OK)
        return false;
    char *h = ep.host;
    const char *region = NULL;
    size_t rlen = 0;
    if (strncmp(h, "sqs.", 4) == 0 || strncmp(h, "sqs-fips.", 9) == 0) {
        region = strchr(h, '.') + 1;
        rlen = strcspn(region, ".");
        const char *suffix = region + rlen;
        if (strcmp(suffix, ".amazonaws.com") != 0 && strcmp(suffix, ".amazonaws.com.cn") != 0 &&
            strcmp(suffix, ".api.aws") != 0)
            return false;
    } else {
        static const char legacy[] = ".queue.amazonaws.com";
        size_t hl = strlen(h);
        if (hl <= sizeof(legacy) - 1 || strcmp(h + hl - (sizeof(legacy) - 1), legacy) != 0)
            return false;
        const char *q = h + hl - (sizeof(legacy) - 1);
        region = h;
        rlen = (size_t)(q - h);
        if (memchr(region, '.', rlen))
            return false;
    }
    if (rlen == 0 || rlen >= outsz)
        return false;
    memcpy(out, region, rlen);
    out[rlen] = '\0';
    return true;
}
