/* t_pipeline.c - unit tests for the streaming row pipeline.
 *
 * Rows may land in any part in any order, so every test compares the sorted union of the
 * part files with the expected rows, and checks each part's size, row count and MD5 against
 * its actual content (re-read from the fd).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "tad/buf.h"
#include "tad/pipeline.h"

static const char *const sha_names[] = {"phone_sha256", "sha256", NULL};
static const char *const email_names[] = {"email", NULL};

/* --- helpers --------------------------------------------------------------------------- */

static void sha256_hex(const char *s, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned mdlen = 0;
    assert_int_equal(EVP_Digest(s, len, md, &mdlen, EVP_sha256(), NULL), 1);
    tad_hex_encode(md, 32, out);
}

/* Deterministic pseudo-random SHA-256 hex value number i (lower case). */
static void hex_row(unsigned i, char out[65])
{
    char seed[32];
    int n = snprintf(seed, sizeof(seed), "row-%u", i);
    assert_true(n > 0);
    sha256_hex(seed, (size_t)n, out);
}

static void upper(char *s)
{
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'f')
            *s = (char)(*s - 32);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct rows {
    char **v;
    size_t n, cap;
};

static void rows_add(struct rows *r, const char *s)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->v = realloc(r->v, r->cap * sizeof(*r->v));
        assert_non_null(r->v);
    }
    r->v[r->n] = strdup(s);
    assert_non_null(r->v[r->n]);
    r->n++;
}

static void rows_free(struct rows *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i]);
    free(r->v);
    memset(r, 0, sizeof(*r));
}

/* Reads every part back, checks bytes / rows / MD5 / size limit and collects the rows. */
static void collect(const struct tad_pipeline_result *res, size_t hexlen, size_t max_part,
                    struct rows *out)
{
    for (size_t i = 0; i < res->nparts; i++) {
        const struct tad_part *pt = &res->parts[i];
        struct stat st;
        assert_int_equal(fstat(pt->fd, &st), 0);
        assert_int_equal((uint64_t)st.st_size, pt->bytes);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_true(pt->bytes > 0);
        assert_true(pt->bytes <= max_part);
        assert_int_equal(pt->bytes % (hexlen + 1), 0);
        assert_int_equal(pt->rows, pt->bytes / (hexlen + 1));
        char *buf = malloc(pt->bytes + 1);
        assert_non_null(buf);
        assert_int_equal(pread(pt->fd, buf, pt->bytes, 0), (ssize_t)pt->bytes);
        buf[pt->bytes] = '\0';
        unsigned char md[16];
        unsigned mdlen = 0;
        char hex[33];
        assert_int_equal(EVP_Digest(buf, pt->bytes, md, &mdlen, EVP_md5(), NULL), 1);
        tad_hex_encode(md, 16, hex);
        assert_string_equal(hex, pt->md5);
        for (size_t off = 0; off < pt->bytes; off += hexlen + 1) {
            assert_int_equal(buf[off + hexlen], '\n');
            buf[off + hexlen] = '\0';
            for (size_t k = 0; k < hexlen; k++)
                assert_non_null(strchr("0123456789abcdef", buf[off + k]));
            rows_add(out, buf + off);
        }
        free(buf);
    }
}

static void assert_same_set(struct rows *got, struct rows *want)
{
    qsort(got->v, got->n, sizeof(char *), cmp_str);
    qsort(want->v, want->n, sizeof(char *), cmp_str);
    assert_int_equal(got->n, want->n);
    for (size_t i = 0; i < got->n; i++)
        assert_string_equal(got->v[i], want->v[i]);
}

/* Feeds data in chunks of chunk bytes (0 = all at once). */
static tad_err run(const struct tad_pipeline_opts *o, const void *data, size_t len, size_t chunk,
                   struct tad_pipeline_result *res, struct tad_errinfo *info)
{
    struct tad_pipeline *p = NULL;
    tad_err err = tad_pipeline_new(o, &p);
    if (err != TAD_OK)
        return err;
    const char *d = data;
    if (chunk == 0)
        chunk = len ? len : 1;
    for (size_t off = 0; off < len && err == TAD_OK; off += chunk)
        err = tad_pipeline_feed(p, d + off, len - off < chunk ? len - off : chunk, info);
    if (err == TAD_OK)
        err = tad_pipeline_finish(p, res, info);
    tad_pipeline_free(p);
    return err;
}

static void base_opts(struct tad_pipeline_opts *o, enum tad_row_kind kind)
{
    tad_pipeline_opts_init(o);
    o->kind = kind;
    o->header_names = kind == TAD_ROW_RAW_EMAIL ? email_names : sha_names;
    o->threads = 2;
}

/* Runs text through a pipeline and checks the rows and the counts. */
static void expect_rows(const struct tad_pipeline_opts *o, const char *text, size_t chunk,
                        struct rows *want, uint64_t invalid, uint64_t blank,
                        struct tad_pipeline_result *keep)
{
    struct tad_pipeline_result res;
    struct tad_errinfo info;
    tad_errinfo_clear(&info);
    tad_err err = run(o, text, strlen(text), chunk, &res, &info);
    if (err != TAD_OK)
        fail_msg("pipeline failed: %s: %s", tad_err_str(err), info.msg);
    struct rows got = {0};
    size_t hexlen = tad_normalize_hex_len(o->kind);
    collect(&res, hexlen, o->max_part_bytes, &got);
    assert_same_set(&got, want);
    assert_int_equal(res.rows_valid, want->n);
    assert_int_equal(res.rows_invalid, invalid);
    assert_int_equal(res.rows_blank, blank);
    assert_int_equal(res.rows_total, want->n + invalid + blank);
    rows_free(&got);
    if (keep)
        *keep = res;
    else
        tad_pipeline_result_release(&res);
}

/* --- tests ----------------------------------------------------------------------------- */

static void bom_crlf_blank_and_upper_case(void **state)
{
    (void)state;
    struct tad_pipeline_opts o;
    base_opts(&o, TAD_ROW_SHA256);
    char a[65], b[65], c[65], au[65];
    hex_row(1, a);
    hex_row(2, b);
    hex_row(3, c);
    memcpy(au, a, 65);
    upper(au);
    char text[512];
    int n = snprintf(text, sizeof(text), "\xEF\xBB\xBF%s\r\n\r\n  \n%s\n\t\n%s", au, b, c);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    struct rows want = {0};
    rows_add(&want, a);
    rows_add(&want, b);
    rows_add(&want, c);
    struct tad_pipeline_result res;
    expect_rows(&o, text, 0, &want, 0, 3, &res);
    assert_false(res.header_seen);
    assert_string_equal(res.column, "");
    tad_pipeline_result_release(&res);
    /* same input one byte at a time */
    expect_rows(&o, text, 1, &want, 0, 3, NULL);
    rows_free(&want);
}

static void csv_header_selects_column_by_name(void **state)
{
    (void)state;
    struct tad_pipeline_opts o;
    base_opts(&o, TAD_ROW_SHA256);
    o.max_invalid_ratio = 0.5;
    char a[65], b[65], bu[65];
    hex_row(10, a);
    hex_row(11, b);
    memcpy(bu, b, 65);
    upper(bu);
    char text[1024];
    int n = snprintf(text, sizeof(text),
                     "id, \"Phone_SHA256\" ,email\r\n1,%s,x@y.z\n2,\"%s\",\"a,b\"\n3\n4,nothex,z\n",
                     a, bu);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    struct rows want = {0};
    rows_add(&want, a);
    rows_add(&want, b);
    struct tad_pipeline_result res;
    expect_rows(&o, text, 0, &want, 2, 0, &res);
    assert_true(res.header_seen);
    assert_string_equal(res.column, "Phone_SHA256");
    tad_pipeline_result_release(&res);
    rows_free(&want);
}

static void csv_header_falls_back_to_first_column(void **state)
{
    (void)state;
    struct tad_pipeline_opts o;
    base_opts(&o, TAD_ROW_SHA256);
    char a[65], b[65];
    hex_row(20, a);
    hex_row(21, b);
    char text[512];
    int n = snprintf(text, sizeof(text), "hash,segment\n%s,x\n%s,\"y,z\"\n", a, b);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    struct rows want = {0};
    rows_add(&want, a);
    rows_add(&want, b);
    struct tad_pipeline_result res;
    expect_rows(&o, text, 3, &want, 0, 0, &res);
    assert_true(res.header_seen);
    assert_string_equal(res.column, "hash");
    tad_pipeline_result_release(&res);

    /* a first line that is data (its first field validates) is not a header */
    n = snprintf(text, sizeof(text), "%s,first\n%s,second\n", a, b);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    expect_rows(&o, text, 0, &want, 0, 0, &res);
    assert_false(res.header_seen);
    tad_pipeline_result_release(&res);

    /* a lone known header name without a comma is a header too */
    n = snprintf(text, sizeof(text), "\n SHA256 \n%s\n%s\n", a, b);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    expect_rows(&o, text, 0, &want, 0, 1, &res);
    assert_true(res.header_seen);
    assert_string_equal(res.column, "SHA256");
    tad_pipeline_result_release(&res);
    rows_free(&want);
}

static void raw_email_quoted_fields(void **state)
{
    (void)state;
    struct tad_pipeline_opts o;
    base_opts(&o, TAD_ROW_RAW_EMAIL);
    const char *text = "\"name, full\",Email,\"x\"\n"
                       "\"Doe, Jane\",JaneDoe@Gmail.com,1\n"
                       "\"He said \"\"hi\"\"\",  \" Bob@Example.org \" ,2\n"
                       "x,\"ja\"\"ne@x.com\",3\n"
                       "\n";
    struct rows want = {0};
    char h[65];
    sha256_hex("janedoe@gmail.com", 17, h);
    rows_add(&want, h);
    sha256_hex("bob@example.org", 15, h);
    rows_add(&want, h);
    sha256_hex("ja\"ne@x.com", 11, h);
    rows_add(&want, h);
    struct tad_pipeline_result res;
    expect_rows(&o, text, 5, &want, 0, 1, &res);
    assert_true(res.header_seen);
    assert_string_equal(res.column, "Email");
    tad_pipeline_result_release(&res);
    rows_free(&want);

    /* unterminated quote and text after a closing quote are invalid rows */
    o.max_invalid_ratio = 1.0;
    text = "email,n\n\"a@b.com,1\n\"a@b.com\"x,2\nc@d.com,3\n";
    sha256_hex("c@d.com", 7, h);
    rows_add(&want, h);
    expect_rows(&o, text, 0, &want, 2, 0, NULL);
    rows_free(&want);
}

static void invalid_ratio_rejects(void **state)
{
    (void)state;
    struct tad_pipeline_opts o;
    base_opts(&o, TAD_ROW_SHA256);
    struct tad_buf b = TAD_BUF_INIT;
    struct rows want = {0};
    char h[65];
    for (unsigned i = 0; i < 99; i++) {
        hex_row(i, h);
        rows_add(&want, h);
        assert_int_equal(tad_buf_appendf(&b, "%s\n", h), TAD_OK);
    }
    assert_int_equal(tad_buf_append_str(&b, "not-a-hash\n\n"), TAD_OK);
    /* 1 of 100 = 0.01: accepted */
    expect_rows(&o, b.data, 7, &want, 1, 1, NULL);

    /* 2 of 100: rejected, the message carries the counts */
    assert_int_equal(tad_buf_append_str(&b, "zz\n"), TAD_OK);
    struct tad_pipeline_result res;
    struct tad_errinfo info;
    tad_errinfo_clear(&info);
    memset(&res, 0x5a, sizeof(res));
    assert_int_equal(run(&o, b.data, b.len, 0, &res, &info), TAD_ERR_INVALID);
    assert_non_null(strstr(info.msg, "2 of 101"));
    assert_int_equal(res.nparts, (size_t)0x5a5a5a5a5a5a5a5aULL); /* untouched */

    /* no valid row at all: rejected even with a ratio of 1 */
    o.max_invalid_ratio = 1.0;
    tad_errinfo_clear(&info);
    assert_int_equal(run(&o, "sha256\n\n\n", 9, 0, &res, &info), TAD_ERR_INVALID);
    assert_non_null(strstr(info.msg, "no valid rows"));
    assert_int_equal(run(&o, "", 0, 0, &res, &info), TAD_ERR_INVALID);
    tad_buf_release(&b);
    rows_free(&want);
}

static size_t gzip_into(const char *in, size_t len, unsigned char *out, size_t outcap)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (unsigned char *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)outcap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t n = outcap - z.avail_out;
    deflateEnd(&z);
    return n;
}

static void gzip_any_chunking_and_members(void **state)
{
    (void)state;
    struct tad_pipeline_opts o;
    base_opts(&o, TAD_ROW_RAW_PHONE);
    o.header_names = NULL;
    struct tad_buf t1 = TAD_BUF_INIT, t2 = TAD_BUF_INIT;
    struct rows want = {0};
    char h[65], num[32];
    for (unsigned i = 0; i < 300; i++) {
        int n = snprintf(num, sizeof(num), "4930%07u", i);
        assert_true(n > 0);
        sha256_hex(num, (size_t)n, h);
        rows_add(&want, h);
        assert_int_equal(tad_buf_appendf(i < 150 ? &t1 : &t2, "+%s\r\n", num), TAD_OK);
    }
    size_t cap = 2 * (t1.len + t2.len) + 256;
    unsigned char *gz = malloc(cap);
    assert_non_null(gz);
    /* a BOM inside the compressed data is dropped too */
    struct tad_buf first = TAD_BUF_INIT;
    assert_int_equal(tad_buf_append(&first, "\xEF\xBB\xBF", 3), TAD_OK);
    assert_int_equal(tad_buf_append(&first, t1.data, t1.len), TAD_OK);
    size_t n1 = gzip_into(first.data, first.len, gz, cap);
    size_t n2 = gzip_into(t2.data, t2.len, gz + n1, cap - n1);
    assert_int_equal(gz[0], 0x1f);

    struct tad_pipeline_result res;
    struct tad_errinfo info;
    size_t chunks[] = {1, 2, 3, 7, 1000, 0};
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
        tad_errinfo_clear(&info);
        tad_err err = run(&o, gz, n1 + n2, chunks[c], &res, &info);
        if (err != TAD_OK)
            fail_msg("chunk %zu: %s", chunks[c], info.msg);
        struct rows got = {0};
        collect(&res, 64, o.max_part_bytes, &got);
        assert_same_set(&got, &want);
        assert_int_equal(res.rows_invalid, 0);
        tad_pipeline_result_release(&res);
        rows_free(&got);
    }
    /* forced gzip on plain text is a parse error; a truncated stream too */
    o.gzip = 1;
    assert_int_equal(run(&o, t1.data, t1.len, 0, &res, &info), TAD_ERR_PARSE);
    o.gzip = -1;
    assert_int_equal(run(&o, gz, n1 - 5, 0, &res, &info), TAD_ERR_PARSE);
    assert_int_equal(run(&o, gz, n1 + 20, 3, &res, &info), TAD_ERR_PARSE);
    /* gzip disabled: the compressed bytes are just invalid rows */
    o.gzip = 0;
    assert_int_equal(run(&o, gz, n1, 0, &res, &info), TAD_ERR_INVALID);
    free(gz);
    tad_buf_release(&first);
    tad_buf_release(&t1);
    tad_buf_release(&t2);
    rows_free(&want);
}

static void parts_split_at_row_boundaries(void **state)
{
    (void)state;
    for (unsigned threads = 1; threads <= 3; threads++) {
        struct tad_pipeline_opts o;
        base_opts(&o, TAD_ROW_SHA256);
        o.max_part_bytes = 1000;
        o.threads = threads;
        struct tad_buf b = TAD_BUF_INIT;
        struct rows want = {0};
        char h[65];
        for (unsigned i = 0; i < 500; i++) {
            hex_row(1000 + i, h);
            rows_add(&want, h);
            assert_int_equal(tad_buf_appendf(&b, "%s\n", h), TAD_OK);
        }
        struct tad_pipeline_result res;
        expect_rows(&o, b.data, 97, &want, 0, 0, &res);
        uint64_t total = 0;
        size_t full = 0;
        for (size_t i = 0; i < res.nparts; i++) {
            total += res.parts[i].bytes;
            full += res.parts[i].bytes == 975; /* 15 rows of 65 bytes */
        }
        assert_int_equal(total, 500 * 65);
        assert_true(res.nparts >= 34); /* ceil(500 / 15) */
        assert_true(res.nparts <= 34 + threads - 1);
        assert_true(full >= res.nparts - threads);
        tad_pipeline_result_release(&res);
        tad_buf_release(&b);
        rows_free(&want);
    }
}

static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void spool_files_are_invisible(void **state)
{
    (void)state;
    char dir[] = "/tmp/t_pipeline_spool_XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct tad_pipeline_opts o;
    base_opts(&o, TAD_ROW_MD5);
    o.spool_dir = dir;
    o.max_part_bytes = 330;
    struct tad_buf b = TAD_BUF_INIT;
    struct rows want = {0};
    char h[65];
    for (unsigned i = 0; i < 40; i++) {
        hex_row(i, h);
        h[32] = '\0';
        rows_add(&want, h);
        assert_int_equal(tad_buf_appendf(&b, "%s\n", h), TAD_OK);
    }
    struct tad_pipeline_result res;
    expect_rows(&o, b.data, 0, &want, 0, 0, &res);
    assert_true(res.nparts >= 4);
    assert_int_equal(dir_entries(dir), 0);
    for (size_t i = 0; i < res.nparts; i++) {
        struct stat st;
        assert_int_equal(fstat(res.parts[i].fd, &st), 0);
        assert_int_equal(st.st_nlink, 0);
        assert_null(res.parts[i].path);
    }
    tad_pipeline_result_release(&res);
    assert_int_equal(dir_entries(dir), 0);
    assert_int_equal(rmdir(dir), 0);
    tad_buf_release(&b);
    rows_free(&want);
}

static void out_dir_named_parts(void **state)
{
    (void)state;
    char dir[] = "/tmp/t_pipeline_out_XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct tad_pipeline_opts o;
    base_opts(&o, TAD_ROW_SHA256);
    o.out_dir = dir;
    o.max_part_bytes = 650;
    struct tad_buf b = TAD_BUF_INIT;
    struct rows want = {0};
    char h[65];
    for (unsigned i = 0; i < 25; i++) {
        hex_row(i, h);
        rows_add(&want, h);
        assert_int_equal(tad_buf_appendf(&b, "%s\n", h), TAD_OK);
    }
    struct tad_pipeline_result res;
    expect_rows(&o, b.data, 0, &want, 0, 0, &res);
    assert_int_equal(dir_entries(dir), (int)res.nparts);
    for (size_t i = 0; i < res.nparts; i++) {
        char path[128];
        assert_true(snprintf(path, sizeof(path), "%s/part-%05zu.csv", dir, i + 1) > 0);
        assert_string_equal(res.parts[i].path, path);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal((uint64_t)st.st_size, res.parts[i].bytes);
    }
    size_t nparts = res.nparts;
    tad_pipeline_result_release(&res);
    assert_int_equal(dir_entries(dir), (int)nparts); /* kept */
    for (size_t i = 0; i < nparts; i++) {
        char path[128];
        assert_true(snprintf(path, sizeof(path), "%s/part-%05zu.csv", dir, i + 1) > 0);
        assert_int_equal(unlink(path), 0);
    }
    /* a rejected file leaves nothing behind */
    assert_int_equal(tad_buf_append_str(&b, "bad\nbad\nbad\n"), TAD_OK);
    struct tad_errinfo info;
    assert_int_equal(run(&o, b.data, b.len, 0, &res, &info), TAD_ERR_INVALID);
    assert_int_equal(dir_entries(dir), 0);
    assert_int_equal(rmdir(dir), 0);
    tad_buf_release(&b);
    rows_free(&want);
}

/* Short invalid lines whose combined length puts a '\n' exactly where a hash row would end
 * must still count one by one (not as a single 64-byte row). */
static void short_lines_filling_a_hash_width(void **state)
{
    (void)state;
    struct tad_pipeline_opts o;
    base_opts(&o, TAD_ROW_SHA256);
    o.max_invalid_ratio = 1.0;
    char h[65];
    hex_row(7, h);
    char text[512];
    /* 5 lines of 12 characters + '\n' = 65 bytes, the width of a hash row */
    int n = snprintf(text, sizeof(text),
                     "%s\naaaaaaaaaaaa\nbbbbbbbbbbbb\ncccccccccccc\n"
                     "dddddddddddd\neeeeeeeeeeee\n%s\n",
                     h, h);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    struct rows want = {0};
    rows_add(&want, h);
    rows_add(&want, h);
    expect_rows(&o, text, 0, &want, 5, 0, NULL);
    rows_free(&want);
}

static void long_lines_are_invalid(void **state)
{
    (void)state;
    struct tad_pipeline_opts o;
    base_opts(&o, TAD_ROW_SHA256);
    o.max_invalid_ratio = 0.5;
    struct tad_buf b = TAD_BUF_INIT;
    struct rows want = {0};
    char h[65];
    hex_row(7, h);
    rows_add(&want, h);
    assert_int_equal(tad_buf_appendf(&b, "%s\n", h), TAD_OK);
    /* 3 MiB without a newline: bigger than any block */
    char *big = malloc(3u << 20);
    assert_non_null(big);
    memset(big, 'a', 3u << 20);
    assert_int_equal(tad_buf_append(&b, big, 3u << 20), TAD_OK);
    assert_int_equal(tad_buf_append_str(&b, "\n"), TAD_OK);
    /* just over the limit, inside one block */
    assert_int_equal(tad_buf_append(&b, big, TAD_PIPELINE_MAX_LINE + 1), TAD_OK);
    assert_int_equal(tad_buf_append_str(&b, "\n"), TAD_OK);
    for (unsigned i = 0; i < 3; i++) {
        hex_row(100 + i, h);
        rows_add(&want, h);
        assert_int_equal(tad_buf_appendf(&b, "%s\n", h), TAD_OK);
    }
    expect_rows(&o, b.data, 0, &want, 2, 0, NULL);
    expect_rows(&o, b.data, 65537, &want, 2, 0, NULL);
    /* an over-long first line: no header, later rows still count */
    struct rows later = {0};
    char first[65];
    hex_row(7, first);
    for (size_t i = 0; i < want.n; i++) /* want was sorted in place */
        if (strcmp(want.v[i], first) != 0)
            rows_add(&later, want.v[i]);
    assert_int_equal(later.n, 3);
    expect_rows(&o, b.data + 65, 0, &later, 2, 0, NULL);
    rows_free(&later);
    free(big);
    tad_buf_release(&b);
    rows_free(&want);
}

static void many_blocks_many_threads(void **state)
{
    (void)state;
    struct tad_pipeline_opts o;
    base_opts(&o, TAD_ROW_RAW_EMAIL);
    o.threads = 3;
    o.max_part_bytes = 65 * 4000;
    struct tad_buf b = TAD_BUF_INIT;
    struct rows want = {0};
    char h[65], mail[64];
    assert_int_equal(tad_buf_append_str(&b, "email\n"), TAD_OK);
    for (unsigned i = 0; i < 60000; i++) {
        int n = snprintf(mail, sizeof(mail), "user.%u@example%u.com", i, i % 7);
        assert_true(n > 0);
        sha256_hex(mail, (size_t)n, h);
        rows_add(&want, h);
        mail[0] = 'U';
        assert_int_equal(tad_buf_appendf(&b, " %s\n", mail), TAD_OK);
    }
    struct tad_pipeline_result res;
    expect_rows(&o, b.data, 4093, &want, 0, 0, &res);
    assert_true(res.header_seen);
    assert_true(res.nparts >= 15);
    tad_pipeline_result_release(&res);
    tad_buf_release(&b);
    rows_free(&want);
}

static void run_fd_reads_a_file(void **state)
{
    (void)state;
    char path[] = "/tmp/t_pipeline_in_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    struct rows want = {0};
    char h[65];
    for (unsigned i = 0; i < 40000; i++) {
        hex_row(i, h);
        rows_add(&want, h);
        if (i % 3 == 0)
            upper(h);
        h[64] = '\n';
        assert_int_equal(write(fd, h, 65), 65);
    }
    assert_int_equal(write(fd, "\r\n", 2), 2);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    struct tad_pipeline_opts o;
    base_opts(&o, TAD_ROW_SHA256);
    struct tad_pipeline_result res;
    struct tad_errinfo info;
    assert_int_equal(tad_pipeline_run_fd(fd, &o, &res, &info), TAD_OK);
    struct rows got = {0};
    collect(&res, 64, o.max_part_bytes, &got);
    assert_same_set(&got, &want);
    assert_int_equal(res.rows_blank, 1);
    tad_pipeline_result_release(&res);
    close(fd);
    rows_free(&got);
    rows_free(&want);
}

static void cancellation_stops_the_run(void **state)
{
    (void)state;
    atomic_int cancel = 0;
    struct tad_pipeline_opts o;
    base_opts(&o, TAD_ROW_SHA256);
    o.cancel = &cancel;
    struct tad_buf b = TAD_BUF_INIT;
    char h[65];
    for (unsigned i = 0; i < 50000; i++) { /* ~3 MiB: several blocks */
        hex_row(i, h);
        assert_int_equal(tad_buf_appendf(&b, "%s\n", h), TAD_OK);
    }
    struct tad_pipeline *p = NULL;
    struct tad_errinfo info;
    assert_int_equal(tad_pipeline_new(&o, &p), TAD_OK);
    assert_int_equal(tad_pipeline_feed(p, b.data, 1000, &info), TAD_OK);
    atomic_store(&cancel, 1);
    tad_err err = tad_pipeline_feed(p, b.data + 1000, b.len - 1000, &info);
    if (err == TAD_OK) {
        struct tad_pipeline_result res;
        err = tad_pipeline_finish(p, &res, &info);
    }
    assert_int_equal(err, TAD_ERR_CANCELLED);
    /* once failed, it stays failed */
    assert_int_equal(tad_pipeline_feed(p, "x", 1, &info), TAD_ERR_CANCELLED);
    tad_pipeline_free(p);

    /* cancelled before the last block is queued: finish reports it */
    atomic_store(&cancel, 0);
    assert_int_equal(tad_pipeline_new(&o, &p), TAD_OK);
    assert_int_equal(tad_pipeline_feed(p, b.data, 6500, &info), TAD_OK);
    atomic_store(&cancel, 1);
    struct tad_pipeline_result res;
    assert_int_equal(tad_pipeline_finish(p, &res, &info), TAD_ERR_CANCELLED);
    tad_pipeline_free(p);
    tad_buf_release(&b);
}

static void bad_options_and_free_without_finish(void **state)
{
    (void)state;
    struct tad_pipeline_opts o;
    struct tad_pipeline *p = NULL;
    base_opts(&o, TAD_ROW_SHA256);
    o.max_part_bytes = 64; /* smaller than one row */
    assert_int_equal(tad_pipeline_new(&o, &p), TAD_ERR_INVALID);
    base_opts(&o, TAD_ROW_SHA256);
    o.gzip = 2;
    assert_int_equal(tad_pipeline_new(&o, &p), TAD_ERR_INVALID);
    base_opts(&o, TAD_ROW_SHA256);
    o.max_invalid_ratio = -1;
    assert_int_equal(tad_pipeline_new(&o, &p), TAD_ERR_INVALID);
    assert_null(p);
    /* freed mid-stream: workers stop, nothing leaks (checked under ASan) */
    base_opts(&o, TAD_ROW_SHA256);
    o.threads = 0;
    assert_int_equal(tad_pipeline_new(&o, &p), TAD_OK);
    char h[65];
    hex_row(1, h);
    h[64] = '\n';
    for (int i = 0; i < 40000; i++)
        assert_int_equal(tad_pipeline_feed(p, h, 65, NULL), TAD_OK);
    tad_pipeline_free(p);
    tad_pipeline_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bom_crlf_blank_and_upper_case),
        cmocka_unit_test(csv_header_selects_column_by_name),
        cmocka_unit_test(csv_header_falls_back_to_first_column),
        cmocka_unit_test(raw_email_quoted_fields),
        cmocka_unit_test(invalid_ratio_rejects),
        cmocka_unit_test(gzip_any_chunking_and_members),
        cmocka_unit_test(parts_split_at_row_boundaries),
        cmocka_unit_test(spool_files_are_invisible),
        cmocka_unit_test(out_dir_named_parts),
        cmocka_unit_test(short_lines_filling_a_hash_width),
        cmocka_unit_test(long_lines_are_invalid),
        cmocka_unit_test(many_blocks_many_threads),
        cmocka_unit_test(run_fd_reads_a_file),
        cmocka_unit_test(cancellation_stops_the_run),
        cmocka_unit_test(bad_options_and_free_without_finish),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
