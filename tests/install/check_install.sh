#!/usr/bin/env bash
# Follows the README's "Install, then a first program" as a new user would: in a copy
# of the source tree and with HOME in a scratch folder, it runs the README's install
# commands, writes its sum.c, and runs its build-and-run commands verbatim, for C and
# then for the installed Fortran example (dsmrun and mpirun, no LD_LIBRARY_PATH, no
# variable the README does not show). Then the other
# ways to link the installed package: pkg-config --static and find_package(dsm)
# (shared and static).
# Usage: check_install.sh <source dir> <consumer source dir>
set -euo pipefail
source_dir=$1
consumer_dir=$2
readme=$source_dir/README.md
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# The n-th fenced block of a language inside the README's install section.
readme_block() { # <language> <n>
  awk -v lang="$1" -v want="$2" '
    /^## / { in_section = ($0 ~ /^## Install, then a first program/) }
    in_section && $0 == "```" lang { n++; if (n == want) { inside = 1; next } }
    inside && /^```$/ { exit }
    inside' "$readme"
}
install_block=$(readme_block sh 1)
run_block=$(readme_block sh 2)
fortran_block=$(readme_block sh 3)
readme_block c 1 >"$scratch/sum.c"
for block in install_block run_block fortran_block; do
  [[ -n ${!block} ]] || { echo "FAIL: README has no $block in its install section"; exit 1; }
done

# A clean copy of the sources: no build folders, no git metadata.
mkdir "$scratch/src" "$scratch/home" "$scratch/work"
tar -C "$source_dir" --exclude='./build*' --exclude=./.git --exclude=./bench-results -cf - . |
  tar -C "$scratch/src" -xf -
mv "$scratch/sum.c" "$scratch/work/sum.c"

# One shell, as the user's terminal: the install block's exports reach the run block.
output=$(cd "$scratch/src" && env -u LD_LIBRARY_PATH -u PKG_CONFIG_PATH HOME="$scratch/home" \
  bash -euo pipefail -c "$install_block
cd '$scratch/work'
$run_block
$fortran_block" 2>&1) || { echo "$output" | tail -40; echo "FAIL: the README's commands failed"; exit 1; }
echo "$output" | grep 'sum = '
sums=$(grep -c '^sum = 499500' <<<"$output" || true)
[[ $sums == 2 ]] || { echo "FAIL: expected the correct sum from dsmrun and mpirun, got $sums"; exit 1; }
verdicts=$(grep -c 'verified against the serial run' <<<"$output" || true)
[[ $verdicts == 4 ]] || { echo "FAIL: expected 2 nodes x (dsmrun, mpirun) Fortran Jacobi verdicts, got $verdicts"; exit 1; }
echo "README install, build, dsmrun and mpirun, C and Fortran: ok"

prefix=$scratch/home/dsm
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
# shellcheck disable=SC2046 # word splitting of pkg-config output is intended
cc "$consumer_dir/app.c" $(pkg-config --static --cflags dsm) "$prefix/lib/libdsm.a" \
  $(pkg-config --static --libs-only-l --libs-only-L dsm | sed 's/-ldsm//') -o "$scratch/app_pc_static"
"$scratch/app_pc_static"
echo "pkg-config (static): ok"

cmake -S "$consumer_dir" -B "$scratch/consumer" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$scratch/consumer" >/dev/null
"$scratch/consumer/app_cmake"
"$scratch/consumer/app_cmake_static"
echo "find_package(dsm) (shared and static): ok"
