#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# CRI PortForward (kubectl port-forward) to a pod, kata against runc in
# the same containerd (tests/e2e/cri-portfwd.py; pods on the CNI bridge
# of cri-net-env.sh): containerd's own path (dial localhost:PORT in the
# pod's network namespace: echo, 4 MiB intact, two at once, a closed port
# refused quickly), the real CRI PortForward through containerd's
# streaming server (WebSocket, v4.channel.k8s.io), the shim's fds after
# 20 connections, the VM killed with a connection open (reset, redirect
# gone), and nothing left once the pods are gone.
# VM mode only: the host agent of tests runs in the host's network
# namespace and the pod gets no redirect (docs/port-forward.md).
. "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c 'import grpc' 2> /dev/null || { echo "1..0 # python3-grpcio is missing"; exit 1; }
[ -x /usr/lib/cni/bridge ] || { echo "1..0 # containernetworking-plugins is missing"; exit 1; }
[ -x /usr/sbin/iptables ] || { echo "1..0 # iptables is missing"; exit 1; }
[ "$KC_E2E_MODE" = vm ] || { echo "1..0 # port forwarding reaches the VM: VM mode only"; exit 1; }
. "$(dirname "$0")/cri-net-env.sh"
crinet_start

declare -A facts
for h in kata runc; do
	out=$(timeout 900 /usr/bin/python3 "$(dirname "$0")/cri-portfwd.py" "$CW/run/containerd.sock" \
		"$h" "$IMG" "$W" /run/netns/"$NS" 2>&1)
	rc=$?
	check "$h: the CRI flow completes" 0 $rc
	[ $rc = 0 ] || echo "$out" | grep -v '^check' | sed 's/^/# /' | tail -30
	echo "$out" | grep '^#' | sed "s/^# /# $h: /"
	while read -r _ k v; do facts[$h.$k]=$v; done < <(echo "$out" | grep '^check ')
done
f() { echo "${facts[$1]:-}"; }
both() { # both NAME EXPECTED FACT: kata and runc give EXPECTED
	check "kata: $1" "$2" "$(f kata.$3)"
	check "runc: $1" "$2" "$(f runc.$3)"
}

both "the pod has a network namespace" found netns
check "kata: the REDIRECT rules in the pod's namespace (IPv4, IPv6)" 2 "$(f kata.redirect_rules)"
check "runc: no REDIRECT rule in the pod's namespace" 0 "$(f runc.redirect_rules)"
both "localhost:8080 in the pod's namespace echoes" ok echo
both "[::1]:8080 in the pod's namespace echoes" ok echo6
both "4 MiB both ways at once, byte for byte" ok bulk
both "... then the server's EOF after ours" ok bulk_eof
both "4 MiB to a client that reads nothing for 3 s: intact (back-pressure)" ok slow_reader
both "a second connection while the first is open" ok concurrent
both "20 connections one after the other" 0 conns_bad
both "a port nothing listens on closes quickly" yes closed_port_quick
check "runc: ... refused" refused "$(f runc.closed_port)"
case "$(f kata.closed_port)" in refused | closed) ok "kata: ... refused or reset" ;;
	*) not_ok "kata: ... refused or reset" "got [$(f kata.closed_port)]" ;; esac
echo "# kata: the closed port gave: $(f kata.closed_port)"
check "kata: the closed port's connect was refused in the guest (shim log)" 1 \
	"$(grep -c 'port forward to 8081: .*connect 127.0.0.1:8081 in the guest: Connection refused' "$W/logs/containerd.log")"
check "kata: the shim's fds are the same after 20 connections (and 20 reset at once)" yes "$(f kata.shim_fds_same)"
both "CRI PortForward: the WebSocket upgrade" ok ws_upgrade
both "CRI PortForward: the port on the data and error channels" ok ws_port_frames
both "CRI PortForward: the echo through the streaming server" ok ws_echo

check "kata: the VM killed with a connection open (QEMU found)" yes "$(f kata.died_qemu_found)"
case "$(f kata.died_conn)" in reset | closed) ok "kata: ... the connection is reset" ;;
	*) not_ok "kata: ... the connection is reset" "got [$(f kata.died_conn)]" ;; esac
check "kata: ... within 10 s" yes "$(f kata.died_quick)"
check "kata: ... and within 10 s a new dial is refused (the redirect is gone)" refused "$(f kata.died_then)"

sids=$(sed -n 's/.*msg="starting sandbox \([0-9a-f]*\):.*/\1/p' "$W/logs/containerd.log" | sort -u)
check "kata: the shim set up the redirect" 1 \
	"$(grep -c 'port forwarding: loopback TCP of' "$W/logs/containerd.log")"
grep -o 'port forwarding: [^"]*' "$W/logs/containerd.log" | sed 's/^/# kata: /'
echo "# kata: lo of the pod's namespace was $(grep -q "\`lo\` of the pod's namespace was down" \
	"$W/logs/containerd.log" && echo 'down (the shim set it up)' || echo 'up already (containerd)')"
cri_stop
check "no shim left" 0 "$cri_shims_left"
procs=0
for sid in $sids; do
	procs=$((procs + $(ps -eo args | grep -E "qemu-system.*$sid|virtiofsd.*$sid" | grep -vc grep)))
done
check "no qemu or virtiofsd left" 0 "$procs"
for h in kata runc; do
	p=$(f $h.netns_path)
	check "$h: the pod's network namespace is gone" gone "$([ -n "$p" ] && [ ! -e "$p" ] && echo gone || echo "[$p]")"
done
crinet_del
e2e_finish
