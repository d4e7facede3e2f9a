/*
 * transport/ core: configuration, UCX context and worker, endpoints to every
 * node, peer failure, operation contexts, shutdown.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "tp_ucx.h"

/* Connecting 8 nodes takes well under a second; a stuck peer must not hang us. */
#define DSM_TP_CONNECT_TIMEOUT_MS 30000
/*
 * Shutdown waits this long for the peers to reach it too (they may finish
 * later; a peer that dies meanwhile ends the wait at once), and then this
 * long for the endpoints to close.
 */
#define DSM_TP_BYE_TIMEOUT_MS   60000
#define DSM_TP_CLOSE_TIMEOUT_MS 10000

dsm_status_t dsm_tp_status_from_ucs(ucs_status_t status)
{
    switch (status) {
    case UCS_OK:
        return DSM_OK;
    case UCS_INPROGRESS:
        return DSM_INPROGRESS;
    case UCS_ERR_NO_MEMORY:
        return DSM_ERR_NO_MEMORY;
    case UCS_ERR_INVALID_PARAM:
        return DSM_ERR_INVALID_PARAM;
    case UCS_ERR_UNSUPPORTED:
        return DSM_ERR_UNSUPPORTED;
    case UCS_ERR_CANCELED:
        return DSM_ERR_CANCELED;
    case UCS_ERR_TIMED_OUT:
        return DSM_ERR_TIMEOUT;
    case UCS_ERR_ENDPOINT_TIMEOUT:
    case UCS_ERR_CONNECTION_RESET:
    case UCS_ERR_UNREACHABLE:
    case UCS_ERR_NOT_CONNECTED:
        return DSM_ERR_PEER_LOST;
    default:
        return DSM_ERR_TRANSPORT;
    }
}

dsm_status_t dsm_tp_peer_check(const dsm_tp_t *tp, int node)
{
    if (tp->peers == NULL || node < 0 || node >= tp->nnodes) {
        return DSM_ERR_INVALID_PARAM;
    }
    /* Until its loss is reported, an operation is tried and held if it fails. */
    return tp->peers[node].reported || (tp->peers[node].lost && tp->closing) ?
           DSM_ERR_PEER_LOST : DSM_OK;
}

/* ---- operation contexts -------------------------------------------------- */

void dsm_tp_op_put(dsm_tp_t *tp, dsm_tp_op_t *op)
{
    op->next_free = tp->free_ops;
    tp->free_ops  = op;
}

static dsm_tp_op_t **dsm_tp_op_list(dsm_tp_t *tp, int node)
{
    return node >= 0 ? &tp->peers[node].inflight : &tp->inflight_all;
}

static void dsm_tp_op_link(dsm_tp_t *tp, dsm_tp_op_t *op)
{
    dsm_tp_op_t **head = dsm_tp_op_list(tp, op->node);

    op->prev = NULL;
    op->next = *head;
    if (*head != NULL) {
        (*head)->prev = op;
    }
    *head = op;
    tp->outstanding++;
}

static void dsm_tp_op_unlink(dsm_tp_t *tp, dsm_tp_op_t *op)
{
    if (op->prev != NULL) {
        op->prev->next = op->next;
    } else {
        *dsm_tp_op_list(tp, op->node) = op->next;
    }
    if (op->next != NULL) {
        op->next->prev = op->prev;
    }
    tp->outstanding--;
}

/*
 * Nonzero if an operation towards node (-1: all) that failed with status is
 * to wait for a loss not yet reported: it completes with DSM_ERR_PEER_LOST
 * when the loss is reported, after progress took in what already arrived (a
 * witness's word, other failures), so that a user that stops on the failure
 * names the node that failed first (dsm_tp_peers_handle_lost). A failure
 * that means a lost peer counts even before the peer is known lost: UCX
 * fails an endpoint's requests before it calls the endpoint's error handler.
 */
static int dsm_tp_op_hold(dsm_tp_t *tp, int node, ucs_status_t status)
{
    /* Connecting and closing report no loss: nothing would release the op. */
    if (!tp->connected || tp->closing || (node >= 0 && tp->peers[node].reported)) {
        return 0;
    }
    if (dsm_tp_status_from_ucs(status) == DSM_ERR_PEER_LOST) {
        return 1;
    }
    return tp->lost_unreported > 0 && (node < 0 || tp->peers[node].lost);
}

static void dsm_tp_op_completed(void *request, ucs_status_t ucs_status, void *user_data)
{
    dsm_tp_op_t *op = user_data;
    dsm_tp_t *tp = op->tp;
    dsm_status_t status = dsm_tp_status_from_ucs(ucs_status);

    if (!op->orphan && status != DSM_OK && dsm_tp_op_hold(tp, op->node, ucs_status)) {
        op->held = 1; /* still linked: reported with the loss */
        ucp_request_free(request);
        return;
    }
    if (!op->orphan) {
        if (status != DSM_OK && op->node >= 0 && tp->peers[op->node].lost) {
            status = DSM_ERR_PEER_LOST;
        }
        dsm_tp_op_unlink(tp, op);
        if (op->cb != NULL) {
            op->cb(op->arg, status);
        }
    }
    dsm_tp_op_put(tp, op);
    ucp_request_free(request);
}

/*
 * Complete every operation of the list with DSM_ERR_PEER_LOST. UCX does not
 * always do it: an endpoint without error handling (same-host peers) keeps
 * no track of, e.g., a tcp get waiting for its reply. The operation stays
 * UCX's (its context is not reused) in case UCX completes it after all.
 */
static void dsm_tp_ops_orphan(dsm_tp_t *tp, dsm_tp_op_t **head)
{
    dsm_tp_op_t *op;

    while ((op = *head) != NULL) {
        dsm_tp_op_unlink(tp, op);
        op->orphan = 1;
        if (op->cb != NULL) {
            op->cb(op->arg, DSM_ERR_PEER_LOST);
        }
        if (op->held) {
            dsm_tp_op_put(tp, op);
        }
    }
}

dsm_status_t dsm_tp_op_begin(dsm_tp_t *tp, int node, dsm_tp_complete_cb_t cb, void *arg,
                             ucp_request_param_t *param_p, dsm_tp_op_t **op_p)
{
    dsm_tp_op_t *op = tp->free_ops;
    dsm_status_t status = node >= 0 ? dsm_tp_peer_check(tp, node) : DSM_OK;

    if (status != DSM_OK) {
        return status;
    }
    if (op != NULL) {
        tp->free_ops = op->next_free;
    } else if ((op = malloc(sizeof(*op))) == NULL) {
        dsm_error("transport: out of memory for an operation");
        return DSM_ERR_NO_MEMORY;
    }
    op->tp     = tp;
    op->cb     = cb;
    op->arg    = arg;
    op->node   = node;
    op->orphan = 0;
    op->held   = 0;
    memset(param_p, 0, sizeof(*param_p));
    param_p->op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
    param_p->cb.send      = dsm_tp_op_completed;
    param_p->user_data    = op;
    *op_p = op;
    return DSM_OK;
}

dsm_status_t dsm_tp_op_started(dsm_tp_t *tp, dsm_tp_op_t *op, ucs_status_ptr_t sp,
                               const char *what)
{
    dsm_status_t status;

    if (sp == NULL) {
        dsm_tp_op_put(tp, op);
        return DSM_OK;
    }
    if (UCS_PTR_IS_ERR(sp) && dsm_tp_op_hold(tp, op->node, UCS_PTR_STATUS(sp))) {
        dsm_debug("transport: %s to node %d failed: %s (held until the loss is reported)",
                  what, op->node, ucs_status_string(UCS_PTR_STATUS(sp)));
        op->held = 1;
        dsm_tp_op_link(tp, op);
        return DSM_INPROGRESS;
    }
    if (UCS_PTR_IS_ERR(sp)) {
        status = dsm_tp_status_from_ucs(UCS_PTR_STATUS(sp));
        if (op->node >= 0 && tp->peers[op->node].lost) {
            status = DSM_ERR_PEER_LOST;
        }
        dsm_error("transport: %s to node %d failed: %s", what, op->node,
                  ucs_status_string(UCS_PTR_STATUS(sp)));
        dsm_tp_op_put(tp, op);
        return status;
    }
    dsm_tp_op_link(tp, op);
    return DSM_INPROGRESS;
}

/* ---- context and worker -------------------------------------------------- */

static dsm_status_t dsm_tp_context_create(dsm_tp_t *tp)
{
    ucp_params_t params = {0};
    ucp_config_t *config;
    ucs_status_t status;
    dsm_status_t dsm_status;

    status = ucp_config_read(NULL, NULL, &config);
    if (status != UCS_OK) {
        dsm_error("transport: reading the UCX configuration: %s", ucs_status_string(status));
        return DSM_ERR_TRANSPORT;
    }
    dsm_status = dsm_tp_config_apply(tp, config);
    if (dsm_status != DSM_OK) {
        ucp_config_release(config);
        return dsm_status;
    }
    params.field_mask        = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_ESTIMATED_NUM_EPS |
                               UCP_PARAM_FIELD_NAME;
    params.features          = UCP_FEATURE_AM | UCP_FEATURE_RMA | UCP_FEATURE_WAKEUP;
    params.estimated_num_eps = (size_t)tp->nnodes;
    params.name              = "dsm";
    status = ucp_init(&params, config, &tp->context);
    ucp_config_release(config);
    if (status != UCS_OK) {
        dsm_error("transport: ucp_init: %s", ucs_status_string(status));
        return DSM_ERR_TRANSPORT;
    }
    return DSM_OK;
}

static dsm_status_t dsm_tp_worker_create(dsm_tp_t *tp)
{
    ucp_worker_params_t params = {0};
    ucs_status_t status;

    /* One thread drives the worker (see dsm_tp.h), so UCX needs no locks. */
    params.field_mask  = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
    params.thread_mode = UCS_THREAD_MODE_SINGLE;
    status = ucp_worker_create(tp->context, &params, &tp->worker);
    if (status != UCS_OK) {
        dsm_error("transport: ucp_worker_create: %s", ucs_status_string(status));
        return DSM_ERR_TRANSPORT;
    }
    status = ucp_worker_get_efd(tp->worker, &tp->ucx_fd);
    if (status != UCS_OK) {
        dsm_error("transport: ucp_worker_get_efd: %s", ucs_status_string(status));
        ucp_worker_destroy(tp->worker);
        return DSM_ERR_TRANSPORT;
    }
    return DSM_OK;
}

/*
 * RDMA registration pins memory, and pinned memory counts against
 * RLIMIT_MEMLOCK: raise the soft limit to the hard one, as MPI libraries do.
 * When it stays finite, say so once: over verbs a registration beyond it fails
 * deep inside UCX ("Cannot allocate memory"), long after start-up.
 */
static void dsm_tp_memlock_raise(void)
{
    struct rlimit limit;

    if (getrlimit(RLIMIT_MEMLOCK, &limit) != 0) {
        return;
    }
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_MEMLOCK, &limit) != 0) {
            dsm_debug("transport: raising RLIMIT_MEMLOCK to its hard limit: %m");
        }
    }
    if (limit.rlim_cur != RLIM_INFINITY) {
        dsm_info("transport: locked memory is limited to %llu KiB (ulimit -l): RDMA "
                 "registration of backing and staging memory needs it unlimited or large "
                 "(docs/rdma.md)", (unsigned long long)(limit.rlim_cur / 1024));
    }
}

/*
 * Collective: every node's identity, before UCX is configured (which
 * listeners to open depends on where the nodes are).
 */
static dsm_status_t dsm_tp_identities_exchange(dsm_tp_t *tp)
{
    dsm_boot_gathered_t gathered;
    dsm_tp_identity_t mine;
    dsm_status_t status;

    status = dsm_tp_identity_get(&mine);
    if (status != DSM_OK) {
        return status;
    }
    status = dsm_boot_allgather(tp->boot, &mine, sizeof(mine), &gathered);
    if (status != DSM_OK) {
        dsm_error("transport: identity exchange: %s", dsm_strerror(status));
        return status;
    }
    tp->identities = calloc((size_t)tp->nnodes, sizeof(*tp->identities));
    if (tp->identities == NULL) {
        dsm_error("transport: out of memory for %d identities", tp->nnodes);
        status = DSM_ERR_NO_MEMORY;
    }
    for (int i = 0; status == DSM_OK && i < tp->nnodes; i++) {
        if (i >= gathered.count || gathered.sizes[i] != sizeof(mine)) {
            dsm_error("transport: node %d published a malformed identity", i);
            status = DSM_ERR_MALFORMED;
        } else {
            memcpy(&tp->identities[i], gathered.blobs[i], sizeof(mine));
        }
    }
    dsm_boot_gathered_free(&gathered);
    return status;
}

dsm_status_t dsm_tp_create(dsm_boot_t *boot, const dsm_tp_config_t *config,
                           dsm_tp_t **tp_p)
{
    dsm_status_t status;
    dsm_tp_t *tp;

    if (boot == NULL || config == NULL) {
        return DSM_ERR_INVALID_PARAM;
    }
    tp = calloc(1, sizeof(*tp));
    if (tp == NULL) {
        dsm_error("transport: out of memory");
        return DSM_ERR_NO_MEMORY;
    }
    tp->boot   = boot;
    tp->config = *config;
    tp->node   = dsm_boot_rank(boot);
    tp->nnodes = dsm_boot_size(boot);
    tp->live_fd  = -1;
    tp->event_fd = -1;
    status = dsm_tp_identities_exchange(tp);
    if (status != DSM_OK) {
        goto err_free;
    }
    dsm_tp_memlock_raise();
    status = dsm_tp_context_create(tp);
    if (status != DSM_OK) {
        goto err_free;
    }
    status = dsm_tp_worker_create(tp);
    if (status != DSM_OK) {
        goto err_cleanup;
    }
    status = dsm_tp_am_init(tp);
    if (status != DSM_OK) {
        goto err_worker;
    }
    status = dsm_tp_live_init(tp);
    if (status != DSM_OK) {
        goto err_worker;
    }
    *tp_p = tp;
    return DSM_OK;

err_worker:
    ucp_worker_destroy(tp->worker);
err_cleanup:
    ucp_cleanup(tp->context);
err_free:
    free(tp->identities);
    free(tp);
    return status;
}

/* ---- endpoints and peer failure ------------------------------------------ */

/* Nonzero if peer is newly lost and to be reported (not while closing). */
static int dsm_tp_peer_set_lost(dsm_tp_peer_t *peer, int witness, const char *why)
{
    dsm_tp_t *tp = peer->tp;

    if (peer->lost) {
        return 0;
    }
    peer->lost     = 1;
    peer->witness  = witness;
    peer->lost_seq = tp->lost_seq++;
    if (tp->closing) {
        dsm_debug("transport: node %d left first: %s", peer->node, why);
        return 0;
    }
    tp->stats.peers_lost++;
    tp->lost_unreported++;
    return 1;
}

void dsm_tp_peer_mark_lost(dsm_tp_peer_t *peer, const char *why)
{
    if (dsm_tp_peer_set_lost(peer, -1, why)) {
        dsm_error("transport: node %d lost: %s", peer->node, why);
    }
}

void dsm_tp_peer_mark_lost_by(dsm_tp_peer_t *peer, int witness)
{
    if (dsm_tp_peer_set_lost(peer, witness, "a witness saw it fail")) {
        dsm_error("transport: node %d lost: node %d saw it fail", peer->node, witness);
    }
}

/*
 * UCX calls this from progress when the connection to a peer failed. Only
 * record it: closing the endpoint and calling the user back happen in
 * dsm_tp_peers_handle_lost, outside UCX's error path.
 */
static void dsm_tp_peer_failed(void *arg, ucp_ep_h ep, ucs_status_t status)
{
    (void)ep;
    dsm_tp_peer_mark_lost(arg, ucs_status_string(status));
}

/*
 * Before reporting a loss, at most this many more progress calls take in
 * what already arrived (a witness's word, other failures): which failure a
 * node handles first is a race between its sockets, and the first report is
 * the one a user that stops at once names.
 */
#define DSM_TP_LOSS_DRAIN_MAX 64

/*
 * Before reporting a loss, wait at most this long for every live node told
 * of it to answer that it took the word in. That the word left is not
 * enough: the user may stop the process at once, its kernel then resets the
 * connections that hold unread data, and a survivor that was not running
 * meanwhile (more nodes than CPUs) fails a send on one of them before it
 * reads what came in; UCX fails the whole endpoint and closes its sockets
 * with the word still unread, and the survivor sees the witness fail without
 * it. The bound only matters when a node does not progress.
 */
#define DSM_TP_LOSS_ACK_MS 200

/*
 * Force-close the endpoints of lost peers: UCX completes what was in flight
 * on them (held until reported), and stops serving them (UCX 1.13 aborts the
 * process when it cannot answer a tcp get from a failed peer).
 */
static void dsm_tp_eps_close_lost(dsm_tp_t *tp)
{
    ucp_request_param_t param = {0};

    param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    param.flags        = UCP_EP_CLOSE_FLAG_FORCE;
    for (int i = 0; i < tp->nnodes; i++) {
        dsm_tp_peer_t *peer = &tp->peers[i];

        if (peer->lost && peer->ep != NULL && !tp->closing) {
            peer->close_req = ucp_ep_close_nbx(peer->ep, &param);
            peer->ep = NULL;
            if (UCS_PTR_IS_ERR(peer->close_req)) {
                peer->close_req = NULL; /* a forced close releases the ep even so */
            }
        }
    }
}

/* Fail what was in flight to a lost peer and report it. */
static void dsm_tp_peer_report_lost(dsm_tp_t *tp, dsm_tp_peer_t *peer)
{
    peer->reported = 1;
    tp->lost_unreported--;
    dsm_tp_ops_orphan(tp, &peer->inflight);
    /* A flush of all can no longer complete everything it covers. */
    dsm_tp_ops_orphan(tp, &tp->inflight_all);
    if (tp->config.peer_lost != NULL) {
        tp->config.peer_lost(tp->config.peer_lost_arg, peer->node);
    }
}

/*
 * In which order newly lost peers are reported: a node a witness told us
 * about failed before the witness could tell (0); then failures seen here
 * (1); last, nodes that had told us of a loss (2): they stop because of it
 * (the runtime does), so their failure is a consequence. Within a class, in
 * the order the failures were seen. A user that stops at the first report
 * then names the node that failed, not a survivor that stopped because of it.
 */
static unsigned dsm_tp_peer_report_key(const dsm_tp_peer_t *peer)
{
    unsigned class = peer->saw_loss ? 2 : peer->witness >= 0 ? 0 : 1;

    return class << 24 | (peer->lost_seq & 0xffffff);
}

/* The unreported lost peer to report next, or NULL. */
static dsm_tp_peer_t *dsm_tp_peer_next_lost(dsm_tp_t *tp)
{
    dsm_tp_peer_t *next = NULL;

    for (int i = 0; i < tp->nnodes; i++) {
        dsm_tp_peer_t *peer = &tp->peers[i];

        if (peer->lost && !peer->reported &&
            (next == NULL || dsm_tp_peer_report_key(peer) < dsm_tp_peer_report_key(next))) {
            next = peer;
        }
    }
    return next;
}

/* Nonzero if peer is live and has not answered a loss notice of ours. */
static int dsm_tp_peer_unacked(const dsm_tp_peer_t *peer)
{
    return peer->tells_unacked > 0 && !peer->lost;
}

static int dsm_tp_peers_unacked(const dsm_tp_t *tp)
{
    for (int i = 0; i < tp->nnodes; i++) {
        if (dsm_tp_peer_unacked(&tp->peers[i])) {
            return 1;
        }
    }
    return 0;
}

/*
 * Progress until every live peer answered our loss notices or failed, for
 * at most DSM_TP_LOSS_ACK_MS; dsm_tp_wait sleeps between events, so that a
 * node that needs this CPU to answer gets it.
 */
static void dsm_tp_peers_wait_acks(dsm_tp_t *tp)
{
    uint64_t end_ns = dsm_now_ns() + (uint64_t)DSM_TP_LOSS_ACK_MS * 1000000;
    uint64_t now_ns;
    dsm_status_t status;

    while (dsm_tp_peers_unacked(tp) && (now_ns = dsm_now_ns()) < end_ns) {
        status = dsm_tp_wait(tp, (int)((end_ns - now_ns + 999999) / 1000000));
        if (status < 0 && status != DSM_ERR_TIMEOUT) {
            break; /* logged by dsm_tp_wait */
        }
    }
    for (int i = 0; i < tp->nnodes; i++) {
        if (dsm_tp_peer_unacked(&tp->peers[i])) {
            dsm_warn("transport: node %d did not answer a loss notice within %d ms",
                     i, DSM_TP_LOSS_ACK_MS);
        }
    }
}

/*
 * Report newly lost peers (from progress, outside UCX's callbacks). Before
 * (the user may stop at once), tell the other nodes about each, unless it is
 * a consequence as above, and wait until they have taken the word in.
 */
int dsm_tp_peers_handle_lost(dsm_tp_t *tp)
{
    dsm_tp_peer_t *peer;
    int handled = 0;

    if (tp->lost_handling) {
        return 0; /* progress from the wait below: reported when it ends */
    }
    tp->lost_handling = 1;
    for (int i = 0; i < DSM_TP_LOSS_DRAIN_MAX && ucp_worker_progress(tp->worker) != 0; i++) {
    }
    dsm_tp_live_check(tp);
    dsm_tp_eps_close_lost(tp);
    for (int i = 0; i < tp->nnodes; i++) {
        peer = &tp->peers[i];
        if (peer->lost && !peer->reported && !peer->saw_loss) {
            dsm_tp_am_lost_tell(tp, i);
        }
    }
    dsm_tp_peers_wait_acks(tp);
    dsm_tp_eps_close_lost(tp); /* those lost while waiting */
    tp->lost_handling = 0;
    while (tp->lost_unreported > 0 && (peer = dsm_tp_peer_next_lost(tp)) != NULL) {
        dsm_tp_peer_report_lost(tp, peer);
        handled = 1;
    }
    return handled;
}

/*
 * Same-host peers (and self) are reached without UCX error handling, which
 * UCX 1.13's shared-memory transports lack, and watched by pidfd instead;
 * other peers get UCX's peer error handling and keepalive (tp_live.c).
 */
static dsm_status_t dsm_tp_ep_create(dsm_tp_t *tp, dsm_tp_peer_t *peer, const void *address)
{
    const dsm_tp_identity_t *theirs = &tp->identities[peer->node];
    ucp_ep_params_t params = {0};
    ucs_status_t status;
    int local;

    local = dsm_tp_identity_same_host(&tp->identities[tp->node], theirs);
    peer->same_host = local;
    params.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE;
    params.address    = address;
    params.err_mode   = local ? UCP_ERR_HANDLING_MODE_NONE : UCP_ERR_HANDLING_MODE_PEER;
    if (!local) {
        params.field_mask     |= UCP_EP_PARAM_FIELD_ERR_HANDLER;
        params.err_handler.cb  = dsm_tp_peer_failed;
        params.err_handler.arg = peer;
    }
    status = ucp_ep_create(tp->worker, &params, &peer->ep);
    if (status != UCS_OK) {
        dsm_error("transport: endpoint to node %d: %s", peer->node, ucs_status_string(status));
        return DSM_ERR_TRANSPORT;
    }
    dsm_debug("transport: node %d is %s", peer->node, local ? "on this host (pidfd watch)" :
              "remote (UCX peer error handling)");
    if (local && peer->node != tp->node) {
        return dsm_tp_live_watch(tp, peer, theirs->pid);
    }
    return DSM_OK;
}

static dsm_status_t dsm_tp_eps_create(dsm_tp_t *tp, const dsm_boot_gathered_t *blobs)
{
    dsm_status_t status;

    for (int i = 0; i < tp->nnodes; i++) {
        tp->peers[i].tp    = tp;
        tp->peers[i].node  = i;
        tp->peers[i].pidfd   = -1;
        tp->peers[i].witness = -1;
    }
    for (int i = 0; i < tp->nnodes; i++) {
        if (blobs->sizes[i] == 0) {
            dsm_error("transport: node %d published a malformed address", i);
            return DSM_ERR_MALFORMED;
        }
        status = dsm_tp_ep_create(tp, &tp->peers[i], blobs->blobs[i]);
        if (status != DSM_OK) {
            return status;
        }
    }
    return DSM_OK;
}

static void dsm_tp_eps_log(dsm_tp_t *tp)
{
    char *text;
    size_t size;
    FILE *stream;

    if (dsm_log_level() < DSM_LOG_LEVEL_INFO) {
        return;
    }
    for (int i = 0; i < tp->nnodes; i++) {
        stream = open_memstream(&text, &size);
        if (stream == NULL) {
            return;
        }
        dsm_tp_peer_print_info(tp, i, stream);
        fclose(stream);
        dsm_info("transport: endpoint to node %d:\n%s", i, text);
        free(text);
    }
}

dsm_status_t dsm_tp_peer_print_info(dsm_tp_t *tp, int node, FILE *stream)
{
    dsm_status_t status = dsm_tp_peer_check(tp, node);

    if (status != DSM_OK) {
        return status;
    }
    if (tp->peers[node].ep == NULL) {
        return DSM_ERR_PEER_LOST;
    }
    ucp_ep_print_info(tp->peers[node].ep, stream);
    return DSM_OK;
}

/* Exchange worker addresses; blobs_p holds one per node. */
static dsm_status_t dsm_tp_addresses_exchange(dsm_tp_t *tp, dsm_boot_gathered_t *blobs_p)
{
    ucp_address_t *address;
    size_t length;
    ucs_status_t ucs_status;
    dsm_status_t status;

    ucs_status = ucp_worker_get_address(tp->worker, &address, &length);
    if (ucs_status != UCS_OK) {
        dsm_error("transport: ucp_worker_get_address: %s", ucs_status_string(ucs_status));
        return DSM_ERR_TRANSPORT;
    }
    status = dsm_boot_allgather(tp->boot, address, length, blobs_p);
    ucp_worker_release_address(tp->worker, address);
    if (status != DSM_OK) {
        dsm_error("transport: worker address exchange: %s", dsm_strerror(status));
        return status;
    }
    if (blobs_p->count != tp->nnodes) {
        dsm_error("transport: address exchange returned %d addresses for %d nodes",
                  blobs_p->count, tp->nnodes);
        dsm_boot_gathered_free(blobs_p);
        return DSM_ERR_BOOTSTRAP;
    }
    return DSM_OK;
}

dsm_status_t dsm_tp_connect(dsm_tp_t *tp)
{
    dsm_boot_gathered_t addresses;
    dsm_status_t status;

    if (tp->peers != NULL) {
        return DSM_ERR_STATE;
    }
    status = dsm_tp_addresses_exchange(tp, &addresses);
    if (status != DSM_OK) {
        return status;
    }
    tp->peers = calloc((size_t)tp->nnodes, sizeof(*tp->peers));
    if (tp->peers == NULL) {
        dsm_error("transport: out of memory for %d peers", tp->nnodes);
        dsm_boot_gathered_free(&addresses);
        return DSM_ERR_NO_MEMORY;
    }
    status = dsm_tp_eps_create(tp, &addresses);
    dsm_boot_gathered_free(&addresses);
    /* UCX connects lazily: a round wires every endpoint up (and its keepalive). */
    if (status == DSM_OK) {
        status = dsm_tp_am_round(tp, DSM_TP_ROUND_HELLO, DSM_TP_CONNECT_TIMEOUT_MS);
    }
    if (status != DSM_OK) {
        return status; /* dsm_tp_destroy closes what was opened */
    }
    dsm_tp_eps_log(tp);
    tp->connected = 1;
    dsm_debug("transport: connected to %d nodes", tp->nnodes);
    return DSM_OK;
}

/* ---- shutdown -------------------------------------------------------------- */

static int dsm_tp_any_lost(const dsm_tp_t *tp)
{
    for (int i = 0; i < tp->nnodes; i++) {
        if (tp->peers[i].lost) {
            return 1;
        }
    }
    return 0;
}

/* Close every endpoint and wait (bounded) for the closes. */
static void dsm_tp_eps_close(dsm_tp_t *tp)
{
    ucp_request_param_t param = {0};
    int waited_ms = 0;
    int pending;

    param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    param.flags        = UCP_EP_CLOSE_FLAG_FORCE;
    for (int i = 0; i < tp->nnodes; i++) {
        if (tp->peers[i].ep != NULL) {
            tp->peers[i].close_req = ucp_ep_close_nbx(tp->peers[i].ep, &param);
            tp->peers[i].ep = NULL;
        }
    }
    do {
        pending = 0;
        for (int i = 0; i < tp->nnodes; i++) {
            void *req = tp->peers[i].close_req;

            if (req == NULL || UCS_PTR_IS_ERR(req)) {
                tp->peers[i].close_req = NULL;
            } else if (ucp_request_check_status(req) != UCS_INPROGRESS) {
                ucp_request_free(req);
                tp->peers[i].close_req = NULL;
            } else {
                pending++;
            }
        }
        if (pending > 0 && dsm_tp_wait(tp, 10) == DSM_ERR_TIMEOUT) {
            waited_ms += 10;
        }
    } while (pending > 0 && waited_ms < DSM_TP_CLOSE_TIMEOUT_MS);
    if (pending > 0) {
        dsm_warn("transport: %d endpoints did not close in time", pending);
    }
}

/*
 * Graceful shutdown is the bye round: when it ends, every node has finished
 * its operations and needs nothing more from anyone, so every endpoint can be
 * closed at once, without a bootstrap barrier (a close that waits for its
 * peer could wait for one that is already gone). With a lost node there is
 * no round: the survivors close by force and leave.
 */
static void dsm_tp_disconnect(dsm_tp_t *tp)
{
    tp->closing = 1; /* from here a peer that leaves first is no failure */
    /* Only a completed connect has an endpoint to every node for the round. */
    if (tp->connected && !dsm_tp_any_lost(tp)) {
        dsm_tp_am_round(tp, DSM_TP_ROUND_BYE, DSM_TP_BYE_TIMEOUT_MS);
    }
    dsm_tp_eps_close(tp);
}

void dsm_tp_destroy(dsm_tp_t *tp)
{
    dsm_tp_op_t *op;

    if (tp == NULL) {
        return;
    }
    if (tp->peers != NULL) {
        dsm_tp_disconnect(tp);
    }
    if (tp->outstanding > 0) {
        dsm_warn("transport: %zu operations still outstanding at shutdown", tp->outstanding);
    }
    dsm_tp_live_fini(tp);
    ucp_worker_destroy(tp->worker);
    ucp_cleanup(tp->context);
    while ((op = tp->free_ops) != NULL) {
        tp->free_ops = op->next_free;
        free(op);
    }
    free(tp->peers);
    free(tp->identities);
    free(tp);
}

/* ---- accessors ----------------------------------------------------------- */

int dsm_tp_node(const dsm_tp_t *tp)
{
    return tp->node;
}

int dsm_tp_nnodes(const dsm_tp_t *tp)
{
    return tp->nnodes;
}

int dsm_tp_peer_is_lost(const dsm_tp_t *tp, int node)
{
    return tp->peers != NULL && node >= 0 && node < tp->nnodes && tp->peers[node].lost;
}

int dsm_tp_peer_pidfd(const dsm_tp_t *tp, int node)
{
    return tp->peers != NULL && node >= 0 && node < tp->nnodes && node != tp->node
               ? tp->peers[node].pidfd
               : -1;
}

int dsm_tp_shares_memory(const dsm_tp_t *tp)
{
    return dsm_tp_tls_shares_memory(tp->config.tls);
}

int dsm_tp_nodes_on_this_host(const dsm_tp_t *tp)
{
    int count = 0;

    for (int node = 0; tp->peers != NULL && node < tp->nnodes; node++) {
        count += tp->peers[node].same_host;
    }
    return count;
}

void dsm_tp_stats(const dsm_tp_t *tp, dsm_tp_stats_t *stats_p)
{
    *stats_p = tp->stats;
}
