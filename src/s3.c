/* s3.c - S3 GetObject (streaming, resumable), HeadObject and PutObject (see tad/s3.h).
 * No state; each call owns its request strings. */
#include "tad/s3.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tad/sigv4.h"

/* Wire query for a version id ("versionId=<encoded>"), or "" (new, free()). */
static tad_err version_query(const char *version_id, char **ret)
{
    struct tad_buf q;
    tad_buf_init(&q, 0);
    tad_err e = TAD_OK;
    if (version_id && *version_id) {
        e = tad_buf_append_str(&q, "versionId=");
        if (!e)
            e = tad_uri_encode(&q, version_id, strlen(version_id), false);
    }
    if (!e)
        e = tad_buf_take(&q, ret);
    tad_buf_release(&q);
    return e;
}

static void fill_info(const struct tad_aws_result *res, struct tad_s3_object_info *info)
{
    const char *v = tad_http_response_header(&res->http, "etag");
    if (v)
        tad_strlcpy(info->etag, sizeof(info->etag), v, strlen(v));
    v = tad_http_response_header(&res->http, "x-amz-version-id");
    if (v && strcmp(v, "null") != 0)
        tad_strlcpy(info->version_id, sizeof(info->version_id), v, strlen(v));
    tad_strlcpy(info->request_id, sizeof(info->request_id), res->request_id,
                strlen(res->request_id));
    v = tad_http_response_header(&res->http, "content-range"); /* bytes a-b/total */
    const char *slash = v ? strchr(v, '/') : NULL;
    if (slash && slash[1] != '*')
        info->size = strtoull(slash + 1, NULL, 10);
    else if ((v = tad_http_response_header(&res->http, "content-length")))
        info->size = strtoull(v, NULL, 10);
}

struct get_state {
    tad_s3_sink_fn sink;
    void *ctx;
    uint64_t received;
};

static tad_err get_write(void *vctx, const char *data, size_t len)
{
    struct get_state *st = vctx;
    st->received += len;
    return st->sink(st->ctx, data, len);
}

static tad_err object_request(struct tad_aws *aws, struct tad_http *h, const char *method,
                              const char *bucket, const char *key, const char *version_id,
                              const struct tad_http_header *extra, size_t nextra, const void *body,
                              size_t body_len, struct tad_http_sink sink,
                              struct tad_aws_result *res, struct tad_errinfo *err)
{
    char *query = NULL;
    tad_err e = version_query(version_id, &query);
    if (e)
        return e;
    struct tad_s3_target t;
    e = tad_s3_target_build(tad_aws_endpoint(aws, TAD_AWS_S3), bucket, key, query, &t);
    if (e) {
        free(query);
        return tad_errinfo_set(err, e, "cannot build the S3 URL");
    }
    struct tad_aws_request req = {
        .svc = TAD_AWS_S3,
        .method = method,
        .url = t.url.data,
        .path = t.path.data,
        .query = query,
        .host = t.host,
        .headers = extra,
        .nheaders = nextra,
        .body = body,
        .body_len = body_len,
        .sink = sink,
    };
    e = tad_aws_call(aws, h, &req, res, err);
    tad_s3_target_release(&t);
    free(query);
    return e;
}

tad_err tad_s3_get(struct tad_aws *aws, struct tad_http *h, const char *bucket, const char *key,
                   const char *version_id, tad_s3_sink_fn sink, void *sink_ctx,
                   struct tad_s3_object_info *info, struct tad_errinfo *err)
{
    struct get_state st = {sink, sink_ctx, 0};
    struct tad_s3_object_info local;
    memset(&local, 0, sizeof(local));
    char range[64];
    char version[256] = "";
    if (version_id)
        tad_strlcpy(version, sizeof(version), version_id, strlen(version_id));
    tad_err e;
    for (;;) {
        struct tad_http_header hdrs[2];
        size_t nh = 0;
        if (st.received > 0) {
            snprintf(range, sizeof(range), "bytes=%" PRIu64 "-", st.received);
            hdrs[nh++] = (struct tad_http_header){"Range", range};
            if (local.etag[0])
                hdrs[nh++] = (struct tad_http_header){"If-Match", local.etag};
        }
        struct tad_aws_result res;
        tad_aws_result_init(&res);
        uint64_t before = st.received;
        struct tad_http_sink hs = {.kind = TAD_HTTP_SINK_CALLBACK, .write = get_write, .ctx = &st};
        e = object_request(aws, h, "GET", bucket, key, version[0] ? version : NULL, hdrs, nh, NULL,
                           0, hs, &res, err);
        if (res.status >= 200 && res.status <= 299) {
            struct tad_s3_object_info now;
            memset(&now, 0, sizeof(now));
            fill_info(&res, &now);
            if (before == 0) {
                local = now;
                if (now.version_id[0] && !version[0]) /* pin the version for resumes */
                    tad_strlcpy(version, sizeof(version), now.version_id, strlen(now.version_id));
            } else if (res.status != 206) {
                tad_aws_result_release(&res);
                return tad_errinfo_set(err, TAD_ERR_SERVER, "S3 ignored the resume range");
            }
        }
        tad_aws_result_release(&res);
        if (e == TAD_OK)
            break;
        if (e == TAD_ERR_NETWORK && st.received > before && local.resumes < TAD_S3_MAX_RESUMES) {
            local.resumes++; /* the connection dropped mid-body: resume where it stopped */
            continue;
        }
        if (before > 0 && err && err->http_status == 412)
            return tad_errinfo_set(err, TAD_ERR_CLIENT,
                                   "object changed during download (ETag no longer matches)");
        return e;
    }
    if (local.size && st.received != local.size)
        return tad_errinfo_set(err, TAD_ERR_NETWORK,
                               "S3 body ended after %" PRIu64 " of %" PRIu64 " bytes", st.received,
                               local.size);
    local.size = st.received;
    if (info)
        *info = local;
    return TAD_OK;
}

tad_err tad_s3_head(struct tad_aws *aws, struct tad_http *h, const char *bucket, const char *key,
                    const char *version_id, struct tad_s3_object_info *info,
                    struct tad_errinfo *err)
{
    struct tad_aws_result res;
    tad_aws_result_init(&res);
    struct tad_http_sink hs = {.kind = TAD_HTTP_SINK_DISCARD};
    tad_err e =
        object_request(aws, h, "HEAD", bucket, key, version_id, NULL, 0, NULL, 0, hs, &res, err);
    if (e == TAD_OK && info) {
        memset(info, 0, sizeof(*info));
        fill_info(&res, info);
    }
    if (e == TAD_ERR_NOT_FOUND && err && !err->code[0])
        tad_errinfo_set(err, e, "S3 object s3://%s/%s not found", bucket, key);
    tad_aws_result_release(&res);
    return e;
}

tad_err tad_s3_put(struct tad_aws *aws, struct tad_http *h, const char *bucket, const char *key,
                   const void *body, size_t len, const char *content_type, struct tad_errinfo *err)
{
    struct tad_http_header hdrs[] = {
        {"Content-Type", content_type ? content_type : "application/octet-stream"}};
    struct tad_aws_result res;
    tad_aws_result_init(&res);
    struct tad_http_sink hs = {.kind = TAD_HTTP_SINK_DISCARD};
    tad_err e = object_request(aws, h, "PUT", bucket, key, NULL, hdrs, 1, body ? body : "", len, hs,
                               &res, err);
    tad_aws_result_release(&res);
    return e;
}
