#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Kubernetes' emptyDir volumes and the pod's /dev/shm through containerd's
# CRI plugin (tests/e2e/cri-volumes.py), kata against runc in one
# containerd.  kubelet does not run here: its directories are laid out as
# it lays them out (a tmpfs of the sizeLimit for medium: Memory) and passed
# through CRI as it passes them.  Under kata-c a memory emptyDir and
# /dev/shm are tmpfs of the guest (nothing reaches the host's tmpfs), a disk
# emptyDir a guest directory (disable_guest_empty_dir = false); both are
# shared by the pod's containers, a subPath of the memory one too.  VM mode only.  TAP.
# Then ConfigMap and Secret volumes updated in place (docs/volumes-update.md):
# kubelet's swaps of `..data` reach a kata container within 2 s, never a mix
# of versions (key1 and key2 read from the version ..data names) nor a missing key, an inotify watcher in it sees `..data`
# moved in, a `..data` pointing out of the volume or to a non-kubelet name
# never reaches it; runc in the same containerd is the baseline.
. "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c 'import grpc' 2> /dev/null || { echo "1..0 # python3-grpcio is missing"; exit 1; }
CW=$W/cri
cri_config "$KC_BUILD_ROOT/src/shim/containerd-shim-kata-v2" \
	'      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"'
sed -i 's/^disable_guest_empty_dir = .*/disable_guest_empty_dir = false/' "$W/configuration.toml"
grep -q '^disable_guest_empty_dir = false' "$W/configuration.toml" ||
	sed -i 's/^\[runtime\]$/[runtime]\ndisable_guest_empty_dir = false/' "$W/configuration.toml"
env ASAN_OPTIONS=detect_leaks=1:log_path=$W/logs/asan PATH="$CW/bin:$PATH" \
	containerd --config "$CW/config.toml" > "$W/logs/containerd.log" 2>&1 &
CPID=$!
cri_images

# kubelet's layout, one pod per handler.
K=$W/kubelet
layout() {  # layout UID
	local d=$K/pods/$1/volumes/kubernetes.io~empty-dir
	mkdir -p "$d/mem" "$d/shm" "$d/disk" "$d/huge"
	chmod 0777 "$d/mem" "$d/shm" "$d/disk" "$d/huge"
	mount -t tmpfs -o size=64m tmpfs "$d/mem"
	mount -t tmpfs -o size=128m tmpfs "$d/shm"
	mount -t tmpfs -o size=1P tmpfs "$d/huge"
}
layout uid-vol-kata
layout uid-vol-runc
# An inotify watcher for the containers (the image's busybox has no inotifyd).
${CC:-cc} -static -O2 -o "$W/inotify-watch" "$(dirname "$0")/inotify-watch.c" ||
	{ echo "Bail out! cannot build inotify-watch"; exit 1; }
export KC_INOTIFY_WATCH=$W/inotify-watch

out_kata=$(KC_CRI_ABSURD=1 KC_CRI_LOGDIR=$W/logs timeout 600 /usr/bin/python3 "$(dirname "$0")/cri-volumes.py" \
	"$CW/run/containerd.sock" kata "$IMG" "$K" 2>&1)
rc=$?
check "CRI: the kata pod with emptyDirs runs to its end" 0 $rc
[ $rc = 0 ] || echo "$out_kata" | sed 's/^/# /'
out_runc=$(KC_CRI_LOGDIR=$W/logs timeout 300 /usr/bin/python3 "$(dirname "$0")/cri-volumes.py" \
	"$CW/run/containerd.sock" runc "$IMG" "$K" 2>&1)
rc=$?
check "CRI: the runc pod with emptyDirs runs to its end" 0 $rc
[ $rc = 0 ] || echo "$out_runc" | sed 's/^/# /'
fact() { echo "$1" | sed -n "s/^fact $2 //p" | head -1; }

for h in kata runc; do
	eval "out=\$out_$h"
	check "$h: a 64 MiB memory emptyDir is 64 MiB" 65536 "$(fact "$out" mem_kib)"
	check "$h: 65 MiB into it fails with ENOSPC" No_space_left_on_device "$(fact "$out" big_write)"
	# 64 MiB less c1's first file.
	k=$(fact "$out" big_kib)
	check "$h: the writer filled it (got [$k] KiB in)" ok "$([ "${k:-0}" -ge 65000 ] && [ "$k" -le 65536 ] && echo ok)"
	check "$h: a second container sees the first's file (memory emptyDir)" hello-mem "$(fact "$out" c2_mem)"
	check "$h: a second container sees the first's file (disk emptyDir)" hello-disk "$(fact "$out" c2_disk)"
	check "$h: the pod's /dev/shm is 64 MiB (containerd's size)" 65536 "$(fact "$out" shm_kib)"
	check "$h: a memory emptyDir of 128 MiB on /dev/shm sizes it" 131072 "$(fact "$out" shm_dir_kib)"
	check "$h: the whole emptyDir sees what its subPath's container wrote" from-sub \
		"$(fact "$out" whole_sees)"
	check "$h: the subPath's container sees what the whole one wrote" from-whole \
		"$(fact "$out" sub_sees)"
done
for h in kata runc; do
	eval "out=\$out_$h"
	check "$h: the ConfigMap's first version is read" yes "$(fact "$out" c5_v1)"
	m=$(fact "$out" swap_max_ms)
	check "$h: every swap of ..data shows within 2 s (ms: $(fact "$out" swap_ms))" ok \
		"$([ -n "$m" ] && [ "$m" -lt 2000 ] && echo ok)"
	m=$(fact "$out" sec_ms)
	check "$h: the Secret's swap shows within 2 s ($m ms)" ok "$([ -n "$m" ] && [ "$m" -lt 2000 ] && echo ok)"
	check "$h: never a mix of two versions" 0 "$(fact "$out" mix)"
	check "$h: never a key missing" 0 "$(fact "$out" missing)"
	check "$h: two reads never see a newer key1 with an older key2" 0 "$(fact "$out" torn)"
	echo "# $h: a swap between two reads (old key1, new key2, as on a node): $(fact "$out" straddles) times"
	# Six swaps, and under kata the one after the refused ones.
	n=$(fact "$out" data_moves)
	check "$h: an inotify watcher in the container sees ..data moved in ($n times)" ok \
		"$([ "${n:-0}" -ge 6 ] && echo ok)"
	echo "# $h: swap to visible, median $(fact "$out" swap_median_ms) ms (each: $(fact "$out" swap_ms))"
done
check "kata: the ConfigMap is the guest's copy (a tmpfs)" tmpfs "$(fact "$out_kata" cfg_fs)"
check "kata: a ..data out of the volume or not kubelet's never reaches the container" no \
	"$(fact "$out_kata" bad_seen)"
m=$(fact "$out_kata" after_bad_ms)
check "kata: the next good version still shows within 2 s ($m ms)" ok "$([ -n "$m" ] && [ "$m" -lt 2000 ] && echo ok)"
grep -q "refused: volume .*\`..data\` points to \`../..2026_01_01_00_00_00.1\`, not a version" "$W/logs/containerd.log" &&
	grep -q "\`..data\` points to \`notkubelet\`" "$W/logs/containerd.log"
check "kata: the shim logged both refusals" 0 $?
check "kata: the memory emptyDir is a tmpfs of the guest" tmpfs "$(fact "$out_kata" mem_fs)"
check "kata: /dev/shm is a tmpfs of the guest" tmpfs "$(fact "$out_kata" shm_fs)"
d=$K/pods/uid-vol-kata/volumes/kubernetes.io~empty-dir
check "kata: the memory emptyDir's subPath is that tmpfs of the guest" tmpfs "$(fact "$out_kata" sub_fs)"
# kubelet made the subPath's directories on the host; the files stay in the guest.
check "kata: nothing but kubelet's subPath directories reached the host's memory emptyDir" \
	"./sub ./sub/dir " "$(cd "$d/mem" && find . -mindepth 1 | sort | tr '\n' ' ')"
check "runc: the host's memory emptyDir holds both files" "f g" \
	"$(ls "$K/pods/uid-vol-runc/volumes/kubernetes.io~empty-dir/mem/sub/dir" | tr '\n' ' ' | sed 's/ $//')"
check "kata: nothing reached the host's disk emptyDir (it is the guest's)" "" "$(ls -A "$d/disk")"
check "runc: the host's disk emptyDir holds the file" hello "$(ls "$K/pods/uid-vol-runc/volumes/kubernetes.io~empty-dir/disk")"
check "kata: an absurd sizeLimit is refused at CreateContainer" refused "$(fact "$out_kata" absurd)"
case "$out_kata" in *"absurd error:"*"emptyDir \`huge\` asks for 1125899906842624 bytes"*"more than this host's memory"*)
	ok "kata: the error names the volume and its size" ;;
*) not_ok "kata: the error names the volume and its size" "$(echo "$out_kata" | grep 'absurd error')" ;; esac

cri_stop
check "CRI: no shim left" 0 "$cri_shims_left"
for m in $(awk -v k="$K/" 'index($5, k) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
	umount "$m"
done
check "CRI: no mount left" 0 "$(grep -cE " $W/" /proc/self/mountinfo)"
e2e_finish
