#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The shim's start and delete subcommands, as containerd runs them.  TAP.
set -u
SHIM=${KC_BUILD_ROOT:-build-test}/src/shim/containerd-shim-kata-v2
T=$(mktemp -d /tmp/kc-shim-cli.XXXXXX)
ID=kccli$$
ADDR=$T/containerd.sock
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else nok "$1" "expected [$2]" "got [$3]"; fi; }

mkdir -p "$T/b1" "$T/b2" "$T/b3"
echo '{"process":{"args":["true"]}}' > "$T/b1/config.json"
printf '{"process":{"args":["true"]},"annotations":{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.sandbox-id":"%s"}}' "$ID" > "$T/b2/config.json"
printf '{"process":{"args":["true"]},"annotations":{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.sandbox-id":"nosuch%s"}}' "$ID" > "$T/b3/config.json"

# start: only the address on stdout, exit 0, the daemon holds no pipe
# (the command substitution would wait for it otherwise).
out=$(cd "$T/b1" && timeout 10 "$SHIM" -namespace ns1 -address "$ADDR" -publish-binary /bin/true -id "$ID" start < /dev/null 2>&1)
rc=$?
check "start exits 0" 0 $rc
case "$out" in unix:///run/kata-containers/s/[0-9a-f]*.sock) ok "start prints only unix:///path" ;; *) nok "start prints only unix:///path" "got [$out]" ;; esac
check "start writes the bundle's address file" "$out" "$(cat "$T/b1/address" 2> /dev/null)"
sock=${out#unix://}
pid=$(cat "$sock.pid" 2> /dev/null)
[ -n "$pid" ] && kill -0 "$pid" 2> /dev/null && ok "the daemon runs" || nok "the daemon runs"
[ -S "$sock" ] && ok "the daemon listens" || nok "the daemon listens"
fds=$(ls -l /proc/$pid/fd 2> /dev/null | grep -c pipe)
check "the daemon holds no pipe" 0 "$fds"

# A container of that pod: the same address, no second daemon.
out2=$(cd "$T/b2" && timeout 10 "$SHIM" -namespace ns1 -address "$ADDR" -publish-binary /bin/true -id "c2$ID" start < /dev/null 2>&1)
check "a pod's container gets the pod's shim" "$out" "$out2"
n_shims=$(ps -eo args | grep -c "[c]ontainerd-shim-kata-v2 -namespace ns1 -address $ADDR")
check "one shim for the pod" 1 "$n_shims"
out3=$(cd "$T/b3" && timeout 10 "$SHIM" -namespace ns1 -address "$ADDR" -publish-binary /bin/true -id "c3$ID" start < /dev/null 2>&1)
rc=$?
[ $rc -ne 0 ] && ok "a container of an unknown pod: start fails" || nok "a container of an unknown pod: start fails"
case "$out3" in *"no shim runs for sandbox \`nosuch$ID\`"*) ok "... naming the sandbox" ;; *) nok "... naming the sandbox" "$out3" ;; esac

[ -n "$pid" ] && kill -TERM "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
kill -0 "$pid" 2> /dev/null && nok "SIGTERM stops the daemon" || ok "SIGTERM stops the daemon"
[ -e "$sock" ] && nok "its socket is removed" || ok "its socket is removed"

# delete after a dead shim: what it left is killed, unmounted, removed.
SB=/run/kata-containers/shared/sandboxes/$ID
mkdir -p "$SB/mounts/c/rootfs" "$T/src" /run/vc/vm/$ID
mount --bind "$T/src" "$SB/mounts/c/rootfs"
python3 -c "import time; time.sleep(300)" /run/vc/vm/$ID/marker > /dev/null 2>&1 &
bpid=$!
(cd "$T/b1" && "$SHIM" -namespace ns1 -address "$ADDR" -publish-binary /bin/true -id "$ID" delete > "$T/del.out" 2> "$T/del.err")
check "delete exits 0" 0 $?
# DeleteResponse: field 2 (exit_status) = 137 as varint 0x89 0x01, then exited_at.
hex=$(od -An -tx1 "$T/del.out" | tr -d ' \n')
case "$hex" in 1089011a*) ok "delete prints a DeleteResponse (exit 137, exited_at)" ;; *) nok "delete prints a DeleteResponse" "$hex" ;; esac
# Killed: a zombie of this shell (or gone), not running.
state=$(awk '{print $3}' /proc/$bpid/stat 2> /dev/null)
if [ -n "$state" ] && [ "$state" != Z ]; then
	nok "delete kills the dead sandbox's processes"
	kill -KILL $bpid
else
	ok "delete kills the dead sandbox's processes"
fi
wait $bpid 2> /dev/null
check "delete unmounts the sandbox" 0 "$(grep -c "$SB" /proc/self/mountinfo)"
[ -e "$SB" ] || [ -e /run/vc/vm/$ID ] && nok "delete removes the sandbox dirs" || ok "delete removes the sandbox dirs"
(cd "$T/b1" && "$SHIM" -namespace ns1 -address "$ADDR" -publish-binary /bin/true -id "$ID" delete > /dev/null 2>&1)
check "delete again: still 0" 0 $?
out=$("$SHIM" -namespace ns1 -id "../x" delete 2>&1)
case "$out" in *"id \`../x\`"*) ok "delete refuses a bad id" ;; *) nok "delete refuses a bad id" "$out" ;; esac

rm -rf "$T"
echo "1..$n"
[ $fails = 0 ]
