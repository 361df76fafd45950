#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""cri-podns.py -- what a pod's namespace and seccomp options mean, through
containerd's CRI plugin (runtime.v1, tests/e2e/cri_client.py), for one
runtime handler.  test-cri-podns.sh runs it for kata and for runc and
compares.  Prints one "check NAME VALUE" line per fact.

usage: cri-podns.py SOCKET HANDLER IMAGE HELPER WORKDIR
  HELPER   the static kc-test-init (bound read-only at /kc/kc-test-init)
  WORKDIR  logs, seccomp profiles and a shared mount (WORKDIR/bidir) the
           caller made

Pods (on the CNI network, each with its hostname):
  share  pid namespace POD: c1 makes a SysV shm segment and sleeps; c2
         (exec'd into, as kubectl exec) tells its hostname, the processes
         it sees and the segments.  Then: a Bidirectional mount, seccomp
         profiles (localhost blocking sethostname, its control, which
         renames the pod as c1 sees, runtime/default, one that is not JSON,
         one with an unknown action).
  own    pid namespace CONTAINER: the same, c2 must not see c1.
  hostpid, hostipc  NamespaceMode NODE for pid, ipc.
  hostnet  network NODE: the interfaces and hostname a container sees.
"""
import os, socket, sys, time
import grpc
from cri_client import connect, decode, fm, fs, fv

sock, handler, image, helper, work = sys.argv[1:6]
call = connect(sock, 120)
POD, CONTAINER, NODE = 0, 1, 2
BIDIRECTIONAL = 2
LOCALHOST = 2
CAP_ADD = fm(1, fs(1, "SYS_ADMIN"))  # Capability.add_capabilities
logdir = os.path.join(work, "pods-" + handler)
os.makedirs(logdir, exist_ok=True)
pods = []


def check(name, value):
    print("check %s %s" % (name, value), flush=True)


def err_text(e):
    return " ".join(e.details().split())


def nsopts(net=POD, pid=POD, ipc=POD):
    # NamespaceOption: network 1, pid 2, ipc 3
    return fv(1, net) + fv(2, pid) + fv(3, ipc)


def sandbox_cfg(name, hostname, ns):
    return (fm(1, fs(1, name + "-" + handler) + fs(2, "uid-" + name + "-" + handler)
               + fs(3, "default"))
            + fs(2, hostname) + fs(3, logdir)
            + fm(8, fm(2, fm(1, ns))))  # linux.security_context.namespace_options


def run_pod(name, hostname, ns):
    cfg = sandbox_cfg(name, hostname, ns)
    pod = call("RunPodSandbox", fm(1, cfg) + fs(2, handler))[1][0].decode()
    pods.append(pod)
    return pod, cfg


def mount(cpath, hpath, ro=False, prop=0):
    return fm(7, fs(1, cpath) + fs(2, hpath) + fv(3, ro) + fv(5, prop))


HELPER = mount("/kc/kc-test-init", helper, ro=True)


def container(pod, pcfg, name, cmd, ns, mounts=HELPER, sec=b""):
    cfg = (fm(1, fs(1, name)) + fm(2, fs(1, image)) + b"".join(fs(3, a) for a in cmd)
           + mounts + fs(11, name + ".log")
           + fm(15, fm(2, fm(3, ns) + sec)))  # linux.security_context
    cid = call("CreateContainer", fs(1, pod) + fm(2, cfg) + fm(3, pcfg))[1][0].decode()
    call("StartContainer", fs(1, cid))
    return cid


def execsync(cid, script, timeout=60):
    r = call("ExecSync", fs(1, cid) + fs(2, "/bin/sh") + fs(2, "-c") + fs(2, script)
             + fv(3, timeout))
    return (r.get(1, [b""])[0].decode(), r.get(2, [b""])[0].decode(), r.get(3, [0])[0])


def wait_for(cid, script, want, secs=60):
    out = ""
    for _ in range(secs * 2):
        out = execsync(cid, script)[0].strip()
        if out == want:
            break
        time.sleep(0.5)
    return out


SEE = ("hostname; cat /proc/[0-9]*/cmdline | tr '\\0' ' '; echo; "
       "grep -cw %d /proc/sysvipc/shm")


def pod_namespaces(name, pidmode, key, sleeper):
    """c1 makes a shm segment of key and runs `sleep sleeper`; what c2 sees."""
    ns = nsopts(pid=pidmode)
    pod, pcfg = run_pod(name, "kc-" + name, ns)
    c1 = container(pod, pcfg, "c1", ["/bin/sh", "-c", "/kc/kc-test-init shm %d && exec sleep %d"
                                     % (key, sleeper)], ns)
    wait_for(c1, "grep -cw %d /proc/sysvipc/shm" % key, "1")
    c2 = container(pod, pcfg, "c2", ["sleep", str(sleeper + 1)], ns)
    out = execsync(c2, SEE % key)[0].split("\n")
    check(name + "_c1_hostname", execsync(c1, "hostname")[0].strip())
    check(name + "_c2_hostname", out[0])
    check(name + "_c2_sees_c1", "yes" if "sleep %d" % sleeper in out[1] else "no")
    check(name + "_c2_sees_pause", "yes" if "sleep inf" in out[1] else "no")
    check(name + "_c2_sees_shm", out[2] if len(out) > 2 else "?")
    return pod, pcfg, c1, ns


def refused(what, fn):
    try:
        fn()
        check(what, "ran")
    except grpc.RpcError as e:
        check(what, "refused")
        print("# %s: %s" % (what, err_text(e)))
        check(what + "_msg", err_text(e)[-300:])


def profile(name, text):
    path = os.path.join(work, "seccomp-" + name + ".json")
    with open(path, "w") as f:
        f.write(text)
    return fm(15, fv(1, LOCALHOST) + fs(2, path))  # LinuxContainerSecurityContext.seccomp


try:
    pod, pcfg, c1, ns = pod_namespaces("share", POD, 19267, 301)
    # A container that leaves a process behind in the shared pid
    # namespace: it goes with the container's init (runc kill --all).
    c3 = container(pod, pcfg, "c3", ["/bin/sh", "-c", "sleep 351 & sleep 1"], ns)
    for _ in range(120):
        if decode(call("ContainerStatus", fs(1, c3))[1][0]).get(3, [0])[0] == 2:
            break
        time.sleep(0.25)
    left = wait_for(c1, "cat /proc/[0-9]*/cmdline | tr '\\0' ' ' | grep -c 'sleep 35[1]'", "0", 10)
    check("share_leftover", "gone" if left == "0" else "left")
    pod_namespaces("own", CONTAINER, 19268, 311)

    # Host namespaces.
    refused("hostpid", lambda: run_pod("hostpid", "", nsopts(pid=NODE)))
    refused("hostipc", lambda: run_pod("hostipc", "", nsopts(ipc=NODE)))
    hns = nsopts(net=NODE)
    hpod, hcfg = run_pod("hostnet", "", hns)
    hc = container(hpod, hcfg, "c1", ["sleep", "321"], hns)
    ifs = execsync(hc, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' '")[0]
    check("hostnet_ifaces", "lo-only" if ifs.split() == ["lo"] else "more")
    print("# hostnet interfaces: %s" % ifs)
    hn = execsync(hc, "hostname")[0].strip()
    check("hostnet_hostname_is_node", "yes" if hn == socket.gethostname() else "no")
    print("# hostnet hostname: %s (node: %s)" % (hn, socket.gethostname()))
    refused("bidirectional", lambda: container(
        pod, pcfg, "bidir", ["sleep", "331"], ns,
        HELPER + mount("/bidir", os.path.join(work, "bidir"), prop=BIDIRECTIONAL)))

    # Seccomp.  The containers have CAP_SYS_ADMIN: without a filter,
    # sethostname is allowed (the control sets the pod's own name again).
    block = profile("block", '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":'
                    '[{"names":["sethostname"],"action":"SCMP_ACT_ERRNO"}]}')
    sc = container(pod, pcfg, "sc-block", ["sleep", "341"], ns, sec=CAP_ADD + block)
    o, e, rc = execsync(sc, "hostname kc-blocked")
    check("seccomp_localhost", "EPERM" if rc != 0 and "not permitted" in e else "rc=%d:%s" % (rc, e.strip()))
    check("seccomp_hostname_after", execsync(c1, "hostname")[0].strip())
    # Unfiltered, the rename goes through, and c1 sees it: the pod's uts
    # namespace is one (a fresh one would only copy the guest's name).
    sc2 = container(pod, pcfg, "sc-ctl", ["sleep", "342"], ns, sec=CAP_ADD)
    o, e, rc = execsync(sc2, "hostname kc-renamed")
    check("seccomp_control", "ok" if rc == 0 else "rc=%d:%s" % (rc, e.strip()))
    check("uts_rename_seen", execsync(c1, "hostname")[0].strip())
    sc3 = container(pod, pcfg, "sc-default", ["sleep", "343"], ns, sec=fm(15, b""))
    check("seccomp_default_mode",
          execsync(sc3, "sed -n 's/^Seccomp:[[:space:]]*//p' /proc/self/status")[0].strip())
    refused("seccomp_notjson", lambda: container(
        pod, pcfg, "sc-notjson", ["sleep", "344"], ns, sec=profile("notjson", '{"defaultAction":')))
    refused("seccomp_badaction", lambda: container(
        pod, pcfg, "sc-badaction", ["sleep", "345"], ns,
        sec=profile("badaction", '{"defaultAction":"SCMP_ACT_BOGUS"}')))
finally:
    for p in pods:
        try:
            call("StopPodSandbox", fs(1, p))
            call("RemovePodSandbox", fs(1, p))
        except grpc.RpcError as e:
            print("# removing pod %s: %s" % (p, err_text(e)))
print("done")
