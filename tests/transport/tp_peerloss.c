/*
 * Peer loss: the last node of the job joins from a child process that
 * SIGKILLs itself once connected (its parent, the node dsmrun started, sees
 * the KILL and exits 0, so the launcher does not stop the job). Every
 * survivor must get the peer-lost callback naming that node within 5 s of
 * the victim's farewell message (a correctness bound of failure detection),
 * and afterwards sends and RMA to it fail with DSM_ERR_PEER_LOST. A farewell
 * processed after the loss is dropped (its sender is gone): then the clock
 * starts when the survivor finished joining, before the victim died.
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
    tp_test_job_t job;
    double        farewell_s;
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
    peerloss_t *pl = arg;

    (void)src_node;
    (void)header;
    (void)header_len;
    (void)data;
    (void)length;
    pl->farewell_s = now_s(); /* replaces the time the survivor joined */
}

static dsm_status_t setup(peerloss_t *pl, dsm_tp_mem_t **mem_p, dsm_tp_rmem_t **rmem_p)
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
        status = dsm_tp_mem_map(pl->job.tp, NULL, 4096, mem_p);
    }
    if (status == DSM_OK) {
        status = dsm_tp_rmem_exchange(pl->job.tp, *mem_p, rmem_p);
    }
    return status;
}

/* The victim: connect, say farewell to everyone, die without cleaning up. */
static void victim_run(void)
{
    dsm_tp_rmem_t *rmem;
    dsm_tp_mem_t *mem;
    peerloss_t pl;

    if (setup(&pl, &mem, &rmem) != DSM_OK) {
        _exit(1);
    }
    for (int i = 0; i < pl.job.nnodes; i++) {
        if (i != pl.job.node) {
            dsm_tp_am_send(pl.job.tp, i, AM_FAREWELL, NULL, 0, NULL, 0, NULL, NULL);
        }
    }
    /* Let the farewells leave: flush completes only once they are out. */
    dsm_tp_flush_all(pl.job.tp, NULL, NULL);
    for (int i = 0; i < 1000; i++) {
        dsm_tp_progress(pl.job.tp);
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

static dsm_test_result_t survivor(peerloss_t *pl, dsm_tp_rmem_t *rmem)
{
    int victim = pl->job.nnodes - 1;
    char buf[64];
    double detect_s;

    pl->farewell_s = now_s();
    DSM_CHECK(tp_test_wait_count(&pl->job, &pl->job.lost_count, 1) == DSM_OK);
    detect_s = now_s() - pl->farewell_s;
    fprintf(stderr, "  node %d: node %d reported lost %.3f s after its farewell\n", pl->job.node,
           pl->job.lost_node, detect_s);
    DSM_CHECKF(pl->job.lost_node == victim, "lost node %d, expected %d", pl->job.lost_node,
               victim);
    DSM_CHECKF(detect_s < DETECT_MAX_S, "detected after %.3f s", detect_s);
    DSM_CHECK(dsm_tp_peer_is_lost(pl->job.tp, victim));
    DSM_CHECK(dsm_tp_am_send(pl->job.tp, victim, AM_FAREWELL, NULL, 0, NULL, 0, NULL, NULL) ==
              DSM_ERR_PEER_LOST);
    DSM_CHECK(dsm_tp_get(pl->job.tp, rmem, victim, 0, buf, sizeof(buf), NULL, NULL, NULL) ==
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
    dsm_tp_rmem_t *rmem;
    dsm_tp_mem_t *mem;
    dsm_test_result_t result;
    peerloss_t pl;

    /* The victim is decided before joining: it must join from a child. */
    if (nnodes_text == NULL || rank_text == NULL || atoi(nnodes_text) < 2) {
        return dsm_test_skip("needs a job of 2 or more nodes started by dsmrun");
    }
    if (atoi(rank_text) == atoi(nnodes_text) - 1) {
        return victim_parent();
    }
    DSM_CHECK(setup(&pl, &mem, &rmem) == DSM_OK);
    result = survivor(&pl, rmem);
    dsm_tp_rmem_free(rmem);
    dsm_tp_mem_unmap(mem);
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
