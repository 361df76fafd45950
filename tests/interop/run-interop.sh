#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# ttrpc interop between kata-c and the reference implementation
# (containerd's Go ttrpc), both directions, over unix sockets:
#   1. our server (interop_peer serve) answers the Go client;
#   2. the Go server answers our client (interop_peer client).
# Each side prints unnumbered `ok - ...` lines; this script numbers them
# and prints TAP.
#   run-interop.sh INTEROP_PEER BUILD_DIR
set -eu

if [ $# -ne 2 ]; then
	echo "usage: run-interop.sh INTEROP_PEER BUILD_DIR" >&2
	exit 2
fi
peer=$1
builddir=$2
here=$(cd "$(dirname "$0")" && pwd)
gopeer=$builddir/kc-interop-go

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kc-interop.XXXXXX")
pids=""
# shellcheck disable=SC2317 # run by the trap
cleanup() {
	for p in $pids; do
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

lines=$tmp/lines
: >"$lines"

pass() { echo "ok - $1" >>"$lines"; }
fail() {
	echo "not ok - $1" >>"$lines"
	if [ $# -gt 1 ] && [ -s "$2" ]; then
		tail -n 40 "$2" | sed 's/^/#   /' >>"$lines"
	fi
}

# Numbers the collected lines, prints the plan and exits.
finish() {
	n=$(grep -cE '^(ok|not ok) ' "$lines" || true)
	echo "1..$n"
	awk '/^ok /{ n++; sub(/^ok /, "ok " n " ") }
	     /^not ok /{ n++; sub(/^not ok /, "not ok " n " ") }
	     { print }' "$lines"
	if grep -q '^not ok ' "$lines"; then
		exit 1
	fi
	exit 0
}

# Waits up to 10 s for a server process to create its socket.
wait_socket() {
	i=0
	while [ ! -S "$2" ]; do
		if ! kill -0 "$1" 2>/dev/null || [ $i -ge 200 ]; then
			return 1
		fi
		sleep 0.05
		i=$((i + 1))
	done
}

# Stops a server with SIGTERM: it must exit with status 0.
stop_server() {
	kill -TERM "$1" 2>/dev/null || true
	rc=0
	wait "$1" || rc=$?
	pids=$(echo "$pids" | sed "s/\\b$1\\b//")
	if [ $rc -eq 0 ]; then
		pass "$2 exits cleanly on SIGTERM"
	else
		echo "exit status $rc" >>"$3"
		fail "$2 exits cleanly on SIGTERM" "$3"
	fi
}

# Appends a client's case lines; a client that died without reporting a
# failure, or printed nothing, is a failure too.
collect() {
	grep -E '^(ok|not ok) |^#' "$2" >>"$lines" || true
	if ! grep -qE '^(ok|not ok) ' "$2"; then
		fail "$1 reported no cases (exit status $3)" "$4"
	elif [ "$3" -ne 0 ] && ! grep -q '^not ok ' "$2"; then
		fail "$1 exits cleanly (exit status $3)" "$4"
	elif [ "$3" -ne 0 ] && [ "$3" -ne 1 ]; then
		fail "$1 exits cleanly (exit status $3)" "$4"
	else
		pass "$1 exits cleanly"
	fi
}

start=$(date +%s)
if "$here/build-go-peer.sh" "$builddir" >"$tmp/build.log" 2>&1; then
	pass "build the Go reference peer on containerd/ttrpc ($(($(date +%s) - start)) s)"
else
	fail "build the Go reference peer on containerd/ttrpc" "$tmp/build.log"
	finish
fi

# 1. kata-c server, Go client.
"$peer" serve "$tmp/c.sock" 2>"$tmp/c-server.err" &
spid=$!
pids="$pids $spid"
if wait_socket "$spid" "$tmp/c.sock"; then
	rc=0
	"$gopeer" client "$tmp/c.sock" >"$tmp/go-client.out" 2>"$tmp/go-client.err" || rc=$?
	collect "Go client" "$tmp/go-client.out" "$rc" "$tmp/go-client.err"
else
	fail "C server listens on its socket" "$tmp/c-server.err"
fi
stop_server "$spid" "C server" "$tmp/c-server.err"

# 2. Go server, kata-c client.
"$gopeer" serve "$tmp/go.sock" 2>"$tmp/go-server.err" &
gpid=$!
pids="$pids $gpid"
if wait_socket "$gpid" "$tmp/go.sock"; then
	rc=0
	"$peer" client "$tmp/go.sock" >"$tmp/c-client.out" 2>"$tmp/c-client.err" || rc=$?
	collect "C client" "$tmp/c-client.out" "$rc" "$tmp/c-client.err"
else
	fail "Go server listens on its socket" "$tmp/go-server.err"
fi
stop_server "$gpid" "Go server" "$tmp/go-server.err"

finish
