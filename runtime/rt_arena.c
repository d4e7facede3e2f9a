/*
 * The arena: one anonymous mapping at the agreed address on every node,
 * registered with userfaultfd for MISSING and WP faults. The allocations
 * carved out of it are rt_alloc.c's.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "dsm_rt.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

dsm_status_t dsm_rt_arena_map(dsm_rt_t *rt)
{
    void *want = (void *)(uintptr_t)rt->config.arena_address;
    size_t size = rt->config.arena_size;
    dsm_status_t status;
    void *got;

    /* NORESERVE: the arena is address space; memory is used only by pages
     * installed in it. Private: pages arrive only through UFFDIO_COPY. */
    got = mmap(want, size, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (got == MAP_FAILED) {
        int err = errno;

        if (err == EEXIST) {
            dsm_error("the arena range [%p, +%zu) is already in use in this process: "
                      "set DSM_ARENA_ADDRESS to a free range", want, size);
            return DSM_ERR_ADDRESS_IN_USE;
        }
        dsm_error("mapping the arena [%p, +%zu) failed: %s", want, size, strerror(err));
        return dsm_status_from_errno(err);
    }
    if (got != want) { /* a kernel older than 4.17 treats the flag as a hint */
        munmap(got, size);
        dsm_error("the arena range [%p, +%zu) is already in use in this process: "
                  "set DSM_ARENA_ADDRESS to a free range", want, size);
        return DSM_ERR_ADDRESS_IN_USE;
    }
    status = dsm_uffd_range_register(&rt->uffd, got, size,
                                     DSM_UFFD_MODE_MISSING | DSM_UFFD_MODE_WP);
    if (status != DSM_OK) {
        munmap(got, size);
        return status;
    }
    rt->arena.base = (uintptr_t)got;
    rt->arena.pages = size / DSM_RT_PAGE_SIZE;
    rt->arena.mapped = 1;
    return DSM_OK;
}

void dsm_rt_arena_unmap(dsm_rt_t *rt)
{
    if (rt->arena.mapped) {
        munmap((void *)rt->arena.base, rt->arena.pages * DSM_RT_PAGE_SIZE);
        rt->arena.mapped = 0;
    }
}

void *dsm_rt_page_address(const dsm_rt_t *rt, uint64_t page)
{
    return (void *)(rt->arena.base + page * DSM_RT_PAGE_SIZE);
}
