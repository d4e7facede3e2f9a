/*
 * kernel/ - dsm's only interface to the kernel's userfaultfd.
 *
 * Owns: opening a userfaultfd (userfaultfd(2), falling back to
 * /dev/userfaultfd), feature negotiation (UFFDIO_API) and the capability
 * probe, registering ranges, reading fault events, resolving them (COPY,
 * ZEROPAGE, WRITEPROTECT, CONTINUE, MOVE, WAKE) and zapping ranges.
 * Knows nothing of coherence or UCX. See docs/design.md section 2.
 *
 * Threads: a dsm_uffd_t is immutable after dsm_uffd_open; every other call
 * is one ioctl, read or madvise on its fd, each safe to issue concurrently
 * (the kernel takes the locks it needs), so any thread may call any function
 * at any time (typically the runtime's service thread reads events while
 * faulting or service threads resolve). Only dsm_uffd_close must not race
 * with the others.
 *
 * Recoverable outcomes of the resolving calls (copy, zero, move, continue,
 * wp_set/wp_clear): these are races the caller expects and handles; they are
 * logged at debug level only, never as errors.
 *   DSM_ERR_EXISTS   the first page of the range is already mapped (another
 *                    thread or an earlier event installed it). Nothing was
 *                    done; *done_p is 0. The faulting threads were woken by
 *                    whoever installed the page (or will be, by its
 *                    dsm_uffd_wake after DSM_UFFD_DONTWAKE); nothing to retry.
 *   DSM_ERR_AGAIN    only part of the range was done, or none because the
 *                    mapping is changing (fork, mremap, munmap in progress).
 *                    *done_p holds the bytes done from the start of the range
 *                    (a multiple of the page size, possibly 0); those pages
 *                    are installed and their waiters woken (unless
 *                    DSM_UFFD_DONTWAKE). Retry the rest; a page of the rest
 *                    that is now present then reports DSM_ERR_EXISTS.
 *   DSM_ERR_NO_ENTRY the range is not (or no longer) registered with this
 *                    uffd in the needed mode, or its mm is exiting, or (MOVE)
 *                    a source page is absent. Nothing to wake: drop the request.
 * Any other failure (DSM_ERR_INVALID_PARAM, DSM_ERR_NO_MEMORY, DSM_ERR_IO,
 * ...) is a bug or a broken host and is logged once as an error here.
 */
#ifndef DSM_UFFD_H
#define DSM_UFFD_H

#include <stddef.h>
#include <stdint.h>

#include "dsm.h"
#include "uffd_compat.h"

/* Features dsm cannot run without: WP faults drive S -> M upgrades, the
 * arena is a memfd whose pages are mapped with CONTINUE (MINOR faults) and
 * write-protected (WP on shmem), and a checkpoint's cut unmaps it by moving
 * its page tables (EVENT_REMAP: dsm_uffd_range_detach). */
#define DSM_UFFD_FEATURES_REQUIRED                                              \
    ((uint64_t)(UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_MINOR_SHMEM |    \
                UFFD_FEATURE_WP_HUGETLBFS_SHMEM | UFFD_FEATURE_EVENT_REMAP))

/*
 * Features dsm enables when the kernel has them (each justified in the probe
 * table and docs/design.md). SIGBUS is not here: it changes how faults are
 * delivered, so a caller asks for it explicitly.
 */
#define DSM_UFFD_FEATURES_OPTIONAL                                              \
    ((uint64_t)(UFFD_FEATURE_WP_UNPOPULATED | UFFD_FEATURE_THREAD_ID |         \
                UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_MOVE))

/* How the fd was obtained (dsm_uffd_t.origin). */
typedef enum {
    DSM_UFFD_ORIGIN_SYSCALL = 0,   /* userfaultfd(2), kernel-mode faults handled   */
    DSM_UFFD_ORIGIN_DEVICE,        /* /dev/userfaultfd + USERFAULTFD_IOC_NEW       */
    DSM_UFFD_ORIGIN_USER_MODE_ONLY /* userfaultfd(2) with UFFD_USER_MODE_ONLY      */
} dsm_uffd_origin_t;

/* dsm_uffd_open flags. */
enum {
    /*
     * If neither userfaultfd(2) nor /dev/userfaultfd is allowed, accept a
     * UFFD_USER_MODE_ONLY fd (allowed to every user). Then a system call that
     * touches an absent page (read(2) into the arena) fails with EFAULT
     * instead of waiting, so the runtime does not use this by default.
     */
    DSM_UFFD_OPEN_ALLOW_USER_MODE_ONLY = 1 << 0
};

typedef struct {
    int               fd;        /* O_CLOEXEC | O_NONBLOCK; poll it for POLLIN */
    dsm_uffd_origin_t origin;
    uint64_t          features;  /* enabled on this fd                        */
    uint64_t          available; /* what the kernel offers                    */
    uint64_t          ioctls;    /* UFFDIO_API's ioctl bitmask                */
    /* UFFDIO_CONTINUE maps pages write-protected (MODE_WP, Linux 6.5): probed
     * when the fd has DSM_UFFD_CONTINUE_WP_FEATURES, else 0. */
    int               continue_wp;
} dsm_uffd_t;

/* The features a write-protected CONTINUE needs. */
#define DSM_UFFD_CONTINUE_WP_FEATURES                                           \
    ((uint64_t)(UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_WP_HUGETLBFS_SHMEM))

/*
 * Open a userfaultfd and enable required | (optional & available).
 * Returns DSM_ERR_PERMISSION when no way of opening is allowed to this user
 * (logged with what to do), DSM_ERR_UNSUPPORTED when a required feature is
 * missing (logged with its name).
 */
dsm_status_t dsm_uffd_open(uint64_t required, uint64_t optional, unsigned flags,
                           dsm_uffd_t *uffd_p);
void dsm_uffd_close(dsm_uffd_t *uffd);

/* ---- capability probe ------------------------------------------------- */

typedef enum {
    DSM_UFFD_NEED_REQUIRED = 0, /* dsm refuses to start without it         */
    DSM_UFFD_NEED_OPTIONAL,     /* used when present, with a fallback      */
    DSM_UFFD_NEED_UNUSED        /* dsm never enables it (reason in why)    */
} dsm_uffd_need_t;

typedef struct {
    const char     *name; /* the UFFD_FEATURE_ suffix, e.g. "WP_UNPOPULATED" */
    uint64_t        bit;
    dsm_uffd_need_t need;
    const char     *why;  /* one line: what dsm uses it for               */
    int             present;
} dsm_uffd_feature_t;

#define DSM_UFFD_FEATURE_COUNT 17

typedef struct {
    dsm_uffd_feature_t features[DSM_UFFD_FEATURE_COUNT];
    uint64_t           available;
    uint64_t           ioctls;
    dsm_uffd_origin_t  origin; /* how this process could open a uffd */
    int                continue_wp; /* UFFDIO_CONTINUE_MODE_WP works (dsm_uffd_t) */
} dsm_uffd_probe_t;

/*
 * Open a throw-away uffd (same fallbacks as dsm_uffd_open, user-mode-only
 * allowed) and report every feature the kernel has. Returns
 * DSM_ERR_PERMISSION / DSM_ERR_UNSUPPORTED if no uffd can be opened at all.
 */
dsm_status_t dsm_uffd_probe(dsm_uffd_probe_t *probe_p);

/* The first required feature the probe found missing, or NULL. */
const dsm_uffd_feature_t *dsm_uffd_probe_missing_required(const dsm_uffd_probe_t *probe);

const char *dsm_uffd_need_name(dsm_uffd_need_t need);
const char *dsm_uffd_origin_name(dsm_uffd_origin_t origin);

/* ---- ranges ------------------------------------------------------------- */

/* Registration modes (UFFDIO_REGISTER_MODE_*). */
enum {
    DSM_UFFD_MODE_MISSING = 1 << 0, /* absent page accessed              */
    DSM_UFFD_MODE_WP      = 1 << 1, /* write to a write-protected page   */
    DSM_UFFD_MODE_MINOR   = 1 << 2  /* shmem: page cached but not mapped */
};

/* addr and len page-aligned. Unregistering wakes every waiter in the range. */
dsm_status_t dsm_uffd_range_register(const dsm_uffd_t *uffd, void *addr, size_t len,
                                     unsigned modes);
dsm_status_t dsm_uffd_range_unregister(const dsm_uffd_t *uffd, void *addr, size_t len);

/*
 * The number of VMAs (lines of /proc/self/maps) overlapping [addr, addr+len):
 * 1 for an arena whatever its pages' states, which is the point of using
 * userfaultfd rather than mprotect (vm.max_map_count). Not logged on failure.
 */
dsm_status_t dsm_uffd_range_vmas(const void *addr, size_t len, size_t *count_p);

/* ---- events --------------------------------------------------------------- */

enum {
    DSM_UFFD_EVENT_WRITE = 1 << 0, /* the access was a write                 */
    DSM_UFFD_EVENT_WP    = 1 << 1, /* write to a write-protected page        */
    DSM_UFFD_EVENT_MINOR = 1 << 2  /* shmem page present in cache, unmapped  */
};

typedef struct {
    uintptr_t address; /* page-aligned faulting address                     */
    unsigned  flags;   /* DSM_UFFD_EVENT_*; none set: read of an absent page */
    uint32_t  tid;     /* faulting thread (THREAD_ID enabled), else 0       */
} dsm_uffd_event_t;

/*
 * Read up to max pending fault events without blocking. *count_p is 0 when
 * none is pending. One event per faulting thread: several threads faulting
 * on one page give several events for it (the caller de-duplicates).
 */
dsm_status_t dsm_uffd_events_read(const dsm_uffd_t *uffd, dsm_uffd_event_t *events,
                                  size_t max, size_t *count_p);

/* ---- resolving (recoverable outcomes: see the top of this file) ---------- */

enum {
    DSM_UFFD_DONTWAKE = 1 << 0, /* do not wake the waiters (wake later)        */
    DSM_UFFD_WP       = 1 << 1  /* copy / continue: map the pages write-protected */
};

/*
 * Install len bytes (whole pages) at dst copied from src, which may be any
 * readable memory outside the registered range. flags: DSM_UFFD_DONTWAKE,
 * DSM_UFFD_WP. *done_p (may be NULL) receives the bytes installed on
 * DSM_OK (len), DSM_ERR_AGAIN and DSM_ERR_EXISTS (0).
 */
dsm_status_t dsm_uffd_copy(const dsm_uffd_t *uffd, void *dst, const void *src, size_t len,
                           unsigned flags, size_t *done_p);

/* Map the zero page over len bytes (no DSM_UFFD_WP: a write then does not trap). */
dsm_status_t dsm_uffd_zero(const dsm_uffd_t *uffd, void *dst, size_t len, unsigned flags,
                           size_t *done_p);

/* Map shmem pages already in the page cache (MINOR faults). flags as copy. */
dsm_status_t dsm_uffd_continue(const dsm_uffd_t *uffd, void *dst, size_t len,
                               unsigned flags, size_t *done_p);

/*
 * Move present private anonymous pages from src (which becomes absent) to
 * dst without copying (needs MOVE). flags: DSM_UFFD_DONTWAKE.
 */
dsm_status_t dsm_uffd_move(const dsm_uffd_t *uffd, void *dst, void *src, size_t len,
                           unsigned flags, size_t *done_p);

/*
 * Write-protect a range: present pages (and, with WP_UNPOPULATED, absent
 * ones) then raise WP faults on write. Never wakes anyone.
 */
dsm_status_t dsm_uffd_wp_set(const dsm_uffd_t *uffd, void *addr, size_t len);

/* Remove write protection and wake the writers blocked on it (unless DONTWAKE). */
dsm_status_t dsm_uffd_wp_clear(const dsm_uffd_t *uffd, void *addr, size_t len,
                               unsigned flags);

/* Wake every thread waiting on a fault in the range (after DONTWAKE). */
dsm_status_t dsm_uffd_wake(const dsm_uffd_t *uffd, void *addr, size_t len);

/*
 * Drop the pages of a range (MADV_DONTNEED): the next access to each is a
 * MISSING fault. Does not wake: a thread blocked on a WP fault there must be
 * woken with dsm_uffd_wake, and then refaults as MISSING.
 */
dsm_status_t dsm_uffd_zap(void *addr, size_t len);

/*
 * Unmap every page of a registered shared range at once: the range's page
 * tables move to scratch (mremap with MREMAP_DONTUNMAP; scratch is a
 * reservation of len bytes, 2 MiB-aligned like addr, which it replaces), and
 * the range stays mapped and registered, with no page present. The pages stay
 * in their file: the next access to each is a MINOR fault. Its cost follows
 * the page tables (one entry per 2 MiB), not the pages: the kernel moves
 * whole page-table pages only for a uffd with EVENT_REMAP, and it then waits
 * until that event is read, so the caller must not be the thread that reads
 * the uffd. The moved pages are unmapped with scratch (dsm_uffd_scratch_reset).
 */
dsm_status_t dsm_uffd_range_detach(void *addr, size_t len, void *scratch);

/* Map a fresh reservation of len bytes at scratch (MAP_FIXED, no access),
 * unmapping what a detach moved there: the kernel's walk of those pages. */
dsm_status_t dsm_uffd_scratch_reset(void *scratch, size_t len);

#endif /* DSM_UFFD_H */
