/*
 * Write holding (DSM_WRITE_HOLD_US): a page this node was just granted
 * writable stays here for a bounded time, so that a writer finishes its burst
 * of stores instead of losing the page after the first one when another node
 * writes the same page (false sharing, a lock word next to data).
 *
 * How: the messages that would take such a page away wait here, before the
 * engine sees them, until the youngest hold among the pages they name ends:
 *  - INV and DOWNGRADE from the page's home (this node is the owner);
 *  - REQ_READ and REQ_WRITE at the home, while this node's own copy is the
 *    writable one (the home would recall it from itself within the input).
 * The engine is unchanged: a deferred message is one that arrived late, and
 * the protocol already allows any delivery delay (docs/design.md 4.4). The
 * delay is bounded by the hold, so every request still completes; nothing
 * else waits on it (GRANT, ACK and DONE are never deferred).
 *
 * Holds end early at this node's synchronisation calls (every command of an
 * application thread but STATS: barrier, lock acquire and release, a flag
 * wait, free): there the burst of plain stores is over. A deferred message is
 * served when its time comes even on an idle node: rt_service.c sleeps no
 * longer than dsm_rt_hold_deadline, and dsm_rt_pages_run_deferred takes the
 * ready ones. Everything here runs on the service thread.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dsm_rt.h"

dsm_status_t dsm_rt_hold_init(dsm_rt_t *rt)
{
    dsm_rt_hold_t *hold = &rt->hold;

    hold->hold_ns = (uint64_t)rt->config.write_hold_us * 1000u;
    dsm_rt_fifo_init(&hold->grants, sizeof(dsm_rt_grant_t));
    return dsm_pagemap_init(&hold->granted, 64);
}

void dsm_rt_hold_fini(dsm_rt_t *rt)
{
    dsm_rt_hold_t *hold = &rt->hold;

    dsm_pagemap_fini(&hold->granted);
    dsm_rt_fifo_fini(&hold->grants);
    free(hold->msgs);
    hold->msgs = NULL;
    hold->count = hold->capacity = 0;
}

/* Forget the grants whose hold is over by now (oldest first: the FIFO is in
 * time order), so that the map holds only the last hold_ns of grants. */
static void dsm_rt_hold_expire(dsm_rt_hold_t *hold, uint64_t now)
{
    dsm_rt_grant_t grant;
    uint64_t at;

    while (dsm_rt_fifo_peek(&hold->grants, &grant) && grant.at + hold->hold_ns <= now) {
        (void)dsm_rt_fifo_pop(&hold->grants, &grant);
        /* A later grant of the same page has its own entry behind this one. */
        if (dsm_pagemap_find(&hold->granted, grant.page, &at) && at == grant.at) {
            (void)dsm_pagemap_take(&hold->granted, grant.page, NULL);
        }
    }
}

void dsm_rt_hold_granted(dsm_rt_t *rt, const dsm_coh_action_t *action)
{
    dsm_rt_hold_t *hold = &rt->hold;
    uint64_t now;

    if (hold->hold_ns == 0) {
        return;
    }
    now = dsm_now_ns();
    dsm_rt_hold_expire(hold, now);
    for (uint32_t i = 0; i < action->count; i++) {
        dsm_rt_grant_t grant = { .page = dsm_coh_run_page(action->page, action->stride, i),
                                 .at = now };

        if (dsm_pagemap_put(&hold->granted, grant.page, now) != DSM_OK ||
            dsm_rt_fifo_push(&hold->grants, &grant) != DSM_OK) {
            dsm_rt_fatal(rt, DSM_ERR_NO_MEMORY, "out of memory recording a write grant");
        }
    }
}

/* When the hold of page ends (ns), or 0 when the page is not held: it must be
 * writable here, granted less than hold_ns before now and after the last end
 * of holds. */
static uint64_t dsm_rt_hold_page_end(const dsm_rt_t *rt, uint64_t page, uint64_t now)
{
    const dsm_rt_hold_t *hold = &rt->hold;
    uint64_t at;

    if (!dsm_pagemap_find(&hold->granted, page, &at) || at <= hold->ended_at ||
        at + hold->hold_ns <= now ||
        dsm_coh_engine_node_state(rt->pages.coh, page) != DSM_COH_N_M) {
        return 0;
    }
    return at + hold->hold_ns;
}

/* The messages that take a writable copy away: a recall at the owner, a
 * request at the home (which then recalls the home's own copy). */
static int dsm_rt_hold_recalls(const dsm_coh_msg_t *msg)
{
    return msg->type == DSM_COH_MSG_INV || msg->type == DSM_COH_MSG_DOWNGRADE ||
           msg->type == DSM_COH_MSG_REQ_READ || msg->type == DSM_COH_MSG_REQ_WRITE;
}

static void dsm_rt_hold_push(dsm_rt_t *rt, const dsm_rt_hold_msg_t *entry)
{
    dsm_rt_hold_t *hold = &rt->hold;

    if (hold->count == hold->capacity) {
        size_t capacity = hold->capacity ? 2 * hold->capacity : 16;
        dsm_rt_hold_msg_t *msgs = realloc(hold->msgs, capacity * sizeof(*msgs));

        if (msgs == NULL) {
            dsm_rt_fatal(rt, DSM_ERR_NO_MEMORY, "out of memory deferring a coherence message");
        }
        hold->msgs = msgs;
        hold->capacity = capacity;
    }
    hold->msgs[hold->count++] = *entry;
}

int dsm_rt_hold_msg(dsm_rt_t *rt, const dsm_coh_msg_t *msg, int src, const void *bytes,
                    size_t length)
{
    dsm_rt_hold_t *hold = &rt->hold;
    dsm_rt_hold_msg_t entry = { 0 };
    uint64_t now, end;

    if (hold->hold_ns == 0 || !dsm_rt_hold_recalls(msg) || length != DSM_COH_MSG_SIZE) {
        return 0;
    }
    now = dsm_now_ns();
    /* A run waits for its youngest hold. */
    for (uint32_t i = 0; i < msg->count; i++) {
        end = dsm_rt_hold_page_end(rt, dsm_coh_run_page(msg->page, msg->stride, i), now);
        entry.deadline = end > entry.deadline ? end : entry.deadline;
    }
    if (entry.deadline == 0) {
        return 0;
    }
    entry.since = now;
    entry.held.page = msg->page;
    entry.held.src = src;
    entry.held.length = length;
    memcpy(entry.held.msg, bytes, length);
    dsm_rt_hold_push(rt, &entry);
    hold->held++;
    return 1;
}

int dsm_rt_hold_ready_pop(dsm_rt_t *rt, dsm_rt_held_t *held_p)
{
    dsm_rt_hold_t *hold = &rt->hold;
    uint64_t now;

    if (hold->count == 0) {
        return 0;
    }
    now = dsm_now_ns();
    for (size_t i = 0; i < hold->count; i++) {
        if (hold->msgs[i].deadline <= now) {
            *held_p = hold->msgs[i].held;
            hold->held_ns += now - hold->msgs[i].since;
            memmove(&hold->msgs[i], &hold->msgs[i + 1],
                    (hold->count - i - 1) * sizeof(*hold->msgs));
            hold->count--;
            return 1;
        }
    }
    return 0;
}

uint64_t dsm_rt_hold_deadline(const dsm_rt_t *rt)
{
    const dsm_rt_hold_t *hold = &rt->hold;
    uint64_t earliest = 0;

    for (size_t i = 0; i < hold->count; i++) {
        if (earliest == 0 || hold->msgs[i].deadline < earliest) {
            earliest = hold->msgs[i].deadline;
        }
    }
    return earliest;
}

void dsm_rt_hold_end(dsm_rt_t *rt)
{
    dsm_rt_hold_t *hold = &rt->hold;
    uint64_t now;

    if (hold->hold_ns == 0) {
        return;
    }
    now = dsm_now_ns();
    hold->ended_at = now;
    for (size_t i = 0; i < hold->count; i++) {
        hold->msgs[i].deadline = now; /* due: taken by the next deferred-work step */
    }
}

void dsm_rt_hold_stats(const dsm_rt_t *rt, dsm_stats_t *stats_p)
{
    stats_p->messages_held = rt->hold.held;
    stats_p->messages_held_us = rt->hold.held_ns / 1000u;
}
