# Sourced by the test scripts (bash) with their name as argument
# (source .../script_log.sh NAME): one-line log, skip (exit 77, ctest's
# SKIP_RETURN_CODE for every test) and failure, each prefixed with NAME on stderr.
# shellcheck shell=bash
readonly script_name=$1
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
