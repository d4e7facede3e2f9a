/*
 * pingpong: two nodes alternately write one page, handing it over with a
 * lock-free flag: node 0 waits for an even counter and writes it + 1, node 1
 * waits for an odd one and writes it + 1. Each sample is one round trip of
 * the page (node 0's write to node 0 seeing node 1's answer), timed by node 0.
 * Two ways to wait, one row each: polling, the node reads its copy until the
 * other node's write invalidates it and the next read misses, yielding the
 * CPU between reads (2 nodes x 2 threads share the cores) and giving up after
 * 10 s; and dsm_wait_until_u64, which sleeps until the copy changes (and lets
 * the service thread answer the other node without being woken).
 * Floor measured in the same run (bench_dsm.h): per round trip the page makes
 * two handovers, each at least an upgrade (WP fault + AM round trip) at the
 * writer and a read miss of a Modified page at the reader (MISSING fault +
 * 2 AM round trips + 2 4 KiB transfers); ratio = dsm p50 / floor p50.
 * Run: dsmrun -n 2 -- pingpong [-i N] [-w N] [--json]
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_dsm.h"

#define PAGE 4096u
#define WAIT_LIMIT_US 10e6

typedef void (*wait_fn_t)(volatile uint64_t *counter, uint64_t want);

/* Wait until the counter holds want (bounded); the read is a plain arena load. */
static void wait_polling(volatile uint64_t *counter, uint64_t want)
{
    double deadline = dsm_bench_now_us() + WAIT_LIMIT_US;

    while (*counter != want) {
        if (dsm_bench_now_us() > deadline) {
            fprintf(stderr, "pingpong: node %d waited 10 s for %llu\n", dsm_node_id(),
                    (unsigned long long)want);
            exit(1);
        }
        sched_yield();
    }
}

static void wait_dsm(volatile uint64_t *counter, uint64_t want)
{
    if (dsm_wait_until_u64(counter, DSM_CMP_EQ, want) != DSM_OK) {
        dsm_bench_die("pingpong: dsm_wait_until_u64", dsm_last_error());
    }
}

/* rounds round trips, the counter going from base; node 0 times each. */
static void play(volatile uint64_t *counter, uint64_t base, size_t rounds, wait_fn_t wait_for,
                 double *samples)
{
    for (size_t r = 0; r < rounds && dsm_node_id() < 2; r++) {
        uint64_t even = base + 2 * r;

        if (dsm_node_id() == 0) {
            double t0 = dsm_bench_now_us();

            wait_for(counter, even);
            *counter = even + 1;
            wait_for(counter, even + 2);
            samples[r] = dsm_bench_now_us() - t0;
        } else {
            wait_for(counter, even + 1);
            *counter = even + 2;
        }
    }
    dsm_bench_barrier();
}

int main(int argc, char **argv)
{
    dsm_bench_opts_t opts = { .iterations = 1000, .warmup = 100 };
    dsm_bench_floor_t floor;
    dsm_bench_floor_ops_t ops;
    dsm_bench_summary_t floor_handover, floor_rt, polled, waited;
    volatile uint64_t *counter;
    size_t rounds;
    double *samples_polled, *samples_waited;

    dsm_bench_parse(argc, argv, "pingpong: one page written alternately by two nodes", NULL,
                    NULL, NULL, &opts);
    rounds = (size_t)opts.warmup + opts.iterations;
    samples_polled = calloc(rounds, sizeof(*samples_polled));
    samples_waited = calloc(rounds, sizeof(*samples_waited));
    if (samples_polled == NULL || samples_waited == NULL) {
        return 1;
    }
    dsm_bench_floor_measure(&opts, &floor);
    dsm_bench_dsm_init(-1);
    if ((counter = dsm_alloc(PAGE)) == NULL) {
        dsm_bench_die("pingpong: allocate", dsm_last_error());
    }
    dsm_bench_barrier();
    play(counter, 0, rounds, wait_polling, samples_polled);
    play(counter, 2 * rounds, rounds, wait_dsm, samples_waited);
    if (dsm_node_id() == 0) {
        /* A hand-over: the reader recalls the writer's page, then upgrades it. */
        dsm_bench_floor_ops(&floor, &ops);
        dsm_bench_summary_add(&ops.recall, &ops.upgrade, 1, &floor_handover);
        dsm_bench_summary_add(&floor_handover, &floor_handover, 1, &floor_rt);
        dsm_bench_summarize(samples_polled + opts.warmup, opts.iterations, &polled);
        dsm_bench_summarize(samples_waited + opts.warmup, opts.iterations, &waited);
        dsm_bench_note(&opts, "%d nodes; the page is homed at node %d", dsm_num_nodes(),
                       dsm_bench_home((const void *)counter, PAGE, (const void *)counter));
        dsm_bench_floor_rows(&opts, &floor);
        dsm_bench_row(&opts, "floor: page round trip (2 handovers)", PAGE, &floor_rt, 0);
        dsm_bench_row(&opts, "pingpong, page round trip (polling)", PAGE, &polled,
                      polled.p50_us / floor_rt.p50_us);
        dsm_bench_row(&opts, "pingpong, page round trip (dsm_wait)", PAGE, &waited,
                      waited.p50_us / floor_rt.p50_us);
        dsm_bench_stats_note(&opts, "pingpong");
        dsm_bench_finish(&opts);
    }
    free(samples_polled);
    free(samples_waited);
    dsm_free((void *)counter);
    return dsm_finalize() == DSM_OK ? 0 : 1;
}
