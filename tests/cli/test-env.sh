#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# kata-runtime env and version, end to end.
set -u
. "$(dirname "$0")/lib.sh"

conf=$KC_SOURCE_ROOT/config/configuration-qemu.toml

run_cmd env KATA_CONF_FILE="$conf" "$KATA_RUNTIME" env
ok "env exits 0 with the shipped configuration" rc_is 0
ok "env prints TOML sections" sh -c 'contains() { case "$1" in *"$2"*) return 0;; esac; return 1; }
  contains "$1" "[Runtime]" && contains "$1" "[Hypervisor]" && contains "$1" "[Host]" && contains "$1" "[Config.hypervisor]"' _ "$out"
ok "env names the configuration file" out_has "Path = \"$conf\""
ok "env shows the resolved kernel" out_has 'Path = "/usr/share/kata-containers/vmlinux.container"'

# The TOML that env prints is itself valid TOML for our own parser: feed it
# back as a configuration file (unknown sections become warnings).
printf '%s\n' "$out" >"$tmp/env.toml"
run_cmd env KATA_CONF_FILE="$conf" "$KATA_RUNTIME" env --json
ok "env --json exits 0" rc_is 0
ok "env --json is valid JSON with the same sections" sh -c 'printf "%s" "$1" | python3 -c "
import json,sys
d=json.load(sys.stdin)
assert d[\"Hypervisor\"][\"MachineType\"]==\"microvm\", d[\"Hypervisor\"]
assert d[\"Config\"][\"hypervisor\"][\"default_memory\"]==2048
assert d[\"Host\"][\"CPU\"][\"CPUs\"]>=1
"' _ "$out"
python3 - "$tmp/env.toml" <<'PY' >/dev/null 2>&1
import sys
try:
    import tomllib
except ImportError:
    sys.exit(0)
tomllib.load(open(sys.argv[1], 'rb'))
PY
rc=$?
ok "env's TOML output parses as TOML" rc_is 0

run_cmd env KATA_CONF_FILE="$conf" "$KATA_RUNTIME" env --bogus
ok "env rejects an unknown option with exit 2" rc_is 2
ok "env names the unknown option" err_has '`--bogus`'

printf '[hypervisor.qemu]\ndefault_memory = "lots"\n' >"$tmp/bad.toml"
run_cmd env KATA_CONF_FILE="$tmp/bad.toml" "$KATA_RUNTIME" env
ok "env fails on a bad configuration" rc_is 1
ok "env's error names file, line, column and key" \
	err_has "$tmp/bad.toml:2:18: hypervisor.qemu.default_memory: expected an integer"

run_cmd "$KATA_RUNTIME" version
ok "version exits 0" rc_is 0
ok "version prints the version and the commit" sh -c 'case "$1" in *"kata-runtime  : "*"commit   : "*) exit 0;; esac; exit 1' _ "$out"
run_cmd "$KATA_RUNTIME" --version
ok "--version is the version command" out_has "kata-runtime  : "

run_cmd "$KATA_RUNTIME" frobnicate
ok "an unknown command exits 2" rc_is 2
ok "an unknown command is named" err_has 'unknown command `frobnicate`'
run_cmd "$KATA_RUNTIME"
ok "no command exits 2" rc_is 2
run_cmd "$KATA_RUNTIME" --log-level loud env
ok "a bad log level is named" err_has 'unknown log level `loud`'

printf '[hypervisor.qemu]\n[runtime]\nenable_debug = true\n' >"$tmp/debug.toml"
run_cmd env KATA_CONF_FILE="$tmp/debug.toml" "$KATA_RUNTIME" env
ok "[runtime] enable_debug turns on debug records in logfmt" \
	err_has "level=debug msg=\"loaded configuration $tmp/debug.toml\" source=runtime name=kata-runtime pid="
run_cmd env KATA_CONF_FILE="$tmp/debug.toml" "$KATA_RUNTIME" --log-level info env
ok "--log-level wins over enable_debug" sh -c '! printf "%s" "$1" | grep -q "level=debug"' _ "$err"
run_cmd env KATA_CONF_FILE="$conf" "$KATA_RUNTIME" --debug --log "$tmp/kc.log" env
ok "--log sends records to a file" sh -c 'grep -q "^time=.* level=debug msg=\"loaded configuration" "$1" && [ -z "$2" ]' _ "$tmp/kc.log" "$err"

done_testing
