/* The public API (include/dsm.h): life cycle, allocation, synchronisation, stats. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "dsm_rt.h"
#include "rt_ckpt.h"

/* The one runtime of this process; NULL outside dsm_init..dsm_finalize. */
static dsm_rt_t *dsm_rt_global;
static _Thread_local dsm_status_t dsm_rt_last_error = DSM_OK;

/* Record status as this thread's last error when it is a failure. */
static dsm_status_t dsm_rt_result(dsm_status_t status)
{
    if (status < 0) {
        dsm_rt_last_error = status;
    }
    return status;
}

static void dsm_rt_peer_lost(void *arg, int node)
{
    dsm_rt_fatal(arg, DSM_ERR_PEER_LOST, "the transport reported node %d lost", node);
}

static void dsm_rt_destroy(dsm_rt_t *rt)
{
    dsm_rt_service_stop(rt);
    dsm_rt_ckpt_fini(rt); /* before the backing segments its threads read go */
    dsm_rt_sync_fini(rt);
    dsm_rt_homes_fini(rt);
    dsm_rt_hold_fini(rt);
    dsm_rt_alloc_fini(rt);
    dsm_rt_pages_fini(rt);
    dsm_tp_destroy(rt->tp);
    dsm_rt_arena_unmap(rt);
    if (rt->uffd_open) {
        dsm_uffd_close(&rt->uffd);
    }
    dsm_boot_fini(rt->boot);
    dsm_rt_cmds_fini(rt);
    free(rt);
}

static dsm_status_t dsm_rt_create(const dsm_config_t *user, dsm_rt_t **rt_p)
{
    dsm_tp_config_t tp_config = { 0 };
    dsm_rt_t *rt = calloc(1, sizeof(*rt));
    dsm_status_t status;

    if (rt == NULL) {
        return DSM_ERR_NO_MEMORY;
    }
    if ((status = dsm_rt_cmds_init(rt)) != DSM_OK ||
        (status = dsm_rt_config_load(user, &rt->config)) != DSM_OK) {
        goto err;
    }
    dsm_log_set_level(rt->config.log_level);
    if ((status = dsm_boot_init(&rt->boot)) != DSM_OK) {
        goto err;
    }
    rt->node = dsm_boot_rank(rt->boot);
    rt->nnodes = dsm_boot_size(rt->boot);
    dsm_log_set_node(rt->node);
    status = dsm_uffd_open(DSM_UFFD_FEATURES_REQUIRED, DSM_UFFD_FEATURES_OPTIONAL, 0,
                           &rt->uffd);
    if (status != DSM_OK) {
        goto err;
    }
    rt->uffd_open = 1;
    if (!rt->uffd.continue_wp && rt->node == 0) {
        dsm_info("this kernel cannot map a page read-only with UFFDIO_CONTINUE (Linux < 6.5): "
                 "every miss takes its page writable, so read-shared pages move between "
                 "readers (docs/design.md, \"The data path\")");
    }
    if ((status = dsm_rt_arena_map(rt)) != DSM_OK) {
        goto err;
    }
    status = dsm_tp_tls_for(dsm_rt_transport_name(rt->config.transport), &tp_config.tls);
    if (status != DSM_OK) {
        goto err;
    }
    /* Only the transport's own wait helper uses this; the service loop spins itself. */
    tp_config.spin_us = rt->config.spin_us;
    tp_config.peer_lost = dsm_rt_peer_lost;
    tp_config.peer_lost_arg = rt;
    /* Handlers are registered before connecting: no message finds none. */
    if ((status = dsm_tp_create(rt->boot, &tp_config, &rt->tp)) != DSM_OK ||
        (status = dsm_rt_pages_init(rt)) != DSM_OK ||
        (status = dsm_rt_sync_init(rt)) != DSM_OK ||
        (status = dsm_rt_homes_init(rt)) != DSM_OK ||
        (status = dsm_rt_hold_init(rt)) != DSM_OK ||
        (status = dsm_rt_alloc_init(rt)) != DSM_OK ||
        (status = dsm_rt_ckpt_init(rt)) != DSM_OK ||
        (status = dsm_tp_connect(rt->tp)) != DSM_OK ||
        (status = dsm_rt_arena_share(rt)) != DSM_OK) {
        goto err;
    }
    if ((status = dsm_rt_service_start(rt)) != DSM_OK) {
        goto err;
    }
    *rt_p = rt;
    return DSM_OK;

err:
    dsm_error("dsm_init failed: %s", dsm_strerror(status));
    dsm_rt_destroy(rt);
    return status;
}

dsm_status_t dsm_init(const dsm_config_t *config)
{
    dsm_status_t status;

    if (dsm_rt_global != NULL) {
        return dsm_rt_result(DSM_ERR_STATE);
    }
    status = dsm_rt_create(config, &dsm_rt_global);
    return dsm_rt_result(status);
}

/* The running runtime, or NULL with DSM_ERR_NOT_INITIALIZED recorded. */
static dsm_rt_t *dsm_rt_get(void)
{
    if (dsm_rt_global == NULL) {
        dsm_rt_result(DSM_ERR_NOT_INITIALIZED);
    }
    return dsm_rt_global;
}

static dsm_status_t dsm_rt_simple_command(dsm_rt_cmd_type_t type, uint64_t arg,
                                          uint64_t *result_p)
{
    dsm_rt_t *rt = dsm_rt_get();
    dsm_rt_cmd_t cmd = { .type = type, .arg = arg };
    dsm_status_t status;

    if (rt == NULL) {
        return DSM_ERR_NOT_INITIALIZED;
    }
    status = dsm_rt_command(rt, &cmd);
    if (status == DSM_OK && result_p != NULL) {
        *result_p = cmd.result;
    }
    return dsm_rt_result(status);
}

/* Wait until no page of the allocation at address (0: of the arena) is in a
 * transaction at this node, as requester, holder or home. */
static dsm_status_t dsm_rt_drain(uint64_t address)
{
    return dsm_rt_simple_command(DSM_RT_CMD_DRAIN, address, NULL);
}

/* Every node: no transaction in flight anywhere (each node drains what it
 * started, then, after the barrier, what it serves as home). */
static dsm_status_t dsm_rt_quiesce(void)
{
    dsm_status_t status = dsm_rt_drain(0);

    if (status == DSM_OK) {
        status = dsm_barrier();
    }
    if (status == DSM_OK) {
        status = dsm_rt_drain(0);
    }
    return status;
}

static void dsm_rt_stats_print(dsm_rt_t *rt)
{
    dsm_stats_t s;

    dsm_rt_stats_fill(rt, &s);
    fprintf(stderr,
            "dsm[%d] stats: read_misses=%" PRIu64 " read_ahead=%" PRIu64
            " write_misses=%" PRIu64 " write_ahead=%" PRIu64 " upgrades=%" PRIu64 " upgrades_ahead=%" PRIu64
            " invalidations_sent=%" PRIu64 " invalidations_received=%" PRIu64
            " bytes_fetched=%" PRIu64 " bytes_written_back=%" PRIu64 " bytes_shared=%" PRIu64
            " messages_sent=%" PRIu64
            " message_pages=%" PRIu64 " messages_received=%" PRIu64 " malformed=%" PRIu64 " lock_acquires=%" PRIu64
            " barriers=%" PRIu64 " faults=%" PRIu64 " fault_p50_us=%.1f fault_p99_us=%.1f"
            " held=%" PRIu64 " held_us=%" PRIu64 " zero_filled=%" PRIu64 "\n",
            rt->node, s.read_misses, s.pages_read_ahead, s.write_misses, s.pages_written_ahead,
            s.upgrades,
            s.pages_upgraded_ahead, s.invalidations_sent,
            s.invalidations_received, s.bytes_fetched, s.bytes_written_back, s.bytes_shared,
            s.messages_sent,
            s.message_pages_sent, s.messages_received, s.malformed_messages, s.lock_acquires, s.barriers,
            s.faults_resolved, s.fault_latency_p50_us, s.fault_latency_p99_us, s.messages_held,
            s.messages_held_us, s.pages_zero_filled);
}

dsm_status_t dsm_finalize(void)
{
    dsm_rt_t *rt = dsm_rt_get();
    dsm_status_t status;

    if (rt == NULL) {
        return DSM_ERR_NOT_INITIALIZED;
    }
    /* An image being written is finished first (collective, as this). */
    status = dsm_checkpoint_wait();
    if (status != DSM_OK) {
        dsm_error("dsm_finalize: the last checkpoint failed: %s", dsm_strerror(status));
    }
    /* Nothing may reach memory the tear-down unmaps: no RMA into a backing
     * segment, no message for a forgotten page. Each node
     * ends every transaction it started (read-ahead requests nobody waits
     * for included); after the barrier nobody starts one, and each node
     * waits for the transactions it serves as home to end (their DONEs). */
    status = dsm_rt_quiesce();
    dsm_rt_global = NULL;
    dsm_rt_service_stop(rt); /* the counters are now this thread's to read */
    if (rt->config.stats) {
        dsm_rt_stats_print(rt);
    }
    dsm_rt_destroy(rt);
    return dsm_rt_result(status);
}

int dsm_node_id(void)
{
    return dsm_rt_global ? dsm_rt_global->node : -1;
}

int dsm_num_nodes(void)
{
    return dsm_rt_global ? dsm_rt_global->nnodes : 0;
}

void *dsm_alloc(size_t size)
{
    uint64_t address;

    if (dsm_rt_simple_command(DSM_RT_CMD_ALLOC, size, &address) != DSM_OK) {
        return NULL;
    }
    return (void *)(uintptr_t)address;
}

void dsm_free(void *ptr)
{
    uint64_t address = (uint64_t)(uintptr_t)ptr;

    if (ptr == NULL || dsm_rt_get() == NULL) {
        return;
    }
    /* The checkpoint writer may still read the allocation's pages. */
    dsm_rt_ckpt_writer_join(dsm_rt_global);
    /* As dsm_finalize, for one allocation: each node ends its transactions
     * on it (read-ahead may still be in flight) and stops using it; after
     * the first round nobody starts one, and each node forgets its pages once
     * those it serves as home have ended. After the second, nobody uses its
     * memory, which the nodes of a host share: each releases it. Nobody
     * allocates again before all released (the third). The rounds are the
     * allocation's own barriers (rt_sync.c), not dsm_barrier: threads of a
     * node may free different allocations at once. */
    if (dsm_rt_drain(address) == DSM_OK &&
        dsm_rt_simple_command(DSM_RT_CMD_FREE_ROUND, address, NULL) == DSM_OK &&
        dsm_rt_simple_command(DSM_RT_CMD_FREE, address, NULL) == DSM_OK &&
        dsm_rt_simple_command(DSM_RT_CMD_FREE_ROUND, address + 1, NULL) == DSM_OK &&
        dsm_rt_simple_command(DSM_RT_CMD_RELEASE, address, NULL) == DSM_OK) {
        dsm_rt_simple_command(DSM_RT_CMD_FREE_ROUND, address + 2, NULL);
    }
}

dsm_status_t dsm_barrier(void)
{
    return dsm_rt_simple_command(DSM_RT_CMD_BARRIER, 0, NULL);
}

dsm_status_t dsm_lock_create(dsm_lock_t *lock_p)
{
    uint64_t lock;
    dsm_status_t status;

    /* Refused before the command: every node refuses alike (collective) and
     * no handle is used up. */
    if (lock_p == NULL) {
        return dsm_rt_result(DSM_ERR_INVALID_PARAM);
    }
    status = dsm_rt_simple_command(DSM_RT_CMD_LOCK_CREATE, 0, &lock);
    if (status == DSM_OK) {
        *lock_p = lock;
    }
    return status;
}

dsm_status_t dsm_lock_acquire(dsm_lock_t lock)
{
    return dsm_rt_simple_command(DSM_RT_CMD_LOCK_ACQUIRE, lock, NULL);
}

dsm_status_t dsm_lock_release(dsm_lock_t lock)
{
    return dsm_rt_simple_command(DSM_RT_CMD_LOCK_RELEASE, lock, NULL);
}

static int dsm_rt_cmp_eq(uint64_t word, uint64_t value) { return word == value; }
static int dsm_rt_cmp_ne(uint64_t word, uint64_t value) { return word != value; }
static int dsm_rt_cmp_gt(uint64_t word, uint64_t value) { return word > value; }
static int dsm_rt_cmp_ge(uint64_t word, uint64_t value) { return word >= value; }
static int dsm_rt_cmp_lt(uint64_t word, uint64_t value) { return word < value; }
static int dsm_rt_cmp_le(uint64_t word, uint64_t value) { return word <= value; }

dsm_status_t dsm_wait_until_u64(const volatile uint64_t *addr, dsm_cmp_t cmp, uint64_t value)
{
    dsm_rt_t *rt = dsm_rt_get();
    static int (*const holds[])(uint64_t, uint64_t) = {
        [DSM_CMP_EQ] = dsm_rt_cmp_eq, [DSM_CMP_NE] = dsm_rt_cmp_ne,
        [DSM_CMP_GT] = dsm_rt_cmp_gt, [DSM_CMP_GE] = dsm_rt_cmp_ge,
        [DSM_CMP_LT] = dsm_rt_cmp_lt, [DSM_CMP_LE] = dsm_rt_cmp_le,
    };
    uintptr_t address = (uintptr_t)addr;

    if (rt == NULL) {
        return dsm_rt_result(DSM_ERR_NOT_INITIALIZED);
    }
    if ((unsigned)cmp > DSM_CMP_LE || address % sizeof(uint64_t) != 0 ||
        address < rt->arena.base ||
        (address - rt->arena.base) / DSM_RT_PAGE_SIZE >= rt->arena.pages) {
        return dsm_rt_result(DSM_ERR_INVALID_PARAM);
    }
    return dsm_rt_result(dsm_rt_page_wait(rt, addr, holds[cmp], value));
}

/* The first failure of a sequence of collective steps, each run whatever
 * the ones before returned (every node must reach every barrier). */
static dsm_status_t dsm_rt_first_error(dsm_status_t first, dsm_status_t next)
{
    return first != DSM_OK ? first : next;
}

dsm_status_t dsm_checkpoint(const char *dir)
{
    dsm_rt_t *rt = dsm_rt_get();
    dsm_rt_cmd_t cut = { .type = DSM_RT_CMD_CKPT, .arg = DSM_RT_CKPT_CUT };
    dsm_status_t status;

    if (rt == NULL) {
        return DSM_ERR_NOT_INITIALIZED;
    }
    if (dir == NULL || dir[0] == '\0') {
        return dsm_rt_result(DSM_ERR_INVALID_PARAM);
    }
    /* The previous image first; then node 0 prepares the directory, and the
     * job is quiesced: no transaction in flight at the cut. Each node cuts
     * (service thread) and detaches its arena (this thread: the kernel waits
     * for the service thread to read the detach's event), and the second
     * barrier keeps every node from writing before all have. */
    status = dsm_checkpoint_wait();
    status = dsm_rt_first_error(status, dsm_rt_ckpt_prepare(rt, dir));
    status = dsm_rt_first_error(status, dsm_rt_quiesce());
    status = dsm_rt_first_error(status, dsm_rt_ckpt_open(rt));
    status = dsm_rt_first_error(status, dsm_rt_command(rt, &cut));
    status = dsm_rt_first_error(status, dsm_rt_ckpt_detach(rt));
    status = dsm_rt_first_error(status, dsm_barrier());
    dsm_rt_ckpt_go(rt);
    return dsm_rt_result(status);
}

dsm_status_t dsm_checkpoint_wait(void)
{
    dsm_rt_t *rt = dsm_rt_get();
    dsm_status_t local, commit;

    if (rt == NULL) {
        return DSM_ERR_NOT_INITIALIZED;
    }
    if (!dsm_rt_ckpt_pending(rt)) {
        return DSM_OK;
    }
    /* Every node's file is complete and fsync'd before node 0 commits, and
     * the commit is done before any node looks at its outcome. */
    local = dsm_rt_ckpt_finish(rt);
    local = dsm_rt_first_error(local, dsm_barrier());
    commit = dsm_rt_ckpt_commit(rt);
    commit = dsm_rt_first_error(commit, dsm_barrier());
    return dsm_rt_result(dsm_rt_ckpt_result(rt, local, commit));
}

int dsm_restarted(void)
{
    return dsm_rt_global ? dsm_rt_ckpt_restarted(dsm_rt_global) : 0;
}

dsm_status_t dsm_last_error(void)
{
    return dsm_rt_last_error;
}

dsm_status_t dsm_stats_get(dsm_stats_t *stats_p)
{
    dsm_stats_t stats;
    dsm_status_t status;

    if (stats_p == NULL) {
        return dsm_rt_result(DSM_ERR_INVALID_PARAM);
    }
    /* The counters belong to the service thread: it fills them in, here,
     * never in stats_p: that may be arena memory, and a fault taken by the
     * service thread waits for the service thread. */
    status = dsm_rt_simple_command(DSM_RT_CMD_STATS, (uint64_t)(uintptr_t)&stats, NULL);
    if (status == DSM_OK) {
        *stats_p = stats;
    }
    return status;
}
