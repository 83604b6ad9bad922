/* commands.h - the sub-commands behind the command line (each returns an exit code, see
 * enum tad_exit in tad/cli.h) and the helpers they share. */
#ifndef TAD_COMMANDS_H
#define TAD_COMMANDS_H

#include <stdio.h>

#include "tad/config.h"

#define TAD_DEFAULT_CONFIG "/etc/tiktok-audienced/config.yaml"

int tad_cmd_upload(int argc, char **argv);      /* cmd_upload.c */
int tad_cmd_healthcheck(int argc, char **argv); /* cmd_healthcheck.c */
int tad_cmd_run(int argc, char **argv);         /* cmd_run.c */

void tad_cli_usage(FILE *out);
/* Prints "tiktok-audienced: <fmt with arg>" and the usage to stderr; returns 64. */
int tad_cli_usage_error(const char *fmt, ...) TAD_PRINTF(1, 2);
/* Loads the configuration (path NULL = the default file, which may be absent); prints the
 * error and returns 78 (or 1) on failure, 0 with *ret set on success. */
int tad_cli_load_config(const char *path, const struct tad_config_overrides *ov,
                        struct tad_config **ret);

#endif
