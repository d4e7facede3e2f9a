/*
 * handoff: data that changes hands. Node 1 (the producer) writes -p pages of a
 * fresh allocation, a barrier, then node 0 (the consumer) reads them cold, two
 * ways, each in its own allocation and pass:
 *   - memcpy of the whole buffer into private memory (GB/s);
 *   - one 8-byte load per page (µs per page): the cost of moving a page
 *     Modified at another node, whatever the reader does with it.
 * The consumer's baselines are measured in the same run on node 0: a memcpy
 * of a private buffer just written into private memory (both present), and
 * one load per page of such a buffer; the destination of every memcpy is
 * present before the timing starts. The placement is the job's
 * (DSM_PLACEMENT), so with cyclic placement half the pages are homed at each
 * node: what the producer wrote is Modified at the producer either way.
 * Run: dsmrun -n 2 -- handoff [-p pages] [-i passes] [--json]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench_dsm.h"

#define PAGE  4096u
#define WORDS (PAGE / sizeof(uint64_t))

typedef enum { HANDOFF_MEMCPY, HANDOFF_WORD_PER_PAGE } handoff_kind_t;

static void *map_private(size_t bytes)
{
    void *addr = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (addr == MAP_FAILED) {
        dsm_bench_die("handoff: mmap", DSM_ERR_NO_MEMORY);
    }
    return addr;
}

/* The producer's pattern: every word holds its index plus the pass number. */
static void produce(uint64_t *buffer, size_t pages, uint64_t pass)
{
    for (size_t w = 0; w < pages * WORDS; w++) {
        buffer[w] = w + pass;
    }
}

static void check_word(uint64_t got, size_t w, uint64_t pass)
{
    if (got != w + pass) {
        fprintf(stderr, "handoff: word %zu holds %llu, want %llu\n", w,
                (unsigned long long)got, (unsigned long long)(w + pass));
        exit(1);
    }
}

/* The consumer's read of a produced buffer; returns µs for the whole pass. */
static double consume(handoff_kind_t kind, const volatile uint64_t *buffer, size_t pages,
                      uint64_t pass)
{
    double t0, us;

    if (kind == HANDOFF_MEMCPY) {
        uint64_t *copy = map_private(pages * PAGE);

        memset(copy, 0, pages * PAGE); /* the destination's own faults are not the question */
        t0 = dsm_bench_now_us();
        memcpy(copy, (const void *)buffer, pages * PAGE);
        us = dsm_bench_now_us() - t0;
        for (size_t w = 0; w < pages * WORDS; w += WORDS + 1) {
            check_word(copy[w], w, pass);
        }
        munmap(copy, pages * PAGE);
        return us;
    }
    uint64_t sum = 0, want = 0;

    t0 = dsm_bench_now_us();
    for (size_t p = 0; p < pages; p++) {
        sum += buffer[p * WORDS];
    }
    us = dsm_bench_now_us() - t0;
    for (size_t p = 0; p < pages; p++) {
        want += p * WORDS + pass;
    }
    if (sum != want) {
        fprintf(stderr, "handoff: one word per page summed to %llu, want %llu\n",
                (unsigned long long)sum, (unsigned long long)want);
        exit(1);
    }
    return us;
}

/* One hand-off through dsm: node 1 produces, node 0 consumes (µs, node 0). */
static double dsm_pass(handoff_kind_t kind, size_t pages, uint64_t pass)
{
    uint64_t *buffer = dsm_alloc(pages * PAGE);
    double us = 0;

    if (buffer == NULL) {
        dsm_bench_die("handoff: allocate", dsm_last_error());
    }
    if (dsm_node_id() == 1) {
        produce(buffer, pages, pass);
    }
    dsm_bench_barrier();
    if (dsm_node_id() == 0) {
        us = consume(kind, buffer, pages, pass);
    }
    dsm_bench_barrier();
    dsm_free(buffer);
    return us;
}

/* The same on node 0 alone: a private buffer just written, read the same way. */
static double private_pass(handoff_kind_t kind, size_t pages, uint64_t pass)
{
    uint64_t *buffer = map_private(pages * PAGE);
    double us;

    produce(buffer, pages, pass);
    us = consume(kind, buffer, pages, pass);
    munmap(buffer, pages * PAGE);
    return us;
}

int main(int argc, char **argv)
{
    dsm_bench_opts_t opts = { .iterations = 3, .warmup = 1, .pages = 16384 };
    static const char *const names[2][2] = {
        { "private memcpy (baseline)", "hand-off memcpy, cold (vs private)" },
        { "private one word per page (baseline)", "hand-off one word per page (vs private)" },
    };
    size_t passes;

    dsm_bench_parse(argc, argv, "handoff: a buffer written by node 1, read cold by node 0",
                    NULL, NULL, NULL, &opts);
    dsm_bench_dsm_init(-1);
    if (dsm_num_nodes() < 2) {
        fprintf(stderr, "handoff: needs at least 2 nodes (dsmrun -n 2)\n");
        dsm_finalize();
        return DSM_BENCH_EXIT_SKIP;
    }
    passes = opts.warmup + opts.iterations;
    for (int kind = HANDOFF_MEMCPY; kind <= HANDOFF_WORD_PER_PAGE; kind++) {
        double *priv = calloc(passes, sizeof(double)), *dsm = calloc(passes, sizeof(double));
        dsm_bench_summary_t baseline;

        if (priv == NULL || dsm == NULL) {
            dsm_bench_die("handoff: samples", DSM_ERR_NO_MEMORY);
        }
        for (size_t pass = 0; pass < passes; pass++) { /* alternating, as the machine drifts */
            dsm[pass] = dsm_pass(kind, opts.pages, pass) / (double)opts.pages;
            if (dsm_node_id() == 0) {
                priv[pass] = private_pass(kind, opts.pages, pass) / (double)opts.pages;
            }
        }
        if (dsm_node_id() == 0) {
            /* the warm-up passes are dropped; rows are per page (MB/s from bytes) */
            dsm_bench_row_samples(&opts, names[kind][0], PAGE, priv + opts.warmup,
                                  opts.iterations, NULL, &baseline);
            dsm_bench_row_samples(&opts, names[kind][1], PAGE, dsm + opts.warmup,
                                  opts.iterations, &baseline, NULL);
        }
        free(priv);
        free(dsm);
    }
    if (dsm_node_id() == 0) {
        dsm_bench_note(&opts, "%d nodes; %zu pages (%zu MiB) written by node 1, read by node 0; "
                       "rows per page; %u passes after %u warm-up", dsm_num_nodes(), opts.pages,
                       opts.pages * PAGE >> 20, opts.iterations, opts.warmup);
        dsm_bench_stats_note(&opts, "handoff");
        dsm_bench_finish(&opts);
    }
    return dsm_finalize() == DSM_OK ? 0 : 1;
}
