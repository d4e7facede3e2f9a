/*
 * boot/ - the layer's interface: how the N processes of a job find each other
 * and exchange the blobs (UCX worker addresses, rkeys) that connect them.
 *
 * Paths, chosen by dsm_boot_init in this order (docs/design.md "### Bootstrap"):
 *  - the dsmrun path when any of DSM_RANK, DSM_NNODES, DSM_COORD=host:port,
 *    DSM_JOB_KEY is set (then all four must be): node 0 listens on DSM_COORD,
 *    every node connects, both sides prove they hold the job key (HMAC over
 *    nonces; the key never crosses the wire), and exchanges go through node 0
 *    over TCP.
 *  - PMIx, when started by a PMIx launcher (PMIX_RANK and PMIX_NAMESPACE set:
 *    mpirun, srun): rank and size from PMIx, exchange by PMIx
 *    put/commit/fence/get.
 *  - otherwise a single-node job (rank 0 of 1), with a warning.
 *
 * Below transport/ (whose connect uses the allgather) and above common/; built
 * and tested without UCX.
 */
#ifndef DSM_BOOT_H
#define DSM_BOOT_H

#include <stddef.h>

#include "dsm.h"

typedef struct dsm_boot dsm_boot_t;

/* The result of an allgather: blobs[i] (sizes[i] bytes) came from rank i. */
typedef struct {
    int     count;
    void  **blobs;
    size_t *sizes;
} dsm_boot_gathered_t;

/*
 * Join the job. Blocks until every node has joined (or a timeout, or a refusal).
 * Returns DSM_ERR_CONFIG for a missing or malformed variable (logged with its
 * name) or a rank/node count that does not fit the job, DSM_ERR_AUTH when node 0
 * does not hold this node's job key, DSM_ERR_BOOTSTRAP when the coordinator is
 * unreachable, DSM_ERR_TIMEOUT when not every node joined within
 * DSM_BOOT_TIMEOUT (node 0 names the missing ones), DSM_ERR_MALFORMED for a
 * malformed frame from node 0, DSM_ERR_PEER_LOST when a node closed its
 * connection while the job formed. Node 0 does not fail for a connection that
 * has not proved the job key (a stranger, a node with another key): it drops it
 * with a warning and goes on waiting.
 */
dsm_status_t dsm_boot_init(dsm_boot_t **boot_p);

/* This node's rank (0..size-1) and the number of nodes in the job. */
int dsm_boot_rank(const dsm_boot_t *boot);
int dsm_boot_size(const dsm_boot_t *boot);

/* "dsmrun", "pmix" or "single": which path joined the job (for logs and dsm-info). */
const char *dsm_boot_method(const dsm_boot_t *boot);

/*
 * Collective: every node contributes one blob (sizes may differ, 0 allowed,
 * at most 16 MiB: DSM_ERR_INVALID_PARAM beyond); on success every node
 * receives all of them, indexed by rank (a 0-byte blob is a non-NULL pointer).
 * Free the result with dsm_boot_gathered_free. Fails with DSM_ERR_PEER_LOST,
 * DSM_ERR_TIMEOUT (DSM_BOOT_TIMEOUT) or DSM_ERR_MALFORMED.
 */
dsm_status_t dsm_boot_allgather(dsm_boot_t *boot, const void *blob, size_t size,
                                dsm_boot_gathered_t *gathered_p);
void dsm_boot_gathered_free(dsm_boot_gathered_t *gathered);

/* Collective: returns when every node has entered it. */
dsm_status_t dsm_boot_barrier(dsm_boot_t *boot);

/* Leave the job and release everything. Not collective. NULL is allowed. */
void dsm_boot_fini(dsm_boot_t *boot);

#endif /* DSM_BOOT_H */
