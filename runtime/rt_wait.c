/*
 * dsm_wait_until_u64: an application thread sleeps until its node's copy of a
 * page changes, instead of polling the word with loads.
 *
 * Why: a thread that polls keeps its CPU, so this node's service thread
 * sleeps and every message for it costs a wake-up from another CPU (~25 µs on
 * this VM, docs/costs.md). A thread blocked in a PAGE_WAIT command counts
 * as waiting, so the service thread spins (DSM_SPIN_US) and answers at once.
 *
 * When can the word change? While this node holds the page read-only, only
 * after the copy is taken away (ZAP: another node writes) or made writable
 * (CLEAR_WP: a thread of this node writes): both end the waits on the page.
 * While it holds the page writable, threads of this node may store to it with
 * no event at all, so such a wait also ends after a while (the recheck time,
 * 100 µs backing off to 10 ms).
 *
 * No lost wake-up: the caller reads the page's change count before its load
 * and sends it with the command; the service thread counts every change after
 * carrying it out, and completes a wait at once if the count moved since. The
 * counts are hashed into DSM_RT_PAGE_CHANGE_BUCKETS: a collision costs a look.
 */
#include "dsm_rt.h"

/* A wait on a page held writable ends after RECHECK_MIN; while the word stays
 * unchanged the caller doubles it up to RECHECK_MAX, so a long wait does not
 * keep the service thread spinning for the rechecks. */
#define DSM_RT_PAGE_WAIT_RECHECK_MIN_NS 100000u
#define DSM_RT_PAGE_WAIT_RECHECK_MAX_NS 10000000u

static atomic_uint_fast64_t *dsm_rt_page_change_counter(dsm_rt_t *rt, uint64_t page)
{
    return &rt->wait.changes[page % DSM_RT_PAGE_CHANGE_BUCKETS];
}

static uint64_t dsm_rt_page_changes(dsm_rt_t *rt, uint64_t page)
{
    /* Acquire: the caller's load of the word comes after this read. */
    return atomic_load_explicit(dsm_rt_page_change_counter(rt, page), memory_order_acquire);
}

dsm_status_t dsm_rt_page_wait(dsm_rt_t *rt, const volatile uint64_t *word,
                              int (*holds)(uint64_t word, uint64_t value), uint64_t value)
{
    uint64_t page = ((uintptr_t)word - rt->arena.base) / DSM_RT_PAGE_SIZE;
    uint64_t recheck = DSM_RT_PAGE_WAIT_RECHECK_MIN_NS;

    for (;;) {
        dsm_rt_cmd_t cmd = { .type = DSM_RT_CMD_PAGE_WAIT, .arg = page, .recheck = recheck,
                             .changes = dsm_rt_page_changes(rt, page) };
        dsm_status_t status;

        if (holds(__atomic_load_n(word, __ATOMIC_ACQUIRE), value)) {
            return DSM_OK;
        }
        status = dsm_rt_command(rt, &cmd);
        if (status == DSM_ERR_TIMEOUT) {
            recheck = 2 * recheck < DSM_RT_PAGE_WAIT_RECHECK_MAX_NS
                          ? 2 * recheck : DSM_RT_PAGE_WAIT_RECHECK_MAX_NS;
        } else if (status == DSM_OK) {
            recheck = DSM_RT_PAGE_WAIT_RECHECK_MIN_NS;
        } else {
            return status;
        }
    }
}

/* Complete every wait in the list for which done() says so, with status;
 * keep the others. */
static void dsm_rt_page_waits_complete_if(dsm_rt_t *rt,
                                          int (*done)(const dsm_rt_cmd_t *, uint64_t),
                                          uint64_t arg, dsm_status_t status)
{
    dsm_rt_cmd_list_t keep = { NULL, NULL };
    dsm_rt_cmd_t *cmd;

    while ((cmd = dsm_rt_cmd_list_pop(&rt->wait.waiting)) != NULL) {
        if (done(cmd, arg)) {
            dsm_rt_command_complete(cmd, status);
        } else {
            dsm_rt_cmd_list_push(&keep, cmd);
        }
    }
    rt->wait.waiting = keep;
}

static int dsm_rt_page_wait_on(const dsm_rt_cmd_t *cmd, uint64_t page)
{
    return cmd->arg == page;
}

static int dsm_rt_page_wait_due(const dsm_rt_cmd_t *cmd, uint64_t now)
{
    return cmd->deadline != 0 && cmd->deadline <= now;
}

void dsm_rt_page_changed(dsm_rt_t *rt, uint64_t page)
{
    /* Release: the change itself (a system call) comes before the count. */
    atomic_fetch_add_explicit(dsm_rt_page_change_counter(rt, page), 1, memory_order_release);
    if (rt->wait.waiting.head != NULL) {
        dsm_rt_page_waits_complete_if(rt, dsm_rt_page_wait_on, page, DSM_OK);
    }
}

void dsm_rt_page_wait_start(dsm_rt_t *rt, dsm_rt_cmd_t *cmd, dsm_coh_node_state_t state,
                            uint64_t now)
{
    /* Changed since the caller's load, or in a transaction: look again. */
    if (cmd->changes != dsm_rt_page_changes(rt, cmd->arg) ||
        (state != DSM_COH_N_S && state != DSM_COH_N_M)) {
        dsm_rt_command_complete(cmd, DSM_OK);
        return;
    }
    cmd->deadline = state == DSM_COH_N_M ? now + cmd->recheck : 0;
    dsm_rt_cmd_list_push(&rt->wait.waiting, cmd);
}

uint64_t dsm_rt_page_waits_expire(dsm_rt_t *rt)
{
    uint64_t earliest = 0;

    if (rt->wait.waiting.head == NULL) {
        return 0;
    }
    /* TIMEOUT tells the caller the word may be unchanged: it backs off. */
    dsm_rt_page_waits_complete_if(rt, dsm_rt_page_wait_due, dsm_now_ns(), DSM_ERR_TIMEOUT);
    for (const dsm_rt_cmd_t *cmd = rt->wait.waiting.head; cmd != NULL; cmd = cmd->next) {
        if (cmd->deadline != 0 && (earliest == 0 || cmd->deadline < earliest)) {
            earliest = cmd->deadline;
        }
    }
    return earliest;
}

void dsm_rt_page_waits_cancel(dsm_rt_t *rt, dsm_status_t status)
{
    dsm_rt_cmd_list_complete(&rt->wait.waiting, status);
}
