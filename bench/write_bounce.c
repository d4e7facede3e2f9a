/*
 * write_bounce: what a page bouncing between two writers costs.
 *   (a) one bounce: node 0 stores into a page Modified at node 1, one fresh
 *       page per sample (dsm_barrier between phases, never inside the timed
 *       store): write fault, REQ_WRITE, the home invalidates node 1, node 1
 *       write-protects and writes back, ACK, GRANT with data, fetch,
 *       install. Once with the pages homed at node 0 (the writer is the home:
 *       its request and the grant are messages to itself) and once at node 1
 *       (the owner is the home: the invalidation and the write-back are
 *       local), and with 3 nodes or more at node 2 (a home that is neither:
 *       the owner writes back to it, the writer fetches from it). Floor
 *       (bench_dsm.h): a recall (MISSING fault + 2 AM round trips + 2 gets).
 *   (b) false sharing: both nodes store into their own word of one page,
 *       --stores stores per sample, each after --gap iterations of an empty
 *       loop; node 0 times each sample. Baseline in the same run: two threads of this
 *       process doing the same on one private page (the cache line bounces,
 *       not the page). The notes give the bounces per sample (write faults of
 *       node 0) and the stores each bounce carried. DSM_WRITE_HOLD_US decides
 *       how long a node keeps the page it just got (docs/design.md).
 * Run: dsmrun -n 2 (or 3) -- write_bounce [-i N] [-w N] [--stores=N] [--gap=N] [--json]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_dsm.h"

#define PAGE 4096u

typedef struct {
    unsigned stores; /* per sample and node     */
    unsigned gap;    /* computation per store (loop iterations) */
} bounce_opts_t;

static int bounce_option(const char *name, const char *value, void *arg)
{
    bounce_opts_t *bo = arg;
    char *end;
    unsigned long v;

    if (value == NULL) {
        return -1;
    }
    v = strtoul(value, &end, 10);
    if (*end != '\0' || end == value || v > 100000000ul) {
        return -1;
    }
    if (strcmp(name, "stores") == 0 && v > 0) {
        bo->stores = (unsigned)v;
        return 0;
    }
    if (strcmp(name, "gap") == 0) {
        bo->gap = (unsigned)v;
        return 0;
    }
    return -1;
}

/* (a) warmup + iterations stores by node 0 into fresh pages Modified at node 1,
 * homed at home. Node 0 keeps the samples. */
static void bounce_phase(const dsm_bench_opts_t *opts, int home, double *samples)
{
    size_t count = (size_t)opts->warmup + opts->iterations;
    void *base;
    unsigned char **pages = dsm_bench_fresh_pages("write_bounce", count, home, &base);

    for (size_t k = 0; dsm_node_id() == 1 && k < count; k++) {
        ((volatile uint64_t *)pages[k])[1] = k + 1;
    }
    dsm_bench_barrier();
    for (size_t k = 0; dsm_node_id() == 0 && k < count; k++) {
        double us = dsm_bench_time_store((volatile uint64_t *)pages[k], k + 1);

        if (k >= opts->warmup) {
            samples[k - opts->warmup] = us;
        }
    }
    dsm_bench_barrier();
    /* Neither write is lost: node 1 checks both words of a few pages. */
    for (size_t k = 0; dsm_node_id() == 1 && k < count; k += 97) {
        volatile uint64_t *word = (volatile uint64_t *)pages[k];

        if (word[0] != k + 1 || word[1] != k + 1) {
            fprintf(stderr, "write_bounce: page %zu holds %llu %llu, expected %zu\n", k,
                    (unsigned long long)word[0], (unsigned long long)word[1], k + 1);
            exit(1);
        }
    }
    dsm_bench_barrier();
    dsm_bench_fresh_pages_free(base, pages);
}

/* gap iterations of a loop the compiler cannot drop (~1 ns each here): the
 * same work in both forms, whatever the load of the host. */
static void compute(unsigned gap)
{
    for (volatile unsigned i = 0; i < gap; i++) {
    }
}

/* stores stores into *word, each after gap iterations of computation; returns µs. */
static double store_burst(volatile uint64_t *word, unsigned stores, unsigned gap)
{
    double t0 = dsm_bench_now_us();

    for (unsigned s = 0; s < stores; s++) {
        compute(gap);
        *word += 1;
    }
    return dsm_bench_now_us() - t0;
}

/* ---- (b) baseline: two threads of this process, one private page ---------- */

typedef struct {
    volatile uint64_t *words;
    const bounce_opts_t *bo;
    size_t rounds;
    pthread_barrier_t *barrier;
    int id;
    double *samples; /* thread 0 only */
} thread_arg_t;

static void *thread_main(void *arg)
{
    thread_arg_t *t = arg;

    for (size_t r = 0; r < t->rounds; r++) {
        double us;

        pthread_barrier_wait(t->barrier);
        us = store_burst(&t->words[t->id * 2], t->bo->stores, t->bo->gap);
        if (t->id == 0) {
            t->samples[r] = us;
        }
    }
    return NULL;
}

static void threads_phase(const bounce_opts_t *bo, size_t rounds, double *samples)
{
    static uint64_t page[PAGE / sizeof(uint64_t)] __attribute__((aligned(PAGE)));
    pthread_barrier_t barrier;
    pthread_t other;
    thread_arg_t args[2];

    pthread_barrier_init(&barrier, NULL, 2);
    for (int i = 0; i < 2; i++) {
        args[i] = (thread_arg_t){ .words = page, .bo = bo, .rounds = rounds,
                                  .barrier = &barrier, .id = i, .samples = samples };
    }
    if (pthread_create(&other, NULL, thread_main, &args[1]) != 0) {
        fprintf(stderr, "write_bounce: pthread_create failed\n");
        exit(1);
    }
    thread_main(&args[0]);
    pthread_join(other, NULL);
    pthread_barrier_destroy(&barrier);
    if (page[0] != rounds * bo->stores || page[2] != rounds * bo->stores) {
        fprintf(stderr, "write_bounce: threads lost stores\n");
        exit(1);
    }
}

/* ---- (b) dsm: nodes 0 and 1, one shared page --------------------------------- */

static uint64_t write_faults(void)
{
    dsm_stats_t s;

    if (dsm_stats_get(&s) != DSM_OK) {
        dsm_bench_die("write_bounce: dsm_stats_get", dsm_last_error());
    }
    return s.write_misses + s.upgrades;
}

/* Returns node 0's write faults during the timed bursts (0 elsewhere). */
static uint64_t sharing_phase(const bounce_opts_t *bo, size_t rounds, double *samples)
{
    volatile uint64_t *words = dsm_alloc(PAGE);
    int me = dsm_node_id();
    uint64_t faults = 0, before;

    if (words == NULL) {
        dsm_bench_die("write_bounce: allocate", dsm_last_error());
    }
    dsm_bench_barrier();
    for (size_t r = 0; r < rounds; r++) {
        double us = 0;

        dsm_bench_barrier();
        before = write_faults();
        if (me < 2) {
            us = store_burst(&words[me * 2], bo->stores, bo->gap);
        }
        faults += write_faults() - before;
        if (me == 0) {
            samples[r] = us;
        }
    }
    dsm_bench_barrier();
    for (int n = 0; me == 0 && n < 2; n++) {
        if (words[n * 2] != rounds * bo->stores) {
            fprintf(stderr, "write_bounce: node %d's word is %llu, expected %zu\n", n,
                    (unsigned long long)words[n * 2], rounds * bo->stores);
            exit(1);
        }
    }
    dsm_bench_barrier();
    dsm_free((void *)words);
    return me == 0 ? faults : 0;
}

int main(int argc, char **argv)
{
    dsm_bench_opts_t opts = { .iterations = 300, .warmup = 30 };
    bounce_opts_t bo = { .stores = 1000, .gap = 500 };
    dsm_bench_floor_t floor;
    dsm_bench_floor_ops_t ops;
    dsm_bench_summary_t base_sum;
    double *samples[3], *threads, *shared;
    size_t rounds;
    uint64_t faults;

    dsm_bench_parse(argc, argv, "write_bounce: a page written by two nodes",
                    "  --stores=N   stores per node and sample in (b) (1000)\n"
                    "  --gap=N      loop iterations of computation before each store in (b) (500)\n",
                    bounce_option, &bo, &opts);
    rounds = (size_t)opts.warmup + opts.iterations;
    samples[0] = calloc(opts.iterations, sizeof(double));
    samples[1] = calloc(opts.iterations, sizeof(double));
    samples[2] = calloc(opts.iterations, sizeof(double));
    threads = calloc(rounds, sizeof(double));
    shared = calloc(rounds, sizeof(double));
    if (!samples[0] || !samples[1] || !samples[2] || !threads || !shared) {
        return 1;
    }
    dsm_bench_floor_measure(&opts, &floor);
    dsm_bench_dsm_init(-1);
    if (dsm_num_nodes() < 2) {
        fprintf(stderr, "write_bounce: needs 2 nodes\n");
        return DSM_BENCH_EXIT_SKIP;
    }
    dsm_bench_floor_ops(&floor, &ops);
    bounce_phase(&opts, 0, samples[0]);
    bounce_phase(&opts, 1, samples[1]);
    if (dsm_num_nodes() >= 3) {
        bounce_phase(&opts, 2, samples[2]);
    }
    if (dsm_node_id() == 0) {
        threads_phase(&bo, rounds, threads);
    }
    faults = sharing_phase(&bo, rounds, shared);
    if (dsm_node_id() == 0) {
        dsm_bench_note(&opts, "%d nodes; (b) %u stores per node and sample, each after %u "
                       "loop iterations", dsm_num_nodes(), bo.stores, bo.gap);
        dsm_bench_floor_rows(&opts, &floor);
        dsm_bench_row(&opts, "floor: recall (fault+2 AM+2 get)", PAGE, &ops.recall, 0);
        dsm_bench_row_samples(&opts, "bounce, home = writer", PAGE, samples[0],
                              opts.iterations, &ops.recall, NULL);
        dsm_bench_row_samples(&opts, "bounce, home = owner", PAGE, samples[1],
                              opts.iterations, &ops.recall, NULL);
        if (dsm_num_nodes() >= 3) {
            dsm_bench_row_samples(&opts, "bounce, home = a third node", PAGE, samples[2],
                                  opts.iterations, &ops.recall, NULL);
        }
        dsm_bench_row_samples(&opts, "false sharing, 2 threads", 0, threads + opts.warmup,
                              opts.iterations, NULL, &base_sum);
        dsm_bench_row_samples(&opts, "false sharing, 2 nodes", 0, shared + opts.warmup,
                              opts.iterations, &base_sum, NULL);
        dsm_bench_note(&opts, "false sharing: node 0 took %.1f write faults per sample, "
                       "%.0f stores per fault", (double)faults / (double)rounds,
                       faults ? (double)rounds * bo.stores / (double)faults : 0.0);
        dsm_bench_stats_note(&opts, "write_bounce");
        dsm_bench_finish(&opts);
    }
    for (int i = 0; i < 3; i++) {
        free(samples[i]);
    }
    free(threads);
    free(shared);
    return dsm_finalize() == DSM_OK ? 0 : 1;
}
