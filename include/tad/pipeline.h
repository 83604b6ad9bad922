/* pipeline.h - streaming row pipeline: raw file bytes in, MD5'd part files of hashed rows out.
 *
 * Push style: the producer (an S3 download's write callback, or tad_pipeline_run_fd) hands
 * arbitrary chunks to tad_pipeline_feed(). The calling thread is the parser: it inflates gzip
 * (auto-detected, concatenated members allowed), drops a UTF-8 BOM, recognises a CSV header,
 * and cuts the input into blocks of whole rows that go through a bounded queue to worker
 * threads. Each worker validates, normalises and hashes its rows (tad/normalize.h) and appends
 * them to its own current part (own fd, own MD5 context), so rows land in parts in no
 * particular order (an audience is a set). Memory is bounded whatever the input size.
 *
 * Output rows are one lower-case hex value per line ending in '\n', no header. Each part holds
 * at most max_part_bytes bytes, cut at row boundaries. Parts live in spool_dir as O_TMPFILE
 * files (0600; with a fallback of mkstemp plus an immediate unlink), so nothing outlives the
 * process; when out_dir is set they are instead named files out_dir/part-00001.csv, ... (0600).
 *
 * Row counts: rows_total = rows_valid + rows_invalid + rows_blank, the header line excluded.
 * At finish the file is rejected (TAD_ERR_INVALID) when it has no valid row or when
 * rows_invalid / (rows_valid + rows_invalid) > max_invalid_ratio.
 *
 * Threading: one pipeline is driven by one thread (feed/finish/free); it owns its workers.
 * Full rules: docs/formats.md.
 */
#ifndef TAD_PIPELINE_H
#define TAD_PIPELINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tad/error.h"
#include "tad/normalize.h"

#define TAD_PIPELINE_DEFAULT_PART_BYTES 52428800u
#define TAD_PIPELINE_DEFAULT_INVALID_RATIO 0.01
/* Longest accepted input line (bytes, line ending excluded); longer lines are invalid. */
#define TAD_PIPELINE_MAX_LINE 65536u

struct tad_pipeline_opts {
    enum tad_row_kind kind;
    const char *const *header_names; /* borrowed; NULL-terminated, case-insensitive CSV header
                                        names that select the column; may be NULL */
    size_t max_part_bytes;           /* 0 = TAD_PIPELINE_DEFAULT_PART_BYTES */
    double max_invalid_ratio;        /* share of invalid rows tolerated, 0..1 */
    const char *spool_dir;           /* borrowed; NULL = "/tmp" */
    const char *out_dir;             /* borrowed; if set, parts are named files there */
    unsigned threads;                /* workers; 0 = number of online CPUs */
    int gzip;                        /* -1 auto (magic 1f 8b), 0 never, 1 always */
    const atomic_int *cancel;        /* borrowed; non-zero stops the run (checked per block) */
};

struct tad_part {
    int fd;         /* open O_RDWR, positioned at offset 0 after finish */
    uint64_t bytes; /* file size */
    uint64_t rows;
    char md5[33]; /* lower-case hex MD5 of the file content */
    char *path;   /* out_dir only (else NULL): owned by the result */
};

struct tad_pipeline_result {
    uint64_t rows_total, rows_valid, rows_invalid, rows_blank;
    struct tad_part *parts; /* ordered by part number */
    size_t nparts;
    bool header_seen;
    char column[64]; /* header name of the column used ("" without a header) */
};

struct tad_pipeline;

/* Fills opts with the defaults: SHA-256 rows, 50 MiB parts, 1% invalid, auto gzip, auto
 * threads, /tmp spool. */
void tad_pipeline_opts_init(struct tad_pipeline_opts *opts);

/* *new*: starts the worker threads. opts and the strings it points to must outlive the
 * pipeline. TAD_ERR_INVALID for bad options, TAD_ERR_NOMEM, TAD_ERR_IO (thread start). */
TAD_MUST_CHECK tad_err tad_pipeline_new(const struct tad_pipeline_opts *opts,
                                        struct tad_pipeline **ret);

/* Pushes len bytes of the file (any chunking). Blocks while the workers are busy.
 * TAD_ERR_PARSE (corrupt gzip), TAD_ERR_IO (spool write), TAD_ERR_CANCELLED; after an error
 * the pipeline can only be freed. */
TAD_MUST_CHECK tad_err tad_pipeline_feed(struct tad_pipeline *p, const void *data, size_t len,
                                         struct tad_errinfo *info);

/* Ends the input, waits for the workers and hands the parts over: on success *res owns them
 * (release with tad_pipeline_result_release) and the pipeline only needs freeing. On failure
 * (TAD_ERR_INVALID for a rejected file, with the counts in info->msg; TAD_ERR_PARSE for a
 * truncated gzip stream; TAD_ERR_IO; TAD_ERR_CANCELLED) *res is untouched and the parts stay
 * with the pipeline. */
TAD_MUST_CHECK tad_err tad_pipeline_finish(struct tad_pipeline *p, struct tad_pipeline_result *res,
                                           struct tad_errinfo *info);

/* Stops the workers, closes every part it still owns and removes named part files it owns.
 * NULL is a no-op. */
void tad_pipeline_free(struct tad_pipeline *p);

/* Closes the part fds and frees the arrays; named files in out_dir are kept. Leaves *res
 * empty. */
void tad_pipeline_result_release(struct tad_pipeline_result *res);

/* Runs a whole pipeline over fd (read until EOF; fd is not closed). */
TAD_MUST_CHECK tad_err tad_pipeline_run_fd(int fd, const struct tad_pipeline_opts *opts,
                                           struct tad_pipeline_result *res,
                                           struct tad_errinfo *info);

#endif
