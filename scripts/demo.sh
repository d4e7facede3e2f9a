#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: installs the packages dsm needs,
# builds it, checks the host (dsm-info), then runs a Jacobi solver with dsmrun
# on 1 node and on 4 nodes of this machine, each checking its result against a
# serial run, and says how the two compare (and when the nodes outnumber the
# CPUs, which is the case on a small machine).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/build.sh
build_dir=${BUILD_DIR:-build}
nodes=4
job=("$build_dir/examples/jacobi" 1024 500)

echo "== dsm-info: can dsm run on this host? =="
"$build_dir/tools/dsm-info"

# Runs the job on $1 nodes (extra environment after it), prints its output and
# leaves node 0's time in seconds in $seconds.
run_jacobi() {
  local n=$1 output
  shift
  output=$(env "$@" "$build_dir/tools/dsmrun" -n "$n" --tag-output -- "${job[@]}")
  echo "$output"
  seconds=$(sed -n 's/^\[0\] jacobi node 0\/.* \([0-9.]*\) s, heat .*/\1/p' <<<"$output")
  [[ -n $seconds ]] || { echo "demo.sh: no time in the output of node 0" >&2; exit 1; }
}

echo
echo "== dsmrun -n 1 examples/jacobi 1024 500 =="
run_jacobi 1
one=$seconds
echo
echo "== dsmrun -n $nodes examples/jacobi 1024 500 (DSM_STATS=1) =="
run_jacobi "$nodes" DSM_STATS=1
many=$seconds

echo
echo "== what this shows =="
awk -v one="$one" -v many="$many" -v n="$nodes" 'BEGIN {
  printf "1 node: %.3f s, %d nodes: %.3f s: %d nodes take %.2fx the time of one\n",
         one, n, many, n, many / one }'
cpus=$(nproc)
if ((nodes > cpus)); then
  echo "$nodes nodes share $cpus CPUs here, so they take turns on the CPUs and every"
  echo "hand-over between nodes waits for a CPU: expect more time than on 1 node. On a"
  echo "cluster each node has CPUs of its own (docs/performance.md has the figures)."
fi
