#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# build-console-initrd.sh BASE.img BUSYBOX OUT.img
# The debug console's initrd (docs/debug-console.md): BASE.img, byte for
# byte, then a second archive with a shell: /bin/busybox (Debian's
# busybox-static) and /bin/APPLET -> busybox for each of its applets.
# The kernel unpacks concatenated archives; the shell's is uncompressed
# (nothing to inflate at boot) and starts at a 4-byte aligned offset, as
# the kernel wants of an uncompressed archive after a compressed one (the
# zeros between them are skipped).  Reproducible as build-initrd.sh:
# sorted entries, mtimes SOURCE_DATE_EPOCH (default 0), root:root.
# The runtime boots it instead of BASE.img only with debug_console_enabled
# (src/hypervisor/qemu): with the console off the guest has no shell.
set -eu

die() { echo "build-console-initrd.sh: $*" >&2; exit 1; }
[ $# -eq 3 ] || die "usage: build-console-initrd.sh BASE.img BUSYBOX OUT.img"
BASE=$1 BB=$2 OUTIMG=$3
[ -f "$BASE" ] || die "no base initrd $BASE"
[ -x "$BB" ] || die "no busybox at $BB (apt-get install busybox-static)"
command -v cpio >/dev/null || die "need cpio"
# The guest has no libc: a dynamic busybox would not run there.
if readelf -l "$BB" 2>/dev/null | grep -q INTERP; then
    die "$BB is dynamically linked: the guest needs busybox-static"
fi
EPOCH=${SOURCE_DATE_EPOCH:-0}

OUTDIR=$(dirname "$OUTIMG")
mkdir -p "$OUTDIR"
STAGE=$(mktemp -d "$OUTDIR/.console-initrd.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
trap 'exit 130' INT TERM
R=$STAGE/root
umask 022
mkdir -p "$R/bin"
cp "$BB" "$R/bin/busybox"
chmod 0755 "$R/bin" "$R/bin/busybox"
for a in $("$BB" --list); do
    case $a in */*|.*|busybox) continue ;; esac
    ln -s busybox "$R/bin/$a"
done
[ -L "$R/bin/sh" ] || die "$BB has no sh applet"
find "$R" -exec touch -h -d "@$EPOCH" {} +

cp "$BASE" "$STAGE/initrd.img"
size=$(stat -c %s "$STAGE/initrd.img")
pad=$(( (4 - size % 4) % 4 ))
[ "$pad" -eq 0 ] || head -c "$pad" /dev/zero >> "$STAGE/initrd.img"
(cd "$R" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort |
    cpio --quiet -o -H newc -R 0:0 --reproducible) >> "$STAGE/initrd.img" || die "cpio failed"
mv "$STAGE/initrd.img" "$OUTIMG"
