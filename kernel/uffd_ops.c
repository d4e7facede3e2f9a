/* Registering ranges, reading fault events, resolving faults, zapping. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dsm_common.h"
#include "dsm_uffd.h"

/* Events read per read(2) in dsm_uffd_events_read; bounded stack use. */
#define DSM_UFFD_READ_BATCH 64

static int dsm_uffd_range_valid(const void *addr, size_t len)
{
    uintptr_t page_mask = (uintptr_t)sysconf(_SC_PAGESIZE) - 1;

    return len > 0 && ((uintptr_t)addr & page_mask) == 0 && (len & page_mask) == 0;
}

/* The recoverable outcomes of resolving ioctls: see dsm_uffd.h. */
static int dsm_uffd_status_recoverable(dsm_status_t status)
{
    return status == DSM_ERR_EXISTS || status == DSM_ERR_AGAIN || status == DSM_ERR_NO_ENTRY;
}

/*
 * Turn a resolving ioctl's result into a status: ret and errno of the call,
 * and the kernel's written-back count (bytes done, or -errno). Logs only
 * failures that are not recoverable races.
 */
static dsm_status_t dsm_uffd_resolved(const char *op, int ret, int err, int64_t count,
                                      void *dst, size_t len, size_t *done_p)
{
    dsm_status_t status;
    size_t done = count > 0 ? (size_t)count : 0;

    if (ret == 0) {
        if (done_p != NULL) {
            *done_p = len;
        }
        return DSM_OK;
    }
    status = dsm_status_from_errno(err);
    if (!dsm_uffd_status_recoverable(status)) {
        dsm_error("%s at %p (+%zu): %s", op, dst, len, strerror(err));
        return status;
    }
    dsm_debug("%s at %p (+%zu): %s, %zu bytes done", op, dst, len, dsm_strerror(status), done);
    if (done_p != NULL) {
        *done_p = done;
    }
    return status;
}

/* Range ioctls that return only 0 / -1 (register, WP, wake). */
static dsm_status_t dsm_uffd_range_ioctl(const dsm_uffd_t *uffd, unsigned long request,
                                         const char *op, void *arg, void *addr, size_t len)
{
    dsm_status_t status;
    int err;

    if (ioctl(uffd->fd, request, arg) == 0) {
        return DSM_OK;
    }
    err = errno;
    status = dsm_status_from_errno(err);
    if (dsm_uffd_status_recoverable(status)) {
        dsm_debug("%s at %p (+%zu): %s", op, addr, len, dsm_strerror(status));
    } else {
        dsm_error("%s at %p (+%zu): %s", op, addr, len, strerror(err));
    }
    return status;
}

dsm_status_t dsm_uffd_range_register(const dsm_uffd_t *uffd, void *addr, size_t len,
                                     unsigned modes)
{
    struct uffdio_register reg = {.range = {.start = (uintptr_t)addr, .len = len}};

    if (!dsm_uffd_range_valid(addr, len) || modes == 0) {
        return DSM_ERR_INVALID_PARAM;
    }
    reg.mode = ((modes & DSM_UFFD_MODE_MISSING) ? UFFDIO_REGISTER_MODE_MISSING : 0) |
               ((modes & DSM_UFFD_MODE_WP) ? UFFDIO_REGISTER_MODE_WP : 0) |
               ((modes & DSM_UFFD_MODE_MINOR) ? UFFDIO_REGISTER_MODE_MINOR : 0);
    return dsm_uffd_range_ioctl(uffd, UFFDIO_REGISTER, "UFFDIO_REGISTER", &reg, addr, len);
}

dsm_status_t dsm_uffd_range_unregister(const dsm_uffd_t *uffd, void *addr, size_t len)
{
    struct uffdio_range range = {.start = (uintptr_t)addr, .len = len};

    if (!dsm_uffd_range_valid(addr, len)) {
        return DSM_ERR_INVALID_PARAM;
    }
    return dsm_uffd_range_ioctl(uffd, UFFDIO_UNREGISTER, "UFFDIO_UNREGISTER", &range, addr,
                                len);
}

static void dsm_uffd_event_convert(const struct uffd_msg *msg, dsm_uffd_event_t *event)
{
    uint64_t flags = msg->arg.pagefault.flags;

    event->address = (uintptr_t)msg->arg.pagefault.address &
                     ~((uintptr_t)sysconf(_SC_PAGESIZE) - 1);
    event->flags = ((flags & UFFD_PAGEFAULT_FLAG_WRITE) ? DSM_UFFD_EVENT_WRITE : 0) |
                   ((flags & UFFD_PAGEFAULT_FLAG_WP) ? DSM_UFFD_EVENT_WP : 0) |
                   ((flags & UFFD_PAGEFAULT_FLAG_MINOR) ? DSM_UFFD_EVENT_MINOR : 0);
    event->tid = msg->arg.pagefault.feat.ptid;
}

dsm_status_t dsm_uffd_events_read(const dsm_uffd_t *uffd, dsm_uffd_event_t *events,
                                  size_t max, size_t *count_p)
{
    struct uffd_msg msgs[DSM_UFFD_READ_BATCH];
    size_t count = 0;
    ssize_t got;

    while (count < max) {
        size_t want = max - count < DSM_UFFD_READ_BATCH ? max - count : DSM_UFFD_READ_BATCH;

        got = read(uffd->fd, msgs, want * sizeof(msgs[0]));
        if (got < 0) {
            if (errno == EAGAIN) {
                break; /* nothing more pending: the fd is non-blocking */
            }
            if (errno == EINTR) {
                continue;
            }
            int err = errno;

            dsm_error("read(userfaultfd): %s", strerror(err));
            return dsm_status_from_errno(err);
        }
        for (size_t i = 0; i < (size_t)got / sizeof(msgs[0]); i++) {
            if (msgs[i].event == UFFD_EVENT_REMAP) {
                continue; /* a detach (dsm_uffd_range_detach): the range keeps its pages */
            }
            if (msgs[i].event != UFFD_EVENT_PAGEFAULT) {
                dsm_warn("userfaultfd: unexpected event 0x%x ignored", msgs[i].event);
                continue;
            }
            dsm_uffd_event_convert(&msgs[i], &events[count++]);
        }
        if ((size_t)got < want * sizeof(msgs[0])) {
            break; /* the kernel had fewer than asked: the queue is drained */
        }
    }
    *count_p = count;
    return DSM_OK;
}

dsm_status_t dsm_uffd_copy(const dsm_uffd_t *uffd, void *dst, const void *src, size_t len,
                           unsigned flags, size_t *done_p)
{
    struct uffdio_copy copy = {
        .dst  = (uintptr_t)dst,
        .src  = (uintptr_t)src,
        .len  = len,
        .mode = ((flags & DSM_UFFD_DONTWAKE) ? UFFDIO_COPY_MODE_DONTWAKE : 0) |
                ((flags & DSM_UFFD_WP) ? UFFDIO_COPY_MODE_WP : 0),
    };
    int ret;

    if (!dsm_uffd_range_valid(dst, len)) {
        return DSM_ERR_INVALID_PARAM;
    }
    ret = ioctl(uffd->fd, UFFDIO_COPY, &copy);
    return dsm_uffd_resolved("UFFDIO_COPY", ret, errno, copy.copy, dst, len, done_p);
}

dsm_status_t dsm_uffd_zero(const dsm_uffd_t *uffd, void *dst, size_t len, unsigned flags,
                           size_t *done_p)
{
    struct uffdio_zeropage zero = {
        .range = {.start = (uintptr_t)dst, .len = len},
        .mode  = (flags & DSM_UFFD_DONTWAKE) ? UFFDIO_ZEROPAGE_MODE_DONTWAKE : 0,
    };
    int ret;

    if (!dsm_uffd_range_valid(dst, len) || (flags & DSM_UFFD_WP)) {
        return DSM_ERR_INVALID_PARAM;
    }
    ret = ioctl(uffd->fd, UFFDIO_ZEROPAGE, &zero);
    return dsm_uffd_resolved("UFFDIO_ZEROPAGE", ret, errno, zero.zeropage, dst, len, done_p);
}

dsm_status_t dsm_uffd_continue(const dsm_uffd_t *uffd, void *dst, size_t len,
                               unsigned flags, size_t *done_p)
{
    struct uffdio_continue cont = {
        .range = {.start = (uintptr_t)dst, .len = len},
        .mode  = ((flags & DSM_UFFD_DONTWAKE) ? UFFDIO_CONTINUE_MODE_DONTWAKE : 0) |
                 ((flags & DSM_UFFD_WP) ? UFFDIO_CONTINUE_MODE_WP : 0),
    };
    int ret;

    if (!dsm_uffd_range_valid(dst, len)) {
        return DSM_ERR_INVALID_PARAM;
    }
    ret = ioctl(uffd->fd, UFFDIO_CONTINUE, &cont);
    /* EFAULT (the range checked valid): the page cache holds no page at the
     * first page not mapped, which the caller may fill: NO_ENTRY. */
    return dsm_uffd_resolved("UFFDIO_CONTINUE", ret, ret != 0 && errno == EFAULT ? ENOENT : errno,
                             cont.mapped, dst, len, done_p);
}

dsm_status_t dsm_uffd_move(const dsm_uffd_t *uffd, void *dst, void *src, size_t len,
                           unsigned flags, size_t *done_p)
{
    struct uffdio_move move = {
        .dst  = (uintptr_t)dst,
        .src  = (uintptr_t)src,
        .len  = len,
        .mode = (flags & DSM_UFFD_DONTWAKE) ? UFFDIO_MOVE_MODE_DONTWAKE : 0,
    };
    int ret;

    if (!dsm_uffd_range_valid(dst, len) || !dsm_uffd_range_valid(src, len) ||
        (flags & DSM_UFFD_WP)) {
        return DSM_ERR_INVALID_PARAM;
    }
    if (!(uffd->features & UFFD_FEATURE_MOVE)) {
        return DSM_ERR_UNSUPPORTED;
    }
    ret = ioctl(uffd->fd, UFFDIO_MOVE, &move);
    return dsm_uffd_resolved("UFFDIO_MOVE", ret, errno, move.move, dst, len, done_p);
}

dsm_status_t dsm_uffd_wp_set(const dsm_uffd_t *uffd, void *addr, size_t len)
{
    struct uffdio_writeprotect wp = {
        .range = {.start = (uintptr_t)addr, .len = len},
        .mode  = UFFDIO_WRITEPROTECT_MODE_WP,
    };

    if (!dsm_uffd_range_valid(addr, len)) {
        return DSM_ERR_INVALID_PARAM;
    }
    return dsm_uffd_range_ioctl(uffd, UFFDIO_WRITEPROTECT, "UFFDIO_WRITEPROTECT", &wp, addr,
                                len);
}

dsm_status_t dsm_uffd_wp_clear(const dsm_uffd_t *uffd, void *addr, size_t len,
                               unsigned flags)
{
    struct uffdio_writeprotect wp = {
        .range = {.start = (uintptr_t)addr, .len = len},
        .mode  = (flags & DSM_UFFD_DONTWAKE) ? UFFDIO_WRITEPROTECT_MODE_DONTWAKE : 0,
    };

    if (!dsm_uffd_range_valid(addr, len) || (flags & DSM_UFFD_WP)) {
        return DSM_ERR_INVALID_PARAM;
    }
    return dsm_uffd_range_ioctl(uffd, UFFDIO_WRITEPROTECT, "UFFDIO_WRITEPROTECT", &wp, addr,
                                len);
}

dsm_status_t dsm_uffd_wake(const dsm_uffd_t *uffd, void *addr, size_t len)
{
    struct uffdio_range range = {.start = (uintptr_t)addr, .len = len};

    if (!dsm_uffd_range_valid(addr, len)) {
        return DSM_ERR_INVALID_PARAM;
    }
    return dsm_uffd_range_ioctl(uffd, UFFDIO_WAKE, "UFFDIO_WAKE", &range, addr, len);
}

dsm_status_t dsm_uffd_zap(void *addr, size_t len)
{
    if (!dsm_uffd_range_valid(addr, len)) {
        return DSM_ERR_INVALID_PARAM;
    }
    if (madvise(addr, len, MADV_DONTNEED) != 0) {
        int err = errno;

        dsm_error("madvise(%p, %zu, MADV_DONTNEED): %s", addr, len, strerror(err));
        return dsm_status_from_errno(err);
    }
    return DSM_OK;
}

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4 /* Linux 5.7; Debian 12's glibc headers lack it */
#endif

dsm_status_t dsm_uffd_range_detach(void *addr, size_t len, void *scratch)
{
    void *moved;

    if (!dsm_uffd_range_valid(addr, len) || !dsm_uffd_range_valid(scratch, len)) {
        return DSM_ERR_INVALID_PARAM;
    }
    /* The system call itself, not libc's mremap: a transport's memory hooks
     * (UCX's) intercept that one and cost time that follows the pages of the
     * range, and the arena is never registered with a transport. */
    moved = (void *)syscall(SYS_mremap, addr, len, len,
                            MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, scratch);
    if (moved == MAP_FAILED) {
        int err = errno;

        dsm_error("mremap(%p, %zu, MREMAP_DONTUNMAP) to %p: %s", addr, len, scratch,
                  strerror(err));
        return dsm_status_from_errno(err);
    }
    return DSM_OK;
}

dsm_status_t dsm_uffd_scratch_reset(void *scratch, size_t len)
{
    /* The system call, as for the detach: no transport registers scratch. */
    void *got = (void *)syscall(SYS_mmap, scratch, len, PROT_NONE,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);

    if (got == MAP_FAILED) {
        int err = errno;

        dsm_error("mapping the scratch range %p (+%zu): %s", scratch, len, strerror(err));
        return dsm_status_from_errno(err);
    }
    return DSM_OK;
}
