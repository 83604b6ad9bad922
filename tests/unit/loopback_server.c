/* loopback_server.c - scripted HTTP/1.1 test server on 127.0.0.1 (see loopback_server.h).
 *
 * Threading: one server thread; the script queue and the request log are guarded by a mutex.
 * Ownership: the server owns copies of queued replies and every recorded request.
 */
#include "loopback_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define POLL_MS 20

struct queued_reply {
    char *head;
    char *body;
    size_t body_len;
    enum lbs_action action;
    size_t cut;
};

struct lbs {
    int listen_fd;
    int port;
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t lock;
    struct queued_reply *script;
    size_t nscript, script_alloc, script_next;
    struct lbs_request **reqs;
    size_t nreqs, reqs_alloc;
    unsigned nconn;
};

/* growable input buffer */
struct inbuf {
    char *data;
    size_t len, alloc;
};

static int inbuf_reserve(struct inbuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->alloc)
        return 0;
    size_t na = b->alloc ? b->alloc : 4096;
    while (na < b->len + extra + 1)
        na *= 2;
    char *nd = realloc(b->data, na);
    if (!nd)
        return -1;
    b->data = nd;
    b->alloc = na;
    return 0;
}

/* Reads more bytes into b: >0 read, 0 EOF, -1 error or stop. */
static int read_more(struct lbs *s, int fd, struct inbuf *b)
{
    for (;;) {
        if (atomic_load(&s->stop))
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, POLL_MS);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            return -1;
        if (pr == 0)
            continue;
        if (inbuf_reserve(b, 65536) != 0)
            return -1;
        ssize_t n = recv(fd, b->data + b->len, 65536, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        b->len += (size_t)n;
        b->data[b->len] = '\0';
        return 1;
    }
}

static int send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static char *head_value(const char *head, size_t head_len, const char *name)
{
    size_t nl = strlen(name);
    const char *p = memchr(head, '\n', head_len); /* skip the request line */
    const char *end = head + head_len;
    while (p && p + 1 < end) {
        p++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            break;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            return strndup(v, (size_t)(ve - v));
        }
        p = eol;
    }
    return NULL;
}

char *lbs_header(const struct lbs_request *r, const char *name)
{
    return r ? head_value(r->raw, r->head_len, name) : NULL;
}

/* Tries to decode a chunked body starting at b->data[start]. Returns 1 when complete (sets
 * *wire_len and fills out), 0 when more input is needed, -1 on malformed input. */
static int dechunk(const struct inbuf *b, size_t start, size_t *wire_len, struct inbuf *out)
{
    size_t pos = start;
    out->len = 0;
    for (;;) {
        const char *eol = memmem(b->data + pos, b->len - pos, "\r\n", 2);
        if (!eol)
            return 0;
        char *endp = NULL;
        unsigned long long sz = strtoull(b->data + pos, &endp, 16);
        if (endp == b->data + pos)
            return -1;
        pos = (size_t)(eol - b->data) + 2;
        if (sz == 0) {
            /* trailers until the blank line */
            for (;;) {
                const char *te = memmem(b->data + pos, b->len - pos, "\r\n", 2);
                if (!te)
                    return 0;
                size_t tl = (size_t)(te - (b->data + pos));
                pos += tl + 2;
                if (tl == 0) {
                    *wire_len = pos - start;
                    return 1;
                }
            }
        }
        if (b->len - pos < sz + 2)
            return 0;
        if (inbuf_reserve(out, (size_t)sz) != 0)
            return -1;
        memcpy(out->data + out->len, b->data + pos, (size_t)sz);
        out->len += (size_t)sz;
        out->data[out->len] = '\0';
        pos += (size_t)sz + 2;
    }
}

static int record(struct lbs *s, const struct inbuf *in, size_t head_len, size_t wire_len,
                  const char *body, size_t body_len, unsigned conn)
{
    struct lbs_request *r = calloc(1, sizeof(*r));
    if (!r)
        return -1;
    r->raw = malloc(head_len + wire_len + 1);
    r->body = malloc(body_len + 1);
    if (!r->raw || !r->body) {
        free(r->raw);
        free(r->body);
        free(r);
        return -1;
    }
    memcpy(r->raw, in->data, head_len + wire_len);
    r->raw[head_len + wire_len] = '\0';
    r->raw_len = head_len + wire_len;
    r->head_len = head_len;
    if (body_len)
        memcpy(r->body, body, body_len);
    r->body[body_len] = '\0';
    r->body_len = body_len;
    r->conn = conn;
    pthread_mutex_lock(&s->lock);
    int rc = 0;
    if (s->nreqs == s->reqs_alloc) {
        size_t na = s->reqs_alloc ? s->reqs_alloc * 2 : 16;
        struct lbs_request **nr = realloc(s->reqs, na * sizeof(*nr));
        if (!nr) {
            rc = -1;
        } else {
            s->reqs = nr;
            s->reqs_alloc = na;
        }
    }
    if (rc == 0)
        s->reqs[s->nreqs++] = r;
    pthread_mutex_unlock(&s->lock);
    if (rc != 0) {
        free(r->raw);
        free(r->body);
        free(r);
    }
    return rc;
}

static bool next_reply(struct lbs *s, struct queued_reply *out)
{
    bool have = false;
    pthread_mutex_lock(&s->lock);
    if (s->script_next < s->nscript) {
        *out = s->script[s->script_next++];
        have = true;
    }
    pthread_mutex_unlock(&s->lock);
    return have;
}

/* Waits until the client closes the connection or the server stops. */
static void wait_gone(struct lbs *s, int fd)
{
    char tmp[4096];
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, POLL_MS);
        if (pr < 0 && errno != EINTR)
            return;
        if (pr > 0) {
            ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
            if (n <= 0)
                return;
        }
    }
}

/* Length of the request head including the blank line, 0 while incomplete. */
static size_t head_length(const struct inbuf *in)
{
    if (in->len == 0)
        return 0;
    const char *e = memmem(in->data, in->len, "\r\n\r\n", 4);
    return e ? (size_t)(e - in->data) + 4 : 0;
}

/* Serves requests on one connection; closes fd. */
static void serve_conn(struct lbs *s, int fd, unsigned conn)
{
    struct inbuf in = {0}, body = {0};
    for (;;) {
        size_t head_len;
        while ((head_len = head_length(&in)) == 0)
            if (read_more(s, fd, &in) <= 0)
                goto out;
        char *te = head_value(in.data, head_len, "Transfer-Encoding");
        char *cl = head_value(in.data, head_len, "Content-Length");
        bool chunked = te && strcasecmp(te, "chunked") == 0;
        unsigned long long clen = cl ? strtoull(cl, NULL, 10) : 0;
        free(te);
        free(cl);
        size_t wire_len = 0;
        body.len = 0;
        if (chunked) {
            int dr;
            while ((dr = dechunk(&in, head_len, &wire_len, &body)) == 0)
                if (read_more(s, fd, &in) <= 0)
                    goto out;
            if (dr < 0)
                goto out;
        } else {
            while (in.len - head_len < clen)
                if (read_more(s, fd, &in) <= 0)
                    goto out;
            wire_len = (size_t)clen;
        }
        if (record(s, &in, head_len, wire_len, chunked ? body.data : in.data + head_len,
                   chunked ? body.len : wire_len, conn) != 0)
            goto out;
        size_t used = head_len + wire_len;
        memmove(in.data, in.data + used, in.len - used);
        in.len -= used;

        struct queued_reply r;
        static const char dflt[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        if (!next_reply(s, &r)) {
            if (send_all(fd, dflt, sizeof(dflt) - 1) != 0)
                goto out;
            continue;
        }
        size_t blen = r.action == LBS_REPLY ? r.body_len : r.cut;
        int sr = send_all(fd, r.head, strlen(r.head));
        if (sr == 0 && blen)
            sr = send_all(fd, r.body, blen);
        bool close_after = strcasestr(r.head, "Connection: close") != NULL;
        if (sr != 0)
            goto out;
        if (r.action == LBS_STALL) {
            wait_gone(s, fd);
            goto out;
        }
        if (r.action == LBS_RESET) {
            usleep(50 * 1000); /* let the partial body reach the client first */
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) != 0)
                goto out;
            goto out;
        }
        if (r.action == LBS_CLOSE || close_after)
            goto out;
    }
out:
    close(fd);
    free(in.data);
    free(body.data);
}

static void *server_main(void *arg)
{
    struct lbs *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->listen_fd, .events = POLLIN};
        int pr = poll(&p, 1, POLL_MS);
        if (pr <= 0)
            continue;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        serve_conn(s, fd, ++s->nconn);
    }
    return NULL;
}

struct lbs *lbs_start(void)
{
    struct lbs *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0)
        goto fail;
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(s->listen_fd, 16) != 0 || getsockname(s->listen_fd, (struct sockaddr *)&a, &al) != 0)
        goto fail;
    s->port = ntohs(a.sin_port);
    if (pthread_create(&s->thread, NULL, server_main, s) != 0)
        goto fail;
    return s;
fail:
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return NULL;
}

void lbs_stop(struct lbs *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    for (size_t i = 0; i < s->nscript; i++) {
        free(s->script[i].head);
        free(s->script[i].body);
    }
    free(s->script);
    for (size_t i = 0; i < s->nreqs; i++) {
        free(s->reqs[i]->raw);
        free(s->reqs[i]->body);
        free(s->reqs[i]);
    }
    free(s->reqs);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int lbs_port(const struct lbs *s)
{
    return s->port;
}

int lbs_push(struct lbs *s, const struct lbs_reply *r)
{
    struct queued_reply q = {.action = r->action, .cut = r->cut, .body_len = r->body_len};
    q.head = strdup(r->head ? r->head : "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    q.body = malloc(r->body_len + 1);
    if (!q.head || !q.body)
        goto fail;
    if (r->body_len)
        memcpy(q.body, r->body, r->body_len);
    if (q.cut > q.body_len)
        q.cut = q.body_len;
    pthread_mutex_lock(&s->lock);
    int rc = 0;
    if (s->nscript == s->script_alloc) {
        size_t na = s->script_alloc ? s->script_alloc * 2 : 8;
        struct queued_reply *ns = realloc(s->script, na * sizeof(*ns));
        if (ns) {
            s->script = ns;
            s->script_alloc = na;
        } else {
            rc = -1;
        }
    }
    if (rc == 0)
        s->script[s->nscript++] = q;
    pthread_mutex_unlock(&s->lock);
    if (rc == 0)
        return 0;
fail:
    free(q.head);
    free(q.body);
    return -1;
}

size_t lbs_count(struct lbs *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->nreqs;
    pthread_mutex_unlock(&s->lock);
    return n;
}

const struct lbs_request *lbs_get(struct lbs *s, size_t i)
{
    pthread_mutex_lock(&s->lock);
    const struct lbs_request *r = i < s->nreqs ? s->reqs[i] : NULL;
    pthread_mutex_unlock(&s->lock);
    return r;
}
