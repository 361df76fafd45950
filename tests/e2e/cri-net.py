#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""cri-net.py SOCKET IMAGE GATEWAY LOGDIR -- pods on a CNI bridge, driven
through containerd's CRI plugin (runtime.v1, hand-encoded protobuf as
cri-pod.py): a kata pod pings the bridge's gateway, two kata pods talk TCP
(busybox nc), a runc pod and a kata pod talk TCP both ways.  Prints one
`check NAME VALUE` line per fact for the TAP script; exit 0 when the CRI
calls all succeeded."""
import os, sys, time
from cri_client import connect, decode, fm, fs, fv

sock, image, gw, logroot = sys.argv[1:5]
call = connect(sock, 180)
def check(name, value): print("check %s %s" % (name, value), flush=True)

pods = []
def run_pod(name, handler):
    logdir = os.path.join(logroot, name); os.makedirs(logdir, exist_ok=True)
    cfg = (fm(1, fs(1, name) + fs(2, "uid-" + name) + fs(3, "default") + fv(4, 0))
           + fs(2, name) + fs(3, logdir))      # hostname; network: POD (CNI)
    pid = call("RunPodSandbox", fm(1, cfg) + fs(2, handler))[1][0].decode()
    pods.append(pid)
    st = decode(call("PodSandboxStatus", fs(1, pid))[1][0])
    ip = decode(st[5][0])[1][0].decode() if 5 in st else ""
    print("# pod %s (%s): %s ip %s" % (name, handler, pid[:12], ip), flush=True)
    return {"id": pid, "cfg": cfg, "ip": ip, "logdir": logdir, "name": name}

def start(pod, name, script, mounts=b""):
    c = (fm(1, fs(1, name)) + fm(2, fs(1, image)) + fs(3, "/bin/sh") + fs(3, "-c")
         + fs(3, script) + mounts + fs(11, name + ".log"))
    cid = call("CreateContainer", fs(1, pod["id"]) + fm(2, c) + fm(3, pod["cfg"]))[1][0].decode()
    call("StartContainer", fs(1, cid))
    return (pod, name, cid)

def finish(c, limit=240):
    pod, name, cid = c
    st = {}
    for _ in range(limit * 5):
        st = decode(call("ContainerStatus", fs(1, cid))[1][0])
        if st.get(3, [0])[0] == 2: break
        time.sleep(0.2)
    time.sleep(0.3)
    try: log = open(os.path.join(pod["logdir"], name + ".log")).read()
    except OSError: log = ""
    # CRI log lines: TIME STREAM TAG TEXT
    text = " ".join(l.split(" ", 3)[3] for l in log.splitlines() if l.count(" ") >= 3)
    print("# %s/%s exit %s: %s" % (pod["name"], name, st.get(7, [0])[0], text[:400]), flush=True)
    call("RemoveContainer", fs(1, cid))
    return st.get(3, [0])[0], st.get(7, [0])[0], text

# Clients retry: the peer's listener may not be up yet (no timing assumed).
def client(ip, port):
    return ("for i in $(seq 120); do nc %s %d < /dev/null && exit 0; sleep 1; done; exit 1"
            % (ip, port))

mode = sys.argv[5] if len(sys.argv) > 5 else "all"

# ---- bench/net: kc-netperf between two pods of each runtime ----
def cpu_of(match):
    """CPU seconds (user+sys) of the processes whose command line contains
    every string of match, split into KVM vCPU threads and the rest."""
    vcpu = other = 0.0
    hz = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit(): continue
        try: cmd = open("/proc/%s/cmdline" % pid, "rb").read().replace(b"\0", b" ").decode()
        except OSError: continue
        if not all(m in cmd for m in match): continue
        for t in os.listdir("/proc/%s/task" % pid):
            try:
                comm = open("/proc/%s/task/%s/comm" % (pid, t)).read()
                f = open("/proc/%s/task/%s/stat" % (pid, t)).read().rsplit(")", 1)[1].split()
            except OSError: continue
            v = (int(f[11]) + int(f[12])) / hz
            if "KVM" in comm or comm.startswith("CPU "): vcpu += v
            else: other += v
    return vcpu, other

def bench():
    runs, mib, iters = (int(os.environ.get(k, d)) for k, d in
                        (("KC_BENCH_RUNS", 5), ("KC_BENCH_MIB", 256), ("KC_BENCH_ITERS", 2000)))
    tools = fm(7, fs(1, "/tools") + fs(2, os.environ["KC_NETPERF_DIR"]) + fv(3, 1))
    ks, kc = run_pod("kcnet-ks", "kata"), run_pod("kcnet-kc", "kata")
    rs, rc = run_pod("kcnet-rs", "runc"), run_pod("kcnet-rc", "runc")
    srv = [start(p, "srv", "exec /tools/kc-netperf server 5201", tools) for p in (ks, rs)]
    sids = (ks["id"], kc["id"])
    for pid in os.listdir("/proc"):
        try: cmd = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
        except OSError: continue
        if any(b"qemu-system" in a for a in cmd[:1]) and any(ks["id"].encode() in a for a in cmd):
            print("accel %s" % cmd[cmd.index(b"-accel") + 1].decode() if b"-accel" in cmd else "accel ?")
            break
    cpu = {"qemu_vcpu": 0.0, "qemu_other": 0.0, "shim": 0.0, "wall": 0.0}
    for i in range(runs):
        for kind, cli, srvpod in (("kata", kc, ks), ("runc", rc, rs)):
            if kind == "kata":
                q0 = [cpu_of(["qemu-system", s]) for s in sids]
                s0 = [sum(cpu_of(["containerd-shim-kata-v2", s])) for s in sids]
                t0 = time.time()
            st, code, text = finish(start(cli, "cli%d" % i, "exec /tools/kc-netperf client %s 5201 %d %d"
                                          % (srvpod["ip"], mib, iters), tools))
            if kind == "kata":
                cpu["wall"] += time.time() - t0
                q1 = [cpu_of(["qemu-system", s]) for s in sids]
                s1 = [sum(cpu_of(["containerd-shim-kata-v2", s])) for s in sids]
                cpu["qemu_vcpu"] += sum(b[0] - a[0] for a, b in zip(q0, q1))
                cpu["qemu_other"] += sum(b[1] - a[1] for a, b in zip(q0, q1))
                cpu["shim"] += sum(b - a for a, b in zip(s0, s1))
            print("bench %s %s exit=%s" % (kind, text, code), flush=True)
    print("cpu %s" % " ".join("%s=%.2f" % kv for kv in cpu.items()), flush=True)
    for c in srv:
        call("StopContainer", fs(1, c[2]) + fv(2, 1))
        finish(c)

try:
    if mode == "bench":
        bench()
        sys.exit(0)
    a = run_pod("kcnet-a", "kata")
    check("pod_a_has_ip", "yes" if a["ip"] else "no")
    state, code, text = finish(start(a, "ping", "ping -c 3 -W 10 %s; echo ping-rc=$?" % gw))
    check("ping_gateway", "ok" if "ping-rc=0" in text and code == 0 else "fail")
    if mode == "ping-only":
        sys.exit(0)


    b = run_pod("kcnet-b", "kata")
    srv = start(b, "srv", "echo from-b | nc -l -p 5000; echo srv-rc=$?")
    state, code, text = finish(start(a, "cli", client(b["ip"], 5000)))
    check("kata_to_kata_tcp", "ok" if code == 0 and "from-b" in text else "fail")
    state, code, text = finish(srv)
    check("kata_server_done", "ok" if "srv-rc=0" in text else "fail")

    r = run_pod("kcnet-r", "runc")
    srv = start(r, "srv", "echo from-runc | nc -l -p 5001; echo srv-rc=$?")
    state, code, text = finish(start(a, "cli2", client(r["ip"], 5001)))
    check("kata_to_runc_tcp", "ok" if code == 0 and "from-runc" in text else "fail")
    finish(srv)
    srv = start(a, "srv2", "echo from-kata | nc -l -p 5002; echo srv-rc=$?")
    state, code, text = finish(start(r, "cli3", client(a["ip"], 5002)))
    check("runc_to_kata_tcp", "ok" if code == 0 and "from-kata" in text else "fail")
    finish(srv)
finally:
    for p in pods:
        call("StopPodSandbox", fs(1, p))
        call("RemovePodSandbox", fs(1, p))
    print("# pods removed", flush=True)
