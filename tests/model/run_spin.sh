#!/usr/bin/env bash
# Model-checks tests/model/dsm_coh.pml exhaustively with spin for one
# configuration and fails on any error (assertion: SWMR, data-value, illegal
# transition; invalid end state: a request or access that never completes).
#   run_spin.sh WORKDIR NODES PAGES OPS [OPS0_EXTRA [HASH_BITS [RUN]]]
# RUN = 2: runs of 2 pages (pages homed by pairs; docs/design.md 4.7).
# Exit 77 (ctest skip) when spin or a C compiler is missing.
set -euo pipefail
work=$1 nodes=$2 pages=$3 ops=$4 extra=${5:-0} hash=${6:-24} run=${7:-1}
model="$(cd "$(dirname "$0")" && pwd)/dsm_coh.pml"
cc=${CC:-cc}
if ! command -v spin >/dev/null; then
  echo "SKIP: spin is not installed (Debian package spin; scripts/deps.sh --extra)"
  exit 77
fi
if ! command -v "$cc" >/dev/null; then
  echo "SKIP: no C compiler ($cc) to build spin's verifier"
  exit 77
fi
mkdir -p "$work"
cd "$work"
rm -f pan pan.* ./*.trail
spin -a -DNN="$nodes" -DNP="$pages" -DOPS="$ops" -DOPS0_EXTRA="$extra" -DRUN="$run" "$model"
# SAFETY: assertions and invalid end states (no acceptance cycles); COLLAPSE
# compresses states. -O1 keeps the compile of the large generated file short.
"$cc" -O1 -DSAFETY -DCOLLAPSE -o pan pan.c
status=0
./pan -m4000000 -w"$hash" >pan.out 2>&1 || status=$?
grep -v $'^\t' pan.out | grep -E 'errors:|states, stored|transitions|elapsed|error|violated|invalid' || true
if [[ $status -ne 0 ]] || ! grep -q 'errors: 0$' pan.out || grep -q 'Search not completed' pan.out; then
  echo "FAIL: spin found an error in $nodes nodes x $pages pages, $ops accesses/node (+$extra on node 0), runs of $run"
  [[ -f dsm_coh.pml.trail ]] && spin -t -p -DNN="$nodes" -DNP="$pages" -DOPS="$ops" \
    -DOPS0_EXTRA="$extra" -DRUN="$run" "$model" | tail -60
  exit 1
fi
echo "model: $nodes nodes x $pages pages, $ops accesses/node (+$extra on node 0), runs of $run: verified, no errors"
