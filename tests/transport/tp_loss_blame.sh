#!/bin/bash
# Who a survivor blames. NODES nodes of rt_test's peer_loss case, each in its
# own pid namespace (so no pidfd: peer loss goes through UCX error handling,
# over tcp), the last one killed: every survivor must stop (status 3) naming
# the killed node, and the first loss the transport reports to it must be
# that node, never a survivor that stopped because of the loss before this
# one saw it (survivors named only another survivor in 7 of 13 runs).
# Repeated RUNS times: which failure a survivor sees first is a race.
#   tp_loss_blame.sh RT_TEST NODES RUNS
# Exit 77 (skip) with the reason when not root or unshare is missing.
set -u
prog=$1 nodes=$2 runs=$3
victim=$((nodes - 1))

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root for pid namespaces"
command -v unshare >/dev/null || skip "unshare (util-linux) not installed"
unshare --pid --fork true 2>/dev/null || skip "cannot create a pid namespace here"

logs=$(mktemp -d) || exit 1
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    rm -rf "$logs"
}
trap cleanup EXIT INT TERM

# One run; prints what went wrong, returns nonzero if anything did.
run_once() {
    local port key rank status first bad=0
    port=$((20000 + RANDOM % 12768))
    while [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]; do
        port=$((20000 + RANDOM % 12768))
    done
    key=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
    pids=()
    for ((rank = 0; rank < nodes; rank++)); do
        # bash stays pid 1 of the namespace: rt_test's SIGKILL of itself works.
        DSM_RANK=$rank DSM_NNODES=$nodes DSM_COORD=127.0.0.1:$port DSM_JOB_KEY=$key \
            UCX_TLS=tcp,self timeout -k 5 60 \
            unshare --pid --fork bash -c '"$@"; exit $?' _ "$prog" peer_loss \
            >"$logs/$rank.out" 2>"$logs/$rank.err" &
        pids+=($!)
    done
    for ((rank = 0; rank < nodes; rank++)); do
        wait "${pids[$rank]}"
        status=$?
        if ((rank == victim)); then
            ((status == 128 + 9)) || { echo "  victim exit status $status"; bad=1; }
            continue
        fi
        first=$(grep -m1 'the transport reported node' "$logs/$rank.err")
        if ((status == 128 + 6)) && grep -q 'ucp_request.inl.*Fatal: unexpected error' "$logs/$rank.err"; then
            # UCX 1.13 aborts when its answer to a tcp get of a peer that just
            # died fails (docs/design.md): no blame either way; counted apart.
            echo "  node $rank: UCX aborted (known UCX 1.13 fault), not judged"
            aborts=$((aborts + 1))
        elif ((status != 3)); then
            echo "  node $rank exit status $status (want 3)"
            bad=1
        elif ! grep -q "node $victim was lost" "$logs/$rank.err"; then
            echo "  node $rank did not name node $victim"
            bad=1
        elif [ -n "$first" ] && [[ $first != *"reported node $victim lost"* ]]; then
            echo "  node $rank blamed another node first: $first"
            bad=1
        fi
    done
    pids=()
    if ((bad)); then
        for ((rank = 0; rank < victim; rank++)); do sed "s/^/  [$rank] /" "$logs/$rank.err"; done
    fi
    return "$bad"
}

failed=0 aborts=0
for ((run = 1; run <= runs; run++)); do
    if run_once; then
        echo "run $run: every survivor named node $victim first"
    else
        echo "run $run: FAILED"
        failed=$((failed + 1))
    fi
done
[ "$aborts" -eq 0 ] || echo "survivors aborted by UCX, not judged: $aborts"
echo "$((runs - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
