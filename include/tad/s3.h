/* s3.h - Amazon S3 object access: GetObject streamed into a caller's sink (never buffered
 * whole) that resumes a dropped download from the last byte received (Range + If-Match on the
 * ETag, same versionId), HeadObject, and PutObject for small bodies (reports). Keys may hold
 * any UTF-8; they are percent-encoded once on the wire and in the signature.
 * Stateless functions over a shared struct tad_aws and a per-thread struct tad_http.
 */
#ifndef TAD_S3_H
#define TAD_S3_H

#include <stdint.h>

#include "tad/aws_call.h"

#define TAD_S3_MAX_RESUMES 5

struct tad_s3_object_info {
    uint64_t size;
    char etag[128];       /* as sent by S3, with its quotes */
    char version_id[256]; /* "" if unversioned */
    unsigned resumes;     /* GET only: how many times the download was resumed */
    char request_id[96];
};

/* Receives the object's bytes in order; an error aborts the download and is returned. */
typedef tad_err (*tad_s3_sink_fn)(void *ctx, const char *data, size_t len);

/* version_id may be NULL. info (optional) is filled on success. */
TAD_MUST_CHECK tad_err tad_s3_get(struct tad_aws *aws, struct tad_http *h, const char *bucket,
                                  const char *key, const char *version_id, tad_s3_sink_fn sink,
                                  void *sink_ctx, struct tad_s3_object_info *info,
                                  struct tad_errinfo *err);

TAD_MUST_CHECK tad_err tad_s3_head(struct tad_aws *aws, struct tad_http *h, const char *bucket,
                                   const char *key, const char *version_id,
                                   struct tad_s3_object_info *info, struct tad_errinfo *err);

TAD_MUST_CHECK tad_err tad_s3_put(struct tad_aws *aws, struct tad_http *h, const char *bucket,
                                  const char *key, const void *body, size_t len,
                                  const char *content_type, struct tad_errinfo *err);

#endif
