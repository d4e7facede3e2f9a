/*
 * The protocol as two tables: node (cache) side and home (directory) side.
 * The engine only interprets them (coh_engine.c); docs/design.md section 4 is
 * printed from them and checked in ctest (dsm_coh_table --check), and the
 * Promela model tags every row it models with the same "row:" name
 * (checked likewise), so the code, the document and the model cannot drift.
 *
 * A (state, event) pair absent from a table is illegal: a message is then
 * rejected as malformed, a completion nobody waits for is a runtime bug.
 * Rows of one (state, event) are adjacent; the first whose guard holds wins.
 */
#include "coh_int.h"

#define N(s) DSM_COH_N_##s
#define NE(e) DSM_COH_NE_##e
#define NOP(o) DSM_COH_NOP_##o
#define H(s) DSM_COH_H_##s
#define HE(e) DSM_COH_HE_##e
#define HG(g) DSM_COH_HG_##g
#define HOP(o) DSM_COH_HOP_##o

/* A fault on a page whose request is already in flight: no second request. */
#define DSM_COH_ABSORB(s)                                      \
    {N(s), NE(LOCAL_READ), 0, {0}, N(s)},                      \
    {N(s), NE(LOCAL_WRITE), 0, {0}, N(s)}

const dsm_coh_row_t dsm_coh_node_rows[] = {
    {N(I), NE(LOCAL_READ), 0, {NOP(REQ_READ)}, N(IS_AD)},
    {N(I), NE(LOCAL_WRITE), 0, {NOP(REQ_WRITE)}, N(IM_AD)},
    /* A fault the mapping already satisfies (raced with an install): wake it. */
    {N(S), NE(LOCAL_READ), 0, {NOP(WAKE)}, N(S)},
    {N(S), NE(LOCAL_WRITE), 0, {NOP(REQ_WRITE)}, N(SM_A)},
    {N(S), NE(INV), 0, {NOP(ZAP), NOP(SEND_ACK)}, N(I)},
    {N(M), NE(LOCAL_READ), 0, {NOP(WAKE)}, N(M)},
    {N(M), NE(LOCAL_WRITE), 0, {NOP(WAKE)}, N(M)},
    /* Write-protect first so that no store slips in after the write-back reads it. */
    {N(M), NE(INV), 0, {NOP(SET_WP), NOP(WRITE_BACK)}, N(MI_WB)},
    {N(M), NE(DOWNGRADE), 0, {NOP(SET_WP), NOP(WRITE_BACK)}, N(MS_WB)},
    DSM_COH_ABSORB(IS_AD),
    {N(IS_AD), NE(GRANT_S), 0, {NOP(FETCH)}, N(IS_D)},
    DSM_COH_ABSORB(IS_D),
    {N(IS_D), NE(FETCH_DONE), 0, {NOP(INSTALL_RO), NOP(SEND_DONE)}, N(S)},
    DSM_COH_ABSORB(IM_AD),
    {N(IM_AD), NE(GRANT_M_DATA), 0, {NOP(FETCH)}, N(IM_D)},
    DSM_COH_ABSORB(IM_D),
    {N(IM_D), NE(FETCH_DONE), 0, {NOP(INSTALL_RW), NOP(SEND_DONE)}, N(M)},
    DSM_COH_ABSORB(SM_A),
    {N(SM_A), NE(GRANT_M_UPGRADE), 0, {NOP(CLEAR_WP), NOP(SEND_DONE)}, N(M)},
    /* Lost the copy before the upgrade was served: the home will grant with data.
     * Wake the blocked writers so that they re-fault as missing. */
    {N(SM_A), NE(INV), 0, {NOP(ZAP), NOP(WAKE), NOP(SEND_ACK)}, N(IM_AD)},
    DSM_COH_ABSORB(MI_WB),
    /* Ack only once the backing holds the data; wake writers so they re-fault as missing. */
    {N(MI_WB), NE(WB_DONE), 0, {NOP(ZAP), NOP(WAKE), NOP(SEND_ACK)}, N(I)},
    DSM_COH_ABSORB(MS_WB),
    /* Writers blocked on the write-protection re-fault and ask for an upgrade. */
    {N(MS_WB), NE(WB_DONE), 0, {NOP(WAKE), NOP(SEND_ACK)}, N(S)},
};
const size_t dsm_coh_node_nrows = sizeof(dsm_coh_node_rows) / sizeof(dsm_coh_node_rows[0]);

/* A request that finds the page busy waits its turn (FIFO: no starvation). */
#define DSM_COH_QUEUE(s)                                       \
    {H(s), HE(REQ_READ), 0, {HOP(ENQUEUE)}, H(s)},             \
    {H(s), HE(REQ_WRITE), 0, {HOP(ENQUEUE)}, H(s)}

const dsm_coh_row_t dsm_coh_home_rows[] = {
    {H(U), HE(REQ_READ), 0, {HOP(BEGIN), HOP(GRANT_S)}, H(WAIT_DONE_S)},
    {H(U), HE(REQ_WRITE), 0, {HOP(BEGIN), HOP(GRANT_M_DATA)}, H(WAIT_DONE_M)},
    {H(S), HE(REQ_READ), 0, {HOP(BEGIN), HOP(GRANT_S)}, H(WAIT_DONE_S)},
    {H(S), HE(REQ_WRITE), HG(NO_OTHER_HOLDER), {HOP(BEGIN), HOP(GRANT_M_UPGRADE)},
     H(WAIT_DONE_M)},
    {H(S), HE(REQ_WRITE), HG(OTHER_HOLDERS), {HOP(BEGIN), HOP(SEND_INV)}, H(WAIT_INV)},
    {H(M), HE(REQ_READ), 0, {HOP(BEGIN), HOP(SEND_DOWNGRADE)}, H(WAIT_DG)},
    {H(M), HE(REQ_WRITE), 0, {HOP(BEGIN), HOP(SEND_INV)}, H(WAIT_INV)},
    DSM_COH_QUEUE(WAIT_DG),
    /* The owner wrote back and kept a read-only copy: both now share. */
    {H(WAIT_DG), HE(ACK), 0, {HOP(GRANT_S)}, H(WAIT_DONE_S)},
    DSM_COH_QUEUE(WAIT_INV),
    /* Never grant before every invalidation is acknowledged (SWMR). */
    {H(WAIT_INV), HE(ACK), HG(MORE_ACKS), {HOP(COLLECT_ACK)}, H(WAIT_INV)},
    {H(WAIT_INV), HE(ACK), HG(LAST_REQ_HOLDS), {HOP(COLLECT_ACK), HOP(GRANT_M_UPGRADE)},
     H(WAIT_DONE_M)},
    {H(WAIT_INV), HE(ACK), HG(LAST_REQ_ABSENT), {HOP(COLLECT_ACK), HOP(GRANT_M_DATA)},
     H(WAIT_DONE_M)},
    /* Busy until the requester installed: later INV/DOWNGRADE can never overtake
     * the grant, whatever the order active messages arrive in. */
    DSM_COH_QUEUE(WAIT_DONE_S),
    {H(WAIT_DONE_S), HE(DONE), 0, {HOP(SERVE_NEXT)}, H(S)},
    DSM_COH_QUEUE(WAIT_DONE_M),
    {H(WAIT_DONE_M), HE(DONE), 0, {HOP(SERVE_NEXT)}, H(M)},
};
const size_t dsm_coh_home_nrows = sizeof(dsm_coh_home_rows) / sizeof(dsm_coh_home_rows[0]);

/* ---- names --------------------------------------------------------------- */

static const char *const dsm_coh_node_state_names[DSM_COH_N_COUNT] = {
    [N(I)] = "I", [N(S)] = "S", [N(M)] = "M", [N(IS_AD)] = "IS_AD", [N(IS_D)] = "IS_D",
    [N(IM_AD)] = "IM_AD", [N(IM_D)] = "IM_D", [N(SM_A)] = "SM_A", [N(MI_WB)] = "MI_WB",
    [N(MS_WB)] = "MS_WB",
};

static const char *const dsm_coh_home_state_names[DSM_COH_H_COUNT] = {
    [H(U)] = "U", [H(S)] = "S", [H(M)] = "M", [H(WAIT_DG)] = "WAIT_DG",
    [H(WAIT_INV)] = "WAIT_INV", [H(WAIT_DONE_S)] = "WAIT_DONE_S",
    [H(WAIT_DONE_M)] = "WAIT_DONE_M",
};

static const char *const dsm_coh_node_event_names[DSM_COH_NE_COUNT] = {
    [NE(LOCAL_READ)] = "LOCAL_READ", [NE(LOCAL_WRITE)] = "LOCAL_WRITE",
    [NE(GRANT_S)] = "GRANT_S", [NE(GRANT_M_DATA)] = "GRANT_M_DATA",
    [NE(GRANT_M_UPGRADE)] = "GRANT_M_UPGRADE", [NE(INV)] = "INV",
    [NE(DOWNGRADE)] = "DOWNGRADE", [NE(FETCH_DONE)] = "FETCH_DONE", [NE(WB_DONE)] = "WB_DONE",
};

static const char *const dsm_coh_node_op_names[DSM_COH_NOP_COUNT] = {
    [NOP(NONE)] = "", [NOP(REQ_READ)] = "send(REQ_READ)", [NOP(REQ_WRITE)] = "send(REQ_WRITE)",
    [NOP(SEND_ACK)] = "send(ACK)", [NOP(SEND_DONE)] = "send(DONE)", [NOP(FETCH)] = "FETCH",
    [NOP(WRITE_BACK)] = "WRITE_BACK", [NOP(INSTALL_RO)] = "INSTALL_RO",
    [NOP(INSTALL_RW)] = "INSTALL_RW", [NOP(CLEAR_WP)] = "CLEAR_WP", [NOP(SET_WP)] = "SET_WP",
    [NOP(ZAP)] = "ZAP", [NOP(WAKE)] = "WAKE",
};

static const char *const dsm_coh_home_event_names[DSM_COH_HE_COUNT] = {
    [HE(REQ_READ)] = "REQ_READ", [HE(REQ_WRITE)] = "REQ_WRITE", [HE(ACK)] = "ACK",
    [HE(DONE)] = "DONE",
};

static const char *const dsm_coh_home_guard_names[DSM_COH_HG_COUNT] = {
    [HG(NONE)] = "", [HG(NO_OTHER_HOLDER)] = "no other holder",
    [HG(OTHER_HOLDERS)] = "other holders", [HG(MORE_ACKS)] = "more acks due",
    [HG(LAST_REQ_HOLDS)] = "last ack, requester holds",
    [HG(LAST_REQ_ABSENT)] = "last ack, requester absent",
};

static const char *const dsm_coh_home_op_names[DSM_COH_HOP_COUNT] = {
    [HOP(NONE)] = "", [HOP(BEGIN)] = "begin", [HOP(ENQUEUE)] = "enqueue",
    [HOP(SEND_INV)] = "send(INV)*", [HOP(SEND_DOWNGRADE)] = "send(DOWNGRADE)",
    [HOP(COLLECT_ACK)] = "collect", [HOP(GRANT_S)] = "send(GRANT_S)",
    [HOP(GRANT_M_DATA)] = "send(GRANT_M_DATA)", [HOP(GRANT_M_UPGRADE)] = "send(GRANT_M_UPGRADE)",
    [HOP(SERVE_NEXT)] = "serve_next",
};

static const char *const dsm_coh_action_names[DSM_COH_ACT_COUNT] = {
    [DSM_COH_ACT_SEND] = "SEND", [DSM_COH_ACT_FETCH] = "FETCH",
    [DSM_COH_ACT_WRITE_BACK] = "WRITE_BACK", [DSM_COH_ACT_INSTALL_RO] = "INSTALL_RO",
    [DSM_COH_ACT_INSTALL_RW] = "INSTALL_RW", [DSM_COH_ACT_CLEAR_WP] = "CLEAR_WP",
    [DSM_COH_ACT_SET_WP] = "SET_WP", [DSM_COH_ACT_ZAP] = "ZAP", [DSM_COH_ACT_WAKE] = "WAKE",
};

static const char *const dsm_coh_msg_names[DSM_COH_MSG_TYPE_MAX + 1] = {
    [DSM_COH_MSG_REQ_READ] = "REQ_READ", [DSM_COH_MSG_REQ_WRITE] = "REQ_WRITE",
    [DSM_COH_MSG_GRANT] = "GRANT", [DSM_COH_MSG_INV] = "INV",
    [DSM_COH_MSG_DOWNGRADE] = "DOWNGRADE", [DSM_COH_MSG_ACK] = "ACK",
    [DSM_COH_MSG_DONE] = "DONE",
};

const char *dsm_coh_node_state_name(dsm_coh_node_state_t state)
{
    return (unsigned)state < DSM_COH_N_COUNT ? dsm_coh_node_state_names[state] : "?";
}

const char *dsm_coh_home_state_name(dsm_coh_home_state_t state)
{
    return (unsigned)state < DSM_COH_H_COUNT ? dsm_coh_home_state_names[state] : "?";
}

const char *dsm_coh_action_name(dsm_coh_action_type_t type)
{
    return (unsigned)type < DSM_COH_ACT_COUNT ? dsm_coh_action_names[type] : "?";
}

const char *dsm_coh_msg_type_name(dsm_coh_msg_type_t type)
{
    return (unsigned)type <= DSM_COH_MSG_TYPE_MAX && dsm_coh_msg_names[type] != NULL
               ? dsm_coh_msg_names[type]
               : "?";
}

static void dsm_coh_ops_text(const uint8_t *ops, const char *const *names, char *buf,
                             size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (unsigned i = 0; i < DSM_COH_ROW_OPS && ops[i] != 0; i++) {
        const char *name = names[ops[i]];

        if (i > 0 && used + 1 < size) {
            buf[used++] = ' ';
        }
        for (size_t k = 0; name[k] != '\0' && used + 1 < size; k++) {
            buf[used++] = name[k];
        }
        buf[used] = '\0';
    }
}

bool dsm_coh_table_row(size_t index, dsm_coh_row_info_t *row_p)
{
    const dsm_coh_row_t *row;

    if (index < dsm_coh_node_nrows) {
        row = &dsm_coh_node_rows[index];
        row_p->side = "node";
        row_p->state = dsm_coh_node_state_names[row->state];
        row_p->event = dsm_coh_node_event_names[row->event];
        row_p->guard = "";
        dsm_coh_ops_text(row->ops, dsm_coh_node_op_names, row_p->actions,
                         sizeof(row_p->actions));
        row_p->next = dsm_coh_node_state_names[row->next];
        return true;
    }
    index -= dsm_coh_node_nrows;
    if (index < dsm_coh_home_nrows) {
        row = &dsm_coh_home_rows[index];
        row_p->side = "home";
        row_p->state = dsm_coh_home_state_names[row->state];
        row_p->event = dsm_coh_home_event_names[row->event];
        row_p->guard = dsm_coh_home_guard_names[row->guard];
        dsm_coh_ops_text(row->ops, dsm_coh_home_op_names, row_p->actions,
                         sizeof(row_p->actions));
        row_p->next = dsm_coh_home_state_names[row->next];
        return true;
    }
    return false;
}
