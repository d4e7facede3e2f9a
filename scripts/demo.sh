#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: installs the packages dsm needs,
# builds it, and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/build.sh
build_dir=${BUILD_DIR:-build}
echo "== dsm-info: can dsm run on this host? =="
"$build_dir/tools/dsm-info"
