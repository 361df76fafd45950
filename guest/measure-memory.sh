#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# measure-memory.sh - how much of a small guest the kernel and the agent leave free.
#
#   guest/measure-memory.sh [-n BOOTS] [-m MIB] BUILD_DIR [VARIANT...]
#
# Boots the guest image of BUILD_DIR (guest/vmlinux.container and
# guest/kata-containers-initrd.img, tests/guest-client) under QEMU microvm
# the way the VM launcher does (-nodefaults, one vCPU, MIB of memory,
# default 256), BOOTS times (default 3) per variant, one boot at a time.
# The agent logs /proc/meminfo at the end of its init ("init done ...;
# memory: MemTotal T kB, MemFree F kB, MemAvailable A kB"); guest-client then
# gets Health Check answered and DestroySandbox powers the guest off.
#
# A VARIANT is "LABEL|KERNEL PARAMS|VIRTIO-SERIAL OPTIONS[|MICROVM OPTIONS]",
# e.g. "lockdown|cgroup_no_v1=all lockdown=confidentiality|,max_ports=2|,acpi=off"
# (the params come after the launcher's own words, as kernel_params of the
# configuration do; the options are appended to -device virtio-serial-device
# and to -M microvm,...; virtio-serial options that do not start with ','
# are the whole device, e.g. "virtio-serial-pci,max_ports=2" with the
# microvm option ",pcie=on").  Without variants: the defaults of kata-c,
#   "defaults|cgroup_no_v1=all lockdown=confidentiality percpu_alloc=page|,max_ports=2"
# docs/guest-memory.md lists the variants measured and what each saves.
#
# Prints one line per boot and, per variant, the medians with
#   free%  = MemFree / the VM's memory (issue 5's measure: what is left free
#            of the 256 MiB VM),
#   avail% = MemAvailable / the VM's memory,
#   a/t%   = MemAvailable / MemTotal (the kernel's own view).
# Env: KC_QEMU (default qemu-system-x86_64), KC_QEMU_ACCEL (default
# tcg,thread=multi), KC_BOOT_TIMEOUT (default 60 s), KC_INITRD (another
# initrd, e.g. with more modules).  Needs no bench:
# it only boots the image.
set -eu

BOOTS=3 MIB=256
while getopts n:m: o; do
    case $o in
    n) BOOTS=$OPTARG ;;
    m) MIB=$OPTARG ;;
    *) echo "usage: $0 [-n BOOTS] [-m MIB] BUILD_DIR [VARIANT...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: $0 [-n BOOTS] [-m MIB] BUILD_DIR [VARIANT...]" >&2; exit 2; }
BLD=$1; shift
[ $# -ge 1 ] || set -- "defaults|cgroup_no_v1=all lockdown=confidentiality percpu_alloc=page|,max_ports=2"
KERNEL=$BLD/guest/vmlinux.container
INITRD=${KC_INITRD:-$BLD/guest/kata-containers-initrd.img}
CLIENT=$BLD/tests/guest-client
QEMU=${KC_QEMU:-qemu-system-x86_64}
ACCEL=${KC_QEMU_ACCEL:-tcg,thread=multi}
TIMEOUT=${KC_BOOT_TIMEOUT:-60}
for f in "$KERNEL" "$INITRD" "$CLIENT"; do
    [ -s "$f" ] || { echo "$0: \`$f\`: missing (build BUILD_DIR first)" >&2; exit 1; }
done
command -v "$QEMU" > /dev/null || { echo "$0: \`$QEMU\`: not found" >&2; exit 1; }

TSC=""
case $ACCEL in
tcg*)  # see tests/guest/test-guest.sh: the PIT calibration fails now and then under TCG
    mhz=$(awk -F': *' '/^cpu MHz/ { print int($2); exit }' /proc/cpuinfo)
    [ -n "$mhz" ] && TSC="tsc_early_khz=$((mhz * 1000))"
    ;;
esac

TMP=$(mktemp -d "${TMPDIR:-/tmp}/measure-memory.XXXXXX")
QPID=""
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    [ -z "$QPID" ] || kill "$QPID" 2> /dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", 100 * a / b }'; }
VM_KB=$((MIB * 1024))

# One boot: $1 = extra kernel params, $2 = virtio-serial options, $3 =
# microvm options; prints
# "TOTAL FREE AVAIL" (kB) and guest-client's ready_ms (launch to Health
# Check answered; TCG timings are noisy, shown only to spot a variant that
# slows the boot down) or fails.
boot() {
    case $2 in
    "" | ,*) serial=virtio-serial-device$2 ;;
    *) serial=$2 ;;
    esac
    rm -f "$TMP/agent.sock" "$TMP/console"
    # shellcheck disable=SC2086 # $1 is a list of kernel parameters
    timeout -k 5 "$TIMEOUT" "$QEMU" -nodefaults -no-user-config -display none -no-reboot \
        -accel "$ACCEL" -cpu max \
        -M "microvm,pit=on,pic=on,rtc=on,isa-serial=on,memory-backend=mem$3" \
        -global virtio-mmio.force-legacy=false \
        -object "memory-backend-memfd,id=mem,size=${MIB}M,share=on" -m "$MIB" -smp 1 \
        -kernel "$KERNEL" -initrd "$INITRD" \
        -append "console=ttyS0 quiet panic=-1 agent.listen=serial://agent.channel.0 agent.log=info $TSC $1" \
        -chardev "file,id=console,path=$TMP/console" -serial chardev:console \
        -device "$serial" \
        -chardev "socket,id=agent,path=$TMP/agent.sock,server=on,wait=off" \
        -device virtserialport,chardev=agent,name=agent.channel.0 \
        < /dev/null > "$TMP/qemu.log" 2>&1 &
    QPID=$!
    crc=0
    "$CLIENT" "unix://$TMP/agent.sock" "$TIMEOUT" > "$TMP/client.out" 2> "$TMP/client.err" || crc=$?
    [ $crc -eq 0 ] || kill "$QPID" 2> /dev/null || true
    qrc=0
    wait "$QPID" || qrc=$?
    QPID=""
    line=$(grep -o 'memory: MemTotal [0-9]* kB, MemFree [0-9]* kB, MemAvailable [0-9]* kB' \
        "$TMP/console" 2> /dev/null || true)
    if [ $crc -ne 0 ] || [ $qrc -ne 0 ] || [ -z "$line" ]; then
        echo "boot failed: client rc $crc, QEMU rc $qrc" >&2
        sed 's/^/  /' "$TMP/client.err" "$TMP/qemu.log" >&2
        tail -n 20 "$TMP/console" 2> /dev/null | sed 's/^/  console: /' >&2
        return 1
    fi
    ready=$(sed -n 's/^ready_ms=//p' "$TMP/client.out")
    echo "$line" | awk -v r="${ready:-0}" '{ print $3, $6, $9, r }'
}

printf '%-24s %4s %9s %9s %9s %6s %6s %6s %6s\n' variant boot MemTotal MemFree MemAvail 'free%' 'avail%' 'a/t%' ready
status=0
for v in "$@"; do
    label=${v%%|*}; rest=${v#*|}
    params=${rest%%|*}; rest2=${rest#*|}
    sopts=${rest2%%|*}; mopts=${rest2#*|}
    [ "$rest" != "$v" ] || { params=""; rest2=""; sopts=""; }
    [ "$rest2" != "$rest" ] || { sopts=""; mopts=""; }
    [ "$mopts" != "$rest2" ] || mopts=""
    : > "$TMP/rows"
    i=1
    while [ $i -le "$BOOTS" ]; do
        if r=$(boot "$params" "$sopts" "$mopts"); then
            # shellcheck disable=SC2086 # four numbers
            set -- $r
            printf '%-24s %4d %9d %9d %9d %6s %6s %6s %6s\n' "$label" $i "$1" "$2" "$3" \
                "$(pct "$2" $VM_KB)" "$(pct "$3" $VM_KB)" "$(pct "$3" "$1")" "$4"
            echo "$r" >> "$TMP/rows"
        else
            status=1
        fi
        i=$((i + 1))
    done
    if [ -s "$TMP/rows" ]; then
        t=$(awk '{ print $1 }' "$TMP/rows" | median)
        f=$(awk '{ print $2 }' "$TMP/rows" | median)
        a=$(awk '{ print $3 }' "$TMP/rows" | median)
        r=$(awk '{ print $4 }' "$TMP/rows" | median)
        printf '%-24s %4s %9d %9d %9d %6s %6s %6s %6s\n' "$label" med "$t" "$f" "$a" \
            "$(pct "$f" $VM_KB)" "$(pct "$a" $VM_KB)" "$(pct "$a" "$t")" "$r"
    fi
done
exit $status
