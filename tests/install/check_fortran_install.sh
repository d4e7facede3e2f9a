#!/usr/bin/env bash
# The Fortran bindings as a user gets them: installs the build tree into a scratch
# prefix, builds examples/jacobi.f90 with nothing but
# `gfortran jacobi.f90 $(pkg-config --cflags --libs dsm-fortran)` (the installed dsm.mod
# and libraries, no build-tree path) and runs it with the installed dsmrun on 2 nodes,
# without LD_LIBRARY_PATH: the run path comes from dsm-fortran.pc and dsm.pc.
# Usage: check_fortran_install.sh <build dir> <source dir> <Fortran compiler>
set -euo pipefail
build_dir=$1
source_dir=$2
fc=$3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
prefix=$scratch/prefix

cmake --install "$build_dir" --prefix "$prefix" >/dev/null
pc=$(find "$prefix" -name dsm-fortran.pc)
[[ -n $pc ]] || { echo "FAIL: no dsm-fortran.pc installed under $prefix"; exit 1; }
mkdir "$scratch/work"
cp "$source_dir/examples/jacobi.f90" "$scratch/work/"
cd "$scratch/work"
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
echo "pkg-config --cflags --libs dsm-fortran: $(pkg-config --cflags --libs dsm-fortran)"
# shellcheck disable=SC2046 # word splitting of pkg-config output is intended
"$fc" jacobi.f90 $(pkg-config --cflags --libs dsm-fortran) -o jacobi
output=$(env -u LD_LIBRARY_PATH "$prefix/bin/dsmrun" -n 2 ./jacobi 2>&1) ||
  { echo "$output"; echo "FAIL: the installed Fortran jacobi failed under dsmrun"; exit 1; }
echo "$output"
verified=$(grep -c 'verified against the serial run' <<<"$output" || true)
[[ $verified == 2 ]] || { echo "FAIL: expected 2 nodes verified, got $verified"; exit 1; }
echo "installed Fortran bindings (pkg-config dsm-fortran, dsmrun -n 2): ok"
