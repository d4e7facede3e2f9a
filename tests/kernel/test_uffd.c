/*
 * The kernel contract dsm relies on, tested through kernel/ (dsm_uffd_*).
 *
 * Each case names the userfaultfd features it needs and is skipped with the
 * reason when the kernel lacks them. Faulting accesses run in helper threads;
 * the case itself plays the service thread. Every wait is on an event (poll
 * on the uffd or on the faulter's eventfd, pthread_join), bounded by
 * TEST_WAIT_MS so that a lost wake-up fails the case instead of hanging it.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dsm_test.h"
#include "dsm_uffd.h"

#define TEST_WAIT_MS 10000
#define TEST_THREADS 8

static size_t page_size;

/* ---- needs ----------------------------------------------------------- */

static dsm_uffd_probe_t test_probe;
static int test_probe_status = 1; /* 1: not probed yet */

static const char *need_features(uint64_t bits)
{
    static char reason[160];

    if (test_probe_status == 1) {
        test_probe_status = dsm_uffd_probe(&test_probe);
    }
    if (test_probe_status != DSM_OK) {
        snprintf(reason, sizeof(reason), "cannot open a userfaultfd: %s",
                 dsm_strerror((dsm_status_t)test_probe_status));
        return reason;
    }
    for (size_t i = 0; i < DSM_UFFD_FEATURE_COUNT; i++) {
        if ((bits & test_probe.features[i].bit) && !test_probe.features[i].present) {
            snprintf(reason, sizeof(reason), "kernel lacks UFFD_FEATURE_%s",
                     test_probe.features[i].name);
            return reason;
        }
    }
    return NULL;
}

static const char *need_base(void)
{
    return need_features(DSM_UFFD_FEATURES_REQUIRED);
}

/* A fault raised by the kernel itself (copy_to_user in read(2)) must wait too. */
static const char *need_kernel_faults(void)
{
    const char *unmet = need_base();

    if (unmet == NULL && test_probe.origin == DSM_UFFD_ORIGIN_USER_MODE_ONLY) {
        return "this user may only open a user-mode-only userfaultfd "
               "(vm.unprivileged_userfaultfd=0, no access to /dev/userfaultfd)";
    }
    return unmet;
}

static const char *need_wp_unpopulated(void)
{
    return need_features(DSM_UFFD_FEATURES_REQUIRED | UFFD_FEATURE_WP_UNPOPULATED);
}

static const char *need_move(void)
{
    return need_features(DSM_UFFD_FEATURES_REQUIRED | UFFD_FEATURE_MOVE);
}

static const char *need_minor_shmem(void)
{
    return need_features(DSM_UFFD_FEATURES_REQUIRED | UFFD_FEATURE_MINOR_SHMEM);
}

static const char *need_sigbus(void)
{
    return need_features(DSM_UFFD_FEATURES_REQUIRED | UFFD_FEATURE_SIGBUS);
}

/* ---- fixtures ------------------------------------------------------------ */

static int test_uffd_open(dsm_uffd_t *uffd)
{
    /* user-mode-only suffices for every case but read_syscall_blocks, which checks */
    return dsm_uffd_open(DSM_UFFD_FEATURES_REQUIRED, DSM_UFFD_FEATURES_OPTIONAL,
                         DSM_UFFD_OPEN_ALLOW_USER_MODE_ONLY, uffd) == DSM_OK;
}

/* An anonymous private region of pages, registered with modes (0: not registered). */
static unsigned char *test_region(const dsm_uffd_t *uffd, size_t pages, unsigned modes)
{
    void *addr = mmap(NULL, pages * page_size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (addr == MAP_FAILED) {
        return NULL;
    }
    if (modes != 0 && dsm_uffd_range_register(uffd, addr, pages * page_size, modes) != DSM_OK) {
        munmap(addr, pages * page_size);
        return NULL;
    }
    return addr;
}

/* A page-aligned source buffer of pages filled with seed, seed+1, ... per page. */
static unsigned char *test_source(size_t pages, unsigned char seed)
{
    unsigned char *buf = mmap(NULL, pages * page_size, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (buf == MAP_FAILED) {
        return NULL;
    }
    for (size_t i = 0; i < pages; i++) {
        memset(buf + i * page_size, seed + (int)i, page_size);
    }
    return buf;
}

/* ---- faulting threads -------------------------------------------------------- */

typedef enum { FAULT_READ, FAULT_WRITE, FAULT_SYSCALL_READ } fault_kind_t;

typedef struct {
    pthread_t     thread;
    fault_kind_t  kind;
    unsigned char *addr;
    unsigned char value;    /* FAULT_WRITE: stored; FAULT_READ: what was loaded */
    int           file_fd;  /* FAULT_SYSCALL_READ: read(file_fd, addr, page_size) */
    ssize_t       result;   /* FAULT_SYSCALL_READ: read(2)'s return value */
    int           done_fd;  /* eventfd, signalled when the access completed */
    atomic_int    done;     /* release: value/result are visible once it is 1 */
} faulter_t;

static void *faulter_main(void *arg)
{
    faulter_t *f = arg;
    uint64_t one = 1;

    switch (f->kind) {
    case FAULT_READ:
        f->value = *(volatile unsigned char *)f->addr;
        break;
    case FAULT_WRITE:
        *(volatile unsigned char *)f->addr = f->value;
        break;
    case FAULT_SYSCALL_READ:
        f->result = read(f->file_fd, f->addr, page_size);
        break;
    }
    atomic_store_explicit(&f->done, 1, memory_order_release); /* publish value/result */
    if (write(f->done_fd, &one, sizeof(one)) != sizeof(one)) {
        abort();
    }
    return NULL;
}

static int faulter_start_fd(faulter_t *f, fault_kind_t kind, void *addr, unsigned char value,
                            int file_fd)
{
    memset(f, 0, sizeof(*f));
    f->kind    = kind;
    f->addr    = addr;
    f->value   = value;
    f->file_fd = file_fd;
    f->done_fd = eventfd(0, EFD_CLOEXEC);
    if (f->done_fd < 0) {
        return 0;
    }
    if (pthread_create(&f->thread, NULL, faulter_main, f) != 0) {
        close(f->done_fd);
        return 0;
    }
    return 1;
}

static int faulter_start(faulter_t *f, fault_kind_t kind, void *addr, unsigned char value)
{
    return faulter_start_fd(f, kind, addr, value, -1);
}

static void faulter_join(faulter_t *f)
{
    pthread_join(f->thread, NULL);
    close(f->done_fd);
}

typedef enum { WAIT_DONE, WAIT_FAULT, WAIT_TIMEOUT } wait_result_t;

/*
 * Wait until the faulter completes or a fault event is pending on the uffd.
 * Completion wins when both are ready. timeout_ms 0 only looks.
 */
static wait_result_t faulter_wait(const dsm_uffd_t *uffd, faulter_t *f, int timeout_ms)
{
    struct pollfd fds[2] = {{.fd = f->done_fd, .events = POLLIN},
                            {.fd = uffd->fd, .events = POLLIN}};
    int ready;

    do {
        ready = poll(fds, 2, timeout_ms);
    } while (ready < 0 && errno == EINTR);
    if (ready <= 0) {
        return WAIT_TIMEOUT;
    }
    return (fds[0].revents & POLLIN) ? WAIT_DONE : WAIT_FAULT;
}

/* Whether a fault event is pending right now. */
static int events_pending(const dsm_uffd_t *uffd)
{
    struct pollfd pfd = {.fd = uffd->fd, .events = POLLIN};

    return poll(&pfd, 1, 0) == 1;
}

/* Wait for the faulter alone to complete. */
static int faulter_wait_done(faulter_t *f)
{
    struct pollfd pfd = {.fd = f->done_fd, .events = POLLIN};

    return poll(&pfd, 1, TEST_WAIT_MS) == 1 &&
           atomic_load_explicit(&f->done, memory_order_acquire) == 1;
}

/*
 * Read a byte a blocked faulter is trying to write, through the kernel
 * (process_vm_readv): the check is not itself a racing access. -1 on error.
 */
static int peek_byte(const unsigned char *addr)
{
    unsigned char byte;
    struct iovec local = {.iov_base = &byte, .iov_len = 1};
    struct iovec remote = {.iov_base = (void *)addr, .iov_len = 1};

    return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == 1 ? byte : -1;
}

/* Collect fault events until want have arrived (or TEST_WAIT_MS passes). */
static size_t events_wait(const dsm_uffd_t *uffd, dsm_uffd_event_t *events, size_t want,
                          size_t max)
{
    size_t have = 0;

    while (have < want) {
        struct pollfd pfd = {.fd = uffd->fd, .events = POLLIN};
        size_t got = 0;

        if (poll(&pfd, 1, TEST_WAIT_MS) != 1) {
            break;
        }
        if (dsm_uffd_events_read(uffd, events + have, max - have, &got) != DSM_OK) {
            break;
        }
        have += got;
    }
    return have;
}

/* An access that must complete without raising a fault event. */
static int access_completes_without_fault(const dsm_uffd_t *uffd, fault_kind_t kind,
                                          void *addr, unsigned char value,
                                          unsigned char *loaded_p)
{
    faulter_t f;
    wait_result_t result;

    if (!faulter_start(&f, kind, addr, value)) {
        return 0;
    }
    result = faulter_wait(uffd, &f, TEST_WAIT_MS);
    if (result != WAIT_DONE) {
        /* it faulted: release it so the join below returns */
        dsm_uffd_range_unregister(uffd, (void *)((uintptr_t)addr & ~(page_size - 1)),
                                  page_size);
        faulter_join(&f);
        return 0;
    }
    faulter_join(&f);
    if (loaded_p != NULL) {
        *loaded_p = f.value;
    }
    return 1;
}

/* ---- cases ----------------------------------------------------------------- */

static dsm_test_result_t test_probe_reports_features(void)
{
    dsm_uffd_probe_t probe;
    dsm_uffd_t uffd;
    uint64_t known = 0;

    DSM_CHECK(dsm_uffd_probe(&probe) == DSM_OK);
    DSM_CHECK(dsm_uffd_probe_missing_required(&probe) == NULL);
    for (size_t i = 0; i < DSM_UFFD_FEATURE_COUNT; i++) {
        DSM_CHECK(probe.features[i].name != NULL && probe.features[i].why != NULL);
        DSM_CHECK(probe.features[i].present == ((probe.available & probe.features[i].bit) != 0));
        known |= probe.features[i].bit;
        /* the masks dsm_uffd_open is given agree with the table dsm-info prints */
        if (probe.features[i].bit & DSM_UFFD_FEATURES_REQUIRED) {
            DSM_CHECK(probe.features[i].need == DSM_UFFD_NEED_REQUIRED);
        }
        if (probe.features[i].bit & DSM_UFFD_FEATURES_OPTIONAL) {
            DSM_CHECK(probe.features[i].need == DSM_UFFD_NEED_OPTIONAL);
        }
    }
    DSM_CHECKF((probe.available & ~known) == 0, "kernel features 0x%llx not in the table",
               (unsigned long long)(probe.available & ~known));
    DSM_CHECK(test_uffd_open(&uffd));
    DSM_CHECK((uffd.features & DSM_UFFD_FEATURES_REQUIRED) == DSM_UFFD_FEATURES_REQUIRED);
    DSM_CHECK((uffd.features & ~uffd.available) == 0);
    DSM_CHECK((uffd.features & UFFD_FEATURE_WP_ASYNC) == 0);
    dsm_uffd_close(&uffd);
    return DSM_TEST_PASS;
}

/* A read of an absent page is one MISSING event; one COPY of 4 pages wakes it. */
static dsm_test_result_t test_missing_copy_wakes_reader(void)
{
    dsm_uffd_t uffd;
    dsm_uffd_event_t event;
    unsigned char *region, *src, loaded;
    faulter_t f;
    size_t done = 0;

    DSM_CHECK(test_uffd_open(&uffd));
    DSM_CHECK((region = test_region(&uffd, 4, DSM_UFFD_MODE_MISSING)) != NULL);
    DSM_CHECK((src = test_source(4, 0x40)) != NULL);
    DSM_CHECK(faulter_start(&f, FAULT_READ, region + 100, 0));
    DSM_CHECK(events_wait(&uffd, &event, 1, 1) == 1);
    DSM_CHECK(event.address == (uintptr_t)region);
    DSM_CHECK(event.flags == 0);
    DSM_CHECK(atomic_load(&f.done) == 0);
    DSM_CHECK(dsm_uffd_copy(&uffd, region, src, 4 * page_size, 0, &done) == DSM_OK);
    DSM_CHECK(done == 4 * page_size);
    DSM_CHECK(faulter_wait_done(&f));
    faulter_join(&f);
    DSM_CHECK(f.value == 0x40);
    for (size_t i = 1; i < 4; i++) {
        DSM_CHECK(access_completes_without_fault(&uffd, FAULT_READ, region + i * page_size, 0,
                                                 &loaded));
        DSM_CHECK(loaded == 0x40 + i);
    }
    dsm_uffd_close(&uffd);
    return DSM_TEST_PASS;
}

/* COPY with DONTWAKE installs but leaves the reader waiting until WAKE. */
static dsm_test_result_t test_copy_dontwake_then_wake(void)
{
    dsm_uffd_t uffd;
    dsm_uffd_event_t event;
    unsigned char *region, *src;
    faulter_t f;

    DSM_CHECK(test_uffd_open(&uffd));
    DSM_CHECK((region = test_region(&uffd, 1, DSM_UFFD_MODE_MISSING)) != NULL);
    DSM_CHECK((src = test_source(1, 0x51)) != NULL);
    DSM_CHECK(faulter_start(&f, FAULT_READ, region, 0));
    DSM_CHECK(events_wait(&uffd, &event, 1, 1) == 1);
    DSM_CHECK(dsm_uffd_copy(&uffd, region, src, page_size, DSM_UFFD_DONTWAKE, NULL) == DSM_OK);
    DSM_CHECK(faulter_wait(&uffd, &f, 0) == WAIT_TIMEOUT); /* still asleep, no new event */
    DSM_CHECK(dsm_uffd_wake(&uffd, region, page_size) == DSM_OK);
    DSM_CHECK(faulter_wait_done(&f));
    faulter_join(&f);
    DSM_CHECK(f.value == 0x51);
    dsm_uffd_close(&uffd);
    return DSM_TEST_PASS;
}

/* COPY+WP gives an S page: reads go through, a write is a WP fault until cleared. */
static dsm_test_result_t test_copy_wp_traps_write_not_read(void)
{
    dsm_uffd_t uffd;
    dsm_uffd_event_t event;
    unsigned char *region, *src, loaded = 0;
    faulter_t writer;

    DSM_CHECK(test_uffd_open(&uffd));
    DSM_CHECK((region = test_region(&uffd, 1, DSM_UFFD_MODE_MISSING | DSM_UFFD_MODE_WP)) != NULL);
    DSM_CHECK((src = test_source(1, 0x22)) != NULL);
    DSM_CHECK(dsm_uffd_copy(&uffd, region, src, page_size, DSM_UFFD_WP, NULL) == DSM_OK);
    DSM_CHECK(access_completes_without_fault(&uffd, FAULT_READ, region + 7, 0, &loaded));
    DSM_CHECK(loaded == 0x22);

    DSM_CHECK(faulter_start(&writer, FAULT_WRITE, region + 9, 0x99));
    DSM_CHECK(faulter_wait(&uffd, &writer, TEST_WAIT_MS) == WAIT_FAULT);
    DSM_CHECK(events_wait(&uffd, &event, 1, 1) == 1);
    DSM_CHECK(event.address == (uintptr_t)region);
    DSM_CHECK(event.flags == (DSM_UFFD_EVENT_WP | DSM_UFFD_EVENT_WRITE));
    DSM_CHECK(peek_byte(region + 9) == 0x22); /* the write has not happened */
    DSM_CHECK(dsm_uffd_wp_clear(&uffd, region, page_size, 0) == DSM_OK);
    DSM_CHECK(faulter_wait_done(&writer));
    faulter_join(&writer);
    DSM_CHECK(region[9] == 0x99 && region[8] == 0x22);
    /* writable now: a second write raises nothing */
    DSM_CHECK(access_completes_without_fault(&uffd, FAULT_WRITE, region + 10, 0x77, NULL));
    DSM_CHECK(region[10] == 0x77);
    dsm_uffd_close(&uffd);
    return DSM_TEST_PASS;
}

/* WP over never-touched pages of a WP-only range still traps the first write. */
static dsm_test_result_t test_wp_unpopulated_traps(void)
{
    dsm_uffd_t uffd;
    dsm_uffd_event_t event;
    unsigned char *region;
    faulter_t writer;

    DSM_CHECK(test_uffd_open(&uffd));
    DSM_CHECK(uffd.features & UFFD_FEATURE_WP_UNPOPULATED);
    DSM_CHECK((region = test_region(&uffd, 4, DSM_UFFD_MODE_WP)) != NULL);
    DSM_CHECK(dsm_uffd_wp_set(&uffd, region, 4 * page_size) == DSM_OK);
    DSM_CHECK(faulter_start(&writer, FAULT_WRITE, region + 2 * page_size + 5, 0x3c));
    DSM_CHECK(events_wait(&uffd, &event, 1, 1) == 1);
    DSM_CHECK(event.address == (uintptr_t)(region + 2 * page_size));
    DSM_CHECK(event.flags == (DSM_UFFD_EVENT_WP | DSM_UFFD_EVENT_WRITE));
    DSM_CHECK(dsm_uffd_wp_clear(&uffd, region + 2 * page_size, page_size, 0) == DSM_OK);
    DSM_CHECK(faulter_wait_done(&writer));
    faulter_join(&writer);
    DSM_CHECK(region[2 * page_size + 5] == 0x3c);
    dsm_uffd_close(&uffd);
    return DSM_TEST_PASS;
}

/* A zapped page (writable or write-protected) refaults as MISSING. */
static dsm_test_result_t test_zap_refaults_missing(void)
{
    static const fault_kind_t kinds[2] = {FAULT_READ, FAULT_WRITE};
    dsm_uffd_t uffd;
    dsm_uffd_event_t event;
    unsigned char *region, *src;

    DSM_CHECK(test_uffd_open(&uffd));
    DSM_CHECK((region = test_region(&uffd, 2, DSM_UFFD_MODE_MISSING | DSM_UFFD_MODE_WP)) != NULL);
    DSM_CHECK((src = test_source(2, 0x10)) != NULL);
    /* page 0 installed writable (M), page 1 write-protected (S) */
    DSM_CHECK(dsm_uffd_copy(&uffd, region, src, page_size, 0, NULL) == DSM_OK);
    DSM_CHECK(dsm_uffd_copy(&uffd, region + page_size, src + page_size, page_size, DSM_UFFD_WP,
                            NULL) == DSM_OK);
    DSM_CHECK(dsm_uffd_zap(region, 2 * page_size) == DSM_OK);
    for (size_t i = 0; i < 2; i++) {
        unsigned char *page = region + i * page_size;
        faulter_t f;

        DSM_CHECK(faulter_start(&f, kinds[i], page, 0x66));
        DSM_CHECK(events_wait(&uffd, &event, 1, 1) == 1);
        DSM_CHECK(event.address == (uintptr_t)page);
        DSM_CHECK(!(event.flags & DSM_UFFD_EVENT_WP));
        DSM_CHECK(!!(event.flags & DSM_UFFD_EVENT_WRITE) == (kinds[i] == FAULT_WRITE));
        DSM_CHECK(dsm_uffd_copy(&uffd, page, src + (1 - i) * page_size, page_size, 0, NULL) ==
                  DSM_OK);
        DSM_CHECK(faulter_wait_done(&f));
        faulter_join(&f);
        DSM_CHECK(kinds[i] == FAULT_WRITE ? page[0] == 0x66 : f.value == 0x11);
    }
    dsm_uffd_close(&uffd);
    return DSM_TEST_PASS;
}

/*
 * The invalidation of a page a writer is blocked on (WP fault): zap does not
 * wake it; the explicit wake does, and the writer refaults as MISSING.
 */
static dsm_test_result_t test_zap_blocked_writer_refaults_missing(void)
{
    dsm_uffd_t uffd;
    dsm_uffd_event_t event;
    unsigned char *region, *src;
    faulter_t writer;

    DSM_CHECK(test_uffd_open(&uffd));
    DSM_CHECK((region = test_region(&uffd, 1, DSM_UFFD_MODE_MISSING | DSM_UFFD_MODE_WP)) != NULL);
    DSM_CHECK((src = test_source(2, 0x20)) != NULL);
    DSM_CHECK(dsm_uffd_copy(&uffd, region, src, page_size, DSM_UFFD_WP, NULL) == DSM_OK);
    DSM_CHECK(faulter_start(&writer, FAULT_WRITE, region + 4, 0xee));
    DSM_CHECK(events_wait(&uffd, &event, 1, 1) == 1);
    DSM_CHECK(event.flags == (DSM_UFFD_EVENT_WP | DSM_UFFD_EVENT_WRITE));

    DSM_CHECK(dsm_uffd_zap(region, page_size) == DSM_OK);
    DSM_CHECK(faulter_wait(&uffd, &writer, 0) == WAIT_TIMEOUT); /* still asleep */
    DSM_CHECK(dsm_uffd_wake(&uffd, region, page_size) == DSM_OK);
    DSM_CHECK(events_wait(&uffd, &event, 1, 1) == 1);
    DSM_CHECK(event.address == (uintptr_t)region);
    DSM_CHECK(event.flags == DSM_UFFD_EVENT_WRITE); /* MISSING now, not WP */
    DSM_CHECK(dsm_uffd_copy(&uffd, region, src + page_size, page_size, 0, NULL) == DSM_OK);
    DSM_CHECK(faulter_wait_done(&writer));
    faulter_join(&writer);
    DSM_CHECK(region[4] == 0xee && region[5] == 0x21); /* written on top of the new copy */
    dsm_uffd_close(&uffd);
    return DSM_TEST_PASS;
}

/*
 * The service thread's de-duplication: install a page on its first event,
 * recognise later events for it as duplicates (their COPY gets EXISTS).
 * Returns the number of installs, or -1 on an unexpected status.
 */
static int resolve_deduplicated(const dsm_uffd_t *uffd, const dsm_uffd_event_t *events,
                                size_t count, const unsigned char *src, size_t *duplicates_p)
{
    uintptr_t installed[TEST_THREADS];
    size_t installs = 0, duplicates = 0;

    for (size_t i = 0; i < count; i++) {
        size_t j = 0;

        while (j < installs && installed[j] != events[i].address) {
            j++;
        }
        if (j < installs) {
            /* a duplicate: the page is there, a second COPY must say so */
            if (dsm_uffd_copy(uffd, (void *)events[i].address, src, page_size, 0, NULL) !=
                DSM_ERR_EXISTS) {
                return -1;
            }
            duplicates++;
            continue;
        }
        if (dsm_uffd_copy(uffd, (void *)events[i].address, src, page_size, 0, NULL) != DSM_OK) {
            return -1;
        }
        installed[installs++] = events[i].address;
    }
    *duplicates_p = duplicates;
    return (int)installs;
}

static dsm_test_result_t test_threads_same_page(void)
{
    dsm_uffd_t uffd;
    dsm_uffd_event_t events[TEST_THREADS + 1];
    faulter_t faulters[TEST_THREADS];
    unsigned char *region, *src;
    size_t duplicates = 0;

    DSM_CHECK(test_uffd_open(&uffd));
    DSM_CHECK((region = test_region(&uffd, 1, DSM_UFFD_MODE_MISSING)) != NULL);
    DSM_CHECK((src = test_source(1, 0x5a)) != NULL);
    for (int i = 0; i < TEST_THREADS; i++) {
        DSM_CHECK(faulter_start(&faulters[i], FAULT_READ, region + 64 * i, 0));
    }
    /* nothing is resolved before all eight are asleep on the page: one event each */
    DSM_CHECK(events_wait(&uffd, events, TEST_THREADS, TEST_THREADS + 1) == TEST_THREADS);
    if (uffd.features & UFFD_FEATURE_THREAD_ID) {
        for (int i = 0; i < TEST_THREADS; i++) {
            DSM_CHECK(events[i].tid != 0);
            for (int j = 0; j < i; j++) {
                DSM_CHECK(events[i].tid != events[j].tid);
            }
        }
    }
    DSM_CHECK(resolve_deduplicated(&uffd, events, TEST_THREADS, src, &duplicates) == 1);
    DSM_CHECK(duplicates == TEST_THREADS - 1);
    for (int i = 0; i < TEST_THREADS; i++) {
        DSM_CHECKF(faulter_wait_done(&faulters[i]), "thread %d never woke", i);
        faulter_join(&faulters[i]);
        DSM_CHECK(faulters[i].value == 0x5a);
    }
    DSM_CHECK(!events_pending(&uffd));
    dsm_uffd_close(&uffd);
    return DSM_TEST_PASS;
}

/* Eight writers on one S page: eight WP events, one clear wakes them all. */
static dsm_test_result_t test_threads_same_page_wp(void)
{
    dsm_uffd_t uffd;
    dsm_uffd_event_t events[TEST_THREADS + 1];
    faulter_t faulters[TEST_THREADS];
    unsigned char *region, *src;

    DSM_CHECK(test_uffd_open(&uffd));
    DSM_CHECK((region = test_region(&uffd, 1, DSM_UFFD_MODE_MISSING | DSM_UFFD_MODE_WP)) != NULL);
    DSM_CHECK((src = test_source(1, 0x00)) != NULL);
    DSM_CHECK(dsm_uffd_copy(&uffd, region, src, page_size, DSM_UFFD_WP, NULL) == DSM_OK);
    for (int i = 0; i < TEST_THREADS; i++) {
        DSM_CHECK(faulter_start(&faulters[i], FAULT_WRITE, region + 64 * i,
                                (unsigned char)(0xc0 + i)));
    }
    DSM_CHECK(events_wait(&uffd, events, TEST_THREADS, TEST_THREADS + 1) == TEST_THREADS);
    for (int i = 0; i < TEST_THREADS; i++) {
        DSM_CHECK(events[i].address == (uintptr_t)region);
        DSM_CHECK(events[i].flags == (DSM_UFFD_EVENT_WP | DSM_UFFD_EVENT_WRITE));
    }
    /* the upgrade is granted once; the duplicates need nothing more */
    DSM_CHECK(dsm_uffd_wp_clear(&uffd, region, page_size, 0) == DSM_OK);
    for (int i = 0; i < TEST_THREADS; i++) {
        DSM_CHECKF(faulter_wait_done(&faulters[i]), "writer %d never woke", i);
        faulter_join(&faulters[i]);
        DSM_CHECK(region[64 * i] == 0xc0 + i);
    }
    DSM_CHECK(!events_pending(&uffd));
    dsm_uffd_close(&uffd);
    return DSM_TEST_PASS;
}

static dsm_test_result_t test_threads_distinct_pages(void)
{
    dsm_uffd_t uffd;
    dsm_uffd_event_t events[TEST_THREADS + 1];
    faulter_t faulters[TEST_THREADS];
    unsigned char *region, *src;
    size_t duplicates = 1;

    DSM_CHECK(test_uffd_open(&uffd));
    DSM_CHECK((region = test_region(&uffd, TEST_THREADS, DSM_UFFD_MODE_MISSING)) != NULL);
    DSM_CHECK((src = test_source(1, 0x33)) != NULL);
    for (int i = 0; i < TEST_THREADS; i++) {
        /* even threads read, odd threads write: the WRITE flag must say which */
        DSM_CHECK(faulter_start(&faulters[i], (i & 1) ? FAULT_WRITE : FAULT_READ,
                                region + i * page_size + 1, (unsigned char)(0x80 + i)));
    }
    DSM_CHECK(events_wait(&uffd, events, TEST_THREADS, TEST_THREADS + 1) == TEST_THREADS);
    for (int i = 0; i < TEST_THREADS; i++) {
        size_t page = (events[i].address - (uintptr_t)region) / page_size;

        DSM_CHECK(page < TEST_THREADS);
        DSM_CHECK(!!(events[i].flags & DSM_UFFD_EVENT_WRITE) == (int)(page & 1));
    }
    DSM_CHECK(resolve_deduplicated(&uffd, events, TEST_THREADS, src, &duplicates) ==
              TEST_THREADS);
    DSM_CHECK(duplicates == 0);
    for (int i = 0; i < TEST_THREADS; i++) {
        DSM_CHECKF(faulter_wait_done(&faulters[i]), "thread %d never woke", i);
        faulter_join(&faulters[i]);
        DSM_CHECK((i & 1) ? region[i * page_size + 1] == 0x80 + i : faulters[i].value == 0x33);
    }
    dsm_uffd_close(&uffd);
    return DSM_TEST_PASS;
}

/* read(2) into an absent page waits in the kernel until the page is supplied. */
static dsm_test_result_t test_read_syscall_blocks(void)
{
    dsm_uffd_t uffd;
    dsm_uffd_event_t event;
    unsigned char *region, *src, *expected;
    faulter_t reader;
    int file_fd;

    DSM_CHECK(test_uffd_open(&uffd));
    DSM_CHECK(uffd.origin != DSM_UFFD_ORIGIN_USER_MODE_ONLY);
    DSM_CHECK((region = test_region(&uffd, 1, DSM_UFFD_MODE_MISSING)) != NULL);
    DSM_CHECK((src = test_source(1, 0x00)) != NULL);
    DSM_CHECK((expected = test_source(1, 0xe1)) != NULL);
    DSM_CHECK((file_fd = memfd_create("dsm-test-file", MFD_CLOEXEC)) >= 0);
    DSM_CHECK(write(file_fd, expected, page_size) == (ssize_t)page_size);
    DSM_CHECK(lseek(file_fd, 0, SEEK_SET) == 0);

    DSM_CHECK(faulter_start_fd(&reader, FAULT_SYSCALL_READ, region, 0, file_fd));
    DSM_CHECK(faulter_wait(&uffd, &reader, TEST_WAIT_MS) == WAIT_FAULT);
    DSM_CHECK(events_wait(&uffd, &event, 1, 1) == 1);
    DSM_CHECK(event.address == (uintptr_t)region);
    DSM_CHECK(event.flags == DSM_UFFD_EVENT_WRITE); /* the kernel writes the user buffer */
    DSM_CHECK(atomic_load(&reader.done) == 0);      /* read(2) is asleep in the kernel */
    DSM_CHECK(dsm_uffd_copy(&uffd, region, src, page_size, 0, NULL) == DSM_OK);
    DSM_CHECK(faulter_wait_done(&reader));
    faulter_join(&reader);
    DSM_CHECKF(reader.result == (ssize_t)page_size, "read returned %zd", reader.result);
    DSM_CHECK(memcmp(region, expected, page_size) == 0);
    close(file_fd);
    dsm_uffd_close(&uffd);
    return DSM_TEST_PASS;
}

/* The VMAs covering a range, -1 if they cannot be counted. */
static long vma_count(const void *start, size_t len)
{
    size_t count;

    return dsm_uffd_range_vmas(start, len, &count) == DSM_OK ? (long)count : -1;
}

#define VMA_ARENA_BYTES ((size_t)64 << 30)
#define VMA_PAGES 100000

/*
 * 100,000 scattered pages of a 64 GiB arena, alternately installed read-only
 * (COPY+WP) and writable (COPY): the arena stays one VMA, where mprotect
 * would have split it into ~200,000.
 */
static dsm_test_result_t test_vma_count_64g_arena(void)
{
    size_t arena_pages = VMA_ARENA_BYTES / page_size;
    unsigned char *arena, *src, *ro_page = NULL, *rw_page = NULL;
    dsm_uffd_event_t event;
    dsm_uffd_t uffd;
    faulter_t writer;

    DSM_CHECK((arena_pages & (arena_pages - 1)) == 0); /* the index walk below needs 2^k */
    DSM_CHECK(test_uffd_open(&uffd));
    arena = mmap(NULL, VMA_ARENA_BYTES, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    DSM_CHECK(arena != MAP_FAILED);
    DSM_CHECK(dsm_uffd_range_register(&uffd, arena, VMA_ARENA_BYTES,
                                      DSM_UFFD_MODE_MISSING | DSM_UFFD_MODE_WP) == DSM_OK);
    DSM_CHECK(vma_count(arena, VMA_ARENA_BYTES) == 1);
    DSM_CHECK((src = test_source(1, 0x44)) != NULL);
    for (size_t i = 0; i < VMA_PAGES; i++) {
        /* an odd multiplier permutes 0..2^k-1: distinct, scattered pages */
        size_t index = (i * 2654435761u) & (arena_pages - 1);
        unsigned char *page = arena + index * page_size;

        DSM_CHECKF(dsm_uffd_copy(&uffd, page, src, page_size, (i & 1) ? 0 : DSM_UFFD_WP,
                                 NULL) == DSM_OK, "page %zu", i);
        if (i == 2) {
            ro_page = page;
        } else if (i == 3) {
            rw_page = page;
        }
    }
    DSM_CHECKF(vma_count(arena, VMA_ARENA_BYTES) == 1, "%ld VMAs",
               vma_count(arena, VMA_ARENA_BYTES));

    /* the states are real: a write to a read-only page traps, to a writable one not */
    DSM_CHECK(access_completes_without_fault(&uffd, FAULT_WRITE, rw_page, 0x01, NULL));
    DSM_CHECK(faulter_start(&writer, FAULT_WRITE, ro_page, 0x02));
    DSM_CHECK(events_wait(&uffd, &event, 1, 1) == 1);
    DSM_CHECK(event.address == (uintptr_t)ro_page && (event.flags & DSM_UFFD_EVENT_WP));
    DSM_CHECK(dsm_uffd_wp_clear(&uffd, ro_page, page_size, 0) == DSM_OK);
    DSM_CHECK(faulter_wait_done(&writer));
    faulter_join(&writer);
    DSM_CHECK(ro_page[0] == 0x02 && rw_page[0] == 0x01);
    DSM_CHECK(vma_count(arena, VMA_ARENA_BYTES) == 1);
    munmap(arena, VMA_ARENA_BYTES);
    dsm_uffd_close(&uffd);
    return DSM_TEST_PASS;
}

/* The races a service thread meets are statuses, never crashes. */
static dsm_test_result_t test_recoverable_races(void)
{
    dsm_uffd_t uffd;
    unsigned char *region, *plain, *missing_only, *src;
    size_t done = 123;

    DSM_CHECK(test_uffd_open(&uffd));
    DSM_CHECK((region = test_region(&uffd, 4, DSM_UFFD_MODE_MISSING | DSM_UFFD_MODE_WP)) != NULL);
    DSM_CHECK((plain = test_region(&uffd, 1, 0)) != NULL);
    DSM_CHECK((missing_only = test_region(&uffd, 1, DSM_UFFD_MODE_MISSING)) != NULL);
    DSM_CHECK((src = test_source(4, 0x90)) != NULL);

    /* COPY onto a present page: EXISTS, nothing done */
    DSM_CHECK(dsm_uffd_copy(&uffd, region + 2 * page_size, src, page_size, 0, NULL) == DSM_OK);
    DSM_CHECK(dsm_uffd_copy(&uffd, region + 2 * page_size, src, page_size, 0, &done) ==
              DSM_ERR_EXISTS);
    DSM_CHECK(done == 0);
    /* a multi-page COPY stopping at a present page: AGAIN with the bytes done */
    DSM_CHECK(dsm_uffd_copy(&uffd, region, src, 4 * page_size, 0, &done) == DSM_ERR_AGAIN);
    DSM_CHECK(done == 2 * page_size);
    DSM_CHECK(region[0] == 0x90 && region[page_size] == 0x91 && region[2 * page_size] == 0x90);
    /* the caller retries the rest: the present page reports EXISTS */
    DSM_CHECK(dsm_uffd_copy(&uffd, region + done, src + done, 2 * page_size, 0, &done) ==
              DSM_ERR_EXISTS);
    /* ZEROPAGE likewise */
    DSM_CHECK(dsm_uffd_zero(&uffd, region + 3 * page_size, page_size, 0, &done) == DSM_OK);
    DSM_CHECK(done == page_size);
    DSM_CHECK(dsm_uffd_zero(&uffd, region + 3 * page_size, page_size, 0, NULL) == DSM_ERR_EXISTS);
    /* ranges not registered (in the needed mode): NO_ENTRY */
    DSM_CHECK(dsm_uffd_copy(&uffd, plain, src, page_size, 0, NULL) == DSM_ERR_NO_ENTRY);
    DSM_CHECK(dsm_uffd_wp_set(&uffd, plain, page_size) == DSM_ERR_NO_ENTRY);
    DSM_CHECK(dsm_uffd_wp_set(&uffd, missing_only, page_size) == DSM_ERR_NO_ENTRY);
    DSM_CHECK(dsm_uffd_range_unregister(&uffd, missing_only, page_size) == DSM_OK);
    DSM_CHECK(dsm_uffd_copy(&uffd, missing_only, src, page_size, 0, NULL) == DSM_ERR_NO_ENTRY);
    /* malformed requests are refused before the kernel sees them */
    DSM_CHECK(dsm_uffd_copy(&uffd, region + 1, src, page_size, 0, NULL) == DSM_ERR_INVALID_PARAM);
    DSM_CHECK(dsm_uffd_zero(&uffd, region, page_size, DSM_UFFD_WP, NULL) ==
              DSM_ERR_INVALID_PARAM);
    dsm_uffd_close(&uffd);
    return DSM_TEST_PASS;
}

/* MOVE: a present anonymous page changes address without a copy. */
static dsm_test_result_t test_move_basic(void)
{
    dsm_uffd_t uffd;
    dsm_uffd_event_t event;
    unsigned char *dst, *src;
    faulter_t reader;
    size_t done = 0;

    DSM_CHECK(test_uffd_open(&uffd));
    DSM_CHECK((dst = test_region(&uffd, 2, DSM_UFFD_MODE_MISSING)) != NULL);
    DSM_CHECK((src = test_region(&uffd, 3, 0)) != NULL);
    memset(src, 0x71, page_size);
    memset(src + page_size, 0x72, page_size); /* src page 2 stays absent */

    DSM_CHECK(faulter_start(&reader, FAULT_READ, dst + 11, 0));
    DSM_CHECK(events_wait(&uffd, &event, 1, 1) == 1);
    DSM_CHECK(event.address == (uintptr_t)dst);
    DSM_CHECK(dsm_uffd_move(&uffd, dst, src, page_size, 0, &done) == DSM_OK);
    DSM_CHECK(done == page_size);
    DSM_CHECK(faulter_wait_done(&reader));
    faulter_join(&reader);
    DSM_CHECK(reader.value == 0x71);
    DSM_CHECK(src[0] == 0); /* the source is absent now: a fresh zero page */
    DSM_CHECK(dsm_uffd_move(&uffd, dst, src + page_size, page_size, 0, &done) ==
              DSM_ERR_EXISTS);
    DSM_CHECK(dsm_uffd_move(&uffd, dst + page_size, src + 2 * page_size, page_size, 0, NULL) ==
              DSM_ERR_NO_ENTRY);
    dsm_uffd_close(&uffd);
    return DSM_TEST_PASS;
}

/* CONTINUE: a shmem page in the page cache but not mapped here is a MINOR fault. */
static dsm_test_result_t test_continue_minor_shmem(void)
{
    dsm_uffd_t uffd;
    dsm_uffd_event_t event;
    unsigned char *view, *other;
    faulter_t reader;
    int memfd;

    DSM_CHECK(test_uffd_open(&uffd));
    DSM_CHECK((memfd = memfd_create("dsm-test-shmem", MFD_CLOEXEC)) >= 0);
    DSM_CHECK(ftruncate(memfd, (off_t)page_size) == 0);
    view = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    other = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    DSM_CHECK(view != MAP_FAILED && other != MAP_FAILED);
    DSM_CHECK(dsm_uffd_range_register(&uffd, view, page_size, DSM_UFFD_MODE_MINOR) == DSM_OK);
    memset(other, 0x6d, page_size); /* the page is now in the page cache */

    DSM_CHECK(faulter_start(&reader, FAULT_READ, view + 3, 0));
    DSM_CHECK(events_wait(&uffd, &event, 1, 1) == 1);
    DSM_CHECK(event.address == (uintptr_t)view);
    DSM_CHECK(event.flags == DSM_UFFD_EVENT_MINOR);
    DSM_CHECK(dsm_uffd_continue(&uffd, view, page_size, 0, NULL) == DSM_OK);
    DSM_CHECK(faulter_wait_done(&reader));
    faulter_join(&reader);
    DSM_CHECK(reader.value == 0x6d);
    DSM_CHECK(dsm_uffd_continue(&uffd, view, page_size, 0, NULL) == DSM_ERR_EXISTS);
    view[5] = 0x01; /* one page, two mappings */
    DSM_CHECK(other[5] == 0x01);
    close(memfd);
    dsm_uffd_close(&uffd);
    return DSM_TEST_PASS;
}

/* ---- detaching a range (a checkpoint's cut) ------------------------------------ */

#define TEST_PMD ((size_t)2 << 20)

/* len bytes of address space at a 2 MiB boundary (reserved, no access). */
static unsigned char *test_reserve_aligned(size_t len)
{
    unsigned char *reserved = mmap(NULL, len + TEST_PMD, PROT_NONE,
                                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (reserved == MAP_FAILED) {
        return NULL;
    }
    return (unsigned char *)(((uintptr_t)reserved + TEST_PMD - 1) & ~(uintptr_t)(TEST_PMD - 1));
}

typedef struct {
    unsigned char *addr, *scratch;
    size_t         len;
    dsm_status_t   status;
    atomic_int     done;
} detacher_t;

static void *detacher_main(void *arg)
{
    detacher_t *d = arg;

    d->status = dsm_uffd_range_detach(d->addr, d->len, d->scratch);
    atomic_store(&d->done, 1);
    return NULL;
}

/*
 * dsm_uffd_range_detach: every page of a registered memfd range loses its
 * mapping and keeps its data (the next access is a MINOR fault, whose
 * CONTINUE finds the page as written, through either mapping). The caller
 * waits until the uffd's reader has read the REMAP event, which
 * dsm_uffd_events_read consumes without reporting.
 */
static dsm_test_result_t test_detach_keeps_pages(void)
{
    const size_t len = 2 * TEST_PMD, pages = len / page_size;
    dsm_uffd_t uffd;
    dsm_uffd_event_t event;
    detacher_t detacher = {.len = len};
    unsigned char *view, *other;
    faulter_t reader;
    pthread_t thread;
    int memfd;

    DSM_CHECK(test_uffd_open(&uffd));
    DSM_CHECK((memfd = memfd_create("dsm-test-detach", MFD_CLOEXEC)) >= 0);
    DSM_CHECK(ftruncate(memfd, (off_t)len) == 0);
    DSM_CHECK((view = test_reserve_aligned(len)) != NULL);
    DSM_CHECK((detacher.scratch = test_reserve_aligned(len)) != NULL);
    DSM_CHECK(mmap(view, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, memfd, 0) == view);
    other = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    DSM_CHECK(other != MAP_FAILED);
    DSM_CHECK(dsm_uffd_range_register(&uffd, view, len,
                                      DSM_UFFD_MODE_MISSING | DSM_UFFD_MODE_MINOR |
                                          DSM_UFFD_MODE_WP) == DSM_OK);
    for (size_t i = 0; i < pages; i++) {
        other[i * page_size] = (unsigned char)i;
    }
    DSM_CHECK(dsm_uffd_continue(&uffd, view, len, 0, NULL) == DSM_OK);
    DSM_CHECK(view[(pages - 1) * page_size] == (unsigned char)(pages - 1)); /* mapped */

    detacher.addr = view;
    DSM_CHECK(pthread_create(&thread, NULL, detacher_main, &detacher) == 0);
    /* The reader's part: the REMAP event is read, and no fault reported. */
    for (int polls = 0; !atomic_load(&detacher.done) && polls < TEST_WAIT_MS / 10; polls++) {
        struct pollfd pfd = {.fd = uffd.fd, .events = POLLIN};
        size_t got = 0;

        if (poll(&pfd, 1, 10) == 1) {
            DSM_CHECK(dsm_uffd_events_read(&uffd, &event, 1, &got) == DSM_OK && got == 0);
        }
    }
    pthread_join(thread, NULL);
    DSM_CHECK(detacher.status == DSM_OK);

    other[7 * page_size + 1] = 0x5a; /* written after the detach, through the other mapping */
    DSM_CHECK(faulter_start(&reader, FAULT_READ, view + 7 * page_size + 1, 0));
    DSM_CHECK(events_wait(&uffd, &event, 1, 1) == 1);
    DSM_CHECK(event.address == (uintptr_t)(view + 7 * page_size));
    DSM_CHECK(event.flags == DSM_UFFD_EVENT_MINOR);
    DSM_CHECK(dsm_uffd_continue(&uffd, view + 7 * page_size, page_size, 0, NULL) == DSM_OK);
    DSM_CHECK(faulter_wait_done(&reader));
    faulter_join(&reader);
    DSM_CHECK(reader.value == 0x5a);
    DSM_CHECK(view[7 * page_size] == 7);
    DSM_CHECK(dsm_uffd_scratch_reset(detacher.scratch, len) == DSM_OK);
    DSM_CHECK(other[(pages - 1) * page_size] == (unsigned char)(pages - 1));
    munmap(other, len);
    munmap(view, len);
    munmap(detacher.scratch, len);
    close(memfd);
    dsm_uffd_close(&uffd);
    return DSM_TEST_PASS;
}

/*
 * ZEROPAGE over several pages resolves a read with zeros. It has no WP mode:
 * a write to a zero page is not trapped until the page is write-protected,
 * so the runtime must not use it to install a read-only (S) page.
 */
static dsm_test_result_t test_zeropage_basic(void)
{
    dsm_uffd_t uffd;
    dsm_uffd_event_t event;
    unsigned char *region, loaded = 0xff;
    faulter_t f;
    size_t done = 0;

    DSM_CHECK(test_uffd_open(&uffd));
    DSM_CHECK((region = test_region(&uffd, 4, DSM_UFFD_MODE_MISSING | DSM_UFFD_MODE_WP)) != NULL);
    DSM_CHECK(faulter_start(&f, FAULT_READ, region + 2 * page_size, 0xff));
    DSM_CHECK(events_wait(&uffd, &event, 1, 1) == 1);
    DSM_CHECK(event.address == (uintptr_t)(region + 2 * page_size));
    DSM_CHECK(dsm_uffd_zero(&uffd, region, 4 * page_size, 0, &done) == DSM_OK);
    DSM_CHECK(done == 4 * page_size);
    DSM_CHECK(faulter_wait_done(&f));
    faulter_join(&f);
    DSM_CHECK(f.value == 0);
    DSM_CHECK(access_completes_without_fault(&uffd, FAULT_READ, region + 3 * page_size, 0,
                                             &loaded));
    DSM_CHECK(loaded == 0);
    /* the pitfall: a zero page is writable as far as userfaultfd is concerned */
    DSM_CHECK(access_completes_without_fault(&uffd, FAULT_WRITE, region + 3 * page_size, 0x0f,
                                             NULL));
    DSM_CHECK(region[3 * page_size] == 0x0f);
    /* once write-protected, it traps like any S page */
    DSM_CHECK(dsm_uffd_wp_set(&uffd, region + page_size, page_size) == DSM_OK);
    DSM_CHECK(faulter_start(&f, FAULT_WRITE, region + page_size, 0x1e));
    DSM_CHECK(events_wait(&uffd, &event, 1, 1) == 1);
    DSM_CHECK(event.flags == (DSM_UFFD_EVENT_WP | DSM_UFFD_EVENT_WRITE));
    DSM_CHECK(dsm_uffd_wp_clear(&uffd, region + page_size, page_size, 0) == DSM_OK);
    DSM_CHECK(faulter_wait_done(&f));
    faulter_join(&f);
    DSM_CHECK(region[page_size] == 0x1e);
    dsm_uffd_close(&uffd);
    return DSM_TEST_PASS;
}

/* ---- SIGBUS mode ------------------------------------------------------------ */

static const dsm_uffd_t *sigbus_uffd;
static const unsigned char *sigbus_src;
static volatile sig_atomic_t sigbus_count;

static void sigbus_handler(int sig, siginfo_t *info, void *context)
{
    void *page = (void *)((uintptr_t)info->si_addr & ~(page_size - 1));

    (void)sig;
    (void)context;
    /* in SIGBUS mode nobody waits on the page: nothing to wake */
    if (dsm_uffd_copy(sigbus_uffd, page, sigbus_src, page_size, DSM_UFFD_DONTWAKE, NULL) !=
        DSM_OK) {
        abort();
    }
    sigbus_count++;
}

/*
 * With SIGBUS the faulting thread gets the signal instead of an event and can
 * resolve the fault itself; but a system call touching an absent page fails
 * with EFAULT instead of waiting (why the runtime keeps a fallback for it).
 */
static dsm_test_result_t test_sigbus_mode_contract(void)
{
    struct sigaction action = {.sa_sigaction = sigbus_handler, .sa_flags = SA_SIGINFO};
    unsigned char *region, *src;
    dsm_uffd_t uffd;
    int file_fd;

    DSM_CHECK(dsm_uffd_open(DSM_UFFD_FEATURES_REQUIRED | UFFD_FEATURE_SIGBUS, 0,
                            DSM_UFFD_OPEN_ALLOW_USER_MODE_ONLY, &uffd) == DSM_OK);
    DSM_CHECK((region = test_region(&uffd, 2, DSM_UFFD_MODE_MISSING)) != NULL);
    DSM_CHECK((src = test_source(1, 0x7b)) != NULL);
    sigbus_uffd = &uffd;
    sigbus_src = src;
    sigemptyset(&action.sa_mask);
    DSM_CHECK(sigaction(SIGBUS, &action, NULL) == 0);

    DSM_CHECK(*(volatile unsigned char *)region == 0x7b);
    DSM_CHECK(sigbus_count == 1);
    DSM_CHECK(!events_pending(&uffd));

    DSM_CHECK((file_fd = memfd_create("dsm-test-file", MFD_CLOEXEC)) >= 0);
    DSM_CHECK(write(file_fd, src, page_size) == (ssize_t)page_size);
    DSM_CHECK(lseek(file_fd, 0, SEEK_SET) == 0);
    errno = 0;
    DSM_CHECK(read(file_fd, region + page_size, page_size) == -1 && errno == EFAULT);
    DSM_CHECK(sigbus_count == 1); /* the kernel's own access raises no signal */
    close(file_fd);
    dsm_uffd_close(&uffd);
    return DSM_TEST_PASS;
}

static dsm_test_case_t test_cases[] = {
    {"probe_reports_features", need_base, test_probe_reports_features, 0},
    {"missing_copy_wakes_reader", need_base, test_missing_copy_wakes_reader, 0},
    {"copy_dontwake_then_wake", need_base, test_copy_dontwake_then_wake, 0},
    {"copy_wp_traps_write_not_read", need_base, test_copy_wp_traps_write_not_read, 0},
    {"wp_unpopulated_traps", need_wp_unpopulated, test_wp_unpopulated_traps, 0},
    {"zap_refaults_missing", need_base, test_zap_refaults_missing, 0},
    {"zap_blocked_writer_refaults_missing", need_base, test_zap_blocked_writer_refaults_missing, 0},
    {"threads_same_page", need_base, test_threads_same_page, 0},
    {"threads_same_page_wp", need_base, test_threads_same_page_wp, 0},
    {"threads_distinct_pages", need_base, test_threads_distinct_pages, 0},
    {"read_syscall_blocks", need_kernel_faults, test_read_syscall_blocks, 0},
    {"vma_count_64g_arena", need_base, test_vma_count_64g_arena, 0},
    {"recoverable_races", need_base, test_recoverable_races, 0},
    {"move_basic", need_move, test_move_basic, 0},
    {"continue_minor_shmem", need_minor_shmem, test_continue_minor_shmem, 0},
    {"detach_keeps_pages", need_minor_shmem, test_detach_keeps_pages, 0},
    {"zeropage_basic", need_base, test_zeropage_basic, 0},
    {"sigbus_mode_contract", need_sigbus, test_sigbus_mode_contract, 0},
};

int main(int argc, char **argv)
{
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    return dsm_test_main(argc, argv, test_cases, DSM_TEST_ARRAY_SIZE(test_cases));
}
