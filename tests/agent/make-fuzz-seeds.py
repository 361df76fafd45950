#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed inputs of the agent fuzzer (tests/agent/fuzz-seeds/):
ttrpc request streams that call the agent's methods with valid and
nearly valid requests.  Run from the repository root."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "common"))
from ttrpc_seeds import msg, write_seeds  # noqa: E402

SPEC = b'{"process":{"args":["/bin/true"],"cwd":"/"},"root":{"path":"/"}}'
calls = {
    "health": [("Check", b"", "grpc.Health"), ("Version", b"", "grpc.Health")],
    "sandbox": [("CreateSandbox", msg((1, "h"), (5, "sb"))),
                ("CreateContainer", msg((1, "c1"), (2, "c1"), (5, SPEC))),
                ("StartContainer", msg((1, "c1"))),
                ("WaitProcess", msg((1, "c1"))),
                ("RemoveContainer", msg((1, "c1"))),
                ("DestroySandbox", b"")],
    "interface": [("UpdateInterface", msg((1, msg((2, "lo"), (3, msg((2, "10.9.9.9"), (3, "24"))),
                                                  (3, msg((1, 1), (2, "fd00::9"), (3, "64"))),
                                                  (4, 1500), (5, "02:00:00:00:00:01"))))),
                  ("ListInterfaces", b"")],
    "routes": [("UpdateRoutes", msg((1, msg((1, msg((1, "10.9.0.0/16"), (3, "lo"), (5, 253))),
                                            (1, msg((2, "10.9.0.1"), (3, "lo"))))))),
               ("ListRoutes", b""),
               ("AddARPNeighbors", msg((1, msg((1, msg((2, "10.9.0.7"))), (2, "lo"),
                                               (3, "02:00:00:00:00:07")))))],
    "files": [("CopyFile", msg((1, "/run/kata-containers/a/b"), (2, 5), (3, 0o100644),
                                (4, 0o755), (5, 0xFFFFFFFFFFFFFFFF), (6, 0xFFFFFFFFFFFFFFFF),
                                (8, b"hello"))),
              ("CopyFile", msg((1, "/run/kata-containers/a/l"), (3, 0o120777), (8, b"b"))),
              ("GetVolumeStats", msg((1, "/run/kata-containers/a"))),
              ("AddSwapPath", msg((1, "/run/kata-containers/a/b")))],
    # Every other method on a live container: the process, stream and
    # cgroup calls, and those the agent refuses.
    "process": [("CreateSandbox", msg((1, "h"), (5, "sb"))),
                ("CreateContainer", msg((1, "c1"), (2, "c1"), (5, SPEC))),
                ("UpdateContainer", msg((1, "c1"), (2, b'{"pids":{"limit":10}}'))),
                ("StatsContainer", msg((1, "c1"))),
                ("PauseContainer", msg((1, "c1"))),
                ("ResumeContainer", msg((1, "c1"))),
                ("ExecProcess", msg((1, "c1"), (2, "e1"),
                                    (3, b'{"args":["/bin/true"],"cwd":"/","terminal":true}'))),
                ("SignalProcess", msg((1, "c1"), (2, "e1"), (3, 9))),
                ("WriteStdin", msg((1, "c1"), (2, "e1"), (3, b"in"))),
                ("CloseStdin", msg((1, "c1"), (2, "e1"))),
                ("TtyWinResize", msg((1, "c1"), (2, "e1"), (3, 24), (4, 80))),
                ("ReadStdout", msg((1, "c1"), (2, "nope"), (3, 4096))),
                ("ReadStderr", msg((1, "c1"), (2, "nope"), (3, 4096))),
                ("ListProcesses", msg((1, "c1"), (2, "json"), (3, "-ef"))),
                ("GetDiagnosticData", msg((1, "c1"))),
                ("RemoveContainer", msg((1, "c1")))],
    "misc": [("SetIPTables", msg((1, 1), (2, b"*filter\nCOMMIT\n"))),
             ("UpdateWatchableVolume", msg((1, "/run/kata-containers/w"),
                                           (2, "..2026_12_07_18_00_00.1"))),
             ("UpdateEphemeralMounts", msg((1, msg((1, "ephemeral"), (3, "tmpfs"), (4, "tmpfs"),
                                                   (6, "/run/kata-containers/e"))))),
             ("RemoveStaleVirtiofsShareMounts", b""),
             ("AddSwap", msg((1, b"\x02\x01"))),
             ("ResizeVolume", msg((1, "/run/kata-containers/a"), (2, 4096))),
             ("MemAgentMemcgSet", msg((1, 1), (2, 1), (5, 50), (6, 60))),
             ("MemAgentCompactSet", msg((1, 1), (2, 1), (6, 0xFFFFFFFFFFFFFFFF))),
             ("GetOOMEvent", b"")],
    # Port 1 on the loopback: refused, or a session 1 to use.
    "portfwd": [("CreateSandbox", msg((1, "h"), (5, "sb"))),
                ("PortForwardOpen", msg((1, 1), (2, 1))),
                ("PortForwardWrite", msg((1, 1), (2, b"GET /"))),
                ("PortForwardRead", msg((1, 1), (2, 4096))),
                ("PortForwardCloseWrite", msg((1, 1))),
                ("PortForwardClose", msg((1, 1)))],
    "guest": [("GetGuestDetails", msg((1, 1), (2, 1))),
              ("OnlineCPUMem", msg((1, 1), (2, 2))),
              ("MemHotplugByProbe", msg((1, 0x100000000))),
              ("SetGuestDateTime", msg((1, 1700000000), (2, 5))),
              ("ReseedRandomDev", msg((1, b"\x01\x02\x03\x04"))),
              ("GetMetrics", b""),
              ("SetPolicy", msg((1, "package x"))),
              ("GetIPTables", b"")],
}

# Every method of the agent's services is called by some seed, so that the
# fuzzer starts from each one's request decoding.
write_seeds(calls, "src/proto/agent.proto", "tests/agent/fuzz-seeds", "grpc.AgentService")
