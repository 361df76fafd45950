#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What needs the agent's whole container runtime: exec (output, exit
# code, stdin), terminals (exec -t, run -t), pause and resume, read-only
# and read-write bind volumes.  Pause and resume are checked in the VM
# only: the host agent of tests runs on this host's cgroup v1 root, where
# it makes no cgroups (and so has no freezer).
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
out=$( (sleep 1; printf 'tty; exit 4\n'; sleep 1) | timeout 60 script -q -e -c "$CTR tasks exec -t --exec-id x3 $F kce2e-ex /bin/sh" /dev/null 2>&1)
rc=$?
case "$out" in *"/dev/pts/"*) t=yes ;; *) t="no: $out" ;; esac
check "exec -t: a terminal" yes "$t"
check "exec -t: exit code" 4 $rc
if [ "$KC_E2E_MODE" = vm ]; then
	$CTR tasks pause kce2e-ex > /dev/null 2>&1
	check "pause: PAUSED" PAUSED "$($CTR tasks ls 2> /dev/null | awk '$1=="kce2e-ex" {print $3}')"
	$CTR tasks resume kce2e-ex > /dev/null 2>&1
	check "resume: RUNNING" RUNNING "$($CTR tasks ls 2> /dev/null | awk '$1=="kce2e-ex" {print $3}')"
fi
$CTR tasks kill -s SIGKILL kce2e-ex > /dev/null 2>&1
for _ in $(seq 100); do
	st=$($CTR tasks ls 2> /dev/null | awk '$1=="kce2e-ex" {print $3}')
	[ "$st" = STOPPED ] && break
	sleep 0.1
done
$CTR tasks delete kce2e-ex > /dev/null 2>&1
$CTR containers delete kce2e-ex > /dev/null 2>&1
out=$( (sleep 1; printf 'echo in-tty\nexit 5\n'; sleep 1) | timeout 60 script -q -e -c "$CTR run -t --rm $F $R $C $IMG kce2e-tty /bin/sh" /dev/null 2>&1)
check "run -t: exit code" 5 $?

# Volumes: a read-only and a read-write bind mount.
mkdir -p "$W/vro" "$W/vrw"
echo ro-data > "$W/vro/f"
out=$(timeout 120 $CTR run --rm $F $R $C --mount type=bind,src=$W/vro,dst=/ro,options=rbind:ro \
	--mount type=bind,src=$W/vrw,dst=/rw,options=rbind:rw $IMG kce2e-vol \
	/bin/sh -c 'cat /ro/f; (echo x > /ro/g) 2>/dev/null && echo ro-writable; echo rw-data > /rw/h; echo done' 2>&1)
check "volumes: the read-only one is readable, not writable" "ro-data
done" "$out"
check "volumes: the read-write one took the write" "rw-data" "$(cat "$W/vrw/h" 2> /dev/null)"

trap - EXIT
e2e_stop
e2e_leftovers
e2e_finish
