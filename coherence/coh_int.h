/*
 * Internals of coherence/, shared by its files; not part of the layer's
 * interface (dsm_coh.h). Who owns what:
 *   coh_table.c  the protocol: states, events, guards, ops and the two tables
 *   coh_engine.c input dispatch, reservation, row lookup, output, lifecycle
 *   coh_node.c   the node (cache) side: its guard and its ops
 *   coh_home.c   the home (directory) side: its guards, its ops, the queue
 *   coh_entry.c  per-page entries, their pools, their maps, settledness and forget
 *   coh_msg.c    the wire format
 */
#ifndef DSM_COH_INT_H
#define DSM_COH_INT_H

#include <stddef.h>

#include "dsm_coh.h"
#include "dsm_pagemap.h"

/* ---- the protocol (coh_table.c) ------------------------------------------ */

typedef enum {
    DSM_COH_NE_LOCAL_READ = 0,
    DSM_COH_NE_LOCAL_WRITE,
    DSM_COH_NE_GRANT_S,         /* GRANT DATA           */
    DSM_COH_NE_GRANT_M_DATA,    /* GRANT EXCL|DATA      */
    DSM_COH_NE_GRANT_M_UPGRADE, /* GRANT EXCL           */
    DSM_COH_NE_INV,
    DSM_COH_NE_DOWNGRADE,
    DSM_COH_NE_FETCH_DONE,
    DSM_COH_NE_WB_DONE,
    DSM_COH_NE_COUNT
} dsm_coh_node_event_t;

/* Node guards: bits, a row's guard is the set that must all hold. */
typedef enum {
    DSM_COH_NG_OUR_REQUEST = 1u << 0, /* the message carries our outstanding request id */
} dsm_coh_node_guard_t;

#define DSM_COH_NG_COUNT 1 /* guard bits */

typedef enum {
    DSM_COH_NOP_NONE = 0,
    DSM_COH_NOP_REQ_READ,   /* new request id, send REQ_READ to the home  */
    DSM_COH_NOP_REQ_WRITE,  /* new request id, send REQ_WRITE to the home */
    DSM_COH_NOP_NOTE_ID,    /* remember the INV/DOWNGRADE id the ACK echoes */
    DSM_COH_NOP_SEND_ACK,   /* send ACK echoing the remembered id          */
    DSM_COH_NOP_SEND_DONE,  /* send DONE with our request id               */
    DSM_COH_NOP_FETCH,
    DSM_COH_NOP_WRITE_BACK,
    DSM_COH_NOP_INSTALL_RO,
    DSM_COH_NOP_INSTALL_RW,
    DSM_COH_NOP_CLEAR_WP,
    DSM_COH_NOP_SET_WP,
    DSM_COH_NOP_ZAP,
    DSM_COH_NOP_WAKE,
    DSM_COH_NOP_COUNT
} dsm_coh_node_op_t;

typedef enum {
    DSM_COH_HE_REQ_READ = 0,
    DSM_COH_HE_REQ_WRITE,
    DSM_COH_HE_ACK,
    DSM_COH_HE_DONE,
    DSM_COH_HE_COUNT
} dsm_coh_home_event_t;

/*
 * Home guards: bits, a row's guard is the set that must all hold. "sender"
 * is the node whose message (or queued request) is the event; "requester"
 * and "served id" are the request being served (busy states).
 */
typedef enum {
    DSM_COH_HG_SENDER_ABSENT    = 1u << 0,  /* the sender holds no copy                 */
    DSM_COH_HG_NO_OTHER_HOLDER  = 1u << 1,  /* no node but the sender holds a copy      */
    DSM_COH_HG_OTHER_HOLDERS    = 1u << 2,  /* some node but the sender holds a copy    */
    DSM_COH_HG_NOT_QUEUED       = 1u << 3,  /* the sender has no request queued         */
    DSM_COH_HG_NOT_REQUESTER    = 1u << 4,  /* the sender is not the requester          */
    DSM_COH_HG_SERVED_ID        = 1u << 5,  /* the message carries the served id        */
    DSM_COH_HG_FROM_REQUESTER   = 1u << 6,  /* the sender is the requester              */
    DSM_COH_HG_FROM_HOLDER      = 1u << 7,  /* the sender is a holder, not the requester */
    DSM_COH_HG_MORE_ACKS        = 1u << 8,  /* this ACK is not the last one awaited     */
    DSM_COH_HG_LAST_ACK         = 1u << 9,  /* this ACK is the last one awaited         */
    DSM_COH_HG_REQUESTER_HOLDS  = 1u << 10, /* the requester holds a copy               */
    DSM_COH_HG_REQUESTER_ABSENT = 1u << 11, /* the requester holds no copy              */
} dsm_coh_home_guard_t;

#define DSM_COH_HG_COUNT 12 /* guard bits */

typedef enum {
    DSM_COH_HOP_NONE = 0,
    DSM_COH_HOP_BEGIN,           /* the sender's request becomes the one served  */
    DSM_COH_HOP_ENQUEUE,         /* busy: append the sender's request to the FIFO */
    DSM_COH_HOP_SEND_INV,        /* INV every holder but the requester           */
    DSM_COH_HOP_SEND_DOWNGRADE,  /* DOWNGRADE the owner                          */
    DSM_COH_HOP_COLLECT_ACK,     /* the sender no longer holds the page          */
    DSM_COH_HOP_GRANT_S,         /* holders += requester, GRANT DATA             */
    DSM_COH_HOP_GRANT_M_DATA,    /* holders = {requester}, GRANT EXCL|DATA       */
    DSM_COH_HOP_GRANT_M_UPGRADE, /* holders = {requester}, GRANT EXCL            */
    DSM_COH_HOP_SERVE_NEXT,      /* serve the queue head (in the row's new state) */
    DSM_COH_HOP_COUNT
} dsm_coh_home_op_t;

#define DSM_COH_ROW_OPS 4

/*
 * A counter of dsm_coh_stats_t named by a table: its byte offset + 1, 0 for
 * none (every counter is a uint64_t).
 */
#define DSM_COH_STAT(field) ((uint8_t)(offsetof(dsm_coh_stats_t, field) + 1))

/*
 * One transition: in state, on event, when every guard bit holds, change to
 * next, then run ops in order (so that an op sees the new state), and bump
 * stat. Rows of one (state, event) are adjacent; the first that fits wins.
 */
typedef struct {
    uint8_t  state;
    uint8_t  event;
    uint16_t guard;
    uint8_t  ops[DSM_COH_ROW_OPS];
    uint8_t  next;
    uint8_t  stat;
} dsm_coh_row_t;

typedef struct {
    const char *name;
    bool        stable; /* not transient (node) or busy (home): forget may drop it */
} dsm_coh_state_info_t;

typedef struct {
    const char                 *side;   /* "node" or "home" */
    const dsm_coh_row_t        *rows;
    size_t                      nrows;
    const dsm_coh_state_info_t *states;
    unsigned                    nstates;
    const char *const          *events;
    unsigned                    nevents;
    const char *const          *guards; /* by bit */
    unsigned                    nguards;
    const char *const          *ops;
} dsm_coh_table_t;

extern const dsm_coh_table_t dsm_coh_node_table;
extern const dsm_coh_table_t dsm_coh_home_table;

/*
 * How a message reaches the engine: which side handles it, its event (by the
 * message's flags: only GRANT has any) and the counter it bumps once handled.
 * The home side takes only pages this node homes; the node side only messages
 * from the page's home.
 */
typedef struct {
    bool    to_home;
    uint8_t event[4];
    uint8_t stat;
} dsm_coh_route_t;

extern const dsm_coh_route_t dsm_coh_routes[DSM_COH_MSG_TYPE_MAX + 1];

/* ---- sparse per-page entries (coh_entry.c) -------------------------------- */

/* Node side of one page not in I. Starts with its page (its key in the map). */
typedef struct {
    uint64_t page;
    uint32_t req_id; /* our outstanding request (IS_AD..SM_A, IS_D, IM_D) */
    uint32_t ack_id; /* request id to echo in the ACK (MI_WB, MS_WB)       */
    uint8_t  state;  /* dsm_coh_node_state_t                               */
} dsm_coh_nentry_t;

/* One request waiting at the home, FIFO. */
typedef struct dsm_coh_qitem {
    struct dsm_coh_qitem *next;
    uint32_t              node;
    uint32_t              req_id;
    uint8_t               event; /* DSM_COH_HE_REQ_READ or _REQ_WRITE */
} dsm_coh_qitem_t;

/*
 * Home side of one page not Uncached-and-idle. Starts with its page. holders
 * is the sharer set in S and {owner} in M; while invalidations are outstanding
 * it still holds the nodes whose ACK is awaited. queued marks nodes with a
 * request in the queue (each node has at most one request per page
 * outstanding, which bounds the queue by nnodes and lets us reject duplicates).
 */
typedef struct {
    uint64_t         page;
    dsm_coh_qitem_t *q_head;
    dsm_coh_qitem_t *q_tail;
    uint32_t         requester; /* the request being served (busy states) */
    uint32_t         req_id;
    uint32_t         acks_pending;
    uint8_t          state;     /* dsm_coh_home_state_t */
    uint64_t         bits[];    /* holders[nwords] then queued[nwords] */
} dsm_coh_hentry_t;

static inline uint64_t dsm_coh_entry_page(const void *entry)
{
    return *(const uint64_t *)entry;
}

static inline bool dsm_coh_bit(const uint64_t *bits, uint32_t node)
{
    return (bits[node / 64] >> (node % 64)) & 1u;
}

static inline void dsm_coh_bit_set(uint64_t *bits, uint32_t node, bool value)
{
    if (value) {
        bits[node / 64] |= 1ull << (node % 64);
    } else {
        bits[node / 64] &= ~(1ull << (node % 64));
    }
}

/*
 * The engine's sparse maps, page -> entry, are page maps (common/dsm_pagemap.h,
 * pure like this layer) whose values are the entries' addresses. Reserved
 * before each input (dsm_coh_entries_reserve), so an insert cannot fail.
 */
static inline void *dsm_coh_map_find(const dsm_pagemap_t *map, uint64_t page)
{
    uint64_t entry;

    return dsm_pagemap_find(map, page, &entry) ? (void *)(uintptr_t)entry : NULL;
}

/* Free objects of one size, recycled (coh_entry.c fills them before each input). */
typedef struct {
    void   *head;  /* each free object holds the next one's address first */
    size_t  nfree;
    size_t  size;
} dsm_coh_pool_t;

void *dsm_coh_pool_take(dsm_coh_pool_t *pool); /* zeroed; never fails after a fill */
void dsm_coh_pool_put(dsm_coh_pool_t *pool, void *object);

/* ---- the engine ---------------------------------------------------------- */

/*
 * Messages to self wait here until the input that produced them returns. A
 * handler queues at most one per page it handles, and the pages of one input
 * are at most DSM_COH_RUN_MAX (design.md 4.7), so at most that many wait.
 */
#define DSM_COH_SELFQ_SIZE DSM_COH_RUN_MAX

/* First row of each (state, event) in a table; rows of one pair are adjacent. */
#define DSM_COH_NO_ROW 0xffffu

struct dsm_coh_engine {
    dsm_coh_params_t   params;
    size_t             nwords;  /* uint64_t words of a node bitmap */
    dsm_pagemap_t      nodes;   /* page -> dsm_coh_nentry_t */
    dsm_pagemap_t      homes;   /* page -> dsm_coh_hentry_t */
    dsm_coh_pool_t     nentries;
    dsm_coh_pool_t     hentries;
    dsm_coh_pool_t     qitems;
    dsm_coh_hentry_t  *home_idle; /* what an absent home entry reads as: U, no bits */
    uint32_t           next_req_id;
    uint32_t           input_req_id; /* the id the requests of this input share; 0: none yet */
    size_t             merge_base;   /* first action of this handler: older ones are not extended */
    size_t             merge_from;   /* first action the current page may extend (keeps its order) */
    uint32_t           stride;       /* the stride of the run being handled: what its pages' actions extend along */
    dsm_coh_stats_t    stats;
    dsm_coh_msg_t      selfq[DSM_COH_SELFQ_SIZE];
    unsigned           selfq_head;
    unsigned           selfq_count;
    size_t             unsettled;    /* entries not settled (coh_entry.c): quiescent is O(1) */
    uint16_t           node_index[DSM_COH_N_COUNT][DSM_COH_NE_COUNT];
    uint16_t           home_index[DSM_COH_H_COUNT][DSM_COH_HE_COUNT];
};

/* One event as the sides see it: a message (or queued request), or a local input. */
typedef struct {
    uint8_t  event;
    uint32_t sender; /* the message's sender; self for local inputs  */
    uint32_t id;     /* the message's request id; 0 for local inputs */
} dsm_coh_input_t;

static inline uint64_t *dsm_coh_holders(dsm_coh_hentry_t *h)
{
    return h->bits;
}

static inline uint64_t *dsm_coh_queued(const dsm_coh_engine_t *engine, dsm_coh_hentry_t *h)
{
    return h->bits + engine->nwords;
}

/* coh_engine.c: lookup, the one state change, output. */
const dsm_coh_row_t *dsm_coh_row_find(const dsm_coh_table_t *table, const uint16_t *index,
                                      uint8_t state, uint8_t event, unsigned holds);
void dsm_coh_transition(dsm_coh_engine_t *engine, uint8_t *state, const dsm_coh_row_t *row);
/* coh_entry.c: page's entry on one side (home or node) is settled: stable,
 * and for a home nothing queued; an absent entry is. */
bool dsm_coh_page_settled(const dsm_coh_engine_t *engine, bool home, uint64_t page);
void dsm_coh_emit(dsm_coh_engine_t *engine, dsm_coh_actions_t *out, dsm_coh_action_type_t type,
                  uint32_t node, uint64_t page);
void dsm_coh_send(dsm_coh_engine_t *engine, dsm_coh_actions_t *out, uint32_t dest,
                  dsm_coh_msg_type_t type, uint8_t flags, uint32_t req_id, uint64_t page);

/*
 * coh_node.c, coh_home.c: _legal says whether a row fits in on page (nothing
 * changes); _input applies the row that fits (the caller checked _legal).
 */
bool dsm_coh_node_legal(dsm_coh_engine_t *engine, uint64_t page, const dsm_coh_input_t *in);
void dsm_coh_node_input(dsm_coh_engine_t *engine, uint64_t page, const dsm_coh_input_t *in,
                        dsm_coh_actions_t *out);
bool dsm_coh_home_legal(dsm_coh_engine_t *engine, uint64_t page, const dsm_coh_input_t *in);
void dsm_coh_home_input(dsm_coh_engine_t *engine, uint64_t page, const dsm_coh_input_t *in,
                        dsm_coh_actions_t *out);
/* coh_home.c: one page of dsm_coh_engine_home_claim, once checked claimable. */
void dsm_coh_home_claim(dsm_coh_engine_t *engine, uint64_t page, dsm_coh_actions_t *out);

/* coh_entry.c */
dsm_status_t dsm_coh_entries_init(dsm_coh_engine_t *engine);
void dsm_coh_entries_fini(dsm_coh_engine_t *engine);
dsm_status_t dsm_coh_entries_reserve(dsm_coh_engine_t *engine, uint32_t count);
void dsm_coh_entries_release(dsm_coh_engine_t *engine);
void *dsm_coh_entry_new(dsm_pagemap_t *map, dsm_coh_pool_t *pool, uint64_t page);
void dsm_coh_entry_free(dsm_pagemap_t *map, dsm_coh_pool_t *pool, void *entry);

/* coh_msg.c: the field checks of dsm_coh_msg_decode, on a decoded message. */
dsm_status_t dsm_coh_msg_check(const dsm_coh_msg_t *msg, uint32_t nnodes, uint64_t npages);
/*
 * Extend the encoded message bytes by the encoded one-page message next when
 * next is the same message (type, flags, sender, request id) on the page
 * after the run's along stride (dsm_coh_run_joined); false, bytes unchanged,
 * if not.
 */
bool dsm_coh_msg_extend(uint8_t *bytes, const uint8_t *next, uint32_t stride);

#endif /* DSM_COH_INT_H */
