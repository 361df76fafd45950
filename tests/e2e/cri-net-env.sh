#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Sourced after lib.sh: a private containerd with the CRI plugin whose pods
# get their network from Debian's CNI bridge + host-local plugins, on a
# bridge of its own (kc-br-<pid>, 10.99.<n>.0/24, gateway .1).  containerd,
# its shims, QEMU and the bridge live in a network namespace made here
# (nsenter --net: the mount namespace stays the host's), so nothing of the
# host's network changes.  Runtime handlers: kata (the shim of
# $CRINET_SHIM, default the build tree's) and runc.
#   crinet_start   sets CW, NS, BR, SUB, CPID, CTR; imports the images
#   crinet_stop    stops containerd (the pods must be removed already)
#   crinet_del     removes the namespace (and the bridge in it)
CW=$W/cri
NS=kc-crinet-$$
BR=kc-br-$$
SUB=10.99.$(($$ % 250 + 1))

crinet_start() {
	mkdir -p "$CW"/{root,state,run,opt,net.d,logs,bin,ipam} "$W/logs"
	ln -sf "${CRINET_SHIM:-$KC_BUILD_ROOT/src/shim/containerd-shim-kata-v2}" "$CW/bin/containerd-shim-kata-v2"
	cat > "$CW/net.d/10-kcnet.conflist" <<EOT
{
  "cniVersion": "0.4.0",
  "name": "kcnet-$$",
  "plugins": [
    { "type": "bridge", "bridge": "$BR", "isGateway": true, "ipMasq": false,
      "ipam": { "type": "host-local", "dataDir": "$CW/ipam",
                "ranges": [[ { "subnet": "$SUB.0/24", "gateway": "$SUB.1" } ]] } }
  ]
}
EOT
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
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
EOT
	ip netns add "$NS" || return 1
	ip -n "$NS" link set lo up
	ASAN_OPTIONS=detect_leaks=1:log_path=$W/logs/asan PATH="$CW/bin:$PATH" \
		nsenter --net=/run/netns/"$NS" containerd --config "$CW/config.toml" \
		> "$W/logs/containerd.log" 2>&1 &
	CPID=$!
	CTR="ctr --address $CW/run/containerd.sock -n k8s.io"
	for _ in $(seq 100); do $CTR version > /dev/null 2>&1 && break; sleep 0.1; done
	"$KC_SOURCE_ROOT/scripts/mk-busybox-oci.sh" "$W/img.tar" "$IMG" > /dev/null
	"$KC_SOURCE_ROOT/scripts/mk-busybox-oci.sh" "$W/pause.tar" docker.io/library/kcpause:latest '["/bin/sleep","inf"]' > /dev/null
	$CTR images import "$W/img.tar" > /dev/null
	$CTR images import "$W/pause.tar" > /dev/null
}

crinet_stop() {
	kill -TERM "$CPID" 2> /dev/null
	wait "$CPID" 2> /dev/null
	for _ in $(seq 50); do
		ps -eo args | grep -q "[c]ontainerd-shim-.* -address $CW/" || break
		sleep 0.1
	done
}

crinet_del() {
	ip netns del "$NS" 2> /dev/null
}
