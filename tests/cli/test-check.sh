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
ok "check prints one line per check" sh -c 'for n in configuration "configuration keys" cpu "cpu virtualisation" kvm "kvm extensions" "kvm native speed" vhost-vsock qemu "qemu microvm" virtiofsd "guest kernel" "guest initrd" cgroups; do
	printf "%s\n" "$1" | grep -Eq "^(PASS|WARN|FAIL)  $n " || exit 1; done' _ "$out"
ok "check prints a verdict" out_has "System is capable of running kata-c containers"
ok "no key kata-c ignores is set" out_has "PASS  configuration keys   no key that kata-c does not implement is set"
ok "vhost-net is said not to be used (NICs run with vhost=off)" \
	out_has "PASS  vhost-net            not used: NICs go through QEMU's user-space virtio-net (vhost=off)"

if [ ! -e /dev/kvm ]; then
	# No KVM at all (some hosts of this kind lose /dev/kvm): TCG, said so.
	ok "without /dev/kvm check says so" out_has 'WARN  kvm                  open `/dev/kvm`: No such file or directory (VMs will use TCG)'
	ok "... and the checks that need it say they were not run" out_has "WARN  kvm native speed     not checked: no usable /dev/kvm (VMs will use TCG)"
	ok "check says TCG will be used" out_has "System is capable of running kata-c containers (using TCG"
elif [ -e /sys/module/kvm_pvm ]; then
	# This machine's KVM emulates guest kernel code: the probe must say so.
	ok "the KVM probe reports KVM as not native here" out_has "WARN  kvm native speed     KVM cannot run a normal guest at native speed"
	ok "... with the loop's figures" sh -c 'printf "%s" "$1" | grep -Eq "runs [0-9]+x slower than on the host \([0-9.]+ ns per loop iteration vs [0-9.]+ ns\)"' _ "$out"
	ok "check says TCG will be used, and why" out_has "System is capable of running kata-c containers (using TCG: KVM cannot run a normal guest at native speed here: guest kernel-mode code runs"

	run_cmd env KATA_CONF_FILE="$tmp/good.toml" "$KATA_RUNTIME" check --strict
	ok "--strict fails when kata-c would fall back to TCG" rc_is 1
	ok "--strict shows the fallback as a failure" out_has "FAIL  kvm native speed"
	ok "... and the verdict says why" out_has "System cannot run kata-c containers (--strict: warnings count as failures)"
	ok "... listing the fallback" out_has "  - kvm native speed: KVM cannot run a normal guest at native speed"

	write_conf "$tmp/kvm.toml" 'accel = "kvm"'
	run_cmd env KATA_CONF_FILE="$tmp/kvm.toml" "$KATA_RUNTIME" check
	ok "accel = kvm fails when KVM is not native" rc_is 1
	ok "... saying so" out_has 'FAIL  kvm native speed     accel = "kvm" is configured, but KVM cannot run a normal guest at native speed'
fi

# A key kata-c reads but does not implement, set: a warning naming it, a
# failure with --strict.
write_conf "$tmp/ni.toml" 'enable_iommu = true' 'memory_slots = 10'
run_cmd env KATA_CONF_FILE="$tmp/ni.toml" "$KATA_RUNTIME" check
ok "a not-implemented key set is a warning, naming file:line:col and key" \
	out_has "WARN  configuration keys   1 key set but not implemented by kata-c: $tmp/ni.toml:4:16: [hypervisor.qemu] enable_iommu = true: not implemented by kata-c (ignored)"
ok "... and not a failure without --strict" sh -c '! printf "%s\n" "$1" | grep -q "^FAIL  configuration"' _ "$out"
ok "... while a key at its default (memory_slots = 10) says nothing" sh -c '! printf "%s" "$1" | grep -q memory_slots' _ "$out"
run_cmd env KATA_CONF_FILE="$tmp/ni.toml" "$KATA_RUNTIME" check --strict
ok "check --strict fails on it" rc_is 1
ok "... as a failed check" out_has "FAIL  configuration keys   1 key set but not implemented by kata-c:"
ok "... that the verdict lists, with the key" \
	out_has "  - configuration keys: 1 key set but not implemented by kata-c: $tmp/ni.toml:4:16: [hypervisor.qemu] enable_iommu = true"
run_cmd env KATA_CONF_FILE="$tmp/ni.toml" "$KATA_RUNTIME" check --strict --json
printf '%s' "$out" >"$tmp/ni.json"
ok "... in JSON too" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
k = [c for c in d["checks"] if c["name"] == "configuration keys"][0]
assert k["status"] == "fail", k
assert k["details"]["not_implemented"] == [sys.argv[2] + ":4:16: [hypervisor.qemu] enable_iommu = true: not implemented by kata-c (ignored)"], k
assert d["capable"] is False and "configuration keys" in d["verdict"], d
' "$tmp/ni.json" "$tmp/ni.toml"

# Every VM shares through virtio-fs, whatever shared_fs says: virtiofsd is
# checked anyway.
write_conf "$tmp/nofs.toml" 'shared_fs = "none"' 'virtio_fs_daemon = "/bin/true"'
run_cmd env KATA_CONF_FILE="$tmp/nofs.toml" "$KATA_RUNTIME" check
ok "shared_fs = none still checks virtiofsd" out_has "FAIL  virtiofsd            \`/bin/true --version\` does not look like virtiofsd"
ok "... and warns that shared_fs is not implemented" out_has '[hypervisor.qemu] shared_fs = "none": not implemented by kata-c (ignored)'

write_conf "$tmp/tcg.toml" 'accel = "tcg"'
run_cmd env KATA_CONF_FILE="$tmp/tcg.toml" "$KATA_RUNTIME" check --strict
ok "accel = tcg does not need KVM, even with --strict" sh -c '[ "$1" -eq 0 ] || printf "%s" "$2" | grep -q "^FAIL  \(vhost\|tun\)"' _ "$rc" "$out"
ok "accel = tcg says so" out_has 'not used (accel = "tcg")'

run_cmd env KATA_CONF_FILE="$tmp/good.toml" "$KATA_RUNTIME" check --json --verbose
ok "--json exits like the text form" rc_is 0
printf '%s' "$out" >"$tmp/check.json"
ok "--json is one JSON document with every check" python3 -c '
import json, os, sys
d = json.load(open(sys.argv[1]))
names = [c["name"] for c in d["checks"]]
for n in ["configuration", "configuration keys", "cpu", "cpu virtualisation", "kvm extensions", "kvm", "kvm native speed", "vhost-vsock",
          "vhost-net", "qemu", "qemu microvm", "virtiofsd", "guest kernel", "guest initrd", "cgroups"]:
    assert n in names, n
for c in d["checks"]:
    assert c["status"] in ("pass", "warn", "fail"), c
    assert c["reason"], c
    assert isinstance(c["details"], dict), c
assert d["capable"] is True and d["accelerator"] in ("kvm", "tcg"), d
assert d["verdict"].startswith("System is capable of running kata-c containers"), d
speed = [c for c in d["checks"] if c["name"] == "kvm native speed"][0]
if not os.path.exists("/dev/kvm"):
    assert d["accelerator"] == "tcg" and speed["status"] == "warn", speed
else:
    assert speed["details"]["iterations"] > 0, speed
if os.path.exists("/dev/kvm") and os.path.exists("/sys/module/kvm_pvm"):
    assert d["accelerator"] == "tcg" and speed["status"] == "warn", speed
    assert speed["details"]["ratio"] > 100, speed
' "$tmp/check.json"
ok "--json output passes python3 -m json.tool" python3 -m json.tool "$tmp/check.json" /dev/null

run_cmd env KATA_CONF_FILE="$tmp/good.toml" "$KATA_RUNTIME" check --json --strict
printf '%s' "$out" >"$tmp/strict.json"
ok "--json --strict reports the failures" python3 -c '
import json, os, sys
d = json.load(open(sys.argv[1]))
if not os.path.exists("/dev/kvm") or os.path.exists("/sys/module/kvm_pvm"):
    assert d["capable"] is False and d["failures"] > 0 and d["strict"] is True, d
    assert "kvm native speed" in d["verdict"], d
' "$tmp/strict.json"

run_cmd env KATA_CONF_FILE="$tmp/good.toml" "$KATA_RUNTIME" check --verbose
[ -e /dev/kvm ] && ok "--verbose shows the probe's figures" sh -c 'printf "%s" "$1" | grep -Eq "^      guest_ns_per_iteration: [0-9]+\.[0-9]+$" &&
	printf "%s" "$1" | grep -Eq "^      host_ns_per_iteration: [0-9]+\.[0-9]+$" &&
	printf "%s" "$1" | grep -Eq "^      ratio: [0-9]+\.[0-9]+$"' _ "$out"
[ -e /dev/kvm ] && ok "--verbose lists the KVM extensions" out_has "      KVM_CAP_IRQCHIP: "
ok "--verbose shows values, never null" sh -c '! printf "%s" "$1" | grep -q ": null$"' _ "$out"

rm -f "$tmp/vmlinux"
run_cmd env KATA_CONF_FILE="$tmp/good.toml" "$KATA_RUNTIME" check
ok "a missing guest kernel fails" rc_is 1
ok "... naming the path and the key" out_has "FAIL  guest kernel         $tmp/vmlinux: No such file or directory (hypervisor.qemu.kernel)"
ok "... and the verdict says kata-c cannot run, and why" out_has "System cannot run kata-c containers: guest kernel: $tmp/vmlinux: No such file or directory"
run_cmd env KATA_CONF_FILE="$tmp/good.toml" "$KATA_RUNTIME" check --json
printf '%s' "$out" >"$tmp/nokernel.json"
ok "... in JSON too" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
k = [c for c in d["checks"] if c["name"] == "guest kernel"][0]
assert k["status"] == "fail" and sys.argv[2] in k["reason"], k
assert d["capable"] is False, d
' "$tmp/nokernel.json" "$tmp/vmlinux"
: >"$tmp/vmlinux"

write_conf "$tmp/noqemu.toml" 'path = "/opt/nowhere/qemu-system-x86_64"'
run_cmd env KATA_CONF_FILE="$tmp/noqemu.toml" "$KATA_RUNTIME" check
ok "a missing QEMU fails" rc_is 1
ok "... naming its path" out_has "FAIL  qemu                 execute \`/opt/nowhere/qemu-system-x86_64\`: No such file or directory"

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

run_cmd "$KATA_RUNTIME" --config "$tmp/missing.toml" check
ok "a missing configuration file fails" rc_is 1
ok "... naming it" out_has "FAIL  configuration        configuration file \`$tmp/missing.toml\`: No such file or directory"

run_cmd "$KATA_RUNTIME" check --frobnicate
ok "an unknown flag exits 2" rc_is 2
ok "... and is named" err_has '`--frobnicate`'
run_cmd "$KATA_RUNTIME" check -vx
ok "an unknown short flag is named" sh -c '[ "$1" -eq 2 ] && case "$2" in *"\`-x\`"*) exit 0;; esac; exit 1' _ "$rc" "$err"
run_cmd "$KATA_RUNTIME" check extra
ok "an unexpected argument exits 2, named" sh -c '[ "$1" -eq 2 ] && case "$2" in *"\`extra\`"*) exit 0;; esac; exit 1' _ "$rc" "$err"

# kata-check is the same command (Kata's alias).
ln -s "$KATA_RUNTIME" "$tmp/kata-check"
run_cmd env KATA_CONF_FILE="$tmp/good.toml" "$tmp/kata-check"
ok "kata-check is an alias of kata-runtime check" sh -c '[ "$1" -eq 0 ] && case "$2" in *"System is capable"*) exit 0;; esac; exit 1' _ "$rc" "$out"
run_cmd env KATA_CONF_FILE="$tmp/good.toml" "$KATA_RUNTIME" kata-check --json
ok "kata-runtime kata-check works too" rc_is 0

done_testing
