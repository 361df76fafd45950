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
	cri_config "${CRINET_SHIM:-$KC_BUILD_ROOT/src/shim/containerd-shim-kata-v2}" \
		'      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"'
	mkdir -p "$CW/ipam"
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
	ip netns add "$NS" || return 1
	ip -n "$NS" link set lo up
	ASAN_OPTIONS=detect_leaks=1:log_path=$W/logs/asan PATH="$CW/bin:$PATH" \
		nsenter --net=/run/netns/"$NS" containerd --config "$CW/config.toml" \
		> "$W/logs/containerd.log" 2>&1 &
	CPID=$!
	cri_images
}

crinet_del() {
	ip netns del "$NS" 2> /dev/null
}
