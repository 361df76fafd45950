#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The shim's management socket (docs/shim.md): /run/vc/sbs/<id>/shim-monitor.sock
# while a container runs, its /metrics checked against /proc of the
# processes it reports (the shim; QEMU and the guest's /proc/meminfo in a
# VM) and by promtool, /agent-url, 404/405, a silent client that must not
# stop a scrape, too many clients, and `kata-runtime metrics`.
. "$(dirname "$0")/lib.sh"
trap 'e2e_stop' EXIT
e2e_start
C="--runtime-config-path $(e2e_config)"
KR=$KC_BUILD_ROOT/src/cli/kata-runtime
ID=kce2e-mon
S=/run/vc/sbs/$ID/shim-monitor.sock
timeout 120 $CTR run -d $F $R $C $IMG $ID /bin/sleep 600 > /dev/null 2>&1
for _ in $(seq 100); do [ -S "$S" ] && break; sleep 0.1; done
check "the socket is there, 0600 and root's" "socket 600 root" "$(stat -c '%F %a %U' "$S" 2>&1)"
check "the state records it" "$S" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["monitor_socket"])' /run/vc/sbs/$ID/state.json 2>&1)"
check "not a CRI pod: cri is null" None "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cri"])' /run/vc/sbs/$ID/state.json 2>&1)"

spid=$(shim_of $ID)
val() { # val NAME{LABELS} FILE: the sample's value, as an integer
	awk -v k="$1" '$1 == k {printf "%.0f\n", $2}' "$2"
}
rss0=$(awk '/^VmRSS:/ {print $2 * 1024}' /proc/$spid/status)
ct=$(curl -s -o "$W/m1" -w '%{http_code} %{content_type}' --max-time 20 --unix-socket "$S" http://localhost/metrics)
check "GET /metrics: 200, Prometheus text 0.0.4" "200 text/plain; version=0.0.4; charset=utf-8" "$ct"
rss1=$(awk '/^VmRSS:/ {print $2 * 1024}' /proc/$spid/status)
thr_status=$(awk '/^Threads:/ {print $2}' /proc/$spid/status)
# The shim's RSS as read before and after the scrape, 5% either side
# (the scrape itself moves it).
within() { # within NAME VALUE
	local lo=$rss0 hi=$rss1
	[ "$lo" -gt "$hi" ] && lo=$rss1 hi=$rss0
	[ -n "$2" ] && [ "$2" -ge $((lo - lo / 20)) ] && [ "$2" -le $((hi + hi / 20)) ] &&
		ok "$1 $2 ~ /proc/<shim>/status VmRSS $rss0..$rss1" ||
		not_ok "$1 ~ /proc/<shim>/status VmRSS" "metrics [$2] status [$rss0..$rss1]"
}
within kata_shim_process_resident_memory_bytes "$(val kata_shim_process_resident_memory_bytes "$W/m1")"
within 'kata_shim_proc_status{item="vmrss"}' "$(val 'kata_shim_proc_status{item="vmrss"}' "$W/m1")"
check "kata_shim_threads = /proc/<shim>/status Threads" "$thr_status" "$(val kata_shim_threads "$W/m1")"
# Counted during the scrape: its connection (and the reading's own
# descriptor) are open then.
nfd=$(ls /proc/$spid/fd | wc -l)
mfd=$(val kata_shim_process_open_fds "$W/m1")
[ "${mfd:-0}" -ge "$nfd" ] && [ "${mfd:-0}" -le $((nfd + 3)) ] &&
	ok "kata_shim_process_open_fds $mfd ~ /proc/<shim>/fd $nfd" ||
	not_ok "kata_shim_process_open_fds ~ /proc/<shim>/fd" "metrics [$mfd] fd [$nfd]"
check "the agent answered" 1 "$(val kata_shim_agent_metrics_up "$W/m1")"
n=$(grep -c '^kata_agent_' "$W/m1")
[ "$n" -gt 0 ] && ok "the agent's kata_agent_* ($n samples)" || not_ok "the agent's kata_agent_*"
out=$(promtool check metrics < "$W/m1" 2>&1)
rc=$?
bad=$(grep -v -e 'kata_agent_scrape_count' -e '^$' <<< "$out")
[ $rc != 1 ] && [ -z "$bad" ] && ok "promtool check metrics: no error (rc $rc)" ||
	not_ok "promtool check metrics" "$out"
if [ "$KC_E2E_MODE" = vm ]; then
	qpid=$(vmm_of $ID)
	q1=$(awk '/^Threads:/ {print $2}' /proc/$qpid/status)
	curl -s -o "$W/m2" --max-time 20 --unix-socket "$S" http://localhost/metrics
	q2=$(awk '/^Threads:/ {print $2}' /proc/$qpid/status)
	t=$(val kata_hypervisor_threads "$W/m2")
	[ "$t" = "$q1" ] || [ "$t" = "$q2" ] && ok "kata_hypervisor_threads $t = QEMU's Threads" ||
		not_ok "kata_hypervisor_threads = /proc/<qemu>/status Threads" "metrics [$t] status [$q1 $q2]"
	vpid=$(virtiofsd_of $ID)
	if [ -n "$vpid" ]; then
		check "kata_virtiofsd_threads = virtiofsd's Threads" \
			"$(awk '/^Threads:/ {print $2}' /proc/$vpid/status)" "$(val kata_virtiofsd_threads "$W/m2")"
	fi
	gm=$(timeout 60 $CTR tasks exec --exec-id mi $ID cat /proc/meminfo 2>&1 | awk '/^MemTotal:/ {print $2 * 1024}')
	check "kata_guest_meminfo{item=\"mem_total\"} = the guest's MemTotal" "$gm" \
		"$(val 'kata_guest_meminfo{item="mem_total"}' "$W/m2")"
else
	n=$(grep -c '^kata_hypervisor_' "$W/m1")
	check "host agent: no hypervisor families" 0 "$n"
fi

# /agent-url: the agent's URL, as the shim dials it.
want=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent_uri"])' /run/vc/sbs/$ID/state.json)
check "GET /agent-url" "200 $want" "$(curl -s -w '%{http_code} ' -o "$W/u" --max-time 10 --unix-socket "$S" http://localhost/agent-url; cat "$W/u")"
check "GET /nothing: 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --unix-socket "$S" http://localhost/nothing)"
check "POST /metrics: 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST -d x --unix-socket "$S" http://localhost/metrics)"

# Clients that connect and say nothing: a scrape beside them is answered.
silent() { python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(float(sys.argv[2]))' "$S" "$1" & }
silent 60; s1=$!
silent 60; s2=$!
sleep 0.5
t0=$(date +%s%N)
code=$(curl -s -o "$W/m3" -w '%{http_code}' --max-time 10 --unix-socket "$S" http://localhost/metrics)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "a scrape beside two silent clients: answered" 200 "$code"
[ "$ms" -lt 5000 ] && ok "... in $ms ms" || not_ok "a scrape beside silent clients took $ms ms"
kill $s1 $s2 2> /dev/null
wait $s1 $s2 2> /dev/null
# More silent clients than the shim takes at once (16): a scrape then
# fails fast or waits, never hangs, and once the shim closed the idle
# ones (10 s) scrapes are answered again; the Task service answers
# throughout.
pids=
for _ in $(seq 20); do silent 30; pids="$pids $!"; done
sleep 0.5
t0=$(date +%s%N)
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 --unix-socket "$S" http://localhost/metrics)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 15000 ] && ok "a scrape beside 20 silent clients ends in $ms ms (HTTP $code)" ||
	not_ok "a scrape beside 20 silent clients took $ms ms"
check "the Task service answers meanwhile" exec-ok "$(timeout 30 $CTR tasks exec --exec-id x1 $ID echo exec-ok 2>&1)"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 --unix-socket "$S" http://localhost/metrics)
check "after the idle ones timed out: answered" 200 "$code"
kill $pids 2> /dev/null
wait $pids 2> /dev/null

# kata-runtime metrics: the same families, the errors.
$KR metrics $ID > "$W/k1" 2> "$W/k1.err"
check "kata-runtime metrics: exit 0" "0 " "$? $(cat "$W/k1.err")"
fam() { awk '/^# TYPE/ {print $3}' "$1" | sort; }
check "kata-runtime metrics: the same families as curl" "$(fam "$W/m1")" "$(fam "$W/k1")"
out=$($KR metrics kce2e-none 2>&1)
check "kata-runtime metrics: unknown sandbox" "1 kata-runtime metrics: sandbox kce2e-none: not found (no /run/vc/sbs/kce2e-none)" "$? $out"

$CTR tasks kill -s SIGKILL $ID > /dev/null 2>&1
wait_state $ID STOPPED > /dev/null 2>&1
$CTR tasks delete $ID > /dev/null 2>&1
$CTR containers delete $ID > /dev/null 2>&1
for _ in $(seq 50); do [ -e "$S" ] || break; sleep 0.1; done
check "the socket is gone with the sandbox" no "$([ -e "$S" ] && echo yes || echo no)"

trap - EXIT
e2e_stop
e2e_leftovers
e2e_finish
