/* Helpers shared by the transport test programs (see tp_test.h). */
#include <stdio.h>
#include <string.h>

#include "dsm_rt.h"
#include "tp_test.h"

static void tp_test_peer_lost(void *arg, int node)
{
    tp_test_job_t *job = arg;

    job->lost_count++;
    job->lost_node = node;
}

static void tp_test_quiesce_arrived(void *arg, int src_node, const void *header,
                                    size_t header_len, const void *data, size_t length)
{
    tp_test_job_t *job = arg;
    uint32_t epoch;

    (void)src_node;
    (void)data;
    (void)length;
    if (header_len != sizeof(epoch)) {
        fprintf(stderr, "  quiesce message with a %zu-byte header\n", header_len);
        return;
    }
    memcpy(&epoch, header, sizeof(epoch));
    job->quiesce_seen[epoch & 1]++;
}

dsm_status_t tp_test_start(tp_test_job_t *job)
{
    dsm_tp_config_t config = {0};
    dsm_rt_config_t rt_config;
    dsm_status_t status;

    memset(job, 0, sizeof(*job));
    job->lost_node = -1;
    /* DSM_SPIN_US is parsed by the runtime's table, as in a real job. */
    status = dsm_rt_config_load(NULL, &rt_config);
    if (status != DSM_OK) {
        return status;
    }
    config.spin_us       = rt_config.spin_us;
    config.peer_lost     = tp_test_peer_lost;
    config.peer_lost_arg = job;
    status = dsm_boot_init(&job->boot);
    if (status != DSM_OK) {
        fprintf(stderr, "  bootstrap: %s\n", dsm_strerror(status));
        return status;
    }
    job->node   = dsm_boot_rank(job->boot);
    job->nnodes = dsm_boot_size(job->boot);
    dsm_log_set_node(job->node);
    status = dsm_tp_create(job->boot, &config, &job->tp);
    if (status != DSM_OK) {
        fprintf(stderr, "  transport: %s\n", dsm_strerror(status));
        dsm_boot_fini(job->boot);
        return status;
    }
    return dsm_tp_am_register(job->tp, TP_TEST_AM_QUIESCE, tp_test_quiesce_arrived, job);
}

dsm_status_t tp_test_connect(tp_test_job_t *job)
{
    dsm_status_t status = dsm_tp_connect(job->tp);

    if (status != DSM_OK) {
        fprintf(stderr, "  node %d: connect: %s\n", job->node, dsm_strerror(status));
    }
    return status;
}

dsm_status_t tp_test_wait_count(tp_test_job_t *job, const int *flag, int target)
{
    int waited_ms = 0;

    while (*flag < target) {
        if (dsm_tp_wait(job->tp, 100) == DSM_ERR_TIMEOUT) {
            waited_ms += 100;
            if (waited_ms >= TP_TEST_WAIT_MS) {
                fprintf(stderr, "  node %d: still %d of %d after %d ms\n", job->node, *flag,
                        target, waited_ms);
                return DSM_ERR_TIMEOUT;
            }
        }
    }
    return DSM_OK;
}

static int tp_test_lost_count(const tp_test_job_t *job)
{
    int lost = 0;

    for (int i = 0; i < job->nnodes; i++) {
        lost += dsm_tp_peer_is_lost(job->tp, i);
    }
    return lost;
}

dsm_status_t tp_test_quiesce(tp_test_job_t *job)
{
    uint32_t epoch = (uint32_t)job->quiesce_epoch++;
    int *seen = &job->quiesce_seen[epoch & 1];
    int waited_ms = 0;
    dsm_status_t status;

    for (int i = 0; i < job->nnodes; i++) {
        if (dsm_tp_peer_is_lost(job->tp, i)) {
            continue;
        }
        status = dsm_tp_am_send(job->tp, i, TP_TEST_AM_QUIESCE, &epoch, sizeof(epoch), NULL, 0,
                                NULL, NULL);
        if (status < 0) {
            fprintf(stderr, "  node %d: quiesce to %d: %s\n", job->node, i,
                    dsm_strerror(status));
            return status;
        }
    }
    /* A node lost meanwhile will not say it is done (its word may be lost too). */
    while (*seen + tp_test_lost_count(job) < job->nnodes) {
        if (dsm_tp_wait(job->tp, 100) == DSM_ERR_TIMEOUT && (waited_ms += 100) >= TP_TEST_WAIT_MS) {
            fprintf(stderr, "  node %d: quiesce heard %d of %d nodes after %d ms\n", job->node,
                    *seen, job->nnodes, waited_ms);
            return DSM_ERR_TIMEOUT;
        }
    }
    *seen = 0;
    return DSM_OK;
}

void tp_test_finish(tp_test_job_t *job)
{
    dsm_tp_destroy(job->tp);
    dsm_boot_fini(job->boot);
    job->tp   = NULL;
    job->boot = NULL;
}

/* A byte stream that differs with seed and position (not a repeating byte). */
static uint8_t tp_test_byte(size_t i, uint32_t seed)
{
    uint32_t x = (uint32_t)i * 2654435761u + seed * 40503u + (uint32_t)(i >> 12);

    return (uint8_t)(x >> 13);
}

void tp_test_fill(void *buf, size_t length, uint32_t seed)
{
    uint8_t *bytes = buf;

    for (size_t i = 0; i < length; i++) {
        bytes[i] = tp_test_byte(i, seed);
    }
}

long tp_test_check_at(const void *buf, size_t length, uint32_t seed, size_t start)
{
    const uint8_t *bytes = buf;

    for (size_t i = 0; i < length; i++) {
        if (bytes[i] != tp_test_byte(start + i, seed)) {
            return (long)i;
        }
    }
    return -1;
}
