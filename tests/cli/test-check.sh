#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# kata-runtime check, end to end, with configurations written here.
set -u
. "$(dirname "$0")/lib.sh"

# A guest kernel and initrd that exist: check only looks for them.
: >"$tmp/vmlinux"
: >"$tmp/initrd.img"
write_conf() { # file [extra lines for [hypervisor.qemu]]
	f=$1
	shift
	{
		echo '[hypervisor.qemu]'
		echo "kernel = \"$tmp/vmlinux\""
		echo "initrd = \"$tmp/initrd.img\""
		for l in "$@"; do echo "$l"; done
	} >"$f"
}
write_conf "$tmp/good.toml"

run_cmd env KATA_CONF_FILE="$tmp/good.toml" "$KATA_RUNTIME" check
ok "check passes when QEMU, virtiofsd, kernel and initrd are present" rc_is 0
ok "check prints one line per check" sh -c 'for n in configuration "kvm native speed" vhost-vsock qemu "qemu microvm" virtiofsd "guest kernel" "guest initrd" cgroups; do
	printf "%s\n" "$1" | grep -Eq "^(PASS|WARN|FAIL)  $n " || exit 1; done' _ "$out"
ok "check prints a verdict" out_has "System is capable of running kata-c containers"

if [ -e /sys/module/kvm_pvm ]; then
	# This machine's KVM emulates guest kernel code: the probe must say so.
	ok "the KVM probe reports KVM as not native here" out_has "WARN  kvm native speed     KVM cannot run a normal guest at native speed"
	ok "check says TCG will be used" out_has "Accelerator: tcg (QEMU's software CPU): KVM cannot run a normal guest at native speed"

	run_cmd env KATA_CONF_FILE="$tmp/good.toml" "$KATA_RUNTIME" check --strict
	ok "--strict fails when kata-c would fall back to TCG" rc_is 1
	ok "--strict shows the fallback as a failure" out_has "FAIL  kvm native speed"

	write_conf "$tmp/kvm.toml" 'accel = "kvm"'
	run_cmd env KATA_CONF_FILE="$tmp/kvm.toml" "$KATA_RUNTIME" check
	ok "accel = kvm fails when KVM is not native" rc_is 1
fi

write_conf "$tmp/tcg.toml" 'accel = "tcg"'
run_cmd env KATA_CONF_FILE="$tmp/tcg.toml" "$KATA_RUNTIME" check --strict
ok "accel = tcg does not need KVM, even with --strict" sh -c '[ "$1" -eq 0 ] || printf "%s" "$2" | grep -q "^FAIL  \(vhost\|tun\)"' _ "$rc" "$out"
ok "accel = tcg says so" out_has 'not used (accel = "tcg")'

run_cmd env KATA_CONF_FILE="$tmp/good.toml" "$KATA_RUNTIME" check --json --verbose
ok "--json exits like the text form" rc_is 0
printf '%s' "$out" >"$tmp/check.json"
ok "--json is one JSON document with every check" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
names = [c["name"] for c in d["checks"]]
for n in ["configuration", "cpu virtualisation", "kvm", "kvm native speed", "vhost-vsock",
          "vhost-net", "qemu", "qemu microvm", "virtiofsd", "guest kernel", "guest initrd", "cgroups"]:
    assert n in names, n
for c in d["checks"]:
    assert c["status"] in ("pass", "warn", "fail"), c
    assert c["reason"], c
assert d["capable"] is True and d["accelerator"] in ("kvm", "tcg")
' "$tmp/check.json"

run_cmd env KATA_CONF_FILE="$tmp/good.toml" "$KATA_RUNTIME" check --verbose
ok "--verbose shows the probe's figures" out_has "GuestNs:"

rm -f "$tmp/vmlinux"
run_cmd env KATA_CONF_FILE="$tmp/good.toml" "$KATA_RUNTIME" check
ok "a missing guest kernel fails" rc_is 1
ok "... naming the path and the key" out_has "FAIL  guest kernel         $tmp/vmlinux: No such file or directory (hypervisor.qemu.kernel)"
ok "... and the verdict says kata-c cannot run" out_has "System cannot run kata-c containers"
: >"$tmp/vmlinux"

write_conf "$tmp/noqemu.toml" 'path = "/opt/nowhere/qemu-system-x86_64"'
run_cmd env KATA_CONF_FILE="$tmp/noqemu.toml" "$KATA_RUNTIME" check
ok "a missing QEMU fails" rc_is 1
ok "... naming its path" out_has "FAIL  qemu                 run \`/opt/nowhere/qemu-system-x86_64\`: No such file or directory"

write_conf "$tmp/fsd.toml" 'virtio_fs_daemon = "/bin/true"'
run_cmd env KATA_CONF_FILE="$tmp/fsd.toml" "$KATA_RUNTIME" check
ok "a virtio_fs_daemon that is not virtiofsd fails" out_has "FAIL  virtiofsd            \`/bin/true --version\` does not look like virtiofsd"

write_conf "$tmp/big.toml" "default_vcpus = $(($(nproc) + 1))"
run_cmd env KATA_CONF_FILE="$tmp/big.toml" "$KATA_RUNTIME" check
ok "more vCPUs than the host has fails" out_has "FAIL  sizing"

printf '[hypervisor.qemu]\ndefault_vcpus = "x"\n' >"$tmp/bad.toml"
run_cmd env KATA_CONF_FILE="$tmp/bad.toml" "$KATA_RUNTIME" check
ok "a broken configuration fails the check" rc_is 1
ok "... with its place and key" out_has "FAIL  configuration        $tmp/bad.toml:2:17: hypervisor.qemu.default_vcpus: expected an integer"

run_cmd "$KATA_RUNTIME" check --frobnicate
ok "an unknown flag exits 2" rc_is 2
ok "... and is named" err_has '`--frobnicate`'

# kata-check is the same command (Kata's alias).
ln -s "$KATA_RUNTIME" "$tmp/kata-check"
run_cmd env KATA_CONF_FILE="$tmp/good.toml" "$tmp/kata-check"
ok "kata-check is an alias of kata-runtime check" sh -c '[ "$1" -eq 0 ] && case "$2" in *"System is capable"*) exit 0;; esac; exit 1' _ "$rc" "$out"
run_cmd env KATA_CONF_FILE="$tmp/good.toml" "$KATA_RUNTIME" kata-check --json
ok "kata-runtime kata-check works too" rc_is 0

done_testing
