#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Pods with real networking through containerd's CRI plugin (the setup:
# cri-net-env.sh, a CNI bridge inside a network namespace of the test, no
# host address touched).  Checks (tests/e2e/cri-net.py): a kata pod's
# container pings the bridge's gateway; two kata pods talk TCP; a runc pod
# and a kata pod talk TCP both ways; then nothing left (shims, QEMU,
# virtiofsd, mounts, pod netns, veths on the bridge, sandbox dirs).
# KC_CRI_NET_PING_ONLY=1: the gateway check alone.  VM mode only.  TAP.
. "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c 'import grpc' 2> /dev/null || { echo "1..0 # python3-grpcio is missing"; exit 1; }
[ -x /usr/lib/cni/bridge ] || { echo "1..0 # containernetworking-plugins is missing"; exit 1; }
[ "$KC_E2E_MODE" = vm ] || { echo "1..0 # the host agent cannot take a NIC: VM mode only"; exit 1; }
. "$(dirname "$0")/cri-net-env.sh"
crinet_start

out=$(timeout 900 /usr/bin/python3 "$(dirname "$0")/cri-net.py" "$CW/run/containerd.sock" "$IMG" "$SUB.1" \
	"$W/logs/pods" $([ "${KC_CRI_NET_PING_ONLY:-0}" = 1 ] && echo ping-only) 2>&1)
rc=$?
echo "$out" | grep '^#'
check "CRI networking flow completes" 0 $rc
[ $rc = 0 ] || echo "$out" | grep -v '^#' | sed 's/^/# /' | tail -30
fact() { echo "$out" | sed -n "s/^check $1 //p"; }
check "CNI gave the kata pod an address on $SUB.0/24" yes "$(fact pod_a_has_ip)"
check "a kata pod's container pings the bridge's gateway $SUB.1" ok "$(fact ping_gateway)"
if [ "${KC_CRI_NET_PING_ONLY:-0}" != 1 ]; then
	check "two kata pods talk TCP over the bridge (busybox nc)" ok "$(fact kata_to_kata_tcp)"
	check "the kata server side saw its client finish" ok "$(fact kata_server_done)"
	check "a kata pod reaches a runc pod over TCP" ok "$(fact kata_to_runc_tcp)"
	check "a runc pod reaches a kata pod over TCP" ok "$(fact runc_to_kata_tcp)"
fi
grep -q 'connected to the VM\|interface(s) connected' "$W/logs/containerd.log" &&
	ok "the shim connected the pod's interface" || not_ok "the shim connected the pod's interface"
sids=$(sed -n 's/.*msg="starting sandbox \([0-9a-f]*\):.*/\1/p' "$W/logs/containerd.log" | sort -u)

cri_stop
check "no shim left" 0 "$cri_shims_left"
procs=0 mnts=0 dirs=0
for sid in $sids; do
	procs=$((procs + $(ps -eo args | grep -E "qemu-system.*$sid|virtiofsd.*$sid" | grep -vc grep)))
	mnts=$((mnts + $(grep -c "/run/kata-containers/shared/sandboxes/$sid" /proc/self/mountinfo)))
	dirs=$((dirs + $(ls -d /run/kata-containers/shared/sandboxes/$sid /run/vc/vm/$sid 2> /dev/null | wc -l)))
done
check "no qemu or virtiofsd left" 0 "$procs"
check "no mount of the sandboxes left" 0 "$mnts"
check "no mount below the test dir left" 0 "$(grep -c " $W/" /proc/self/mountinfo)"
check "no sandbox dir left" 0 "$dirs"
pod_ns=$(grep -o "/var/run/netns/cni-[0-9a-f-]*" "$W/logs/containerd.log" | sort -u)
[ -n "$pod_ns" ] && ok "containerd made the pods' network namespaces" || not_ok "containerd made the pods' network namespaces"
check "no pod network namespace left" "" "$(ls -d $pod_ns 2> /dev/null)"
check "no veth left on the bridge" "" "$(ip -n "$NS" -o link show master "$BR" 2> /dev/null)"
check "no TAP or qdisc in the test's namespace" "" "$(ip -n "$NS" -o link show type tun; tc -n "$NS" qdisc show ingress 2> /dev/null)"
crinet_del
e2e_finish
