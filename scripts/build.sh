#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Configures (once) and builds one build directory.
#   scripts/build.sh DIR [MESON OPTIONS...]
set -eu
dir=$1
shift
cd "$(dirname "$0")/.."
if [ -f "$dir/build.ninja" ]; then
	meson configure "$dir" "$@" >/dev/null
else
	meson setup "$dir" "$@"
fi
ninja -C "$dir"
