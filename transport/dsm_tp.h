/*
 * transport/ - the layer's internal header: UCX context, worker, endpoints,
 * active messages, registered memory and RMA, progress, peer failure.
 *
 * Threading: one thread drives the layer. Every dsm_tp_* call on a dsm_tp_t,
 * and every callback it makes (AM handlers, completions, peer loss), happens
 * on that thread (the runtime's service thread), so the UCX worker runs in
 * UCS_THREAD_MODE_SINGLE and the layer takes no locks. The thread may change
 * between calls (create on one thread, hand over to the service thread) as
 * long as the hand-over is ordered (e.g. by pthread_create).
 *
 * Callbacks run inside dsm_tp_progress (or a helper that calls it): they may
 * send, get, put and flush, but must not call dsm_tp_progress, dsm_tp_wait
 * or dsm_tp_destroy.
 *
 * Completion convention (as UCX's): an operation that finishes before the
 * call returns gives DSM_OK and its callback is NOT called; DSM_INPROGRESS
 * means the callback will be called exactly once, from progress, with the
 * final status; a failure (< 0) means nothing was started and no callback.
 */
#ifndef DSM_TP_H
#define DSM_TP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dsm.h"
#include "dsm_boot.h"

typedef struct dsm_tp dsm_tp_t;
typedef struct dsm_tp_mem dsm_tp_mem_t;   /* local registered memory          */
typedef struct dsm_tp_rmem dsm_tp_rmem_t; /* every node's region of one kind  */

/* Active message ids are 0..DSM_TP_AM_ID_COUNT-1. */
#define DSM_TP_AM_ID_COUNT 32
/* The largest user header of an active message, in bytes. */
#define DSM_TP_AM_HEADER_MAX 112

/*
 * An active message arrived from src_node (validated: a member of the job).
 * header (aligned to max_align_t) and data are valid only during the call.
 */
typedef void (*dsm_tp_am_handler_t)(void *arg, int src_node, const void *header,
                                    size_t header_len, const void *data, size_t length);

/* A started operation finished with status (DSM_OK or a failure). */
typedef void (*dsm_tp_complete_cb_t)(void *arg, dsm_status_t status);

/* node was lost (died or unreachable); called once per node. */
typedef void (*dsm_tp_peer_lost_cb_t)(void *arg, int node);

/*
 * Filled by the caller: the runtime from its configuration (DSM_SPIN_US,
 * DSM_TRANSPORT are parsed there, once), tests and benchmarks likewise.
 */
typedef struct {
    unsigned              spin_us;        /* busy-poll window of dsm_tp_wait  */
    const char           *tls;            /* UCX_TLS to use; NULL: UCX's own  */
    dsm_tp_peer_lost_cb_t peer_lost;      /* may be NULL                      */
    void                 *peer_lost_arg;
} dsm_tp_config_t;

/*
 * The config's tls for a DSM_TRANSPORT value (tp_tls.c): "auto" gives NULL
 * (UCX's own choice), "shm", "tcp" and "rdma" the UCX transports they stand
 * for, except that a UCX_TLS set by the user is more specific and wins (NULL,
 * logged). DSM_ERR_INVALID_PARAM for any other name.
 */
dsm_status_t dsm_tp_tls_for(const char *transport, const char **tls_p);

/*
 * Whether processes of one host may move data through shared memory under
 * tls (a config's tls; NULL: the UCX_TLS of the environment, and with
 * neither, UCX's own choice, which uses shared memory on one host): a list
 * naming a shared-memory transport (sm, shm, posix, sysv, cma, xpmem, knem,
 * all), or an exclusion list (^...) that excludes none of sm, shm, all.
 */
int dsm_tp_tls_shares_memory(const char *tls);

/* Counters, for statistics and tests. */
typedef struct {
    uint64_t am_sent;
    uint64_t am_received;
    uint64_t am_dropped;    /* failed validation or could not be received      */
    uint64_t am_strangers;  /* of those: not from the claimed node's endpoint  */
    uint64_t rma_gets;
    uint64_t rma_puts;
    uint64_t peers_lost;
} dsm_tp_stats_t;

/*
 * Collective (one bootstrap allgather: where every node runs decides how UCX
 * is configured, e.g. loopback-only listeners for a job on one host): create
 * the context and worker. boot stays the caller's and must outlive the
 * transport. Register the AM handlers next, then connect: no
 * message can arrive before dsm_tp_connect, so none finds its id unhandled.
 */
dsm_status_t dsm_tp_create(dsm_boot_t *boot, const dsm_tp_config_t *config,
                           dsm_tp_t **tp_p);

/*
 * Collective: exchange worker addresses through boot, connect to every node
 * (self included) and return when every node has heard from and answered
 * every node, so a node that goes on to a bootstrap collective (which does
 * not progress the worker) leaves no peer waiting for it.
 */
dsm_status_t dsm_tp_connect(dsm_tp_t *tp);

/*
 * Collective unless a node was lost: a last round of messages through the
 * transport itself (every node's operations complete, nobody needs anyone's
 * progress any more; no bootstrap barrier), then every endpoint is closed
 * and everything released. With a lost node the survivors skip the round and
 * close at once. Release registered memory and rmem first. NULL is allowed.
 */
void dsm_tp_destroy(dsm_tp_t *tp);

int dsm_tp_node(const dsm_tp_t *tp);
int dsm_tp_nnodes(const dsm_tp_t *tp);
/* Nonzero once node was reported lost. */
int dsm_tp_peer_is_lost(const dsm_tp_t *tp, int node);
/* A pidfd of node's process if it runs on this host (and is not this node),
 * else -1; owned by the transport. */
int dsm_tp_peer_pidfd(const dsm_tp_t *tp, int node);
/* dsm_tp_tls_shares_memory of the transport's configuration. */
int dsm_tp_shares_memory(const dsm_tp_t *tp);
/* After connect: how many nodes of the job (this one included) share this host. */
int dsm_tp_nodes_on_this_host(const dsm_tp_t *tp);
void dsm_tp_stats(const dsm_tp_t *tp, dsm_tp_stats_t *stats_p);

/*
 * Write UCX's description of the endpoint to node (the transports and lanes
 * it chose) to stream. At create, the same goes to the log at info level.
 */
dsm_status_t dsm_tp_peer_print_info(dsm_tp_t *tp, int node, FILE *stream);

/* ---- active messages ---------------------------------------------------- */

/* Deliver messages of id to handler (replaces any previous one). */
dsm_status_t dsm_tp_am_register(dsm_tp_t *tp, unsigned id, dsm_tp_am_handler_t handler,
                                void *arg);

/*
 * Send header (0..DSM_TP_AM_HEADER_MAX bytes, copied) and data (any length;
 * must stay valid until completion) to dst (self allowed). cb may be NULL.
 * DSM_ERR_PEER_LOST once dst was lost. Messages are not ordered with RMA,
 * and a large message may be delivered after a later small one.
 */
dsm_status_t dsm_tp_am_send(dsm_tp_t *tp, int dst, unsigned id, const void *header,
                            size_t header_len, const void *data, size_t length,
                            dsm_tp_complete_cb_t cb, void *arg);

/* ---- registered memory and RMA ------------------------------------------ */

/*
 * Register length bytes. address NULL: UCX allocates (the home's backing
 * store: faster RMA over shared memory); else the caller's memory (e.g. a
 * staging buffer), which must outlive the registration.
 */
dsm_status_t dsm_tp_mem_map(dsm_tp_t *tp, void *address, size_t length,
                            dsm_tp_mem_t **mem_p);
void dsm_tp_mem_unmap(dsm_tp_mem_t *mem);
void *dsm_tp_mem_address(const dsm_tp_mem_t *mem);
size_t dsm_tp_mem_length(const dsm_tp_mem_t *mem);

/*
 * Collective: every node contributes its region (mem) and receives every
 * node's address, length and unpacked rkey; it returns once every node has
 * unpacked every key. Release with dsm_tp_rmem_free before unmapping mem.
 * It goes through the bootstrap, which does not
 * progress the worker: call it when no node has operations in flight (e.g.
 * right after dsm_tp_connect).
 */
dsm_status_t dsm_tp_rmem_exchange(dsm_tp_t *tp, const dsm_tp_mem_t *mem,
                                  dsm_tp_rmem_t **rmem_p);
void dsm_tp_rmem_free(dsm_tp_rmem_t *rmem);
size_t dsm_tp_rmem_length(const dsm_tp_rmem_t *rmem, int node);

/*
 * The same, one node at a time, for callers that exchange the blobs
 * themselves (the runtime sends them as active messages, so that its
 * service thread keeps serving while an allocation is being made):
 * dsm_tp_mem_pack describes mem (address, length, rkey) in a malloc'd blob;
 * dsm_tp_rmem_create makes an empty table; dsm_tp_rmem_set unpacks node's
 * blob into it (DSM_ERR_MALFORMED for a short blob or a second one for the
 * same node, DSM_ERR_PEER_LOST when node is gone). An entry never set makes
 * RMA to that node fail with DSM_ERR_INVALID_PARAM.
 */
dsm_status_t dsm_tp_mem_pack(dsm_tp_t *tp, const dsm_tp_mem_t *mem, void **blob_p,
                             size_t *size_p);
dsm_status_t dsm_tp_rmem_create(dsm_tp_t *tp, dsm_tp_rmem_t **rmem_p);
dsm_status_t dsm_tp_rmem_set(dsm_tp_t *tp, dsm_tp_rmem_t *rmem, int node, const void *blob,
                             size_t size);

/*
 * Copy length bytes at offset of node's region into local (get), or local
 * into it (put). local must stay valid until completion; local_mem is the
 * registration holding local, or NULL. A put is complete at the target only
 * after a flush (RMA is not ordered with active messages).
 */
dsm_status_t dsm_tp_get(dsm_tp_t *tp, const dsm_tp_rmem_t *rmem, int node, size_t offset,
                        void *local, size_t length, const dsm_tp_mem_t *local_mem,
                        dsm_tp_complete_cb_t cb, void *arg);
dsm_status_t dsm_tp_put(dsm_tp_t *tp, const dsm_tp_rmem_t *rmem, int node, size_t offset,
                        const void *local, size_t length, const dsm_tp_mem_t *local_mem,
                        dsm_tp_complete_cb_t cb, void *arg);

/* Complete every RMA issued so far to node (or to all nodes) remotely. */
dsm_status_t dsm_tp_flush(dsm_tp_t *tp, int node, dsm_tp_complete_cb_t cb, void *arg);
dsm_status_t dsm_tp_flush_all(dsm_tp_t *tp, dsm_tp_complete_cb_t cb, void *arg);

/* ---- progress ----------------------------------------------------------- */

/* Non-blocking: run callbacks that are due. Nonzero if anything happened. */
int dsm_tp_progress(dsm_tp_t *tp);

/*
 * Sleeping: the transport's event fd (for epoll/poll, readable when there
 * may be work: UCX events or a same-host peer's exit) and arming it.
 * dsm_tp_arm returns DSM_OK when it is safe to sleep on the fd, DSM_ERR_AGAIN
 * when events are pending (progress first). It polls once after arming (a
 * verbs completion queue may not signal completions that arrived before the
 * arm), so callbacks may run inside it. The loop is: progress until it
 * returns 0, arm, sleep, repeat. Sleep at most DSM_TP_SLEEP_MAX_MS at a time:
 * failure detection (UCX keepalive) needs progress even when nothing arrives.
 */
#define DSM_TP_SLEEP_MAX_MS 200
int dsm_tp_event_fd(const dsm_tp_t *tp);
dsm_status_t dsm_tp_arm(dsm_tp_t *tp);

/*
 * Progress until something happens or timeout_ms passes (-1: no limit):
 * busy-poll for config.spin_us, then arm and sleep on the event fd.
 * Returns DSM_OK when something happened or may have (callers recheck their
 * condition), DSM_ERR_TIMEOUT otherwise.
 */
dsm_status_t dsm_tp_wait(dsm_tp_t *tp, int timeout_ms);

#endif /* DSM_TP_H */
