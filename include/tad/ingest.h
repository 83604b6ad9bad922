/* ingest.h - turns a source (an S3 object streamed through the AWS layer, or a local file)
 * into upload-ready parts by running the row pipeline over it, with the pipeline options
 * that a format and the configuration call for. Shared by the upload command and the
 * daemon's workers. Stateless; the caller owns every argument and the result.
 */
#ifndef TAD_INGEST_H
#define TAD_INGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "tad/aws_call.h"
#include "tad/config.h"
#include "tad/format.h"
#include "tad/pipeline.h"
#include "tad/s3.h"

/* Pipeline options for a format: row kind, CSV header names, part size, invalid-row ratio and
 * spool directory from cfg; gzip detected from `name`'s ".gz" suffix or the magic bytes. */
void tad_ingest_opts(enum tad_format format, const struct tad_config *cfg, const char *name,
                     struct tad_pipeline_opts *ret);

/* Splits "s3://bucket/key" (key may hold any bytes after the first '/'); false if src is
 * not of that form. bucket receives at most bucket_sz-1 bytes. *key points into src. */
bool tad_ingest_parse_s3_url(const char *src, char *bucket, size_t bucket_sz, const char **key);

/* Streams s3://bucket/key (version_id may be NULL) through the pipeline. */
TAD_MUST_CHECK tad_err tad_ingest_s3(struct tad_aws *aws, struct tad_http *h, const char *bucket,
                                     const char *key, const char *version_id,
                                     const struct tad_pipeline_opts *opts,
                                     struct tad_pipeline_result *ret,
                                     struct tad_s3_object_info *info, struct tad_errinfo *err);

/* Runs the pipeline over a local file. */
TAD_MUST_CHECK tad_err tad_ingest_local(const char *path, const struct tad_pipeline_opts *opts,
                                        struct tad_pipeline_result *ret, struct tad_errinfo *err);

#endif
