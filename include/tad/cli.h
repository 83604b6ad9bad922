/* cli.h - command-line front end: sub-command dispatch and exit codes (SPEC section 3). */
#ifndef TAD_CLI_H
#define TAD_CLI_H

enum tad_exit {
    TAD_EXIT_OK = 0,
    TAD_EXIT_FAILURE = 1,
    TAD_EXIT_USAGE = 64,
    TAD_EXIT_CONFIG = 78,
};

/* Runs the program; returns the process exit code. */
int tad_cli_main(int argc, char **argv);

#endif
