/* cli.c - command-line front end: sub-command dispatch (run, check-config, upload,
 * healthcheck, --version, --help) and the exit codes of SPEC section 3 (0 ok, 64 usage,
 * 78 configuration, 1 anything else). Owns nothing long-lived; each sub-command owns what it
 * creates and returns an exit code. */
#include "tad/cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tad/commands.h"
#include "tad/config.h"
#include "tad/http.h"
#include "tad/log.h"
#include "tad/version.h"

static const char usage_text[] =
    "usage: tiktok-audienced [run] [-c FILE] [-f|--foreground] [--workers N] [--dry-run]\n"
    "                        [--log-format auto|text|json|journal]\n"
    "                        [--log-level debug|info|warn|error]\n"
    "       tiktok-audienced check-config [-c FILE]\n"
    "       tiktok-audienced upload --audience NAME --type FORMAT\n"
    "                        [--action append|remove|replace] [--dry-run] [--out DIR]\n"
    "                        [-c FILE] SOURCE       (SOURCE: local path or s3://bucket/key)\n"
    "       tiktok-audienced healthcheck [--url URL]\n"
    "       tiktok-audienced --version | --help\n"
    "\n"
    "Turns files of customer identifiers dropped in S3 into TikTok Ads custom audiences.\n"
    "Configuration: /etc/tiktok-audienced/config.yaml, then TIKTOK_AUDIENCED_* variables,\n"
    "then the command line. See tiktok-audienced(8).\n";

void tad_cli_usage(FILE *out)
{
    fputs(usage_text, out);
}

int tad_cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("tiktok-audienced: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    tad_cli_usage(stderr);
    return TAD_EXIT_USAGE;
}

int tad_cli_load_config(const char *path, const struct tad_config_overrides *ov,
                        struct tad_config **ret)
{
    struct tad_errinfo ei;
    tad_errinfo_clear(&ei);
    bool explicit_path = path != NULL;
    tad_err e = tad_config_load(path ? path : TAD_DEFAULT_CONFIG, explicit_path, ov, ret, &ei);
    if (e == TAD_OK)
        return TAD_EXIT_OK;
    fprintf(stderr, "tiktok-audienced: configuration error: %s\n",
            ei.msg[0] ? ei.msg : tad_err_str(e));
    return e == TAD_ERR_NOMEM ? TAD_EXIT_FAILURE : TAD_EXIT_CONFIG;
}

static int cmd_check_config(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *path = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 'h':
            tad_cli_usage(stdout);
            return TAD_EXIT_OK;
        default:
            return tad_cli_usage_error("check-config: bad option");
        }
    }
    if (optind < argc)
        return tad_cli_usage_error("check-config: unexpected argument %s", argv[optind]);
    struct tad_config *cfg = NULL;
    struct tad_config_overrides ov = TAD_CONFIG_OVERRIDES_INIT;
    int rc = tad_cli_load_config(path, &ov, &cfg);
    if (rc != TAD_EXIT_OK)
        return rc;
    struct tad_errinfo ei;
    tad_errinfo_clear(&ei);
    if (tad_config_print(cfg, stdout) != TAD_OK)
        rc = TAD_EXIT_FAILURE;
    if (rc == TAD_EXIT_OK && tad_config_validate_for_run(cfg, &ei) != TAD_OK) {
        fprintf(stderr, "tiktok-audienced: configuration error: %s\n", ei.msg);
        rc = TAD_EXIT_CONFIG;
    }
    tad_config_unref(cfg);
    return rc;
}

int tad_cli_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("tiktok-audienced %s\n", TAD_VERSION_STRING);
        return TAD_EXIT_OK;
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        tad_cli_usage(stdout);
        return TAD_EXIT_OK;
    }
    if (tad_http_global_init() != TAD_OK) {
        fputs("tiktok-audienced: cannot initialise libcurl\n", stderr);
        return TAD_EXIT_FAILURE;
    }
    tad_log_setup(TAD_LOG_INFO, TAD_LOG_FMT_AUTO);
    const char *cmd = argc >= 2 ? argv[1] : "run";
    int rc;
    if (strcmp(cmd, "check-config") == 0)
        rc = cmd_check_config(argc - 1, argv + 1);
    else if (strcmp(cmd, "upload") == 0)
        rc = tad_cmd_upload(argc - 1, argv + 1);
    else if (strcmp(cmd, "healthcheck") == 0)
        rc = tad_cmd_healthcheck(argc - 1, argv + 1);
    else if (strcmp(cmd, "run") == 0)
        rc = tad_cmd_run(argc - 1, argv + 1);
    else if (cmd[0] == '-')
        rc = tad_cmd_run(argc, argv); /* options without a sub-command mean run */
    else
        rc = tad_cli_usage_error("unknown command '%s'", cmd);
    tad_http_global_cleanup();
    return rc;
}
