#!/usr/bin/env bash
# A node killed with SIGKILL mid-run: every other node must stop by itself
# within 10 s, with exit status 3 and an error line naming the lost node.
# The nodes are started directly (not by dsmrun, which would stop the
# survivors itself as soon as one node dies).
# Usage: peer_loss.sh <rt_test binary> <nodes>
set -u
prog=$1
nodes=$2
lost=$((nodes - 1))
limit_s=10
logs=$(mktemp -d)
# A port nothing listens on yet, in dsmrun's range (below the ephemeral ports).
port=$((20000 + RANDOM % 12768))
while [[ -n $(ss -Hltn "sport = :$port" 2>/dev/null) ]]; do
  port=$((20000 + RANDOM % 12768))
done
key=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  rm -rf "$logs"
}
trap cleanup EXIT

for ((rank = 0; rank < nodes; rank++)); do
  DSM_RANK=$rank DSM_NNODES=$nodes DSM_COORD=127.0.0.1:$port DSM_JOB_KEY=$key \
    "$prog" peer_loss >"$logs/$rank.out" 2>"$logs/$rank.err" &
  pids+=($!)
done

wait "${pids[$lost]}"
status=$?
if ((status != 128 + 9)); then
  echo "FAIL: node $lost was meant to die of SIGKILL, exit status $status"
  cat "$logs/$lost.err"
  exit 1
fi
# The deadline: a survivor still running after it is a failure (and is killed).
# (Its output goes nowhere: a sleep left holding ctest's pipe would delay the test.)
( sleep "$limit_s"; for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done ) \
  >/dev/null 2>&1 &
watchdog=$!

failed=0
for ((rank = 0; rank < lost; rank++)); do
  wait "${pids[$rank]}"
  status=$?
  if ((status != 3)); then
    echo "FAIL: node $rank exit status $status (want 3: stopped after losing a node)"
    failed=1
  elif ! grep -q "node $lost was lost" "$logs/$rank.err"; then
    echo "FAIL: node $rank did not name the lost node $lost:"
    failed=1
  fi
  sed "s/^/  [$rank] /" "$logs/$rank.err"
done
pkill -P "$watchdog" 2>/dev/null # its sleep
kill "$watchdog" 2>/dev/null
wait "$watchdog" 2>/dev/null
if ((failed)); then
  echo "0 passed, 1 failed"
  exit 1
fi
echo "all $lost survivors stopped within ${limit_s}s naming node $lost"
