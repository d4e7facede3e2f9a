/*
 * read_miss: the cost of reading a page homed at another node, timed in the
 * reading thread of node 0, one fresh page per sample (dsm_barrier between
 * phases, never inside the timed access):
 *   (a) the page is Uncached at its home, node 1 (nobody touched it);
 *   (b) the page is Modified at a third node, node 2 (3+ nodes): the home
 *       recalls it (downgrade and write-back) before it grants.
 * Floors measured in the same run (bench_dsm.h): (a) uffd MISSING fault round
 * trip + AM round trip + 4 KiB get; (b) that + one more AM round trip and one
 * more 4 KiB transfer (the recall). The ratio column is dsm p50 / floor p50.
 * Run: dsmrun -n 3 -- read_miss [-i N] [-w N] [--json]
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench_dsm.h"

#define PAGE 4096u

/*
 * warmup + iterations reads on fresh pages homed at node 1; owner >= 0 writes
 * them first (Modified there). Node 0 keeps the samples after the warm-up.
 */
static void read_phase(const dsm_bench_opts_t *opts, int owner, double *samples)
{
    size_t count = (size_t)opts->warmup + opts->iterations;
    void *base;
    unsigned char **pages = dsm_bench_fresh_pages("read_miss", count, 1, &base);

    if (dsm_node_id() == owner) {
        for (size_t k = 0; k < count; k++) {
            *(volatile uint64_t *)pages[k] = k + 1;
        }
    }
    dsm_bench_barrier();
    if (dsm_node_id() == 0) {
        for (size_t k = 0; k < count; k++) {
            uint64_t value;
            double us = dsm_bench_time_load((volatile uint64_t *)pages[k], &value);

            if (value != (owner >= 0 ? k + 1 : 0)) {
                fprintf(stderr, "read_miss: page %zu holds %llu\n", k, (unsigned long long)value);
                exit(1);
            }
            if (k >= opts->warmup) {
                samples[k - opts->warmup] = us;
            }
        }
    }
    dsm_bench_barrier();
    dsm_bench_fresh_pages_free(base, pages);
}

int main(int argc, char **argv)
{
    dsm_bench_opts_t opts = { .iterations = 1000, .warmup = 100 };
    dsm_bench_floor_t floor;
    dsm_bench_floor_ops_t ops;
    double *samples;

    dsm_bench_parse(argc, argv, "read_miss: dsm read miss vs its floor", NULL, NULL, NULL,
                    &opts);
    if ((samples = calloc(opts.iterations, sizeof(*samples))) == NULL) {
        return 1;
    }
    dsm_bench_floor_measure(&opts, &floor);
    dsm_bench_dsm_init_single_misses();
    dsm_bench_floor_ops(&floor, &ops);

    read_phase(&opts, -1, samples);
    if (dsm_node_id() == 0) {
        dsm_bench_note(&opts, "%d nodes; page homed at node 1, read by node 0", dsm_num_nodes());
        dsm_bench_floor_rows(&opts, &floor);
        dsm_bench_row(&opts, "floor: read miss (fault+AM+get)", PAGE, &ops.read_miss, 0);
        dsm_bench_row_samples(&opts, "read miss, Uncached at home", PAGE, samples,
                              opts.iterations, &ops.read_miss, NULL);
    }
    if (dsm_num_nodes() >= 3) {
        read_phase(&opts, 2, samples);
        if (dsm_node_id() == 0) {
            dsm_bench_row(&opts, "floor: recall (fault+2AM+2get)", PAGE, &ops.recall, 0);
            dsm_bench_row_samples(&opts, "read miss, Modified at node 2", PAGE, samples,
                                  opts.iterations, &ops.recall, NULL);
        }
    } else if (dsm_node_id() == 0) {
        dsm_bench_note(&opts, "Modified-at-a-third-node case skipped: needs 3 nodes");
    }
    if (dsm_node_id() == 0) {
        dsm_bench_stats_note(&opts, "read_miss");
        dsm_bench_finish(&opts);
    }
    free(samples);
    if (dsm_finalize() != DSM_OK) {
        return 1;
    }
    return 0;
}
