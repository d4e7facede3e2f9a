/*
 * transport/ device probe: which UCX transports and devices this host offers,
 * for dsm-info. Uses UCT's resource queries only (no context, no worker), so
 * it is cheap and touches no network. Kept apart from dsm_tp.h so that tools
 * need not know the transport's internals.
 */
#ifndef DSM_TP_PROBE_H
#define DSM_TP_PROBE_H

#include <stddef.h>

#include "dsm.h"

typedef struct {
    char        component[16]; /* UCT component, e.g. "ib", "tcp", "posix"   */
    char        md[16];        /* memory domain, e.g. "mlx5_0", "tcp"        */
    char        transport[16]; /* e.g. "rc_mlx5", "tcp", "posix"             */
    char        device[32];    /* e.g. "mlx5_0:1", "eth0", "memory"          */
    const char *kind;          /* "network", "shared memory", "accelerator", "loopback" */
    int         rdma;          /* an RDMA-capable device (verbs: IB / RoCE)  */
} dsm_tp_probe_resource_t;

typedef struct {
    char                     ucx_version[32];
    size_t                   count;
    dsm_tp_probe_resource_t *resources; /* count entries, owned by the probe */
} dsm_tp_probe_t;

/*
 * List every transport resource of every UCT component and memory domain.
 * A memory domain that fails to open is skipped (logged at debug level);
 * DSM_ERR_TRANSPORT only when UCT itself cannot be queried.
 */
dsm_status_t dsm_tp_probe_query(dsm_tp_probe_t *probe_p);
void dsm_tp_probe_release(dsm_tp_probe_t *probe);

/* The number of resources with rdma set. */
size_t dsm_tp_probe_rdma_count(const dsm_tp_probe_t *probe);

#endif /* DSM_TP_PROBE_H */
