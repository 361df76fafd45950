#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# kata-agent-ctl against a real kata-agent --no-init on a unix socket: the
# method list, JSON requests (nested, bytes as text and base64, enums,
# files, stdin), answers as JSON, a container run through it, and the
# errors that name the method or field.
# shellcheck disable=SC2016,SC2154 # checks are eval'd later; $tmp is lib.sh's
set -u
. "$(dirname "$0")/lib.sh"

CTL=${KATA_AGENT_CTL:-$KC_BUILD_ROOT/src/cli/kata-agent-ctl}
AGENT=${KATA_AGENT:-$KC_BUILD_ROOT/src/agent/kata-agent}
sock=$tmp/agent.sock
run=$tmp/run
mkdir -p "$run" "$tmp/rootfs/bin"
cp /bin/busybox "$tmp/rootfs/bin/busybox"
for a in sh echo sleep; do ln -s busybox "$tmp/rootfs/bin/$a"; done

"$AGENT" --no-init --listen "unix://$sock" --run-root "$run" 2>"$tmp/agent.log" &
agent=$!
i=0
while [ ! -S "$sock" ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done

ctl() { run_cmd "$CTL" --server-address "unix://$sock" "$@"; }

run_cmd "$CTL" list
ok "list names AgentService and Health methods" \
	eval 'rc_is 0 && out_has "grpc.AgentService/CreateSandbox" && out_has "grpc.Health/Check" && out_has "grpc.AgentService/GetMetrics"'

ctl call Health.Check
ok "Health.Check answers SERVING" eval 'rc_is 0 && out_has "\"status\": \"SERVING\""'
ctl call grpc.Health/Version
ok "grpc.Health/Version gives the agent version" eval 'rc_is 0 && out_has "\"agent_version\""'

ctl call CreateSandbox '{"sandbox_id": "ctl-sb", "hostname": "h"}'
ok "CreateSandbox answers {}" eval 'rc_is 0 && [ "$out" = "{}" ]'

ctl call CopyFile '{"path": "/run/kata-containers/a/b.txt", "file_size": 5, "file_mode": 420, "dir_mode": 493, "uid": -1, "gid": -1, "data": "hello"}'
ok "CopyFile with text bytes writes the file" eval 'rc_is 0 && [ "$(cat "$run/a/b.txt")" = hello ]'
ctl call CopyFile '{"path": "/run/kata-containers/a/bin", "file_size": 3, "file_mode": 384, "uid": -1, "gid": -1, "data": "base64:AP8K"}'
ok "CopyFile with base64 bytes writes them" eval 'rc_is 0 && [ "$(od -An -tx1 "$run/a/bin" | tr -d " ")" = 00ff0a ]'

echo '{"mem_block_size": true, "mem_hotplug_probe": false}' >"$tmp/req.json"
ctl call GetGuestDetails "@$tmp/req.json"
ok "a request from @FILE; nested answer" eval 'rc_is 0 && out_has "\"agent_details\"" && out_has "\"version\""'
rc=0
out=$(echo '{"volume_guest_path": "/run/kata-containers/a"}' |
	"$CTL" --server-address "unix://$sock" call GetVolumeStats - 2>"$tmp/err") || rc=$?
err=$(cat "$tmp/err")
ok "a request from stdin; enums by name" eval 'rc_is 0 && out_has "\"unit\": \"INODES\"" && out_has "\"condition_message\": \"NORMAL\""'

spec=$(printf '{"process":{"args":["sh","-c","echo out-$((6*7))"],"env":["PATH=/bin"],"cwd":"/"},"root":{"path":"%s"}}' "$tmp/rootfs" |
	sed 's/"/\\"/g')
ctl call CreateContainer "{\"container_id\": \"c1\", \"exec_id\": \"c1\", \"oci_spec_json\": \"$spec\"}"
ok "CreateContainer with the spec as a JSON string of bytes" rc_is 0
ctl call StartContainer '{"container_id": "c1"}'
ok "StartContainer" rc_is 0
ctl call ReadStdout '{"container_id": "c1", "len": 1000}'
ok "ReadStdout answers the output as text" eval 'rc_is 0 && out_has "\"data\": \"out-42\\n\""'
ctl call WaitProcess '{"container_id": "c1"}'
ok "WaitProcess answers status 0 (omitted as the default)" eval 'rc_is 0 && [ "$out" = "{}" ]'
ctl call RemoveContainer '{"container_id": "c1"}'
ok "RemoveContainer" rc_is 0

spec=$(printf '{"process":{"args":["sleep","975"],"env":["PATH=/bin"],"cwd":"/"},"root":{"path":"%s"}}' "$tmp/rootfs" |
	sed 's/"/\\"/g')
ctl call CreateContainer "{\"container_id\": \"c2\", \"oci_spec_json\": \"$spec\"}"
ctl call StartContainer '{"container_id": "c2"}'
run_cmd "$CTL" --server-address "unix://$sock" --timeout 0.3 call WaitProcess '{"container_id": "c2"}'
ok "--timeout bounds a long poll: DEADLINE_EXCEEDED" eval 'rc_is 1 && err_has "DEADLINE_EXCEEDED"'
ctl call SignalProcess '{"container_id": "c2", "signal": 9}'
ctl call WaitProcess '{"container_id": "c2"}'
ok "SIGKILL through the ctl: status 137" eval 'rc_is 0 && out_has "\"status\": 137"'
ctl call RemoveContainer '{"container_id": "c2"}'

run_cmd "$CTL" --server-address "serial://$sock" call Health.Check
ok "serial:// dials QEMU's chardev socket path" eval 'rc_is 0 && out_has SERVING'

# Hybrid vsock: a stand-in for Firecracker's unix socket that answers the
# CONNECT handshake and relays to the agent.
python3 - "$tmp/hv.sock" "$sock" 1024 <<'EOF' &
import os, socket, sys, threading
path, agent, port = sys.argv[1], sys.argv[2], sys.argv[3]
srv = socket.socket(socket.AF_UNIX)
srv.bind(path)
srv.listen(1)
c, _ = srv.accept()
line = b""
while not line.endswith(b"\n"):
    line += c.recv(1)
if line != b"CONNECT %s\n" % port.encode():
    c.sendall(b"NO\n")
    sys.exit(1)
a = socket.socket(socket.AF_UNIX)
a.connect(agent)
c.sendall(b"OK 1073741824\n")
def pump(src, dst):
    while True:
        d = src.recv(65536)
        if not d:
            dst.shutdown(socket.SHUT_WR)
            return
        dst.sendall(d)
t = threading.Thread(target=pump, args=(a, c))
t.start()
pump(c, a)
t.join()
EOF
proxy=$!
i=0
while [ ! -S "$tmp/hv.sock" ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
run_cmd "$CTL" --server-address "hvsock://$tmp/hv.sock:1024" call Health.Check
ok "hvsock:// does the hybrid vsock handshake" eval 'rc_is 0 && out_has SERVING'
wait "$proxy" || true
run_cmd "$CTL" --server-address "vsock://3:1024" --timeout 2 call Health.Check
ok "vsock:// without a VM fails naming the address" eval 'rc_is 1 && err_has "vsock"'

# Errors.
ctl call NoSuchMethod
ok "an unknown method is named (exit 2)" eval 'rc_is 2 && err_has "NoSuchMethod"'
ctl call CreateSandbox '{"sandbox_idd": "x"}'
ok "an unknown field is named with the known ones" eval 'rc_is 2 && err_has "sandbox_idd" && err_has "sandbox_id" && err_has "hostname"'
ctl call UpdateInterface '{"interface": {"mtu": "big"}}'
ok "a wrong type names the field path" eval 'rc_is 2 && err_has "interface.mtu"'
ctl call UpdateInterface '{"interface": {"ip_addresses": [{"family": "V7"}]}}'
ok "a bad enum names the path and the values" eval 'rc_is 2 && err_has "interface.ip_addresses[0].family" && err_has "V4, V6"'
ctl call SignalProcess '{"signal": -1}'
ok "a negative uint32 is out of range" eval 'rc_is 2 && err_has "signal"'
ctl call CopyFile '{"data": "base64:%%%"}'
ok "bad base64 is refused" eval 'rc_is 2 && err_has "data: bad base64"'
ctl call CreateSandbox '{"sandbox_id": '
ok "bad JSON is refused with its position" eval 'rc_is 2 && err_has "request"'
ctl call WaitProcess '{"container_id": "nope"}'
ok "an RPC error is exit 1 with the status" eval 'rc_is 1 && err_has "NOT_FOUND" && err_has "nope"'
run_cmd "$CTL" --server-address "unix://$tmp/none.sock" --timeout 2 call Health.Check
ok "no agent: exit 1 naming the socket" eval 'rc_is 1 && err_has "none.sock"'
run_cmd "$CTL" --server-address "tcp://x" call Health.Check
ok "an unknown transport is refused" eval 'rc_is 1 && err_has "tcp://x"'
run_cmd "$CTL" call Health.Check
ok "call without --server-address is a usage error" eval 'rc_is 2 && err_has "server-address"'
run_cmd "$CTL" --timeout -1 list
ok "a bad --timeout is a usage error" eval 'rc_is 2 && err_has "timeout"'

kill -TERM "$agent"
rc=0
wait "$agent" || rc=$?
out=""
err=$(tail -5 "$tmp/agent.log")
ok "the agent exits 0 after all of it" rc_is 0
done_testing
