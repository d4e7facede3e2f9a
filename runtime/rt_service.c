/*
 * The service thread: the only thread that drives the transport and the
 * coherence engine. It waits in epoll on three fds (the userfaultfd, the UCX
 * worker's event fd, and an eventfd for commands from application threads).
 * While an application thread of this node waits on it (a fault or a
 * command in flight) it busy-polls for up to DSM_SPIN_US once work stops
 * arriving before it sleeps: a sleeping thread on the other CPU costs ~50 µs
 * to wake (docs/costs.md), a fault served while spinning much less. When nothing
 * local waits it sleeps at once, leaving the CPU to the application.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dsm_rt.h"
#include "rt_ckpt.h"

/* Only pages of allocations can be waited on; the page path says how this
 * node holds the page. */
static void dsm_rt_page_wait_run(dsm_rt_t *rt, dsm_rt_cmd_t *cmd)
{
    if (dsm_rt_region_find(rt, cmd->arg) == NULL) {
        dsm_rt_command_complete(cmd, DSM_ERR_INVALID_PARAM);
        return;
    }
    dsm_rt_page_wait_start(rt, cmd, dsm_rt_pages_state(rt, cmd->arg), dsm_now_ns());
}

static void dsm_rt_command_run(dsm_rt_t *rt, dsm_rt_cmd_t *cmd)
{
    /* A thread of this node called dsm (a barrier, a lock, a flag wait, a
     * free...): its burst of plain stores is over, so are the write holds. */
    if (cmd->type != DSM_RT_CMD_STATS) {
        dsm_rt_hold_end(rt);
    }
    switch (cmd->type) {
    case DSM_RT_CMD_ALLOC:
        dsm_rt_region_alloc_start(rt, cmd);
        break;
    case DSM_RT_CMD_FREE:
    case DSM_RT_CMD_DRAIN:
        /* Complete once no page they name is in a transaction here, tried
         * every loop (dsm_rt_settle_try): traffic on other allocations does
         * not delay a free, as waiting for a quiescent engine could. */
        dsm_rt_cmd_list_push(&rt->service.settle_waiting, cmd);
        break;
    case DSM_RT_CMD_BARRIER:
        dsm_rt_sync_barrier_start(rt, cmd);
        break;
    case DSM_RT_CMD_FREE_ROUND:
        dsm_rt_sync_free_round_start(rt, cmd);
        break;
    case DSM_RT_CMD_RELEASE:
        dsm_rt_command_complete(cmd, dsm_rt_region_release_freed(rt, cmd->arg));
        break;
    case DSM_RT_CMD_LOCK_CREATE:
        dsm_rt_sync_lock_create(rt, cmd);
        break;
    case DSM_RT_CMD_LOCK_ACQUIRE:
        dsm_rt_sync_lock_acquire(rt, cmd);
        break;
    case DSM_RT_CMD_LOCK_RELEASE:
        dsm_rt_sync_lock_release(rt, cmd);
        break;
    case DSM_RT_CMD_STATS:
        dsm_rt_stats_fill(rt, (dsm_stats_t *)(uintptr_t)cmd->arg);
        dsm_rt_command_complete(cmd, DSM_OK);
        break;
    case DSM_RT_CMD_PAGE_WAIT:
        dsm_rt_page_wait_run(rt, cmd);
        break;
    case DSM_RT_CMD_CKPT:
        dsm_rt_ckpt_command(rt, cmd);
        break;
    case DSM_RT_CMD_STOP:
        /* Nothing will change pages any more: a thread still waiting on
         * one (a program that finalizes while another thread waits) ends,
         * as does a dsm_free of another thread. */
        dsm_rt_page_waits_cancel(rt, DSM_ERR_CANCELED);
        dsm_rt_cmd_list_complete(&rt->service.settle_waiting, DSM_ERR_CANCELED);
        dsm_rt_sync_free_rounds_cancel(rt, DSM_ERR_CANCELED);
        rt->service.stopping = 1;
        dsm_rt_command_complete(cmd, DSM_OK);
        break;
    }
}

static int dsm_rt_commands_run(dsm_rt_t *rt)
{
    dsm_rt_cmd_list_t posted;
    dsm_rt_cmd_t *cmd;

    if (!dsm_rt_commands_take(rt, &posted)) {
        return 0;
    }
    while ((cmd = dsm_rt_cmd_list_pop(&posted)) != NULL) {
        dsm_rt_command_run(rt, cmd);
    }
    return 1;
}

/* A FREE or DRAIN: DSM_ERR_STATE while a page it names is in a transaction
 * here (try again later). */
static dsm_status_t dsm_rt_settle_one(dsm_rt_t *rt, const dsm_rt_cmd_t *cmd)
{
    const dsm_rt_region_t *region;

    if (cmd->type == DSM_RT_CMD_DRAIN && cmd->arg == 0) {
        return dsm_rt_pages_quiescent(rt) ? DSM_OK : DSM_ERR_STATE;
    }
    region = dsm_rt_region_at(rt, cmd->arg);
    if (region == NULL) {
        return DSM_ERR_INVALID_PARAM;
    }
    if (cmd->type == DSM_RT_CMD_DRAIN) {
        return dsm_rt_pages_settled(rt, region->first_page, region->npages) ? DSM_OK
                                                                            : DSM_ERR_STATE;
    }
    /* Refused while a page is in a transaction: its backing may still be
     * read or written by RMA, and its messages still arrive. The memory
     * stays until every node is done with it (DSM_RT_CMD_RELEASE): the
     * nodes of a host share it. */
    return dsm_rt_pages_forget(rt, region->first_page, region->npages);
}

static void dsm_rt_settle_try(dsm_rt_t *rt)
{
    dsm_rt_cmd_list_t waiting = rt->service.settle_waiting;
    dsm_rt_cmd_t *cmd;
    dsm_status_t status;

    rt->service.settle_waiting.head = rt->service.settle_waiting.tail = NULL;
    while ((cmd = dsm_rt_cmd_list_pop(&waiting)) != NULL) {
        status = dsm_rt_settle_one(rt, cmd);
        if (status == DSM_ERR_STATE) {
            dsm_rt_cmd_list_push(&rt->service.settle_waiting, cmd);
        } else {
            dsm_rt_command_complete(cmd, status);
        }
    }
}

/* The earlier of two times (ns), 0 meaning none. */
static uint64_t dsm_rt_earliest(uint64_t a, uint64_t b)
{
    return a == 0 ? b : (b == 0 || a < b ? a : b);
}

/* One pass over every source of work; nonzero if anything was done. The
 * earliest time a page wait must be looked at again, or a message deferred by
 * a write hold is due (rt_hold.c), goes to *recheck_p. */
static int dsm_rt_service_poll(dsm_rt_t *rt, uint64_t *recheck_p)
{
    int busy = 0;

    busy |= dsm_rt_pages_read_faults(rt) > 0;
    busy |= dsm_tp_progress(rt->tp);
    busy |= dsm_rt_pages_run_deferred(rt);
    busy |= dsm_rt_commands_run(rt);
    busy |= dsm_rt_pages_run_deferred(rt);
    dsm_rt_settle_try(rt);
    *recheck_p = dsm_rt_earliest(dsm_rt_page_waits_expire(rt), dsm_rt_hold_deadline(rt));
    return busy;
}

/* How long to sleep: bounded, since the transport needs progress for
 * failure detection, and until the earliest page wait's recheck time (ns). */
static struct timespec dsm_rt_service_sleep_time(uint64_t recheck)
{
    uint64_t ns = (uint64_t)DSM_TP_SLEEP_MAX_MS * 1000000u;
    uint64_t now;

    if (recheck != 0) {
        now = dsm_now_ns();
        ns = recheck <= now ? 0 : (recheck - now < ns ? recheck - now : ns);
    }
    return (struct timespec){ .tv_sec = (time_t)(ns / 1000000000u),
                              .tv_nsec = (long)(ns % 1000000000u) };
}

/* Sleep until an fd is ready or recheck (ns, 0: none), unless the transport
 * has events pending. */
static void dsm_rt_service_sleep(dsm_rt_t *rt, uint64_t recheck)
{
    struct epoll_event events[3];
    struct timespec timeout = dsm_rt_service_sleep_time(recheck);
    dsm_status_t status = dsm_tp_arm(rt->tp);

    if (status == DSM_ERR_AGAIN) {
        /* Events came in since the last pass. Where nodes outnumber CPUs,
         * going straight round again keeps a CPU another node needs: each
         * message that arrives makes the next arm busy, so the thread loops
         * without sleeping as long as its peers send (~350,000 busy arms per
         * node in FFT at 4 nodes on 2 CPUs, 1.85 s; yielding here, 0.78 s). */
        if (rt->service.spin_yields) {
            sched_yield();
        }
        return;
    }
    if (status != DSM_OK) {
        dsm_rt_fatal(rt, status, "arming the transport failed: %s", dsm_strerror(status));
    }
    if (epoll_pwait2(rt->service.epoll_fd, events, 3, &timeout, NULL) < 0 && errno != EINTR) {
        dsm_rt_fatal(rt, dsm_status_from_errno(errno), "epoll_pwait2 failed: %s", strerror(errno));
    }
}

/*
 * An application thread of this node is blocked until this thread acts: a
 * fault not yet resolved or a command not yet complete. Only then is a spin
 * worth its CPU; otherwise it takes the CPU from the node's own computation
 * (bound nodes) or from another node's threads.
 */
static int dsm_rt_application_waits(const dsm_rt_t *rt)
{
    return dsm_rt_pages_faults_pending(rt) || dsm_rt_commands_waiting(rt);
}

/*
 * struct sched_attr of sched_setattr(2), which glibc 2.36 neither declares
 * nor wraps (<linux/sched/types.h> clashes with <sched.h>).
 */
struct dsm_rt_sched_attr {
    uint32_t size, sched_policy;
    uint64_t sched_flags;
    int32_t  sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
};

/*
 * Scheduling of the service thread. It shares its CPU with the application
 * (one CPU per node when bound): a message for this node must be served while
 * the application computes, at once, not when the application blocks or its
 * time slice ends (~1.4-3 ms). Two requests, each best effort:
 * - a short slice (100 µs; Linux >= 6.12, EEVDF, any user): a woken thread
 *   with a shorter slice may preempt the running one;
 * - a higher weight (nice DSM_SERVICE_NICE, default -10; needs CAP_SYS_NICE or
 *   RLIMIT_NICE): the thread that spins while its application waits falls
 *   behind in fairness and then loses the CPU to the application it woke until
 *   that blocks (seen with perf sched: a request for a computing node waited
 *   ~1 ms); the weight keeps it eligible.
 * Both go in one sched_setattr(2). Where the nice value is refused, the slice
 * is asked for again with the thread's current nice value and the refusal is
 * logged at info level; the runtime works the same, only slower.
 * Measurements: docs/design.md ("Threads").
 */
static void dsm_rt_service_set_scheduling(const dsm_rt_t *rt)
{
    struct dsm_rt_sched_attr attr = {
        .size          = sizeof(attr),
        .sched_policy  = SCHED_OTHER,
        .sched_nice    = rt->config.service_nice,
        .sched_runtime = DSM_RT_SERVICE_SLICE_NS,
    };

    if (syscall(SYS_sched_setattr, 0, &attr, 0) == 0) {
        return;
    }
    dsm_info("service thread: nice %d refused (%s), it keeps the process's value; "
             "DSM_SERVICE_NICE (docs/config.md)", rt->config.service_nice, strerror(errno));
    errno = 0;
    attr.sched_nice = getpriority(PRIO_PROCESS, 0); /* this thread's own value */
    if (errno == 0 && syscall(SYS_sched_setattr, 0, &attr, 0) != 0) {
        dsm_debug("service thread: no short time slice (sched_setattr: %s)", strerror(errno));
    }
}

static void *dsm_rt_service_main(void *arg)
{
    dsm_rt_t *rt = arg;
    uint64_t spin_ns = (uint64_t)rt->config.spin_us * 1000u;
    uint64_t idle_since = dsm_now_ns();
    uint64_t recheck;

    dsm_rt_service_set_scheduling(rt);
    /* A deferred message (rt_hold.c) is due after tens of µs: the default
     * timer slack (50 µs) would add as much again to the sleep that waits
     * for it. */
    if (rt->config.write_hold_us > 0 && prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0) != 0) {
        dsm_debug("service thread: timer slack unchanged (prctl: %s)", strerror(errno));
    }
    while (!rt->service.stopping) {
        if (dsm_rt_service_poll(rt, &recheck)) {
            idle_since = dsm_now_ns();
        } else if (!dsm_rt_application_waits(rt) ||
                   dsm_now_ns() - idle_since >= spin_ns) {
            dsm_rt_service_sleep(rt, recheck);
            idle_since = dsm_now_ns();
        } else if (rt->service.spin_yields) {
            sched_yield(); /* another node's thread may need this CPU */
        }
    }
    return NULL;
}

static dsm_status_t dsm_rt_epoll_add(int epoll_fd, int fd)
{
    struct epoll_event event = { .events = EPOLLIN, .data.fd = fd };

    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) {
        dsm_error("epoll_ctl(ADD, %d) failed: %s", fd, strerror(errno));
        return dsm_status_from_errno(errno);
    }
    return DSM_OK;
}

/*
 * How the service thread spins (DSM_SPIN_US; measurements: docs/design.md, "Threads").
 * It spins only while an application thread of its node is blocked on it, so
 * the spin takes the CPU that blocked thread left: `auto` is 50 µs (2 unbound
 * nodes on 2 CPUs, against not spinning: read miss 220 -> 11.5 µs, Jacobi
 * 2046² 4.1-4.3 -> 3.0-3.6 s). Where this host has more nodes than CPUs, a
 * spinning thread can hold the CPU another node's thread needs (4 nodes: an
 * upgrade with 3 sharers 153 -> 312 µs), so there it yields the CPU between
 * polls (26 µs; 4 nodes' Jacobi 1.6-1.7 s not spinning, 2.9-3.2 spinning,
 * 1.2 yielding); where they fit, yielding costs (2 nodes' Jacobi 3.6-4.0 ->
 * 4.6-4.7 s), so it does not.
 */
static void dsm_rt_spin_policy(dsm_rt_t *rt)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    long nodes_here = dsm_tp_nodes_on_this_host(rt->tp);

    rt->service.spin_yields = nodes_here > online;
    dsm_info("service thread: spins up to %u us while a thread of this node waits%s "
             "(%ld nodes on this host, %ld CPUs online)", rt->config.spin_us,
             rt->service.spin_yields ? ", yielding the CPU between polls" : "", nodes_here,
             online);
}

dsm_status_t dsm_rt_service_start(dsm_rt_t *rt)
{
    dsm_status_t status;
    int err;

    dsm_rt_spin_policy(rt);
    rt->service.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (rt->service.epoll_fd < 0) {
        dsm_error("creating the service thread's epoll fd failed: %s", strerror(errno));
        return dsm_status_from_errno(errno);
    }
    if ((status = dsm_rt_epoll_add(rt->service.epoll_fd, rt->uffd.fd)) != DSM_OK ||
        (status = dsm_rt_epoll_add(rt->service.epoll_fd, dsm_tp_event_fd(rt->tp))) != DSM_OK ||
        (status = dsm_rt_epoll_add(rt->service.epoll_fd, dsm_rt_cmds_event_fd(rt))) != DSM_OK) {
        goto err_epoll;
    }
    err = pthread_create(&rt->service.thread, NULL, dsm_rt_service_main, rt);
    if (err != 0) {
        dsm_error("starting the service thread failed: %s", strerror(err));
        status = dsm_status_from_errno(err);
        goto err_epoll;
    }
    rt->service.running = 1;
    return DSM_OK;

err_epoll:
    close(rt->service.epoll_fd);
    return status;
}

void dsm_rt_service_stop(dsm_rt_t *rt)
{
    dsm_rt_cmd_t stop = { .type = DSM_RT_CMD_STOP };

    if (!rt->service.running) {
        return;
    }
    dsm_rt_command(rt, &stop);
    pthread_join(rt->service.thread, NULL);
    close(rt->service.epoll_fd);
    rt->service.running = 0;
}

void dsm_rt_stats_fill(const dsm_rt_t *rt, dsm_stats_t *stats_p)
{
    memset(stats_p, 0, sizeof(*stats_p));
    dsm_rt_pages_stats(rt, stats_p);
    dsm_rt_sync_stats(rt, stats_p);
    dsm_rt_alloc_stats(rt, stats_p);
    dsm_rt_hold_stats(rt, stats_p);
}
