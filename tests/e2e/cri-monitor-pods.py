#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""cri-monitor-pods.py SOCKET HANDLER IMAGE N NAME NAMESPACE -- N pods
through containerd's CRI plugin (runtime.v1, cri_client.py), each with one
container that sleeps, for kata-monitor's test and bench: pod metadata
name NAME-<i>, namespace NAMESPACE, uid uid-NAME-<i>.  Prints
"pod NAME-<i> <pod id> memtotal_kib=<the container's MemTotal>" for each,
then "ready"; on a line "stop" on stdin (or EOF) stops and removes them
all, then prints "stopped".  Host network (no CNI)."""
import sys
from cri_client import connect, decode, fm, fs, fv

sock, handler, image, n, name, ns = sys.argv[1:7]
call = connect(sock, 300)
pods = []
try:
    for i in range(int(n)):
        pname = "%s-%d" % (name, i)
        cfg = (fm(1, fs(1, pname) + fs(2, "uid-" + pname) + fs(3, ns) + fv(4, 0))
               + fm(8, fm(2, fm(1, fv(1, 2)))))  # network=NODE
        pod = call("RunPodSandbox", fm(1, cfg) + fs(2, handler))[1][0].decode()
        pods.append(pod)
        ccfg = (fm(1, fs(1, "sleeper")) + fm(2, fs(1, image))
                + fs(3, "/bin/sleep") + fs(3, "3600"))
        cid = call("CreateContainer", fs(1, pod) + fm(2, ccfg) + fm(3, cfg))[1][0].decode()
        call("StartContainer", fs(1, cid))
        r = call("ExecSync", fs(1, cid) + fs(2, "/bin/sh") + fs(2, "-c")
                 + fs(2, "sed -n 's/^MemTotal: *\\([0-9]*\\) kB/\\1/p' /proc/meminfo") + fv(3, 30))
        mem = r.get(1, [b""])[0].decode().strip()
        print("pod %s %s memtotal_kib=%s" % (pname, pod, mem), flush=True)
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "stop":
            break
finally:
    for pod in pods:
        try:
            call("StopPodSandbox", fs(1, pod))
            call("RemovePodSandbox", fs(1, pod))
        except Exception as e:  # the rest are still removed
            print("remove %s: %s" % (pod, e), file=sys.stderr)
    print("stopped", flush=True)
