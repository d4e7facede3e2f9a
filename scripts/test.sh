#!/usr/bin/env bash
# Builds if needed and runs the default test suite (everything but the long
# "stress" label and the CI-only "fuzz" and "rdma" labels); ends with ctest's summary line.
# Extra arguments go to ctest, e.g. ./scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
./scripts/deps.sh # a no-op once the build dependencies are installed
./scripts/build.sh
cd "$build_dir"
ctest --output-on-failure -LE 'stress|fuzz|rdma' "$@"
