/*
 * The engine: validates inputs, reserves what any input may need (list slots,
 * entries, map room) so that once state starts to change nothing can fail,
 * turns each input into an event of the node or home side, and looks up the
 * row of that side's table (coh_table.c) whose guards hold. The sides run the
 * row's ops (coh_node.c, coh_home.c), which append actions to the caller's list.
 *
 * Messages to self (the home requesting its own page, the home invalidating
 * its own copy) never become SEND actions: they wait in selfq and are handled
 * after the handler that produced them, within the same input, through the
 * same tables as a remote message.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "coh_int.h"

/* Per input: at most one INV broadcast (nnodes - 1 sends) plus a short chain. */
#define DSM_COH_ACTIONS_SLACK 16u

/* Every counter is a uint64_t, so an offset + 1 fits the tables' uint8_t. */
_Static_assert(sizeof(dsm_coh_stats_t) < 255, "DSM_COH_STAT offsets must fit in a uint8_t");

/* ---- lookup and the one state change -------------------------------------- */

const dsm_coh_row_t *dsm_coh_row_find(const dsm_coh_table_t *table, const uint16_t *index,
                                      uint8_t state, uint8_t event, unsigned holds)
{
    uint16_t i = index[(size_t)state * table->nevents + event];

    if (i == DSM_COH_NO_ROW) {
        return NULL;
    }
    for (; i < table->nrows && table->rows[i].state == state && table->rows[i].event == event;
         i++) {
        if ((table->rows[i].guard & ~holds) == 0) {
            return &table->rows[i];
        }
    }
    return NULL;
}

static void dsm_coh_index_build(const dsm_coh_table_t *table, uint16_t *index)
{
    memset(index, 0xff, (size_t)table->nstates * table->nevents * sizeof(*index));
    for (size_t i = table->nrows; i-- > 0;) {
        index[(size_t)table->rows[i].state * table->nevents + table->rows[i].event] = (uint16_t)i;
    }
}

static void dsm_coh_stat_bump(dsm_coh_engine_t *engine, uint8_t stat)
{
    if (stat != 0) {
        (*(uint64_t *)((char *)&engine->stats + stat - 1))++;
    }
}

/* The one place a state changes, on either side. */
void dsm_coh_transition(dsm_coh_engine_t *engine, uint8_t *state, const dsm_coh_row_t *row)
{
    assert(*state == row->state);
    *state = row->next;
    dsm_coh_stat_bump(engine, row->stat);
}

/* ---- output ---------------------------------------------------------------- */

void dsm_coh_emit(dsm_coh_actions_t *out, dsm_coh_action_type_t type, uint32_t node,
                  uint64_t page)
{
    dsm_coh_action_t *a;

    /* dsm_coh_engine_max_actions bounds every input; checked on entry. */
    assert(out->count < out->capacity);
    a = &out->actions[out->count++];
    a->type = type;
    a->node = node;
    a->page = page;
}

void dsm_coh_send(dsm_coh_engine_t *engine, dsm_coh_actions_t *out, uint32_t dest,
                  dsm_coh_msg_type_t type, uint8_t flags, uint32_t req_id, uint64_t page)
{
    dsm_coh_msg_t msg = {
        .type = type, .flags = flags, .sender = engine->params.self, .req_id = req_id, .page = page,
    };

    if (dest == engine->params.self) {
        /* Each handler queues at most one message to self (see design.md 4.4). */
        assert(engine->selfq_count < DSM_COH_SELFQ_SIZE);
        engine->selfq[(engine->selfq_head + engine->selfq_count) % DSM_COH_SELFQ_SIZE] = msg;
        engine->selfq_count++;
        return;
    }
    dsm_coh_emit(out, DSM_COH_ACT_SEND, dest, page);
    dsm_coh_msg_encode(&msg, out->actions[out->count - 1].msg);
    engine->stats.msgs_sent++;
}

/* ---- inputs ---------------------------------------------------------------- */

/*
 * A valid message to its side (dsm_coh_routes). Illegal in the page's state,
 * or at the wrong node: DSM_ERR_MALFORMED, counted, nothing changed.
 */
static dsm_status_t dsm_coh_dispatch(dsm_coh_engine_t *engine, const dsm_coh_msg_t *msg,
                                     dsm_coh_actions_t *out)
{
    const dsm_coh_route_t *route = &dsm_coh_routes[msg->type];
    dsm_coh_input_t in = {.event = route->event[msg->flags], .sender = msg->sender,
                          .id = msg->req_id};
    uint32_t home = dsm_coh_engine_home(engine, msg->page);
    bool handled;

    if (route->to_home) {
        handled = home == engine->params.self && dsm_coh_home_input(engine, msg->page, &in, out);
    } else {
        handled = msg->sender == home && dsm_coh_node_input(engine, msg->page, &in, out);
    }
    if (!handled) {
        engine->stats.malformed++;
        return DSM_ERR_MALFORMED;
    }
    dsm_coh_stat_bump(engine, route->stat);
    engine->stats.msgs_received++;
    return DSM_OK;
}

/* Handle the messages to self that the last handler queued (same input). */
static void dsm_coh_drain_self(dsm_coh_engine_t *engine, dsm_coh_actions_t *out)
{
    while (engine->selfq_count > 0) {
        dsm_coh_msg_t msg = engine->selfq[engine->selfq_head];
        dsm_status_t status;

        engine->selfq_head = (engine->selfq_head + 1) % DSM_COH_SELFQ_SIZE;
        engine->selfq_count--;
        status = dsm_coh_dispatch(engine, &msg, out);
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
    return dsm_coh_entries_reserve(engine);
}

static dsm_status_t dsm_coh_local_input(dsm_coh_engine_t *engine, uint64_t page,
                                        dsm_coh_node_event_t event, dsm_coh_actions_t *out)
{
    dsm_coh_input_t in = {.event = (uint8_t)event, .sender = engine->params.self, .id = 0};
    dsm_status_t status;

    if (page >= engine->params.npages) {
        return DSM_ERR_INVALID_PARAM;
    }
    status = dsm_coh_prepare(engine, out);
    if (status != DSM_OK) {
        return status;
    }
    if (!dsm_coh_node_input(engine, page, &in, out)) {
        return DSM_ERR_STATE;
    }
    dsm_coh_drain_self(engine, out);
    return DSM_OK;
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

dsm_status_t dsm_coh_engine_decode(dsm_coh_engine_t *engine, uint32_t src, const void *bytes,
                                   size_t length, dsm_coh_msg_t *msg_p)
{
    /* Messages to self never leave the engine: one "from" self is forged. */
    if (src == engine->params.self ||
        dsm_coh_msg_decode(bytes, length, src, engine->params.nnodes, engine->params.npages,
                           msg_p) != DSM_OK) {
        engine->stats.malformed++;
        return DSM_ERR_MALFORMED;
    }
    return DSM_OK;
}

static dsm_status_t dsm_coh_recv_decoded(dsm_coh_engine_t *engine, const dsm_coh_msg_t *msg,
                                         dsm_coh_actions_t *out)
{
    dsm_status_t status = dsm_coh_dispatch(engine, msg, out);

    if (status == DSM_OK) {
        dsm_coh_drain_self(engine, out);
    }
    return status;
}

dsm_status_t dsm_coh_engine_recv_msg(dsm_coh_engine_t *engine, const dsm_coh_msg_t *msg,
                                     dsm_coh_actions_t *out)
{
    dsm_status_t status = dsm_coh_prepare(engine, out);

    if (status != DSM_OK) {
        return status;
    }
    if (msg == NULL || msg->sender == engine->params.self ||
        dsm_coh_msg_check(msg, engine->params.nnodes, engine->params.npages) != DSM_OK) {
        engine->stats.malformed++;
        return DSM_ERR_MALFORMED;
    }
    return dsm_coh_recv_decoded(engine, msg, out);
}

dsm_status_t dsm_coh_engine_recv(dsm_coh_engine_t *engine, uint32_t src, const void *bytes,
                                 size_t length, dsm_coh_actions_t *out)
{
    dsm_coh_msg_t msg;
    dsm_status_t status = dsm_coh_prepare(engine, out);

    if (status != DSM_OK) {
        return status;
    }
    status = dsm_coh_engine_decode(engine, src, bytes, length, &msg);
    if (status != DSM_OK) {
        return status;
    }
    return dsm_coh_recv_decoded(engine, &msg, out);
}

/* ---- lifecycle ------------------------------------------------------------- */

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
    if (dsm_coh_entries_init(engine) != DSM_OK) {
        goto err_free;
    }
    dsm_coh_index_build(&dsm_coh_node_table, &engine->node_index[0][0]);
    dsm_coh_index_build(&dsm_coh_home_table, &engine->home_index[0][0]);
    *engine_p = engine;
    return DSM_OK;

err_free:
    free(engine);
err:
    return DSM_ERR_NO_MEMORY;
}

void dsm_coh_engine_reset(dsm_coh_engine_t *engine)
{
    dsm_coh_entries_release(engine);
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
    dsm_coh_entries_fini(engine);
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
