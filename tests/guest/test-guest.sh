#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# test-guest.sh - guest image tests (TAP).
# Builds the guest kernel (Debian cloud kernel -> vmlinux + modules), the
# bare-VM baseline init and its initrd (twice: must be byte-identical), checks
# the initrd's entries and boots it under QEMU microvm (TCG, see MACHINE.md),
# reporting the median wall time of 3 boots as a '#' comment.  Then the real
# image that meson built (guest/meson.build: static kata-agent as /init):
# its entries, reproducibility and size, and two boots in which the host
# end of the virtio-serial port (guest-client) gets Health Check and
# Version answered and DestroySandbox powers the guest off (QEMU exits 0);
# the first also mounts real storages (virtio-fs, virtio-blk, binds, tmpfs).
# Env: KC_SOURCE_ROOT (default: two levels up from this script),
#      KC_BUILD_ROOT (default: $KC_SOURCE_ROOT/build); outputs go to
#      $KC_BUILD_ROOT/guest (the kernel .deb is cached there between runs,
#      the meson targets put the agent image there too).
#      KC_GUEST_CLIENT (default $KC_BUILD_ROOT/tests/guest-client),
#      KC_QEMU (default qemu-system-x86_64), KC_QEMU_ACCEL (default
#      tcg,thread=multi), KC_BOOT_TIMEOUT (default 60 s).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${KC_SOURCE_ROOT:-$(cd "$HERE/../.." && pwd)}
BLD=${KC_BUILD_ROOT:-$SRC/build}/guest
QEMU=${KC_QEMU:-qemu-system-x86_64}
ACCEL=${KC_QEMU_ACCEL:-tcg,thread=multi}
BOOT_TIMEOUT=${KC_BOOT_TIMEOUT:-60}
GUEST=$SRC/guest
LINE="kata-c bare-init: powering off"
mkdir -p "$BLD"
TMP=$(mktemp -d "$BLD/.test.XXXXXX")
QPID=""
cleanup() {
    if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then kill "$QPID" 2>/dev/null; fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

N=23
echo "1..$N"
n=0
ok()   { n=$((n + 1)); echo "ok $n - $*"; }
nok()  { n=$((n + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }
diag() { sed 's/^/# /' "$@"; }

# 1-2: kernel
KOUT=$BLD/kernel
if (cd "$TMP" && "$GUEST/build-kernel.sh" "$KOUT") > "$TMP/k.log" 2>&1; then
    ok "build-kernel.sh builds $(cat "$KOUT/kernel-version")"
    KOK=1
else
    nok "build-kernel.sh"; diag "$TMP/k.log"; KOK=0
fi
pvh_note() {
    [ "$(od -An -t x1 -N 4 "$KOUT/vmlinux" | tr -d ' ')" = 7f454c46 ] || return 1
    # XEN_ELFNOTE_PHYS32_ENTRY (type 0x12, owner "Xen") is the PVH entry
    # point QEMU's microvm loader looks for.
    readelf -n "$KOUT/vmlinux" | grep -Eq '^[[:space:]]*Xen[[:space:]]+0x[0-9a-f]+[[:space:]]+(.*\(0x00000012\)|.*PHYS32_ENTRY)'
}
if [ $KOK = 1 ]; then check "vmlinux is an ELF with a PVH entry note (Xen 0x12)" pvh_note
else skip "vmlinux PVH note" "no kernel"; fi

# 3: modules + load order (dependencies first)
load_order_ok() {
    lo=$KOUT/modules/load-order
    for m in virtio_ring virtio virtio_mmio virtio_console fuse virtiofs vsock \
             vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport \
             virtio_blk virtio_net; do
        grep -qx "$m.ko" "$lo" || { echo "# missing $m.ko"; return 1; }
    done
    # On-demand modules, gzip'd, with their dependencies and aliases.
    for m in overlay bridge veth tun nf_tables; do
        [ -f "$KOUT/modules/$m.ko.gz" ] || { echo "# missing $m.ko.gz"; return 1; }
    done
    grep -qx 'bridge llc stp bridge' "$KOUT/modules/on-demand" &&
    grep -qx 'rtnl-link-bridge bridge' "$KOUT/modules/aliases" &&
    grep -qx 'fs-overlay overlay' "$KOUT/modules/aliases" || return 1
    while read -r f; do [ -f "$KOUT/modules/$f" ] || return 1; done < "$lo"
    pos() { grep -nx "$1.ko" "$lo" | cut -d: -f1; }
    [ "$(pos virtio_ring)" -lt "$(pos virtio)" ] &&
    [ "$(pos virtio)" -lt "$(pos virtio_mmio)" ] &&
    [ "$(pos fuse)" -lt "$(pos virtiofs)" ] &&
    [ "$(pos vsock)" -lt "$(pos vmw_vsock_virtio_transport_common)" ] &&
    [ "$(pos vmw_vsock_virtio_transport_common)" -lt "$(pos vmw_vsock_virtio_transport)" ]
}
if [ $KOK = 1 ]; then check "modules copied, load-order lists dependencies first" load_order_ok
else skip "modules load-order" "no kernel"; fi

# 4: re-run is idempotent and uses the cached .deb
rerun_ok() {
    a=$(cksum < "$KOUT/vmlinux"); b=$(cksum < "$KOUT/modules/load-order")
    (cd "$TMP" && "$GUEST/build-kernel.sh" "$KOUT") > "$TMP/k2.log" 2>&1 || return 1
    ! grep -q '^Get:' "$TMP/k2.log" &&
    [ "$(ls "$KOUT/cache"/*.deb | wc -l)" -eq 1 ] &&
    [ "$a" = "$(cksum < "$KOUT/vmlinux")" ] &&
    [ "$b" = "$(cksum < "$KOUT/modules/load-order")" ]
}
if [ $KOK = 1 ]; then check "build-kernel.sh re-run: cached, same outputs" rerun_ok
else skip "build-kernel.sh re-run" "no kernel"; fi

# 5: bare-init, static
BINIT=$BLD/bare-init
if ${CC:-gcc} -static -Os -s -Wall -Wextra -Werror -o "$BINIT" "$GUEST/bare-init.c" > "$TMP/cc.log" 2>&1 &&
   ! readelf -l "$BINIT" | grep -q INTERP; then
    ok "bare-init builds static"; IOK=1
else
    nok "bare-init builds static"; diag "$TMP/cc.log"; IOK=0
fi

# 6-7: initrd twice, identical
IMG=$BLD/bare-initrd.img
: > "$TMP/i.log"
if [ $KOK = 1 ] && [ $IOK = 1 ] &&
   "$GUEST/build-initrd.sh" "$BINIT" "$KOUT/modules" "$IMG" 2> "$TMP/i.log" &&
   sleep 1 && touch "$BINIT" &&
   "$GUEST/build-initrd.sh" "$BINIT" "$KOUT/modules" "$TMP/again.img" 2>> "$TMP/i.log"; then
    ok "build-initrd.sh builds ($(wc -c < "$IMG") bytes)"; ROK=1
    check "initrd is reproducible (same bytes twice)" cmp -s "$IMG" "$TMP/again.img"
else
    nok "build-initrd.sh"; diag "$TMP/i.log"; ROK=0
    skip "initrd reproducible" "no initrd"
fi

# 8: exact entries
# The initrd is two archives: the on-demand modules uncompressed (padded
# to 512-byte blocks), then the rest gzip'd.  initrd_t IMG [cpio options]
# lists both; initrd_gz IMG writes the second, uncompressed.
initrd_gz() {
    blocks=$(cpio -t < "$1" 2>&1 > /dev/null | sed -n 's/^\([0-9]*\) blocks\{0,1\}$/\1/p')
    [ -n "$blocks" ] || return 1
    tail -c +$((blocks * 512 + 1)) "$1" | gzip -dc
}
initrd_t() {
    img=$1; shift
    cpio -t --quiet "$@" < "$img" 2>/dev/null
    initrd_gz "$img" | cpio -t --quiet "$@" 2>/dev/null
}
want_entries() {
    { printf '%s\n' dev dev/console etc init lib lib/modules lib/modules/load-order proc run \
          lib/modules/modprobe sys tmp lib lib/modules lib/modules/on-demand lib/modules/aliases
      sed 's|^|lib/modules/|' "$KOUT/modules/load-order"
      (cd "$KOUT/modules" && ls -- *.ko.gz) | sed 's|^|lib/modules/|'; } | LC_ALL=C sort
}
entries_ok() {
    want_entries > "$TMP/want"
    initrd_t "$IMG" | LC_ALL=C sort > "$TMP/got"
    diff "$TMP/want" "$TMP/got" > "$TMP/diff" || { diag "$TMP/diff"; return 1; }
    initrd_t "$IMG" -v > "$TMP/long"
    grep -Eq '^-rwxr-xr-x +1 root +root .* init$' "$TMP/long" &&
    grep -Eq '^c.* 5, +1 .* dev/console$' "$TMP/long" &&
    ! grep -v ' root  *root ' "$TMP/long" | grep -q .
}
if [ $ROK = 1 ]; then check "initrd holds exactly the expected entries" entries_ok
else skip "initrd entries" "no initrd"; fi

# 9-12: boot 3 times under QEMU microvm
# Under TCG the kernel's PIT calibration of the TSC fails now and then
# (timer jitter): "tsc: Unable to calibrate against PIT", and the boot then
# hangs (1 boot in 8 here).  TCG's guest TSC runs at the host's rate, so the
# host's frequency is given instead (tsc_early_khz skips the calibration).
TSC=""
case $ACCEL in
tcg*)
    mhz=$(awk -F': *' '/^cpu MHz/ { print int($2); exit }' /proc/cpuinfo)
    [ -n "$mhz" ] && TSC="tsc_early_khz=$((mhz * 1000))"
    ;;
esac
APPEND="console=ttyS0 panic=-1 quiet $TSC"
boot() {  # $1 = log file; writes the wall time in ms to $1.ms; returns QEMU's rc
    t0=$(date +%s%N)
    timeout -k 5 "$BOOT_TIMEOUT" "$QEMU" -accel "$ACCEL" -cpu max \
        -M microvm,pit=on,pic=on,rtc=on,memory-backend=mem \
        -global virtio-mmio.force-legacy=false \
        -object memory-backend-memfd,id=mem,size=512M,share=on -m 512 \
        -nographic -no-reboot -kernel "$KOUT/vmlinux" -initrd "$IMG" \
        -append "$APPEND" \
        -pidfile "$TMP/qemu.pid" < /dev/null > "$1" 2>&1
    rc=$?
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000000 )) > "$1.ms"
    return $rc
}
if [ $ROK = 1 ] && command -v "$QEMU" > /dev/null; then
    times=""; fails=0; leftover=0
    for i in 1 2 3; do
        rm -f "$TMP/qemu.pid"
        rc=0; boot "$TMP/boot$i.log" || rc=$?
        ms=$(cat "$TMP/boot$i.log.ms")
        if [ $rc -eq 0 ] && grep -q "^$LINE" "$TMP/boot$i.log"; then
            times="$times $ms"
        else
            fails=$((fails + 1)); echo "# boot $i failed: rc $rc after $ms ms"
            tail -n 20 "$TMP/boot$i.log" | diag
        fi
        if [ -s "$TMP/qemu.pid" ]; then
            QPID=$(cat "$TMP/qemu.pid")
            kill -0 "$QPID" 2>/dev/null && leftover=1
        fi
    done
    check "guest boots, prints its line and QEMU exits 0 on power-off (3 boots)" [ $fails -eq 0 ]
    check "guest console shows bare-init's line" grep -q "^$LINE" "$TMP/boot1.log"
    check "no qemu process left behind" [ $leftover -eq 0 ]
    if [ -n "$times" ]; then
        # shellcheck disable=SC2086 # $times is a list of numbers
        med=$(printf '%s\n' $times | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
        echo "# bare-VM boot wall times (ms):$times; median ${med} ms (accel $ACCEL)"
        check "bare-VM boot time measured (median ${med} ms)" [ "$med" -gt 0 ]
    else
        nok "bare-VM boot time measured"
    fi
else
    for d in "guest boots" "console line" "no qemu left" "boot time"; do
        skip "$d" "no initrd or no $QEMU"
    done
fi

# 13-21: the agent image built by meson (guest/meson.build)
AGENT=$BLD/kata-agent.static
AIMG=$BLD/kata-containers-initrd.img
CLIENT=${KC_GUEST_CLIENT:-${KC_BUILD_ROOT:-$SRC/build}/tests/guest-client}
if [ -x "$AGENT" ] && [ -s "$AIMG" ] && [ $KOK = 1 ]; then AOK=1; else AOK=0; fi
static_ok() { readelf -h "$AGENT" > /dev/null && ! readelf -l "$AGENT" | grep -q INTERP; }
if [ $AOK = 1 ]; then check "kata-agent.static is a static binary ($(wc -c < "$AGENT") bytes)" static_ok
else nok "agent image built by meson ($AGENT, $AIMG)"; fi
agent_entries_ok() {
    want_entries > "$TMP/awant"
    initrd_t "$AIMG" | LC_ALL=C sort > "$TMP/agot"
    diff "$TMP/awant" "$TMP/agot" > "$TMP/adiff" || { diag "$TMP/adiff"; return 1; }
    # /init is the agent itself.
    mkdir "$TMP/x" && (cd "$TMP/x" && initrd_gz "$AIMG" | cpio -id --quiet init 2>/dev/null) &&
    cmp -s "$TMP/x/init" "$AGENT"
}
agent_repro_ok() {
    "$GUEST/build-initrd.sh" "$AGENT" "$KOUT/modules" "$TMP/agent-again.img" 2> "$TMP/ai.log" &&
    cmp -s "$AIMG" "$TMP/agent-again.img"
}
if [ $AOK = 1 ]; then
    check "agent initrd holds /init (the agent), the modules, load-order, nothing else" agent_entries_ok
    check "agent initrd is reproducible (same bytes as the build's)" agent_repro_ok
    size=$(wc -c < "$AIMG")
    echo "# agent initrd: $size bytes compressed ($((size / 1024)) KiB)"
    check "agent initrd <= 4 MiB compressed ($((size / 1024)) KiB)" [ "$size" -le $((4 * 1024 * 1024)) ]
else
    for d in "agent initrd entries" "agent initrd reproducible" "agent initrd size"; do
        nok "$d (no agent image)"
    done
fi

# An agent boot: QEMU with the virtio-serial port agent.channel.0 on a unix
# socket chardev (MACHINE.md), guest-client on the host end.  max_ports=2
# (port 0 is the console's, ours is 1): the guest sets up queues for every
# port, 3.7 MB of a 256 MiB guest for the default 31 (docs/guest-memory.md).
# $BOOT_QEMU_ARGS (extra devices) and $BOOT_CLIENT_ARGS (storages for
# CreateSandbox) are split on blanks.
BOOT_QEMU_ARGS="" BOOT_CLIENT_ARGS=""
agent_boot() {  # $1 = name, $2 = kernel command line; sets BOOT_RC, CLIENT_RC
    sock=$TMP/$1.sock
    rm -f "$TMP/qemu.pid"
    t0=$(date +%s%N)
    timeout -k 5 "$BOOT_TIMEOUT" "$QEMU" -accel "$ACCEL" -cpu max \
        -M microvm,pit=on,pic=on,rtc=on,memory-backend=mem \
        -global virtio-mmio.force-legacy=false \
        -object memory-backend-memfd,id=mem,size=512M,share=on -m 512 \
        -nographic -no-reboot -kernel "$KOUT/vmlinux" -initrd "$AIMG" \
        -append "$2" \
        -device virtio-serial-device,max_ports=2 \
        -chardev "socket,id=agent,path=$sock,server=on,wait=off" \
        -device virtserialport,chardev=agent,name=agent.channel.0 \
        $BOOT_QEMU_ARGS \
        -pidfile "$TMP/qemu.pid" < /dev/null > "$TMP/$1.console" 2>&1 &
    qpid=$!
    CLIENT_RC=0
    # shellcheck disable=SC2086 # a list of storages
    "$CLIENT" "unix://$sock" "$BOOT_TIMEOUT" $BOOT_CLIENT_ARGS > "$TMP/$1.out" \
        2> "$TMP/$1.err" || CLIENT_RC=$?
    # A failed client leaves a guest that waits for calls: stop it now.
    [ $CLIENT_RC -eq 0 ] || kill "$qpid" 2>/dev/null
    BOOT_RC=0
    wait $qpid || BOOT_RC=$?
    t1=$(date +%s%N)
    echo "# agent boot $1: ready after $(sed -n 's/^ready_ms=//p' "$TMP/$1.out") ms," \
         "powered off after $(( (t1 - t0) / 1000000 )) ms (QEMU rc $BOOT_RC, client rc $CLIENT_RC)"
    if [ -s "$TMP/qemu.pid" ] && kill -0 "$(cat "$TMP/qemu.pid")" 2>/dev/null; then
        QPID=$(cat "$TMP/qemu.pid"); leftover=1
    fi
    if [ $CLIENT_RC -ne 0 ] || [ $BOOT_RC -ne 0 ]; then
        diag "$TMP/$1.err"; tail -n 30 "$TMP/$1.console" | diag
    fi
}
answers_ok() {  # $1 = name
    grep -qx 'check=SERVING' "$TMP/$1.out" && grep -q '^version=.' "$TMP/$1.out" &&
    grep -qx 'api=0.0.1' "$TMP/$1.out" && [ "$CLIENT_RC" -eq 0 ]
}
poweroff_ok() {  # $1 = name
    [ "$BOOT_RC" -eq 0 ] && grep -qx 'sandbox=ok' "$TMP/$1.out" &&
    grep -qx 'destroy=ok' "$TMP/$1.out"
}
quiet_ok() {
    answers_ok quiet && poweroff_ok quiet &&
    # quiet and no console=: nothing of the agent's on the serial console
    ! grep -q 'kata-agent' "$TMP/quiet.console"
}
storages_ok() {
    c=$TMP/debug.console
    [ -n "$VFSD_PID" ] && grep -qx 'storages=5' "$TMP/debug.out" &&
    [ "$(grep -c 'msg="storage .* mounted at /run/kata-containers/.* for the sandbox"' "$c")" -eq 5 ] &&
    [ "$(grep -c 'msg="storage .* released"' "$c")" -eq 5 ] &&
    grep -q 'msg="storage virtio-fs mounted at /run/kata-containers/shared/containers' "$c" &&
    grep -q 'msg="storage blk mounted at /run/kata-containers/sandbox/disk' "$c" &&
    grep -q 'msg="kernel module vsock loaded for the sandbox"' "$c" &&
    # overlay is loaded on demand (src/agent/modules.c): kernel_modules
    # loads it
    grep -q 'msg="kernel module overlay loaded for the sandbox"' "$c"
}
# The "init done" record carries /proc/meminfo's figures (no threshold:
# guest/measure-memory.sh and docs/guest-memory.md measure them).
memory_ok() {
    rec=$(grep -Eo 'memory: MemTotal [0-9]+ kB, MemFree [0-9]+ kB, MemAvailable [0-9]+ kB' \
        "$TMP/debug.console") || return 1
    echo "# guest (512 MiB) after init: $rec"
    # shellcheck disable=SC2086 # split into words
    set -- $rec
    [ "$3" -gt 0 ] && [ "$6" -gt 0 ] && [ "$6" -le "$3" ] && [ "$9" -gt 0 ] && [ "$9" -le "$3" ]
}
console_ok() {
    c=$TMP/debug.console
    grep -q 'msg="channel: no vsock device, virtio-serial port agent.channel.0' "$c" &&
    # serial port, share and disk: the net and vsock drivers are skipped
    grep -Eq 'msg="loaded 7 kernel modules in [0-9]+ ms \(0 failed, 6 skipped: no such device\)"' "$c" &&
    grep -q 'cgroup controllers enabled' "$c" &&
    grep -q 'msg="debug console: the image has no shell' "$c" &&
    grep -q 'msg="sandbox destroyed"' "$c" && grep -q 'msg="powering off"' "$c" &&
    ! grep 'level=error' "$c" | grep -q .
}
leftover=0
if [ $AOK = 1 ] && [ -x "$CLIENT" ] && command -v "$QEMU" > /dev/null; then
    # 1: with a console and debug logs; the agent picks its channel itself.
    # Real storages: the virtio-fs share (virtiofsd), an ext4 virtio-blk
    # disk found through sysfs (virtio2: the guest numbers the virtio
    # devices in command-line order, serial port, share, disk), binds
    # from both (their sources exist only if the mounts are real), a tmpfs.
    mkdir -p "$TMP/share/vol" "$TMP/diskroot/marker-dir"
    VFSD=/usr/lib/qemu/virtiofsd
    VFSD_PID=""
    if [ -x "$VFSD" ] && command -v mkfs.ext4 > /dev/null &&
       mkfs.ext4 -q -F -d "$TMP/diskroot" "$TMP/disk.img" 8M > "$TMP/mkfs.log" 2>&1; then
        "$VFSD" --socket-path="$TMP/vfs.sock" -o source="$TMP/share" -o cache=auto \
            > "$TMP/vfsd.log" 2>&1 &
        VFSD_PID=$!
        i=0; while [ ! -S "$TMP/vfs.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        R=/run/kata-containers
        BOOT_QEMU_ARGS="-chardev socket,id=fs0,path=$TMP/vfs.sock
            -device vhost-user-fs-device,chardev=fs0,tag=kataShared
            -drive file=$TMP/disk.img,if=none,id=d0,format=raw
            -device virtio-blk-device,drive=d0"
        BOOT_CLIENT_ARGS="virtio-fs,kataShared,$R/shared/containers
            bind,$R/shared/containers/vol,$R/sandbox/vol
            blk,virtio2,$R/sandbox/disk,ext4
            bind,$R/sandbox/disk/marker-dir,$R/sandbox/marker
            ephemeral,tmpfs,$R/sandbox/eph
            module:vsock
            module:overlay"
    else
        echo "# no virtiofsd or mkfs.ext4: the storage part of boot 1 cannot run"
        cat "$TMP/mkfs.log" 2>/dev/null | diag
    fi
    # The default kernel_params of config/configuration-qemu.toml
    # (docs/guest-memory.md): under lockdown every module must still load.
    KP="cgroup_no_v1=all lockdown=confidentiality percpu_alloc=page"
    agent_boot debug "console=ttyS0 panic=-1 agent.log=debug agent.debug_console $TSC $KP"
    BOOT_QEMU_ARGS="" BOOT_CLIENT_ARGS=""
    if [ -n "$VFSD_PID" ]; then
        # virtiofsd ends when QEMU goes; anything else is a leftover.
        i=0; while kill -0 "$VFSD_PID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        if kill -0 "$VFSD_PID" 2>/dev/null; then leftover=1; kill "$VFSD_PID"; fi
        wait "$VFSD_PID" 2>/dev/null
    fi
    check "agent boot: Health Check SERVING and Version over virtio-serial" answers_ok debug
    check "agent boot: DestroySandbox powers the guest off (QEMU exits 0)" poweroff_ok debug
    check "agent log: serial channel chosen, modules loaded, cgroups, no shell for the debug console, power-off, no error" console_ok
    check "CreateSandbox in the VM: virtio-fs, virtio-blk (by sysfs name), binds, tmpfs mounted and unmounted; kernel_modules" storages_ok
    check "agent log: init reports MemTotal, MemFree <= MemTotal, MemAvailable <= MemTotal" memory_ok
    # 2: as the VM launcher boots it: quiet, no console, agent.listen given.
    agent_boot quiet "quiet panic=-1 agent.listen=serial://agent.channel.0 $TSC $KP"
    check "agent boot (quiet, agent.listen=serial://agent.channel.0): answers, powers off" \
        quiet_ok
    check "no qemu or virtiofsd process left behind by the agent boots" [ $leftover -eq 0 ]
else
    for d in "agent boot answers" "agent boot powers off" "agent log" "storages in the VM" \
             "memory record" "quiet agent boot" "no qemu left"; do
        nok "$d (no agent image, $CLIENT or $QEMU)"
    done
fi
[ $n -eq $N ] || echo "# planned $N tests, ran $n"
