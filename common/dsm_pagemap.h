/*
 * The page map: uint64_t key -> uint64_t value, for per-page tables of every
 * layer (the coherence engine's entries, the runtime's fault start times,
 * fetch slots and free rounds). Open addressing with linear probing, Fibonacci
 * hashing and backward-shift deletion (no tombstones, so a map that churns
 * stays short to probe).
 *
 * Pure: calloc and free only, no logging, no system calls, so that the pure
 * coherence layer may use it (tests/coherence/check_pure.sh checks both).
 */
#ifndef DSM_PAGEMAP_H
#define DSM_PAGEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dsm.h"

typedef struct {
    uint64_t key;   /* key + 1; 0 marks an empty slot (so UINT64_MAX is no key) */
    uint64_t value;
} dsm_pagemap_slot_t;

/* A caller may walk slots[0..mask] (forget a range, drain); it changes them
 * only through the functions below. */
typedef struct {
    dsm_pagemap_slot_t *slots;
    size_t              mask;  /* capacity - 1, capacity a power of two */
    size_t              count;
} dsm_pagemap_t;

/* capacity slots to start with, rounded up to a power of two of at least 16;
 * the map doubles when an insert would fill more than half of them. */
dsm_status_t dsm_pagemap_init(dsm_pagemap_t *map, size_t capacity);
void dsm_pagemap_fini(dsm_pagemap_t *map);
/* Make room for one more key, so that the next insert cannot fail: a caller
 * that must not change anything on failure reserves before any change. */
dsm_status_t dsm_pagemap_reserve(dsm_pagemap_t *map);
/* Make room for n more keys (the next n inserts of new keys cannot fail). */
dsm_status_t dsm_pagemap_reserve_n(dsm_pagemap_t *map, size_t n);
/* Insert or overwrite; a new key needs a reserve since the last insert. */
void dsm_pagemap_insert(dsm_pagemap_t *map, uint64_t key, uint64_t value);
/* Reserve, then insert. */
dsm_status_t dsm_pagemap_put(dsm_pagemap_t *map, uint64_t key, uint64_t value);
/* True and *value_p (may be NULL) when present. */
bool dsm_pagemap_find(const dsm_pagemap_t *map, uint64_t key, uint64_t *value_p);
/* True and *value_p (may be NULL) when it was present and is now removed. */
bool dsm_pagemap_take(dsm_pagemap_t *map, uint64_t key, uint64_t *value_p);
/* Remove every key; the capacity stays. */
void dsm_pagemap_clear(dsm_pagemap_t *map);

/* For a walk over slots[0..mask]: whether slot i holds a key (and its value). */
static inline bool dsm_pagemap_used(const dsm_pagemap_t *map, size_t i)
{
    return map->slots[i].key != 0;
}

#endif /* DSM_PAGEMAP_H */
