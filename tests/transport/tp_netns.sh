#!/bin/bash
# Two nodes in two network namespaces joined by a veth pair, each also in its
# own pid namespace (so the transport treats them as separate hosts: UCX peer
# error handling, no pidfd), run one transport test program over tcp.
#   tp_netns.sh PROGRAM [ARGS...]
# Exit 77 (skip) with the reason when not root or `ip netns` is unavailable.
set -u
prog=("$@")
tag="dtp$$"
ns0="${tag}n0" ns1="${tag}n1" if0="${tag}a" if1="${tag}b"
addr0=10.77.0.1 addr1=10.77.0.2 port=7777

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root to create network namespaces"
command -v ip >/dev/null || skip "ip (iproute2) not installed"
command -v unshare >/dev/null || skip "unshare (util-linux) not installed"

cleanup() {
    ip netns del "$ns0" 2>/dev/null
    ip netns del "$ns1" 2>/dev/null
    ip link del "$if0" 2>/dev/null
}
trap cleanup EXIT INT TERM

ip netns add "$ns0" 2>/dev/null || skip "ip netns add failed (no namespace support here)"
ip netns add "$ns1" || exit 1
ip link add "$if0" type veth peer name "$if1" || skip "cannot create a veth pair"
ip link set "$if0" netns "$ns0" && ip link set "$if1" netns "$ns1" || exit 1
ip -n "$ns0" addr add "$addr0/24" dev "$if0" && ip -n "$ns1" addr add "$addr1/24" dev "$if1" || exit 1
for ns in "$ns0" "$ns1"; do
    ip -n "$ns" link set lo up || exit 1
done
ip -n "$ns0" link set "$if0" up && ip -n "$ns1" link set "$if1" up || exit 1

key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
run_node() { # rank netns device
    ip netns exec "$2" env DSM_RANK="$1" DSM_NNODES=2 DSM_COORD="$addr0:$port" \
        DSM_JOB_KEY="$key" UCX_TLS=tcp UCX_NET_DEVICES="$3" \
        unshare --pid --fork "${prog[@]}" 2>&1 | sed "s/^/[$1] /"
    return "${PIPESTATUS[0]}"
}
run_node 0 "$ns0" "$if0" & pid0=$!
run_node 1 "$ns1" "$if1" & pid1=$!
wait "$pid0"; rc0=$?
wait "$pid1"; rc1=$?
echo "node 0 exit $rc0, node 1 exit $rc1"
[ "$rc0" -eq 0 ] && [ "$rc1" -eq 0 ]
