/*
 * The arena: one anonymous mapping at the agreed address on every node,
 * registered with userfaultfd for MISSING and WP faults, and the table of
 * collective allocations carved out of it (sorted by first page). Making and
 * releasing allocations is rt_alloc.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
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
    rt->arena_base = (uintptr_t)got;
    rt->arena_pages = size / DSM_RT_PAGE_SIZE;
    rt->arena_mapped = 1;
    return DSM_OK;
}

void dsm_rt_arena_unmap(dsm_rt_t *rt)
{
    if (rt->arena_mapped) {
        munmap((void *)rt->arena_base, rt->arena_pages * DSM_RT_PAGE_SIZE);
        rt->arena_mapped = 0;
    }
}

void *dsm_rt_page_address(const dsm_rt_t *rt, uint64_t page)
{
    return (void *)(rt->arena_base + page * DSM_RT_PAGE_SIZE);
}

/* Index of the first region whose end is beyond page (binary search). */
size_t dsm_rt_region_lower_bound(const dsm_rt_t *rt, uint64_t page)
{
    size_t low = 0, high = rt->region_count;

    while (low < high) {
        size_t mid = low + (high - low) / 2;
        const dsm_rt_region_t *region = &rt->regions[mid];

        if (region->first_page + region->npages <= page) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    return low;
}

dsm_rt_region_t *dsm_rt_region_find(dsm_rt_t *rt, uint64_t page)
{
    size_t index = dsm_rt_region_lower_bound(rt, page);

    if (index < rt->region_count && rt->regions[index].first_page <= page) {
        return &rt->regions[index];
    }
    return NULL;
}

/*
 * First fit over the sorted table. Every node runs the same allocations in
 * the same order, so every node picks the same range without messages.
 */
dsm_status_t dsm_rt_region_place(const dsm_rt_t *rt, uint64_t npages, uint64_t *first_p,
                                 size_t *index_p)
{
    uint64_t candidate = 0;

    for (size_t i = 0; i <= rt->region_count; i++) {
        uint64_t limit = i < rt->region_count ? rt->regions[i].first_page : rt->arena_pages;

        if (limit >= candidate && limit - candidate >= npages) {
            *first_p = candidate;
            *index_p = i;
            return DSM_OK;
        }
        if (i < rt->region_count) {
            candidate = rt->regions[i].first_page + rt->regions[i].npages;
        }
    }
    return DSM_ERR_NO_SPACE;
}

dsm_status_t dsm_rt_region_insert(dsm_rt_t *rt, size_t index, const dsm_rt_region_t *region)
{
    if (rt->region_count == rt->region_capacity) {
        size_t capacity = rt->region_capacity ? 2 * rt->region_capacity : 16;
        dsm_rt_region_t *regions = realloc(rt->regions, capacity * sizeof(*regions));

        if (regions == NULL) {
            return DSM_ERR_NO_MEMORY;
        }
        rt->regions = regions;
        rt->region_capacity = capacity;
    }
    memmove(&rt->regions[index + 1], &rt->regions[index],
            (rt->region_count - index) * sizeof(*rt->regions));
    rt->regions[index] = *region;
    rt->region_count++;
    return DSM_OK;
}

void dsm_rt_region_remove(dsm_rt_t *rt, size_t index)
{
    rt->region_count--;
    memmove(&rt->regions[index], &rt->regions[index + 1],
            (rt->region_count - index) * sizeof(*rt->regions));
}
