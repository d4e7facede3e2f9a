/*
 * The home (directory) side: the guards of the home table, the ops its rows
 * run (coh_table.c says which, and when) and the FIFO of requests that found
 * the page busy.
 */
#include <assert.h>
#include <string.h>

#include "coh_int.h"

static uint32_t dsm_coh_holders_count(const dsm_coh_engine_t *engine, dsm_coh_hentry_t *h)
{
    const uint64_t *holders = dsm_coh_holders(h);
    uint32_t count = 0;

    for (size_t w = 0; w < engine->nwords; w++) {
        count += (uint32_t)__builtin_popcountll(holders[w]);
    }
    return count;
}

/* The guard bits that hold for in on h (see dsm_coh_home_guard_t). */
static unsigned dsm_coh_home_holds(const dsm_coh_engine_t *engine, dsm_coh_hentry_t *h,
                                   const dsm_coh_input_t *in)
{
    const uint64_t *holders = dsm_coh_holders(h);
    bool sender_holds = dsm_coh_bit(holders, in->sender);
    bool requester_holds = dsm_coh_bit(holders, h->requester);
    uint32_t others = dsm_coh_holders_count(engine, h) - sender_holds;
    unsigned holds = 0;

    holds |= sender_holds ? 0 : DSM_COH_HG_SENDER_ABSENT;
    holds |= others == 0 ? DSM_COH_HG_NO_OTHER_HOLDER : DSM_COH_HG_OTHER_HOLDERS;
    holds |= dsm_coh_bit(dsm_coh_queued(engine, h), in->sender) ? 0 : DSM_COH_HG_NOT_QUEUED;
    holds |= in->sender == h->requester ? DSM_COH_HG_FROM_REQUESTER : DSM_COH_HG_NOT_REQUESTER;
    holds |= in->id == h->req_id ? DSM_COH_HG_SERVED_ID : 0;
    holds |= sender_holds && in->sender != h->requester ? DSM_COH_HG_FROM_HOLDER : 0;
    holds |= h->acks_pending > 1 ? DSM_COH_HG_MORE_ACKS : 0;
    holds |= h->acks_pending == 1 ? DSM_COH_HG_LAST_ACK : 0;
    holds |= requester_holds ? DSM_COH_HG_REQUESTER_HOLDS : DSM_COH_HG_REQUESTER_ABSENT;
    return holds;
}

static void dsm_coh_enqueue(dsm_coh_engine_t *engine, dsm_coh_hentry_t *h,
                            const dsm_coh_input_t *in)
{
    dsm_coh_qitem_t *qi = dsm_coh_pool_take(&engine->qitems);

    qi->node = in->sender;
    qi->req_id = in->id;
    qi->event = in->event;
    if (h->q_tail != NULL) {
        h->q_tail->next = qi;
    } else {
        h->q_head = qi;
    }
    h->q_tail = qi;
    dsm_coh_bit_set(dsm_coh_queued(engine, h), in->sender, true);
    engine->stats.requests_queued++;
}

/* Pop the queue head as the input it was. */
static dsm_coh_input_t dsm_coh_dequeue(dsm_coh_engine_t *engine, dsm_coh_hentry_t *h)
{
    dsm_coh_qitem_t *qi = h->q_head;
    dsm_coh_input_t in = {.event = qi->event, .sender = qi->node, .id = qi->req_id};

    h->q_head = qi->next;
    if (h->q_head == NULL) {
        h->q_tail = NULL;
    }
    dsm_coh_pool_put(&engine->qitems, qi);
    dsm_coh_bit_set(dsm_coh_queued(engine, h), in.sender, false);
    return in;
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

static uint32_t dsm_coh_first_holder(const dsm_coh_engine_t *engine, dsm_coh_hentry_t *h)
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
                            const dsm_coh_input_t *in, dsm_coh_actions_t *out)
{
    switch ((dsm_coh_home_op_t)op) {
    case DSM_COH_HOP_BEGIN:
        h->requester = in->sender;
        h->req_id = in->id;
        break;
    case DSM_COH_HOP_ENQUEUE:
        dsm_coh_enqueue(engine, h, in);
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
        dsm_coh_bit_set(dsm_coh_holders(h), in->sender, false);
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

static const dsm_coh_row_t *dsm_coh_home_row(dsm_coh_engine_t *engine, dsm_coh_hentry_t *h,
                                             const dsm_coh_input_t *in)
{
    return dsm_coh_row_find(&dsm_coh_home_table, &engine->home_index[0][0], h->state, in->event,
                            dsm_coh_home_holds(engine, h, in));
}

static void dsm_coh_home_apply(dsm_coh_engine_t *engine, dsm_coh_hentry_t *h,
                               const dsm_coh_row_t *row, const dsm_coh_input_t *in,
                               dsm_coh_actions_t *out)
{
    dsm_coh_transition(engine, &h->state, row);
    for (unsigned i = 0; i < DSM_COH_ROW_OPS && row->ops[i] != DSM_COH_HOP_NONE; i++) {
        dsm_coh_home_op(engine, h, row->ops[i], in, out);
    }
}

/*
 * Serve queued requests in FIFO order until one has a row (it makes the page
 * busy). A request was queued while the page was busy, so only now can the
 * guards of the idle state judge it: one without a row is a request a peer
 * should not have sent, dropped and counted as malformed.
 */
static void dsm_coh_serve_next(dsm_coh_engine_t *engine, dsm_coh_hentry_t *h,
                               dsm_coh_actions_t *out)
{
    while (h->q_head != NULL) {
        dsm_coh_input_t in = dsm_coh_dequeue(engine, h);
        const dsm_coh_row_t *row = dsm_coh_home_row(engine, h, &in);

        if (row != NULL) {
            dsm_coh_home_apply(engine, h, row, &in, out);
            return;
        }
        engine->stats.malformed++;
    }
}

bool dsm_coh_home_legal(dsm_coh_engine_t *engine, uint64_t page, const dsm_coh_input_t *in)
{
    dsm_coh_hentry_t *h = dsm_coh_map_find(&engine->homes, page);

    return dsm_coh_home_row(engine, h != NULL ? h : engine->home_idle, in) != NULL;
}

void dsm_coh_home_input(dsm_coh_engine_t *engine, uint64_t page, const dsm_coh_input_t *in,
                        dsm_coh_actions_t *out)
{
    dsm_coh_hentry_t *h = dsm_coh_map_find(&engine->homes, page);
    const dsm_coh_row_t *row = dsm_coh_home_row(engine, h != NULL ? h : engine->home_idle, in);

    /* The caller checked dsm_coh_home_legal. */
    assert(row != NULL);
    if (h == NULL) {
        h = dsm_coh_entry_new(&engine->homes, &engine->hentries, page);
    }
    dsm_coh_home_apply(engine, h, row, in, out);
}

/*
 * Outside the table on purpose: it is the row "U, REQ_WRITE from self" and
 * its grant and DONE folded into one step, legal only where no message can
 * be in flight for the page (untouched, the requester is the home:
 * dsm_coh_engine_claimable, checked by the caller), so the states it reaches
 * are the ones that transaction reaches.
 */
void dsm_coh_home_claim(dsm_coh_engine_t *engine, uint64_t page, dsm_coh_actions_t *out)
{
    dsm_coh_hentry_t *h = dsm_coh_entry_new(&engine->homes, &engine->hentries, page);
    dsm_coh_nentry_t *e;

    h->state = DSM_COH_H_M;
    dsm_coh_bit_set(dsm_coh_holders(h), engine->params.self, true);
    e = dsm_coh_entry_new(&engine->nodes, &engine->nentries, page);
    e->state = DSM_COH_N_M;
    engine->stats.claims++;
    dsm_coh_emit(engine, out, DSM_COH_ACT_INSTALL_RW, engine->params.self, page);
}
