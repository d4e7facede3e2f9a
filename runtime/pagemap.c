/* A small u64 -> u64 hash map for the service thread's per-page tables. */
#include <stdlib.h>

#include "dsm_rt.h"

static size_t dsm_rt_pagemap_slot(const dsm_rt_pagemap_t *map, uint64_t key)
{
    /* Fibonacci hashing: consecutive pages spread over the table. */
    return (size_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (map->capacity - 1);
}

dsm_status_t dsm_rt_pagemap_init(dsm_rt_pagemap_t *map, size_t initial_capacity)
{
    size_t capacity = 16;

    while (capacity < initial_capacity) {
        capacity *= 2;
    }
    map->keys = calloc(capacity, sizeof(*map->keys));
    map->values = calloc(capacity, sizeof(*map->values));
    if (map->keys == NULL || map->values == NULL) {
        free(map->keys);
        free(map->values);
        return DSM_ERR_NO_MEMORY;
    }
    map->capacity = capacity;
    map->count = 0;
    return DSM_OK;
}

void dsm_rt_pagemap_fini(dsm_rt_pagemap_t *map)
{
    free(map->keys);
    free(map->values);
    map->keys = map->values = NULL;
    map->capacity = map->count = 0;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t dsm_rt_pagemap_find(const dsm_rt_pagemap_t *map, uint64_t key)
{
    size_t slot = dsm_rt_pagemap_slot(map, key);

    while (map->keys[slot] != 0 && map->keys[slot] != key + 1) {
        slot = (slot + 1) & (map->capacity - 1);
    }
    return slot;
}

static dsm_status_t dsm_rt_pagemap_grow(dsm_rt_pagemap_t *map)
{
    dsm_rt_pagemap_t bigger;
    dsm_status_t status = dsm_rt_pagemap_init(&bigger, map->capacity * 2);

    if (status != DSM_OK) {
        return status;
    }
    for (size_t i = 0; i < map->capacity; i++) {
        if (map->keys[i] != 0) {
            size_t slot = dsm_rt_pagemap_find(&bigger, map->keys[i] - 1);

            bigger.keys[slot] = map->keys[i];
            bigger.values[slot] = map->values[i];
            bigger.count++;
        }
    }
    dsm_rt_pagemap_fini(map);
    *map = bigger;
    return DSM_OK;
}

dsm_status_t dsm_rt_pagemap_put(dsm_rt_pagemap_t *map, uint64_t key, uint64_t value)
{
    size_t slot;

    if (2 * (map->count + 1) > map->capacity) { /* keep the load factor <= 1/2 */
        dsm_status_t status = dsm_rt_pagemap_grow(map);

        if (status != DSM_OK) {
            return status;
        }
    }
    slot = dsm_rt_pagemap_find(map, key);
    if (map->keys[slot] == 0) {
        map->keys[slot] = key + 1;
        map->count++;
    }
    map->values[slot] = value;
    return DSM_OK;
}

int dsm_rt_pagemap_get(const dsm_rt_pagemap_t *map, uint64_t key, uint64_t *value_p)
{
    size_t slot = dsm_rt_pagemap_find(map, key);

    if (map->keys[slot] == 0) {
        return 0;
    }
    *value_p = map->values[slot];
    return 1;
}

int dsm_rt_pagemap_take(dsm_rt_pagemap_t *map, uint64_t key, uint64_t *value_p)
{
    size_t mask = map->capacity - 1;
    size_t hole = dsm_rt_pagemap_find(map, key);
    size_t next;

    if (map->keys[hole] == 0) {
        return 0;
    }
    if (value_p != NULL) {
        *value_p = map->values[hole];
    }
    /* Backward-shift deletion: move later entries of the probe run into the
     * hole when their home slot does not lie strictly between hole and them. */
    for (next = (hole + 1) & mask; map->keys[next] != 0; next = (next + 1) & mask) {
        size_t home = dsm_rt_pagemap_slot(map, map->keys[next] - 1);

        if (((next - home) & mask) >= ((next - hole) & mask)) {
            map->keys[hole] = map->keys[next];
            map->values[hole] = map->values[next];
            hole = next;
        }
    }
    map->keys[hole] = 0;
    map->count--;
    return 1;
}
