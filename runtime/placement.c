/*
 * Placement: which node is the home of each page of an allocation, and where
 * the page lives in that home's backing segment for the allocation.
 *
 * Cyclic and blocked placement are pure arithmetic, shared by every node so
 * that all agree without messages. First-touch placement homes each chunk of
 * DSM_RT_CHUNK_PAGES pages at the first node that touches it: the chunk's
 * manager (blocked over the chunks) decides, and every node keeps the homes
 * it has learnt in the allocation's chunk table (rt_home.c). Under first
 * touch every node's segment spans the whole allocation, indexed by the
 * page's offset in it, since any node may become the home of any chunk.
 */
#include <stdlib.h>

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

static uint64_t dsm_rt_chunk_count(const dsm_rt_placement_t *pl)
{
    return (pl->npages + DSM_RT_CHUNK_PAGES - 1) / DSM_RT_CHUNK_PAGES;
}

static uint64_t dsm_rt_chunk_of(const dsm_rt_placement_t *pl, uint64_t page)
{
    return (page - pl->first_page) / DSM_RT_CHUNK_PAGES;
}

int dsm_rt_placement_home(const dsm_rt_placement_t *pl, uint64_t page)
{
    switch (pl->policy) {
    case DSM_PLACEMENT_BLOCKED:
        return (int)((page - pl->first_page) / dsm_rt_blocked_block(pl));
    case DSM_PLACEMENT_FIRST_TOUCH:
        return pl->chunk_home[dsm_rt_chunk_of(pl, page)];
    case DSM_PLACEMENT_CYCLIC:
        break;
    }
    return (int)(page % (uint64_t)pl->nnodes);
}

uint64_t dsm_rt_placement_index(const dsm_rt_placement_t *pl, uint64_t page)
{
    switch (pl->policy) {
    case DSM_PLACEMENT_BLOCKED:
        return (page - pl->first_page) % dsm_rt_blocked_block(pl);
    case DSM_PLACEMENT_FIRST_TOUCH:
        return page - pl->first_page;
    case DSM_PLACEMENT_CYCLIC:
        break;
    }
    return (page - dsm_rt_cyclic_first(pl, dsm_rt_placement_home(pl, page))) /
           (uint64_t)pl->nnodes;
}

uint64_t dsm_rt_placement_count(const dsm_rt_placement_t *pl, int node)
{
    uint64_t end = pl->first_page + pl->npages;

    switch (pl->policy) {
    case DSM_PLACEMENT_BLOCKED: {
        uint64_t block = dsm_rt_blocked_block(pl);
        uint64_t start = (uint64_t)node * block;

        if (start >= pl->npages) {
            return 0;
        }
        return pl->npages - start < block ? pl->npages - start : block;
    }
    case DSM_PLACEMENT_FIRST_TOUCH:
        return pl->npages;
    case DSM_PLACEMENT_CYCLIC:
        break;
    }
    uint64_t first = dsm_rt_cyclic_first(pl, node);

    return first < end ? (end - first + (uint64_t)pl->nnodes - 1) / (uint64_t)pl->nnodes : 0;
}

/* ---- first touch ------------------------------------------------------------ */

dsm_status_t dsm_rt_placement_chunks_make(dsm_rt_placement_t *pl)
{
    uint64_t chunks = dsm_rt_chunk_count(pl);

    pl->chunk_home = NULL;
    if (pl->policy != DSM_PLACEMENT_FIRST_TOUCH) {
        return DSM_OK;
    }
    pl->chunk_home = malloc(chunks * sizeof(*pl->chunk_home));
    if (pl->chunk_home == NULL) {
        return DSM_ERR_NO_MEMORY;
    }
    for (uint64_t c = 0; c < chunks; c++) {
        pl->chunk_home[c] = DSM_RT_HOME_UNKNOWN;
    }
    return DSM_OK;
}

void dsm_rt_placement_chunks_free(dsm_rt_placement_t *pl)
{
    free(pl->chunk_home);
    pl->chunk_home = NULL;
}

uint64_t dsm_rt_placement_chunk_first(const dsm_rt_placement_t *pl, uint64_t page)
{
    return pl->first_page + dsm_rt_chunk_of(pl, page) * DSM_RT_CHUNK_PAGES;
}

int dsm_rt_placement_manager(const dsm_rt_placement_t *pl, uint64_t page)
{
    uint64_t per_node = (dsm_rt_chunk_count(pl) + (uint64_t)pl->nnodes - 1) / (uint64_t)pl->nnodes;

    return (int)(dsm_rt_chunk_of(pl, page) / per_node);
}

void dsm_rt_placement_set_home(const dsm_rt_placement_t *pl, uint64_t page, int node)
{
    pl->chunk_home[dsm_rt_chunk_of(pl, page)] = node;
}
