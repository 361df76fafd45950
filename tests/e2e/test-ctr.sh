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

# A shim killed with SIGKILL: containerd's `shim delete` cleans up from
# the state the sandbox keeps in /run/vc/sbs/<id> (docs/state.md).  In VM
# mode the pod has a network (a veth in its own namespace), so there is a
# TAP and a tc redirect to undo too.
K9NS=
K9NET=
if [ "$KC_E2E_MODE" = vm ]; then
	K9NS=kce2e-k9net
	trap 'e2e_stop; ip netns del kce2e-k9net 2> /dev/null' EXIT
	ip netns add $K9NS
	ip link add kce2e-k9v type veth peer name eth0 netns $K9NS
	ip -n $K9NS addr add 10.231.9.2/24 dev eth0
	ip -n $K9NS link set eth0 up
	K9NET="--with-ns network:/var/run/netns/$K9NS"
fi
timeout 120 $CTR run -d $F $R $C $K9NET $IMG kce2e-k9 /bin/sleep 300 > /dev/null 2>&1
wait_state kce2e-k9 RUNNING
timeout 60 $CTR tasks exec -d --exec-id x1 kce2e-k9 /bin/sleep 300 > /dev/null 2>&1
STATE=/run/vc/sbs/kce2e-k9/state.json
for _ in $(seq 50); do
	[ "$(jq -r '.containers[0].execs[0].status' $STATE 2> /dev/null)" = RUNNING ] && break
	sleep 0.1
done
spid=$(shim_of kce2e-k9)
got=$(jq -r '[.version, .id, .owner.pid, .containers[0].id, .containers[0].status,
	.containers[0].execs[0].id, .containers[0].execs[0].status] | map(tostring) | join(" ")' $STATE 2>&1)
check "state: the document while the container runs" "1 kce2e-k9 $spid kce2e-k9 RUNNING x1 RUNNING" "$got"
check "state: root's, not readable by others" "0 600" "$(stat -c '%u %a' $STATE)"
if [ "$KC_E2E_MODE" = vm ]; then
	want="qemu $(vmm_of kce2e-k9) virtiofsd $(virtiofsd_of kce2e-k9)"
	check "state: the TAP and its link" "eth0 tap0_kata" "$(jq -r '.network.taps[0] | .link + " " + .tap' $STATE)"
else
	want="agent $(vmm_of kce2e-k9)"
fi
check "state: the VM's processes" "$want" "$(jq -r '[.processes[] | .what, (.pid | tostring)] | join(" ")' $STATE)"
# Each recorded start time is the process's own (field 22 of its stat).
bad=0
for pid in $(jq -r '.processes[].pid' $STATE) $spid; do
	rec=$(jq -r --argjson p "$pid" '(.processes[] | select(.pid == $p) | .start_time), (select(.owner.pid == $p) | .owner.start_time)' $STATE)
	now=$(sed 's/.*) //' /proc/$pid/stat | cut -d' ' -f20)
	[ "$rec" = "$now" ] || bad=$((bad + 1))
done
check "state: start times match /proc" 0 "$bad"
VMPIDS=$(jq -r '.processes[].pid' $STATE)
# Another process opens the live sandbox from its state and asks its
# agent's health through the owner.
out=$("$KC_BUILD_ROOT/tests/kc-state-probe" kce2e-k9 2>&1)
case "$out" in *"health SERVING"*) ok "state: another process gets SERVING through the owner" ;;
	*) not_ok "state: another process gets SERVING through the owner" "$out" ;; esac
out=$("$KC_BUILD_ROOT/tests/kc-state-probe" kce2e-nope 2>&1)
case "$out" in *"/run/vc/sbs/kce2e-nope"*) ok "state: no sandbox, an error naming the file" ;;
	*) not_ok "state: no sandbox, an error naming the file" "$out" ;; esac
# `delete` as containerd runs it while the owner lives: nothing is torn
# down under its feet (not even the bundle's rootfs).
bundle="$W/state/io.containerd.runtime.v2.task/default/kce2e-k9"
(cd "$bundle" && "$KC_BUILD_ROOT/src/shim/containerd-shim-kata-v2" -namespace default \
	-address "$W/run/containerd.sock" -publish-binary /bin/true -id kce2e-k9 delete > /dev/null 2>&1)
rfs=$(grep -c " $bundle/rootfs " /proc/self/mountinfo)
check "delete while the owner lives: left alone" "RUNNING 1 1" "$(task_state kce2e-k9) $([ -f $STATE ] && echo 1) $rfs"
out=$("$KC_BUILD_ROOT/tests/kc-state-probe" kce2e-k9 2>&1)
case "$out" in *"health SERVING"*) ok "... and its agent still answers" ;; *) not_ok "... and its agent still answers" "$out" ;; esac

[ -n "$spid" ] && kill -KILL $spid
for _ in $(seq 100); do
	st=$($CTR tasks ls 2> /dev/null | awk '$1=="kce2e-k9" {print $3}')
	[ "$st" != RUNNING ] && break
	sleep 0.1
done
$CTR tasks delete kce2e-k9 > /dev/null 2>&1
$CTR containers delete kce2e-k9 > /dev/null 2>&1
# containerd runs `shim delete` on its own once it sees the shim gone:
# no process, mount, socket, cgroup, TAP or dir of the pod is left.
left=$(pod_clean kce2e-k9)
check "shim SIGKILLed: nothing of its sandbox is left" "" "$left"
# (A zombie waits for the host's init to reap it: gone all the same.)
for _ in $(seq 50); do
	alive=0
	for pid in $VMPIDS; do
		[ "$(sed 's/.*) //' /proc/$pid/stat 2> /dev/null | cut -d' ' -f1)" = "" ] ||
			[ "$(sed 's/.*) //' /proc/$pid/stat 2> /dev/null | cut -d' ' -f1)" = Z ] ||
			alive=$((alive + 1))
	done
	[ $alive = 0 ] && break
	sleep 0.1
done
check "shim SIGKILLed: the recorded VM processes are gone" 0 "$alive"
if [ -n "$K9NS" ]; then
	got="$(ip -n $K9NS -o link show 2> /dev/null | grep -c tap0_kata) $(tc -n $K9NS qdisc show dev eth0 ingress 2> /dev/null | grep -c ingress)"
	check "shim SIGKILLed: no TAP or tc redirect left in the pod's namespace" "0 0" "$got"
	ip netns del $K9NS
	trap 'e2e_stop' EXIT
fi

trap - EXIT
e2e_stop
e2e_leftovers
e2e_finish
