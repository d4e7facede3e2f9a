/*
 * transport/ progress: non-blocking progress, the worker's event fd for a
 * service thread's epoll, and a wait that busy-polls for a bounded window
 * (DSM_SPIN_US) before it arms the worker and sleeps.
 *
 * Why spin first: waking a thread that sleeps on another CPU costs ~23 us
 * each way on the VMs we run on (docs/costs.md), far more than a message over
 * shared memory; a short spin catches replies that are already on their way.
 */
#include <errno.h>
#include <poll.h>

#include "tp_ucx.h"

int dsm_tp_progress(dsm_tp_t *tp)
{
    int progressed = ucp_worker_progress(tp->worker) != 0;

    if (--tp->live_countdown == 0) {
        progressed |= dsm_tp_live_check(tp);
    }
    if (tp->lost_unreported > 0) {
        progressed |= dsm_tp_peers_handle_lost(tp);
    }
    return progressed;
}

int dsm_tp_event_fd(const dsm_tp_t *tp)
{
    return tp->event_fd;
}

dsm_status_t dsm_tp_arm(dsm_tp_t *tp)
{
    ucs_status_t status;

    /* A peer's exit makes the event fd readable until it is handled here. */
    if (dsm_tp_live_check(tp)) {
        return DSM_ERR_AGAIN;
    }
    status = ucp_worker_arm(tp->worker);

    if (status == UCS_ERR_BUSY) {
        return DSM_ERR_AGAIN;
    }
    if (status != UCS_OK) {
        dsm_error("transport: ucp_worker_arm: %s", ucs_status_string(status));
        return DSM_ERR_TRANSPORT;
    }
    /*
     * Poll once more after arming. A verbs completion queue signals only
     * completions added after ibv_req_notify_cq; hardware that compares the
     * arm with its consumer index reports the ones in between, Soft-RoCE does
     * not, and UCX's rc/ud arm does not poll again. A completion that landed
     * between the caller's last progress and the arm would then never wake
     * the fd. Anything this poll consumes after the arm only makes a later
     * wake-up spurious, which is harmless.
     */
    return ucp_worker_progress(tp->worker) != 0 ? DSM_ERR_AGAIN : DSM_OK;
}

/* Sleep on the event fd for at most timeout_ms; DSM_OK when woken or timed out. */
static dsm_status_t dsm_tp_sleep(dsm_tp_t *tp, int timeout_ms)
{
    struct pollfd pfd = { .fd = tp->event_fd, .events = POLLIN };

    if (poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR) {
        dsm_error("transport: poll on the worker's event fd: %m");
        return dsm_status_from_errno(errno);
    }
    return DSM_OK;
}

dsm_status_t dsm_tp_wait(dsm_tp_t *tp, int timeout_ms)
{
    double start_us = dsm_now_ns() / 1e3;
    double spin_end_us = start_us + tp->config.spin_us;
    double end_us = timeout_ms < 0 ? -1.0 : start_us + 1e3 * timeout_ms;
    double now_us;
    dsm_status_t status;
    int sleep_ms;

    do {
        if (dsm_tp_progress(tp)) {
            return DSM_OK;
        }
        now_us = dsm_now_ns() / 1e3;
    } while (now_us < spin_end_us && (end_us < 0 || now_us < end_us));

    while (end_us < 0 || now_us < end_us) {
        status = dsm_tp_arm(tp);
        if (status == DSM_ERR_AGAIN) {
            /* Events were pending, or the arm's own poll already ran callbacks:
             * the caller must look at its condition again. */
            dsm_tp_progress(tp);
            return DSM_OK;
        }
        if (status != DSM_OK) {
            return status;
        }
        sleep_ms = DSM_TP_SLEEP_MAX_MS;
        if (end_us >= 0 && (end_us - now_us) / 1e3 < sleep_ms) {
            sleep_ms = (int)((end_us - now_us) / 1e3) + 1;
        }
        status = dsm_tp_sleep(tp, sleep_ms);
        if (status != DSM_OK) {
            return status;
        }
        if (dsm_tp_progress(tp)) {
            return DSM_OK;
        }
        now_us = dsm_now_ns() / 1e3;
    }
    return DSM_ERR_TIMEOUT;
}
