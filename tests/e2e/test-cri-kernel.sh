#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What the guest kernel offers a privileged container (tests/e2e/cri-kernel.py
# through containerd's CRI plugin): a bridge, a veth pair, a tun device and
# an iptables rule on nf_tables, each a module that the kernel loads on
# demand through the agent's /sbin/modprobe (src/agent/modules.c).  VM
# mode only: the host agent would use the host's kernel.  runc is not
# compared: with the host network it would change the host's own links.
# TAP.
. "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c 'import grpc' 2> /dev/null || { echo "1..0 # python3-grpcio is missing"; exit 1; }
CW=$W/cri
cri_config "$KC_BUILD_ROOT/src/shim/containerd-shim-kata-v2"
env ASAN_OPTIONS=detect_leaks=1:log_path=$W/logs/asan PATH="$CW/bin:$PATH" \
	containerd --config "$CW/config.toml" > "$W/logs/containerd.log" 2>&1 &
CPID=$!
cri_images

# iptables (nft back end) for the busybox image: the host's binary with its
# libraries and loader, mounted read-only.
XT=$W/xt
mkdir -p "$XT/xtables"
B=/usr/sbin/xtables-nft-multi
cp "$B" "$XT/"
for l in $(ldd "$B" | grep -o '/[^ ]*'); do cp -L "$l" "$XT/"; done
cp /usr/lib/x86_64-linux-gnu/xtables/libxt_standard.so "$XT/xtables/"

out=$(KC_CRI_LOGDIR=$W/logs timeout 600 /usr/bin/python3 "$(dirname "$0")/cri-kernel.py" \
	"$CW/run/containerd.sock" kata "$IMG" "$XT" 2>&1)
rc=$?
check "CRI: the privileged pod runs to its end" 0 $rc
[ $rc = 0 ] || echo "$out" | sed 's/^/# /'
for s in bridge brctl veth tun iptables links; do
	case "$out" in
	*"$s-ok"*) ok "privileged container: $s" ;;
	*) not_ok "privileged container: $s" "$(echo "$out" | grep -o "$s-failed.*")" ;;
	esac
done
case "$out" in *"exit_code: 0"*) ok "CRI: the container exits 0" ;; *) not_ok "CRI: the container exits 0" ;; esac

cri_stop
check "CRI: no shim left" 0 "$cri_shims_left"
check "CRI: no mount left" 0 "$(grep -cE " $W/" /proc/self/mountinfo)"
e2e_finish
