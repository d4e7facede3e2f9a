/*
 * Placement: which node is the home of each page of an allocation.
 *
 * Cyclic and blocked placement are pure arithmetic, shared by every node so
 * that all agree without messages. Cyclic deals the arena's 64 KiB chunks to
 * the nodes in turn (arena chunk c at node c mod N): neighbouring pages share
 * a home, so the runs the protocol moves in one transaction are up to a chunk
 * long, and small allocations still spread over the nodes. First-touch
 * placement homes each chunk of DSM_RT_CHUNK_PAGES pages at the first node
 * that touches it: the chunk's manager (blocked over the chunks) decides, and
 * every node keeps the homes it has learnt in the allocation's chunk table
 * (rt_home.c). Every node's backing of an allocation spans all of it (its
 * range of the node's landing mapping, rt_arena.c), whatever the placement.
 */
#include <stdlib.h>

#include "dsm_rt.h"

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
        /* Relaxed atomics: the restart's loader thread reads the homes the
         * service thread learns (a home not seen yet is loaded on demand). */
        return __atomic_load_n(&pl->chunk_home[dsm_rt_chunk_of(pl, page)], __ATOMIC_RELAXED);
    case DSM_PLACEMENT_CYCLIC:
        break;
    }
    return (int)(page / DSM_RT_CHUNK_PAGES % (uint64_t)pl->nnodes);
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
    __atomic_store_n(&pl->chunk_home[dsm_rt_chunk_of(pl, page)], node, __ATOMIC_RELAXED);
}
