/* pipeline-run.c - developer tool: runs the row pipeline over a local file and lists the parts.
 *
 *   pipeline-run --type sha256|md5|email|phone|maid [--max-part-bytes N] [--threads N]
 *                [--max-invalid-ratio R] [--out DIR] [--spool DIR] FILE
 *
 * Prints one line per part (file, bytes, rows, md5) and the row counts; with --out it also
 * writes DIR/manifest.json (audience "pipeline-run"). Single-threaded
 * driver; the pipeline runs its own workers. Exit 0 on success, 1 on failure, 64 on usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tad/manifest.h"
#include "tad/pipeline.h"

static int usage(void)
{
    fprintf(stderr, "usage: pipeline-run --type sha256|md5|email|phone|maid "
                    "[--max-part-bytes N] [--threads N] [--max-invalid-ratio R] [--out DIR] "
                    "[--spool DIR] FILE\n");
    return 64;
}

static int parse_u64(const char *s, unsigned long long max, unsigned long long *ret)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        return -1;
    *ret = v;
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const sha_names[] = {
        "sha256",      "email_sha256", "phone_sha256", "idfa_sha256",
        "gaid_sha256", "maid_sha256",  "hash",         NULL};
    static const char *const md5_names[] = {"md5", "idfa_md5", "gaid_md5", "maid_md5", NULL};
    static const char *const email_names[] = {"email", "email_address", NULL};
    static const char *const phone_names[] = {"phone", "phone_number", NULL};
    static const char *const maid_names[] = {"maid", "idfa", "gaid", "device_id", NULL};
    struct tad_pipeline_opts o;
    const char *file = NULL;
    const char *type = NULL;

    tad_pipeline_opts_init(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        unsigned long long v;
        if (i + 1 < argc && strcmp(a, "--type") == 0) {
            type = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--max-part-bytes") == 0) {
            if (parse_u64(argv[++i], SIZE_MAX, &v) != 0)
                return usage();
            o.max_part_bytes = (size_t)v;
        } else if (i + 1 < argc && strcmp(a, "--threads") == 0) {
            if (parse_u64(argv[++i], 256, &v) != 0)
                return usage();
            o.threads = (unsigned)v;
        } else if (i + 1 < argc && strcmp(a, "--max-invalid-ratio") == 0) {
            char *end;
            o.max_invalid_ratio = strtod(argv[++i], &end);
            if (*end || !(o.max_invalid_ratio >= 0.0))
                return usage();
        } else if (i + 1 < argc && strcmp(a, "--out") == 0) {
            o.out_dir = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--spool") == 0) {
            o.spool_dir = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage();
        } else if (!file) {
            file = a;
        } else {
            return usage();
        }
    }
    if (!file || !type)
        return usage();
    if (strcmp(type, "sha256") == 0) {
        o.kind = TAD_ROW_SHA256;
        o.header_names = sha_names;
    } else if (strcmp(type, "md5") == 0) {
        o.kind = TAD_ROW_MD5;
        o.header_names = md5_names;
    } else if (strcmp(type, "email") == 0) {
        o.kind = TAD_ROW_RAW_EMAIL;
        o.header_names = email_names;
    } else if (strcmp(type, "phone") == 0) {
        o.kind = TAD_ROW_RAW_PHONE;
        o.header_names = phone_names;
    } else if (strcmp(type, "maid") == 0) {
        o.kind = TAD_ROW_RAW_MAID;
        o.header_names = maid_names;
    } else {
        return usage();
    }

    int fd = strcmp(file, "-") == 0 ? 0 : open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        char ebuf[128];
        fprintf(stderr, "pipeline-run: %s: %s\n", file, strerror_r(errno, ebuf, sizeof(ebuf)));
        return 1;
    }
    struct tad_pipeline_result res;
    struct tad_errinfo info;
    tad_errinfo_clear(&info);
    tad_err err = tad_pipeline_run_fd(fd, &o, &res, &info);
    if (fd != 0)
        close(fd);
    if (err != TAD_OK) {
        fprintf(stderr, "pipeline-run: %s: %s\n", tad_err_str(err), info.msg);
        return 1;
    }
    for (size_t i = 0; i < res.nparts; i++) {
        const struct tad_part *pt = &res.parts[i];
        printf("part %zu\t%s\tbytes=%llu\trows=%llu\tmd5=%s\n", i + 1, pt->path ? pt->path : "-",
               (unsigned long long)pt->bytes, (unsigned long long)pt->rows, pt->md5);
    }
    printf("rows_total=%llu rows_valid=%llu rows_invalid=%llu rows_blank=%llu parts=%zu "
           "header=%s column=%s\n",
           (unsigned long long)res.rows_total, (unsigned long long)res.rows_valid,
           (unsigned long long)res.rows_invalid, (unsigned long long)res.rows_blank, res.nparts,
           res.header_seen ? "yes" : "no", res.column);
    int rc = 0;
    if (o.out_dir) {
        static const char *const calc[] = {"FIRST_SHA256", "FIRST_MD5", "EMAIL_SHA256",
                                           "PHONE_SHA256", "FIRST_SHA256"};
        err = tad_manifest_write(o.out_dir, &res, "pipeline-run", calc[o.kind], &info);
        if (err != TAD_OK) {
            fprintf(stderr, "pipeline-run: %s: %s\n", tad_err_str(err), info.msg);
            rc = 1;
        }
    }
    tad_pipeline_result_release(&res);
    return rc;
}
