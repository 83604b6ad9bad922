/* cli.c - sub-command dispatch (run, check-config, upload, healthcheck, --version, --help).
 * Owns nothing long-lived; each sub-command owns what it creates. */
#include "tad/cli.h"

#include <stdio.h>
#include <string.h>

#include "tad/version.h"

static const char usage_text[] =
    "usage: tiktok-audienced [run] [-c FILE] [-f|--foreground] [--workers N] [--dry-run]\n"
    "                        [--log-format auto|text|json|journal]\n"
    "                        [--log-level debug|info|warn|error]\n"
    "       tiktok-audienced check-config [-c FILE]\n"
    "       tiktok-audienced upload --audience NAME --type FORMAT\n"
    "                        [--action append|remove|replace] [--dry-run] [--out DIR] SOURCE\n"
    "       tiktok-audienced healthcheck [--url URL]\n"
    "       tiktok-audienced --version | --help\n";

int tad_cli_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("tiktok-audienced %s\n", TAD_VERSION_STRING);
        return TAD_EXIT_OK;
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage_text, stdout);
        return TAD_EXIT_OK;
    }
    fputs(usage_text, stderr);
    return TAD_EXIT_USAGE;
}
