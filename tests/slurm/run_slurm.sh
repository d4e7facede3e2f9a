#!/usr/bin/env bash
# tests/slurm/run_slurm.sh - run dsm programs under a real Slurm on this host. The ctest
# `slurm_srun_sbatch` (label slurm) calls it.
#
#   tests/slurm/run_slurm.sh HELLO JACOBI
#
# A private cluster of one node: munged, slurmctld and slurmd (Debian's munge and
# slurm-wlm) started as root from a scratch directory with their own key, slurm.conf,
# mpi.conf, ports, state, spool, pid and log files; nothing read from or written to
# /etc/slurm, /etc/munge, /run or /var. Then, with the mpi/pmix plugin:
#   1. `srun -n 2 HELLO`  and  `srun -n 2 JACOBI` (dsm's PMIx bootstrap path);
#   2. `sbatch --wait` of a batch script that runs `srun -n 2 JACOBI`.
# Each must exit 0, print its own verdict on both nodes and log that it joined via pmix.
# Teardown (trap, also on failure or a signal): cancel the jobs, stop the daemons, kill
# any process still carrying this run's marker variable, remove the scratch directory.
# Exit 77 (skip) with the reason when the daemons are not installed or we are not root.
set -euo pipefail
shopt -s extglob

readonly step_timeout=60  # seconds for one srun or sbatch --wait (each takes ~1-3 s)
readonly start_timeout=30 # seconds for the node to come up idle

# shellcheck source=tests/common/script_log.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common/script_log.sh" slurm

(($# == 2)) || die "usage: $0 HELLO JACOBI"
hello=$(realpath "$1")
jacobi=$(realpath "$2")
[[ -x $hello && -x $jacobi ]] || die "not executable: $hello $jacobi"

# ------------------------------------------------------------------ prerequisites

# slurmd must be root to start job steps (it switches to the job's user).
[[ $(id -u) -eq 0 ]] || skip "slurmd needs root; run as root"
missing=()
for tool in munged munge slurmctld slurmd srun sbatch sinfo squeue scancel; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
((${#missing[@]} == 0)) ||
    skip "not installed: ${missing[*]} (apt-get install slurm-wlm munge; scripts/deps.sh --extra)"

# Inside a job of another Slurm (CI on a cluster) its variables would send srun there.
for name in $(compgen -e); do
    [[ $name != @(SLURM|SBATCH|SALLOC|SRUN|PMIX|PMI)_* ]] || unset "$name"
done

# ------------------------------------------------------------------ scratch and teardown

# munged wants every directory on its socket's path searchable by all: 0755, not 0700.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/dsm-slurm.XXXXXX")
chmod 755 "$scratch"
# Every process of this run (the daemons, slurmstepd, srun and the job's tasks) inherits
# this variable: teardown finds leftovers by it, never by a process name.
readonly marker="DSM_SLURM_TEST_RUN=$scratch"
child_pids=()
munged_pid=none

# wait_until SECONDS COMMAND...: polls COMMAND until it succeeds; fails after SECONDS.
wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...: wait_until or fail the test
    wait_until "$1" "${@:3}" || die "$2 not within $1 s"
}
no_jobs() { [[ -z $(timeout 5 squeue -h -o %i) ]]; }

# The pids of this run's processes, but the one given (if any).
processes_marked() {
    grep -lzxF "$marker" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 |
        grep -vxF "${1:-none}" || true
}

# processes_stop [EXCEPT]: TERM the run's processes (but EXCEPT) until they are gone,
# KILL after 10 s, give up (saying so) after 15 s.
processes_stop() {
    local pids=() signal=TERM deadline=$((SECONDS + 10))
    while mapfile -t pids < <(processes_marked "${1:-}") && ((${#pids[@]} > 0)); do
        if ((SECONDS >= deadline + 5)); then
            log "cannot stop processes: ${pids[*]}"
            return 1
        elif ((SECONDS >= deadline)) && [[ $signal == TERM ]]; then
            signal=KILL
            log "killing leftover processes: ${pids[*]}"
        fi
        kill -"$signal" "${pids[@]}" 2>/dev/null || true
        sleep 0.2
    done
}

teardown() {
    local status=$? pid
    trap - EXIT INT TERM HUP
    if [[ -n ${SLURM_CONF:-} ]]; then
        # Jobs end while slurmctld is there to hear it (a step otherwise retries for
        # its completion message); up to 10 s.
        timeout 10 scancel --full --quiet --user=root >/dev/null 2>&1 || true
        wait_until 10 no_jobs || log "jobs still listed after scancel: stopping anyway"
    fi
    # munged last: the Slurm daemons authenticate through it until they are gone.
    processes_stop "$munged_pid" || status=1
    processes_stop || status=1
    for pid in "${child_pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if ((status != 0 && status != skip_status)); then
        for file in "$scratch"/log/*.log; do
            [[ -f $file ]] || continue
            log "---- last lines of $file"
            tail -n 20 "$file" >&2
        done
    fi
    rm -rf "$scratch"
    exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

mkdir -m 755 "$scratch/run"
mkdir -m 700 "$scratch/etc" "$scratch/munge" "$scratch/log" "$scratch/state" \
    "$scratch/spool" "$scratch/pmix"

# Starts a daemon in the foreground of a background job, with the marker.
daemon_start() {
    local name=$1
    shift
    env "$marker" "$@" >"$scratch/log/$name.stderr" 2>&1 &
    child_pids+=("$!")
}

# ------------------------------------------------------------------ munge

dd if=/dev/urandom of="$scratch/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$scratch/munge/munge.key"
readonly munge_socket=$scratch/run/munge.sock
daemon_start munged munged --foreground --socket="$munge_socket" \
    --key-file="$scratch/munge/munge.key" --pid-file="$scratch/run/munged.pid" \
    --log-file="$scratch/log/munged.log" --seed-file="$scratch/munge/munged.seed"
munged_pid=${child_pids[-1]}

munge_works() { munge -S "$munge_socket" -n | unmunge -S "$munge_socket"; }
wait_for 10 "munged answering on $munge_socket" munge_works

# ------------------------------------------------------------------ slurm.conf

# Two free TCP ports (slurmctld, slurmd), from a range the default ones (6817/6818) and
# the ephemeral range (32768+) are outside of.
ports_pick() {
    local used port picked=()
    used=$(ss -Htan | awk '{ n = split($4, a, ":"); print a[n] }' | sort -u)
    while ((${#picked[@]} < 2)); do
        port=$((20000 + RANDOM % 12000))
        grep -qxF "$port" <<<"$used" && continue
        [[ " ${picked[*]} " == *" $port "* ]] && continue
        picked+=("$port")
    done
    echo "${picked[@]}"
}
read -r ctld_port slurmd_port <<<"$(ports_pick)"
host=$(hostname -s)
cpus=$(nproc)

export SLURM_CONF=$scratch/etc/slurm.conf
cat >"$SLURM_CONF" <<EOF
# A one-node cluster private to this test run ($0).
ClusterName=dsmtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$munge_socket
CredType=cred/munge
StateSaveLocation=$scratch/state
SlurmdSpoolDir=$scratch/spool
SlurmctldPidFile=$scratch/run/slurmctld.pid
SlurmdPidFile=$scratch/run/slurmd.pid
SlurmctldLogFile=$scratch/log/slurmctld.log
SlurmdLogFile=$scratch/log/slurmd.log
MailProg=/bin/true
# Short waits between a cancelled step's TERM and KILL: teardown stays quick.
KillWait=2
# No cgroups: processes are tracked through /proc, tasks are not confined or bound.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
ReturnToService=2
MpiDefault=pmix
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=5 State=UP OverSubscribe=YES
EOF
# The PMIx plugin's per-step client directories go to the scratch, not /tmp.
cat >"$scratch/etc/mpi.conf" <<EOF
PMIxCliTmpDirBase=$scratch/pmix
EOF

if ! srun --mpi=list 2>&1 | grep -qw pmix; then
    skip "this Slurm has no mpi/pmix plugin (srun --mpi=list: $(srun --mpi=list 2>&1 | tr '\n' ' '))"
fi

daemon_start slurmctld slurmctld -D -f "$SLURM_CONF"
daemon_start slurmd slurmd -D -N "$host" -f "$SLURM_CONF"

node_idle() { [[ $(sinfo -h -n "$host" -o %t) == idle ]]; }
wait_for "$start_timeout" "node $host idle (sinfo)" node_idle
log "cluster up: node $host, $cpus CPUs, ports $ctld_port/$slurmd_port"

# ------------------------------------------------------------------ jobs

# srun and sbatch pass the environment on to the tasks: each logs how it joined the job.
export DSM_LOG_LEVEL=info

# client_run OUT COMMAND...: a Slurm client command with the marker, bounded, output to
# OUT. Run in the background and waited for: a signal to this script then runs the
# teardown at once (bash defers traps until a foreground command ends).
client_run() {
    local out=$1
    shift
    env "$marker" timeout "$step_timeout" "$@" >"$out" 2>&1 &
    child_pids+=("$!")
    wait "$!"
}

# check_output FILE PROGRAM VERDICT: both nodes printed VERDICT and joined via PMIx.
check_output() {
    local file=$1 program=$2 verdict=$3 count
    count=$(grep -c -- "$verdict" "$file" || true)
    ((count == 2)) || die "$program: $count of 2 nodes printed '$verdict' ($(cat "$file"))"
    count=$(grep -c 'bootstrap: joined as node [01] of 2 via pmix' "$file" || true)
    ((count == 2)) || die "$program: $count of 2 nodes joined via pmix ($(cat "$file"))"
}

# srun_check NAME VERDICT PROGRAM...: srun -n 2, the verdict on both nodes.
srun_check() {
    local name=$1 verdict=$2 out=$scratch/$1.out
    shift 2
    log "srun -n 2 --mpi=pmix $*"
    client_run "$out" srun -n 2 --overcommit --mpi=pmix --time=2 "$@" ||
        die "srun $name exited $? ($(cat "$out"))"
    check_output "$out" "srun $name" "$verdict"
}

srun_check hello "all slots verified" "$hello"
srun_check jacobi "jacobi node [01]/2: .*: verified against the serial run" "$jacobi"

# A batch job: sbatch --wait returns the job's exit status once it has ended.
cat >"$scratch/job.sh" <<EOF
#!/bin/sh
#SBATCH --ntasks=2
#SBATCH --overcommit
#SBATCH --time=2
#SBATCH --output=$scratch/sbatch.out
srun --mpi=pmix "$jacobi"
EOF
log "sbatch --wait (srun -n 2 --mpi=pmix $jacobi)"
client_run "$scratch/sbatch.log" sbatch --wait --chdir="$scratch" "$scratch/job.sh" ||
    die "sbatch --wait exited $? ($(cat "$scratch/sbatch.log" "$scratch/sbatch.out" 2>/dev/null))"
check_output "$scratch/sbatch.out" "sbatch job" "jacobi node [01]/2: .*: verified against the serial run"

log "PASS: srun hello, srun jacobi, sbatch jacobi (2 nodes each, PMIx bootstrap)"
