/*
 * Migratory pages: a page this node reads and then writes costs a read miss
 * and then an upgrade (two faults, two transactions), and when nodes take
 * turns at that (a flag handed back and forth, a counter updated in turn),
 * every turn also downgrades the previous writer first. A page this node
 * upgraded is marked migratory here; its next read miss asks for it writable
 * at once (one transaction, no upgrade, and the previous holder is
 * invalidated instead of downgraded). The guess is dropped when it was wrong:
 * a page taken writable on a read miss that another node then reads from here
 * (a DOWNGRADE) is read-shared, and taking it writable would take it from its
 * readers. A guess costs performance only, never coherence: a read miss that
 * asks for M is a legal write miss.
 *
 * Two bits per page of each allocation, service thread only: marked, and
 * taken writable on a read miss (until the copy is downgraded or dropped).
 */
#include <stdlib.h>

#include "dsm_rt.h"

#define DSM_RT_BITS 64u

enum { DSM_RT_MIG_MARKED = 0, DSM_RT_MIG_TAKEN = 1 };

static size_t dsm_rt_migratory_words(const dsm_rt_region_t *region)
{
    return (region->npages + DSM_RT_BITS - 1) / DSM_RT_BITS;
}

dsm_status_t dsm_rt_migratory_make(dsm_rt_region_t *region)
{
    region->migratory = calloc(2 * dsm_rt_migratory_words(region), sizeof(uint64_t));
    return region->migratory != NULL ? DSM_OK : DSM_ERR_NO_MEMORY;
}

void dsm_rt_migratory_free(dsm_rt_region_t *region)
{
    free(region->migratory);
    region->migratory = NULL;
}

/* The word holding page's bit of kind; its mask in *mask_p. */
static uint64_t *dsm_rt_migratory_word(const dsm_rt_region_t *region, int kind, uint64_t page,
                                       uint64_t *mask_p)
{
    uint64_t bit = page - region->first_page;

    *mask_p = UINT64_C(1) << (bit % DSM_RT_BITS);
    return &region->migratory[(size_t)kind * dsm_rt_migratory_words(region) + bit / DSM_RT_BITS];
}

static int dsm_rt_migratory_get(const dsm_rt_region_t *region, int kind, uint64_t page)
{
    uint64_t mask;

    return (*dsm_rt_migratory_word(region, kind, page, &mask) & mask) != 0;
}

static void dsm_rt_migratory_set(const dsm_rt_region_t *region, int kind, uint64_t page, int on)
{
    uint64_t mask;
    uint64_t *word = dsm_rt_migratory_word(region, kind, page, &mask);

    *word = on ? *word | mask : *word & ~mask;
}

int dsm_rt_migratory_read_miss(const dsm_rt_region_t *region, uint64_t page)
{
    int take = dsm_rt_migratory_get(region, DSM_RT_MIG_MARKED, page);

    dsm_rt_migratory_set(region, DSM_RT_MIG_TAKEN, page, take);
    return take;
}

void dsm_rt_migratory_upgrade(const dsm_rt_region_t *region, uint64_t page)
{
    dsm_rt_migratory_set(region, DSM_RT_MIG_MARKED, page, 1);
}

void dsm_rt_migratory_recalled(const dsm_rt_region_t *region, const dsm_coh_msg_t *msg)
{
    int read_shared = msg->type == DSM_COH_MSG_DOWNGRADE;

    for (uint32_t i = 0; i < msg->count; i++) {
        uint64_t page = dsm_coh_run_page(msg->page, msg->stride, i);

        if (read_shared && dsm_rt_migratory_get(region, DSM_RT_MIG_TAKEN, page)) {
            dsm_rt_migratory_set(region, DSM_RT_MIG_MARKED, page, 0);
        }
        dsm_rt_migratory_set(region, DSM_RT_MIG_TAKEN, page, 0);
    }
}
