#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What a pod's namespace options and seccomp profiles mean under kata-c,
# through containerd's CRI plugin, compared with runc in the same
# containerd (tests/e2e/cri-podns.py; pods on the CNI bridge of
# cri-net-env.sh, so that each has a hostname of its own):
#  - pid namespace POD: a second container sees the first's processes and
#    the sandbox's; CONTAINER: it does not.  The pod's ipc namespace (a
#    SysV shm segment) and hostname are every container's.
#  - hostPID, hostIPC and Bidirectional mounts are refused with the reason
#    (runc runs them); hostNetwork gives the VM no NIC (Kata's meaning).
#  - seccomp: a localhost profile blocking sethostname gives EPERM,
#    runtime/default puts a filter in place, a profile that is not JSON or
#    has an unknown action is refused at CreateContainer.
# VM mode only (the pods' network).  TAP.
. "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c 'import grpc' 2> /dev/null || { echo "1..0 # python3-grpcio is missing"; exit 1; }
[ -x /usr/lib/cni/bridge ] || { echo "1..0 # containernetworking-plugins is missing"; exit 1; }
[ "$KC_E2E_MODE" = vm ] || { echo "1..0 # pods on a CNI network: VM mode only"; exit 1; }
. "$(dirname "$0")/cri-net-env.sh"
HELPER=$KC_BUILD_ROOT/tests/agent/kc-test-init
[ -x "$HELPER" ] || { echo "1..0 # $HELPER is not built"; exit 1; }
# containerd checks that a Bidirectional mount's source is on a shared
# mount: make it one, so that the runtime is what decides.
mkdir -p "$W/bidir"
mount --bind "$W/bidir" "$W/bidir" && mount --make-shared "$W/bidir"
crinet_start

declare -A facts
for h in kata runc; do
	out=$(timeout 900 /usr/bin/python3 "$(dirname "$0")/cri-podns.py" "$CW/run/containerd.sock" \
		"$h" "$IMG" "$HELPER" "$W" 2>&1)
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

both "pid POD: the second container sees the first's processes" yes share_c2_sees_c1
both "pid POD: ... and the sandbox's (pause)" yes share_c2_sees_pause
both "pid POD: what a container left running goes with its init" gone share_leftover
both "pid CONTAINER: the second container does not see the first's" no own_c2_sees_c1
both "pid CONTAINER: ... nor the sandbox's" no own_c2_sees_pause
both "ipc: a SysV shm segment of one container is seen by another (pid POD)" 1 share_c2_sees_shm
both "ipc: ... (pid CONTAINER)" 1 own_c2_sees_shm
both "uts: the pod's hostname in the first container" kc-share share_c1_hostname
both "uts: the pod's hostname in the second container" kc-share share_c2_hostname
both "uts: the pod's hostname in the second container (pid CONTAINER)" kc-own own_c2_hostname

check "kata: hostPID is refused at RunPodSandbox" refused "$(f kata.hostpid)"
case "$(f kata.hostpid_msg)" in *"host's pid namespace (hostPID)"*) ok "kata: ... saying why" ;;
	*) not_ok "kata: ... saying why" "got [$(f kata.hostpid_msg)]" ;; esac
hid=$(f kata.hostpid_msg | sed -n 's/.*create `\([0-9a-f]*\)`.*/\1/p')
if [ -n "$hid" ]; then
	check "kata: ... before any VM starts for it" 0 "$(grep -c "starting sandbox $hid" "$W/logs/containerd.log")"
else
	not_ok "kata: ... before any VM starts for it" "no sandbox id in [$(f kata.hostpid_msg)]"
fi
check "runc: hostPID runs" ran "$(f runc.hostpid)"
check "kata: hostIPC is refused at RunPodSandbox" refused "$(f kata.hostipc)"
case "$(f kata.hostipc_msg)" in *"host's ipc namespace (hostIPC)"*) ok "kata: ... saying why" ;;
	*) not_ok "kata: ... saying why" "got [$(f kata.hostipc_msg)]" ;; esac
check "runc: hostIPC runs" ran "$(f runc.hostipc)"
check "kata: a Bidirectional mount is refused at CreateContainer" refused "$(f kata.bidirectional)"
case "$(f kata.bidirectional_msg)" in *"propagation \`rshared\` (Bidirectional)"*) ok "kata: ... saying why" ;;
	*) not_ok "kata: ... saying why" "got [$(f kata.bidirectional_msg)]" ;; esac
check "runc: a Bidirectional mount runs" ran "$(f runc.bidirectional)"
check "kata: hostNetwork: the VM has a loopback only" lo-only "$(f kata.hostnet_ifaces)"
check "runc: hostNetwork: the node's interfaces" more "$(f runc.hostnet_ifaces)"
both "hostNetwork: the container's hostname is the node's" yes hostnet_hostname_is_node

both "seccomp: a localhost profile blocking sethostname gives EPERM" EPERM seccomp_localhost
both "seccomp: the blocked sethostname changed nothing" kc-share seccomp_hostname_after
both "seccomp: without it, sethostname is allowed (CAP_SYS_ADMIN)" ok seccomp_control
both "uts: a hostname set in one container is the other containers' (one uts namespace)" kc-renamed uts_rename_seen
both "seccomp: runtime/default puts a filter in place (Seccomp: 2)" 2 seccomp_default_mode
both "seccomp: a profile that is not JSON is refused at CreateContainer" refused seccomp_notjson
both "seccomp: a profile with an unknown action is refused at CreateContainer" refused seccomp_badaction
case "$(f kata.seccomp_badaction_msg)" in *SCMP_ACT_BOGUS*) ok "kata: ... naming the action" ;;
	*) not_ok "kata: ... naming the action" "got [$(f kata.seccomp_badaction_msg)]" ;; esac

sids=$(sed -n 's/.*msg="starting sandbox \([0-9a-f]*\):.*/\1/p' "$W/logs/containerd.log" | sort -u)
cri_stop
umount "$W/bidir" 2> /dev/null
check "no shim left" 0 "$cri_shims_left"
procs=0 dirs=0
for sid in $sids; do
	procs=$((procs + $(ps -eo args | grep -E "qemu-system.*$sid|virtiofsd.*$sid" | grep -vc grep)))
	dirs=$((dirs + $(ls -d /run/kata-containers/shared/sandboxes/$sid /run/vc/vm/$sid 2> /dev/null | wc -l)))
done
check "no qemu or virtiofsd left" 0 "$procs"
check "no mount below the test dir left" 0 "$(grep -c " $W/" /proc/self/mountinfo)"
check "no sandbox dir left" 0 "$dirs"
crinet_del
e2e_finish
