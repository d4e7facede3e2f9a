/*
 * transport/ registered memory and RMA: the home's backing store is mapped
 * (and preferably allocated) through UCX, its rkey packed and exchanged, and
 * peers get and put blocks of it one-sidedly.
 */
#include <stdlib.h>
#include <string.h>

#include "tp_ucx.h"

struct dsm_tp_mem {
    dsm_tp_t *tp;
    ucp_mem_h memh;
    void     *address;
    size_t    length;
};

/* What a node publishes about its region: base and length, then the rkey. */
typedef struct {
    uint64_t address;
    uint64_t length;
} dsm_tp_rmem_wire_t;

typedef struct {
    uint64_t   address;
    uint64_t   length;
    ucp_rkey_h rkey; /* NULL for a node lost before the exchange */
} dsm_tp_rmem_node_t;

struct dsm_tp_rmem {
    int                nnodes;
    dsm_tp_rmem_node_t node[];
};

dsm_status_t dsm_tp_mem_map(dsm_tp_t *tp, void *address, size_t length, dsm_tp_mem_t **mem_p)
{
    ucp_mem_map_params_t params = {0};
    ucp_mem_attr_t attr = {0};
    ucs_status_t status;
    dsm_tp_mem_t *mem;

    if (length == 0) {
        return DSM_ERR_INVALID_PARAM;
    }
    mem = calloc(1, sizeof(*mem));
    if (mem == NULL) {
        dsm_error("transport: out of memory");
        return DSM_ERR_NO_MEMORY;
    }
    params.field_mask = UCP_MEM_MAP_PARAM_FIELD_LENGTH | UCP_MEM_MAP_PARAM_FIELD_FLAGS;
    params.length     = length;
    if (address == NULL) {
        params.flags = UCP_MEM_MAP_ALLOCATE;
    } else {
        params.field_mask |= UCP_MEM_MAP_PARAM_FIELD_ADDRESS;
        params.address     = address;
    }
    status = ucp_mem_map(tp->context, &params, &mem->memh);
    if (status != UCS_OK) {
        dsm_error("transport: registering %zu bytes: %s", length, ucs_status_string(status));
        free(mem);
        return dsm_tp_status_from_ucs(status);
    }
    attr.field_mask = UCP_MEM_ATTR_FIELD_ADDRESS | UCP_MEM_ATTR_FIELD_LENGTH;
    status = ucp_mem_query(mem->memh, &attr);
    if (status != UCS_OK) {
        dsm_error("transport: ucp_mem_query: %s", ucs_status_string(status));
        ucp_mem_unmap(tp->context, mem->memh);
        free(mem);
        return DSM_ERR_TRANSPORT;
    }
    mem->tp      = tp;
    mem->address = attr.address;
    mem->length  = length;
    *mem_p = mem;
    return DSM_OK;
}

void dsm_tp_mem_unmap(dsm_tp_mem_t *mem)
{
    ucs_status_t status;

    if (mem == NULL) {
        return;
    }
    status = ucp_mem_unmap(mem->tp->context, mem->memh);
    if (status != UCS_OK) {
        dsm_warn("transport: ucp_mem_unmap: %s", ucs_status_string(status));
    }
    free(mem);
}

void *dsm_tp_mem_address(const dsm_tp_mem_t *mem)
{
    return mem->address;
}

size_t dsm_tp_mem_length(const dsm_tp_mem_t *mem)
{
    return mem->length;
}

dsm_status_t dsm_tp_mem_pack(dsm_tp_t *tp, const dsm_tp_mem_t *mem, void **blob_p,
                             size_t *size_p)
{
    dsm_tp_rmem_wire_t wire = { .address = (uintptr_t)mem->address, .length = mem->length };
    void *rkey;
    size_t rkey_size;
    ucs_status_t status;
    unsigned char *blob;

    status = ucp_rkey_pack(tp->context, mem->memh, &rkey, &rkey_size);
    if (status != UCS_OK) {
        dsm_error("transport: ucp_rkey_pack: %s", ucs_status_string(status));
        return DSM_ERR_TRANSPORT;
    }
    blob = malloc(sizeof(wire) + rkey_size);
    if (blob == NULL) {
        dsm_error("transport: out of memory");
        ucp_rkey_buffer_release(rkey);
        return DSM_ERR_NO_MEMORY;
    }
    memcpy(blob, &wire, sizeof(wire));
    memcpy(blob + sizeof(wire), rkey, rkey_size);
    ucp_rkey_buffer_release(rkey);
    *blob_p = blob;
    *size_p = sizeof(wire) + rkey_size;
    return DSM_OK;
}

dsm_status_t dsm_tp_rmem_create(dsm_tp_t *tp, dsm_tp_rmem_t **rmem_p)
{
    dsm_tp_rmem_t *rmem = calloc(1, sizeof(*rmem) + (size_t)tp->nnodes * sizeof(rmem->node[0]));

    if (rmem == NULL) {
        dsm_error("transport: out of memory");
        return DSM_ERR_NO_MEMORY;
    }
    rmem->nnodes = tp->nnodes;
    *rmem_p = rmem;
    return DSM_OK;
}

dsm_status_t dsm_tp_rmem_set(dsm_tp_t *tp, dsm_tp_rmem_t *rmem, int node, const void *blob,
                             size_t size)
{
    dsm_tp_rmem_wire_t wire;
    ucs_status_t status;

    if (tp->peers == NULL || node < 0 || node >= rmem->nnodes) {
        return DSM_ERR_INVALID_PARAM;
    }
    if (size <= sizeof(wire) || rmem->node[node].rkey != NULL) {
        dsm_error("transport: node %d published a malformed or second region", node);
        return DSM_ERR_MALFORMED;
    }
    if (tp->peers[node].lost) {
        return DSM_ERR_PEER_LOST;
    }
    memcpy(&wire, blob, sizeof(wire));
    status = ucp_ep_rkey_unpack(tp->peers[node].ep, (const unsigned char *)blob + sizeof(wire),
                                &rmem->node[node].rkey);
    if (status != UCS_OK) {
        dsm_error("transport: unpacking node %d's rkey: %s", node, ucs_status_string(status));
        return DSM_ERR_TRANSPORT;
    }
    rmem->node[node].address = wire.address;
    rmem->node[node].length  = wire.length;
    return DSM_OK;
}

dsm_status_t dsm_tp_rmem_exchange(dsm_tp_t *tp, const dsm_tp_mem_t *mem, dsm_tp_rmem_t **rmem_p)
{
    dsm_boot_gathered_t blobs;
    dsm_tp_rmem_t *rmem = NULL;
    dsm_status_t status;
    size_t size;
    void *blob;

    if (tp->peers == NULL) {
        return DSM_ERR_STATE;
    }
    status = dsm_tp_mem_pack(tp, mem, &blob, &size);
    if (status != DSM_OK) {
        return status;
    }
    status = dsm_boot_allgather(tp->boot, blob, size, &blobs);
    free(blob);
    if (status != DSM_OK) {
        dsm_error("transport: region exchange: %s", dsm_strerror(status));
        return status;
    }
    if (blobs.count != tp->nnodes) {
        dsm_error("transport: region exchange returned %d regions for %d nodes", blobs.count,
                  tp->nnodes);
        status = DSM_ERR_BOOTSTRAP;
        goto err_blobs;
    }
    status = dsm_tp_rmem_create(tp, &rmem);
    if (status != DSM_OK) {
        goto err_blobs;
    }
    for (int i = 0; i < tp->nnodes; i++) {
        status = dsm_tp_rmem_set(tp, rmem, i, blobs.blobs[i], blobs.sizes[i]);
        if (status == DSM_ERR_PEER_LOST) {
            continue; /* a node lost before the exchange keeps no rkey */
        }
        if (status != DSM_OK) {
            goto err_rmem;
        }
    }
    /* Unpacking a key of UCX-allocated shared memory opens the owner's file
     * (/proc/<pid>/fd/N): no node may go on to unmap its region, or exit,
     * while another is still unpacking (bench_smoke_write_upgrade at 4 nodes
     * on 2 CPUs: a node crashed in ucp_ep_rkey_unpack once in ~30 runs). */
    status = dsm_boot_barrier(tp->boot);
    if (status != DSM_OK) {
        dsm_error("transport: region exchange: %s", dsm_strerror(status));
        goto err_rmem;
    }
    dsm_boot_gathered_free(&blobs);
    *rmem_p = rmem;
    return DSM_OK;

err_rmem:
    dsm_tp_rmem_free(rmem);
err_blobs:
    dsm_boot_gathered_free(&blobs);
    return status;
}

void dsm_tp_rmem_free(dsm_tp_rmem_t *rmem)
{
    if (rmem == NULL) {
        return;
    }
    for (int i = 0; i < rmem->nnodes; i++) {
        if (rmem->node[i].rkey != NULL) {
            ucp_rkey_destroy(rmem->node[i].rkey);
        }
    }
    free(rmem);
}

size_t dsm_tp_rmem_length(const dsm_tp_rmem_t *rmem, int node)
{
    return node >= 0 && node < rmem->nnodes ? rmem->node[node].length : 0;
}

/* Validate an RMA request and prepare its operation; *op_p set on DSM_OK. */
static dsm_status_t dsm_tp_rma_prepare(dsm_tp_t *tp, const dsm_tp_rmem_t *rmem, int node,
                                       size_t offset, const void *local, size_t length,
                                       const dsm_tp_mem_t *local_mem, dsm_tp_complete_cb_t cb,
                                       void *arg, ucp_request_param_t *param_p,
                                       dsm_tp_op_t **op_p)
{
    const dsm_tp_rmem_node_t *remote;
    dsm_tp_op_t *op;
    dsm_status_t status;

    status = dsm_tp_op_begin(tp, node, cb, arg, param_p, &op);
    if (status != DSM_OK) {
        return status;
    }
    remote = &rmem->node[node];
    if (local == NULL || length == 0 || remote->rkey == NULL || offset > remote->length ||
        length > remote->length - offset) {
        dsm_error("transport: RMA of %zu bytes at %zu outside node %d's %llu-byte region",
                  length, offset, node, (unsigned long long)remote->length);
        dsm_tp_op_put(tp, op);
        return DSM_ERR_INVALID_PARAM;
    }
    if (local_mem != NULL) {
        /* Saves UCX a registration-cache lookup for staging buffers. */
        param_p->op_attr_mask |= UCP_OP_ATTR_FIELD_MEMH;
        param_p->memh          = local_mem->memh;
    }
    *op_p = op;
    return DSM_OK;
}

/* One RMA operation to node's region; local is writable when is_get. */
static dsm_status_t dsm_tp_rma(dsm_tp_t *tp, int is_get, const dsm_tp_rmem_t *rmem, int node,
                               size_t offset, const void *local, size_t length,
                               const dsm_tp_mem_t *local_mem, dsm_tp_complete_cb_t cb,
                               void *arg)
{
    ucp_request_param_t param;
    ucs_status_ptr_t request;
    uint64_t remote;
    ucp_ep_h ep;
    dsm_status_t status;
    dsm_tp_op_t *op;

    status = dsm_tp_rma_prepare(tp, rmem, node, offset, local, length, local_mem, cb, arg,
                                &param, &op);
    if (status != DSM_OK) {
        return status;
    }
    remote = rmem->node[node].address + offset;
    ep     = tp->peers[node].ep;
    if (ep == NULL) {
        request = DSM_TP_EP_CLOSED;
    } else if (is_get) {
        tp->stats.rma_gets++;
        request = ucp_get_nbx(ep, (void *)local, length, remote, rmem->node[node].rkey, &param);
    } else {
        tp->stats.rma_puts++;
        request = ucp_put_nbx(ep, local, length, remote, rmem->node[node].rkey, &param);
    }
    return dsm_tp_op_started(tp, op, request, is_get ? "RMA get" : "RMA put");
}

dsm_status_t dsm_tp_get(dsm_tp_t *tp, const dsm_tp_rmem_t *rmem, int node, size_t offset,
                        void *local, size_t length, const dsm_tp_mem_t *local_mem,
                        dsm_tp_complete_cb_t cb, void *arg)
{
    return dsm_tp_rma(tp, 1, rmem, node, offset, local, length, local_mem, cb, arg);
}

dsm_status_t dsm_tp_put(dsm_tp_t *tp, const dsm_tp_rmem_t *rmem, int node, size_t offset,
                        const void *local, size_t length, const dsm_tp_mem_t *local_mem,
                        dsm_tp_complete_cb_t cb, void *arg)
{
    return dsm_tp_rma(tp, 0, rmem, node, offset, local, length, local_mem, cb, arg);
}

dsm_status_t dsm_tp_flush(dsm_tp_t *tp, int node, dsm_tp_complete_cb_t cb, void *arg)
{
    ucp_request_param_t param;
    dsm_status_t status;
    dsm_tp_op_t *op;

    status = dsm_tp_op_begin(tp, node, cb, arg, &param, &op);
    if (status != DSM_OK) {
        return status;
    }
    return dsm_tp_op_started(tp, op,
                             tp->peers[node].ep == NULL ? DSM_TP_EP_CLOSED :
                             ucp_ep_flush_nbx(tp->peers[node].ep, &param), "flush");
}

dsm_status_t dsm_tp_flush_all(dsm_tp_t *tp, dsm_tp_complete_cb_t cb, void *arg)
{
    ucp_request_param_t param;
    dsm_tp_op_t *op;
    dsm_status_t status = dsm_tp_op_begin(tp, -1, cb, arg, &param, &op);

    if (status != DSM_OK) {
        return status;
    }
    return dsm_tp_op_started(tp, op, ucp_worker_flush_nbx(tp->worker, &param), "flush");
}
