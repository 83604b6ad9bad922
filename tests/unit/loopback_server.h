/* loopback_server.h - a scripted HTTP/1.1 server on 127.0.0.1 for unit tests.
 *
 * One background thread accepts connections one at a time and serves requests on each until
 * the client closes it (keep-alive). Every request is recorded with its raw bytes exactly as
 * received, its decoded body (Content-Length or chunked) and the number of the connection it
 * came on. Replies are taken from a FIFO script (lbs_push); when the script is empty the server
 * answers "200 OK" with an empty body. A reply can also stall after part of its body (until the
 * client goes away), or end the connection mid-body with a FIN or a TCP reset.
 *
 * Threading: lbs_push / lbs_count / lbs_get may be called from the test thread while the
 * server runs; recorded requests are never modified after they appear. lbs_stop joins the
 * thread and frees everything (requests returned by lbs_get die with it).
 */
#ifndef TAD_TEST_LOOPBACK_SERVER_H
#define TAD_TEST_LOOPBACK_SERVER_H

#include <stddef.h>

enum lbs_action {
    LBS_REPLY = 0, /* send head and body, keep the connection */
    LBS_STALL,     /* send head and cut bytes of body, then send nothing more */
    LBS_CLOSE,     /* send head and cut bytes of body, then close (FIN) */
    LBS_RESET,     /* send head and cut bytes of body, then reset the connection (RST) */
};

struct lbs_reply {
    const char *head; /* status line and headers, each ending in CRLF, plus the blank line */
    const void *body; /* may be NULL when body_len is 0 */
    size_t body_len;
    enum lbs_action action;
    size_t cut; /* body bytes sent before stalling / closing / resetting */
};

struct lbs_request {
    char *raw; /* head and body exactly as received (NUL-terminated for convenience) */
    size_t raw_len;
    size_t head_len; /* request line and headers including the blank line */
    char *body;      /* decoded body (NUL-terminated) */
    size_t body_len;
    unsigned conn; /* connection number, counted from 1 */
};

struct lbs;

/* Starts the server on an ephemeral loopback port; NULL on failure. */
struct lbs *lbs_start(void);
void lbs_stop(struct lbs *s);
int lbs_port(const struct lbs *s);
/* Queues a reply (head and body are copied). Returns 0, or -1 when out of memory. */
int lbs_push(struct lbs *s, const struct lbs_reply *r);
size_t lbs_count(struct lbs *s);
/* The i-th recorded request, or NULL. Borrowed until lbs_stop. */
const struct lbs_request *lbs_get(struct lbs *s, size_t i);
/* Value of the first header named name in a recorded request (new, free() it), or NULL. */
char *lbs_header(const struct lbs_request *r, const char *name);

#endif
