#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: installs the packages dsm needs,
# builds it, checks the host (dsm-info), then runs a 4-node Jacobi solver on
# this machine with dsmrun and prints its verified result and statistics.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/build.sh
build_dir=${BUILD_DIR:-build}

echo "== dsm-info: can dsm run on this host? =="
"$build_dir/tools/dsm-info"

echo
echo "== dsmrun -n 4 examples/jacobi 1024 500 (DSM_STATS=1) =="
DSM_STATS=1 "$build_dir/tools/dsmrun" -n 4 --tag-output -- "$build_dir/examples/jacobi" 1024 500
