#!/usr/bin/env bash
# The coherence layer is pure: its objects, with common/'s page map that they
# call, may call only libc's memory functions (and assert, and sanitizer hooks
# in sanitizer builds). A system call, stdio, a clock or a thread primitive
# here, or a call into any other part of common/, fails this test.
#   check_pure.sh OBJECT...   (coherence's objects and common/pagemap.c's)
set -euo pipefail
# libgcc's __popcountdi2 is the compiler's helper for __builtin_popcountll.
allowed='^(calloc|malloc|free|memset|memcpy|__assert_fail|__stack_chk_fail|__popcountdi2|_GLOBAL_OFFSET_TABLE_)$|^__(asan|ubsan|sanitizer|tsan|msan)_'
defined=$(nm --defined-only "$@" | awk 'NF == 3 {print $3}' | sort -u)
# Undefined in one object, not defined by another of the layer.
symbols=$(nm -u "$@" | awk 'NF >= 1 && $NF !~ /:$/ {print $NF}' | sort -u | comm -23 - <(echo "$defined"))
if [[ -z "$symbols" ]]; then
  echo "FAIL: no undefined symbols found in $*: not the layer's objects?"
  exit 1
fi
bad=$(grep -Ev "$allowed" <<<"$symbols" || true)
if [[ -n "$bad" ]]; then
  echo "FAIL: coherence/ references outside its allowed set:"
  echo "$bad"
  exit 1
fi
echo "coherence/ is pure; it calls only: $(tr '\n' ' ' <<<"$symbols")"
