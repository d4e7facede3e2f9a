/*
 * The node (cache) side: a page's entry, the guard of the node table and the
 * ops its rows run (coh_table.c says which, and when).
 */
#include <assert.h>

#include "coh_int.h"

/* What an absent entry reads as: I, no request outstanding. */
static const dsm_coh_nentry_t dsm_coh_nentry_idle = {.state = DSM_COH_N_I};

/*
 * The id of a request this input sends. The requests of one input (a fault
 * run) share one, so that those of adjacent pages at one home go out as one
 * message; a page still never sees an id twice (one request per page per
 * input, ids increase).
 */
static uint32_t dsm_coh_input_req_id(dsm_coh_engine_t *engine)
{
    if (engine->input_req_id == 0) {
        /* 0 is reserved: the decoder rejects it, so it never matches. */
        if (++engine->next_req_id == 0) {
            engine->next_req_id = 1;
        }
        engine->input_req_id = engine->next_req_id;
    }
    return engine->input_req_id;
}

/* The guard bits that hold for in on e. */
static unsigned dsm_coh_node_holds(const dsm_coh_nentry_t *e, const dsm_coh_input_t *in)
{
    /* Local inputs carry id 0, which no request has. */
    return in->id != 0 && in->id == e->req_id ? DSM_COH_NG_OUR_REQUEST : 0;
}

/* Local actions on the page: the ops that are one action each. */
static const dsm_coh_action_type_t dsm_coh_node_local_actions[DSM_COH_NOP_COUNT] = {
    [DSM_COH_NOP_INSTALL_RO] = DSM_COH_ACT_INSTALL_RO,
    [DSM_COH_NOP_INSTALL_RW] = DSM_COH_ACT_INSTALL_RW,
    [DSM_COH_NOP_CLEAR_WP] = DSM_COH_ACT_CLEAR_WP,
    [DSM_COH_NOP_SET_WP] = DSM_COH_ACT_SET_WP,
    [DSM_COH_NOP_ZAP] = DSM_COH_ACT_ZAP,
    [DSM_COH_NOP_WAKE] = DSM_COH_ACT_WAKE,
};

static void dsm_coh_node_op(dsm_coh_engine_t *engine, dsm_coh_nentry_t *e, uint8_t op,
                            const dsm_coh_input_t *in, dsm_coh_actions_t *out)
{
    uint32_t home = dsm_coh_engine_home(engine, e->page);

    switch ((dsm_coh_node_op_t)op) {
    case DSM_COH_NOP_REQ_READ:
        e->req_id = dsm_coh_input_req_id(engine);
        dsm_coh_send(engine, out, home, DSM_COH_MSG_REQ_READ, 0, e->req_id, e->page);
        break;
    case DSM_COH_NOP_REQ_WRITE:
        e->req_id = dsm_coh_input_req_id(engine);
        dsm_coh_send(engine, out, home, DSM_COH_MSG_REQ_WRITE, 0, e->req_id, e->page);
        break;
    case DSM_COH_NOP_NOTE_ID:
        e->ack_id = in->id;
        break;
    case DSM_COH_NOP_SEND_ACK:
        dsm_coh_send(engine, out, home, DSM_COH_MSG_ACK, 0, e->ack_id, e->page);
        break;
    case DSM_COH_NOP_SEND_DONE:
        dsm_coh_send(engine, out, home, DSM_COH_MSG_DONE, 0, e->req_id, e->page);
        break;
    case DSM_COH_NOP_FETCH:
        engine->stats.fetches++;
        dsm_coh_emit(engine, out, DSM_COH_ACT_FETCH, home, e->page);
        break;
    case DSM_COH_NOP_WRITE_BACK:
        engine->stats.write_backs++;
        dsm_coh_emit(engine, out, DSM_COH_ACT_WRITE_BACK, home, e->page);
        break;
    case DSM_COH_NOP_INSTALL_RO:
    case DSM_COH_NOP_INSTALL_RW:
    case DSM_COH_NOP_CLEAR_WP:
    case DSM_COH_NOP_SET_WP:
    case DSM_COH_NOP_ZAP:
    case DSM_COH_NOP_WAKE:
        dsm_coh_emit(engine, out, dsm_coh_node_local_actions[op], engine->params.self, e->page);
        break;
    case DSM_COH_NOP_NONE:
    case DSM_COH_NOP_COUNT:
        break;
    }
}

/* The row that fits in on page (an absent entry reads as idle), or NULL. */
static const dsm_coh_row_t *dsm_coh_node_row(dsm_coh_engine_t *engine, uint64_t page,
                                             const dsm_coh_input_t *in)
{
    const dsm_coh_nentry_t *e = dsm_coh_map_find(&engine->nodes, page);
    const dsm_coh_nentry_t *view = e != NULL ? e : &dsm_coh_nentry_idle;

    return dsm_coh_row_find(&dsm_coh_node_table, &engine->node_index[0][0], view->state,
                            in->event, dsm_coh_node_holds(view, in));
}

bool dsm_coh_node_legal(dsm_coh_engine_t *engine, uint64_t page, const dsm_coh_input_t *in)
{
    return dsm_coh_node_row(engine, page, in) != NULL;
}

void dsm_coh_node_input(dsm_coh_engine_t *engine, uint64_t page, const dsm_coh_input_t *in,
                        dsm_coh_actions_t *out)
{
    dsm_coh_nentry_t *e = dsm_coh_map_find(&engine->nodes, page);
    const dsm_coh_row_t *row = dsm_coh_node_row(engine, page, in);

    /* The caller checked dsm_coh_node_legal. */
    assert(row != NULL);
    if (e == NULL) {
        e = dsm_coh_entry_new(&engine->nodes, &engine->nentries, page);
    }
    dsm_coh_transition(engine, &e->state, row);
    for (unsigned i = 0; i < DSM_COH_ROW_OPS && row->ops[i] != DSM_COH_NOP_NONE; i++) {
        dsm_coh_node_op(engine, e, row->ops[i], in, out);
    }
    /* I is the default: no entry. */
    if (e->state == DSM_COH_N_I) {
        dsm_coh_entry_free(&engine->nodes, &engine->nentries, e);
    }
}
