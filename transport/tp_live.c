/*
 * transport/ liveness of peers on the same host.
 *
 * UCX 1.13's shared-memory transports (posix, sysv, self) do not support
 * UCP_ERR_HANDLING_MODE_PEER: asking for it makes UCX pick tcp for same-host
 * peers (40x slower active messages) or fail with UCX_TLS=sm. So endpoints
 * to same-host peers use no UCX error handling, and their death is seen
 * here instead: every node publishes its boot id, pid namespace and pid;
 * a peer on the same kernel and pid namespace is watched with a pidfd, which
 * becomes readable when the process exits, whatever killed it. The pidfds
 * sit in one epoll (live_fd), itself inside the exported event fd, so a
 * sleeping service thread wakes up on a death too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tp_ucx.h"

/* Progress calls between two liveness checks in a busy loop (~0.5 ms). */
#define DSM_TP_LIVE_CHECK_EVERY 4096

dsm_status_t dsm_tp_identity_get(dsm_tp_identity_t *identity_p)
{
    dsm_tp_identity_t identity;
    struct stat pidns, netns;
    ssize_t got;
    int fd;

    memset(&identity, 0, sizeof(identity));
    fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        dsm_error("transport: open /proc/sys/kernel/random/boot_id: %m");
        return dsm_status_from_errno(errno);
    }
    got = read(fd, identity.boot_id, sizeof(identity.boot_id) - 1);
    close(fd);
    if (got <= 0 || stat("/proc/self/ns/pid", &pidns) != 0 ||
        stat("/proc/self/ns/net", &netns) != 0) {
        dsm_error("transport: reading this host's identity: %m");
        return DSM_ERR_IO;
    }
    identity.pidns = (uint64_t)pidns.st_ino;
    identity.netns = (uint64_t)netns.st_ino;
    identity.pid   = (int32_t)getpid();
    if (getrandom(identity.token, sizeof(identity.token), 0) != (ssize_t)sizeof(identity.token)) {
        dsm_error("transport: getrandom: %m");
        return DSM_ERR_IO;
    }
    *identity_p = identity;
    return DSM_OK;
}

int dsm_tp_identity_same_host(const dsm_tp_identity_t *a, const dsm_tp_identity_t *b)
{
    return memcmp(a->boot_id, b->boot_id, sizeof(a->boot_id)) == 0 && a->pidns == b->pidns;
}

int dsm_tp_identity_same_net(const dsm_tp_identity_t *a, const dsm_tp_identity_t *b)
{
    return memcmp(a->boot_id, b->boot_id, sizeof(a->boot_id)) == 0 && a->netns == b->netns;
}

static dsm_status_t dsm_tp_epoll_add(int epfd, int fd, uint32_t data)
{
    struct epoll_event event = { .events = EPOLLIN, .data.u32 = data };

    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) != 0) {
        dsm_error("transport: epoll_ctl: %m");
        return dsm_status_from_errno(errno);
    }
    return DSM_OK;
}

dsm_status_t dsm_tp_live_init(dsm_tp_t *tp)
{
    dsm_status_t status;

    tp->live_fd  = epoll_create1(EPOLL_CLOEXEC);
    tp->event_fd = epoll_create1(EPOLL_CLOEXEC);
    if (tp->live_fd < 0 || tp->event_fd < 0) {
        dsm_error("transport: epoll_create1: %m");
        status = dsm_status_from_errno(errno);
        goto err_close;
    }
    status = dsm_tp_epoll_add(tp->event_fd, tp->ucx_fd, 0);
    if (status == DSM_OK) {
        status = dsm_tp_epoll_add(tp->event_fd, tp->live_fd, 1);
    }
    if (status != DSM_OK) {
        goto err_close;
    }
    tp->live_countdown = DSM_TP_LIVE_CHECK_EVERY;
    return DSM_OK;

err_close:
    dsm_tp_live_fini(tp);
    return status;
}

void dsm_tp_live_fini(dsm_tp_t *tp)
{
    for (int i = 0; tp->peers != NULL && i < tp->nnodes; i++) {
        if (tp->peers[i].pidfd >= 0) {
            close(tp->peers[i].pidfd);
            tp->peers[i].pidfd = -1;
        }
    }
    if (tp->live_fd >= 0) {
        close(tp->live_fd);
    }
    if (tp->event_fd >= 0) {
        close(tp->event_fd);
    }
    tp->live_fd  = -1;
    tp->event_fd = -1;
}

dsm_status_t dsm_tp_live_watch(dsm_tp_t *tp, dsm_tp_peer_t *peer, int32_t pid)
{
    int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);

    if (fd < 0) {
        if (errno == ESRCH) {
            dsm_tp_peer_mark_lost(peer, "its process is gone");
            return DSM_OK;
        }
        dsm_error("transport: pidfd_open for node %d (pid %d): %m", peer->node, (int)pid);
        return dsm_status_from_errno(errno);
    }
    peer->pidfd = fd;
    return dsm_tp_epoll_add(tp->live_fd, fd, (uint32_t)peer->node);
}

int dsm_tp_live_check(dsm_tp_t *tp)
{
    struct epoll_event events[16];
    int n, found = 0;

    tp->live_countdown = DSM_TP_LIVE_CHECK_EVERY;
    do {
        n = epoll_wait(tp->live_fd, events, 16, 0);
        for (int i = 0; i < n; i++) {
            dsm_tp_peer_t *peer = &tp->peers[events[i].data.u32];

            epoll_ctl(tp->live_fd, EPOLL_CTL_DEL, peer->pidfd, NULL);
            close(peer->pidfd);
            peer->pidfd = -1;
            dsm_tp_peer_mark_lost(peer, "its process exited");
            found = 1;
        }
    } while (n == 16);
    return found;
}
