#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# A stand-in for a shim, as kata-monitor sees one: a sandbox directory
# SBS/ID with a state document naming this process its owner, the owner's
# lock held, and the management socket SBS/ID/shim-monitor.sock behaving
# as MODE says:
#   good     answers GET /metrics with a few of Kata's families (a gauge
#            with labels, a counter, a histogram) and GET /agent-url
#   hang     accepts and never answers
#   garbage  answers 200 with text that is not Prometheus'
#   http500  answers 500
#   nosock   no socket at all
#   stale    writes the state, then exits: the lock is free, the owner dead
#   nostate  holds the lock, writes no state (a sandbox being made)
# Prints "ready" once it serves; runs until killed.
import fcntl, json, os, socket, sys, threading, time

sbs, sid, mode = sys.argv[1], sys.argv[2], sys.argv[3]
d = os.path.join(sbs, sid)
os.makedirs(d, exist_ok=True)
lock = os.open(os.path.join(d, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
with open("/proc/self/stat") as f:
    start = int(f.read().rsplit(")", 1)[1].split()[19])
doc = {
    "version": 1, "id": sid, "owner": {"pid": os.getpid(), "start_time": start},
    "processes": [], "run_dir": "/run/vc/vm/" + sid,
    "share_dir": "/run/kata-containers/shared/sandboxes/" + sid,
    "qmp_socket": None, "agent_uri": "vsock://3:1024", "owner_socket": None,
    "cgroup": None, "network": {"netns": None, "taps": []}, "containers": [],
    "monitor_socket": os.path.join(d, "shim-monitor.sock"),
    "cri": {"name": "pod-" + sid, "namespace": "ns-" + mode, "uid": "uid-" + sid},
}
if mode != "nostate":
    tmp = os.path.join(d, "state.json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, json.dumps(doc).encode())
    os.close(fd)
    os.rename(tmp, os.path.join(d, "state.json"))
if mode == "stale":
    print("ready", flush=True)
    sys.exit(0)

METRICS = """# HELP kata_guest_meminfo Statistics about memory usage in the guest.
# TYPE kata_guest_meminfo gauge
kata_guest_meminfo{item="mem_total"} 2.01326592e+08
kata_guest_meminfo{item="mem_free"} 1.5e+08
# HELP kata_shim_threads Kata containerd shim v2 process threads.
# TYPE kata_shim_threads gauge
kata_shim_threads 3
# HELP kata_agent_scrape_count Metrics scrape count
# TYPE kata_agent_scrape_count counter
kata_agent_scrape_count 7
# HELP kata_shim_rpc_durations_histogram_milliseconds RPC latency distributions.
# TYPE kata_shim_rpc_durations_histogram_milliseconds histogram
kata_shim_rpc_durations_histogram_milliseconds_bucket{action="create",le="1"} 0
kata_shim_rpc_durations_histogram_milliseconds_bucket{action="create",le="+Inf"} 1
kata_shim_rpc_durations_histogram_milliseconds_sum{action="create"} 12.5
kata_shim_rpc_durations_histogram_milliseconds_count{action="create"} 1
"""


def serve(c):
    try:
        req = b""
        while b"\r\n\r\n" not in req:
            b = c.recv(4096)
            if not b:
                return
            req += b
        if mode == "hang":
            time.sleep(3600)
        path = req.split(b" ")[1].decode()
        if mode == "garbage":
            body, status = "\x00\x01 this is { not metrics\n}}}\n", "200 OK"
        elif mode == "http500":
            body, status = "boom\n", "500 Internal Server Error"
        elif path == "/metrics":
            body, status = METRICS, "200 OK"
        elif path == "/agent-url":
            body, status = doc["agent_uri"], "200 OK"
        else:
            body, status = "not found\n", "404 Not Found"
        b = body.encode()
        c.sendall(("HTTP/1.0 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
                   % (status, len(b))).encode() + b)
    finally:
        c.close()


if mode not in ("nosock", "nostate"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    p = os.path.join(d, "shim-monitor.sock")
    if os.path.exists(p):
        os.unlink(p)
    s.bind(p)
    s.listen(64)
print("ready", flush=True)
if mode in ("nosock", "nostate"):
    while True:
        time.sleep(3600)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
