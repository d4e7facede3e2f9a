#!/usr/bin/env bash
# tests/rdma/run.sh - run dsm over a real verbs stack: Soft-RoCE (rdma_rxe) in a QEMU
# guest with no network card. The ctest `rdma_softroce` (label rdma) calls it.
#
#   tests/rdma/run.sh --build-dir BUILD [--source-dir SRC] [--image-only]
#
# 1. host tools: qemu-system-x86_64, debootstrap, mkfs.ext4 (installed with apt when
#    missing and we are root; otherwise exit 77 = skip, with the reason).
# 2. guest image: Debian 12, stock kernel, rdma-core, UCX and the runtime libraries the
#    host-built binaries need. Cached under BUILD/rdma-guest/image-<key>, where key hashes
#    the package list and the image recipe (image_version, the baked init), so editing the
#    in-guest test list (guest-run.sh) does not rebuild the image.
# 3. boot: the source and build trees are shared read-only over 9p at their host paths
#    (ctest and dsmrun use absolute paths), BUILD/rdma-guest/out writable for the results.
#    The guest root is a snapshot: the cached image is never modified.
# 4. verdict: guest-run.sh writes `DSM_RDMA_VERDICT PASS|FAIL ...` to out/verdict (and
#    the console); this script exits 0 only on PASS.
#
# Environment: MIRROR (Debian mirror; default: the one apt uses), ACCEL=auto|kvm|tcg,
# DSM_RDMA_SMP (2), DSM_RDMA_MEM (3G), DSM_RDMA_TIMEOUT (qemu wall-clock limit, 1200 s).
set -euo pipefail

readonly image_version=1 # bump when the image recipe below changes in a way the key misses
readonly guest_packages="linux-image-amd64 rdma-core ibverbs-providers libibverbs1 librdmacm1
 libucx0 ucx-utils libhwloc15 libpmix2 libnuma1 iproute2 kmod procps"

# shellcheck source=tests/common/script_log.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common/script_log.sh" rdma

source_dir=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=""
image_only=0
while (($# > 0)); do
    case $1 in
    --build-dir) build_dir=$2; shift 2 ;;
    --source-dir) source_dir=$2; shift 2 ;;
    --image-only) image_only=1; shift ;;
    *) die "unknown argument '$1' (usage: $0 --build-dir DIR [--source-dir DIR] [--image-only])" ;;
    esac
done
[[ -n $build_dir ]] || die "--build-dir is required"
build_dir=$(cd "$build_dir" && pwd)
source_dir=$(cd "$source_dir" && pwd)
# The paths travel on the kernel command line (to the guest's init): no spaces there.
[[ $build_dir$source_dir != *[[:space:]]* ]] || skip "source or build path contains a space"

cache_dir=$build_dir/rdma-guest
out_dir=$cache_dir/out

# ------------------------------------------------------------------ host tools

host_tools_ensure() {
    local missing=()
    command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    command -v mkfs.ext4 >/dev/null || missing+=(e2fsprogs)
    ((${#missing[@]} == 0)) && return 0
    [[ $(id -u) -eq 0 ]] || skip "missing ${missing[*]} and not root to install them"
    command -v apt-get >/dev/null || skip "missing ${missing[*]} and no apt-get"
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
        { DEBIAN_FRONTEND=noninteractive apt-get update >&2 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2; } ||
        skip "cannot install ${missing[*]}"
}

# kvm only where it boots a stock kernel: a PVM-backed /dev/kvm (kvm_pvm module, e.g.
# Firecracker-style sandboxes) runs only PVM-patched guests, so TCG is used there.
accel_pick() {
    local accel=${ACCEL:-auto}
    if [[ $accel == auto ]]; then
        if [[ -w /dev/kvm && ! -d /sys/module/kvm_pvm ]]; then accel=kvm; else accel=tcg; fi
    fi
    if [[ $accel == tcg ]] && ! qemu-system-x86_64 -accel help 2>/dev/null | grep -qx tcg; then
        skip "no /dev/kvm usable and this qemu has no TCG"
    fi
    echo "$accel"
}

# ------------------------------------------------------------------ guest image

debian_mirror() {
    local mirror=${MIRROR:-}
    [[ -n $mirror ]] || mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [[ -n $mirror ]] || mirror=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
    echo "${mirror:-http://deb.debian.org/debian}"
}

mirror_reachable() { # a TCP connection to the mirror's host and port, nothing fetched
    local host port
    host=$(sed -E 's#^[a-z]+://([^/:]+).*#\1#' <<<"$1")
    port=$(sed -nE 's#^[a-z]+://[^/:]+:([0-9]+).*#\1#p' <<<"$1")
    [[ -n $port ]] || { [[ $1 == https:* ]] && port=443 || port=80; }
    timeout 20 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null
}

# PID 1 of the guest, baked into the image: mounts what the tests need, mounts the host
# shares named on the kernel command line (the kernel hands unknown name=value words to
# init as environment variables), runs the repo's guest-run.sh and always powers off.
guest_init_text() {
    cat <<'EOF'
#!/bin/bash
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc; mount -t sysfs sys /sys
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /tmp
off() { sync; echo o > /proc/sysrq-trigger; sleep 600; }
share() { # share <tag> <path> <ro|rw>
  mkdir -p "$2" && mount -t 9p -o "trans=virtio,version=9p2000.L,msize=512000,$3" "$1" "$2" ||
    { echo "DSM_RDMA_VERDICT FAIL cannot mount share $1 at $2"; off; }
}
modprobe -a 9p 9pnet_virtio || { echo "DSM_RDMA_VERDICT FAIL no 9p modules"; off; }
share dsm_out /dsm-out rw
# the outer tree first when one contains the other
if [[ $dsm_build == "$dsm_src"/* ]]; then share dsm_src "$dsm_src" ro; share dsm_build "$dsm_build" ro
else share dsm_build "$dsm_build" ro; share dsm_src "$dsm_src" ro; fi
bash "$dsm_src/tests/rdma/guest-run.sh" 2>&1 | tee /dsm-out/log
off
EOF
}

image_key() {
    { echo "$image_version"; echo "$guest_packages"; guest_init_text; } | sha256sum | cut -c1-16
}

# Modules no guest without hardware needs: dropping them halves the image.
readonly guest_modules_unneeded="sound drivers/gpu drivers/media drivers/staging drivers/net/wireless
 drivers/net/ethernet drivers/infiniband/hw drivers/usb drivers/scsi drivers/iio drivers/bluetooth
 drivers/hid drivers/input drivers/isdn drivers/mtd net/wireless net/mac80211 net/bluetooth"

image_build() { # image_build <dir>: debootstrap + packages + slim + ext4 image into <dir>
    local dir=$1 root=$1/rootfs mirror kver t0=$SECONDS
    mirror=$(debian_mirror)
    if ! mirror_reachable "$mirror"; then
        skip "Debian mirror $mirror unreachable and no cached guest image"
    fi
    log "building the guest image from $mirror (cached afterwards)"
    debootstrap --variant=minbase bookworm "$root" "$mirror" >"$dir/debootstrap.log" 2>&1 ||
        die "debootstrap failed, see $dir/debootstrap.log"
    # the initramfs only has to find the virtio root disk (set before the kernel installs)
    mkdir -p "$root/etc/initramfs-tools/conf.d"
    echo MODULES=list >"$root/etc/initramfs-tools/conf.d/dsm-modules"
    printf '%s\n' virtio_pci virtio_blk ext4 >"$root/etc/initramfs-tools/modules"
    mount -t proc proc "$root/proc"
    mount --bind /dev "$root/dev"
    # shellcheck disable=SC2086 # the package list is split on purpose
    if ! chroot "$root" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends $guest_packages >"$dir/apt.log" 2>&1; then
        umount "$root/dev" "$root/proc"
        die "package install in the guest failed, see $dir/apt.log"
    fi
    chroot "$root" apt-get clean
    umount "$root/dev" "$root/proc"
    kver=$(basename "$root"/lib/modules/*)
    (cd "$root/lib/modules/$kver/kernel" && rm -rf $guest_modules_unneeded)
    chroot "$root" depmod "$kver"
    rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* \
        "$root"/var/lib/apt/lists/*
    guest_init_text >"$root/sbin/dsm-init"
    chmod 0755 "$root/sbin/dsm-init"
    cp -L "$root/vmlinuz" "$dir/vmlinuz"
    cp -L "$root/initrd.img" "$dir/initrd.img"
    mkfs.ext4 -q -F -L dsmroot -d "$root" "$dir/rootfs.img" "$(($(du -sm "$root" | cut -f1) + 256))M"
    rm -rf "$root"
    log "guest image built in $((SECONDS - t0)) s: kernel $kver, $(du -sh "$dir/rootfs.img" | cut -f1)"
}

# Prints the directory of a complete image for the current key, building it if needed.
# A lock keeps two runs from building at once; a marker file says the image is complete.
image_ensure() {
    local key dir tmp
    key=$(image_key)
    dir=$cache_dir/image-$key
    mkdir -p "$cache_dir"
    exec 9>"$cache_dir/lock"
    flock 9
    if [[ ! -e $dir/complete ]]; then
        tmp=$cache_dir/building-$key
        rm -rf "$tmp" && mkdir -p "$tmp"
        image_build "$tmp" >&2 # stdout carries only the image directory
        rm -rf "$dir" && mv "$tmp" "$dir"
        touch "$dir/complete"
        # older images are unreachable now that the key changed
        find "$cache_dir" -maxdepth 1 -name 'image-*' ! -name "image-$key" -exec rm -rf {} +
    else
        log "guest image cached: $dir"
    fi
    flock -u 9
    echo "$dir"
}

# ------------------------------------------------------------------ boot

guest_boot() { # guest_boot <image dir> <accel>
    local image=$1 accel=$2 rc t0=$SECONDS
    local -a accel_args
    if [[ $accel == kvm ]]; then accel_args=(-enable-kvm -cpu host); else accel_args=(-accel "tcg,thread=multi" -cpu max); fi
    rm -rf "$out_dir" && mkdir -p "$out_dir"
    log "booting the guest ($accel, ${DSM_RDMA_SMP:-2} vCPUs, ${DSM_RDMA_MEM:-3G})"
    set +e
    timeout "${DSM_RDMA_TIMEOUT:-1200}" qemu-system-x86_64 "${accel_args[@]}" \
        -m "${DSM_RDMA_MEM:-3G}" -smp "${DSM_RDMA_SMP:-2}" -nographic -no-reboot -nic none \
        -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
        -drive "file=$image/rootfs.img,if=virtio,format=raw,snapshot=on" \
        -virtfs "local,path=$source_dir,mount_tag=dsm_src,security_model=none,readonly=on" \
        -virtfs "local,path=$build_dir,mount_tag=dsm_build,security_model=none,readonly=on" \
        -virtfs "local,path=$out_dir,mount_tag=dsm_out,security_model=none" \
        -append "console=ttyS0 root=/dev/vda rw init=/sbin/dsm-init panic=-1 quiet loglevel=3 dsm_src=$source_dir dsm_build=$build_dir" \
        </dev/null 2>&1 | tr -d '\r' >"$out_dir/console.log"
    rc=${PIPESTATUS[0]}
    set -e
    log "qemu exited with $rc after $((SECONDS - t0)) s (console: $out_dir/console.log)"
    ((rc != 124)) || log "the guest ran past DSM_RDMA_TIMEOUT=${DSM_RDMA_TIMEOUT:-1200} s"
}

verdict_report() {
    local verdict
    # the shared dir has the complete log; the console is the fallback if 9p failed
    if [[ -s $out_dir/log ]]; then cat "$out_dir/log"; else cat "$out_dir/console.log"; fi
    verdict=$(grep -h '^DSM_RDMA_VERDICT ' "$out_dir/verdict" "$out_dir/console.log" 2>/dev/null | tail -1 || true)
    [[ -n $verdict ]] || die "the guest gave no verdict (see $out_dir/console.log)"
    log "$verdict"
    [[ $verdict == 'DSM_RDMA_VERDICT PASS'* ]]
}

host_tools_ensure
accel=$(accel_pick)
image=$(image_ensure)
((image_only)) && exit 0
for bin in tools/dsm-info tools/dsmrun tests/transport/tp_ampingpong examples/hello; do
    [[ -x $build_dir/$bin ]] || die "$build_dir/$bin is not built"
done
guest_boot "$image" "$accel"
verdict_report
