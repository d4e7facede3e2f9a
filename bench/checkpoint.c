/*
 * checkpoint: what dsm_checkpoint costs (docs/checkpoint.md), for touched data
 * of 64 MiB, 4x more each row, up to --max-mib (default 1024). Per size, a
 * fresh allocation that every node writes a share of (each page Modified at
 * its writer), then per run two images of every allocation so far (the row
 * of size S saves 64 + 256 + ... + S MiB, all Modified):
 *   - pause new: dsm_checkpoint's return, i.e. the cut (µs, node 0, p50 of
 *             -i), when only this size's allocation was written since the
 *             last image (the earlier ones are Modified but untouched);
 *   - image idle: that image, dsm_checkpoint to the end of
 *             dsm_checkpoint_wait, with the application idle: the writer
 *             alone writes, fsyncs and commits it (MB/s of the whole image),
 *             against `dd bs=1M conv=fsync` of as many bytes to the same
 *             file system, same run;
 *   - pause all: the cut when every allocation was written since the last
 *             image (every Modified page writable: the worst case);
 *   - image:  that image while the application writes one word per page of
 *             this size's share right after the cut (each page saved before
 *             its write goes on);
 *   - slowdown: that pass, while the image is written, against the same pass
 *             without one.
 * The image of each size stays in DIR/<size>mib for the restart probe:
 *   dsmrun -n N --restart DIR/<size>mib -- checkpoint --probe=<size> --max-mib=M
 * prints dsm_init's time and the first access to a page of the image (a read
 * of the last page: lazily loaded), which should not depend on the size.
 * Run: dsmrun -n 2 -- checkpoint [--dir=DIR] [--max-mib=N] [-i N] [--json]
 *
 * checkpoint --wp-kernel [--max-mib=N] (no dsmrun, no dsm): what the cut cost
 * before it detached the arena, one UFFDIO_WRITEPROTECT over S MiB of present,
 * writable anonymous pages registered for WP faults, per size (the write
 * protection of a node holding S MiB Modified, which grew with S).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench_common.h"
#include "dsm_uffd.h"

#define PAGE 4096u
#define MIB  (UINT64_C(1) << 20)

typedef struct {
    const char *dir;
    uint64_t    max_mib;
    uint64_t    probe_mib; /* 0: the checkpoint rows */
    int         wp_kernel; /* the kernel's write protection alone */
} ckpt_opts_t;

static int ckpt_option(const char *name, const char *value, void *arg)
{
    ckpt_opts_t *o = arg;
    char *end;

    if (!strcmp(name, "wp-kernel") && value == NULL) {
        o->wp_kernel = 1;
        return 0;
    }
    if (!strcmp(name, "dir") && value != NULL && value[0] != '\0') {
        o->dir = value;
        return 0;
    }
    if ((!strcmp(name, "max-mib") || !strcmp(name, "probe")) && value != NULL) {
        uint64_t mib = strtoull(value, &end, 10);

        if (*end != '\0' || mib == 0) {
            return -1;
        }
        *(!strcmp(name, "probe") ? &o->probe_mib : &o->max_mib) = mib;
        return 0;
    }
    return -1;
}

/* Every node the same arena: room for the largest size twice. */
static void ckpt_init(uint64_t max_mib)
{
    dsm_config_t config = { .field_mask = DSM_CONFIG_FIELD_ARENA_SIZE,
                            .arena_size = 2 * max_mib * MIB + (64 * MIB) };
    dsm_status_t status = dsm_init(&config);

    if (status != DSM_OK) {
        dsm_bench_die("dsm_init", status);
    }
}

/* One word in every page of this node's share, value v; µs. */
static double ckpt_touch(uint64_t *array, uint64_t bytes, uint64_t v)
{
    uint64_t pages = bytes / PAGE, node = (uint64_t)dsm_node_id(), n = (uint64_t)dsm_num_nodes();
    double t0 = dsm_bench_now_us();

    for (uint64_t p = pages * node / n; p < pages * (node + 1) / n; p++) {
        array[p * (PAGE / sizeof(uint64_t))] = v + p;
    }
    return dsm_bench_now_us() - t0;
}

/* Node 0: dd of bytes to the image's file system, fsync'd; µs. */
static double ckpt_dd(const char *dir, uint64_t bytes)
{
    char command[PATH_MAX + 128];
    double t0;

    snprintf(command, sizeof(command),
             "dd if=/dev/zero of='%s/dd.bin' bs=1M count=%llu conv=fsync status=none", dir,
             (unsigned long long)(bytes / MIB));
    t0 = dsm_bench_now_us();
    if (system(command) != 0) {
        fprintf(stderr, "checkpoint: '%s' failed\n", command);
        exit(1);
    }
    t0 = dsm_bench_now_us() - t0;
    snprintf(command, sizeof(command), "rm -f '%s/dd.bin'", dir);
    if (system(command) != 0) {
        exit(1);
    }
    return t0;
}

static void ckpt_do(const char *what, dsm_status_t status)
{
    if (status != DSM_OK) {
        dsm_bench_die(what, status);
    }
}

/* The allocations of the earlier rows (all in every image). */
static struct {
    uint64_t *array[16];
    uint64_t  bytes[16];
    size_t    count;
    uint64_t  total; /* bytes */
} ckpt_allocs;

static void ckpt_rows(const dsm_bench_opts_t *opts, const ckpt_opts_t *o, uint64_t mib)
{
    uint64_t bytes = mib * MIB, image;
    unsigned runs = opts->iterations;
    double *pause = calloc(runs, sizeof(double)), *pause_all = calloc(runs, sizeof(double));
    double *write = calloc(runs, sizeof(double));
    double *idle = calloc(runs, sizeof(double));
    double *alone = calloc(runs, sizeof(double)), *during = calloc(runs, sizeof(double));
    double *dd = calloc(runs, sizeof(double));
    dsm_bench_summary_t base;
    char dir[PATH_MAX], name[64];
    uint64_t *array = dsm_alloc(bytes);

    if (array == NULL || !pause || !pause_all || !write || !idle || !alone || !during || !dd ||
        ckpt_allocs.count == sizeof(ckpt_allocs.array) / sizeof(ckpt_allocs.array[0])) {
        dsm_bench_die("dsm_alloc", dsm_last_error());
    }
    ckpt_allocs.array[ckpt_allocs.count] = array;
    ckpt_allocs.bytes[ckpt_allocs.count++] = bytes;
    image = ckpt_allocs.total += bytes;
    snprintf(dir, sizeof(dir), "%s/%llumib", o->dir, (unsigned long long)mib);
    for (unsigned r = 0; r < runs; r++) {
        double t0;

        ckpt_touch(array, bytes, 1000 * r); /* every page Modified at its writer */
        dsm_barrier();
        alone[r] = ckpt_touch(array, bytes, 1000 * r + 1);
        dsm_barrier();
        /* The image with the application idle: the writer alone. */
        t0 = dsm_bench_now_us();
        ckpt_do("dsm_checkpoint", dsm_checkpoint(dir));
        pause[r] = dsm_bench_now_us() - t0;
        ckpt_do("dsm_checkpoint_wait", dsm_checkpoint_wait());
        idle[r] = dsm_bench_now_us() - t0;
        /* Every allocation writable again (each page's first write lifts the
         * cut's protection): the next cut protects them all. */
        for (size_t a = 0; a < ckpt_allocs.count; a++) {
            ckpt_touch(ckpt_allocs.array[a], ckpt_allocs.bytes[a], 1000 * r + 1);
        }
        dsm_barrier();
        /* The image while every page is written right after the cut. */
        t0 = dsm_bench_now_us();
        ckpt_do("dsm_checkpoint", dsm_checkpoint(dir));
        pause_all[r] = dsm_bench_now_us() - t0;
        during[r] = ckpt_touch(array, bytes, 1000 * r + 2);
        ckpt_do("dsm_checkpoint_wait", dsm_checkpoint_wait());
        write[r] = dsm_bench_now_us() - t0;
        dsm_barrier();
        dd[r] = dsm_node_id() == 0 ? ckpt_dd(o->dir, image) : 1;
        dsm_barrier();
    }
    if (dsm_node_id() == 0) { /* node 0 reports */
        dsm_bench_note(opts, "%llu MiB: the image holds %llu MiB; dd writes as much",
                       (unsigned long long)mib, (unsigned long long)(image / MIB));
        snprintf(name, sizeof(name), "pause new %llu MiB", (unsigned long long)mib);
        dsm_bench_row_samples(opts, name, 0, pause, runs, NULL, NULL);
        snprintf(name, sizeof(name), "pause all %llu MiB", (unsigned long long)mib);
        dsm_bench_row_samples(opts, name, 0, pause_all, runs, NULL, NULL);
        snprintf(name, sizeof(name), "dd %llu MiB", (unsigned long long)mib);
        dsm_bench_row_samples(opts, name, image, dd, runs, NULL, &base);
        snprintf(name, sizeof(name), "image idle %llu MiB", (unsigned long long)mib);
        dsm_bench_row_samples(opts, name, image, idle, runs, &base, NULL);
        snprintf(name, sizeof(name), "image %llu MiB", (unsigned long long)mib);
        dsm_bench_row_samples(opts, name, image, write, runs, &base, NULL);
        snprintf(name, sizeof(name), "touch alone %llu MiB", (unsigned long long)mib);
        dsm_bench_row_samples(opts, name, 0, alone, runs, NULL, &base);
        /* (base is now the touch without an image being written) */
        snprintf(name, sizeof(name), "touch writing %llu MiB", (unsigned long long)mib);
        dsm_bench_row_samples(opts, name, 0, during, runs, &base, NULL);
    }
    free(pause), free(pause_all), free(write), free(idle), free(alone), free(during), free(dd);
    /* Kept allocated: the image's allocations are every size's so far. */
}

/* The kernel's part of the cut alone: one UFFDIO_WRITEPROTECT over mib MiB of
 * present, writable anonymous pages (registered for WP faults), -i times,
 * the protection lifted and every page written again between runs. */
static void ckpt_wp_kernel(const dsm_bench_opts_t *opts, const dsm_uffd_t *uffd, uint64_t mib)
{
    uint64_t bytes = mib * MIB;
    unsigned runs = opts->iterations;
    double *protect = calloc(runs, sizeof(double));
    dsm_bench_summary_t summary;
    char *area = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char name[64];

    if (protect == NULL || area == MAP_FAILED) {
        fprintf(stderr, "checkpoint --wp-kernel: no memory for %llu MiB\n",
                (unsigned long long)mib);
        exit(1);
    }
    ckpt_do("registering for WP faults",
            dsm_uffd_range_register(uffd, area, bytes, DSM_UFFD_MODE_WP));
    for (unsigned r = 0; r < runs; r++) {
        double t0;

        for (uint64_t off = 0; off < bytes; off += PAGE) {
            area[off] = (char)r; /* present and writable */
        }
        t0 = dsm_bench_now_us();
        ckpt_do("UFFDIO_WRITEPROTECT", dsm_uffd_wp_set(uffd, area, bytes));
        protect[r] = dsm_bench_now_us() - t0;
        ckpt_do("lifting the protection", dsm_uffd_wp_clear(uffd, area, bytes, 0));
    }
    snprintf(name, sizeof(name), "wp kernel %llu MiB", (unsigned long long)mib);
    dsm_bench_row_samples(opts, name, 0, protect, runs, NULL, &summary);
    dsm_bench_note(opts, "wp kernel %llu MiB: %.1f ns per page", (unsigned long long)mib,
                   summary.p50_us * 1e3 / (double)(bytes / PAGE));
    munmap(area, bytes);
    free(protect);
}

/* Restarted from the image of probe_mib: the allocations of that run made
 * again (64 MiB, 256, ... up to the probed size), then the first access. */
static void ckpt_probe(const dsm_bench_opts_t *opts, const ckpt_opts_t *o, double t_init)
{
    volatile uint64_t *array = NULL;
    uint64_t mib = 64, bytes = 0;
    double t0, first;
    char name[64];

    for (; mib <= o->probe_mib; mib *= 4) {
        bytes = mib * MIB;
        if ((array = dsm_alloc(bytes)) == NULL) {
            dsm_bench_die("dsm_alloc", dsm_last_error());
        }
    }
    if (!dsm_restarted() || array == NULL) {
        fprintf(stderr, "checkpoint --probe: run it with dsmrun --restart DIR/<size>mib\n");
        exit(1);
    }
    dsm_barrier();
    t0 = dsm_bench_now_us();
    if (dsm_node_id() == 0) {
        (void)array[(bytes - PAGE) / sizeof(uint64_t)]; /* the last page of the image */
    }
    first = dsm_bench_now_us() - t0;
    dsm_barrier();
    if (dsm_node_id() != 0) {
        return;
    }
    snprintf(name, sizeof(name), "restart init %llu MiB", (unsigned long long)o->probe_mib);
    dsm_bench_row_samples(opts, name, 0, &t_init, 1, NULL, NULL);
    snprintf(name, sizeof(name), "first access %llu MiB", (unsigned long long)o->probe_mib);
    dsm_bench_row_samples(opts, name, 0, &first, 1, NULL, NULL);
}

int main(int argc, char **argv)
{
    dsm_bench_opts_t opts = { .iterations = 3, .warmup = 0, .nodes = 2, .pages = 0 };
    ckpt_opts_t o = { .dir = "/tmp/dsm_checkpoint_bench", .max_mib = 1024 };
    double t0;
    int node;
    dsm_status_t status;

    dsm_bench_parse(argc, argv, "checkpoint",
                    "  --dir=DIR       where the images go (default /tmp/dsm_checkpoint_bench)\n"
                    "  --max-mib=N     largest touched size (64, 256, 1024, ... up to N)\n"
                    "  --probe=N       restarted from DIR/<N>mib: time to the first access\n"
                    "  --wp-kernel     (no dsmrun) UFFDIO_WRITEPROTECT alone, 64 MiB to --max-mib\n",
                    ckpt_option, &o, &opts);
    if (o.wp_kernel) {
        dsm_uffd_t uffd;

        ckpt_do("opening a userfaultfd",
                dsm_uffd_open(DSM_UFFD_FEATURES_REQUIRED, DSM_UFFD_FEATURES_OPTIONAL,
                              DSM_UFFD_OPEN_ALLOW_USER_MODE_ONLY, &uffd));
        for (uint64_t mib = 64; mib <= o.max_mib; mib *= 4) {
            ckpt_wp_kernel(&opts, &uffd, mib);
        }
        dsm_uffd_close(&uffd);
        dsm_bench_finish(&opts);
        return 0;
    }
    t0 = dsm_bench_now_us();
    ckpt_init(o.max_mib); /* the probe passes the same --max-mib: the same arena */
    t0 = dsm_bench_now_us() - t0;
    if (o.probe_mib) {
        ckpt_probe(&opts, &o, t0);
    } else {
        if (dsm_node_id() == 0) {
            char command[PATH_MAX + 16];

            snprintf(command, sizeof(command), "mkdir -p '%s'", o.dir);
            if (system(command) != 0) {
                exit(1);
            }
        }
        dsm_barrier();
        for (uint64_t mib = 64; mib <= o.max_mib; mib *= 4) {
            ckpt_rows(&opts, &o, mib);
        }
    }
    node = dsm_node_id();
    if ((status = dsm_finalize()) != DSM_OK) {
        dsm_bench_die("dsm_finalize", status);
    }
    if (node == 0) {
        dsm_bench_finish(&opts);
    }
    return 0;
}
