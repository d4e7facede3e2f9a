/*
 * runtime/ - dsm_init to dsm_finalize: configuration, the arena and its
 * allocations, the service thread that drives the coherence engine through
 * kernel/ and transport/, locks, barriers and statistics.
 */
#ifndef DSM_RT_H
#define DSM_RT_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>

#include "dsm.h"
#include "dsm_coh.h"
#include "dsm_common.h"
#include "dsm_config_table.h"
#include "dsm_tp.h"
#include "dsm_uffd.h"

#define DSM_RT_PAGE_SIZE   4096u
#define DSM_RT_SPIN_US_MAX 1000000u
/* DSM_SPIN_US=auto (rt_api.c's dsm_rt_spin_policy says why 50 µs everywhere). */
#define DSM_RT_SPIN_US_DEFAULT 50u
#define DSM_RT_READAHEAD_MAX   64u
/* time slice the service thread asks for: short enough to preempt on wake-up */
#define DSM_RT_SERVICE_SLICE_NS 100000u
/* Page-change counters, hashed by page (rt_wait.c): a collision only makes a
 * waiter look again. */
#define DSM_RT_PAGE_CHANGE_BUCKETS 64u

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
    unsigned           readahead;   /* most pages requested ahead of a sequential fault */
    int                service_nice; /* the service thread's nice value           */
    dsm_log_level_t    log_level;
    int                stats;
} dsm_rt_config_t;

/* Every DSM_* variable dsm knows, the bootstrap's too (docs/config.md is printed from it). */
extern const dsm_config_table_t dsm_rt_config_table;

/* Fields set in user (may be NULL) win; else DSM_* variables; else defaults.
 * Warns about DSM_* variables not in the table. */
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

/* ---- FIFO (fifo.c) ----------------------------------------------------------
 * A growable ring of fixed-size elements: the service thread's queues.
 */
typedef struct {
    void  *elements;
    size_t element_size;
    size_t head, count, capacity;
} dsm_rt_fifo_t;

void dsm_rt_fifo_init(dsm_rt_fifo_t *fifo, size_t element_size);
void dsm_rt_fifo_fini(dsm_rt_fifo_t *fifo);
/* Append a copy of element; DSM_ERR_NO_MEMORY when the ring cannot grow. */
dsm_status_t dsm_rt_fifo_push(dsm_rt_fifo_t *fifo, const void *element);
/* 1 and the oldest element copied to element_p, or 0 when empty. */
int dsm_rt_fifo_pop(dsm_rt_fifo_t *fifo, void *element_p);

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

/* ---- the runtime proper (rt_*.c) ---------------------------------------------- */

/* Active message ids used by the runtime. */
enum {
    DSM_RT_AM_COHERENCE = 0, /* coherence engine messages (dsm_coh_msg_*)  */
    DSM_RT_AM_SYNC      = 1, /* barrier and lock messages (rt_sync.c)      */
    DSM_RT_AM_REGION    = 2  /* allocation keys (rt_alloc.c)               */
};

/* Exit status of a node that stops because another node of the job was lost. */
#define DSM_RT_EXIT_PEER_LOST 3

/* A key that arrived before this node started its allocation (rt_alloc.c). */
typedef struct dsm_rt_early_key {
    struct dsm_rt_early_key *next;
    uint64_t                 seq;
    int                      node;
    size_t                   size;
    unsigned char            key[];
} dsm_rt_early_key_t;

struct dsm_rt_cmd;

/* One collective allocation: a range of arena pages and its backing segments. */
typedef struct {
    uint64_t           seq;        /* the allocation's number, the same on every node */
    uint64_t           first_page;
    uint64_t           npages;
    dsm_rt_placement_t placement;
    dsm_tp_mem_t      *backing;    /* this node's segment (pages it homes)     */
    dsm_tp_rmem_t     *rmem;       /* every node's segment, for RMA           */
    void              *key;        /* this node's segment key, as sent        */
    size_t             key_size;   /* 0: this node failed to make its segment  */
    unsigned           keys_missing; /* other nodes' keys not yet received    */
    int                failed;     /* some node could not make its segment    */
    struct dsm_rt_cmd *waiting;    /* the ALLOC command, until complete       */
} dsm_rt_region_t;

/* A request from an application thread to the service thread. */
typedef enum {
    DSM_RT_CMD_ALLOC = 0,
    DSM_RT_CMD_FREE,
    DSM_RT_CMD_BARRIER,
    DSM_RT_CMD_LOCK_CREATE,
    DSM_RT_CMD_LOCK_ACQUIRE,
    DSM_RT_CMD_LOCK_RELEASE,
    DSM_RT_CMD_STATS,
    DSM_RT_CMD_PAGE_WAIT,
    DSM_RT_CMD_DRAIN,
    DSM_RT_CMD_STOP
} dsm_rt_cmd_type_t;

typedef struct dsm_rt_cmd {
    struct dsm_rt_cmd *next;
    struct dsm_rt     *rt;     /* set by dsm_rt_command                        */
    dsm_rt_cmd_type_t  type;
    uint64_t           arg;    /* ALLOC: bytes; FREE: address; LOCK_*: lock;
                                  PAGE_WAIT: page; DRAIN: address, 0: every
                                  page                                        */
    uint64_t           result; /* ALLOC: address; LOCK_CREATE: lock           */
    uint64_t           changes;  /* PAGE_WAIT: the page's change count, read
                                    before the caller's load (rt_wait.c)     */
    uint64_t           recheck;  /* PAGE_WAIT: how long a wait on a page held
                                    writable may last (ns)                   */
    uint64_t           deadline; /* PAGE_WAIT: when it ends (ns), 0: never    */
    dsm_status_t       status;
    sem_t              done;   /* posted by the service thread when finished  */
} dsm_rt_cmd_t;

/* A FIFO of commands linked through next. */
typedef struct {
    dsm_rt_cmd_t *head;
    dsm_rt_cmd_t *tail;
} dsm_rt_cmd_list_t;

/* A page transfer that completed while actions ran, fed to the engine next. */
typedef struct {
    uint64_t      page;
    dsm_coh_rma_t op;
} dsm_rt_deferred_t;

/* A staging page: where fetched data lands and write-backs leave from. */
typedef struct {
    struct dsm_rt        *rt;
    uint64_t              page;
    int                   home;      /* the page's home: the flush after a put */
    dsm_coh_rma_t         op;
    int                   next_free; /* -1: end of the free list */
} dsm_rt_slot_t;

/* Lock state at the lock's home node (rt_sync.c). */
/* A run of sequential faults of one kind (rt_pages.c): the page the run
 * faults on next, the window last requested ahead of it (0: no run), and
 * how many pages were requested ahead in all. */
typedef struct {
    uint64_t next;
    unsigned window;
    uint64_t pages;
} dsm_rt_ahead_t;

typedef struct {
    int           holder;  /* node holding it, -1 when free */
    dsm_rt_fifo_t waiters; /* of int: nodes waiting          */
} dsm_rt_lock_home_t;

typedef struct dsm_rt {
    dsm_rt_config_t    config;
    int                node, nnodes;
    dsm_boot_t        *boot;
    dsm_tp_t          *tp;
    dsm_uffd_t         uffd;
    int                uffd_open;
    uintptr_t          arena_base;
    uint64_t           arena_pages;
    int                arena_mapped;
    dsm_coh_engine_t  *coh;
    dsm_coh_actions_t  actions;   /* the output list, reused for every input */

    /* Allocations, sorted by first_page. Service thread only. */
    dsm_rt_region_t   *regions;
    size_t             region_count, region_capacity;
    uint64_t           alloc_seq;     /* allocations this node has started     */
    dsm_rt_early_key_t *early_keys;   /* keys for allocations not started yet  */

    /* Staging pages (registered) and their slots. Service thread only. */
    void              *staging;
    dsm_tp_mem_t      *staging_mem;
    dsm_rt_slot_t     *slots;
    int                slot_count, free_slot;
    dsm_rt_pagemap_t   fetch_slot;    /* page -> slot of its fetch in flight   */
    dsm_rt_fifo_t      slot_waiters;  /* of dsm_coh_action_t: FETCH/WRITE_BACK
                                         waiting for a slot                   */

    /* Transfers completed while actions ran (dsm_rt_deferred_t). */
    dsm_rt_fifo_t      deferred;

    /* Requests ahead of sequential faults (rt_pages.c). */
    dsm_rt_ahead_t     read_ahead;    /* read misses on absent pages          */
    dsm_rt_ahead_t     upgrade_ahead; /* write faults on read-only pages      */

    /* Fault latency: page -> time the first fault on it was read (ns). */
    dsm_rt_pagemap_t   fault_start;
    dsm_rt_hist_t      fault_latency;

    /* Commands from application threads: posted under cmd_lock, then the
     * eventfd is written; cmd_pending lets the spinning loop skip the lock. */
    pthread_mutex_t    cmd_lock;
    dsm_rt_cmd_list_t  cmd_posted;
    atomic_int         cmd_pending;
    atomic_int         cmd_waiters;   /* commands posted and not yet complete  */
    int                cmd_event_fd;
    int                epoll_fd;
    pthread_t          service_thread;
    int                service_running;
    int                spin_yields;   /* more nodes than CPUs: yield while spinning */
    int                stopping;

    /* Collective operations in progress (service thread only). */
    dsm_rt_cmd_list_t  barrier_waiting; /* commands waiting for the release   */
    uint64_t           barrier_epoch;   /* barriers this node has entered      */
    unsigned           barrier_arrived[2]; /* node 0: entries per epoch parity */
    dsm_rt_cmd_list_t  settle_waiting;  /* FREEs and DRAINs until no page they
                                           name is in a transaction here      */
    uint64_t           locks_created;
    dsm_rt_lock_home_t *lock_homes;     /* locks homed here, by lock / nnodes   */
    size_t             lock_home_count;
    dsm_rt_cmd_list_t  lock_waiting;    /* ACQUIREs sent, in order            */
    dsm_rt_cmd_list_t  page_waiting;    /* PAGE_WAITs until their page changes */

    /* Changes of pages' local copies that a waiter must see (rt_wait.c):
     * written by the service thread, read by application threads. */
    atomic_uint_fast64_t page_changes[DSM_RT_PAGE_CHANGE_BUCKETS];

    /* Counters kept by the runtime (the engine keeps the rest); like the
     * engine, they belong to the service thread (dsm_stats_get asks it). */
    uint64_t           bytes_fetched, bytes_written_back;
    uint64_t           lock_acquires, barriers;
    uint64_t           malformed_runtime; /* messages the runtime itself refused */
} dsm_rt_t;

/* rt_arena.c: the arena mapping, uffd registration and the allocation table. */
dsm_status_t dsm_rt_arena_map(dsm_rt_t *rt);
void dsm_rt_arena_unmap(dsm_rt_t *rt);
void *dsm_rt_page_address(const dsm_rt_t *rt, uint64_t page);
/* The allocation holding page, or NULL. */
dsm_rt_region_t *dsm_rt_region_find(dsm_rt_t *rt, uint64_t page);
/* Index of the first allocation that ends after page. */
size_t dsm_rt_region_lower_bound(const dsm_rt_t *rt, uint64_t page);
/* First fit: where npages would go (first page, table index), or DSM_ERR_NO_SPACE. */
dsm_status_t dsm_rt_region_place(const dsm_rt_t *rt, uint64_t npages, uint64_t *first_p,
                                 size_t *index_p);
dsm_status_t dsm_rt_region_insert(dsm_rt_t *rt, size_t index, const dsm_rt_region_t *region);
void dsm_rt_region_remove(dsm_rt_t *rt, size_t index);

/* rt_alloc.c: collective allocations (service thread). */
dsm_status_t dsm_rt_alloc_init(dsm_rt_t *rt);
/* Start an ALLOC command; it completes once every node's key is in. */
void dsm_rt_region_alloc_start(dsm_rt_t *rt, struct dsm_rt_cmd *cmd);
/* DSM_ERR_STATE while a page of the allocation at address is in a
 * transaction here (as requester, holder or home), DSM_ERR_INVALID_PARAM when
 * no allocation starts there. */
dsm_status_t dsm_rt_region_drain(dsm_rt_t *rt, uint64_t address);
/* Forget, zap and release the allocation at address; DSM_ERR_STATE, nothing
 * done, while one of its pages is in a transaction here. */
dsm_status_t dsm_rt_region_free(dsm_rt_t *rt, uint64_t address);
void dsm_rt_regions_release(dsm_rt_t *rt);

/* rt_service.c: the service thread. */
dsm_status_t dsm_rt_service_start(dsm_rt_t *rt);
void dsm_rt_service_stop(dsm_rt_t *rt);
/* Application threads: post cmd and wait for it; returns cmd->status. */
dsm_status_t dsm_rt_command(dsm_rt_t *rt, dsm_rt_cmd_t *cmd);
/* Service thread: finish cmd with status and wake its thread. */
void dsm_rt_command_complete(dsm_rt_cmd_t *cmd, dsm_status_t status);
void dsm_rt_cmd_list_push(dsm_rt_cmd_list_t *list, dsm_rt_cmd_t *cmd);
dsm_rt_cmd_t *dsm_rt_cmd_list_pop(dsm_rt_cmd_list_t *list);

/* rt_pages.c: feeding the coherence engine and carrying out its actions. */
dsm_status_t dsm_rt_pages_init(dsm_rt_t *rt);
void dsm_rt_pages_fini(dsm_rt_t *rt);
/* Handle a batch of uffd events; returns how many were read. */
size_t dsm_rt_pages_read_faults(dsm_rt_t *rt);
/* Run deferred work until none is left; nonzero if there was any. */
int dsm_rt_pages_run_deferred(dsm_rt_t *rt);
uint64_t dsm_rt_now_ns(void);

/* rt_sync.c: barrier and locks over active messages. */
dsm_status_t dsm_rt_sync_init(dsm_rt_t *rt);
void dsm_rt_sync_fini(dsm_rt_t *rt);
void dsm_rt_sync_barrier_start(dsm_rt_t *rt, dsm_rt_cmd_t *cmd);
void dsm_rt_sync_lock_create(dsm_rt_t *rt, dsm_rt_cmd_t *cmd);
void dsm_rt_sync_lock_acquire(dsm_rt_t *rt, dsm_rt_cmd_t *cmd);
void dsm_rt_sync_lock_release(dsm_rt_t *rt, dsm_rt_cmd_t *cmd);

/* rt_wait.c: dsm_wait_until_u64's sleep until a page's local copy changes. */
/* Application threads: wait until *word <cmp> value (arguments checked). */
dsm_status_t dsm_rt_page_wait(dsm_rt_t *rt, const volatile uint64_t *word,
                              int (*holds)(uint64_t word, uint64_t value), uint64_t value);
/* Service thread: the local copy of page was taken away or made writable. */
void dsm_rt_page_changed(dsm_rt_t *rt, uint64_t page);
void dsm_rt_page_wait_start(dsm_rt_t *rt, dsm_rt_cmd_t *cmd, uint64_t now);
/* Completes the waits whose recheck time has come; returns the earliest
 * recheck time left (ns), 0 when none. */
uint64_t dsm_rt_page_waits_expire(dsm_rt_t *rt);
/* Completes every wait with status (shutdown). */
void dsm_rt_page_waits_cancel(dsm_rt_t *rt, dsm_status_t status);

/* Service thread (or after it stopped): this node's counters. */
void dsm_rt_stats_fill(dsm_rt_t *rt, dsm_stats_t *stats_p);

/*
 * Stop this node because the job cannot go on: log why, and exit. status is
 * the failure behind it: DSM_ERR_PEER_LOST names every lost node and exits
 * with DSM_RT_EXIT_PEER_LOST; anything else (a failed action: a bug or a
 * broken host) exits with 1.
 */
_Noreturn void dsm_rt_fatal(dsm_rt_t *rt, dsm_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
