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
 *
 * Runs (design.md 4.7): an input or message naming several pages (along a
 * stride) is handled page by page, as that many inputs would be, after
 * checking that every page of it is legal (all or nothing). Only the output
 * is shared: an action or a message for a page extends the same one of the
 * page before it along the run's stride.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "coh_int.h"

/* Per page of an input: at most one INV broadcast (nnodes - 1 sends) plus a short chain. */
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

/* Extend prev by next, an action on one page, when it is the same action on
 * the page after prev's along the stride of the run being handled. */
static bool dsm_coh_action_extend(const dsm_coh_engine_t *engine, dsm_coh_action_t *prev,
                                  const dsm_coh_action_t *next)
{
    if (prev->type != next->type || prev->node != next->node ||
        dsm_coh_run_joined(prev->page, prev->count, prev->stride, next->page, 1, 1) !=
            engine->stride) {
        return false;
    }
    if (prev->type == DSM_COH_ACT_SEND && !dsm_coh_msg_extend(prev->msg, next->msg, engine->stride)) {
        return false;
    }
    prev->stride = engine->stride;
    prev->count++;
    return true;
}

/*
 * Append a, or extend with it an action of this handler (from merge_from on)
 * that ends right before it. merge_from then moves past the action used, so
 * that the actions of one page keep their order; those of different pages
 * may interleave (pages are independent). Searching forward finds the one
 * candidate of an invalidation broadcast at once. True when a is a new action.
 */
static bool dsm_coh_actions_append(dsm_coh_engine_t *engine, dsm_coh_actions_t *out,
                                   const dsm_coh_action_t *a)
{
    for (size_t i = engine->merge_from; i < out->count; i++) {
        if (dsm_coh_action_extend(engine, &out->actions[i], a)) {
            engine->merge_from = i + 1;
            return false;
        }
    }
    /* dsm_coh_engine_run_actions bounds every input; checked on entry. */
    assert(out->count < out->capacity);
    out->actions[out->count++] = *a;
    engine->merge_from = out->count;
    return true;
}

void dsm_coh_emit(dsm_coh_engine_t *engine, dsm_coh_actions_t *out, dsm_coh_action_type_t type,
                  uint32_t node, uint64_t page)
{
    dsm_coh_action_t a = {.type = type, .node = node, .page = page, .count = 1, .stride = 1};

    dsm_coh_actions_append(engine, out, &a);
}

/* Queue msg to self, as part of the last queued message when it continues it. */
static void dsm_coh_selfq_push(dsm_coh_engine_t *engine, const dsm_coh_msg_t *msg)
{
    dsm_coh_msg_t *tail;

    if (engine->selfq_count > 0) {
        tail = &engine->selfq[(engine->selfq_head + engine->selfq_count - 1) % DSM_COH_SELFQ_SIZE];
        if (tail->type == msg->type && tail->flags == msg->flags &&
            tail->req_id == msg->req_id &&
            dsm_coh_run_joined(tail->page, tail->count, tail->stride, msg->page, 1, 1) ==
                engine->stride) {
            tail->stride = engine->stride;
            tail->count++;
            return;
        }
    }
    /* Each handler queues at most one message to self per page (see design.md 4.4, 4.7). */
    assert(engine->selfq_count < DSM_COH_SELFQ_SIZE);
    engine->selfq[(engine->selfq_head + engine->selfq_count) % DSM_COH_SELFQ_SIZE] = *msg;
    engine->selfq_count++;
}

void dsm_coh_send(dsm_coh_engine_t *engine, dsm_coh_actions_t *out, uint32_t dest,
                  dsm_coh_msg_type_t type, uint8_t flags, uint32_t req_id, uint64_t page)
{
    dsm_coh_msg_t msg = {
        .type = type, .flags = flags, .sender = engine->params.self, .req_id = req_id,
        .page = page, .count = 1, .stride = 1,
    };
    dsm_coh_action_t a = {.type = DSM_COH_ACT_SEND, .node = dest, .page = page, .count = 1,
                          .stride = 1};

    if (dest == engine->params.self) {
        dsm_coh_selfq_push(engine, &msg);
        return;
    }
    dsm_coh_msg_encode(&msg, a.msg);
    engine->stats.msgs_sent += dsm_coh_actions_append(engine, out, &a);
    engine->stats.msg_pages_sent++;
}

/* ---- inputs ---------------------------------------------------------------- */

/* Every page of the run has a row on its side for in: the run is legal as a whole. */
static bool dsm_coh_run_legal(dsm_coh_engine_t *engine, bool to_home, uint64_t first,
                              uint32_t count, uint32_t stride, const dsm_coh_input_t *in)
{
    for (uint32_t i = 0; i < count; i++) {
        uint64_t page = dsm_coh_run_page(first, stride, i);

        if (!(to_home ? dsm_coh_home_legal(engine, page, in)
                      : dsm_coh_node_legal(engine, page, in))) {
            return false;
        }
    }
    return true;
}

/* Each page of a legal run through its side's table, in run order. */
static void dsm_coh_run_apply(dsm_coh_engine_t *engine, bool to_home, uint64_t first,
                              uint32_t count, uint32_t stride, const dsm_coh_input_t *in,
                              dsm_coh_actions_t *out)
{
    engine->merge_base = out->count;
    engine->stride = stride;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t page = dsm_coh_run_page(first, stride, i);
        /* An input changes its page's entry on its side only (what it sends
         * to self is another input): the count of unsettled entries follows. */
        bool was = dsm_coh_page_settled(engine, to_home, page);

        engine->merge_from = engine->merge_base;
        if (to_home) {
            dsm_coh_home_input(engine, page, in, out);
        } else {
            dsm_coh_node_input(engine, page, in, out);
        }
        engine->unsettled += (size_t)was - (size_t)dsm_coh_page_settled(engine, to_home, page);
    }
}

static void dsm_coh_run_note(dsm_coh_engine_t *engine, uint32_t count)
{
    if (count > 1) {
        engine->stats.run_inputs++;
        engine->stats.run_pages += count;
    }
}

/*
 * Whether every page of msg's run may go to its side (dsm_coh_routes): one
 * home for the whole run, and it is this node for a home-side message, the
 * sender for a node-side one.
 */
static bool dsm_coh_run_routed(const dsm_coh_engine_t *engine, const dsm_coh_msg_t *msg,
                               bool to_home)
{
    uint32_t home = dsm_coh_engine_home(engine, msg->page);

    for (uint32_t i = 1; i < msg->count; i++) {
        if (dsm_coh_engine_home(engine, dsm_coh_run_page(msg->page, msg->stride, i)) != home) {
            return false;
        }
    }
    return to_home ? home == engine->params.self : msg->sender == home;
}

/*
 * A valid message to its side (dsm_coh_routes). Illegal in a page's state, or
 * at the wrong node: DSM_ERR_MALFORMED, counted, nothing changed.
 */
static dsm_status_t dsm_coh_dispatch(dsm_coh_engine_t *engine, const dsm_coh_msg_t *msg,
                                     dsm_coh_actions_t *out)
{
    const dsm_coh_route_t *route = &dsm_coh_routes[msg->type];
    /* ZERO is a hint for the requester's runtime, not an event of its own. */
    uint8_t routed = msg->flags & (uint8_t)~DSM_COH_GRANT_ZERO;
    dsm_coh_input_t in = {.event = route->event[routed], .sender = msg->sender,
                          .id = msg->req_id};

    if (!dsm_coh_run_routed(engine, msg, route->to_home) ||
        !dsm_coh_run_legal(engine, route->to_home, msg->page, msg->count, msg->stride, &in)) {
        engine->stats.malformed++;
        return DSM_ERR_MALFORMED;
    }
    dsm_coh_run_apply(engine, route->to_home, msg->page, msg->count, msg->stride, &in, out);
    for (uint32_t i = 0; i < msg->count; i++) {
        dsm_coh_stat_bump(engine, route->stat);
    }
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

/* Room for an input naming count pages: list slots, entries, map room. */
static dsm_status_t dsm_coh_prepare(dsm_coh_engine_t *engine, dsm_coh_actions_t *out,
                                    uint32_t count)
{
    if (out == NULL || out->capacity < out->count ||
        out->capacity - out->count < dsm_coh_engine_run_actions(engine, count)) {
        return DSM_ERR_INVALID_PARAM;
    }
    engine->input_req_id = 0;
    engine->merge_base = out->count;
    engine->merge_from = out->count;
    engine->stride = 1; /* until a run sets its own */
    return dsm_coh_entries_reserve(engine, count);
}

/* A local input on the run of count pages from first along stride: a run of
 * the arena, and room for it (dsm_coh_prepare). */
static dsm_status_t dsm_coh_local_begin(dsm_coh_engine_t *engine, uint64_t first,
                                        uint32_t count, uint32_t stride, dsm_coh_actions_t *out)
{
    if (!dsm_coh_run_valid(first, count, stride, engine->params.npages)) {
        return DSM_ERR_INVALID_PARAM;
    }
    return dsm_coh_prepare(engine, out, count);
}

static dsm_status_t dsm_coh_local_input(dsm_coh_engine_t *engine, uint64_t first,
                                        uint32_t count, uint32_t stride,
                                        dsm_coh_node_event_t event, dsm_coh_actions_t *out)
{
    dsm_coh_input_t in = {.event = (uint8_t)event, .sender = engine->params.self, .id = 0};
    dsm_status_t status = dsm_coh_local_begin(engine, first, count, stride, out);

    if (status != DSM_OK) {
        return status;
    }
    if (!dsm_coh_run_legal(engine, false, first, count, stride, &in)) {
        return DSM_ERR_STATE;
    }
    dsm_coh_run_apply(engine, false, first, count, stride, &in, out);
    dsm_coh_run_note(engine, count);
    dsm_coh_drain_self(engine, out);
    return DSM_OK;
}

dsm_status_t dsm_coh_engine_read_fault_run(dsm_coh_engine_t *engine, uint64_t first,
                                           uint32_t count, uint32_t stride,
                                           dsm_coh_actions_t *out)
{
    return dsm_coh_local_input(engine, first, count, stride, DSM_COH_NE_LOCAL_READ, out);
}

dsm_status_t dsm_coh_engine_write_fault_run(dsm_coh_engine_t *engine, uint64_t first,
                                            uint32_t count, uint32_t stride,
                                            dsm_coh_actions_t *out)
{
    return dsm_coh_local_input(engine, first, count, stride, DSM_COH_NE_LOCAL_WRITE, out);
}

dsm_status_t dsm_coh_engine_read_fault(dsm_coh_engine_t *engine, uint64_t page,
                                       dsm_coh_actions_t *out)
{
    return dsm_coh_engine_read_fault_run(engine, page, 1, 1, out);
}

dsm_status_t dsm_coh_engine_write_fault(dsm_coh_engine_t *engine, uint64_t page,
                                        dsm_coh_actions_t *out)
{
    return dsm_coh_engine_write_fault_run(engine, page, 1, 1, out);
}

dsm_status_t dsm_coh_engine_rma_done_run(dsm_coh_engine_t *engine, uint64_t first,
                                         uint32_t count, uint32_t stride, dsm_coh_rma_t op,
                                         dsm_coh_actions_t *out)
{
    if (op != DSM_COH_RMA_FETCH && op != DSM_COH_RMA_WRITE_BACK) {
        return DSM_ERR_INVALID_PARAM;
    }
    return dsm_coh_local_input(engine, first, count, stride,
                               op == DSM_COH_RMA_FETCH ? DSM_COH_NE_FETCH_DONE : DSM_COH_NE_WB_DONE,
                               out);
}

bool dsm_coh_engine_claimable(const dsm_coh_engine_t *engine, uint64_t page)
{
    return page < engine->params.npages && dsm_coh_engine_home(engine, page) == engine->params.self &&
           dsm_coh_map_find(&engine->nodes, page) == NULL &&
           dsm_coh_map_find(&engine->homes, page) == NULL;
}

dsm_status_t dsm_coh_engine_home_claim(dsm_coh_engine_t *engine, uint64_t first, uint32_t count,
                                       dsm_coh_actions_t *out)
{
    dsm_status_t status = dsm_coh_local_begin(engine, first, count, 1, out);

    if (status != DSM_OK) {
        return status;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (!dsm_coh_engine_claimable(engine, first + i)) {
            return DSM_ERR_STATE;
        }
    }
    for (uint32_t i = 0; i < count; i++) {
        engine->merge_from = engine->merge_base; /* one INSTALL_RW for the run */
        dsm_coh_home_claim(engine, first + i, out);
    }
    return DSM_OK;
}

dsm_status_t dsm_coh_engine_rma_done(dsm_coh_engine_t *engine, uint64_t page, dsm_coh_rma_t op,
                                     dsm_coh_actions_t *out)
{
    return dsm_coh_engine_rma_done_run(engine, page, 1, 1, op, out);
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

/* A message that passed the format checks: room for its run, then its handling. */
static dsm_status_t dsm_coh_recv_decoded(dsm_coh_engine_t *engine, const dsm_coh_msg_t *msg,
                                         dsm_coh_actions_t *out)
{
    dsm_status_t status = dsm_coh_prepare(engine, out, msg->count);

    if (status != DSM_OK) {
        return status;
    }
    status = dsm_coh_dispatch(engine, msg, out);
    if (status == DSM_OK) {
        dsm_coh_run_note(engine, msg->count);
        dsm_coh_drain_self(engine, out);
    }
    return status;
}

dsm_status_t dsm_coh_engine_recv_msg(dsm_coh_engine_t *engine, const dsm_coh_msg_t *msg,
                                     dsm_coh_actions_t *out)
{
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
    dsm_status_t status = dsm_coh_engine_decode(engine, src, bytes, length, &msg);

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
    engine->unsettled = 0;
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

size_t dsm_coh_engine_run_actions(const dsm_coh_engine_t *engine, uint32_t count)
{
    return (size_t)count * (engine->params.nnodes + DSM_COH_ACTIONS_SLACK);
}

size_t dsm_coh_engine_max_actions(const dsm_coh_engine_t *engine)
{
    return dsm_coh_engine_run_actions(engine, DSM_COH_RUN_MAX);
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
