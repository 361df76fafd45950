#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Resilience: the VM dying, containerd restarting, an agent that does not
# answer in time.  TAP.
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
