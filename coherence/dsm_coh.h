/*
 * coherence/ - the home-based MSI protocol, sans I/O.
 *
 * One engine per node holds both roles: the node (cache) side of every page of
 * the arena and the home (directory) side of the pages this node homes. The
 * runtime feeds it inputs (local faults, messages, RMA completions) and carries
 * out, in order, the actions each input appends to a caller-given list (send a
 * message, fetch a page, install it, write-protect it, ...).
 *
 * Pure C: no system calls, no threads, no clocks, no logging. Errors are
 * statuses, everything observable is a counter (dsm_coh_stats_t).
 * Per-page state is sparse: only pages away from the default state (node side
 * I, home side Uncached and idle) hold an entry, so memory follows the number
 * of touched pages, not the arena size.
 *
 * The protocol, its transition tables and the invariants are in docs/design.md
 * section 4; the tables themselves are coh_table.c (README.md: how to change them).
 */
#ifndef DSM_COH_H
#define DSM_COH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dsm.h"

/* ---- messages ------------------------------------------------------------ */

/* Message types on the wire (one byte). 0 is never valid. */
typedef enum {
    DSM_COH_MSG_REQ_READ  = 1, /* node -> home: read miss                         */
    DSM_COH_MSG_REQ_WRITE = 2, /* node -> home: write miss or upgrade             */
    DSM_COH_MSG_GRANT     = 3, /* home -> node: request served (flags say how)    */
    DSM_COH_MSG_INV       = 4, /* home -> node: drop your copy, write back if M   */
    DSM_COH_MSG_DOWNGRADE = 5, /* home -> owner: write back, keep a read-only copy */
    DSM_COH_MSG_ACK       = 6, /* node -> home: INV or DOWNGRADE carried out      */
    DSM_COH_MSG_DONE      = 7  /* node -> home: granted page installed, unblock   */
} dsm_coh_msg_type_t;

#define DSM_COH_MSG_TYPE_MAX DSM_COH_MSG_DONE

/* GRANT flags. Legal combinations: DATA (read), EXCL|DATA (write miss), EXCL
 * (upgrade), and ZERO with either DATA combination. */
#define DSM_COH_GRANT_EXCL 0x01u /* writable (M); else read-only (S)        */
#define DSM_COH_GRANT_DATA 0x02u /* fetch the page from the home's backing  */
/*
 * With DATA: the home's backing of the whole run holds no data (never
 * written), so the requester may fill the pages with zeros instead of
 * fetching them. A hint about the data, set by the home's runtime on the
 * encoded message (dsm_coh_msg_set_zero), not part of the protocol: the
 * engine never emits it and routes a GRANT by EXCL and DATA alone.
 */
#define DSM_COH_GRANT_ZERO 0x04u

/*
 * Wire format, little-endian, no padding, exactly DSM_COH_MSG_SIZE bytes:
 *   0 version (1)   1 type   2 flags   3 stride (u8, >= 1)
 *   4 sender (u32)  8 request id (u32)  12 page (u64)  20 count (u32)
 * A message names the run of count pages page, page + stride, page + 2 x
 * stride, ...: one message per page, sharing one envelope (docs/design.md
 * section 4.7). A stride over 1 is a column of a row-major matrix.
 */
#define DSM_COH_MSG_VERSION 3u
#define DSM_COH_MSG_SIZE    24u

/* Most pages one message, input or action names, and the longest stride. */
#define DSM_COH_RUN_MAX    256u
#define DSM_COH_STRIDE_MAX 255u

/* Page i of the run from first along stride, and the page after its last. */
static inline uint64_t dsm_coh_run_page(uint64_t first, uint32_t stride, uint32_t i)
{
    return first + (uint64_t)i * stride;
}

static inline uint64_t dsm_coh_run_end(uint64_t first, uint32_t count, uint32_t stride)
{
    return first + (uint64_t)(count - 1) * stride + 1;
}

/* Whether the run of count pages from first along stride is a run of an
 * arena of npages pages: 1..DSM_COH_RUN_MAX pages, a stride of
 * 1..DSM_COH_STRIDE_MAX, every page inside. */
bool dsm_coh_run_valid(uint64_t first, uint32_t count, uint32_t stride, uint64_t npages);

/*
 * How runs join: the stride of the run the run of next_count pages from
 * next (along next_stride) makes with the run of count pages from first
 * (along stride) when it continues it, its pages coming next along one
 * stride (a one-page run's stride is the one its neighbour gives it) within
 * DSM_COH_RUN_MAX pages in all; 0 when it does not. The engine joins a page's
 * actions and messages to a run's this way, the runtime completed transfers.
 */
uint32_t dsm_coh_run_joined(uint64_t first, uint32_t count, uint32_t stride, uint64_t next,
                            uint32_t next_count, uint32_t next_stride);

typedef struct {
    dsm_coh_msg_type_t type;
    uint8_t            flags;
    uint32_t           sender;
    uint32_t           req_id; /* the requester's id; INV/DOWNGRADE/ACK carry the served one */
    uint64_t           page;   /* first page of the run */
    uint32_t           count;  /* pages in the run, 1..DSM_COH_RUN_MAX */
    uint32_t           stride; /* from one page of the run to the next, 1..DSM_COH_STRIDE_MAX */
} dsm_coh_msg_t;

/* Encode msg into exactly DSM_COH_MSG_SIZE bytes. */
void dsm_coh_msg_encode(const dsm_coh_msg_t *msg, uint8_t *bytes);

/* The flags of encoded bytes that are a GRANT (DATA: the requester will fetch
 * the run from the home's backing), 0 for any other message; and marking a
 * GRANT with DATA ZERO. */
uint8_t dsm_coh_msg_grant_flags(const uint8_t *bytes);
void dsm_coh_msg_set_zero(uint8_t *bytes);
/* Whether encoded bytes are a request (REQ_READ or REQ_WRITE). */
bool dsm_coh_msg_is_request(const uint8_t *bytes);

/*
 * Decode and validate the format (version, type, flags, exact length, count
 * 1..DSM_COH_RUN_MAX, stride >= 1, the run inside npages, sender < nnodes and equal
 * to src). The run's pages sharing one home, and the state-dependent checks
 * (request ids, legal in this state) are done by dsm_coh_engine_recv.
 */
dsm_status_t dsm_coh_msg_decode(const void *bytes, size_t length, uint32_t src,
                                uint32_t nnodes, uint64_t npages, dsm_coh_msg_t *msg_p);

/* ---- states -------------------------------------------------------------- */

/* Node (cache) side of a page. Transient states are named after the wait. */
typedef enum {
    DSM_COH_N_I = 0,  /* absent (default: no entry)                         */
    DSM_COH_N_S,      /* mapped read-only                                   */
    DSM_COH_N_M,      /* mapped writable                                    */
    DSM_COH_N_IS_AD,  /* read miss sent, waiting for the grant              */
    DSM_COH_N_IS_D,   /* read granted, waiting for the fetch                */
    DSM_COH_N_IM_AD,  /* write miss sent (or upgrade lost its copy), waiting for the grant */
    DSM_COH_N_IM_D,   /* write granted with data, waiting for the fetch    */
    DSM_COH_N_SM_A,   /* upgrade sent, holding S, waiting for the grant     */
    DSM_COH_N_MI_WB,  /* invalidated while M: write-back in flight          */
    DSM_COH_N_MS_WB,  /* downgraded while M: write-back in flight           */
    DSM_COH_N_COUNT
} dsm_coh_node_state_t;

/* Home (directory) side of a page. Busy states queue further requests. */
typedef enum {
    DSM_COH_H_U = 0,      /* uncached (default: no entry)                       */
    DSM_COH_H_S,          /* shared by the sharer set                           */
    DSM_COH_H_M,          /* modified at the owner                              */
    DSM_COH_H_WAIT_DG,    /* busy: read served, waiting for the owner's downgrade ack */
    DSM_COH_H_WAIT_INV,   /* busy: write served, waiting for invalidation acks  */
    DSM_COH_H_WAIT_DONE_S,/* busy: read granted, waiting for the requester's DONE */
    DSM_COH_H_WAIT_DONE_M,/* busy: write granted, waiting for the requester's DONE */
    DSM_COH_H_COUNT
} dsm_coh_home_state_t;

/* ---- actions ------------------------------------------------------------- */

typedef enum {
    DSM_COH_ACT_SEND = 0,   /* send msg (DSM_COH_MSG_SIZE bytes) to node           */
    DSM_COH_ACT_FETCH,      /* RMA get page from node's (the home's) backing into staging */
    DSM_COH_ACT_WRITE_BACK, /* RMA put page from the arena to node's backing       */
    DSM_COH_ACT_INSTALL_RO, /* install staging read-only (COPY + WP); wakes faulters */
    DSM_COH_ACT_INSTALL_RW, /* install staging writable; wakes faulters           */
    DSM_COH_ACT_CLEAR_WP,   /* make the mapped page writable; wakes faulters      */
    DSM_COH_ACT_SET_WP,     /* write-protect the mapped page                      */
    DSM_COH_ACT_ZAP,        /* drop the page from the arena                       */
    DSM_COH_ACT_WAKE,       /* wake threads blocked on the page (they re-fault)    */
    DSM_COH_ACT_COUNT
} dsm_coh_action_type_t;

/*
 * An action on the run of count pages from page along stride: the engine
 * appends one per page and extends the action it appended before when they
 * are the same action on the pages one after the other along the input's
 * stride (docs/design.md section 4.7), so a caller carries out a run at once
 * or page by page, in either case in list order.
 */
typedef struct {
    dsm_coh_action_type_t type;
    uint32_t              node; /* SEND: destination; FETCH, WRITE_BACK: the page's home */
    uint64_t              page; /* first page; for SEND the message's page */
    uint32_t              count; /* pages, 1..DSM_COH_RUN_MAX; for SEND the message's count */
    uint32_t              stride; /* from one page to the next, 1..DSM_COH_STRIDE_MAX */
    uint8_t               msg[DSM_COH_MSG_SIZE]; /* SEND only */
} dsm_coh_action_t;

/*
 * The caller's output list. Every input appends to it; the caller executes the
 * actions in order. FETCH and WRITE_BACK complete asynchronously: report them
 * with dsm_coh_engine_rma_done (page by page) or _rma_done_run (any run of
 * them); nothing that depends on them is emitted before. An input naming n
 * pages needs at most dsm_coh_engine_run_actions(n) free slots, any input at
 * most dsm_coh_engine_max_actions(), checked before any state changes.
 */
typedef struct {
    dsm_coh_action_t *actions;
    size_t            count;
    size_t            capacity;
} dsm_coh_actions_t;

/* ---- engine -------------------------------------------------------------- */

typedef enum {
    DSM_COH_HOME_CYCLIC = 0, /* page p homed at p % nnodes                        */
    DSM_COH_HOME_BLOCKED,    /* nnodes contiguous blocks of ceil(npages/nnodes)   */
    DSM_COH_HOME_FUNC        /* home_of(page, home_arg)                           */
} dsm_coh_home_policy_t;

typedef uint32_t (*dsm_coh_home_fn_t)(uint64_t page, void *arg);

typedef struct {
    uint32_t              self;   /* this node's id, < nnodes                      */
    uint32_t              nnodes; /* nodes in the job, >= 1                        */
    uint64_t              npages; /* pages in the arena, >= 1                      */
    dsm_coh_home_policy_t home_policy;
    dsm_coh_home_fn_t     home_of;  /* DSM_COH_HOME_FUNC only; must return < nnodes */
    void                 *home_arg;
} dsm_coh_params_t;

typedef enum {
    DSM_COH_RMA_FETCH = 0,
    DSM_COH_RMA_WRITE_BACK
} dsm_coh_rma_t;

/* Counters, monotonic since create/reset. */
typedef struct {
    uint64_t read_misses;     /* read requests issued (I -> IS_AD)                 */
    uint64_t write_misses;    /* write requests issued from I                      */
    uint64_t upgrades;        /* write requests issued from S                      */
    uint64_t upgrades_lost;   /* upgrades invalidated before the grant (now misses) */
    uint64_t faults_absorbed; /* faults on a page already being requested          */
    uint64_t faults_spurious; /* faults on a page already accessible (woken)       */
    uint64_t fetches;         /* FETCH actions                                     */
    uint64_t write_backs;     /* WRITE_BACK actions                                */
    uint64_t inv_received;    /* INV handled                                       */
    uint64_t dg_received;     /* DOWNGRADE handled                                 */
    uint64_t inv_sent;        /* INV sent by the home side                         */
    uint64_t dg_sent;         /* DOWNGRADE sent by the home side                   */
    uint64_t grants_sent;     /* requests served by the home side                  */
    uint64_t requests_queued; /* requests that found the page busy                 */
    uint64_t msgs_sent;       /* SEND actions (messages to self are not counted)    */
    uint64_t msgs_received;   /* valid messages handled, including to self         */
    uint64_t malformed;       /* messages rejected: format, ids or state           */
    uint64_t msg_pages_sent;  /* pages the SEND actions name (/ msgs_sent: batching) */
    uint64_t run_inputs;      /* inputs naming more than one page (faults, messages, completions) */
    uint64_t run_pages;       /* pages those inputs named                          */
    uint64_t claims;          /* pages the home took without messages (claim)      */
} dsm_coh_stats_t;

typedef struct dsm_coh_engine dsm_coh_engine_t;

dsm_status_t dsm_coh_engine_create(const dsm_coh_params_t *params, dsm_coh_engine_t **engine_p);
void dsm_coh_engine_destroy(dsm_coh_engine_t *engine);

/* Back to the state after create (all pages default, counters zero); keeps its memory. */
void dsm_coh_engine_reset(dsm_coh_engine_t *engine);

/*
 * The free slots an output list needs for an input naming count pages of this
 * engine (count * (nnodes + 16): per page one invalidation broadcast plus a
 * short chain, in the worst case of a run whose pages all differ), and for
 * any input (count = DSM_COH_RUN_MAX: a message may name that many).
 */
size_t dsm_coh_engine_run_actions(const dsm_coh_engine_t *engine, uint32_t count);
size_t dsm_coh_engine_max_actions(const dsm_coh_engine_t *engine);

uint32_t dsm_coh_engine_home(const dsm_coh_engine_t *engine, uint64_t page);

/*
 * Inputs. Each validates, then changes state and appends actions, or returns
 * an error with nothing changed: DSM_ERR_INVALID_PARAM (page out of range, run
 * of 0 or more than DSM_COH_RUN_MAX pages, stride 0 or over DSM_COH_STRIDE_MAX,
 * list too small), DSM_ERR_NO_MEMORY,
 * DSM_ERR_MALFORMED (recv: counted), DSM_ERR_STATE (an RMA completion nobody
 * waits for: a runtime bug).
 *
 * The _run forms take the run of count pages first, first + stride, ... as
 * one input: each page goes through the tables as alone, and the messages and
 * actions of consecutive pages that are the same (type, node, request id) go
 * out as one run of the same stride. A fault run
 * requests only the pages that need it (those already requested are absorbed,
 * the others split the run), one request per home. A completion run is
 * refused as a whole (DSM_ERR_STATE) unless every page of it waits for one.
 */
dsm_status_t dsm_coh_engine_read_fault(dsm_coh_engine_t *engine, uint64_t page,
                                       dsm_coh_actions_t *out);
dsm_status_t dsm_coh_engine_write_fault(dsm_coh_engine_t *engine, uint64_t page,
                                        dsm_coh_actions_t *out);
dsm_status_t dsm_coh_engine_read_fault_run(dsm_coh_engine_t *engine, uint64_t first,
                                           uint32_t count, uint32_t stride,
                                           dsm_coh_actions_t *out);
dsm_status_t dsm_coh_engine_write_fault_run(dsm_coh_engine_t *engine, uint64_t first,
                                            uint32_t count, uint32_t stride,
                                            dsm_coh_actions_t *out);
dsm_status_t dsm_coh_engine_recv(dsm_coh_engine_t *engine, uint32_t src, const void *bytes,
                                 size_t length, dsm_coh_actions_t *out);
dsm_status_t dsm_coh_engine_rma_done(dsm_coh_engine_t *engine, uint64_t page, dsm_coh_rma_t op,
                                     dsm_coh_actions_t *out);
dsm_status_t dsm_coh_engine_rma_done_run(dsm_coh_engine_t *engine, uint64_t first,
                                         uint32_t count, uint32_t stride, dsm_coh_rma_t op,
                                         dsm_coh_actions_t *out);

/*
 * A local first touch without messages: the home takes the run [first, first
 * + count) of pages nobody holds, every one claimable (below). They become
 * Modified here (node M, home M with this node the owner), as if this node's
 * write miss had been served, since the home's own memory is the backing and
 * nothing has to move; appends INSTALL_RW for the run (it maps the home's own
 * pages and wakes the faulting threads). The next request from another node
 * recalls them like any Modified page. DSM_ERR_STATE, nothing changed, when a
 * page is not claimable.
 */
dsm_status_t dsm_coh_engine_home_claim(dsm_coh_engine_t *engine, uint64_t first, uint32_t count,
                                       dsm_coh_actions_t *out);
/* This node homes page, holds no copy of it and its home side is untouched
 * (no entry: Uncached, idle, nothing queued). */
bool dsm_coh_engine_claimable(const dsm_coh_engine_t *engine, uint64_t page);

/*
 * dsm_coh_engine_recv in two steps, for a caller that looks at the message
 * before the engine acts on it (the runtime checks that the page belongs to an
 * allocation), so that the bytes are parsed once. _decode is
 * dsm_coh_msg_decode with this engine's job, also refusing a message "from"
 * this node; it counts a failure in malformed, changes nothing else. _recv_msg
 * handles a message so decoded: it checks its fields again (no parsing), then
 * acts exactly as dsm_coh_engine_recv.
 */
dsm_status_t dsm_coh_engine_decode(dsm_coh_engine_t *engine, uint32_t src, const void *bytes,
                                   size_t length, dsm_coh_msg_t *msg_p);
dsm_status_t dsm_coh_engine_recv_msg(dsm_coh_engine_t *engine, const dsm_coh_msg_t *msg,
                                     dsm_coh_actions_t *out);

/* ---- inspection (tests, statistics, the runtime's shutdown check) -------- */

void dsm_coh_engine_stats(const dsm_coh_engine_t *engine, dsm_coh_stats_t *stats_p);
dsm_coh_node_state_t dsm_coh_engine_node_state(const dsm_coh_engine_t *engine, uint64_t page);

/* Home side of a page this node homes; holder_p says whether node is a sharer (or owner). */
dsm_coh_home_state_t dsm_coh_engine_home_state(const dsm_coh_engine_t *engine, uint64_t page,
                                               uint32_t node, bool *holder_p);

/* True when no page is in a transient or busy state and no request is queued. */
bool dsm_coh_engine_quiescent(const dsm_coh_engine_t *engine);

/*
 * True when no page of [first, first + count) (a range inside the arena) is
 * transient, busy or has queued requests: nothing this node started on it,
 * or serves as its home, is in flight (the runtime drains an allocation
 * before it frees it, and every page before it finalizes).
 */
bool dsm_coh_engine_settled(const dsm_coh_engine_t *engine, uint64_t first, uint64_t count);

/*
 * Drop every entry of pages [first, first + count): they return to I and
 * Uncached, as after create (the runtime frees an allocation; it zaps the
 * pages itself). DSM_ERR_STATE, nothing changed, when a page of the range is
 * transient, busy or has queued requests.
 */
dsm_status_t dsm_coh_engine_forget(dsm_coh_engine_t *engine, uint64_t first, uint64_t count);


/* Entries held (node side, home side): the engine's memory follows these. */
void dsm_coh_engine_entries(const dsm_coh_engine_t *engine, size_t *node_p, size_t *home_p);

/* ---- the transition tables, for docs/design.md and the model check -------- */

typedef struct {
    const char *side;    /* "node" or "home"                      */
    const char *state;   /* current state name                    */
    const char *event;   /* event name                            */
    char        guard[96];   /* conditions, comma-separated, "" if none */
    char        actions[96]; /* op names, space-separated         */
    const char *next;    /* next state name                       */
} dsm_coh_row_info_t;

/* Row index of the two tables (node rows first); false past the end. */
bool dsm_coh_table_row(size_t index, dsm_coh_row_info_t *row_p);

const char *dsm_coh_node_state_name(dsm_coh_node_state_t state);
const char *dsm_coh_home_state_name(dsm_coh_home_state_t state);
const char *dsm_coh_action_name(dsm_coh_action_type_t type);
const char *dsm_coh_msg_type_name(dsm_coh_msg_type_t type);

#endif /* DSM_COH_H */
