#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kata-monitor against shims that misbehave (tests/e2e/fake-shim-monitor.py
# stands in for each: a live owner of a sandbox directory, its lock held,
# its management socket as the mode says): two good ones, one that never
# answers, one that answers garbage, one that answers 500, one without a
# socket, a stale directory whose shim died, one being made (no state
# yet) and one that is nobody's.  A scrape comes back
# within its bound with the good ones' samples labelled, the others
# skipped and counted; /sandboxes and /agent-url answer; kata-monitor
# stops cleanly with a scrape in flight.  No containerd, no VM.  TAP.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
KC_BUILD_ROOT=${KC_BUILD_ROOT:?}
MON=$KC_BUILD_ROOT/src/monitor/kata-monitor
W=$(mktemp -d /tmp/kc-monitor-faults.XXXXXX)
SBS=$W/sbs
mkdir -p "$SBS" "$W/logs"
tap_n=0
ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1"; }
not_ok() { tap_n=$((tap_n + 1)); echo "not ok $tap_n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected [$2]" "got [$3]"; fi; }
FAKES=()
cleanup() {
	[ -n "${MPID:-}" ] && kill "$MPID" 2> /dev/null
	for p in "${FAKES[@]}"; do kill "$p" 2> /dev/null; done
	wait 2> /dev/null
	rm -rf "$W"
}
trap cleanup EXIT

fake() { # fake ID MODE
	/usr/bin/python3 "$HERE/fake-shim-monitor.py" "$SBS" "$1" "$2" > "$W/logs/fake-$1" 2>&1 &
	FAKES+=($!)
	for _ in $(seq 50); do grep -q ready "$W/logs/fake-$1" 2> /dev/null && return 0; sleep 0.1; done
	echo "# fake $1 did not start"
}
fake good-a good
fake good-b good
fake hang hang
fake garbage garbage
fake http500 http500
fake nosock nosock
fake stale stale
fake making nostate
mkdir "$SBS/leftover" # neither state nor owner: not a sandbox

PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
ASAN_OPTIONS=detect_leaks=1:log_path=$W/logs/asan "$MON" --listen-address "127.0.0.1:$PORT" \
	--sandboxes-dir "$SBS" --scrape-timeout 1000 --log-level debug \
	--runtime-endpoint "$W/no-containerd.sock" > "$W/logs/monitor.log" 2>&1 &
MPID=$!
for _ in $(seq 100); do curl -sf "$URL/" > /dev/null && break; sleep 0.1; done


t0=$(date +%s%N)
curl -sf -m 10 -o "$W/m1" "$URL/metrics"
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "/metrics answers with a shim that never does" 0 $rc
[ "$ms" -lt 2500 ] && ok "... within the 1 s bound and slack ($ms ms)" || not_ok "scrape bounded" "took $ms ms"
m=$W/m1
grep -qx 'kata_guest_meminfo{item="mem_total",sandbox_id="good-a",cri_uid="uid-good-a",cri_name="pod-good-a",cri_namespace="ns-good"} 201326592' "$m" &&
	ok "a good shim's sample carries sandbox_id, cri_uid, cri_name, cri_namespace" ||
	not_ok "labelled sample" "$(grep kata_guest_meminfo "$m" | head -3)"
check "both good shims' samples are there" 2 "$(grep -c '^kata_guest_meminfo{item="mem_total"' "$m")"
check "each family's HELP once" 1 "$(grep -c '^# HELP kata_guest_meminfo ' "$m")"
check "each family's TYPE once" 1 "$(grep -c '^# TYPE kata_shim_rpc_durations_histogram_milliseconds histogram' "$m")"
grep -q '^kata_shim_rpc_durations_histogram_milliseconds_bucket{action="create",le="+Inf",sandbox_id="good-b",' "$m" &&
	ok "a histogram's buckets are relayed with le" || not_ok "histogram relayed"
check "no sample of the bad shims" 0 "$(grep -cE 'sandbox_id="(hang|garbage|http500|nosock|stale|making|leftover)"' "$m")"
check "kata_monitor_running_shim_count: the six live owners" "kata_monitor_running_shim_count 6" "$(grep '^kata_monitor_running_shim_count' "$m")"
for r in timeout:1 parse:1 http:1 connect:1 state:1; do
	check "kata_monitor_sandboxes_skipped{reason=\"${r%:*}\"} ${r#*:}" \
		"kata_monitor_sandboxes_skipped{reason=\"${r%:*}\"} ${r#*:}" \
		"$(grep "^kata_monitor_sandboxes_skipped{reason=\"${r%:*}\"}" "$m")"
done
check "kata_monitor_scrape_failed_count counts them" "kata_monitor_scrape_failed_count 4" "$(grep '^kata_monitor_scrape_failed_count' "$m")"
promtool check metrics < "$m" > "$W/promtool.out" 2>&1
# promtool's lint complains of Kata's names (_count counters), not syntax
if grep -qiE 'error while linting|parse' "$W/promtool.out"; then not_ok "promtool parses it" "$(head -3 "$W/promtool.out")"; else ok "promtool parses it"; fi

# Two scrapes at once: both answered (the second joins the first).
curl -sf -m 10 -o "$W/m2" "$URL/metrics" & c1=$!
curl -sf -m 10 -o "$W/m3" "$URL/metrics" & c2=$!
wait $c1; r1=$?; wait $c2; r2=$?
check "two concurrent scrapes both answered" "0 0" "$r1 $r2"
check "... with the count of scrapes" "kata_monitor_scrape_count" "$(grep -o '^kata_monitor_scrape_count' "$W/m3")"

check "/sandboxes: the live sandboxes" "garbage good-a good-b hang http500 nosock" "$(curl -sf "$URL/sandboxes" | tr '\n' ' ' | sed 's/ $//')"
check "/agent-url of a good shim" "vsock://3:1024" "$(curl -sf "$URL/agent-url?sandbox=good-a")"
check "/agent-url of a stale sandbox: 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/agent-url?sandbox=stale")"
check "/agent-url of a bad id: 400" 400 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/agent-url?sandbox=..")"
check "/agent-url of a shim that hangs: 502" 502 "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/agent-url?sandbox=hang")"

# A sandbox that goes away is gone from the next scrape.
kill "${FAKES[0]}"; wait "${FAKES[0]}" 2> /dev/null
curl -sf -m 10 -o "$W/m4" "$URL/metrics"
check "a shim gone: its samples gone" 0 "$(grep -c 'sandbox_id="good-a"' "$W/m4")"

# SIGTERM with a scrape in flight (the hanging shim holds it).
curl -s -m 10 -o /dev/null "$URL/metrics" & c1=$!
sleep 0.3
kill -TERM "$MPID"
wait "$MPID"; rc=$?
MPID=
wait $c1
check "SIGTERM with a scrape in flight: exits 0" 0 $rc
check "no ASan/UBSan report" "" "$(cat "$W"/logs/asan* 2> /dev/null | head -5)"
grep -q 'runtime-endpoint' "$W/logs/monitor.log" && ok "a missing --runtime-endpoint is logged, not fatal" || not_ok "runtime-endpoint warning"
# Bad flags: exit 1, naming what was wrong.
for a in "--listen-address nope" "--listen-address 127.0.0.1:notaport" "--log-level loud" \
	"--scrape-timeout 0" "--runtime-endpoint relative.sock" "--sandboxes-dir rel"; do
	out=$("$MON" $a 2>&1); rc=$?
	flag=${a%% *}
	case "$rc:$out" in 1:*"${flag#--}"*|1:*"${a#* }"*) ok "kata-monitor $a: refused, named" ;;
		*) not_ok "kata-monitor $a: refused, named" "rc $rc: $out" ;; esac
done
echo "1..$tap_n"
