/* ingest.c - source -> row pipeline glue (see tad/ingest.h). No state. */
#include "tad/ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

void tad_ingest_opts(enum tad_format format, const struct tad_config *cfg, const char *name,
                     struct tad_pipeline_opts *ret)
{
    tad_pipeline_opts_init(ret);
    switch (format) {
    case TAD_FORMAT_EMAIL:
        ret->kind = TAD_ROW_RAW_EMAIL;
        break;
    case TAD_FORMAT_PHONE:
        ret->kind = TAD_ROW_RAW_PHONE;
        break;
    case TAD_FORMAT_IDFA:
    case TAD_FORMAT_GAID:
    case TAD_FORMAT_MAID:
        ret->kind = TAD_ROW_RAW_MAID;
        break;
    default:
        ret->kind = tad_format_hash_kind(format) == TAD_HASH_MD5 ? TAD_ROW_MD5 : TAD_ROW_SHA256;
        break;
    }
    ret->header_names = tad_format_header_names(format);
    if (cfg) {
        ret->max_part_bytes = (size_t)cfg->tiktok_max_file_bytes;
        ret->max_invalid_ratio = cfg->validation_max_invalid_ratio;
        ret->spool_dir = cfg->spool_dir;
    }
    size_t n = name ? strlen(name) : 0;
    ret->gzip = n > 3 && strcasecmp(name + n - 3, ".gz") == 0 ? 1 : -1;
}

bool tad_ingest_parse_s3_url(const char *src, char *bucket, size_t bucket_sz, const char **key)
{
    if (strncmp(src, "s3://", 5) != 0)
        return false;
    const char *b = src + 5;
    const char *slash = strchr(b, '/');
    if (!slash || slash == b || (size_t)(slash - b) >= bucket_sz || !slash[1])
        return false;
    memcpy(bucket, b, (size_t)(slash - b));
    bucket[slash - b] = '\0';
    *key = slash + 1;
    return true;
}

struct feed_ctx {
    struct tad_pipeline *p;
    struct tad_errinfo *err;
};

static tad_err feed(void *vctx, const char *data, size_t len)
{
    struct feed_ctx *c = vctx;
    return tad_pipeline_feed(c->p, data, len, c->err);
}

tad_err tad_ingest_s3(struct tad_aws *aws, struct tad_http *h, const char *bucket, const char *key,
                      const char *version_id, const struct tad_pipeline_opts *opts,
                      struct tad_pipeline_result *ret, struct tad_s3_object_info *info,
                      struct tad_errinfo *err)
{
    struct tad_pipeline *p = NULL;
    tad_err e = tad_pipeline_new(opts, &p);
    if (e)
        return tad_errinfo_set(err, e, "cannot start the row pipeline");
    struct feed_ctx fc = {p, err};
    e = tad_s3_get(aws, h, bucket, key, version_id, feed, &fc, info, err);
    if (e == TAD_OK)
        e = tad_pipeline_finish(p, ret, err);
    tad_pipeline_free(p);
    return e;
}

tad_err tad_ingest_local(const char *path, const struct tad_pipeline_opts *opts,
                         struct tad_pipeline_result *ret, struct tad_errinfo *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int saved = errno;
        char msg[128];
        return tad_errinfo_set(err, saved == ENOENT ? TAD_ERR_NOT_FOUND : TAD_ERR_IO,
                               "cannot open %s: %s", path, strerror_r(saved, msg, sizeof(msg)));
    }
    tad_err e = tad_pipeline_run_fd(fd, opts, ret, err);
    close(fd);
    return e;
}
