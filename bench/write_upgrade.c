/*
 * write_upgrade: the cost of a write, timed in the writing thread of node 0,
 * one fresh page per sample (dsm_barrier between phases, never inside the
 * timed access), pages homed at node 1:
 *   (a) write miss: the page is Uncached at its home (nobody touched it);
 *   (b) upgrade: every node read the page first (Shared by the N-1 other
 *       nodes and node 0), so node 0's write is a WP fault whose grant waits
 *       for N-1 invalidations. Run with 2, 4, 8 nodes for 1, 3, 7 sharers.
 * Floors measured in the same run (bench_dsm.h): (a) uffd MISSING fault
 * round trip + AM round trip + 4 KiB get; (b) uffd WP fault round trip + AM
 * round trip. The ratio column is dsm p50 / floor p50.
 * Run: dsmrun -n 2 -- write_upgrade [-i N] [-w N] [--json]
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench_dsm.h"

#define PAGE 4096u

/*
 * warmup + iterations writes by node 0 on fresh pages homed at node 1;
 * shared: every node reads them first. Node 0 keeps the samples.
 */
static void write_phase(const dsm_bench_opts_t *opts, int shared, double *samples)
{
    size_t count = (size_t)opts->warmup + opts->iterations;
    void *base;
    unsigned char **pages = dsm_bench_fresh_pages("write_upgrade", count, 1, &base);
    uint64_t value;

    for (size_t k = 0; shared && k < count; k++) {
        value = *(volatile uint64_t *)pages[k];
    }
    dsm_bench_barrier();
    if (dsm_node_id() == 0) {
        for (size_t k = 0; k < count; k++) {
            double us = dsm_bench_time_store((volatile uint64_t *)pages[k], k + 1);

            if (k >= opts->warmup) {
                samples[k - opts->warmup] = us;
            }
        }
    }
    dsm_bench_barrier();
    /* The writes are visible everywhere after the barrier: check a few at node 1. */
    for (size_t k = 0; dsm_node_id() == 1 && k < count; k += 97) {
        if ((value = *(volatile uint64_t *)pages[k]) != k + 1) {
            fprintf(stderr, "write_upgrade: page %zu holds %llu\n", k, (unsigned long long)value);
            exit(1);
        }
    }
    dsm_bench_barrier();
    dsm_bench_fresh_pages_free(base, pages);
}

int main(int argc, char **argv)
{
    dsm_bench_opts_t opts = { .iterations = 500, .warmup = 50 };
    dsm_bench_floor_t floor;
    dsm_bench_floor_ops_t ops;
    char name[64];
    double *samples;

    dsm_bench_parse(argc, argv, "write_upgrade: dsm write miss and upgrade vs their floors",
                    NULL, NULL, NULL, &opts);
    if ((samples = calloc(opts.iterations, sizeof(*samples))) == NULL) {
        return 1;
    }
    dsm_bench_floor_measure(&opts, &floor);
    dsm_bench_dsm_init_single_misses();
    dsm_bench_floor_ops(&floor, &ops);

    write_phase(&opts, 0, samples);
    if (dsm_node_id() == 0) {
        dsm_bench_note(&opts, "%d nodes; pages homed at node 1, written by node 0",
                       dsm_num_nodes());
        dsm_bench_floor_rows(&opts, &floor);
        dsm_bench_row(&opts, "floor: write miss (fault+AM+get)", PAGE, &ops.read_miss, 0);
        dsm_bench_row_samples(&opts, "write miss, Uncached at home", PAGE, samples,
                              opts.iterations, &ops.read_miss, NULL);
    }
    write_phase(&opts, 1, samples);
    if (dsm_node_id() == 0) {
        dsm_bench_row(&opts, "floor: upgrade (WP fault+AM)", PAGE, &ops.upgrade, 0);
        snprintf(name, sizeof(name), "upgrade, Shared by %d other node%s", dsm_num_nodes() - 1,
                 dsm_num_nodes() > 2 ? "s" : "");
        dsm_bench_row_samples(&opts, name, PAGE, samples,
                              opts.iterations, &ops.upgrade, NULL);
        dsm_bench_stats_note(&opts, "write_upgrade");
        dsm_bench_finish(&opts);
    }
    free(samples);
    return dsm_finalize() == DSM_OK ? 0 : 1;
}
