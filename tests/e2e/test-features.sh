#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What needs the agent's whole container runtime: exec (output, exit
# code, stdin), terminals (exec -t, run -t), Task.Stats (ctr tasks
# metrics), pause and resume, read-only and read-write bind volumes, kernel_modules.  Pause and resume are checked in the VM
# only: the host agent of tests runs on this host's cgroup v1 root, where
# it makes no cgroups (and so has no freezer).
. "$(dirname "$0")/lib.sh"
trap 'e2e_stop' EXIT
e2e_start
C="--runtime-config-path $(e2e_config)"
# A 64 MiB memory limit, which Stats reports from the guest (the host
# agent gets no resources).
timeout 120 $CTR run -d $F $R $C --memory-limit 67108864 $IMG kce2e-ex /bin/sleep 300 > /dev/null 2>&1
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
# Failed execs (a program that is not there, as a Kubernetes exec probe
# naming a missing binary) leave nothing behind: the shim's descriptors,
# and the host agent's, are the same after 30 of them, and an exec still
# works.  (The agent once kept 4 descriptors per failed exec, and every
# exec failed with EMFILE after about 250.)
fds() { ls /proc/"$1"/fd 2> /dev/null | wc -l; }
spid=$(ps -eo pid,args | awk -v w="$W" '$0 ~ "containerd-shim-kata-v2 .*-address " w ".*-id kce2e-ex " && !/awk/ {print $1}')
apid=
[ "$KC_E2E_MODE" = vm ] ||
	apid=$(ps -eo pid,args | awk '/[k]ata-agent --no-init --listen unix:\/\/\/run\/vc\/vm\/kce2e-ex\// {print $1}')
shim_before=$(fds "$spid")
[ -n "$apid" ] && agent_before=$(fds "$apid")
failed=0 named=0
for i in $(seq 30); do
	out=$(timeout 60 $CTR tasks exec --exec-id f$i $F kce2e-ex /nonexistent 2>&1) || failed=$((failed + 1))
	case "$out" in *"/nonexistent"*) named=$((named + 1)) ;; esac
done
check "failed exec: all 30 fail" 30 "$failed"
check "failed exec: the error names the program" 30 "$named"
out=$(timeout 60 $CTR tasks exec --exec-id x4 $F kce2e-ex /bin/echo after-failures 2>&1)
check "exec after 30 failed ones" "after-failures" "$out"
check "failed exec: the shim's descriptors are as before" "$shim_before" "$(fds "$spid")"
if [ -n "$apid" ]; then
	check "failed exec: the agent's descriptors are as before" "$agent_before" "$(fds "$apid")"
fi
# Task.Stats: the guest cgroup's figures (/kata_c/<cid>, cgroup v2) as
# cgroups v1 Metrics.  The host agent has a cgroup only on a cgroup2
# host; on this v1 host its answer is the agent's clear refusal.
metric() { awk -v k="$1" '$1==k {print $2}' <<< "$2"; }
out=$(timeout 60 $CTR tasks metrics kce2e-ex 2>&1)
rc=$?
if [ "$KC_E2E_MODE" = vm ] || [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
	check "metrics: ctr exits 0" 0 $rc
	mem=$(metric memory.usage_in_bytes "$out")
	[ "${mem:-0}" -gt 0 ] 2> /dev/null && ok "metrics: memory usage $mem bytes" ||
		not_ok "metrics: memory usage > 0" "$out"
	[ "$KC_E2E_MODE" = vm ] &&
		check "metrics: memory limit (the spec's)" 67108864 "$(metric memory.limit_in_bytes "$out")"
	cpu=$(metric cpuacct.usage "$out")
	[ "${cpu:-0}" -gt 0 ] 2> /dev/null && ok "metrics: cpu usage $cpu ns" ||
		not_ok "metrics: cpu usage > 0" "$out"
	check "metrics: pids.current (the sleep)" 1 "$(metric pids.current "$out")"
	# The JSON of the decoded message: containerd's field names.
	out=$(timeout 60 $CTR tasks metrics --format json kce2e-ex 2>&1)
	j=$(python3 -c '
import json, sys
m = json.load(sys.stdin)
mem, cpu = m["memory"], m["cpu"]["usage"]
print(mem["usage"]["usage"] > 0, mem["usage"]["limit"], mem["rss"] > 0, mem["total_cache"] > 0,
      cpu["total"] > 0, cpu["user"] + cpu["kernel"] > 0, m["pids"]["current"], "blkio" in m)' \
		<<< "$out" 2>&1)
	want="True 67108864 True True True True 1 True"
	[ "$KC_E2E_MODE" = vm ] || want="True 18446744073709551615 True True True True 1 True"
	check "metrics --format json: memory usage, limit, rss, cache, cpu, pids, blkio" "$want" "$j"
else
	# containerd logs a task's Stats error and ctr gets no metrics.
	check "metrics: none from the host agent without cgroup2" "1: ctr: no metrics received" "$rc: $out"
	grep -q 'collecting metrics for kce2e-ex.*stats of container `kce2e-ex`: grpc.AgentService/StatsContainer: FAILED_PRECONDITION: container `kce2e-ex` has no cgroup: cgroup2 is not mounted' \
		"$W/logs/containerd.log" && t=yes || t="no: $(grep 'collecting metrics' "$W/logs/containerd.log")"
	check "metrics: the agent's refusal, naming why, reaches containerd" yes "$t"
fi
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

# [agent.kata] kernel_modules (VM only: the host agent loads none).  A
# module of the image that init leaves unloaded (there is no virtio block
# device) is loaded with its parameter before the container runs; an
# unknown one fails the sandbox's creation with an error naming it.  The
# annotation (Kata's, modules separated by ';') does the same.
if [ "$KC_E2E_MODE" = vm ]; then
	sed -e 's/^kernel_modules = .*/kernel_modules = ["virtio_blk num_request_queues=1"]/' \
		"$(e2e_config)" > "$W/mods.toml"
	out=$(timeout 120 $CTR run --rm $F $R --runtime-config-path "$W/mods.toml" $IMG kce2e-mod \
		/bin/sh -c 'grep -o "^virtio_blk " /proc/modules; cat /sys/module/virtio_blk/parameters/num_request_queues' 2>&1)
	check "kernel_modules: loaded in the guest with its parameter" "virtio_blk 
1" "$out"
	out=$(timeout 120 $CTR run --rm $F $R $C --annotation \
		"io.katacontainers.config.agent.kernel_modules=virtio_blk queue_depth=64; overlay" \
		$IMG kce2e-mod /bin/sh -c 'grep -oE "^(virtio_blk|overlay) " /proc/modules | sort; cat /sys/module/virtio_blk/parameters/queue_depth' 2>&1)
	check "kernel_modules annotation: both loaded, with the parameter" "overlay 
virtio_blk 
64" "$out"
	sed -e 's/^kernel_modules = .*/kernel_modules = ["virtio_blk", "kce2e_nosuchmod x=1"]/' \
		"$(e2e_config)" > "$W/nomod.toml"
	out=$(timeout 120 $CTR run --rm $F $R --runtime-config-path "$W/nomod.toml" $IMG kce2e-nomod /bin/true 2>&1)
	rc=$?
	[ $rc -ne 0 ] && ok "kernel_modules: an unknown module fails ctr run" ||
		not_ok "kernel_modules: an unknown module fails ctr run" "$out"
	case "$out" in *kce2e_nosuchmod*) ok "... naming the module" ;; *) not_ok "... naming the module" "$out" ;; esac
	$CTR containers delete kce2e-nomod > /dev/null 2>&1
fi

trap - EXIT
e2e_stop
e2e_leftovers
e2e_finish
