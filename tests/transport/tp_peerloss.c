/*
 * Peer loss: the last node of the job joins from a child process that
 * SIGKILLs itself (its parent, the node dsmrun started, sees the KILL and
 * exits 0, so the launcher does not stop the job). Each survivor tells the
 * victim "sleeping", starts a get from it and goes to sleep in epoll on the
 * transport's event fd with no timeout, as the service thread does; the
 * victim kills itself in the handler of the last survivor's message, so the
 * gets sent after it are never served. Every survivor must be woken and get
 * the peer-lost callback naming the victim within 5 s of going to sleep (a
 * correctness bound of failure detection); its get must complete (DSM_OK if
 * served in time, else DSM_ERR_PEER_LOST); new sends, gets and flushes to
 * the victim must fail with DSM_ERR_PEER_LOST.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tp_test.h"

#define AM_SLEEPING  1
#define DETECT_MAX_S 5.0

typedef struct {
    tp_test_job_t  job;
    dsm_tp_mem_t  *mem;
    dsm_tp_rmem_t *rmem;
    int            sleepers;
    int            get_done;
    dsm_status_t   get_status;
} peerloss_t;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* At the victim: the last survivor is about to sleep; die without cleaning up. */
static void sleeping_arrived(void *arg, int src_node, const void *header, size_t header_len,
                             const void *data, size_t length)
{
    peerloss_t *pl = arg;

    (void)src_node;
    (void)header;
    (void)header_len;
    (void)data;
    (void)length;
    if (++pl->sleepers == pl->job.nnodes - 1) {
        raise(SIGKILL);
    }
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
        status = dsm_tp_am_register(pl->job.tp, AM_SLEEPING, sleeping_arrived, pl);
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

/* The victim: serve until every survivor said it sleeps (the handler kills). */
static void victim_run(void)
{
    peerloss_t pl;

    if (setup(&pl) != DSM_OK) {
        _exit(1);
    }
    tp_test_wait_count(&pl.job, &pl.sleepers, pl.job.nnodes - 1);
    _exit(1); /* not killed in time: the parent reports it */
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

/* Progress, arm, sleep without timeout: a lost wake-up hangs and the case times out. */
static dsm_status_t sleep_until_lost(peerloss_t *pl)
{
    struct epoll_event event = { .events = EPOLLIN };
    dsm_status_t status = DSM_OK;
    int epfd = epoll_create1(EPOLL_CLOEXEC);

    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, dsm_tp_event_fd(pl->job.tp), &event) != 0) {
        return DSM_ERR_IO;
    }
    while (pl->job.lost_count == 0) {
        while (dsm_tp_progress(pl->job.tp)) {
        }
        if (pl->job.lost_count > 0) {
            break;
        }
        status = dsm_tp_arm(pl->job.tp);
        if (status == DSM_OK) {
            epoll_wait(epfd, &event, 1, -1);
        } else if (status != DSM_ERR_AGAIN) {
            break;
        }
        status = DSM_OK;
    }
    close(epfd);
    return status;
}

static dsm_test_result_t survivor(peerloss_t *pl)
{
    int victim = pl->job.nnodes - 1;
    char *buf = dsm_tp_mem_address(pl->mem);
    dsm_status_t status;
    double start_s, detect_s;

    /* The get goes after the message, so the last survivor's is never served over tcp. */
    DSM_CHECK(dsm_tp_am_send(pl->job.tp, victim, AM_SLEEPING, NULL, 0, NULL, 0, NULL, NULL) >= 0);
    status = dsm_tp_get(pl->job.tp, pl->rmem, victim, 0, buf, 65536, pl->mem, get_completed, pl);
    DSM_CHECKF(status >= 0, "get from the victim: %s", dsm_strerror(status));
    if (status == DSM_OK) {
        get_completed(pl, DSM_OK);
    }
    start_s = now_s();
    DSM_CHECK(sleep_until_lost(pl) == DSM_OK);
    detect_s = now_s() - start_s;
    fprintf(stderr, "  node %d: node %d reported lost %.3f s after going to sleep\n", pl->job.node,
            pl->job.lost_node, detect_s);
    DSM_CHECKF(pl->job.lost_node == victim, "lost node %d, expected %d", pl->job.lost_node,
               victim);
    DSM_CHECKF(detect_s < DETECT_MAX_S, "detected after %.3f s", detect_s);
    DSM_CHECK(tp_test_wait_count(&pl->job, &pl->get_done, 1) == DSM_OK);
    fprintf(stderr, "  node %d: the get in flight completed with %s\n", pl->job.node,
            dsm_strerror(pl->get_status));
    DSM_CHECK(pl->get_status == DSM_OK || pl->get_status == DSM_ERR_PEER_LOST);
    DSM_CHECK(dsm_tp_peer_is_lost(pl->job.tp, victim));
    DSM_CHECK(dsm_tp_am_send(pl->job.tp, victim, AM_SLEEPING, NULL, 0, NULL, 0, NULL, NULL) ==
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
