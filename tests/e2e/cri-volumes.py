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
and the size of /dev/shm; c3 has a memory emptyDir on /dev/shm; c6 mounts
the memory emptyDir's sub/dir by a subPath (kubelet's bind at
pods/<uid>/volume-subpaths/mem/c6/0) and trades a file each way with c1,
which has all of it; c4 asks for the absurd one.

Then a ConfigMap and a Secret volume laid out as kubelet's atomic writer
does (pods/<uid>/volumes/kubernetes.io~configmap/cfg, ~secret/sec): c5
reads key1 and key2 of /cfg in a loop and says when they differ (MIX), when
key1 is empty (MISSING) and each new value; this script swaps `..data` as
kubelet does, several times, and times how long each version takes to show
in c5's log; an inotify watcher in c5 (KC_INOTIFY_WATCH, bound in) reports
each `..data` moved in.  Under kata, `..data` pointing out of the volume,
or to a name not of kubelet's form, must not reach the container.
Prints `fact NAME VALUE` lines for the test script."""
import os, random, shutil, statistics, subprocess, sys, time
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

def mount(dest, name, ro=False, kind="kubernetes.io~empty-dir"):
    src = name if name.startswith("/") else os.path.join(kroot, "pods", uid, "volumes", kind, name)
    return fm(7, fs(1, dest) + fs(2, src) + fv(3, 1 if ro else 0))

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

# A subPath of the memory emptyDir, as kubelet does it: the sub directory
# made in the volume (its mode) and bound at volume-subpaths/VOL/CTR/INDEX,
# which is the source CRI gets.  c6 mounts mem's sub/dir on /sub; c1 has
# all of mem on /mem: each sees what the other writes.
subdir = os.path.join(vols, "mem", "sub", "dir")
os.makedirs(subdir, exist_ok=True)
for d in (os.path.dirname(subdir), subdir):
    os.chmod(d, 0o777)
spbind = os.path.join(kroot, "pods", uid, "volume-subpaths", "mem", "c6", "0")
os.makedirs(spbind, exist_ok=True)
subprocess.run(["mount", "--bind", subdir, spbind], check=True)
c6 = container("c6", """
echo "fact sub_fs $(awk '$2 == "/sub" {print $3}' /proc/mounts)"
echo from-sub > /sub/f
i=0; while [ $i -lt 300 ] && [ ! -s /sub/g ]; do sleep 0.1; i=$((i + 1)); done
echo "fact sub_sees $(cat /sub/g)"
""", [mount("/sub", spbind)])
seen = ""
for _ in range(100):
    r = call("ExecSync", fs(1, c1) + fs(2, "cat") + fs(2, "/mem/sub/dir/f") + fv(3, 10))
    if r.get(3, [0])[0] == 0:
        seen = r.get(1, [b""])[0].decode().strip()
        break
    time.sleep(0.2)
print("fact whole_sees", seen or "nothing")
call("ExecSync", fs(1, c1) + fs(2, "sh") + fs(2, "-c") + fs(2, "echo from-whole > /mem/sub/dir/g")
     + fv(3, 10))
print("c6 exit:", wait_exit(c6))
facts("c6")
call("RemoveContainer", fs(1, c6))
if os.environ.get("KC_CRI_ABSURD") == "1":
    try:
        container("c4", "true", [mount("/huge", "huge")])
        print("fact absurd created")
    except grpc.RpcError as e:
        print("fact absurd refused")
        print("absurd error:", e.details())

def kubelet_write(vol, files):
    """kubelet's atomic writer: a new ..<timestamp>, ..data_tmp renamed over
    ..data, the symlinks of new keys, those of keys gone and the previous
    version removed.  Returns the version's name."""
    os.makedirs(vol, exist_ok=True)
    name = "..%s.%d" % (time.strftime("%Y_%m_%d_%H_%M_%S", time.gmtime()),
                        random.randint(1, 10**9))
    os.mkdir(os.path.join(vol, name))
    for k, v in files.items():
        with open(os.path.join(vol, name, k), "w") as f:
            f.write(v)
    data = os.path.join(vol, "..data")
    old = os.readlink(data) if os.path.islink(data) else None
    os.symlink(name, os.path.join(vol, "..data_tmp"))
    os.rename(os.path.join(vol, "..data_tmp"), data)
    for k in files:
        if not os.path.lexists(os.path.join(vol, k)):
            os.symlink("..data/" + k, os.path.join(vol, k))
    if old:
        shutil.rmtree(os.path.join(vol, old), ignore_errors=True)
    return name

def swap_raw(vol, target):
    os.symlink(target, os.path.join(vol, "..data_tmp"))
    os.rename(os.path.join(vol, "..data_tmp"), os.path.join(vol, "..data"))

def raw_log(name):
    try:
        return [l.split(" ", 3)[3] for l in open(os.path.join(logdir, name + ".log")).read().splitlines()]
    except FileNotFoundError:
        return []

def wait_line(name, line, secs):
    """Seconds until `line` is in name's log, or None."""
    t0 = time.time()
    while time.time() - t0 < secs:
        if line in raw_log(name):
            return time.time() - t0
        time.sleep(0.01)
    return None

vroot = os.path.join(kroot, "pods", uid, "volumes")
cm = os.path.join(vroot, "kubernetes.io~configmap", "cfg")
sec = os.path.join(vroot, "kubernetes.io~secret", "sec")
kubelet_write(cm, {"key1": "v1\n", "key2": "v1\n"})
kubelet_write(sec, {"token": "s1"})
watcher = os.environ.get("KC_INOTIFY_WATCH")
c5_mounts = [mount("/cfg", "cfg", ro=True, kind="kubernetes.io~configmap"),
             mount("/sec", "sec", ro=True, kind="kubernetes.io~secret")]
if watcher:
    c5_mounts.append(mount("/bin/inotify-watch", watcher, ro=True))
c5 = container("c5", """
echo "fact cfg_fs $(awk '$2 == "/cfg" {print $3}' /proc/mounts)"
[ -x /bin/inotify-watch ] && /bin/inotify-watch /cfg &
last= lasts=
while :; do
  a=$(cat /cfg/key1); b=$(cat /cfg/key2)
  [ "$a" = "$b" ] || echo "TWO-READS $a $b"
  [ -n "$a" ] || echo MISSING
  d=$(readlink /cfg/..data)
  set -- $(cat /cfg/$d/key1 /cfg/$d/key2 2> /dev/null)
  if [ $# = 2 ]; then
    [ "$1" = "$2" ] || echo "MIX $1 $2"
    [ "$1" = "$last" ] || { echo "val $1"; last=$1; }
  elif [ "$(readlink /cfg/..data)" = "$d" ]; then
    echo "MISSING from $d"
  fi
  s=$(cat /sec/token)
  [ "$s" = "$lasts" ] || { echo "sec $s"; lasts=$s; }
  sleep 0.02
done""", c5_mounts)
print("fact c5_v1", "yes" if wait_line("c5", "val v1", 120) is not None else "no")
if watcher:
    wait_line("c5", "watching /cfg", 30)
delays = []
for i in range(2, 8):
    time.sleep(0.5)
    kubelet_write(cm, {"key1": "v%d\n" % i, "key2": "v%d\n" % i})
    d = wait_line("c5", "val v%d" % i, 10)
    delays.append(round(d * 1000) if d is not None else 99999)
print("fact swap_ms", ",".join(str(d) for d in delays))
print("fact swap_max_ms", max(delays))
print("fact swap_median_ms", round(statistics.median(delays)))
kubelet_write(sec, {"token": "s2"})
d = wait_line("c5", "sec s2", 10)
print("fact sec_ms", round(d * 1000) if d is not None else 99999)
if handler == "kata":
    # ..data pointing out of the volume, then to a name not of kubelet's
    # form: the guest keeps v7, then takes v8 from kubelet again.
    out = os.path.join(os.path.dirname(cm), "..2026_01_01_00_00_00.1")
    bogus = os.path.join(cm, "notkubelet")
    for d in (out, bogus):
        os.makedirs(d)
        for k in ("key1", "key2"):
            with open(os.path.join(d, k), "w") as f:
                f.write("evil")
    swap_raw(cm, "../..2026_01_01_00_00_00.1")
    time.sleep(2)
    swap_raw(cm, "notkubelet")
    time.sleep(2)
    print("fact bad_seen", "yes" if "val evil" in raw_log("c5") else "no")
    kubelet_write(cm, {"key1": "v8\n", "key2": "v8\n"})
    d = wait_line("c5", "val v8", 10)
    print("fact after_bad_ms", round(d * 1000) if d is not None else 99999)
    shutil.rmtree(out)
time.sleep(0.5)
c5_log = raw_log("c5")
print("fact mix", sum(1 for l in c5_log if l.startswith("MIX")))
print("fact missing", sum(1 for l in c5_log if l.startswith("MISSING")))
# The loop's second reader opens key1 and key2 in two processes: a swap
# between the two opens gives (old key1, new key2), on a node too; a newer
# key1 with an older key2 would be a torn volume.
def ver(x):
    return int(x[1:]) if x[:1] == "v" and x[1:].isdigit() else None
two = [l.split()[1:] for l in c5_log if l.startswith("TWO-READS")]
fwd = [p for p in two if len(p) == 2 and None not in map(ver, p) and ver(p[0]) < ver(p[1])]
print("fact straddles", len(fwd))
print("fact torn", len(two) - len(fwd))
print("fact data_moves", sum(1 for l in c5_log if l == "moved ..data"))
facts("c5")
call("StopContainer", fs(1, c5) + fv(2, 2))
wait_exit(c5)
call("RemoveContainer", fs(1, c5))
call("StopContainer", fs(1, c1) + fv(2, 2))
wait_exit(c1)
facts("c1")
call("StopPodSandbox", fs(1, pod))
call("RemovePodSandbox", fs(1, pod))
print("CRI volumes flow OK with runtime handler", handler)
