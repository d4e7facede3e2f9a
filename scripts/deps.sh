#!/usr/bin/env bash
# Installs the Debian 12 packages dsm needs to build, test and benchmark.
# The one list of build dependencies: demo.sh and .ci/run call this.
# Usage: scripts/deps.sh [--extra]   (--extra adds the CI-only tools)
set -euo pipefail

packages=(
  build-essential cmake pkg-config gfortran
  libucx-dev ucx-utils libibverbs-dev rdma-core
  libhwloc-dev hwloc
  libopenmpi-dev openmpi-bin libpmix-dev
  iproute2 procps
)
# CI adds the tools behind the model, fuzz and plot steps, and the Slurm of tests/slurm
# (its mpi/pmix plugin loads the libpmix2 of libpmix-dev above).
extra_packages=(spin clang libclang-rt-14-dev gnuplot-nox qemu-system-x86 debootstrap e2fsprogs
  slurm-wlm munge)

if [[ "${1:-}" == "--extra" ]]; then
  packages+=("${extra_packages[@]}")
fi

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "deps.sh: missing packages: ${missing[*]}" >&2
  echo "deps.sh: run as root (or: sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
