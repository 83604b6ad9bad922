/* cmd_run.c - `tiktok-audienced [run]`: parses the daemon's options, loads and checks the
 * configuration, sets up logging and hands over to the daemon (tad/daemon.h). The daemon
 * never forks: systemd (Type=notify), container runtimes and a terminal all run it in the
 * foreground, so -f/--foreground is accepted for clarity and changes nothing. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "tad/cli.h"
#include "tad/commands.h"
#include "tad/daemon.h"
#include "tad/http.h"
#include "tad/log.h"

static int parse_args(int argc, char **argv, struct tad_daemon_args *a)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"foreground", no_argument, NULL, 'f'},
                                         {"workers", required_argument, NULL, 'w'},
                                         {"dry-run", no_argument, NULL, 'n'},
                                         {"log-format", required_argument, NULL, 'F'},
                                         {"log-level", required_argument, NULL, 'L'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:fh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a->config_path = optarg;
            break;
        case 'f':
            break;
        case 'w': {
            char *end = NULL;
            long n = strtol(optarg, &end, 10);
            if (!end || *end || n < 1 || n > 256)
                return tad_cli_usage_error("--workers must be between 1 and 256 (got '%s')",
                                           optarg);
            a->overrides.workers = n;
            break;
        }
        case 'n':
            a->overrides.dry_run = 1;
            break;
        case 'F':
            if (tad_log_format_parse(optarg) < 0)
                return tad_cli_usage_error("bad --log-format '%s'", optarg);
            a->overrides.log_format = optarg;
            break;
        case 'L':
            if (tad_log_level_parse(optarg) < 0)
                return tad_cli_usage_error("bad --log-level '%s'", optarg);
            a->overrides.log_level = optarg;
            break;
        case 'h':
            tad_cli_usage(stdout);
            return -1;
        default:
            return tad_cli_usage_error("run: bad option");
        }
    }
    if (optind < argc)
        return tad_cli_usage_error("run: unexpected argument '%s'", argv[optind]);
    return TAD_EXIT_OK;
}

int tad_cmd_run(int argc, char **argv)
{
    struct tad_daemon_args a = {.overrides = TAD_CONFIG_OVERRIDES_INIT};
    int rc = parse_args(argc, argv, &a);
    if (rc < 0)
        return TAD_EXIT_OK;
    if (rc != TAD_EXIT_OK)
        return rc;
    struct tad_config *cfg = NULL;
    rc = tad_cli_load_config(a.config_path, &a.overrides, &cfg);
    if (rc != TAD_EXIT_OK)
        return rc;
    struct tad_errinfo ei;
    tad_errinfo_clear(&ei);
    if (tad_config_validate_for_run(cfg, &ei) != TAD_OK) {
        fprintf(stderr, "tiktok-audienced: configuration error: %s\n", ei.msg);
        tad_config_unref(cfg);
        return TAD_EXIT_CONFIG;
    }
    tad_log_setup((enum tad_log_level)cfg->log_level, (enum tad_log_format)cfg->log_format);
    rc = tad_daemon_run(cfg, &a);
    tad_config_unref(cfg);
    return rc;
}
