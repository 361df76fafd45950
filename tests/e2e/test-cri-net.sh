#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Pods with real networking through containerd's CRI plugin: Debian's CNI
# bridge + host-local plugins put every pod's veth on a bridge of this test
# (kc-br-<pid>, 10.99.<n>.0/24).  The private containerd, its shims and VMs
# and the bridge all live in a network namespace the test creates
# (nsenter --net: the mount namespace stays the host's), so no address of
# the host is touched.  Checks (tests/e2e/cri-net.py): a kata pod's
# container pings the bridge's gateway; two kata pods talk TCP; a runc pod
# and a kata pod talk TCP both ways; then nothing left (shims, QEMU,
# virtiofsd, mounts, pod netns, veths on the bridge, sandbox dirs).
# KC_CRI_NET_PING_ONLY=1: the gateway check alone.  VM mode only.  TAP.
. "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c 'import grpc' 2> /dev/null || { echo "1..0 # python3-grpcio is missing"; exit 1; }
[ -x /usr/lib/cni/bridge ] || { echo "1..0 # containernetworking-plugins is missing"; exit 1; }
[ "$KC_E2E_MODE" = vm ] || { echo "1..0 # the host agent cannot take a NIC: VM mode only"; exit 1; }
CW=$W/cri
NS=kc-crinet-$$
BR=kc-br-$$
SUB=10.99.$(($$ % 250 + 1))
mkdir -p "$CW"/{root,state,run,opt,net.d,logs,bin,ipam}
ln -s "$KC_BUILD_ROOT/src/shim/containerd-shim-kata-v2" "$CW/bin/containerd-shim-kata-v2"
mkdir -p "$W/logs"
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
ip netns add "$NS"
ip -n "$NS" link set lo up
ASAN_OPTIONS=detect_leaks=1:log_path=$W/logs/asan PATH="$CW/bin:$PATH" \
	nsenter --net=/run/netns/"$NS" containerd --config "$CW/config.toml" > "$W/logs/containerd.log" 2>&1 &
CPID=$!
CTR="ctr --address $CW/run/containerd.sock -n k8s.io"
for _ in $(seq 100); do $CTR version > /dev/null 2>&1 && break; sleep 0.1; done
"$KC_SOURCE_ROOT/scripts/mk-busybox-oci.sh" "$W/img.tar" "$IMG" > /dev/null
"$KC_SOURCE_ROOT/scripts/mk-busybox-oci.sh" "$W/pause.tar" docker.io/library/kcpause:latest '["/bin/sleep","inf"]' > /dev/null
$CTR images import "$W/img.tar" > /dev/null
$CTR images import "$W/pause.tar" > /dev/null

out=$(timeout 900 /usr/bin/python3 "$(dirname "$0")/cri-net.py" "$CW/run/containerd.sock" "$IMG" "$SUB.1" \
	"$W/logs/pods" $([ "${KC_CRI_NET_PING_ONLY:-0}" = 1 ] && echo ping-only) 2>&1)
rc=$?
echo "$out" | grep '^#'
check "CRI networking flow completes" 0 $rc
[ $rc = 0 ] || echo "$out" | grep -v '^#' | sed 's/^/# /' | tail -30
fact() { echo "$out" | sed -n "s/^check $1 //p"; }
check "CNI gave the kata pod an address on $SUB.0/24" yes "$(fact pod_a_has_ip)"
check "a kata pod's container pings the bridge's gateway $SUB.1" ok "$(fact ping_gateway)"
if [ "${KC_CRI_NET_PING_ONLY:-0}" != 1 ]; then
	check "two kata pods talk TCP over the bridge (busybox nc)" ok "$(fact kata_to_kata_tcp)"
	check "the kata server side saw its client finish" ok "$(fact kata_server_done)"
	check "a kata pod reaches a runc pod over TCP" ok "$(fact kata_to_runc_tcp)"
	check "a runc pod reaches a kata pod over TCP" ok "$(fact runc_to_kata_tcp)"
fi
grep -q 'connected to the VM\|interface(s) connected' "$W/logs/containerd.log" &&
	ok "the shim connected the pod's interface" || not_ok "the shim connected the pod's interface"
sids=$(sed -n 's/.*msg="starting sandbox \([0-9a-f]*\):.*/\1/p' "$W/logs/containerd.log" | sort -u)

kill -TERM "$CPID"
wait "$CPID" 2> /dev/null
for _ in $(seq 50); do
	ps -eo args | grep -q "[c]ontainerd-shim-.* -address $CW/" || break
	sleep 0.1
done
check "no shim left" 0 "$(ps -eo args | grep -c "[c]ontainerd-shim-.* -address $CW/")"
procs=0 mnts=0 dirs=0
for sid in $sids; do
	procs=$((procs + $(ps -eo args | grep -E "qemu-system.*$sid|virtiofsd.*$sid" | grep -vc grep)))
	mnts=$((mnts + $(grep -c "/run/kata-containers/shared/sandboxes/$sid" /proc/self/mountinfo)))
	dirs=$((dirs + $(ls -d /run/kata-containers/shared/sandboxes/$sid /run/vc/vm/$sid 2> /dev/null | wc -l)))
done
check "no qemu or virtiofsd left" 0 "$procs"
check "no mount of the sandboxes left" 0 "$mnts"
check "no mount below the test dir left" 0 "$(grep -c " $W/" /proc/self/mountinfo)"
check "no sandbox dir left" 0 "$dirs"
pod_ns=$(grep -o "/var/run/netns/cni-[0-9a-f-]*" "$W/logs/containerd.log" | sort -u)
[ -n "$pod_ns" ] && ok "containerd made the pods' network namespaces" || not_ok "containerd made the pods' network namespaces"
check "no pod network namespace left" "" "$(ls -d $pod_ns 2> /dev/null)"
check "no veth left on the bridge" "" "$(ip -n "$NS" -o link show master "$BR" 2> /dev/null)"
check "no TAP or qdisc in the test's namespace" "" "$(ip -n "$NS" -o link show type tun; tc -n "$NS" qdisc show ingress 2> /dev/null)"
ip netns del "$NS"
e2e_finish
