#!/usr/bin/env bash
# Checkpoint and restart under dsmrun (docs/checkpoint.md). One scenario per run:
#   ckpt_restart.sh <dsmrun> <ckpt_job> <nodes> <scenario>
# restart   a job checkpoints while writing, a node is killed after
#           dsm_checkpoint_wait; a new job restarts from the image and every word
#           holds its value at the cut
# crash     the job dies while its second image is written: the first stays
# errors    a damaged manifest, a damaged node file, a wrong node count and a
#           missing directory each stop dsm_init with a clear error
# firsttouch  restart, under first-touch placement: the image restarts under it
#           (homes decided again by the restarted job) and under cyclic placement
# nospace   a full file system (a 1 MiB tmpfs; root only) fails dsm_checkpoint_wait
#           naming the cause, and leaves no image behind
set -u
dsmrun=$1 job=$2 nodes=$3 scenario=$4
work=$(mktemp -d)
mounted=""
cleanup() {
  [[ -n $mounted ]] && umount "$mounted"
  rm -rf "$work"
}
trap cleanup EXIT
image=$work/image
fails=0

# run <log> <expected dsmrun exit: 0 or "nonzero"> dsmrun-args...
run() {
  local log=$1 expect=$2 rc
  shift 2
  "$dsmrun" "$@" >"$log.out" 2>"$log.err"
  rc=$?
  if [[ $expect == 0 && $rc != 0 ]] || [[ $expect == nonzero && $rc == 0 ]]; then
    echo "FAIL: dsmrun $* exited $rc (expected $expect)"; cat "$log.out" "$log.err"; fails=1
    return 1
  fi
  return 0
}

# expect_text <file> <extended regex> <what>
expect_text() {
  if ! grep -Eq "$2" "$1"; then
    echo "FAIL: $3: no '$2' in $1:"; cat "$1"; fails=1
  else
    echo "ok: $3"
  fi
}

write_image() {
  run "$work/write" nonzero -n "$nodes" -- "$job" write "$image" &&
    expect_text "$work/write.out" '^committed$' "image committed, then a node killed"
  [[ -f $image/manifest ]] || { echo "FAIL: no manifest in $image"; fails=1; }
}

verify_image() { # <log> <what>
  run "$work/$1" 0 -n "$nodes" --restart "$image" -- "$job" verify "$image" &&
    [[ $(grep -c verified "$work/$1.out") == "$nodes" ]] && echo "ok: $2" ||
    { echo "FAIL: $2"; cat "$work/$1.out" "$work/$1.err"; fails=1; }
}

# restart_refused <log> <regex> <what> [dsmrun -n]
restart_refused() {
  run "$work/$1" nonzero -n "${4:-$nodes}" --restart "$5" -- "$job" verify "$5" &&
    expect_text "$work/$1.err" "$2" "$3"
}

case $scenario in
restart)
  write_image
  verify_image verify "restarted: every word holds its value at the cut"
  ;;
crash)
  run "$work/crash" nonzero -n "$nodes" -- "$job" crash "$image" &&
    expect_text "$work/crash.out" '^committed$' "first image committed"
  verify_image verify "a crash while writing the second image keeps the first"
  ;;
errors)
  write_image
  restart_refused missing 'no checkpoint image in' "missing directory" "$nodes" "$work/none"
  restart_refused count "has $nodes nodes, this job $((nodes + 1))" "wrong node count" \
    $((nodes + 1)) "$image"
  cp -r "$image" "$work/damaged"
  printf '\xff' | dd of="$work/damaged/manifest" bs=1 seek=40 conv=notrunc status=none
  restart_refused manifest 'damaged \(it fails its checksum\)' "damaged manifest" "$nodes" \
    "$work/damaged"
  rm -rf "$work/damaged" && cp -r "$image" "$work/damaged"
  printf '\xff' | dd of="$work/damaged/node0.img" bs=1 seek=20 conv=notrunc status=none
  restart_refused header 'node0.img is damaged' "damaged node file" "$nodes" "$work/damaged"
  verify_image verify "the image itself still restarts"
  ;;
firsttouch)
  DSM_PLACEMENT=first-touch write_image
  DSM_PLACEMENT=first-touch verify_image verify "first touch: every word holds its value at the cut"
  verify_image verify_cyclic "the same image under cyclic placement"
  ;;
nospace)
  if [[ $(id -u) != 0 ]]; then
    echo "SKIP: mounting a small tmpfs needs root"; exit 77
  fi
  mkdir "$work/small" && mount -t tmpfs -o size=1m tmpfs "$work/small" && mounted=$work/small ||
    { echo "SKIP: cannot mount a tmpfs"; exit 77; }
  run "$work/nospace" 0 -n "$nodes" -- "$job" nospace "$work/small/image" &&
    expect_text "$work/nospace.err" 'No space left on device' "full disk named" &&
    expect_text "$work/nospace.out" 'dsm_checkpoint_wait: ' "dsm_checkpoint_wait failed"
  [[ ! -e $work/small/image ]] && echo "ok: no image committed" ||
    { echo "FAIL: an image was committed on a full disk"; fails=1; }
  ;;
*)
  echo "unknown scenario $scenario"; exit 2
  ;;
esac
exit $fails
