/*
 * Unit tests of the coherence engine's interface: message validation (also of
 * decoded messages), the local path of the home, sparse state, large jobs,
 * reserved capacity, forget, the home's claim of an untouched page, runs of
 * adjacent pages and runs along a stride (on the wire, at a node, at a home).
 * The protocol itself is exercised by tests/sim and tests/model.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dsm_coh.h"
#include "dsm_test.h"

#define UNIT_ACTIONS 2048

static dsm_coh_action_t unit_buf[UNIT_ACTIONS];

static dsm_coh_actions_t unit_out(void)
{
    dsm_coh_actions_t out = {unit_buf, 0, UNIT_ACTIONS};

    return out;
}

static dsm_coh_engine_t *unit_engine(uint32_t self, uint32_t nnodes, uint64_t npages)
{
    dsm_coh_params_t params = {.self = self, .nnodes = nnodes, .npages = npages,
                               .home_policy = DSM_COH_HOME_CYCLIC};
    dsm_coh_engine_t *engine = NULL;

    return dsm_coh_engine_create(&params, &engine) == DSM_OK ? engine : NULL;
}

static dsm_coh_engine_t *unit_engine_blocked(uint32_t self, uint32_t nnodes, uint64_t npages)
{
    dsm_coh_params_t params = {.self = self, .nnodes = nnodes, .npages = npages,
                               .home_policy = DSM_COH_HOME_BLOCKED};
    dsm_coh_engine_t *engine = NULL;

    return dsm_coh_engine_create(&params, &engine) == DSM_OK ? engine : NULL;
}

/* A message naming the run of count pages from page along stride. */
static void unit_run_strided(dsm_coh_msg_type_t type, uint8_t flags, uint32_t sender,
                             uint32_t req_id, uint64_t page, uint32_t count, uint32_t stride,
                             uint8_t *bytes)
{
    dsm_coh_msg_t msg = {.type = type, .flags = flags, .sender = sender, .req_id = req_id,
                         .page = page, .count = count, .stride = stride};

    dsm_coh_msg_encode(&msg, bytes);
}

/* A message naming the run [page, page + count). */
static void unit_run(dsm_coh_msg_type_t type, uint8_t flags, uint32_t sender, uint32_t req_id,
                     uint64_t page, uint32_t count, uint8_t *bytes)
{
    unit_run_strided(type, flags, sender, req_id, page, count, 1, bytes);
}

static void unit_msg(dsm_coh_msg_type_t type, uint8_t flags, uint32_t sender, uint32_t req_id,
                     uint64_t page, uint8_t *bytes)
{
    unit_run(type, flags, sender, req_id, page, 1, bytes);
}

/*
 * Whether action i of out is a SEND to dest of a type message naming the run
 * of count pages from page along stride: the action and the message it
 * carries both say so (the action's fields are what a runtime reads first).
 */
static bool unit_sent_strided(const dsm_coh_actions_t *out, size_t i, uint32_t dest,
                              dsm_coh_msg_type_t type, uint64_t page, uint32_t count,
                              uint32_t stride)
{
    const dsm_coh_action_t *a = &out->actions[i];
    dsm_coh_msg_t msg;

    return i < out->count && a->type == DSM_COH_ACT_SEND && a->node == dest &&
           a->page == page && a->count == count && a->stride == stride &&
           dsm_coh_msg_decode(a->msg, DSM_COH_MSG_SIZE, a->msg[4], 1024, 1ull << 40, &msg) ==
               DSM_OK &&
           msg.type == type && msg.page == page && msg.count == count && msg.stride == stride;
}

/* The same on [page, page + count): a run of adjacent pages has stride 1. */
static bool unit_sent(const dsm_coh_actions_t *out, size_t i, uint32_t dest,
                      dsm_coh_msg_type_t type, uint64_t page, uint32_t count)
{
    return unit_sent_strided(out, i, dest, type, page, count, 1);
}

/* Whether action i of out is type on the run of count pages from page along stride. */
static bool unit_act_strided(const dsm_coh_actions_t *out, size_t i, dsm_coh_action_type_t type,
                             uint64_t page, uint32_t count, uint32_t stride)
{
    return i < out->count && out->actions[i].type == type && out->actions[i].page == page &&
           out->actions[i].count == count && out->actions[i].stride == stride;
}

/* Whether action i of out is type on [page, page + count). */
static bool unit_act(const dsm_coh_actions_t *out, size_t i, dsm_coh_action_type_t type,
                     uint64_t page, uint32_t count)
{
    return unit_act_strided(out, i, type, page, count, 1);
}

static dsm_test_result_t test_msg_validation(void)
{
    uint8_t b[DSM_COH_MSG_SIZE + 1], bad[DSM_COH_MSG_SIZE];
    dsm_coh_msg_t msg;

    unit_msg(DSM_COH_MSG_GRANT, DSM_COH_GRANT_EXCL, 3, 0x01020304u, 0x1122334455ull, b);
    /* Little-endian on the wire whatever the host. */
    DSM_CHECK(b[0] == DSM_COH_MSG_VERSION && b[1] == DSM_COH_MSG_GRANT && b[4] == 3 &&
              b[8] == 0x04 && b[11] == 0x01 && b[12] == 0x55 && b[16] == 0x11);
    DSM_CHECK(dsm_coh_msg_decode(b, DSM_COH_MSG_SIZE, 3, 4, 1ull << 40, &msg) == DSM_OK);
    DSM_CHECK(msg.type == DSM_COH_MSG_GRANT && msg.flags == DSM_COH_GRANT_EXCL &&
              msg.sender == 3 && msg.req_id == 0x01020304u && msg.page == 0x1122334455ull);
    DSM_CHECK(dsm_coh_msg_decode(b, DSM_COH_MSG_SIZE - 1, 3, 4, 1ull << 40, &msg) ==
              DSM_ERR_MALFORMED);
    DSM_CHECK(dsm_coh_msg_decode(b, DSM_COH_MSG_SIZE + 1, 3, 4, 1ull << 40, &msg) ==
              DSM_ERR_MALFORMED);
    DSM_CHECK(dsm_coh_msg_decode(b, DSM_COH_MSG_SIZE, 2, 4, 1ull << 40, &msg) ==
              DSM_ERR_MALFORMED); /* sender is not the transport's source */
    DSM_CHECK(dsm_coh_msg_decode(b, DSM_COH_MSG_SIZE, 3, 3, 1ull << 40, &msg) ==
              DSM_ERR_MALFORMED); /* sender outside the job */
    DSM_CHECK(dsm_coh_msg_decode(b, DSM_COH_MSG_SIZE, 3, 4, 0x1122334455ull, &msg) ==
              DSM_ERR_MALFORMED); /* page outside the arena */
    for (unsigned i = 0; i < 4; i++) {
        static const uint8_t corrupt[4][2] = {{0, 1}, {1, 0}, {1, 8}, {3, 0}};

        memcpy(bad, b, sizeof(bad));
        bad[corrupt[i][0]] = corrupt[i][1]; /* version 1, type 0, type 8, stride 0 */
        DSM_CHECK(dsm_coh_msg_decode(bad, sizeof(bad), 3, 4, 1ull << 40, &msg) ==
                  DSM_ERR_MALFORMED);
    }
    unit_msg(DSM_COH_MSG_GRANT, 0, 3, 1, 0, bad); /* GRANT without DATA or EXCL */
    DSM_CHECK(dsm_coh_msg_decode(bad, sizeof(bad), 3, 4, 16, &msg) == DSM_ERR_MALFORMED);
    unit_msg(DSM_COH_MSG_INV, DSM_COH_GRANT_DATA, 3, 1, 0, bad); /* flags on a non-GRANT */
    DSM_CHECK(dsm_coh_msg_decode(bad, sizeof(bad), 3, 4, 16, &msg) == DSM_ERR_MALFORMED);
    unit_msg(DSM_COH_MSG_INV, 0, 3, 0, 0, bad); /* request id 0 */
    DSM_CHECK(dsm_coh_msg_decode(bad, sizeof(bad), 3, 4, 16, &msg) == DSM_ERR_MALFORMED);
    /* ZERO only beside DATA, and only what dsm_coh_msg_set_zero marks. */
    for (uint8_t flags = 0; flags < 8; flags++) {
        bool legal = flags == DSM_COH_GRANT_DATA || flags == DSM_COH_GRANT_EXCL ||
                     (flags & ~DSM_COH_GRANT_ZERO) == (DSM_COH_GRANT_EXCL | DSM_COH_GRANT_DATA) ||
                     flags == (DSM_COH_GRANT_DATA | DSM_COH_GRANT_ZERO);

        unit_msg(DSM_COH_MSG_GRANT, flags, 3, 1, 0, bad);
        DSM_CHECK(dsm_coh_msg_grant_flags(bad) == flags);
        DSM_CHECK((dsm_coh_msg_decode(bad, sizeof(bad), 3, 4, 16, &msg) == DSM_OK) == legal);
    }
    unit_msg(DSM_COH_MSG_GRANT, DSM_COH_GRANT_EXCL | DSM_COH_GRANT_DATA, 3, 1, 0, bad);
    dsm_coh_msg_set_zero(bad);
    DSM_CHECK(dsm_coh_msg_decode(bad, sizeof(bad), 3, 4, 16, &msg) == DSM_OK &&
              msg.flags == (DSM_COH_GRANT_EXCL | DSM_COH_GRANT_DATA | DSM_COH_GRANT_ZERO));
    unit_msg(DSM_COH_MSG_INV, 0, 3, 1, 0, bad);
    DSM_CHECK(dsm_coh_msg_grant_flags(bad) == 0);
    /* Runs: the count is the last field; 1..DSM_COH_RUN_MAX pages, all in the arena. */
    unit_run(DSM_COH_MSG_INV, 0, 3, 1, 10, 0x0100, bad);
    DSM_CHECK(bad[20] == 0x00 && bad[21] == 0x01 && bad[23] == 0);
    DSM_CHECK(dsm_coh_msg_decode(bad, sizeof(bad), 3, 4, 1000, &msg) == DSM_OK);
    DSM_CHECK(msg.page == 10 && msg.count == 0x0100);
    DSM_CHECK(dsm_coh_msg_decode(bad, sizeof(bad), 3, 4, 10 + 0x00ff, &msg) ==
              DSM_ERR_MALFORMED); /* leaves the arena by one page */
    DSM_CHECK(dsm_coh_msg_decode(bad, sizeof(bad), 3, 4, 10 + 0x0100, &msg) == DSM_OK);
    unit_run(DSM_COH_MSG_INV, 0, 3, 1, 0, 0, bad);
    DSM_CHECK(dsm_coh_msg_decode(bad, sizeof(bad), 3, 4, 1000, &msg) == DSM_ERR_MALFORMED);
    unit_run(DSM_COH_MSG_INV, 0, 3, 1, 0, DSM_COH_RUN_MAX, bad);
    DSM_CHECK(dsm_coh_msg_decode(bad, sizeof(bad), 3, 4, 1000, &msg) == DSM_OK);
    unit_run(DSM_COH_MSG_INV, 0, 3, 1, 0, DSM_COH_RUN_MAX + 1, bad);
    DSM_CHECK(dsm_coh_msg_decode(bad, sizeof(bad), 3, 4, 1000, &msg) == DSM_ERR_MALFORMED);
    unit_run(DSM_COH_MSG_INV, 0, 3, 1, UINT64_MAX, 2, bad); /* page + count wraps */
    DSM_CHECK(dsm_coh_msg_decode(bad, sizeof(bad), 3, 4, UINT64_MAX, &msg) == DSM_ERR_MALFORMED);
    return DSM_TEST_PASS;
}

/*
 * Strides on the wire: byte 3, 1..DSM_COH_STRIDE_MAX; the run's last page
 * along the stride, not page + count, must lie in the arena.
 */
static dsm_test_result_t test_msg_stride(void)
{
    uint8_t b[DSM_COH_MSG_SIZE];
    dsm_coh_msg_t msg;

    unit_msg(DSM_COH_MSG_INV, 0, 3, 1, 10, b);
    DSM_CHECK(b[3] == 1); /* one page: stride 1, as adjacent runs */
    /* Pages 10, 14, 18: in an arena of 19 pages, not of 18. */
    unit_run_strided(DSM_COH_MSG_INV, 0, 3, 1, 10, 3, 4, b);
    DSM_CHECK(b[3] == 4 && b[20] == 3);
    DSM_CHECK(dsm_coh_msg_decode(b, sizeof(b), 3, 4, 19, &msg) == DSM_OK);
    DSM_CHECK(msg.page == 10 && msg.count == 3 && msg.stride == 4);
    DSM_CHECK(dsm_coh_msg_decode(b, sizeof(b), 3, 4, 18, &msg) == DSM_ERR_MALFORMED);
    unit_run(DSM_COH_MSG_INV, 0, 3, 1, 10, 3, b); /* same count, adjacent: 10..12 */
    DSM_CHECK(dsm_coh_msg_decode(b, sizeof(b), 3, 4, 18, &msg) == DSM_OK && msg.stride == 1);
    /* The longest stride fits the byte; stride 0 is no run. */
    unit_run_strided(DSM_COH_MSG_INV, 0, 3, 1, 0, 2, DSM_COH_STRIDE_MAX, b);
    DSM_CHECK(b[3] == 0xff);
    DSM_CHECK(dsm_coh_msg_decode(b, sizeof(b), 3, 4, DSM_COH_STRIDE_MAX + 1, &msg) == DSM_OK &&
              msg.stride == DSM_COH_STRIDE_MAX);
    DSM_CHECK(dsm_coh_msg_decode(b, sizeof(b), 3, 4, DSM_COH_STRIDE_MAX, &msg) ==
              DSM_ERR_MALFORMED);
    unit_run_strided(DSM_COH_MSG_INV, 0, 3, 1, 0, 1, 0, b);
    DSM_CHECK(dsm_coh_msg_decode(b, sizeof(b), 3, 4, 1000, &msg) == DSM_ERR_MALFORMED);
    /* The last page along the stride past the end of the page numbers: no wrap. */
    unit_run_strided(DSM_COH_MSG_INV, 0, 3, 1, UINT64_MAX - 10, 2, 16, b);
    DSM_CHECK(dsm_coh_msg_decode(b, sizeof(b), 3, 4, UINT64_MAX, &msg) == DSM_ERR_MALFORMED);
    unit_run_strided(DSM_COH_MSG_INV, 0, 3, 1, UINT64_MAX - 17, 2, 16, b);
    DSM_CHECK(dsm_coh_msg_decode(b, sizeof(b), 3, 4, UINT64_MAX, &msg) == DSM_OK);
    return DSM_TEST_PASS;
}

/* Well-formed messages that are not legal in the page's state: counted, no effect. */
static dsm_test_result_t test_malformed_no_effect(void)
{
    dsm_coh_engine_t *engine = unit_engine(1, 4, 64);
    dsm_coh_actions_t out = unit_out();
    dsm_coh_stats_t st;
    uint8_t b[DSM_COH_MSG_SIZE];
    size_t nodes, homes;

    DSM_CHECK(engine != NULL);
    DSM_CHECK(dsm_coh_engine_read_fault(engine, 0, &out) == DSM_OK); /* page 0: home 0 */
    DSM_CHECK(out.count == 1 && out.actions[0].type == DSM_COH_ACT_SEND && out.actions[0].node == 0);
    out.count = 0;
    unit_msg(DSM_COH_MSG_GRANT, DSM_COH_GRANT_DATA, 0, 99, 0, b); /* wrong request id */
    DSM_CHECK(dsm_coh_engine_recv(engine, 0, b, sizeof(b), &out) == DSM_ERR_MALFORMED);
    unit_msg(DSM_COH_MSG_GRANT, DSM_COH_GRANT_EXCL, 0, 1, 0, b); /* upgrade grant in IS_AD */
    DSM_CHECK(dsm_coh_engine_recv(engine, 0, b, sizeof(b), &out) == DSM_ERR_MALFORMED);
    unit_msg(DSM_COH_MSG_GRANT, DSM_COH_GRANT_DATA, 2, 1, 0, b); /* not from the home */
    DSM_CHECK(dsm_coh_engine_recv(engine, 2, b, sizeof(b), &out) == DSM_ERR_MALFORMED);
    unit_msg(DSM_COH_MSG_INV, 0, 0, 5, 3, b); /* INV for a page we do not hold */
    DSM_CHECK(dsm_coh_engine_recv(engine, 0, b, sizeof(b), &out) == DSM_ERR_MALFORMED);
    unit_msg(DSM_COH_MSG_ACK, 0, 2, 5, 1, b); /* ACK at the home with nothing in flight */
    DSM_CHECK(dsm_coh_engine_recv(engine, 2, b, sizeof(b), &out) == DSM_ERR_MALFORMED);
    unit_msg(DSM_COH_MSG_REQ_READ, 0, 1, 5, 1, b); /* forged: from ourselves */
    DSM_CHECK(dsm_coh_engine_recv(engine, 1, b, sizeof(b), &out) == DSM_ERR_MALFORMED);
    DSM_CHECK(dsm_coh_engine_recv(engine, 0, b, 3, &out) == DSM_ERR_MALFORMED);
    DSM_CHECK(dsm_coh_engine_rma_done(engine, 0, DSM_COH_RMA_FETCH, &out) == DSM_ERR_STATE);
    DSM_CHECK(out.count == 0);
    dsm_coh_engine_stats(engine, &st);
    DSM_CHECK(st.malformed == 7);
    DSM_CHECK(dsm_coh_engine_node_state(engine, 0) == DSM_COH_N_IS_AD);
    dsm_coh_engine_entries(engine, &nodes, &homes);
    DSM_CHECK(nodes == 1 && homes == 0);
    /* The right grant still works; ZERO changes nothing in the engine. */
    unit_msg(DSM_COH_MSG_GRANT, DSM_COH_GRANT_DATA | DSM_COH_GRANT_ZERO, 0, 1, 0, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 0, b, sizeof(b), &out) == DSM_OK);
    DSM_CHECK(out.count == 1 && out.actions[0].type == DSM_COH_ACT_FETCH);
    dsm_coh_engine_destroy(engine);
    return DSM_TEST_PASS;
}

/* Decoding once, then handing the decoded message in: the checks of dsm_coh_engine_recv. */
static dsm_test_result_t test_decoded_recv(void)
{
    dsm_coh_engine_t *engine = unit_engine(1, 4, 64);
    dsm_coh_actions_t out = unit_out(), small = {unit_buf, 0, 4};
    dsm_coh_msg_t msg, bad;
    dsm_coh_stats_t st;
    uint8_t b[DSM_COH_MSG_SIZE];

    DSM_CHECK(engine != NULL);
    unit_msg(DSM_COH_MSG_REQ_READ, 0, 1, 5, 1, b); /* forged: from ourselves */
    DSM_CHECK(dsm_coh_engine_decode(engine, 1, b, sizeof(b), &msg) == DSM_ERR_MALFORMED);
    unit_msg(DSM_COH_MSG_REQ_READ, 0, 2, 5, 1, b);
    DSM_CHECK(dsm_coh_engine_decode(engine, 2, b, 3, &msg) == DSM_ERR_MALFORMED);
    DSM_CHECK(dsm_coh_engine_decode(engine, 2, b, sizeof(b), &msg) == DSM_OK);
    DSM_CHECK(msg.type == DSM_COH_MSG_REQ_READ && msg.sender == 2 && msg.page == 1);
    DSM_CHECK(dsm_coh_engine_recv_msg(engine, &msg, &small) == DSM_ERR_INVALID_PARAM);
    /* Fields a caller could have got wrong: each refused, counted, nothing changed. */
    for (unsigned i = 0; i < 8; i++) {
        bad = msg;
        switch (i) {
        case 0: bad.sender = 4; break;                       /* outside the job */
        case 1: bad.sender = 1; break;                       /* ourselves       */
        case 2: bad.req_id = 0; break;
        case 3: bad.flags = DSM_COH_GRANT_DATA; break;       /* flags on a request */
        case 4: bad.stride = 0; break;
        case 5: bad.stride = DSM_COH_STRIDE_MAX + 1; break;  /* no byte holds it */
        case 6: bad.count = 2; bad.stride = 64; break;       /* 1, 65: one home, past 64 */
        default: bad.type = (dsm_coh_msg_type_t)0; break;
        }
        DSM_CHECK(dsm_coh_engine_recv_msg(engine, &bad, &out) == DSM_ERR_MALFORMED);
    }
    DSM_CHECK(out.count == 0 && dsm_coh_engine_quiescent(engine));
    DSM_CHECK(dsm_coh_engine_recv_msg(engine, &msg, &out) == DSM_OK);
    DSM_CHECK(out.count == 1 && out.actions[0].type == DSM_COH_ACT_SEND &&
              out.actions[0].node == 2);
    dsm_coh_engine_stats(engine, &st);
    DSM_CHECKF(st.malformed == 10 && st.msgs_received == 1, "%" PRIu64 " malformed",
               st.malformed);
    dsm_coh_engine_destroy(engine);
    return DSM_TEST_PASS;
}

/* The home faulting on its own page: no messages, same directory. */
static dsm_test_result_t test_home_local_path(void)
{
    dsm_coh_engine_t *engine = unit_engine(0, 2, 8);
    dsm_coh_actions_t out = unit_out();
    dsm_coh_stats_t st;
    bool holder;

    DSM_CHECK(engine != NULL);
    DSM_CHECK(dsm_coh_engine_write_fault(engine, 2, &out) == DSM_OK);
    DSM_CHECK(out.count == 1 && out.actions[0].type == DSM_COH_ACT_FETCH &&
              out.actions[0].node == 0);
    out.count = 0;
    DSM_CHECK(dsm_coh_engine_rma_done(engine, 2, DSM_COH_RMA_FETCH, &out) == DSM_OK);
    DSM_CHECK(out.count == 1 && out.actions[0].type == DSM_COH_ACT_INSTALL_RW);
    DSM_CHECK(dsm_coh_engine_node_state(engine, 2) == DSM_COH_N_M);
    DSM_CHECK(dsm_coh_engine_home_state(engine, 2, 0, &holder) == DSM_COH_H_M && holder);
    DSM_CHECK(dsm_coh_engine_quiescent(engine));
    dsm_coh_engine_stats(engine, &st);
    DSM_CHECK(st.msgs_sent == 0 && st.msgs_received == 3); /* REQ_WRITE, GRANT, DONE to self */
    dsm_coh_engine_destroy(engine);
    return DSM_TEST_PASS;
}

/* 64 GiB arena (2^24 pages), 100,000 pages touched: 100,000 entries, not 2^24. */
static dsm_test_result_t test_sparse_state(void)
{
    dsm_coh_engine_t *engine = unit_engine(1, 2, 1ull << 24);
    dsm_coh_actions_t out = unit_out();
    size_t nodes, homes;

    DSM_CHECK(engine != NULL);
    for (uint64_t i = 0; i < 100000; i++) {
        out.count = 0;
        /* Even pages: homed at node 0, spread over the whole arena. */
        DSM_CHECK(dsm_coh_engine_read_fault(engine, (i * 2 * 167) % (1ull << 24), &out) == DSM_OK);
    }
    dsm_coh_engine_entries(engine, &nodes, &homes);
    DSM_CHECKF(nodes == 100000 && homes == 0, "%zu node entries, %zu home entries", nodes, homes);
    dsm_coh_engine_reset(engine);
    dsm_coh_engine_entries(engine, &nodes, &homes);
    DSM_CHECK(nodes == 0 && homes == 0);
    dsm_coh_engine_destroy(engine);
    return DSM_TEST_PASS;
}

/* 1024 nodes share page 0 (homed at 0); one writes: 1022 INVs in one action list. */
static dsm_test_result_t test_1024_nodes(void)
{
    const uint32_t nnodes = 1024, writer = 5;
    dsm_coh_engine_t *engine = unit_engine(0, nnodes, 4);
    dsm_coh_actions_t out = unit_out();
    uint8_t b[DSM_COH_MSG_SIZE];
    dsm_coh_stats_t st;
    size_t invs = 0;
    bool holder;

    DSM_CHECK(engine != NULL && dsm_coh_engine_run_actions(engine, 1) <= UNIT_ACTIONS);
    for (uint32_t n = 1; n < nnodes; n++) {
        out.count = 0;
        unit_msg(DSM_COH_MSG_REQ_READ, 0, n, 7, 0, b);
        DSM_CHECK(dsm_coh_engine_recv(engine, n, b, sizeof(b), &out) == DSM_OK);
        DSM_CHECK(out.count == 1 && out.actions[0].node == n);
        unit_msg(DSM_COH_MSG_DONE, 0, n, 7, 0, b);
        DSM_CHECK(dsm_coh_engine_recv(engine, n, b, sizeof(b), &out) == DSM_OK);
    }
    out.count = 0;
    unit_msg(DSM_COH_MSG_REQ_WRITE, 0, writer, 8, 0, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, writer, b, sizeof(b), &out) == DSM_OK);
    for (size_t i = 0; i < out.count; i++) {
        invs += out.actions[i].type == DSM_COH_ACT_SEND && out.actions[i].node != writer;
    }
    DSM_CHECKF(invs == nnodes - 2, "%zu INVs", invs);
    for (uint32_t n = 1; n < nnodes; n++) {
        if (n == writer) {
            continue;
        }
        out.count = 0;
        unit_msg(DSM_COH_MSG_ACK, 0, n, 8, 0, b);
        DSM_CHECK(dsm_coh_engine_recv(engine, n, b, sizeof(b), &out) == DSM_OK);
        /* The grant goes out with the last ACK, not before. */
        DSM_CHECK(out.count == (n == nnodes - 1 ? 1u : 0u));
    }
    dsm_coh_engine_stats(engine, &st);
    DSM_CHECK(st.inv_sent == nnodes - 2 && st.malformed == 0);
    DSM_CHECK(dsm_coh_engine_home_state(engine, 0, writer, &holder) == DSM_COH_H_WAIT_DONE_M &&
              holder);
    DSM_CHECK(dsm_coh_engine_home_state(engine, 0, 1000, &holder) == DSM_COH_H_WAIT_DONE_M &&
              !holder);
    dsm_coh_engine_destroy(engine);
    return DSM_TEST_PASS;
}

/* A list without room for the worst case is refused before anything changes. */
static dsm_test_result_t test_capacity_checked(void)
{
    dsm_coh_engine_t *engine = unit_engine(1, 4, 8);
    dsm_coh_actions_t out = {unit_buf, 0, 4};

    DSM_CHECK(engine != NULL);
    DSM_CHECK(dsm_coh_engine_read_fault(engine, 0, &out) == DSM_ERR_INVALID_PARAM);
    DSM_CHECK(dsm_coh_engine_read_fault(engine, 8, &out) == DSM_ERR_INVALID_PARAM);
    DSM_CHECK(dsm_coh_engine_node_state(engine, 0) == DSM_COH_N_I && out.count == 0);
    dsm_coh_engine_destroy(engine);
    return DSM_TEST_PASS;
}

static dsm_test_result_t test_forget(void)
{
    dsm_coh_engine_t *engine = unit_engine(0, 2, 64);
    dsm_coh_actions_t out = unit_out();
    size_t nodes, homes;

    DSM_CHECK(engine != NULL);
    for (uint64_t p = 0; p < 64; p += 2) { /* our own pages: settle at once */
        DSM_CHECK(dsm_coh_engine_read_fault(engine, p, &out) == DSM_OK);
        DSM_CHECK(dsm_coh_engine_rma_done(engine, p, DSM_COH_RMA_FETCH, &out) == DSM_OK);
        out.count = 0;
    }
    DSM_CHECK(dsm_coh_engine_read_fault(engine, 1, &out) == DSM_OK); /* in flight */
    DSM_CHECK(!dsm_coh_engine_settled(engine, 0, 16));
    DSM_CHECK(dsm_coh_engine_settled(engine, 2, 30));
    DSM_CHECK(dsm_coh_engine_forget(engine, 0, 16) == DSM_ERR_STATE);
    DSM_CHECK(dsm_coh_engine_forget(engine, 60, 8) == DSM_ERR_INVALID_PARAM);
    DSM_CHECK(dsm_coh_engine_forget(engine, 2, 30) == DSM_OK);
    dsm_coh_engine_entries(engine, &nodes, &homes);
    DSM_CHECKF(nodes == 18 && homes == 17, "%zu node, %zu home entries", nodes, homes);
    DSM_CHECK(dsm_coh_engine_node_state(engine, 0) == DSM_COH_N_S);
    DSM_CHECK(dsm_coh_engine_node_state(engine, 4) == DSM_COH_N_I);
    DSM_CHECK(dsm_coh_engine_node_state(engine, 32) == DSM_COH_N_S);
    dsm_coh_engine_destroy(engine);
    return DSM_TEST_PASS;
}

/*
 * A read run at a remote home: one request, one grant, one fetch, one install,
 * one DONE, whatever the number of pages. Blocked homes over 512 pages and 2
 * nodes: pages 0..255 at node 0, 256..511 at node 1 (us).
 */
static dsm_test_result_t test_run_read_miss(void)
{
    dsm_coh_engine_t *engine = unit_engine_blocked(1, 2, 512);
    dsm_coh_actions_t out = unit_out();
    uint8_t b[DSM_COH_MSG_SIZE];
    dsm_coh_stats_t st;

    DSM_CHECK(engine != NULL);
    DSM_CHECK(dsm_coh_engine_read_fault_run(engine, 0, 64, 1, &out) == DSM_OK);
    DSM_CHECK(out.count == 1 && unit_sent(&out, 0, 0, DSM_COH_MSG_REQ_READ, 0, 64));
    out.count = 0;
    unit_run(DSM_COH_MSG_GRANT, DSM_COH_GRANT_DATA, 0, 1, 0, 64, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 0, b, sizeof(b), &out) == DSM_OK);
    DSM_CHECK(out.count == 1 && unit_act(&out, 0, DSM_COH_ACT_FETCH, 0, 64) &&
              out.actions[0].node == 0);
    out.count = 0;
    DSM_CHECK(dsm_coh_engine_rma_done_run(engine, 0, 64, 1, DSM_COH_RMA_FETCH, &out) == DSM_OK);
    DSM_CHECKF(out.count == 2 && unit_act(&out, 0, DSM_COH_ACT_INSTALL_RO, 0, 64) &&
               unit_sent(&out, 1, 0, DSM_COH_MSG_DONE, 0, 64), "%zu actions", out.count);
    DSM_CHECK(dsm_coh_engine_node_state(engine, 63) == DSM_COH_N_S &&
              dsm_coh_engine_node_state(engine, 64) == DSM_COH_N_I);
    dsm_coh_engine_stats(engine, &st);
    DSM_CHECK(st.msgs_sent == 2 && st.msg_pages_sent == 128 && st.read_misses == 64 &&
              st.fetches == 64 && st.run_inputs == 3 && st.run_pages == 192);
    dsm_coh_engine_destroy(engine);
    return DSM_TEST_PASS;
}

/*
 * A recall of 64 pages Modified at node 1 by their home (node 0) reading them:
 * one DOWNGRADE, one ACK in, one grant to self, one FETCH, one install.
 */
static dsm_test_result_t test_run_recall(void)
{
    dsm_coh_engine_t *engine = unit_engine_blocked(0, 2, 512);
    dsm_coh_actions_t out = unit_out();
    uint8_t b[DSM_COH_MSG_SIZE];
    dsm_coh_stats_t st;
    bool holder;

    DSM_CHECK(engine != NULL);
    unit_run(DSM_COH_MSG_REQ_WRITE, 0, 1, 7, 0, 64, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 1, b, sizeof(b), &out) == DSM_OK);
    DSM_CHECK(out.count == 1 && unit_sent(&out, 0, 1, DSM_COH_MSG_GRANT, 0, 64));
    unit_run(DSM_COH_MSG_DONE, 0, 1, 7, 0, 64, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 1, b, sizeof(b), &out) == DSM_OK);
    DSM_CHECK(dsm_coh_engine_home_state(engine, 40, 1, &holder) == DSM_COH_H_M && holder);
    out.count = 0;
    DSM_CHECK(dsm_coh_engine_read_fault_run(engine, 0, 64, 1, &out) == DSM_OK);
    DSM_CHECK(out.count == 1 && unit_sent(&out, 0, 1, DSM_COH_MSG_DOWNGRADE, 0, 64));
    out.count = 0;
    unit_run(DSM_COH_MSG_ACK, 0, 1, 1, 0, 64, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 1, b, sizeof(b), &out) == DSM_OK);
    DSM_CHECK(out.count == 1 && unit_act(&out, 0, DSM_COH_ACT_FETCH, 0, 64));
    out.count = 0;
    DSM_CHECK(dsm_coh_engine_rma_done_run(engine, 0, 64, 1, DSM_COH_RMA_FETCH, &out) == DSM_OK);
    DSM_CHECK(out.count == 1 && unit_act(&out, 0, DSM_COH_ACT_INSTALL_RO, 0, 64));
    DSM_CHECK(dsm_coh_engine_home_state(engine, 63, 1, &holder) == DSM_COH_H_S && holder);
    DSM_CHECK(dsm_coh_engine_quiescent(engine));
    dsm_coh_engine_stats(engine, &st);
    DSM_CHECK(st.msgs_sent == 2 && st.dg_sent == 64 && st.grants_sent == 128);
    dsm_coh_engine_destroy(engine);
    return DSM_TEST_PASS;
}

/* A write run on pages two nodes share: one INV per sharer, one grant after both ACKs. */
static dsm_test_result_t test_run_invalidate(void)
{
    dsm_coh_engine_t *engine = unit_engine_blocked(0, 4, 1024);
    dsm_coh_actions_t out = unit_out();
    uint8_t b[DSM_COH_MSG_SIZE];

    DSM_CHECK(engine != NULL);
    for (uint32_t n = 1; n <= 2; n++) {
        unit_run(DSM_COH_MSG_REQ_READ, 0, n, 3, 8, 16, b);
        DSM_CHECK(dsm_coh_engine_recv(engine, n, b, sizeof(b), &out) == DSM_OK);
        unit_run(DSM_COH_MSG_DONE, 0, n, 3, 8, 16, b);
        DSM_CHECK(dsm_coh_engine_recv(engine, n, b, sizeof(b), &out) == DSM_OK);
    }
    out.count = 0;
    unit_run(DSM_COH_MSG_REQ_WRITE, 0, 3, 4, 8, 16, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 3, b, sizeof(b), &out) == DSM_OK);
    DSM_CHECKF(out.count == 2 && unit_sent(&out, 0, 1, DSM_COH_MSG_INV, 8, 16) &&
               unit_sent(&out, 1, 2, DSM_COH_MSG_INV, 8, 16), "%zu actions", out.count);
    out.count = 0;
    unit_run(DSM_COH_MSG_ACK, 0, 1, 4, 8, 16, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 1, b, sizeof(b), &out) == DSM_OK && out.count == 0);
    unit_run(DSM_COH_MSG_ACK, 0, 2, 4, 8, 16, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 2, b, sizeof(b), &out) == DSM_OK);
    DSM_CHECK(out.count == 1 && unit_sent(&out, 0, 3, DSM_COH_MSG_GRANT, 8, 16));
    dsm_coh_engine_destroy(engine);
    return DSM_TEST_PASS;
}

/*
 * A run on pages in mixed states splits: pages already requested are absorbed,
 * pages of another home get their own request (here our own: served inside
 * the input), and a busy page at the home waits in its queue alone.
 */
static dsm_test_result_t test_run_split(void)
{
    dsm_coh_engine_t *engine = unit_engine_blocked(1, 2, 512);
    dsm_coh_actions_t out = unit_out();
    uint8_t b[DSM_COH_MSG_SIZE];
    dsm_coh_stats_t st;

    DSM_CHECK(engine != NULL);
    DSM_CHECK(dsm_coh_engine_read_fault(engine, 2, &out) == DSM_OK);
    out.count = 0;
    DSM_CHECK(dsm_coh_engine_read_fault_run(engine, 0, 8, 1, &out) == DSM_OK);
    DSM_CHECKF(out.count == 2 && unit_sent(&out, 0, 0, DSM_COH_MSG_REQ_READ, 0, 2) &&
               unit_sent(&out, 1, 0, DSM_COH_MSG_REQ_READ, 3, 5), "%zu actions", out.count);
    out.count = 0;
    DSM_CHECK(dsm_coh_engine_read_fault_run(engine, 253, 6, 1, &out) == DSM_OK);
    DSM_CHECKF(out.count == 2 && unit_sent(&out, 0, 0, DSM_COH_MSG_REQ_READ, 253, 3) &&
               unit_act(&out, 1, DSM_COH_ACT_FETCH, 256, 3) && out.actions[1].node == 1,
               "%zu actions", out.count);
    dsm_coh_engine_stats(engine, &st);
    DSM_CHECK(st.faults_absorbed == 1 && st.read_misses == 1 + 7 + 6);
    /* Node 0 writes 256..259 while 256..258 wait for our DONE: page 259 is served
     * at once, the others queue one by one and are served page by page. */
    out.count = 0;
    unit_run(DSM_COH_MSG_REQ_WRITE, 0, 0, 9, 256, 4, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 0, b, sizeof(b), &out) == DSM_OK);
    DSM_CHECK(out.count == 1 && unit_sent(&out, 0, 0, DSM_COH_MSG_GRANT, 259, 1));
    out.count = 0;
    DSM_CHECK(dsm_coh_engine_rma_done_run(engine, 256, 3, 1, DSM_COH_RMA_FETCH, &out) == DSM_OK);
    /* Installed, then each DONE (to self) serves node 0's queued write: INV to self
     * (zap, ack, to self) then the grant, merged into one message. */
    DSM_CHECK(unit_act(&out, 0, DSM_COH_ACT_INSTALL_RO, 256, 3));
    DSM_CHECKF(out.count == 3 && unit_act(&out, 1, DSM_COH_ACT_ZAP, 256, 3) &&
               unit_sent(&out, 2, 0, DSM_COH_MSG_GRANT, 256, 3), "%zu actions", out.count);
    dsm_coh_engine_stats(engine, &st);
    DSM_CHECK(st.requests_queued == 3);
    dsm_coh_engine_destroy(engine);
    return DSM_TEST_PASS;
}

/* Runs refused as a whole: bad counts, a run over two homes, one illegal page. */
static dsm_test_result_t test_run_refused(void)
{
    dsm_coh_engine_t *engine = unit_engine_blocked(1, 2, 512);
    dsm_coh_actions_t out = unit_out(), small = {unit_buf, 0, 40};
    uint8_t b[DSM_COH_MSG_SIZE];
    dsm_coh_stats_t st;

    DSM_CHECK(engine != NULL);
    DSM_CHECK(dsm_coh_engine_read_fault_run(engine, 0, 0, 1, &out) == DSM_ERR_INVALID_PARAM);
    DSM_CHECK(dsm_coh_engine_read_fault_run(engine, 0, DSM_COH_RUN_MAX + 1, 1, &out) ==
              DSM_ERR_INVALID_PARAM);
    DSM_CHECK(dsm_coh_engine_read_fault_run(engine, 510, 3, 1, &out) == DSM_ERR_INVALID_PARAM);
    /* The list must hold the worst case of the whole run: 3 pages x (2 + 16). */
    DSM_CHECK(dsm_coh_engine_read_fault_run(engine, 0, 3, 1, &small) == DSM_ERR_INVALID_PARAM);
    DSM_CHECK(dsm_coh_engine_read_fault_run(engine, 0, 4, 1, &out) == DSM_OK);
    out.count = 0;
    unit_run(DSM_COH_MSG_GRANT, DSM_COH_GRANT_DATA, 0, 1, 0, 5, b); /* page 4 asked nothing */
    DSM_CHECK(dsm_coh_engine_recv(engine, 0, b, sizeof(b), &out) == DSM_ERR_MALFORMED);
    unit_run(DSM_COH_MSG_GRANT, DSM_COH_GRANT_DATA, 0, 1, 254, 4, b); /* two homes */
    DSM_CHECK(dsm_coh_engine_recv(engine, 0, b, sizeof(b), &out) == DSM_ERR_MALFORMED);
    unit_run(DSM_COH_MSG_REQ_READ, 0, 0, 1, 250, 8, b); /* half of it not ours to serve */
    DSM_CHECK(dsm_coh_engine_recv(engine, 0, b, sizeof(b), &out) == DSM_ERR_MALFORMED);
    DSM_CHECK(dsm_coh_engine_rma_done_run(engine, 0, 4, 1, DSM_COH_RMA_FETCH, &out) ==
              DSM_ERR_STATE);
    DSM_CHECK(out.count == 0 && dsm_coh_engine_node_state(engine, 0) == DSM_COH_N_IS_AD);
    unit_run(DSM_COH_MSG_GRANT, DSM_COH_GRANT_DATA, 0, 1, 0, 4, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 0, b, sizeof(b), &out) == DSM_OK);
    DSM_CHECK(out.count == 1 && unit_act(&out, 0, DSM_COH_ACT_FETCH, 0, 4));
    /* Completions page by page end the run's pages one by one. */
    out.count = 0;
    DSM_CHECK(dsm_coh_engine_rma_done(engine, 1, DSM_COH_RMA_FETCH, &out) == DSM_OK);
    DSM_CHECK(out.count == 2 && unit_sent(&out, 1, 0, DSM_COH_MSG_DONE, 1, 1));
    DSM_CHECK(dsm_coh_engine_rma_done_run(engine, 0, 2, 1, DSM_COH_RMA_FETCH, &out) ==
              DSM_ERR_STATE);
    dsm_coh_engine_stats(engine, &st);
    DSM_CHECK(st.malformed == 3);
    dsm_coh_engine_destroy(engine);
    return DSM_TEST_PASS;
}

/*
 * Merged actions keep each page's order: page 0 (S) and page 1 (SM_A) both
 * invalidated by one INV run. Page 1's ZAP joins page 0's, but its ACK comes
 * after its WAKE, so it cannot join page 0's ACK, which is before that WAKE.
 */
static dsm_test_result_t test_run_page_order(void)
{
    dsm_coh_engine_t *engine = unit_engine_blocked(1, 2, 512);
    dsm_coh_actions_t out = unit_out();
    uint8_t b[DSM_COH_MSG_SIZE];

    DSM_CHECK(engine != NULL);
    DSM_CHECK(dsm_coh_engine_read_fault_run(engine, 0, 2, 1, &out) == DSM_OK);
    unit_run(DSM_COH_MSG_GRANT, DSM_COH_GRANT_DATA, 0, 1, 0, 2, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 0, b, sizeof(b), &out) == DSM_OK);
    DSM_CHECK(dsm_coh_engine_rma_done_run(engine, 0, 2, 1, DSM_COH_RMA_FETCH, &out) == DSM_OK);
    DSM_CHECK(dsm_coh_engine_write_fault(engine, 1, &out) == DSM_OK); /* upgrade: SM_A */
    out.count = 0;
    unit_run(DSM_COH_MSG_INV, 0, 0, 9, 0, 2, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 0, b, sizeof(b), &out) == DSM_OK);
    DSM_CHECKF(out.count == 4 && unit_act(&out, 0, DSM_COH_ACT_ZAP, 0, 2) &&
               unit_sent(&out, 1, 0, DSM_COH_MSG_ACK, 0, 1) &&
               unit_act(&out, 2, DSM_COH_ACT_WAKE, 1, 1) &&
               unit_sent(&out, 3, 0, DSM_COH_MSG_ACK, 1, 1), "%zu actions", out.count);
    DSM_CHECK(dsm_coh_engine_node_state(engine, 0) == DSM_COH_N_I &&
              dsm_coh_engine_node_state(engine, 1) == DSM_COH_N_IM_AD);
    dsm_coh_engine_destroy(engine);
    return DSM_TEST_PASS;
}

/*
 * A read run along a stride (every 4th page, a column of a row-major matrix)
 * at a remote home: one request, one grant, one fetch, one install, one DONE,
 * each naming 8 pages at stride 4; the pages between them stay untouched.
 * Blocked homes as in test_run_read_miss: pages 0..255 at node 0.
 */
static dsm_test_result_t test_stride_read_miss(void)
{
    dsm_coh_engine_t *engine = unit_engine_blocked(1, 2, 512);
    dsm_coh_actions_t out = unit_out();
    uint8_t b[DSM_COH_MSG_SIZE];
    dsm_coh_stats_t st;

    DSM_CHECK(engine != NULL);
    DSM_CHECK(dsm_coh_engine_read_fault_run(engine, 0, 8, 4, &out) == DSM_OK);
    DSM_CHECKF(out.count == 1 && unit_sent_strided(&out, 0, 0, DSM_COH_MSG_REQ_READ, 0, 8, 4),
               "%zu actions", out.count);
    DSM_CHECK(dsm_coh_engine_node_state(engine, 28) == DSM_COH_N_IS_AD &&
              dsm_coh_engine_node_state(engine, 1) == DSM_COH_N_I &&
              dsm_coh_engine_node_state(engine, 32) == DSM_COH_N_I);
    out.count = 0;
    unit_run_strided(DSM_COH_MSG_GRANT, DSM_COH_GRANT_DATA, 0, 1, 0, 8, 4, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 0, b, sizeof(b), &out) == DSM_OK);
    DSM_CHECKF(out.count == 1 && unit_act_strided(&out, 0, DSM_COH_ACT_FETCH, 0, 8, 4) &&
               out.actions[0].node == 0, "%zu actions", out.count);
    out.count = 0;
    /* The same count along another stride names pages nobody fetched: refused whole. */
    DSM_CHECK(dsm_coh_engine_rma_done_run(engine, 0, 8, 1, DSM_COH_RMA_FETCH, &out) ==
              DSM_ERR_STATE && out.count == 0);
    DSM_CHECK(dsm_coh_engine_rma_done_run(engine, 0, 8, 4, DSM_COH_RMA_FETCH, &out) == DSM_OK);
    DSM_CHECKF(out.count == 2 && unit_act_strided(&out, 0, DSM_COH_ACT_INSTALL_RO, 0, 8, 4) &&
               unit_sent_strided(&out, 1, 0, DSM_COH_MSG_DONE, 0, 8, 4), "%zu actions",
               out.count);
    DSM_CHECK(dsm_coh_engine_node_state(engine, 28) == DSM_COH_N_S &&
              dsm_coh_engine_node_state(engine, 27) == DSM_COH_N_I &&
              dsm_coh_engine_node_state(engine, 32) == DSM_COH_N_I);
    DSM_CHECK(dsm_coh_engine_quiescent(engine));
    dsm_coh_engine_stats(engine, &st);
    DSM_CHECK(st.msgs_sent == 2 && st.msg_pages_sent == 16 && st.read_misses == 8 &&
              st.fetches == 8 && st.run_inputs == 3 && st.run_pages == 24);
    dsm_coh_engine_destroy(engine);
    return DSM_TEST_PASS;
}

/* Homes by blocks of 4 pages, alternately at node 0 and node 1. */
static uint32_t unit_home_alternate(uint64_t page, void *arg)
{
    (void)arg;
    return (uint32_t)(page / 4 % 2);
}

/*
 * A strided run whose pages alternate between two homes: one message per
 * home's pages that follow one another along the stride. Pages 0, 2, 8 and 10
 * all go to node 0, but 8 does not follow 2 along the stride, so they are two
 * messages, not one run with holes.
 */
static dsm_test_result_t test_stride_two_homes(void)
{
    dsm_coh_params_t params = {.self = 2, .nnodes = 3, .npages = 64,
                               .home_policy = DSM_COH_HOME_FUNC,
                               .home_of = unit_home_alternate};
    dsm_coh_engine_t *engine = NULL;
    dsm_coh_actions_t out = unit_out();

    DSM_CHECK(dsm_coh_engine_create(&params, &engine) == DSM_OK);
    DSM_CHECK(dsm_coh_engine_read_fault_run(engine, 0, 8, 2, &out) == DSM_OK);
    DSM_CHECKF(out.count == 4 &&
               unit_sent_strided(&out, 0, 0, DSM_COH_MSG_REQ_READ, 0, 2, 2) &&
               unit_sent_strided(&out, 1, 1, DSM_COH_MSG_REQ_READ, 4, 2, 2) &&
               unit_sent_strided(&out, 2, 0, DSM_COH_MSG_REQ_READ, 8, 2, 2) &&
               unit_sent_strided(&out, 3, 1, DSM_COH_MSG_REQ_READ, 12, 2, 2),
               "%zu actions", out.count);
    dsm_coh_engine_destroy(engine);
    return DSM_TEST_PASS;
}

/*
 * A strided run across the edge of a block of homes (3 nodes, blocks of 256
 * pages, we are node 2): split where the home changes. A lone page keeps
 * stride 1; pages of our own home are served inside the input, their
 * messages to self joined along the stride too. A grant naming the pages of
 * two homes along a stride is refused.
 */
static dsm_test_result_t test_stride_block_edge(void)
{
    dsm_coh_engine_t *engine = unit_engine_blocked(2, 3, 768);
    dsm_coh_actions_t out = unit_out();
    uint8_t b[DSM_COH_MSG_SIZE];

    DSM_CHECK(engine != NULL);
    /* 240, 248 at node 0; 256, 264, ..., 296 at node 1. */
    DSM_CHECK(dsm_coh_engine_read_fault_run(engine, 240, 8, 8, &out) == DSM_OK);
    DSM_CHECKF(out.count == 2 &&
               unit_sent_strided(&out, 0, 0, DSM_COH_MSG_REQ_READ, 240, 2, 8) &&
               unit_sent_strided(&out, 1, 1, DSM_COH_MSG_REQ_READ, 256, 6, 8),
               "%zu actions", out.count);
    out.count = 0;
    /* 504 at node 1; 512, 520 ours. */
    DSM_CHECK(dsm_coh_engine_read_fault_run(engine, 504, 3, 8, &out) == DSM_OK);
    DSM_CHECKF(out.count == 2 &&
               unit_sent_strided(&out, 0, 1, DSM_COH_MSG_REQ_READ, 504, 1, 1) &&
               unit_act_strided(&out, 1, DSM_COH_ACT_FETCH, 512, 2, 8) &&
               out.actions[1].node == 2, "%zu actions", out.count);
    out.count = 0;
    unit_run_strided(DSM_COH_MSG_GRANT, DSM_COH_GRANT_DATA, 0, 1, 240, 3, 8, b); /* 256: node 1's */
    DSM_CHECK(dsm_coh_engine_recv(engine, 0, b, sizeof(b), &out) == DSM_ERR_MALFORMED);
    unit_run_strided(DSM_COH_MSG_GRANT, DSM_COH_GRANT_DATA, 0, 1, 240, 2, 8, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 0, b, sizeof(b), &out) == DSM_OK);
    DSM_CHECKF(out.count == 1 && unit_act_strided(&out, 0, DSM_COH_ACT_FETCH, 240, 2, 8) &&
               out.actions[0].node == 0, "%zu actions", out.count);
    dsm_coh_engine_destroy(engine);
    return DSM_TEST_PASS;
}

/*
 * The home (node 0 of 3, pages 0..255) serves runs along a stride: node 1
 * takes 16 pages at stride 4 Modified, node 2's write along the same stride
 * recalls them with one INV to node 1, and node 1's read after that with one
 * DOWNGRADE to node 2, each naming the 16 pages at stride 4.
 */
static dsm_test_result_t test_stride_home_recall(void)
{
    dsm_coh_engine_t *engine = unit_engine_blocked(0, 3, 768);
    dsm_coh_actions_t out = unit_out();
    uint8_t b[DSM_COH_MSG_SIZE];
    dsm_coh_stats_t st;
    bool holder;

    DSM_CHECK(engine != NULL);
    unit_run_strided(DSM_COH_MSG_REQ_WRITE, 0, 1, 7, 0, 16, 4, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 1, b, sizeof(b), &out) == DSM_OK);
    DSM_CHECK(out.count == 1 && unit_sent_strided(&out, 0, 1, DSM_COH_MSG_GRANT, 0, 16, 4));
    unit_run_strided(DSM_COH_MSG_DONE, 0, 1, 7, 0, 16, 4, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 1, b, sizeof(b), &out) == DSM_OK);
    DSM_CHECK(dsm_coh_engine_home_state(engine, 60, 1, &holder) == DSM_COH_H_M && holder);
    DSM_CHECK(dsm_coh_engine_home_state(engine, 61, 1, &holder) == DSM_COH_H_U && !holder);
    out.count = 0;
    unit_run_strided(DSM_COH_MSG_REQ_WRITE, 0, 2, 3, 0, 16, 4, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 2, b, sizeof(b), &out) == DSM_OK);
    DSM_CHECKF(out.count == 1 && unit_sent_strided(&out, 0, 1, DSM_COH_MSG_INV, 0, 16, 4),
               "%zu actions", out.count);
    out.count = 0;
    unit_run_strided(DSM_COH_MSG_ACK, 0, 1, 3, 0, 16, 4, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 1, b, sizeof(b), &out) == DSM_OK);
    DSM_CHECK(out.count == 1 && unit_sent_strided(&out, 0, 2, DSM_COH_MSG_GRANT, 0, 16, 4));
    unit_run_strided(DSM_COH_MSG_DONE, 0, 2, 3, 0, 16, 4, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 2, b, sizeof(b), &out) == DSM_OK);
    DSM_CHECK(dsm_coh_engine_home_state(engine, 60, 2, &holder) == DSM_COH_H_M && holder);
    out.count = 0;
    unit_run_strided(DSM_COH_MSG_REQ_READ, 0, 1, 8, 0, 16, 4, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 1, b, sizeof(b), &out) == DSM_OK);
    DSM_CHECKF(out.count == 1 && unit_sent_strided(&out, 0, 2, DSM_COH_MSG_DOWNGRADE, 0, 16, 4),
               "%zu actions", out.count);
    out.count = 0;
    unit_run_strided(DSM_COH_MSG_ACK, 0, 2, 8, 0, 16, 4, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 2, b, sizeof(b), &out) == DSM_OK);
    DSM_CHECK(out.count == 1 && unit_sent_strided(&out, 0, 1, DSM_COH_MSG_GRANT, 0, 16, 4));
    unit_run_strided(DSM_COH_MSG_DONE, 0, 1, 8, 0, 16, 4, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 1, b, sizeof(b), &out) == DSM_OK);
    DSM_CHECK(dsm_coh_engine_home_state(engine, 60, 1, &holder) == DSM_COH_H_S && holder);
    DSM_CHECK(dsm_coh_engine_home_state(engine, 60, 2, &holder) == DSM_COH_H_S && holder);
    DSM_CHECK(dsm_coh_engine_quiescent(engine));
    dsm_coh_engine_stats(engine, &st);
    DSM_CHECK(st.msgs_sent == 5 && st.msg_pages_sent == 80 && st.inv_sent == 16 &&
              st.dg_sent == 16 && st.malformed == 0);
    dsm_coh_engine_destroy(engine);
    return DSM_TEST_PASS;
}

/*
 * Strided local inputs refused whole, nothing changed: stride 0, over
 * DSM_COH_STRIDE_MAX, a last page along the stride past the arena (where the
 * same count at stride 1 fits). The longest stride is accepted.
 */
static dsm_test_result_t test_stride_refused(void)
{
    dsm_coh_engine_t *engine = unit_engine_blocked(1, 2, 512);
    dsm_coh_actions_t out = unit_out();
    size_t nodes, homes;

    DSM_CHECK(engine != NULL);
    DSM_CHECK(dsm_coh_engine_read_fault_run(engine, 0, 4, 0, &out) == DSM_ERR_INVALID_PARAM);
    DSM_CHECK(dsm_coh_engine_write_fault_run(engine, 0, 1, 0, &out) == DSM_ERR_INVALID_PARAM);
    DSM_CHECK(dsm_coh_engine_rma_done_run(engine, 0, 4, 0, DSM_COH_RMA_FETCH, &out) ==
              DSM_ERR_INVALID_PARAM);
    DSM_CHECK(dsm_coh_engine_read_fault_run(engine, 0, 2, DSM_COH_STRIDE_MAX + 1, &out) ==
              DSM_ERR_INVALID_PARAM);
    DSM_CHECK(dsm_coh_engine_write_fault_run(engine, 0, 1, DSM_COH_STRIDE_MAX + 1, &out) ==
              DSM_ERR_INVALID_PARAM);
    /* 2, 257, 512: one page past the arena. */
    DSM_CHECK(dsm_coh_engine_read_fault_run(engine, 2, 3, DSM_COH_STRIDE_MAX, &out) ==
              DSM_ERR_INVALID_PARAM);
    DSM_CHECK(dsm_coh_engine_write_fault_run(engine, 500, 4, 4, &out) == DSM_ERR_INVALID_PARAM);
    DSM_CHECK(dsm_coh_engine_read_fault_run(engine, 0, DSM_COH_RUN_MAX, DSM_COH_STRIDE_MAX,
                                            &out) == DSM_ERR_INVALID_PARAM);
    DSM_CHECK(out.count == 0 && dsm_coh_engine_node_state(engine, 2) == DSM_COH_N_I &&
              dsm_coh_engine_quiescent(engine));
    dsm_coh_engine_entries(engine, &nodes, &homes);
    DSM_CHECK(nodes == 0 && homes == 0);
    /* The same 4 pages fit at stride 1 (500..503), 3 of them at stride 4 (500, 504, 508). */
    DSM_CHECK(dsm_coh_engine_write_fault_run(engine, 500, 4, 1, &out) == DSM_OK);
    out.count = 0;
    DSM_CHECK(dsm_coh_engine_read_fault_run(engine, 500, 3, 4, &out) == DSM_OK);
    out.count = 0;
    /* 0, 255 at node 0: one request at the longest stride. */
    DSM_CHECK(dsm_coh_engine_read_fault_run(engine, 0, 2, DSM_COH_STRIDE_MAX, &out) == DSM_OK);
    DSM_CHECKF(out.count == 1 && unit_sent_strided(&out, 0, 0, DSM_COH_MSG_REQ_READ, 0, 2,
                                                   DSM_COH_STRIDE_MAX),
               "%zu actions", out.count);
    dsm_coh_engine_destroy(engine);
    return DSM_TEST_PASS;
}

/* A home claims runs of pages nobody touched; another node's request then recalls one. */
static dsm_test_result_t test_home_claim(void)
{
    dsm_coh_engine_t *engine = unit_engine_blocked(1, 4, 64); /* node 1 homes 16..31 */
    dsm_coh_actions_t out = unit_out();
    dsm_coh_stats_t st;
    uint8_t b[DSM_COH_MSG_SIZE];
    bool holder;

    DSM_CHECK(engine != NULL);
    DSM_CHECK(!dsm_coh_engine_claimable(engine, 2) && dsm_coh_engine_claimable(engine, 16));
    DSM_CHECK(dsm_coh_engine_home_claim(engine, 15, 2, &out) == DSM_ERR_STATE); /* 15: home 0 */
    DSM_CHECK(dsm_coh_engine_home_claim(engine, 16, 0, &out) == DSM_ERR_INVALID_PARAM);
    DSM_CHECK(dsm_coh_engine_home_claim(engine, 63, 2, &out) == DSM_ERR_INVALID_PARAM);
    DSM_CHECK(out.count == 0 && dsm_coh_engine_claimable(engine, 16));
    DSM_CHECK(dsm_coh_engine_home_claim(engine, 16, 4, &out) == DSM_OK);
    DSM_CHECKF(out.count == 1 && unit_act(&out, 0, DSM_COH_ACT_INSTALL_RW, 16, 4), "%zu actions",
               out.count);
    DSM_CHECK(dsm_coh_engine_node_state(engine, 19) == DSM_COH_N_M);
    DSM_CHECK(dsm_coh_engine_home_state(engine, 17, 1, &holder) == DSM_COH_H_M && holder);
    out.count = 0;
    /* Held now: a run over it is refused whole. */
    DSM_CHECK(dsm_coh_engine_home_claim(engine, 19, 2, &out) == DSM_ERR_STATE && out.count == 0);
    DSM_CHECK(dsm_coh_engine_node_state(engine, 20) == DSM_COH_N_I);
    /* Node 2 reads page 17: the home downgrades itself (no message) and grants. */
    unit_msg(DSM_COH_MSG_REQ_READ, 0, 2, 7, 17, b);
    DSM_CHECK(dsm_coh_engine_recv(engine, 2, b, sizeof(b), &out) == DSM_OK);
    DSM_CHECK(out.count == 2 && out.actions[0].type == DSM_COH_ACT_SET_WP &&
              out.actions[1].type == DSM_COH_ACT_WRITE_BACK);
    out.count = 0;
    DSM_CHECK(dsm_coh_engine_rma_done(engine, 17, DSM_COH_RMA_WRITE_BACK, &out) == DSM_OK);
    DSM_CHECK(dsm_coh_engine_node_state(engine, 17) == DSM_COH_N_S);
    DSM_CHECK(out.count >= 1 && out.actions[out.count - 1].type == DSM_COH_ACT_SEND &&
              out.actions[out.count - 1].node == 2);
    dsm_coh_engine_stats(engine, &st);
    DSM_CHECK(st.claims == 4 && st.msgs_sent == 1);
    dsm_coh_engine_destroy(engine);
    return DSM_TEST_PASS;
}

static const dsm_test_case_t cases[] = {
    {"msg_validation", NULL, test_msg_validation, 0},
    {"msg_stride", NULL, test_msg_stride, 0},
    {"malformed_no_effect", NULL, test_malformed_no_effect, 0},
    {"decoded_recv", NULL, test_decoded_recv, 0},
    {"home_local_path", NULL, test_home_local_path, 0},
    {"sparse_64GiB_100k_pages", NULL, test_sparse_state, 0},
    {"nodes_1024_invalidate", NULL, test_1024_nodes, 0},
    {"capacity_checked", NULL, test_capacity_checked, 0},
    {"forget", NULL, test_forget, 0},
    {"run_read_miss", NULL, test_run_read_miss, 0},
    {"run_recall", NULL, test_run_recall, 0},
    {"run_invalidate", NULL, test_run_invalidate, 0},
    {"run_split", NULL, test_run_split, 0},
    {"run_refused", NULL, test_run_refused, 0},
    {"run_page_order", NULL, test_run_page_order, 0},
    {"home_claim", NULL, test_home_claim, 0},
    {"stride_read_miss", NULL, test_stride_read_miss, 0},
    {"stride_two_homes", NULL, test_stride_two_homes, 0},
    {"stride_block_edge", NULL, test_stride_block_edge, 0},
    {"stride_home_recall", NULL, test_stride_home_recall, 0},
    {"stride_refused", NULL, test_stride_refused, 0},
};

int main(int argc, char **argv)
{
    return dsm_test_main(argc, argv, cases, DSM_TEST_ARRAY_SIZE(cases));
}
