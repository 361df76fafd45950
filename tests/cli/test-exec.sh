#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# kata-runtime exec without a VM: its refusals (unknown sandbox, console
# not enabled, a console that never answers, one already in use) and its
# side of the protocol against a fake guest (lib/console_proto.h).
# tests/e2e/test-debug-console.sh drives a real VM.
set -u
. "$(dirname "$0")/lib.sh"

root=$tmp/vm
mkdir -p "$root"
X="$KATA_RUNTIME exec --vm-run-root $root"

# fake.py SOCK MODE: a guest's console on SOCK for one connection.
#   silent  accepts, never answers
#   echo    STARTED, the OPEN it got as STDOUT ("flags rows cols [command]"),
#           the STDIN bytes until EOF as STDOUT, "e" on STDERR, EXIT 7
#   error   ERROR "no shell here"
#   bad     a frame of type 99
#   drop    STARTED, then closes
cat > "$tmp/fake.py" <<'PY'
import os, socket, struct, sys, time
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(4)
open(path + ".ready", "w").close()
c, _ = s.accept()
buf = b""
def frame():
    global buf
    while True:
        if len(buf) >= 4:
            t, r, n = struct.unpack(">BBH", buf[:4])
            if len(buf) >= 4 + n:
                p = buf[4:4 + n]
                buf = buf[4 + n:]
                return t, p
        d = c.recv(65536)
        if not d:
            sys.exit(0)
        buf += d
def send(t, p=b""):
    c.sendall(struct.pack(">BBH", t, 0, len(p)) + p)
if mode == "silent":
    time.sleep(30)
    sys.exit(0)
t, p = frame()
assert t == 1, t
if mode == "error":
    send(9, b"no shell here")
elif mode == "bad":
    send(99)
elif mode == "drop":
    send(5, struct.pack(">I", 1))
else:
    send(5, struct.pack(">I", 42))
    flags, rows, cols = struct.unpack(">BHH", p[:5])
    send(6, b"%d %d %d [%s]\n" % (flags, rows, cols, p[5:]))
    got = b""
    while True:
        t, q = frame()
        if t == 3:
            break
        assert t == 2, t
        got += q
    send(6, b"stdin " + got)
    send(7, b"e\n")
    send(8, struct.pack(">I", 7))
    time.sleep(0.5)
c.close()
PY

# fake SANDBOX MODE: the fake guest serving SANDBOX's console.
fake() {
	mkdir -p "$root/$1"
	rm -f "$root/$1/console.sock" "$root/$1/console.sock.ready"
	python3 "$tmp/fake.py" "$root/$1/console.sock" "$2" &
	fake_pid=$!
	for _ in $(seq 50); do [ -e "$root/$1/console.sock.ready" ] && break; sleep 0.1; done
}

run_cmd $KATA_RUNTIME exec
ok "no sandbox id: usage error" sh -c '[ "$1" -eq 2 ]' _ "$rc"
run_cmd $X ../x true
ok "a sandbox id with a slash is refused" err_has '`../x` is not a sandbox id'
run_cmd $X --timeout 0 sb true
ok "--timeout 0 is refused" err_has "--timeout \`0\`: not 1 to 3600 seconds"
run_cmd $X nosuch uname -r
ok "unknown sandbox: exit 1" rc_is 1
ok "unknown sandbox: says so" err_has "sandbox nosuch not found"
run_cmd $X --config "$tmp/none.toml" nosuch true
ok "a --config that does not load is an error" err_has "none.toml"

mkdir -p "$root/off"
run_cmd $X off uname -r
ok "console not enabled: exit 1" rc_is 1
ok "console not enabled: says how to enable it" err_has \
	"debug console is not enabled for sandbox off: set [agent.kata] debug_console_enabled = true"

fake hang silent
t0=$(date +%s)
run_cmd $X --timeout 1 hang uname -r
t1=$(date +%s)
ok "a console that never answers: exit 1" rc_is 1
ok "a console that never answers: a timeout, named" err_has "did not answer within 1 s"
ok "a console that never answers: no hang (under 5 s)" [ $((t1 - t0)) -lt 5 ]
kill "$fake_pid" 2>/dev/null; wait "$fake_pid" 2>/dev/null

# The run dir's lock is what a second client finds taken.
fake busy silent
flock "$root/busy" sleep 5 &
lock_pid=$!
sleep 0.3
run_cmd $X --timeout 3 busy true
ok "console in use: exit 1" rc_is 1
ok "console in use: says so" err_has "the debug console is in use by another \`kata-runtime exec\`"
kill "$lock_pid" "$fake_pid" 2>/dev/null; wait "$lock_pid" "$fake_pid" 2>/dev/null

fake sb echo
run_cmd sh -c "printf 'abc' | $X sb sh -c 'exit 3'"
ok "fake guest: the shell's status is ours" rc_is 7
ok "fake guest: no terminal (flags 0), words quoted for sh" \
	out_has "0 24 80 ['sh' '-c' 'exit 3']"
ok "fake guest: stdin travels, then EOF" out_has "stdin abc"
ok "fake guest: stderr apart" [ "$err" = "e" ]
wait "$fake_pid"

fake sb echo
run_cmd sh -c "$X sb 'echo \$HOME; exit 2' < /dev/null"
ok "fake guest: one argument is a command line, as is" out_has "[echo \$HOME; exit 2]"
wait "$fake_pid"

fake sb error
run_cmd sh -c "$X sb true < /dev/null"
ok "guest ERROR: exit 1 and its reason" sh -c '[ "$1" -eq 1 ]' _ "$rc"
ok "guest ERROR: its reason" err_has "sandbox sb: debug console: no shell here"
wait "$fake_pid"

fake sb bad
run_cmd sh -c "$X sb true < /dev/null"
ok "a bad frame from the guest is refused" err_has "unknown frame type 99 from the guest"
wait "$fake_pid"

fake sb drop
run_cmd sh -c "$X sb true < /dev/null"
ok "a console closed without EXIT: exit 1" rc_is 1
ok "a console closed without EXIT: says so" err_has "closed before the shell's exit status"
wait "$fake_pid"

done_testing
