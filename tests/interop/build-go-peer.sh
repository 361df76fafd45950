#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds the Go reference peer (tests/interop/go, on containerd's ttrpc from
# Debian's golang-github-containerd-ttrpc-dev) into OUTDIR/kc-interop-go:
# offline, in GOPATH mode, with its build cache in OUTDIR/go-cache.  Does
# nothing when neither the sources, the Go toolchain nor the Go packages
# changed since the last build.
#   build-go-peer.sh OUTDIR
set -eu

if [ $# -ne 1 ]; then
	echo "usage: build-go-peer.sh OUTDIR" >&2
	exit 2
fi
mkdir -p "$1"
out=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/go" && pwd)
gocode=/usr/share/gocode
debs="golang-github-containerd-ttrpc-dev golang-github-gogo-protobuf-dev golang-google-grpc-dev
      golang-google-genproto-dev golang-github-sirupsen-logrus-dev golang-golang-x-sys-dev"

if ! command -v go >/dev/null 2>&1; then
	echo "build-go-peer: no go command: install golang-go (scripts/install-deps.sh)" >&2
	exit 1
fi
if [ ! -d "$gocode/src/github.com/containerd/ttrpc" ]; then
	echo "build-go-peer: no $gocode/src/github.com/containerd/ttrpc:" \
		"install golang-github-containerd-ttrpc-dev (scripts/install-deps.sh)" >&2
	exit 1
fi

# shellcheck disable=SC2086
stamp=$({
	go version
	cat "$src"/*.go
	dpkg-query -W $debs 2>/dev/null || true
} | sha256sum | cut -d' ' -f1)
if [ -x "$out/kc-interop-go" ] && [ "$(cat "$out/kc-interop-go.stamp" 2>/dev/null)" = "$stamp" ]; then
	exit 0
fi

tmp=$out/kc-interop-go.tmp.$$
trap 'rm -f "$tmp"' EXIT
cd "$src"
GO111MODULE=off GOPROXY=off GOFLAGS='' GOENV=off CGO_ENABLED=0 \
	GOCACHE="$out/go-cache" GOPATH="$out/gopath:$gocode" \
	go build -o "$tmp" .
mv -f "$tmp" "$out/kc-interop-go"
echo "$stamp" >"$out/kc-interop-go.stamp"
