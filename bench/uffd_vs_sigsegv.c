/*
 * uffd_vs_sigsegv - the comparison the userfaultfd design was made for.
 *
 * Per-fault cost over -p pages, -i rounds (after -w warm-up rounds):
 *   (a) MISSING fault resolved by UFFDIO_COPY of 4 KiB from a handler thread
 *   (b) WP fault resolved by UFFDIO_WRITEPROTECT (clear) from a handler thread
 *   (c) PROT_NONE page, SIGSEGV handler does mprotect(RW) + copy of 4 KiB
 *   (d) PROT_READ page, write -> SIGSEGV handler does mprotect(RW)
 *   (e), (f) as (a), (b) with UFFD_FEATURE_SIGBUS: the faulting thread itself
 *       resolves in its SIGBUS handler (no handler thread, no wake-up)
 * The faulting thread is pinned to one CPU. The uffd handler thread sleeps in
 * poll() on another CPU or the same one, or spins on poll(0) on another CPU
 * (bounded by the run: it stops with the variant); the signal handlers
 * run in the faulting thread itself. (a), (e) are compared with (c); (b), (f)
 * with (d).
 *
 * Then the VMA count after putting every other page of a --region-mib region
 * into a different state: with mprotect (PROT_READ on every other page) and
 * with UFFDIO_WRITEPROTECT. mprotect splits the VMA at each call and fails
 * with ENOMEM once the process reaches vm.max_map_count; userfaultfd keeps
 * the region one VMA.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench_common.h"
#include "dsm_common.h"
#include "dsm_uffd.h"

#define BENCH_ROW_NAME_MAX 64

/* Every fault here is a user-mode access, so a user-mode-only uffd measures the same. */
#define BENCH_UFFD_OPEN_FLAGS DSM_UFFD_OPEN_ALLOW_USER_MODE_ONLY

/* Exit code for "cannot run here" (ctest's SKIP_RETURN_CODE in tests/). */
#define BENCH_EXIT_SKIP 77

typedef struct {
    size_t region_mib;
} bench_config_t;

static size_t page_size;

/* ---- small helpers ------------------------------------------------------ */

static void die(const char *what)
{
    fprintf(stderr, "uffd_vs_sigsegv: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void die_status(const char *what, dsm_status_t status)
{
    fprintf(stderr, "uffd_vs_sigsegv: %s: %s\n", what, dsm_strerror(status));
    exit(1);
}

static void *map_region(size_t bytes, int prot)
{
    void *addr = mmap(NULL, bytes, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (addr == MAP_FAILED) {
        die("mmap");
    }
    return addr;
}

/* Pin the calling or given thread to one CPU; returns 0 if that CPU is not usable. */
static int pin_thread(pthread_t thread, int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(thread, sizeof(set), &set) == 0;
}

/* The first two CPUs this process may run on (second = first when only one). */
static void usable_cpus(int *first_p, int *second_p)
{
    cpu_set_t set;
    int found = 0;

    *first_p = *second_p = 0;
    if (sched_getaffinity(0, sizeof(set), &set) != 0) {
        return;
    }
    for (int cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++) {
        if (CPU_ISSET(cpu, &set)) {
            *(found++ == 0 ? first_p : second_p) = cpu;
        }
    }
    if (found == 1) {
        *second_p = *first_p;
    }
}

/* The VMAs covering a range, -1 if they cannot be counted (possible at the VMA limit). */
static long vma_count(const void *start, size_t len)
{
    size_t count;

    return dsm_uffd_range_vmas(start, len, &count) == DSM_OK ? (long)count : -1;
}

/* ---- what every variant shares --------------------------------------------- */

#define BENCH_FILL 0xa5 /* the content of every installed page */

/*
 * Touch every page once, reading (and checking) or writing it, and record the
 * time of each access in samples_us (NULL: a warm-up round, not recorded).
 */
static void time_touches(unsigned char *region, size_t pages, int write, double *samples_us)
{
    for (size_t p = 0; p < pages; p++) {
        volatile unsigned char *addr = region + p * page_size;
        double t0 = dsm_bench_now_us();

        if (write) {
            *addr = 1;
        } else if (*addr != BENCH_FILL) {
            fprintf(stderr, "uffd_vs_sigsegv: wrong data after the fault\n");
            exit(1);
        }
        if (samples_us != NULL) {
            samples_us[p] = dsm_bench_now_us() - t0;
        }
    }
}

/* A registered region and the page that resolving copies in. */
typedef struct {
    dsm_uffd_t     uffd;
    unsigned char *region;
    unsigned char *src;
    size_t         pages;
    int            wp; /* 0: MISSING faults on reads, 1: WP faults on writes */
} uffd_region_t;

static void uffd_region_open(const dsm_bench_opts_t *opts, int wp, uint64_t extra_features,
                             uffd_region_t *r)
{
    dsm_status_t status;

    status = dsm_uffd_open(DSM_UFFD_FEATURES_REQUIRED | extra_features, 0,
                           BENCH_UFFD_OPEN_FLAGS, &r->uffd);
    if (status != DSM_OK) {
        die_status("open userfaultfd", status);
    }
    r->pages = opts->pages;
    r->wp = wp;
    r->region = map_region(r->pages * page_size, PROT_READ | PROT_WRITE);
    r->src = map_region(page_size, PROT_READ | PROT_WRITE);
    memset(r->src, BENCH_FILL, page_size);
    status = dsm_uffd_range_register(&r->uffd, r->region, r->pages * page_size,
                                     DSM_UFFD_MODE_MISSING | (wp ? DSM_UFFD_MODE_WP : 0));
    if (status != DSM_OK) {
        die_status("register", status);
    }
}

/* Set-up of a round, not timed: every page absent, or present and write-protected. */
static void uffd_region_prepare(uffd_region_t *r)
{
    dsm_status_t status = dsm_uffd_zap(r->region, r->pages * page_size);

    for (size_t p = 0; r->wp && status == DSM_OK && p < r->pages; p++) {
        status = dsm_uffd_copy(&r->uffd, r->region + p * page_size, r->src, page_size,
                               DSM_UFFD_WP, NULL);
    }
    if (status != DSM_OK) {
        die_status("prepare the region", status);
    }
}

/* Resolve the fault on page: COPY it in, or clear its write protection. */
static dsm_status_t uffd_region_resolve(const uffd_region_t *r, void *page, unsigned flags)
{
    return r->wp ? dsm_uffd_wp_clear(&r->uffd, page, page_size, flags)
                 : dsm_uffd_copy(&r->uffd, page, r->src, page_size, flags, NULL);
}

static void uffd_region_close(uffd_region_t *r)
{
    munmap(r->region, r->pages * page_size);
    munmap(r->src, page_size);
    dsm_uffd_close(&r->uffd);
}

/* Every round of a variant, samples_us gets pages * iterations samples. */
static void run_rounds(const dsm_bench_opts_t *opts, uffd_region_t *r, double *samples_us)
{
    for (unsigned round = 0; round < opts->warmup + opts->iterations; round++) {
        uffd_region_prepare(r);
        time_touches(r->region, r->pages, r->wp,
                     round < opts->warmup ? NULL
                                          : samples_us + (round - opts->warmup) * r->pages);
    }
}

static void check_resolved(size_t resolved, const dsm_bench_opts_t *opts)
{
    size_t expected = (size_t)(opts->warmup + opts->iterations) * opts->pages;

    if (resolved != expected) {
        fprintf(stderr, "uffd_vs_sigsegv: %zu faults resolved, expected %zu\n", resolved,
                expected);
        exit(1);
    }
}

/* ---- (a), (b): a userfaultfd handler thread --------------------------------- */

typedef struct {
    const uffd_region_t *r;
    int                  stop_fd; /* eventfd: stop the handler */
    int                  cpu;
    int                  spin;    /* poll without sleeping (bounded by the run) */
    size_t               resolved;
} uffd_handler_t;

static void *uffd_handler_main(void *arg)
{
    uffd_handler_t *h = arg;
    dsm_uffd_event_t events[64];

    pin_thread(pthread_self(), h->cpu);
    for (;;) {
        struct pollfd fds[2] = {{.fd = h->r->uffd.fd, .events = POLLIN},
                                {.fd = h->stop_fd, .events = POLLIN}};
        size_t count = 0;
        dsm_status_t status;

        int ready = poll(fds, 2, h->spin ? 0 : -1);

        if (ready < 0 && errno != EINTR) {
            die("poll");
        }
        if (ready <= 0) {
            continue; /* spinning (or EINTR): look again */
        }
        if (fds[1].revents & POLLIN) {
            return NULL;
        }
        if ((status = dsm_uffd_events_read(&h->r->uffd, events, 64, &count)) != DSM_OK) {
            die_status("read events", status);
        }
        for (size_t i = 0; i < count; i++) {
            if ((status = uffd_region_resolve(h->r, (void *)events[i].address, 0)) != DSM_OK) {
                die_status("resolve", status);
            }
            h->resolved++;
        }
    }
}

static void run_uffd_thread(const dsm_bench_opts_t *opts, int wp, int handler_cpu, int spin,
                            double *samples_us)
{
    uffd_handler_t handler = {.cpu = handler_cpu, .spin = spin};
    uffd_region_t r;
    pthread_t thread;
    uint64_t one = 1;

    uffd_region_open(opts, wp, 0, &r);
    handler.r = &r;
    if ((handler.stop_fd = eventfd(0, EFD_CLOEXEC)) < 0) {
        die("eventfd");
    }
    if (pthread_create(&thread, NULL, uffd_handler_main, &handler) != 0) {
        die("pthread_create");
    }
    run_rounds(opts, &r, samples_us);
    if (write(handler.stop_fd, &one, sizeof(one)) != sizeof(one)) {
        die("eventfd write");
    }
    pthread_join(thread, NULL);
    check_resolved(handler.resolved, opts);
    close(handler.stop_fd);
    uffd_region_close(&r);
}

/* ---- (e), (f): UFFD_FEATURE_SIGBUS, resolved in the faulting thread ---------- */

static const uffd_region_t *sigbus_region;
static size_t sigbus_resolved;

static void sigbus_handler(int sig, siginfo_t *info, void *context)
{
    void *page = (void *)((uintptr_t)info->si_addr & ~(page_size - 1));

    (void)sig;
    (void)context;
    /* nobody waits in SIGBUS mode, so there is nobody to wake */
    if (uffd_region_resolve(sigbus_region, page, DSM_UFFD_DONTWAKE) != DSM_OK) {
        abort(); /* the access would fault forever */
    }
    sigbus_resolved++;
}

static void run_uffd_sigbus(const dsm_bench_opts_t *opts, int wp, double *samples_us)
{
    struct sigaction action = {.sa_sigaction = sigbus_handler, .sa_flags = SA_SIGINFO};
    struct sigaction previous;
    uffd_region_t r;

    uffd_region_open(opts, wp, UFFD_FEATURE_SIGBUS, &r);
    sigbus_region = &r;
    sigbus_resolved = 0;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGBUS, &action, &previous) != 0) {
        die("sigaction");
    }
    run_rounds(opts, &r, samples_us);
    sigaction(SIGBUS, &previous, NULL);
    check_resolved(sigbus_resolved, opts);
    uffd_region_close(&r);
}

/* ---- (c), (d): mprotect and a SIGSEGV handler ------------------------------- */

static unsigned char *segv_src; /* (c): the page copied in; NULL for (d) */
static size_t segv_resolved;

static void segv_handler(int sig, siginfo_t *info, void *context)
{
    void *page = (void *)((uintptr_t)info->si_addr & ~(page_size - 1));

    (void)sig;
    (void)context;
    if (mprotect(page, page_size, PROT_READ | PROT_WRITE) != 0) {
        abort(); /* the access would fault forever */
    }
    if (segv_src != NULL) {
        memcpy(page, segv_src, page_size);
    }
    segv_resolved++;
}

/* (c) when copy, else (d), timed like the uffd variants, in the faulting thread. */
static void run_sigsegv(const dsm_bench_opts_t *opts, int copy, double *samples_us)
{
    size_t pages = opts->pages, bytes = pages * page_size;
    struct sigaction action = {.sa_sigaction = segv_handler, .sa_flags = SA_SIGINFO};
    struct sigaction previous;
    unsigned char *region;

    region = map_region(bytes, PROT_READ | PROT_WRITE);
    segv_src = copy ? map_region(page_size, PROT_READ | PROT_WRITE) : NULL;
    if (copy) {
        memset(segv_src, BENCH_FILL, page_size);
    }
    segv_resolved = 0;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGSEGV, &action, &previous) != 0) {
        die("sigaction");
    }
    for (unsigned round = 0; round < opts->warmup + opts->iterations; round++) {
        /* set-up, not timed: (c) every page absent and PROT_NONE, (d) present, PROT_READ */
        if (copy) {
            madvise(region, bytes, MADV_DONTNEED);
        } else {
            memset(region, 0, bytes);
        }
        if (mprotect(region, bytes, copy ? PROT_NONE : PROT_READ) != 0) {
            die("mprotect");
        }
        time_touches(region, pages, !copy,
                     round < opts->warmup ? NULL : samples_us + (round - opts->warmup) * pages);
    }
    sigaction(SIGSEGV, &previous, NULL);
    check_resolved(segv_resolved, opts);
    munmap(region, bytes);
    if (copy) {
        munmap(segv_src, page_size);
    }
}

/* ---- the VMA count ------------------------------------------------------------ */

/*
 * Every other page of a region to PROT_READ with mprotect, until done or
 * ENOMEM; per-call times in samples_us. Returns the calls that succeeded.
 */
static size_t vma_mprotect(const dsm_bench_opts_t *opts, size_t bytes, double *samples_us,
                           dsm_bench_summary_t *summary_p)
{
    unsigned char *region = map_region(bytes, PROT_READ | PROT_WRITE);
    size_t calls = 0, pages = bytes / page_size;
    int failed_errno = 0;
    long vmas;

    for (size_t p = 1; p < pages; p += 2) {
        double t0 = dsm_bench_now_us();

        if (mprotect(region + p * page_size, page_size, PROT_READ) != 0) {
            failed_errno = errno;
            break;
        }
        samples_us[calls++] = dsm_bench_now_us() - t0;
    }
    vmas = vma_count(region, bytes);
    munmap(region, bytes);
    if (failed_errno != 0) {
        dsm_bench_note(opts, "mprotect every other page of %zu MiB: %s after %zu of %zu calls, "
                       "%ld VMAs in the region (vm.max_map_count %ld)", bytes >> 20,
                       failed_errno == ENOMEM ? "ENOMEM" : strerror(failed_errno), calls,
                       pages / 2, vmas, dsm_file_read_long("/proc/sys/vm/max_map_count"));
    } else {
        dsm_bench_note(opts, "mprotect every other page of %zu MiB: all %zu calls succeeded, "
                       "%ld VMAs in the region (vm.max_map_count %ld)", bytes >> 20, calls, vmas,
                       dsm_file_read_long("/proc/sys/vm/max_map_count"));
    }
    if (calls > 0) {
        dsm_bench_summarize(samples_us, calls, summary_p);
    }
    return calls;
}

/* The same states with UFFDIO_WRITEPROTECT over a zero-page-populated region. */
static size_t vma_uffd(const dsm_bench_opts_t *opts, size_t bytes, double *samples_us,
                       dsm_bench_summary_t *summary_p)
{
    unsigned char *region = map_region(bytes, PROT_READ | PROT_WRITE);
    size_t calls = 0, pages = bytes / page_size;
    dsm_status_t status;
    dsm_uffd_t uffd;
    long vmas;

    status = dsm_uffd_open(DSM_UFFD_FEATURES_REQUIRED, 0, BENCH_UFFD_OPEN_FLAGS, &uffd);
    if (status != DSM_OK) {
        die_status("open userfaultfd", status);
    }
    status = dsm_uffd_range_register(&uffd, region, bytes,
                                     DSM_UFFD_MODE_MISSING | DSM_UFFD_MODE_WP);
    if (status != DSM_OK || (status = dsm_uffd_zero(&uffd, region, bytes, 0, NULL)) != DSM_OK) {
        die_status("register and populate", status);
    }
    for (size_t p = 1; p < pages; p += 2) {
        double t0 = dsm_bench_now_us();

        if ((status = dsm_uffd_wp_set(&uffd, region + p * page_size, page_size)) != DSM_OK) {
            break;
        }
        samples_us[calls++] = dsm_bench_now_us() - t0;
    }
    vmas = vma_count(region, bytes);
    dsm_bench_note(opts, "UFFDIO_WRITEPROTECT every other page of %zu MiB: %zu of %zu calls "
                   "succeeded%s%s, %ld VMA(s) in the region", bytes >> 20, calls, pages / 2,
                   status == DSM_OK ? "" : ", then ", status == DSM_OK ? "" : dsm_strerror(status),
                   vmas);
    munmap(region, bytes);
    dsm_uffd_close(&uffd);
    if (calls > 0) {
        dsm_bench_summarize(samples_us, calls, summary_p);
    }
    return calls;
}

/* ---- main ------------------------------------------------------------------------ */

static int bench_option(const char *name, const char *value, void *arg)
{
    bench_config_t *config = arg;
    char *end;

    if (strcmp(name, "region-mib") != 0 || value == NULL) {
        return -1;
    }
    errno = 0;
    config->region_mib = strtoul(value, &end, 10);
    return (errno != 0 || *end != '\0' || config->region_mib == 0) ? -1 : 0;
}

static double *alloc_samples(size_t count)
{
    double *samples = malloc(count * sizeof(*samples));

    if (samples == NULL) {
        die("malloc");
    }
    return samples;
}

/* Where the uffd handler thread runs, relative to the faulting thread. */
static const struct {
    const char *label;
    int         other; /* on the other CPU (else the same one) */
    int         spin;  /* polls without sleeping (only sensible on the other CPU) */
} placements[] = {
    {"other CPU, sleeps", 1, 0},
    {"other CPU, spins", 1, 1},
    {"same CPU, sleeps", 0, 0},
};

int main(int argc, char **argv)
{
    dsm_bench_opts_t opts = {.iterations = 5, .warmup = 1, .nodes = 1, .pages = 1000};
    bench_config_t config = {.region_mib = 1024};
    dsm_bench_summary_t base_c, base_d, summary, base_mprotect;
    dsm_uffd_probe_t probe;
    size_t count, region_bytes;
    int cpu, other_cpu;
    double *samples;

    page_size = (size_t)sysconf(_SC_PAGESIZE);
    dsm_bench_parse(argc, argv, "uffd_vs_sigsegv: per-fault cost, userfaultfd vs mprotect+SIGSEGV",
                    "      --region-mib=N   region for the VMA count (default 1024)\n",
                    bench_option, &config, &opts);
    if (opts.pages == 0) {
        fprintf(stderr, "uffd_vs_sigsegv: --pages must be at least 1\n");
        return 2;
    }
    if (dsm_uffd_probe(&probe) != DSM_OK || dsm_uffd_probe_missing_required(&probe) != NULL) {
        fprintf(stderr, "uffd_vs_sigsegv: skipped: no userfaultfd with write-protect faults "
                        "here (see dsm-info)\n");
        return BENCH_EXIT_SKIP;
    }
    count = opts.pages * opts.iterations;
    samples = alloc_samples(count);
    usable_cpus(&cpu, &other_cpu);
    if (!pin_thread(pthread_self(), cpu)) {
        die("pin the faulting thread");
    }
    dsm_bench_note(&opts, "%zu pages x %u rounds (+%u warm-up); faulting thread on CPU %d; "
                   "uffd handler thread on CPU %d (other) or %d (same), sleeping in poll() "
                   "or spinning on poll(0)", opts.pages, opts.iterations, opts.warmup, cpu,
                   other_cpu, cpu);

    run_sigsegv(&opts, 1, samples);
    dsm_bench_row_samples(&opts, "c: PROT_NONE+SIGSEGV+mprotect+copy", page_size, samples,
                          count, NULL, &base_c);
    run_sigsegv(&opts, 0, samples);
    dsm_bench_row_samples(&opts, "d: PROT_READ+SIGSEGV+mprotect", 0, samples, count, NULL,
                          &base_d);
    for (int wp = 0; wp <= 1; wp++) {
        for (size_t i = 0; i < sizeof(placements) / sizeof(placements[0]); i++) {
            char name[BENCH_ROW_NAME_MAX];

            if (placements[i].other && other_cpu == cpu) {
                continue; /* one usable CPU: there is no other */
            }
            run_uffd_thread(&opts, wp, placements[i].other ? other_cpu : cpu,
                            placements[i].spin, samples);
            snprintf(name, sizeof(name), "%s, %s", wp ? "b: WP+clear" : "a: MISSING+COPY",
                     placements[i].label);
            dsm_bench_row_samples(&opts, name, wp ? 0 : page_size, samples, count,
                                  wp ? &base_d : &base_c, &summary);
        }
    }
    if (probe.available & UFFD_FEATURE_SIGBUS) {
        run_uffd_sigbus(&opts, 0, samples);
        dsm_bench_row_samples(&opts, "e: MISSING+SIGBUS, COPY in faulter", page_size, samples,
                              count, &base_c, &summary);
        run_uffd_sigbus(&opts, 1, samples);
        dsm_bench_row_samples(&opts, "f: WP+SIGBUS, clear in faulter", 0, samples, count,
                              &base_d, &summary);
    } else {
        dsm_bench_note(&opts, "e, f skipped: the kernel lacks UFFD_FEATURE_SIGBUS");
    }
    free(samples);

    region_bytes = config.region_mib << 20;
    samples = alloc_samples(region_bytes / page_size / 2 + 1);
    if (vma_mprotect(&opts, region_bytes, samples, &base_mprotect) > 0) {
        dsm_bench_row(&opts, "mprotect 1 page (every other)", 0, &base_mprotect, 0);
    }
    if (vma_uffd(&opts, region_bytes, samples, &summary) > 0) {
        dsm_bench_row(&opts, "UFFDIO_WRITEPROTECT 1 page (every other)", 0, &summary,
                      summary.p50_us / base_mprotect.p50_us);
    }
    free(samples);
    dsm_bench_finish(&opts);
    return 0;
}
