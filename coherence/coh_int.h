/*
 * Internals of coherence/: the sparse page map, the transition tables and the
 * engine structure. Not part of the layer's interface (dsm_coh.h).
 */
#ifndef DSM_COH_INT_H
#define DSM_COH_INT_H

#include "dsm_coh.h"

/* ---- sparse per-page entries --------------------------------------------- */

/* Node side of one page not in I (or in I with nothing in flight: never stored). */
typedef struct dsm_coh_nentry {
    uint64_t               page;
    struct dsm_coh_nentry *next_free;
    uint32_t               req_id; /* our outstanding request (IS_AD..SM_A, IS_D, IM_D) */
    uint32_t               ack_id; /* request id to echo in the ACK (MI_WB, MS_WB)       */
    uint8_t                state;  /* dsm_coh_node_state_t                               */
} dsm_coh_nentry_t;

/* One request waiting at the home, FIFO. */
typedef struct dsm_coh_qitem {
    struct dsm_coh_qitem *next;
    uint32_t              node;
    uint32_t              req_id;
    uint8_t               type; /* DSM_COH_MSG_REQ_READ or _REQ_WRITE */
} dsm_coh_qitem_t;

/*
 * Home side of one page not Uncached-and-idle. holders is the sharer set in S
 * and {owner} in M; while invalidations are outstanding it still holds the
 * nodes whose ACK is awaited. queued marks nodes with a request in the queue
 * (each node has at most one request per page outstanding, which bounds the
 * queue by nnodes and lets us reject duplicates).
 */
typedef struct dsm_coh_hentry {
    uint64_t               page;
    struct dsm_coh_hentry *next_free;
    dsm_coh_qitem_t       *q_head;
    dsm_coh_qitem_t       *q_tail;
    uint32_t               requester;   /* the request being served (busy states) */
    uint32_t               req_id;
    uint32_t               acks_pending;
    uint8_t                req_type;
    uint8_t                state;       /* dsm_coh_home_state_t */
    uint64_t               bits[];      /* holders[nwords] then queued[nwords] */
} dsm_coh_hentry_t;

/* Open addressing (linear probing, backward-shift deletion), page -> entry. */
typedef struct {
    void   **slots;
    size_t   mask;  /* capacity - 1, capacity a power of two */
    size_t   count;
} dsm_coh_map_t;

dsm_status_t dsm_coh_map_init(dsm_coh_map_t *map);
void dsm_coh_map_fini(dsm_coh_map_t *map);
/* The entry for page (entries start with their uint64_t page), or NULL. */
void *dsm_coh_map_find(const dsm_coh_map_t *map, uint64_t page);
/* Make room for one more entry so that the next insert cannot fail. */
dsm_status_t dsm_coh_map_reserve(dsm_coh_map_t *map);
void dsm_coh_map_insert(dsm_coh_map_t *map, void *entry);
void dsm_coh_map_remove(dsm_coh_map_t *map, uint64_t page);

/* ---- transition tables --------------------------------------------------- */

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

typedef enum {
    DSM_COH_NOP_NONE = 0,
    DSM_COH_NOP_REQ_READ,   /* new request id, send REQ_READ to the home  */
    DSM_COH_NOP_REQ_WRITE,  /* new request id, send REQ_WRITE to the home */
    DSM_COH_NOP_SEND_ACK,   /* send ACK echoing the INV/DOWNGRADE id       */
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

typedef enum {
    DSM_COH_HG_NONE = 0,
    DSM_COH_HG_NO_OTHER_HOLDER, /* the requester is the only holder               */
    DSM_COH_HG_OTHER_HOLDERS,   /* some node other than the requester holds it    */
    DSM_COH_HG_MORE_ACKS,       /* this ACK is not the last one awaited           */
    DSM_COH_HG_LAST_REQ_HOLDS,  /* last ACK, the requester still holds a copy     */
    DSM_COH_HG_LAST_REQ_ABSENT, /* last ACK, the requester holds no copy          */
    DSM_COH_HG_COUNT
} dsm_coh_home_guard_t;

typedef enum {
    DSM_COH_HOP_NONE = 0,
    DSM_COH_HOP_BEGIN,           /* the request becomes the one being served     */
    DSM_COH_HOP_ENQUEUE,         /* busy: append the request to the FIFO         */
    DSM_COH_HOP_SEND_INV,        /* INV every holder but the requester           */
    DSM_COH_HOP_SEND_DOWNGRADE,  /* DOWNGRADE the owner                          */
    DSM_COH_HOP_COLLECT_ACK,     /* an invalidated node no longer holds the page */
    DSM_COH_HOP_GRANT_S,         /* holders += requester, GRANT DATA             */
    DSM_COH_HOP_GRANT_M_DATA,    /* holders = {requester}, GRANT EXCL|DATA       */
    DSM_COH_HOP_GRANT_M_UPGRADE, /* holders = {requester}, GRANT EXCL            */
    DSM_COH_HOP_SERVE_NEXT,      /* after the state change: serve the queue head */
    DSM_COH_HOP_COUNT
} dsm_coh_home_op_t;

#define DSM_COH_ROW_OPS 3

typedef struct {
    uint8_t state;
    uint8_t event;
    uint8_t guard; /* home rows only */
    uint8_t ops[DSM_COH_ROW_OPS];
    uint8_t next;
} dsm_coh_row_t;

extern const dsm_coh_row_t dsm_coh_node_rows[];
extern const size_t dsm_coh_node_nrows;
extern const dsm_coh_row_t dsm_coh_home_rows[];
extern const size_t dsm_coh_home_nrows;

/* ---- the engine ---------------------------------------------------------- */

/* Messages to self wait here until the input that produced them returns. */
#define DSM_COH_SELFQ_SIZE 8

/* First row of each (state, event) in a table; rows of one pair are adjacent. */
#define DSM_COH_NO_ROW 0xffffu

struct dsm_coh_engine {
    dsm_coh_params_t   params;
    size_t             nwords;  /* uint64_t words of a node bitmap */
    dsm_coh_map_t      nodes;   /* page -> dsm_coh_nentry_t */
    dsm_coh_map_t      homes;   /* page -> dsm_coh_hentry_t */
    dsm_coh_nentry_t  *free_nentries;
    dsm_coh_hentry_t  *free_hentries;
    dsm_coh_qitem_t   *free_qitems;
    uint32_t           next_req_id;
    dsm_coh_stats_t    stats;
    uint8_t            selfq[DSM_COH_SELFQ_SIZE][DSM_COH_MSG_SIZE];
    unsigned           selfq_head;
    unsigned           selfq_count;
    uint16_t           node_index[DSM_COH_N_COUNT][DSM_COH_NE_COUNT];
    uint16_t           home_index[DSM_COH_H_COUNT][DSM_COH_HE_COUNT];
};

#endif /* DSM_COH_INT_H */
