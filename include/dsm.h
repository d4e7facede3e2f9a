/*
 * dsm.h - the public API of dsm, a distributed shared memory runtime for HPC codes.
 *
 * Every node (process) of a job maps one shared arena at the same virtual address;
 * plain loads and stores anywhere in it are kept coherent across nodes by a
 * home-based MSI protocol (see docs/design.md).
 *
 * This header is the whole public API. Names beginning with dsm_ and DSM_ are
 * reserved for it.
 */
#ifndef DSM_H
#define DSM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * One status type for every call. DSM_OK is zero, failures are negative,
 * DSM_INPROGRESS (positive) means "started, completion reported later".
 * dsm_strerror() maps each to a one-line description.
 */
typedef enum {
    DSM_INPROGRESS              = 1,   /* started; completion is reported later      */
    DSM_OK                      = 0,
    DSM_ERR_INVALID_PARAM       = -1,  /* an argument is out of range or malformed   */
    DSM_ERR_NO_MEMORY           = -2,  /* memory allocation failed                   */
    DSM_ERR_UNSUPPORTED         = -3,  /* the host lacks a feature dsm requires      */
    DSM_ERR_PERMISSION          = -4,  /* the kernel refused the operation           */
    DSM_ERR_IO                  = -5,  /* a system call failed unexpectedly          */
    DSM_ERR_EXISTS              = -6,  /* page already present (recoverable race)    */
    DSM_ERR_AGAIN               = -7,  /* mapping changed under the call: retry      */
    DSM_ERR_NO_ENTRY            = -8,  /* range is not mapped or not registered      */
    DSM_ERR_TIMEOUT             = -9,  /* the operation did not complete in time     */
    DSM_ERR_TRANSPORT           = -10, /* the communication layer failed             */
    DSM_ERR_PEER_LOST           = -11, /* a node of the job died or became unreachable */
    DSM_ERR_AUTH                = -12, /* a peer did not prove the job key           */
    DSM_ERR_MALFORMED           = -13, /* a message failed validation                */
    DSM_ERR_NO_SPACE            = -14, /* the arena has no room for the allocation   */
    DSM_ERR_ADDRESS_IN_USE      = -15, /* the arena's address range is already taken */
    DSM_ERR_CONFIG              = -16, /* a configuration value is invalid           */
    DSM_ERR_NOT_INITIALIZED     = -17, /* no dsm_init succeeded, or dsm_finalize ran */
    DSM_ERR_STATE               = -18, /* the call is not valid in the current state */
    DSM_ERR_BOOTSTRAP           = -19, /* the nodes of the job could not find each other */
    DSM_ERR_CANCELED            = -20  /* the operation was canceled by shutdown      */
} dsm_status_t;

/* A constant one-line description of status; never NULL. */
const char *dsm_strerror(dsm_status_t status);

/* ---------------------------------------------------------------------------
 * Configuration. dsm_init(NULL) takes everything from the DSM_* environment
 * (docs/config.md). A dsm_config_t passed to dsm_init sets the fields named in
 * field_mask; those win over the environment, the others come from it.
 */
typedef enum {
    DSM_PLACEMENT_CYCLIC  = 0, /* 64 KiB chunk c of the arena homed at node c % N  */
    DSM_PLACEMENT_BLOCKED = 1, /* each allocation is split in N contiguous blocks  */
    DSM_PLACEMENT_FIRST_TOUCH = 2 /* each 64 KiB chunk is homed at the first node
                                     that touches it                              */
} dsm_placement_t;

enum {
    DSM_CONFIG_FIELD_ARENA_SIZE    = 1u << 0,
    DSM_CONFIG_FIELD_ARENA_ADDRESS = 1u << 1,
    DSM_CONFIG_FIELD_PLACEMENT     = 1u << 2,
    DSM_CONFIG_FIELD_TRANSPORT     = 1u << 3,
    DSM_CONFIG_FIELD_SPIN_US       = 1u << 4,
    DSM_CONFIG_FIELD_LOG_LEVEL     = 1u << 5,
    DSM_CONFIG_FIELD_STATS         = 1u << 6,
    DSM_CONFIG_FIELD_READAHEAD     = 1u << 7,
    DSM_CONFIG_FIELD_SERVICE_NICE  = 1u << 8,
    DSM_CONFIG_FIELD_RESTART_DIR   = 1u << 9,
    DSM_CONFIG_FIELD_WRITE_HOLD_US = 1u << 10
};

typedef struct dsm_config {
    uint64_t        field_mask;    /* DSM_CONFIG_FIELD_* bits of the fields set below */
    uint64_t        arena_size;    /* bytes of virtual address space (DSM_ARENA_SIZE) */
    uint64_t        arena_address; /* where every node maps it (DSM_ARENA_ADDRESS)    */
    dsm_placement_t placement;     /* home of each page (DSM_PLACEMENT)               */
    const char     *transport;     /* "auto", "shm", "tcp", "rdma" (DSM_TRANSPORT)    */
    unsigned        spin_us;       /* busy-poll window before sleeping (DSM_SPIN_US)  */
    int             log_level;     /* 0 error .. 4 trace (DSM_LOG_LEVEL)              */
    int             stats;         /* print statistics at finalize (DSM_STATS)        */
    unsigned        readahead;     /* most pages requested ahead (DSM_READAHEAD)      */
    int             service_nice;  /* service thread's nice value (DSM_SERVICE_NICE)  */
    const char     *restart_dir;   /* image to restart from, NULL: none (DSM_RESTART) */
    unsigned        write_hold_us; /* keep a page just granted writable (DSM_WRITE_HOLD_US) */
} dsm_config_t;

/* A lock in the arena's lock space: the same handle on every node. */
typedef uint64_t dsm_lock_t;

/* This node's counters since dsm_init (dsm_stats_get). */
typedef struct dsm_stats {
    uint64_t read_misses;            /* read faults on absent pages                  */
    uint64_t write_misses;           /* write faults on absent pages                 */
    uint64_t upgrades;               /* write faults on read-only pages              */
    uint64_t invalidations_sent;     /* as a home: copies invalidated or downgraded  */
    uint64_t invalidations_received; /* as a holder: copies invalidated/downgraded   */
    uint64_t bytes_fetched;          /* page data moved into this node               */
    uint64_t bytes_written_back;     /* page data moved back to homes                */
    uint64_t messages_sent;
    uint64_t messages_received;
    uint64_t malformed_messages;     /* rejected by validation, never acted on       */
    uint64_t lock_acquires;
    uint64_t barriers;
    uint64_t faults_resolved;        /* faults whose latency is in the figures below */
    double   fault_latency_p50_us;   /* fault read by the runtime -> page installed  */
    double   fault_latency_p99_us;
    uint64_t pages_read_ahead;       /* read requests issued ahead of any fault      */
    uint64_t pages_upgraded_ahead;   /* upgrades issued ahead of any fault           */
    uint64_t message_pages_sent;     /* pages the messages sent name (runs: > messages_sent) */
    uint64_t messages_held;          /* recalls deferred by DSM_WRITE_HOLD_US        */
    uint64_t messages_held_us;       /* the time they were deferred, in all          */
    uint64_t pages_zero_filled;      /* granted pages never written at their home:
                                        zeroed here instead of fetched             */
    uint64_t pages_written_ahead;    /* write requests issued ahead of any fault     */
    uint64_t bytes_shared;           /* of bytes_fetched and bytes_written_back, those
                                        in memory the two nodes share (nodes of one
                                        host): nothing moved                        */
} dsm_stats_t;

/* ---------------------------------------------------------------------------
 * Life cycle. dsm_init joins the job (dsmrun or mpirun), maps the arena at the
 * same address on every node and starts the service thread. Collective.
 * A field named in config->field_mask with an invalid value (a NULL or unknown
 * transport too) fails it with DSM_ERR_CONFIG; a second dsm_init, DSM_ERR_STATE.
 *
 * Misuse fails, never crashes: a NULL pointer argument is refused with
 * DSM_ERR_INVALID_PARAM, and every call but dsm_node_id, dsm_num_nodes,
 * dsm_strerror and dsm_last_error made outside dsm_init..dsm_finalize fails
 * with DSM_ERR_NOT_INITIALIZED (when both apply, either is reported).
 * dsm_alloc then returns NULL and dsm_free does nothing; dsm_last_error says why.
 */
dsm_status_t dsm_init(const dsm_config_t *config);
dsm_status_t dsm_finalize(void);                  /* collective                     */
int          dsm_node_id(void);                   /* 0 .. dsm_num_nodes()-1; -1 before init */
int          dsm_num_nodes(void);                 /* 0 before init                  */

/*
 * Collective, called in the same order with the same sizes on every node:
 * returns page-aligned, zero-filled memory at the same address on every node,
 * or NULL on every node alike, dsm_last_error() saying why: DSM_ERR_NO_SPACE
 * when no free range of the arena holds size bytes (any size up to SIZE_MAX),
 * DSM_ERR_INVALID_PARAM for size 0, DSM_ERR_NO_MEMORY when a node could not
 * map its share.
 */
void        *dsm_alloc(size_t size);
/*
 * Collective, with the same ptr on every node. dsm_free(NULL) does nothing, as
 * free(NULL) (not even a barrier). A ptr that is not what dsm_alloc returned
 * for a live allocation changes nothing and is refused on every node alike
 * with DSM_ERR_INVALID_PARAM (dsm_last_error).
 */
void         dsm_free(void *ptr);

dsm_status_t dsm_barrier(void);                   /* collective                     */
/* Collective, same handle everywhere; DSM_ERR_NO_SPACE after 2^32 locks. */
dsm_status_t dsm_lock_create(dsm_lock_t *lock_p);
/* A handle dsm_lock_create did not return: DSM_ERR_INVALID_PARAM. */
dsm_status_t dsm_lock_acquire(dsm_lock_t lock);   /* FIFO at the lock's home node   */
dsm_status_t dsm_lock_release(dsm_lock_t lock);

/*
 * Point-to-point synchronisation on a flag (OpenSHMEM's wait_until): returns
 * once the 64-bit word at addr (8-byte aligned, inside an allocation) compares
 * to value as cmp says, word <cmp> value; the load that saw it is an acquire.
 * Use it instead of a loop of loads: the thread sleeps until this node's copy
 * of the page changes (a write by another node takes the copy away first), and
 * meanwhile this node's service thread answers the other nodes at once instead
 * of being woken for each of their messages. A store by another thread of this
 * node to a page this node holds writable is seen within 100 µs, backing off
 * to 10 ms while the wait lasts (such a store makes no protocol event).
 * DSM_ERR_INVALID_PARAM: addr NULL, misaligned or outside the arena, or cmp unknown
 * (an arena address outside every allocation gets SIGSEGV, as any access does).
 */
typedef enum {
    DSM_CMP_EQ = 0,
    DSM_CMP_NE,
    DSM_CMP_GT,
    DSM_CMP_GE,
    DSM_CMP_LT,
    DSM_CMP_LE
} dsm_cmp_t;

dsm_status_t dsm_wait_until_u64(const volatile uint64_t *addr, dsm_cmp_t cmp, uint64_t value);

/*
 * Checkpoint and restart (docs/checkpoint.md). dsm_checkpoint is collective:
 * it takes a consistent image of every allocation (their state at one cut,
 * between two barriers) into the directory dir, which every node must see (a
 * shared file system), and returns as soon as the cut is taken; the image is
 * written in the background while the job goes on (a page written after the
 * cut is saved before the write proceeds). Call it from one thread per node
 * while the node's other threads leave the arena alone. It waits for the
 * previous image first, as dsm_finalize does.
 * dsm_checkpoint_wait (collective) returns once every node's part of the last
 * image is on disk (fsync'd) and the image is committed in dir, atomically (a
 * crash before leaves the previous image there, whole), or the error that
 * stopped it; DSM_OK at once when no image is being written.
 * A job started with DSM_RESTART=dir (or restart_dir) takes the image's
 * contents for its allocations made in the same order with the same sizes,
 * loaded on first access; dsm_restarted() then returns 1 (else 0, and 0
 * outside dsm_init..dsm_finalize).
 */
dsm_status_t dsm_checkpoint(const char *dir);
dsm_status_t dsm_checkpoint_wait(void);
int          dsm_restarted(void);

/* The status of this thread's last failed dsm call. */
dsm_status_t dsm_last_error(void);

/* stats_p may point anywhere writable, arena memory included. */
dsm_status_t dsm_stats_get(dsm_stats_t *stats_p);

/*
 * Memory model. All nodes see the writes to one page in one order (single
 * writer, multiple readers). Across pages the arena is sequentially consistent
 * for page-level accesses (a grant is never sent before every invalidation it
 * depends on is acknowledged), hence at least as strong as x86-TSO: the
 * message-passing and IRIW outcomes TSO forbids never occur. C11 atomics on
 * arena memory are atomic across nodes (the page is held writable by exactly
 * one node while the atomic executes). dsm_barrier and lock acquire/release
 * order every access before them against every access after them.
 */

#ifdef __cplusplus
}
#endif

#endif /* DSM_H */
