#!/bin/sh
# docs/config.md holds, between its BEGIN/END markers, exactly what
# `dsm-info --config-markdown` prints from the table in runtime/config.c: every
# DSM_* variable dsm knows is documented with its default, and nothing else is.
#   config_doc.sh <dsm-info> <docs/config.md> [--update]
# --update rewrites the block from the table instead of comparing.
set -eu
info=$1 doc=$2
begin='<!-- BEGIN dsm-info --config-markdown -->'
end='<!-- END dsm-info --config-markdown -->'
generated=$(mktemp) documented=$(mktemp)
trap 'rm -f "$generated" "$documented"' EXIT

"$info" --config-markdown >"$generated"
grep -qxF "$begin" "$doc" && grep -qxF "$end" "$doc" || {
    echo "config_doc: $doc lacks the lines '$begin' and '$end'" >&2
    exit 1
}
if [ "${3:-}" = --update ]; then
    awk -v begin="$begin" -v end="$end" -v generated="$generated" '
        $0 == begin { print; while ((getline line < generated) > 0) print line; skip = 1; next }
        $0 == end   { skip = 0 }
        !skip' "$doc" >"$documented"
    cat "$documented" >"$doc"
    exit 0
fi
awk -v begin="$begin" -v end="$end" '$0 == end { inside = 0 } inside; $0 == begin { inside = 1 }' \
    "$doc" >"$documented"
if ! diff -u "$documented" "$generated"; then
    echo "config_doc: $doc differs from the table in runtime/config.c (- documented," \
         "+ table); rewrite it: $0 $info $doc --update" >&2
    exit 1
fi
echo "config_doc: $doc documents the $(grep -c '^| `DSM_' "$generated") DSM_* variables of the table"
