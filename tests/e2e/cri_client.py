# SPDX-License-Identifier: Apache-2.0
"""cri_client.py -- the CRI client of cri-pod.py and cri-net.py: runtime.v1
over gRPC (python3-grpcio) with hand-encoded protobuf, since crictl is not
packaged in Debian 12.  Field numbers from k8s.io/cri-api runtime/v1
api.proto.  Encoders: fv (varint), fs (string/bytes), fm (message);
decode() gives {field: [values]}."""
import grpc

def varint(n):
    if n < 0: n += 1 << 64
    o = bytearray()
    while True:
        b = n & 0x7F; n >>= 7
        o.append(b | 0x80 if n else b)
        if not n: return bytes(o)
def fv(f, v): return varint(f << 3) + varint(int(v)) if v else b""
def fs(f, v):
    if isinstance(v, str): v = v.encode()
    return varint(f << 3 | 2) + varint(len(v)) + v if v else b""
def fm(f, v): return varint(f << 3 | 2) + varint(len(v)) + v

def rd(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1; v |= (c & 0x7F) << s; s += 7
        if not c & 0x80: return v, i
def decode(b):
    d, i = {}, 0
    while i < len(b):
        k, i = rd(b, i)
        fn, wt = k >> 3, k & 7
        if wt == 0: v, i = rd(b, i)
        elif wt == 2:
            l, i = rd(b, i); v = b[i:i + l]; i += l
        elif wt == 1: v = b[i:i + 8]; i += 8
        elif wt == 5: v = b[i:i + 4]; i += 4
        d.setdefault(fn, []).append(v)
    return d

def connect(sock, timeout, verbose=False):
    """call(method, request[, svc]) -> decoded reply, on the socket SOCK;
    with verbose, one line per call naming the method and its reply."""
    ch = grpc.insecure_channel("unix://" + sock)
    def call(method, req, svc="runtime.v1.RuntimeService"):
        f = ch.unary_unary("/%s/%s" % (svc, method))
        r = f(req, timeout=timeout)
        if verbose:
            print("%-18s ok  %s" % (method, {k: (v if len(v) > 1 else v[0]) for k, v in decode(r).items()}
                                     if len(r) < 400 else "(%d bytes)" % len(r)))
        return decode(r)
    return call
