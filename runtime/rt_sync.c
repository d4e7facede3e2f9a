/*
 * Barrier and locks, as small active messages between service threads.
 *
 * Barrier: every node sends ENTER(epoch) to node 0; when node 0 has N entries
 * for an epoch it sends RELEASE(epoch) to every node. A node can enter epoch
 * e+1 only after the release of e, so node 0 counts at most two epochs at once
 * (by parity). One thread per node calls dsm_barrier at a time, as with MPI.
 *
 * Locks: lock l lives at node l % N, which keeps its holder and a FIFO queue of
 * waiting nodes, so acquisitions are granted in arrival order (fair). A node's
 * own waiting acquisitions are matched to grants in the order they were sent.
 *
 * Free rounds: dsm_free's two barriers, one pair per allocation. ENTER(round)
 * to node 0, which counts each round apart and sends RELEASE(round) to every
 * node when all N entered; a round is the allocation's address, plus 1 for
 * the second. Unlike the epochs of dsm_barrier, rounds of different
 * allocations may be in progress at once, in any order across nodes: threads
 * of one node may free different allocations at the same time.
 *
 * None needs to flush memory: the coherence protocol makes every store
 * visible to a later load on any node (sequential consistency per page), so
 * ordering the synchronisation itself orders the data.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dsm_rt.h"

typedef enum {
    DSM_RT_SYNC_BARRIER_ENTER = 1,
    DSM_RT_SYNC_BARRIER_RELEASE,
    DSM_RT_SYNC_LOCK_ACQUIRE,
    DSM_RT_SYNC_LOCK_GRANT,
    DSM_RT_SYNC_LOCK_RELEASE,
    DSM_RT_SYNC_FREE_ENTER,
    DSM_RT_SYNC_FREE_RELEASE
} dsm_rt_sync_type_t;

/* Wire format, little-endian: type (1), reserved (7, zero), argument (8). */
#define DSM_RT_SYNC_MSG_SIZE 16u
/* Lock handles are dense from 0; anything beyond this is malformed. */
#define DSM_RT_LOCK_MAX (UINT64_C(1) << 32)

static void dsm_rt_sync_encode(dsm_rt_sync_type_t type, uint64_t arg, uint8_t *bytes)
{
    memset(bytes, 0, DSM_RT_SYNC_MSG_SIZE);
    bytes[0] = (uint8_t)type;
    dsm_le_put64(bytes + 8, arg);
}

static int dsm_rt_sync_decode(const uint8_t *bytes, size_t length, dsm_rt_sync_type_t *type_p,
                              uint64_t *arg_p)
{
    if (length != DSM_RT_SYNC_MSG_SIZE || bytes[0] < DSM_RT_SYNC_BARRIER_ENTER ||
        bytes[0] > DSM_RT_SYNC_FREE_RELEASE) {
        return -1;
    }
    for (int i = 1; i < 8; i++) {
        if (bytes[i] != 0) {
            return -1;
        }
    }
    *type_p = (dsm_rt_sync_type_t)bytes[0];
    *arg_p = dsm_le_get64(bytes + 8);
    return 0;
}

static void dsm_rt_sync_handle(dsm_rt_t *rt, int src, dsm_rt_sync_type_t type, uint64_t arg);

/* Send to dst, or handle at once when dst is this node. */
static void dsm_rt_sync_send(dsm_rt_t *rt, int dst, dsm_rt_sync_type_t type, uint64_t arg)
{
    uint8_t bytes[DSM_RT_SYNC_MSG_SIZE];
    dsm_status_t status;

    if (dst == rt->node) {
        dsm_rt_sync_handle(rt, rt->node, type, arg);
        return;
    }
    dsm_rt_sync_encode(type, arg, bytes);
    status = dsm_tp_am_send(rt->tp, dst, DSM_RT_AM_SYNC, bytes, sizeof(bytes), NULL, 0, NULL,
                            NULL);
    if (status != DSM_OK && status != DSM_INPROGRESS) {
        dsm_rt_fatal(rt, status,
                     "sending a synchronisation message to node %d failed: %s", dst,
                     dsm_strerror(status));
    }
}

static void dsm_rt_sync_malformed(dsm_rt_t *rt, int src, const char *why)
{
    rt->sync.malformed++;
    dsm_warn("dropped a synchronisation message from node %d: %s", src, why);
}

/* Send type(arg) to every node, this one included. */
static void dsm_rt_sync_send_all(dsm_rt_t *rt, dsm_rt_sync_type_t type, uint64_t arg)
{
    for (int node = 0; node < rt->nnodes; node++) {
        dsm_rt_sync_send(rt, node, type, arg);
    }
}

/* Take the first command of list whose arg is arg out of it, or NULL. */
static dsm_rt_cmd_t *dsm_rt_sync_waiting_take(dsm_rt_cmd_list_t *list, uint64_t arg)
{
    dsm_rt_cmd_t *prev = NULL;

    for (dsm_rt_cmd_t *cmd = list->head; cmd != NULL; prev = cmd, cmd = cmd->next) {
        if (cmd->arg == arg) {
            if (prev != NULL) {
                prev->next = cmd->next;
            } else {
                list->head = cmd->next;
            }
            if (list->tail == cmd) {
                list->tail = prev;
            }
            return cmd;
        }
    }
    return NULL;
}

/* ---- barrier ---------------------------------------------------------------- */

void dsm_rt_sync_barrier_start(dsm_rt_t *rt, dsm_rt_cmd_t *cmd)
{
    cmd->arg = rt->sync.barrier_epoch++;
    dsm_rt_cmd_list_push(&rt->sync.barrier_waiting, cmd);
    dsm_rt_sync_send(rt, 0, DSM_RT_SYNC_BARRIER_ENTER, cmd->arg);
}

static void dsm_rt_barrier_enter(dsm_rt_t *rt, int src, uint64_t epoch)
{
    unsigned *arrived;

    /* Node 0 is itself in epoch barrier_epoch - 1 or has not reached it yet:
     * entries can be for that epoch or the one before it. */
    if (rt->node != 0 || epoch + 1 < rt->sync.barrier_epoch || epoch > rt->sync.barrier_epoch) {
        dsm_rt_sync_malformed(rt, src, "barrier entry for an impossible epoch");
        return;
    }
    arrived = &rt->sync.barrier_arrived[epoch & 1];
    if (++*arrived < (unsigned)rt->nnodes) {
        return;
    }
    *arrived = 0;
    dsm_rt_sync_send_all(rt, DSM_RT_SYNC_BARRIER_RELEASE, epoch);
}

static void dsm_rt_barrier_release(dsm_rt_t *rt, int src, uint64_t epoch)
{
    dsm_rt_cmd_t *cmd = rt->sync.barrier_waiting.head;

    if (src != 0 || cmd == NULL || cmd->arg != epoch) {
        dsm_rt_sync_malformed(rt, src, "barrier release nobody waits for");
        return;
    }
    dsm_rt_cmd_list_pop(&rt->sync.barrier_waiting);
    rt->sync.barriers++;
    dsm_rt_command_complete(cmd, DSM_OK);
}

/* ---- locks -------------------------------------------------------------------- */

static dsm_rt_lock_home_t *dsm_rt_lock_home(dsm_rt_t *rt, uint64_t lock)
{
    size_t index = (size_t)(lock / (uint64_t)rt->nnodes);

    if (index >= rt->sync.lock_home_count) {
        size_t doubled = 2 * rt->sync.lock_home_count;
        size_t count = index + 1 > doubled ? index + 1 : doubled;
        dsm_rt_lock_home_t *homes = realloc(rt->sync.lock_homes, count * sizeof(*homes));

        if (homes == NULL) {
            dsm_rt_fatal(rt, DSM_ERR_NO_MEMORY, "out of memory for lock %" PRIu64, lock);
        }
        for (size_t i = rt->sync.lock_home_count; i < count; i++) {
            homes[i].holder = -1;
            dsm_rt_fifo_init(&homes[i].waiters, sizeof(int));
        }
        rt->sync.lock_homes = homes;
        rt->sync.lock_home_count = count;
    }
    return &rt->sync.lock_homes[index];
}

static void dsm_rt_lock_home_acquire(dsm_rt_t *rt, int src, uint64_t lock)
{
    dsm_rt_lock_home_t *home = dsm_rt_lock_home(rt, lock);

    if (home->holder >= 0) {
        if (dsm_rt_fifo_push(&home->waiters, &src) != DSM_OK) {
            dsm_rt_fatal(rt, DSM_ERR_NO_MEMORY, "out of memory queueing a lock request");
        }
        return;
    }
    home->holder = src;
    dsm_rt_sync_send(rt, src, DSM_RT_SYNC_LOCK_GRANT, lock);
}

static void dsm_rt_lock_home_release(dsm_rt_t *rt, int src, uint64_t lock)
{
    dsm_rt_lock_home_t *home = dsm_rt_lock_home(rt, lock);

    if (home->holder != src) {
        dsm_rt_sync_malformed(rt, src, "lock release by a node that does not hold it");
        return;
    }
    home->holder = -1;
    if (dsm_rt_fifo_pop(&home->waiters, &home->holder)) {
        dsm_rt_sync_send(rt, home->holder, DSM_RT_SYNC_LOCK_GRANT, lock);
    }
}

static void dsm_rt_lock_granted(dsm_rt_t *rt, int src, uint64_t lock)
{
    dsm_rt_cmd_t *cmd = dsm_rt_sync_waiting_take(&rt->sync.lock_waiting, lock);

    if (cmd == NULL) {
        dsm_rt_sync_malformed(rt, src, "lock grant nobody waits for");
        return;
    }
    rt->sync.lock_acquires++;
    dsm_rt_command_complete(cmd, DSM_OK);
}

static int dsm_rt_lock_valid(const dsm_rt_t *rt, uint64_t lock)
{
    return lock < rt->sync.locks_created;
}

/* Handles are dense and the same on every node: each node counts its creates.
 * Past DSM_RT_LOCK_MAX a handle would not fit the wire's lock ids, so every
 * node refuses alike. */
void dsm_rt_sync_lock_create(dsm_rt_t *rt, dsm_rt_cmd_t *cmd)
{
    if (rt->sync.locks_created >= DSM_RT_LOCK_MAX) {
        dsm_rt_command_complete(cmd, DSM_ERR_NO_SPACE);
        return;
    }
    cmd->result = rt->sync.locks_created++;
    dsm_rt_command_complete(cmd, DSM_OK);
}

void dsm_rt_sync_lock_acquire(dsm_rt_t *rt, dsm_rt_cmd_t *cmd)
{
    if (!dsm_rt_lock_valid(rt, cmd->arg)) {
        dsm_rt_command_complete(cmd, DSM_ERR_INVALID_PARAM);
        return;
    }
    dsm_rt_cmd_list_push(&rt->sync.lock_waiting, cmd);
    dsm_rt_sync_send(rt, (int)(cmd->arg % (uint64_t)rt->nnodes), DSM_RT_SYNC_LOCK_ACQUIRE,
                     cmd->arg);
}

void dsm_rt_sync_lock_release(dsm_rt_t *rt, dsm_rt_cmd_t *cmd)
{
    if (!dsm_rt_lock_valid(rt, cmd->arg)) {
        dsm_rt_command_complete(cmd, DSM_ERR_INVALID_PARAM);
        return;
    }
    /* A release by a node that does not hold the lock is refused at the home;
     * the caller cannot be told in time, so it is counted and logged there. */
    dsm_rt_sync_send(rt, (int)(cmd->arg % (uint64_t)rt->nnodes), DSM_RT_SYNC_LOCK_RELEASE,
                     cmd->arg);
    dsm_rt_command_complete(cmd, DSM_OK);
}

/* ---- free rounds ---------------------------------------------------------------- */

/* A round names an allocation's first page address, plus 0, 1 or 2 (dsm_free). */
static int dsm_rt_free_round_valid(const dsm_rt_t *rt, uint64_t round)
{
    uint64_t address = round & ~UINT64_C(3);

    if ((round & 3) == 3) {
        return 0;
    }

    return address >= rt->arena.base && (address - rt->arena.base) % DSM_RT_PAGE_SIZE == 0 &&
           (address - rt->arena.base) / DSM_RT_PAGE_SIZE < rt->arena.pages;
}

void dsm_rt_sync_free_round_start(dsm_rt_t *rt, dsm_rt_cmd_t *cmd)
{
    if (!dsm_rt_free_round_valid(rt, cmd->arg)) {
        dsm_rt_command_complete(cmd, DSM_ERR_INVALID_PARAM);
        return;
    }
    dsm_rt_cmd_list_push(&rt->sync.free_waiting, cmd);
    dsm_rt_sync_send(rt, 0, DSM_RT_SYNC_FREE_ENTER, cmd->arg);
}

static void dsm_rt_free_round_enter(dsm_rt_t *rt, int src, uint64_t round)
{
    uint64_t arrived = 0;

    if (rt->node != 0 || !dsm_rt_free_round_valid(rt, round)) {
        dsm_rt_sync_malformed(rt, src, "free round entry for an impossible round");
        return;
    }
    dsm_pagemap_take(&rt->sync.free_arrived, round, &arrived);
    if (++arrived < (uint64_t)rt->nnodes) {
        if (dsm_pagemap_put(&rt->sync.free_arrived, round, arrived) != DSM_OK) {
            dsm_rt_fatal(rt, DSM_ERR_NO_MEMORY, "out of memory counting a free round");
        }
        return;
    }
    dsm_rt_sync_send_all(rt, DSM_RT_SYNC_FREE_RELEASE, round);
}

static void dsm_rt_free_round_release(dsm_rt_t *rt, int src, uint64_t round)
{
    dsm_rt_cmd_t *cmd = src == 0 ? dsm_rt_sync_waiting_take(&rt->sync.free_waiting, round)
                                 : NULL;

    if (cmd == NULL) {
        dsm_rt_sync_malformed(rt, src, "free round release nobody waits for");
        return;
    }
    dsm_rt_command_complete(cmd, DSM_OK);
}

void dsm_rt_sync_free_rounds_cancel(dsm_rt_t *rt, dsm_status_t status)
{
    dsm_rt_cmd_list_complete(&rt->sync.free_waiting, status);
}

/* ---- dispatch ------------------------------------------------------------------ */

static void dsm_rt_sync_handle(dsm_rt_t *rt, int src, dsm_rt_sync_type_t type, uint64_t arg)
{
    int lock_home_here = arg < DSM_RT_LOCK_MAX && (int)(arg % (uint64_t)rt->nnodes) == rt->node;

    switch (type) {
    case DSM_RT_SYNC_BARRIER_ENTER:
        dsm_rt_barrier_enter(rt, src, arg);
        break;
    case DSM_RT_SYNC_BARRIER_RELEASE:
        dsm_rt_barrier_release(rt, src, arg);
        break;
    case DSM_RT_SYNC_LOCK_ACQUIRE:
    case DSM_RT_SYNC_LOCK_RELEASE:
        if (!lock_home_here) {
            dsm_rt_sync_malformed(rt, src, "lock request for a lock homed elsewhere");
        } else if (type == DSM_RT_SYNC_LOCK_ACQUIRE) {
            dsm_rt_lock_home_acquire(rt, src, arg);
        } else {
            dsm_rt_lock_home_release(rt, src, arg);
        }
        break;
    case DSM_RT_SYNC_LOCK_GRANT:
        dsm_rt_lock_granted(rt, src, arg);
        break;
    case DSM_RT_SYNC_FREE_ENTER:
        dsm_rt_free_round_enter(rt, src, arg);
        break;
    case DSM_RT_SYNC_FREE_RELEASE:
        dsm_rt_free_round_release(rt, src, arg);
        break;
    }
}

static void dsm_rt_sync_am(void *arg, int src_node, const void *header, size_t header_len,
                           const void *data, size_t length)
{
    dsm_rt_t *rt = arg;
    dsm_rt_sync_type_t type;
    uint64_t value;

    (void)data;
    if (length != 0 || dsm_rt_sync_decode(header, header_len, &type, &value) != 0) {
        dsm_rt_sync_malformed(rt, src_node, "bad format");
        return;
    }
    dsm_rt_sync_handle(rt, src_node, type, value);
}

dsm_status_t dsm_rt_sync_init(dsm_rt_t *rt)
{
    dsm_status_t status = dsm_pagemap_init(&rt->sync.free_arrived, 16);

    if (status != DSM_OK) {
        return status;
    }
    return dsm_tp_am_register(rt->tp, DSM_RT_AM_SYNC, dsm_rt_sync_am, rt);
}

void dsm_rt_sync_fini(dsm_rt_t *rt)
{
    for (size_t i = 0; i < rt->sync.lock_home_count; i++) {
        dsm_rt_fifo_fini(&rt->sync.lock_homes[i].waiters);
    }
    free(rt->sync.lock_homes);
    rt->sync.lock_homes = NULL;
    rt->sync.lock_home_count = 0;
    dsm_pagemap_fini(&rt->sync.free_arrived);
}

void dsm_rt_sync_stats(const dsm_rt_t *rt, dsm_stats_t *stats_p)
{
    stats_p->lock_acquires = rt->sync.lock_acquires;
    stats_p->barriers = rt->sync.barriers;
    stats_p->malformed_messages += rt->sync.malformed;
}
