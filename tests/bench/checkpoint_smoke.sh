#!/bin/sh
# bench/checkpoint once with its smallest size, then its restart probe from the
# image it left (the probe needs the same --max-mib: the same arena).
# Usage: checkpoint_smoke.sh <dsmrun> <checkpoint>
set -eu
dsmrun=$1 bench=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$dsmrun" -n 2 -- "$bench" --dir="$dir" --max-mib=64 -i 1 --json
"$dsmrun" -n 2 --restart "$dir/64mib" -- "$bench" --dir="$dir" --max-mib=64 --probe=64 --json
