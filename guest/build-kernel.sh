#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# build-kernel.sh [--link FILE] OUTDIR
# Fetch Debian's cloud kernel (never installed on the host), extract the
# uncompressed ELF vmlinux for QEMU microvm PVH boot, and copy the guest
# modules the agent needs (dependencies from the kernel's own modules.dep).
# Env: KC_KERNEL_PACKAGE overrides the package (default: the dependency of
#      linux-image-cloud-amd64, i.e. the newest installable cloud kernel).
# Needs: apt-get, apt-cache, dpkg-deb, depmod (kmod), od, dd, and the payload's
#        decompressor (lz4 for Debian's kernel; gzip/xz/zstd/bzip2 handled).
# Outputs: OUTDIR/vmlinux, OUTDIR/modules/*.ko, OUTDIR/modules/load-order,
#          OUTDIR/modules/*.ko.gz, OUTDIR/modules/on-demand,
#          OUTDIR/modules/aliases, OUTDIR/kernel-version. Downloads are
#          cached in OUTDIR/cache.
#          --link FILE also makes FILE a hard link to (or copy of) the vmlinux
#          (the meson target's output).
set -eu

die() { echo "build-kernel.sh: $*" >&2; exit 1; }
LINK=
if [ "${1:-}" = --link ]; then
    [ $# -ge 2 ] || die "usage: build-kernel.sh [--link FILE] OUTDIR"
    LINK=$2
    shift 2
fi
[ $# -eq 1 ] || die "usage: build-kernel.sh [--link FILE] OUTDIR"
OUT=$1
mkdir -p "$OUT/cache"
OUT=$(cd "$OUT" && pwd)
CACHE=$OUT/cache

# Loaded by init at boot (load-order), the drivers of the VM's devices.
WANTED_MODULES="virtio_mmio virtio_console fuse virtiofs vsock vmw_vsock_virtio_transport virtio_blk virtio_net"
# What a Kata guest kernel has built in and Debian's builds as modules:
# loaded on demand, when the kernel's request_module runs /sbin/modprobe
# (the agent; src/agent/modules.c), so that a privileged container finds
# bridges, veth, tun, nftables/iptables, the usual qdiscs and file systems
# as under Kata.  Stored gzip'd (the initrd's files stay in guest RAM) with
# their dependencies.  xfs and btrfs (4 MB each) are left out: a kata-c
# container gets no block device to hold them.
DEMAND_MODULES="overlay vfat
    bridge br_netfilter veth tun dummy macvlan ipvlan vxlan 8021q
    sch_ingress sch_htb sch_netem cls_u32 cls_bpf act_mirred act_gact ifb
    nf_tables nft_chain_nat nft_compat nft_ct nft_nat nft_masq nft_redir
    nft_reject_inet nft_fib_inet nft_limit nft_log
    ip_tables iptable_filter iptable_nat iptable_mangle iptable_raw
    ip6_tables ip6table_filter ip6table_nat ip6table_mangle ip6table_raw
    xt_conntrack xt_MASQUERADE xt_addrtype xt_comment xt_mark xt_multiport
    xt_nat xt_REDIRECT xt_tcpudp xt_state xt_limit xt_LOG ipt_REJECT
    ip6t_REJECT"

# 1. Resolve the metapackage to the concrete kernel image package.
PKG=${KC_KERNEL_PACKAGE:-}
resolve() {
    apt-cache depends linux-image-cloud-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[^ ]*-cloud-amd64\)$/\1/p' | head -n1
}
if [ -z "$PKG" ]; then
    PKG=$(resolve)
    # A fresh machine may have no package lists yet: fetch them once (root).
    if [ -z "$PKG" ] && [ "$(id -u)" = 0 ]; then
        echo "build-kernel.sh: no package lists; running apt-get update" >&2
        apt-get update -q >&2 || true
        PKG=$(resolve)
    fi
    # Offline with a cached kernel: keep using it.
    if [ -z "$PKG" ]; then
        cached=$(ls "$CACHE"/linux-image-*-cloud-amd64_*.deb 2>/dev/null | sort | tail -n1)
        [ -n "$cached" ] && PKG=$(basename "$cached" | sed 's/_.*//') &&
            echo "build-kernel.sh: package lists unusable; using the cached $PKG" >&2
    fi
    [ -n "$PKG" ] || die "cannot resolve linux-image-cloud-amd64 (apt-get update?)"
fi

# 2. Download (cached).
# Staging dir for everything transient (removed on exit, also on signals).
STAGE=$(mktemp -d "$OUT/.stage.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
trap 'exit 130' INT TERM

DEB=$(ls "$CACHE/${PKG}_"*.deb 2>/dev/null | sort | tail -n1 || true)
if [ -z "$DEB" ]; then
    # Download into the staging dir first so an interrupted download never
    # leaves a truncated .deb in the cache; apt-get download needs a
    # writable current directory.
    mkdir "$STAGE/dl"
    (cd "$STAGE/dl" && apt-get download -q "$PKG" >&2) || die "apt-get download $PKG failed"
    NEW=$(ls "$STAGE/dl/${PKG}_"*.deb 2>/dev/null | head -n1 || true)
    [ -n "$NEW" ] || die "download of $PKG produced no .deb"
    dpkg-deb --info "$NEW" >/dev/null || die "downloaded $NEW is not a valid .deb"
    # Drop cached kernels that are no longer the one selected.
    rm -f "$CACHE"/linux-image-*.deb
    mv "$NEW" "$CACHE/"
    DEB=$CACHE/$(basename "$NEW")
fi

# 3. Extract.
dpkg-deb -x "$DEB" "$STAGE/root"
KVER=${PKG#linux-image-}
VMLINUZ=$STAGE/root/boot/vmlinuz-$KVER
MODDIR=$STAGE/root/lib/modules/$KVER
[ -f "$VMLINUZ" ] || die "no $VMLINUZ in $DEB"
[ -d "$MODDIR/kernel" ] || die "no modules in $DEB"
# The package does not ship modules.dep (its postinst runs depmod): generate
# it from the extracted tree itself, never from the host's module tree.
if [ ! -f "$MODDIR/modules.dep" ]; then
    DEPMOD=$(command -v depmod || echo /usr/sbin/depmod)
    [ -x "$DEPMOD" ] || die "need depmod (package kmod)"
    "$DEPMOD" -b "$STAGE/root" "$KVER" || die "depmod failed"
fi

# 4. vmlinux from the bzImage payload.
u8()  { od -An -t u1 -j "$2" -N 1 "$1" | tr -d ' '; }
u32() { od -An -t u4 -j "$2" -N 4 "$1" | tr -d ' '; }
HDRS=$(dd if="$VMLINUZ" bs=1 skip=514 count=4 2>/dev/null)
[ "$HDRS" = "HdrS" ] || die "$VMLINUZ: not a bzImage (no HdrS)"
SETUP_SECTS=$(u8 "$VMLINUZ" $((0x1f1)))
[ "$SETUP_SECTS" -eq 0 ] && SETUP_SECTS=4
POFF=$(u32 "$VMLINUZ" $((0x248)))
PLEN=$(u32 "$VMLINUZ" $((0x24c)))
START=$(( (SETUP_SECTS + 1) * 512 + POFF ))
dd if="$VMLINUZ" of="$STAGE/payload" bs=4096 iflag=skip_bytes,count_bytes \
   skip="$START" count="$PLEN" 2>/dev/null
MAGIC=$(od -An -t x1 -N 6 "$STAGE/payload" | tr -d ' \n')
case $MAGIC in
    02214c18*) DEC="lz4 -dc" ;;          # LZ4 legacy frame
    04224d18*) DEC="lz4 -dc" ;;          # LZ4 frame
    1f8b*)     DEC="gzip -dc" ;;
    fd377a585a00) DEC="xz -dc" ;;
    28b52ffd*) DEC="zstd -dc" ;;
    425a68*)   DEC="bzip2 -dc" ;;
    5d0000*)   DEC="xz --format=lzma -dc" ;;
    *) die "unknown kernel payload compression (magic $MAGIC)" ;;
esac
command -v "${DEC%% *}" >/dev/null || die "need ${DEC%% *} to decompress the kernel"
# The payload ends with the uncompressed size (le32): gzip's own ISIZE
# trailer, or a word the kernel build appends after other formats
# (size_append), which their decompressors must not see.
WANT=$(u32 "$STAGE/payload" $((PLEN - 4)))
if [ "${DEC%% *}" != gzip ]; then
    dd if="$STAGE/payload" of="$STAGE/payload.z" bs=4096 iflag=count_bytes \
       count=$((PLEN - 4)) 2>/dev/null
    mv "$STAGE/payload.z" "$STAGE/payload"
fi
rc=0
$DEC < "$STAGE/payload" > "$STAGE/vmlinux" 2>"$STAGE/dec.err" || rc=$?
if [ $rc -ne 0 ]; then
    cat "$STAGE/dec.err" >&2; die "$DEC failed on the kernel payload (rc $rc)"
fi
GOT=$(wc -c < "$STAGE/vmlinux")
[ $((GOT % 4294967296)) -eq "$WANT" ] ||
    die "decompressed kernel is $GOT bytes, header says $WANT"
[ "$(od -An -t x1 -N 4 "$STAGE/vmlinux" | tr -d ' ')" = "7f454c46" ] ||
    { cat "$STAGE/dec.err" >&2; die "decompressed payload is not an ELF"; }

# 5. Modules: closure over modules.dep, dependencies first.
#    modules.dep line: "kernel/path/a.ko: kernel/path/dep1.ko kernel/path/dep2.ko"
#    with deps listed so that loading them right-to-left is a valid order.
DEP=$MODDIR/modules.dep
modpath() {  # module name -> relative path (names: '-' and '_' equivalent)
    n=$(echo "$1" | tr '-' '_')
    awk -F: -v n="$n" '{ p=$1; b=p; sub(/.*\//,"",b); sub(/\.ko(\.[a-z]+)?$/,"",b);
        gsub(/-/,"_",b); if (b==n) { print p; exit } }' "$DEP"
}
ORDER=$STAGE/order
: > "$ORDER"
add() {  # add relative path $1 after its deps
    grep -qxF "$1" "$ORDER" && return 0
    deps=$(awk -F: -v p="$1" '$1==p { print $2; exit }' "$DEP")
    # reverse the dependency list (right-to-left = dependencies first)
    rdeps=""
    for d in $deps; do rdeps="$d $rdeps"; done
    for d in $rdeps; do add "$d"; done
    grep -qxF "$1" "$ORDER" || echo "$1" >> "$ORDER"
}
for m in $WANTED_MODULES; do
    p=$(modpath "$m")
    [ -n "$p" ] || die "module $m not in $KVER modules.dep"
    add "$p"
done
mkdir -p "$STAGE/modules"
while read -r p; do
    case $p in *.ko) ;; *) die "compressed module $p unsupported" ;; esac
    cp "$MODDIR/$p" "$STAGE/modules/"
    basename "$p"
done < "$ORDER" > "$STAGE/modules/load-order"

#    On-demand modules: each line of on-demand is a module and the modules
#    it needs, dependencies first ("bridge llc stp bridge"); aliases maps
#    the names the kernel asks for ("rtnl-link-bridge", "fs-overlay",
#    "char-major-10-200") to modules, as modules.alias does.  Only exact
#    names are kept: the patterns of modules.alias match device IDs
#    (pci:v*d*...) that no on-demand module of a microvm is asked for, and
#    the agent compares names with strcmp (fnmatch would bring glibc's
#    locale tables into the static agent).  A module that init loads is
#    not repeated.
BOOT=$ORDER
closure() {  # the dependency-first closure of relative path $1, in $STAGE/closure
    ORDER=$STAGE/closure
    : > "$ORDER"
    add "$1"
}
: > "$STAGE/paths"
for m in $DEMAND_MODULES; do
    p=$(modpath "$m")
    [ -n "$p" ] || die "module $m not in $KVER modules.dep"
    closure "$p"
    while read -r q; do
        grep -qxF "$q" "$BOOT" || grep -qxF "$q" "$STAGE/paths" || echo "$q" >> "$STAGE/paths"
    done < "$STAGE/closure"
done
# Every module carried gets its line, dependencies included: the kernel
# may ask for one of those by an alias of its own (nfnetlink's
# net-pf-16-proto-12, before nf_tables).
: > "$STAGE/modules/on-demand"
: > "$STAGE/names"
while read -r p; do
    n=$(basename "$p" .ko)
    echo "$n" >> "$STAGE/names"
    gzip -n -9 -c "$MODDIR/$p" > "$STAGE/modules/$n.ko.gz"
    closure "$p"
    line=$n
    while read -r q; do
        grep -qxF "$q" "$BOOT" || line="$line $(basename "$q" .ko)"
    done < "$STAGE/closure"
    echo "$line" >> "$STAGE/modules/on-demand"
done < "$STAGE/paths"
# modules.alias names modules with '_' for '-'.
tr '-' '_' < "$STAGE/names" > "$STAGE/names_"
awk 'NR == FNR { want[$1] = 1; next }
     $1 == "alias" && ($3 in want) && $2 !~ /[*?[]/ { print $2, $3 }' \
    "$STAGE/names_" "$MODDIR/modules.alias" | LC_ALL=C sort > "$STAGE/modules/aliases"

# 6. Install (replace previous outputs).
rm -rf "$OUT/modules"
mv "$STAGE/modules" "$OUT/modules"
mv "$STAGE/vmlinux" "$OUT/vmlinux"
echo "$KVER" > "$OUT/kernel-version"
echo "build-kernel.sh: $KVER -> $OUT/vmlinux ($(wc -l < "$OUT/modules/load-order") modules at boot, $(ls "$OUT/modules" | grep -c '\.ko\.gz$') on demand)" >&2
if [ -n "$LINK" ]; then
    rm -f "$LINK"
    ln "$OUT/vmlinux" "$LINK" 2>/dev/null || cp "$OUT/vmlinux" "$LINK"
fi
