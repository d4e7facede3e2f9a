/* The page map (dsm_pagemap.h): calloc and free only, no logging. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "dsm_pagemap.h"

#define DSM_PAGEMAP_MIN 16u

/* Fibonacci hashing: consecutive pages (the common pattern) spread evenly. */
static size_t dsm_pagemap_home(const dsm_pagemap_t *map, uint64_t key)
{
    return (size_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> 17) & map->mask;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t dsm_pagemap_slot(const dsm_pagemap_t *map, uint64_t key)
{
    size_t i = dsm_pagemap_home(map, key);

    while (map->slots[i].key != 0 && map->slots[i].key != key + 1) {
        i = (i + 1) & map->mask;
    }
    return i;
}

dsm_status_t dsm_pagemap_init(dsm_pagemap_t *map, size_t capacity)
{
    size_t slots = DSM_PAGEMAP_MIN;

    while (slots < capacity) {
        slots *= 2;
    }
    map->slots = calloc(slots, sizeof(*map->slots));
    if (map->slots == NULL) {
        return DSM_ERR_NO_MEMORY;
    }
    map->mask = slots - 1;
    map->count = 0;
    return DSM_OK;
}

void dsm_pagemap_fini(dsm_pagemap_t *map)
{
    free(map->slots);
    map->slots = NULL;
    map->mask = map->count = 0;
}

void dsm_pagemap_clear(dsm_pagemap_t *map)
{
    memset(map->slots, 0, (map->mask + 1) * sizeof(*map->slots));
    map->count = 0;
}

/* Keep the load at most 1/2 so that probes stay short. */
dsm_status_t dsm_pagemap_reserve_n(dsm_pagemap_t *map, size_t n)
{
    size_t old_cap = map->mask + 1;
    size_t new_cap = old_cap;
    dsm_pagemap_slot_t *old = map->slots;

    while ((map->count + n) * 2 > new_cap) {
        new_cap *= 2;
    }
    if (new_cap == old_cap) {
        return DSM_OK;
    }
    map->slots = calloc(new_cap, sizeof(*map->slots));
    if (map->slots == NULL) {
        map->slots = old;
        return DSM_ERR_NO_MEMORY;
    }
    map->mask = new_cap - 1;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].key != 0) {
            map->slots[dsm_pagemap_slot(map, old[i].key - 1)] = old[i];
        }
    }
    free(old);
    return DSM_OK;
}

void dsm_pagemap_insert(dsm_pagemap_t *map, uint64_t key, uint64_t value)
{
    size_t i = dsm_pagemap_slot(map, key);

    assert(key != UINT64_MAX);
    if (map->slots[i].key == 0) {
        /* Probes end at an empty slot: one must remain (a reserve leaves half). */
        assert(map->count + 1 <= map->mask);
        map->slots[i].key = key + 1;
        map->count++;
    }
    map->slots[i].value = value;
}

dsm_status_t dsm_pagemap_reserve(dsm_pagemap_t *map)
{
    return dsm_pagemap_reserve_n(map, 1);
}

dsm_status_t dsm_pagemap_put(dsm_pagemap_t *map, uint64_t key, uint64_t value)
{
    dsm_status_t status = dsm_pagemap_reserve(map);

    if (status != DSM_OK) {
        return status;
    }
    dsm_pagemap_insert(map, key, value);
    return DSM_OK;
}

bool dsm_pagemap_find(const dsm_pagemap_t *map, uint64_t key, uint64_t *value_p)
{
    size_t i = dsm_pagemap_slot(map, key);

    if (map->slots[i].key == 0) {
        return false;
    }
    if (value_p != NULL) {
        *value_p = map->slots[i].value;
    }
    return true;
}

bool dsm_pagemap_take(dsm_pagemap_t *map, uint64_t key, uint64_t *value_p)
{
    size_t hole = dsm_pagemap_slot(map, key);

    if (map->slots[hole].key == 0) {
        return false;
    }
    if (value_p != NULL) {
        *value_p = map->slots[hole].value;
    }
    /* Backward shift: move up every later entry of the run whose home slot
     * does not lie strictly between the hole and it. */
    for (size_t i = (hole + 1) & map->mask; map->slots[i].key != 0; i = (i + 1) & map->mask) {
        size_t home = dsm_pagemap_home(map, map->slots[i].key - 1);

        if (((i - home) & map->mask) >= ((i - hole) & map->mask)) {
            map->slots[hole] = map->slots[i];
            hole = i;
        }
    }
    map->slots[hole].key = 0;
    map->count--;
    return true;
}
