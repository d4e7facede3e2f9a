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
#include "dsm_pagemap.h"
#include "dsm_tp.h"
#include "dsm_uffd.h"

#define DSM_RT_PAGE_SIZE   4096u
#define DSM_RT_SPIN_US_MAX 1000000u
/* DSM_SPIN_US=auto (rt_service.c's dsm_rt_spin_policy says why 50 µs everywhere). */
#define DSM_RT_SPIN_US_DEFAULT 50u
#define DSM_RT_READAHEAD_MAX   64u
#define DSM_RT_WRITE_HOLD_US_MAX 10000u
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
    unsigned           write_hold_us; /* a page granted writable is kept this long (rt_hold.c) */
    dsm_log_level_t    log_level;
    int                stats;
    const char        *restart_dir; /* DSM_RESTART: the image to start from, or NULL */
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
    /* First touch only (else NULL): the home of each chunk, DSM_RT_HOME_UNKNOWN
     * until this node learns it. Written by rt_home.c through set_home. */
    int            *chunk_home;
} dsm_rt_placement_t;

/* Cyclic and first-touch placement home pages by chunks of this many (64 KiB):
 * cyclic deals the arena's chunks to the nodes in turn, first touch gives each
 * chunk of an allocation to the node that touches it first. */
#define DSM_RT_CHUNK_PAGES  16u
#define DSM_RT_HOME_UNKNOWN (-1)

/* The home node of page (which must lie in the allocation); under first touch
 * DSM_RT_HOME_UNKNOWN when this node has not learnt it yet. */
int dsm_rt_placement_home(const dsm_rt_placement_t *pl, uint64_t page);
/* The chunk table of a first-touch allocation (nothing for the others). */
dsm_status_t dsm_rt_placement_chunks_make(dsm_rt_placement_t *pl);
void dsm_rt_placement_chunks_free(dsm_rt_placement_t *pl);
/* First touch: the first page of page's chunk, the node that decides the
 * chunk's home, and recording the home. */
uint64_t dsm_rt_placement_chunk_first(const dsm_rt_placement_t *pl, uint64_t page);
int dsm_rt_placement_manager(const dsm_rt_placement_t *pl, uint64_t page);
void dsm_rt_placement_set_home(const dsm_rt_placement_t *pl, uint64_t page, int node);

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
/* 1 and the oldest element copied to element_p (left in the ring), or 0 when empty. */
int dsm_rt_fifo_peek(const dsm_rt_fifo_t *fifo, void *element_p);

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

/* ---- the runtime proper (rt_*.c) ----------------------------------------------
 *
 * One runtime, dsm_rt_t, made of one part per file: each part's fields are
 * changed only by the file that owns it; the other files read them (const)
 * or call that file's functions. The files call each other downwards only:
 *
 *   rt_api.c -> rt_service.c -> rt_pages.c -> rt_alloc.c -> rt_arena.c
 *                            -> rt_sync.c     rt_pages.c -> rt_wait.c
 *               rt_service.c -> rt_hold.c <- rt_pages.c
 *                                             rt_pages.c -> rt_home.c -> rt_alloc.c
 *   every one of them        -> rt_core.c (commands, fatal stops)
 *   rt_api.c, rt_service.c, rt_pages.c, rt_alloc.c -> rt_ckpt.c (rt_ckpt.h)
 *
 * (rt_api.c also calls the init/fini functions of each part.)
 */

/* Active message ids used by the runtime. */
enum {
    DSM_RT_AM_COHERENCE = 0, /* coherence engine messages (dsm_coh_msg_*)  */
    DSM_RT_AM_SYNC      = 1, /* barrier and lock messages (rt_sync.c)      */
    DSM_RT_AM_REGION    = 2, /* allocation keys (rt_alloc.c)               */
    DSM_RT_AM_HOME      = 3  /* first-touch homes (rt_home.c)              */
};

/* Exit status of a node that stops because another node of the job was lost. */
#define DSM_RT_EXIT_PEER_LOST 3

struct dsm_rt;
struct dsm_rt_ckpt; /* rt_ckpt.c: checkpoint and restart (rt_ckpt.h) */

/* ---- commands (rt_core.c) ------------------------------------------------------ */

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
    DSM_RT_CMD_FREE_ROUND,
    DSM_RT_CMD_RELEASE,    /* a freed allocation's memory, once every node forgot it */
    DSM_RT_CMD_CKPT,       /* arg: DSM_RT_CKPT_CUT or _END (rt_ckpt.h)   */
    DSM_RT_CMD_STOP
} dsm_rt_cmd_type_t;

typedef struct dsm_rt_cmd {
    struct dsm_rt_cmd *next;
    struct dsm_rt     *rt;     /* set by dsm_rt_command                        */
    dsm_rt_cmd_type_t  type;
    uint64_t           arg;    /* ALLOC: bytes; FREE: address; LOCK_*: lock;
                                  PAGE_WAIT: page; DRAIN: address, 0: every
                                  page; FREE_ROUND: the round (rt_sync.c)     */
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

/* Commands from application threads: posted under lock, then the eventfd is
 * written; pending lets the spinning service loop skip the lock. */
typedef struct {
    pthread_mutex_t   lock;
    dsm_rt_cmd_list_t posted;
    atomic_int        pending;
    atomic_int        waiters;  /* commands posted and not yet complete */
    int               event_fd;
} dsm_rt_cmds_t;

/* ---- the arena (rt_arena.c) ------------------------------------------------------ */

/* One memfd mapped twice: the arena (registered) and the landing mapping. The
 * nodes of a host can share it. */
typedef struct {
    uintptr_t base;
    uintptr_t landing; /* the same pages, unregistered: where data arrives */
    uint64_t  pages;
    int       fd;
    int       mapped;
    /* By node: whether its arena is this node's memfd (a node of this
     * host): transfers with it move nothing (rt_arena.c). */
    bool *shared;
    /* Where a detach moves the arena's page tables (dsm_rt_arena_detach),
     * inside a reservation made at the first one (0: none yet). */
    uintptr_t scratch, scratch_reserved;
} dsm_rt_arena_t;

/* ---- allocations (rt_alloc.c) ------------------------------------------------------ */

/* A key that arrived before this node started its allocation. */
typedef struct dsm_rt_early_key {
    struct dsm_rt_early_key *next;
    uint64_t                 seq;
    int                      node;
    size_t                   size;
    unsigned char            key[];
} dsm_rt_early_key_t;

/* One collective allocation: a range of arena pages and its backing segments. */
typedef struct {
    uint64_t           seq;        /* the allocation's number, the same on every node */
    uint64_t           first_page;
    uint64_t           npages;
    dsm_rt_placement_t placement;
    dsm_tp_mem_t      *backing;    /* this node's landing range of it, registered */
    dsm_tp_rmem_t     *rmem;       /* every node's segment, for RMA           */
    void              *key;        /* this node's segment key, as sent        */
    size_t             key_size;   /* 0: this node failed to make its segment  */
    unsigned           keys_missing; /* other nodes' keys not yet received    */
    int                failed;     /* some node could not make its segment    */
    dsm_rt_cmd_t      *waiting;    /* the ALLOC command, until complete       */
    uint64_t          *migratory;  /* two bits per page (rt_migratory.c)      */
} dsm_rt_region_t;

/* The allocation table, sorted by first_page. Service thread only. */
typedef struct {
    dsm_rt_region_t    *regions;
    size_t              count, capacity;
    uint64_t            seq;          /* allocations this node has started     */
    dsm_rt_early_key_t *early_keys;   /* keys for allocations not started yet  */
    uint64_t            malformed;    /* key messages refused                  */
} dsm_rt_alloc_t;

/* ---- page waits (rt_wait.c) ----------------------------------------------------------- */

typedef struct {
    dsm_rt_cmd_list_t    waiting;     /* PAGE_WAITs until their page changes */
    /* Changes of pages' local copies that a waiter must see: written by the
     * service thread, read by application threads. */
    atomic_uint_fast64_t changes[DSM_RT_PAGE_CHANGE_BUCKETS];
} dsm_rt_wait_t;

/* ---- barrier and locks (rt_sync.c) ------------------------------------------------------ */

/* Lock state at the lock's home node. */
typedef struct {
    int           holder;  /* node holding it, -1 when free */
    dsm_rt_fifo_t waiters; /* of int: nodes waiting          */
} dsm_rt_lock_home_t;

typedef struct {
    dsm_rt_cmd_list_t   barrier_waiting; /* commands waiting for the release   */
    uint64_t            barrier_epoch;   /* barriers this node has entered      */
    unsigned            barrier_arrived[2]; /* node 0: entries per epoch parity */
    uint64_t            locks_created;
    dsm_rt_lock_home_t *lock_homes;      /* locks homed here, by lock / nnodes   */
    size_t              lock_home_count;
    dsm_rt_cmd_list_t   lock_waiting;    /* ACQUIREs sent, in order            */
    dsm_rt_cmd_list_t   free_waiting;    /* FREE_ROUNDs entered, not released   */
    dsm_pagemap_t       free_arrived;    /* node 0: round -> entries so far     */
    uint64_t            lock_acquires, barriers;
    uint64_t            malformed;       /* messages refused                    */
} dsm_rt_sync_t;

/* ---- the page path (rt_pages.c) ------------------------------------------------------------ */

/* A transfer of the run [page, page + count) that completed while actions
 * ran, fed to the engine next. */
typedef struct {
    uint64_t      page;
    uint32_t      count;
    uint32_t      stride; /* the run of count pages from page along stride */
    dsm_coh_rma_t op;
} dsm_rt_deferred_t;

/* A run of faults of one kind a constant stride apart, up or down the
 * addresses (backward: a loop counting down, or glibc's memcpy between
 * buffers at the same offset in their pages, which copies from the end): the
 * last fault (or, for a window requested early, the window's first page), the
 * stride (pages; 0: none), the page after the last window requested in the
 * run's direction, where the run faults next, and that window's size before
 * trimming (0: no run). */
typedef struct {
    uint64_t last;
    uint32_t stride;
    bool     backward;
    uint64_t next;
    unsigned window;
} dsm_rt_ahead_t;

/* The longest stride (pages) a run of faults is followed along. */
#define DSM_RT_STRIDE_MAX 64u
/* Runs of faults of one kind followed at once (a loop over several arrays). */
#define DSM_RT_STREAMS    8u

/* The most pages a window of write misses requests ahead. */
#define DSM_RT_WRITE_AHEAD_MAX 16u

/*
 * The runs of faults of one kind, and what their windows request: pages in
 * state candidate, asked for writable or read-only. A cautious run opens its
 * first window at its third fault, not its second, and its windows stay
 * within DSM_RT_WRITE_AHEAD_MAX pages: writes ahead take pages from the
 * nodes that hold them, so they must not guess from two faults in a row
 * (the two pages of one block of a block-cyclic matrix) nor run far past the
 * end of a writer's share (blocked LU took its neighbours' blocks: 1,528
 * invalidations per factorisation became 5,888, 0.34 s became 0.45 s).
 */
typedef struct {
    dsm_rt_ahead_t       stream[DSM_RT_STREAMS];
    unsigned             victim;    /* the stream a fault that continues none restarts */
    uint64_t             pages;     /* requested ahead in all                          */
    dsm_coh_node_state_t candidate;
    int                  write;
    int                  cautious;
} dsm_rt_streams_t;

/* Service thread only. */
typedef struct {
    dsm_coh_engine_t  *coh;
    /* The engine's output: empty between inputs (dsm_rt_actions_run empties
     * it; the engine appends nothing to it when it refuses an input). */
    dsm_coh_actions_t  actions;

    /* Transfers completed while actions ran (dsm_rt_deferred_t). */
    dsm_rt_fifo_t      deferred;

    dsm_rt_streams_t   read_ahead;    /* read misses on absent pages          */
    dsm_rt_streams_t   write_ahead;   /* write misses on absent pages         */
    dsm_rt_streams_t   claim_ahead;   /* first touches of pages homed here    */
    dsm_rt_streams_t   upgrade_ahead; /* write faults on read-only pages      */

    /* Fault latency: page -> time the first fault on it was read (ns). */
    dsm_pagemap_t      fault_start;
    dsm_rt_hist_t      fault_latency;

    uint64_t           bytes_fetched, bytes_written_back;
    uint64_t           bytes_shared; /* of those, in pages shared with the other end */
    uint64_t           zero_filled;   /* pages granted ZERO, filled here, not fetched */
    uint64_t           malformed;     /* coherence messages the runtime refused */
    /* The input being carried out is a GRANT marked ZERO: its FETCH fills. */
    bool               grant_zero;
} dsm_rt_pages_t;

/* ---- first-touch homes (rt_home.c) ------------------------------------------------------ */

/* Work that waits for the home of its page's chunk: a fault, or a coherence
 * message that reached the home before the home learnt it is one. */
typedef struct {
    uint64_t         page;
    int              is_fault;
    dsm_uffd_event_t event;                    /* is_fault */
    int              src;                      /* a message: its sender and bytes */
    size_t           length;
    uint8_t          msg[DSM_COH_MSG_SIZE];
} dsm_rt_held_t;

/* Service thread only. */
typedef struct {
    dsm_rt_fifo_t held;     /* of dsm_rt_held_t: their chunk's home unknown   */
    dsm_rt_fifo_t ready;    /* of dsm_rt_held_t: home learnt, to run again    */
    dsm_pagemap_t claiming; /* chunk's first page -> 1: CLAIM sent, no answer */
    uint64_t      malformed; /* home messages refused                         */
} dsm_rt_homes_t;

/* ---- write holding (rt_hold.c) ------------------------------------------------------------ */

/* A page granted writable here, and when (ns). */
typedef struct {
    uint64_t page;
    uint64_t at;
} dsm_rt_grant_t;

/* A coherence message deferred until deadline (ns), or until the holds end. */
typedef struct {
    uint64_t      deadline;
    uint64_t      since;    /* when it arrived (ns) */
    dsm_rt_held_t held;
} dsm_rt_hold_msg_t;

/* Service thread only. */
typedef struct {
    uint64_t           hold_ns;   /* DSM_WRITE_HOLD_US in ns; 0: holding off      */
    dsm_pagemap_t      granted;   /* page -> when last granted writable (ns), for
                                     grants younger than hold_ns (roughly)     */
    dsm_rt_fifo_t      grants;    /* of dsm_rt_grant_t, oldest first: expires
                                     the entries of granted                    */
    uint64_t           ended_at;  /* grants up to here hold nothing (a sync call) */
    dsm_rt_hold_msg_t *msgs;      /* deferred messages, in arrival order       */
    size_t             count, capacity;
    uint64_t           held, held_ns; /* messages deferred, and for how long in all */
} dsm_rt_hold_t;

/* ---- the service thread (rt_service.c) ---------------------------------------------------- */

typedef struct {
    dsm_rt_cmd_list_t settle_waiting; /* FREEs and DRAINs until no page they
                                         name is in a transaction here        */
    int               epoll_fd;
    pthread_t         thread;
    int               running;
    int               spin_yields;    /* more nodes than CPUs: yield while spinning */
    int               stopping;
} dsm_rt_service_t;

/* ---- the runtime ------------------------------------------------------------------------ */

typedef struct dsm_rt {
    /* Set up by dsm_init (rt_api.c), read-only afterwards. */
    dsm_rt_config_t  config;
    int              node, nnodes;
    dsm_boot_t   *boot;
    dsm_tp_t        *tp;
    dsm_uffd_t       uffd;
    int              uffd_open;

    dsm_rt_cmds_t    cmds;    /* rt_core.c    */
    dsm_rt_arena_t   arena;   /* rt_arena.c   */
    dsm_rt_alloc_t   alloc;   /* rt_alloc.c   */
    dsm_rt_wait_t    wait;    /* rt_wait.c    */
    dsm_rt_sync_t    sync;    /* rt_sync.c    */
    dsm_rt_pages_t   pages;   /* rt_pages.c   */
    dsm_rt_homes_t   homes;   /* rt_home.c    */
    dsm_rt_hold_t    hold;    /* rt_hold.c    */
    dsm_rt_service_t service; /* rt_service.c */
    struct dsm_rt_ckpt *ckpt; /* rt_ckpt.c    */
} dsm_rt_t;

/* rt_core.c: commands and fatal stops; calls no other rt_*.c file. */
dsm_status_t dsm_rt_cmds_init(dsm_rt_t *rt);
/* Safe on a partly initialised runtime. */
void dsm_rt_cmds_fini(dsm_rt_t *rt);
/* The eventfd written when a command is posted. */
int dsm_rt_cmds_event_fd(const dsm_rt_t *rt);
void dsm_rt_cmd_list_push(dsm_rt_cmd_list_t *list, dsm_rt_cmd_t *cmd);
dsm_rt_cmd_t *dsm_rt_cmd_list_pop(dsm_rt_cmd_list_t *list);
/* Application threads: post cmd and wait for it; returns cmd->status. */
dsm_status_t dsm_rt_command(dsm_rt_t *rt, dsm_rt_cmd_t *cmd);
/* Service thread: the commands posted since the last call, in order, to
 * *posted_p; 0 (and nothing taken) when there were none. */
int dsm_rt_commands_take(dsm_rt_t *rt, dsm_rt_cmd_list_t *posted_p);
/* Nonzero while a command is posted and not yet complete. */
int dsm_rt_commands_waiting(const dsm_rt_t *rt);
/* Service thread: finish cmd with status and wake its thread. */
void dsm_rt_command_complete(dsm_rt_cmd_t *cmd, dsm_status_t status);
/* Service thread: finish every command of list with status (shutdown). */
void dsm_rt_cmd_list_complete(dsm_rt_cmd_list_t *list, dsm_status_t status);
/*
 * Stop this node because the job cannot go on: log why, and exit. status is
 * the failure behind it: DSM_ERR_PEER_LOST names every lost node and exits
 * with DSM_RT_EXIT_PEER_LOST; anything else (a failed action: a bug or a
 * broken host) exits with 1.
 */
_Noreturn void dsm_rt_fatal(dsm_rt_t *rt, dsm_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* rt_arena.c: the arena's memfd, its two mappings and its uffd registration. */
dsm_status_t dsm_rt_arena_map(dsm_rt_t *rt);
void dsm_rt_arena_unmap(dsm_rt_t *rt);

/*
 * Unmap every page of the arena at once, in time that follows the page
 * tables (one entry per 2 MiB), not the pages: a checkpoint's cut. The data
 * stays in the memfd; the next access to a page is a MINOR fault. Not on the
 * service thread (dsm_uffd_range_detach). What was moved is unmapped by
 * dsm_rt_arena_detached_release, which costs the kernel's walk of the pages.
 */
dsm_status_t dsm_rt_arena_detach(dsm_rt_t *rt);
void dsm_rt_arena_detached_release(dsm_rt_t *rt);
/* Collective, after the transport connected and before any allocation: the
 * nodes of this host share one memfd when the transport would move data
 * through shared memory anyway. */
dsm_status_t dsm_rt_arena_share(dsm_rt_t *rt);
/* Whether node's arena is this node's memfd: its pages are these pages. */
bool dsm_rt_arena_shared_with(const dsm_rt_t *rt, int node);
void *dsm_rt_page_address(const dsm_rt_t *rt, uint64_t page);
/* The page in the landing mapping: the same memory, never faulting. */
void *dsm_rt_page_landing(const dsm_rt_t *rt, uint64_t page);
/* Make sure the pages exist in the page cache (zeroes where none was). */
dsm_status_t dsm_rt_arena_populate(const dsm_rt_t *rt, uint64_t page, uint64_t count);
/* Whether the memfd holds no data in the pages (none was ever written there,
 * so they read as zeros): a home need not be read for them. */
bool dsm_rt_arena_unwritten(const dsm_rt_t *rt, uint64_t page, uint64_t count);
/* The pages from page on, up to end, that are alike: *written_p says whether
 * this node's memfd holds data for them (not a hole: unwritten pages read as
 * zeros, and reading one through a mapping would allocate it); returns the
 * page where the other kind starts (end at most). */
uint64_t dsm_rt_arena_extent(const dsm_rt_t *rt, uint64_t page, uint64_t end, bool *written_p);
/* Fill the pages with zeros, in the page cache, as a fetch of them would. */
dsm_status_t dsm_rt_arena_zero(const dsm_rt_t *rt, uint64_t page, uint64_t count);
/* Drop the pages from both mappings and the page cache (dsm_free). */
dsm_status_t dsm_rt_arena_release(const dsm_rt_t *rt, uint64_t page, uint64_t count);

/* rt_alloc.c: the allocation table and collective allocations (service thread). */
dsm_status_t dsm_rt_alloc_init(dsm_rt_t *rt);
/* Releases every allocation (after the service thread stopped). */
void dsm_rt_alloc_fini(dsm_rt_t *rt);
/* The allocation holding page, or NULL. */
const dsm_rt_region_t *dsm_rt_region_find(const dsm_rt_t *rt, uint64_t page);
/* The allocation that starts at address, or NULL. */
const dsm_rt_region_t *dsm_rt_region_at(const dsm_rt_t *rt, uint64_t address);
/* Start an ALLOC command; it completes once every node's key is in. */
void dsm_rt_region_alloc_start(dsm_rt_t *rt, dsm_rt_cmd_t *cmd);
/* Release the memory of the allocation that starts at address and take it
 * out of the table, once every node has forgotten its pages (a FREE, then a
 * round): the nodes of a host share the memory. */
dsm_status_t dsm_rt_region_release_freed(dsm_rt_t *rt, uint64_t address);
/* Adds the allocation counters to *stats_p. */
void dsm_rt_alloc_stats(const dsm_rt_t *rt, dsm_stats_t *stats_p);

/* rt_wait.c: dsm_wait_until_u64's sleep until a page's local copy changes. */
/* Application threads: wait until *word <cmp> value (arguments checked). */
dsm_status_t dsm_rt_page_wait(dsm_rt_t *rt, const volatile uint64_t *word,
                              int (*holds)(uint64_t word, uint64_t value), uint64_t value);
/* Service thread: the local copy of page was taken away or made writable. */
void dsm_rt_page_changed(dsm_rt_t *rt, uint64_t page);
/* Service thread: a PAGE_WAIT on a page of an allocation, which this node
 * holds in state now. */
void dsm_rt_page_wait_start(dsm_rt_t *rt, dsm_rt_cmd_t *cmd, dsm_coh_node_state_t state,
                            uint64_t now);
/* Completes the waits whose recheck time has come; returns the earliest
 * recheck time left (ns), 0 when none. */
uint64_t dsm_rt_page_waits_expire(dsm_rt_t *rt);
/* Completes every wait with status (shutdown). */
void dsm_rt_page_waits_cancel(dsm_rt_t *rt, dsm_status_t status);

/* rt_sync.c: barrier and locks over active messages. */
dsm_status_t dsm_rt_sync_init(dsm_rt_t *rt);
void dsm_rt_sync_fini(dsm_rt_t *rt);
void dsm_rt_sync_barrier_start(dsm_rt_t *rt, dsm_rt_cmd_t *cmd);
/* One of dsm_free's two barriers, for the allocation it names (cmd->arg). */
void dsm_rt_sync_free_round_start(dsm_rt_t *rt, dsm_rt_cmd_t *cmd);
/* Completes every free round still waiting with status (shutdown). */
void dsm_rt_sync_free_rounds_cancel(dsm_rt_t *rt, dsm_status_t status);
void dsm_rt_sync_lock_create(dsm_rt_t *rt, dsm_rt_cmd_t *cmd);
void dsm_rt_sync_lock_acquire(dsm_rt_t *rt, dsm_rt_cmd_t *cmd);
void dsm_rt_sync_lock_release(dsm_rt_t *rt, dsm_rt_cmd_t *cmd);
/* Adds the barrier and lock counters to *stats_p. */
void dsm_rt_sync_stats(const dsm_rt_t *rt, dsm_stats_t *stats_p);

/* rt_migratory.c: pages this node reads then writes get M on their read miss. */
dsm_status_t dsm_rt_migratory_make(dsm_rt_region_t *region);
void dsm_rt_migratory_free(dsm_rt_region_t *region);
/* A read miss on page (absent here): nonzero to ask for it writable. */
int dsm_rt_migratory_read_miss(const dsm_rt_region_t *region, uint64_t page);
/* A write to page, read-only here. */
void dsm_rt_migratory_upgrade(const dsm_rt_region_t *region, uint64_t page);
/* Another node takes the run of msg's pages from this node: to read it (a
 * DOWNGRADE) or to write it (an INV). */
void dsm_rt_migratory_recalled(const dsm_rt_region_t *region, const dsm_coh_msg_t *msg);

/* rt_home.c: who homes each chunk under first-touch placement. */
dsm_status_t dsm_rt_homes_init(dsm_rt_t *rt);
/* Safe on a partly initialised runtime. */
void dsm_rt_homes_fini(dsm_rt_t *rt);
/* Nonzero when the home of page (in region) is unknown here: the fault is held
 * until it is known (a CLAIM is on its way to the chunk's manager). When this
 * node is the manager of an unclaimed chunk, it homes it and returns 0. */
int dsm_rt_home_hold_fault(dsm_rt_t *rt, const dsm_rt_region_t *region,
                           const dsm_uffd_event_t *event, uint64_t page);
/* The same for a coherence message msg (bytes, length) from src: held while
 * the home of a page of its run is unknown here. */
int dsm_rt_home_hold_msg(dsm_rt_t *rt, const dsm_rt_region_t *region, const dsm_coh_msg_t *msg,
                         int src, const void *bytes, size_t length);
/* 1 and the oldest held work whose home is now known, or 0. */
int dsm_rt_home_ready_pop(dsm_rt_t *rt, dsm_rt_held_t *held_p);

/*
 * rt_hold.c: a page just granted writable stays here DSM_WRITE_HOLD_US: the
 * messages that would take it away (an INV or DOWNGRADE from its home, a
 * request at the home while this node holds it) wait until the hold ends.
 * Called by rt_pages.c (grants, messages, ready work) and rt_service.c (the
 * sleep's deadline, the end of holds at a synchronisation call).
 */
dsm_status_t dsm_rt_hold_init(dsm_rt_t *rt);
/* Safe on a partly initialised runtime. */
void dsm_rt_hold_fini(dsm_rt_t *rt);
/* The run of action's pages was just made writable here (INSTALL_RW, CLEAR_WP). */
void dsm_rt_hold_granted(dsm_rt_t *rt, const dsm_coh_action_t *action);
/* Nonzero when msg (from src, bytes, length) was deferred: it comes back
 * through dsm_rt_hold_ready_pop when the youngest hold of its run ends. */
int dsm_rt_hold_msg(dsm_rt_t *rt, const dsm_coh_msg_t *msg, int src, const void *bytes,
                    size_t length);
/* 1 and the oldest deferred message whose hold ended, or 0. */
int dsm_rt_hold_ready_pop(dsm_rt_t *rt, dsm_rt_held_t *held_p);
/* When the next deferred message is due (ns), 0 when none waits. */
uint64_t dsm_rt_hold_deadline(const dsm_rt_t *rt);
/* A synchronisation call of this node: every hold ends now. */
void dsm_rt_hold_end(dsm_rt_t *rt);
/* Adds the holding counters to *stats_p. */
void dsm_rt_hold_stats(const dsm_rt_t *rt, dsm_stats_t *stats_p);

/* rt_pages.c: feeding the coherence engine and carrying out its actions. */
dsm_status_t dsm_rt_pages_init(dsm_rt_t *rt);
/* Safe on a partly initialised runtime. */
void dsm_rt_pages_fini(dsm_rt_t *rt);
/* Handle a batch of uffd events; returns how many were read. */
size_t dsm_rt_pages_read_faults(dsm_rt_t *rt);
/* Feed the transfers completed while actions ran to the engine until none
 * is left; nonzero if there was any. */
int dsm_rt_pages_run_deferred(dsm_rt_t *rt);
/* Nonzero while a fault read on this node is not yet resolved. */
int dsm_rt_pages_faults_pending(const dsm_rt_t *rt);
/* This node's state of page. */
dsm_coh_node_state_t dsm_rt_pages_state(const dsm_rt_t *rt, uint64_t page);
/* Nonzero when no page of [first_page, +npages) is in a transaction here,
 * as requester, holder or home. */
int dsm_rt_pages_settled(const dsm_rt_t *rt, uint64_t first_page, uint64_t npages);
/* Nonzero when no page at all is. */
int dsm_rt_pages_quiescent(const dsm_rt_t *rt);
/* The engine forgets the pages; DSM_ERR_STATE, nothing done, while one of
 * them is in a transaction here. */
dsm_status_t dsm_rt_pages_forget(dsm_rt_t *rt, uint64_t first_page, uint64_t npages);
/* Adds the page path's and the engine's counters to *stats_p. */
void dsm_rt_pages_stats(const dsm_rt_t *rt, dsm_stats_t *stats_p);

/* rt_service.c: the service thread. */
dsm_status_t dsm_rt_service_start(dsm_rt_t *rt);
/* Safe on a partly initialised runtime. */
void dsm_rt_service_stop(dsm_rt_t *rt);
/* Service thread (or after it stopped): this node's counters. */
void dsm_rt_stats_fill(const dsm_rt_t *rt, dsm_stats_t *stats_p);

#endif /* DSM_RT_H */
