#!/usr/bin/env bash
# examples/jacobi_restart: killed after the image of sweep 20 is on disk, then
# restarted from it; the result must equal a serial run of all 40 sweeps.
# Usage: jacobi_restart.sh <dsmrun> <jacobi_restart> <nodes>
set -u
dsmrun=$1 prog=$2 nodes=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
if "$dsmrun" -n "$nodes" -- "$prog" "$dir/image" 64 40 10 20 >"$dir/first.out" 2>&1; then
  echo "FAIL: the first run was not killed"; cat "$dir/first.out"; exit 1
fi
grep -q 'image of sweep 20 on disk' "$dir/first.out" ||
  { echo "FAIL: no image before the kill"; cat "$dir/first.out"; exit 1; }
"$dsmrun" -n "$nodes" --restart "$dir/image" -- "$prog" "$dir/image" 64 40 10 >"$dir/second.out" 2>&1
rc=$?
cat "$dir/second.out"
grep -q 'resuming after sweep 20' "$dir/second.out" || { echo "FAIL: did not resume"; exit 1; }
[[ $(grep -c 'verified against the serial run' "$dir/second.out") == "$nodes" ]] || exit 1
exit $rc
