#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A private containerd for the end-to-end tests: its root, state, socket
# and fifos under one temporary dir; the shim under test first on its PATH
# (containerd looks shims up on its own PATH and passes them its own
# environment).  Nothing of the host's containerd is touched.
#
#   KC_BUILD_ROOT   the build dir (shim, agent)
#   KC_E2E_MODE     "host-agent" (the agent as a host process in place of a
#                   VM) or "vm"
set -u
E2E_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KC_SOURCE_ROOT=${KC_SOURCE_ROOT:-$(cd "$E2E_HERE/../.." && pwd)}
KC_BUILD_ROOT=${KC_BUILD_ROOT:-$KC_SOURCE_ROOT/build-test}
KC_E2E_MODE=${KC_E2E_MODE:-host-agent}
W=$(mktemp -d /tmp/kc-e2e-shim.XXXXXX)
IMG=docker.io/library/kcbusybox:latest
CTR="ctr --address $W/run/containerd.sock"
F="--fifo-dir $W/fifo"
R="--runtime io.containerd.kata.v2"
tap_n=0
tap_fail=0

ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1"; }
not_ok() { tap_n=$((tap_n + 1)); tap_fail=$((tap_fail + 1)); echo "not ok $tap_n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { # check NAME EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected [$2]" "got [$3]"; fi
}

e2e_start() {
	mkdir -p "$W"/{root,state,run,fifo,logs,bin,opt}
	ln -s "$KC_BUILD_ROOT/src/shim/containerd-shim-kata-v2" "$W/bin/containerd-shim-kata-v2"
	cat > "$W/config.toml" <<EOT
version = 2
root  = "$W/root"
state = "$W/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$W/run/containerd.sock"
[debug]
  level = "debug"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$W/opt"
EOT
	KC_E2E_AGENT_ENV=
	if [ "$KC_E2E_MODE" = host-agent ]; then
		KC_E2E_AGENT_ENV="KATA_C_TEST_AGENT=$KC_BUILD_ROOT/src/agent/kata-agent"
	fi
	e2e_containerd
	"$KC_SOURCE_ROOT/scripts/mk-busybox-oci.sh" "$W/img.tar" "$IMG" > /dev/null
	$CTR images import "$W/img.tar" > /dev/null
}

# containerd on $W, started (again) with this run's environment, once it
# answers; CPID is its pid.  Its log, with the shims' (they log through
# it), goes on in $W/logs/containerd.log.  The event subscription of
# e2e_events, which ends with containerd, is taken again.
e2e_containerd() {
	env $KC_E2E_AGENT_ENV ASAN_OPTIONS=detect_leaks=1:log_path=$W/logs/asan \
		PATH="$W/bin:$PATH" containerd --config "$W/config.toml" \
		>> "$W/logs/containerd.log" 2>&1 &
	CPID=$!
	for _ in $(seq 100); do $CTR version > /dev/null 2>&1 && break; sleep 0.1; done
	if [ -n "${EVPID:-}" ]; then
		$CTR events >> "$W/events.log" 2>&1 &
		EVPID=$!
	fi
}

# containerd stops (SIGTERM, as systemd stops it) and starts again.
e2e_containerd_restart() {
	kill -TERM "$CPID" 2> /dev/null
	wait "$CPID" 2> /dev/null
	e2e_containerd
}

# Every event containerd publishes, as `ctr events` prints them, in
# $W/events.log (task_events counts them).
e2e_events() {
	$CTR events >> "$W/events.log" 2>&1 &
	EVPID=$!
}

# task_events TOPIC ID: how many /tasks/TOPIC events (create, start, exit,
# delete...) containerd published for container ID.
task_events() {
	grep -c "/tasks/$1 {\"container_id\":\"$2\"" "$W/events.log" 2> /dev/null
}

# The state of task ID as `ctr tasks ls` shows it; empty when there is none
# (or when containerd does not answer within 10 s: a wedged shim).
task_state() { timeout 10 $CTR tasks ls 2> /dev/null | awk -v id="$1" '$1==id {print $3}'; }
# wait_state ID STATE: up to 20 s.
wait_state() {
	for _ in $(seq 200); do
		[ "$(task_state "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# The pids of pod ID's processes: its shim (of this run's containerd: the
# daemon, from the pid file it writes next to its socket once it serves;
# while `start` runs, the launcher has the same command line), its VMM
# (QEMU, or the host agent that stands in for it), its virtiofsd (the one
# the shim started; it forks a helper that dies with it).
shim_of() {
	local pid
	pid=$(cat "$(shim_socket "$1").pid" 2> /dev/null) && kill -0 "$pid" 2> /dev/null && echo "$pid"
}
vmm_of() {
	if [ "$KC_E2E_MODE" = vm ]; then
		ps -eo pid,args | awk -v id="$1" 'index($0, "qemu-system") && index($0, "-name kata-" id " ") && !/awk/ {print $1}'
	else
		ps -eo pid,args | awk -v id="$1" 'index($0, "kata-agent --no-init --listen unix:///run/vc/vm/" id "/") && !/awk/ {print $1}'
	fi
}
virtiofsd_of() {
	local shim
	shim=$(shim_of "$1")
	[ -n "$shim" ] && ps -eo pid,ppid,args | awk -v id="$1" -v s="$shim" '$2 == s && index($0, "virtiofsd --socket-path=/run/vc/vm/" id "/") {print $1}'
}

# The socket the shim of pod ID listens on: start.c's shim_socket_path(),
# the FNV-1a hash of containerd's address, the namespace and the id.
shim_socket() {
	local k="$W/run/containerd.sock/default/$1" h=$((0xcbf29ce484222325)) i c
	for ((i = 0; i < ${#k}; i++)); do
		printf -v c '%d' "'${k:i:1}"
		h=$(((h ^ c) * 0x100000001b3))
	done
	printf '/run/kata-containers/s/%016x.sock\n' "$h"
}

# What pod ID left on the host, a line each (nothing: it is clean): a
# process (shim, VMM or host agent, virtiofsd), a mount (the shared
# directory's, the bundle's rootfs), a state directory, the shim's socket
# or pid file, a host cgroup, a TAP device.
pod_leftovers() {
	local id=$1 sock p
	ps -eo pid,args | awk -v w="$W" -v id="$id" '!/awk/ &&
		($0 ~ "containerd-shim-kata-v2 .*-address " w ".*-id " id " " ||
		 index($0, "-name kata-" id " ") || index($0, "/run/vc/vm/" id "/") ||
		 index($0, "/sandboxes/" id "/")) {print "process " substr($0, 1, 160)}'
	awk -v id="$id" -v w="$W/" '{ n = split($5, c, "/") }
		index($5, "/run/kata-containers/") == 1 || index($5, "/run/vc/") == 1 || index($5, w) == 1 {
			for (i = 1; i <= n; i++) if (c[i] == id) { print "mount " $5; next } }' /proc/self/mountinfo
	sock=$(shim_socket "$id")
	for p in /run/vc/vm/"$id" /run/vc/sbs/"$id" /run/kata-containers/shared/sandboxes/"$id" \
		"$sock" "$sock.pid" /sys/fs/cgroup/*/default/"$id" /sys/fs/cgroup/default/"$id"; do
		[ -e "$p" ] && echo "left $p"
	done
	ip -o link show 2> /dev/null | awk -F': ' '$2 ~ /^tap[0-9]+_kata/ {print "tap " $2}'
}

# pod_clean ID: whether pod ID leaves nothing within 10 s (a shim answers
# Shutdown before it stops its VM); prints what stays.
pod_clean() {
	local left
	for _ in $(seq 100); do
		left=$(pod_leftovers "$1")
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	echo "$left"
	return 1
}

# The configuration the shim reads (runtime option ConfigPath).
# In vm mode: the repository's configuration with the guest image of the
# build tree and a small guest.
e2e_config() {
	if [ -n "${KC_E2E_CONFIG:-}" ]; then
		echo "$KC_E2E_CONFIG"
		return
	fi
	if [ "$KC_E2E_MODE" = vm ] && [ ! -f "$W/configuration.toml" ]; then
		sed -e "s|^kernel = .*|kernel = \"$KC_BUILD_ROOT/guest/vmlinux.container\"|" \
			-e "s|^initrd = .*|initrd = \"$KC_BUILD_ROOT/guest/kata-containers-initrd.img\"|" \
			-e "s|^default_memory = .*|default_memory = ${KC_E2E_MEMORY:-256}|" \
			"$KC_SOURCE_ROOT/config/configuration-qemu.toml" > "$W/configuration.toml"
	fi
	if [ "$KC_E2E_MODE" = vm ]; then
		echo "$W/configuration.toml"
	else
		echo "$KC_SOURCE_ROOT/config/configuration-qemu.toml"
	fi
}

# A private containerd with the CRI plugin under $CW (cri_config SHIM
# [TOML]): its dirs, SHIM as its kata shim, and $CW/config.toml with the
# kata runtime handler (the default; configuration: e2e_config) and TOML
# appended (more runtime handlers).  CNI: /usr/lib/cni, $CW/net.d.
cri_config() {
	mkdir -p "$CW"/{root,state,run,opt,net.d,logs,bin} "$W/logs"
	ln -sf "$1" "$CW/bin/containerd-shim-kata-v2"
	cat > "$CW/config.toml" <<EOT
version = 2
root  = "$CW/root"
state = "$CW/state"
[grpc]
  address = "$CW/run/containerd.sock"
[debug]
  level = "debug"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$CW/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "docker.io/library/kcpause:latest"
    disable_apparmor = true
    restrict_oom_score_adj = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$CW/net.d"
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "kata"
      snapshotter = "overlayfs"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata]
        runtime_type = "io.containerd.kata.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata.options]
          ConfigPath = "$(e2e_config)"
${2:-}
EOT
}

# Stops the CRI containerd of $CW and gives the pods' shims, which end once
# their pods are removed, 5 s to go: cri_shims_left is how many stayed.
cri_stop() {
	kill -TERM "$CPID" 2> /dev/null
	wait "$CPID" 2> /dev/null
	for _ in $(seq 50); do
		ps -eo args | grep -q "[c]ontainerd-shim-.* -address $CW/" || break
		sleep 0.1
	done
	cri_shims_left=$(ps -eo args | grep -c "[c]ontainerd-shim-.* -address $CW/")
}

# Once the CRI containerd started on $CW answers: CTR (its ctr, namespace
# k8s.io), $IMG and the pause image imported.
cri_images() {
	CTR="ctr --address $CW/run/containerd.sock -n k8s.io"
	for _ in $(seq 100); do $CTR version > /dev/null 2>&1 && break; sleep 0.1; done
	"$KC_SOURCE_ROOT/scripts/mk-busybox-oci.sh" "$W/img.tar" "$IMG" > /dev/null
	"$KC_SOURCE_ROOT/scripts/mk-busybox-oci.sh" "$W/pause.tar" docker.io/library/kcpause:latest '["/bin/sleep","inf"]' > /dev/null
	$CTR images import "$W/img.tar" > /dev/null
	$CTR images import "$W/pause.tar" > /dev/null
}

e2e_stop() {
	$CTR tasks ls -q 2> /dev/null | while read -r t; do $CTR tasks kill -s SIGKILL "$t"; done
	kill -TERM "$CPID" 2> /dev/null
	wait "$CPID" 2> /dev/null
	[ -n "${EVPID:-}" ] && kill "$EVPID" 2> /dev/null
	EVPID=
}

# Leftovers: no shim, agent, qemu or virtiofsd of ours, no mount or dir.
# A shim answers Shutdown before it stops its VM (as containerd's shims
# exit after answering): it is given 5 s to finish.
e2e_leftovers() {
	local procs mnts dirs
	for _ in $(seq 50); do
		procs=$(ps -eo args | grep -E "containerd-shim-kata-v2 .*-address $W/|kata-agent --no-init --listen unix:///run/vc/vm/kce2e|qemu-system.*kce2e|virtiofsd.*kce2e" | grep -v grep | wc -l)
		[ "$procs" = 0 ] && break
		sleep 0.1
	done
	check "no shim, agent, qemu or virtiofsd left" 0 "$procs"
	mnts=$(grep -cE " /run/kata-containers/shared/sandboxes/kce2e| $W/" /proc/self/mountinfo)
	check "no mount left" 0 "$mnts"
	dirs=$(ls -d /run/kata-containers/shared/sandboxes/kce2e* /run/vc/vm/kce2e* /run/vc/sbs/kce2e* 2> /dev/null | wc -l)
	check "no sandbox dir left" 0 "$dirs"
	dirs=$(ls -d /sys/fs/cgroup/*/default/kce2e* /sys/fs/cgroup/default/kce2e* 2> /dev/null | wc -l)
	check "no host cgroup left" 0 "$dirs"
}

# After a failure: what a broken run left is still stopped.  Shims of this
# run tear their VMs down on SIGTERM; containerd's mounts under $W go.
# The logs stay for reading.
e2e_reap() {
	local pids m
	pids=$(ps -eo pid,args | awk -v w="$W/" '$0 ~ "containerd-shim-kata-v2 .*-address " w && !/awk/ {print $1}')
	[ -n "$pids" ] && kill -TERM $pids 2> /dev/null
	for _ in $(seq 100); do
		[ -z "$pids" ] && break
		kill -0 $pids 2> /dev/null || break
		sleep 0.1
	done
	for m in $(awk -v w="$W/" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2> /dev/null
	done
}

e2e_finish() {
	if ls "$W"/logs/asan* > /dev/null 2>&1; then
		not_ok "no sanitizer report from the shim" "$(cat "$W"/logs/asan* | head -40)"
	else
		ok "no sanitizer report from the shim"
	fi
	echo "1..$tap_n"
	if [ "$tap_fail" = 0 ]; then rm -rf "$W"; else e2e_reap; echo "# logs kept in $W"; fi
	[ "$tap_fail" = 0 ]
}
