#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# (from the project's shared tools; here: logs under $KC_CRI_LOGDIR, the
# pod id printed, ExecSync only when KC_CRI_EXEC=1, a second container,
# the cgroup view and UpdateContainerResources when KC_CRI_CGROUP=1)
"""cri-mini.py -- drive containerd's CRI plugin (runtime.v1) without crictl.
crictl/cri-tools is not packaged in Debian 12; this uses python3-grpcio with
hand-encoded protobuf (field numbers from k8s.io/cri-api runtime/v1 api.proto).

usage: cri-mini.py SOCKET RUNTIME_HANDLER IMAGE
  e.g. cri-mini.py /tmp/kata-harness/cri/run/containerd.sock runc docker.io/library/bbtest:latest
Runs: Version, RunPodSandbox (host network), CreateContainer, StartContainer,
ContainerStatus, ExecSync, StopContainer, ContainerStatus, RemoveContainer,
StopPodSandbox, RemovePodSandbox.  Exit 0 on success.
"""
import os, sys, time
from cri_client import connect, decode, fm, fs, fv

sock, handler, image = sys.argv[1], sys.argv[2], sys.argv[3]
call = connect(sock, 60, verbose=True)

call("Version", fs(1, "v1"))
logdir = os.environ.get("KC_CRI_LOGDIR", "/tmp/kata-harness/cri/logs") + "/pod-" + handler; os.makedirs(logdir, exist_ok=True)
NODE = 2                                            # NamespaceMode NODE: host network -> no CNI needed
sandbox_cfg = (fm(1, fs(1, "pod-" + handler) + fs(2, "uid-" + handler) + fs(3, "default") + fv(4, 0))  # metadata
               + fs(3, logdir)          # no hostname: host network => host UTS ns, runc refuses sethostname
               + fm(8, fm(2, fm(1, fv(1, NODE)))))       # linux.security_context.namespace_options.network=NODE
pod = call("RunPodSandbox", fm(1, sandbox_cfg) + fs(2, handler))[1][0].decode()
ccfg = (fm(1, fs(1, "c1")) + fm(2, fs(1, image))
        + fs(3, "/bin/sh") + fs(3, "-c") + fs(3, "echo hello-from-cri-container; exec sleep 300")
        + fs(11, "c1.log"))
cid = call("CreateContainer", fs(1, pod) + fm(2, ccfg) + fm(3, sandbox_cfg))[1][0].decode()
call("StartContainer", fs(1, cid))
st = decode(call("ContainerStatus", fs(1, cid))[1][0]); print("   state (1=RUNNING):", st.get(3, [0])[0])
if os.path.exists("/run/vc/sbs/%s/state.json" % pod):
  # The pod's CRI metadata in the sandbox state, for kata-monitor.
  import json
  cri = json.load(open("/run/vc/sbs/%s/state.json" % pod))["cri"]
  print("   state cri: %s %s %s" % (cri["name"], cri["namespace"], cri["uid"]) if cri else "   state cri: null")
if os.environ.get("KC_CRI_EXEC") == "1":
  r = call("ExecSync", fs(1, cid) + fs(2, "/bin/sh") + fs(2, "-c") + fs(2, "echo execsync-out; exit 3") + fv(3, 10))
  print("   ExecSync stdout=%r exit_code=%s" % (r.get(1, [b""])[0], r.get(3, [0])[0]))
if os.environ.get("KC_CRI_CGROUP") == "1":
  # The container's own cgroup at /sys/fs/cgroup, before and after
  # UpdateContainerResources (linux: cpu_period 1, cpu_quota 2, memory 4).
  show = "grep ' /sys/fs/cgroup ' /proc/self/mountinfo; cat /proc/self/cgroup; echo mem=$(cat /sys/fs/cgroup/memory.max) cpu=$(cat /sys/fs/cgroup/cpu.max)"
  r = call("ExecSync", fs(1, cid) + fs(2, "/bin/sh") + fs(2, "-c") + fs(2, show) + fv(3, 30))
  print("   cgroup before: %r" % r.get(1, [b""])[0].decode())
  call("UpdateContainerResources", fs(1, cid) + fm(2, fv(1, 100000) + fv(2, 50000) + fv(4, 64 << 20)))
  r = call("ExecSync", fs(1, cid) + fs(2, "/bin/sh") + fs(2, "-c") + fs(2, show) + fv(3, 30))
  print("   cgroup after: %r" % r.get(1, [b""])[0].decode())
  # ContainerStats (stats 1: cpu 2 {usage_core_nano_seconds 2 {value 1}},
  # memory 3 {working_set_bytes 2 {value 1}}): the shim's Task.Stats.
  st = decode(call("ContainerStats", fs(1, cid))[1][0])
  cpu = decode(decode(st.get(2, [b""])[0]).get(2, [b""])[0]).get(1, [0])[0]
  ws = decode(decode(st.get(3, [b""])[0]).get(2, [b""])[0]).get(1, [0])[0]
  print("   stats: cpu_ns=%d working_set=%d" % (cpu, ws))
c2cfg = (fm(1, fs(1, "c2")) + fm(2, fs(1, image))
         + fs(3, "/bin/sh") + fs(3, "-c") + fs(3, "echo hello-from-c2; exit 6") + fs(11, "c2.log"))
cid2 = call("CreateContainer", fs(1, pod) + fm(2, c2cfg) + fm(3, sandbox_cfg))[1][0].decode()
call("StartContainer", fs(1, cid2))
for _ in range(300):
    st2 = decode(call("ContainerStatus", fs(1, cid2))[1][0])
    if st2.get(3, [0])[0] == 2: break
    time.sleep(0.1)
print("   c2 state (2=EXITED):", st2.get(3, [0])[0], "exit_code:", st2.get(7, [0])[0])
call("RemoveContainer", fs(1, cid2))
call("StopContainer", fs(1, cid) + fv(2, 2))
for _ in range(300):
    st = decode(call("ContainerStatus", fs(1, cid))[1][0])
    if st.get(3, [0])[0] == 2: break
    time.sleep(0.1)
print("   state (2=EXITED):", st.get(3, [0])[0], "exit_code:", st.get(7, [0])[0])
time.sleep(0.5)
print("   container log:", open(os.path.join(logdir, "c1.log")).read().strip())
call("RemoveContainer", fs(1, cid))

def wait_exited(c, tries=600):
    for _ in range(tries):
        st = decode(call("ContainerStatus", fs(1, c))[1][0])
        if st.get(3, [0])[0] == 2: return st.get(7, [0])[0]
        time.sleep(0.1)
    return None

# StopContainer a few ms after StartContainer, as the CRI validation suite
# does, with a 30 s grace period: an init without a SIGTERM handler (PID 1
# of its namespace, which the kernel would spare) is not left to the
# timeout.  Then an init that handles SIGTERM exits as it chooses.
# c3 has a pid namespace of its own, as kubelet asks by default (linux 15,
# security_context 2, namespace_options 3, pid 2 = CONTAINER): its init is
# that namespace's PID 1.
OWN_PIDNS = fm(15, fm(2, fm(3, fv(2, 1))))
for name, args, wait_log, extra in (("c3", "exec sleep 301", None, OWN_PIDNS),
                                    ("c4", "trap 'echo got-term; exit 7' TERM; echo ready; while true; do sleep 0.1; done", "ready", b"")):
    cfg = (fm(1, fs(1, name)) + fm(2, fs(1, image)) + fs(3, "/bin/sh") + fs(3, "-c") + fs(3, args)
           + fs(11, name + ".log") + extra)
    c = call("CreateContainer", fs(1, pod) + fm(2, cfg) + fm(3, sandbox_cfg))[1][0].decode()
    call("StartContainer", fs(1, c))
    for _ in range(300 if wait_log else 0):
        if wait_log in open(os.path.join(logdir, name + ".log")).read(): break
        time.sleep(0.1)
    t0 = time.time()
    call("StopContainer", fs(1, c) + fv(2, 30))
    code = wait_exited(c)
    print("   %s stop: %.1f s exit_code: %s" % (name, time.time() - t0, code))
    time.sleep(0.3)
    print("   %s log:" % name, open(os.path.join(logdir, name + ".log")).read().strip().replace("\n", " "))
    call("RemoveContainer", fs(1, c))
call("StopPodSandbox", fs(1, pod))
call("RemovePodSandbox", fs(1, pod))
print("   c2 log:", open(os.path.join(logdir, "c2.log")).read().strip())
print("CRI flow OK with runtime handler", handler)
