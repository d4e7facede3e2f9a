/*
 * RMA against registered memory. Every node registers a UCX-allocated region
 * (the backing-store case): a "get" part filled with its own pattern and one
 * "put" slot per node. Cases:
 *  - get: every node reads every node's get part in 4 KiB, 64 KiB and whole
 *    blocks, into a registered staging buffer (caller memory) and into plain
 *    memory, and checks the bytes;
 *  - concurrent gets: all nodes read node 0's region at once, 64 gets in flight each;
 *  - put: every node writes its slot at every node, flushes that peer, and only
 *    then tells it by an active message (RMA is not ordered with AM); the
 *    receiver checks every slot once every node has told it;
 *  - bounds: an access past the end of a region is refused.
 */
#include <stdlib.h>
#include <string.h>

#include "tp_test.h"

#define GET_PART   (256u * 1024u)
#define SLOT       (64u * 1024u)
#define AM_WRITTEN 1
#define INFLIGHT   64

typedef struct {
    tp_test_job_t  job;
    dsm_tp_mem_t  *backing;
    dsm_tp_rmem_t *rmem;
    int            completed;
    int            failed;
    int            written;
} rma_t;

static uint32_t get_seed(int node)
{
    return 7000u + (uint32_t)node;
}

static uint32_t put_seed(int writer, int target)
{
    return 9000u + (uint32_t)writer * 100u + (uint32_t)target;
}

static void op_done(void *arg, dsm_status_t status)
{
    rma_t *rma = arg;

    if (status != DSM_OK) {
        fprintf(stderr, "  node %d: RMA completed with %s\n", rma->job.node,
                dsm_strerror(status));
        rma->failed++;
    }
    rma->completed++;
}

/* Account for a started operation: immediate completion counts at once. */
static int op_started(rma_t *rma, dsm_status_t status)
{
    if (status == DSM_OK) {
        rma->completed++;
    }
    return status >= 0;
}

static void written_arrived(void *arg, int src_node, const void *header, size_t header_len,
                            const void *data, size_t length)
{
    rma_t *rma = arg;

    (void)src_node;
    (void)header;
    (void)header_len;
    (void)data;
    (void)length;
    rma->written++;
}

static dsm_test_result_t rma_setup(rma_t *rma)
{
    memset(rma, 0, sizeof(*rma));
    DSM_CHECK(tp_test_start(&rma->job) == DSM_OK);
    DSM_CHECK(dsm_tp_am_register(rma->job.tp, AM_WRITTEN, written_arrived, rma) == DSM_OK);
    DSM_CHECK(tp_test_connect(&rma->job) == DSM_OK);
    DSM_CHECK(dsm_tp_mem_map(rma->job.tp, NULL, GET_PART + (size_t)rma->job.nnodes * SLOT,
                             &rma->backing) == DSM_OK);
    tp_test_fill(dsm_tp_mem_address(rma->backing), GET_PART, get_seed(rma->job.node));
    DSM_CHECK(dsm_tp_rmem_exchange(rma->job.tp, rma->backing, &rma->rmem) == DSM_OK);
    return DSM_TEST_PASS;
}

static dsm_test_result_t rma_teardown(rma_t *rma)
{
    DSM_CHECK(tp_test_quiesce(&rma->job) == DSM_OK);
    dsm_tp_rmem_free(rma->rmem);
    dsm_tp_mem_unmap(rma->backing);
    tp_test_finish(&rma->job);
    return DSM_TEST_PASS;
}

/* Get node's whole get part in blocks of block bytes into buf and check it. */
static dsm_test_result_t get_blocks(rma_t *rma, int node, size_t block, void *buf,
                                    const dsm_tp_mem_t *buf_mem)
{
    int target = rma->completed + (int)(GET_PART / block);
    long bad;

    memset(buf, 0, GET_PART);
    for (size_t off = 0; off < GET_PART; off += block) {
        DSM_CHECK(op_started(rma, dsm_tp_get(rma->job.tp, rma->rmem, node, off,
                                             (char *)buf + off, block, buf_mem, op_done, rma)));
    }
    DSM_CHECK(tp_test_wait_count(&rma->job, &rma->completed, target) == DSM_OK);
    DSM_CHECK(rma->failed == 0);
    bad = tp_test_check(buf, GET_PART, get_seed(node));
    DSM_CHECKF(bad < 0, "node %d's bytes (blocks of %zu) differ at %ld", node, block, bad);
    return DSM_TEST_PASS;
}

static dsm_test_result_t test_get(void)
{
    static const size_t blocks[] = { 4096, 65536, GET_PART };
    dsm_tp_mem_t *staging_mem;
    void *staging, *plain;
    rma_t rma;

    DSM_CHECK(rma_setup(&rma) == DSM_TEST_PASS);
    staging = aligned_alloc(4096, GET_PART);
    plain = malloc(GET_PART);
    DSM_CHECK(staging != NULL && plain != NULL);
    DSM_CHECK(dsm_tp_mem_map(rma.job.tp, staging, GET_PART, &staging_mem) == DSM_OK);
    DSM_CHECK(dsm_tp_mem_address(staging_mem) == staging);
    for (int i = 0; i < rma.job.nnodes; i++) {
        int node = (rma.job.node + i) % rma.job.nnodes; /* spread the load */

        for (size_t b = 0; b < DSM_TEST_ARRAY_SIZE(blocks); b++) {
            DSM_CHECK(get_blocks(&rma, node, blocks[b], staging, staging_mem) == DSM_TEST_PASS);
            DSM_CHECK(get_blocks(&rma, node, blocks[b], plain, NULL) == DSM_TEST_PASS);
        }
    }
    dsm_tp_mem_unmap(staging_mem);
    free(staging);
    free(plain);
    return rma_teardown(&rma);
}

static size_t concurrent_offset(int i, int round)
{
    return ((size_t)(i * 7 + round) % (GET_PART / 4096)) * 4096;
}

static dsm_test_result_t test_concurrent_gets(void)
{
    char *bufs;
    rma_t rma;
    long bad;

    DSM_CHECK(rma_setup(&rma) == DSM_TEST_PASS);
    bufs = malloc((size_t)INFLIGHT * 4096);
    DSM_CHECK(bufs != NULL);
    /* Everyone starts together, so that node 0 serves all peers at once. */
    DSM_CHECK(tp_test_quiesce(&rma.job) == DSM_OK);
    for (int round = 0; round < 8; round++) {
        int target = rma.completed + INFLIGHT;

        for (int i = 0; i < INFLIGHT; i++) {
            DSM_CHECK(op_started(&rma, dsm_tp_get(rma.job.tp, rma.rmem, 0,
                                                  concurrent_offset(i, round), bufs + i * 4096,
                                                  4096, NULL, op_done, &rma)));
        }
        DSM_CHECK(tp_test_wait_count(&rma.job, &rma.completed, target) == DSM_OK);
        DSM_CHECK(rma.failed == 0);
        for (int i = 0; i < INFLIGHT; i++) {
            bad = tp_test_check_at(bufs + i * 4096, 4096, get_seed(0), concurrent_offset(i, round));
            DSM_CHECKF(bad < 0, "round %d get %d differs at byte %ld", round, i, bad);
        }
    }
    free(bufs);
    return rma_teardown(&rma);
}

static dsm_test_result_t test_put(void)
{
    char *src;
    rma_t rma;
    long bad;

    DSM_CHECK(rma_setup(&rma) == DSM_TEST_PASS);
    src = malloc((size_t)rma.job.nnodes * SLOT);
    DSM_CHECK(src != NULL);
    for (int i = 0; i < rma.job.nnodes; i++) {
        int node = (rma.job.node + i) % rma.job.nnodes;
        char *slot_src = src + (size_t)node * SLOT;
        int target = rma.completed + 2;

        tp_test_fill(slot_src, SLOT, put_seed(rma.job.node, node));
        /* Half as one put, half as page-sized puts. */
        DSM_CHECK(op_started(&rma, dsm_tp_put(rma.job.tp, rma.rmem, node,
                                              GET_PART + (size_t)rma.job.node * SLOT, slot_src,
                                              SLOT / 2, NULL, op_done, &rma)));
        for (size_t off = SLOT / 2; off < SLOT; off += 4096) {
            target++;
            DSM_CHECK(op_started(&rma, dsm_tp_put(rma.job.tp, rma.rmem, node,
                                                  GET_PART + (size_t)rma.job.node * SLOT + off,
                                                  slot_src + off, 4096, NULL, op_done, &rma)));
        }
        DSM_CHECK(op_started(&rma, dsm_tp_flush(rma.job.tp, node, op_done, &rma)));
        DSM_CHECK(tp_test_wait_count(&rma.job, &rma.completed, target) == DSM_OK);
        DSM_CHECK(rma.failed == 0);
        /* Only a flushed put may be announced: the receiver reads at once. */
        DSM_CHECK(dsm_tp_am_send(rma.job.tp, node, AM_WRITTEN, NULL, 0, NULL, 0, NULL, NULL) >= 0);
    }
    DSM_CHECK(tp_test_wait_count(&rma.job, &rma.written, rma.job.nnodes) == DSM_OK);
    for (int writer = 0; writer < rma.job.nnodes; writer++) {
        bad = tp_test_check((char *)dsm_tp_mem_address(rma.backing) + GET_PART +
                            (size_t)writer * SLOT, SLOT, put_seed(writer, rma.job.node));
        DSM_CHECKF(bad < 0, "slot of node %d differs at byte %ld", writer, bad);
    }
    free(src);
    return rma_teardown(&rma);
}

static dsm_test_result_t test_bounds(void)
{
    size_t length;
    char buf[4096];
    rma_t rma;

    DSM_CHECK(rma_setup(&rma) == DSM_TEST_PASS);
    length = dsm_tp_rmem_length(rma.rmem, 0);
    DSM_CHECK(length == GET_PART + (size_t)rma.job.nnodes * SLOT);
    DSM_CHECK(dsm_tp_get(rma.job.tp, rma.rmem, 0, length - 100, buf, sizeof(buf), NULL,
                         op_done, &rma) == DSM_ERR_INVALID_PARAM);
    DSM_CHECK(dsm_tp_put(rma.job.tp, rma.rmem, 0, (size_t)-1, buf, sizeof(buf), NULL,
                         op_done, &rma) == DSM_ERR_INVALID_PARAM);
    DSM_CHECK(dsm_tp_get(rma.job.tp, rma.rmem, rma.job.nnodes, 0, buf, sizeof(buf), NULL,
                         op_done, &rma) == DSM_ERR_INVALID_PARAM);
    DSM_CHECK(rma.completed == 0);
    return rma_teardown(&rma);
}

int main(int argc, char **argv)
{
    static const dsm_test_case_t cases[] = {
        { "rma_get", NULL, test_get, 120 },
        { "rma_concurrent_gets", NULL, test_concurrent_gets, 120 },
        { "rma_put_flush_then_am", NULL, test_put, 120 },
        { "rma_bounds", NULL, test_bounds, 60 },
    };

    return dsm_test_main(argc, argv, cases, DSM_TEST_ARRAY_SIZE(cases));
}
