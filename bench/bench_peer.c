/* The echoing peer of transport measurements (bench_peer.h). */
#include <string.h>

#include "bench_common.h"
#include "bench_peer.h"

#define BENCH_PEER_AM_PING  1
#define BENCH_PEER_AM_PONG  2
#define BENCH_PEER_AM_PHASE 3
/* A peer that does not answer within this is broken: stop instead of hanging. */
#define BENCH_PEER_DEADLINE_US 10e6

static void bench_peer_ping_arrived(void *arg, int src, const void *header, size_t header_len,
                                    const void *data, size_t length)
{
    dsm_bench_peer_t *peer = arg;
    dsm_status_t status = dsm_tp_am_send(peer->tp, src, BENCH_PEER_AM_PONG, header,
                                         header_len, data, length, NULL, NULL);

    if (status < 0) {
        dsm_bench_die("peer: echo", status);
    }
}

static void bench_peer_pong_arrived(void *arg, int src, const void *header, size_t header_len,
                                    const void *data, size_t length)
{
    (void)src;
    (void)header;
    (void)header_len;
    (void)data;
    (void)length;
    ((dsm_bench_peer_t *)arg)->pongs++;
}

static void bench_peer_phase_arrived(void *arg, int src, const void *header,
                                     size_t header_len, const void *data, size_t length)
{
    (void)src;
    (void)data;
    (void)length;
    if (header_len == sizeof(int)) {
        memcpy(&((dsm_bench_peer_t *)arg)->phase, header, sizeof(int));
    }
}

void dsm_bench_peer_register(dsm_bench_peer_t *peer)
{
    dsm_tp_am_register(peer->tp, BENCH_PEER_AM_PING, bench_peer_ping_arrived, peer);
    dsm_tp_am_register(peer->tp, BENCH_PEER_AM_PONG, bench_peer_pong_arrived, peer);
    dsm_tp_am_register(peer->tp, BENCH_PEER_AM_PHASE, bench_peer_phase_arrived, peer);
}

void dsm_bench_peer_ping(dsm_bench_peer_t *peer, int node, const void *header, size_t header_len,
                         const void *data, size_t length)
{
    dsm_status_t status = dsm_tp_am_send(peer->tp, node, BENCH_PEER_AM_PING, header,
                                         header_len, data, length, NULL, NULL);

    if (status < 0) {
        dsm_bench_die("peer: ping", status);
    }
}

void dsm_bench_peer_set_phase(dsm_bench_peer_t *peer, int node, int phase)
{
    dsm_status_t status = dsm_tp_am_send(peer->tp, node, BENCH_PEER_AM_PHASE, &phase,
                                         sizeof(phase), NULL, 0, NULL, NULL);

    if (status < 0) {
        dsm_bench_die("peer: phase message", status);
    }
    dsm_tp_progress(peer->tp);
}

static void bench_peer_get_done(void *arg, dsm_status_t status)
{
    if (status != DSM_OK) {
        dsm_bench_die("peer: get", status);
    }
    ((dsm_bench_peer_t *)arg)->gets_done++;
}

void dsm_bench_peer_get(dsm_bench_peer_t *peer, dsm_tp_rmem_t *rmem, int node, size_t offset,
                        void *local, size_t length, dsm_tp_mem_t *staging)
{
    dsm_status_t status = dsm_tp_get(peer->tp, rmem, node, offset, local, length, staging,
                                     bench_peer_get_done, peer);

    if (status != DSM_INPROGRESS) {
        bench_peer_get_done(peer, status);
    }
}

void dsm_bench_peer_poll_until(dsm_bench_peer_t *peer, const unsigned *counter,
                               unsigned target)
{
    double deadline = dsm_bench_now_us() + BENCH_PEER_DEADLINE_US;

    while (*counter < target) {
        dsm_tp_progress(peer->tp);
        if (dsm_bench_now_us() > deadline) {
            dsm_bench_die("peer: node does not answer", DSM_ERR_TIMEOUT);
        }
    }
}

void dsm_bench_peer_serve(dsm_bench_peer_t *peer)
{
    while (peer->phase != DSM_BENCH_PEER_DONE) {
        if (peer->phase == DSM_BENCH_PEER_SPIN) {
            dsm_tp_progress(peer->tp);
        } else {
            dsm_tp_wait(peer->tp, DSM_TP_SLEEP_MAX_MS);
        }
    }
}
