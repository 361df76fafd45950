#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed inputs of the shim fuzzer (tests/shim/fuzz-seeds/):
ttrpc request streams that call every method of containerd's Task service
(and the relayed GetMetrics) as containerd does.  Run from the repository
root.  The bundle /proc/self/cwd/tests/shim/fuzz-bundle is the fuzzer's
working directory's (run-fuzz.sh runs it from the root)."""
import os
import re
import struct


def varint(n):
    out = b""
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, value):
    if isinstance(value, int):
        return varint(num << 3) + varint(value)
    if isinstance(value, str):
        value = value.encode()
    return varint(num << 3 | 2) + varint(len(value)) + value


def msg(*fields):
    return b"".join(field(n, v) for n, v in fields)


def frame(sid, method, payload, service="containerd.task.v2.Task"):
    body = msg((1, service), (2, method), (3, payload))
    return struct.pack(">IIBB", len(body), sid, 1, 0) + body


BUNDLE = "/proc/self/cwd/tests/shim/fuzz-bundle"
OPTIONS = msg((1, "runtimeoptions.v1.Options"), (2, msg((2, "/nonexistent/configuration.toml"))))
MOUNT = msg((1, "overlay"), (2, "overlay"), (4, "lowerdir=/a"), (4, "upperdir=/b"))
PROCESS = msg((1, "types.containerd.io/opencontainers/runtime-spec/1/Process"),
              (2, b'{"args":["/bin/true"],"cwd":"/","terminal":false}'))
RESOURCES = msg((1, "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"),
                (2, b'{"memory":{"limit":1048576},"cpu":{"shares":2}}'))
calls = {
    "create": [("Connect", msg((1, "c1"))),
               ("Create", msg((1, "c1"), (2, BUNDLE), (3, MOUNT), (5, "/tmp/in"),
                              (6, "/tmp/out"), (7, "/tmp/err"), (10, OPTIONS))),
               ("Create", msg((1, "../x"), (2, BUNDLE))),
               ("Create", msg((1, "c2"), (2, "relative"))),
               ("Create", msg((1, "c3"), (2, BUNDLE), (8, "/ckpt"))),
               ("State", msg((1, "c1"))),
               ("Delete", msg((1, "c1")))],
    "process": [("Start", msg((1, "c1"))),
                ("Exec", msg((1, "c1"), (2, "e1"), (3, 1), (7, PROCESS))),
                ("Start", msg((1, "c1"), (2, "e1"))),
                ("ResizePty", msg((1, "c1"), (2, "e1"), (3, 80), (4, 24))),
                ("CloseIO", msg((1, "c1"), (2, "e1"), (3, 1))),
                ("Kill", msg((1, "c1"), (2, "e1"), (3, 9), (4, 1))),
                ("Wait", msg((1, "c1"), (2, "e1"))),
                ("Pids", msg((1, "c1"))),
                ("Stats", msg((1, "c1"))),
                ("Update", msg((1, "c1"), (2, RESOURCES), (3, msg((1, "k"), (2, "v"))))),
                ("Pause", msg((1, "c1"))),
                ("Resume", msg((1, "c1"))),
                ("Checkpoint", msg((1, "c1"), (2, "/ckpt"))),
                ("GetMetrics", b"", "grpc.AgentService"),
                ("CreateSandbox", b"", "grpc.AgentService"),
                ("Shutdown", msg((1, "c1")))],
}

with open("src/proto/shim_task.proto") as f:
    rpcs = set(re.findall(r"^\s*rpc (\w+)\(", f.read(), re.M))
missing = rpcs - {c[0] for seq in calls.values() for c in seq}
if missing:
    raise SystemExit(f"no seed calls {', '.join(sorted(missing))}")

os.makedirs("tests/shim/fuzz-seeds", exist_ok=True)
for name, seq in calls.items():
    data = b""
    for i, c in enumerate(seq):
        method, payload = c[0], c[1]
        service = c[2] if len(c) > 2 else "containerd.task.v2.Task"
        data += frame(2 * i + 1, method, payload, service)
    with open(f"tests/shim/fuzz-seeds/{name}.bin", "wb") as f:
        f.write(data)
