#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# build-initrd.sh INIT_BINARY MODULES_DIR OUT.img
# Reproducible gzip'd newc initramfs: sorted entries, mtimes fixed to
# SOURCE_DATE_EPOCH (default 0), owner root:root, fixed modes, gzip -n.
# Contents: /init (0755), /lib/modules/modprobe -> /init (the agent, as
# init, makes it the kernel's modprobe: src/agent/modules.c),
# /lib/modules/*.ko + /lib/modules/load-order, the on-demand modules
# /lib/modules/*.ko.gz + on-demand + aliases (0644; in an uncompressed
# archive ahead of the gzip'd one), dirs /dev /etc /proc /sys /run /tmp /lib /lib/modules (0755; /tmp
# 1777; /etc for the resolv.conf the agent writes from CreateSandbox.dns),
# and /dev/console (char 5,1, 0600) when mknod is permitted (root).
set -eu

die() { echo "build-initrd.sh: $*" >&2; exit 1; }
[ $# -eq 3 ] || die "usage: build-initrd.sh INIT_BINARY MODULES_DIR OUT.img"
INIT=$1 MODS=$2 OUTIMG=$3
[ -f "$INIT" ] || die "no init binary $INIT"
[ -f "$MODS/load-order" ] || die "no $MODS/load-order"
command -v cpio >/dev/null || die "need cpio"
EPOCH=${SOURCE_DATE_EPOCH:-0}

OUTDIR=$(dirname "$OUTIMG")
mkdir -p "$OUTDIR"
STAGE=$(mktemp -d "$OUTDIR/.initrd.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
trap 'exit 130' INT TERM
R=$STAGE/root
umask 022
mkdir -p "$R/dev" "$R/etc" "$R/proc" "$R/sys" "$R/run" "$R/tmp" "$R/lib/modules"
cp "$INIT" "$R/init"
chmod 0755 "$R/init"
# Not /sbin/modprobe, the kernel's default: its requests during boot,
# before init, would each start the agent for nothing (and a bare init,
# which powers off).
ln -s ../../init "$R/lib/modules/modprobe"
cp "$MODS/load-order" "$R/lib/modules/load-order"
while read -r m; do
    [ -n "$m" ] || continue
    case $m in */*|.*) die "bad module name '$m' in load-order" ;; esac
    [ -f "$MODS/$m" ] || die "module $m listed in load-order is missing"
    cp "$MODS/$m" "$R/lib/modules/$m"
done < "$MODS/load-order"
# The on-demand modules are gzip'd already: they go in an uncompressed
# archive of their own, ahead of the gzip'd one (the kernel unpacks
# concatenated archives, raw or compressed, as for early microcode), so
# that the boot does not inflate 1.2 MB of gzip a second time to no gain
# (90 ms of a TCG boot).
D=$STAGE/demand
mkdir -p "$D/lib/modules"
if [ -f "$MODS/on-demand" ]; then
    [ -f "$MODS/aliases" ] || die "no $MODS/aliases next to $MODS/on-demand"
    cp "$MODS/on-demand" "$MODS/aliases" "$D/lib/modules/"
    for f in "$MODS"/*.ko.gz; do
        [ -f "$f" ] && cp "$f" "$D/lib/modules/"
    done
    chmod 0644 "$D"/lib/modules/*
fi
chmod 0755 "$D/lib" "$D/lib/modules"
chmod 0644 "$R"/lib/modules/*.ko "$R/lib/modules/load-order"
chmod 0755 "$R/dev" "$R/etc" "$R/proc" "$R/sys" "$R/run" "$R/lib" "$R/lib/modules"
chmod 1777 "$R/tmp"
if mknod "$R/dev/console" c 5 1 2>/dev/null; then
    chmod 0600 "$R/dev/console"
else
    echo "build-initrd.sh: warning: cannot mknod /dev/console (not root?); omitted" >&2
fi
find "$R" "$D" -exec touch -h -d "@$EPOCH" {} +

# Sorted list, relative paths, no leading "./"; C locale for stable order.
# cpio pads each archive to 512 bytes with zeros, which the kernel skips.
archive() {
    (cd "$1" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort |
        cpio --quiet -o -H newc -R 0:0 --reproducible) || die "cpio failed"
}
archive "$D" > "$STAGE/initrd.img"
archive "$R" > "$STAGE/initrd.cpio"
gzip -n -9 -c "$STAGE/initrd.cpio" >> "$STAGE/initrd.img"
mv "$STAGE/initrd.img" "$OUTIMG"
