/*
 * Per-page entries: the pools they are recycled through, their maps, and the
 * questions asked of all of them at once (is anything in flight, forget a
 * range). Only pages away from the default state hold an entry (dsm_coh.h).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "coh_int.h"

/* Per page of an input: entries of each kind one page can need (see dsm_coh_entries_reserve). */
#define DSM_COH_RESERVE 2u

/* ---- pools ------------------------------------------------------------------ */

static void *dsm_coh_pool_next(const void *object)
{
    void *next;

    /* memcpy: the link overlays whatever type the free object had. */
    memcpy(&next, object, sizeof(next));
    return next;
}

static void dsm_coh_pool_init(dsm_coh_pool_t *pool, size_t size)
{
    assert(size >= sizeof(void *));
    pool->head = NULL;
    pool->nfree = 0;
    pool->size = size;
}

void dsm_coh_pool_put(dsm_coh_pool_t *pool, void *object)
{
    memcpy(object, &pool->head, sizeof(pool->head));
    pool->head = object;
    pool->nfree++;
}

void *dsm_coh_pool_take(dsm_coh_pool_t *pool)
{
    void *object = pool->head;

    /* Every input fills the pools first (dsm_coh_entries_reserve). */
    assert(object != NULL);
    pool->head = dsm_coh_pool_next(object);
    pool->nfree--;
    /* A run's input takes an entry per page: the next one is likely asked
     * for at once, and a pool of thousands is cold in the cache. */
    if (pool->head != NULL) {
        __builtin_prefetch(pool->head, 1);
    }
    memset(object, 0, pool->size);
    return object;
}

static dsm_status_t dsm_coh_pool_fill(dsm_coh_pool_t *pool, size_t nfree)
{
    while (pool->nfree < nfree) {
        void *object = calloc(1, pool->size);

        if (object == NULL) {
            return DSM_ERR_NO_MEMORY;
        }
        dsm_coh_pool_put(pool, object);
    }
    return DSM_OK;
}

static void dsm_coh_pool_fini(dsm_coh_pool_t *pool)
{
    while (pool->head != NULL) {
        void *object = pool->head;

        pool->head = dsm_coh_pool_next(object);
        free(object);
    }
    pool->nfree = 0;
}

/* ---- entries ---------------------------------------------------------------- */

static size_t dsm_coh_hentry_size(const dsm_coh_engine_t *engine)
{
    return sizeof(dsm_coh_hentry_t) + 2 * engine->nwords * sizeof(uint64_t);
}

dsm_status_t dsm_coh_entries_init(dsm_coh_engine_t *engine)
{
    engine->home_idle = calloc(1, dsm_coh_hentry_size(engine));
    if (engine->home_idle == NULL) {
        goto err;
    }
    if (dsm_pagemap_init(&engine->nodes, 0) != DSM_OK) {
        goto err_idle;
    }
    if (dsm_pagemap_init(&engine->homes, 0) != DSM_OK) {
        goto err_nodes;
    }
    dsm_coh_pool_init(&engine->nentries, sizeof(dsm_coh_nentry_t));
    dsm_coh_pool_init(&engine->hentries, dsm_coh_hentry_size(engine));
    dsm_coh_pool_init(&engine->qitems, sizeof(dsm_coh_qitem_t));
    return DSM_OK;

err_nodes:
    dsm_pagemap_fini(&engine->nodes);
err_idle:
    free(engine->home_idle);
err:
    return DSM_ERR_NO_MEMORY;
}

void dsm_coh_entries_fini(dsm_coh_engine_t *engine)
{
    dsm_coh_entries_release(engine);
    dsm_coh_pool_fini(&engine->qitems);
    dsm_coh_pool_fini(&engine->hentries);
    dsm_coh_pool_fini(&engine->nentries);
    dsm_pagemap_fini(&engine->homes);
    dsm_pagemap_fini(&engine->nodes);
    free(engine->home_idle);
}

/*
 * Fill the pools and map room so that handlers never allocate-and-fail, for an
 * input naming count pages (each page is handled as alone).
 */
dsm_status_t dsm_coh_entries_reserve(dsm_coh_engine_t *engine, uint32_t count)
{
    size_t need = (size_t)count * DSM_COH_RESERVE;

    if (dsm_coh_pool_fill(&engine->nentries, need) != DSM_OK ||
        dsm_coh_pool_fill(&engine->hentries, need) != DSM_OK ||
        dsm_coh_pool_fill(&engine->qitems, need) != DSM_OK ||
        dsm_pagemap_reserve_n(&engine->nodes, count) != DSM_OK ||
        dsm_pagemap_reserve_n(&engine->homes, count) != DSM_OK) {
        return DSM_ERR_NO_MEMORY;
    }
    return DSM_OK;
}

/* The entry in slot i of map, or NULL: for walks over every entry. */
static void *dsm_coh_map_entry(const dsm_pagemap_t *map, size_t i)
{
    return dsm_pagemap_used(map, i) ? (void *)(uintptr_t)map->slots[i].value : NULL;
}

/* Move the entries of pages [first, end) from map to pool. */
static void dsm_coh_map_forget(dsm_pagemap_t *map, dsm_coh_pool_t *pool, uint64_t first,
                               uint64_t end)
{
    /* Removing an entry shifts later entries of its probe run back into the
     * freed slot: look at the same slot again until nothing of the range is there. */
    for (size_t i = 0; i <= map->mask; i++) {
        void *entry;

        while ((entry = dsm_coh_map_entry(map, i)) != NULL &&
               dsm_coh_entry_page(entry) >= first && dsm_coh_entry_page(entry) < end) {
            dsm_coh_entry_free(map, pool, entry);
        }
    }
}

/* Move every entry of map to pool; the map is empty after. */
static void dsm_coh_map_drain(dsm_pagemap_t *map, dsm_coh_pool_t *pool)
{
    for (size_t i = 0; i <= map->mask; i++) {
        void *entry = dsm_coh_map_entry(map, i);

        if (entry != NULL) {
            dsm_coh_pool_put(pool, entry);
        }
    }
    dsm_pagemap_clear(map);
}

/* Every entry, and the requests queued at the homes, back to the pools. */
void dsm_coh_entries_release(dsm_coh_engine_t *engine)
{
    for (size_t i = 0; i <= engine->homes.mask; i++) {
        dsm_coh_hentry_t *h = dsm_coh_map_entry(&engine->homes, i);

        while (h != NULL && h->q_head != NULL) {
            dsm_coh_qitem_t *qi = h->q_head;

            h->q_head = qi->next;
            dsm_coh_pool_put(&engine->qitems, qi);
        }
    }
    dsm_coh_map_drain(&engine->nodes, &engine->nentries);
    dsm_coh_map_drain(&engine->homes, &engine->hentries);
}

/* A new entry of page in map: zeroed, so in the default state (I, U are 0). */
void *dsm_coh_entry_new(dsm_pagemap_t *map, dsm_coh_pool_t *pool, uint64_t page)
{
    void *entry = dsm_coh_pool_take(pool);

    memcpy(entry, &page, sizeof(page));
    dsm_pagemap_insert(map, page, (uintptr_t)entry);
    return entry;
}

void dsm_coh_entry_free(dsm_pagemap_t *map, dsm_coh_pool_t *pool, void *entry)
{
    dsm_pagemap_take(map, dsm_coh_entry_page(entry), NULL);
    dsm_coh_pool_put(pool, entry);
}

/* ---- settled pages and forget ------------------------------------------------ */

static bool dsm_coh_nentry_settled(const void *entry)
{
    const dsm_coh_nentry_t *e = entry;

    return dsm_coh_node_table.states[e->state].stable;
}

static bool dsm_coh_hentry_settled(const void *entry)
{
    const dsm_coh_hentry_t *h = entry;

    return dsm_coh_home_table.states[h->state].stable && h->q_head == NULL;
}

static bool dsm_coh_map_settled(const dsm_pagemap_t *map, uint64_t first, uint64_t end,
                                bool (*settled)(const void *entry))
{
    for (size_t i = 0; i <= map->mask; i++) {
        const void *entry = dsm_coh_map_entry(map, i);

        if (entry != NULL && dsm_coh_entry_page(entry) >= first &&
            dsm_coh_entry_page(entry) < end && !settled(entry)) {
            return false;
        }
    }
    return true;
}

/* True when no page of [first, end) is transient, busy or has queued requests. */
static bool dsm_coh_range_settled(const dsm_coh_engine_t *engine, uint64_t first, uint64_t end)
{
    return dsm_coh_map_settled(&engine->nodes, first, end, dsm_coh_nentry_settled) &&
           dsm_coh_map_settled(&engine->homes, first, end, dsm_coh_hentry_settled);
}

bool dsm_coh_engine_settled(const dsm_coh_engine_t *engine, uint64_t first, uint64_t count)
{
    return dsm_coh_range_settled(engine, first, first + count);
}

bool dsm_coh_page_settled(const dsm_coh_engine_t *engine, bool home, uint64_t page)
{
    const void *entry = home ? dsm_coh_map_find(&engine->homes, page)
                             : dsm_coh_map_find(&engine->nodes, page);

    /* No entry: the default state (I, U), stable with nothing queued. */
    return entry == NULL ||
           (home ? dsm_coh_hentry_settled(entry) : dsm_coh_nentry_settled(entry));
}

/* O(1), not a walk of the entries: dsm_checkpoint and dsm_finalize ask while
 * the whole job waits (the unsettled count is kept by dsm_coh_run_apply; the
 * simulator checks it against dsm_coh_engine_settled after every event). */
bool dsm_coh_engine_quiescent(const dsm_coh_engine_t *engine)
{
    return engine->selfq_count == 0 && engine->unsettled == 0;
}

dsm_status_t dsm_coh_engine_forget(dsm_coh_engine_t *engine, uint64_t first, uint64_t count)
{
    uint64_t end = first + count;

    if (first >= engine->params.npages || count > engine->params.npages - first) {
        return DSM_ERR_INVALID_PARAM;
    }
    if (!dsm_coh_range_settled(engine, first, end)) {
        return DSM_ERR_STATE;
    }
    dsm_coh_map_forget(&engine->nodes, &engine->nentries, first, end);
    /* Settled home entries have empty queues: nothing else to return. */
    dsm_coh_map_forget(&engine->homes, &engine->hentries, first, end);
    return DSM_OK;
}

/* ---- inspection --------------------------------------------------------------- */

void dsm_coh_engine_entries(const dsm_coh_engine_t *engine, size_t *node_p, size_t *home_p)
{
    *node_p = engine->nodes.count;
    *home_p = engine->homes.count;
}

dsm_coh_node_state_t dsm_coh_engine_node_state(const dsm_coh_engine_t *engine, uint64_t page)
{
    const dsm_coh_nentry_t *e = dsm_coh_map_find(&engine->nodes, page);

    return e != NULL ? (dsm_coh_node_state_t)e->state : DSM_COH_N_I;
}

dsm_coh_home_state_t dsm_coh_engine_home_state(const dsm_coh_engine_t *engine, uint64_t page,
                                               uint32_t node, bool *holder_p)
{
    const dsm_coh_hentry_t *h = dsm_coh_map_find(&engine->homes, page);

    *holder_p = h != NULL && node < engine->params.nnodes && dsm_coh_bit(h->bits, node);
    return h != NULL ? (dsm_coh_home_state_t)h->state : DSM_COH_H_U;
}
