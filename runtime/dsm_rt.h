/*
 * runtime/ - dsm_init to dsm_finalize: configuration, the arena and its
 * allocations, the service thread that drives the coherence engine through
 * kernel/ and transport/, locks, barriers and statistics.
 */
#ifndef DSM_RT_H
#define DSM_RT_H

#include <stdint.h>

#include "dsm.h"
#include "dsm_common.h"

#define DSM_RT_PAGE_SIZE   4096u
#define DSM_RT_SPIN_US_MAX 1000000u

/* ---- configuration (config.c) ---------------------------------------------- */

typedef enum {
    DSM_RT_TRANSPORT_AUTO = 0, /* UCX's own choice (UCX_TLS if the user set it) */
    DSM_RT_TRANSPORT_SHM  = 1, /* shared memory between processes of one host  */
    DSM_RT_TRANSPORT_TCP  = 2,
    DSM_RT_TRANSPORT_RDMA = 3  /* verbs: InfiniBand / RoCE                       */
} dsm_rt_transport_t;

typedef struct {
    uint64_t           arena_size;
    uint64_t           arena_address;
    dsm_placement_t    placement;
    dsm_rt_transport_t transport;
    unsigned           spin_us;
    dsm_log_level_t    log_level;
    int                stats;
} dsm_rt_config_t;

/* Fields set in user (may be NULL) win; else DSM_* variables; else defaults. */
dsm_status_t dsm_rt_config_load(const dsm_config_t *user, dsm_rt_config_t *config_p);
const char *dsm_rt_transport_name(dsm_rt_transport_t transport);

/* ---- placement (placement.c) ------------------------------------------------ */

/* The pages [first_page, first_page + npages) of one allocation over nnodes. */
typedef struct {
    dsm_placement_t policy;
    uint64_t        first_page;
    uint64_t        npages;
    int             nnodes;
} dsm_rt_placement_t;

/* The home node of page (which must lie in the allocation). */
int dsm_rt_placement_home(const dsm_rt_placement_t *pl, uint64_t page);
/* The page's index in its home's backing segment for this allocation. */
uint64_t dsm_rt_placement_index(const dsm_rt_placement_t *pl, uint64_t page);
/* How many pages of the allocation node is home of (its segment's length). */
uint64_t dsm_rt_placement_count(const dsm_rt_placement_t *pl, int node);

#endif /* DSM_RT_H */

/* ---- page-keyed map (pagemap.c) ----------------------------------------------
 * Open addressing, linear probing, tombstone-free deletion (backward shift):
 * the service thread's small per-page tables (fault start times, staging slots).
 */
typedef struct {
    uint64_t *keys;   /* key + 1; 0 marks an empty slot */
    uint64_t *values;
    size_t    capacity; /* power of two */
    size_t    count;
} dsm_rt_pagemap_t;

dsm_status_t dsm_rt_pagemap_init(dsm_rt_pagemap_t *map, size_t initial_capacity);
void dsm_rt_pagemap_fini(dsm_rt_pagemap_t *map);
/* Insert or overwrite. */
dsm_status_t dsm_rt_pagemap_put(dsm_rt_pagemap_t *map, uint64_t key, uint64_t value);
/* 1 and *value_p when present, else 0. */
int dsm_rt_pagemap_get(const dsm_rt_pagemap_t *map, uint64_t key, uint64_t *value_p);
/* 1 and *value_p (may be NULL) when it was present and is now removed, else 0. */
int dsm_rt_pagemap_take(dsm_rt_pagemap_t *map, uint64_t key, uint64_t *value_p);

/* ---- latency histogram (stats.c) ---------------------------------------------
 * Log-linear buckets (8 per power of two of nanoseconds): percentiles within
 * 12.5 %, constant memory, constant time per sample.
 */
#define DSM_RT_HIST_SUB     8
#define DSM_RT_HIST_BUCKETS (64 * DSM_RT_HIST_SUB)

typedef struct {
    uint64_t counts[DSM_RT_HIST_BUCKETS];
    uint64_t total;
} dsm_rt_hist_t;

void dsm_rt_hist_add(dsm_rt_hist_t *hist, uint64_t ns);
/* The value (µs) below which pct percent of the samples lie; 0 when empty. */
double dsm_rt_hist_percentile_us(const dsm_rt_hist_t *hist, double pct);
