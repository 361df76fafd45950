#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# A fake owner of sandbox ID for kata-runtime metrics' error paths
# (test-metrics-cli.sh): writes /run/vc/sbs/ID/state.json naming itself
# (or, with "dead", a process that has exited) and serves its management
# socket the way MODE says.  Prints "ready" once it serves.
#   fake-owner.py ID MODE   MODE: dead | silent | garbage | notprom | 404
import fcntl, json, os, socket, subprocess, sys, time

sid, mode = sys.argv[1], sys.argv[2]
d = "/run/vc/sbs/" + sid
os.makedirs(d, mode=0o700)
sock_path = d + "/shim-monitor.sock"


def start_time(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


pid, st = os.getpid(), start_time(os.getpid())
if mode == "dead":
    p = subprocess.Popen(["sleep", "0"])
    st = start_time(p.pid)
    pid = p.pid
    p.wait()
else:
    lock = os.open(d + "/lock", os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
doc = {"version": 1, "id": sid, "owner": {"pid": pid, "start_time": st}, "processes": [],
       "run_dir": "/run/vc/vm/" + sid, "share_dir": "/run/kata-containers/shared/sandboxes/" + sid,
       "qmp_socket": None, "agent_uri": None, "owner_socket": None,
       "monitor_socket": sock_path, "cri": None, "cgroup": None,
       "network": {"netns": None, "taps": []}, "containers": []}
fd = os.open(d + "/state.json", os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
os.write(fd, json.dumps(doc).encode())
os.close(fd)
if mode == "dead":
    print("ready", flush=True)
    sys.exit(0)
srv = socket.socket(socket.AF_UNIX)
srv.bind(sock_path)
srv.listen(4)
print("ready", flush=True)
answers = {
    "garbage": b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
    "notprom": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n\r\nthis is not metrics{\n",
    "404": b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 19\r\n\r\n404 page not found\n",
}
conns = []
while True:
    c, _ = srv.accept()
    conns.append(c)
    if mode in answers:
        c.recv(4096)
        c.sendall(answers[mode])
        c.close()
