#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Resilience: the VM dying, virtiofsd dying, containerd restarting, an
# agent that does not answer in time.  TAP.
. "$(dirname "$0")/lib.sh"
trap 'e2e_stop' EXIT
e2e_start
C="--runtime-config-path $(e2e_config)"

# containerd restarts: it reads the bundle's address, reconnects, and the
# task is still there and usable.
timeout 120 $CTR run -d $F $R $C $IMG kce2e-rs /bin/sleep 300 > /dev/null 2>&1
wait_state kce2e-rs RUNNING
e2e_containerd_restart
check "containerd restarted: the task is still RUNNING" RUNNING "$(task_state kce2e-rs)"
$CTR tasks kill -s SIGKILL kce2e-rs > /dev/null 2>&1
wait_state kce2e-rs STOPPED
check "... and can be killed through the reconnected shim" STOPPED "$(task_state kce2e-rs)"
$CTR tasks delete kce2e-rs > /dev/null 2>&1
$CTR containers delete kce2e-rs > /dev/null 2>&1

# The VM (or the host agent standing in for it) dies: the task exits 255.
timeout 120 $CTR run -d $F $R $C $IMG kce2e-vmd /bin/sleep 300 > /dev/null 2>&1
wait_state kce2e-vmd RUNNING
vpid=$(vmm_of kce2e-vmd)
[ -n "$vpid" ] && kill -KILL $vpid
wait_state kce2e-vmd STOPPED
check "VM killed: the task is STOPPED" STOPPED "$(task_state kce2e-vmd)"
# The shim's log (through containerd's) says which status TaskExit carried.
n=$(grep -c 'msg="process kce2e-vmd/ exited with 255"' "$W/logs/containerd.log")
check "VM killed: TaskExit with status 255, once" 1 "$n"
status=$($CTR tasks delete kce2e-vmd 2>&1)
check "VM killed: task delete" 0 $?
$CTR containers delete kce2e-vmd > /dev/null 2>&1
for _ in $(seq 100); do
	left=$(ls -d /run/kata-containers/shared/sandboxes/kce2e-vmd /run/vc/vm/kce2e-vmd 2> /dev/null | wc -l)
	[ "$left" = 0 ] && break
	sleep 0.1
done
check "VM killed: the sandbox is cleaned" 0 "$left"

# virtiofsd dies (VM mode: the host agent has no share daemon): the
# sandbox is lost as when QEMU dies.  The task is STOPPED within 5 s with
# one TaskExit 255, a pending exec ends, QEMU goes, and the task and the
# container can be deleted without leaving anything.
if [ "$KC_E2E_MODE" = vm ]; then
	timeout 120 $CTR run -d $F $R $C $IMG kce2e-fsd /bin/sleep 300 > /dev/null 2>&1
	wait_state kce2e-fsd RUNNING
	timeout -s KILL 60 $CTR tasks exec --exec-id w1 $F kce2e-fsd /bin/sleep 300 > /dev/null 2>&1 &
	xpid=$!
	for _ in $(seq 100); do
		[ "$($CTR tasks ps kce2e-fsd 2> /dev/null | tail -n +2 | wc -l)" -ge 2 ] && break
		sleep 0.1
	done
	# The virtiofsd the shim started (its sandbox child, if any, has a
	# virtiofsd parent).
	fpid=$(ps -eo pid,ppid,args | awk '/[v]irtiofsd .*\/run\/vc\/vm\/kce2e-fsd\// {p[$1] = $2}
		END {for (i in p) if (!(p[i] in p)) print i}')
	[ -n "$fpid" ] && ok "virtiofsd killed: found it (pid $fpid)" || not_ok "virtiofsd killed: found it"
	t0=$(date +%s%N)
	[ -n "$fpid" ] && kill -KILL $fpid
	for _ in $(seq 100); do
		[ "$(task_state kce2e-fsd)" = STOPPED ] && break
		sleep 0.05
	done
	ms=$((($(date +%s%N) - t0) / 1000000))
	check "virtiofsd killed: the task is STOPPED" STOPPED "$(task_state kce2e-fsd)"
	[ "$ms" -le 5000 ] && ok "... within 5 s (${ms} ms)" || not_ok "... within 5 s" "took ${ms} ms"
	for _ in $(seq 100); do kill -0 $xpid 2> /dev/null || break; sleep 0.1; done
	wait $xpid
	check "virtiofsd killed: the pending exec ends with 255" 255 $?
	n=$(grep -c 'msg="process kce2e-fsd/ exited with 255"' "$W/logs/containerd.log")
	check "virtiofsd killed: TaskExit with status 255, once" 1 "$n"
	for _ in $(seq 50); do
		q=$(ps -eo args | grep -c '[q]emu-system.*-name kata-kce2e-fsd ')
		[ "$q" = 0 ] && break
		sleep 0.1
	done
	check "virtiofsd killed: QEMU is stopped" 0 "$q"
	# (ctr warns of the exit code 255 it deletes.)
	out=$(timeout -s KILL 30 $CTR tasks delete kce2e-fsd 2>&1)
	rc=$?
	[ $rc = 0 ] && ok "virtiofsd killed: task delete" || not_ok "virtiofsd killed: task delete" "$rc $out"
	out=$(timeout -s KILL 30 $CTR containers delete kce2e-fsd 2>&1)
	check "virtiofsd killed: container delete" "0 " "$? $out"
	for _ in $(seq 100); do
		left=$(ls -d /run/kata-containers/shared/sandboxes/kce2e-fsd /run/vc/vm/kce2e-fsd 2> /dev/null | wc -l)
		procs=$(ps -eo args | grep -cE '[q]emu-system.*kata-kce2e-fsd |[v]irtiofsd .*/kce2e-fsd/')
		mnts=$(grep -c '/kce2e-fsd' /proc/self/mountinfo)
		[ "$left$procs$mnts" = 000 ] && break
		sleep 0.1
	done
	check "virtiofsd killed: no dir, process or mount left" "0 0 0" "$left $procs $mnts"
fi

# An agent that does not answer within dial_timeout fails Create clearly.
if [ "$KC_E2E_MODE" = vm ]; then
	# An empty initrd: the guest has no init, so no agent ever answers.
	sed -e 's/^dial_timeout = .*/dial_timeout = 1/' "$(e2e_config)" > "$W/bad.toml"
	printf '' > "$W/empty.img"
	sed -i "s|^initrd = .*|initrd = \"$W/empty.img\"|" "$W/bad.toml"
	out=$(timeout 120 $CTR run --rm $F $R --runtime-config-path "$W/bad.toml" $IMG kce2e-dt /bin/true 2>&1)
	rc=$?
	[ $rc -ne 0 ] && ok "agent silent: ctr run fails" || not_ok "agent silent: ctr run fails"
	case "$out" in *"create \`kce2e-dt\`: starting sandbox \`kce2e-dt\`: VM kce2e-dt: "*) ok "... with the reason" ;; *) not_ok "... with the reason" "$out" ;; esac
	$CTR containers delete kce2e-dt > /dev/null 2>&1
	left=$(ls -d /run/kata-containers/shared/sandboxes/kce2e-dt /run/vc/vm/kce2e-dt 2> /dev/null | wc -l)
	check "agent silent: nothing left" 0 "$left"
fi

trap - EXIT
e2e_stop
e2e_leftovers
e2e_finish
