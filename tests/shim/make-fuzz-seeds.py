#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed inputs of the shim fuzzer (tests/shim/fuzz-seeds/):
ttrpc request streams that call every method of containerd's Task service
(and the relayed GetMetrics) as containerd does.  Run from the repository
root.  The bundle /proc/self/cwd/tests/shim/fuzz-bundle is the fuzzer's
working directory's (run-fuzz.sh runs it from the root)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "common"))
from ttrpc_seeds import msg, write_seeds  # noqa: E402

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

write_seeds(calls, "src/proto/shim_task.proto", "tests/shim/fuzz-seeds", "containerd.task.v2.Task")
