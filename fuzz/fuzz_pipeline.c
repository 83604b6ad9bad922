/* fuzz_pipeline.c - libFuzzer target: the row pipeline end to end. The first input byte picks
 * the options (row kind, gzip mode, part size, CSV header names, worker count, invalid-row
 * ratio); the rest is the file, fed in chunks whose sizes depend on the data, then finished.
 * Checks the result's invariants (row counts, part sizes and rows, MD5 of every part read back
 * from its fd), that the spool directory stays empty and that no fd leaks across a run. */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "tad/format.h"
#include "tad/normalize.h"
#include "tad/pipeline.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char spool[64];

static void check(int cond)
{
    if (!cond)
        __builtin_trap();
}

/* Number of entries in dir, "." and ".." excluded. */
static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    check(d != NULL);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    }
    closedir(d);
    return n;
}

static int is_lower_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Reads the whole part back through its fd and checks size, rows and MD5. */
static void check_part(const struct tad_part *pt, size_t rowlen, size_t max_part)
{
    check(pt->fd >= 0);
    check(pt->path == NULL);
    check(pt->bytes > 0 && pt->bytes <= max_part);
    check(pt->bytes % rowlen == 0 && pt->rows == pt->bytes / rowlen);
    check(lseek(pt->fd, 0, SEEK_CUR) == 0);
    struct stat st;
    check(fstat(pt->fd, &st) == 0 && (uint64_t)st.st_size == pt->bytes);
    check((st.st_mode & 0777) == 0600);

    char *buf = malloc(pt->bytes);
    check(buf != NULL);
    size_t got = 0;
    while (got < pt->bytes) {
        ssize_t r = pread(pt->fd, buf + got, pt->bytes - got, (off_t)got);
        check(r > 0);
        got += (size_t)r;
    }
    for (size_t off = 0; off < got; off += rowlen) {
        for (size_t i = 0; i < rowlen - 1; i++)
            check(is_lower_hex((unsigned char)buf[off + i]));
        check(buf[off + rowlen - 1] == '\n');
    }

    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    check(EVP_Digest(buf, got, md, &mdlen, EVP_md5(), NULL) == 1 && mdlen == 16);
    free(buf);
    static const char hexd[] = "0123456789abcdef";
    char hex[33];
    for (unsigned i = 0; i < 16; i++) {
        hex[2 * i] = hexd[md[i] >> 4];
        hex[2 * i + 1] = hexd[md[i] & 15];
    }
    hex[32] = '\0';
    check(memcmp(hex, pt->md5, sizeof(hex)) == 0);
}

static void run(const struct tad_pipeline_opts *o, uint8_t sel, const uint8_t *in, size_t len)
{
    struct tad_pipeline *p = NULL;
    struct tad_errinfo info;
    tad_errinfo_clear(&info);
    tad_err err = tad_pipeline_new(o, &p);
    check(err == TAD_OK && p != NULL);

    size_t pos = 0;
    while (pos < len) {
        /* chunk size from the data under the cursor; now and then an empty feed first */
        uint8_t c = in[pos] ^ sel;
        size_t n = 1 + (size_t)(c * 7u) % 97u;
        if (n > len - pos)
            n = len - pos;
        if (c % 13 == 0)
            err = tad_pipeline_feed(p, in + pos, 0, &info);
        if (err == TAD_OK)
            err = tad_pipeline_feed(p, in + pos, n, &info);
        if (err != TAD_OK) {
            check(err == TAD_ERR_PARSE || err == TAD_ERR_IO);
            check(info.msg[0] != '\0');
            tad_pipeline_free(p);
            return;
        }
        pos += n;
    }

    struct tad_pipeline_result res;
    memset(&res, 0xa5, sizeof(res));
    err = tad_pipeline_finish(p, &res, &info);
    if (err != TAD_OK) {
        check(err == TAD_ERR_INVALID || err == TAD_ERR_PARSE || err == TAD_ERR_IO);
        check(info.msg[0] != '\0');
        tad_pipeline_free(p);
        return;
    }
    tad_pipeline_free(p);

    check(res.rows_total == res.rows_valid + res.rows_invalid + res.rows_blank);
    check(res.rows_valid > 0);
    check((double)res.rows_invalid <=
          o->max_invalid_ratio * (double)(res.rows_valid + res.rows_invalid));
    check(memchr(res.column, '\0', sizeof(res.column)) != NULL);
    check(res.header_seen || res.column[0] == '\0');
    check(res.nparts > 0 && res.parts != NULL);
    size_t rowlen = tad_normalize_hex_len(o->kind) + 1;
    uint64_t rows = 0;
    for (size_t i = 0; i < res.nparts; i++) {
        check_part(&res.parts[i], rowlen, o->max_part_bytes);
        rows += res.parts[i].rows;
    }
    check(rows == res.rows_valid);
    tad_pipeline_result_release(&res);
    check(res.parts == NULL && res.nparts == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t b = data[0];

    struct tad_pipeline_opts o;
    tad_pipeline_opts_init(&o);
    /* b % 60 covers every combination of kind, gzip mode, workers and ratio */
    unsigned r = b % 60u;
    o.kind = (enum tad_row_kind)(r % 5u);
    r /= 5u;
    o.gzip = (int)(r % 3u) - 1;
    r /= 3u;
    o.threads = 1 + r % 2u;
    r /= 2u;
    o.max_invalid_ratio = (double)(r % 2u);
    /* b / 60: no header names, the names of the kind's own format, or another format's */
    static const enum tad_format own[] = {TAD_FORMAT_EMAIL_SHA256, TAD_FORMAT_IDFA_MD5,
                                          TAD_FORMAT_EMAIL, TAD_FORMAT_PHONE, TAD_FORMAT_MAID};
    unsigned h = b / 60u;
    if (h == 0)
        o.header_names = NULL;
    else if (h == 1)
        o.header_names = tad_format_header_names(own[o.kind]);
    else
        o.header_names =
            tad_format_header_names((enum tad_format)((b * 37u >> 3) % TAD_FORMAT__MAX));
    /* part size 70..4096, spread over the whole byte so parts get cut at many sizes */
    o.max_part_bytes = 70u + (b * 197u) % 4027u;
    o.spool_dir = spool;

    size_t fds = count_entries("/proc/self/fd");
    run(&o, b, data + 1, size - 1);
    check(count_entries("/proc/self/fd") == fds);
    check(count_entries(spool) == 0);
    return 0;
}

static void remove_spool(void)
{
    (void)rmdir(spool);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static const char tmpl[] = "/tmp/tad-fuzz-pipeline-XXXXXX";
    memcpy(spool, tmpl, sizeof(tmpl));
    check(mkdtemp(spool) != NULL);
    check(atexit(remove_spool) == 0);
    /* one warm-up run so lazy library initialisation does not count as a leaked fd */
    static const uint8_t warm[] = "\x00"
                                  "0123456789abcdef0123456789abcdef"
                                  "0123456789abcdef0123456789abcdef\n";
    LLVMFuzzerTestOneInput(warm, sizeof(warm) - 1);
    return 0;
}
