#!/usr/bin/env bash
# Configures (once) and builds dsm in BUILD_DIR (default: build/).
# Extra arguments go to the first cmake configure, e.g. -DDSM_ENABLE_ASAN=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$build_dir" "$@"
fi
cmake --build "$build_dir" -j "$(nproc)"
