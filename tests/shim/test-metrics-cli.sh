#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kata-runtime metrics against fake owners (fake-owner.py): every way the
# answer can fail ends in an error that names the sandbox and what was
# wrong, within the timeout.  Root (/run/vc/sbs).  TAP.
set -u
KR=${KC_BUILD_ROOT:-build-test}/src/cli/kata-runtime
FAKE=$(dirname "$0")/fake-owner.py
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
expect() { # expect NAME WANTED-RC WANTED-SUBSTRING RC OUTPUT
	case "$5" in *"$3"*) [ "$2" = "$4" ] && { ok "$1"; return; } ;; esac
	nok "$1" "expected rc $2 and [$3]" "got rc $4 [$5]"
}
FPID=
ID=
fake() { # fake MODE: a fake owner of a new sandbox $ID
	ID=kcmcli$$-$1
	coproc FK { exec python3 "$FAKE" "$ID" "$1"; }
	FPID=$FK_PID
	read -r -t 10 line <&"${FK[0]}"
	[ "$line" = ready ] || nok "fake owner $1 starts" "got [$line]"
}
unfake() {
	[ -n "$FPID" ] && kill "$FPID" 2> /dev/null && wait "$FPID" 2> /dev/null
	FPID=
	rm -rf "/run/vc/sbs/$ID"
}
trap unfake EXIT

out=$($KR metrics 2>&1)
expect "no id: usage" 2 "no sandbox id given" $? "$out"
out=$($KR metrics ../x 2>&1)
expect "a bad id" 2 "sandbox id" $? "$out"
out=$($KR metrics kcmcli-none-$$ 2>&1)
expect "unknown sandbox" 1 "sandbox kcmcli-none-$$: not found" $? "$out"

fake dead
out=$($KR metrics "$ID" 2>&1)
expect "dead owner: the state is stale" 1 "sandbox $ID: its owner (pid" $? "$out"
case "$out" in *"is dead: the state in /run/vc/sbs/$ID is stale"*) ok "... says so" ;; *) nok "... says so" "$out" ;; esac
unfake

fake silent
t0=$(date +%s%N)
out=$(timeout 20 $KR metrics --timeout 2 "$ID" 2>&1)
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect "a socket that never answers: a timeout" 1 "no answer in time" $rc "$out"
[ "$ms" -ge 1900 ] && [ "$ms" -lt 5000 ] && ok "... after the 2 s asked ($ms ms)" || nok "... after 2 s" "$ms ms"
unfake

fake garbage
out=$($KR metrics --timeout 5 "$ID" 2>&1)
expect "a garbage answer" 1 "not an HTTP/1.x status line" $? "$out"
unfake

fake notprom
out=$($KR metrics --timeout 5 "$ID" 2>&1)
expect "an answer that is not metrics" 1 "answered no Prometheus text" $? "$out"
unfake

fake 404
out=$($KR metrics --timeout 5 "$ID" 2>&1)
expect "an HTTP error" 1 "answered HTTP 404: 404 page not found" $? "$out"
unfake

echo "1..$n"
[ $fails = 0 ]
