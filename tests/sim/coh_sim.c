/*
 * Deterministic simulation of the coherence engine (ctest label "sim").
 *
 * Each seed builds a job of N nodes (2..8) over P pages (1..64), each node with
 * a few threads doing reads and writes that carry unique values, and runs it to
 * completion choosing at random, at every step, among everything the real
 * system could do next: a thread's access, a fault event reaching its engine
 * (late, possibly stale), an active message (any order; in half the seeds
 * FIFO per pair of nodes instead), an RMA completion (unordered with messages).
 * Runs (docs/design.md 4.7): half the faults reach the engine as a run of 1..8
 * pages around the faulting one (at a random offset, like a read-ahead or
 * upgrade window, so over pages in any state and of several homes), along a
 * random stride of 1..4 pages (adjacent pages, or a column of a row-major
 * matrix); messages and actions name runs along a stride, and every page of
 * them is found by walking that stride (dsm_coh_run_page, bounds by
 * dsm_coh_run_end); an RMA of a run completes whole, or a prefix of it at a
 * time (as a runtime that moves pages one by one reports them), or every
 * k-th page of it at once, as one run along k times its stride (as a runtime
 * that joins completions along a stride), the rest going back in flight as
 * runs along the same strides.
 * In half the seeds a home's fault on a page nobody holds is a claim
 * (dsm_coh_engine_home_claim), as the runtime feeds it.
 * A GRANT with data of a run whose backing was never written is marked ZERO,
 * as the runtime's home marks it, and its fetch fills zeros instead of
 * reading the backing: the backing must still be unwritten when it completes.
 *
 * Modelled: every node's arena copy of every page (present, writable, value),
 * staging buffers, the homes' backing store. After every step: SWMR (one
 * writable copy and no other copy, or only read-only copies) and data-value
 * (every mapped copy holds the latest write of the page, i.e. the reference
 * sequential model in the home's serial order). A fetch must see a backing
 * that does not change while it is in flight. When nothing can happen any
 * more: every thread finished (nobody waits forever), every engine quiescent
 * (no transient state, no busy directory, no queued request).
 *
 *   coh_sim [--seeds N] [--first S]    run seeds S..S+N-1 (default 0, 10000)
 *   coh_sim --seed S --trace           replay one seed with a readable trace
 *                                      (a run reads p<first>+<count>/<stride>)
 *
 * A failing seed prints a one-line replay command.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dsm_coh.h"

#define SIM_MAX_NODES   8
#define SIM_MAX_PAGES   64
#define SIM_MAX_THREADS 3
#define SIM_MAX_EVENTS  4096
#define SIM_MAX_STEPS   200000
#define SIM_MAX_RUN     8    /* pages of a fault run */
#define SIM_MAX_STRIDE  4    /* from one page of a fault run to the next */
#define SIM_MAX_JOIN    4    /* a completion joins every k-th page of an RMA, k <= this */
/* Any input of an engine of the job: a message may name every page. */
#define SIM_MAX_ACTIONS (DSM_COH_RUN_MAX * (SIM_MAX_NODES + 16))

typedef struct {
    uint64_t s;
} sim_rng_t;

/* splitmix64: tiny, fast, and every seed gives an independent stream. */
static uint64_t sim_rand(sim_rng_t *rng)
{
    uint64_t z = (rng->s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t sim_below(sim_rng_t *rng, uint32_t n)
{
    return (uint32_t)(sim_rand(rng) % n);
}

typedef struct {
    int      present;
    int      writable;
    uint64_t value;
} sim_copy_t;

typedef struct {
    unsigned ops_left;
    unsigned page;
    int      write;
    int      blocked; /* waiting for a wake on page */
} sim_thread_t;

typedef enum { SIM_EV_MSG, SIM_EV_RMA, SIM_EV_FAULT } sim_ev_kind_t;

typedef struct {
    sim_ev_kind_t kind;
    uint32_t      src, dst;  /* MSG */
    uint32_t      node;      /* RMA, FAULT */
    uint64_t      page;      /* RMA, FAULT: first page of the run */
    uint32_t      count;     /* RMA, FAULT: pages of the run */
    uint32_t      stride;    /* RMA, FAULT: from one page of the run to the next */
    int           op;        /* RMA: dsm_coh_rma_t; FAULT: 1 = write */
    uint64_t      seq;       /* MSG: send order, for FIFO-per-pair seeds */
    int           zero;      /* RMA: a fetch granted ZERO, filled with zeros */
    uint8_t       msg[DSM_COH_MSG_SIZE];
    /* RMA: per page of the run, in run order, backing (fetch) or copy when issued. */
    uint64_t      snapshot[SIM_MAX_PAGES];
} sim_event_t;

typedef struct {
    uint64_t          seed;
    int               trace;
    sim_rng_t         rng;
    uint32_t          nnodes, npages, nthreads;
    int               fifo;     /* AMs FIFO per (src, dst) pair */
    int               claims;   /* a home's fault on a page nobody holds is a claim */
    unsigned          write_pct;
    dsm_coh_engine_t *engines[SIM_MAX_NODES];
    sim_copy_t        arena[SIM_MAX_NODES][SIM_MAX_PAGES];
    uint64_t          staging[SIM_MAX_NODES][SIM_MAX_PAGES];
    uint64_t          backing[SIM_MAX_PAGES];
    uint64_t          ref[SIM_MAX_PAGES];
    uint64_t          next_value;
    sim_thread_t      threads[SIM_MAX_NODES][SIM_MAX_THREADS];
    unsigned          nevents;
    uint64_t          msg_seq;
    uint64_t          steps;
    uint64_t          zero_grants;
    uint64_t          strided_inputs; /* inputs naming pages along a stride over 1 */
    uint64_t          strided_msgs;   /* messages sent naming pages along a stride over 1 */
    int               grant_zero; /* the input being carried out is a GRANT marked ZERO */
    char              failure[256];
    /* Not cleared per seed (large): an event is cleared when added. */
    sim_event_t       events[SIM_MAX_EVENTS];
    dsm_coh_action_t  action_buf[SIM_MAX_ACTIONS];
} sim_t;

typedef struct {
    uint64_t seeds, steps, msgs, queued, upgrades_lost, absorbed, spurious, upgrades,
        inv_sent, dg_sent, write_backs, msg_pages, run_inputs, run_pages, claims, zero_grants,
        strided_inputs, strided_msgs;
} sim_totals_t;

static void sim_trace(sim_t *sim, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sim_trace(sim_t *sim, const char *fmt, ...)
{
    va_list ap;

    if (!sim->trace) {
        return;
    }
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

static int sim_fail(sim_t *sim, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int sim_fail(sim_t *sim, const char *fmt, ...)
{
    va_list ap;

    if (sim->failure[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(sim->failure, sizeof(sim->failure), fmt, ap);
        va_end(ap);
    }
    return -1;
}

static const char *sim_msg_text(const uint8_t *bytes, uint32_t src, const sim_t *sim, char *buf,
                                size_t size)
{
    dsm_coh_msg_t msg;

    if (dsm_coh_msg_decode(bytes, DSM_COH_MSG_SIZE, src, sim->nnodes, sim->npages, &msg) !=
        DSM_OK) {
        snprintf(buf, size, "<undecodable>");
        return buf;
    }
    snprintf(buf, size, "%s%s%s p%" PRIu64 "+%" PRIu32 "/%" PRIu32 " r%" PRIu32,
             dsm_coh_msg_type_name(msg.type), (msg.flags & DSM_COH_GRANT_EXCL) ? " EXCL" : "",
             (msg.flags & DSM_COH_GRANT_DATA) ? " DATA" : "", msg.page, msg.count, msg.stride,
             msg.req_id);
    return buf;
}

static sim_event_t *sim_event_add(sim_t *sim, sim_ev_kind_t kind)
{
    sim_event_t *ev;

    if (sim->nevents == SIM_MAX_EVENTS) {
        sim_fail(sim, "more than %d events in flight", SIM_MAX_EVENTS);
        return NULL;
    }
    ev = &sim->events[sim->nevents++];
    memset(ev, 0, sizeof(*ev));
    ev->kind = kind;
    return ev;
}

static void sim_wake(sim_t *sim, uint32_t node, uint64_t page)
{
    for (uint32_t t = 0; t < sim->nthreads; t++) {
        sim_thread_t *th = &sim->threads[node][t];

        if (th->blocked && th->page == page) {
            th->blocked = 0;
        }
    }
}

/* A FETCH or WRITE_BACK of a run: one RMA event, completed whole or by prefixes. */
static int sim_execute_rma(sim_t *sim, uint32_t node, const dsm_coh_action_t *a)
{
    sim_event_t *ev;

    sim_trace(sim, "    n%u: %s p%" PRIu64 "+%" PRIu32 "/%" PRIu32 " (home n%u)\n", node,
              dsm_coh_action_name(a->type), a->page, a->count, a->stride, a->node);
    ev = sim_event_add(sim, SIM_EV_RMA);
    if (ev == NULL) {
        return -1;
    }
    ev->node = node;
    ev->page = a->page;
    ev->count = a->count;
    ev->stride = a->stride;
    ev->op = a->type == DSM_COH_ACT_FETCH ? DSM_COH_RMA_FETCH : DSM_COH_RMA_WRITE_BACK;
    ev->zero = a->type == DSM_COH_ACT_FETCH && sim->grant_zero;
    for (uint32_t i = 0; i < a->count; i++) {
        uint64_t page = dsm_coh_run_page(a->page, a->stride, i);
        const sim_copy_t *copy = &sim->arena[node][page];

        if (a->node != dsm_coh_engine_home(sim->engines[node], page)) {
            return sim_fail(sim, "n%u: %s p%" PRIu64 " names n%u, not its home", node,
                            dsm_coh_action_name(a->type), page, a->node);
        }
        if (a->type == DSM_COH_ACT_WRITE_BACK && (!copy->present || copy->writable)) {
            return sim_fail(sim, "n%u: WRITE_BACK p%" PRIu64 " of a copy not write-protected",
                            node, page);
        }
        ev->snapshot[i] = ev->zero ? 0
                          : a->type == DSM_COH_ACT_FETCH ? sim->backing[page] : copy->value;
    }
    return 0;
}

/* One page of a local action (install, write protection, zap, wake). */
static int sim_execute_page(sim_t *sim, uint32_t node, dsm_coh_action_type_t type,
                            uint64_t page)
{
    sim_copy_t *copy = &sim->arena[node][page];

    switch (type) {
    case DSM_COH_ACT_INSTALL_RO:
    case DSM_COH_ACT_INSTALL_RW:
        if (copy->present) {
            return sim_fail(sim, "n%u: install p%" PRIu64 " over a mapped copy", node, page);
        }
        copy->present = 1;
        copy->writable = type == DSM_COH_ACT_INSTALL_RW;
        copy->value = sim->staging[node][page];
        sim_wake(sim, node, page);
        break;
    case DSM_COH_ACT_CLEAR_WP:
        if (!copy->present) {
            return sim_fail(sim, "n%u: CLEAR_WP p%" PRIu64 " of an absent page", node, page);
        }
        copy->writable = 1;
        sim_wake(sim, node, page);
        break;
    case DSM_COH_ACT_SET_WP:
        copy->writable = 0;
        break;
    case DSM_COH_ACT_ZAP:
        copy->present = 0;
        copy->writable = 0;
        break;
    case DSM_COH_ACT_WAKE:
        sim_wake(sim, node, page);
        break;
    default:
        return sim_fail(sim, "n%u: unknown action %d", node, (int)type);
    }
    return 0;
}

/* A home's GRANT with data of a run never written back (values are never 0):
 * marked ZERO, as the runtime marks a run its memfd holds no data of. */
static void sim_grant_hint(sim_t *sim, uint8_t *msg, const dsm_coh_action_t *a)
{
    if (!(dsm_coh_msg_grant_flags(msg) & DSM_COH_GRANT_DATA)) {
        return;
    }
    for (uint32_t i = 0; i < a->count; i++) {
        if (sim->backing[dsm_coh_run_page(a->page, a->stride, i)] != 0) {
            return;
        }
    }
    dsm_coh_msg_set_zero(msg);
    sim->zero_grants++;
}

/* Carry out one action of node's engine, as the runtime would. */
static int sim_execute(sim_t *sim, uint32_t node, const dsm_coh_action_t *a)
{
    sim_event_t *ev;
    char text[96];

    /* The run's last page along its stride, not page + count, must be in the arena. */
    if (a->count == 0 || a->count > DSM_COH_RUN_MAX || a->stride == 0 ||
        a->stride > DSM_COH_STRIDE_MAX || a->page >= sim->npages ||
        dsm_coh_run_end(0, a->count, a->stride) > sim->npages - a->page) {
        return sim_fail(sim, "n%u: %s on p%" PRIu64 "+%" PRIu32 "/%" PRIu32 " outside the arena",
                        node, dsm_coh_action_name(a->type), a->page, a->count, a->stride);
    }
    switch (a->type) {
    case DSM_COH_ACT_SEND:
        sim_trace(sim, "    n%u: SEND -> n%u %s\n", node, a->node,
                  sim_msg_text(a->msg, node, sim, text, sizeof(text)));
        if (a->node == node || a->node >= sim->nnodes) {
            return sim_fail(sim, "n%u sends to n%u", node, a->node);
        }
        ev = sim_event_add(sim, SIM_EV_MSG);
        if (ev == NULL) {
            return -1;
        }
        ev->src = node;
        ev->dst = a->node;
        ev->seq = sim->msg_seq++;
        sim->strided_msgs += a->count > 1 && a->stride > 1;
        memcpy(ev->msg, a->msg, sizeof(ev->msg));
        sim_grant_hint(sim, ev->msg, a);
        return 0;
    case DSM_COH_ACT_FETCH:
    case DSM_COH_ACT_WRITE_BACK:
        return sim_execute_rma(sim, node, a);
    default:
        break;
    }
    sim_trace(sim, "    n%u: %s p%" PRIu64 "+%" PRIu32 "/%" PRIu32 "\n", node,
              dsm_coh_action_name(a->type), a->page, a->count, a->stride);
    for (uint32_t i = 0; i < a->count; i++) {
        if (sim_execute_page(sim, node, a->type, dsm_coh_run_page(a->page, a->stride, i)) != 0) {
            return -1;
        }
    }
    return 0;
}

typedef enum { SIM_IN_READ, SIM_IN_WRITE, SIM_IN_RMA, SIM_IN_MSG, SIM_IN_CLAIM } sim_input_t;

/* Feed one input (on the run of count pages from page along stride) to node's
 * engine and carry out the actions it returns. */
static int sim_input(sim_t *sim, uint32_t node, sim_input_t kind, const sim_event_t *ev,
                     uint64_t page, uint32_t count, uint32_t stride)
{
    dsm_coh_actions_t out = {sim->action_buf, 0, sizeof(sim->action_buf) / sizeof(sim->action_buf[0])};
    dsm_coh_engine_t *engine = sim->engines[node];
    dsm_status_t status = DSM_OK;

    sim->grant_zero = 0;
    sim->strided_inputs += count > 1 && stride > 1;
    switch (kind) {
    case SIM_IN_READ:
        status = dsm_coh_engine_read_fault_run(engine, page, count, stride, &out);
        break;
    case SIM_IN_WRITE:
        status = dsm_coh_engine_write_fault_run(engine, page, count, stride, &out);
        break;
    case SIM_IN_RMA:
        status = dsm_coh_engine_rma_done_run(engine, page, count, stride, (dsm_coh_rma_t)ev->op,
                                             &out);
        break;
    case SIM_IN_MSG:
        sim->grant_zero = (dsm_coh_msg_grant_flags(ev->msg) & DSM_COH_GRANT_ZERO) != 0;
        status = dsm_coh_engine_recv(engine, ev->src, ev->msg, DSM_COH_MSG_SIZE, &out);
        break;
    case SIM_IN_CLAIM:
        /* The home's own memory is the backing: its install maps that. A claim
         * names adjacent pages only (sim_claimable): stride 1. */
        for (uint32_t i = 0; i < count; i++) {
            uint64_t p = dsm_coh_run_page(page, stride, i);

            sim->staging[node][p] = sim->backing[p];
        }
        status = dsm_coh_engine_home_claim(engine, page, count, &out);
        break;
    }
    if (status != DSM_OK) {
        return sim_fail(sim, "n%u rejected an input: %s", node, dsm_strerror(status));
    }
    for (size_t i = 0; i < out.count; i++) {
        if (sim_execute(sim, node, &out.actions[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

static void sim_thread_next_op(sim_t *sim, sim_thread_t *th)
{
    th->page = sim_below(&sim->rng, sim->npages);
    th->write = sim_below(&sim->rng, 100) < sim->write_pct;
}

/*
 * A window around the faulting page, at a random offset, along a random stride
 * (a read-ahead or upgrade window down a column): up to SIM_MAX_RUN pages that
 * hold the faulting one and end in the arena (dsm_coh_run_end).
 */
static void sim_fault_window(sim_t *sim, sim_event_t *ev, uint64_t page)
{
    uint32_t count = 1 + sim_below(&sim->rng, SIM_MAX_RUN);
    uint32_t back = sim_below(&sim->rng, count);
    uint32_t stride = 1 + sim_below(&sim->rng, SIM_MAX_STRIDE);

    if (back > page / stride) { /* no room before it: start at the first page of its column */
        back = (uint32_t)(page / stride);
    }
    ev->page = page - (uint64_t)back * stride;
    ev->stride = stride;
    /* Fewer pages where the arena ends: the faulting page (index back) stays in. */
    while (dsm_coh_run_end(ev->page, count, stride) > sim->npages) {
        count--;
    }
    ev->count = count;
}

/* A thread tries its access: done if the mapping allows it, else it faults. */
static int sim_thread_step(sim_t *sim, uint32_t node, uint32_t t)
{
    sim_thread_t *th = &sim->threads[node][t];
    sim_copy_t *copy = &sim->arena[node][th->page];
    sim_event_t *ev;

    if (th->write ? copy->present && copy->writable : copy->present) {
        if (th->write) {
            copy->value = ++sim->next_value;
            sim->ref[th->page] = copy->value;
            sim_trace(sim, "  n%u.t%u write p%u = %" PRIu64 "\n", node, t, th->page, copy->value);
        } else {
            sim_trace(sim, "  n%u.t%u read p%u -> %" PRIu64 "\n", node, t, th->page, copy->value);
            if (copy->value != sim->ref[th->page]) {
                return sim_fail(sim, "n%u.t%u read p%u = %" PRIu64 ", latest write is %" PRIu64,
                                node, t, th->page, copy->value, sim->ref[th->page]);
            }
        }
        if (--th->ops_left > 0) {
            sim_thread_next_op(sim, th);
        }
        return 0;
    }
    /* The kernel reports a write to an absent page as a (missing) write fault. */
    sim_trace(sim, "  n%u.t%u %s p%u faults (%s)\n", node, t, th->write ? "write" : "read",
              th->page, copy->present ? "write-protected" : "missing");
    th->blocked = 1;
    ev = sim_event_add(sim, SIM_EV_FAULT);
    if (ev == NULL) {
        return -1;
    }
    ev->node = node;
    ev->page = th->page;
    ev->count = 1;
    ev->stride = 1;
    ev->op = th->write;
    if (sim_below(&sim->rng, 2)) {
        sim_fault_window(sim, ev, th->page);
    }
    return 0;
}

/* For FIFO-per-pair seeds: the oldest message of the chosen message's pair. */
static unsigned sim_fifo_pick(const sim_t *sim, unsigned i)
{
    unsigned best = i;

    for (unsigned k = 0; k < sim->nevents; k++) {
        const sim_event_t *ev = &sim->events[k];

        if (ev->kind == SIM_EV_MSG && ev->src == sim->events[i].src &&
            ev->dst == sim->events[i].dst && ev->seq < sim->events[best].seq) {
            best = k;
        }
    }
    return best;
}

/* Page i of an RMA's run completes: the data moves, checked against its snapshot. */
static int sim_rma_page(sim_t *sim, const sim_event_t *ev, uint32_t i)
{
    uint64_t page = dsm_coh_run_page(ev->page, ev->stride, i);

    if (ev->op == DSM_COH_RMA_FETCH) {
        if (sim->backing[page] != ev->snapshot[i]) {
            return sim_fail(sim, "n%u: backing of p%" PRIu64 " changed during its %s", ev->node,
                            page, ev->zero ? "ZERO grant and fill" : "fetch");
        }
        sim->staging[ev->node][page] = ev->zero ? 0 : sim->backing[page];
    } else {
        if (!sim->arena[ev->node][page].present ||
            sim->arena[ev->node][page].value != ev->snapshot[i]) {
            return sim_fail(sim, "n%u: copy of p%" PRIu64 " changed during its write-back",
                            ev->node, page);
        }
        sim->backing[page] = ev->snapshot[i];
    }
    return 0;
}

/*
 * part: the pages of the RMA ev at indices from, from + step, ... below end, a
 * run along step times ev's stride, with their snapshots.
 */
static void sim_rma_part(const sim_event_t *ev, uint32_t from, uint32_t step, uint32_t end,
                         sim_event_t *part)
{
    *part = *ev;
    part->page = dsm_coh_run_page(ev->page, ev->stride, from);
    part->stride = ev->stride * step;
    part->count = 0;
    for (uint32_t i = from; i < end; i += step) {
        part->snapshot[part->count++] = ev->snapshot[i];
    }
}

/* The part of ev at indices from, from + step, ... below end goes back in flight. */
static int sim_rma_requeue(sim_t *sim, const sim_event_t *ev, uint32_t from, uint32_t step,
                           uint32_t end)
{
    sim_event_t *rest;

    if (from >= end) {
        return 0;
    }
    rest = sim_event_add(sim, SIM_EV_RMA);
    if (rest == NULL) {
        return -1;
    }
    sim_rma_part(ev, from, step, end, rest);
    return 0;
}

/*
 * The RMA ev (taken out of the events in flight) completes: all of it, or in a
 * quarter of the cases a prefix of it, or in another quarter every step-th page
 * of it as one run along step times its stride; the rest goes back in flight,
 * as runs along the same strides.
 */
static int sim_rma_complete(sim_t *sim, sim_event_t *ev)
{
    uint32_t end = ev->count, step = 1, most;
    sim_event_t done;

    if (ev->count > 1 && sim_below(&sim->rng, 2)) {
        most = ev->count < SIM_MAX_JOIN ? ev->count : SIM_MAX_JOIN;
        if (sim_below(&sim->rng, 2)) {
            end = 1 + sim_below(&sim->rng, ev->count - 1);
        } else if (ev->stride * most <= DSM_COH_STRIDE_MAX) {
            step = 2 + sim_below(&sim->rng, most - 1);
        }
    }
    sim_rma_part(ev, 0, step, end, &done);
    for (uint32_t k = 0; k < done.count; k++) {
        if (sim_rma_page(sim, &done, k) != 0) {
            return -1;
        }
    }
    sim_trace(sim, "  n%u %s p%" PRIu64 "+%" PRIu32 "/%" PRIu32 " completes (of %" PRIu32
              "/%" PRIu32 ")\n", ev->node, ev->op == DSM_COH_RMA_FETCH ? "FETCH" : "WRITE_BACK",
              done.page, done.count, done.stride, ev->count, ev->stride);
    if (sim_rma_requeue(sim, ev, end, 1, ev->count) != 0) {
        return -1;
    }
    for (uint32_t j = 1; j < step; j++) {
        if (sim_rma_requeue(sim, ev, j, step, ev->count) != 0) {
            return -1;
        }
    }
    return sim_input(sim, ev->node, SIM_IN_RMA, ev, done.page, done.count, done.stride);
}

/* In claim seeds, as the runtime does: a home's fault on pages nobody touched,
 * adjacent ones (a claim has no stride, the runtime claims runs of adjacent pages). */
static int sim_claimable(const sim_t *sim, const sim_event_t *ev)
{
    if (ev->count > 1 && ev->stride != 1) {
        return 0;
    }
    for (uint32_t i = 0; i < ev->count; i++) {
        if (!dsm_coh_engine_claimable(sim->engines[ev->node],
                                      dsm_coh_run_page(ev->page, ev->stride, i))) {
            return 0;
        }
    }
    return sim->claims;
}

static int sim_event_run(sim_t *sim, unsigned i)
{
    sim_event_t ev;
    char text[96];

    if (sim->fifo && sim->events[i].kind == SIM_EV_MSG) {
        i = sim_fifo_pick(sim, i);
    }
    ev = sim->events[i];
    sim->events[i] = sim->events[--sim->nevents];
    switch (ev.kind) {
    case SIM_EV_MSG:
        sim_trace(sim, "  deliver n%u -> n%u %s\n", ev.src, ev.dst,
                  sim_msg_text(ev.msg, ev.src, sim, text, sizeof(text)));
        return sim_input(sim, ev.dst, SIM_IN_MSG, &ev, 0, 0, 1);
    case SIM_EV_FAULT:
        sim_trace(sim, "  n%u engine sees %s fault p%" PRIu64 "+%" PRIu32 "/%" PRIu32 "\n",
                  ev.node, ev.op ? "write" : "read", ev.page, ev.count, ev.stride);
        if (sim_claimable(sim, &ev)) {
            sim_trace(sim, "  n%u claims p%" PRIu64 "+%" PRIu32 "\n", ev.node, ev.page, ev.count);
            return sim_input(sim, ev.node, SIM_IN_CLAIM, &ev, ev.page, ev.count, 1);
        }
        return sim_input(sim, ev.node, ev.op ? SIM_IN_WRITE : SIM_IN_READ, &ev, ev.page,
                         ev.count, ev.stride);
    case SIM_EV_RMA:
        return sim_rma_complete(sim, &ev);
    }
    return 0;
}

/* SWMR and data-value over every modelled copy; each engine's O(1)
 * quiescence (its count of unsettled entries) agrees with a walk of them. */
static int sim_check(sim_t *sim)
{
    for (uint32_t n = 0; n < sim->nnodes; n++) {
        bool counted = dsm_coh_engine_quiescent(sim->engines[n]);

        if (counted != dsm_coh_engine_settled(sim->engines[n], 0, sim->npages)) {
            return sim_fail(sim, "n%u: quiescent() says %d, its entries say otherwise", n,
                            counted);
        }
    }
    for (uint32_t p = 0; p < sim->npages; p++) {
        unsigned holders = 0, writers = 0;

        for (uint32_t n = 0; n < sim->nnodes; n++) {
            const sim_copy_t *copy = &sim->arena[n][p];

            holders += copy->present;
            writers += copy->writable;
            if (copy->writable && !copy->present) {
                return sim_fail(sim, "n%u: p%u writable but absent", n, p);
            }
            if (copy->present && copy->value != sim->ref[p]) {
                return sim_fail(sim, "data-value: n%u maps p%u = %" PRIu64 ", latest write %" PRIu64,
                                n, p, copy->value, sim->ref[p]);
            }
        }
        if (writers > 1 || (writers == 1 && holders > 1)) {
            return sim_fail(sim, "SWMR: p%u has %u writable and %u mapped copies", p, writers,
                            holders);
        }
    }
    return 0;
}

static int sim_drained(sim_t *sim)
{
    for (uint32_t n = 0; n < sim->nnodes; n++) {
        for (uint32_t t = 0; t < sim->nthreads; t++) {
            const sim_thread_t *th = &sim->threads[n][t];

            if (th->blocked) {
                return sim_fail(sim, "n%u.t%u waits forever on p%u (%s, node state %s)", n, t,
                                th->page, th->write ? "write" : "read",
                                dsm_coh_node_state_name(
                                    dsm_coh_engine_node_state(sim->engines[n], th->page)));
            }
            if (th->ops_left > 0) {
                return sim_fail(sim, "n%u.t%u has %u accesses left and cannot run", n, t,
                                th->ops_left);
            }
        }
        if (!dsm_coh_engine_quiescent(sim->engines[n])) {
            return sim_fail(sim, "n%u not quiescent after the network drained", n);
        }
    }
    return 0;
}

static int sim_setup(sim_t *sim, uint64_t seed, int trace)
{
    static const uint32_t page_counts[] = {1, 1, 2, 2, 3, 4, 8, 16, 64};
    dsm_coh_params_t params = {0};

    memset(sim, 0, offsetof(sim_t, events));
    sim->seed = seed;
    sim->trace = trace;
    sim->rng.s = seed;
    sim->nnodes = 2 + sim_below(&sim->rng, SIM_MAX_NODES - 1);
    sim->npages = page_counts[sim_below(&sim->rng, sizeof(page_counts) / sizeof(page_counts[0]))];
    sim->nthreads = 1 + sim_below(&sim->rng, SIM_MAX_THREADS);
    sim->fifo = sim_below(&sim->rng, 2);
    sim->write_pct = 10 + sim_below(&sim->rng, 81);
    params.nnodes = sim->nnodes;
    params.npages = sim->npages;
    params.home_policy = sim_below(&sim->rng, 2) ? DSM_COH_HOME_BLOCKED : DSM_COH_HOME_CYCLIC;
    sim->claims = sim_below(&sim->rng, 2);
    for (uint32_t n = 0; n < sim->nnodes; n++) {
        params.self = n;
        if (dsm_coh_engine_create(&params, &sim->engines[n]) != DSM_OK) {
            return sim_fail(sim, "engine create failed");
        }
        for (uint32_t t = 0; t < sim->nthreads; t++) {
            sim->threads[n][t].ops_left = 1 + sim_below(&sim->rng, 8);
            sim_thread_next_op(sim, &sim->threads[n][t]);
        }
    }
    sim_trace(sim, "seed %" PRIu64 ": %u nodes, %u pages (%s homes), %u threads/node, %u%% writes, "
              "messages %s%s\n", seed, sim->nnodes, sim->npages,
              params.home_policy == DSM_COH_HOME_BLOCKED ? "blocked" : "cyclic", sim->nthreads,
              sim->write_pct, sim->fifo ? "FIFO per pair" : "unordered",
              sim->claims ? ", homes claim their untouched pages" : "");
    return 0;
}

static void sim_teardown(sim_t *sim, sim_totals_t *totals)
{
    for (uint32_t n = 0; n < sim->nnodes; n++) {
        dsm_coh_stats_t st;

        if (sim->engines[n] == NULL) {
            continue;
        }
        dsm_coh_engine_stats(sim->engines[n], &st);
        totals->msgs += st.msgs_sent;
        totals->queued += st.requests_queued;
        totals->upgrades_lost += st.upgrades_lost;
        totals->absorbed += st.faults_absorbed;
        totals->spurious += st.faults_spurious;
        totals->upgrades += st.upgrades;
        totals->inv_sent += st.inv_sent;
        totals->dg_sent += st.dg_sent;
        totals->write_backs += st.write_backs;
        totals->msg_pages += st.msg_pages_sent;
        totals->run_inputs += st.run_inputs;
        totals->run_pages += st.run_pages;
        totals->claims += st.claims;
        dsm_coh_engine_destroy(sim->engines[n]);
        sim->engines[n] = NULL;
    }
    totals->steps += sim->steps;
    totals->zero_grants += sim->zero_grants;
    totals->strided_inputs += sim->strided_inputs;
    totals->strided_msgs += sim->strided_msgs;
    totals->seeds++;
}

/* Run one seed to the end; 0 when every check held. */
static int sim_run(sim_t *sim, uint64_t seed, int trace)
{
    uint32_t runnable[SIM_MAX_NODES * SIM_MAX_THREADS];

    if (sim_setup(sim, seed, trace) != 0) {
        return -1;
    }
    for (;;) {
        unsigned nrun = 0, pick;

        for (uint32_t n = 0; n < sim->nnodes; n++) {
            for (uint32_t t = 0; t < sim->nthreads; t++) {
                if (sim->threads[n][t].ops_left > 0 && !sim->threads[n][t].blocked) {
                    runnable[nrun++] = n * SIM_MAX_THREADS + t;
                }
            }
        }
        if (nrun + sim->nevents == 0) {
            return sim_drained(sim);
        }
        if (++sim->steps > SIM_MAX_STEPS) {
            return sim_fail(sim, "no end after %d steps (livelock?)", SIM_MAX_STEPS);
        }
        pick = sim_below(&sim->rng, nrun + sim->nevents);
        if (pick < nrun) {
            if (sim_thread_step(sim, runnable[pick] / SIM_MAX_THREADS,
                                runnable[pick] % SIM_MAX_THREADS) != 0) {
                return -1;
            }
        } else if (sim_event_run(sim, pick - nrun) != 0) {
            return -1;
        }
        if (sim_check(sim) != 0) {
            return -1;
        }
    }
}

static double sim_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sim_usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--seeds N] [--first S] | --seed S [--trace]\n", prog);
}

int main(int argc, char **argv)
{
    static sim_t sim;
    sim_totals_t totals = {0};
    uint64_t first = 0, count = 10000;
    int trace = 0;
    double start, elapsed;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
            count = strtoull(argv[++i], NULL, 0);
        } else if (strcmp(argv[i], "--first") == 0 && i + 1 < argc) {
            first = strtoull(argv[++i], NULL, 0);
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            first = strtoull(argv[++i], NULL, 0);
            count = 1;
        } else if (strcmp(argv[i], "--trace") == 0) {
            trace = 1;
        } else {
            sim_usage(argv[0]);
            return 2;
        }
    }
    start = sim_now();
    for (uint64_t seed = first; seed < first + count; seed++) {
        int rc;

        rc = sim_run(&sim, seed, trace);
        sim_teardown(&sim, &totals);
        if (rc != 0) {
            printf("FAIL seed %" PRIu64 " after %" PRIu64 " steps: %s\n", seed, sim.steps,
                   sim.failure);
            printf("replay: %s --seed %" PRIu64 " --trace\n", argv[0], seed);
            printf("sim: seed %" PRIu64 " failed (%" PRIu64 " seeds passed before it)\n", seed,
                   totals.seeds - 1);
            return 1;
        }
    }
    elapsed = sim_now() - start;
    printf("sim: %" PRIu64 " steps, %" PRIu64 " messages; races hit: %" PRIu64 " queued requests, "
           "%" PRIu64 " upgrades (%" PRIu64 " lost their copy first), %" PRIu64
           " absorbed and %" PRIu64 " spurious faults, %" PRIu64 " INV, %" PRIu64
           " DOWNGRADE, %" PRIu64 " write-backs, %" PRIu64 " claims, %" PRIu64
           " ZERO grants\n",
           totals.steps, totals.msgs, totals.queued, totals.upgrades, totals.upgrades_lost,
           totals.absorbed, totals.spurious, totals.inv_sent, totals.dg_sent, totals.write_backs,
           totals.claims, totals.zero_grants);
    printf("sim: runs: %" PRIu64 " inputs named %" PRIu64 " pages; %" PRIu64
           " messages named %" PRIu64 " pages; along a stride over 1: %" PRIu64
           " local inputs, %" PRIu64 " messages\n",
           totals.run_inputs, totals.run_pages, totals.msgs, totals.msg_pages,
           totals.strided_inputs, totals.strided_msgs);
    printf("sim: %" PRIu64 " seeds passed (%" PRIu64 "..%" PRIu64 ") in %.2f s, %.0f seeds/s\n",
           totals.seeds, first, first + count - 1, elapsed,
           elapsed > 0 ? (double)totals.seeds / elapsed : 0.0);
    return 0;
}
