/*
 * Message encoding and format validation. Byte by byte, little-endian: the
 * wire format never depends on the compiler's struct layout or padding.
 */
#include <string.h>

#include "coh_int.h"

static void dsm_coh_put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void dsm_coh_put64(uint8_t *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint32_t dsm_coh_get32(const uint8_t *p)
{
    uint32_t v = 0;

    for (unsigned i = 0; i < 4; i++) {
        v |= (uint32_t)p[i] << (8 * i);
    }
    return v;
}

static uint64_t dsm_coh_get64(const uint8_t *p)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < 8; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

void dsm_coh_msg_encode(const dsm_coh_msg_t *msg, uint8_t *bytes)
{
    bytes[0] = DSM_COH_MSG_VERSION;
    bytes[1] = (uint8_t)msg->type;
    bytes[2] = msg->flags;
    bytes[3] = (uint8_t)msg->stride;
    dsm_coh_put32(bytes + 4, msg->sender);
    dsm_coh_put32(bytes + 8, msg->req_id);
    dsm_coh_put64(bytes + 12, msg->page);
    dsm_coh_put32(bytes + 20, msg->count);
}

uint8_t dsm_coh_msg_grant_flags(const uint8_t *bytes)
{
    return bytes[1] == DSM_COH_MSG_GRANT ? bytes[2] : 0;
}

void dsm_coh_msg_set_zero(uint8_t *bytes)
{
    bytes[2] |= DSM_COH_GRANT_ZERO;
}

bool dsm_coh_msg_is_request(const uint8_t *bytes)
{
    return bytes[1] == DSM_COH_MSG_REQ_READ || bytes[1] == DSM_COH_MSG_REQ_WRITE;
}

bool dsm_coh_run_valid(uint64_t first, uint32_t count, uint32_t stride, uint64_t npages)
{
    return count >= 1 && count <= DSM_COH_RUN_MAX && stride >= 1 &&
           stride <= DSM_COH_STRIDE_MAX && first < npages &&
           dsm_coh_run_end(0, count, stride) <= npages - first;
}

uint32_t dsm_coh_run_joined(uint64_t first, uint32_t count, uint32_t stride, uint64_t next,
                            uint32_t next_count, uint32_t next_stride)
{
    uint64_t step = next - first; /* wraps when next is before first: too long */
    uint32_t joined = count > 1 ? stride
                      : step >= 1 && step <= DSM_COH_STRIDE_MAX ? (uint32_t)step : 0;

    if (joined == 0 || (next_count > 1 && next_stride != joined) ||
        count + next_count > DSM_COH_RUN_MAX || next != dsm_coh_run_page(first, joined, count)) {
        return 0;
    }
    return joined;
}

bool dsm_coh_msg_extend(uint8_t *bytes, const uint8_t *next, uint32_t stride)
{
    uint32_t count = dsm_coh_get32(bytes + 20);

    /* Same version, type and flags (bytes 0..2), sender and request id (4..11). */
    if (memcmp(bytes, next, 3) != 0 || memcmp(bytes + 4, next + 4, 8) != 0 ||
        dsm_coh_get32(next + 20) != 1 ||
        dsm_coh_run_joined(dsm_coh_get64(bytes + 12), count, bytes[3], dsm_coh_get64(next + 12),
                           1, 1) != stride) {
        return false;
    }
    bytes[3] = (uint8_t)stride;
    dsm_coh_put32(bytes + 20, count + 1);
    return true;
}

static bool dsm_coh_flags_valid(uint8_t type, uint8_t flags)
{
    if (type != DSM_COH_MSG_GRANT) {
        return flags == 0;
    }
    if (flags & DSM_COH_GRANT_ZERO) {
        flags &= (uint8_t)~DSM_COH_GRANT_ZERO;
        return flags == DSM_COH_GRANT_DATA || flags == (DSM_COH_GRANT_EXCL | DSM_COH_GRANT_DATA);
    }
    return flags == DSM_COH_GRANT_DATA ||
           flags == (DSM_COH_GRANT_EXCL | DSM_COH_GRANT_DATA) ||
           flags == DSM_COH_GRANT_EXCL;
}

dsm_status_t dsm_coh_msg_check(const dsm_coh_msg_t *msg, uint32_t nnodes, uint64_t npages)
{
    /* Request ids are never 0, so a zeroed field cannot match an outstanding one. */
    if ((unsigned)msg->type == 0 || (unsigned)msg->type > DSM_COH_MSG_TYPE_MAX ||
        !dsm_coh_flags_valid((uint8_t)msg->type, msg->flags) || msg->sender >= nnodes ||
        msg->req_id == 0 || !dsm_coh_run_valid(msg->page, msg->count, msg->stride, npages)) {
        return DSM_ERR_MALFORMED;
    }
    return DSM_OK;
}

dsm_status_t dsm_coh_msg_decode(const void *bytes, size_t length, uint32_t src,
                                uint32_t nnodes, uint64_t npages, dsm_coh_msg_t *msg_p)
{
    const uint8_t *b = bytes;
    dsm_coh_msg_t msg;

    if (bytes == NULL || length != DSM_COH_MSG_SIZE || b[0] != DSM_COH_MSG_VERSION) {
        return DSM_ERR_MALFORMED;
    }
    msg.type = (dsm_coh_msg_type_t)b[1];
    msg.flags = b[2];
    msg.sender = dsm_coh_get32(b + 4);
    msg.req_id = dsm_coh_get32(b + 8);
    msg.page = dsm_coh_get64(b + 12);
    msg.count = dsm_coh_get32(b + 20);
    msg.stride = b[3];
    if (msg.sender != src || dsm_coh_msg_check(&msg, nnodes, npages) != DSM_OK) {
        return DSM_ERR_MALFORMED;
    }
    *msg_p = msg;
    return DSM_OK;
}
