#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs what building and testing kata-c need, from Debian's packages.
# Safe to re-run.
set -eu

packages="
  gcc libc6-dev binutils meson ninja-build pkg-config git python3
  libjansson-dev libcmocka-dev libseccomp-dev libprotobuf-c-dev protobuf-c-compiler
  zlib1g-dev
  clang libclang-rt-14-dev
  clang-format codespell
  qemu-system-x86 qemu-system-common
  kmod cpio lz4 busybox-static e2fsprogs
  iproute2 iptables runc
  containerd python3-grpcio containernetworking-plugins
  prometheus curl
  golang-go golang-github-containerd-ttrpc-dev golang-github-gogo-protobuf-dev
  golang-github-golang-protobuf-1-3-dev
"

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: run as root (apt-get needs it)" >&2
	exit 1
fi

missing=""
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing"
	apt-get update
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
fi
