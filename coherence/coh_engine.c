/*
 * The engine: validates inputs, looks up the (state, event) row of the node or
 * home table (coh_table.c) and carries out its ops, which append actions to
 * the caller's list. Every input first reserves what it may need (list slots,
 * entries, map room), so that once state starts to change nothing can fail.
 *
 * Messages to self (the home requesting its own page, the home invalidating
 * its own copy) never become SEND actions: they wait in selfq and are handled
 * after the handler that produced them, within the same input, through the
 * same validation and tables as a remote message.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "coh_int.h"

/* Per input: at most one INV broadcast (nnodes - 1 sends) plus a short chain. */
#define DSM_COH_ACTIONS_SLACK 16u
/* Per input: entries of each kind one page can need (see dsm_coh_reserve). */
#define DSM_COH_RESERVE 2u

typedef struct {
    uint32_t node;
    uint32_t req_id;
    uint8_t  type;
} dsm_coh_req_t;

/* ---- entries and free lists ---------------------------------------------- */

static size_t dsm_coh_hentry_size(const dsm_coh_engine_t *engine)
{
    return sizeof(dsm_coh_hentry_t) + 2 * engine->nwords * sizeof(uint64_t);
}

static uint64_t *dsm_coh_holders(dsm_coh_hentry_t *h)
{
    return h->bits;
}

static uint64_t *dsm_coh_queued(dsm_coh_engine_t *engine, dsm_coh_hentry_t *h)
{
    return h->bits + engine->nwords;
}

static bool dsm_coh_bit(const uint64_t *bits, uint32_t node)
{
    return (bits[node / 64] >> (node % 64)) & 1u;
}

static void dsm_coh_bit_set(uint64_t *bits, uint32_t node, bool value)
{
    if (value) {
        bits[node / 64] |= 1ull << (node % 64);
    } else {
        bits[node / 64] &= ~(1ull << (node % 64));
    }
}

/* Fill the free lists and map room so that handlers never allocate-and-fail. */
static dsm_status_t dsm_coh_reserve(dsm_coh_engine_t *engine)
{
    unsigned n;
    dsm_coh_nentry_t *ne;
    dsm_coh_hentry_t *he;
    dsm_coh_qitem_t *qi;

    for (n = 0, ne = engine->free_nentries; ne != NULL && n < DSM_COH_RESERVE; ne = ne->next_free) {
        n++;
    }
    for (; n < DSM_COH_RESERVE; n++) {
        ne = calloc(1, sizeof(*ne));
        if (ne == NULL) {
            return DSM_ERR_NO_MEMORY;
        }
        ne->next_free = engine->free_nentries;
        engine->free_nentries = ne;
    }
    for (n = 0, he = engine->free_hentries; he != NULL && n < DSM_COH_RESERVE; he = he->next_free) {
        n++;
    }
    for (; n < DSM_COH_RESERVE; n++) {
        he = calloc(1, dsm_coh_hentry_size(engine));
        if (he == NULL) {
            return DSM_ERR_NO_MEMORY;
        }
        he->next_free = engine->free_hentries;
        engine->free_hentries = he;
    }
    for (n = 0, qi = engine->free_qitems; qi != NULL && n < DSM_COH_RESERVE; qi = qi->next) {
        n++;
    }
    for (; n < DSM_COH_RESERVE; n++) {
        qi = calloc(1, sizeof(*qi));
        if (qi == NULL) {
            return DSM_ERR_NO_MEMORY;
        }
        qi->next = engine->free_qitems;
        engine->free_qitems = qi;
    }
    if (dsm_coh_map_reserve(&engine->nodes) != DSM_OK ||
        dsm_coh_map_reserve(&engine->homes) != DSM_OK) {
        return DSM_ERR_NO_MEMORY;
    }
    return DSM_OK;
}

static dsm_coh_nentry_t *dsm_coh_nentry_new(dsm_coh_engine_t *engine, uint64_t page)
{
    dsm_coh_nentry_t *e = engine->free_nentries;

    engine->free_nentries = e->next_free;
    memset(e, 0, sizeof(*e));
    e->page = page;
    e->state = DSM_COH_N_I;
    dsm_coh_map_insert(&engine->nodes, e);
    return e;
}

static void dsm_coh_nentry_free(dsm_coh_engine_t *engine, dsm_coh_nentry_t *e)
{
    dsm_coh_map_remove(&engine->nodes, e->page);
    e->next_free = engine->free_nentries;
    engine->free_nentries = e;
}

static dsm_coh_hentry_t *dsm_coh_hentry_new(dsm_coh_engine_t *engine, uint64_t page)
{
    dsm_coh_hentry_t *h = engine->free_hentries;

    engine->free_hentries = h->next_free;
    memset(h, 0, dsm_coh_hentry_size(engine));
    h->page = page;
    h->state = DSM_COH_H_U;
    dsm_coh_map_insert(&engine->homes, h);
    return h;
}

/* ---- output ---------------------------------------------------------------- */

static dsm_coh_action_t *dsm_coh_emit(dsm_coh_actions_t *out, dsm_coh_action_type_t type,
                                      uint32_t node, uint64_t page)
{
    dsm_coh_action_t *a;

    /* dsm_coh_engine_max_actions bounds every input; checked on entry. */
    assert(out->count < out->capacity);
    a = &out->actions[out->count++];
    a->type = type;
    a->node = node;
    a->page = page;
    return a;
}

static void dsm_coh_send(dsm_coh_engine_t *engine, dsm_coh_actions_t *out, uint32_t dest,
                         dsm_coh_msg_type_t type, uint8_t flags, uint32_t req_id, uint64_t page)
{
    dsm_coh_msg_t msg = {
        .type = type, .flags = flags, .sender = engine->params.self, .req_id = req_id, .page = page,
    };

    if (dest == engine->params.self) {
        unsigned tail = (engine->selfq_head + engine->selfq_count) % DSM_COH_SELFQ_SIZE;

        /* Each handler queues at most one message to self (see design.md 4.5). */
        assert(engine->selfq_count < DSM_COH_SELFQ_SIZE);
        dsm_coh_msg_encode(&msg, engine->selfq[tail]);
        engine->selfq_count++;
        return;
    }
    dsm_coh_msg_encode(&msg, dsm_coh_emit(out, DSM_COH_ACT_SEND, dest, page)->msg);
    engine->stats.msgs_sent++;
}

/* ---- node side ------------------------------------------------------------- */

static uint32_t dsm_coh_new_req_id(dsm_coh_engine_t *engine)
{
    /* 0 is reserved: the decoder rejects it, so it never matches. */
    if (++engine->next_req_id == 0) {
        engine->next_req_id = 1;
    }
    return engine->next_req_id;
}

static void dsm_coh_node_op(dsm_coh_engine_t *engine, dsm_coh_nentry_t *e, uint8_t op,
                            dsm_coh_actions_t *out)
{
    uint32_t home = dsm_coh_engine_home(engine, e->page);

    switch ((dsm_coh_node_op_t)op) {
    case DSM_COH_NOP_REQ_READ:
        e->req_id = dsm_coh_new_req_id(engine);
        engine->stats.read_misses++;
        dsm_coh_send(engine, out, home, DSM_COH_MSG_REQ_READ, 0, e->req_id, e->page);
        break;
    case DSM_COH_NOP_REQ_WRITE:
        e->req_id = dsm_coh_new_req_id(engine);
        if (e->state == DSM_COH_N_S) {
            engine->stats.upgrades++;
        } else {
            engine->stats.write_misses++;
        }
        dsm_coh_send(engine, out, home, DSM_COH_MSG_REQ_WRITE, 0, e->req_id, e->page);
        break;
    case DSM_COH_NOP_SEND_ACK:
        dsm_coh_send(engine, out, home, DSM_COH_MSG_ACK, 0, e->ack_id, e->page);
        break;
    case DSM_COH_NOP_SEND_DONE:
        dsm_coh_send(engine, out, home, DSM_COH_MSG_DONE, 0, e->req_id, e->page);
        break;
    case DSM_COH_NOP_FETCH:
        engine->stats.fetches++;
        dsm_coh_emit(out, DSM_COH_ACT_FETCH, home, e->page);
        break;
    case DSM_COH_NOP_WRITE_BACK:
        engine->stats.write_backs++;
        dsm_coh_emit(out, DSM_COH_ACT_WRITE_BACK, home, e->page);
        break;
    case DSM_COH_NOP_INSTALL_RO:
        dsm_coh_emit(out, DSM_COH_ACT_INSTALL_RO, engine->params.self, e->page);
        break;
    case DSM_COH_NOP_INSTALL_RW:
        dsm_coh_emit(out, DSM_COH_ACT_INSTALL_RW, engine->params.self, e->page);
        break;
    case DSM_COH_NOP_CLEAR_WP:
        dsm_coh_emit(out, DSM_COH_ACT_CLEAR_WP, engine->params.self, e->page);
        break;
    case DSM_COH_NOP_SET_WP:
        dsm_coh_emit(out, DSM_COH_ACT_SET_WP, engine->params.self, e->page);
        break;
    case DSM_COH_NOP_ZAP:
        dsm_coh_emit(out, DSM_COH_ACT_ZAP, engine->params.self, e->page);
        break;
    case DSM_COH_NOP_WAKE:
        dsm_coh_emit(out, DSM_COH_ACT_WAKE, engine->params.self, e->page);
        break;
    case DSM_COH_NOP_NONE:
    case DSM_COH_NOP_COUNT:
        break;
    }
}

/* The one place a node-side state changes. */
static void dsm_coh_node_state_set(dsm_coh_nentry_t *e, const dsm_coh_row_t *row)
{
    assert(e->state == row->state);
    e->state = row->next;
}

/*
 * Run the node table for (page, event). msg is the triggering message, NULL
 * for local inputs. Returns DSM_ERR_MALFORMED (message) or DSM_ERR_STATE
 * (local completion) when the pair is illegal; nothing has changed then.
 */
static dsm_status_t dsm_coh_node_input(dsm_coh_engine_t *engine, uint64_t page,
                                       dsm_coh_node_event_t event, const dsm_coh_msg_t *msg,
                                       dsm_coh_actions_t *out)
{
    dsm_coh_nentry_t *e = dsm_coh_map_find(&engine->nodes, page);
    uint8_t state = e != NULL ? e->state : DSM_COH_N_I;
    uint16_t index = engine->node_index[state][event];
    const dsm_coh_row_t *row;

    if (index == DSM_COH_NO_ROW) {
        return msg != NULL ? DSM_ERR_MALFORMED : DSM_ERR_STATE;
    }
    if (msg != NULL && msg->type == DSM_COH_MSG_GRANT && msg->req_id != e->req_id) {
        return DSM_ERR_MALFORMED;
    }
    row = &dsm_coh_node_rows[index];
    if (e == NULL) {
        e = dsm_coh_nentry_new(engine, page);
    }
    if (msg != NULL && (msg->type == DSM_COH_MSG_INV || msg->type == DSM_COH_MSG_DOWNGRADE)) {
        e->ack_id = msg->req_id;
        if (msg->type == DSM_COH_MSG_INV) {
            engine->stats.inv_received++;
            engine->stats.upgrades_lost += state == DSM_COH_N_SM_A;
        } else {
            engine->stats.dg_received++;
        }
    }
    if (event == DSM_COH_NE_LOCAL_READ || event == DSM_COH_NE_LOCAL_WRITE) {
        engine->stats.faults_absorbed += row->ops[0] == DSM_COH_NOP_NONE;
        engine->stats.faults_spurious += row->ops[0] == DSM_COH_NOP_WAKE;
    }
    for (unsigned i = 0; i < DSM_COH_ROW_OPS && row->ops[i] != DSM_COH_NOP_NONE; i++) {
        dsm_coh_node_op(engine, e, row->ops[i], out);
    }
    dsm_coh_node_state_set(e, row);
    if (e->state == DSM_COH_N_I) {
        dsm_coh_nentry_free(engine, e);
    }
    return DSM_OK;
}

/* ---- home side ------------------------------------------------------------- */

static uint32_t dsm_coh_holders_other(dsm_coh_engine_t *engine, dsm_coh_hentry_t *h,
                                      uint32_t requester)
{
    const uint64_t *holders = dsm_coh_holders(h);
    uint32_t count = 0;

    for (size_t w = 0; w < engine->nwords; w++) {
        count += (uint32_t)__builtin_popcountll(holders[w]);
    }
    return count - dsm_coh_bit(holders, requester);
}

static bool dsm_coh_guard(dsm_coh_engine_t *engine, dsm_coh_hentry_t *h, uint8_t guard,
                          uint32_t requester)
{
    switch ((dsm_coh_home_guard_t)guard) {
    case DSM_COH_HG_NO_OTHER_HOLDER:
        return dsm_coh_holders_other(engine, h, requester) == 0;
    case DSM_COH_HG_OTHER_HOLDERS:
        return dsm_coh_holders_other(engine, h, requester) != 0;
    case DSM_COH_HG_MORE_ACKS:
        return h->acks_pending > 1;
    case DSM_COH_HG_LAST_REQ_HOLDS:
        return h->acks_pending == 1 && dsm_coh_bit(dsm_coh_holders(h), requester);
    case DSM_COH_HG_LAST_REQ_ABSENT:
        return h->acks_pending == 1 && !dsm_coh_bit(dsm_coh_holders(h), requester);
    case DSM_COH_HG_NONE:
    case DSM_COH_HG_COUNT:
        break;
    }
    return true;
}

/* The first row of (state, event) whose guard holds, or NULL. */
static const dsm_coh_row_t *dsm_coh_home_row(dsm_coh_engine_t *engine, dsm_coh_hentry_t *h,
                                             uint8_t state, dsm_coh_home_event_t event,
                                             uint32_t requester)
{
    uint16_t index = engine->home_index[state][event];

    if (index == DSM_COH_NO_ROW) {
        return NULL;
    }
    for (; index < dsm_coh_home_nrows; index++) {
        const dsm_coh_row_t *row = &dsm_coh_home_rows[index];

        if (row->state != state || row->event != event) {
            break;
        }
        if (h == NULL || dsm_coh_guard(engine, h, row->guard, requester)) {
            return row;
        }
    }
    return NULL;
}

static void dsm_coh_grant(dsm_coh_engine_t *engine, dsm_coh_hentry_t *h, uint8_t flags,
                          dsm_coh_actions_t *out)
{
    uint64_t *holders = dsm_coh_holders(h);

    if (flags & DSM_COH_GRANT_EXCL) {
        memset(holders, 0, engine->nwords * sizeof(uint64_t));
    }
    dsm_coh_bit_set(holders, h->requester, true);
    engine->stats.grants_sent++;
    dsm_coh_send(engine, out, h->requester, DSM_COH_MSG_GRANT, flags, h->req_id, h->page);
}

static void dsm_coh_send_inv(dsm_coh_engine_t *engine, dsm_coh_hentry_t *h,
                             dsm_coh_actions_t *out)
{
    const uint64_t *holders = dsm_coh_holders(h);

    h->acks_pending = 0;
    for (size_t w = 0; w < engine->nwords; w++) {
        for (uint64_t bits = holders[w]; bits != 0; bits &= bits - 1) {
            uint32_t node = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(bits));

            if (node != h->requester) {
                h->acks_pending++;
                engine->stats.inv_sent++;
                dsm_coh_send(engine, out, node, DSM_COH_MSG_INV, 0, h->req_id, h->page);
            }
        }
    }
}

static uint32_t dsm_coh_first_holder(dsm_coh_engine_t *engine, dsm_coh_hentry_t *h)
{
    const uint64_t *holders = dsm_coh_holders(h);

    for (size_t w = 0; w < engine->nwords; w++) {
        if (holders[w] != 0) {
            return (uint32_t)(w * 64 + (size_t)__builtin_ctzll(holders[w]));
        }
    }
    return UINT32_MAX;
}

static void dsm_coh_serve_next(dsm_coh_engine_t *engine, dsm_coh_hentry_t *h,
                               dsm_coh_actions_t *out);

static void dsm_coh_home_op(dsm_coh_engine_t *engine, dsm_coh_hentry_t *h, uint8_t op,
                            const dsm_coh_req_t *req, uint32_t sender, dsm_coh_actions_t *out)
{
    dsm_coh_qitem_t *qi;

    switch ((dsm_coh_home_op_t)op) {
    case DSM_COH_HOP_BEGIN:
        h->requester = req->node;
        h->req_id = req->req_id;
        h->req_type = req->type;
        break;
    case DSM_COH_HOP_ENQUEUE:
        qi = engine->free_qitems;
        engine->free_qitems = qi->next;
        qi->next = NULL;
        qi->node = req->node;
        qi->req_id = req->req_id;
        qi->type = req->type;
        if (h->q_tail != NULL) {
            h->q_tail->next = qi;
        } else {
            h->q_head = qi;
        }
        h->q_tail = qi;
        dsm_coh_bit_set(dsm_coh_queued(engine, h), req->node, true);
        engine->stats.requests_queued++;
        break;
    case DSM_COH_HOP_SEND_INV:
        dsm_coh_send_inv(engine, h, out);
        break;
    case DSM_COH_HOP_SEND_DOWNGRADE:
        engine->stats.dg_sent++;
        dsm_coh_send(engine, out, dsm_coh_first_holder(engine, h), DSM_COH_MSG_DOWNGRADE, 0,
                     h->req_id, h->page);
        break;
    case DSM_COH_HOP_COLLECT_ACK:
        dsm_coh_bit_set(dsm_coh_holders(h), sender, false);
        h->acks_pending--;
        break;
    case DSM_COH_HOP_GRANT_S:
        dsm_coh_grant(engine, h, DSM_COH_GRANT_DATA, out);
        break;
    case DSM_COH_HOP_GRANT_M_DATA:
        dsm_coh_grant(engine, h, DSM_COH_GRANT_EXCL | DSM_COH_GRANT_DATA, out);
        break;
    case DSM_COH_HOP_GRANT_M_UPGRADE:
        dsm_coh_grant(engine, h, DSM_COH_GRANT_EXCL, out);
        break;
    case DSM_COH_HOP_SERVE_NEXT:
        dsm_coh_serve_next(engine, h, out);
        break;
    case DSM_COH_HOP_NONE:
    case DSM_COH_HOP_COUNT:
        break;
    }
}

/* The one place a home-side state changes; SERVE_NEXT runs in the new state. */
static void dsm_coh_home_apply(dsm_coh_engine_t *engine, dsm_coh_hentry_t *h,
                               const dsm_coh_row_t *row, const dsm_coh_req_t *req,
                               uint32_t sender, dsm_coh_actions_t *out)
{
    unsigned i;

    assert(h->state == row->state);
    for (i = 0; i < DSM_COH_ROW_OPS && row->ops[i] != DSM_COH_HOP_NONE; i++) {
        if (row->ops[i] != DSM_COH_HOP_SERVE_NEXT) {
            dsm_coh_home_op(engine, h, row->ops[i], req, sender, out);
        }
    }
    h->state = row->next;
    for (i = 0; i < DSM_COH_ROW_OPS && row->ops[i] != DSM_COH_HOP_NONE; i++) {
        if (row->ops[i] == DSM_COH_HOP_SERVE_NEXT) {
            dsm_coh_home_op(engine, h, row->ops[i], req, sender, out);
        }
    }
}

/*
 * Whether an idle home may serve req. With honest peers always true: a node
 * asks for a read only without a copy and for a write only without M, and the
 * directory is exact whenever the home is idle.
 */
static bool dsm_coh_req_legal(dsm_coh_hentry_t *h, const dsm_coh_req_t *req)
{
    bool holder = h != NULL && dsm_coh_bit(dsm_coh_holders(h), req->node);

    if (req->type == DSM_COH_MSG_REQ_READ) {
        return !holder;
    }
    return !(holder && h->state == DSM_COH_H_M);
}

static dsm_coh_home_event_t dsm_coh_req_event(uint8_t type)
{
    return type == DSM_COH_MSG_REQ_READ ? DSM_COH_HE_REQ_READ : DSM_COH_HE_REQ_WRITE;
}

/* Serve queued requests in FIFO order until one makes the page busy. */
static void dsm_coh_serve_next(dsm_coh_engine_t *engine, dsm_coh_hentry_t *h,
                               dsm_coh_actions_t *out)
{
    while (h->q_head != NULL) {
        dsm_coh_qitem_t *qi = h->q_head;
        dsm_coh_req_t req = {.node = qi->node, .req_id = qi->req_id, .type = qi->type};
        const dsm_coh_row_t *row;

        h->q_head = qi->next;
        if (h->q_head == NULL) {
            h->q_tail = NULL;
        }
        qi->next = engine->free_qitems;
        engine->free_qitems = qi;
        dsm_coh_bit_set(dsm_coh_queued(engine, h), req.node, false);
        /* Queued while busy, so only checkable now: drop what a peer should not have sent. */
        row = dsm_coh_req_legal(h, &req)
                  ? dsm_coh_home_row(engine, h, h->state, dsm_coh_req_event(req.type), req.node)
                  : NULL;
        if (row == NULL) {
            engine->stats.malformed++;
            continue;
        }
        dsm_coh_home_apply(engine, h, row, &req, req.node, out);
        return;
    }
}

static bool dsm_coh_home_busy(uint8_t state)
{
    return state >= DSM_COH_H_WAIT_DG;
}

/* State-dependent validation of a message to the home side, then the table. */
static dsm_status_t dsm_coh_home_input(dsm_coh_engine_t *engine, const dsm_coh_msg_t *msg,
                                       dsm_coh_actions_t *out)
{
    dsm_coh_hentry_t *h = dsm_coh_map_find(&engine->homes, msg->page);
    uint8_t state = h != NULL ? h->state : DSM_COH_H_U;
    dsm_coh_req_t req = {.node = msg->sender, .req_id = msg->req_id, .type = (uint8_t)msg->type};
    dsm_coh_home_event_t event;
    const dsm_coh_row_t *row;

    switch (msg->type) {
    case DSM_COH_MSG_REQ_READ:
    case DSM_COH_MSG_REQ_WRITE:
        event = dsm_coh_req_event((uint8_t)msg->type);
        if (!dsm_coh_home_busy(state)) {
            if (!dsm_coh_req_legal(h, &req)) {
                return DSM_ERR_MALFORMED;
            }
            break;
        }
        /* One outstanding request per node and page. The requester's next request
         * may overtake its DONE (unordered messages), never its grant. */
        if (dsm_coh_bit(dsm_coh_queued(engine, h), msg->sender) ||
            (msg->sender == h->requester && state != DSM_COH_H_WAIT_DONE_S &&
             state != DSM_COH_H_WAIT_DONE_M)) {
            return DSM_ERR_MALFORMED;
        }
        break;
    case DSM_COH_MSG_ACK:
        event = DSM_COH_HE_ACK;
        if (h == NULL || msg->req_id != h->req_id || msg->sender == h->requester ||
            !dsm_coh_bit(dsm_coh_holders(h), msg->sender)) {
            return DSM_ERR_MALFORMED;
        }
        req.node = h->requester;
        break;
    case DSM_COH_MSG_DONE:
        event = DSM_COH_HE_DONE;
        if (h == NULL || msg->req_id != h->req_id || msg->sender != h->requester) {
            return DSM_ERR_MALFORMED;
        }
        break;
    default:
        return DSM_ERR_MALFORMED;
    }
    row = dsm_coh_home_row(engine, h, state, event, req.node);
    if (row == NULL) {
        return DSM_ERR_MALFORMED;
    }
    if (h == NULL) {
        h = dsm_coh_hentry_new(engine, msg->page);
    }
    dsm_coh_home_apply(engine, h, row, &req, msg->sender, out);
    return DSM_OK;
}

/* ---- inputs ---------------------------------------------------------------- */

static dsm_status_t dsm_coh_recv_msg(dsm_coh_engine_t *engine, uint32_t src, const void *bytes,
                                     size_t length, dsm_coh_actions_t *out)
{
    static const dsm_coh_node_event_t grant_events[4] = {
        [DSM_COH_GRANT_DATA] = DSM_COH_NE_GRANT_S,
        [DSM_COH_GRANT_EXCL | DSM_COH_GRANT_DATA] = DSM_COH_NE_GRANT_M_DATA,
        [DSM_COH_GRANT_EXCL] = DSM_COH_NE_GRANT_M_UPGRADE,
    };
    dsm_coh_msg_t msg;
    uint32_t home;
    dsm_status_t status;

    status = dsm_coh_msg_decode(bytes, length, src, engine->params.nnodes, engine->params.npages,
                                &msg);
    if (status != DSM_OK) {
        goto err_count;
    }
    home = dsm_coh_engine_home(engine, msg.page);
    switch (msg.type) {
    case DSM_COH_MSG_REQ_READ:
    case DSM_COH_MSG_REQ_WRITE:
    case DSM_COH_MSG_ACK:
    case DSM_COH_MSG_DONE:
        status = home == engine->params.self ? dsm_coh_home_input(engine, &msg, out)
                                             : DSM_ERR_MALFORMED;
        break;
    case DSM_COH_MSG_GRANT:
    case DSM_COH_MSG_INV:
    case DSM_COH_MSG_DOWNGRADE:
        if (msg.sender != home) {
            status = DSM_ERR_MALFORMED;
            break;
        }
        status = dsm_coh_node_input(engine, msg.page,
                                    msg.type == DSM_COH_MSG_GRANT ? grant_events[msg.flags]
                                    : msg.type == DSM_COH_MSG_INV ? DSM_COH_NE_INV
                                                                  : DSM_COH_NE_DOWNGRADE,
                                    &msg, out);
        break;
    }
    if (status != DSM_OK) {
        goto err_count;
    }
    engine->stats.msgs_received++;
    return DSM_OK;

err_count:
    engine->stats.malformed++;
    return status;
}

/* Handle the messages to self that the last handler queued (same input). */
static void dsm_coh_drain_self(dsm_coh_engine_t *engine, dsm_coh_actions_t *out)
{
    while (engine->selfq_count > 0) {
        uint8_t bytes[DSM_COH_MSG_SIZE];
        dsm_status_t status;

        memcpy(bytes, engine->selfq[engine->selfq_head], sizeof(bytes));
        engine->selfq_head = (engine->selfq_head + 1) % DSM_COH_SELFQ_SIZE;
        engine->selfq_count--;
        status = dsm_coh_recv_msg(engine, engine->params.self, bytes, sizeof(bytes), out);
        /* Our own messages are valid by construction; a failure is an engine bug. */
        assert(status == DSM_OK);
        (void)status;
    }
}

static dsm_status_t dsm_coh_prepare(dsm_coh_engine_t *engine, dsm_coh_actions_t *out)
{
    if (out == NULL || out->capacity < out->count ||
        out->capacity - out->count < dsm_coh_engine_max_actions(engine)) {
        return DSM_ERR_INVALID_PARAM;
    }
    return dsm_coh_reserve(engine);
}

static dsm_status_t dsm_coh_local_input(dsm_coh_engine_t *engine, uint64_t page,
                                        dsm_coh_node_event_t event, dsm_coh_actions_t *out)
{
    dsm_status_t status;

    if (page >= engine->params.npages) {
        return DSM_ERR_INVALID_PARAM;
    }
    status = dsm_coh_prepare(engine, out);
    if (status != DSM_OK) {
        return status;
    }
    status = dsm_coh_node_input(engine, page, event, NULL, out);
    if (status == DSM_OK) {
        dsm_coh_drain_self(engine, out);
    }
    return status;
}

dsm_status_t dsm_coh_engine_read_fault(dsm_coh_engine_t *engine, uint64_t page,
                                       dsm_coh_actions_t *out)
{
    return dsm_coh_local_input(engine, page, DSM_COH_NE_LOCAL_READ, out);
}

dsm_status_t dsm_coh_engine_write_fault(dsm_coh_engine_t *engine, uint64_t page,
                                        dsm_coh_actions_t *out)
{
    return dsm_coh_local_input(engine, page, DSM_COH_NE_LOCAL_WRITE, out);
}

dsm_status_t dsm_coh_engine_rma_done(dsm_coh_engine_t *engine, uint64_t page, dsm_coh_rma_t op,
                                     dsm_coh_actions_t *out)
{
    if (op != DSM_COH_RMA_FETCH && op != DSM_COH_RMA_WRITE_BACK) {
        return DSM_ERR_INVALID_PARAM;
    }
    return dsm_coh_local_input(engine, page,
                               op == DSM_COH_RMA_FETCH ? DSM_COH_NE_FETCH_DONE : DSM_COH_NE_WB_DONE,
                               out);
}

dsm_status_t dsm_coh_engine_recv(dsm_coh_engine_t *engine, uint32_t src, const void *bytes,
                                 size_t length, dsm_coh_actions_t *out)
{
    dsm_status_t status = dsm_coh_prepare(engine, out);

    if (status != DSM_OK) {
        return status;
    }
    /* Messages to self never leave the engine: one "from" self is forged. */
    if (src == engine->params.self) {
        engine->stats.malformed++;
        return DSM_ERR_MALFORMED;
    }
    status = dsm_coh_recv_msg(engine, src, bytes, length, out);
    if (status == DSM_OK) {
        dsm_coh_drain_self(engine, out);
    }
    return status;
}

/* ---- lifecycle and inspection --------------------------------------------- */

static void dsm_coh_index_build(dsm_coh_engine_t *engine)
{
    memset(engine->node_index, 0xff, sizeof(engine->node_index));
    memset(engine->home_index, 0xff, sizeof(engine->home_index));
    for (size_t i = dsm_coh_node_nrows; i-- > 0;) {
        engine->node_index[dsm_coh_node_rows[i].state][dsm_coh_node_rows[i].event] = (uint16_t)i;
    }
    for (size_t i = dsm_coh_home_nrows; i-- > 0;) {
        engine->home_index[dsm_coh_home_rows[i].state][dsm_coh_home_rows[i].event] = (uint16_t)i;
    }
}

dsm_status_t dsm_coh_engine_create(const dsm_coh_params_t *params, dsm_coh_engine_t **engine_p)
{
    dsm_coh_engine_t *engine;

    if (params == NULL || engine_p == NULL || params->nnodes == 0 ||
        params->self >= params->nnodes || params->npages == 0 ||
        (params->home_policy == DSM_COH_HOME_FUNC && params->home_of == NULL) ||
        params->home_policy > DSM_COH_HOME_FUNC) {
        return DSM_ERR_INVALID_PARAM;
    }
    engine = calloc(1, sizeof(*engine));
    if (engine == NULL) {
        goto err;
    }
    engine->params = *params;
    engine->nwords = (params->nnodes + 63) / 64;
    if (dsm_coh_map_init(&engine->nodes) != DSM_OK) {
        goto err_free;
    }
    if (dsm_coh_map_init(&engine->homes) != DSM_OK) {
        goto err_nodes;
    }
    dsm_coh_index_build(engine);
    *engine_p = engine;
    return DSM_OK;

err_nodes:
    dsm_coh_map_fini(&engine->nodes);
err_free:
    free(engine);
err:
    return DSM_ERR_NO_MEMORY;
}

/* Move every entry of the maps (and home queues) to the free lists. */
static void dsm_coh_release_entries(dsm_coh_engine_t *engine)
{
    for (size_t i = 0; i <= engine->nodes.mask; i++) {
        dsm_coh_nentry_t *e = engine->nodes.slots[i];

        if (e != NULL) {
            e->next_free = engine->free_nentries;
            engine->free_nentries = e;
            engine->nodes.slots[i] = NULL;
        }
    }
    engine->nodes.count = 0;
    for (size_t i = 0; i <= engine->homes.mask; i++) {
        dsm_coh_hentry_t *h = engine->homes.slots[i];

        if (h != NULL) {
            if (h->q_tail != NULL) {
                h->q_tail->next = engine->free_qitems;
                engine->free_qitems = h->q_head;
            }
            h->next_free = engine->free_hentries;
            engine->free_hentries = h;
            engine->homes.slots[i] = NULL;
        }
    }
    engine->homes.count = 0;
}

void dsm_coh_engine_reset(dsm_coh_engine_t *engine)
{
    dsm_coh_release_entries(engine);
    engine->next_req_id = 0;
    engine->selfq_head = 0;
    engine->selfq_count = 0;
    memset(&engine->stats, 0, sizeof(engine->stats));
}

void dsm_coh_engine_destroy(dsm_coh_engine_t *engine)
{
    if (engine == NULL) {
        return;
    }
    dsm_coh_release_entries(engine);
    while (engine->free_nentries != NULL) {
        dsm_coh_nentry_t *e = engine->free_nentries;

        engine->free_nentries = e->next_free;
        free(e);
    }
    while (engine->free_hentries != NULL) {
        dsm_coh_hentry_t *h = engine->free_hentries;

        engine->free_hentries = h->next_free;
        free(h);
    }
    while (engine->free_qitems != NULL) {
        dsm_coh_qitem_t *qi = engine->free_qitems;

        engine->free_qitems = qi->next;
        free(qi);
    }
    dsm_coh_map_fini(&engine->nodes);
    dsm_coh_map_fini(&engine->homes);
    free(engine);
}

size_t dsm_coh_engine_max_actions(const dsm_coh_engine_t *engine)
{
    return engine->params.nnodes + DSM_COH_ACTIONS_SLACK;
}

uint32_t dsm_coh_engine_home(const dsm_coh_engine_t *engine, uint64_t page)
{
    const dsm_coh_params_t *p = &engine->params;
    uint64_t block;

    switch (p->home_policy) {
    case DSM_COH_HOME_BLOCKED:
        block = (p->npages + p->nnodes - 1) / p->nnodes;
        return (uint32_t)(page / block);
    case DSM_COH_HOME_FUNC:
        return p->home_of(page, p->home_arg);
    case DSM_COH_HOME_CYCLIC:
        break;
    }
    return (uint32_t)(page % p->nnodes);
}

void dsm_coh_engine_stats(const dsm_coh_engine_t *engine, dsm_coh_stats_t *stats_p)
{
    *stats_p = engine->stats;
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

bool dsm_coh_engine_quiescent(const dsm_coh_engine_t *engine)
{
    if (engine->selfq_count != 0) {
        return false;
    }
    for (size_t i = 0; i <= engine->nodes.mask; i++) {
        const dsm_coh_nentry_t *e = engine->nodes.slots[i];

        if (e != NULL && e->state != DSM_COH_N_S && e->state != DSM_COH_N_M) {
            return false;
        }
    }
    for (size_t i = 0; i <= engine->homes.mask; i++) {
        const dsm_coh_hentry_t *h = engine->homes.slots[i];

        if (h != NULL && (dsm_coh_home_busy(h->state) || h->q_head != NULL)) {
            return false;
        }
    }
    return true;
}

/* True when no page of [first, end) is transient, busy or has queued requests. */
static bool dsm_coh_range_settled(const dsm_coh_engine_t *engine, uint64_t first, uint64_t end)
{
    for (size_t i = 0; i <= engine->nodes.mask; i++) {
        const dsm_coh_nentry_t *e = engine->nodes.slots[i];

        if (e != NULL && e->page >= first && e->page < end && e->state != DSM_COH_N_S &&
            e->state != DSM_COH_N_M) {
            return false;
        }
    }
    for (size_t i = 0; i <= engine->homes.mask; i++) {
        const dsm_coh_hentry_t *h = engine->homes.slots[i];

        if (h != NULL && h->page >= first && h->page < end &&
            (dsm_coh_home_busy(h->state) || h->q_head != NULL)) {
            return false;
        }
    }
    return true;
}

bool dsm_coh_engine_settled(const dsm_coh_engine_t *engine, uint64_t first, uint64_t count)
{
    return dsm_coh_range_settled(engine, first, first + count);
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
    /* Removing an entry shifts later entries of its probe run back into the
     * freed slot: look at the same slot again until nothing of the range is there. */
    for (size_t i = 0; i <= engine->nodes.mask; i++) {
        dsm_coh_nentry_t *e;

        while ((e = engine->nodes.slots[i]) != NULL && e->page >= first && e->page < end) {
            dsm_coh_nentry_free(engine, e);
        }
    }
    for (size_t i = 0; i <= engine->homes.mask; i++) {
        dsm_coh_hentry_t *h;

        while ((h = engine->homes.slots[i]) != NULL && h->page >= first && h->page < end) {
            dsm_coh_map_remove(&engine->homes, h->page);
            h->next_free = engine->free_hentries; /* settled: its queue is empty */
            engine->free_hentries = h;
        }
    }
    return DSM_OK;
}

void dsm_coh_engine_entries(const dsm_coh_engine_t *engine, size_t *node_p, size_t *home_p)
{
    *node_p = engine->nodes.count;
    *home_p = engine->homes.count;
}
