#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The fault matrix: kill -9 of QEMU (in host-agent mode, of the host agent
# that stands in for it), of virtiofsd (VM mode), of the shim, and a
# containerd restart, each while a container runs and while one is being
# created (the target is hit as soon as it appears, while the VM boots).
# After each: `ctr tasks ls` tells the truth (the task is STOPPED or gone,
# never a stale RUNNING), a container that started gets one TaskExit,
# `ctr tasks rm` and `ctr containers rm` succeed, and the pod leaves no
# process, mount, socket, state directory, host cgroup or TAP device.
# test-resilience.sh has QEMU killed and containerd restarted while a
# container runs; they are not repeated here.  TAP.
. "$(dirname "$0")/lib.sh"
trap 'e2e_stop' EXIT
e2e_start
e2e_events
C="--runtime-config-path $(e2e_config)"

pid_of() { # pid_of TARGET ID
	case $1 in
	vmm) vmm_of "$2" ;;
	virtiofsd) virtiofsd_of "$2" ;;
	shim) shim_of "$2" ;;
	esac
}

# hit TARGET ID: the fault itself.  Returns 1 when the target is not there.
hit() {
	local pid
	if [ "$1" = containerd ]; then
		e2e_containerd_restart
		return 0
	fi
	pid=$(pid_of "$1" "$2")
	[ -n "$pid" ] || return 1
	kill -KILL $pid
}

# settle NAME ID: what every case checks once the fault is done.
settle() {
	local name=$1 id=$2 st left out
	for _ in $(seq 100); do
		st=$(task_state "$id")
		[ "$st" != RUNNING ] && break
		sleep 0.1
	done
	case $st in "" | STOPPED | CREATED) ok "$name: ctr tasks ls is truthful (${st:-no task})" ;;
	*) not_ok "$name: ctr tasks ls is truthful" "10 s after the fault the task is still $st" ;; esac
	if [ -n "$st" ]; then
		out=$(timeout 30 $CTR tasks rm -f "$id" 2>&1) && ok "$name: ctr tasks rm" ||
			not_ok "$name: ctr tasks rm" "${out//$'\n'/ }"
	fi
	out=$(timeout 30 $CTR containers rm "$id" 2>&1) && ok "$name: ctr containers rm" ||
		not_ok "$name: ctr containers rm" "${out//$'\n'/ }"
	left=$(pod_clean "$id") && ok "$name: nothing left" ||
		not_ok "$name: nothing left" "${left//$'\n'/; }"
}

# While a container runs: it exits, once, and containerd hears of it.
running() { # running TARGET
	local id=kce2e-fr-$1 name="$1 killed while running"
	timeout 120 $CTR run -d $F $R $C $IMG "$id" /bin/sleep 300 > /dev/null 2>&1
	wait_state "$id" RUNNING
	hit "$1" "$id" || not_ok "$name: found the $1 to kill"
	settle "$name" "$id"
	check "$name: TaskExit, once" 1 "$(task_events exit "$id")"
}

# While a container is created: `ctr run` fails and nothing started.
creating() { # creating TARGET
	local id=kce2e-fc-$1 name="$1 killed while creating" rc=1 found='' bg
	[ "$1" = containerd ] && name="containerd restarted while creating"
	(timeout 120 $CTR run -d $F $R $C $IMG "$id" /bin/sleep 300 > "$W/$id.out" 2>&1
		echo $? > "$W/$id.rc") &
	bg=$!
	# The shim and containerd are hit once the VM is booting: Create is
	# in flight.  (A shim that dies between serving and containerd's dial
	# fails its `start`; containerd knows nothing to clean then.)
	for _ in $(seq 2000); do
		[ -s "$W/$id.rc" ] && break
		case $1 in shim | containerd) found=$(vmm_of "$id") ;; *) found=$(pid_of "$1" "$id") ;; esac
		[ -n "$found" ] && break
		sleep 0.01
	done
	if [ -n "$found" ] && hit "$1" "$id"; then
		ok "$name: hit during Create"
	else
		not_ok "$name: hit during Create" "no $1 seen before ctr run ended: $(cat "$W/$id.out")"
	fi
	wait $bg
	rc=$(cat "$W/$id.rc")
	[ "$rc" != 0 ] && ok "$name: ctr run fails" || not_ok "$name: ctr run fails" "it succeeded"
	settle "$name" "$id"
	check "$name: no TaskStart" 0 "$(task_events start "$id")"
}

# containerd gives up on a task and removes its bundle (as when it is
# stopped in a Create that then succeeds in the shim), and is gone: the
# shim, which nobody will ever reach again, ends itself and its pod.
orphaned() {
	local id=kce2e-fo name="bundle removed, containerd gone" b left out
	b=$W/state/io.containerd.runtime.v2.task/default/$id
	timeout 120 $CTR run -d $F $R $C $IMG "$id" /bin/sleep 300 > /dev/null 2>&1
	wait_state "$id" RUNNING
	kill -KILL "$CPID"
	wait "$CPID" 2> /dev/null
	umount "$b/rootfs"
	rm -rf "$b"
	for _ in $(seq 150); do
		[ -z "$(shim_of "$id")" ] && break
		sleep 0.1
	done
	check "$name: the shim ends itself" "" "$(shim_of "$id")"
	e2e_containerd
	out=$(timeout 30 $CTR containers rm "$id" 2>&1) && ok "$name: ctr containers rm" ||
		not_ok "$name: ctr containers rm" "${out//$'\n'/ }"
	left=$(pod_clean "$id") && ok "$name: nothing left" ||
		not_ok "$name: nothing left" "${left//$'\n'/; }"
}

running shim
creating shim
orphaned
creating containerd
# The host agent answers at once: there is no boot to hit.
if [ "$KC_E2E_MODE" = vm ]; then
	creating vmm
	running virtiofsd
	creating virtiofsd
fi

trap - EXIT
e2e_stop
e2e_leftovers
e2e_finish
