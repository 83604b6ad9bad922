/* cmd_run.c - `tiktok-audienced run`: the long-running daemon. */
#include <stdio.h>

#include "tad/cli.h"
#include "tad/commands.h"

int tad_cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("tiktok-audienced: the daemon mode is not available in this build yet\n", stderr);
    return TAD_EXIT_FAILURE;
}
