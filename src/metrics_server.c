/* metrics_server.c - /metrics and /healthz over HTTP with libmicrohttpd (see
 * tad/metrics_server.h).
 *
 * The listening socket is created and bound here (so a bind failure reports the real errno)
 * and a duplicate of it is handed to libmicrohttpd, which owns that one and serves every
 * connection on its internal polling thread. Each /metrics request renders a fresh exposition; nothing is
 * cached. The server struct is read-only after start, so the handler needs no lock.
 */
#include "tad/metrics_server.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tad/buf.h"

#define CONN_TIMEOUT_S 10u
#define CONN_LIMIT 64u
#define METRICS_CAP (16u << 20) /* far above any real exposition */

static const char ctype_metrics[] = "text/plain; version=0.0.4; charset=utf-8";
static const char ctype_text[] = "text/plain; charset=utf-8";

struct tad_metrics_server {
    struct MHD_Daemon *daemon;
    struct tad_metrics *metrics; /* borrowed */
    tad_health_fn alive;
    void *alive_ctx; /* borrowed */
    unsigned port;
};

/* ---- listen address ----------------------------------------------------------------------- */

/* Splits listen into host (NUL-terminated, into host[hostsz]) and port. */
static tad_err split_listen(const char *addr, char *host, size_t hostsz, bool *v6, unsigned *port,
                            struct tad_errinfo *err)
{
    char ex[TAD_EXCERPT_SIZE];
    tad_excerpt(addr ? addr : "", addr ? strlen(addr) : 0, ex);
    const char *h, *hend, *p;
    if (!addr || !*addr)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "metrics listen address is empty");
    if (addr[0] == '[') {
        h = addr + 1;
        hend = strchr(h, ']');
        if (!hend || hend[1] != ':')
            return tad_errinfo_set(err, TAD_ERR_INVALID,
                                   "metrics listen address '%s': expected [ipv6]:port", ex);
        p = hend + 2;
        *v6 = true;
    } else {
        h = addr;
        hend = strrchr(addr, ':');
        if (!hend)
            return tad_errinfo_set(err, TAD_ERR_INVALID,
                                   "metrics listen address '%s': expected host:port", ex);
        if (memchr(h, ':', (size_t)(hend - h)))
            return tad_errinfo_set(err, TAD_ERR_INVALID,
                                   "metrics listen address '%s': IPv6 needs [brackets]", ex);
        p = hend + 1;
        *v6 = false;
    }
    size_t hlen = (size_t)(hend - h);
    if (hlen == 0 || hlen >= hostsz)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "metrics listen address '%s': bad host", ex);
    size_t plen = strlen(p);
    if (plen == 0 || plen > 5 || strspn(p, "0123456789") != plen)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "metrics listen address '%s': bad port", ex);
    unsigned long v = strtoul(p, NULL, 10);
    if (v > 65535)
        return tad_errinfo_set(err, TAD_ERR_INVALID,
                               "metrics listen address '%s': port out of range", ex);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (unsigned)v;
    return TAD_OK;
}

/* Resolves and binds addr; on success *fd is a listening, non-blocking socket. */
static tad_err bind_listen(const char *addr, int *fd_out, int *family_out, struct tad_errinfo *err)
{
    char host[256], service[8];
    bool v6 = false;
    unsigned port = 0;
    tad_err e = split_listen(addr, host, sizeof(host), &v6, &port, err);
    if (e != TAD_OK)
        return e;
    snprintf(service, sizeof(service), "%u", port);
    struct addrinfo hints = {.ai_family = v6 ? AF_INET6 : AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | (v6 ? AI_NUMERICHOST : 0)};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0) {
        char ex[TAD_EXCERPT_SIZE];
        tad_excerpt(addr, strlen(addr), ex);
        return tad_errinfo_set(err, TAD_ERR_INVALID, "metrics listen address '%s': %s", ex,
                               gai_strerror(gai));
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0) {
            *family_out = ai->ai_family;
            break;
        }
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        char eb[128];
        return tad_errinfo_set(err, TAD_ERR_IO, "cannot listen on %s: %s", addr,
                               strerror_r(saved ? saved : EADDRNOTAVAIL, eb, sizeof(eb)));
    }
    *fd_out = fd;
    return TAD_OK;
}

/* ---- requests ----------------------------------------------------------------------------- */

static enum MHD_Result reply_static(struct MHD_Connection *conn, unsigned status, const char *body,
                                    bool allow)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    enum MHD_Result ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype_text);
    if (ok == MHD_YES)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (ok == MHD_YES && allow)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    if (ok == MHD_YES)
        ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result reply_metrics(struct tad_metrics_server *s, struct MHD_Connection *conn)
{
    struct tad_buf b;
    tad_buf_init(&b, METRICS_CAP);
    char *text = NULL;
    size_t len = 0;
    if (tad_metrics_render(s->metrics, &b) != TAD_OK) {
        tad_buf_release(&b);
        return reply_static(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render metrics\n", false);
    }
    len = b.len;
    if (tad_buf_take(&b, &text) != TAD_OK) {
        tad_buf_release(&b);
        return reply_static(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render metrics\n", false);
    }
    /* MHD_RESPMEM_MUST_FREE hands text to free() once sent */
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    enum MHD_Result ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype_metrics);
    if (ok == MHD_YES)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (ok == MHD_YES)
        ok = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)con_cls;
    struct tad_metrics_server *s = cls;
    /* Answer on the first call, before any request body: a body is never wanted here. */
    *upload_data_size = 0;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_static(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", true);
    if (strcmp(url, "/metrics") == 0)
        return reply_metrics(s, conn);
    if (strcmp(url, "/healthz") == 0) {
        bool alive = !s->alive || s->alive(s->alive_ctx);
        return alive ? reply_static(conn, MHD_HTTP_OK, "ok\n", false)
                     : reply_static(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable\n", false);
    }
    return reply_static(conn, MHD_HTTP_NOT_FOUND, "not found\n", false);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

tad_err tad_metrics_server_start(const char *listen_addr, struct tad_metrics *m,
                                 tad_health_fn alive, void *alive_ctx,
                                 struct tad_metrics_server **ret, struct tad_errinfo *err)
{
    if (!m || !ret)
        return tad_errinfo_set(err, TAD_ERR_INVALID, "metrics server: missing argument");
    int fd = -1, family = AF_INET;
    tad_err e = bind_listen(listen_addr, &fd, &family, err);
    if (e != TAD_OK)
        return e;
    struct tad_metrics_server *s = calloc(1, sizeof(*s));
    if (!s) {
        close(fd);
        return tad_errinfo_set(err, TAD_ERR_NOMEM, "metrics server: out of memory");
    }
    s->metrics = m;
    s->alive = alive;
    s->alive_ctx = alive_ctx;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* libmicrohttpd gets its own descriptor of the socket: it closes that one when it stops
     * (and on some start failures but not others), while fd stays ours to close here. */
    errno = 0;
    int mhd_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    s->daemon =
        mhd_fd < 0 ? NULL
                   : MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET,
                                      (MHD_socket)mhd_fd, MHD_OPTION_CONNECTION_TIMEOUT,
                                      (unsigned)CONN_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
                                      (unsigned)CONN_LIMIT, MHD_OPTION_END);
    int saved = errno;
    close(fd);
    if (!s->daemon) {
        char eb[128];
        free(s);
        return tad_errinfo_set(err, TAD_ERR_IO, "cannot serve on %s: %s", listen_addr,
                               saved ? strerror_r(saved, eb, sizeof(eb))
                                     : "libmicrohttpd did not start");
    }
    *ret = s;
    return TAD_OK;
}

unsigned tad_metrics_server_port(const struct tad_metrics_server *s)
{
    return s ? s->port : 0;
}

void tad_metrics_server_stop(struct tad_metrics_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon); /* joins the thread and closes the listening socket */
    free(s);
}
