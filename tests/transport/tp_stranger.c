/*
 * A stranger on the job's network (white-box: it gets node 0's worker address
 * from the transport's private state, as a process that reads it off the
 * bootstrap or scans UCX's ports would): a separate UCX context and worker in
 * node 0's process connect to node 0's worker and send well-formed messages
 * that claim to come from node 1, once with UCP_AM_SEND_FLAG_REPLY (UCX then
 * names the endpoint it made for the stranger) and once without. Node 0 must
 * drop and count both and never hand them to its handler; the job goes on:
 * node 1's own message arrives and a quiesce completes.
 */
#include <string.h>

#include "tp_test.h"
#include "tp_ucx.h"

#define AM_DATA    1
#define PAYLOAD    "claims to be node 1"

typedef struct {
    tp_test_job_t job;
    int           from[2];   /* messages handed over, by sender */
} stranger_job_t;

typedef struct {
    ucp_context_h context;
    ucp_worker_h  worker;
    ucp_ep_h      ep;
} stranger_t;

static void data_arrived(void *arg, int src_node, const void *header, size_t header_len,
                         const void *data, size_t length)
{
    stranger_job_t *sj = arg;

    (void)header;
    (void)header_len;
    (void)data;
    (void)length;
    if (src_node >= 0 && src_node < 2) {
        sj->from[src_node]++;
    }
}

/* A UCX context and worker of its own, connected to node 0's worker. */
static dsm_status_t stranger_connect(stranger_t *st, dsm_tp_t *tp)
{
    ucp_params_t params = { .field_mask = UCP_PARAM_FIELD_FEATURES, .features = UCP_FEATURE_AM };
    ucp_worker_params_t wparams = { .field_mask  = UCP_WORKER_PARAM_FIELD_THREAD_MODE,
                                    .thread_mode = UCS_THREAD_MODE_SINGLE };
    ucp_ep_params_t eparams = { .field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS };
    ucp_address_t *address;
    size_t length;
    ucs_status_t status;

    if (ucp_init(&params, NULL, &st->context) != UCS_OK) {
        return DSM_ERR_TRANSPORT;
    }
    if (ucp_worker_create(st->context, &wparams, &st->worker) != UCS_OK) {
        return DSM_ERR_TRANSPORT;
    }
    if (ucp_worker_get_address(tp->worker, &address, &length) != UCS_OK) {
        return DSM_ERR_TRANSPORT;
    }
    eparams.address = address;
    status = ucp_ep_create(st->worker, &eparams, &st->ep);
    ucp_worker_release_address(tp->worker, address);
    return status == UCS_OK ? DSM_OK : DSM_ERR_TRANSPORT;
}

/* Send one well-formed message claiming node 1; progress both until it left. */
static dsm_status_t stranger_send(stranger_t *st, dsm_tp_t *tp, uint32_t flags)
{
    unsigned char header[sizeof(dsm_tp_am_prefix_t) + 4] = {0};
    dsm_tp_am_prefix_t prefix = { .src_node = 1 };
    ucp_request_param_t param = { .op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS, .flags = flags };
    ucs_status_ptr_t request;
    int rounds = 0;

    memcpy(header, &prefix, sizeof(prefix));
    request = ucp_am_send_nbx(st->ep, AM_DATA, header, sizeof(header), PAYLOAD,
                              sizeof(PAYLOAD), &param);
    if (UCS_PTR_IS_ERR(request)) {
        return DSM_ERR_TRANSPORT;
    }
    while (request != NULL && ucp_request_check_status(request) == UCS_INPROGRESS) {
        ucp_worker_progress(st->worker);
        dsm_tp_progress(tp);
        if (++rounds > 10000000) {
            return DSM_ERR_TIMEOUT;
        }
    }
    if (request != NULL) {
        ucp_request_free(request);
    }
    return DSM_OK;
}

static void stranger_close(stranger_t *st)
{
    ucp_request_param_t param = { .op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
                                  .flags        = UCP_EP_CLOSE_FLAG_FORCE };
    ucs_status_ptr_t request;

    if (st->ep != NULL) {
        request = ucp_ep_close_nbx(st->ep, &param);
        while (request != NULL && !UCS_PTR_IS_ERR(request) &&
               ucp_request_check_status(request) == UCS_INPROGRESS) {
            ucp_worker_progress(st->worker);
        }
        if (request != NULL && !UCS_PTR_IS_ERR(request)) {
            ucp_request_free(request);
        }
    }
    if (st->worker != NULL) {
        ucp_worker_destroy(st->worker);
    }
    if (st->context != NULL) {
        ucp_cleanup(st->context);
    }
}

/* Progress node 0 until the stranger's messages were dropped (or handed over). */
static void wait_dropped(stranger_job_t *sj, uint64_t target)
{
    dsm_tp_stats_t stats;

    for (int waited = 0; waited < TP_TEST_WAIT_MS / 10; waited++) {
        dsm_tp_stats(sj->job.tp, &stats);
        if (stats.am_strangers >= target || sj->from[1] > 1) {
            return;
        }
        dsm_tp_wait(sj->job.tp, 10);
    }
}

static dsm_test_result_t node0(stranger_job_t *sj)
{
    stranger_t st = {0};
    dsm_tp_stats_t stats;

    DSM_CHECK(tp_test_wait_count(&sj->job, &sj->from[1], 1) == DSM_OK);
    DSM_CHECK(stranger_connect(&st, sj->job.tp) == DSM_OK);
    DSM_CHECK(stranger_send(&st, sj->job.tp, UCP_AM_SEND_FLAG_REPLY) == DSM_OK);
    DSM_CHECK(stranger_send(&st, sj->job.tp, 0) == DSM_OK);
    wait_dropped(sj, 2);
    stranger_close(&st);
    dsm_tp_stats(sj->job.tp, &stats);
    fprintf(stderr, "  node 0: %d messages handed over as node 1's, %llu strangers dropped\n",
            sj->from[1], (unsigned long long)stats.am_strangers);
    DSM_CHECKF(sj->from[1] == 1, "a stranger's message was handed over as node 1's");
    DSM_CHECK(stats.am_strangers == 2);
    DSM_CHECK(stats.am_dropped >= 2);
    return DSM_TEST_PASS;
}

static dsm_test_result_t test_stranger(void)
{
    stranger_job_t sj;
    dsm_test_result_t result = DSM_TEST_PASS;

    memset(&sj, 0, sizeof(sj));
    DSM_CHECK(tp_test_start(&sj.job) == DSM_OK);
    if (sj.job.nnodes != 2) {
        tp_test_finish(&sj.job);
        return dsm_test_skip("needs a job of exactly 2 nodes");
    }
    DSM_CHECK(dsm_tp_am_register(sj.job.tp, AM_DATA, data_arrived, &sj) == DSM_OK);
    DSM_CHECK(tp_test_connect(&sj.job) == DSM_OK);
    if (sj.job.node == 1) {
        DSM_CHECK(dsm_tp_am_send(sj.job.tp, 0, AM_DATA, NULL, 0, PAYLOAD, sizeof(PAYLOAD), NULL,
                                 NULL) >= 0);
    } else {
        result = node0(&sj);
    }
    /* The job is unaffected: both nodes still finish together. */
    DSM_CHECK(tp_test_quiesce(&sj.job) == DSM_OK);
    tp_test_finish(&sj.job);
    return result;
}

int main(int argc, char **argv)
{
    static const dsm_test_case_t cases[] = {
        { "stranger_claiming_node_1_dropped", NULL, test_stranger, 60 },
    };

    return dsm_test_main(argc, argv, cases, DSM_TEST_ARRAY_SIZE(cases));
}
