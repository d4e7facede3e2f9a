/*
 * The sparse page map: open addressing with linear probing and backward-shift
 * deletion (no tombstones, so a map that churns stays short to probe).
 * Entries are owned by the engine (coh_entry.c); the map stores pointers to
 * them, and every entry begins with its uint64_t page.
 */
#include <stdlib.h>

#include "coh_int.h"

#define DSM_COH_MAP_MIN 16u

/* Fibonacci hashing: consecutive pages (the common pattern) spread evenly. */
static size_t dsm_coh_map_slot(const dsm_coh_map_t *map, uint64_t page)
{
    return (size_t)((page * 0x9e3779b97f4a7c15ull) >> 17) & map->mask;
}

dsm_status_t dsm_coh_map_init(dsm_coh_map_t *map)
{
    map->slots = calloc(DSM_COH_MAP_MIN, sizeof(*map->slots));
    if (map->slots == NULL) {
        return DSM_ERR_NO_MEMORY;
    }
    map->mask = DSM_COH_MAP_MIN - 1;
    map->count = 0;
    return DSM_OK;
}

void dsm_coh_map_fini(dsm_coh_map_t *map)
{
    free(map->slots);
    map->slots = NULL;
}

void *dsm_coh_map_find(const dsm_coh_map_t *map, uint64_t page)
{
    size_t i;

    for (i = dsm_coh_map_slot(map, page); map->slots[i] != NULL; i = (i + 1) & map->mask) {
        if (dsm_coh_entry_page(map->slots[i]) == page) {
            return map->slots[i];
        }
    }
    return NULL;
}

static void dsm_coh_map_place(dsm_coh_map_t *map, void *entry)
{
    size_t i = dsm_coh_map_slot(map, dsm_coh_entry_page(entry));

    while (map->slots[i] != NULL) {
        i = (i + 1) & map->mask;
    }
    map->slots[i] = entry;
}

/* Keep the load at most 1/2 so that probes stay short. */
dsm_status_t dsm_coh_map_reserve(dsm_coh_map_t *map)
{
    size_t old_cap = map->mask + 1;
    void **old = map->slots;
    size_t i;

    if ((map->count + 1) * 2 <= old_cap) {
        return DSM_OK;
    }
    map->slots = calloc(old_cap * 2, sizeof(*map->slots));
    if (map->slots == NULL) {
        map->slots = old;
        return DSM_ERR_NO_MEMORY;
    }
    map->mask = old_cap * 2 - 1;
    for (i = 0; i < old_cap; i++) {
        if (old[i] != NULL) {
            dsm_coh_map_place(map, old[i]);
        }
    }
    free(old);
    return DSM_OK;
}

void dsm_coh_map_insert(dsm_coh_map_t *map, void *entry)
{
    dsm_coh_map_place(map, entry);
    map->count++;
}

void dsm_coh_map_remove(dsm_coh_map_t *map, uint64_t page)
{
    size_t hole = dsm_coh_map_slot(map, page);
    size_t i;

    while (dsm_coh_entry_page(map->slots[hole]) != page) {
        hole = (hole + 1) & map->mask;
    }
    /* Backward shift: move up every later entry of the run that may not skip the hole. */
    for (i = (hole + 1) & map->mask; map->slots[i] != NULL; i = (i + 1) & map->mask) {
        size_t home = dsm_coh_map_slot(map, dsm_coh_entry_page(map->slots[i]));

        if (((i - home) & map->mask) >= ((i - hole) & map->mask)) {
            map->slots[hole] = map->slots[i];
            hole = i;
        }
    }
    map->slots[hole] = NULL;
    map->count--;
}
