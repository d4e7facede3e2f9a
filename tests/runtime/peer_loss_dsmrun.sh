#!/usr/bin/env bash
# Under dsmrun, a node killed with SIGKILL mid-run makes dsmrun exit non-zero,
# name the node, and leave no process of the job behind.
# Usage: peer_loss_dsmrun.sh <dsmrun> <rt_test binary> <nodes>
set -u
dsmrun=$1
prog=$2
nodes=$3
lost=$((nodes - 1))
# A private copy of the program: its path is a marker no other process has.
scratch=$(mktemp -d)
trap 'pkill -KILL -f "$scratch/" 2>/dev/null; rm -rf "$scratch"' EXIT
cp "$prog" "$scratch/rt_test_marker"

"$dsmrun" -n "$nodes" -- "$scratch/rt_test_marker" peer_loss >"$scratch/out" 2>"$scratch/err"
status=$?
cat "$scratch/err"
failed=0
if ((status == 0)); then
  echo "FAIL: dsmrun exited 0 although node $lost was killed"
  failed=1
fi
if ! grep -q "node $lost" "$scratch/err"; then
  echo "FAIL: dsmrun did not name node $lost"
  failed=1
fi
if pgrep -f "$scratch/rt_test_marker" >/dev/null; then
  echo "FAIL: processes of the job are left:"
  pgrep -af "$scratch/rt_test_marker"
  failed=1
fi
if ((failed)); then
  exit 1
fi
echo "dsmrun exited $status naming node $lost; no process left"
