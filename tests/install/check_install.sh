#!/usr/bin/env bash
# Installs the build tree into a scratch prefix, then builds and runs a small
# program against it three ways: pkg-config (shared), pkg-config --static, and
# find_package(dsm) (shared and static).
# Then the README's first program, built against the install and run on two
# nodes with the installed dsmrun.
# Usage: check_install.sh <build dir> <consumer source dir> <README.md>
set -euo pipefail
build_dir=$1
consumer_dir=$2
readme=$3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

cmake --install "$build_dir" --prefix "$scratch/prefix" >/dev/null
libdir=$(dirname "$(find "$scratch/prefix" -name dsm.pc -print -quit)")
export PKG_CONFIG_PATH="$libdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
prefix_lib=$(dirname "$libdir")

# shellcheck disable=SC2046 # word splitting of pkg-config output is intended
cc "$consumer_dir/app.c" $(pkg-config --cflags --libs dsm) -o "$scratch/app_pc"
LD_LIBRARY_PATH="$prefix_lib" "$scratch/app_pc"
echo "pkg-config (shared): ok"

# shellcheck disable=SC2046
cc "$consumer_dir/app.c" $(pkg-config --static --cflags dsm) "$prefix_lib/libdsm.a" \
  $(pkg-config --static --libs-only-l --libs-only-L dsm | sed 's/-ldsm//') -o "$scratch/app_pc_static"
"$scratch/app_pc_static"
echo "pkg-config (static): ok"

cmake -S "$consumer_dir" -B "$scratch/consumer" -DCMAKE_PREFIX_PATH="$scratch/prefix" >/dev/null
cmake --build "$scratch/consumer" >/dev/null
LD_LIBRARY_PATH="$prefix_lib" "$scratch/consumer/app_cmake"
"$scratch/consumer/app_cmake_static"
echo "find_package(dsm) (shared and static): ok"

# The first ```c block of the README, as a user would paste it.
awk '/^```c$/ {inside = 1; next} inside && /^```$/ {exit} inside' "$readme" >"$scratch/readme.c"
# shellcheck disable=SC2046
cc "$scratch/readme.c" $(pkg-config --cflags --libs dsm) -o "$scratch/readme_app"
output=$(LD_LIBRARY_PATH="$prefix_lib" "$scratch/prefix/bin/dsmrun" -n 2 -- "$scratch/readme_app")
echo "$output"
grep -q "sum = 499500" <<<"$output" || { echo "FAIL: the README program printed no correct sum"; exit 1; }
echo "README program (installed dsmrun -n 2): ok"
