/*
 * uffd_install - what it costs to make a run of pages appear in the arena, by
 * each way the kernel offers, on one node (no protocol, no other thread): the
 * measurements behind the choice of the data path (docs/design.md, "The data
 * path").
 *
 * First touch of fresh memory, one write per page over -p pages:
 *   private anonymous memory (the baseline), a memfd mapped shared, the same
 *   memfd registered for MINOR and WP faults (a home's own pages: the fault
 *   is the kernel's, userfaultfd only watches), and an anonymous mapping
 *   registered for MISSING faults resolved by a handler thread with
 *   UFFDIO_ZEROPAGE (a node paying the fault path for its own memory).
 *   Then the two ways a home maps a claimed run of fresh memfd pages (the
 *   arena registered MISSING|MINOR|WP), a run of 64 at a time, in the
 *   touching thread (no fault): populating the run through a second mapping
 *   then UFFDIO_CONTINUE, or one UFFDIO_ZEROPAGE of the run.
 *
 * Installing a run of R pages whose data has arrived (R = 1, 16, 64, 256),
 * per page, each against a memcpy of the run (the data movement itself):
 *   COPY      UFFDIO_COPY from a staging buffer into an anonymous arena
 *   LAND+CONT the data written into the memfd through a second, unregistered
 *             mapping (where an RMA get would land), then UFFDIO_CONTINUE
 *   CONT      UFFDIO_CONTINUE alone (data already in the page cache)
 *   MOVE      UFFDIO_MOVE of freshly written private staging pages
 * The arena run is zapped (MADV_DONTNEED) between rounds, outside the timing.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench_common.h"
#include "dsm_common.h"
#include "dsm_uffd.h"

#define BENCH_PAGE       4096u
#define BENCH_EXIT_SKIP  77
#define BENCH_NAME_MAX   64
#define BENCH_RUN_MAX    256u

static const size_t run_lengths[] = { 1, 16, 64, 256 };

static void die(const char *what)
{
    fprintf(stderr, "uffd_install: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void *map_anon(size_t bytes)
{
    void *addr = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (addr == MAP_FAILED) {
        die("mmap");
    }
    return addr;
}

static void *map_memfd(int fd, size_t bytes)
{
    void *addr = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

    if (addr == MAP_FAILED) {
        die("mmap of the memfd");
    }
    return addr;
}

static int memfd_sized(size_t bytes)
{
    int fd = memfd_create("dsm-bench", MFD_CLOEXEC);

    if (fd < 0 || ftruncate(fd, (off_t)bytes) != 0) {
        die("memfd");
    }
    return fd;
}

static void check(dsm_status_t status, const char *what)
{
    if (status != DSM_OK) {
        dsm_bench_die(what, status);
    }
}

/* ---- first touch ---------------------------------------------------------- */

/* One write per page; returns µs per page. */
static double touch_pages(char *base, size_t pages)
{
    double start = dsm_bench_now_us();

    for (size_t i = 0; i < pages; i++) {
        base[i * BENCH_PAGE] = 1;
    }
    return (dsm_bench_now_us() - start) / (double)pages;
}

typedef struct {
    const dsm_uffd_t *uffd;
    atomic_int        stop;
} zero_handler_t;

/* Resolves every MISSING fault with the zero page, then clears the WP bit the
 * write will need (ZEROPAGE maps read-only; the write refaults as a normal COW). */
static void *zero_handler_main(void *arg)
{
    zero_handler_t *handler = arg;
    struct pollfd pfd = { .fd = handler->uffd->fd, .events = POLLIN };

    while (!atomic_load_explicit(&handler->stop, memory_order_relaxed)) {
        dsm_uffd_event_t events[64];
        size_t count = 0;

        if (poll(&pfd, 1, 10) <= 0) {
            continue;
        }
        check(dsm_uffd_events_read(handler->uffd, events, 64, &count), "reading events");
        for (size_t i = 0; i < count; i++) {
            dsm_status_t status = dsm_uffd_zero(handler->uffd, (void *)events[i].address,
                                                BENCH_PAGE, 0, NULL);

            if (status != DSM_OK && status != DSM_ERR_EXISTS) {
                dsm_bench_die("UFFDIO_ZEROPAGE", status);
            }
        }
    }
    return NULL;
}

static double touch_missing_handled(const dsm_uffd_t *uffd, char *base, size_t pages)
{
    zero_handler_t handler = { .uffd = uffd };
    pthread_t thread;
    double per_page;

    if (pthread_create(&thread, NULL, zero_handler_main, &handler) != 0) {
        die("pthread_create");
    }
    per_page = touch_pages(base, pages);
    atomic_store_explicit(&handler.stop, 1, memory_order_relaxed);
    pthread_join(thread, NULL);
    return per_page;
}

typedef enum { TOUCH_ANON, TOUCH_MEMFD, TOUCH_MEMFD_MINOR_WP, TOUCH_ANON_MISSING,
               TOUCH_RUN_POPULATE_CONTINUE, TOUCH_RUN_ZEROPAGE } touch_kind_t;

static const char *const touch_names[] = {
    [TOUCH_ANON] = "touch private anon",
    [TOUCH_MEMFD] = "touch memfd shared",
    [TOUCH_MEMFD_MINOR_WP] = "touch memfd, uffd MINOR|WP",
    [TOUCH_ANON_MISSING] = "touch anon, uffd MISSING+handler",
    [TOUCH_RUN_POPULATE_CONTINUE] = "fresh run of 64: populate+CONTINUE",
    [TOUCH_RUN_ZEROPAGE] = "fresh run of 64: ZEROPAGE",
};

#define TOUCH_RUN 64u

/* A home's claim of fresh memfd pages, TOUCH_RUN at a time, each run mapped
 * by kind then touched; µs per page. second: the memfd's unregistered
 * mapping. */
static double touch_claimed_runs(const dsm_uffd_t *uffd, touch_kind_t kind, char *base,
                                 char *second, size_t pages)
{
    double start = dsm_bench_now_us();

    for (size_t first = 0; first < pages; first += TOUCH_RUN) {
        size_t bytes = (pages - first < TOUCH_RUN ? pages - first : TOUCH_RUN) * BENCH_PAGE;
        char *run = base + first * BENCH_PAGE;

        if (kind == TOUCH_RUN_ZEROPAGE) {
            check(dsm_uffd_zero(uffd, run, bytes, 0, NULL), "UFFDIO_ZEROPAGE");
        } else {
            if (madvise(second + first * BENCH_PAGE, bytes, MADV_POPULATE_WRITE) != 0) {
                die("MADV_POPULATE_WRITE");
            }
            check(dsm_uffd_continue(uffd, run, bytes, 0, NULL), "UFFDIO_CONTINUE");
        }
        for (size_t offset = 0; offset < bytes; offset += BENCH_PAGE) {
            run[offset] = 1;
        }
    }
    return (dsm_bench_now_us() - start) / (double)pages;
}

/* One round of first touches of `pages` fresh pages; µs per page. */
static double touch_round(const dsm_uffd_t *uffd, touch_kind_t kind, size_t pages)
{
    size_t bytes = pages * BENCH_PAGE;
    bool claimed = kind == TOUCH_RUN_POPULATE_CONTINUE || kind == TOUCH_RUN_ZEROPAGE;
    int fd = kind == TOUCH_MEMFD || kind == TOUCH_MEMFD_MINOR_WP || claimed ? memfd_sized(bytes)
                                                                             : -1;
    char *base = fd >= 0 ? map_memfd(fd, bytes) : map_anon(bytes);
    char *second = claimed ? map_memfd(fd, bytes) : NULL;
    double per_page;

    if (kind == TOUCH_MEMFD_MINOR_WP) {
        check(dsm_uffd_range_register(uffd, base, bytes, DSM_UFFD_MODE_MINOR | DSM_UFFD_MODE_WP),
              "registering the memfd");
    } else if (kind == TOUCH_ANON_MISSING) {
        check(dsm_uffd_range_register(uffd, base, bytes, DSM_UFFD_MODE_MISSING),
              "registering the anonymous range");
    } else if (claimed) {
        check(dsm_uffd_range_register(uffd, base, bytes,
                                      DSM_UFFD_MODE_MISSING | DSM_UFFD_MODE_MINOR |
                                          DSM_UFFD_MODE_WP),
              "registering the memfd arena");
    }
    if (kind == TOUCH_ANON_MISSING) {
        per_page = touch_missing_handled(uffd, base, pages);
    } else if (claimed) {
        per_page = touch_claimed_runs(uffd, kind, base, second, pages);
        munmap(second, bytes);
    } else {
        per_page = touch_pages(base, pages);
    }
    munmap(base, bytes);
    if (fd >= 0) {
        close(fd);
    }
    return per_page;
}

static void bench_first_touch(const dsm_bench_opts_t *opts, const dsm_uffd_t *uffd)
{
    unsigned rounds = opts->iterations;
    double *samples = calloc(rounds, sizeof(*samples));
    dsm_bench_summary_t baseline;

    if (samples == NULL) {
        die("calloc");
    }
    for (int kind = TOUCH_ANON; kind <= TOUCH_RUN_ZEROPAGE; kind++) {
        for (unsigned w = 0; w < opts->warmup; w++) {
            touch_round(uffd, kind, opts->pages);
        }
        for (unsigned r = 0; r < rounds; r++) {
            samples[r] = touch_round(uffd, kind, opts->pages);
        }
        dsm_bench_row_samples(opts, touch_names[kind], BENCH_PAGE, samples, rounds,
                              kind == TOUCH_ANON ? NULL : &baseline,
                              kind == TOUCH_ANON ? &baseline : NULL);
    }
    free(samples);
}

/* ---- installing a run of pages ---------------------------------------------- */

typedef enum { INSTALL_MEMCPY, INSTALL_COPY, INSTALL_LAND_CONTINUE, INSTALL_CONTINUE,
               INSTALL_MOVE } install_kind_t;

static const char *const install_names[] = {
    [INSTALL_MEMCPY] = "memcpy",
    [INSTALL_COPY] = "UFFDIO_COPY",
    [INSTALL_LAND_CONTINUE] = "land in memfd + CONTINUE",
    [INSTALL_CONTINUE] = "CONTINUE (data cached)",
    [INSTALL_MOVE] = "fill staging + MOVE",
};

typedef struct {
    const dsm_uffd_t *uffd;
    char *anon_arena;  /* registered MISSING: COPY and MOVE land here          */
    char *shm_arena;   /* the memfd, registered MINOR: CONTINUE maps here       */
    char *shm_second;  /* the same memfd, unregistered: where a get would land  */
    char *staging;     /* registered for UCX in the runtime; here plain memory */
    char *source;      /* the data as it arrives                               */
} install_ctx_t;

static void install_zap(const install_ctx_t *ctx, size_t bytes)
{
    if (madvise(ctx->anon_arena, bytes, MADV_DONTNEED) != 0 ||
        madvise(ctx->shm_arena, bytes, MADV_DONTNEED) != 0) {
        die("madvise");
    }
}

/* Install `pages` pages by `kind`; returns µs per page. */
static double install_round(const install_ctx_t *ctx, install_kind_t kind, size_t pages)
{
    size_t bytes = pages * BENCH_PAGE;
    double start;

    install_zap(ctx, bytes);
    if (kind == INSTALL_CONTINUE) {
        memcpy(ctx->shm_second, ctx->source, bytes); /* arrived before the timing */
    }
    start = dsm_bench_now_us();
    switch (kind) {
    case INSTALL_MEMCPY:
        memcpy(ctx->staging, ctx->source, bytes);
        break;
    case INSTALL_COPY:
        memcpy(ctx->staging, ctx->source, bytes);
        check(dsm_uffd_copy(ctx->uffd, ctx->anon_arena, ctx->staging, bytes, 0, NULL),
              "UFFDIO_COPY");
        break;
    case INSTALL_LAND_CONTINUE:
    case INSTALL_CONTINUE:
        if (kind == INSTALL_LAND_CONTINUE) {
            memcpy(ctx->shm_second, ctx->source, bytes); /* into the page cache */
        }
        check(dsm_uffd_continue(ctx->uffd, ctx->shm_arena, bytes, 0, NULL), "UFFDIO_CONTINUE");
        break;
    case INSTALL_MOVE:
        memcpy(ctx->staging, ctx->source, bytes); /* faults the moved-away pages back */
        check(dsm_uffd_move(ctx->uffd, ctx->anon_arena, ctx->staging, bytes, 0, NULL),
              "UFFDIO_MOVE");
        break;
    }
    return (dsm_bench_now_us() - start) / (double)pages;
}

static void bench_install(const dsm_bench_opts_t *opts, const install_ctx_t *ctx)
{
    unsigned rounds = opts->iterations;
    double *samples = calloc(rounds, sizeof(*samples));

    if (samples == NULL) {
        die("calloc");
    }
    for (size_t r = 0; r < sizeof(run_lengths) / sizeof(run_lengths[0]); r++) {
        size_t pages = run_lengths[r];
        dsm_bench_summary_t baseline;

        for (int kind = INSTALL_MEMCPY; kind <= INSTALL_MOVE; kind++) {
            char name[BENCH_NAME_MAX];

            if (kind == INSTALL_MOVE && !(ctx->uffd->features & UFFD_FEATURE_MOVE)) {
                dsm_bench_note(opts, "no UFFD_FEATURE_MOVE: MOVE rows skipped");
                continue;
            }
            for (unsigned w = 0; w < opts->warmup; w++) {
                install_round(ctx, kind, pages);
            }
            for (unsigned i = 0; i < rounds; i++) {
                samples[i] = install_round(ctx, kind, pages);
            }
            snprintf(name, sizeof(name), "%s, run of %zu", install_names[kind], pages);
            dsm_bench_row_samples(opts, name, BENCH_PAGE, samples, rounds,
                                  kind == INSTALL_MEMCPY ? NULL : &baseline,
                                  kind == INSTALL_MEMCPY ? &baseline : NULL);
        }
    }
    free(samples);
}

static void install_ctx_init(const dsm_uffd_t *uffd, install_ctx_t *ctx)
{
    size_t bytes = BENCH_RUN_MAX * BENCH_PAGE;
    int fd = memfd_sized(bytes);

    ctx->uffd = uffd;
    ctx->anon_arena = map_anon(bytes);
    ctx->shm_arena = map_memfd(fd, bytes);
    ctx->shm_second = map_memfd(fd, bytes);
    ctx->staging = map_anon(bytes);
    ctx->source = map_anon(bytes);
    close(fd); /* the mappings keep the memfd */
    memset(ctx->source, 0x5a, bytes);
    check(dsm_uffd_range_register(uffd, ctx->anon_arena, bytes, DSM_UFFD_MODE_MISSING),
          "registering the anonymous arena");
    check(dsm_uffd_range_register(uffd, ctx->shm_arena, bytes, DSM_UFFD_MODE_MINOR),
          "registering the memfd arena");
}

int main(int argc, char **argv)
{
    dsm_bench_opts_t opts = { .iterations = 20, .warmup = 2, .pages = 16384 };
    uint64_t needed = UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_MISSING_SHMEM;
    install_ctx_t ctx;
    dsm_uffd_t uffd;
    dsm_status_t status;

    dsm_bench_parse(argc, argv, "uffd_install: first touch and installing runs of pages",
                    "  -p pages touched per first-touch round (default 16384 = 64 MiB)\n",
                    NULL, NULL, &opts);
    status = dsm_uffd_open(DSM_UFFD_FEATURES_REQUIRED, DSM_UFFD_FEATURES_OPTIONAL,
                           DSM_UFFD_OPEN_ALLOW_USER_MODE_ONLY, &uffd);
    if (status != DSM_OK) {
        fprintf(stderr, "uffd_install: no userfaultfd here: %s\n", dsm_strerror(status));
        return BENCH_EXIT_SKIP;
    }
    if ((uffd.features & needed) != needed) {
        fprintf(stderr, "uffd_install: the kernel lacks MINOR_SHMEM or MISSING_SHMEM\n");
        return BENCH_EXIT_SKIP;
    }
    bench_first_touch(&opts, &uffd);
    install_ctx_init(&uffd, &ctx);
    bench_install(&opts, &ctx);
    dsm_bench_finish(&opts);
    dsm_uffd_close(&uffd);
    return 0;
}
