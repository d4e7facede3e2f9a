/*
 * Unit tests of the coherence engine's interface: message validation (also of
 * decoded messages), the local path of the home, sparse state, large jobs,
 * reserved capacity, forget.
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

static void unit_msg(dsm_coh_msg_type_t type, uint8_t flags, uint32_t sender, uint32_t req_id,
                     uint64_t page, uint8_t *bytes)
{
    dsm_coh_msg_t msg = {.type = type, .flags = flags, .sender = sender, .req_id = req_id,
                         .page = page};

    dsm_coh_msg_encode(&msg, bytes);
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
        static const uint8_t corrupt[4][2] = {{0, 2}, {1, 0}, {1, 8}, {3, 1}};

        memcpy(bad, b, sizeof(bad));
        bad[corrupt[i][0]] = corrupt[i][1]; /* version, type 0, type 8, reserved */
        DSM_CHECK(dsm_coh_msg_decode(bad, sizeof(bad), 3, 4, 1ull << 40, &msg) ==
                  DSM_ERR_MALFORMED);
    }
    unit_msg(DSM_COH_MSG_GRANT, 0, 3, 1, 0, bad); /* GRANT without DATA or EXCL */
    DSM_CHECK(dsm_coh_msg_decode(bad, sizeof(bad), 3, 4, 16, &msg) == DSM_ERR_MALFORMED);
    unit_msg(DSM_COH_MSG_INV, DSM_COH_GRANT_DATA, 3, 1, 0, bad); /* flags on a non-GRANT */
    DSM_CHECK(dsm_coh_msg_decode(bad, sizeof(bad), 3, 4, 16, &msg) == DSM_ERR_MALFORMED);
    unit_msg(DSM_COH_MSG_INV, 0, 3, 0, 0, bad); /* request id 0 */
    DSM_CHECK(dsm_coh_msg_decode(bad, sizeof(bad), 3, 4, 16, &msg) == DSM_ERR_MALFORMED);
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
    /* The right grant still works. */
    unit_msg(DSM_COH_MSG_GRANT, DSM_COH_GRANT_DATA, 0, 1, 0, b);
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
    for (unsigned i = 0; i < 5; i++) {
        bad = msg;
        switch (i) {
        case 0: bad.sender = 4; break;                       /* outside the job */
        case 1: bad.sender = 1; break;                       /* ourselves       */
        case 2: bad.req_id = 0; break;
        case 3: bad.flags = DSM_COH_GRANT_DATA; break;       /* flags on a request */
        default: bad.type = (dsm_coh_msg_type_t)0; break;
        }
        DSM_CHECK(dsm_coh_engine_recv_msg(engine, &bad, &out) == DSM_ERR_MALFORMED);
    }
    DSM_CHECK(out.count == 0 && dsm_coh_engine_quiescent(engine));
    DSM_CHECK(dsm_coh_engine_recv_msg(engine, &msg, &out) == DSM_OK);
    DSM_CHECK(out.count == 1 && out.actions[0].type == DSM_COH_ACT_SEND &&
              out.actions[0].node == 2);
    dsm_coh_engine_stats(engine, &st);
    DSM_CHECKF(st.malformed == 7 && st.msgs_received == 1, "%" PRIu64 " malformed",
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

    DSM_CHECK(engine != NULL && dsm_coh_engine_max_actions(engine) <= UNIT_ACTIONS);
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

static const dsm_test_case_t cases[] = {
    {"msg_validation", NULL, test_msg_validation, 0},
    {"malformed_no_effect", NULL, test_malformed_no_effect, 0},
    {"decoded_recv", NULL, test_decoded_recv, 0},
    {"home_local_path", NULL, test_home_local_path, 0},
    {"sparse_64GiB_100k_pages", NULL, test_sparse_state, 0},
    {"nodes_1024_invalidate", NULL, test_1024_nodes, 0},
    {"capacity_checked", NULL, test_capacity_checked, 0},
    {"forget", NULL, test_forget, 0},
};

int main(int argc, char **argv)
{
    return dsm_test_main(argc, argv, cases, DSM_TEST_ARRAY_SIZE(cases));
}
