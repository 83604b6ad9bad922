/* normalize-bench.c - developer tool: single-thread rate of raw-email normalise + SHA-256.
 *
 *   normalize-bench [ROWS]      (default 2000000)
 *
 * Builds ROWS distinct mixed-case e-mail addresses in memory, then times tad_normalize_row()
 * over all of them on one thread and prints "rows=N seconds=S rows_per_sec=R".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tad/normalize.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    unsigned long long rows = 2000000;
    if (argc > 1) {
        char *end;
        rows = strtoull(argv[1], &end, 10);
        if (*end || rows == 0 || rows > 100000000ULL) {
            fprintf(stderr, "usage: normalize-bench [ROWS]\n");
            return 64;
        }
    }
    const size_t stride = 48;
    char *mails = malloc(rows * stride);
    size_t *lens = malloc(rows * sizeof(*lens));
    struct tad_normalize *n = NULL;
    if (!mails || !lens || tad_normalize_new(&n) != TAD_OK) {
        fprintf(stderr, "normalize-bench: out of memory\n");
        return 1;
    }
    for (unsigned long long i = 0; i < rows; i++) {
        int len = snprintf(mails + i * stride, stride, " Jane.Doe%llu@Example%llu.com", i, i % 97);
        if (len < 0 || (size_t)len >= stride)
            return 1;
        lens[i] = (size_t)len;
    }
    char out[TAD_NORMALIZE_HEX_MAX];
    unsigned long long ok = 0;
    unsigned check = 0;
    double t0 = now();
    for (unsigned long long i = 0; i < rows; i++) {
        if (tad_normalize_row(n, TAD_ROW_RAW_EMAIL, mails + i * stride, lens[i], out) == TAD_OK) {
            ok++;
            check += (unsigned char)out[0];
        }
    }
    double dt = now() - t0;
    printf("rows=%llu valid=%llu seconds=%.3f rows_per_sec=%.0f check=%u\n", rows, ok, dt,
           (double)rows / dt, check);
    tad_normalize_free(n);
    free(lens);
    free(mails);
    return ok == rows ? 0 : 1;
}
