#!/bin/sh
# A document holds, between the lines <!-- BEGIN name --> and <!-- END name -->,
# exactly what a command prints, so the document cannot drift from the code:
# docs/config.md holds `dsm-info --config-markdown` (the table of DSM_* variables of
# runtime/config.c), docs/tools.md holds `dsmrun --help` and `dsm-info --help`.
#   doc_block.sh <document> <name> [--fenced] [--update] -- <command> [args...]
# --fenced: the block is the output inside a ```text fence (help texts);
# --update rewrites the block from the command's output instead of comparing.
set -eu
doc=$1 name=$2
shift 2
update=0 fenced=0
while [ "$1" = --update ] || [ "$1" = --fenced ]; do
    [ "$1" = --update ] && update=1
    [ "$1" = --fenced ] && fenced=1
    shift
done
[ "$1" = -- ] || {
    echo "usage: $0 <document> <name> [--fenced] [--update] -- <command> [args...]" >&2
    exit 2
}
shift
begin="<!-- BEGIN $name -->"
end="<!-- END $name -->"
generated=$(mktemp) documented=$(mktemp)
trap 'rm -f "$generated" "$documented"' EXIT

{
    [ $fenced = 0 ] || echo '```text'
    "$@"
    [ $fenced = 0 ] || echo '```'
} >"$generated"
grep -qxF "$begin" "$doc" && grep -qxF "$end" "$doc" || {
    echo "doc_block: $doc lacks the lines '$begin' and '$end'" >&2
    exit 1
}
if [ $update = 1 ]; then
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
    echo "doc_block: $doc's block '$name' differs from what the command prints (- documented," \
         "+ printed); rewrite it: $0 $doc '$name'$([ $fenced = 0 ] || echo ' --fenced') --update -- $*" >&2
    exit 1
fi
echo "doc_block: $doc's block '$name' is what the command prints ($(wc -l <"$generated") lines)"
