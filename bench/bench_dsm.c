/* The multi-node benchmark helper: the floor, homes, timed accesses (bench_dsm.h). */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench_dsm.h"
#include "bench_peer.h"
#include "dsm_rt.h"
#include "dsm_tp.h"
#include "dsm_uffd.h"

#define FLOOR_REGION    (64u * 1024u)
#define FLOOR_PAGE      4096u

/* Where the floor's fault handler ran: the other CPU, or the same one when the
 * process may use only one (e.g. mpirun --bind-to core). For the rows' note. */
static int floor_handler_same_cpu;

typedef struct {
    dsm_bench_peer_t peer;
    dsm_tp_rmem_t   *rmem;
    dsm_tp_mem_t    *region, *staging;
} floor_tp_t;

static double *samples_alloc(size_t count)
{
    double *samples = calloc(count, sizeof(*samples));

    if (samples == NULL) {
        dsm_bench_die("samples", DSM_ERR_NO_MEMORY);
    }
    return samples;
}

/* ---- the kernel layer: a fault resolved by a spinning handler on the other CPU ---- */

typedef struct {
    dsm_uffd_t     uffd;
    unsigned char *region, *src;
    size_t         pages;
    int            wp;
    int            cpu;
    atomic_int     stop; /* set by the faulting thread when the run is over */
    size_t         resolved;
} floor_fault_t;

static void pin_to(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *floor_fault_handler(void *arg)
{
    floor_fault_t *f = arg;
    dsm_uffd_event_t events[16];
    dsm_status_t status;
    size_t count;

    pin_to(f->cpu);
    /* relaxed: the flag only ends the loop; the run's data is joined by pthread_join */
    while (!atomic_load_explicit(&f->stop, memory_order_relaxed)) {
        status = dsm_uffd_events_read(&f->uffd, events, 16, &count);
        for (size_t i = 0; status == DSM_OK && i < count; i++) {
            void *page = (void *)events[i].address;

            status = f->wp ? dsm_uffd_wp_clear(&f->uffd, page, FLOOR_PAGE, 0)
                           : dsm_uffd_copy(&f->uffd, page, f->src, FLOOR_PAGE, 0, NULL);
            f->resolved++;
        }
        if (status != DSM_OK) {
            dsm_bench_die("floor: resolve a fault", status);
        }
    }
    return NULL;
}

/* The two CPUs this process may use (the same one twice on a single CPU). */
static void two_cpus(cpu_set_t *saved_p, int *first_p, int *second_p)
{
    int found = 0;

    *first_p = *second_p = 0;
    if (sched_getaffinity(0, sizeof(*saved_p), saved_p) != 0) {
        CPU_ZERO(saved_p);
        CPU_SET(0, saved_p);
    }
    for (int cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++) {
        if (CPU_ISSET(cpu, saved_p)) {
            *(found++ == 0 ? first_p : second_p) = cpu;
        }
    }
    if (found < 2) {
        *second_p = *first_p;
    }
}

/* warmup + iterations faults on fresh pages; the first warmup are not kept. */
static void floor_fault_run(const dsm_bench_opts_t *opts, int wp, dsm_bench_summary_t *summary_p)
{
    size_t count = (size_t)opts->warmup + opts->iterations;
    floor_fault_t f = { .pages = count, .wp = wp };
    size_t bytes = count * FLOOR_PAGE;
    double *samples = samples_alloc(count);
    int app_cpu;
    cpu_set_t saved;
    pthread_t thread;
    dsm_status_t status;

    two_cpus(&saved, &app_cpu, &f.cpu);
    floor_handler_same_cpu = app_cpu == f.cpu;
    status = dsm_uffd_open(DSM_UFFD_FEATURES_REQUIRED, 0, 0, &f.uffd);
    if (status != DSM_OK) {
        dsm_bench_die("floor: open userfaultfd", status);
    }
    f.region = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    f.src = mmap(NULL, FLOOR_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (f.region == MAP_FAILED || f.src == MAP_FAILED) {
        dsm_bench_die("floor: mmap", dsm_status_from_errno(errno));
    }
    memset(f.src, 0x5a, FLOOR_PAGE);
    status = dsm_uffd_range_register(&f.uffd, f.region, bytes,
                                     DSM_UFFD_MODE_MISSING | DSM_UFFD_MODE_WP);
    for (size_t p = 0; wp && status == DSM_OK && p < count; p++) {
        status = dsm_uffd_copy(&f.uffd, f.region + p * FLOOR_PAGE, f.src, FLOOR_PAGE,
                               DSM_UFFD_WP, NULL);
    }
    if (status != DSM_OK) {
        dsm_bench_die("floor: prepare the region", status);
    }
    pin_to(app_cpu);
    if (pthread_create(&thread, NULL, floor_fault_handler, &f) != 0) {
        dsm_bench_die("floor: handler thread", DSM_ERR_NO_MEMORY);
    }
    for (size_t p = 0; p < count; p++) {
        uint64_t *word = (uint64_t *)(f.region + p * FLOOR_PAGE);

        samples[p] = wp ? dsm_bench_time_store(word, p) : dsm_bench_time_load(word, &(uint64_t){0});
    }
    /* relaxed: see floor_fault_handler */
    atomic_store_explicit(&f.stop, 1, memory_order_relaxed);
    pthread_join(thread, NULL);
    pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
    if (f.resolved != count) {
        fprintf(stderr, "bench: floor: %zu faults resolved, expected %zu\n", f.resolved, count);
        exit(1);
    }
    dsm_bench_summarize(samples + opts->warmup, opts->iterations, summary_p);
    free(samples);
    munmap(f.region, bytes);
    munmap(f.src, FLOOR_PAGE);
    dsm_uffd_close(&f.uffd);
}

/* ---- the transport: AM round trip and 4 KiB get, node 0 <-> node 1 ---------- */

static void floor_am_run(floor_tp_t *t, size_t count, dsm_bench_summary_t *summary_p)
{
    double *samples = samples_alloc(count);
    uint64_t word = 0;

    for (size_t i = 0; i < count; i++) {
        double t0 = dsm_bench_now_us();

        dsm_bench_peer_ping(&t->peer, 1, &word, sizeof(word), NULL, 0);
        dsm_bench_peer_poll_until(&t->peer, &t->peer.pongs, (unsigned)i + 1);
        samples[i] = dsm_bench_now_us() - t0;
    }
    dsm_bench_summarize(samples, count, summary_p);
    free(samples);
}

static void floor_get_run(floor_tp_t *t, size_t count, dsm_bench_summary_t *summary_p)
{
    double *samples = samples_alloc(count);
    unsigned char *local = dsm_tp_mem_address(t->staging);

    for (size_t i = 0; i < count; i++) {
        size_t offset = (i % (FLOOR_REGION / FLOOR_PAGE)) * FLOOR_PAGE;
        unsigned target = t->peer.gets_done + 1;
        double t0 = dsm_bench_now_us();

        dsm_bench_peer_get(&t->peer, t->rmem, 1, offset, local, FLOOR_PAGE, t->staging);
        dsm_bench_peer_poll_until(&t->peer, &t->peer.gets_done, target);
        samples[i] = dsm_bench_now_us() - t0;
    }
    dsm_bench_summarize(samples, count, summary_p);
    free(samples);
}

/* Node 0's part: the faults (alone), then the transport with node 1 spinning. */
static void floor_node0(const dsm_bench_opts_t *opts, floor_tp_t *t, dsm_bench_floor_t *floor_p)
{
    dsm_bench_summary_t warm;

    floor_fault_run(opts, 0, &floor_p->missing);
    floor_fault_run(opts, 1, &floor_p->wp);
    dsm_bench_peer_set_phase(&t->peer, 1, DSM_BENCH_PEER_SPIN);
    if (opts->warmup > 0) {
        floor_am_run(t, opts->warmup, &warm);
    }
    floor_am_run(t, opts->iterations, &floor_p->am_rtt);
    if (opts->warmup > 0) {
        floor_get_run(t, opts->warmup, &warm);
    }
    floor_get_run(t, opts->iterations, &floor_p->get);
    for (int node = 1; node < dsm_tp_nnodes(t->peer.tp); node++) {
        dsm_bench_peer_set_phase(&t->peer, node, DSM_BENCH_PEER_DONE);
    }
}

void dsm_bench_floor_measure(const dsm_bench_opts_t *opts, dsm_bench_floor_t *floor_p)
{
    dsm_tp_config_t config = { .spin_us = 50, .tls = getenv("UCX_TLS") };
    floor_tp_t t = {0};
    dsm_boot_t *boot;
    dsm_status_t status;

    memset(floor_p, 0, sizeof(*floor_p));
    if ((status = dsm_boot_init(&boot)) != DSM_OK) {
        dsm_bench_die("floor: bootstrap", status);
    }
    if (dsm_boot_size(boot) < 2) {
        fprintf(stderr, "bench: run with at least 2 nodes (dsmrun -n 2 ...)\n");
        exit(1);
    }
    status = dsm_tp_create(boot, &config, &t.peer.tp);
    if (status == DSM_OK) {
        dsm_bench_peer_register(&t.peer);
        status = dsm_tp_connect(t.peer.tp);
    }
    if (status == DSM_OK &&
        (status = dsm_tp_mem_map(t.peer.tp, NULL, FLOOR_REGION, &t.region)) == DSM_OK &&
        (status = dsm_tp_mem_map(t.peer.tp, NULL, FLOOR_PAGE, &t.staging)) == DSM_OK) {
        memset(dsm_tp_mem_address(t.region), 0x5a, FLOOR_REGION);
        status = dsm_tp_rmem_exchange(t.peer.tp, t.region, &t.rmem);
    }
    if (status != DSM_OK) {
        dsm_bench_die("floor: transport", status);
    }
    if (dsm_tp_node(t.peer.tp) == 0) {
        floor_node0(opts, &t, floor_p);
    } else {
        dsm_bench_peer_serve(&t.peer); /* answer, and spin while node 0 measures */
    }
    dsm_tp_rmem_free(t.rmem);
    dsm_tp_mem_unmap(t.staging);
    dsm_tp_mem_unmap(t.region);
    dsm_tp_destroy(t.peer.tp);
    dsm_boot_fini(boot);
}

void dsm_bench_floor_rows(const dsm_bench_opts_t *opts, const dsm_bench_floor_t *floor)
{
    const char *tls = getenv("UCX_TLS");

    dsm_bench_note(opts, "floor: faulting thread pinned to one CPU, handler thread busy-polling "
                         "the uffd pinned to %s; transport node 0 <-> node 1 (UCX_TLS=%s), both "
                         "busy-polling",
                   floor_handler_same_cpu ? "the SAME CPU (the process may use only one)"
                                          : "the other CPU",
                   tls != NULL ? tls : "UCX default");
    dsm_bench_row(opts, "floor: uffd MISSING + COPY 4K", FLOOR_PAGE, &floor->missing, 0);
    dsm_bench_row(opts, "floor: uffd WP + clear", 0, &floor->wp, 0);
    dsm_bench_row(opts, "floor: AM round trip 8 B", 8, &floor->am_rtt, 0);
    dsm_bench_row(opts, "floor: RMA get 4K", FLOOR_PAGE, &floor->get, 0);
}

void dsm_bench_summary_add(const dsm_bench_summary_t *a, const dsm_bench_summary_t *b,
                           double scale_b, dsm_bench_summary_t *sum_p)
{
    dsm_bench_summary_t sum = {
        .count   = a->count < b->count ? a->count : b->count,
        .min_us  = a->min_us + scale_b * b->min_us,
        .p50_us  = a->p50_us + scale_b * b->p50_us,
        .p99_us  = a->p99_us + scale_b * b->p99_us,
        .mean_us = a->mean_us + scale_b * b->mean_us,
        .max_us  = a->max_us + scale_b * b->max_us,
    };

    *sum_p = sum;
}

void dsm_bench_floor_ops(const dsm_bench_floor_t *floor, dsm_bench_floor_ops_t *ops_p)
{
    dsm_bench_summary_add(&floor->missing, &floor->am_rtt, 1, &ops_p->read_miss);
    dsm_bench_summary_add(&ops_p->read_miss, &floor->get, 1, &ops_p->read_miss);
    dsm_bench_summary_add(&ops_p->read_miss, &floor->am_rtt, 1, &ops_p->recall);
    dsm_bench_summary_add(&ops_p->recall, &floor->get, 1, &ops_p->recall);
    dsm_bench_summary_add(&floor->wp, &floor->am_rtt, 1, &ops_p->upgrade);
}

/* ---- dsm side ------------------------------------------------------------------- */

/* The placement given to dsm_init (< 0: the environment's), for dsm_bench_home. */
static int dsm_bench_placement = -1;

static void dsm_bench_dsm_init_with(dsm_config_t *config, int placement)
{
    dsm_status_t status;

    if (placement >= 0) {
        config->field_mask |= DSM_CONFIG_FIELD_PLACEMENT;
        config->placement = (dsm_placement_t)placement;
    }
    if ((status = dsm_init(config)) != DSM_OK) {
        dsm_bench_die("dsm_init", status);
    }
    dsm_bench_placement = placement;
}

void dsm_bench_dsm_init(int placement)
{
    dsm_config_t config = {0};

    dsm_bench_dsm_init_with(&config, placement);
}

void dsm_bench_dsm_init_single_misses(void)
{
    dsm_config_t config = { .field_mask = DSM_CONFIG_FIELD_READAHEAD, .readahead = 0 };

    dsm_bench_dsm_init_with(&config, -1);
}

int dsm_bench_home(const void *base, size_t bytes, const void *addr)
{
    dsm_rt_config_t config;
    dsm_rt_placement_t pl;
    dsm_status_t status = dsm_rt_config_load(NULL, &config);
    uint64_t first;

    if (status != DSM_OK) {
        dsm_bench_die("configuration", status);
    }
    if (dsm_bench_placement >= 0) {
        config.placement = (dsm_placement_t)dsm_bench_placement;
    }
    if (config.placement == DSM_PLACEMENT_FIRST_TOUCH) {
        return -1; /* decided at run time by the first access */
    }
    first = ((uintptr_t)base - config.arena_address) / DSM_RT_PAGE_SIZE;
    pl = (dsm_rt_placement_t){ config.placement, first,
                               (bytes + DSM_RT_PAGE_SIZE - 1) / DSM_RT_PAGE_SIZE,
                               dsm_num_nodes(), NULL };
    return dsm_rt_placement_home(&pl, ((uintptr_t)addr - config.arena_address) / DSM_RT_PAGE_SIZE);
}

/* Up to max pages of [base, base + bytes) homed at home, in descending
 * address order (see dsm_bench_fresh_pages). */
static size_t dsm_bench_pages_homed_at(void *base, size_t bytes, int home, size_t max,
                                       unsigned char **pages_p)
{
    size_t found = 0;

    for (size_t off = bytes; off >= DSM_RT_PAGE_SIZE && found < max; off -= DSM_RT_PAGE_SIZE) {
        unsigned char *page = (unsigned char *)base + off - DSM_RT_PAGE_SIZE;

        if (dsm_bench_home(base, bytes, page) == home) {
            pages_p[found++] = page;
        }
    }
    return found;
}

unsigned char **dsm_bench_fresh_pages(const char *who, size_t count, int home, void **base_p)
{
    /* Enough pages for count of them to be homed at any one node: cyclic
     * placement deals chunks, and the allocation need not start on one. */
    size_t bytes = (count + 2 * DSM_RT_CHUNK_PAGES) * (size_t)dsm_num_nodes() * DSM_RT_PAGE_SIZE;
    unsigned char *base = dsm_alloc(bytes);
    unsigned char **pages = calloc(count, sizeof(*pages));
    char what[128];

    if (base == NULL || pages == NULL) {
        snprintf(what, sizeof(what), "%s: allocate", who);
        dsm_bench_die(what, base == NULL ? dsm_last_error() : DSM_ERR_NO_MEMORY);
    }
    if (dsm_bench_pages_homed_at(base, bytes, home, count, pages) != count) {
        snprintf(what, sizeof(what), "%s: pages homed at node %d", who, home);
        dsm_bench_die(what, DSM_ERR_STATE);
    }
    *base_p = base;
    return pages;
}

void dsm_bench_fresh_pages_free(void *base, unsigned char **pages)
{
    free(pages);
    dsm_free(base);
}

double dsm_bench_time_load(const volatile uint64_t *addr, uint64_t *value_p)
{
    double t0 = dsm_bench_now_us();

    *value_p = *addr;
    return dsm_bench_now_us() - t0;
}

double dsm_bench_time_store(volatile uint64_t *addr, uint64_t value)
{
    double t0 = dsm_bench_now_us();

    *addr = value;
    return dsm_bench_now_us() - t0;
}

void dsm_bench_barrier(void)
{
    dsm_status_t status = dsm_barrier();

    if (status != DSM_OK) {
        dsm_bench_die("dsm_barrier", status);
    }
}

void dsm_bench_stats_note(const dsm_bench_opts_t *opts, const char *label)
{
    dsm_stats_t s;
    dsm_status_t status = dsm_stats_get(&s);

    if (status != DSM_OK) {
        dsm_bench_die("dsm_stats_get", status);
    }
    dsm_bench_note(opts, "%s: node %d runtime stats: read_misses=%llu read_ahead=%llu "
                         "write_misses=%llu upgrades=%llu upgrades_ahead=%llu faults=%llu "
                         "fault latency (event read -> installed) p50=%.1f us p99=%.1f us",
                   label, dsm_node_id(), (unsigned long long)s.read_misses,
                   (unsigned long long)s.pages_read_ahead, (unsigned long long)s.write_misses,
                   (unsigned long long)s.upgrades, (unsigned long long)s.pages_upgraded_ahead,
                   (unsigned long long)s.faults_resolved, s.fault_latency_p50_us,
                   s.fault_latency_p99_us);
}
