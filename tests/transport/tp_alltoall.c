/*
 * All-to-all: every node sends every node (itself included) one message of
 * each size, all at once; every receiver checks sender, size and content and
 * expects exactly one of each. Run with 2, 4 and 8 nodes under each UCX_TLS.
 */
#include <stdlib.h>
#include <string.h>

#include "tp_test.h"

#define AM_DATA 1

static const size_t sizes[] = { 64, 16384, 262144 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

typedef struct {
    tp_test_job_t job;
    int           received;
    int           errors;
    int           sent_done;
    int           send_failed;
    unsigned char seen[4096][NSIZES]; /* by sender: one message of each size */
} alltoall_t;

static uint32_t seed_of(int src, int dst, uint32_t size_index)
{
    return (uint32_t)src * 65536u + (uint32_t)dst * 16u + size_index;
}

static void data_arrived(void *arg, int src_node, const void *header, size_t header_len,
                         const void *data, size_t length)
{
    alltoall_t *a2a = arg;
    uint32_t index;
    long bad;

    a2a->received++;
    if (header_len != sizeof(index)) {
        a2a->errors++;
        return;
    }
    memcpy(&index, header, sizeof(index));
    if (index >= NSIZES || sizes[index] != length || a2a->seen[src_node][index]++ != 0) {
        fprintf(stderr, "  node %d: unexpected %zu bytes (index %u) from %d\n", a2a->job.node,
                length, index, src_node);
        a2a->errors++;
        return;
    }
    bad = tp_test_check(data, length, seed_of(src_node, a2a->job.node, index));
    if (bad >= 0) {
        fprintf(stderr, "  node %d: %zu bytes from %d differ at %ld\n", a2a->job.node, length,
                src_node, bad);
        a2a->errors++;
    }
}

static void send_done(void *arg, dsm_status_t status)
{
    alltoall_t *a2a = arg;

    a2a->sent_done++;
    a2a->send_failed += status != DSM_OK;
}

static dsm_test_result_t test_alltoall(void)
{
    alltoall_t *a2a = calloc(1, sizeof(*a2a));
    int nnodes, expected;
    char **bufs;

    DSM_CHECK(a2a != NULL);
    DSM_CHECK(tp_test_start(&a2a->job) == DSM_OK);
    nnodes = a2a->job.nnodes;
    DSM_CHECK(nnodes <= 4096);
    DSM_CHECK(dsm_tp_am_register(a2a->job.tp, AM_DATA, data_arrived, a2a) == DSM_OK);
    DSM_CHECK(tp_test_connect(&a2a->job) == DSM_OK);
    bufs = calloc((size_t)nnodes * NSIZES, sizeof(*bufs));
    DSM_CHECK(bufs != NULL);
    expected = 0;
    for (int i = 0; i < nnodes; i++) {
        int dst = (a2a->job.node + i) % nnodes;

        for (uint32_t s = 0; s < NSIZES; s++) {
            char *buf = malloc(sizes[s]);
            dsm_status_t status;

            DSM_CHECK(buf != NULL);
            bufs[dst * NSIZES + s] = buf;
            tp_test_fill(buf, sizes[s], seed_of(a2a->job.node, dst, s));
            status = dsm_tp_am_send(a2a->job.tp, dst, AM_DATA, &s, sizeof(s), buf, sizes[s],
                                    send_done, a2a);
            DSM_CHECKF(status >= 0, "send to %d: %s", dst, dsm_strerror(status));
            expected += status == DSM_INPROGRESS;
        }
    }
    DSM_CHECK(tp_test_wait_count(&a2a->job, &a2a->sent_done, expected) == DSM_OK);
    DSM_CHECK(a2a->send_failed == 0);
    DSM_CHECK(tp_test_wait_count(&a2a->job, &a2a->received, nnodes * (int)NSIZES) == DSM_OK);
    DSM_CHECK(tp_test_quiesce(&a2a->job) == DSM_OK);
    DSM_CHECKF(a2a->errors == 0, "%d bad messages", a2a->errors);
    DSM_CHECK(a2a->received == nnodes * (int)NSIZES);
    tp_test_finish(&a2a->job);
    for (int i = 0; i < nnodes * (int)NSIZES; i++) {
        free(bufs[i]);
    }
    free(bufs);
    free(a2a);
    return DSM_TEST_PASS;
}

int main(int argc, char **argv)
{
    static const dsm_test_case_t cases[] = {
        { "am_alltoall", NULL, test_alltoall, 120 },
    };

    return dsm_test_main(argc, argv, cases, DSM_TEST_ARRAY_SIZE(cases));
}
