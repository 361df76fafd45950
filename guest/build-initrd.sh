#!/bin/sh
# build-initrd.sh INIT_BINARY MODULES_DIR OUT.img
# Reproducible gzip'd newc initramfs: sorted entries, mtimes fixed to
# SOURCE_DATE_EPOCH (default 0), owner root:root, fixed modes, gzip -n.
# Contents: /init (0755), /lib/modules/*.ko + /lib/modules/load-order
# (0644), dirs /dev /etc /proc /sys /run /tmp /lib /lib/modules (0755; /tmp
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
cp "$MODS/load-order" "$R/lib/modules/load-order"
while read -r m; do
    [ -n "$m" ] || continue
    case $m in */*|.*) die "bad module name '$m' in load-order" ;; esac
    [ -f "$MODS/$m" ] || die "module $m listed in load-order is missing"
    cp "$MODS/$m" "$R/lib/modules/$m"
done < "$MODS/load-order"
chmod 0644 "$R"/lib/modules/*
chmod 0755 "$R/dev" "$R/etc" "$R/proc" "$R/sys" "$R/run" "$R/lib" "$R/lib/modules"
chmod 1777 "$R/tmp"
if mknod "$R/dev/console" c 5 1 2>/dev/null; then
    chmod 0600 "$R/dev/console"
else
    echo "build-initrd.sh: warning: cannot mknod /dev/console (not root?); omitted" >&2
fi
find "$R" -exec touch -h -d "@$EPOCH" {} +

# Sorted list, relative paths, no leading "./"; C locale for stable order.
(cd "$R" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort |
    cpio --quiet -o -H newc -R 0:0 --reproducible) > "$STAGE/initrd.cpio" ||
    die "cpio failed"
gzip -n -9 -c "$STAGE/initrd.cpio" > "$STAGE/initrd.img"
mv "$STAGE/initrd.img" "$OUTIMG"
