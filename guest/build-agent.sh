#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# build-agent.sh SOURCE_DIR BUILD_DIR OUT
# Builds the static kata-agent for the guest image in its own meson build
# directory (the guest needs no dynamic loader; the host build may use
# sanitizers, which cannot link statically) and copies it to OUT, leaving
# OUT untouched when the binary did not change.
set -eu

die() { echo "build-agent.sh: $*" >&2; exit 1; }
[ $# -eq 3 ] || die "usage: build-agent.sh SOURCE_DIR BUILD_DIR OUT"
SRC=$1 B=$2 OUT=$3
if [ ! -f "$B/build.ninja" ]; then
    # guest_image=false: this build must not build a guest image itself.
    meson setup "$B" "$SRC" --buildtype=minsize -Dstrip=true -Db_lto=true \
        -Db_sanitize=none -Dprefer_static=true -Dc_link_args=-static \
        -Dtests=false -Dguest_image=false > "$B.setup.log" 2>&1 ||
        { cat "$B.setup.log" >&2; die "meson setup $B failed"; }
fi
ninja -C "$B" src/agent/kata-agent >&2 || die "building the static agent failed"
BIN=$B/src/agent/kata-agent
if readelf -l "$BIN" | grep -q INTERP; then
    die "$BIN is not static (it has a program interpreter)"
fi
# meson's strip option acts on install only: the build output keeps its
# symbols and debug info (0.7 MB of the agent), which the initrd would
# carry into guest RAM.
strip -o "$OUT.new" "$BIN" || die "strip $BIN failed"
if ! cmp -s "$OUT.new" "$OUT" 2>/dev/null; then
    mv "$OUT.new" "$OUT"
else
    rm -f "$OUT.new"
fi
