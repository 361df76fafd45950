#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# End to end: real containerd 1.6 and real ctr drive containerd-shim-kata-v2.
# KC_E2E_MODE=host-agent runs the pod's agent as a host process (no VM);
# KC_E2E_MODE=vm boots the guest image.  TAP output.
. "$(dirname "$0")/lib.sh"
trap 'e2e_stop' EXIT
e2e_start
C="--runtime-config-path $(e2e_config)"
RUN="timeout 120 $CTR run --rm $F $R $C"

out=$($RUN $IMG kce2e-echo /bin/echo hi 2>&1)
check "run: output" "hi" "$out"

# The shim's events, in the order it raised them (its log, through
# containerd's): create, start, exit once, delete.
ev=$(grep 'sandbox=kce2e-echo' "$W/logs/containerd.log" | sed -n 's/.*msg="event \/tasks\/\([a-z-]*\)".*/\1/p' | tr '\n' ' ')
check "events: create, start, exit (once), delete" "create start exit delete " "$ev"
n=$(grep -c 'msg="event forwarded" ns=default topic=/tasks/exit type=containerd.events.TaskExit' "$W/logs/containerd.log")
[ "$n" -ge 1 ] && ok "events reach containerd over ttrpc (Events/Forward)" || not_ok "events reach containerd over ttrpc"

$RUN $IMG kce2e-exit /bin/sh -c 'exit 7' > /dev/null 2>&1
check "run: exit code propagates" 7 $?

out=$($RUN $IMG kce2e-err /bin/sh -c 'echo e >&2' 2>&1 > /dev/null)
check "run: stderr" "e" "$out"

out=$(printf 'abc\ndef\n' | $RUN $IMG kce2e-in /bin/head -n1 2>&1)
check "run: stdin piped" "abc" "$out"

out=$((echo piped; sleep 1) | $RUN $IMG kce2e-cat /bin/cat 2>&1)
check "run: stdin EOF reaches cat" "piped" "$out"

out=$($RUN $IMG kce2e-big /bin/sh -c 'i=0; while [ $i -lt 2000 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done' 2>&1 | md5sum)
exp=$(i=0; while [ $i -lt 2000 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done | md5sum)
check "run: 118 KB of output arrive whole" "$exp" "$out"

# binary:// logging: the logger gets stdout on fd 3, stderr on fd 4, the
# query as arguments, the container's id in its environment; nothing of
# the shim's signal state (it blocks and ignores some) and no other fd.
cat > "$W/logger" <<EOT
#!/bin/sh
grep -E '^Sig(Blk|Ign)' /proc/\$\$/status > "$W/log.sig"
exec 5>&-
ls /proc/\$\$/fd > "$W/log.fds"
echo "\$CONTAINER_ID \$CONTAINER_NAMESPACE \$*" > "$W/log.info"
cat <&3 > "$W/log.out" &
cat <&4 > "$W/log.err"
wait
EOT
chmod +x "$W/logger"
$RUN --log-uri "binary://$W/logger?level=x" $IMG kce2e-log /bin/sh -c 'echo to-out; echo to-err >&2' > /dev/null 2>&1
check "binary:// logger: stdout" "to-out" "$(cat "$W/log.out" 2> /dev/null)"
check "binary:// logger: stderr" "to-err" "$(cat "$W/log.err" 2> /dev/null)"
check "binary:// logger: id, namespace, arguments" "kce2e-log default level x" "$(cat "$W/log.info" 2> /dev/null)"
check "binary:// logger: no signal blocked or ignored" "SigBlk:0000000000000000 SigIgn:0000000000000000 " \
	"$(tr -d ' \t' < "$W/log.sig" 2> /dev/null | tr '\n' ' ')"
# (dash keeps its own copies of stdin and of the script at 10 and 11)
check "binary:// logger: fds 0-4 only" "0 1 2 3 4 " \
	"$(awk '$1 < 10' "$W/log.fds" 2> /dev/null | sort -n | tr '\n' ' ')"
$RUN --log-uri "file://$W/file.log" $IMG kce2e-flog /bin/sh -c 'echo to-file' > /dev/null 2>&1
check "file:// log" "to-file" "$(cat "$W/file.log" 2> /dev/null)"

# Bad input: a mount type the shim cannot honour fails Create, naming it.
out=$($RUN --mount type=weirdfs,src=/tmp,dst=/w,options=rw $IMG kce2e-bad /bin/true 2>&1)
rc=$?
case "$out" in *"type \`weirdfs\` is not supported"*) m=yes ;; *) m="no: $out" ;; esac
check "bad mount type: Create fails with the reason" yes "$m"
[ $rc -ne 0 ] && ok "bad mount type: ctr fails" || not_ok "bad mount type: ctr fails"
$CTR containers delete kce2e-bad > /dev/null 2>&1

# A hypervisor annotation that enable_annotations does not allow.
out=$($RUN --annotation io.katacontainers.config.hypervisor.kernel=/tmp/x $IMG kce2e-ann /bin/true 2>&1)
case "$out" in *"io.katacontainers.config.hypervisor.kernel"*) m=yes ;; *) m="no: $out" ;; esac
check "forbidden annotation: Create fails naming it" yes "$m"
$CTR containers delete kce2e-ann > /dev/null 2>&1
# A configuration error: the file's path and the key are named.
printf '[hypervisor.qemu]\ndefault_vcpus = "two"\n' > "$W/bad-config.toml"
out=$(timeout 120 $CTR run --rm $F $R --runtime-config-path "$W/bad-config.toml" $IMG kce2e-cfg /bin/true 2>&1)
case "$out" in *"bad-config.toml:2:"*"default_vcpus"*) m=yes ;; *) m="no: $out" ;; esac
check "configuration error: Create fails naming file:line and key" yes "$m"
$CTR containers delete kce2e-cfg > /dev/null 2>&1
left=$(ls -d /run/kata-containers/shared/sandboxes/kce2e-ann /run/kata-containers/shared/sandboxes/kce2e-cfg /run/vc/vm/kce2e-ann /run/vc/vm/kce2e-cfg 2> /dev/null | wc -l)
check "failed Creates leave no sandbox behind" 0 "$left"

# A detached container: ps, kill (exec: test-exec.sh).
timeout 120 $CTR run -d $F $R $C $IMG kce2e-bg /bin/sleep 300 > /dev/null 2>&1
st=$($CTR tasks ls 2> /dev/null | awk '$1=="kce2e-bg" {print $3}')
check "detach: RUNNING" RUNNING "$st"
# The pod's host cgroup, sandbox_cgroup_only = false (Kata's default): only
# the vCPU threads are in /default/kce2e-bg (on the cgroup v1 "cpu"
# hierarchy, which places threads; cgroup2 takes whole processes); QEMU's
# other threads and the shim are not.  The host agent stands for the vCPUs.
# in_pod FILE ID: whether FILE (a /proc/.../cgroup) puts it in /default/ID
# on the cpu hierarchy.
in_pod() { grep -Eq "^[0-9]+:cpu:/default/$2\$" "$1" 2> /dev/null; }
if [ "$KC_E2E_MODE" = vm ]; then
	vpid=$(vmm_of kce2e-bg)
	n=0
	for t in /proc/$vpid/task/*; do in_pod "$t/cgroup" kce2e-bg && n=$((n + 1)); done
	check "host cgroup: the one vCPU thread of QEMU is in /default/kce2e-bg" 1 "$n"
	in_pod /proc/$vpid/cgroup kce2e-bg && not_ok "host cgroup: QEMU's main thread is not" ||
		ok "host cgroup: QEMU's main thread is not"
else
	vpid=$(vmm_of kce2e-bg)
	in_pod /proc/$vpid/cgroup kce2e-bg && ok "host cgroup: the host agent is in /default/kce2e-bg" ||
		not_ok "host cgroup: the host agent is in /default/kce2e-bg" "$(cat /proc/$vpid/cgroup 2>&1)"
fi
in_pod /proc/"$(shim_of kce2e-bg)"/cgroup kce2e-bg && not_ok "host cgroup: the shim is not in it" ||
	ok "host cgroup: the shim is not in it"
# sandbox_cgroup_only = true (a runtime annotation): the shim, the VMM and
# virtiofsd, whole.
timeout 120 $CTR run -d $F $R $C --annotation io.katacontainers.config.runtime.sandbox_cgroup_only=true \
	$IMG kce2e-cgo /bin/sleep 300 > /dev/null 2>&1
opid=$(vmm_of kce2e-cgo)
in_pod /proc/"$opid"/cgroup kce2e-cgo && in_pod /proc/"$(shim_of kce2e-cgo)"/cgroup kce2e-cgo &&
	ok "sandbox_cgroup_only: the shim and the VMM are in /default/kce2e-cgo" ||
	not_ok "sandbox_cgroup_only: the shim and the VMM are in /default/kce2e-cgo" "$(cat /proc/$opid/cgroup 2>&1)"
$CTR tasks kill -s SIGKILL kce2e-cgo > /dev/null 2>&1
for _ in $(seq 100); do $CTR tasks ls 2> /dev/null | grep -q 'kce2e-cgo.*STOPPED' && break; sleep 0.1; done
$CTR tasks delete kce2e-cgo > /dev/null 2>&1
$CTR containers delete kce2e-cgo > /dev/null 2>&1
n=$($CTR tasks ps kce2e-bg 2> /dev/null | awk 'NR>1 && $1 ~ /^[0-9]+$/' | wc -l)
check "ps: lists the task's process" 1 "$n"
$CTR tasks kill -s SIGTERM kce2e-bg > /dev/null 2>&1
check "kill SIGTERM: delivered" 0 $?
$CTR tasks kill -s SIGKILL kce2e-bg > /dev/null 2>&1
for _ in $(seq 100); do
	st=$($CTR tasks ls 2> /dev/null | awk '$1=="kce2e-bg" {print $3}')
	[ "$st" = STOPPED ] && break
	sleep 0.1
done
check "kill SIGKILL: STOPPED" STOPPED "$st"
$CTR tasks delete kce2e-bg > /dev/null 2>&1
check "task delete" 0 $?
$CTR containers delete kce2e-bg > /dev/null 2>&1
check "container delete" 0 $?

# Five pods at once.
pids=""
for i in 1 2 3 4 5; do
	($RUN $IMG kce2e-p$i /bin/sh -c "echo pod-$i" > "$W/p$i.out" 2>&1; echo $? > "$W/p$i.rc") &
	pids="$pids $!"
done
wait $pids
good=0
for i in 1 2 3 4 5; do
	[ "$(cat "$W/p$i.out")" = "pod-$i" ] && [ "$(cat "$W/p$i.rc")" = 0 ] && good=$((good + 1))
done
check "five pods concurrently" 5 "$good"

# A shim killed with SIGKILL: containerd's `shim delete` cleans its state.
timeout 120 $CTR run -d $F $R $C $IMG kce2e-k9 /bin/sleep 300 > /dev/null 2>&1
spid=$(shim_of kce2e-k9)
[ -n "$spid" ] && kill -KILL $spid
for _ in $(seq 100); do
	st=$($CTR tasks ls 2> /dev/null | awk '$1=="kce2e-k9" {print $3}')
	[ "$st" != RUNNING ] && break
	sleep 0.1
done
$CTR tasks delete kce2e-k9 > /dev/null 2>&1
$CTR containers delete kce2e-k9 > /dev/null 2>&1
# containerd runs `shim delete` on its own once it sees the shim gone.
for _ in $(seq 100); do
	left=$(ls -d /run/kata-containers/shared/sandboxes/kce2e-k9 /run/vc/vm/kce2e-k9 2> /dev/null | wc -l)
	[ "$left" = 0 ] && break
	sleep 0.1
done
check "shim SIGKILLed: its sandbox is cleaned" 0 "$left"

trap - EXIT
e2e_stop
e2e_leftovers
e2e_finish
