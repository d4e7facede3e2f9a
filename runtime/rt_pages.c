/*
 * The page path: fault events and coherence messages go into the engine, and
 * the actions it returns are carried out here through kernel/ and transport/.
 * Everything in this file runs on the service thread.
 *
 * Re-entrancy: actions never feed the engine nor start other actions. A
 * transfer that completes while actions run (an RMA that finished at once, or
 * one at the home, where nothing moves) is queued as deferred work and fed to
 * the engine by dsm_rt_pages_run_deferred. So an input's actions are always
 * carried out completely before the next input, and nothing here calls
 * itself back.
 * (Messages to itself the engine handles inside the input that produced
 * them.)
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dsm_rt.h"
#include "rt_ckpt.h"

#define DSM_RT_FAULT_BATCH   64
#define DSM_RT_INSTALL_ATTEMPTS 1000

/* Pages a fault on a detached page maps again, from it on (256 KiB). */
#define DSM_RT_REMAP_AHEAD 64u

static void dsm_rt_actions_run(dsm_rt_t *rt);

/* ---- deferred work ------------------------------------------------------ */

static void dsm_rt_defer_rma_done(dsm_rt_t *rt, uint64_t page, uint32_t count, uint32_t stride,
                                  dsm_coh_rma_t op)
{
    dsm_rt_deferred_t work = { .page = page, .count = count, .stride = stride, .op = op };

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

/* The transfers of work's op on its run, of one home, completed. */
static void dsm_rt_rma_done(dsm_rt_t *rt, const dsm_rt_deferred_t *work)
{
    dsm_status_t status = dsm_coh_engine_rma_done_run(rt->pages.coh, work->page, work->count,
                                                      work->stride, work->op, &rt->pages.actions);

    dsm_rt_engine_checked(rt, status, "an RMA completion", work->page);
}

/*
 * The completed transfer work, with those queued right behind it that
 * continue it (same kind, next pages along its stride, same home, same
 * allocation: a message's run lies in one), up to a run's length, taken out
 * of the queue: fed to the engine as one input, a run's ACK or DONE goes out
 * once.
 */
static void dsm_rt_deferred_run(dsm_rt_t *rt, dsm_rt_deferred_t *work)
{
    uint32_t home = dsm_coh_engine_home(rt->pages.coh, work->page);
    const dsm_rt_region_t *region = dsm_rt_region_find(rt, work->page);
    uint64_t region_end = region != NULL ? region->first_page + region->npages : 0;
    dsm_rt_deferred_t next;
    uint32_t stride;

    while (dsm_rt_fifo_peek(&rt->pages.deferred, &next) && next.op == work->op &&
           (stride = dsm_coh_run_joined(work->page, work->count, work->stride, next.page,
                                        next.count, next.stride)) != 0 &&
           dsm_coh_run_end(next.page, next.count, next.stride) <= region_end &&
           dsm_coh_engine_home(rt->pages.coh, next.page) == home) {
        (void)dsm_rt_fifo_pop(&rt->pages.deferred, &next);
        work->stride = stride;
        work->count += next.count;
    }
}

/* A coherence message from src (possibly this node). Invalid ones are dropped. */
static void dsm_rt_coherence_recv(dsm_rt_t *rt, int src, const void *bytes, size_t length)
{
    const dsm_rt_region_t *region = NULL;
    dsm_coh_msg_t msg;
    dsm_status_t status;

    /* Parsed once, by the engine; the runtime adds that the run of pages must
     * lie in one allocation, since only allocations have backing. */
    status = dsm_coh_engine_decode(rt->pages.coh, (uint32_t)src, bytes, length, &msg);
    if (status == DSM_OK) {
        region = dsm_rt_region_find(rt, msg.page);
    }
    if (status == DSM_OK &&
        (region == NULL || dsm_coh_run_end(msg.page, msg.count, msg.stride) >
                               region->first_page + region->npages)) {
        rt->pages.malformed++;
        dsm_warn("dropped a coherence message from node %d for %" PRIu32 " pages from %" PRIu64
                 " (stride %" PRIu32 ") outside one allocation", src, msg.count, msg.page,
                 msg.stride);
        return;
    }
    /* First touch: a request can arrive before this node learns it is the home. */
    if (status == DSM_OK &&
        dsm_rt_home_hold_msg(rt, region, &msg, src, bytes, length)) {
        return;
    }
    /* A page just granted writable here is kept a while (rt_hold.c). */
    if (status == DSM_OK && dsm_rt_hold_msg(rt, &msg, src, bytes, length)) {
        return;
    }
    if (status == DSM_OK && (msg.type == DSM_COH_MSG_DOWNGRADE || msg.type == DSM_COH_MSG_INV)) {
        dsm_rt_migratory_recalled(region, &msg);
    }
    if (status == DSM_OK) {
        /* Checkpoint: save or load the pages before the message can change them. */
        for (uint32_t i = 0; i < msg.count; i++) {
            dsm_rt_ckpt_before_input(rt, dsm_coh_run_page(msg.page, msg.stride, i));
        }
        status = dsm_coh_engine_recv_msg(rt->pages.coh, &msg, &rt->pages.actions);
    }
    if (status == DSM_ERR_MALFORMED) {
        dsm_warn("dropped a malformed coherence message from node %d (%zu bytes)", src,
                 length);
        return;
    }
    rt->pages.grant_zero = msg.type == DSM_COH_MSG_GRANT && (msg.flags & DSM_COH_GRANT_ZERO);
    dsm_rt_engine_checked(rt, status, "a message", msg.page);
    rt->pages.grant_zero = false;
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
 * wake-up costs tens of µs. Faults of the same kind a constant stride apart
 * (1 to DSM_RT_STRIDE_MAX pages: a scan, or a column of a row-major matrix)
 * form a run: the second opens a window of 2 pages along the stride, and each
 * fault where the last window ends doubles it, up to DSM_READAHEAD pages. Up
 * to DSM_RT_STREAMS runs of each kind are followed at once (dsm_rt_stream_of),
 * so a loop reading several arrays keeps a window on each; a fault that
 * continues none restarts the oldest. Read misses request the absent pages
 * ahead, read-only; upgrades (write faults on read-only pages) upgrade the
 * read-only pages ahead; write misses (writes to absent pages) request the
 * absent pages ahead writable, cautiously (dsm_rt_streams_t.cautious): a page
 * taken writable by mistake is taken from a node that may be writing it. A
 * read run's next window is requested early, while the last one is still in
 * flight (dsm_rt_ahead_early), so the transfers of consecutive windows
 * overlap. Pages of other states are left alone: a wrong
 * guess costs a transfer, or a copy another node must fetch again later.
 */
/* Request the run of count pages from first along stride ahead, as one
 * engine input: one request per home, and the recalls and invalidations it
 * causes go per run too. */
static void dsm_rt_ahead_run(dsm_rt_t *rt, const dsm_rt_streams_t *streams, uint64_t first,
                             uint32_t count, uint32_t stride)
{
    dsm_coh_actions_t *out = &rt->pages.actions;
    dsm_status_t status;

    if (count == 0) {
        return;
    }
    for (uint32_t i = 0; i < count; i++) {
        dsm_rt_ckpt_before_input(rt, dsm_coh_run_page(first, stride, i)); /* as a fault */
    }
    status = streams->write
                 ? dsm_coh_engine_write_fault_run(rt->pages.coh, first, count, stride, out)
                 : dsm_coh_engine_read_fault_run(rt->pages.coh, first, count, stride, out);
    dsm_rt_engine_checked(rt, status, streams->write ? "a write request ahead" : "a read-ahead",
                          first);
}

/* The stream whose next page (where its run faults next) page is, or NULL. */
static dsm_rt_ahead_t *dsm_rt_stream_continued(dsm_rt_streams_t *streams, uint64_t page)
{
    for (unsigned i = 0; i < DSM_RT_STREAMS; i++) {
        if (streams->stream[i].stride != 0 && page == streams->stream[i].next) {
            return &streams->stream[i];
        }
    }
    return NULL;
}

/* The stride from last to page, up or down (*backward_p), if it is one a
 * run is followed along (1 to DSM_RT_STRIDE_MAX pages); else 0. */
static uint32_t dsm_rt_stride_of(uint64_t last, uint64_t page, bool *backward_p)
{
    uint64_t up = page - last, down = last - page; /* one of them wraps */

    *backward_p = down >= 1 && down <= DSM_RT_STRIDE_MAX;
    if (up >= 1 && up <= DSM_RT_STRIDE_MAX) {
        return (uint32_t)up;
    }
    return *backward_p ? (uint32_t)down : 0;
}

/*
 * The run a fault on page continues: the stream whose next page it is, else
 * one whose last fault is at most DSM_RT_STRIDE_MAX pages before or after it
 * (a new stride), else the streams' victim, restarted at page. Up to
 * DSM_RT_STREAMS runs are followed at once, as a loop over several arrays
 * makes them.
 */
static dsm_rt_ahead_t *dsm_rt_stream_of(dsm_rt_streams_t *streams, uint64_t page)
{
    dsm_rt_ahead_t *restart = dsm_rt_stream_continued(streams, page);
    bool backward;

    if (restart != NULL) {
        return restart;
    }
    /* A run going up first: a step back is taken only when no run goes on. */
    for (int down = 0; down <= 1; down++) {
        for (unsigned i = 0; i < DSM_RT_STREAMS; i++) {
            if (dsm_rt_stride_of(streams->stream[i].last, page, &backward) != 0 &&
                backward == down) {
                return &streams->stream[i];
            }
        }
    }
    restart = &streams->stream[streams->victim];
    streams->victim = (streams->victim + 1) % DSM_RT_STREAMS;
    *restart = (dsm_rt_ahead_t){ .last = page };
    return restart;
}

/* The window to request ahead of a fault on page (pages along ahead->stride,
 * in the run's direction): 0 unless the fault continues a run of faults of
 * constant stride. */
static unsigned dsm_rt_ahead_window(const dsm_rt_t *rt, const dsm_rt_streams_t *streams,
                                    dsm_rt_ahead_t *ahead, uint64_t page)
{
    unsigned most = streams->cautious && DSM_RT_WRITE_AHEAD_MAX < rt->config.readahead
                        ? DSM_RT_WRITE_AHEAD_MAX : rt->config.readahead;
    unsigned window = 0;
    bool backward;
    uint32_t stride = dsm_rt_stride_of(ahead->last, page, &backward);
    uint64_t span;

    if (most != 0 && ahead->stride != 0 && page == ahead->next) {
        window = ahead->window == 0 ? 2 : 2 * ahead->window;
    } else if (most != 0 && stride != 0) {
        ahead->stride = stride; /* the second fault of a run: a cautious run waits for a third */
        ahead->backward = backward;
        window = streams->cautious ? 0 : 2;
    } else {
        ahead->stride = 0;
    }
    window = window < most ? window : most;
    ahead->window = window;
    ahead->last = page;
    span = ((uint64_t)window + 1) * ahead->stride;
    ahead->next = ahead->backward ? page - span : page + span; /* may wrap: never a fault */
    return window;
}

/*
 * A scan's window ends where the home changes, if a change lies in its second
 * half: the next window then starts at a home's first page, so its runs are
 * whole chunks of one home (cyclic placement deals 16-page chunks) instead of
 * a chunk's head and tail in two windows, two requests and two DONEs each.
 */
static unsigned dsm_rt_ahead_trim(const dsm_rt_region_t *region, uint64_t page, unsigned window)
{
    uint64_t end = region->first_page + region->npages;

    if (page + window + 1 >= end) {
        return window;
    }
    for (unsigned w = window; w > window / 2; w--) {
        if (dsm_rt_placement_home(&region->placement, page + w) !=
            dsm_rt_placement_home(&region->placement, page + w + 1)) {
            return w;
        }
    }
    return window;
}

/* No fault among the pages dsm_rt_ahead_request asks for. */
#define DSM_RT_NO_FAULT UINT32_MAX

/*
 * Request pages low + k * stride, k < count, as maximal runs of candidates
 * one stride apart. k == fault is a fault on that page (state candidate)
 * that goes to the engine in the same input as the window's pages next to it,
 * so the fault's request and DONE join their run's; the others are pages
 * ahead (below the fault, for a run going backward).
 */
static void dsm_rt_ahead_request(dsm_rt_t *rt, dsm_rt_streams_t *streams,
                                 const dsm_rt_region_t *region, uint64_t low, uint32_t stride,
                                 uint32_t count, uint32_t fault)
{
    uint64_t end = region->first_page + region->npages;
    uint64_t run_first = 0;
    uint32_t run_count = 0;

    /* The window's candidates, in maximal runs along the stride (a column of
     * a row-major matrix is one run, a scan's window runs of adjacent pages). */
    for (uint32_t k = 0; k < count; k++) {
        uint64_t next = dsm_coh_run_page(low, stride, k);

        if (next >= end) {
            break;
        }
        if (run_count > 0 && (next != dsm_coh_run_page(run_first, stride, run_count) ||
                              run_count == DSM_COH_RUN_MAX)) {
            dsm_rt_ahead_run(rt, streams, run_first, run_count, stride);
            run_count = 0;
        }
        if (k != fault &&
            (dsm_coh_engine_node_state(rt->pages.coh, next) != streams->candidate ||
             dsm_rt_placement_home(&region->placement, next) == DSM_RT_HOME_UNKNOWN)) {
            continue;
        }
        if (run_count == 0) {
            run_first = next;
        }
        run_count++;
        streams->pages += k != fault;
    }
    dsm_rt_ahead_run(rt, streams, run_first, run_count, stride);
}

/*
 * The window of a run going down: top (a fault, or a page ahead) and the
 * window pages below it along stride, down to the allocation's start,
 * requested lowest first.
 */
static void dsm_rt_ahead_below(dsm_rt_t *rt, dsm_rt_streams_t *streams,
                               const dsm_rt_region_t *region, uint64_t top, uint32_t stride,
                               unsigned window, bool top_is_fault)
{
    uint64_t below = (top - region->first_page) / stride;

    window = below < window ? (unsigned)below : window;
    dsm_rt_ahead_request(rt, streams, region, top - (uint64_t)window * stride, stride,
                         window + 1, top_is_fault ? window : DSM_RT_NO_FAULT);
}

/* Whether a page may be claimed: homed here (the placement first: the
 * engine's home of a first-touch page this node has not learnt the home of is
 * a stand-in, dsm_rt_home_of) and untouched. */
static int dsm_rt_claimable(const dsm_rt_t *rt, const dsm_rt_region_t *region, uint64_t page)
{
    return dsm_rt_placement_home(&region->placement, page) == rt->node &&
           dsm_coh_engine_claimable(rt->pages.coh, page);
}

/* Claim the claimable pages from first (claimable, its checkpoint step done
 * unless check_first) up to the next one that is not, or end, as one input.
 * Returns the page after the run. */
static uint64_t dsm_rt_claim_run(dsm_rt_t *rt, const dsm_rt_region_t *region, uint64_t first,
                                 uint64_t end, int check_first)
{
    uint32_t count = 0;
    dsm_status_t status;

    do {
        if (count > 0 || check_first) {
            dsm_rt_ckpt_before_input(rt, first + count); /* as a fault */
        }
        count++;
    } while (first + count < end && dsm_rt_claimable(rt, region, first + count));
    status = dsm_coh_engine_home_claim(rt->pages.coh, first, count, &rt->pages.actions);
    dsm_rt_engine_checked(rt, status, "a claim", first);
    return first + count;
}

/* Whether page is one of the last window ahead's pages: from its last fault
 * to its next page, along its stride and direction. */
static bool dsm_rt_ahead_in_window(const dsm_rt_ahead_t *ahead, uint64_t page)
{
    if (ahead->stride == 0 || ahead->window == 0) {
        return false;
    }
    if (ahead->backward) {
        return page <= ahead->last && page > ahead->next &&
               (ahead->last - page) % ahead->stride == 0;
    }
    return page >= ahead->last && page < ahead->next && (page - ahead->last) % ahead->stride == 0;
}

/*
 * A read fault absorbed into a transfer in flight (the reader caught up with
 * its window): the next window is requested now, as if the run faulted on its
 * first page, so its transfers overlap the ones the reader waits for instead
 * of starting when it faults past the window (Linux's asynchronous read-ahead
 * at its marker page). Once per window: the fault must be on a page of the
 * last window requested (from its fault on, along the stride).
 */
static void dsm_rt_ahead_early(dsm_rt_t *rt, dsm_rt_streams_t *streams,
                               const dsm_rt_region_t *region, uint64_t page)
{
    uint64_t end = region->first_page + region->npages;

    for (unsigned i = 0; i < DSM_RT_STREAMS; i++) {
        dsm_rt_ahead_t *ahead = &streams->stream[i];
        uint64_t first = ahead->next;
        unsigned window;

        if (!dsm_rt_ahead_in_window(ahead, page)) {
            continue;
        }
        /* (Below the allocation, a run going down wraps past its end.) */
        if (first >= end || first < region->first_page) {
            return;
        }
        window = dsm_rt_ahead_window(rt, streams, ahead, first);
        if (ahead->backward) {
            dsm_rt_ahead_below(rt, streams, region, first, ahead->stride, window, false);
            return;
        }
        if (ahead->stride == 1) {
            window = dsm_rt_ahead_trim(region, first, window);
            ahead->next = first + window + 1;
        }
        /* first is not a fault: it is requested ahead like the rest */
        dsm_rt_ahead_request(rt, streams, region, first, ahead->stride, window + 1,
                             DSM_RT_NO_FAULT);
        return;
    }
}

/*
 * A fault of the streams' kind on page (a read or write miss, or an upgrade),
 * and the window ahead of it. The fault goes to the engine in one input with
 * its window, so its request and DONE are part of its home's run (along the
 * stride: a column's pages). A scan whose window has grown to DSM_READAHEAD
 * pages requests the window after it too: the reader then finds it in
 * flight, and that absorbed fault requests the next one
 * (dsm_rt_ahead_early), so a scan keeps up to two windows in flight.
 */
static void dsm_rt_ahead_fault(dsm_rt_t *rt, dsm_rt_streams_t *streams,
                               const dsm_rt_region_t *region, uint64_t page)
{
    int write = streams->write;
    dsm_rt_ahead_t *ahead = dsm_rt_stream_of(streams, page);
    unsigned window = dsm_rt_ahead_window(rt, streams, ahead, page);
    dsm_status_t status;

    if (window == 0) {
        status = write ? dsm_coh_engine_write_fault(rt->pages.coh, page, &rt->pages.actions)
                       : dsm_coh_engine_read_fault(rt->pages.coh, page, &rt->pages.actions);
        dsm_rt_engine_checked(rt, status, write ? "a write fault" : "a read fault", page);
        return;
    }
    if (ahead->backward) {
        dsm_rt_ahead_below(rt, streams, region, page, ahead->stride, window, true);
    } else {
        if (ahead->stride == 1) {
            window = dsm_rt_ahead_trim(region, page, window);
            ahead->next = page + window + 1;
        }
        dsm_rt_ahead_request(rt, streams, region, page, ahead->stride, window + 1, 0);
    }
    if (ahead->stride == 1 && !write && ahead->window >= rt->config.readahead) {
        dsm_rt_ahead_early(rt, streams, region, page);
    }
}

/*
 * A fault on a page this node homes and nobody has touched: the home claims
 * it without messages and maps its own page (dsm_coh_engine_home_claim). A
 * first touch that continues a run of them claims the untouched pages this
 * node homes in the span that follows too, so one fault serves a window: a
 * scan's window, or for a stride the whole span up to the window's last page
 * (a column of a row-major array touched first, as a 2-D stencil's set-up
 * writes its boundary, takes the rows' other pages with it). Pages homed
 * elsewhere in the span (cyclic chunks) are skipped, one input per run of
 * claimable ones. Claiming a page nobody touches next costs a zeroed page
 * here and nothing else: if another node asks for it, it is recalled like
 * any page this node holds, and nothing moves.
 */
static void dsm_rt_claim(dsm_rt_t *rt, const dsm_rt_region_t *region, uint64_t page)
{
    dsm_rt_ahead_t *ahead = dsm_rt_stream_of(&rt->pages.claim_ahead, page);
    unsigned window = dsm_rt_ahead_window(rt, &rt->pages.claim_ahead, ahead, page);
    /* Claims go up the addresses: a run going down claims page by page. */
    uint64_t span = ahead->backward ? 1 : 1 + (uint64_t)window * ahead->stride;
    uint64_t end = page + (span < DSM_COH_RUN_MAX ? span : DSM_COH_RUN_MAX);
    uint64_t region_end = region->first_page + region->npages;
    uint64_t next;

    end = end < region_end ? end : region_end;
    next = dsm_rt_claim_run(rt, region, page, end, 0);
    while (next < end) {
        next = dsm_rt_claimable(rt, region, next) ? dsm_rt_claim_run(rt, region, next, end, 1)
                                                  : next + 1;
    }
}

/* Pages of the arena in this node's page cache (zeroes where none was
 * written yet); a failure here is fatal. */
static void dsm_rt_populate(dsm_rt_t *rt, uint64_t page, uint64_t count)
{
    dsm_status_t status = dsm_rt_arena_populate(rt, page, count);

    if (status != DSM_OK) {
        dsm_rt_fatal(rt, status, "populating pages %" PRIu64 "..+%" PRIu64 " failed: %s", page,
                     count, dsm_strerror(status));
    }
}

/*
 * Map the pages [page, page + count), whose data is in this node's page
 * cache, with CONTINUE (flags: DSM_UFFD_WP, DSM_UFFD_DONTWAKE). AGAIN (the
 * address space is changing under us, or part of the run was done) retries
 * the rest, a bounded number of times. A page the page cache lacks
 * (NO_ENTRY) is one nobody wrote (at its home, or at any node of a host whose
 * nodes share their memory: a fetch leaves a page behind, a ZERO fill too):
 * it reads as zeros, so the rest of the run is populated and retried. Not
 * populating first saves a walk of the run in the common case, where another
 * node of the host wrote the pages. A page mapped already (EXISTS) is
 * skipped if skip_mapped, the threads that faulted on it woken unless the
 * caller wakes them; else it is a failure. A failure stops the node, naming
 * what (the work).
 */
static void dsm_rt_continue(dsm_rt_t *rt, uint64_t page, uint64_t count, unsigned flags,
                            bool skip_mapped, const char *what)
{
    char *dst = dsm_rt_page_address(rt, page);
    size_t left = count * DSM_RT_PAGE_SIZE;
    dsm_status_t status = DSM_OK;

    for (int attempt = 0; left > 0 && attempt < DSM_RT_INSTALL_ATTEMPTS; attempt++) {
        size_t done = 0;

        status = dsm_uffd_continue(&rt->uffd, dst, left, flags, &done);
        if (status == DSM_ERR_NO_ENTRY) {
            dsm_rt_populate(rt, page + (count - left / DSM_RT_PAGE_SIZE),
                            left / DSM_RT_PAGE_SIZE);
            continue;
        }
        if (status == DSM_ERR_EXISTS && skip_mapped) {
            status = (flags & DSM_UFFD_DONTWAKE)
                         ? DSM_OK
                         : dsm_uffd_wake(&rt->uffd, dst + done, DSM_RT_PAGE_SIZE);
            done += DSM_RT_PAGE_SIZE;
        }
        if (status != DSM_OK && status != DSM_ERR_AGAIN) {
            break;
        }
        dst += done;
        left -= done;
    }
    if (left > 0) {
        dsm_rt_fatal(rt, status, "%s pages %" PRIu64 "..+%" PRIu64 " failed: %s", what, page,
                     count, dsm_strerror(status));
    }
}

/*
 * A MINOR fault on a page this node holds (S or M): the page is here, its
 * mapping is not, because a checkpoint's cut detached the arena
 * (dsm_rt_ckpt_detach). It is mapped again as the engine holds it, with the
 * pages after it in the same state (DSM_RT_REMAP_AHEAD at most: a code that
 * sweeps its data after a cut takes a fault per run, not per page), and the
 * engine hears nothing: Shared pages write-protected, Modified ones writable
 * once saved in the image being taken (copy-before-write). flags: also
 * DSM_UFFD_DONTWAKE.
 */
static void dsm_rt_remap(dsm_rt_t *rt, const dsm_rt_region_t *region, uint64_t page,
                         dsm_coh_node_state_t state, unsigned flags)
{
    uint64_t end = region->first_page + region->npages, count = 1;

    end = end - page > DSM_RT_REMAP_AHEAD ? page + DSM_RT_REMAP_AHEAD : end;
    while (page + count < end && dsm_coh_engine_node_state(rt->pages.coh, page + count) == state) {
        count++;
    }
    if (state == DSM_COH_N_M) {
        count = dsm_rt_ckpt_before_remap(rt, page, count);
    }
    /* A page a fault served before this one has mapped already is skipped. */
    dsm_rt_continue(rt, page, count, flags | (state == DSM_COH_N_S ? DSM_UFFD_WP : 0), true,
                    "remapping");
}

static void dsm_rt_fault(dsm_rt_t *rt, const dsm_uffd_event_t *event, uint64_t now)
{
    uint64_t page = (event->address - rt->arena.base) / DSM_RT_PAGE_SIZE;
    /* Without a write-protected CONTINUE a page cannot be mapped read-only
     * before another thread could write it unseen: every miss asks for the
     * page writable (Modified), so nothing is ever installed read-only. */
    int write = (event->flags & (DSM_UFFD_EVENT_WRITE | DSM_UFFD_EVENT_WP)) != 0 ||
                !rt->uffd.continue_wp;
    const dsm_rt_region_t *region = dsm_rt_region_find(rt, page);
    dsm_coh_node_state_t state;
    dsm_status_t status;

    if (region == NULL) {
        dsm_rt_fault_unallocated(rt, event);
        return;
    }
    state = dsm_coh_engine_node_state(rt->pages.coh, page);
    if ((event->flags & DSM_UFFD_EVENT_MINOR) &&
        (state == DSM_COH_N_S || state == DSM_COH_N_M)) {
        /* A write to a detached Shared page is mapped read-only without
         * waking the writer, and upgraded below: the grant lifts the
         * protection and wakes it. */
        int upgrade = write && state == DSM_COH_N_S;

        dsm_rt_remap(rt, region, page, state, upgrade ? DSM_UFFD_DONTWAKE : 0);
        if (!upgrade) {
            return;
        }
    }
    if (!dsm_pagemap_find(&rt->pages.fault_start, page, NULL) &&
        dsm_pagemap_put(&rt->pages.fault_start, page, now) != DSM_OK) {
        dsm_rt_fatal(rt, DSM_ERR_NO_MEMORY, "out of memory recording a fault");
    }
    if (dsm_rt_home_hold_fault(rt, region, event, page)) {
        return; /* runs again once the chunk's home is known */
    }
    /* Checkpoint: save or load the page first (a restart loads it at its
     * home: under first touch, known from here on). */
    dsm_rt_ckpt_before_input(rt, page);
    /* A writer's run that reaches this node's own untouched pages goes on
     * with them (its window requests them from this home, without
     * messages), so that it keeps its window into the chunks beyond. */
    if (dsm_coh_engine_claimable(rt->pages.coh, page) &&
        !(write && dsm_rt_stream_continued(&rt->pages.write_ahead, page) != NULL)) {
        dsm_rt_claim(rt, region, page);
        return;
    }
    if (write && state == DSM_COH_N_S) {
        dsm_rt_migratory_upgrade(region, page);
        dsm_rt_ahead_fault(rt, &rt->pages.upgrade_ahead, region, page);
        return;
    }
    if (write && state == DSM_COH_N_I) {
        dsm_rt_ahead_fault(rt, &rt->pages.write_ahead, region, page);
        return;
    }
    /* A read miss of a page read, then written here before: asked for
     * writable at once, alone (the pages after it may be only read). */
    if (state == DSM_COH_N_I && dsm_rt_migratory_read_miss(region, page)) {
        write = 1;
    } else if (state == DSM_COH_N_I) {
        dsm_rt_ahead_fault(rt, &rt->pages.read_ahead, region, page);
        return;
    }
    status = write ? dsm_coh_engine_write_fault(rt->pages.coh, page, &rt->pages.actions)
                   : dsm_coh_engine_read_fault(rt->pages.coh, page, &rt->pages.actions);
    dsm_rt_engine_checked(rt, status, write ? "a write fault" : "a read fault", page);
    if (!write && (state == DSM_COH_N_IS_AD || state == DSM_COH_N_IS_D)) {
        dsm_rt_ahead_early(rt, &rt->pages.read_ahead, region, page);
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

/* ---- runs as pieces --------------------------------------------------------------- */

/*
 * What the kernel and the transport take in one call is a contiguous range:
 * a run along stride 1 is one piece of count pages, a run along a longer
 * stride (a column) is count pieces of one page.
 */
static uint32_t dsm_rt_run_pieces(uint32_t count, uint32_t stride)
{
    return stride == 1 ? 1 : count;
}

static uint32_t dsm_rt_piece_pages(uint32_t count, uint32_t stride)
{
    return stride == 1 ? count : 1;
}

/* ---- page transfers (FETCH and WRITE_BACK) --------------------------------------- */

/*
 * Data moves between the nodes' landing mappings at the pages' offset in their
 * allocation: a get writes this node's page cache, a put the home's. A run of
 * one allocation moves with one get, or one put and its flush, per piece.
 * Nothing is staged: the install that follows a fetch maps the landed pages,
 * and a write-back reads pages the arena maps write-protected.
 */
typedef struct {
    dsm_rt_t     *rt;
    uint64_t      page;
    uint32_t      count;
    uint32_t      stride;
    int           home;    /* the flush after a put */
    dsm_coh_rma_t op;
    uint32_t      pending; /* pieces in flight, plus one while they are being started */
    dsm_status_t  status;  /* the first failure of a piece */
} dsm_rt_transfer_t;

static void dsm_rt_transfer_done(void *arg, dsm_status_t status)
{
    dsm_rt_transfer_t *transfer = arg;
    dsm_rt_t *rt = transfer->rt;

    if (status != DSM_OK) {
        dsm_rt_fatal(rt, status, "transfer of %" PRIu32 " pages from %" PRIu64 " failed: %s",
                     transfer->count, transfer->page, dsm_strerror(status));
    }
    dsm_rt_defer_rma_done(rt, transfer->page, transfer->count, transfer->stride, transfer->op);
    free(transfer);
}

/* A piece's get or put completed; the last one completes the transfer (after
 * a put, a flush makes the data complete at the home before anyone is told). */
static void dsm_rt_transfer_piece_done(void *arg, dsm_status_t status)
{
    dsm_rt_transfer_t *transfer = arg;
    dsm_status_t flush;

    transfer->status = transfer->status == DSM_OK ? status : transfer->status;
    if (--transfer->pending > 0) {
        return;
    }
    if (transfer->status != DSM_OK || transfer->op == DSM_COH_RMA_FETCH) {
        dsm_rt_transfer_done(transfer, transfer->status);
        return;
    }
    flush = dsm_tp_flush(transfer->rt->tp, transfer->home, dsm_rt_transfer_done, transfer);
    if (flush != DSM_INPROGRESS) {
        dsm_rt_transfer_done(transfer, flush);
    }
}

/* One get or put per piece through the transport. */
static void dsm_rt_transfer_rma(dsm_rt_t *rt, const dsm_rt_region_t *region,
                                dsm_rt_transfer_t *transfer)
{
    uint32_t pieces = dsm_rt_run_pieces(transfer->count, transfer->stride);
    size_t length = (size_t)dsm_rt_piece_pages(transfer->count, transfer->stride) *
                    DSM_RT_PAGE_SIZE;

    transfer->pending = pieces + 1;
    for (uint32_t i = 0; i < pieces; i++) {
        uint64_t page = dsm_coh_run_page(transfer->page, transfer->stride, i);
        size_t offset = (size_t)(page - region->first_page) * DSM_RT_PAGE_SIZE;
        void *landing = dsm_rt_page_landing(rt, page);
        dsm_status_t status;

        if (transfer->op == DSM_COH_RMA_FETCH) {
            status = dsm_tp_get(rt->tp, region->rmem, transfer->home, offset, landing, length,
                                region->backing, dsm_rt_transfer_piece_done, transfer);
        } else {
            status = dsm_tp_put(rt->tp, region->rmem, transfer->home, offset, landing, length,
                                region->backing, dsm_rt_transfer_piece_done, transfer);
        }
        if (status != DSM_INPROGRESS) {
            dsm_rt_transfer_piece_done(transfer, status);
        }
    }
    dsm_rt_transfer_piece_done(transfer, DSM_OK); /* all started */
}

/* The run of count pages from page along the action's stride, in region. */
static void dsm_rt_transfer_start(dsm_rt_t *rt, const dsm_rt_region_t *region,
                                  const dsm_coh_action_t *action, uint64_t page, uint32_t count)
{
    dsm_rt_transfer_t *transfer = malloc(sizeof(*transfer));
    int fetch = action->type == DSM_COH_ACT_FETCH;
    dsm_status_t status = DSM_OK;

    if (transfer == NULL) {
        dsm_rt_fatal(rt, DSM_ERR_NO_MEMORY, "out of memory starting a page transfer");
    }
    *transfer = (dsm_rt_transfer_t){ .rt = rt, .page = page, .count = count,
                                     .stride = action->stride, .home = (int)action->node,
                                     .op = fetch ? DSM_COH_RMA_FETCH : DSM_COH_RMA_WRITE_BACK };
    if (transfer->home == rt->node) {
        /* The home's arena and backing are the same pages: nothing moves. */
        dsm_rt_transfer_done(transfer, DSM_OK);
        return;
    }
    if (fetch && rt->pages.grant_zero) {
        /* The home's pages were never written: zeros, without reading it. */
        rt->pages.zero_filled += count;
        for (uint32_t i = 0; i < dsm_rt_run_pieces(count, action->stride) && status == DSM_OK;
             i++) {
            status = dsm_rt_arena_zero(rt, dsm_coh_run_page(page, action->stride, i),
                                       dsm_rt_piece_pages(count, action->stride));
        }
        dsm_rt_transfer_done(transfer, status);
        return;
    }
    if (fetch) {
        rt->pages.bytes_fetched += (size_t)count * DSM_RT_PAGE_SIZE;
    } else {
        /* SET_WP came first: the pages are stable */
        rt->pages.bytes_written_back += (size_t)count * DSM_RT_PAGE_SIZE;
    }
    if (dsm_rt_arena_shared_with(rt, transfer->home)) {
        /* The home's pages are this node's pages (a node of this host): the
         * data is where it is wanted already. */
        rt->pages.bytes_shared += (size_t)count * DSM_RT_PAGE_SIZE;
        dsm_rt_transfer_done(transfer, DSM_OK);
        return;
    }
    dsm_rt_transfer_rma(rt, region, transfer);
}

/* A FETCH or WRITE_BACK run: one transfer per allocation it spans (the engine
 * joins pages of one home, which adjacent allocations can be). */
static void dsm_rt_transfer(dsm_rt_t *rt, const dsm_coh_action_t *action)
{
    uint32_t i = 0;

    while (i < action->count) {
        uint64_t page = dsm_coh_run_page(action->page, action->stride, i);
        const dsm_rt_region_t *region = dsm_rt_region_find(rt, page);
        uint64_t inside;

        if (region == NULL) {
            dsm_rt_fatal(rt, DSM_ERR_STATE, "transfer of page %" PRIu64 " outside every allocation",
                         page);
        }
        /* The run's pages from page on that lie in region. */
        inside = (region->first_page + region->npages - 1 - page) / action->stride + 1;
        inside = inside < action->count - i ? inside : action->count - i;
        dsm_rt_transfer_start(rt, region, action, page, (uint32_t)inside);
        i += (uint32_t)inside;
    }
}

/* ---- the other actions --------------------------------------------------------- */

/* dsm_rt_populate for the run of an action. */
static void dsm_rt_populate_run(dsm_rt_t *rt, const dsm_coh_action_t *action)
{
    for (uint32_t i = 0; i < dsm_rt_run_pieces(action->count, action->stride); i++) {
        dsm_rt_populate(rt, dsm_coh_run_page(action->page, action->stride, i),
                        dsm_rt_piece_pages(action->count, action->stride));
    }
}

/*
 * Map a run of pages the memfd holds no data for (a home's first touch: a
 * claim) as zeroed pages, writable: one UFFDIO_ZEROPAGE allocates them in the
 * page cache and maps them in one pass, where populating them through the
 * landing mapping and then CONTINUE walks them twice (bench/uffd_install,
 * "fresh run" rows). The result is the same as that path's. Only a run that
 * starts at a page homed here is looked at: pages fetched from elsewhere have
 * landed in the page cache already. Returns the pages mapped from page on: 0
 * if the run holds data, fewer than count if a page of it got data meanwhile
 * (EXISTS), for the caller to install the rest.
 */
static uint64_t dsm_rt_install_unwritten(dsm_rt_t *rt, uint64_t page, uint64_t count,
                                         unsigned flags)
{
    const dsm_rt_region_t *region = dsm_rt_region_find(rt, page);
    char *dst = dsm_rt_page_address(rt, page);
    size_t left = count * DSM_RT_PAGE_SIZE;
    dsm_status_t status = DSM_OK;

    if (region == NULL || dsm_rt_placement_home(&region->placement, page) != rt->node ||
        !dsm_rt_arena_unwritten(rt, page, count)) {
        return 0;
    }
    for (int attempt = 0; left > 0 && attempt < DSM_RT_INSTALL_ATTEMPTS; attempt++) {
        size_t done = 0;

        status = dsm_uffd_zero(&rt->uffd, dst, left, flags, &done);
        dst += done;
        left -= done;
        if (status != DSM_ERR_AGAIN) {
            break;
        }
    }
    if (status != DSM_OK && status != DSM_ERR_EXISTS && status != DSM_ERR_AGAIN) {
        dsm_rt_fatal(rt, status, "zero-filling pages %" PRIu64 "..+%" PRIu64 " failed: %s",
                     page, count, dsm_strerror(status));
    }
    return count - left / DSM_RT_PAGE_SIZE;
}

/*
 * Map the pages [page, page + count), whose data is in this node's page
 * cache: fetched into the landing mapping, or, at their home, its own pages
 * (zeroed ones if nobody wrote them yet). One ZEROPAGE or CONTINUE.
 */
static void dsm_rt_install(dsm_rt_t *rt, uint64_t page, uint64_t count, unsigned flags)
{
    /* ZEROPAGE cannot map pages write-protected. */
    uint64_t zeroed = (flags & DSM_UFFD_WP) ? 0 : dsm_rt_install_unwritten(rt, page, count, flags);

    if (zeroed == count) {
        return;
    }
    page += zeroed;
    count -= zeroed;
    /* EXISTS would mean the engine's view of the page is wrong: a failure. */
    dsm_rt_continue(rt, page, count, flags, false, "installing");
}

/* Whether this node's memfd holds no data for any page of the action's run
 * (one lseek for a run whose first piece holds some). */
static bool dsm_rt_run_unwritten(const dsm_rt_t *rt, const dsm_coh_action_t *action)
{
    for (uint32_t i = 0; i < dsm_rt_run_pieces(action->count, action->stride); i++) {
        if (!dsm_rt_arena_unwritten(rt, dsm_coh_run_page(action->page, action->stride, i),
                                    dsm_rt_piece_pages(action->count, action->stride))) {
            return false;
        }
    }
    return true;
}

/*
 * A home granting pages with data that its memfd has never held (never
 * written, or released): ZERO lets the requester fill them with zeros instead
 * of reading the home, which costs a transfer. The protocol keeps the backing
 * still while the grant's fetch is pending, so what the home sees now is what
 * the fetch would read. A run granted writable will be written back here
 * when it is recalled: its pages are allocated now, as the fetch's read of
 * the holes did, so that the write-back, which a reader waits for, does not
 * allocate and zero them.
 */
static void dsm_rt_grant_hint(dsm_rt_t *rt, const dsm_coh_action_t *action, uint8_t *msg)
{
    uint8_t flags = dsm_coh_msg_grant_flags(msg);

    /* A requester that shares this node's memory fetches nothing anyway. */
    if (!(flags & DSM_COH_GRANT_DATA) || dsm_rt_arena_shared_with(rt, (int)action->node)) {
        return;
    }
    if (!dsm_rt_run_unwritten(rt, action)) {
        return;
    }
    dsm_coh_msg_set_zero(msg);
    if (flags & DSM_COH_GRANT_EXCL) {
        dsm_rt_populate_run(rt, action);
    }
}

/*
 * A request for pages absent here (a read or write miss, not an upgrade) that
 * has just left: allocate their landing pages now, while the home serves it.
 * Whatever grants them (a fetch, a ZERO fill, the home's own data) lands in
 * this node's page cache, and allocating a page there (shmem page, memcg
 * charge, clearing) costs ~1.5 µs here: done inside the fetch's get it lies on
 * the path the faulting thread waits for, done now it overlaps the round trip.
 * A page of the run already cached (dropped earlier) is left as it is.
 * (bench/handoff -p 16384, 2 bound nodes, alternating: memcpy 4.8-5.1 ->
 * 3.7-4.1 µs per page, one word per page 3.5-4.0 -> 3.1-3.5.)
 */
static void dsm_rt_landing_prepare(dsm_rt_t *rt, const dsm_coh_action_t *action)
{
    dsm_coh_node_state_t state = dsm_coh_engine_node_state(rt->pages.coh, action->page);

    if (!dsm_coh_msg_is_request(action->msg) ||
        (state != DSM_COH_N_IS_AD && state != DSM_COH_N_IM_AD)) {
        return;
    }
    /* A home that shares this node's memory: nothing will land, and the
     * pages are there unless nobody wrote them. A run nobody wrote is
     * allocated now all the same, off the path (bench/write_upgrade, 2 bound
     * nodes, write miss on fresh memory: p50 20 µs this way, 24-29 allocating
     * it at the install); a run partly written is left to the install, which
     * fills its holes (dsm_rt_continue): populating the written pages would
     * only map them in the landing mapping. */
    if (!dsm_rt_arena_shared_with(rt, (int)action->node) || dsm_rt_run_unwritten(rt, action)) {
        dsm_rt_populate_run(rt, action);
    }
}

static void dsm_rt_send(dsm_rt_t *rt, const dsm_coh_action_t *action)
{
    uint8_t msg[DSM_COH_MSG_SIZE];
    dsm_status_t status;

    memcpy(msg, action->msg, sizeof(msg));
    dsm_rt_grant_hint(rt, action, msg);
    status = dsm_tp_am_send(rt->tp, (int)action->node, DSM_RT_AM_COHERENCE, msg, sizeof(msg),
                            NULL, 0, NULL, NULL);
    if (status != DSM_OK && status != DSM_INPROGRESS) {
        dsm_rt_fatal(rt, status,
                     "sending a coherence message to node %u failed: %s", action->node,
                     dsm_strerror(status));
    }
    dsm_rt_landing_prepare(rt, action);
}

static void dsm_rt_kernel_checked(dsm_rt_t *rt, dsm_status_t status, const char *what,
                                  uint64_t page)
{
    if (status != DSM_OK) {
        dsm_rt_fatal(rt, status, "%s of the run at page %" PRIu64 " failed: %s", what, page,
                     dsm_strerror(status));
    }
}

/* Per-page bookkeeping after a kernel operation on a run: the faults it
 * resolved, the pages whose mapping it changed. */
static void dsm_rt_run_pages_done(dsm_rt_t *rt, const dsm_coh_action_t *action, int resolved,
                                  int changed)
{
    for (uint32_t i = 0; i < action->count; i++) {
        uint64_t page = dsm_coh_run_page(action->page, action->stride, i);

        if (resolved) {
            dsm_rt_fault_resolved(rt, page);
        }
        if (changed) {
            dsm_rt_page_changed(rt, page);
        }
    }
}

/* A kernel action on the contiguous pages [page, page + count): one call. */
static void dsm_rt_kernel_piece(dsm_rt_t *rt, dsm_coh_action_type_t type, uint64_t page,
                                uint32_t count)
{
    void *address = dsm_rt_page_address(rt, page);
    size_t length = (size_t)count * DSM_RT_PAGE_SIZE;

    switch (type) {
    case DSM_COH_ACT_INSTALL_RO:
        dsm_rt_install(rt, page, count, DSM_UFFD_WP);
        break;
    case DSM_COH_ACT_INSTALL_RW:
        dsm_rt_install(rt, page, count, 0);
        break;
    case DSM_COH_ACT_CLEAR_WP:
        dsm_rt_kernel_checked(rt, dsm_uffd_wp_clear(&rt->uffd, address, length, 0),
                              "clearing write protection", page);
        break;
    case DSM_COH_ACT_SET_WP:
        dsm_rt_kernel_checked(rt, dsm_uffd_wp_set(&rt->uffd, address, length),
                              "write-protecting", page);
        break;
    case DSM_COH_ACT_ZAP:
        dsm_rt_kernel_checked(rt, dsm_uffd_zap(address, length), "zapping", page);
        break;
    case DSM_COH_ACT_WAKE:
        /* The woken threads retry; one that faults again is a new fault. */
        dsm_rt_kernel_checked(rt, dsm_uffd_wake(&rt->uffd, address, length), "waking", page);
        break;
    default:
        dsm_rt_fatal(rt, DSM_ERR_STATE, "unknown coherence action %d", (int)type);
    }
}

/* An action on a run of pages, carried out for the whole run at once: one
 * message, one transfer per allocation, one kernel call per piece. */
static void dsm_rt_action_run(dsm_rt_t *rt, const dsm_coh_action_t *action)
{
    if (action->type == DSM_COH_ACT_SEND) {
        dsm_rt_send(rt, action);
        return;
    }
    if (action->type == DSM_COH_ACT_FETCH || action->type == DSM_COH_ACT_WRITE_BACK) {
        dsm_rt_transfer(rt, action);
        return;
    }
    for (uint32_t i = 0; i < dsm_rt_run_pieces(action->count, action->stride); i++) {
        dsm_rt_kernel_piece(rt, action->type, dsm_coh_run_page(action->page, action->stride, i),
                            dsm_rt_piece_pages(action->count, action->stride));
    }
    dsm_rt_run_pages_done(rt, action,
                          action->type != DSM_COH_ACT_SET_WP && action->type != DSM_COH_ACT_ZAP,
                          action->type == DSM_COH_ACT_CLEAR_WP || action->type == DSM_COH_ACT_ZAP);
}

/* The one place the action list is emptied. */
static void dsm_rt_actions_run(dsm_rt_t *rt)
{
    for (size_t i = 0; i < rt->pages.actions.count; i++) {
        const dsm_coh_action_t *action = &rt->pages.actions.actions[i];

        dsm_rt_action_run(rt, action);
        if (action->type == DSM_COH_ACT_INSTALL_RW || action->type == DSM_COH_ACT_CLEAR_WP) {
            dsm_rt_hold_granted(rt, action); /* rt_hold.c */
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
 * Transfers completed while actions ran (adjacent ones of a home as one
 * run) and work that waited for a first-touch home, until none is left: a
 * completion fed to the engine may start transfers that complete at once.
 */
int dsm_rt_pages_run_deferred(dsm_rt_t *rt)
{
    dsm_rt_deferred_t work;
    dsm_rt_held_t held;
    int any = 0;

    for (;;) {
        if (dsm_rt_fifo_pop(&rt->pages.deferred, &work)) {
            dsm_rt_deferred_run(rt, &work);
            dsm_rt_rma_done(rt, &work);
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
    dsm_status_t status;

    status = dsm_coh_engine_create(&params, &pages->coh);
    if (status != DSM_OK) {
        return status;
    }
    dsm_rt_fifo_init(&pages->deferred, sizeof(dsm_rt_deferred_t));
    pages->read_ahead.candidate = DSM_COH_N_I;
    pages->write_ahead.candidate = DSM_COH_N_I;
    pages->write_ahead.write = 1;
    pages->write_ahead.cautious = 1;
    pages->upgrade_ahead.candidate = DSM_COH_N_S;
    pages->upgrade_ahead.write = 1;
    pages->actions.capacity = dsm_coh_engine_max_actions(pages->coh);
    pages->actions.actions = calloc(pages->actions.capacity, sizeof(*pages->actions.actions));
    if (pages->actions.actions == NULL || dsm_pagemap_init(&pages->fault_start, 64) != DSM_OK) {
        return DSM_ERR_NO_MEMORY;
    }
    return dsm_tp_am_register(rt->tp, DSM_RT_AM_COHERENCE, dsm_rt_coherence_am, rt);
}

/* Safe on a partly initialised runtime. */
void dsm_rt_pages_fini(dsm_rt_t *rt)
{
    dsm_rt_pages_t *pages = &rt->pages;

    dsm_coh_engine_destroy(pages->coh);
    pages->coh = NULL;
    free(pages->actions.actions);
    pages->actions.actions = NULL;
    dsm_rt_fifo_fini(&pages->deferred);
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
    stats_p->pages_written_ahead = pages->write_ahead.pages;
    stats_p->write_misses = coh.write_misses - pages->write_ahead.pages;
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
    stats_p->pages_zero_filled = pages->zero_filled;
    stats_p->bytes_shared = pages->bytes_shared;
    stats_p->faults_resolved = pages->fault_latency.total;
    stats_p->fault_latency_p50_us = dsm_rt_hist_percentile_us(&pages->fault_latency, 50);
    stats_p->fault_latency_p99_us = dsm_rt_hist_percentile_us(&pages->fault_latency, 99);
}
