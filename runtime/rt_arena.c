/*
 * The arena: a memfd as large as the arena, mapped twice. The arena mapping
 * is at the agreed address on every node and registered with userfaultfd
 * (MISSING, MINOR and WP faults); the landing mapping (anywhere, never
 * registered) is where data arriving from other nodes is written, at the
 * page's offset, before UFFDIO_CONTINUE maps that page-cache page into the
 * arena. The landing range of each allocation is also what the transport
 * registers: a home's own pages are the backing the others read and write
 * (docs/design.md, "Memory layout"). The memfds of the other nodes on this
 * host are mapped here too, when the transport shares memory: transfers with
 * them are copies. The allocations carved out of the arena are rt_alloc.c's.
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
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
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
    status = dsm_uffd_range_register(&rt->uffd, want, size,
                                     DSM_UFFD_MODE_MISSING | DSM_UFFD_MODE_MINOR |
                                         DSM_UFFD_MODE_WP);
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

/* Map node's memfd (its descriptor peer_fd in its process) here; 0 if not. */
static uintptr_t dsm_rt_arena_map_peer(dsm_rt_t *rt, int node, int32_t peer_fd)
{
    size_t size = rt->arena.pages * DSM_RT_PAGE_SIZE;
    int pidfd = dsm_tp_peer_pidfd(rt->tp, node);
    struct stat st;
    void *mapped;
    int fd;

    if (pidfd < 0) {
        return 0; /* another host */
    }
    /* The same permission as the transport's cross-memory attach (ptrace). */
    fd = (int)syscall(SYS_pidfd_getfd, pidfd, peer_fd, 0);
    if (fd < 0) {
        dsm_info("node %d's memory cannot be mapped here (pidfd_getfd: %m): transfers with "
                 "it go through the transport", node);
        return 0;
    }
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != size) {
        dsm_warn("node %d's descriptor %d is not its arena: transfers with it go through the "
                 "transport", node, (int)peer_fd);
        close(fd);
        return 0;
    }
    mapped = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
    close(fd);
    if (mapped == MAP_FAILED) {
        dsm_warn("mapping node %d's memory here failed (%m): transfers with it go through "
                 "the transport", node);
        return 0;
    }
    return (uintptr_t)mapped;
}

/*
 * The memfds of the nodes on this host, mapped here: a fetch from such a home,
 * or a write-back to it, is then one copy between the two page caches, done
 * at once, instead of an RMA with its request, its completion and, for a put,
 * a flush (2 nodes, alternating: ping-pong 62-66 -> 53-61 µs polling, 45-49 ->
 * 38-45 waiting; 4 nodes: red-black 0.66-0.72 -> 0.50-0.62 s, radix 0.95-0.99
 * -> 0.78-0.94). Only where the transport would move the data
 * through shared memory anyway: a job on tcp or verbs keeps its transport, so
 * it is what runs and what is tested. Every node takes part in the exchange
 * of descriptor numbers, which goes through the bootstrap.
 */
dsm_status_t dsm_rt_arena_map_peers(dsm_rt_t *rt)
{
    int32_t fd = rt->arena.fd;
    dsm_boot_gathered_t fds;
    int mapped = 0;
    dsm_status_t status = dsm_boot_allgather(rt->boot, &fd, sizeof(fd), &fds);

    if (status != DSM_OK) {
        return status;
    }
    if (dsm_tp_shares_memory(rt->tp)) {
        rt->arena.peer = calloc((size_t)rt->nnodes, sizeof(rt->arena.peer[0]));
        if (rt->arena.peer == NULL) {
            dsm_boot_gathered_free(&fds);
            return DSM_ERR_NO_MEMORY;
        }
        for (int node = 0; node < rt->nnodes && node < fds.count; node++) {
            if (fds.sizes[node] == sizeof(fd)) {
                memcpy(&fd, fds.blobs[node], sizeof(fd));
                rt->arena.peer[node] = dsm_rt_arena_map_peer(rt, node, fd);
                mapped += rt->arena.peer[node] != 0;
            }
        }
    }
    dsm_boot_gathered_free(&fds);
    if (mapped > 0) {
        dsm_info("transfers with the %d other node(s) on this host are copies between the "
                 "nodes' memory", mapped);
    }
    return DSM_OK;
}

/*
 * Map a piece of a peer's memfd here before a copy to or from it: one
 * madvise walks the piece, where the copy would otherwise take a page fault
 * for each page it writes (and one per 16 it reads, fault-around). A failure
 * costs only those faults.
 */
void dsm_rt_arena_peer_populate(const dsm_rt_t *rt, int node, uint64_t page, uint64_t count,
                                bool write)
{
    void *remote = dsm_rt_arena_peer_page(rt, node, page);

    if (madvise(remote, count * DSM_RT_PAGE_SIZE,
                write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) != 0) {
        dsm_debug("mapping pages [%" PRIu64 ", +%" PRIu64 ") of node %d here failed: %s", page,
                  count, node, strerror(errno));
    }
}

void *dsm_rt_arena_peer_page(const dsm_rt_t *rt, int node, uint64_t page)
{
    if (rt->arena.peer == NULL || rt->arena.peer[node] == 0) {
        return NULL;
    }
    return (void *)(rt->arena.peer[node] + page * DSM_RT_PAGE_SIZE);
}

void dsm_rt_arena_unmap(dsm_rt_t *rt)
{
    size_t size = rt->arena.pages * DSM_RT_PAGE_SIZE;

    for (int node = 0; rt->arena.peer != NULL && node < rt->nnodes; node++) {
        if (rt->arena.peer[node] != 0) {
            munmap((void *)rt->arena.peer[node], size);
        }
    }
    free(rt->arena.peer);
    rt->arena.peer = NULL;
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
