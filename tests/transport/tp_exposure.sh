#!/bin/bash
# What a running job exposes to the other users of its host (docs/design.md,
# "Security and threat model"). Starts a 2-node job under dsmrun that pauses
# with everything it shares set up (tp_exposure), then checks that
#  1. every SysV shared memory segment and message queue the job's processes
#     created or used, and every file under /dev/shm, /tmp, /var/tmp or /run
#     they hold open or mapped, has no group or other permission bit;
#  2. another user in the job owner's group (setpriv: nobody, with the owner's
#     group) can attach or open none of them;
#  3. no process of the job listens on a TCP address other than loopback (a
#     local job: dsmrun's coordinator is 127.0.0.1).
# Then lets the job finish, which must succeed.
#   tp_exposure.sh DSMRUN PROGRAM PROBE
# Needs root (to act as another user); exit 77 (skip) with the reason otherwise.
set -u
dsmrun=$1 prog=$2 probe=$3
other_uid=65534 # nobody

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root to act as another user (setpriv)"
for tool in setpriv ss stat readlink; do
    command -v "$tool" >/dev/null || skip "$tool not installed"
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/tp_exposure.XXXXXX") || exit 1
job=
cleanup() {
    if [ -n "$job" ] && kill -0 "$job" 2>/dev/null; then
        kill -TERM "$job" 2>/dev/null
        exec 3>"$dir/go" # a node still waiting to be released
        wait "$job"
    fi
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# The probe runs as the other user: it must be able to reach it.
chmod 711 "$dir" && cp "$probe" "$dir/probe" && chmod 755 "$dir/probe" || exit 1
mkfifo -m 600 "$dir/ready" "$dir/go" || exit 1
exec 4<>"$dir/ready"

TP_EXPOSURE_DIR=$dir "$dsmrun" -n 2 -- "$prog" & job=$!

pids=()
for _ in 1 2; do
    read -r -t 120 rank pid <&4 || { echo "FAIL: the job did not reach its pause"; exit 1; }
    echo "node $rank is pid $pid"
    pids+=("$pid")
done
is_job_pid() {
    local p
    for p in "${pids[@]}"; do [ "$1" = "$p" ] && return 0; done
    return 1
}

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# A mode (octal text) with a group or other bit is shared beyond the owner.
check_mode() { # what mode
    if [ $((8#$2 & 8#077)) -ne 0 ]; then
        fail "$1 has mode $2: readable or writable by others than its owner"
    else
        echo "ok: $1 has mode $2"
    fi
}

targets=()
# SysV shared memory: key shmid perms size cpid lpid ...
while read -r _ id perms _ cpid lpid _; do
    if is_job_pid "$cpid" || is_job_pid "$lpid"; then
        check_mode "SysV segment $id" "$perms"
        targets+=("shm:$id")
    fi
done < <(tail -n +2 /proc/sysvipc/shm)
# SysV message queues: key msqid perms cbytes qnum lspid lrpid ...
while read -r _ id perms _ _ lspid lrpid _; do
    if is_job_pid "$lspid" || is_job_pid "$lrpid"; then
        check_mode "SysV message queue $id" "$perms"
    fi
done < <(tail -n +2 /proc/sysvipc/msg)

shared_path() { case "$1" in /dev/shm/*|/tmp/*|/var/tmp/*|/run/*) return 0;; esac; return 1; }
for pid in "${pids[@]}"; do
    for fd in /proc/"$pid"/fd/*; do
        target=$(readlink "$fd") || continue
        shared_path "$target" || continue
        check_mode "$target (fd of pid $pid)" "$(stat -L -c %a "$fd")"
        targets+=("file:$fd")
        [ -e "${target% (deleted)}" ] && targets+=("file:${target% (deleted)}")
    done
    while read -r range perms _ _ _ path; do
        # Private mappings (program images, copy-on-write) never share the job's data.
        [[ $perms == *s ]] || continue
        shared_path "$path" || continue
        check_mode "$path (mapped by pid $pid)" "$(stat -L -c %a "/proc/$pid/map_files/$range")"
        [ -e "${path% (deleted)}" ] && targets+=("file:${path% (deleted)}")
    done < /proc/"$pid"/maps
done

echo "as uid $other_uid in group $(id -g):"
setpriv --reuid="$other_uid" --regid="$(id -g)" --clear-groups "$dir/probe" "${targets[@]}" ||
    fail "another user of the owner's group reached the job's memory"

# Listening TCP sockets of the job: State Recv-Q Send-Q Local Peer Process
while read -r _ _ _ local _ process; do
    for pid in "${pids[@]}"; do
        case "$process" in *"pid=$pid,"*) ;; *) continue;; esac
        case "$local" in
            127.*|\[::1\]:*|\[::ffff:127.*) echo "ok: pid $pid listens on $local" ;;
            *) fail "pid $pid listens on $local (not loopback) in a job local to this host" ;;
        esac
    done
done < <(ss -ltnpH)

exec 3>"$dir/go" # release the job
wait "$job"; rc=$?
job=
echo "job exit $rc, $failures failures"
[ "$rc" -eq 0 ] && [ "$failures" -eq 0 ]
