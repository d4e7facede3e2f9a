/*
 * First-touch homes: the node that first touches a chunk of a first-touch
 * allocation becomes its home (placement.c has the chunk arithmetic).
 *
 * Each chunk has a manager, fixed by arithmetic (the chunks are split over
 * the nodes in blocks), that decides its home once. A node that needs the
 * home of a chunk it has not learnt yet holds the fault (or the coherence
 * message) that needs it and sends CLAIM(page) to the manager; the manager
 * homes the chunk at the claimer if nobody claimed it before and answers
 * HOME(page, home) either way. A manager that faults on one of its own
 * unclaimed chunks homes it at once, without messages. Every answer comes
 * from the one node that decided, so all nodes learn the same home; a node
 * asks at most once per chunk (the claiming map), and what it held runs
 * again, in order, once the answer is in. An answer names the whole run of
 * chunks around the claimed one that the manager has homed at the same node,
 * so that a node reading a long range another node initialised asks once
 * per run of chunks, not once per chunk, whichever way it reads (its
 * read-ahead stops where homes are unknown).
 *
 * A coherence request can reach the new home before the manager's answer
 * does (the requester learnt the home from the manager too, on another
 * path): the home holds it like a fault. Other messages about a page name a
 * transaction the node itself started, so it knows that page's home.
 */
#include <inttypes.h>
#include <string.h>

#include "dsm_rt.h"
#include "rt_ckpt.h"

typedef enum {
    DSM_RT_HOME_CLAIM  = 1, /* node -> manager: who homes this chunk? me, if nobody */
    DSM_RT_HOME_ANSWER = 2  /* manager -> node: the chunk's home                    */
} dsm_rt_home_type_t;

/* Wire format, little-endian: type (1), reserved (1, zero), chunks (2: 0 in
 * a CLAIM; in an ANSWER, 1 or more: the run of chunks from page's on that
 * have this home, the claimed one among them), home (4; 0 in a CLAIM), page
 * (8: a CLAIM's any page of the chunk, an ANSWER's the run's first page). */
#define DSM_RT_HOME_MSG_SIZE 16u

/* The most chunks one answer names (64 MiB): bounds the manager's scan. */
#define DSM_RT_HOME_RUN_MAX 1024u

typedef struct {
    dsm_rt_home_type_t type;
    uint16_t           chunks;
    uint32_t           home;
    uint64_t           page;
} dsm_rt_home_msg_t;

static void dsm_rt_home_encode(const dsm_rt_home_msg_t *msg, uint8_t *bytes)
{
    memset(bytes, 0, DSM_RT_HOME_MSG_SIZE);
    bytes[0] = (uint8_t)msg->type;
    dsm_le_put16(bytes + 2, msg->chunks);
    dsm_le_put32(bytes + 4, msg->home);
    dsm_le_put64(bytes + 8, msg->page);
}

static int dsm_rt_home_decode(const uint8_t *bytes, size_t length, dsm_rt_home_msg_t *msg_p)
{
    dsm_rt_home_msg_t msg = { 0 };

    if (length != DSM_RT_HOME_MSG_SIZE ||
        (bytes[0] != DSM_RT_HOME_CLAIM && bytes[0] != DSM_RT_HOME_ANSWER) || bytes[1] != 0) {
        return -1;
    }
    msg.type = (dsm_rt_home_type_t)bytes[0];
    msg.chunks = dsm_le_get16(bytes + 2);
    msg.home = dsm_le_get32(bytes + 4);
    msg.page = dsm_le_get64(bytes + 8);
    if ((msg.type == DSM_RT_HOME_CLAIM) != (msg.chunks == 0) ||
        msg.chunks > DSM_RT_HOME_RUN_MAX) {
        return -1;
    }
    *msg_p = msg;
    return 0;
}

static void dsm_rt_home_send(dsm_rt_t *rt, int dst, const dsm_rt_home_msg_t *msg)
{
    uint8_t bytes[DSM_RT_HOME_MSG_SIZE];
    dsm_status_t status;

    dsm_rt_home_encode(msg, bytes);
    status = dsm_tp_am_send(rt->tp, dst, DSM_RT_AM_HOME, bytes, sizeof(bytes), NULL, 0, NULL,
                            NULL);
    if (status != DSM_OK && status != DSM_INPROGRESS) {
        dsm_rt_fatal(rt, status, "sending a first-touch home message to node %d failed: %s",
                     dst, dsm_strerror(status));
    }
}

static void dsm_rt_home_malformed(dsm_rt_t *rt, int src, const char *why, uint64_t page)
{
    rt->homes.malformed++;
    dsm_warn("dropped a first-touch home message from node %d about page %" PRIu64 ": %s", src,
             page, why);
}

static void dsm_rt_home_hold(dsm_rt_t *rt, const dsm_rt_held_t *held)
{
    if (dsm_rt_fifo_push(&rt->homes.held, held) != DSM_OK) {
        dsm_rt_fatal(rt, DSM_ERR_NO_MEMORY, "out of memory holding work for a first-touch home");
    }
}

/* Ask the chunk's manager for its home, once per chunk. */
static void dsm_rt_home_claim(dsm_rt_t *rt, const dsm_rt_region_t *region, uint64_t page)
{
    uint64_t first = dsm_rt_placement_chunk_first(&region->placement, page);
    dsm_rt_home_msg_t claim = { .type = DSM_RT_HOME_CLAIM, .page = first };

    if (dsm_pagemap_find(&rt->homes.claiming, first, NULL)) {
        return;
    }
    if (dsm_pagemap_put(&rt->homes.claiming, first, 1) != DSM_OK) {
        dsm_rt_fatal(rt, DSM_ERR_NO_MEMORY, "out of memory recording a first-touch claim");
    }
    dsm_rt_home_send(rt, dsm_rt_placement_manager(&region->placement, page), &claim);
}

/* Move the held work whose chunk's home is now known to the ready queue, in order. */
static void dsm_rt_home_release(dsm_rt_t *rt)
{
    size_t count = rt->homes.held.count;
    dsm_rt_held_t held;

    for (size_t i = 0; i < count && dsm_rt_fifo_pop(&rt->homes.held, &held); i++) {
        const dsm_rt_region_t *region = dsm_rt_region_find(rt, held.page);
        int known = region == NULL ||
                    dsm_rt_placement_home(&region->placement, held.page) != DSM_RT_HOME_UNKNOWN;
        dsm_rt_fifo_t *queue = known ? &rt->homes.ready : &rt->homes.held;

        /* A freed allocation's work runs again too: it then finds no allocation. */
        if (dsm_rt_fifo_push(queue, &held) != DSM_OK) {
            dsm_rt_fatal(rt, DSM_ERR_NO_MEMORY, "out of memory releasing held work");
        }
    }
}

/* Record home as the home of page's chunk (region's), learnt or decided
 * here; the caller releases the work held for it. */
static void dsm_rt_home_record(dsm_rt_t *rt, const dsm_rt_region_t *region, uint64_t page,
                               int home)
{
    /* A checkpoint's claims on the chunk follow its home at the cut. */
    dsm_rt_ckpt_before_home(rt, dsm_rt_placement_chunk_first(&region->placement, page),
                            DSM_RT_CHUNK_PAGES);
    dsm_rt_placement_set_home(&region->placement, page, home);
}

static void dsm_rt_home_learn(dsm_rt_t *rt, const dsm_rt_region_t *region, uint64_t page,
                              int home)
{
    dsm_rt_home_record(rt, region, page, home);
    dsm_rt_home_release(rt);
}

int dsm_rt_home_hold_fault(dsm_rt_t *rt, const dsm_rt_region_t *region,
                           const dsm_uffd_event_t *event, uint64_t page)
{
    const dsm_rt_placement_t *pl = &region->placement;
    dsm_rt_held_t held = { .page = page, .is_fault = 1, .event = *event };

    if (pl->policy != DSM_PLACEMENT_FIRST_TOUCH ||
        dsm_rt_placement_home(pl, page) != DSM_RT_HOME_UNKNOWN) {
        return 0;
    }
    if (dsm_rt_placement_manager(pl, page) == rt->node) {
        dsm_rt_home_learn(rt, region, page, rt->node);
        return 0;
    }
    dsm_rt_home_hold(rt, &held);
    dsm_rt_home_claim(rt, region, page);
    return 1;
}

/* The first page of msg's run whose home is unknown here, or UINT64_MAX. A
 * run spans chunks: its sender knows every one's home, this node may not yet. */
static uint64_t dsm_rt_home_unknown_page(const dsm_rt_placement_t *pl, const dsm_coh_msg_t *msg)
{
    for (uint32_t i = 0; i < msg->count; i++) {
        uint64_t page = dsm_coh_run_page(msg->page, msg->stride, i);

        if (dsm_rt_placement_home(pl, page) == DSM_RT_HOME_UNKNOWN) {
            return page;
        }
    }
    return UINT64_MAX;
}

int dsm_rt_home_hold_msg(dsm_rt_t *rt, const dsm_rt_region_t *region, const dsm_coh_msg_t *msg,
                         int src, const void *bytes, size_t length)
{
    const dsm_rt_placement_t *pl = &region->placement;
    uint64_t page = pl->policy == DSM_PLACEMENT_FIRST_TOUCH ? dsm_rt_home_unknown_page(pl, msg)
                                                             : UINT64_MAX;
    dsm_rt_held_t held = { .page = page, .src = src, .length = length };

    if (page == UINT64_MAX) {
        return 0;
    }
    if (length > sizeof(held.msg)) { /* decoded already: cannot happen */
        return 0;
    }
    if (dsm_rt_placement_manager(pl, page) == rt->node) {
        /* The manager knows every home there is: nobody homes this page. */
        rt->homes.malformed++;
        dsm_warn("dropped a coherence message from node %d about page %" PRIu64
                 ", which no node homes yet", src, page);
        return 1;
    }
    memcpy(held.msg, bytes, length);
    dsm_rt_home_hold(rt, &held);
    dsm_rt_home_claim(rt, region, page);
    return 1;
}

int dsm_rt_home_ready_pop(dsm_rt_t *rt, dsm_rt_held_t *held_p)
{
    return dsm_rt_fifo_pop(&rt->homes.ready, held_p);
}

/* Whether page (a chunk's first page) lies in region, its chunk managed here
 * and homed at home. */
static bool dsm_rt_home_run_has(const dsm_rt_t *rt, const dsm_rt_region_t *region,
                                uint64_t page, int home)
{
    const dsm_rt_placement_t *pl = &region->placement;

    return page >= region->first_page && page < region->first_page + region->npages &&
           dsm_rt_placement_manager(pl, page) == rt->node &&
           dsm_rt_placement_home(pl, page) == home;
}

/* The answer to a claim of the chunk at first (its first page, homed at
 * home): the run of chunks around it that this node manages and has homed
 * there, DSM_RT_HOME_RUN_MAX at most, half of them below it at most. */
static dsm_rt_home_msg_t dsm_rt_home_answer_make(const dsm_rt_t *rt,
                                                 const dsm_rt_region_t *region, uint64_t first,
                                                 int home)
{
    dsm_rt_home_msg_t answer = { .type = DSM_RT_HOME_ANSWER, .home = (uint32_t)home,
                                 .page = first, .chunks = 1 };

    while (answer.chunks < DSM_RT_HOME_RUN_MAX / 2 && answer.page >= DSM_RT_CHUNK_PAGES &&
           dsm_rt_home_run_has(rt, region, answer.page - DSM_RT_CHUNK_PAGES, home)) {
        answer.page -= DSM_RT_CHUNK_PAGES;
        answer.chunks++;
    }
    while (answer.chunks < DSM_RT_HOME_RUN_MAX &&
           dsm_rt_home_run_has(rt, region,
                               answer.page + (uint64_t)answer.chunks * DSM_RT_CHUNK_PAGES, home)) {
        answer.chunks++;
    }
    return answer;
}

/* At the manager: home the chunk at the claimer unless it has a home, and
 * answer with the run of chunks that share that home. */
static void dsm_rt_home_claim_serve(dsm_rt_t *rt, const dsm_rt_region_t *region, int src,
                                    uint64_t page)
{
    int home = dsm_rt_placement_home(&region->placement, page);
    dsm_rt_home_msg_t answer;

    if (home == DSM_RT_HOME_UNKNOWN) {
        home = src;
        dsm_rt_home_learn(rt, region, page, home);
    }
    answer = dsm_rt_home_answer_make(rt, region,
                                     dsm_rt_placement_chunk_first(&region->placement, page), home);
    dsm_rt_home_send(rt, src, &answer);
}

static void dsm_rt_home_answer_take(dsm_rt_t *rt, const dsm_rt_region_t *region, int src,
                                    const dsm_rt_home_msg_t *msg)
{
    const dsm_rt_placement_t *pl = &region->placement;
    uint64_t first = dsm_rt_placement_chunk_first(pl, msg->page);
    uint64_t last = first + (uint64_t)(msg->chunks - 1) * DSM_RT_CHUNK_PAGES;
    unsigned answered = 0;

    if (msg->home >= (uint32_t)rt->nnodes) {
        dsm_rt_home_malformed(rt, src, "home out of range", msg->page);
        return;
    }
    /* Managers own blocks of chunks: a run inside the region whose ends the
     * sender manages is the sender's throughout. */
    if (msg->page != first || last - region->first_page >= region->npages ||
        dsm_rt_placement_manager(pl, last) != src) {
        dsm_rt_home_malformed(rt, src, "a run of chunks its sender does not manage", msg->page);
        return;
    }
    for (uint64_t page = first; page <= last; page += DSM_RT_CHUNK_PAGES) {
        answered += dsm_pagemap_take(&rt->homes.claiming, page, NULL);
    }
    if (answered == 0) {
        dsm_rt_home_malformed(rt, src, "an answer to no claim", msg->page);
        return;
    }
    /* A chunk known here already cannot differ: only the manager decides. */
    for (uint64_t page = first; page <= last; page += DSM_RT_CHUNK_PAGES) {
        if (dsm_rt_placement_home(pl, page) == DSM_RT_HOME_UNKNOWN) {
            dsm_rt_home_record(rt, region, page, (int)msg->home);
        }
    }
    dsm_rt_home_release(rt);
}

static void dsm_rt_home_am(void *arg, int src_node, const void *header, size_t header_len,
                           const void *data, size_t length)
{
    dsm_rt_t *rt = arg;
    dsm_rt_home_msg_t msg;
    const dsm_rt_region_t *region;

    (void)data;
    if (length != 0 || dsm_rt_home_decode(header, header_len, &msg) != 0) {
        dsm_rt_home_malformed(rt, src_node, "bad format", 0);
        return;
    }
    region = dsm_rt_region_find(rt, msg.page);
    if (region == NULL || region->placement.policy != DSM_PLACEMENT_FIRST_TOUCH) {
        dsm_rt_home_malformed(rt, src_node, "not in a first-touch allocation", msg.page);
        return;
    }
    if (msg.type == DSM_RT_HOME_CLAIM) {
        if (dsm_rt_placement_manager(&region->placement, msg.page) != rt->node) {
            dsm_rt_home_malformed(rt, src_node, "a claim sent to a node not its manager",
                                  msg.page);
            return;
        }
        dsm_rt_home_claim_serve(rt, region, src_node, msg.page);
        return;
    }
    if (dsm_rt_placement_manager(&region->placement, msg.page) != src_node) {
        dsm_rt_home_malformed(rt, src_node, "an answer from a node not its manager", msg.page);
        return;
    }
    dsm_rt_home_answer_take(rt, region, src_node, &msg);
}

dsm_status_t dsm_rt_homes_init(dsm_rt_t *rt)
{
    dsm_rt_fifo_init(&rt->homes.held, sizeof(dsm_rt_held_t));
    dsm_rt_fifo_init(&rt->homes.ready, sizeof(dsm_rt_held_t));
    if (dsm_pagemap_init(&rt->homes.claiming, 16) != DSM_OK) {
        return DSM_ERR_NO_MEMORY;
    }
    return dsm_tp_am_register(rt->tp, DSM_RT_AM_HOME, dsm_rt_home_am, rt);
}

void dsm_rt_homes_fini(dsm_rt_t *rt)
{
    dsm_rt_fifo_fini(&rt->homes.held);
    dsm_rt_fifo_fini(&rt->homes.ready);
    dsm_pagemap_fini(&rt->homes.claiming);
}
