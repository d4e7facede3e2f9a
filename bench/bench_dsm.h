/*
 * The multi-node benchmark helper (over bench_common): what every benchmark
 * started by dsmrun shares.
 *
 * The floor. Before dsm_init, every node joins a bootstrap of its own and
 * creates a bare transport (dsm_tp_*); node 0 then measures, in the same run
 * and on the same host as the dsm figures that follow:
 *  - the kernel layer's fault round trip with a local page: the faulting
 *    thread pinned to one CPU, a handler thread pinned to the other CPU that
 *    busy-polls the uffd (dsm_uffd_events_read) and resolves with
 *    dsm_uffd_copy (MISSING) or dsm_uffd_wp_clear (WP). That is the placement
 *    the runtime's design can reach (a service thread on the other CPU that
 *    spins), not the fastest one (resolving in the faulting thread);
 *  - the transport's active-message round trip with node 1 (8 B each way,
 *    both sides busy-polling, as the service threads do while spinning);
 *  - the transport's 4 KiB get from node 1's UCX-allocated region.
 * Floors of whole operations are sums of these components (p50 with p50, p99
 * with p99, mean with mean): an optimistic bound, since tails do not add up.
 * The floor uses the UCX_TLS of the environment; set UCX_TLS (run_all.sh does)
 * so that the floor and dsm use the same transports.
 */
#ifndef DSM_BENCH_DSM_H
#define DSM_BENCH_DSM_H

#include <stddef.h>
#include <stdint.h>

#include "bench_common.h"
#include "dsm.h"

typedef struct {
    dsm_bench_summary_t missing; /* uffd MISSING fault + COPY 4 KiB, spinning handler */
    dsm_bench_summary_t wp;      /* uffd WP fault + clear, spinning handler            */
    dsm_bench_summary_t am_rtt;  /* active message 8 B there and back                 */
    dsm_bench_summary_t get;     /* RMA get of 4 KiB + completion                     */
} dsm_bench_floor_t;

/* Exit code for "cannot run here" (ctest's SKIP_RETURN_CODE). */
#define DSM_BENCH_EXIT_SKIP 77

/*
 * Collective over the job, before dsm_init: node 0 measures the floor
 * components (opts->warmup + opts->iterations samples each) and gets them in
 * *floor_p; the other nodes serve node 0 and get zeros. Exits on failure.
 */
void dsm_bench_floor_measure(const dsm_bench_opts_t *opts, dsm_bench_floor_t *floor_p);

/* The component rows (node 0 only), names prefixed "floor: ". */
void dsm_bench_floor_rows(const dsm_bench_opts_t *opts, const dsm_bench_floor_t *floor);

/* *sum_p = a + scale_b * b, component by component (p50, p99, mean, min, max). */
void dsm_bench_summary_add(const dsm_bench_summary_t *a, const dsm_bench_summary_t *b,
                           double scale_b, dsm_bench_summary_t *sum_p);

/* The floors of whole operations: sums of the components (docs/performance.md). */
typedef struct {
    dsm_bench_summary_t read_miss; /* MISSING fault + AM round trip + get          */
    dsm_bench_summary_t recall;    /* read miss + AM round trip + get: a Modified
                                      copy written back first                     */
    dsm_bench_summary_t upgrade;   /* WP fault + AM round trip                      */
} dsm_bench_floor_ops_t;

void dsm_bench_floor_ops(const dsm_bench_floor_t *floor, dsm_bench_floor_ops_t *ops_p);

/* dsm_init with the given placement, or the environment's when placement < 0. */
void dsm_bench_dsm_init(int placement);
/* dsm_init for timing single misses and upgrades (the environment's
 * placement): nothing requested ahead (DSM_READAHEAD 0), whatever the order
 * of the sampled pages, which the read-ahead would otherwise follow (it
 * follows strides up and down, and several streams at once). */
void dsm_bench_dsm_init_single_misses(void);

/* The home node of the page holding addr, in the allocation [base, base + bytes);
 * -1 under first-touch placement, where the first access decides it. */
int dsm_bench_home(const void *base, size_t bytes, const void *addr);

/*
 * Collective: a fresh allocation holding at least count pages homed at home;
 * returns those pages in descending address order, so that faults on them
 * in that order form no run the runtime reads or upgrades ahead along (it
 * follows ascending strides only: every access is one miss), and the
 * allocation in *base_p. Dies naming who on failure. Release with
 * dsm_bench_fresh_pages_free (collective).
 */
unsigned char **dsm_bench_fresh_pages(const char *who, size_t count, int home, void **base_p);
void dsm_bench_fresh_pages_free(void *base, unsigned char **pages);

/* Time one 8-byte load (µs); *value_p receives the value. */
double dsm_bench_time_load(const volatile uint64_t *addr, uint64_t *value_p);
/* Time one 8-byte store (µs). */
double dsm_bench_time_store(volatile uint64_t *addr, uint64_t value);

/* dsm_barrier or exit. */
void dsm_bench_barrier(void);

/* A note with this node's runtime statistics (fault latency event -> install). */
void dsm_bench_stats_note(const dsm_bench_opts_t *opts, const char *label);

#endif /* DSM_BENCH_DSM_H */
