/*
 * Placement: which node is the home of each page of an allocation, and where
 * the page lives in that home's backing segment for the allocation.
 * Pure arithmetic, shared by every node so that all agree without messages.
 */
#include "dsm_rt.h"

/* First page of [first, first+npages) homed at node under cyclic placement. */
static uint64_t dsm_rt_cyclic_first(const dsm_rt_placement_t *pl, int node)
{
    uint64_t n = (uint64_t)pl->nnodes;

    return pl->first_page + (((uint64_t)node + n - pl->first_page % n) % n);
}

static uint64_t dsm_rt_blocked_block(const dsm_rt_placement_t *pl)
{
    return (pl->npages + (uint64_t)pl->nnodes - 1) / (uint64_t)pl->nnodes;
}

int dsm_rt_placement_home(const dsm_rt_placement_t *pl, uint64_t page)
{
    if (pl->policy == DSM_PLACEMENT_BLOCKED) {
        return (int)((page - pl->first_page) / dsm_rt_blocked_block(pl));
    }
    return (int)(page % (uint64_t)pl->nnodes);
}

uint64_t dsm_rt_placement_index(const dsm_rt_placement_t *pl, uint64_t page)
{
    if (pl->policy == DSM_PLACEMENT_BLOCKED) {
        return (page - pl->first_page) % dsm_rt_blocked_block(pl);
    }
    return (page - dsm_rt_cyclic_first(pl, dsm_rt_placement_home(pl, page))) /
           (uint64_t)pl->nnodes;
}

uint64_t dsm_rt_placement_count(const dsm_rt_placement_t *pl, int node)
{
    uint64_t end = pl->first_page + pl->npages;

    if (pl->policy == DSM_PLACEMENT_BLOCKED) {
        uint64_t block = dsm_rt_blocked_block(pl);
        uint64_t start = (uint64_t)node * block;

        if (start >= pl->npages) {
            return 0;
        }
        return pl->npages - start < block ? pl->npages - start : block;
    }
    uint64_t first = dsm_rt_cyclic_first(pl, node);

    return first < end ? (end - first + (uint64_t)pl->nnodes - 1) / (uint64_t)pl->nnodes : 0;
}
