/*
 * libFuzzer target: arbitrary bytes drive one coherence engine.
 *
 * The first bytes choose the job (nodes, which one we are, pages, placement);
 * the rest is a program of inputs: local faults and RMA completions (also on
 * pages out of range and with bogus ops), fault and completion runs (of 0 to
 * 9 pages, also past the arena, along a fuzzed stride, 0 and over
 * DSM_COH_STRIDE_MAX included), raw messages of any length from any source,
 * and structured messages (valid headers with fuzzed type, flags, sender,
 * request id, page, count and stride, often from the right source) that get
 * past the format checks and into the state-dependent ones (through
 * dsm_coh_engine_recv or through _decode and _recv_msg). A run with no pages,
 * stride 0 or over DSM_COH_STRIDE_MAX, or a last page along its stride past
 * the arena must be refused (a local one with nothing emitted). After every
 * input, every action the engine emitted must be well-formed (a run of 1..
 * pages in the arena along a stride of 1..DSM_COH_STRIDE_MAX, of one home
 * for transfers and messages, messages that decode and name the action's run
 * and stride, never a message to self). ASan/UBSan and the leak checker do
 * the rest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsm_coh.h"

typedef struct {
    const uint8_t *data;
    size_t         size;
} fuzz_input_t;

static uint8_t fuzz_byte(fuzz_input_t *in)
{
    uint8_t b = 0;

    if (in->size > 0) {
        b = *in->data++;
        in->size--;
    }
    return b;
}

static uint32_t fuzz_u32(fuzz_input_t *in)
{
    uint32_t v = fuzz_byte(in);

    return v | (uint32_t)fuzz_byte(in) << 8;
}

/*
 * A fuzzed stride for a local run: mostly small ones (runs that fit the few
 * pages of the arena), 0, and strides around DSM_COH_STRIDE_MAX, both sides.
 */
static uint32_t fuzz_stride(fuzz_input_t *in)
{
    uint8_t b = fuzz_byte(in);

    return b < 0xf0 ? b % 8u : DSM_COH_STRIDE_MAX - 7 + (b & 0x0fu);
}

/* Whether the run of count pages from first along stride is one the engine
 * takes: 1..DSM_COH_RUN_MAX pages, a stride of 1..DSM_COH_STRIDE_MAX, its last
 * page in the arena. */
static bool fuzz_run_fits(const dsm_coh_params_t *params, uint64_t first, uint32_t count,
                          uint32_t stride)
{
    return count > 0 && count <= DSM_COH_RUN_MAX && stride > 0 &&
           stride <= DSM_COH_STRIDE_MAX && first < params->npages &&
           dsm_coh_run_end(0, count, stride) <= params->npages - first;
}

/* A local run that does not fit is refused as a whole, before anything changes. */
static void fuzz_check_local(const dsm_coh_params_t *params, uint64_t first, uint32_t count,
                             uint32_t stride, dsm_status_t status, const dsm_coh_actions_t *out)
{
    if (!fuzz_run_fits(params, first, count, stride) &&
        (status != DSM_ERR_INVALID_PARAM || out->count != 0)) {
        abort();
    }
}

static void fuzz_check(const dsm_coh_engine_t *engine, const dsm_coh_params_t *params,
                       const dsm_coh_actions_t *out)
{
    for (size_t i = 0; i < out->count; i++) {
        const dsm_coh_action_t *a = &out->actions[i];
        dsm_coh_msg_t msg;

        if (!fuzz_run_fits(params, a->page, a->count, a->stride) ||
            (unsigned)a->type >= DSM_COH_ACT_COUNT) {
            abort();
        }
        if (a->type == DSM_COH_ACT_SEND &&
            (a->node == params->self || a->node >= params->nnodes ||
             dsm_coh_msg_decode(a->msg, DSM_COH_MSG_SIZE, params->self, params->nnodes,
                                params->npages, &msg) != DSM_OK ||
             msg.page != a->page || msg.count != a->count || msg.stride != a->stride)) {
            abort();
        }
        if (a->type == DSM_COH_ACT_FETCH || a->type == DSM_COH_ACT_WRITE_BACK ||
            a->type == DSM_COH_ACT_SEND) {
            uint32_t home = dsm_coh_engine_home(engine, a->page);

            /* One home for the run: the action's node, or we send as that home. */
            if (a->node != home && !(a->type == DSM_COH_ACT_SEND && home == params->self)) {
                abort();
            }
            for (uint32_t k = 1; k < a->count; k++) {
                if (dsm_coh_engine_home(engine, dsm_coh_run_page(a->page, a->stride, k)) != home) {
                    abort();
                }
            }
        }
    }
}

static void fuzz_step(dsm_coh_engine_t *engine, const dsm_coh_params_t *params,
                      fuzz_input_t *in, dsm_coh_actions_t *out)
{
    uint8_t bytes[64];
    dsm_coh_msg_t msg;
    dsm_status_t status;
    uint32_t src;
    uint8_t id_byte;
    size_t len;
    bool fits;

    out->count = 0;
    /* 0..4 as before runs existed, so that the older seeds keep their meaning. */
    switch (fuzz_byte(in) % 7) {
    case 0:
        dsm_coh_engine_read_fault(engine, fuzz_byte(in) % (params->npages + 1), out);
        break;
    case 1:
        dsm_coh_engine_write_fault(engine, fuzz_byte(in) % (params->npages + 1), out);
        break;
    case 2:
        dsm_coh_engine_rma_done(engine, fuzz_byte(in) % (params->npages + 1),
                                (dsm_coh_rma_t)(fuzz_byte(in) % 3), out);
        break;
    case 3: /* raw bytes from any source */
        src = fuzz_byte(in) % (params->nnodes + 1);
        len = fuzz_byte(in) % sizeof(bytes);
        for (size_t i = 0; i < len; i++) {
            bytes[i] = fuzz_byte(in);
        }
        dsm_coh_engine_recv(engine, src, bytes, len, out);
        break;
    default: /* a well-formed header with fuzzed fields, through either entry point */
        msg.type = (dsm_coh_msg_type_t)(1 + fuzz_byte(in) % DSM_COH_MSG_TYPE_MAX);
        msg.flags = msg.type == DSM_COH_MSG_GRANT ? (uint8_t)(1 + fuzz_byte(in) % 3) : 0;
        msg.sender = fuzz_byte(in) % params->nnodes;
        id_byte = fuzz_byte(in);
        msg.req_id = 1 + id_byte % 16;
        msg.page = fuzz_byte(in) % params->npages;
        /* Bits 4-5 of the id byte: 1 page (so older seeds keep their meaning),
         * 2, 1..8 or any byte (0, and past the arena, are refused). */
        switch ((id_byte >> 4) & 3) {
        case 0: msg.count = 1; break;
        case 1: msg.count = 2; break;
        case 2: msg.count = 1 + fuzz_byte(in) % 8u; break;
        default: msg.count = fuzz_byte(in); break;
        }
        /* Bit 6 of the id byte: stride 1 (older seeds keep their meaning) or
         * any byte, the whole range of the wire's (0 is refused). */
        msg.stride = id_byte & 0x40 ? fuzz_byte(in) : 1;
        fits = fuzz_run_fits(params, msg.page, msg.count, msg.stride);
        dsm_coh_msg_encode(&msg, bytes);
        if (id_byte & 0x80) { /* decoded once, then handed in, as the runtime may */
            status = dsm_coh_engine_decode(engine, msg.sender, bytes, DSM_COH_MSG_SIZE, &msg);
            if (status == DSM_OK) {
                status = dsm_coh_engine_recv_msg(engine, &msg, out);
            }
        } else {
            status = dsm_coh_engine_recv(engine, msg.sender, bytes, DSM_COH_MSG_SIZE, out);
        }
        if (!fits && status != DSM_ERR_MALFORMED) {
            abort();
        }
        break;
    case 5: { /* a fault run: a read-ahead or upgrade window, down a column if strided */
        uint8_t kind = fuzz_byte(in);
        uint64_t first = fuzz_byte(in) % (params->npages + 1);
        uint32_t count = fuzz_byte(in) % 10u;
        /* Bit 1 of the kind: stride 1 (older seeds keep their meaning) or fuzzed. */
        uint32_t stride = kind & 2 ? fuzz_stride(in) : 1;

        if (kind & 1) {
            status = dsm_coh_engine_write_fault_run(engine, first, count, stride, out);
        } else {
            status = dsm_coh_engine_read_fault_run(engine, first, count, stride, out);
        }
        fuzz_check_local(params, first, count, stride, status, out);
        break;
    }
    case 6: { /* a completion run, joined along a stride if fuzzed so */
        uint64_t first = fuzz_byte(in) % (params->npages + 1);
        uint32_t count = fuzz_byte(in) % 10u;
        uint8_t op = fuzz_byte(in);
        /* Bit 7 of the op byte: stride 1 (older seeds keep their meaning) or fuzzed. */
        uint32_t stride = op & 0x80 ? fuzz_stride(in) : 1;

        status = dsm_coh_engine_rma_done_run(engine, first, count, stride,
                                             (dsm_coh_rma_t)((op & 0x7f) % 3), out);
        fuzz_check_local(params, first, count, stride, status, out);
        break;
    }
    }
    fuzz_check(engine, params, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input_t in = {data, size};
    dsm_coh_params_t params = {0};
    dsm_coh_engine_t *engine;
    dsm_coh_actions_t out;
    uint32_t nodes_choice = fuzz_u32(&in);

    /* Mostly small jobs (where the protocol gets deep), sometimes > 64 nodes. */
    params.nnodes = 1 + (nodes_choice & 0x100 ? nodes_choice % 1100 : nodes_choice % 8);
    params.self = fuzz_byte(&in) % params.nnodes;
    params.npages = 1 + fuzz_byte(&in) % 16;
    params.home_policy = (dsm_coh_home_policy_t)(fuzz_byte(&in) % 2);
    if (dsm_coh_engine_create(&params, &engine) != DSM_OK) {
        return 0;
    }
    out.capacity = dsm_coh_engine_max_actions(engine);
    out.actions = calloc(out.capacity, sizeof(*out.actions));
    if (out.actions != NULL) {
        for (unsigned step = 0; in.size > 0 && step < 4096; step++) {
            fuzz_step(engine, &params, &in, &out);
        }
        /* Reset must leave an engine as good as new. */
        dsm_coh_engine_reset(engine);
        out.count = 0;
        if (dsm_coh_engine_read_fault(engine, 0, &out) != DSM_OK || !(out.count <= 1)) {
            abort();
        }
        free(out.actions);
    }
    dsm_coh_engine_destroy(engine);
    return 0;
}
