/*
 * The arena: a memfd as large as the arena, mapped twice. The arena mapping
 * is at the agreed address on every node and registered with userfaultfd
 * (MISSING, MINOR and WP faults); the landing mapping (anywhere, never
 * registered) is where data arriving from other nodes is written, at the
 * page's offset, before UFFDIO_CONTINUE maps that page-cache page into the
 * arena. The landing range of each allocation is also what the transport
 * registers: a home's own pages are the backing the others read and write
 * (docs/design.md, "Memory layout"). When the transport shares memory, the
 * nodes of one host map one memfd, their first node's: a page passes between
 * them without a copy. The allocations carved out of the arena are
 * rt_alloc.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dsm_rt.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* What one page-table page maps on x86-64: mremap moves the arena's page
 * tables whole where the arena and the scratch range line up on it. */
#define DSM_RT_PMD_SIZE ((uintptr_t)2 << 20)

static dsm_status_t dsm_rt_arena_in_use(void *want, size_t size)
{
    dsm_error("the arena range [%p, +%zu) is already in use in this process: "
              "set DSM_ARENA_ADDRESS to a free range", want, size);
    return DSM_ERR_ADDRESS_IN_USE;
}

/* The arena mapping of fd at the agreed address. */
static dsm_status_t dsm_rt_arena_map_fixed(int fd, void *want, size_t size)
{
    /* NORESERVE: the arena is address space; memory is used only by pages
     * written in the memfd. */
    void *got = mmap(want, size, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_NORESERVE | MAP_FIXED_NOREPLACE, fd, 0);

    if (got == MAP_FAILED) {
        int err = errno;

        if (err == EEXIST) {
            return dsm_rt_arena_in_use(want, size);
        }
        dsm_error("mapping the arena [%p, +%zu) failed: %s", want, size, strerror(err));
        return dsm_status_from_errno(err);
    }
    if (got != want) { /* a kernel older than 4.17 treats the flag as a hint */
        munmap(got, size);
        return dsm_rt_arena_in_use(want, size);
    }
    return DSM_OK;
}

static int dsm_rt_arena_memfd(size_t size)
{
    int fd = memfd_create("dsm-arena", MFD_CLOEXEC);

    if (fd < 0) {
        dsm_error("memfd_create for the arena failed: %m");
        return -1;
    }
    if (ftruncate(fd, (off_t)size) != 0) {
        dsm_error("sizing the arena's memfd to %zu bytes failed: %m", size);
        close(fd);
        return -1;
    }
    return fd;
}

/* Register the arena mapping at base with the uffd for every fault the
 * protocol takes: MISSING (absent from the page cache), MINOR (cached, not
 * mapped) and WP. */
static dsm_status_t dsm_rt_arena_register(const dsm_rt_t *rt, void *base, size_t size)
{
    return dsm_uffd_range_register(&rt->uffd, base, size,
                                   DSM_UFFD_MODE_MISSING | DSM_UFFD_MODE_MINOR |
                                       DSM_UFFD_MODE_WP);
}

dsm_status_t dsm_rt_arena_map(dsm_rt_t *rt)
{
    void *want = (void *)(uintptr_t)rt->config.arena_address;
    size_t size = rt->config.arena_size;
    int fd = dsm_rt_arena_memfd(size);
    void *landing;
    dsm_status_t status;

    if (fd < 0) {
        return DSM_ERR_NO_MEMORY;
    }
    landing = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (landing == MAP_FAILED) {
        dsm_error("mapping the arena's landing range (%zu bytes) failed: %m", size);
        status = DSM_ERR_NO_MEMORY;
        goto err_close;
    }
    status = dsm_rt_arena_map_fixed(fd, want, size);
    if (status != DSM_OK) {
        goto err_landing;
    }
    status = dsm_rt_arena_register(rt, want, size);
    if (status != DSM_OK) {
        goto err_arena;
    }
    rt->arena.base = (uintptr_t)want;
    rt->arena.landing = (uintptr_t)landing;
    rt->arena.fd = fd;
    rt->arena.pages = size / DSM_RT_PAGE_SIZE;
    rt->arena.mapped = 1;
    return DSM_OK;

err_arena:
    munmap(want, size);
err_landing:
    munmap(landing, size);
err_close:
    close(fd);
    return status;
}

/* The memfd of leader (its descriptor leader_fd in its process) here: a new
 * descriptor, or -1 (logged) if it cannot be had. */
static int dsm_rt_arena_leader_fd(dsm_rt_t *rt, int leader, int32_t leader_fd)
{
    int pidfd = dsm_tp_peer_pidfd(rt->tp, leader);
    struct stat st;
    /* The same permission as the transport's cross-memory attach (ptrace). */
    int fd = (int)syscall(SYS_pidfd_getfd, pidfd, leader_fd, 0);

    if (fd < 0) {
        dsm_info("node %d's memory cannot be shared here (pidfd_getfd: %m): transfers with "
                 "the nodes of this host go through the transport", leader);
        return -1;
    }
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != rt->arena.pages * DSM_RT_PAGE_SIZE) {
        dsm_warn("node %d's descriptor %d is not its arena: transfers with the nodes of this "
                 "host go through the transport", leader, (int)leader_fd);
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * Put fd's pages under the arena and landing mappings in place of this
 * node's own memfd, which nothing was written to yet: both mappings are
 * replaced at the same addresses, and the arena registered again (its
 * registration went with the mapping it replaced).
 */
static dsm_status_t dsm_rt_arena_adopt(dsm_rt_t *rt, int fd)
{
    size_t size = rt->arena.pages * DSM_RT_PAGE_SIZE;
    void *base = (void *)rt->arena.base, *landing = (void *)rt->arena.landing;
    int flags = MAP_SHARED | MAP_NORESERVE | MAP_FIXED;
    dsm_status_t status;

    if (mmap(landing, size, PROT_READ | PROT_WRITE, flags, fd, 0) == MAP_FAILED ||
        mmap(base, size, PROT_READ | PROT_WRITE, flags, fd, 0) == MAP_FAILED) {
        int err = errno;

        dsm_error("mapping the host's shared arena failed: %s", strerror(err));
        return dsm_status_from_errno(err);
    }
    status = dsm_rt_arena_register(rt, base, size);
    if (status != DSM_OK) {
        return status; /* the caller closes fd; dsm_init fails */
    }
    close(rt->arena.fd);
    rt->arena.fd = fd;
    return DSM_OK;
}

/* The first node on this host (this one, or one whose process the transport
 * can reach directly). */
static int dsm_rt_arena_host_leader(const dsm_rt_t *rt)
{
    for (int node = 0; node < rt->node; node++) {
        if (dsm_tp_peer_pidfd(rt->tp, node) >= 0) {
            return node;
        }
    }
    return rt->node;
}

/* The identity of the memfd under this node's arena, as the nodes compare it. */
typedef struct {
    uint64_t dev, ino;
} dsm_rt_arena_id_t;

/* Record in rt->arena.shared the nodes whose arena is the same memfd as
 * this node's (collective). */
static dsm_status_t dsm_rt_arena_find_sharers(dsm_rt_t *rt)
{
    struct stat st;
    dsm_rt_arena_id_t mine = { 0, 0 }, theirs;
    dsm_boot_gathered_t ids;
    int sharers = 0;
    dsm_status_t status;

    if (fstat(rt->arena.fd, &st) == 0) {
        mine = (dsm_rt_arena_id_t){ .dev = (uint64_t)st.st_dev, .ino = (uint64_t)st.st_ino };
    }
    status = dsm_boot_allgather(rt->boot, &mine, sizeof(mine), &ids);
    if (status != DSM_OK) {
        return status;
    }
    rt->arena.shared = calloc((size_t)rt->nnodes, sizeof(rt->arena.shared[0]));
    if (rt->arena.shared == NULL) {
        dsm_boot_gathered_free(&ids);
        return DSM_ERR_NO_MEMORY;
    }
    for (int node = 0; node < rt->nnodes && node < ids.count; node++) {
        if (node != rt->node && mine.ino != 0 && ids.sizes[node] == sizeof(theirs)) {
            memcpy(&theirs, ids.blobs[node], sizeof(theirs));
            rt->arena.shared[node] = theirs.dev == mine.dev && theirs.ino == mine.ino;
            sharers += rt->arena.shared[node];
        }
    }
    dsm_boot_gathered_free(&ids);
    if (sharers > 0) {
        dsm_info("this node shares its arena's memory with the %d other node(s) on this host: "
                 "pages pass between them without a copy", sharers);
    }
    return DSM_OK;
}

/*
 * The nodes of one host share one memfd, their first node's (the host's
 * leader), when the transport would move data through shared memory anyway:
 * a page has one copy per host, and the protocol only maps and unmaps it, so a
 * fetch from or a write-back to a node of the same host moves nothing
 * (docs/design.md, "Nodes on one host share their pages"). A job on tcp or
 * verbs keeps one memfd per node, so its transport is what runs and what is
 * tested. Every node takes part in both exchanges through the bootstrap: the
 * leaders' descriptor numbers, then which memfd each node ended up with.
 */
dsm_status_t dsm_rt_arena_share(dsm_rt_t *rt)
{
    int32_t fd = rt->arena.fd, leader_fd;
    int leader = dsm_rt_arena_host_leader(rt), adopted;
    dsm_boot_gathered_t fds;
    dsm_status_t status = dsm_boot_allgather(rt->boot, &fd, sizeof(fd), &fds);

    if (status != DSM_OK) {
        return status;
    }
    if (dsm_tp_shares_memory(rt->tp) && leader != rt->node && leader < fds.count &&
        fds.sizes[leader] == sizeof(leader_fd)) {
        memcpy(&leader_fd, fds.blobs[leader], sizeof(leader_fd));
        adopted = dsm_rt_arena_leader_fd(rt, leader, leader_fd);
        if (adopted >= 0 && (status = dsm_rt_arena_adopt(rt, adopted)) != DSM_OK) {
            close(adopted);
        }
    }
    dsm_boot_gathered_free(&fds);
    return status == DSM_OK ? dsm_rt_arena_find_sharers(rt) : status;
}

bool dsm_rt_arena_shared_with(const dsm_rt_t *rt, int node)
{
    return rt->arena.shared != NULL && rt->arena.shared[node];
}

void dsm_rt_arena_unmap(dsm_rt_t *rt)
{
    size_t size = rt->arena.pages * DSM_RT_PAGE_SIZE;

    free(rt->arena.shared);
    rt->arena.shared = NULL;
    if (rt->arena.scratch_reserved != 0) {
        munmap((void *)rt->arena.scratch_reserved, size + DSM_RT_PMD_SIZE);
        rt->arena.scratch_reserved = rt->arena.scratch = 0;
    }
    if (rt->arena.mapped) {
        munmap((void *)rt->arena.base, size);
        munmap((void *)rt->arena.landing, size);
        close(rt->arena.fd);
        rt->arena.mapped = 0;
    }
}

/* ---- detaching the arena (a checkpoint's cut) ------------------------------------ */

/* The scratch range: arena-sized, at the arena's offset in a 2 MiB page. */
static dsm_status_t dsm_rt_arena_scratch_reserve(dsm_rt_t *rt, size_t size)
{
    void *reserved = mmap(NULL, size + DSM_RT_PMD_SIZE, PROT_NONE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    uintptr_t offset = rt->arena.base % DSM_RT_PMD_SIZE, start;

    if (reserved == MAP_FAILED) {
        dsm_error("reserving %zu bytes of address space to detach the arena: %m", size);
        return DSM_ERR_NO_MEMORY;
    }
    start = (uintptr_t)reserved;
    rt->arena.scratch_reserved = start;
    rt->arena.scratch = (start - offset + DSM_RT_PMD_SIZE - 1) / DSM_RT_PMD_SIZE *
                            DSM_RT_PMD_SIZE + offset;
    return DSM_OK;
}

dsm_status_t dsm_rt_arena_detach(dsm_rt_t *rt)
{
    size_t size = rt->arena.pages * DSM_RT_PAGE_SIZE;
    dsm_status_t status = DSM_OK;

    if (rt->arena.scratch == 0) {
        status = dsm_rt_arena_scratch_reserve(rt, size);
    }
    if (status == DSM_OK) {
        status = dsm_uffd_range_detach((void *)rt->arena.base, size, (void *)rt->arena.scratch);
    }
    return status;
}

void dsm_rt_arena_detached_release(dsm_rt_t *rt)
{
    if (rt->arena.scratch != 0) {
        /* On failure the moved pages stay mapped there until dsm_finalize:
         * memory, not correctness (it is logged). */
        (void)dsm_uffd_scratch_reset((void *)rt->arena.scratch,
                                     rt->arena.pages * DSM_RT_PAGE_SIZE);
    }
}

void *dsm_rt_page_address(const dsm_rt_t *rt, uint64_t page)
{
    return (void *)(rt->arena.base + page * DSM_RT_PAGE_SIZE);
}

void *dsm_rt_page_landing(const dsm_rt_t *rt, uint64_t page)
{
    return (void *)(rt->arena.landing + page * DSM_RT_PAGE_SIZE);
}

dsm_status_t dsm_rt_arena_populate(const dsm_rt_t *rt, uint64_t page, uint64_t count)
{
    /* Through the landing mapping, which no uffd watches: the kernel fills
     * holes with zeroed pages and leaves pages already cached alone. */
    if (madvise(dsm_rt_page_landing(rt, page), count * DSM_RT_PAGE_SIZE,
                MADV_POPULATE_WRITE) != 0) {
        int err = errno;

        dsm_error("populating pages [%" PRIu64 ", +%" PRIu64 ") of the arena failed: %s", page,
                  count, strerror(err));
        return dsm_status_from_errno(err);
    }
    return DSM_OK;
}

/*
 * The first page from page on that this node's memfd holds data for, or
 * UINT64_MAX. SEEK_DATA on shmem counts pages in the page cache and pages
 * swapped out alike as data: only a range nobody ever wrote (or released) is
 * a hole. Any error: page (not known to be a hole).
 */
static uint64_t dsm_rt_arena_next_data(const dsm_rt_t *rt, uint64_t page)
{
    off_t data = lseek(rt->arena.fd, (off_t)(page * DSM_RT_PAGE_SIZE), SEEK_DATA);

    if (data < 0) {
        return errno == ENXIO ? UINT64_MAX : page; /* ENXIO: no data to the end of the file */
    }
    return (uint64_t)data / DSM_RT_PAGE_SIZE;
}

bool dsm_rt_arena_unwritten(const dsm_rt_t *rt, uint64_t page, uint64_t count)
{
    return dsm_rt_arena_next_data(rt, page) >= page + count;
}

uint64_t dsm_rt_arena_extent(const dsm_rt_t *rt, uint64_t page, uint64_t end, bool *written_p)
{
    uint64_t data = dsm_rt_arena_next_data(rt, page);
    off_t hole;

    *written_p = data <= page;
    if (!*written_p) {
        return data < end ? data : end;
    }
    hole = lseek(rt->arena.fd, (off_t)(page * DSM_RT_PAGE_SIZE), SEEK_HOLE);
    if (hole < 0 || (uint64_t)hole / DSM_RT_PAGE_SIZE >= end) {
        return end;
    }
    return (uint64_t)hole / DSM_RT_PAGE_SIZE > page ? (uint64_t)hole / DSM_RT_PAGE_SIZE
                                                     : page + 1;
}

dsm_status_t dsm_rt_arena_zero(const dsm_rt_t *rt, uint64_t page, uint64_t count)
{
    /* Pages this node dropped earlier may still be cached with old data. */
    dsm_status_t status = dsm_rt_arena_populate(rt, page, count);

    if (status == DSM_OK) {
        memset(dsm_rt_page_landing(rt, page), 0, count * DSM_RT_PAGE_SIZE);
    }
    return status;
}

dsm_status_t dsm_rt_arena_release(const dsm_rt_t *rt, uint64_t page, uint64_t count)
{
    /* Frees the page cache and unmaps the pages from both mappings: the
     * next allocation of the range starts from zeroes. MADV_REMOVE through
     * the landing mapping rather than fallocate(PUNCH_HOLE): a transport's
     * registration cache (UCX's, over verbs) hears of madvise and munmap, not
     * of fallocate, and would otherwise register the next allocation there
     * with the freed pages still pinned under it. */
    if (madvise(dsm_rt_page_landing(rt, page), count * DSM_RT_PAGE_SIZE, MADV_REMOVE) != 0) {
        int err = errno;

        dsm_error("releasing pages [%" PRIu64 ", +%" PRIu64 ") of the arena failed: %s", page,
                  count, strerror(err));
        return dsm_status_from_errno(err);
    }
    return DSM_OK;
}
