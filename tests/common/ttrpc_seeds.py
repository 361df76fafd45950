# SPDX-License-Identifier: Apache-2.0
"""What the fuzzers' seed writers share (tests/agent/make-fuzz-seeds.py,
tests/shim/make-fuzz-seeds.py): protobuf fields encoded by hand, ttrpc
request frames, and writing one seed file of calls per name, refusing a set
of seeds that leaves a method of the service's .proto uncalled."""
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


def frame(sid, method, payload, service):
    body = msg((1, service), (2, method), (3, payload))
    return struct.pack(">IIBB", len(body), sid, 1, 0) + body


def write_seeds(calls, proto, outdir, service):
    """calls: {seed name: [(method, payload[, service]), ...]}; every rpc
    of proto must be called by some seed."""
    with open(proto) as f:
        rpcs = set(re.findall(r"^\s*rpc (\w+)\(", f.read(), re.M))
    missing = rpcs - {c[0] for seq in calls.values() for c in seq}
    if missing:
        raise SystemExit(f"no seed calls {', '.join(sorted(missing))}")
    os.makedirs(outdir, exist_ok=True)
    for name, seq in calls.items():
        data = b""
        for i, c in enumerate(seq):
            data += frame(2 * i + 1, c[0], c[1], c[2] if len(c) > 2 else service)
        with open(f"{outdir}/{name}.bin", "wb") as f:
            f.write(data)
