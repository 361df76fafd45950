#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# kata-runtime exec SANDBOX, interactive, on a real pseudo-terminal that is
# its controlling terminal: a command, a window resize (TIOCSWINSZ on the
# terminal: the kernel sends SIGWINCH to kata-runtime, which sends RESIZE),
# a second client refused meanwhile, `exit 3`.  Prints one line per check,
# "ok NAME" or "not ok NAME: why", for the TAP script to count.
#   debug-console-pty.py KATA_RUNTIME SANDBOX
import fcntl, os, re, select, struct, subprocess, sys, termios, time

kr, sb = sys.argv[1], sys.argv[2]
master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
before = termios.tcgetattr(slave)


def ctty():
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


p = subprocess.Popen([kr, "exec", sb], stdin=slave, stdout=slave, stderr=slave,
                     start_new_session=True, preexec_fn=ctty)
out = b""


def check(name, cond, why=""):
    print(("ok " if cond else "not ok ") + name + ("" if cond else ": " + why))
    sys.stdout.flush()


def expect(pattern, timeout=60):
    """Reads the terminal until pattern (bytes regex) shows; the match."""
    global out
    end = time.time() + timeout
    while time.time() < end:
        m = re.search(pattern, out)
        if m:
            out = out[m.end():]
            return m
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                out += os.read(master, 4096)
            except OSError:
                break
    return None


def send(s):
    os.write(master, s.encode())


prompt = rb"\[debug console\] [^\r\n]*# "
check("interactive: a prompt", expect(prompt) is not None, repr(out[-300:]))
raw = termios.tcgetattr(slave)
check("interactive: the terminal is in raw mode", not (raw[3] & termios.ICANON) and not (raw[3] & termios.ECHO))
send("uname -r\r")
m = expect(rb"\n(6\.1\.0-[0-9]+-cloud-amd64)\r?\n")
check("interactive: uname -r is the guest kernel's", m is not None, repr(out[-300:]))
expect(prompt)
send("stty size\r")
m = expect(rb"\n(\d+ \d+)\r?\n")
check("interactive: stty size is the terminal's (24 80)", m is not None and m.group(1) == b"24 80",
      repr(m.group(1) if m else out[-300:]))
expect(prompt)
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
time.sleep(1)
send("stty size\r")
m = expect(rb"\n(\d+ \d+)\r?\n")
check("interactive: a resize reaches the guest (33 111)", m is not None and m.group(1) == b"33 111",
      repr(m.group(1) if m else out[-300:]))
expect(prompt)
# A second client while this one holds the console.
t0 = time.time()
r = subprocess.run([kr, "exec", "--timeout", "5", sb, "true"], stdin=subprocess.DEVNULL,
                   capture_output=True)
check("a second exec is refused at once", r.returncode == 1 and b"in use by another" in r.stderr
      and time.time() - t0 < 5, repr((r.returncode, r.stderr)))
send("exit 3\r")
try:
    rc = p.wait(60)
except subprocess.TimeoutExpired:
    p.kill()
    rc = p.wait()
check("interactive: exit 3 is kata-runtime's status", rc == 3, "status %r" % rc)
after = termios.tcgetattr(slave)
check("interactive: the terminal is restored", after == before, "%r != %r" % (after, before))

# Killed by a signal while in raw mode: the terminal is restored too.
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
p = subprocess.Popen([kr, "exec", sb], stdin=slave, stdout=slave, stderr=slave,
                     start_new_session=True, preexec_fn=ctty)
out = b""
got = expect(prompt) is not None
p.terminate()
rc = p.wait(30)
after = termios.tcgetattr(slave)
check("SIGTERM: status 143 and the terminal restored", got and rc == 143 and after == before,
      "prompt %r status %r" % (got, rc))
