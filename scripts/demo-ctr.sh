#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The README's main command, once kata-c is installed: a private containerd
# (its own root, state and socket under a temporary dir; no system service
# touched), a busybox image built locally from Debian's busybox-static and
# imported, and
#     ctr run --rm --runtime io.containerd.kata.v2 <image> demo uname -a
# which prints the guest kernel's name: the container ran in the VM.
set -eu
W=$(mktemp -d /tmp/kata-c-demo.XXXXXX)
cd "$(dirname "$0")/.."
cleanup() {
	[ -n "${CPID:-}" ] && kill -TERM "$CPID" 2>/dev/null && wait "$CPID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/root" "$W/state" "$W/run" "$W/fifo" "$W/opt"
cat > "$W/config.toml" <<EOT
version = 2
root  = "$W/root"
state = "$W/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$W/run/containerd.sock"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$W/opt"
EOT
containerd --config "$W/config.toml" > "$W/containerd.log" 2>&1 &
CPID=$!
CTR="ctr --address $W/run/containerd.sock"
i=0
until $CTR version > /dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "demo: containerd did not start" >&2; cat "$W/containerd.log" >&2; exit 1; }
	sleep 0.1
done
IMG=docker.io/library/kata-c-demo:latest
scripts/mk-busybox-oci.sh "$W/image.tar" "$IMG" > /dev/null
$CTR images import "$W/image.tar" > /dev/null
echo "== ctr run --rm --runtime io.containerd.kata.v2 $IMG demo uname -a"
$CTR run --rm --fifo-dir "$W/fifo" --runtime io.containerd.kata.v2 "$IMG" demo uname -a
