/* daemon.h - the long-running service behind `tiktok-audienced run` (SPEC sections 3-8).
 *
 * Threads:
 *   main         signals through a signalfd (SIGTERM/SIGINT drain, SIGHUP reload), the systemd
 *                watchdog and status, the drain deadline; never blocks on the network
 *   receiver     long-polls SQS for at most as many messages as there are free workers, enters
 *                each in the in-flight table and queues it; its own HTTP client, cancelled at
 *                once on shutdown
 *   workers (N)  take one message at a time and run it through tad_job_process() with their own
 *                HTTP client; cancelled when the drain deadline passes
 *   housekeeper  the only thread that deletes, releases and extends messages: batches of up to
 *                10, visibility extended well before it runs out (tad/inflight.h)
 *   metrics      libmicrohttpd's own thread serves /metrics and /healthz
 * Shared state: the configuration slot (snapshots taken per message), the AWS/TikTok services
 * (thread-safe), the in-flight table, the work queue (one mutex + condition variable) and the
 * metrics registry.
 */
#ifndef TAD_DAEMON_H
#define TAD_DAEMON_H

#include <stdbool.h>

#include "tad/config.h"

struct tad_daemon_args {
    const char *config_path; /* NULL = the default file (may be absent) */
    struct tad_config_overrides overrides;
};

/* Runs the daemon until SIGTERM/SIGINT; cfg (borrowed; a reference is taken) is the loaded
 * configuration. Returns the process exit code (0 clean stop, 78 configuration problem found
 * at start, 1 anything else). */
int tad_daemon_run(struct tad_config *cfg, const struct tad_daemon_args *args);

#endif
