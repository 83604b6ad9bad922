/* cmd_upload.c - `tiktok-audienced upload`: one file (local path or s3://bucket/key) through
 * the row pipeline and, unless --dry-run, to TikTok; no SQS. With --out DIR the exact part
 * files and a manifest.json are written to DIR. Owns everything it creates; returns an exit
 * code. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tad/aws_call.h"
#include "tad/cli.h"
#include "tad/commands.h"
#include "tad/ingest.h"
#include "tad/log.h"
#include "tad/manifest.h"
#include "tad/route.h"
#include "tad/upload_apply.h"

struct upload_args {
    const char *audience;
    const char *type;
    const char *action;
    const char *out_dir;
    const char *config;
    const char *source;
    bool dry_run;
};

static int parse_args(int argc, char **argv, struct upload_args *a)
{
    static const struct option opts[] = {{"audience", required_argument, NULL, 'a'},
                                         {"type", required_argument, NULL, 't'},
                                         {"action", required_argument, NULL, 'A'},
                                         {"dry-run", no_argument, NULL, 'n'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"log-level", required_argument, NULL, 'L'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "a:t:A:no:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            tad_cli_usage(stdout);
            return -1;
        case 'a':
            a->audience = optarg;
            break;
        case 't':
            a->type = optarg;
            break;
        case 'A':
            a->action = optarg;
            break;
        case 'n':
            a->dry_run = true;
            break;
        case 'o':
            a->out_dir = optarg;
            break;
        case 'c':
            a->config = optarg;
            break;
        case 'L':
            if (tad_log_level_parse(optarg) < 0)
                return tad_cli_usage_error("upload: bad --log-level '%s'", optarg);
            tad_log_setup((enum tad_log_level)tad_log_level_parse(optarg), TAD_LOG_FMT_AUTO);
            break;
        default:
            return tad_cli_usage_error("upload: bad option");
        }
    }
    if (optind + 1 != argc)
        return tad_cli_usage_error(
            "upload: exactly one SOURCE (a path or s3://bucket/key) is needed");
    a->source = argv[optind];
    if (!a->audience || !a->type)
        return tad_cli_usage_error("upload: --audience and --type are required");
    return TAD_EXIT_OK;
}

/* Validates audience, format and action with the router's own rules, through the key they
 * would have in the bucket. */
static int resolve(const struct upload_args *a, struct tad_route *rt)
{
    char key[TAD_ROUTE_KEY_MAX + 64];
    int n = snprintf(key, sizeof(key), "tiktok/%s/%s/%s/upload.csv", a->audience, a->type,
                     a->action ? a->action : "append");
    if (n < 0 || (size_t)n >= sizeof(key))
        return tad_cli_usage_error("upload: audience name too long");
    struct tad_route_table table = {.key_prefix = "tiktok/"};
    struct tad_errinfo ei;
    tad_errinfo_clear(&ei);
    if (tad_route_resolve(&table, key, (size_t)n, rt, &ei) != TAD_OK || rt->kind != TAD_ROUTE_JOB)
        return tad_cli_usage_error("upload: %s",
                                   ei.msg[0] ? ei.msg : "bad audience, type or action");
    return TAD_EXIT_OK;
}

static int make_out_dir(const char *dir)
{
    if (mkdir(dir, 0700) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            return TAD_EXIT_OK;
    }
    char msg[128];
    fprintf(stderr, "tiktok-audienced: upload: cannot use --out %s: %s\n", dir,
            strerror_r(errno, msg, sizeof(msg)));
    return TAD_EXIT_FAILURE;
}

static void print_summary(const struct upload_args *a, const struct tad_route *rt,
                          const struct tad_pipeline_result *res,
                          const struct tad_upload_outcome *out)
{
    printf("{\"audience\":\"%s\",\"calculate_type\":\"%s\",\"action\":\"%s\",\"dry_run\":%s,"
           "\"rows_total\":%llu,\"rows_valid\":%llu,\"rows_invalid\":%llu,\"parts\":%zu",
           rt->by_id ? rt->audience_id : rt->audience_name, tad_format_upload_name(rt->format),
           tad_route_action_name(rt->action), a->dry_run ? "true" : "false",
           (unsigned long long)res->rows_total, (unsigned long long)res->rows_valid,
           (unsigned long long)res->rows_invalid, res->nparts);
    if (out && out->custom_audience_id[0])
        printf(",\"custom_audience_id\":\"%s\",\"created\":%s", out->custom_audience_id,
               out->created ? "true" : "false");
    if (out && out->would_create)
        printf(",\"would_create\":true");
    if (out && out->request_ids[0])
        printf(",\"tiktok_request_ids\":\"%s\"", out->request_ids);
    if (a->out_dir)
        printf(",\"out\":\"%s\"", a->out_dir);
    printf("}\n");
}

int tad_cmd_upload(int argc, char **argv)
{
    struct upload_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc < 0)
        return TAD_EXIT_OK; /* --help */
    if (rc != TAD_EXIT_OK)
        return rc;
    struct tad_route rt;
    rc = resolve(&a, &rt);
    if (rc != TAD_EXIT_OK)
        return rc;
    struct tad_config *cfg = NULL;
    struct tad_config_overrides ov = TAD_CONFIG_OVERRIDES_INIT;
    ov.dry_run = a.dry_run ? 1 : -1;
    rc = tad_cli_load_config(a.config, &ov, &cfg);
    if (rc != TAD_EXIT_OK)
        return rc;
    a.dry_run = cfg->dry_run;
    if (a.out_dir && (rc = make_out_dir(a.out_dir)) != TAD_EXIT_OK)
        goto out_cfg;

    char bucket[256];
    const char *key = NULL;
    bool from_s3 = tad_ingest_parse_s3_url(a.source, bucket, sizeof(bucket), &key);
    struct tad_pipeline_opts po;
    tad_ingest_opts(rt.format, cfg, from_s3 ? key : a.source, &po);
    po.out_dir = a.out_dir;

    struct tad_upload_env env;
    struct tad_errinfo ei;
    tad_errinfo_clear(&ei);
    /* AWS is needed for an s3:// source and for the TikTok credentials (not for a dry run of
     * a local file). */
    bool need_aws = from_s3 || !a.dry_run;
    tad_err e = tad_upload_env_init(&env, cfg, need_aws, NULL, &ei);
    if (e) {
        fprintf(stderr, "tiktok-audienced: upload: %s\n", ei.msg[0] ? ei.msg : tad_err_str(e));
        rc = e == TAD_ERR_INVALID ? TAD_EXIT_CONFIG : TAD_EXIT_FAILURE;
        goto out_cfg;
    }
    struct tad_pipeline_result res;
    memset(&res, 0, sizeof(res));
    if (from_s3)
        e = tad_ingest_s3(env.aws, env.http, bucket, key, NULL, &po, &res, NULL, &ei);
    else
        e = tad_ingest_local(a.source, &po, &res, &ei);
    if (e) {
        fprintf(stderr, "tiktok-audienced: upload: %s: %s%s%s%s\n", a.source,
                ei.msg[0] ? ei.msg : tad_err_str(e), ei.code[0] ? " (" : "", ei.code,
                ei.code[0] ? ")" : "");
        rc = TAD_EXIT_FAILURE;
        goto out_env;
    }
    if (a.out_dir) {
        e = tad_manifest_write(a.out_dir, &res, rt.by_id ? rt.audience_id : rt.audience_name,
                               tad_format_upload_name(rt.format), &ei);
        if (e) {
            fprintf(stderr, "tiktok-audienced: upload: manifest: %s\n", ei.msg);
            rc = TAD_EXIT_FAILURE;
            goto out_res;
        }
    }
    struct tad_upload_outcome outcome;
    memset(&outcome, 0, sizeof(outcome));
    e = tad_upload_apply(&env, env.http, &rt, cfg->secret_id, &res, a.dry_run, &outcome, &ei);
    if (e) {
        fprintf(stderr, "tiktok-audienced: upload: TikTok: %s%s%s\n",
                ei.msg[0] ? ei.msg : tad_err_str(e), ei.request_id[0] ? " request_id=" : "",
                ei.request_id);
        rc = TAD_EXIT_FAILURE;
        goto out_res;
    }
    print_summary(&a, &rt, &res, &outcome);
    rc = TAD_EXIT_OK;
out_res:
    tad_pipeline_result_release(&res);
out_env:
    tad_upload_env_release(&env);
out_cfg:
    tad_config_unref(cfg);
    return rc;
}
