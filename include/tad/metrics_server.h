/* metrics_server.h - the HTTP endpoint for /metrics and /healthz (libmicrohttpd).
 *
 * The server answers on its own thread (libmicrohttpd's internal polling thread); the caller
 * is never blocked by clients. GET (or HEAD) /metrics -> 200 with the Prometheus text
 * exposition (Content-Type "text/plain; version=0.0.4; charset=utf-8"); /healthz -> 200 "ok\n"
 * when alive(alive_ctx) returns true (or alive is NULL), else 503 "unavailable\n"; other paths
 * -> 404; methods other than GET and HEAD -> 405 with "Allow: GET, HEAD".
 *
 * Threading: m and alive_ctx are borrowed and must outlive the server; alive is called on the
 * server thread, so it must be thread-safe. tad_metrics_server_stop joins the thread.
 */
#ifndef TAD_METRICS_SERVER_H
#define TAD_METRICS_SERVER_H

#include <stdbool.h>

#include "tad/error.h"
#include "tad/metrics.h"

typedef bool (*tad_health_fn)(void *ctx);

struct tad_metrics_server;

/* listen: "host:port" (IPv4 literal or host name, resolved once) or "[ipv6]:port"; port 0
 * binds an ephemeral port (see tad_metrics_server_port). *ret is new
 * (tad_metrics_server_stop). Errors: TAD_ERR_INVALID for a malformed listen string or an
 * unknown host, TAD_ERR_IO when the address cannot be bound or the server cannot start (the
 * message names the address and the system's error text), TAD_ERR_NOMEM. */
TAD_MUST_CHECK tad_err tad_metrics_server_start(const char *listen, struct tad_metrics *m,
                                                tad_health_fn alive, void *alive_ctx,
                                                struct tad_metrics_server **ret,
                                                struct tad_errinfo *err);

/* The bound TCP port (the ephemeral one when the listen port was 0). */
unsigned tad_metrics_server_port(const struct tad_metrics_server *s);

/* Stops answering, closes the socket and frees s. NULL ok. */
void tad_metrics_server_stop(struct tad_metrics_server *s);

#endif
