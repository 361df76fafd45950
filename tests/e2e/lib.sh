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
	env $KC_E2E_AGENT_ENV ASAN_OPTIONS=detect_leaks=1:log_path=$W/logs/asan \
		PATH="$W/bin:$PATH" containerd --config "$W/config.toml" \
		> "$W/logs/containerd.log" 2>&1 &
	CPID=$!
	for _ in $(seq 100); do $CTR version > /dev/null 2>&1 && break; sleep 0.1; done
	"$KC_SOURCE_ROOT/scripts/mk-busybox-oci.sh" "$W/img.tar" "$IMG" > /dev/null
	$CTR images import "$W/img.tar" > /dev/null
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
	dirs=$(ls -d /run/kata-containers/shared/sandboxes/kce2e* /run/vc/vm/kce2e* 2> /dev/null | wc -l)
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
