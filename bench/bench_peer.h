/*
 * The other end of a transport measurement, shared by tp_perf and the floor
 * of bench_dsm.c: node 0 pings and every other node echoes; node 0 moves the
 * others between phases (idle: sleep in the transport's wait; spin: busy-poll
 * while node 0 measures with them; done) and counts what comes back.
 */
#ifndef DSM_BENCH_PEER_H
#define DSM_BENCH_PEER_H

#include <stddef.h>

#include "dsm_tp.h"

enum { DSM_BENCH_PEER_IDLE = 0, DSM_BENCH_PEER_SPIN = 1, DSM_BENCH_PEER_DONE = 2 };

typedef struct {
    dsm_tp_t *tp;
    unsigned  pongs;     /* echoes received                            */
    unsigned  gets_done; /* gets completed through dsm_bench_peer_get   */
    int       phase;     /* this node's phase, as node 0 last set it    */
} dsm_bench_peer_t;

/* Register the ping, echo and phase handlers on peer->tp (before connecting). */
void dsm_bench_peer_register(dsm_bench_peer_t *peer);
/* Ping node: it echoes header and data back as they are (counted in pongs). */
void dsm_bench_peer_ping(dsm_bench_peer_t *peer, int node, const void *header, size_t header_len,
                         const void *data, size_t length);
/* Move node to phase; the message is progressed at once, so the node does not
 * go on spinning while this one does something else. */
void dsm_bench_peer_set_phase(dsm_bench_peer_t *peer, int node, int phase);
/* Get length bytes at offset of node's rmem into local (in staging); counted
 * into gets_done when complete, at once or later; a failure ends the run. */
void dsm_bench_peer_get(dsm_bench_peer_t *peer, dsm_tp_rmem_t *rmem, int node, size_t offset,
                        void *local, size_t length, dsm_tp_mem_t *staging);
/* Busy-poll until *counter reaches target; a peer silent for 10 s ends the run. */
void dsm_bench_peer_poll_until(dsm_bench_peer_t *peer, const unsigned *counter,
                               unsigned target);
/* The other nodes: answer until node 0 sets DONE, spinning in SPIN. */
void dsm_bench_peer_serve(dsm_bench_peer_t *peer);

#endif /* DSM_BENCH_PEER_H */
