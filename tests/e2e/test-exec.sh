#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# ctr tasks exec into a running container.  Not in the meson suite yet:
# the agent merged here has no ExecProcess (it comes with the agent's
# container runtime); the shim's side (Exec, Start of an exec, its fifos
# opened at Start, Wait, Delete, TaskExecAdded/TaskExecStarted) is in place.
. "$(dirname "$0")/lib.sh"
trap 'e2e_stop' EXIT
e2e_start
C="--runtime-config-path $(e2e_config)"
timeout 120 $CTR run -d $F $R $C $IMG kce2e-ex /bin/sleep 300 > /dev/null 2>&1
out=$(timeout 60 $CTR tasks exec --exec-id x1 $F kce2e-ex /bin/sh -c 'echo exec-ok; exit 3' 2>&1)
rc=$?
check "exec: output" "exec-ok" "$out"
check "exec: exit code" 3 $rc
out=$(echo exec-in | timeout 60 $CTR tasks exec --exec-id x2 $F kce2e-ex /bin/cat 2>&1)
check "exec: stdin" "exec-in" "$out"
$CTR tasks kill -s SIGKILL kce2e-ex > /dev/null 2>&1
for _ in $(seq 100); do
	st=$($CTR tasks ls 2> /dev/null | awk '$1=="kce2e-ex" {print $3}')
	[ "$st" = STOPPED ] && break
	sleep 0.1
done
$CTR tasks delete kce2e-ex > /dev/null 2>&1
$CTR containers delete kce2e-ex > /dev/null 2>&1
trap - EXIT
e2e_stop
e2e_leftovers
e2e_finish
