#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The CRI plugin of a private containerd drives the shim (tests/e2e/cri-pod.py,
# runtime.v1 over gRPC, as the kubelet would): a host-network pod, two
# containers in it (one shim, one VM), their logs and exit codes, stop and
# removal.  TAP.
. "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c 'import grpc' 2> /dev/null || { echo "1..0 # python3-grpcio is missing"; exit 1; }
CW=$W/cri
cri_config "$KC_BUILD_ROOT/src/shim/containerd-shim-kata-v2"
env $( [ "$KC_E2E_MODE" = host-agent ] && echo "KATA_C_TEST_AGENT=$KC_BUILD_ROOT/src/agent/kata-agent") \
	ASAN_OPTIONS=detect_leaks=1:log_path=$W/logs/asan PATH="$CW/bin:$PATH" \
	containerd --config "$CW/config.toml" > "$W/logs/containerd.log" 2>&1 &
CPID=$!
cri_images

# In a VM the container sees its own guest cgroup, and CRI's
# UpdateContainerResources reaches it.
cgtest=0; [ "$KC_E2E_MODE" = vm ] && cgtest=1
out=$(KC_CRI_CGROUP=$cgtest KC_CRI_LOGDIR=$W/logs timeout 300 /usr/bin/python3 "$(dirname "$0")/cri-pod.py" "$CW/run/containerd.sock" kata "$IMG" 2>&1)
rc=$?
check "CRI pod lifecycle completes" 0 $rc
[ $rc = 0 ] || echo "$out" | sed 's/^/# /'
case "$out" in *"state cri: pod-kata default uid-kata"*) ok "CRI: the pod's name, namespace and uid in the sandbox state" ;;
	*) not_ok "CRI: the pod's name, namespace and uid in the sandbox state" "$(echo "$out" | grep 'state cri')" ;; esac
case "$out" in *"container log:"*"hello-from-cri-container"*) ok "CRI: the container's log" ;; *) not_ok "CRI: the container's log" ;; esac
case "$out" in *"c2 state (2=EXITED): 2 exit_code: 6"*) ok "CRI: a second container of the pod exits 6" ;; *) not_ok "CRI: a second container of the pod exits 6" ;; esac
case "$out" in *"c2 log:"*"hello-from-c2"*) ok "CRI: the second container's log" ;; *) not_ok "CRI: the second container's log" ;; esac
case "$out" in *"state (2=EXITED): 2 exit_code: 137"*|*"state (2=EXITED): 2 exit_code: 143"*) ok "CRI: StopContainer ends the first (SIGTERM, then SIGKILL)" ;; *) not_ok "CRI: StopContainer" ;; esac
# A stop right after start ends the container well within its 30 s grace
# period (SIGKILL in place of a SIGTERM its init could not receive), and
# an init with a SIGTERM handler gets the SIGTERM and its own exit code.
c3=$(echo "$out" | sed -n 's/^   c3 stop: \([0-9]*\)\.[0-9] s exit_code: \([0-9]*\)$/\1 \2/p')
case "$c3" in [0-9]" 137"|1[0-9]" 137") ok "CRI: StopContainer right after start stops it in ${c3% *} s, not its 30 s timeout (137)" ;;
	*) not_ok "CRI: StopContainer right after start" "got [$c3]" ;; esac
case "$out" in *"c4 stop: "[0-9].[0-9]" s exit_code: 7"*) ok "CRI: StopContainer's SIGTERM reaches an init's handler (exit 7)" ;;
	*) not_ok "CRI: StopContainer's SIGTERM reaches an init's handler" ;; esac
case "$out" in *"c4 log: "*" ready "*" got-term"*) ok "CRI: ... which ran (its log)" ;; *) not_ok "CRI: ... which ran (its log)" ;; esac
if [ $cgtest = 1 ]; then
	before=$(echo "$out" | sed -n 's/^   cgroup before: //p')
	after=$(echo "$out" | sed -n 's/^   cgroup after: //p')
	# mountinfo: root "/" (the namespace's root is the container's
	# cgroup), read-only, cgroup2.
	case "$before" in *" / /sys/fs/cgroup ro,"*" - cgroup2 "*) ok "CRI: /sys/fs/cgroup is the container's cgroup2, read-only" ;;
		*) not_ok "CRI: /sys/fs/cgroup is the container's cgroup2, read-only"; echo "# $before" ;; esac
	case "$before" in *'\n0::/\n'*) ok "CRI: the container has its own cgroup namespace" ;;
		*) not_ok "CRI: the container has its own cgroup namespace" ;; esac
	case "$before" in *"mem=max cpu=max 100000"*) ok "CRI: no limits before the update" ;;
		*) not_ok "CRI: no limits before the update" ;; esac
	case "$after" in *"mem=67108864 cpu=50000 100000"*) ok "CRI: UpdateContainerResources sets memory.max and cpu.max in the guest" ;;
		*) not_ok "CRI: UpdateContainerResources sets memory.max and cpu.max in the guest"; echo "# $after" ;; esac
	# ContainerStats: the guest cgroup's cpu time and working set.
	stats=$(echo "$out" | sed -n 's/^   stats: //p')
	case "$stats" in "cpu_ns="[1-9]*" working_set="[1-9]*) ok "CRI: ContainerStats has the container's cpu time and working set ($stats)" ;;
		*) not_ok "CRI: ContainerStats has the container's cpu time and working set" "got [$stats]" ;; esac
fi
n=$(grep -c 'starting sandbox' "$W/logs/containerd.log")
sid=$(sed -n 's/.*msg="starting sandbox \([0-9a-f]*\):.*/\1/p' "$W/logs/containerd.log" | head -1)
check "CRI: one sandbox (VM) for the pod's five containers" 1 "$n"

cri_stop
check "CRI: no shim left" 0 "$cri_shims_left"
mnts=$(grep -cE " $W/| /run/kata-containers/shared/sandboxes/$sid" /proc/self/mountinfo)
check "CRI: no mount left" 0 "$mnts"
left=$(ls -d /run/kata-containers/shared/sandboxes/$sid /run/vc/vm/$sid 2> /dev/null | wc -l)
check "CRI: no sandbox dir left" 0 "$left"
cg=$(ls -d /sys/fs/cgroup/*/k8s.io/$sid* /sys/fs/cgroup/k8s.io/$sid* 2> /dev/null | wc -l)
[ -n "$sid" ] && check "CRI: no host cgroup of the pod left" 0 "$cg" || not_ok "CRI: the sandbox id is in the log"
e2e_finish
