/*
 * mpi_rma_vs_dsm: the same access patterns with MPI-3 one-sided
 * communication and with dsm loads and stores, OSU one-sided style, two
 * processes started by mpirun (dsm_init then joins through PMIx):
 *   - get latency by size 8 B .. 1 MiB: MPI_Get + MPI_Win_flush (passive
 *     target, MPI_Win_lock_all) against memcpy out of a dsm block homed at
 *     node 1 that node 1 wrote last (Modified at its home: the data changed
 *     at the target since node 0 last read it);
 *   - get bandwidth (MPI only: 16 gets in flight, then one flush);
 *   - put latency: MPI_Put + flush against memcpy into such a block;
 *   - fetch-and-add latency (8 B): MPI_Fetch_and_op(MPI_SUM) + flush against
 *     C11 atomic_fetch_add on arena memory, cold (the counter's page was last
 *     written by node 1) and warm (node 0 repeats on one counter);
 *   - read-mostly: 64 blocks of 4 KiB read 100 times each (100 passes); dsm
 *     misses once per block and then reads its cached copy.
 * Rank 0 measures, rank 1 is the passive target. Rows come in pairs, MPI
 * first; a dsm row's ratio is dsm p50 / MPI p50 (< 1: dsm faster; read-mostly:
 * the ratio of the means, i.e. of the pattern's total time). Every dsm
 * access is on a fresh block (its own pages), so no sample hits the cache
 * except where the pattern says so. The osc component is printed as read back
 * through MPI_T (cvar "osc": run_all.sh restricts it with --mca osc NAME, so a
 * window that component cannot serve fails instead of falling back).
 * Run: mpirun -np 2 mpi_rma_vs_dsm [-i N] [-w N] [--json]
 */
#include <mpi.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_dsm.h"

#define PAGE         4096u
#define MAX_SIZE     (1u << 20)
#define BW_WINDOW    16
#define RM_BLOCKS    64
#define RM_READS     100
#define SIZE_COUNT   8

static const size_t sizes[SIZE_COUNT] = { 8, 64, 512, 4096, 16384, 65536, 262144, MAX_SIZE };

typedef struct {
    dsm_bench_summary_t get[SIZE_COUNT], put[SIZE_COUNT], get_bw[SIZE_COUNT];
    dsm_bench_summary_t fadd_cold, fadd_warm, read_mostly;
} results_t;

/* Samples per size: all of -i up to a page, fewer for larger sizes (at least 5). */
static size_t samples_for(const dsm_bench_opts_t *opts, size_t size)
{
    size_t n = size <= PAGE ? opts->iterations : opts->iterations * PAGE / size;

    return n < 5 ? 5 : n;
}

static void *xmalloc(size_t bytes)
{
    void *p = calloc(1, bytes);

    if (p == NULL) {
        dsm_bench_die("mpi_rma_vs_dsm: memory", DSM_ERR_NO_MEMORY);
    }
    return p;
}

/* ---- MPI ---------------------------------------------------------------------------- */

typedef enum { OP_GET, OP_PUT, OP_GET_BW, OP_FADD, OP_READ_MOSTLY } mpi_op_t;

/* One timed MPI operation (rank 0), flushed to completion at the target. */
static double mpi_once(MPI_Win win, mpi_op_t op, unsigned char *buf, size_t size)
{
    int64_t one = 1, old;
    double t0 = dsm_bench_now_us();

    switch (op) {
    case OP_GET:
        MPI_Get(buf, (int)size, MPI_BYTE, 1, 0, (int)size, MPI_BYTE, win);
        break;
    case OP_PUT:
        MPI_Put(buf, (int)size, MPI_BYTE, 1, 0, (int)size, MPI_BYTE, win);
        break;
    case OP_GET_BW:
        for (int w = 0; w < BW_WINDOW; w++) {
            MPI_Get(buf, (int)size, MPI_BYTE, 1, 0, (int)size, MPI_BYTE, win);
        }
        break;
    case OP_FADD:
        MPI_Fetch_and_op(&one, &old, MPI_INT64_T, 1, 0, MPI_SUM, win);
        break;
    case OP_READ_MOSTLY:
        for (size_t b = 0; b < RM_BLOCKS; b++) {
            MPI_Get(buf, PAGE, MPI_BYTE, 1, (MPI_Aint)(b * PAGE), PAGE, MPI_BYTE, win);
            MPI_Win_flush(1, win);
        }
        return (dsm_bench_now_us() - t0) / RM_BLOCKS;
    }
    MPI_Win_flush(1, win);
    return (dsm_bench_now_us() - t0) / (op == OP_GET_BW ? BW_WINDOW : 1);
}

static void mpi_series(const dsm_bench_opts_t *opts, MPI_Win win, mpi_op_t op, size_t size,
                       size_t count, unsigned char *buf, dsm_bench_summary_t *summary_p)
{
    double *samples = xmalloc(count * sizeof(double));

    for (size_t k = 0; k < opts->warmup + count; k++) {
        double us = mpi_once(win, op, buf, size);

        if (k >= opts->warmup) {
            samples[k - opts->warmup] = us;
        }
    }
    dsm_bench_summarize(samples, count, summary_p);
    free(samples);
}

static void mpi_measure(const dsm_bench_opts_t *opts, int rank, results_t *r)
{
    unsigned char *base, *buf = xmalloc(MAX_SIZE);
    MPI_Win win;

    MPI_Win_allocate(MAX_SIZE, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &base, &win);
    memset(base, 0x5a, MAX_SIZE);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        MPI_Win_lock_all(0, win);
        for (size_t s = 0; s < SIZE_COUNT; s++) {
            size_t count = samples_for(opts, sizes[s]);

            mpi_series(opts, win, OP_GET, sizes[s], count, buf, &r->get[s]);
            mpi_series(opts, win, OP_GET_BW, sizes[s], count, buf, &r->get_bw[s]);
            mpi_series(opts, win, OP_PUT, sizes[s], count, buf, &r->put[s]);
        }
        mpi_series(opts, win, OP_FADD, 8, opts->iterations, buf, &r->fadd_cold);
        mpi_series(opts, win, OP_READ_MOSTLY, PAGE, RM_READS, buf, &r->read_mostly);
        MPI_Win_unlock_all(win);
    }
    /* The target waits here, in MPI, which also gives progress-driven components theirs. */
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Win_free(&win);
    free(buf);
}

/* The osc component list as the library sees it (MPI_T cvar "osc"). */
static void mpi_osc_name(char *name, int len)
{
    int provided, index, count;
    MPI_T_cvar_handle handle;

    snprintf(name, (size_t)len, "(not readable through MPI_T)");
    if (MPI_T_init_thread(MPI_THREAD_SINGLE, &provided) != MPI_SUCCESS) {
        return;
    }
    if (MPI_T_cvar_get_index("osc", &index) == MPI_SUCCESS &&
        MPI_T_cvar_handle_alloc(index, NULL, &handle, &count) == MPI_SUCCESS) {
        char value[256] = "";

        if (MPI_T_cvar_read(handle, value) == MPI_SUCCESS) {
            snprintf(name, (size_t)len, "%s", value[0] ? value : "(default selection)");
        }
        MPI_T_cvar_handle_free(&handle);
    }
    MPI_T_finalize();
}

/* ---- dsm ---------------------------------------------------------------------------- */

/*
 * count blocks of size bytes (each on its own pages) homed at node 1, which
 * writes them all; returns the first. Placement is blocked: the second half
 * of the allocation is node 1's. *alloc_p receives what to free.
 */
static unsigned char *dsm_blocks(size_t size, size_t count, size_t *stride_p, void **alloc_p)
{
    size_t stride = (size + PAGE - 1) / PAGE * PAGE;
    size_t half = stride * count;
    unsigned char *base = dsm_alloc(2 * half), *blocks = base + half;

    if (base == NULL) {
        dsm_bench_die("mpi_rma_vs_dsm: dsm_alloc", dsm_last_error());
    }
    if (dsm_bench_home(base, 2 * half, blocks) != 1) {
        dsm_bench_die("mpi_rma_vs_dsm: blocks not homed at node 1", DSM_ERR_STATE);
    }
    if (dsm_node_id() == 1) {
        for (size_t k = 0; k < count; k++) {
            memset(blocks + k * stride, (int)(k & 0xff) | 1, size);
        }
    }
    dsm_bench_barrier();
    *stride_p = stride;
    *alloc_p = base;
    return blocks;
}

static void dsm_blocks_free(void *alloc)
{
    dsm_bench_barrier();
    dsm_free(alloc);
}

typedef enum { DSM_GET, DSM_PUT, DSM_FADD } dsm_op_t;

static double dsm_once(dsm_op_t op, unsigned char *block, unsigned char *buf, size_t size)
{
    double t0 = dsm_bench_now_us();

    switch (op) {
    case DSM_GET:
        memcpy(buf, block, size);
        break;
    case DSM_PUT:
        memcpy(block, buf, size);
        break;
    case DSM_FADD:
        /* relaxed: the atomicity is what is measured, nothing is published */
        atomic_fetch_add_explicit((_Atomic int64_t *)block, 1, memory_order_relaxed);
        break;
    }
    return dsm_bench_now_us() - t0;
}

static void dsm_series(const dsm_bench_opts_t *opts, dsm_op_t op, size_t size, size_t count,
                       unsigned char *buf, dsm_bench_summary_t *summary_p)
{
    size_t total = opts->warmup + count, stride;
    void *alloc;
    unsigned char *blocks = dsm_blocks(size, total, &stride, &alloc);
    double *samples = xmalloc(count * sizeof(double));

    for (size_t k = 0; dsm_node_id() == 0 && k < total; k++) {
        double us = dsm_once(op, blocks + k * stride, buf, size);

        if (op == DSM_GET && buf[0] != ((k & 0xff) | 1)) {
            fprintf(stderr, "mpi_rma_vs_dsm: block %zu read wrong data\n", k);
            exit(1);
        }
        if (k >= opts->warmup) {
            samples[k - opts->warmup] = us;
        }
    }
    dsm_blocks_free(alloc);
    if (dsm_node_id() == 0) {
        dsm_bench_summarize(samples, count, summary_p);
    }
    free(samples);
}

/* Warm fetch-and-add: node 0 alone on one counter it keeps Modified. */
static void dsm_fadd_warm(const dsm_bench_opts_t *opts, dsm_bench_summary_t *summary_p)
{
    size_t stride;
    void *alloc;
    unsigned char *counter = dsm_blocks(8, 1, &stride, &alloc);
    double *samples = xmalloc(opts->iterations * sizeof(double));

    for (size_t k = 0; dsm_node_id() == 0 && k < opts->warmup + opts->iterations; k++) {
        double us = dsm_once(DSM_FADD, counter, NULL, 8);

        if (k >= opts->warmup) {
            samples[k - opts->warmup] = us;
        }
    }
    dsm_blocks_free(alloc);
    if (dsm_node_id() == 0) {
        dsm_bench_summarize(samples, opts->iterations, summary_p);
    }
    free(samples);
}

/* RM_READS passes over RM_BLOCKS blocks of 4 KiB; µs per block read. */
static void dsm_read_mostly(unsigned char *buf, dsm_bench_summary_t *summary_p)
{
    size_t stride;
    void *alloc;
    unsigned char *blocks = dsm_blocks(PAGE, RM_BLOCKS, &stride, &alloc);
    double samples[RM_READS];

    for (size_t pass = 0; dsm_node_id() == 0 && pass < RM_READS; pass++) {
        double t0 = dsm_bench_now_us();

        for (size_t b = 0; b < RM_BLOCKS; b++) {
            memcpy(buf, blocks + b * stride, PAGE);
        }
        samples[pass] = (dsm_bench_now_us() - t0) / RM_BLOCKS;
    }
    dsm_blocks_free(alloc);
    if (dsm_node_id() == 0) {
        dsm_bench_summarize(samples, RM_READS, summary_p);
    }
}

static void dsm_measure(const dsm_bench_opts_t *opts, results_t *r)
{
    unsigned char *buf = xmalloc(MAX_SIZE);

    memset(buf, 0x33, MAX_SIZE);
    for (size_t s = 0; s < SIZE_COUNT; s++) {
        size_t count = samples_for(opts, sizes[s]);

        dsm_series(opts, DSM_GET, sizes[s], count, buf, &r->get[s]);
        dsm_series(opts, DSM_PUT, sizes[s], count, buf, &r->put[s]);
    }
    dsm_series(opts, DSM_FADD, 8, opts->iterations, buf, &r->fadd_cold);
    dsm_fadd_warm(opts, &r->fadd_warm);
    dsm_read_mostly(buf, &r->read_mostly);
    free(buf);
}

/* ---- the table ---------------------------------------------------------------------- */

/* An MPI row, then the dsm row (if any) with the ratio of p50s, or of means. */
static void pair(const dsm_bench_opts_t *opts, const char *what, size_t bytes,
                 const dsm_bench_summary_t *mpi, const dsm_bench_summary_t *dsm, int by_mean)
{
    char name[64];

    snprintf(name, sizeof(name), "%s MPI", what);
    dsm_bench_row(opts, name, bytes, mpi, 0);
    if (dsm != NULL) {
        snprintf(name, sizeof(name), "%s dsm", what);
        dsm_bench_row(opts, name, bytes, dsm,
                      by_mean ? dsm->mean_us / mpi->mean_us : dsm->p50_us / mpi->p50_us);
    }
}

static void print_table(const dsm_bench_opts_t *opts, const results_t *m, const results_t *d,
                        const char *osc)
{
    const char *tls = getenv("UCX_TLS");

    dsm_bench_note(opts, "osc component (MPI_T cvar osc): %s; dsm UCX_TLS=%s; ratio = dsm p50 "
                         "/ MPI p50 (read-mostly: of the means, i.e. of the total time)", osc,
                   tls != NULL ? tls : "UCX default");
    for (size_t s = 0; s < SIZE_COUNT; s++) {
        pair(opts, "get lat", sizes[s], &m->get[s], &d->get[s], 0);
    }
    for (size_t s = 0; s < SIZE_COUNT; s++) {
        pair(opts, "get bw (16 in flight)", sizes[s], &m->get_bw[s], NULL, 0);
    }
    for (size_t s = 0; s < SIZE_COUNT; s++) {
        pair(opts, "put lat", sizes[s], &m->put[s], &d->put[s], 0);
    }
    pair(opts, "fetch-add cold", 8, &m->fadd_cold, &d->fadd_cold, 0);
    dsm_bench_row(opts, "fetch-add warm (repeat) dsm", 8, &d->fadd_warm,
                  d->fadd_warm.p50_us / m->fadd_cold.p50_us);
    /* The pattern's cost is its total time (the misses of the first pass
     * included), so this ratio is of the means. */
    pair(opts, "read-mostly 4K x100", PAGE, &m->read_mostly, &d->read_mostly, 1);
}

int main(int argc, char **argv)
{
    dsm_bench_opts_t opts = { .iterations = 200, .warmup = 20 };
    results_t *mpi = xmalloc(sizeof(*mpi)), *dsm = xmalloc(sizeof(*dsm));
    char osc[256];
    int rank, size;

    MPI_Init(&argc, &argv);
    dsm_bench_parse(argc, argv, "mpi_rma_vs_dsm: MPI-3 RMA vs dsm loads/stores", NULL, NULL,
                    NULL, &opts);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 2) {
        if (rank == 0) {
            fprintf(stderr, "mpi_rma_vs_dsm: run with mpirun -np 2\n");
        }
        MPI_Finalize();
        return 1;
    }
    mpi_osc_name(osc, sizeof(osc));
    mpi_measure(&opts, rank, mpi);
    dsm_bench_dsm_init(DSM_PLACEMENT_BLOCKED);
    dsm_measure(&opts, dsm);
    if (dsm_node_id() == 0) {
        print_table(&opts, mpi, dsm, osc);
        dsm_bench_stats_note(&opts, "mpi_rma_vs_dsm");
        dsm_bench_finish(&opts);
    }
    if (dsm_finalize() != DSM_OK) {
        return 1;
    }
    MPI_Finalize();
    free(mpi);
    free(dsm);
    return 0;
}
