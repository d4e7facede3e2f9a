/*
 * kernel/uffd_compat.h - userfaultfd UAPI that is newer than the system's
 * <linux/userfaultfd.h>.
 *
 * Debian 12 ships 6.1 kernel headers; the kernels dsm runs on are newer and
 * offer WP_UNPOPULATED (6.3), POISON and WP_ASYNC (6.6), MOVE (6.8) and
 * CONTINUE_MODE_WP (6.6). The values below are the kernel's UAPI (stable ABI);
 * each is defined only when the system header lacks it, so a newer header
 * always wins. Whether the running kernel implements a feature is decided at
 * run time by UFFDIO_API (dsm_uffd_probe), never by these definitions.
 */
#ifndef DSM_UFFD_COMPAT_H
#define DSM_UFFD_COMPAT_H

#include <linux/types.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

/* The userfaultfd(2) flag and the /dev/userfaultfd ioctl (5.11 and 6.1). */
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef USERFAULTFD_IOC
#define USERFAULTFD_IOC 0xAA
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(USERFAULTFD_IOC, 0x00)
#endif

/* Features reported and enabled through UFFDIO_API. */
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1 << 14)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)
#endif

/* CONTINUE can map the page write-protected (6.6). */
#ifndef UFFDIO_CONTINUE_MODE_WP
#define UFFDIO_CONTINUE_MODE_WP ((__u64)1 << 1)
#endif

/* UFFDIO_MOVE (6.8): move present anonymous pages into a registered range. */
#ifndef _UFFDIO_MOVE
#define _UFFDIO_MOVE (0x05)
#endif
#ifndef UFFDIO_MOVE
struct uffdio_move {
    __u64 dst;
    __u64 src;
    __u64 len;
    __u64 mode;
    __s64 move; /* written by the kernel: bytes moved or -errno */
};
#define UFFDIO_MOVE_MODE_DONTWAKE ((__u64)1 << 0)
#define UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES ((__u64)1 << 1)
#define UFFDIO_MOVE _IOWR(UFFDIO, _UFFDIO_MOVE, struct uffdio_move)
#endif

/* UFFDIO_POISON (6.6): mark a range as hardware-poisoned (SIGBUS on access). */
#ifndef _UFFDIO_POISON
#define _UFFDIO_POISON (0x08)
#endif
#ifndef UFFDIO_POISON
struct uffdio_poison {
    struct uffdio_range range;
    __u64 mode;
    __s64 updated; /* written by the kernel: bytes poisoned or -errno */
};
#define UFFDIO_POISON_MODE_DONTWAKE ((__u64)1 << 0)
#define UFFDIO_POISON _IOWR(UFFDIO, _UFFDIO_POISON, struct uffdio_poison)
#endif

#endif /* DSM_UFFD_COMPAT_H */
