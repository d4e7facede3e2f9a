/*
 * What the three forms of each application share (bench/apps/): the compute
 * kernels, the row split, the result hash and the one-line report, so that
 * dsm, MPI and threads run exactly the same arithmetic and their results can
 * be compared bit for bit (same hash).
 *
 * Jacobi: 5-point relaxation on an (n+2) x (n+2) grid, top edge 1.0, the rest
 * 0.0; interior rows 1..n split in contiguous blocks; two grids swapped after
 * each sweep. Matmul: C = A x B, n x n doubles, rows of C split in blocks,
 * i-k-j loop order; A and B are fixed functions of (i, j).
 */
#ifndef DSM_BENCH_APPS_H
#define DSM_BENCH_APPS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsm_common.h"

#include "example_arg.h" /* example_arg: the examples' parser */

static inline double apps_seconds(void)
{
    return (double)dsm_now_ns() * 1e-9;
}

/* Rows [begin, end) of 0..rows-1 owned by part of parts (contiguous blocks). */
static inline void apps_rows(long rows, int part, int parts, long *begin_p, long *end_p)
{
    long base = rows / parts, extra = rows % parts;

    *begin_p = part * base + (part < extra ? part : extra);
    *end_p = *begin_p + base + (part < extra ? 1 : 0);
}

static inline void jacobi_boundary(double *grid, long width)
{
    for (long j = 0; j < width; j++) {
        grid[j] = 1.0;
    }
}

/* Interior rows [begin, end) (1-based) of dst from src. */
static inline void jacobi_sweep(const double *src, double *dst, long width, long begin, long end)
{
    for (long i = begin; i < end; i++) {
        for (long j = 1; j < width - 1; j++) {
            dst[i * width + j] = 0.25 * (src[(i - 1) * width + j] + src[(i + 1) * width + j] +
                                         src[i * width + j - 1] + src[i * width + j + 1]);
        }
    }
}

static inline double matmul_a(long i, long j)
{
    return (double)((i * 7 + j * 3) % 11) * 0.125;
}

static inline double matmul_b(long i, long j)
{
    return (double)((i * 5 + j * 13) % 17) * 0.0625;
}

/* Rows [begin, end) of C = A x B (C rows zeroed first). */
static inline void matmul_rows(const double *a, const double *b, double *c, long n, long begin,
                               long end)
{
    for (long i = begin; i < end; i++) {
        memset(&c[i * n], 0, (size_t)n * sizeof(double));
        for (long k = 0; k < n; k++) {
            double aik = a[i * n + k];

            for (long j = 0; j < n; j++) {
                c[i * n + j] += aik * b[k * n + j];
            }
        }
    }
}

/* FNV-1a over the bytes: equal results give equal hashes, bit for bit. */
static inline uint64_t apps_hash(const void *data, size_t bytes)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < bytes; i++) {
        h = (h ^ p[i]) * 1099511628211ull;
    }
    return h;
}

/* The one line run_all.sh parses. */
static inline void apps_report(const char *app, const char *form, long n, long iters, int procs,
                               double seconds, uint64_t hash)
{
    printf("app=%s form=%s n=%ld iters=%ld procs=%d time_s=%.4f hash=%016llx\n", app, form, n,
           iters, procs, seconds, (unsigned long long)hash);
    fflush(stdout);
}

#endif /* DSM_BENCH_APPS_H */
