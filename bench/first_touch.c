/*
 * first_touch: a node writes its own fresh memory. Each node allocates a
 * share of -p pages per node and writes every word of its share once (the
 * first touch of pages it homes: a 1-node job, or DSM_PLACEMENT=blocked or
 * first-touch); node 0 reports. The baseline, measured in the same run and
 * alternating with it: the same writes into a fresh private anonymous
 * mapping on node 0. Under cyclic placement with several nodes the share is
 * homed half elsewhere, and the row measures write misses instead.
 * Run: dsmrun -n 1 -- first_touch [-p pages] [-i passes] [--json]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench_dsm.h"

#define PAGE  4096u
#define WORDS (PAGE / sizeof(uint64_t))

/* Every word of pages at buffer written once; returns µs. */
static double write_pages(uint64_t *buffer, size_t pages, uint64_t pass)
{
    double t0 = dsm_bench_now_us();

    for (size_t w = 0; w < pages * WORDS; w++) {
        buffer[w] = w ^ pass;
    }
    return dsm_bench_now_us() - t0;
}

static void check_pages(const uint64_t *buffer, size_t pages, uint64_t pass)
{
    for (size_t w = 0; w < pages * WORDS; w += WORDS - 1) {
        if (buffer[w] != (w ^ pass)) {
            fprintf(stderr, "first_touch: word %zu holds %llu, want %llu\n", w,
                    (unsigned long long)buffer[w], (unsigned long long)(w ^ pass));
            exit(1);
        }
    }
}

/* Every node writes its own share of a fresh allocation (µs, this node). */
static double dsm_pass(size_t pages, uint64_t pass)
{
    uint64_t *buffer = dsm_alloc(pages * PAGE * (size_t)dsm_num_nodes());
    uint64_t *share;
    double us;

    if (buffer == NULL) {
        dsm_bench_die("first_touch: allocate", dsm_last_error());
    }
    share = buffer + (size_t)dsm_node_id() * pages * WORDS;
    dsm_bench_barrier();
    us = write_pages(share, pages, pass);
    check_pages(share, pages, pass);
    dsm_bench_barrier();
    dsm_free(buffer);
    return us;
}

static double private_pass(size_t pages, uint64_t pass)
{
    uint64_t *buffer = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    double us;

    if (buffer == MAP_FAILED) {
        dsm_bench_die("first_touch: mmap", DSM_ERR_NO_MEMORY);
    }
    us = write_pages(buffer, pages, pass);
    check_pages(buffer, pages, pass);
    munmap(buffer, pages * PAGE);
    return us;
}

int main(int argc, char **argv)
{
    dsm_bench_opts_t opts = { .iterations = 5, .warmup = 1, .pages = 16384 };
    dsm_bench_summary_t baseline;
    double *priv, *dsm;
    size_t passes;

    dsm_bench_parse(argc, argv, "first_touch: each node writes its own fresh memory",
                    NULL, NULL, NULL, &opts);
    dsm_bench_dsm_init(-1);
    passes = opts.warmup + opts.iterations;
    priv = calloc(passes, sizeof(double));
    dsm = calloc(passes, sizeof(double));
    if (priv == NULL || dsm == NULL) {
        dsm_bench_die("first_touch: samples", DSM_ERR_NO_MEMORY);
    }
    for (size_t pass = 0; pass < passes; pass++) { /* alternating, as the machine drifts */
        dsm[pass] = dsm_pass(opts.pages, pass) / (double)opts.pages;
        priv[pass] = private_pass(opts.pages, pass) / (double)opts.pages;
    }
    if (dsm_node_id() == 0) {
        const char *placement = getenv("DSM_PLACEMENT");

        dsm_bench_row_samples(&opts, "private first touch, write (baseline)", PAGE,
                              priv + opts.warmup, opts.iterations, NULL, &baseline);
        dsm_bench_row_samples(&opts, "own share first touch, write (vs private)", PAGE,
                              dsm + opts.warmup, opts.iterations, &baseline, NULL);
        dsm_bench_note(&opts, "%d nodes, placement %s; each writes its own %zu pages (%zu MiB) "
                       "of a fresh allocation; rows per page; %u passes after %u warm-up",
                       dsm_num_nodes(), placement != NULL ? placement : "default", opts.pages,
                       opts.pages * PAGE >> 20, opts.iterations, opts.warmup);
        dsm_bench_stats_note(&opts, "first_touch");
        dsm_bench_finish(&opts);
    }
    free(priv);
    free(dsm);
    return dsm_finalize() == DSM_OK ? 0 : 1;
}
