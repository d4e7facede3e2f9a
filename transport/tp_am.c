/*
 * transport/ active messages: a typed header and a payload of any size,
 * delivered to the handler registered for the id on the progress thread.
 *
 * On the wire the UCX AM header is dsm_tp_am_prefix_t (the sender's node)
 * followed by the user header. Small payloads arrive whole (eager) and are
 * handed over in place; large ones announce themselves (rendezvous) and are
 * pulled into a buffer with ucp_am_recv_data_nbx before the handler runs.
 */
#include <stdlib.h>
#include <string.h>

#include "tp_ucx.h"

/* A rendezvous receive in flight; the payload follows the structure. */
typedef struct {
    dsm_tp_am_slot_t *slot;
    int               src;
    size_t            header_len;
    size_t            length;
    union {
        max_align_t   align;
        unsigned char bytes[DSM_TP_AM_HEADER_MAX];
    } header;
} dsm_tp_am_rndv_t;

static void dsm_tp_am_deliver(dsm_tp_am_slot_t *slot, int src, const void *header,
                              size_t header_len, const void *data, size_t length)
{
    /* Handlers get an aligned header: the wire gives no alignment. */
    union {
        max_align_t   align;
        unsigned char bytes[DSM_TP_AM_HEADER_MAX];
    } aligned;

    if (header_len > 0) {
        memcpy(aligned.bytes, header, header_len);
    }
    slot->tp->stats.am_received++;
    slot->handler(slot->arg, src, aligned.bytes, header_len, data, length);
}

static void dsm_tp_am_rndv_done(void *request, ucs_status_t status, size_t length,
                                void *user_data)
{
    dsm_tp_am_rndv_t *rndv = user_data;
    dsm_tp_t *tp = rndv->slot->tp;

    (void)length;
    tp->outstanding--;
    if (status == UCS_OK) {
        dsm_tp_am_deliver(rndv->slot, rndv->src, rndv->header.bytes, rndv->header_len,
                          rndv + 1, rndv->length);
    } else {
        dsm_warn("transport: dropped a %zu-byte message from node %d: %s", rndv->length,
                 rndv->src, ucs_status_string(status));
        tp->stats.am_dropped++;
    }
    free(rndv);
    ucp_request_free(request);
}

/* Start pulling a rendezvous payload; the handler runs when it is in. */
static void dsm_tp_am_rndv_start(dsm_tp_am_slot_t *slot, int src, const void *header,
                                 size_t header_len, void *data_desc, size_t length)
{
    dsm_tp_t *tp = slot->tp;
    ucp_request_param_t param = {0};
    dsm_tp_am_rndv_t *rndv;
    ucs_status_ptr_t sp;

    rndv = malloc(sizeof(*rndv) + length);
    if (rndv == NULL) {
        /* Returning from the callback without a receive completes the sender. */
        dsm_error("transport: no memory for a %zu-byte message from node %d", length, src);
        tp->stats.am_dropped++;
        return;
    }
    rndv->slot       = slot;
    rndv->src        = src;
    rndv->header_len = header_len;
    rndv->length     = length;
    memcpy(rndv->header.bytes, header, header_len);
    param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
    param.cb.recv_am   = dsm_tp_am_rndv_done;
    param.user_data    = rndv;
    sp = ucp_am_recv_data_nbx(tp->worker, data_desc, rndv + 1, length, &param);
    if (sp == NULL) {
        dsm_tp_am_deliver(slot, src, rndv->header.bytes, header_len, rndv + 1, length);
        free(rndv);
    } else if (UCS_PTR_IS_ERR(sp)) {
        dsm_warn("transport: dropped a %zu-byte message from node %d: %s", length, src,
                 ucs_status_string(UCS_PTR_STATUS(sp)));
        tp->stats.am_dropped++;
        free(rndv);
    } else {
        tp->outstanding++;
    }
}

/*
 * Drop a message that failed validation; count it, never trust it. UCS_OK
 * releases an eager payload, and for a rendezvous one (no receive started)
 * makes UCX complete the sender's request and release the descriptor.
 */
static ucs_status_t dsm_tp_am_drop(dsm_tp_t *tp, unsigned id, const char *why)
{
    dsm_warn("transport: dropped a message of id %u: %s", id, why);
    tp->stats.am_dropped++;
    return UCS_OK;
}

static ucs_status_t dsm_tp_am_arrived(void *arg, const void *header, size_t header_length,
                                      void *data, size_t length,
                                      const ucp_am_recv_param_t *param)
{
    dsm_tp_am_slot_t *slot = arg;
    dsm_tp_t *tp = slot->tp;
    dsm_tp_am_prefix_t prefix;
    const unsigned char *user_header = (const unsigned char *)header + sizeof(prefix);
    size_t user_header_len = header_length - sizeof(prefix);

    if (header_length < sizeof(prefix) || header_length > DSM_TP_AM_WIRE_HEADER_MAX) {
        return dsm_tp_am_drop(tp, slot->id, "bad header length");
    }
    memcpy(&prefix, header, sizeof(prefix));
    if (tp->peers == NULL || prefix.src_node >= (uint32_t)tp->nnodes) {
        return dsm_tp_am_drop(tp, slot->id, "sender is not a member");
    }
    /*
     * The prefix is only a claim. Every member sends with UCP_AM_SEND_FLAG_REPLY,
     * so UCX names the endpoint the message came in on: it must be the one
     * connect created to the claimed node. A process that reached this worker
     * by itself arrives on an endpoint UCX made for it, or none. Loss notices
     * (and their answers) are the exception: UCX 1.13 silently drops a
     * reply-flagged message whose endpoint here has failed, and a notice is
     * most needed just then (its sender stops right after it), so it goes
     * without the flag and carries its sender's token instead
     * (dsm_tp_am_lost_arrived).
     */
    if (slot->id != DSM_TP_AM_ID_LOST &&
        (!(param->recv_attr & UCP_AM_RECV_ATTR_FIELD_REPLY_EP) ||
         param->reply_ep != tp->peers[prefix.src_node].ep)) {
        tp->stats.am_strangers++;
        return dsm_tp_am_drop(tp, slot->id, "it did not come from the claimed node's endpoint");
    }
    /* A witness's last word may arrive after its own failure was seen. */
    if (tp->peers[prefix.src_node].lost && slot->id != DSM_TP_AM_ID_LOST) {
        return dsm_tp_am_drop(tp, slot->id, "sender was lost");
    }
    if (slot->handler == NULL) {
        return dsm_tp_am_drop(tp, slot->id, "no handler registered");
    }
    if (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) {
        dsm_tp_am_rndv_start(slot, (int)prefix.src_node, user_header, user_header_len, data,
                             length);
    } else {
        dsm_tp_am_deliver(slot, (int)prefix.src_node, user_header, user_header_len, data,
                          length);
    }
    return UCS_OK;
}

/* A round message: kind and whether it is the answer. */
typedef struct {
    uint8_t round;
    uint8_t is_ack;
} dsm_tp_round_msg_t;

static dsm_status_t dsm_tp_am_post(dsm_tp_t *tp, int dst, unsigned id, const void *header,
                                   size_t header_len, const void *data, size_t length,
                                   dsm_tp_complete_cb_t cb, void *arg);

/* Copy a transport message's header of exactly size bytes into msg, or count
 * the message as dropped and return 0. */
static int dsm_tp_am_header_take(dsm_tp_t *tp, const void *header, size_t header_len,
                                 void *msg, size_t size)
{
    if (header_len != size) {
        tp->stats.am_dropped++;
        return 0;
    }
    memcpy(msg, header, size);
    return 1;
}

static void dsm_tp_am_round_arrived(void *arg, int src_node, const void *header,
                                    size_t header_len, const void *data, size_t length)
{
    dsm_tp_t *tp = arg;
    dsm_tp_round_msg_t msg;

    (void)data;
    (void)length;
    if (!dsm_tp_am_header_take(tp, header, header_len, &msg, sizeof(msg))) {
        return;
    }
    if (msg.round >= DSM_TP_ROUND_COUNT) {
        tp->stats.am_dropped++;
        return;
    }
    if (msg.is_ack) {
        tp->round_acks[msg.round]++;
        return;
    }
    tp->round_msgs[msg.round]++;
    msg.is_ack = 1;
    dsm_tp_am_post(tp, src_node, DSM_TP_AM_ID_ROUND, &msg, sizeof(msg), NULL, 0, NULL, NULL);
}

/* A witness says it lost node N (dsm_tp_am_lost_tell), or a node answers that
 * it took that word in; vouched for by the sender's token (see dsm_tp_am_post). */
typedef struct {
    uint32_t      lost;
    uint8_t       is_ack;
    unsigned char token[16];
} dsm_tp_lost_msg_t;

static void dsm_tp_am_lost_msg_init(const dsm_tp_t *tp, uint32_t lost, uint8_t is_ack,
                                    dsm_tp_lost_msg_t *msg_p)
{
    memset(msg_p, 0, sizeof(*msg_p)); /* no stray bytes on the wire */
    msg_p->lost   = lost;
    msg_p->is_ack = is_ack;
    memcpy(msg_p->token, tp->identities[tp->node].token, sizeof(msg_p->token));
}

/* Nonzero if the token is the one node published at create (constant time). */
static int dsm_tp_am_token_ok(const dsm_tp_t *tp, int node, const unsigned char *token)
{
    const unsigned char *expected = tp->identities[node].token;
    unsigned char diff = 0;

    for (size_t i = 0; i < sizeof(tp->identities[node].token); i++) {
        diff |= (unsigned char)(expected[i] ^ token[i]);
    }
    return diff == 0;
}

static void dsm_tp_am_lost_arrived(void *arg, int src_node, const void *header,
                                   size_t header_len, const void *data, size_t length)
{
    dsm_tp_t *tp = arg;
    dsm_tp_lost_msg_t msg;
    uint32_t lost;

    (void)data;
    (void)length;
    if (!dsm_tp_am_header_take(tp, header, header_len, &msg, sizeof(msg))) {
        return;
    }
    if (!dsm_tp_am_token_ok(tp, src_node, msg.token)) {
        dsm_warn("transport: dropped a loss notice claiming node %d: wrong token", src_node);
        tp->stats.am_strangers++;
        tp->stats.am_dropped++;
        return;
    }
    if (msg.is_ack) {
        if (tp->peers[src_node].tells_unacked > 0) {
            tp->peers[src_node].tells_unacked--;
        }
        return;
    }
    lost = msg.lost;
    if (lost >= (uint32_t)tp->nnodes || (int)lost == tp->node || (int)lost == src_node) {
        tp->stats.am_dropped++;
        return;
    }
    tp->peers[src_node].saw_loss = 1;
    dsm_tp_peer_mark_lost_by(&tp->peers[lost], src_node);
    /*
     * Answer, from here as a round message is answered: the witness stops
     * only after this (dsm_tp_peers_handle_lost), since once it has exited
     * UCX here may fail its endpoint, and drop what is still unread on it,
     * before this handler runs. A witness already seen failing waits for no one.
     */
    if (!tp->peers[src_node].lost) {
        dsm_tp_am_lost_msg_init(tp, lost, 1, &msg);
        dsm_tp_am_post(tp, src_node, DSM_TP_AM_ID_LOST, &msg, sizeof(msg), NULL, 0, NULL,
                       NULL);
    }
}

void dsm_tp_am_lost_tell(dsm_tp_t *tp, int lost)
{
    dsm_tp_lost_msg_t msg;

    dsm_tp_am_lost_msg_init(tp, (uint32_t)lost, 0, &msg);
    /* Best effort: a node that misses it still sees the failure itself. */
    for (int i = 0; i < tp->nnodes; i++) {
        if (i != tp->node && !tp->peers[i].lost &&
            dsm_tp_am_post(tp, i, DSM_TP_AM_ID_LOST, &msg, sizeof(msg), NULL, 0, NULL,
                           NULL) >= 0) {
            tp->peers[i].tells_unacked++;
        }
    }
}

static int dsm_tp_am_round_done(const dsm_tp_t *tp, dsm_tp_round_t round)
{
    return tp->round_msgs[round] >= tp->nnodes && tp->round_acks[round] >= tp->nnodes &&
           tp->outstanding == 0;
}

dsm_status_t dsm_tp_am_round(dsm_tp_t *tp, dsm_tp_round_t round, int timeout_ms)
{
    dsm_tp_round_msg_t msg = { .round = (uint8_t)round, .is_ack = 0 };
    int waited_ms = 0;
    dsm_status_t status;

    for (int i = 0; i < tp->nnodes; i++) {
        status = dsm_tp_am_post(tp, i, DSM_TP_AM_ID_ROUND, &msg, sizeof(msg), NULL, 0, NULL,
                                NULL);
        if (status < 0) {
            return status;
        }
    }
    while (!dsm_tp_am_round_done(tp, round)) {
        for (int i = 0; i < tp->nnodes; i++) {
            if (tp->peers[i].lost) {
                return DSM_ERR_PEER_LOST;
            }
        }
        if (dsm_tp_wait(tp, 10) == DSM_ERR_TIMEOUT && (waited_ms += 10) >= timeout_ms) {
            dsm_error("transport: round %d: heard from %d, answered by %d of %d nodes, "
                      "%zu operations outstanding", (int)round, tp->round_msgs[round],
                      tp->round_acks[round], tp->nnodes, tp->outstanding);
            return DSM_ERR_TIMEOUT;
        }
    }
    return DSM_OK;
}

dsm_status_t dsm_tp_am_init(dsm_tp_t *tp)
{
    ucp_am_handler_param_t param = {0};
    ucs_status_t status;

    param.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_FLAGS |
                       UCP_AM_HANDLER_PARAM_FIELD_CB | UCP_AM_HANDLER_PARAM_FIELD_ARG;
    param.flags      = UCP_AM_FLAG_WHOLE_MSG;
    param.cb         = dsm_tp_am_arrived;
    for (unsigned id = 0; id < DSM_TP_AM_ID_ALL; id++) {
        tp->am[id].tp = tp;
        tp->am[id].id = id;
        param.id      = id;
        param.arg     = &tp->am[id];
        status = ucp_worker_set_am_recv_handler(tp->worker, &param);
        if (status != UCS_OK) {
            dsm_error("transport: AM handler for id %u: %s", id, ucs_status_string(status));
            return DSM_ERR_TRANSPORT;
        }
    }
    tp->am[DSM_TP_AM_ID_ROUND].handler = dsm_tp_am_round_arrived;
    tp->am[DSM_TP_AM_ID_ROUND].arg     = tp;
    tp->am[DSM_TP_AM_ID_LOST].handler  = dsm_tp_am_lost_arrived;
    tp->am[DSM_TP_AM_ID_LOST].arg      = tp;
    return DSM_OK;
}

dsm_status_t dsm_tp_am_register(dsm_tp_t *tp, unsigned id, dsm_tp_am_handler_t handler,
                                void *arg)
{
    if (id >= DSM_TP_AM_ID_COUNT) {
        dsm_error("transport: AM id %u out of range 0..%d", id, DSM_TP_AM_ID_COUNT - 1);
        return DSM_ERR_INVALID_PARAM;
    }
    tp->am[id].handler = handler;
    tp->am[id].arg     = arg;
    return DSM_OK;
}

static dsm_status_t dsm_tp_am_post(dsm_tp_t *tp, int dst, unsigned id, const void *header,
                                   size_t header_len, const void *data, size_t length,
                                   dsm_tp_complete_cb_t cb, void *arg)
{
    dsm_tp_am_prefix_t prefix = { .src_node = (uint32_t)tp->node };
    ucp_request_param_t param;
    ucp_ep_h ep;
    dsm_status_t status;
    dsm_tp_op_t *op;

    status = dsm_tp_op_begin(tp, dst, cb, arg, &param, &op);
    if (status != DSM_OK) {
        return status;
    }
    /* The receiver checks the endpoint a message arrives on (dsm_tp_am_arrived). */
    param.op_attr_mask |= UCP_OP_ATTR_FIELD_FLAGS;
    param.flags         = id == DSM_TP_AM_ID_LOST ? 0 : UCP_AM_SEND_FLAG_REPLY;
    memcpy(op->header.bytes, &prefix, sizeof(prefix));
    if (header_len > 0) {
        memcpy(op->header.bytes + sizeof(prefix), header, header_len);
    }
    ep = tp->peers[dst].ep;
    status = dsm_tp_op_started(tp, op,
                               ep == NULL ? DSM_TP_EP_CLOSED :
                               ucp_am_send_nbx(ep, id, op->header.bytes,
                                               sizeof(prefix) + header_len, data, length,
                                               &param),
                               "active message");
    if (status >= 0) {
        tp->stats.am_sent++;
    }
    return status;
}

dsm_status_t dsm_tp_am_send(dsm_tp_t *tp, int dst, unsigned id, const void *header,
                            size_t header_len, const void *data, size_t length,
                            dsm_tp_complete_cb_t cb, void *arg)
{
    if (id >= DSM_TP_AM_ID_COUNT || header_len > DSM_TP_AM_HEADER_MAX ||
        (header_len > 0 && header == NULL) || (length > 0 && data == NULL)) {
        return DSM_ERR_INVALID_PARAM;
    }
    return dsm_tp_am_post(tp, dst, id, header, header_len, data, length, cb, arg);
}
