# SPDX-License-Identifier: Apache-2.0
# Shared by the command-line tests: TAP output and a private temporary dir.
#   . "$(dirname "$0")/lib.sh"
#   run_cmd kata-runtime env      -> $out, $err, $rc
#   ok "description" test-command...
#   done_testing

KATA_RUNTIME=${KATA_RUNTIME:-$KC_BUILD_ROOT/src/cli/kata-runtime}
tmp=$(mktemp -d /tmp/kc-cli-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
tap_n=0
tap_failed=0

# Runs a command, keeping its stdout, stderr and exit status.
run_cmd() {
	rc=0
	"$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

ok() {
	desc=$1
	shift
	tap_n=$((tap_n + 1))
	if "$@"; then
		echo "ok $tap_n - $desc"
	else
		echo "not ok $tap_n - $desc"
		echo "#   rc=$rc"
		printf '%s\n' "$out" | sed 's/^/#   out: /' | head -20
		printf '%s\n' "$err" | sed 's/^/#   err: /' | head -20
		tap_failed=$((tap_failed + 1))
	fi
}

contains() { case "$1" in *"$2"*) return 0 ;; esac; return 1; }
out_has() { contains "$out" "$1"; }
err_has() { contains "$err" "$1"; }
rc_is() { [ "$rc" -eq "$1" ]; }

done_testing() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}
