#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Two containers in one pod through the CRI annotations (specs given to
# `ctr run --config`): one shim, one VM, both containers in it.  TAP.
. "$(dirname "$0")/lib.sh"
trap 'e2e_stop' EXIT
e2e_start
C="--runtime-config-path $(e2e_config)"
POD=kce2e-pod$$

# ctr's default spec, with the pod's annotations, a command and a rootfs
# made here (with --config, ctr takes no image).
mkspec() { # mkspec OUT TYPE ARGS_JSON
	ctr oci spec | python3 -c '
import json, sys
s = json.load(sys.stdin)
s["process"]["args"] = json.loads(sys.argv[3])
s["process"]["terminal"] = False
s["root"] = {"path": sys.argv[4], "readonly": False}
s.setdefault("annotations", {})
s["annotations"]["io.kubernetes.cri.container-type"] = sys.argv[2]
s["annotations"]["io.kubernetes.cri.sandbox-id"] = sys.argv[1]
print(json.dumps(s))' "$POD" "$2" "$3" "$W/rootfs-$4" > "$1"
	mkdir -p "$W/rootfs-$4/bin" "$W/rootfs-$4/proc" "$W/rootfs-$4/dev" "$W/rootfs-$4/sys" "$W/rootfs-$4/tmp"
	cp /bin/busybox "$W/rootfs-$4/bin/"
	for a in sh sleep echo hostname cat; do ln -sf busybox "$W/rootfs-$4/bin/$a"; done
}
mkspec "$W/sandbox.json" sandbox '["/bin/sleep", "300"]' s
mkspec "$W/c1.json" container '["/bin/sh", "-c", "echo from-c1; exit 4"]' c1

timeout 120 $CTR run -d $F $R $C --config "$W/sandbox.json" "$POD" > /dev/null 2>&1
st=$($CTR tasks ls 2> /dev/null | awk -v id="$POD" '$1==id {print $3}')
check "pod sandbox RUNNING" RUNNING "$st"
out=$(timeout 120 $CTR run --rm $F $R $C --config "$W/c1.json" "$POD-c1" 2>&1)
rc=$?
check "container of the pod: output" "from-c1" "$out"
check "container of the pod: exit code" 4 $rc
shims=$(ps -eo args | grep -c "[c]ontainerd-shim-kata-v2 .*-address $W/")
check "one shim serves the pod" 1 "$shims"
vms=$(ps -eo args | grep -c "[q]emu-system.*kata-$POD ")
[ "$KC_E2E_MODE" = vm ] || vms=1
check "one VM for the pod" 1 "$vms"
left=$(ls -d /run/kata-containers/shared/sandboxes/$POD/mounts/$POD-c1 2> /dev/null | wc -l)
check "the container's share is gone with it" 0 "$left"
st=$($CTR tasks ls 2> /dev/null | awk -v id="$POD" '$1==id {print $3}')
check "the sandbox outlives its container" RUNNING "$st"

$CTR tasks kill -s SIGKILL "$POD" > /dev/null 2>&1
for _ in $(seq 100); do
	st=$($CTR tasks ls 2> /dev/null | awk -v id="$POD" '$1==id {print $3}')
	[ "$st" = STOPPED ] && break
	sleep 0.1
done
check "sandbox killed: STOPPED" STOPPED "$st"
$CTR tasks delete "$POD" > /dev/null 2>&1
check "sandbox task delete" 0 $?
$CTR containers delete "$POD" > /dev/null 2>&1
for _ in $(seq 50); do
	ps -eo args | grep -q "[c]ontainerd-shim-kata-v2 .*-address $W/" || break
	sleep 0.1
done
trap - EXIT
e2e_stop
e2e_leftovers
e2e_finish
