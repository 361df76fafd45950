#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kata-monitor end to end: a pod run through containerd's CRI plugin
# (tests/e2e/cri-monitor-pods.py), kata-monitor reading the host's
# /run/vc/sbs, and Debian's Prometheus scraping kata-monitor every second
# (private port and data dir).  Prometheus' query API has the pod's
# kata_guest_meminfo{item="mem_total"} labelled with its CRI name and
# namespace (in a VM: the guest's MemTotal, as the container reads it);
# once the pod is removed the series is stale.  /sandboxes and /agent-url
# know the pod.  TAP.
. "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c 'import grpc' 2> /dev/null || { echo "1..0 # python3-grpcio is missing"; exit 1; }
command -v prometheus > /dev/null || { echo "1..0 # prometheus is missing (scripts/install-deps.sh)"; exit 1; }
CW=$W/cri
cri_config "$KC_BUILD_ROOT/src/shim/containerd-shim-kata-v2"
env $( [ "$KC_E2E_MODE" = host-agent ] && echo "KATA_C_TEST_AGENT=$KC_BUILD_ROOT/src/agent/kata-agent") \
	ASAN_OPTIONS=detect_leaks=1:log_path=$W/logs/asan PATH="$CW/bin:$PATH" \
	containerd --config "$CW/config.toml" > "$W/logs/containerd.log" 2>&1 &
CPID=$!
cri_images

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MPORT=$(free_port)
PPORT=$(free_port)
ASAN_OPTIONS=detect_leaks=1:log_path=$W/logs/asan-monitor "$KC_BUILD_ROOT/src/monitor/kata-monitor" \
	--listen-address "127.0.0.1:$MPORT" --runtime-endpoint "$CW/run/containerd.sock" \
	> "$W/logs/monitor.log" 2>&1 &
MPID=$!
mkdir -p "$W/prom"
cat > "$W/prom/prometheus.yml" <<EOT
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: kata
    static_configs:
      - targets: ['127.0.0.1:$MPORT']
EOT
prometheus --config.file="$W/prom/prometheus.yml" --storage.tsdb.path="$W/prom/data" \
	--web.listen-address="127.0.0.1:$PPORT" --log.level=warn > "$W/logs/prometheus.log" 2>&1 &
PPID_=$!
stop_all() {
	[ -n "${PODS_IN:-}" ] && { echo stop >&7; wait "$PODS_PID" 2> /dev/null; }
	[ -n "${PPID_:-}" ] && kill "$PPID_" "$MPID" 2> /dev/null
	wait "$PPID_" "$MPID" 2> /dev/null
	PPID_= MPID=
}
trap 'stop_all; [ -n "${CPID:-}" ] && cri_stop' EXIT

# promql QUERY: the values of the instant query's series, one a line, as
# "cri_name cri_namespace sandbox_id value".
promql() {
	curl -sG -m 5 "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" |
		/usr/bin/python3 -c 'import json,sys
for r in json.load(sys.stdin)["data"]["result"]:
    m = r["metric"]; print(m.get("cri_name"), m.get("cri_namespace"), m.get("sandbox_id"), r["value"][1])'
}

coproc PODS { cd "$(dirname "$0")" && exec /usr/bin/python3 cri-monitor-pods.py "$CW/run/containerd.sock" kata "$IMG" 1 mon-pod mon-ns 2> "$W/logs/pods.err"; }
PODS_PID=$PODS_PID
exec 7>&"${PODS[1]}"
PODS_IN=1
line=
while read -r -t 300 l <&"${PODS[0]}"; do
	[ "$l" = ready ] && break
	line=$l
done
read -r _ pname sid mem <<< "$line"
mem=${mem#memtotal_kib=}
check "a CRI pod runs" mon-pod-0 "$pname"

check "/sandboxes lists it" 1 "$(curl -s "http://127.0.0.1:$MPORT/sandboxes" | grep -cx "$sid")"
url=$(curl -s -m 5 "http://127.0.0.1:$MPORT/agent-url?sandbox=$sid")
case "$url" in vsock://*|unix://*|hvsock://*) ok "/agent-url answers ($url)" ;; *) not_ok "/agent-url answers" "got [$url]" ;; esac

q='kata_guest_meminfo{item="mem_total",cri_name="mon-pod-0"}'
got=
for _ in $(seq 60); do
	got=$(promql "$q")
	[ -n "$got" ] && break
	sleep 0.5
done
read -r gname gns gsid gval <<< "$got"
check "Prometheus has the pod's kata_guest_meminfo, cri_name" mon-pod-0 "$gname"
check "... cri_namespace" mon-ns "$gns"
check "... sandbox_id" "$sid" "$gsid"
if [ "$KC_E2E_MODE" = vm ]; then
	# The agent reads the guest's /proc/meminfo; so does the container.
	d=$(/usr/bin/python3 -c "v=float('${gval:-0}'); m=int('${mem:-0}' or 0)*1024; print(int(m > 0 and abs(v - m) <= m / 100))")
	check "... its value is the guest's MemTotal ($gval vs ${mem} kB)" 1 "$d"
else
	case "$gval" in [1-9]*) ok "... with a value ($gval)" ;; *) not_ok "... with a value" "got [$gval]" ;; esac
fi
up=$(promql 'kata_monitor_running_shim_count')
case "$up" in *" "[1-9]*) ok "kata_monitor_running_shim_count counts it" ;; *) not_ok "kata_monitor_running_shim_count" "got [$up]" ;; esac

# The pod removed: the next scrapes lack its series, which Prometheus
# marks stale; an instant query finds nothing.
echo stop >&7
for _ in $(seq 300); do read -r -t 1 l <&"${PODS[0]}" && [ "$l" = stopped ] && break; done
PODS_IN=
wait "$PODS_PID" 2> /dev/null
for _ in $(seq 20); do
	got=$(promql "$q")
	[ -z "$got" ] && break
	sleep 0.5
done
if [ -z "$gname" ]; then not_ok "the pod removed: its series is stale" "it never had one"
else check "the pod removed: its series is stale (no current value)" "" "$got"; fi
check "... and gone from /sandboxes" 0 "$(curl -s "http://127.0.0.1:$MPORT/sandboxes" | grep -cx "$sid")"
kill -0 "$MPID" 2> /dev/null && ok "kata-monitor still runs" || not_ok "kata-monitor still runs"
stop_all
check "no ASan report of kata-monitor" "" "$(cat "$W"/logs/asan-monitor* 2> /dev/null | head -5)"
cri_stop
CPID=
check "no shim left" 0 "$cri_shims_left"
e2e_finish
