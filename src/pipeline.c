/* pipeline.c - streaming row pipeline (see tad/pipeline.h).
 *
 * DESIGN. The thread that calls feed() is the parser. Decompressed bytes land directly in a
 * fixed-size block taken from a pool; when a block is full it is cut after its last newline,
 * the tail is copied into the next block and the block of whole rows is queued. The pool is
 * the queue's bound: the parser waits for a free block, so memory never depends on the input
 * size. Before the first block is queued the parser drops a BOM and decides whether the first
 * non-blank line is a CSV header (and which column to use); workers only read that decision.
 *
 * Each worker pops a block, turns its rows into output rows in a small buffer and flushes the
 * buffer into its own current part (MD5 updated on exactly the bytes written). All output rows
 * of one kind have the same length, so a part is filled up to max_part_bytes and cut at a row
 * boundary by arithmetic. Parts are registered in the pipeline (under the mutex) as soon as
 * they are opened, so free() can always close and remove them; their digests are finalised in
 * finish() after the workers are joined.
 *
 * Locking: one mutex guards the queue, the free pool, the part list and the first worker
 * error. Counters are per worker (and per parser) and summed after the join.
 */
#include "tad/pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "tad/buf.h"

#define BLOCK_MAX (1u << 20)
#define BLOCK_MIN (256u << 10)
#define POOL_BUDGET (16u << 20)
#define OUTBUF_SIZE (128u << 10)
#define READ_CHUNK (128u << 10)
#define MAX_WORKERS 64u
#define MAX_HEADER_FIELDS 4096u

struct block {
    char *data;
    size_t off; /* first byte not yet consumed */
    size_t len; /* bytes filled */
};

struct part {
    int fd;
    unsigned num;
    uint64_t bytes;
    uint64_t rows;
    EVP_MD_CTX *md5;
    char *path; /* named file (out_dir) or NULL */
    char md5hex[33];
};

struct worker {
    struct tad_pipeline *p;
    pthread_t tid;
    int started;
    struct tad_normalize *norm;
    char *out;
    size_t outlen;
    char *scratch; /* unquoted CSV field */
    struct part *cur;
    uint64_t valid, invalid, blank;
};

enum gz_mode { GZ_UNDECIDED = 0, GZ_PLAIN, GZ_GZIP };

struct tad_pipeline {
    struct tad_pipeline_opts o;
    size_t max_part;
    size_t hexlen; /* hex digits per output row */
    size_t rowlen; /* hexlen + '\n' */
    size_t block_size;
    unsigned nworkers;
    EVP_MD *md5md;

    pthread_mutex_t mu;
    pthread_cond_t cv_work; /* queue non-empty, done or abort */
    pthread_cond_t cv_free; /* block returned or a worker failed */
    size_t nblocks;
    struct block *blocks;
    struct block **freel;
    size_t nfree;
    struct block **queue; /* ring of nblocks */
    size_t qhead, qcount;
    int done, abort;
    tad_err werr;
    char werrmsg[256];
    struct part **parts;
    size_t nparts, partcap;
    struct worker *workers;

    /* parser state (feed/finish thread only) */
    struct block *cur;
    struct tad_normalize *pnorm;
    char *pscratch;
    int skipping;
    int header_pending;
    int bom_checked;
    int csv;
    size_t col;
    bool header_seen;
    char column[64];
    uint64_t p_blank, p_invalid;
    enum gz_mode gz;
    unsigned char magic[2];
    size_t nmagic;
    z_stream z;
    int z_init;
    int z_member_done;
    int z_any;
    tad_err ferr;
    int finished;
};

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_space((unsigned char)s[i]))
            return 0;
    return 1;
}

static const char *errno_text(int e, char *buf, size_t n)
{
    return strerror_r(e, buf, n);
}

/* --- CSV ------------------------------------------------------------------------------- */

/* Parses the field starting at *pos of the line s[0..len). Quoted fields ("a,b", "" for a
 * quote) are unquoted into scratch. Leaves *pos after the following comma, or at len + 1
 * after the last field. Returns -1 for a malformed quoted field. */
static int csv_next(const char *s, size_t len, size_t *pos, char *scratch, const char **f,
                    size_t *flen)
{
    size_t i = *pos;
    size_t j = i;
    while (j < len && (s[j] == ' ' || s[j] == '\t'))
        j++;
    if (j < len && s[j] == '"') {
        size_t n = 0;
        j++;
        for (;;) {
            if (j >= len)
                return -1; /* unterminated quote */
            if (s[j] == '"') {
                if (j + 1 < len && s[j + 1] == '"') {
                    scratch[n++] = '"';
                    j += 2;
                    continue;
                }
                j++;
                break;
            }
            scratch[n++] = s[j++];
        }
        while (j < len && (s[j] == ' ' || s[j] == '\t'))
            j++;
        if (j < len && s[j] != ',')
            return -1; /* text after the closing quote */
        *f = scratch;
        *flen = n;
        *pos = j + 1;
        return 0;
    }
    const char *c = memchr(s + i, ',', len - i);
    size_t end = c ? (size_t)(c - s) : len;
    *f = s + i;
    *flen = end - i;
    *pos = end + 1;
    return 0;
}

/* Field number col of a CSV line; -1 when the line is malformed or too short. */
static int csv_field(const char *s, size_t len, size_t col, char *scratch, const char **f,
                     size_t *flen)
{
    size_t pos = 0;
    for (size_t idx = 0; pos <= len; idx++) {
        if (csv_next(s, len, &pos, scratch, f, flen) != 0)
            return -1;
        if (idx == col)
            return 0;
    }
    return -1;
}

/* --- parts ----------------------------------------------------------------------------- */

/* Records the first worker failure ("what: detail") and wakes everybody up. */
static void set_werr(struct tad_pipeline *p, tad_err err, const char *what, const char *detail)
{
    pthread_mutex_lock(&p->mu);
    if (p->werr == TAD_OK) {
        p->werr = err;
        int n = detail ? snprintf(p->werrmsg, sizeof(p->werrmsg), "%s: %s", what, detail)
                       : snprintf(p->werrmsg, sizeof(p->werrmsg), "%s", what);
        if (n < 0)
            p->werrmsg[0] = '\0';
    }
    pthread_cond_broadcast(&p->cv_free);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
}

static int open_spool(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/.tad-part-XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

static tad_err part_open(struct tad_pipeline *p, struct part **ret)
{
    char ebuf[128];
    struct part *pt = calloc(1, sizeof(*pt));
    if (!pt)
        return TAD_ERR_NOMEM;
    pt->fd = -1;
    pt->md5 = EVP_MD_CTX_new();
    if (!pt->md5 || EVP_DigestInit_ex2(pt->md5, p->md5md, NULL) != 1) {
        EVP_MD_CTX_free(pt->md5);
        free(pt);
        return TAD_ERR_NOMEM;
    }
    pthread_mutex_lock(&p->mu);
    if (p->nparts == p->partcap) {
        size_t ncap = p->partcap ? 2 * p->partcap : 16;
        struct part **np = realloc(p->parts, ncap * sizeof(*np));
        if (!np) {
            pthread_mutex_unlock(&p->mu);
            EVP_MD_CTX_free(pt->md5);
            free(pt);
            return TAD_ERR_NOMEM;
        }
        p->parts = np;
        p->partcap = ncap;
    }
    p->parts[p->nparts++] = pt; /* from here on free() owns it */
    pt->num = (unsigned)p->nparts;
    pthread_mutex_unlock(&p->mu);

    if (p->o.out_dir) {
        char path[4096];
        int n = snprintf(path, sizeof(path), "%s/part-%05u.csv", p->o.out_dir, pt->num);
        if (n < 0 || (size_t)n >= sizeof(path))
            return TAD_ERR_INVALID;
        pt->path = strdup(path);
        if (!pt->path)
            return TAD_ERR_NOMEM;
        pt->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (pt->fd < 0) {
            int e = errno;
            free(pt->path);
            pt->path = NULL;
            set_werr(p, TAD_ERR_IO, "cannot create part file", errno_text(e, ebuf, sizeof(ebuf)));
            return TAD_ERR_IO;
        }
    } else {
        pt->fd = open_spool(p->o.spool_dir);
        if (pt->fd < 0) {
            set_werr(p, TAD_ERR_IO, "cannot create spool file",
                     errno_text(errno, ebuf, sizeof(ebuf)));
            return TAD_ERR_IO;
        }
    }
    *ret = pt;
    return TAD_OK;
}

static tad_err write_all(struct tad_pipeline *p, int fd, const char *data, size_t len)
{
    char ebuf[128];
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            set_werr(p, TAD_ERR_IO, "part write failed", errno_text(errno, ebuf, sizeof(ebuf)));
            return TAD_ERR_IO;
        }
        data += n;
        len -= (size_t)n;
    }
    return TAD_OK;
}

/* Moves the worker's output rows into its parts, opening a new part whenever the current one
 * cannot take another row. */
static tad_err worker_flush(struct worker *w)
{
    struct tad_pipeline *p = w->p;
    const char *data = w->out;
    size_t n = w->outlen;
    tad_err err = TAD_OK;

    while (n > 0) {
        if (!w->cur) {
            err = part_open(p, &w->cur);
            if (err != TAD_OK) {
                set_werr(p, err, "cannot open a part", NULL); /* keeps an earlier message */
                w->cur = NULL;
                goto out;
            }
        }
        struct part *pt = w->cur;
        size_t room = p->max_part - (size_t)pt->bytes;
        size_t take = n < room ? n : room;
        take -= take % p->rowlen;
        if (take == 0) {
            w->cur = NULL; /* full: finalised in finish() */
            continue;
        }
        if (EVP_DigestUpdate(pt->md5, data, take) != 1) {
            set_werr(p, TAD_ERR_INVALID, "MD5 update failed", NULL);
            err = TAD_ERR_INVALID;
            goto out;
        }
        err = write_all(p, pt->fd, data, take);
        if (err != TAD_OK)
            goto out;
        pt->bytes += take;
        pt->rows += take / p->rowlen;
        data += take;
        n -= take;
    }
out:
    w->outlen = 0;
    return err;
}

/* --- workers --------------------------------------------------------------------------- */

static tad_err process_block(struct worker *w, const struct block *b)
{
    struct tad_pipeline *p = w->p;
    const enum tad_row_kind kind = p->o.kind;
    const size_t hexlen = p->hexlen;
    const size_t rowlen = p->rowlen;
    const int fast = !p->csv && (kind == TAD_ROW_SHA256 || kind == TAD_ROW_MD5);
    const int csv = p->csv;
    const size_t col = p->col;
    const char *s = b->data + b->off;
    const char *end = b->data + b->len;
    uint64_t valid = 0, invalid = 0, blank = 0;
    tad_err err = TAD_OK;

    while (s < end) {
        if (OUTBUF_SIZE - w->outlen < rowlen + 1) {
            err = worker_flush(w);
            if (err != TAD_OK)
                goto out;
        }
        char *o = w->out + w->outlen;
        /* fast path: a bare hash of the exact length ending in '\n' (the hex check also
         * rejects a window that holds shorter lines) */
        if (fast && (size_t)(end - s) > hexlen && s[hexlen] == '\n' &&
            tad_normalize_hex(s, hexlen, hexlen, o) == TAD_OK) {
            o[hexlen] = '\n';
            w->outlen += rowlen;
            valid++;
            s += hexlen + 1;
            continue;
        }
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        if (!nl)
            nl = end;
        size_t len = (size_t)(nl - s);
        if (len > 0 && s[len - 1] == '\r')
            len--;
        if (fast && len == hexlen && tad_normalize_hex(s, len, hexlen, o) == TAD_OK) {
            o[hexlen] = '\n';
            w->outlen += rowlen;
            valid++;
        } else if (len > TAD_PIPELINE_MAX_LINE) {
            invalid++;
        } else if (is_blank(s, len)) {
            blank++;
        } else {
            const char *f = s;
            size_t flen = len;
            if (csv && csv_field(s, len, col, w->scratch, &f, &flen) != 0) {
                invalid++;
            } else if (tad_normalize_row(w->norm, kind, f, flen, o) == TAD_OK) {
                o[hexlen] = '\n';
                w->outlen += rowlen;
                valid++;
            } else {
                invalid++;
            }
        }
        if (nl == end)
            break;
        s = nl + 1;
    }
    err = worker_flush(w);
out:
    w->valid += valid;
    w->invalid += invalid;
    w->blank += blank;
    return err;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct tad_pipeline *p = w->p;

    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->qcount == 0 && !p->done && !p->abort)
            pthread_cond_wait(&p->cv_work, &p->mu);
        if (p->abort || p->qcount == 0) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        struct block *b = p->queue[p->qhead];
        p->qhead = (p->qhead + 1) % p->nblocks;
        p->qcount--;
        int failed = p->werr != TAD_OK;
        pthread_mutex_unlock(&p->mu);

        if (!failed && p->o.cancel && atomic_load(p->o.cancel))
            set_werr(p, TAD_ERR_CANCELLED, "cancelled", NULL);
        else if (!failed)
            if (process_block(w, b) != TAD_OK) {
                /* already recorded with set_werr; later blocks are only drained */
            }

        pthread_mutex_lock(&p->mu);
        p->freel[p->nfree++] = b;
        pthread_cond_signal(&p->cv_free);
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

/* --- parser ---------------------------------------------------------------------------- */

static tad_err fail(struct tad_pipeline *p, tad_err err, struct tad_errinfo *info, const char *msg)
{
    if (p->ferr == TAD_OK)
        p->ferr = err;
    return tad_errinfo_set(info, err, "%s", msg);
}

/* Takes the first worker error, if any, as the parser's error. */
static tad_err check_werr(struct tad_pipeline *p, struct tad_errinfo *info)
{
    pthread_mutex_lock(&p->mu);
    tad_err err = p->werr;
    char msg[256];
    memcpy(msg, p->werrmsg, sizeof(msg));
    pthread_mutex_unlock(&p->mu);
    if (err == TAD_OK)
        return TAD_OK;
    return fail(p, err, info, msg);
}

static tad_err get_block(struct tad_pipeline *p, struct block **ret, struct tad_errinfo *info)
{
    pthread_mutex_lock(&p->mu);
    while (p->nfree == 0 && p->werr == TAD_OK)
        pthread_cond_wait(&p->cv_free, &p->mu);
    int failed = p->werr != TAD_OK;
    struct block *b = failed ? NULL : p->freel[--p->nfree];
    pthread_mutex_unlock(&p->mu);
    if (failed)
        return check_werr(p, info);
    b->off = 0;
    b->len = 0;
    *ret = b;
    return TAD_OK;
}

static void put_block(struct tad_pipeline *p, struct block *b)
{
    pthread_mutex_lock(&p->mu);
    p->freel[p->nfree++] = b;
    pthread_cond_signal(&p->cv_free);
    pthread_mutex_unlock(&p->mu);
}

/* Does the (trimmed) field qualify as an identifier of the pipeline's kind? */
static int field_valid(struct tad_pipeline *p, const char *f, size_t len)
{
    char out[TAD_NORMALIZE_HEX_MAX];
    return tad_normalize_row(p->pnorm, p->o.kind, f, len, out) == TAD_OK;
}

static int header_name_match(struct tad_pipeline *p, const char *f, size_t len)
{
    if (!p->o.header_names)
        return -1;
    tad_normalize_trim(&f, &len);
    struct tad_str v = {f, len};
    for (int i = 0; p->o.header_names[i]; i++)
        if (tad_str_eq_nocase(v, tad_str_from(p->o.header_names[i])))
            return i;
    return -1;
}

/* Decides what the first non-blank line is: a CSV header (then the column to use), a CSV data
 * row, or a plain identifier. */
static void decide_header(struct tad_pipeline *p, const char *s, size_t len)
{
    const char *t = s;
    size_t tlen = len;
    tad_normalize_trim(&t, &tlen);
    int csv = memchr(s, ',', len) != NULL || (tlen > 0 && t[0] == '"');
    int any_valid = 0;
    int best_name = -1;
    size_t best_col = 0;

    if (!csv) {
        any_valid = field_valid(p, s, len);
        best_name = header_name_match(p, s, len);
    } else {
        size_t pos = 0;
        for (size_t idx = 0; pos <= len && idx < MAX_HEADER_FIELDS; idx++) {
            const char *f;
            size_t flen;
            if (csv_next(s, len, &pos, p->pscratch, &f, &flen) != 0)
                break;
            if (field_valid(p, f, flen))
                any_valid = 1;
            int m = header_name_match(p, f, flen);
            if (m >= 0 && (best_name < 0 || m < best_name)) {
                best_name = m;
                best_col = idx;
            }
        }
    }
    p->csv = csv;
    p->col = 0;
    p->header_pending = 0;
    if (any_valid || !(csv || best_name >= 0))
        return;
    p->header_seen = true;
    p->col = best_name >= 0 ? best_col : 0;
    const char *f = s;
    size_t flen = len;
    if (csv && csv_field(s, len, p->col, p->pscratch, &f, &flen) != 0)
        flen = 0;
    tad_normalize_trim(&f, &flen);
    tad_strlcpy(p->column, sizeof(p->column), f, flen);
}

/* Runs over the leading lines of a block while the header question is open: drops a BOM,
 * counts leading blank lines and consumes the header line. */
static void header_scan(struct tad_pipeline *p, struct block *b)
{
    if (!p->bom_checked) {
        p->bom_checked = 1;
        if (b->len - b->off >= 3 && memcmp(b->data + b->off, "\xEF\xBB\xBF", 3) == 0)
            b->off += 3;
    }
    while (p->header_pending && b->off < b->len) {
        const char *s = b->data + b->off;
        const char *nl = memchr(s, '\n', b->len - b->off);
        size_t len = nl ? (size_t)(nl - s) : b->len - b->off;
        size_t next = nl ? b->off + len + 1 : b->len;
        if (len > 0 && s[len - 1] == '\r')
            len--;
        if (len > TAD_PIPELINE_MAX_LINE) {
            p->header_pending = 0; /* left to a worker, which counts it invalid */
            break;
        }
        if (is_blank(s, len)) {
            p->p_blank++;
            b->off = next;
            continue;
        }
        decide_header(p, s, len);
        if (p->header_seen)
            b->off = next;
    }
}

static tad_err dispatch(struct tad_pipeline *p, struct block *b, struct tad_errinfo *info)
{
    if (p->header_pending)
        header_scan(p, b);
    if (p->o.cancel && atomic_load(p->o.cancel)) {
        put_block(p, b);
        return fail(p, TAD_ERR_CANCELLED, info, "cancelled");
    }
    if (b->off == b->len) {
        put_block(p, b);
        return TAD_OK;
    }
    pthread_mutex_lock(&p->mu);
    int failed = p->werr != TAD_OK;
    if (!failed) {
        p->queue[(p->qhead + p->qcount) % p->nblocks] = b;
        p->qcount++;
        pthread_cond_signal(&p->cv_work);
    } else {
        p->freel[p->nfree++] = b;
    }
    pthread_mutex_unlock(&p->mu);
    return failed ? check_werr(p, info) : TAD_OK;
}

/* The current block is full: queue its whole rows and carry the partial last row over. */
static tad_err cut_full(struct tad_pipeline *p, struct tad_errinfo *info)
{
    struct block *b = p->cur;
    const char *start = b->data + b->off;
    size_t avail = b->len - b->off;
    const char *k = memrchr(start, '\n', avail);
    if (!k) {
        if (avail > TAD_PIPELINE_MAX_LINE) {
            /* an over-long line: counted once, the rest of it skipped up to its newline */
            p->p_invalid++;
            p->skipping = 1;
            p->bom_checked = 1;
            if (p->header_pending) {
                p->header_pending = 0;
                p->csv = 0;
            }
            b->off = b->len = 0;
        } else {
            memmove(b->data, start, avail);
            b->off = 0;
            b->len = avail;
        }
        return TAD_OK;
    }
    struct block *nb;
    tad_err err = get_block(p, &nb, info);
    if (err != TAD_OK)
        return err;
    size_t keep = (size_t)(k + 1 - b->data);
    size_t rem = b->len - keep;
    memcpy(nb->data, b->data + keep, rem);
    nb->len = rem;
    b->len = keep;
    p->cur = nb;
    return dispatch(p, b, info);
}

/* Space to decompress or read into, at the end of the current block. */
static tad_err reserve(struct tad_pipeline *p, char **ptr, size_t *space, struct tad_errinfo *info)
{
    tad_err err;
    if (!p->cur) {
        err = get_block(p, &p->cur, info);
        if (err != TAD_OK)
            return err;
    }
    while (p->cur->len == p->block_size) {
        err = cut_full(p, info);
        if (err != TAD_OK)
            return err;
    }
    *ptr = p->cur->data + p->cur->len;
    *space = p->block_size - p->cur->len;
    return TAD_OK;
}

static void commit(struct tad_pipeline *p, size_t n)
{
    struct block *b = p->cur;
    size_t from = b->len;
    b->len += n;
    if (p->skipping && n > 0) {
        const char *nl = memchr(b->data + from, '\n', n);
        if (nl) {
            b->off = (size_t)(nl + 1 - b->data);
            p->skipping = 0;
        } else {
            b->off = b->len = 0;
        }
    }
}

static tad_err ingest_plain(struct tad_pipeline *p, const unsigned char *data, size_t len,
                            struct tad_errinfo *info)
{
    while (len > 0) {
        char *ptr;
        size_t space;
        tad_err err = reserve(p, &ptr, &space, info);
        if (err != TAD_OK)
            return err;
        size_t n = len < space ? len : space;
        memcpy(ptr, data, n);
        commit(p, n);
        data += n;
        len -= n;
    }
    return TAD_OK;
}

static tad_err ingest_gzip(struct tad_pipeline *p, const unsigned char *data, size_t len,
                           struct tad_errinfo *info)
{
    if (!p->z_init) {
        if (inflateInit2(&p->z, 16 + MAX_WBITS) != Z_OK)
            return fail(p, TAD_ERR_NOMEM, info, "cannot start gzip decoder");
        p->z_init = 1;
    }
    while (len > 0) {
        uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
        p->z.next_in = (unsigned char *)(uintptr_t)data;
        p->z.avail_in = chunk;
        data += chunk;
        len -= chunk;
        for (;;) {
            if (p->z_member_done) {
                if (p->z.avail_in == 0)
                    break;
                /* another gzip member follows */
                if (inflateReset(&p->z) != Z_OK)
                    return fail(p, TAD_ERR_PARSE, info, "gzip decoder reset failed");
                p->z_member_done = 0;
            }
            char *ptr;
            size_t space;
            tad_err err = reserve(p, &ptr, &space, info);
            if (err != TAD_OK)
                return err;
            p->z.next_out = (unsigned char *)ptr;
            p->z.avail_out = (uInt)space;
            p->z_any = 1;
            int r = inflate(&p->z, Z_NO_FLUSH);
            commit(p, space - p->z.avail_out);
            if (r == Z_STREAM_END) {
                p->z_member_done = 1;
                continue;
            }
            if (r == Z_BUF_ERROR)
                break; /* no progress possible: needs more input */
            if (r != Z_OK)
                return fail(p, TAD_ERR_PARSE, info, "corrupt gzip data");
            if (p->z.avail_in == 0 && p->z.avail_out != 0)
                break; /* input used up and all output delivered */
        }
    }
    return TAD_OK;
}

static tad_err ingest(struct tad_pipeline *p, const unsigned char *data, size_t len,
                      struct tad_errinfo *info)
{
    return p->gz == GZ_GZIP ? ingest_gzip(p, data, len, info) : ingest_plain(p, data, len, info);
}

tad_err tad_pipeline_feed(struct tad_pipeline *p, const void *data, size_t len,
                          struct tad_errinfo *info)
{
    const unsigned char *d = data;
    if (p->ferr != TAD_OK)
        return tad_errinfo_set(info, p->ferr, "pipeline already failed");
    if (p->finished)
        return tad_errinfo_set(info, TAD_ERR_INVALID, "pipeline already finished");
    if (p->gz == GZ_UNDECIDED) {
        while (p->nmagic < 2 && len > 0) {
            p->magic[p->nmagic++] = *d++;
            len--;
            if (p->magic[0] != 0x1f)
                break;
        }
        if (p->nmagic == 2 || (p->nmagic == 1 && p->magic[0] != 0x1f)) {
            p->gz =
                (p->nmagic == 2 && p->magic[0] == 0x1f && p->magic[1] == 0x8b) ? GZ_GZIP : GZ_PLAIN;
            tad_err err = ingest(p, p->magic, p->nmagic, info);
            if (err != TAD_OK)
                return err;
        }
        if (p->gz == GZ_UNDECIDED)
            return TAD_OK;
    }
    return ingest(p, d, len, info);
}

/* --- lifecycle ------------------------------------------------------------------------- */

void tad_pipeline_opts_init(struct tad_pipeline_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->kind = TAD_ROW_SHA256;
    opts->max_part_bytes = TAD_PIPELINE_DEFAULT_PART_BYTES;
    opts->max_invalid_ratio = TAD_PIPELINE_DEFAULT_INVALID_RATIO;
    opts->gzip = -1;
}

static void stop_workers(struct tad_pipeline *p, int abort)
{
    pthread_mutex_lock(&p->mu);
    if (abort)
        p->abort = 1;
    p->done = 1;
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nworkers; i++) {
        if (p->workers[i].started) {
            pthread_join(p->workers[i].tid, NULL);
            p->workers[i].started = 0;
        }
    }
}

tad_err tad_pipeline_new(const struct tad_pipeline_opts *opts, struct tad_pipeline **ret)
{
    tad_err err = TAD_ERR_INVALID;
    struct tad_pipeline *p = NULL;

    if (!opts || (unsigned)opts->kind > TAD_ROW_RAW_MAID || opts->gzip < -1 || opts->gzip > 1 ||
        !(opts->max_invalid_ratio >= 0.0))
        goto out;
    err = TAD_ERR_NOMEM;
    p = calloc(1, sizeof(*p));
    if (!p)
        goto out;
    p->o = *opts;
    if (!p->o.spool_dir)
        p->o.spool_dir = "/tmp";
    p->max_part = opts->max_part_bytes ? opts->max_part_bytes : TAD_PIPELINE_DEFAULT_PART_BYTES;
    p->hexlen = tad_normalize_hex_len(opts->kind);
    p->rowlen = p->hexlen + 1;
    p->header_pending = 1;
    p->gz = opts->gzip == 1 ? GZ_GZIP : opts->gzip == 0 ? GZ_PLAIN : GZ_UNDECIDED;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_free, NULL);
    if (p->max_part < p->rowlen) {
        err = TAD_ERR_INVALID;
        goto out;
    }

    unsigned nw = opts->threads;
    if (nw == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        nw = n > 0 ? (unsigned)n : 1;
    }
    if (nw > MAX_WORKERS)
        nw = MAX_WORKERS;
    p->nblocks = 2 * (size_t)nw + 2;
    size_t bs = POOL_BUDGET / p->nblocks;
    bs = bs > BLOCK_MAX ? BLOCK_MAX : bs < BLOCK_MIN ? BLOCK_MIN : bs;
    p->block_size = bs;

    p->md5md = EVP_MD_fetch(NULL, "MD5", NULL);
    p->blocks = calloc(p->nblocks, sizeof(*p->blocks));
    p->freel = calloc(p->nblocks, sizeof(*p->freel));
    p->queue = calloc(p->nblocks, sizeof(*p->queue));
    p->workers = calloc(nw, sizeof(*p->workers));
    p->pscratch = malloc(TAD_PIPELINE_MAX_LINE + 1);
    if (!p->md5md || !p->blocks || !p->freel || !p->queue || !p->workers || !p->pscratch)
        goto out;
    if (tad_normalize_new(&p->pnorm) != TAD_OK)
        goto out;
    for (size_t i = 0; i < p->nblocks; i++) {
        p->blocks[i].data = malloc(bs);
        if (!p->blocks[i].data)
            goto out;
        p->freel[p->nfree++] = &p->blocks[i];
    }
    p->nworkers = nw;
    for (unsigned i = 0; i < nw; i++) {
        struct worker *w = &p->workers[i];
        w->p = p;
        w->out = malloc(OUTBUF_SIZE);
        w->scratch = malloc(TAD_PIPELINE_MAX_LINE + 1);
        if (!w->out || !w->scratch || tad_normalize_new(&w->norm) != TAD_OK)
            goto out;
    }
    for (unsigned i = 0; i < nw; i++) {
        if (pthread_create(&p->workers[i].tid, NULL, worker_main, &p->workers[i]) != 0) {
            err = TAD_ERR_IO;
            goto out;
        }
        p->workers[i].started = 1;
    }
    *ret = p;
    p = NULL;
    err = TAD_OK;
out:
    tad_pipeline_free(p);
    return err;
}

static void part_destroy(struct part *pt)
{
    if (!pt)
        return;
    if (pt->fd >= 0)
        close(pt->fd);
    if (pt->path) {
        unlink(pt->path);
        free(pt->path);
    }
    EVP_MD_CTX_free(pt->md5);
    free(pt);
}

void tad_pipeline_free(struct tad_pipeline *p)
{
    if (!p)
        return;
    if (p->workers)
        stop_workers(p, 1);
    for (size_t i = 0; i < p->nparts; i++)
        part_destroy(p->parts[i]);
    free(p->parts);
    if (p->workers) {
        for (unsigned i = 0; i < p->nworkers; i++) {
            free(p->workers[i].out);
            free(p->workers[i].scratch);
            tad_normalize_free(p->workers[i].norm);
        }
    }
    free(p->workers);
    if (p->blocks)
        for (size_t i = 0; i < p->nblocks; i++)
            free(p->blocks[i].data);
    free(p->blocks);
    free(p->freel);
    free(p->queue);
    free(p->pscratch);
    tad_normalize_free(p->pnorm);
    EVP_MD_free(p->md5md);
    if (p->z_init)
        inflateEnd(&p->z);
    pthread_cond_destroy(&p->cv_free);
    pthread_cond_destroy(&p->cv_work);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static tad_err finish_input(struct tad_pipeline *p, struct tad_errinfo *info)
{
    tad_err err;
    if (p->gz == GZ_UNDECIDED) {
        p->gz = GZ_PLAIN;
        err = ingest(p, p->magic, p->nmagic, info);
        if (err != TAD_OK)
            return err;
    }
    if (p->gz == GZ_GZIP && p->z_any && !p->z_member_done)
        return fail(p, TAD_ERR_PARSE, info, "truncated gzip data");
    if (p->cur) {
        struct block *b = p->cur;
        p->cur = NULL;
        err = dispatch(p, b, info);
        if (err != TAD_OK)
            return err;
    }
    stop_workers(p, 0);
    return check_werr(p, info);
}

tad_err tad_pipeline_finish(struct tad_pipeline *p, struct tad_pipeline_result *res,
                            struct tad_errinfo *info)
{
    tad_err err;
    struct tad_part *parts = NULL;
    char ebuf[128];

    if (p->ferr != TAD_OK)
        return tad_errinfo_set(info, p->ferr, "pipeline already failed");
    if (p->finished)
        return tad_errinfo_set(info, TAD_ERR_INVALID, "pipeline already finished");
    p->finished = 1;
    err = finish_input(p, info);
    if (err != TAD_OK)
        goto out;

    uint64_t valid = 0, invalid = p->p_invalid, blank = p->p_blank;
    for (unsigned i = 0; i < p->nworkers; i++) {
        valid += p->workers[i].valid;
        invalid += p->workers[i].invalid;
        blank += p->workers[i].blank;
    }
    if (valid == 0) {
        err = tad_errinfo_set(info, TAD_ERR_INVALID,
                              "rejected: no valid rows (%llu invalid, %llu blank)",
                              (unsigned long long)invalid, (unsigned long long)blank);
        goto out;
    }
    double ratio = (double)invalid / (double)(valid + invalid);
    if (ratio > p->o.max_invalid_ratio) {
        err = tad_errinfo_set(info, TAD_ERR_INVALID,
                              "rejected: %llu of %llu rows invalid (%.4f > %.4f)",
                              (unsigned long long)invalid, (unsigned long long)(valid + invalid),
                              ratio, p->o.max_invalid_ratio);
        goto out;
    }

    err = TAD_ERR_NOMEM;
    parts = calloc(p->nparts ? p->nparts : 1, sizeof(*parts));
    if (!parts)
        goto out;
    for (size_t i = 0; i < p->nparts; i++) {
        struct part *pt = p->parts[i];
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned mdlen = 0;
        if (EVP_DigestFinal_ex(pt->md5, md, &mdlen) != 1 || mdlen != 16) {
            err = tad_errinfo_set(info, TAD_ERR_INVALID, "MD5 finalisation failed");
            goto out;
        }
        tad_hex_encode(md, 16, pt->md5hex);
        if (lseek(pt->fd, 0, SEEK_SET) < 0) {
            err = tad_errinfo_set(info, TAD_ERR_IO, "part seek failed: %s",
                                  errno_text(errno, ebuf, sizeof(ebuf)));
            goto out;
        }
    }
    /* everything checked: hand the parts over */
    for (size_t i = 0; i < p->nparts; i++) {
        struct part *pt = p->parts[i];
        parts[i].fd = pt->fd;
        parts[i].bytes = pt->bytes;
        parts[i].rows = pt->rows;
        memcpy(parts[i].md5, pt->md5hex, sizeof(parts[i].md5));
        parts[i].path = pt->path;
        pt->fd = -1;
        pt->path = NULL;
    }
    memset(res, 0, sizeof(*res));
    res->parts = parts;
    res->nparts = p->nparts;
    parts = NULL;
    res->rows_valid = valid;
    res->rows_invalid = invalid;
    res->rows_blank = blank;
    res->rows_total = valid + invalid + blank;
    res->header_seen = p->header_seen;
    memcpy(res->column, p->column, sizeof(res->column));
    err = TAD_OK;
out:
    free(parts);
    if (err != TAD_OK && p->ferr == TAD_OK)
        p->ferr = err;
    return err;
}

void tad_pipeline_result_release(struct tad_pipeline_result *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->nparts; i++) {
        if (res->parts[i].fd >= 0)
            close(res->parts[i].fd);
        free(res->parts[i].path);
    }
    free(res->parts);
    memset(res, 0, sizeof(*res));
}

tad_err tad_pipeline_run_fd(int fd, const struct tad_pipeline_opts *opts,
                            struct tad_pipeline_result *res, struct tad_errinfo *info)
{
    struct tad_pipeline *p = NULL;
    unsigned char *buf = NULL;
    char ebuf[128];
    tad_err err = tad_pipeline_new(opts, &p);
    if (err != TAD_OK) {
        tad_errinfo_set(info, err, "cannot start the pipeline");
        goto out;
    }
    err = TAD_ERR_NOMEM;
    buf = malloc(READ_CHUNK);
    if (!buf)
        goto out;
    for (;;) {
        ssize_t n;
        if (p->gz == GZ_PLAIN) {
            /* plain input is read straight into the block: no extra copy */
            char *ptr;
            size_t space;
            err = reserve(p, &ptr, &space, info);
            if (err != TAD_OK)
                goto out;
            n = read(fd, ptr, space);
            if (n > 0)
                commit(p, (size_t)n);
        } else {
            n = read(fd, buf, READ_CHUNK);
            if (n > 0) {
                err = tad_pipeline_feed(p, buf, (size_t)n, info);
                if (err != TAD_OK)
                    goto out;
            }
        }
        if (n == 0)
            break;
        if (n < 0 && errno != EINTR) {
            err = tad_errinfo_set(info, TAD_ERR_IO, "read failed: %s",
                                  errno_text(errno, ebuf, sizeof(ebuf)));
            goto out;
        }
    }
    err = tad_pipeline_finish(p, res, info);
out:
    free(buf);
    tad_pipeline_free(p);
    return err;
}
