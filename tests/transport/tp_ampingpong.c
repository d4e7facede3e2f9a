/*
 * Active-message ping-pong: every node pings its successor (ring) with
 * payloads of 0 B .. 1 MiB (eager and rendezvous), the successor checks the
 * content and answers with a payload of the same size and its own pattern,
 * which the pinger checks. Run by dsmrun -n N (or mpirun) under each UCX_TLS.
 * Also: messages to an id without a handler are dropped and counted (eager and
 * rendezvous, and the sender still completes), and the event fd wakes a
 * thread that sleeps in epoll with no timeout (as the service thread does).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "tp_test.h"

#define AM_PING      1
#define AM_PONG      2
#define AM_UNHANDLED 5
#define ROUNDS  3

static const size_t sizes[] = { 0, 1, 8, 100, 4096, 8192, 65536, 262144, 1048576, 1048577 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

typedef struct {
    uint32_t size_index;
    uint32_t round;
} msg_header_t;

typedef struct {
    tp_test_job_t job;
    void         *pong_data[NSIZES]; /* constant answers, alive until the end */
    int           pongs;
    int           errors;
    msg_header_t  expect;
} pingpong_t;

static uint32_t seed_of(int node, size_t size_index, int pong)
{
    return (uint32_t)node * 1000u + (uint32_t)size_index * 10u + (uint32_t)pong;
}

/* Validate a message: header shape, size for its index, content. */
static int message_ok(pingpong_t *pp, int src_node, const void *header, size_t header_len,
                      const void *data, size_t length, int pong, msg_header_t *hdr_p)
{
    long bad;

    if (header_len != sizeof(*hdr_p)) {
        fprintf(stderr, "  node %d: header of %zu bytes from %d\n", pp->job.node, header_len,
                src_node);
        return 0;
    }
    memcpy(hdr_p, header, sizeof(*hdr_p));
    if (hdr_p->size_index >= NSIZES || sizes[hdr_p->size_index] != length) {
        fprintf(stderr, "  node %d: %zu bytes for size index %u\n", pp->job.node, length,
                hdr_p->size_index);
        return 0;
    }
    bad = tp_test_check(data, length, seed_of(src_node, hdr_p->size_index, pong));
    if (bad >= 0) {
        fprintf(stderr, "  node %d: %zu-byte %s from %d differs at byte %ld\n", pp->job.node,
                length, pong ? "pong" : "ping", src_node, bad);
        return 0;
    }
    return 1;
}

static void ping_arrived(void *arg, int src_node, const void *header, size_t header_len,
                         const void *data, size_t length)
{
    pingpong_t *pp = arg;
    msg_header_t hdr;
    dsm_status_t status;

    if (src_node != (pp->job.node + pp->job.nnodes - 1) % pp->job.nnodes ||
        !message_ok(pp, src_node, header, header_len, data, length, 0, &hdr)) {
        pp->errors++;
        return;
    }
    status = dsm_tp_am_send(pp->job.tp, src_node, AM_PONG, &hdr, sizeof(hdr),
                            pp->pong_data[hdr.size_index], length, NULL, NULL);
    if (status < 0) {
        fprintf(stderr, "  node %d: pong: %s\n", pp->job.node, dsm_strerror(status));
        pp->errors++;
    }
}

static void pong_arrived(void *arg, int src_node, const void *header, size_t header_len,
                         const void *data, size_t length)
{
    pingpong_t *pp = arg;
    msg_header_t hdr;

    if (src_node != (pp->job.node + 1) % pp->job.nnodes ||
        !message_ok(pp, src_node, header, header_len, data, length, 1, &hdr) ||
        hdr.size_index != pp->expect.size_index || hdr.round != pp->expect.round) {
        pp->errors++;
    }
    pp->pongs++;
}

static int prepare(pingpong_t *pp)
{
    for (size_t i = 0; i < NSIZES; i++) {
        pp->pong_data[i] = malloc(sizes[i] + 1);
        if (pp->pong_data[i] == NULL) {
            return 0;
        }
        tp_test_fill(pp->pong_data[i], sizes[i], seed_of(pp->job.node, i, 1));
    }
    return 1;
}

static dsm_test_result_t ping_all_sizes(pingpong_t *pp)
{
    int next = (pp->job.node + 1) % pp->job.nnodes;
    dsm_status_t status;

    for (uint32_t i = 0; i < NSIZES; i++) {
        void *ping = malloc(sizes[i] + 1);

        DSM_CHECK(ping != NULL);
        tp_test_fill(ping, sizes[i], seed_of(pp->job.node, i, 0));
        for (uint32_t round = 0; round < ROUNDS; round++) {
            pp->expect = (msg_header_t){ .size_index = i, .round = round };
            status = dsm_tp_am_send(pp->job.tp, next, AM_PING, &pp->expect, sizeof(pp->expect),
                                    ping, sizes[i], NULL, NULL);
            DSM_CHECKF(status >= 0, "ping of %zu bytes: %s", sizes[i], dsm_strerror(status));
            DSM_CHECKF(tp_test_wait_count(&pp->job, &pp->pongs, (int)(i * ROUNDS + round + 1)) ==
                       DSM_OK, "no pong for %zu bytes", sizes[i]);
        }
        /* The pong came after the ping was received, so its buffer is free. */
        free(ping);
    }
    return DSM_TEST_PASS;
}

static dsm_test_result_t test_pingpong(void)
{
    pingpong_t pp = {0};
    dsm_test_result_t result;

    DSM_CHECK(tp_test_start(&pp.job) == DSM_OK);
    DSM_CHECK(prepare(&pp));
    DSM_CHECK(dsm_tp_am_register(pp.job.tp, AM_PING, ping_arrived, &pp) == DSM_OK);
    DSM_CHECK(dsm_tp_am_register(pp.job.tp, AM_PONG, pong_arrived, &pp) == DSM_OK);
    DSM_CHECK(tp_test_connect(&pp.job) == DSM_OK);
    result = ping_all_sizes(&pp);
    DSM_CHECK(tp_test_quiesce(&pp.job) == DSM_OK);
    DSM_CHECKF(pp.errors == 0, "%d bad messages", pp.errors);
    tp_test_finish(&pp.job);
    for (size_t i = 0; i < NSIZES; i++) {
        free(pp.pong_data[i]);
    }
    return result;
}

/* Argument checks need no peer: out-of-range id, oversized header. */
static dsm_test_result_t test_bad_arguments(void)
{
    tp_test_job_t job;
    char header[DSM_TP_AM_HEADER_MAX + 1] = {0};

    DSM_CHECK(tp_test_start(&job) == DSM_OK);
    DSM_CHECK(dsm_tp_am_register(job.tp, DSM_TP_AM_ID_COUNT, ping_arrived, NULL) ==
              DSM_ERR_INVALID_PARAM);
    DSM_CHECK(tp_test_connect(&job) == DSM_OK);
    DSM_CHECK(dsm_tp_am_send(job.tp, 0, DSM_TP_AM_ID_COUNT, NULL, 0, NULL, 0, NULL, NULL) ==
              DSM_ERR_INVALID_PARAM);
    DSM_CHECK(dsm_tp_am_send(job.tp, 0, AM_PING, header, sizeof(header), NULL, 0, NULL, NULL) ==
              DSM_ERR_INVALID_PARAM);
    DSM_CHECK(dsm_tp_am_send(job.tp, job.nnodes, AM_PING, NULL, 0, NULL, 0, NULL, NULL) ==
              DSM_ERR_INVALID_PARAM);
    DSM_CHECK(tp_test_quiesce(&job) == DSM_OK);
    tp_test_finish(&job);
    return DSM_TEST_PASS;
}

static void count_completion(void *arg, dsm_status_t status)
{
    (void)status;
    (*(int *)arg)++;
}

static dsm_test_result_t test_unhandled_dropped(void)
{
    int next, completed = 0, expected = 0;
    dsm_tp_stats_t stats;
    tp_test_job_t job;
    dsm_status_t status;
    char *big;

    DSM_CHECK(tp_test_start(&job) == DSM_OK);
    DSM_CHECK(tp_test_connect(&job) == DSM_OK);
    next = (job.node + 1) % job.nnodes;
    big = calloc(1, 1 << 20);
    DSM_CHECK(big != NULL);
    status = dsm_tp_am_send(job.tp, next, AM_UNHANDLED, NULL, 0, big, 16, count_completion,
                            &completed);
    DSM_CHECK(status >= 0);
    expected += status == DSM_INPROGRESS;
    /* Rendezvous: the sender completes only once the receiver has decided. */
    status = dsm_tp_am_send(job.tp, next, AM_UNHANDLED, NULL, 0, big, 1 << 20,
                            count_completion, &completed);
    DSM_CHECK(status >= 0);
    expected += status == DSM_INPROGRESS;
    DSM_CHECK(tp_test_wait_count(&job, &completed, expected) == DSM_OK);
    for (int waited = 0; waited < TP_TEST_WAIT_MS / 100; waited++) {
        dsm_tp_stats(job.tp, &stats);
        if (stats.am_dropped >= 2) {
            break;
        }
        dsm_tp_wait(job.tp, 100);
    }
    DSM_CHECKF(stats.am_dropped == 2, "%llu messages dropped, expected 2",
               (unsigned long long)stats.am_dropped);
    DSM_CHECK(tp_test_quiesce(&job) == DSM_OK);
    tp_test_finish(&job);
    free(big);
    return DSM_TEST_PASS;
}

/* Sleep in an epoll set holding only the transport's event fd, no timeout. */
static dsm_status_t sleep_until(pingpong_t *pp, int epfd, int target)
{
    struct epoll_event event;
    dsm_status_t status;

    while (pp->pongs < target) {
        while (dsm_tp_progress(pp->job.tp)) {
        }
        if (pp->pongs >= target) {
            break;
        }
        status = dsm_tp_arm(pp->job.tp);
        if (status == DSM_OK) {
            epoll_wait(epfd, &event, 1, -1); /* a lost wake-up hangs: the case times out */
        } else if (status != DSM_ERR_AGAIN) {
            return status;
        }
    }
    return DSM_OK;
}

static dsm_test_result_t test_epoll_wakeup(void)
{
    struct epoll_event event = { .events = EPOLLIN };
    pingpong_t pp = {0};
    msg_header_t hdr = { .size_index = 2, .round = 0 };
    char ping[8];
    int epfd, next;

    DSM_CHECK(tp_test_start(&pp.job) == DSM_OK);
    DSM_CHECK(prepare(&pp));
    DSM_CHECK(dsm_tp_am_register(pp.job.tp, AM_PING, ping_arrived, &pp) == DSM_OK);
    DSM_CHECK(dsm_tp_am_register(pp.job.tp, AM_PONG, pong_arrived, &pp) == DSM_OK);
    DSM_CHECK(tp_test_connect(&pp.job) == DSM_OK);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    DSM_CHECK(epfd >= 0);
    DSM_CHECK(epoll_ctl(epfd, EPOLL_CTL_ADD, dsm_tp_event_fd(pp.job.tp), &event) == 0);
    next = (pp.job.node + 1) % pp.job.nnodes;
    tp_test_fill(ping, sizeof(ping), seed_of(pp.job.node, hdr.size_index, 0));
    for (int round = 0; round < 200; round++) {
        pp.expect = hdr;
        DSM_CHECK(dsm_tp_am_send(pp.job.tp, next, AM_PING, &hdr, sizeof(hdr), ping,
                                 sizes[hdr.size_index], NULL, NULL) >= 0);
        DSM_CHECK(sleep_until(&pp, epfd, round + 1) == DSM_OK);
    }
    DSM_CHECK(tp_test_quiesce(&pp.job) == DSM_OK);
    DSM_CHECKF(pp.errors == 0, "%d bad messages", pp.errors);
    close(epfd);
    tp_test_finish(&pp.job);
    for (size_t i = 0; i < NSIZES; i++) {
        free(pp.pong_data[i]);
    }
    return DSM_TEST_PASS;
}

int main(int argc, char **argv)
{
    static const dsm_test_case_t cases[] = {
        { "am_pingpong_0B_to_1MiB", NULL, test_pingpong, 120 },
        { "am_bad_arguments", NULL, test_bad_arguments, 60 },
        { "am_unhandled_dropped", NULL, test_unhandled_dropped, 60 },
        { "am_epoll_wakeup", NULL, test_epoll_wakeup, 60 },
    };

    return dsm_test_main(argc, argv, cases, DSM_TEST_ARRAY_SIZE(cases));
}
