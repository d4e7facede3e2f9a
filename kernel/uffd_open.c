/* Opening a userfaultfd, feature negotiation and the capability probe. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dsm_common.h"
#include "dsm_uffd.h"

#define DSM_UFFD_DEVICE "/dev/userfaultfd"

/* Every feature UFFDIO_API can report, what dsm needs it for, in bit order. */
static const dsm_uffd_feature_t dsm_uffd_feature_table[DSM_UFFD_FEATURE_COUNT] = {
    {"PAGEFAULT_FLAG_WP", UFFD_FEATURE_PAGEFAULT_FLAG_WP, DSM_UFFD_NEED_REQUIRED,
     "write-protect faults: a write to a shared (S) page asks for the upgrade to M", 0},
    {"EVENT_FORK", UFFD_FEATURE_EVENT_FORK, DSM_UFFD_NEED_UNUSED,
     "a forked child does not join the job; needs CAP_SYS_PTRACE", 0},
    {"EVENT_REMAP", UFFD_FEATURE_EVENT_REMAP, DSM_UFFD_NEED_REQUIRED,
     "a checkpoint's cut unmaps the arena by moving its page tables (mremap), per 2 MiB", 0},
    {"EVENT_REMOVE", UFFD_FEATURE_EVENT_REMOVE, DSM_UFFD_NEED_UNUSED,
     "only dsm zaps arena pages, and it knows when", 0},
    {"MISSING_HUGETLBFS", UFFD_FEATURE_MISSING_HUGETLBFS, DSM_UFFD_NEED_UNUSED,
     "the arena is not hugetlbfs-backed", 0},
    {"MISSING_SHMEM", UFFD_FEATURE_MISSING_SHMEM, DSM_UFFD_NEED_OPTIONAL,
     "MISSING faults on the memfd arena (a page its page cache lacks)", 0},
    {"EVENT_UNMAP", UFFD_FEATURE_EVENT_UNMAP, DSM_UFFD_NEED_UNUSED,
     "the arena is unmapped only by dsm_finalize", 0},
    {"SIGBUS", UFFD_FEATURE_SIGBUS, DSM_UFFD_NEED_OPTIONAL,
     "resolve faults in the faulting thread (lower latency); read(2) then needs a fallback", 0},
    {"THREAD_ID", UFFD_FEATURE_THREAD_ID, DSM_UFFD_NEED_OPTIONAL,
     "names the faulting thread in events (statistics, debugging)", 0},
    {"MINOR_HUGETLBFS", UFFD_FEATURE_MINOR_HUGETLBFS, DSM_UFFD_NEED_UNUSED,
     "the arena is not hugetlbfs-backed", 0},
    {"MINOR_SHMEM", UFFD_FEATURE_MINOR_SHMEM, DSM_UFFD_NEED_REQUIRED,
     "the arena is a memfd: pages already in its page cache are mapped with CONTINUE", 0},
    {"EXACT_ADDRESS", UFFD_FEATURE_EXACT_ADDRESS, DSM_UFFD_NEED_UNUSED,
     "coherence is per page; the offset inside it does not matter", 0},
    {"WP_HUGETLBFS_SHMEM", UFFD_FEATURE_WP_HUGETLBFS_SHMEM, DSM_UFFD_NEED_REQUIRED,
     "write-protect faults on the memfd arena (S pages, upgrades)", 0},
    {"WP_UNPOPULATED", UFFD_FEATURE_WP_UNPOPULATED, DSM_UFFD_NEED_OPTIONAL,
     "write-protect never-touched pages; without it absent pages trap as MISSING instead", 0},
    {"POISON", UFFD_FEATURE_POISON, DSM_UFFD_NEED_UNUSED,
     "dsm reports a lost page as an error, it does not poison it", 0},
    {"WP_ASYNC", UFFD_FEATURE_WP_ASYNC, DSM_UFFD_NEED_UNUSED,
     "the kernel would resolve WP faults itself: dsm must see every write", 0},
    {"MOVE", UFFD_FEATURE_MOVE, DSM_UFFD_NEED_OPTIONAL,
     "UFFDIO_MOVE, measured against CONTINUE by bench/uffd_install; the data path uses CONTINUE", 0},
};

const char *dsm_uffd_need_name(dsm_uffd_need_t need)
{
    switch (need) {
    case DSM_UFFD_NEED_REQUIRED:
        return "required";
    case DSM_UFFD_NEED_OPTIONAL:
        return "optional";
    default:
        return "unused";
    }
}

const char *dsm_uffd_origin_name(dsm_uffd_origin_t origin)
{
    switch (origin) {
    case DSM_UFFD_ORIGIN_SYSCALL:
        return "userfaultfd(2)";
    case DSM_UFFD_ORIGIN_DEVICE:
        return DSM_UFFD_DEVICE;
    default:
        return "userfaultfd(2) user-mode-only";
    }
}

/* Returns an fd or -errno. */
static int dsm_uffd_syscall(int extra_flags)
{
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | extra_flags);

    return fd >= 0 ? fd : -errno;
}

/* Returns an fd or -errno. The device allows kernel-mode faults to its users. */
static int dsm_uffd_device(void)
{
    int dev_fd, fd, err;

    dev_fd = open(DSM_UFFD_DEVICE, O_RDWR | O_CLOEXEC);
    if (dev_fd < 0) {
        return -errno;
    }
    fd = ioctl(dev_fd, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
    err = errno;
    close(dev_fd);
    return fd >= 0 ? fd : -err;
}

/*
 * Try userfaultfd(2), then /dev/userfaultfd, then (if allowed) user-mode-only.
 * Returns an fd or -errno of the last attempt; logs nothing (callers decide).
 */
static int dsm_uffd_fd_open(unsigned flags, dsm_uffd_origin_t *origin_p)
{
    int fd;

    fd = dsm_uffd_syscall(0);
    if (fd >= 0) {
        *origin_p = DSM_UFFD_ORIGIN_SYSCALL;
        return fd;
    }
    if (fd != -EPERM && fd != -EACCES) {
        return fd; /* ENOSYS (no CONFIG_USERFAULTFD) or a real failure */
    }
    fd = dsm_uffd_device();
    if (fd >= 0) {
        *origin_p = DSM_UFFD_ORIGIN_DEVICE;
        return fd;
    }
    if (!(flags & DSM_UFFD_OPEN_ALLOW_USER_MODE_ONLY)) {
        return -EPERM;
    }
    fd = dsm_uffd_syscall(UFFD_USER_MODE_ONLY);
    if (fd >= 0) {
        *origin_p = DSM_UFFD_ORIGIN_USER_MODE_ONLY;
    }
    return fd;
}

static void dsm_uffd_log_open_failure(int neg_errno)
{
    if (neg_errno == -EPERM || neg_errno == -EACCES) {
        dsm_error("userfaultfd not allowed for this user: set vm.unprivileged_userfaultfd=1 "
                  "or give read/write access to %s", DSM_UFFD_DEVICE);
    } else {
        dsm_error("userfaultfd: %s", strerror(-neg_errno));
    }
}

/* UFFDIO_API on a fresh fd: enables features, reports what the kernel has. */
static dsm_status_t dsm_uffd_api(int fd, uint64_t features, struct uffdio_api *api_p)
{
    struct uffdio_api api = {.api = UFFD_API, .features = features};

    if (ioctl(fd, UFFDIO_API, &api) != 0) {
        return dsm_status_from_errno(errno);
    }
    *api_p = api;
    return DSM_OK;
}

/*
 * What the kernel offers: UFFDIO_API without features on a throw-away fd.
 * UFFDIO_API may be issued once per fd and fails as a whole on any unknown
 * feature, so the features are learnt here before the real fd asks for any.
 */
static dsm_status_t dsm_uffd_kernel_api(unsigned flags, dsm_uffd_origin_t *origin_p,
                                        struct uffdio_api *api_p)
{
    int fd = dsm_uffd_fd_open(flags, origin_p);
    dsm_status_t status;

    if (fd < 0) {
        dsm_uffd_log_open_failure(fd);
        return dsm_status_from_errno(-fd);
    }
    status = dsm_uffd_api(fd, 0, api_p);
    close(fd);
    if (status != DSM_OK) {
        dsm_error("UFFDIO_API: %s", dsm_strerror(status));
    }
    return status;
}

/*
 * Whether UFFDIO_CONTINUE takes MODE_WP (Linux 6.5; no feature bit says so):
 * tried on a one-page memfd, in the page cache and registered MINOR|WP on fd
 * for the duration. Without it a page already in the page cache cannot be
 * mapped read-only in one step (dsm_uffd_t.continue_wp).
 */
static int dsm_uffd_continue_wp_works(int fd)
{
    size_t size = (size_t)sysconf(_SC_PAGESIZE);
    int memfd = memfd_create("dsm-uffd-probe", MFD_CLOEXEC);
    void *map = MAP_FAILED;
    struct uffdio_register reg;
    struct uffdio_continue cont;
    int works = 0;

    if (memfd < 0 || ftruncate(memfd, (off_t)size) != 0 || pwrite(memfd, "", 1, 0) != 1) {
        goto out; /* the page cache page exists only once written */
    }
    map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (map == MAP_FAILED) {
        goto out;
    }
    reg = (struct uffdio_register){
        .range = {.start = (uintptr_t)map, .len = size},
        .mode  = UFFDIO_REGISTER_MODE_MINOR | UFFDIO_REGISTER_MODE_WP,
    };
    if (ioctl(fd, UFFDIO_REGISTER, &reg) != 0) {
        goto out;
    }
    cont = (struct uffdio_continue){.range = reg.range, .mode = UFFDIO_CONTINUE_MODE_WP};
    works = ioctl(fd, UFFDIO_CONTINUE, &cont) == 0;
    ioctl(fd, UFFDIO_UNREGISTER, &reg.range);
out:
    if (map != MAP_FAILED) {
        munmap(map, size);
    }
    if (memfd >= 0) {
        close(memfd);
    }
    return works;
}

/* dsm_uffd_continue_wp_works on a fresh fd of the given origin with the
 * features it needs, when the kernel has them. */
static int dsm_uffd_probe_continue_wp(uint64_t available, dsm_uffd_origin_t origin)
{
    struct uffdio_api api;
    dsm_uffd_origin_t got = origin;
    unsigned flags = origin == DSM_UFFD_ORIGIN_USER_MODE_ONLY ? DSM_UFFD_OPEN_ALLOW_USER_MODE_ONLY
                                                              : 0;
    int fd, works = 0;

    if ((available & DSM_UFFD_CONTINUE_WP_FEATURES) != DSM_UFFD_CONTINUE_WP_FEATURES) {
        return 0;
    }
    fd = dsm_uffd_fd_open(flags, &got);
    if (fd < 0) {
        return 0;
    }
    if (dsm_uffd_api(fd, DSM_UFFD_CONTINUE_WP_FEATURES, &api) == DSM_OK) {
        works = dsm_uffd_continue_wp_works(fd);
    }
    close(fd);
    return works;
}

dsm_status_t dsm_uffd_open(uint64_t required, uint64_t optional, unsigned flags,
                           dsm_uffd_t *uffd_p)
{
    struct uffdio_api probe_api, api;
    dsm_uffd_origin_t origin = DSM_UFFD_ORIGIN_SYSCALL;
    dsm_status_t status;
    uint64_t missing;
    int fd;

    status = dsm_uffd_kernel_api(flags, &origin, &probe_api);
    if (status != DSM_OK) {
        return status;
    }
    missing = required & ~probe_api.features;
    for (size_t i = 0; i < DSM_UFFD_FEATURE_COUNT && missing; i++) {
        if (missing & dsm_uffd_feature_table[i].bit) {
            dsm_error("userfaultfd: the kernel lacks UFFD_FEATURE_%s, which dsm needs for %s",
                      dsm_uffd_feature_table[i].name, dsm_uffd_feature_table[i].why);
            return DSM_ERR_UNSUPPORTED;
        }
    }
    if (missing) {
        dsm_error("userfaultfd: the kernel lacks features 0x%llx", (unsigned long long)missing);
        return DSM_ERR_UNSUPPORTED;
    }

    fd = dsm_uffd_fd_open(flags, &origin);
    if (fd < 0) {
        dsm_uffd_log_open_failure(fd);
        return dsm_status_from_errno(-fd);
    }
    status = dsm_uffd_api(fd, required | (optional & probe_api.features), &api);
    if (status != DSM_OK) {
        dsm_error("UFFDIO_API with features 0x%llx: %s",
                  (unsigned long long)(required | (optional & probe_api.features)),
                  dsm_strerror(status));
        goto err_close;
    }
    uffd_p->fd        = fd;
    uffd_p->origin    = origin;
    uffd_p->features  = required | (optional & probe_api.features);
    uffd_p->available = api.features;
    uffd_p->ioctls    = api.ioctls;
    uffd_p->continue_wp =
        (uffd_p->features & DSM_UFFD_CONTINUE_WP_FEATURES) == DSM_UFFD_CONTINUE_WP_FEATURES &&
        dsm_uffd_continue_wp_works(fd);
    dsm_debug("userfaultfd %d via %s, features 0x%llx of 0x%llx", fd,
              dsm_uffd_origin_name(origin), (unsigned long long)uffd_p->features,
              (unsigned long long)uffd_p->available);
    return DSM_OK;

err_close:
    close(fd);
    return status;
}

void dsm_uffd_close(dsm_uffd_t *uffd)
{
    if (uffd->fd >= 0) {
        close(uffd->fd);
        uffd->fd = -1;
    }
}

dsm_status_t dsm_uffd_probe(dsm_uffd_probe_t *probe_p)
{
    dsm_uffd_origin_t origin = DSM_UFFD_ORIGIN_SYSCALL;
    struct uffdio_api api;
    dsm_status_t status;

    status = dsm_uffd_kernel_api(DSM_UFFD_OPEN_ALLOW_USER_MODE_ONLY, &origin, &api);
    if (status != DSM_OK) {
        return status;
    }
    for (size_t i = 0; i < DSM_UFFD_FEATURE_COUNT; i++) {
        probe_p->features[i] = dsm_uffd_feature_table[i];
        probe_p->features[i].present = (api.features & dsm_uffd_feature_table[i].bit) != 0;
    }
    probe_p->available   = api.features;
    probe_p->ioctls      = api.ioctls;
    probe_p->origin      = origin;
    probe_p->continue_wp = dsm_uffd_probe_continue_wp(api.features, origin);
    return DSM_OK;
}

const dsm_uffd_feature_t *dsm_uffd_probe_missing_required(const dsm_uffd_probe_t *probe)
{
    for (size_t i = 0; i < DSM_UFFD_FEATURE_COUNT; i++) {
        if (probe->features[i].need == DSM_UFFD_NEED_REQUIRED && !probe->features[i].present) {
            return &probe->features[i];
        }
    }
    return NULL;
}
