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
ok "the shipped configuration loads without a warning" out_has "Warnings = []"
ok "env marks a key kata-c does not implement" out_has "  memory_slots = 10  # not implemented by kata-c"
ok "... and not one it implements" sh -c 'printf "%s\n" "$1" | grep -qx "  default_memory = 2048"' _ "$out"

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

# A key kata-c does not implement, set: marked, and a warning with its place.
printf '[hypervisor.qemu]\nenable_hugepages = true\n[factory]\nenable_template = true\n' >"$tmp/ni.toml"
run_cmd env KATA_CONF_FILE="$tmp/ni.toml" "$KATA_RUNTIME" env
ok "env with a not-implemented key set exits 0" rc_is 0
ok "env marks the key" out_has "  enable_hugepages = true  # not implemented by kata-c"
ok "... in every section" out_has "  enable_template = true  # not implemented by kata-c"
ok "... and lists the warning with file:line:col" \
	out_has "$tmp/ni.toml:2:20: [hypervisor.qemu] enable_hugepages = true: not implemented by kata-c (ignored)"
run_cmd env KATA_CONF_FILE="$tmp/ni.toml" "$KATA_RUNTIME" env --json
printf '%s' "$out" >"$tmp/ni.json"
ok "env --json lists the not-implemented keys and the warnings" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
ni = d["Config"]["not_implemented"]
assert "hypervisor.enable_hugepages" in ni and "factory.enable_template" in ni, ni
assert "hypervisor.default_memory" not in ni and "agent.kernel_modules" not in ni, ni
w = d["Runtime"]["Config"]["Warnings"]
assert len(w) == 2, w
assert w[0] == sys.argv[2] + ":2:20: [hypervisor.qemu] enable_hugepages = true: not implemented by kata-c (ignored)", w
assert w[1] == sys.argv[2] + ":4:19: [factory] enable_template = true: not implemented by kata-c (ignored)", w
assert d["Config"]["hypervisor"]["enable_hugepages"] is True
' "$tmp/ni.json" "$tmp/ni.toml"

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
