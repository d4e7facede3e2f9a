/*
 * The protocol: the node (cache) side and the home (directory) side as tables
 * of rows (state, event, guard) -> (next state, ops), plus how each message
 * reaches them (dsm_coh_routes). Every rule is here: the engine only looks up
 * the row whose guards hold (coh_engine.c) and runs its ops (coh_node.c,
 * coh_home.c). docs/design.md section 4.5 is printed from these tables and
 * checked in ctest (dsm_coh_table --check-doc), and the Promela model tags
 * every row it models with the same "row:" name (checked likewise), so the
 * code, the document and the model cannot drift.
 *
 * A (state, event) pair absent from a table, or whose rows' guards all fail,
 * is illegal: a message is then rejected as malformed, a completion nobody
 * waits for is a runtime bug. Rows of one (state, event) are adjacent; the
 * first whose guards all hold wins. A row's ops run after its state change.
 */
#include "coh_int.h"

#define N(s) DSM_COH_N_##s
#define NE(e) DSM_COH_NE_##e
#define NG(g) DSM_COH_NG_##g
#define NOP(o) DSM_COH_NOP_##o
#define H(s) DSM_COH_H_##s
#define HE(e) DSM_COH_HE_##e
#define HG(g) DSM_COH_HG_##g
#define HOP(o) DSM_COH_HOP_##o
#define STAT(f) DSM_COH_STAT(f)

/* A fault on a page whose request is already in flight: no second request. */
#define DSM_COH_ABSORB(s)                                                  \
    {N(s), NE(LOCAL_READ), 0, {0}, N(s), STAT(faults_absorbed)},           \
    {N(s), NE(LOCAL_WRITE), 0, {0}, N(s), STAT(faults_absorbed)}

static const dsm_coh_row_t dsm_coh_node_rows[] = {
    {N(I), NE(LOCAL_READ), 0, {NOP(REQ_READ)}, N(IS_AD), STAT(read_misses)},
    {N(I), NE(LOCAL_WRITE), 0, {NOP(REQ_WRITE)}, N(IM_AD), STAT(write_misses)},
    /* A fault the mapping already satisfies (raced with an install): wake it. */
    {N(S), NE(LOCAL_READ), 0, {NOP(WAKE)}, N(S), STAT(faults_spurious)},
    {N(S), NE(LOCAL_WRITE), 0, {NOP(REQ_WRITE)}, N(SM_A), STAT(upgrades)},
    {N(S), NE(INV), 0, {NOP(NOTE_ID), NOP(ZAP), NOP(SEND_ACK)}, N(I), 0},
    {N(M), NE(LOCAL_READ), 0, {NOP(WAKE)}, N(M), STAT(faults_spurious)},
    {N(M), NE(LOCAL_WRITE), 0, {NOP(WAKE)}, N(M), STAT(faults_spurious)},
    /* Write-protect first so that no store slips in after the write-back reads it. */
    {N(M), NE(INV), 0, {NOP(NOTE_ID), NOP(SET_WP), NOP(WRITE_BACK)}, N(MI_WB), 0},
    {N(M), NE(DOWNGRADE), 0, {NOP(NOTE_ID), NOP(SET_WP), NOP(WRITE_BACK)}, N(MS_WB), 0},
    DSM_COH_ABSORB(IS_AD),
    /* A grant must answer the request outstanding, not an older one. */
    {N(IS_AD), NE(GRANT_S), NG(OUR_REQUEST), {NOP(FETCH)}, N(IS_D), 0},
    DSM_COH_ABSORB(IS_D),
    {N(IS_D), NE(FETCH_DONE), 0, {NOP(INSTALL_RO), NOP(SEND_DONE)}, N(S), 0},
    DSM_COH_ABSORB(IM_AD),
    {N(IM_AD), NE(GRANT_M_DATA), NG(OUR_REQUEST), {NOP(FETCH)}, N(IM_D), 0},
    DSM_COH_ABSORB(IM_D),
    {N(IM_D), NE(FETCH_DONE), 0, {NOP(INSTALL_RW), NOP(SEND_DONE)}, N(M), 0},
    DSM_COH_ABSORB(SM_A),
    {N(SM_A), NE(GRANT_M_UPGRADE), NG(OUR_REQUEST), {NOP(CLEAR_WP), NOP(SEND_DONE)}, N(M), 0},
    /* Lost the copy before the upgrade was served: the home will grant with data.
     * Wake the blocked writers so that they re-fault as missing. */
    {N(SM_A), NE(INV), 0, {NOP(NOTE_ID), NOP(ZAP), NOP(WAKE), NOP(SEND_ACK)}, N(IM_AD),
     STAT(upgrades_lost)},
    DSM_COH_ABSORB(MI_WB),
    /* Ack only once the backing holds the data; wake writers so they re-fault as missing. */
    {N(MI_WB), NE(WB_DONE), 0, {NOP(ZAP), NOP(WAKE), NOP(SEND_ACK)}, N(I), 0},
    DSM_COH_ABSORB(MS_WB),
    /* Writers blocked on the write-protection re-fault and ask for an upgrade. */
    {N(MS_WB), NE(WB_DONE), 0, {NOP(WAKE), NOP(SEND_ACK)}, N(S), 0},
};

/*
 * A request that finds the page busy waits its turn (FIFO: no starvation).
 * One outstanding request per node and page: the requester's next request may
 * overtake its DONE (unordered messages), never its grant.
 */
#define DSM_COH_QUEUE(s, g)                                                \
    {H(s), HE(REQ_READ), HG(NOT_QUEUED) | (g), {HOP(ENQUEUE)}, H(s), 0},   \
    {H(s), HE(REQ_WRITE), HG(NOT_QUEUED) | (g), {HOP(ENQUEUE)}, H(s), 0}

/* An ACK of the transaction served, from a node being invalidated or downgraded. */
#define DSM_COH_ACK_OK (HG(SERVED_ID) | HG(FROM_HOLDER))
/* The DONE of the transaction served. */
#define DSM_COH_DONE_OK (HG(SERVED_ID) | HG(FROM_REQUESTER))

/*
 * An idle home serves a read only to a node without a copy and a write only
 * to a node without M: honest nodes never ask otherwise, and the directory is
 * exact whenever the home is idle (in U nobody holds a copy).
 */
static const dsm_coh_row_t dsm_coh_home_rows[] = {
    {H(U), HE(REQ_READ), 0, {HOP(BEGIN), HOP(GRANT_S)}, H(WAIT_DONE_S), 0},
    {H(U), HE(REQ_WRITE), 0, {HOP(BEGIN), HOP(GRANT_M_DATA)}, H(WAIT_DONE_M), 0},
    {H(S), HE(REQ_READ), HG(SENDER_ABSENT), {HOP(BEGIN), HOP(GRANT_S)}, H(WAIT_DONE_S), 0},
    {H(S), HE(REQ_WRITE), HG(NO_OTHER_HOLDER), {HOP(BEGIN), HOP(GRANT_M_UPGRADE)},
     H(WAIT_DONE_M), 0},
    {H(S), HE(REQ_WRITE), HG(OTHER_HOLDERS), {HOP(BEGIN), HOP(SEND_INV)}, H(WAIT_INV), 0},
    {H(M), HE(REQ_READ), HG(SENDER_ABSENT), {HOP(BEGIN), HOP(SEND_DOWNGRADE)}, H(WAIT_DG), 0},
    {H(M), HE(REQ_WRITE), HG(SENDER_ABSENT), {HOP(BEGIN), HOP(SEND_INV)}, H(WAIT_INV), 0},
    DSM_COH_QUEUE(WAIT_DG, HG(NOT_REQUESTER)),
    /* The owner wrote back and kept a read-only copy: both now share. */
    {H(WAIT_DG), HE(ACK), DSM_COH_ACK_OK, {HOP(GRANT_S)}, H(WAIT_DONE_S), 0},
    DSM_COH_QUEUE(WAIT_INV, HG(NOT_REQUESTER)),
    /* Never grant before every invalidation is acknowledged (SWMR). */
    {H(WAIT_INV), HE(ACK), DSM_COH_ACK_OK | HG(MORE_ACKS), {HOP(COLLECT_ACK)}, H(WAIT_INV), 0},
    {H(WAIT_INV), HE(ACK), DSM_COH_ACK_OK | HG(LAST_ACK) | HG(REQUESTER_HOLDS),
     {HOP(COLLECT_ACK), HOP(GRANT_M_UPGRADE)}, H(WAIT_DONE_M), 0},
    {H(WAIT_INV), HE(ACK), DSM_COH_ACK_OK | HG(LAST_ACK) | HG(REQUESTER_ABSENT),
     {HOP(COLLECT_ACK), HOP(GRANT_M_DATA)}, H(WAIT_DONE_M), 0},
    /* Busy until the requester installed: later INV/DOWNGRADE can never overtake
     * the grant, whatever the order active messages arrive in. */
    DSM_COH_QUEUE(WAIT_DONE_S, 0),
    {H(WAIT_DONE_S), HE(DONE), DSM_COH_DONE_OK, {HOP(SERVE_NEXT)}, H(S), 0},
    DSM_COH_QUEUE(WAIT_DONE_M, 0),
    {H(WAIT_DONE_M), HE(DONE), DSM_COH_DONE_OK, {HOP(SERVE_NEXT)}, H(M), 0},
};

/* Node-side messages come from the page's home, home-side ones go to it. */
const dsm_coh_route_t dsm_coh_routes[DSM_COH_MSG_TYPE_MAX + 1] = {
    [DSM_COH_MSG_REQ_READ] = {true, {HE(REQ_READ)}, 0},
    [DSM_COH_MSG_REQ_WRITE] = {true, {HE(REQ_WRITE)}, 0},
    [DSM_COH_MSG_GRANT] = {false,
                           {[DSM_COH_GRANT_DATA] = NE(GRANT_S),
                            [DSM_COH_GRANT_EXCL | DSM_COH_GRANT_DATA] = NE(GRANT_M_DATA),
                            [DSM_COH_GRANT_EXCL] = NE(GRANT_M_UPGRADE)},
                           0},
    [DSM_COH_MSG_INV] = {false, {NE(INV)}, STAT(inv_received)},
    [DSM_COH_MSG_DOWNGRADE] = {false, {NE(DOWNGRADE)}, STAT(dg_received)},
    [DSM_COH_MSG_ACK] = {true, {HE(ACK)}, 0},
    [DSM_COH_MSG_DONE] = {true, {HE(DONE)}, 0},
};

/* ---- names --------------------------------------------------------------- */

static const dsm_coh_state_info_t dsm_coh_node_states[DSM_COH_N_COUNT] = {
    [N(I)] = {"I", true}, [N(S)] = {"S", true}, [N(M)] = {"M", true},
    [N(IS_AD)] = {"IS_AD", false}, [N(IS_D)] = {"IS_D", false}, [N(IM_AD)] = {"IM_AD", false},
    [N(IM_D)] = {"IM_D", false}, [N(SM_A)] = {"SM_A", false}, [N(MI_WB)] = {"MI_WB", false},
    [N(MS_WB)] = {"MS_WB", false},
};

static const dsm_coh_state_info_t dsm_coh_home_states[DSM_COH_H_COUNT] = {
    [H(U)] = {"U", true}, [H(S)] = {"S", true}, [H(M)] = {"M", true},
    [H(WAIT_DG)] = {"WAIT_DG", false}, [H(WAIT_INV)] = {"WAIT_INV", false},
    [H(WAIT_DONE_S)] = {"WAIT_DONE_S", false}, [H(WAIT_DONE_M)] = {"WAIT_DONE_M", false},
};

static const char *const dsm_coh_node_event_names[DSM_COH_NE_COUNT] = {
    [NE(LOCAL_READ)] = "LOCAL_READ", [NE(LOCAL_WRITE)] = "LOCAL_WRITE",
    [NE(GRANT_S)] = "GRANT_S", [NE(GRANT_M_DATA)] = "GRANT_M_DATA",
    [NE(GRANT_M_UPGRADE)] = "GRANT_M_UPGRADE", [NE(INV)] = "INV",
    [NE(DOWNGRADE)] = "DOWNGRADE", [NE(FETCH_DONE)] = "FETCH_DONE", [NE(WB_DONE)] = "WB_DONE",
};

static const char *const dsm_coh_node_guard_names[DSM_COH_NG_COUNT] = {
    "our request id",
};

static const char *const dsm_coh_node_op_names[DSM_COH_NOP_COUNT] = {
    [NOP(NONE)] = "", [NOP(REQ_READ)] = "send(REQ_READ)", [NOP(REQ_WRITE)] = "send(REQ_WRITE)",
    [NOP(NOTE_ID)] = "note(id)", [NOP(SEND_ACK)] = "send(ACK)", [NOP(SEND_DONE)] = "send(DONE)",
    [NOP(FETCH)] = "FETCH", [NOP(WRITE_BACK)] = "WRITE_BACK", [NOP(INSTALL_RO)] = "INSTALL_RO",
    [NOP(INSTALL_RW)] = "INSTALL_RW", [NOP(CLEAR_WP)] = "CLEAR_WP", [NOP(SET_WP)] = "SET_WP",
    [NOP(ZAP)] = "ZAP", [NOP(WAKE)] = "WAKE",
};

static const char *const dsm_coh_home_event_names[DSM_COH_HE_COUNT] = {
    [HE(REQ_READ)] = "REQ_READ", [HE(REQ_WRITE)] = "REQ_WRITE", [HE(ACK)] = "ACK",
    [HE(DONE)] = "DONE",
};

/* By bit number, in the order the guard column prints them. */
static const char *const dsm_coh_home_guard_names[DSM_COH_HG_COUNT] = {
    "sender holds none", "no other holder", "other holders", "sender not queued",
    "sender not requester", "served id", "from requester", "from other holder",
    "more acks due", "last ack", "requester holds", "requester absent",
};

static const char *const dsm_coh_home_op_names[DSM_COH_HOP_COUNT] = {
    [HOP(NONE)] = "", [HOP(BEGIN)] = "begin", [HOP(ENQUEUE)] = "enqueue",
    [HOP(SEND_INV)] = "send(INV)*", [HOP(SEND_DOWNGRADE)] = "send(DOWNGRADE)",
    [HOP(COLLECT_ACK)] = "collect", [HOP(GRANT_S)] = "send(GRANT_S)",
    [HOP(GRANT_M_DATA)] = "send(GRANT_M_DATA)", [HOP(GRANT_M_UPGRADE)] = "send(GRANT_M_UPGRADE)",
    [HOP(SERVE_NEXT)] = "serve_next",
};

#define DSM_COH_NELEMS(a) (sizeof(a) / sizeof((a)[0]))

const dsm_coh_table_t dsm_coh_node_table = {
    "node", dsm_coh_node_rows, DSM_COH_NELEMS(dsm_coh_node_rows),
    dsm_coh_node_states, DSM_COH_N_COUNT, dsm_coh_node_event_names, DSM_COH_NE_COUNT,
    dsm_coh_node_guard_names, DSM_COH_NG_COUNT, dsm_coh_node_op_names,
};

const dsm_coh_table_t dsm_coh_home_table = {
    "home", dsm_coh_home_rows, DSM_COH_NELEMS(dsm_coh_home_rows),
    dsm_coh_home_states, DSM_COH_H_COUNT, dsm_coh_home_event_names, DSM_COH_HE_COUNT,
    dsm_coh_home_guard_names, DSM_COH_HG_COUNT, dsm_coh_home_op_names,
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
    return (unsigned)state < DSM_COH_N_COUNT ? dsm_coh_node_states[state].name : "?";
}

const char *dsm_coh_home_state_name(dsm_coh_home_state_t state)
{
    return (unsigned)state < DSM_COH_H_COUNT ? dsm_coh_home_states[state].name : "?";
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

/* Append word to buf (size bytes, used of them taken), after sep unless buf is empty. */
static void dsm_coh_text_append(char *buf, size_t size, size_t *used, const char *sep,
                                const char *word)
{
    if (*used > 0) {
        for (size_t k = 0; sep[k] != '\0' && *used + 1 < size; k++) {
            buf[(*used)++] = sep[k];
        }
    }
    for (size_t k = 0; word[k] != '\0' && *used + 1 < size; k++) {
        buf[(*used)++] = word[k];
    }
    buf[*used] = '\0';
}

bool dsm_coh_table_row(size_t index, dsm_coh_row_info_t *row_p)
{
    const dsm_coh_table_t *table = &dsm_coh_node_table;
    const dsm_coh_row_t *row;
    size_t used = 0;

    if (index >= table->nrows) {
        index -= table->nrows;
        table = &dsm_coh_home_table;
        if (index >= table->nrows) {
            return false;
        }
    }
    row = &table->rows[index];
    row_p->side = table->side;
    row_p->state = table->states[row->state].name;
    row_p->event = table->events[row->event];
    row_p->guard[0] = '\0';
    for (unsigned bit = 0; bit < table->nguards; bit++) {
        if (row->guard & (1u << bit)) {
            dsm_coh_text_append(row_p->guard, sizeof(row_p->guard), &used, ", ",
                                table->guards[bit]);
        }
    }
    used = 0;
    row_p->actions[0] = '\0';
    for (unsigned i = 0; i < DSM_COH_ROW_OPS && row->ops[i] != 0; i++) {
        dsm_coh_text_append(row_p->actions, sizeof(row_p->actions), &used, " ",
                            table->ops[row->ops[i]]);
    }
    row_p->next = table->states[row->next].name;
    return true;
}
