/*
 * Peer loss: the last node of the job joins from a child process that
 * SIGKILLs itself (its parent, the node dsmrun started, sees the KILL and
 * exits 0, so the launcher does not stop the job). The victim says farewell,
 * flushes, stops progressing and enters a bootstrap barrier; each survivor,
 * once it has the farewell, starts a get from the victim (over tcp it needs
 * the victim's progress, so it is still in flight when the victim dies) and
 * enters the barrier too. The victim dies as it leaves the barrier. Every
 * survivor must then get the peer-lost callback naming the victim within 5 s
 * of leaving the barrier (a correctness bound of failure detection), the
 * in-flight get must complete (DSM_OK if it was served in time, else
 * DSM_ERR_PEER_LOST), and new sends, gets and flushes to the victim fail
 * with DSM_ERR_PEER_LOST.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tp_test.h"

#define AM_FAREWELL  1
#define DETECT_MAX_S 5.0

typedef struct {
    tp_test_job_t  job;
    dsm_tp_mem_t  *mem;
    dsm_tp_rmem_t *rmem;
    int            farewells;
    int            flushed;
    int            get_done;
    dsm_status_t   get_status;
} peerloss_t;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void farewell_arrived(void *arg, int src_node, const void *header, size_t header_len,
                             const void *data, size_t length)
{
    (void)src_node;
    (void)header;
    (void)header_len;
    (void)data;
    (void)length;
    ((peerloss_t *)arg)->farewells++;
}

static void flushed(void *arg, dsm_status_t status)
{
    (void)status;
    ((peerloss_t *)arg)->flushed = 1;
}

static void get_completed(void *arg, dsm_status_t status)
{
    peerloss_t *pl = arg;

    pl->get_status = status;
    pl->get_done   = 1;
}

static dsm_status_t setup(peerloss_t *pl)
{
    dsm_status_t status;

    memset(pl, 0, sizeof(*pl));
    status = tp_test_start(&pl->job);
    if (status == DSM_OK) {
        status = dsm_tp_am_register(pl->job.tp, AM_FAREWELL, farewell_arrived, pl);
    }
    if (status == DSM_OK) {
        status = tp_test_connect(&pl->job);
    }
    if (status == DSM_OK) {
        status = dsm_tp_mem_map(pl->job.tp, NULL, 65536, &pl->mem);
    }
    if (status == DSM_OK) {
        status = dsm_tp_rmem_exchange(pl->job.tp, pl->mem, &pl->rmem);
    }
    return status;
}

/* The victim: farewell to everyone, flush, stop progressing, barrier, die. */
static void victim_run(void)
{
    peerloss_t pl;
    int one = 1;

    if (setup(&pl) != DSM_OK) {
        _exit(1);
    }
    for (int i = 0; i < pl.job.nnodes; i++) {
        if (i != pl.job.node &&
            dsm_tp_am_send(pl.job.tp, i, AM_FAREWELL, NULL, 0, NULL, 0, NULL, NULL) < 0) {
            _exit(1);
        }
    }
    if (dsm_tp_flush_all(pl.job.tp, flushed, &pl) == DSM_OK) {
        pl.flushed = 1;
    }
    if (tp_test_wait_count(&pl.job, &pl.flushed, one) != DSM_OK ||
        dsm_tp_boot_barrier(pl.job.boot) != DSM_OK) {
        _exit(1);
    }
    raise(SIGKILL);
}

static dsm_test_result_t victim_parent(void)
{
    int status;
    pid_t pid = fork();

    DSM_CHECK(pid >= 0);
    if (pid == 0) {
        victim_run();
        _exit(1);
    }
    DSM_CHECK(waitpid(pid, &status, 0) == pid);
    DSM_CHECKF(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "victim status 0x%x", status);
    return DSM_TEST_PASS;
}

static dsm_test_result_t survivor(peerloss_t *pl)
{
    int victim = pl->job.nnodes - 1;
    char *buf = dsm_tp_mem_address(pl->mem);
    dsm_status_t status;
    double start_s, detect_s;

    DSM_CHECK(tp_test_wait_count(&pl->job, &pl->farewells, 1) == DSM_OK);
    status = dsm_tp_get(pl->job.tp, pl->rmem, victim, 0, buf, 65536, pl->mem, get_completed, pl);
    DSM_CHECKF(status >= 0, "get from the victim: %s", dsm_strerror(status));
    if (status == DSM_OK) {
        get_completed(pl, DSM_OK);
    }
    DSM_CHECK(dsm_tp_boot_barrier(pl->job.boot) == DSM_OK);
    start_s = now_s(); /* the victim dies as it leaves the barrier */
    DSM_CHECK(tp_test_wait_count(&pl->job, &pl->job.lost_count, 1) == DSM_OK);
    detect_s = now_s() - start_s;
    fprintf(stderr, "  node %d: node %d reported lost %.3f s after the barrier\n", pl->job.node,
            pl->job.lost_node, detect_s);
    DSM_CHECKF(pl->job.lost_node == victim, "lost node %d, expected %d", pl->job.lost_node,
               victim);
    DSM_CHECKF(detect_s < DETECT_MAX_S, "detected after %.3f s", detect_s);
    DSM_CHECK(tp_test_wait_count(&pl->job, &pl->get_done, 1) == DSM_OK);
    fprintf(stderr, "  node %d: the get in flight completed with %s\n", pl->job.node,
            dsm_strerror(pl->get_status));
    DSM_CHECK(pl->get_status == DSM_OK || pl->get_status == DSM_ERR_PEER_LOST);
    DSM_CHECK(dsm_tp_peer_is_lost(pl->job.tp, victim));
    DSM_CHECK(dsm_tp_am_send(pl->job.tp, victim, AM_FAREWELL, NULL, 0, NULL, 0, NULL, NULL) ==
              DSM_ERR_PEER_LOST);
    DSM_CHECK(dsm_tp_get(pl->job.tp, pl->rmem, victim, 0, buf, 64, NULL, NULL, NULL) ==
              DSM_ERR_PEER_LOST);
    DSM_CHECK(dsm_tp_flush(pl->job.tp, victim, NULL, NULL) == DSM_ERR_PEER_LOST);
    DSM_CHECKF(pl->job.lost_count == 1, "%d nodes reported lost", pl->job.lost_count);
    /*
     * The survivors still talk to each other. Past this point a survivor
     * that finished first and left is (rightly) reported lost by the others.
     */
    DSM_CHECK(tp_test_quiesce(&pl->job) == DSM_OK);
    return DSM_TEST_PASS;
}

static dsm_test_result_t test_peerloss(void)
{
    const char *nnodes_text = getenv("DSM_NNODES");
    const char *rank_text = getenv("DSM_RANK");
    dsm_test_result_t result;
    peerloss_t pl;

    /* The victim is decided before joining: it must join from a child. */
    if (nnodes_text == NULL || rank_text == NULL || atoi(nnodes_text) < 2) {
        return dsm_test_skip("needs a job of 2 or more nodes started by dsmrun");
    }
    if (atoi(rank_text) == atoi(nnodes_text) - 1) {
        return victim_parent();
    }
    DSM_CHECK(setup(&pl) == DSM_OK);
    result = survivor(&pl);
    dsm_tp_rmem_free(pl.rmem);
    dsm_tp_mem_unmap(pl.mem);
    tp_test_finish(&pl.job);
    return result;
}

int main(int argc, char **argv)
{
    static const dsm_test_case_t cases[] = {
        { "peer_killed_reported_within_5s", NULL, test_peerloss, 60 },
    };

    return dsm_test_main(argc, argv, cases, DSM_TEST_ARRAY_SIZE(cases));
}
