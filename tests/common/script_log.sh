# Sourced by the test scripts (bash) after they set script_name: one-line log, skip
# (exit 77, ctest's SKIP_RETURN_CODE for every test) and failure, each prefixed with
# the script's name on stderr.
# shellcheck shell=bash
readonly skip_status=77
log() { printf '%s: %s\n' "$script_name" "$*" >&2; }
skip() {
    log "SKIP: $*"
    exit "$skip_status"
}
die() {
    log "FAIL: $*"
    exit 1
}
