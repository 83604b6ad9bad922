/* aws_endpoint.h - where AWS requests go: per-service endpoint resolution (the SDKs' endpoint
 * override variables), regional defaults, S3 addressing (virtual-hosted or path-style), and the
 * region found in an SQS queue URL. Pure: the environment is passed in as a lookup function.
 */
#ifndef TAD_AWS_ENDPOINT_H
#define TAD_AWS_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include "tad/buf.h"
#include "tad/error.h"

/* getenv-like lookup; tests pass a table, the daemon passes getenv. */
typedef const char *(*tad_getenv_fn)(const char *name);

enum tad_aws_service {
    TAD_AWS_SQS = 0,
    TAD_AWS_S3,
    TAD_AWS_SECRETS,
    TAD_AWS_STS,
    TAD_AWS__SERVICES
};

struct tad_aws_endpoint {
    char scheme[8];      /* "https" or "http" */
    char host[256];      /* host name or address, no port, no brackets */
    unsigned port;       /* 0 = scheme default */
    char base_path[256]; /* path prefix of an override URL without trailing '/', usually "" */
    bool overridden;     /* came from AWS_ENDPOINT_URL[_<SERVICE>] */
};

/* Signing name of a service: "sqs", "s3", "secretsmanager", "sts". */
const char *tad_aws_service_name(enum tad_aws_service svc);

/* AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL (both ignored when
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), else https://<svc>.<region>.amazonaws.com
 * (amazonaws.com.cn for cn-* regions). */
TAD_MUST_CHECK tad_err tad_aws_endpoint_resolve(enum tad_aws_service svc, const char *region,
                                                tad_getenv_fn env, struct tad_aws_endpoint *ret,
                                                struct tad_errinfo *err);

/* Parses an http(s) URL into an endpoint (path kept in base_path). */
TAD_MUST_CHECK tad_err tad_aws_endpoint_parse(const char *url, struct tad_aws_endpoint *ret,
                                              struct tad_errinfo *err);

/* Host header value: host, with :port only for a non-default port, IPv6 in brackets. */
void tad_aws_endpoint_host_header(const struct tad_aws_endpoint *ep, char *out, size_t outsz);

/* Whether S3 must use path-style for this bucket: an endpoint override, or a bucket name
 * that cannot be a DNS label under the TLS wildcard (dots, upper case, bad characters). */
bool tad_s3_use_path_style(const struct tad_aws_endpoint *ep, const char *bucket);

/* Builds the S3 object URL and the once-encoded wire path for bucket/key (path-style or
 * virtual-hosted), plus the Host header value. query may be NULL (raw, already encoded). */
struct tad_s3_target {
    struct tad_buf url;  /* full URL */
    struct tad_buf path; /* wire path, e.g. "/bucket/a%20b.csv" or "/a%20b.csv" */
    char host[300];      /* Host header value */
};
TAD_MUST_CHECK tad_err tad_s3_target_build(const struct tad_aws_endpoint *ep, const char *bucket,
                                           const char *key, const char *query,
                                           struct tad_s3_target *ret);
void tad_s3_target_release(struct tad_s3_target *t);

/* Region from an SQS queue URL host: sqs.<region>.amazonaws.com[.cn], sqs-fips.<region>...,
 * <region>.queue.amazonaws.com. Returns false when the host names no region. */
bool tad_aws_region_from_queue_url(const char *url, char *out, size_t outsz);

#endif
