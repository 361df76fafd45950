#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""cri-volumes.py SOCKET HANDLER IMAGE KUBELET_ROOT -- Kubernetes' emptyDir
volumes and the pod's /dev/shm through containerd's CRI plugin, with the
host directories laid out as kubelet lays them out under KUBELET_ROOT:

  pods/<uid>/volumes/kubernetes.io~empty-dir/mem    a tmpfs, size=64Mi (medium: Memory, sizeLimit 64Mi)
  pods/<uid>/volumes/kubernetes.io~empty-dir/shm    a tmpfs, size=128Mi, mounted on /dev/shm by c3
  pods/<uid>/volumes/kubernetes.io~empty-dir/disk   a directory (the node's disk)
  pods/<uid>/volumes/kubernetes.io~empty-dir/huge   a tmpfs, size=1Pi (an absurd sizeLimit)

(the test script mounts them).  One pod (host network): c1 writes into
both emptyDirs and tries 65 MiB into the 64 MiB one; c2 reads c1's files
and the size of /dev/shm; c3 has a memory emptyDir on /dev/shm; c4 asks
for the absurd one.  Prints `fact NAME VALUE` lines for the test script."""
import os, sys, time
import grpc
from cri_client import connect, decode, fm, fs, fv

sock, handler, image, kroot = sys.argv[1:5]
call = connect(sock, 120, verbose=True)
uid = "uid-vol-" + handler
vols = os.path.join(kroot, "pods", uid, "volumes", "kubernetes.io~empty-dir")
logdir = os.environ.get("KC_CRI_LOGDIR", "/tmp") + "/volumes-" + handler
os.makedirs(logdir, exist_ok=True)
NODE = 2
sandbox_cfg = (fm(1, fs(1, "volumes-" + handler) + fs(2, uid) + fs(3, "default") + fv(4, 0))
               + fs(3, logdir) + fm(8, fm(2, fm(1, fv(1, NODE)))))
pod = call("RunPodSandbox", fm(1, sandbox_cfg) + fs(2, handler))[1][0].decode()

def mount(dest, name, ro=False):
    return fm(7, fs(1, dest) + fs(2, os.path.join(vols, name)) + fv(3, 1 if ro else 0))

def container(name, script, mounts):
    cfg = (fm(1, fs(1, name)) + fm(2, fs(1, image)) + fs(3, "/bin/sh") + fs(3, "-c") + fs(3, script)
           + b"".join(mounts) + fs(11, name + ".log"))
    cid = call("CreateContainer", fs(1, pod) + fm(2, cfg) + fm(3, sandbox_cfg))[1][0].decode()
    call("StartContainer", fs(1, cid))
    return cid

def wait_exit(cid):
    for _ in range(600):
        st = decode(call("ContainerStatus", fs(1, cid))[1][0])
        if st.get(3, [0])[0] == 2:
            return st.get(7, [0])[0]
        time.sleep(0.2)
    return None

def log(name):
    time.sleep(0.3)
    return [l.split(" ", 3)[3] for l in open(os.path.join(logdir, name + ".log")).read().splitlines()]

def facts(name):
    for l in log(name):
        if l.startswith("fact "):
            print(l)

c1 = container("c1", """
echo "fact mem_fs $(awk '$2 == "/mem" {print $3}' /proc/mounts)"
echo "fact mem_kib $(df -k /mem | awk 'NR == 2 {print $2}')"
echo hello-mem > /mem/hello && echo hello-disk > /disk/hello
if out=$(dd if=/dev/zero of=/mem/big bs=1048576 count=65 2>&1); then echo "fact big_write ok"
else echo "fact big_write $(echo "$out" | grep -o 'No space left on device' | head -1 | tr ' ' _)"; fi
echo "fact big_kib $(du -k /mem/big | cut -f1)"
rm -f /mem/big
touch /tmp/c1-done
exec sleep 300""", [mount("/mem", "mem"), mount("/disk", "disk")])
for _ in range(300):
    r = call("ExecSync", fs(1, c1) + fs(2, "test") + fs(2, "-e") + fs(2, "/tmp/c1-done") + fv(3, 10))
    if r.get(3, [0])[0] == 0:
        break
    time.sleep(0.2)
c2 = container("c2", """
echo "fact c2_mem $(cat /mem/hello)"
echo "fact c2_disk $(cat /disk/hello)"
echo "fact shm_kib $(df -k /dev/shm | awk 'NR == 2 {print $2}')"
echo "fact shm_fs $(awk '$2 == "/dev/shm" {print $3}' /proc/mounts)"
""", [mount("/mem", "mem", ro=True), mount("/disk", "disk")])
print("c2 exit:", wait_exit(c2))
c3 = container("c3", """
echo "fact shm_dir_kib $(df -k /dev/shm | awk 'NR == 2 {print $2}')"
""", [mount("/dev/shm", "shm")])
print("c3 exit:", wait_exit(c3))
facts("c2")
facts("c3")
if os.environ.get("KC_CRI_ABSURD") == "1":
    try:
        container("c4", "true", [mount("/huge", "huge")])
        print("fact absurd created")
    except grpc.RpcError as e:
        print("fact absurd refused")
        print("absurd error:", e.details())
call("StopContainer", fs(1, c1) + fv(2, 2))
wait_exit(c1)
facts("c1")
call("StopPodSandbox", fs(1, pod))
call("RemovePodSandbox", fs(1, pod))
print("CRI volumes flow OK with runtime handler", handler)
