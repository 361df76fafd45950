#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""cri-portfwd.py -- port forwarding to a pod through containerd's CRI
plugin (runtime.v1, tests/e2e/cri_client.py), for one runtime handler.
test-cri-portfwd.sh runs it for kata and for runc and compares.  Prints
one "check NAME VALUE" line per fact.

usage: cri-portfwd.py SOCKET HANDLER IMAGE WORKDIR CONTAINERD_NETNS
  CONTAINERD_NETNS  the namespace containerd (its streaming server) runs in

The pod's container serves an echo on 8080 (busybox `nc -ll -e cat`, one
process per connection).  Then:
  dial    what containerd's PortForward does without its streaming server:
          in the pod's network namespace (nsenter --net), dial
          localhost:8080: an echo (also to [::1]), 4 MiB both ways at once intact
          (also with a client that reads nothing for 3 s), a second
          connection at the same time, a port nothing listens on (8081)
          refused or closed quickly.  For kata: the shim's fds before and
          after 20 such connections (and 20 reset by the client at once).
  ws      the real thing: CRI PortForward gives the streaming URL, and
          Kubernetes' port-forward protocol over WebSocket
          (v4.channel.k8s.io: a frame's first byte is its channel, data 0
          and error 1; each channel's first frame from the server is the
          port, 2 bytes little-endian) carries an echo.

  died    (kata) QEMU killed with a relayed connection open: the shim
          resets it, and a new dial is refused (the redirect went with the
          sandbox, kc_pod_died).

Also runs as a helper of itself in the pod's namespace:
  cri-portfwd.py --dial          (the dial checks, "check" lines)
  cri-portfwd.py --conns N       (N connections, one after the other)
  cri-portfwd.py --died POD      (kills the pod's QEMU)
  cri-portfwd.py --ws URL PORT   (the WebSocket checks, in containerd's)
"""
import base64, hashlib, json, os, socket, struct, subprocess, sys, threading, time

PORT, CLOSED = 8080, 8081


def check(name, value):
    print("check %s %s" % (name, value), flush=True)


def dial(port, timeout=30):
    """localhost:port as containerd dials it: tcp4, then tcp6."""
    try:
        return socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError:
        return socket.create_connection(("::1", port), timeout=timeout)


def recv_all(s, n):
    out = bytearray()
    while len(out) < n:
        b = s.recv(min(1 << 20, n - len(out)))
        if not b:
            break
        out += b
    return bytes(out)


def echo(s, data):
    s.sendall(data)
    return recv_all(s, len(data))


def helper_dial():
    # The container's server may still be starting: retry the first echo.
    got, t0 = None, time.time()
    while time.time() - t0 < 60:
        try:
            with dial(PORT, 10) as s:
                got = echo(s, b"hello\n")
            if got == b"hello\n":
                break
        except OSError as e:
            got = repr(e)
        time.sleep(0.5)
    check("echo", "ok" if got == b"hello\n" else "bad:%r" % (got,))

    # [::1] (containerd's tcp6 fallback): the IPv6 redirect, whose port
    # comes from IP6T_SO_ORIGINAL_DST.
    try:
        with socket.create_connection(("::1", PORT), timeout=10) as s:
            got = echo(s, b"six\n")
        check("echo6", "ok" if got == b"six\n" else "bad:%r" % (got,))
    except OSError as e:
        check("echo6", "error:%s" % e.__class__.__name__)

    # 4 MiB both ways at once, byte for byte.
    data = os.urandom(4 << 20)
    with dial(PORT) as s:
        t = threading.Thread(target=s.sendall, args=(data,))
        t0 = time.time()
        t.start()
        back = recv_all(s, len(data))
        t.join()
        secs = time.time() - t0
        s.shutdown(socket.SHUT_WR)
        rest = s.recv(1)
    check("bulk", "ok" if back == data else "bad:%d/%d" % (len(back), len(data)))
    check("bulk_eof", "ok" if rest == b"" else "more")
    print("# 4 MiB echoed in %.2f s (%.1f MiB/s)" % (secs, 4 / secs if secs else 0), flush=True)

    # A client that reads nothing for 3 s while it sends 4 MiB: every
    # buffer on the way fills (back-pressure both ways), nothing is lost.
    data = os.urandom(4 << 20)
    with dial(PORT) as s:
        s.settimeout(120)
        t = threading.Thread(target=s.sendall, args=(data,))
        t.start()
        time.sleep(3)
        back = recv_all(s, len(data))
        t.join()
    check("slow_reader", "ok" if back == data else "bad:%d/%d" % (len(back), len(data)))

    # Two at once: the second answers while the first stays open.
    with dial(PORT) as a, dial(PORT) as b:
        rb = echo(b, b"second")
        ra = echo(a, b"first")
    check("concurrent", "ok" if (ra, rb) == (b"first", b"second") else "bad:%r,%r" % (ra, rb))

    # Nothing listens: a refused connect (runc), or one reset at once.
    t0 = time.time()
    try:
        with dial(CLOSED, 10) as s:
            s.settimeout(10)
            s.sendall(b"x")
            r = s.recv(1)
            what = "closed" if r == b"" else "answered"
    except ConnectionRefusedError:
        what = "refused"
    except ConnectionResetError:
        what = "closed"
    except OSError as e:
        what = "error:%s" % e.__class__.__name__
    secs = time.time() - t0
    check("closed_port", what if what in ("refused", "closed") else what)
    check("closed_port_quick", "yes" if secs < 5 else "no:%.1fs" % secs)


def helper_conns(n):
    bad = 0
    # As many reset at once (before the guest's connect is answered, or
    # right after): the relay must free them too.
    for i in range(n):
        s = dial(PORT)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    for i in range(n):
        with dial(PORT) as s:
            if echo(s, b"conn %d\n" % i) != b"conn %d\n" % i:
                bad += 1
    check("conns_bad", bad)


def helper_died(pod):
    """A relayed connection open when the VM dies: reset by the shim, and
    the redirect gone with the sandbox (a new dial is refused)."""
    s = dial(PORT)
    first = echo(s, b"before\n")
    qemu = 0
    for pid in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if b"qemu-system" in args[0] and any(pod.encode() in a for a in args):
            qemu = int(pid)
    check("died_qemu_found", "yes" if qemu and first == b"before\n" else "no")
    if not qemu:
        return
    t0 = time.time()
    os.kill(qemu, 9)
    s.settimeout(30)
    try:
        r = s.recv(1)
        what = "closed" if r == b"" else "data"
    except ConnectionResetError:
        what = "reset"
    except OSError as e:
        what = "error:%s" % e.__class__.__name__
    check("died_conn", what)
    check("died_quick", "yes" if time.time() - t0 < 10 else "no:%.1fs" % (time.time() - t0))
    s.close()
    # The agent's connection may drop (resetting the relay) a moment
    # before the shim has seen QEMU's exit and removed the redirect.
    for _ in range(50):
        try:
            with socket.create_connection(("127.0.0.1", PORT), timeout=10):
                what = "connected"
        except ConnectionRefusedError:
            what = "refused"
            break
        except OSError as e:
            what = "error:%s" % e.__class__.__name__
        time.sleep(0.2)
    check("died_then", what)


def ws_frame(payload, opcode=2):
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        hdr = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        hdr = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_read(s):
    """(opcode, payload) of the next frame."""
    h = recv_all(s, 2)
    if len(h) < 2:
        return None, b""
    op, n = h[0] & 0x0F, h[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", recv_all(s, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", recv_all(s, 8))[0]
    if h[1] & 0x80:
        mask = recv_all(s, 4)
        return op, bytes(b ^ mask[i % 4] for i, b in enumerate(recv_all(s, n)))
    return op, recv_all(s, n)


def helper_ws(url, port):
    rest = url.split("://", 1)[1]
    hostport, path = rest.split("/", 1)
    host, hp = hostport.rsplit(":", 1)
    key = base64.b64encode(os.urandom(16)).decode()
    s = socket.create_connection((host, int(hp)), timeout=30)
    s.sendall(("GET /%s?port=%d HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n"
               % (path, port, hostport, key)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        b = s.recv(1)
        if not b:
            break
        head += b
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                                           .encode()).digest()).decode()
    check("ws_upgrade", "ok" if " 101 " in status + " " and accept.encode() in head
          else "bad:" + status.replace(" ", "_"))
    # The server's first frames: the port on the data and the error channel.
    firsts = {}
    for _ in range(2):
        op, p = ws_read(s)
        if p:
            firsts[p[0]] = p[1:]
    want = struct.pack("<H", port)
    check("ws_port_frames", "ok" if firsts == {0: want, 1: want} else "bad:%r" % (firsts,))
    msg = b"through the streaming server\n" * 100
    s.sendall(ws_frame(b"\x00" + msg))
    got, err = b"", b""
    s.settimeout(60)
    try:
        while len(got) < len(msg):
            op, p = ws_read(s)
            if op is None or op == 8:
                break
            if p[:1] == b"\x00":
                got += p[1:]
            elif p[:1] == b"\x01":
                err += p[1:]
    except OSError as e:
        err += repr(e).encode()
    check("ws_echo", "ok" if got == msg else "bad:%d/%d" % (len(got), len(msg)))
    if err:
        print("# error channel: %s" % err.decode(errors="replace"), flush=True)
    s.sendall(ws_frame(struct.pack("!H", 1000), opcode=8))
    s.close()


if len(sys.argv) > 1 and sys.argv[1].startswith("--"):
    if sys.argv[1] == "--dial":
        helper_dial()
    elif sys.argv[1] == "--conns":
        helper_conns(int(sys.argv[2]))
    elif sys.argv[1] == "--died":
        helper_died(sys.argv[2])
    elif sys.argv[1] == "--ws":
        helper_ws(sys.argv[2], int(sys.argv[3]))
    sys.exit(0)

import grpc  # noqa: E402 (the helpers do not need it)
from cri_client import connect, decode, fm, fs, fv  # noqa: E402

sock, handler, image, work, cns = sys.argv[1:6]
call = connect(sock, 120)
logdir = os.path.join(work, "pods-pf-" + handler)
os.makedirs(logdir, exist_ok=True)
me = os.path.abspath(__file__)


def in_netns(path, *args):
    r = subprocess.run(["nsenter", "--net=" + path, sys.executable, me] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    out = r.stdout.decode(errors="replace")
    sys.stdout.write(out)
    if r.returncode:
        print("# helper %s: exit %d" % (args[0], r.returncode), flush=True)
    return out


def shim_fds(pod):
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if args[0].endswith(b"containerd-shim-kata-v2") and pod.encode() in args:
            return len(os.listdir("/proc/%s/fd" % pid))
    return -1


pod = None
try:
    cfg = (fm(1, fs(1, "pf-" + handler) + fs(2, "uid-pf-" + handler) + fs(3, "default"))
           + fs(3, logdir))
    pod = call("RunPodSandbox", fm(1, cfg) + fs(2, handler))[1][0].decode()
    # PodSandboxStatusResponse.info (map<string,string>, verbose): its
    # "info" is containerd's JSON, with the sandbox's OCI spec.
    info = {}
    for entry in call("PodSandboxStatus", fs(1, pod) + fv(2, True)).get(2, []):
        kv = decode(entry)
        if kv.get(1, [b""])[0] == b"info":
            info = json.loads(kv[2][0].decode())
    netns = ""
    for ns in info.get("runtimeSpec", {}).get("linux", {}).get("namespaces", []):
        if ns.get("type") == "network":
            netns = ns.get("path", "")
    check("netns", "found" if netns else "none")
    check("netns_path", netns)
    ccfg = (fm(1, fs(1, "echo")) + fm(2, fs(1, image))
            + b"".join(fs(3, a) for a in ["nc", "-ll", "-p", str(PORT), "-e", "cat"])
            + fs(11, "echo.log"))
    cid = call("CreateContainer", fs(1, pod) + fm(2, ccfg) + fm(3, cfg))[1][0].decode()
    call("StartContainer", fs(1, cid))

    # The redirect in the pod's namespace: kata-c's two rules (IPv4, IPv6);
    # runc's pod has none.
    rules = 0
    for tool in ("iptables", "ip6tables"):
        r = subprocess.run(["nsenter", "--net=" + netns, tool, "-w", "-t", "nat", "-S", "OUTPUT"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        rules += r.stdout.decode().count("-j REDIRECT")
    check("redirect_rules", rules)
    in_netns(netns, "--dial")
    if handler == "kata":
        # The shim's steady state: a relayed connection's end takes a few
        # agent calls after the client has closed.
        in_netns(netns, "--conns", "1")
        time.sleep(1)
        before = shim_fds(pod)
        in_netns(netns, "--conns", "20")
        time.sleep(1)
        after = shim_fds(pod)
        print("# the shim's fds: %d before 20 connections, %d after" % (before, after))
        check("shim_fds_same", "yes" if before > 0 and before == after else
              "no:%d->%d" % (before, after))
    else:
        in_netns(netns, "--conns", "20")

    url = call("PortForward", fs(1, pod) + fv(2, PORT))[1][0].decode()
    print("# streaming URL: %s" % url, flush=True)
    in_netns(cns, "--ws", url, str(PORT))
    if handler == "kata":
        in_netns(netns, "--died", pod)
finally:
    # After the VM was killed, containerd may still hold the container as
    # running for a moment (its exit event in flight): try again.
    for attempt in range(10 if pod else 0):
        try:
            call("StopPodSandbox", fs(1, pod))
            call("RemovePodSandbox", fs(1, pod))
            if attempt:
                print("# removing pod %s took %d tries" % (pod, attempt + 1))
            break
        except grpc.RpcError as e:
            print("# removing pod %s: %s" % (pod, " ".join(e.details().split())))
            time.sleep(1)
print("done")
