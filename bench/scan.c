/*
 * scan: node 0 reads a large array homed at node 1 (placement blocked, so
 * the second block of the allocation is node 1's), -p pages of it:
 *   - sequential scan, every 8-byte word (µs per page, MB/s), cold (a fresh
 *     allocation: every page Uncached at the home) and warm (the same pass
 *     again: every page already Shared at node 0);
 *   - random 8-byte reads, one per page on average (ops/s), cold and warm.
 * Each of -i passes uses a fresh allocation. Baselines measured in the same
 * run: the same passes over private memory of node 0 (cold = first touch of
 * a fresh anonymous mapping, warm = present pages), and the read-miss floor
 * (bench_dsm.h) per page. Ratios: warm rows / private warm; cold scan / floor
 * per page; cold random / private cold.
 * Run: dsmrun -n 2 -- scan [-p pages] [-i passes] [--json]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench_dsm.h"

#define PAGE  4096u
#define WORDS (PAGE / sizeof(uint64_t))

typedef struct {
    double *scan_cold, *scan_warm, *rand_cold, *rand_warm; /* one sample per pass */
} scan_samples_t;

/* The sum of every word; µs per page in *us_p. */
static uint64_t scan_pass(const volatile uint64_t *array, size_t pages, double *us_p)
{
    double t0 = dsm_bench_now_us();
    uint64_t sum = 0;

    for (size_t w = 0; w < pages * WORDS; w++) {
        sum += array[w];
    }
    *us_p = (dsm_bench_now_us() - t0) / (double)pages;
    return sum;
}

/* pages reads at pseudo-random words (xorshift, fixed seed); µs per read in *us_p. */
static uint64_t random_pass(const volatile uint64_t *array, size_t pages, double *us_p)
{
    uint64_t x = 88172645463325252ull, sum = 0;
    double t0 = dsm_bench_now_us();

    for (size_t r = 0; r < pages; r++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sum += array[x % (pages * WORDS)];
    }
    *us_p = (dsm_bench_now_us() - t0) / (double)pages;
    return sum;
}

static void check_zero(uint64_t sum, const char *what)
{
    if (sum != 0) {
        fprintf(stderr, "scan: %s read non-zero data from a fresh allocation\n", what);
        exit(1);
    }
}

/* One pass of each kind over fresh dsm allocations (node 0 measures). */
static void dsm_pass(size_t pages, size_t pass, scan_samples_t *s)
{
    size_t bytes = (size_t)dsm_num_nodes() * pages * PAGE;

    for (int kind = 0; kind < 2; kind++) {
        unsigned char *base = dsm_alloc(bytes);
        const volatile uint64_t *remote = (const volatile uint64_t *)(base + pages * PAGE);

        if (base == NULL) {
            dsm_bench_die("scan: allocate", dsm_last_error());
        }
        if (dsm_bench_home(base, bytes, (const void *)remote) != 1) {
            dsm_bench_die("scan: the second block is not homed at node 1", DSM_ERR_STATE);
        }
        dsm_bench_barrier();
        if (dsm_node_id() == 0 && kind == 0) {
            check_zero(scan_pass(remote, pages, &s->scan_cold[pass]), "cold scan");
            check_zero(scan_pass(remote, pages, &s->scan_warm[pass]), "warm scan");
        } else if (dsm_node_id() == 0) {
            check_zero(random_pass(remote, pages, &s->rand_cold[pass]), "cold random");
            check_zero(random_pass(remote, pages, &s->rand_warm[pass]), "warm random");
        }
        dsm_bench_barrier();
        dsm_free(base);
    }
}

/* The same passes over private memory: first touch (read) of a fresh mapping, then warm. */
static void private_pass(size_t pages, size_t pass, scan_samples_t *s)
{
    for (int kind = 0; kind < 2; kind++) {
        uint64_t *array = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (array == MAP_FAILED) {
            dsm_bench_die("scan: mmap", DSM_ERR_NO_MEMORY);
        }
        check_zero(kind == 0 ? scan_pass(array, pages, &s->scan_cold[pass])
                             : random_pass(array, pages, &s->rand_cold[pass]), "private");
        /* Not timed: a read maps the shared zero page; give every page its own
         * frame, as dsm's installed pages have, so warm passes compare alike. */
        memset(array, 0, pages * PAGE);
        check_zero(kind == 0 ? scan_pass(array, pages, &s->scan_warm[pass])
                             : random_pass(array, pages, &s->rand_warm[pass]), "private");
        munmap(array, pages * PAGE);
    }
}

static void samples_init(size_t passes, scan_samples_t *s)
{
    double **all[] = { &s->scan_cold, &s->scan_warm, &s->rand_cold, &s->rand_warm };

    for (size_t i = 0; i < 4; i++) {
        if ((*all[i] = calloc(passes, sizeof(double))) == NULL) {
            dsm_bench_die("scan: samples", DSM_ERR_NO_MEMORY);
        }
    }
}

static void row(const dsm_bench_opts_t *opts, const char *name, size_t bytes, double *samples,
                const dsm_bench_summary_t *baseline, dsm_bench_summary_t *summary_p)
{
    dsm_bench_summarize(samples, opts->iterations, summary_p);
    dsm_bench_row(opts, name, bytes, summary_p,
                  baseline != NULL ? summary_p->p50_us / baseline->p50_us : 0);
}

int main(int argc, char **argv)
{
    dsm_bench_opts_t opts = { .iterations = 3, .warmup = 1, .pages = 4096 };
    dsm_bench_opts_t floor_opts;
    dsm_bench_floor_t floor;
    dsm_bench_floor_ops_t ops;
    dsm_bench_summary_t p_sc, p_sw, p_rc, p_rw, s;
    scan_samples_t dsm_s, priv_s;

    dsm_bench_parse(argc, argv, "scan: a large remote-homed array, sequential and random",
                    NULL, NULL, NULL, &opts);
    samples_init(opts.warmup + opts.iterations, &dsm_s);
    samples_init(opts.warmup + opts.iterations, &priv_s);
    floor_opts = opts;
    floor_opts.iterations = 1000;
    floor_opts.warmup = 100;
    dsm_bench_floor_measure(&floor_opts, &floor);
    dsm_bench_dsm_init(DSM_PLACEMENT_BLOCKED);
    for (size_t pass = 0; pass < opts.warmup + opts.iterations; pass++) {
        dsm_pass(opts.pages, pass, &dsm_s);
        if (dsm_node_id() == 0) {
            private_pass(opts.pages, pass, &priv_s);
        }
    }
    if (dsm_node_id() == 0) {
        dsm_bench_floor_ops(&floor, &ops);
        dsm_bench_note(&opts, "%d nodes, placement blocked; %zu pages (%zu MiB) homed at node 1, "
                       "read by node 0; scan rows are per page, random rows per 8-byte read; "
                       "%u passes after %u warm-up", dsm_num_nodes(), opts.pages,
                       opts.pages * PAGE >> 20, opts.iterations, opts.warmup);
        dsm_bench_floor_rows(&floor_opts, &floor);
        dsm_bench_row(&opts, "floor: read miss per page", PAGE, &ops.read_miss, 0);
        /* the warm-up passes are dropped from every series */
        size_t w = opts.warmup;

        row(&opts, "private scan, first touch", PAGE, priv_s.scan_cold + w, NULL, &p_sc);
        row(&opts, "private scan, warm", PAGE, priv_s.scan_warm + w, NULL, &p_sw);
        row(&opts, "private random 8B, first touch", 8, priv_s.rand_cold + w, NULL, &p_rc);
        row(&opts, "private random 8B, warm", 8, priv_s.rand_warm + w, NULL, &p_rw);
        row(&opts, "dsm scan, cold (vs floor)", PAGE, dsm_s.scan_cold + w, &ops.read_miss, &s);
        row(&opts, "dsm scan, warm (vs private)", PAGE, dsm_s.scan_warm + w, &p_sw, &s);
        row(&opts, "dsm random 8B, cold (vs private)", 8, dsm_s.rand_cold + w, &p_rc, &s);
        row(&opts, "dsm random 8B, warm (vs private)", 8, dsm_s.rand_warm + w, &p_rw, &s);
        dsm_bench_stats_note(&opts, "scan");
        dsm_bench_finish(&opts);
    }
    return dsm_finalize() == DSM_OK ? 0 : 1;
}
