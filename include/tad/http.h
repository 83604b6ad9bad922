/* http.h - the HTTP client layer over libcurl.
 *
 * One struct tad_http per thread: it wraps one reused CURL easy handle (and the connection
 * cache that keeps connections alive between requests). A client must never be used by two
 * threads at once; different clients are independent. tad_http_global_init() must run once in
 * main before any thread starts.
 *
 * The caller's header list is exactly what goes on the wire: libcurl's own "Accept: * / *",
 * "Expect: 100-continue" and default form Content-Type are suppressed. libcurl adds only Host
 * (when the caller did not set it; if the caller did, it must match the URL), and
 * Content-Length or Transfer-Encoding: chunked for bodies. TLS peer and host verification are
 * always on. Proxies come from the environment (http_proxy, https_proxy / HTTPS_PROXY,
 * no_proxy / NO_PROXY).
 *
 * HTTP statuses are not errors here: tad_http_perform() returns TAD_OK whenever a complete
 * response arrived, whatever its status; tad_http_status_class() maps a status to an error
 * for the protocol layers above.
 */
#ifndef TAD_HTTP_H
#define TAD_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tad/buf.h"
#include "tad/error.h"

struct tad_http;

struct tad_http_opts {
    long connect_timeout_ms;  /* 0 = 10000 */
    long low_speed_limit;     /* bytes per second; a transfer slower than this ... */
    long low_speed_time;      /* ... for this many seconds is aborted (0/0 = 1 B/s for 60 s).
                                Must exceed any long-poll wait the caller uses. */
    long total_timeout_ms;    /* 0 = no total limit (default per request) */
    const char *ca_bundle;    /* borrowed during tad_http_new (copied); NULL = AWS_CA_BUNDLE,
                                CURL_CA_BUNDLE or SSL_CERT_FILE from the environment if set,
                                else the system default */
    const char *connect_to;   /* NULL or a comma-separated list of libcurl CONNECT_TO entries
                                "host:port:connect-host:connect-port" (copied) */
    const atomic_int *cancel; /* borrowed, may be NULL; when another thread sets it non-zero the
                                 running transfer stops with TAD_ERR_CANCELLED (within ~100 ms),
                                 and no new one starts */
    bool debug_trace;         /* log request/response headers at debug level (redacted) */
    bool no_proxy;            /* never use a proxy (instance and container metadata) */
};

/* One request or response header. Strings are borrowed. */
struct tad_http_header {
    const char *name;
    const char *value;
};

/* Body reader: copy up to cap bytes into dst and set *ret_n; *ret_n == 0 means the end.
 * Any error aborts the transfer and is returned by tad_http_perform(). */
typedef tad_err (*tad_http_read_fn)(void *ctx, char *dst, size_t cap, size_t *ret_n);
/* Rewind the body to its start (libcurl may resend a body on a reused connection). */
typedef tad_err (*tad_http_rewind_fn)(void *ctx);
/* Response sink: receives every body chunk in order. An error aborts the transfer and is
 * returned by tad_http_perform(). */
typedef tad_err (*tad_http_write_fn)(void *ctx, const char *data, size_t len);

enum tad_http_body_kind {
    TAD_HTTP_BODY_NONE = 0,
    TAD_HTTP_BODY_MEMORY,    /* mem */
    TAD_HTTP_BODY_FD,        /* file: read with pread, so re-readable and position-free */
    TAD_HTTP_BODY_CALLBACK,  /* cb */
    TAD_HTTP_BODY_MULTIPART, /* form: multipart/form-data, Content-Type (with boundary) is
                                libcurl's; do not set Content-Type yourself */
};

struct tad_http_form_field {
    const char *name;
    const char *value;
};

struct tad_http_body {
    enum tad_http_body_kind kind;
    struct {
        const void *data; /* borrowed until perform returns */
        size_t len;
    } mem;
    struct {
        int fd; /* borrowed, not closed */
        off_t offset;
        uint64_t len;
    } file;
    struct {
        tad_http_read_fn read;
        tad_http_rewind_fn rewind; /* may be NULL: a needed rewind then fails (NETWORK) */
        void *ctx;
        int64_t len; /* < 0: unknown, sent with Transfer-Encoding: chunked */
    } cb;
    struct {
        const struct tad_http_form_field *fields; /* text parts, in order */
        size_t nfields;
        const char *file_field; /* name of the file part (e.g. "file") */
        const char *file_name;  /* filename= of the file part */
        const char *file_type;  /* its Content-Type, e.g. "text/csv" */
        int fd;                 /* file part streamed from fd [offset, offset+len) */
        off_t offset;
        uint64_t len;
    } form;
};

enum tad_http_sink_kind {
    TAD_HTTP_SINK_DISCARD = 0,
    TAD_HTTP_SINK_BUF,      /* appended to buf (borrowed); buf->cap bounds the body and a
                               larger body fails with TAD_ERR_PARSE */
    TAD_HTTP_SINK_CALLBACK, /* write(ctx, ...) */
};

struct tad_http_sink {
    enum tad_http_sink_kind kind;
    struct tad_buf *buf;
    tad_http_write_fn write;
    void *ctx;
};

struct tad_http_request {
    const char *method; /* "GET", "HEAD", "PUT", "POST", "DELETE", ... (upper-case token) */
    const char *url;    /* full http:// or https:// URL, already encoded */
    const struct tad_http_header *headers; /* sent in this order, exactly */
    size_t nheaders;
    struct tad_http_body body;
    struct tad_http_sink sink;
    long timeout_ms; /* 0 = the client's total_timeout_ms */
};

/* A response header as received (name and value are one allocation owned by the response). */
struct tad_http_rheader {
    char *name;
    char *value; /* surrounding white space removed */
};

/* Filled by tad_http_perform() on success AND on failure (status 0 and bytes so far when the
 * exchange broke). Initialise with tad_http_response_init, free with _release. */
struct tad_http_response {
    long status;                      /* final HTTP status, 0 if none arrived */
    uint64_t body_bytes;              /* body bytes handed to the sink */
    char error[256];                  /* libcurl's error text when the transfer failed, else "" */
    struct tad_http_rheader *headers; /* new: headers of the final response, in order */
    size_t nheaders;
    size_t headers_alloc;
};

/* curl_global_init; also ignores SIGPIPE for the whole process (libcurl runs with NOSIGNAL).
 * Call once from main before any thread starts. */
TAD_MUST_CHECK tad_err tad_http_global_init(void);
void tad_http_global_cleanup(void);

/* Creates a client. opts is borrowed (NULL = defaults); *ret is new (tad_http_free). */
TAD_MUST_CHECK tad_err tad_http_new(const struct tad_http_opts *opts, struct tad_http **ret);
/* The client's cancel flag (borrowed, may be NULL), for sleeps between retries. */
const atomic_int *tad_http_cancel_flag(const struct tad_http *h);

/* Closes the client's connections; NULL is fine. */
void tad_http_free(struct tad_http *h);

/* Runs one exchange. resp must be initialised; it is reset first, then filled even on failure.
 * Returns TAD_OK when a complete response arrived (any status). Errors: INVALID (bad request
 * description), NETWORK (DNS, connect, TLS incl. certificate problems, timeouts, low-speed
 * abort, resets, truncated bodies), CANCELLED, PARSE (body larger than the buffer sink's cap,
 * too many response headers), NOMEM, or whatever a body reader / sink callback returned. */
TAD_MUST_CHECK tad_err tad_http_perform(struct tad_http *h, const struct tad_http_request *req,
                                        struct tad_http_response *resp, struct tad_errinfo *info);

void tad_http_response_init(struct tad_http_response *resp);
void tad_http_response_release(struct tad_http_response *resp);
/* First header with this name (case-insensitive), borrowed from resp; NULL if absent. */
const char *tad_http_response_header(const struct tad_http_response *resp, const char *name);

/* 2xx -> TAD_OK; 429 -> THROTTLED; 5xx -> SERVER; 401 -> AUTH; 403 -> DENIED;
 * 404 -> NOT_FOUND; 408 -> NETWORK (the server timed the request out; retry);
 * other 4xx, 1xx, 3xx and anything else -> CLIENT. */
tad_err tad_http_status_class(long status);

#endif
