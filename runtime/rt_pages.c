/*
 * The page path: fault events and coherence messages go into the engine, and
 * the actions it returns are carried out here through kernel/ and transport/.
 * Everything in this file runs on the service thread.
 *
 * Re-entrancy: actions never feed the engine nor start other actions. A
 * transfer that completes while actions run (an RMA that finished at once, a
 * local copy standing in for RMA at the home) is queued as deferred work and
 * fed to the engine by dsm_rt_pages_run_deferred; a transfer that finds no
 * free staging slot is queued too, and started there once an install or a
 * finished write-back returned one. So an input's actions are always carried
 * out completely before the next input, and nothing here calls itself back.
 * (Messages to itself the engine handles inside the input that produced
 * them.)
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dsm_rt.h"
#include "rt_ckpt.h"

#define DSM_RT_STAGING_SLOTS 256 /* pages in flight at once (fetch + write-back) */
#define DSM_RT_FAULT_BATCH   64
#define DSM_RT_INSTALL_ATTEMPTS 1000

static void dsm_rt_actions_run(dsm_rt_t *rt);

/* ---- deferred work ------------------------------------------------------ */

static void dsm_rt_defer_rma_done(dsm_rt_t *rt, uint64_t page, dsm_coh_rma_t op)
{
    dsm_rt_deferred_t work = { .page = page, .op = op };

    if (dsm_rt_fifo_push(&rt->pages.deferred, &work) != DSM_OK) {
        dsm_rt_fatal(rt, DSM_ERR_NO_MEMORY, "out of memory queueing protocol work");
    }
}

/* ---- feeding the engine --------------------------------------------------- */

/* Check what an engine input returned; a failure here is a runtime bug. */
static void dsm_rt_engine_checked(dsm_rt_t *rt, dsm_status_t status, const char *input,
                                  uint64_t page)
{
    if (status != DSM_OK) {
        dsm_rt_fatal(rt, status, "coherence engine refused %s on page %" PRIu64 ": %s", input,
                     page, dsm_strerror(status));
    }
    dsm_rt_actions_run(rt);
}

/* The transfers of op on the run [page, page + count) of one home completed. */
static void dsm_rt_rma_done(dsm_rt_t *rt, uint64_t page, uint32_t count, dsm_coh_rma_t op)
{
    dsm_status_t status = dsm_coh_engine_rma_done_run(rt->pages.coh, page, count, op,
                                                      &rt->pages.actions);

    dsm_rt_engine_checked(rt, status, "an RMA completion", page);
}

/*
 * The completed transfer work and those queued right behind it that continue
 * it (same kind, next page, same home), up to a run's length, taken out of
 * the queue: fed to the engine as one input, a run's ACK or DONE goes out once.
 */
static uint32_t dsm_rt_deferred_run(dsm_rt_t *rt, const dsm_rt_deferred_t *work)
{
    uint32_t home = dsm_coh_engine_home(rt->pages.coh, work->page);
    dsm_rt_deferred_t next;
    uint32_t count = 1;

    while (count < DSM_COH_RUN_MAX && dsm_rt_fifo_peek(&rt->pages.deferred, &next) &&
           next.op == work->op && next.page == work->page + count &&
           dsm_coh_engine_home(rt->pages.coh, next.page) == home) {
        (void)dsm_rt_fifo_pop(&rt->pages.deferred, &next);
        count++;
    }
    return count;
}

/* A coherence message from src (possibly this node). Invalid ones are dropped. */
static void dsm_rt_coherence_recv(dsm_rt_t *rt, int src, const void *bytes, size_t length)
{
    dsm_coh_msg_t msg;
    dsm_status_t status;

    /* Parsed once, by the engine; the runtime adds that the run of pages must
     * lie in one allocation, since only allocations have backing. */
    status = dsm_coh_engine_decode(rt->pages.coh, (uint32_t)src, bytes, length, &msg);
    if (status == DSM_OK && (dsm_rt_region_find(rt, msg.page) == NULL ||
                             dsm_rt_region_find(rt, msg.page + msg.count - 1) !=
                                 dsm_rt_region_find(rt, msg.page))) {
        rt->pages.malformed++;
        dsm_warn("dropped a coherence message from node %d for pages %" PRIu64 "..+%" PRIu32
                 " outside one allocation", src, msg.page, msg.count);
        return;
    }
    /* First touch: a request can arrive before this node learns it is the home. */
    if (status == DSM_OK &&
        dsm_rt_home_hold_msg(rt, dsm_rt_region_find(rt, msg.page), msg.page, src, bytes, length)) {
        return;
    }
    /* A page just granted writable here is kept a while (rt_hold.c). */
    if (status == DSM_OK && dsm_rt_hold_msg(rt, &msg, src, bytes, length)) {
        return;
    }
    if (status == DSM_OK) {
        /* Checkpoint: save or load the pages before the message can change them. */
        for (uint32_t i = 0; i < msg.count; i++) {
            (void)dsm_rt_ckpt_before_input(rt, msg.page + i, 0, DSM_COH_N_I);
        }
        status = dsm_coh_engine_recv_msg(rt->pages.coh, &msg, &rt->pages.actions);
    }
    if (status == DSM_ERR_MALFORMED) {
        dsm_warn("dropped a malformed coherence message from node %d (%zu bytes)", src,
                 length);
        return;
    }
    dsm_rt_engine_checked(rt, status, "a message", msg.page);
}

static void dsm_rt_coherence_am(void *arg, int src_node, const void *header, size_t header_len,
                                const void *data, size_t length)
{
    (void)data;
    if (length != 0) {
        dsm_rt_t *rt = arg;

        rt->pages.malformed++;
        dsm_warn("dropped a coherence message from node %d with %zu unexpected data bytes",
                 src_node, length);
        return;
    }
    dsm_rt_coherence_recv(arg, src_node, header, header_len);
}

/* ---- faults ------------------------------------------------------------------ */

/* An access outside every allocation: the thread gets SIGSEGV, as for any
 * access to unmapped memory. Without THREAD_ID the whole process gets it. */
static void dsm_rt_fault_unallocated(dsm_rt_t *rt, const dsm_uffd_event_t *event)
{
    dsm_error("access to %p, outside every dsm_alloc allocation (thread %u): SIGSEGV",
              (void *)event->address, event->tid);
    if (event->tid != 0) {
        syscall(SYS_tgkill, getpid(), (pid_t)event->tid, SIGSEGV);
    } else {
        kill(getpid(), SIGSEGV);
    }
    (void)rt;
}

/*
 * Requests ahead of sequential faults: a sequential reader's (or writer's)
 * next pages are requested before it touches them, in one burst, so each
 * home (and each holder it recalls from or invalidates) is woken once for the
 * whole window instead of once per page; on a node that is computing each
 * wake-up costs tens of µs. A fault on the page after the previous fault of
 * the same kind (or after the last window) is sequential: the window doubles
 * from 2 up to DSM_READAHEAD pages; any other fault of that kind closes it.
 * Read misses request the absent pages that follow, read-only; upgrades (write
 * faults on read-only pages) upgrade the read-only pages that follow. Pages of
 * other states are left alone, and a write to an absent page is never
 * anticipated: a wrong guess costs a transfer or a copy to fetch again later.
 */
/* Request the run [first, first + count) ahead, as one engine input: one
 * request per home, and the recalls and invalidations it causes go per run too. */
static void dsm_rt_ahead_run(dsm_rt_t *rt, uint64_t first, uint32_t count, int write,
                             dsm_coh_node_state_t candidate)
{
    dsm_status_t status;

    if (count == 0) {
        return;
    }
    for (uint32_t i = 0; i < count; i++) {
        (void)dsm_rt_ckpt_before_input(rt, first + i, 0, candidate); /* as a fault */
    }
    status = write ? dsm_coh_engine_write_fault_run(rt->pages.coh, first, count, &rt->pages.actions)
                   : dsm_coh_engine_read_fault_run(rt->pages.coh, first, count, &rt->pages.actions);
    dsm_rt_engine_checked(rt, status, write ? "an upgrade ahead" : "a read-ahead", first);
}

static void dsm_rt_ahead(dsm_rt_t *rt, dsm_rt_ahead_t *ahead, const dsm_rt_region_t *region,
                         uint64_t page, int write)
{
    dsm_coh_node_state_t candidate = write ? DSM_COH_N_S : DSM_COH_N_I;
    uint64_t end = region->first_page + region->npages;
    uint64_t run_first = 0;
    uint32_t run_count = 0;
    unsigned window;

    if (page != ahead->next || rt->config.readahead == 0) {
        ahead->window = 0;
        ahead->next = page + 1;
        return;
    }
    window = ahead->window == 0 ? 2 : 2 * ahead->window;
    window = window < rt->config.readahead ? window : rt->config.readahead;
    ahead->window = window;
    ahead->next = page + 1 + window;
    /* The window's candidates, in maximal runs of adjacent ones. */
    for (uint64_t next = page + 1; next < page + 1 + window && next < end; next++) {
        if (dsm_coh_engine_node_state(rt->pages.coh, next) != candidate ||
            dsm_rt_placement_home(&region->placement, next) == DSM_RT_HOME_UNKNOWN) {
            dsm_rt_ahead_run(rt, run_first, run_count, write, candidate);
            run_count = 0;
            continue;
        }
        if (run_count == 0) {
            run_first = next;
        }
        run_count++;
        ahead->pages++;
        if (run_count == DSM_COH_RUN_MAX) {
            dsm_rt_ahead_run(rt, run_first, run_count, write, candidate);
            run_count = 0;
        }
    }
    dsm_rt_ahead_run(rt, run_first, run_count, write, candidate);
}

static void dsm_rt_fault(dsm_rt_t *rt, const dsm_uffd_event_t *event, uint64_t now)
{
    uint64_t page = (event->address - rt->arena.base) / DSM_RT_PAGE_SIZE;
    int write = (event->flags & (DSM_UFFD_EVENT_WRITE | DSM_UFFD_EVENT_WP)) != 0;
    const dsm_rt_region_t *region = dsm_rt_region_find(rt, page);
    dsm_coh_node_state_t state;
    dsm_status_t status;

    if (region == NULL) {
        dsm_rt_fault_unallocated(rt, event);
        return;
    }
    state = dsm_coh_engine_node_state(rt->pages.coh, page);
    /* Checkpoint: save or load the page first; a write to a page the cut
     * protected is let go there, and the engine never hears of it. */
    if (dsm_rt_ckpt_before_input(rt, page, (event->flags & DSM_UFFD_EVENT_WP) != 0, state)) {
        return;
    }
    if (!dsm_pagemap_find(&rt->pages.fault_start, page, NULL) &&
        dsm_pagemap_put(&rt->pages.fault_start, page, now) != DSM_OK) {
        dsm_rt_fatal(rt, DSM_ERR_NO_MEMORY, "out of memory recording a fault");
    }
    if (dsm_rt_home_hold_fault(rt, region, event, page)) {
        return; /* runs again once the chunk's home is known */
    }
    status = write ? dsm_coh_engine_write_fault(rt->pages.coh, page, &rt->pages.actions)
                   : dsm_coh_engine_read_fault(rt->pages.coh, page, &rt->pages.actions);
    dsm_rt_engine_checked(rt, status, write ? "a write fault" : "a read fault", page);
    if (!write && state == DSM_COH_N_I) {
        dsm_rt_ahead(rt, &rt->pages.read_ahead, region, page, 0);
    } else if (write && state == DSM_COH_N_S) {
        dsm_rt_ahead(rt, &rt->pages.upgrade_ahead, region, page, 1);
    }
}

size_t dsm_rt_pages_read_faults(dsm_rt_t *rt)
{
    dsm_uffd_event_t events[DSM_RT_FAULT_BATCH];
    size_t count = 0;
    dsm_status_t status = dsm_uffd_events_read(&rt->uffd, events, DSM_RT_FAULT_BATCH, &count);
    uint64_t now;

    if (status != DSM_OK) {
        dsm_rt_fatal(rt, status, "reading fault events failed: %s", dsm_strerror(status));
    }
    now = count ? dsm_now_ns() : 0;
    for (size_t i = 0; i < count; i++) {
        dsm_rt_fault(rt, &events[i], now);
    }
    return count;
}

/* The faulting threads of page were just woken: record how long they waited. */
static void dsm_rt_fault_resolved(dsm_rt_t *rt, uint64_t page)
{
    uint64_t start;

    if (dsm_pagemap_take(&rt->pages.fault_start, page, &start)) {
        dsm_rt_hist_add(&rt->pages.fault_latency, dsm_now_ns() - start);
    }
}

/* ---- staging slots ------------------------------------------------------------ */

static void *dsm_rt_slot_address(const dsm_rt_t *rt, int slot)
{
    return (char *)rt->pages.staging + (size_t)slot * DSM_RT_PAGE_SIZE;
}

static int dsm_rt_slot_get(dsm_rt_t *rt)
{
    int slot = rt->pages.free_slot;

    if (slot >= 0) {
        rt->pages.free_slot = rt->pages.slots[slot].next_free;
    }
    return slot;
}

/* Return slot to the pool. A transfer waiting for one is not started here
 * (inside an install, or a transfer's completion): dsm_rt_pages_run_deferred
 * starts it. */
static void dsm_rt_slot_put(dsm_rt_t *rt, int slot)
{
    rt->pages.slots[slot].next_free = rt->pages.free_slot;
    rt->pages.free_slot = slot;
}

/* ---- page transfers (FETCH and WRITE_BACK) --------------------------------------- */

static void dsm_rt_transfer_done(void *arg, dsm_status_t status)
{
    dsm_rt_slot_t *slot = arg;
    dsm_rt_t *rt = slot->rt;
    int index = (int)(slot - rt->pages.slots);

    if (status != DSM_OK) {
        dsm_rt_fatal(rt, status,
                     "page %" PRIu64 " transfer failed: %s", slot->page, dsm_strerror(status));
    }
    if (slot->op == DSM_COH_RMA_WRITE_BACK) {
        dsm_rt_slot_put(rt, index); /* the fetch slot lives until the install */
    }
    dsm_rt_defer_rma_done(rt, slot->page, slot->op);
}

/* After a put, a flush makes it complete at the home before anyone is told. */
static void dsm_rt_write_back_put_done(void *arg, dsm_status_t status)
{
    dsm_rt_slot_t *slot = arg;
    dsm_rt_t *rt = slot->rt;
    dsm_status_t flush;

    if (status != DSM_OK) {
        dsm_rt_transfer_done(arg, status);
        return;
    }
    flush = dsm_tp_flush(rt->tp, slot->home, dsm_rt_transfer_done, slot);
    if (flush != DSM_INPROGRESS) {
        dsm_rt_transfer_done(slot, flush);
    }
}

static void dsm_rt_transfer_start(dsm_rt_t *rt, const dsm_coh_action_t *action, int slot)
{
    const dsm_rt_region_t *region = dsm_rt_region_find(rt, action->page);
    uint64_t index = dsm_rt_placement_index(&region->placement, action->page);
    size_t offset = index * DSM_RT_PAGE_SIZE;
    void *local = dsm_rt_slot_address(rt, slot);
    void *arena = dsm_rt_page_address(rt, action->page);
    dsm_rt_slot_t *record = &rt->pages.slots[slot];
    int home = (int)action->node;
    dsm_status_t status;

    record->page = action->page;
    record->home = home;
    record->op = action->type == DSM_COH_ACT_FETCH ? DSM_COH_RMA_FETCH : DSM_COH_RMA_WRITE_BACK;

    if (action->type == DSM_COH_ACT_FETCH) {
        if (dsm_pagemap_put(&rt->pages.fetch_slot, action->page, (uint64_t)slot) != DSM_OK) {
            dsm_rt_fatal(rt, DSM_ERR_NO_MEMORY, "out of memory recording a fetch");
        }
        rt->pages.bytes_fetched += DSM_RT_PAGE_SIZE;
        if (home == rt->node) { /* the home reads its own backing */
            memcpy(local, (char *)dsm_tp_mem_address(region->backing) + offset,
                   DSM_RT_PAGE_SIZE);
            dsm_rt_transfer_done(record, DSM_OK);
            return;
        }
        status = dsm_tp_get(rt->tp, region->rmem, home, offset, local, DSM_RT_PAGE_SIZE,
                            rt->pages.staging_mem, dsm_rt_transfer_done, record);
        if (status != DSM_INPROGRESS) {
            dsm_rt_transfer_done(record, status);
        }
        return;
    }
    /* WRITE_BACK: the page is write-protected (SET_WP came first), so the
     * service thread reads a stable copy through the arena mapping. */
    rt->pages.bytes_written_back += DSM_RT_PAGE_SIZE;
    if (home == rt->node) {
        memcpy((char *)dsm_tp_mem_address(region->backing) + offset, arena, DSM_RT_PAGE_SIZE);
        dsm_rt_transfer_done(record, DSM_OK);
        return;
    }
    memcpy(local, arena, DSM_RT_PAGE_SIZE);
    status = dsm_tp_put(rt->tp, region->rmem, home, offset, local, DSM_RT_PAGE_SIZE,
                        rt->pages.staging_mem, dsm_rt_write_back_put_done, record);
    if (status != DSM_INPROGRESS) {
        dsm_rt_write_back_put_done(record, status);
    }
}

/* Started at once when a slot is free and no transfer waits for one (they
 * start in order), else queued for dsm_rt_pages_run_deferred. */
static void dsm_rt_transfer(dsm_rt_t *rt, const dsm_coh_action_t *action)
{
    int slot = rt->pages.slot_waiters.count == 0 ? dsm_rt_slot_get(rt) : -1;

    if (slot >= 0) {
        dsm_rt_transfer_start(rt, action, slot);
    } else if (dsm_rt_fifo_push(&rt->pages.slot_waiters, action) != DSM_OK) {
        dsm_rt_fatal(rt, DSM_ERR_NO_MEMORY, "out of memory queueing page transfers");
    }
}

/* The oldest transfer waiting for a slot, started if one is free; nonzero
 * if it was. */
static int dsm_rt_transfer_start_waiting(dsm_rt_t *rt)
{
    dsm_coh_action_t action;
    int slot;

    if (rt->pages.slot_waiters.count == 0 || (slot = dsm_rt_slot_get(rt)) < 0) {
        return 0;
    }
    dsm_rt_fifo_pop(&rt->pages.slot_waiters, &action);
    dsm_rt_transfer_start(rt, &action, slot);
    return 1;
}

/* ---- the other actions --------------------------------------------------------- */

static void dsm_rt_install(dsm_rt_t *rt, uint64_t page, unsigned flags)
{
    void *dst = dsm_rt_page_address(rt, page);
    uint64_t slot;
    size_t done;
    dsm_status_t status;

    if (!dsm_pagemap_take(&rt->pages.fetch_slot, page, &slot)) {
        dsm_rt_fatal(rt, DSM_ERR_STATE, "install of page %" PRIu64 " without fetched data", page);
    }
    /* AGAIN: the address space is changing under us (fork, mremap): retry,
     * a bounded number of times. */
    for (int attempt = 0; attempt < DSM_RT_INSTALL_ATTEMPTS; attempt++) {
        status = dsm_uffd_copy(&rt->uffd, dst, dsm_rt_slot_address(rt, (int)slot),
                               DSM_RT_PAGE_SIZE, flags, &done);
        if (status != DSM_ERR_AGAIN) {
            break;
        }
    }
    if (status != DSM_OK) {
        /* EXISTS would mean the engine's view of the page is wrong. */
        dsm_rt_fatal(rt, status, "installing page %" PRIu64 " failed: %s", page,
                     dsm_strerror(status));
    }
    dsm_rt_slot_put(rt, (int)slot);
    dsm_rt_fault_resolved(rt, page);
}

static void dsm_rt_send(dsm_rt_t *rt, const dsm_coh_action_t *action)
{
    dsm_status_t status;

    status = dsm_tp_am_send(rt->tp, (int)action->node, DSM_RT_AM_COHERENCE, action->msg,
                            sizeof(action->msg), NULL, 0, NULL, NULL);
    if (status != DSM_OK && status != DSM_INPROGRESS) {
        dsm_rt_fatal(rt, status,
                     "sending a coherence message to node %u failed: %s", action->node,
                     dsm_strerror(status));
    }
}

static void dsm_rt_kernel_checked(dsm_rt_t *rt, dsm_status_t status, const char *what,
                                  uint64_t page)
{
    if (status != DSM_OK) {
        dsm_rt_fatal(rt, status, "%s of page %" PRIu64 " failed: %s", what, page,
                     dsm_strerror(status));
    }
}

/* One page of an action (a SEND is carried out once, by dsm_rt_action_run). */
static void dsm_rt_action_page_run(dsm_rt_t *rt, const dsm_coh_action_t *action)
{
    void *address = dsm_rt_page_address(rt, action->page);

    switch (action->type) {
    case DSM_COH_ACT_FETCH:
    case DSM_COH_ACT_WRITE_BACK:
        dsm_rt_transfer(rt, action);
        break;
    case DSM_COH_ACT_INSTALL_RO:
        dsm_rt_install(rt, action->page, DSM_UFFD_WP);
        break;
    case DSM_COH_ACT_INSTALL_RW:
        dsm_rt_install(rt, action->page, 0);
        break;
    case DSM_COH_ACT_CLEAR_WP:
        dsm_rt_kernel_checked(rt, dsm_uffd_wp_clear(&rt->uffd, address, DSM_RT_PAGE_SIZE, 0),
                              "clearing write protection", action->page);
        dsm_rt_fault_resolved(rt, action->page);
        dsm_rt_page_changed(rt, action->page);
        break;
    case DSM_COH_ACT_SET_WP:
        dsm_rt_kernel_checked(rt, dsm_uffd_wp_set(&rt->uffd, address, DSM_RT_PAGE_SIZE),
                              "write-protecting", action->page);
        break;
    case DSM_COH_ACT_ZAP:
        dsm_rt_kernel_checked(rt, dsm_uffd_zap(address, DSM_RT_PAGE_SIZE), "zapping",
                              action->page);
        dsm_rt_page_changed(rt, action->page);
        break;
    case DSM_COH_ACT_WAKE:
        dsm_rt_kernel_checked(rt, dsm_uffd_wake(&rt->uffd, address, DSM_RT_PAGE_SIZE),
                              "waking", action->page);
        /* The woken threads retry; one that faults again is a new fault. */
        dsm_rt_fault_resolved(rt, action->page);
        break;
    default:
        dsm_rt_fatal(rt, DSM_ERR_STATE, "unknown coherence action %d", (int)action->type);
    }
}

/* An action names a run of pages: the message goes once, the rest page by page. */
static void dsm_rt_action_run(dsm_rt_t *rt, const dsm_coh_action_t *action)
{
    dsm_coh_action_t page = *action;

    if (action->type == DSM_COH_ACT_SEND) {
        dsm_rt_send(rt, action);
        return;
    }
    page.count = 1;
    for (uint32_t i = 0; i < action->count; i++) {
        page.page = action->page + i;
        dsm_rt_action_page_run(rt, &page);
    }
}

/* The one place the action list is emptied. */
static void dsm_rt_actions_run(dsm_rt_t *rt)
{
    for (size_t i = 0; i < rt->pages.actions.count; i++) {
        const dsm_coh_action_t *action = &rt->pages.actions.actions[i];

        dsm_rt_action_run(rt, action);
        if (action->type == DSM_COH_ACT_INSTALL_RW || action->type == DSM_COH_ACT_CLEAR_WP) {
            dsm_rt_hold_granted(rt, action->page, action->count); /* rt_hold.c */
        }
    }
    rt->pages.actions.count = 0;
}

/* ---- the deferred-work step --------------------------------------------------------- */

/* Work held for its chunk's first-touch home, which is now known. */
static void dsm_rt_held_run(dsm_rt_t *rt, const dsm_rt_held_t *held)
{
    if (held->is_fault) {
        dsm_rt_fault(rt, &held->event, dsm_now_ns());
    } else {
        dsm_rt_coherence_recv(rt, held->src, held->msg, held->length);
    }
}

/*
 * Transfers waiting for a staging slot, transfers completed while actions
 * ran (adjacent ones of a home as one run) and work that waited for a
 * first-touch home, until none is left: an RMA completion fed to the engine
 * may install a page (returning its slot) or ask for more transfers, and a
 * transfer started may complete at once.
 */
int dsm_rt_pages_run_deferred(dsm_rt_t *rt)
{
    dsm_rt_deferred_t work;
    dsm_rt_held_t held;
    int any = 0;

    for (;;) {
        if (dsm_rt_transfer_start_waiting(rt)) {
            any = 1;
        } else if (dsm_rt_fifo_pop(&rt->pages.deferred, &work)) {
            dsm_rt_rma_done(rt, work.page, dsm_rt_deferred_run(rt, &work), work.op);
            any = 1;
        } else if (dsm_rt_home_ready_pop(rt, &held)) {
            dsm_rt_held_run(rt, &held);
            any = 1;
        } else if (dsm_rt_hold_ready_pop(rt, &held)) { /* a write hold ended */
            dsm_rt_held_run(rt, &held);
            any = 1;
        } else {
            return any;
        }
    }
}

/* ---- set-up ------------------------------------------------------------------------ */

static uint32_t dsm_rt_home_of(uint64_t page, void *arg)
{
    dsm_rt_t *rt = arg;
    const dsm_rt_region_t *region = dsm_rt_region_find(rt, page);

    /* Pages outside allocations, and first-touch pages whose home this node
     * has not learnt, never reach the engine (checked before every input);
     * the fallback only keeps the engine's contract (home < nnodes). */
    int home = region ? dsm_rt_placement_home(&region->placement, page) : DSM_RT_HOME_UNKNOWN;

    return home != DSM_RT_HOME_UNKNOWN ? (uint32_t)home : (uint32_t)(page % (uint64_t)rt->nnodes);
}

dsm_status_t dsm_rt_pages_init(dsm_rt_t *rt)
{
    dsm_rt_pages_t *pages = &rt->pages;
    dsm_coh_params_t params = {
        .self = (uint32_t)rt->node, .nnodes = (uint32_t)rt->nnodes,
        .npages = rt->arena.pages, .home_policy = DSM_COH_HOME_FUNC,
        .home_of = dsm_rt_home_of, .home_arg = rt,
    };
    size_t staging_bytes = (size_t)DSM_RT_STAGING_SLOTS * DSM_RT_PAGE_SIZE;
    dsm_status_t status;

    status = dsm_coh_engine_create(&params, &pages->coh);
    if (status != DSM_OK) {
        return status;
    }
    dsm_rt_fifo_init(&pages->deferred, sizeof(dsm_rt_deferred_t));
    dsm_rt_fifo_init(&pages->slot_waiters, sizeof(dsm_coh_action_t));
    pages->actions.capacity = dsm_coh_engine_max_actions(pages->coh);
    pages->actions.actions = calloc(pages->actions.capacity, sizeof(*pages->actions.actions));
    pages->slots = calloc(DSM_RT_STAGING_SLOTS, sizeof(*pages->slots));
    if (pages->actions.actions == NULL || pages->slots == NULL ||
        dsm_pagemap_init(&pages->fetch_slot, 64) != DSM_OK ||
        dsm_pagemap_init(&pages->fault_start, 64) != DSM_OK) {
        return DSM_ERR_NO_MEMORY;
    }
    status = dsm_tp_mem_map(rt->tp, NULL, staging_bytes, &pages->staging_mem);
    if (status != DSM_OK) {
        return status;
    }
    pages->staging = dsm_tp_mem_address(pages->staging_mem);
    pages->slot_count = DSM_RT_STAGING_SLOTS;
    for (int i = 0; i < pages->slot_count; i++) {
        pages->slots[i].rt = rt;
        pages->slots[i].next_free = i + 1 < pages->slot_count ? i + 1 : -1;
    }
    pages->free_slot = 0;
    return dsm_tp_am_register(rt->tp, DSM_RT_AM_COHERENCE, dsm_rt_coherence_am, rt);
}

/* Safe on a partly initialised runtime. */
void dsm_rt_pages_fini(dsm_rt_t *rt)
{
    dsm_rt_pages_t *pages = &rt->pages;

    if (pages->staging_mem != NULL) {
        dsm_tp_mem_unmap(pages->staging_mem);
        pages->staging_mem = NULL;
    }
    dsm_coh_engine_destroy(pages->coh);
    pages->coh = NULL;
    free(pages->actions.actions);
    free(pages->slots);
    pages->actions.actions = NULL;
    pages->slots = NULL;
    dsm_rt_fifo_fini(&pages->slot_waiters);
    dsm_rt_fifo_fini(&pages->deferred);
    dsm_pagemap_fini(&pages->fetch_slot);
    dsm_pagemap_fini(&pages->fault_start);
}

/* ---- what the other parts ask ------------------------------------------------------- */

int dsm_rt_pages_faults_pending(const dsm_rt_t *rt)
{
    return rt->pages.fault_start.count > 0;
}

dsm_coh_node_state_t dsm_rt_pages_state(const dsm_rt_t *rt, uint64_t page)
{
    return dsm_coh_engine_node_state(rt->pages.coh, page);
}

int dsm_rt_pages_settled(const dsm_rt_t *rt, uint64_t first_page, uint64_t npages)
{
    return dsm_coh_engine_settled(rt->pages.coh, first_page, npages);
}

int dsm_rt_pages_quiescent(const dsm_rt_t *rt)
{
    return dsm_coh_engine_quiescent(rt->pages.coh);
}

dsm_status_t dsm_rt_pages_forget(dsm_rt_t *rt, uint64_t first_page, uint64_t npages)
{
    return dsm_coh_engine_forget(rt->pages.coh, first_page, npages);
}

void dsm_rt_pages_stats(const dsm_rt_t *rt, dsm_stats_t *stats_p)
{
    const dsm_rt_pages_t *pages = &rt->pages;
    dsm_coh_stats_t coh;

    dsm_coh_engine_stats(pages->coh, &coh);
    /* The engine counts every request; those sent ahead were no fault. */
    stats_p->read_misses = coh.read_misses - pages->read_ahead.pages;
    stats_p->pages_read_ahead = pages->read_ahead.pages;
    stats_p->write_misses = coh.write_misses;
    stats_p->upgrades = coh.upgrades - pages->upgrade_ahead.pages;
    stats_p->pages_upgraded_ahead = pages->upgrade_ahead.pages;
    stats_p->invalidations_sent = coh.inv_sent + coh.dg_sent;
    stats_p->invalidations_received = coh.inv_received + coh.dg_received;
    stats_p->messages_sent = coh.msgs_sent;
    stats_p->message_pages_sent = coh.msg_pages_sent;
    stats_p->messages_received = coh.msgs_received;
    stats_p->malformed_messages += coh.malformed + pages->malformed;
    stats_p->bytes_fetched = pages->bytes_fetched;
    stats_p->bytes_written_back = pages->bytes_written_back;
    stats_p->faults_resolved = pages->fault_latency.total;
    stats_p->fault_latency_p50_us = dsm_rt_hist_percentile_us(&pages->fault_latency, 50);
    stats_p->fault_latency_p99_us = dsm_rt_hist_percentile_us(&pages->fault_latency, 99);
}
