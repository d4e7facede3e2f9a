/*
 * What every part of the runtime uses: commands from application threads to
 * the service thread (posting, taking, completing) and the fatal stop. The
 * bottom of the runtime: calls no other rt_*.c file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dsm_rt.h"

dsm_status_t dsm_rt_cmds_init(dsm_rt_t *rt)
{
    pthread_mutex_init(&rt->cmds.lock, NULL);
    rt->cmds.event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (rt->cmds.event_fd < 0) {
        dsm_error("creating the command eventfd failed: %s", strerror(errno));
        return dsm_status_from_errno(errno);
    }
    return DSM_OK;
}

void dsm_rt_cmds_fini(dsm_rt_t *rt)
{
    if (rt->cmds.event_fd >= 0) {
        close(rt->cmds.event_fd);
        rt->cmds.event_fd = -1;
    }
    pthread_mutex_destroy(&rt->cmds.lock);
}

int dsm_rt_cmds_event_fd(const dsm_rt_t *rt)
{
    return rt->cmds.event_fd;
}

void dsm_rt_cmd_list_push(dsm_rt_cmd_list_t *list, dsm_rt_cmd_t *cmd)
{
    cmd->next = NULL;
    if (list->tail != NULL) {
        list->tail->next = cmd;
    } else {
        list->head = cmd;
    }
    list->tail = cmd;
}

dsm_rt_cmd_t *dsm_rt_cmd_list_pop(dsm_rt_cmd_list_t *list)
{
    dsm_rt_cmd_t *cmd = list->head;

    if (cmd != NULL) {
        list->head = cmd->next;
        if (list->head == NULL) {
            list->tail = NULL;
        }
    }
    return cmd;
}

void dsm_rt_cmd_list_complete(dsm_rt_cmd_list_t *list, dsm_status_t status)
{
    dsm_rt_cmd_t *cmd;

    while ((cmd = dsm_rt_cmd_list_pop(list)) != NULL) {
        dsm_rt_command_complete(cmd, status);
    }
}

void dsm_rt_command_complete(dsm_rt_cmd_t *cmd, dsm_status_t status)
{
    /* Counted down here, not when the caller returns: a service thread that
     * went on spinning until then would hold the CPU the caller needs. */
    atomic_fetch_sub_explicit(&cmd->rt->cmds.waiters, 1, memory_order_relaxed);
    cmd->status = status;
    sem_post(&cmd->done);
}

dsm_status_t dsm_rt_command(dsm_rt_t *rt, dsm_rt_cmd_t *cmd)
{
    uint64_t one = 1;

    sem_init(&cmd->done, 0, 0);
    cmd->rt = rt;
    atomic_fetch_add_explicit(&rt->cmds.waiters, 1, memory_order_relaxed);
    pthread_mutex_lock(&rt->cmds.lock);
    dsm_rt_cmd_list_push(&rt->cmds.posted, cmd);
    /* Release: the command's fields are visible before the flag is seen. */
    atomic_store_explicit(&rt->cmds.pending, 1, memory_order_release);
    pthread_mutex_unlock(&rt->cmds.lock);
    if (write(rt->cmds.event_fd, &one, sizeof(one)) != sizeof(one)) {
        dsm_rt_fatal(rt, dsm_status_from_errno(errno), "waking the service thread failed: %s",
                     strerror(errno));
    }
    while (sem_wait(&cmd->done) != 0 && errno == EINTR) {
    }
    sem_destroy(&cmd->done);
    return cmd->status;
}

int dsm_rt_commands_take(dsm_rt_t *rt, dsm_rt_cmd_list_t *posted_p)
{
    uint64_t count;

    /* Acquire: pairs with the release in dsm_rt_command. */
    if (!atomic_load_explicit(&rt->cmds.pending, memory_order_acquire)) {
        return 0;
    }
    pthread_mutex_lock(&rt->cmds.lock);
    *posted_p = rt->cmds.posted;
    rt->cmds.posted.head = rt->cmds.posted.tail = NULL;
    atomic_store_explicit(&rt->cmds.pending, 0, memory_order_relaxed);
    pthread_mutex_unlock(&rt->cmds.lock);
    /* Drain the eventfd; the flag, not its counter, says what is pending. */
    if (read(rt->cmds.event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN) {
        dsm_rt_fatal(rt, dsm_status_from_errno(errno), "reading the command eventfd failed: %s",
                     strerror(errno));
    }
    return 1;
}

int dsm_rt_commands_waiting(const dsm_rt_t *rt)
{
    return atomic_load_explicit(&rt->cmds.waiters, memory_order_relaxed) > 0;
}

_Noreturn void dsm_rt_fatal(dsm_rt_t *rt, dsm_status_t status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    dsm_log_vwrite(DSM_LOG_LEVEL_ERROR, fmt, ap);
    va_end(ap);
    if (status == DSM_ERR_PEER_LOST) {
        /* Name every node the transport knows is gone: the first failure seen
         * here may be a survivor that already stopped, not the node that died. */
        for (int node = 0; node < rt->nnodes; node++) {
            if (rt->tp != NULL && dsm_tp_peer_is_lost(rt->tp, node)) {
                dsm_log_write(DSM_LOG_LEVEL_ERROR, "node %d was lost (died or unreachable)",
                              node);
            }
        }
    }
    dsm_log_write(DSM_LOG_LEVEL_ERROR, "stopping this node: the shared arena can no longer "
                                       "be kept coherent");
    fflush(NULL);
    /* _exit: other threads may be blocked in faults only this thread could serve. */
    _exit(status == DSM_ERR_PEER_LOST ? DSM_RT_EXIT_PEER_LOST : 1);
}
