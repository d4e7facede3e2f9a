/*
 * transport/ private: the state shared by the tp_*.c files. Included only by
 * them (it pulls in UCX); everything else uses dsm_tp.h.
 */
#ifndef DSM_TP_UCX_H
#define DSM_TP_UCX_H

#include <stddef.h>
#include <stdint.h>

#include <ucp/api/ucp.h>

#include "dsm_common.h"
#include "dsm_tp.h"

/* What precedes the user header of every active message on the wire. */
typedef struct {
    uint32_t src_node; /* the sender: handlers get it without trusting UCX's ep */
} dsm_tp_am_prefix_t;

#define DSM_TP_AM_WIRE_HEADER_MAX (sizeof(dsm_tp_am_prefix_t) + DSM_TP_AM_HEADER_MAX)

/* The ids, above every user id, of the transport's own messages (tp_am.c). */
#define DSM_TP_AM_ID_ROUND DSM_TP_AM_ID_COUNT        /* connect and bye rounds */
#define DSM_TP_AM_ID_LOST  (DSM_TP_AM_ID_COUNT + 1)  /* "I lost node N"        */
#define DSM_TP_AM_ID_ALL   (DSM_TP_AM_ID_COUNT + 2)

/* The rounds: hello when connecting, bye when disconnecting. */
typedef enum {
    DSM_TP_ROUND_HELLO = 0,
    DSM_TP_ROUND_BYE   = 1,
    DSM_TP_ROUND_COUNT = 2
} dsm_tp_round_t;

/*
 * One started operation: what to call when UCX completes it. Recycled
 * through a free list so that the fast path does not allocate. AM sends keep
 * the wire header here because UCX 1.13 reads it until the send completes.
 */
typedef struct dsm_tp_op {
    struct dsm_tp_op    *next_free;
    struct dsm_tp_op    *prev, *next; /* in flight: in its peer's (or tp's) list */
    dsm_tp_t            *tp;
    dsm_tp_complete_cb_t cb;
    void                *arg;
    int                  node;   /* the peer, or -1 for all */
    int                  orphan; /* reported lost; UCX may still complete it */
    int                  held;   /* failed, UCX is done with it: completes when
                                    the loss it failed on is reported */
    union {
        max_align_t   align;
        unsigned char bytes[DSM_TP_AM_WIRE_HEADER_MAX];
    } header;
} dsm_tp_op_t;

/*
 * Who a node is, exchanged when the transport is created: nodes on the same
 * kernel and pid namespace watch each other's process with a pidfd (see
 * tp_live.c); a job whose nodes all share one network namespace keeps UCX's
 * listeners on loopback (tp_config.c).
 */
typedef struct {
    char     boot_id[40]; /* /proc/sys/kernel/random/boot_id          */
    uint64_t pidns;       /* inode of /proc/self/ns/pid               */
    uint64_t netns;       /* inode of /proc/self/ns/net               */
    int32_t  pid;
    int32_t  pad;
    /* Random, known only to the job: vouches for "I lost node N", which must
     * be sent without UCP_AM_SEND_FLAG_REPLY (tp_am.c). */
    unsigned char token[16];
} dsm_tp_identity_t;

typedef struct {
    dsm_tp_t *tp;
    ucp_ep_h  ep;       /* NULL once closed                              */
    int       node;
    int       same_host; /* on this host (pid namespace included), self too  */
    int       pidfd;    /* same-host peers: readable when it exits, else -1 */
    dsm_tp_op_t *inflight; /* started operations towards this peer       */
    int       lost;     /* seen failing: its ep, pidfd, or a witness     */
    int       witness;  /* the node that saw it fail and told us, or -1  */
    int       saw_loss; /* it told us it lost a node (and may stop for it) */
    int       tells_unacked; /* our "I lost node N" it has not acknowledged */
    unsigned  lost_seq; /* order in which losses were seen               */
    int       reported; /* peer_lost was called and the ep force-closed  */
    void     *close_req;
} dsm_tp_peer_t;

typedef struct {
    dsm_tp_t           *tp;
    unsigned            id;
    dsm_tp_am_handler_t handler;
    void               *arg;
} dsm_tp_am_slot_t;

struct dsm_tp {
    dsm_boot_t      *boot;
    dsm_tp_config_t  config;
    int              node;
    int              nnodes;
    ucp_context_h    context;
    ucp_worker_h     worker;
    int              ucx_fd;    /* the worker's event fd                  */
    int              live_fd;   /* epoll over the peers' pidfds           */
    dsm_tp_identity_t *identities; /* every node's, by rank               */
    int              event_fd;  /* epoll over ucx_fd and live_fd (exported) */
    unsigned         live_countdown; /* progress calls to the next liveness check */
    dsm_tp_peer_t   *peers;     /* nnodes entries, NULL before connect     */
    int              closing;   /* shutdown: ep errors are expected now    */
    int              connected; /* dsm_tp_connect completed               */
    int              lost_unreported; /* peers lost, not yet handled       */
    unsigned         lost_seq;  /* losses seen so far                      */
    int              lost_handling; /* in dsm_tp_peers_handle_lost: the progress
                                       of its wait must not enter it again */
    int              round_msgs[DSM_TP_ROUND_COUNT]; /* round messages received */
    int              round_acks[DSM_TP_ROUND_COUNT]; /* answers to ours received */
    size_t           outstanding; /* started operations not yet completed */
    dsm_tp_op_t     *inflight_all; /* started worker-wide flushes           */
    dsm_tp_op_t     *free_ops;
    dsm_tp_am_slot_t am[DSM_TP_AM_ID_ALL];
    dsm_tp_stats_t   stats;
};

/*
 * What an operation gets instead of a UCX call when its peer's endpoint was
 * closed on its loss, before the loss is reported: it is held like any
 * failed operation (dsm_tp_op_started).
 */
#define DSM_TP_EP_CLOSED UCS_STATUS_PTR(UCS_ERR_NOT_CONNECTED)

/* UCX status to dsm status; a failure towards a lost peer is PEER_LOST. */
dsm_status_t dsm_tp_status_from_ucs(ucs_status_t status);

/* OK, or why node cannot be used (INVALID_PARAM, PEER_LOST). */
dsm_status_t dsm_tp_peer_check(const dsm_tp_t *tp, int node);

/*
 * The prologue of every operation: check that node can be used (-1: every
 * node, no check), take an operation context for it and fill *param_p so that
 * the request's completion runs cb(arg). *op_p set on DSM_OK; the failure is
 * the peer's (INVALID_PARAM, PEER_LOST) or NO_MEMORY. Return an unused
 * context with dsm_tp_op_put.
 */
dsm_status_t dsm_tp_op_begin(dsm_tp_t *tp, int node, dsm_tp_complete_cb_t cb, void *arg,
                             ucp_request_param_t *param_p, dsm_tp_op_t **op_p);
void dsm_tp_op_put(dsm_tp_t *tp, dsm_tp_op_t *op);

/*
 * Account for what a ucp_*_nbx call returned for op: DSM_OK (done, op
 * recycled), DSM_INPROGRESS (op completes later) or the failure (logged
 * with what, op recycled).
 */
dsm_status_t dsm_tp_op_started(dsm_tp_t *tp, dsm_tp_op_t *op, ucs_status_ptr_t sp,
                               const char *what);

/*
 * Adjust the UCX configuration read from the environment for safety (no
 * sysv; loopback-only tcp for a job on one host) and failure detection
 * (keepalive); needs tp->identities (tp_config.c).
 */
dsm_status_t dsm_tp_config_apply(dsm_tp_t *tp, ucp_config_t *config);

/* Register the dispatcher for every id (tp_am.c). */
dsm_status_t dsm_tp_am_init(dsm_tp_t *tp);

/*
 * Collective, progress-driven: tell every node, answer every node, and return
 * when every node has told us and answered us and nothing of ours is still
 * outstanding. After it no node needs our progress any more, so we may block
 * in a bootstrap collective or close.
 */
dsm_status_t dsm_tp_am_round(dsm_tp_t *tp, dsm_tp_round_t round, int timeout_ms);

/* Liveness of same-host peers (tp_live.c). */
dsm_status_t dsm_tp_live_init(dsm_tp_t *tp);
void dsm_tp_live_fini(dsm_tp_t *tp);
dsm_status_t dsm_tp_identity_get(dsm_tp_identity_t *identity_p);
int dsm_tp_identity_same_host(const dsm_tp_identity_t *a, const dsm_tp_identity_t *b);
/* Nonzero if a and b share a kernel and a network namespace (loopback reaches). */
int dsm_tp_identity_same_net(const dsm_tp_identity_t *a, const dsm_tp_identity_t *b);
/* Watch peer's process (same host); DSM_OK also when it cannot be watched. */
dsm_status_t dsm_tp_live_watch(dsm_tp_t *tp, dsm_tp_peer_t *peer, int32_t pid);
/* Mark peers whose process exited as lost; nonzero if any. */
int dsm_tp_live_check(dsm_tp_t *tp);

/*
 * Record that peer was lost on this node's own evidence about it (its
 * endpoint's error callback, its pidfd; why: for the log); reported by
 * progress, and told to the other nodes (dsm_tp_am_lost_tell).
 */
void dsm_tp_peer_mark_lost(dsm_tp_peer_t *peer, const char *why);

/*
 * A member of the job (witness) says it saw peer fail: mark it lost without
 * waiting for this node's own evidence, so that the node that failed is the
 * one reported, not a witness that stopped because of it.
 */
void dsm_tp_peer_mark_lost_by(dsm_tp_peer_t *peer, int witness);

/*
 * Tell every other live node that this node saw node lost (tp_am.c); each
 * acknowledges when its handler has taken the word in, which counts down the
 * peer's tells_unacked.
 */
void dsm_tp_am_lost_tell(dsm_tp_t *tp, int lost);

/* Close the endpoints of newly lost peers and report them; nonzero if any. */
int dsm_tp_peers_handle_lost(dsm_tp_t *tp);

#endif /* DSM_TP_UCX_H */
