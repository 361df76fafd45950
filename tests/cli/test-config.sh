#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The configuration lookup order and its errors, through kata-runtime env.
# The default locations are hidden or filled in a private mount namespace,
# so the host's own files are neither used nor touched.
set -u
. "$(dirname "$0")/lib.sh"

etc=/etc/kata-containers
defaults=/usr/share/defaults/kata-containers

# Runs kata-runtime with empty tmpfs mounts over the default directories,
# after running "$setup" inside the namespace.
in_ns() {
	setup=$1
	shift
	run_cmd unshare -m sh -c '
		set -e
		mkdir -p '"$etc"' '"$defaults"' 2>/dev/null || true
		mount --make-rprivate /
		mount -t tmpfs kc-test '"$etc"'
		mount -t tmpfs kc-test '"$defaults"'
		'"$setup"'
		exec "$@"' sh "$@"
}

# mkdir on the host may have created the directories; remove them only if
# this test created them and they are still empty.
created=""
for d in $etc /usr/share/defaults $defaults; do [ -d "$d" ] || created="$d $created"; done

unset KATA_CONF_FILE
in_ns "" "$KATA_RUNTIME" env
ok "no configuration anywhere: exit 1" rc_is 1
ok "the error names every path it looked at" sh -c '
	case "$1" in *"no configuration file found"*"'"$etc"'/configuration.toml"*"'"$defaults"'/configuration.toml"*) exit 0;; esac; exit 1' _ "$err"

in_ns "printf '[hypervisor.qemu]\ndefault_vcpus = 2\n' > $defaults/configuration.toml" "$KATA_RUNTIME" env --json
ok "the defaults directory is used when nothing else exists" rc_is 0
ok "... and its values are read" out_has '"default_vcpus": 2'

in_ns "printf '[hypervisor.qemu]\ndefault_vcpus = 2\n' > $defaults/configuration.toml; printf '[hypervisor.qemu]\ndefault_vcpus = 3\n' > $etc/configuration.toml" "$KATA_RUNTIME" env --json
ok "/etc wins over the defaults directory" out_has '"default_vcpus": 3'

printf '[hypervisor.qemu]\ndefault_vcpus = 4\n' >"$tmp/env.toml"
in_ns "printf '[hypervisor.qemu]\ndefault_vcpus = 3\n' > $etc/configuration.toml" env KATA_CONF_FILE="$tmp/env.toml" "$KATA_RUNTIME" env --json
ok "KATA_CONF_FILE wins over /etc" out_has '"default_vcpus": 4'

printf '[hypervisor.qemu]\ndefault_vcpus = 5\n' >"$tmp/explicit.toml"
in_ns "" env KATA_CONF_FILE="$tmp/env.toml" "$KATA_RUNTIME" --config "$tmp/explicit.toml" env --json
ok "--config wins over KATA_CONF_FILE" out_has '"default_vcpus": 5'

in_ns "" env KATA_CONF_FILE="$tmp/nope.toml" "$KATA_RUNTIME" env
ok "a missing KATA_CONF_FILE is an error naming it" err_has "$tmp/nope.toml"

printf '[hypervisor.qemu]\nfoo_bar = 1\n' >"$tmp/unknown.toml"
run_cmd env KATA_CONF_FILE="$tmp/unknown.toml" "$KATA_RUNTIME" env --json
ok "an unknown key is not an error" rc_is 0
ok "an unknown key is reported as a warning with its place" out_has "unknown.toml:2:11: unknown key \`hypervisor.qemu.foo_bar\`"

for bad in \
	'[hypervisor.qemu]\npath = "/usr/bin/qemu|2:8: unterminated' \
	'[hypervisor.qemu]\nshared_fs = "nfs"\n|2:13: hypervisor.qemu.shared_fs: `nfs` is not one of' \
	'[hypervisor.qemu]\ndefault_vcpus = 1\ndefault_vcpus = 2\n|3:1: duplicate key' \
	'[hypervisor.qemu]\nkernel_params = "a\\qb"\n|2:' \
	'[hypervisor.clh]\n|[hypervisor.clh] is not supported'
do
	text=${bad%%|*}
	want=${bad#*|}
	printf "$text" >"$tmp/bad.toml"
	run_cmd env KATA_CONF_FILE="$tmp/bad.toml" "$KATA_RUNTIME" env
	ok "bad configuration rejected: $want" sh -c '[ "$1" -eq 1 ] && case "$2" in *"$3"*) exit 0;; esac; exit 1' _ "$rc" "$err" "$want"
done

for d in $created; do rmdir "$d" 2>/dev/null; done
ok "no mount left behind" sh -c '! grep -q kc-test /proc/mounts'

done_testing
