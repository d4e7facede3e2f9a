#!/bin/sh
# dsm_init with DSM_* mistakes that must warn, not stop the job (docs/config.md):
# a misspelt name is reported with the closest known one, an unknown one
# without, and a bad DSM_LOG_LEVEL means warn.
#   config_env.sh <rt_test>
set -u
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# A single-node job: no launcher, no bootstrap variables.
env -u DSM_RANK -u DSM_NNODES -u DSM_COORD -u DSM_JOB_KEY -u PMIX_RANK \
    DSM_READAHAED=4 DSM_QWERTY=1 DSM_LOG_LEVEL=bogus "$1" alltoall 2>"$out"
rc=$?
cat "$out"
fail=0
expect() {
    grep -qF -- "$1" "$out" || { echo "config_env: missing: $1" >&2; fail=1; }
}
[ "$rc" -eq 0 ] || { echo "config_env: rt_test exited $rc, expected 0" >&2; fail=1; }
expect "DSM_READAHAED is not a dsm variable; did you mean DSM_READAHEAD?"
expect "DSM_QWERTY is not a dsm variable (docs/config.md lists them)"
expect "DSM_LOG_LEVEL='bogus' is invalid: expected error, warn, info, debug, trace or 0..4; using warn"
[ "$(grep -c "DSM_LOG_LEVEL='bogus'" "$out")" -eq 1 ] ||
    { echo "config_env: DSM_LOG_LEVEL='bogus' must be reported once" >&2; fail=1; }
exit $fail
