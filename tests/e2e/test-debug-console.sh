#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The debug console end to end (docs/debug-console.md): real containerd,
# ctr and a VM.  A pod started with debug_console_enabled = true boots the
# console initrd and has the console's port; `kata-runtime exec` runs
# commands (their status is its own) and an interactive shell on a real
# pty (debug-console-pty.py).  A pod started without it has neither, and
# exec says how to enable it; an unknown id is named.  The image: the
# initrd without the console is unchanged (no shell), the console's is it
# byte for byte with the shell's archive appended.  KC_E2E_MODE=vm only.
. "$(dirname "$0")/lib.sh"
trap 'e2e_stop' EXIT
KR=$KC_BUILD_ROOT/src/cli/kata-runtime
BASE=$KC_BUILD_ROOT/guest/kata-containers-initrd.img
CON=$KC_BUILD_ROOT/guest/kata-containers-initrd-console.img

# The entries of every archive of an initrd (raw or gzip'd, concatenated).
initrd_ls() {
	python3 - "$1" <<'PY'
import sys, zlib
data = open(sys.argv[1], "rb").read()
def entries(b):
    i = 0
    while i + 110 <= len(b) and b[i:i + 6] == b"070701":
        nsz, fsz = int(b[i + 94:i + 102], 16), int(b[i + 54:i + 62], 16)
        name = b[i + 110:i + 110 + nsz - 1].decode()
        i = (i + 110 + nsz + 3) & ~3
        i = (i + fsz + 3) & ~3
        if name == "TRAILER!!!":
            return i
        print(name)
    return i
i = 0
while i < len(data):
    if data[i] == 0:
        i += 1
    elif data[i:i + 6] == b"070701":
        i += entries(data[i:])
    elif data[i:i + 2] == b"\x1f\x8b":
        d = zlib.decompressobj(31)
        entries(d.decompress(data[i:]))
        i = len(data) - len(d.unused_data)
    else:
        sys.exit("unknown data at %d" % i)
PY
}

base_ls=$(initrd_ls "$BASE")
con_ls=$(initrd_ls "$CON")
check "image: the initrd without the console has no shell" "" "$(grep -E '^bin(/|$)' <<< "$base_ls")"
check "image: the console's initrd has busybox and sh" "bin/busybox bin/sh" \
	"$(grep -xE 'bin/(busybox|sh)' <<< "$con_ls" | tr '\n' ' ' | sed 's/ $//')"
bsize=$(stat -c %s "$BASE")
cmp -s -n "$bsize" "$BASE" "$CON"
check "image: the console's initrd begins with the other, byte for byte" 0 $?

e2e_start
C_OFF=$(e2e_config)
C_ON=$W/configuration-console.toml
sed 's/^debug_console_enabled = .*/debug_console_enabled = true/' "$C_OFF" > "$C_ON"
grep -q '^debug_console_enabled = true' "$C_ON" || not_ok "console configuration" "no debug_console_enabled in $C_OFF"
RUN="timeout 120 $CTR run -d $F $R"

$RUN --runtime-config-path "$C_ON" $IMG kce2e-dbg /bin/sleep 600 > /dev/null 2>&1
wait_state kce2e-dbg RUNNING
check "console on: the pod runs" RUNNING "$(task_state kce2e-dbg)"
qargs=$(ps -eo args | grep -F -- "-name kata-kce2e-dbg " | grep -v grep)
[[ $qargs == *"-initrd $CON "* && $qargs == *"name=console.0"* && $qargs == *"agent.debug_console"* ]] &&
	ok "console on: the VM boots the console initrd, has the port, agent.debug_console" ||
	not_ok "console on: the VM boots the console initrd, has the port, agent.debug_console" "$qargs"
[ -S /run/vc/vm/kce2e-dbg/console.sock ] && ok "console on: console.sock in the VM's run dir" ||
	not_ok "console on: console.sock in the VM's run dir"

out=$(timeout 60 "$KR" exec kce2e-dbg uname -r 2>&1 < /dev/null)
rc=$?
check "exec uname -r: status 0" 0 $rc
[[ $out =~ ^6\.1\.0-[0-9]+-cloud-amd64$ ]] && ok "exec uname -r: the guest kernel ($out)" ||
	not_ok "exec uname -r: the guest kernel" "got [$out]"
timeout 60 "$KR" exec kce2e-dbg sh -c 'exit 3' < /dev/null > /dev/null 2>&1
check "exec sh -c 'exit 3': status 3" 3 $?
out=$(timeout 60 "$KR" exec kce2e-dbg 'echo out; echo err >&2' 2> "$W/exec.err" < /dev/null)
check "exec: stdout" "out" "$out"
check "exec: stderr apart" "err" "$(cat "$W/exec.err")"
out=$(printf 'line1\nline2\n' | timeout 60 "$KR" exec kce2e-dbg wc -l 2>&1)
check "exec: stdin piped, EOF passed on" "2" "$(tr -d ' ' <<< "$out")"
out=$(timeout 60 "$KR" exec kce2e-dbg 'head -c 300000 /dev/zero | tr "\0" x' 2>&1 < /dev/null | wc -c)
check "exec: 300 KB of output arrive whole" "300000" "$(tr -d ' ' <<< "$out")"
out=$(timeout 60 "$KR" exec kce2e-dbg 'kill -9 $$' 2>&1 < /dev/null)
check "exec: a shell killed by SIGKILL: status 137" 137 $?

while read -r line; do
	case $line in
	"ok "*) ok "${line#ok }" ;;
	*) not_ok "${line#not ok }" ;;
	esac
done < <(timeout 300 python3 "$(dirname "$0")/debug-console-pty.py" "$KR" kce2e-dbg 2>&1)

$RUN --runtime-config-path "$C_OFF" $IMG kce2e-nodbg /bin/sleep 600 > /dev/null 2>&1
wait_state kce2e-nodbg RUNNING
qargs=$(ps -eo args | grep -F -- "-name kata-kce2e-nodbg " | grep -v grep)
[[ $qargs == *"-initrd $BASE "* && $qargs != *console.0* && $qargs != *agent.debug_console* ]] &&
	ok "console off: the usual initrd, no port, no agent.debug_console" ||
	not_ok "console off: the usual initrd, no port, no agent.debug_console" "$qargs"
t0=$SECONDS
err=$(timeout 30 "$KR" exec kce2e-nodbg uname -r 2>&1 < /dev/null)
rc=$?
check "console off: exec fails with status 1 at once" "1 yes" "$rc $([ $((SECONDS - t0)) -lt 10 ] && echo yes)"
want="kata-runtime exec: debug console is not enabled for sandbox kce2e-nodbg: set [agent.kata] debug_console_enabled = true (and start the sandbox again)"
[[ $err == *"$want"* ]] && ok "console off: exec says how to enable it" ||
	not_ok "console off: exec says how to enable it" "got [$err]"
err=$(timeout 30 "$KR" exec kce2e-nosuch uname -r 2>&1 < /dev/null)
check "unknown sandbox: exit 1" 1 $?
[[ $err == *"sandbox kce2e-nosuch not found"* ]] && ok "unknown sandbox: named" ||
	not_ok "unknown sandbox: named" "$err"

for id in kce2e-dbg kce2e-nodbg; do
	$CTR tasks kill -s SIGKILL $id > /dev/null 2>&1
	for _ in $(seq 100); do [ "$(task_state $id)" = STOPPED ] && break; sleep 0.1; done
	$CTR tasks delete $id > /dev/null 2>&1
	$CTR containers delete $id > /dev/null 2>&1
	left=$(pod_clean $id) && ok "$id: nothing left" || not_ok "$id: nothing left" "$left"
done
e2e_stop
trap - EXIT
echo "1..$tap_n"
[ $tap_fail = 0 ]
