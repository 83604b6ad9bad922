/* main.c - command line entry point: parses the sub-command and hands off.
 * Only this file (and the daemon's top level) may exit the process. */
#include <stdio.h>
#include <string.h>

#include "tad/cli.h"

int main(int argc, char **argv)
{
    return tad_cli_main(argc, argv);
}
