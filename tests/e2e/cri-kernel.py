#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""cri-kernel.py SOCKET HANDLER IMAGE XTDIR -- what the guest kernel offers a
privileged container, through containerd's CRI plugin as the kubelet drives
it: a privileged pod (host network) whose privileged container adds a
bridge (ip and brctl), a veth pair, a tun device and an iptables (nf_tables)
rule.  Each step prints NAME-ok or NAME-failed with its error.  XTDIR (a
host directory with xtables-nft-multi, its libraries, its loader and
xtables/libxt_standard.so) is mounted read-only at /opt/xt: the busybox
image has no iptables.  Exit 0 when the container ran to its end."""
import os, sys, time
from cri_client import connect, decode, fm, fs, fv

sock, handler, image, xtdir = sys.argv[1:5]
call = connect(sock, 120, verbose=True)
logdir = os.environ.get("KC_CRI_LOGDIR", "/tmp") + "/kernel-" + handler
os.makedirs(logdir, exist_ok=True)
NODE = 2
# linux (8): security_context (2): namespace_options (1) network=NODE, privileged (6)
sandbox_cfg = (fm(1, fs(1, "kernel-" + handler) + fs(2, "uid-kernel-" + handler) + fs(3, "default") + fv(4, 0))
               + fs(3, logdir) + fm(8, fm(2, fm(1, fv(1, NODE)) + fv(6, 1))))
pod = call("RunPodSandbox", fm(1, sandbox_cfg) + fs(2, handler))[1][0].decode()
XT = ("XTABLES_LIBDIR=/opt/xt/xtables /opt/xt/ld-linux-x86-64.so.2 --library-path /opt/xt "
      "/opt/xt/xtables-nft-multi iptables")
script = """
step() { n=$1; shift; if out=$("$@" 2>&1); then echo "$n-ok"; else echo "$n-failed: $out"; fi; }
step bridge ip link add br0 type bridge
step brctl brctl addbr br1
step veth ip link add v0 type veth
mkdir -p /dev/net; [ -c /dev/net/tun ] || mknod /dev/net/tun c 10 200
step tun tunctl -t tun0
step iptables sh -c '%s -A INPUT -s 10.9.9.9 -j ACCEPT && %s -S INPUT | grep -q 10.9.9.9'
step links sh -c 'ip -o link | grep -q "br0:" && ip -o link | grep -q "v0@" && ip -o link | grep -q "tun0:"'
""" % (XT, XT)
# linux (15): security_context (2): privileged (2); mounts (7): /opt/xt read-only
ccfg = (fm(1, fs(1, "priv")) + fm(2, fs(1, image))
        + fs(3, "/bin/sh") + fs(3, "-c") + fs(3, script)
        + fm(7, fs(1, "/opt/xt") + fs(2, xtdir) + fv(3, 1))
        + fs(11, "priv.log") + fm(15, fm(2, fv(2, 1))))
cid = call("CreateContainer", fs(1, pod) + fm(2, ccfg) + fm(3, sandbox_cfg))[1][0].decode()
call("StartContainer", fs(1, cid))
for _ in range(600):
    st = decode(call("ContainerStatus", fs(1, cid))[1][0])
    if st.get(3, [0])[0] == 2: break
    time.sleep(0.2)
print("   state (2=EXITED):", st.get(3, [0])[0], "exit_code:", st.get(7, [0])[0])
time.sleep(0.5)
print(open(os.path.join(logdir, "priv.log")).read())
call("RemoveContainer", fs(1, cid))
call("StopPodSandbox", fs(1, pod))
call("RemovePodSandbox", fs(1, pod))
print("CRI kernel flow OK with runtime handler", handler)
