/* creds_sources.h - the links of the default AWS credential chain, in the SDKs' order. Each
 * constructor fills a struct tad_creds_source (see tad/aws_creds.h) whose fetch() answers
 * TAD_ERR_NOT_FOUND when the source is not configured on this machine. Each source owns its
 * own HTTP client where it needs one; fetch() is never called concurrently for one source.
 */
#ifndef TAD_CREDS_SOURCES_H
#define TAD_CREDS_SOURCES_H

#include <stdbool.h>
#include <stddef.h>

#include "tad/aws_creds.h"
#include "tad/ini.h"

/* AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (or AWS_SECURITY_TOKEN),
 * optional AWS_CREDENTIAL_EXPIRATION. */
TAD_MUST_CHECK tad_err tad_creds_source_env(const struct tad_creds_opts *o,
                                            struct tad_creds_source *ret);
/* Shared credentials/config files with AWS_PROFILE (static keys). */
TAD_MUST_CHECK tad_err tad_creds_source_profile(const struct tad_creds_opts *o,
                                                struct tad_creds_source *ret);
/* STS AssumeRoleWithWebIdentity from AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, or the
 * profile's web_identity_token_file + role_arn. */
TAD_MUST_CHECK tad_err tad_creds_source_web_identity(const struct tad_creds_opts *o,
                                                     struct tad_creds_source *ret);
/* ECS/EKS container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI). */
TAD_MUST_CHECK tad_err tad_creds_source_container(const struct tad_creds_opts *o,
                                                  struct tad_creds_source *ret);
/* EC2 instance metadata, IMDSv2 (unless AWS_EC2_METADATA_DISABLED=true). */
TAD_MUST_CHECK tad_err tad_creds_source_imds(const struct tad_creds_opts *o,
                                             struct tad_creds_source *ret);

/* Region of this EC2 instance from instance metadata (placement/region, else the
 * availability zone minus its last letter), with the same endpoint, token and timeout rules as
 * the IMDS link. NOT_FOUND when IMDS is disabled or unreachable. */
TAD_MUST_CHECK tad_err tad_imds_region(const struct tad_creds_opts *o, char *out, size_t outsz,
                                       struct tad_errinfo *err);

/* The selected profile of the shared files: AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials,
 * sections "[NAME]") and AWS_CONFIG_FILE (~/.aws/config, "[profile NAME]" or "[default]");
 * the name comes from AWS_PROFILE, else AWS_DEFAULT_PROFILE, else "default". */
struct tad_aws_profile {
    struct tad_ini *credentials; /* owned, NULL when the file is missing */
    struct tad_ini *config;      /* owned, NULL when the file is missing */
    char name[128];
    bool explicit_name; /* named by AWS_PROFILE / AWS_DEFAULT_PROFILE */
    bool exists;        /* the profile has a section in either file */
};

/* Reads both files afresh. NOT_FOUND when neither file exists (ret untouched); PARSE/IO for a
 * bad file. On success release ret with tad_aws_profile_release. */
TAD_MUST_CHECK tad_err tad_aws_profile_load(tad_getenv_fn env, struct tad_aws_profile *ret,
                                            struct tad_errinfo *err);
/* The profile's value for key (credentials file first, then config file); borrowed, NULL if
 * absent or empty. */
const char *tad_aws_profile_get(const struct tad_aws_profile *p, const char *key);
void tad_aws_profile_release(struct tad_aws_profile *p);

#endif
