#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Builds a libFuzzer target with clang and runs it for a bounded time,
# reporting one TAP case.  Usage: run-fuzz.sh TARGET   (toml, ttrpc, oci,
# cgroup, agent, shim, pbjson)
#
#   KC_FUZZ_SECONDS  how long to fuzz (default 60)
#   KC_SOURCE_ROOT   the source tree (default: two levels above this script)
#   KC_BUILD_ROOT    where an input that broke the fuzzer is kept, under
#                    fuzz-artifacts/TARGET/ (it is also printed in hex)
#   KC_FUZZ_CC       the compiler (default clang)
#
# A target is one `case` below: its harness, the sources it compiles
# directly (the fuzzer needs its own instrumentation, so the meson build is
# not reused), its seed files, whether it needs the C generated from
# src/proto, extra include directories and libraries; tests/fuzz/TARGET.dict, when it exists, is
# its dictionary.
set -u

target=${1:-}
seconds=${KC_FUZZ_SECONDS:-60}
src_root=${KC_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
cc=${KC_FUZZ_CC:-clang}

not_ok() {
	echo "1..1"
	echo "not ok 1 - fuzz $target: $1"
	exit 1
}

protos=no
build_config=no
incs=
libs=
case $target in
cgroup)
	# The agent's cgroupsPath and linux.resources handling.
	harness=tests/fuzz/fuzz_cgroup.c
	sources="src/agent/cgroup/cgroup.c src/agent/cgroup/cgroup_resources.c src/lib/error.c src/lib/util.c src/lib/log.c src/lib/json.c"
	seed_files="tests/fuzz/cgroup-seeds/*.json"
	protos=yes
	libs="-ljansson -lprotobuf-c"
	;;
toml)
	# The TOML parser, and kata-c's configuration loaded from it.
	harness=tests/fuzz/fuzz_toml.c
	sources="src/lib/[a-z]*.c"
	seed_files="tests/data/toml/*.toml tests/data/toml/*/*.toml config/*.toml"
	build_config=yes
	libs="-ljansson"
	;;
ttrpc)
	harness=tests/ttrpc/fuzz_ttrpc.c
	sources="src/ttrpc/[a-z]*.c src/lib/error.c src/lib/util.c src/lib/log.c"
	seed_files="tests/ttrpc/fuzz-seeds/*.bin"
	protos=yes
	libs="-lprotobuf-c -lpthread"
	;;
oci)
	harness=tests/fuzz/fuzz_oci.c
	sources="src/oci/[a-z]*.c src/lib/error.c src/lib/util.c src/lib/json.c"
	seed_files="tests/data/oci/*.json"
	libs="-ljansson"
	;;
pbjson)
	# kata-agent-ctl's JSON <-> protobuf mapping, over the agent's messages.
	harness=tests/fuzz/fuzz_pbjson.c
	sources="src/cli/pbjson.c src/lib/error.c src/lib/util.c src/lib/log.c src/lib/json.c"
	seed_files="tests/fuzz/pbjson-seeds/*"
	protos=yes
	libs="-ljansson -lprotobuf-c"
	;;
shim)
	# containerd's Task service as the shim serves it; see the harness for
	# the fence around it.
	harness=tests/shim/fuzz_shim.c
	# (plus the shim's and the runtime's sources, listed below from the root)
	sources="src/ttrpc/[a-z]*.c src/lib/[a-z]*.c src/oci/[a-z]*.c"
	seed_files="tests/shim/fuzz-seeds/*.bin"
	protos=yes
	build_config=yes
	# tcfilter.c builds the u32 selector and its key as the kernel reads
	# them, one after the other: a GNU extension clang names.
	incs="-I src/shim -Wno-gnu-variable-sized-type-not-at-end"
	libs="-lprotobuf-c -ljansson -lpthread"
	;;
agent)
	# The agent's service on a ttrpc server; see the harness for the
	# fence (own network namespace, no fork or exec) around it.
	harness=tests/agent/fuzz_agent.c
	# (plus every source of src/agent but main.c, listed below from the root)
	sources="src/ttrpc/[a-z]*.c src/lib/error.c src/lib/util.c src/lib/log.c"
	sources="$sources src/lib/json.c src/lib/path.c src/lib/netlink.c src/lib/console_proto.c src/oci/[a-z]*.c"
	seed_files="tests/agent/fuzz-seeds/*.bin"
	protos=yes
	build_config=yes
	libs="-lprotobuf-c -ljansson -lseccomp -lz -lpthread"
	;;
*)
	not_ok "unknown target \`$target\` (known: toml, ttrpc, agent, shim, oci, cgroup, pbjson)"
	;;
esac

cd "$src_root" || not_ok "cannot enter $src_root"
if [ "$target" = agent ]; then
	sources="$(find src/agent -name '[a-z]*.c' ! -path src/agent/main.c | sort | tr '\n' ' ') $sources"
fi
if [ "$target" = shim ]; then
	sources="$(ls src/shim/[a-z]*.c | grep -v '/main\.c$' | tr '\n' ' ') $sources"
	sources="$sources $(find src/host src/hypervisor src/network src/sandbox -name '[a-z]*.c' | sort | tr '\n' ' ')"
fi

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "1..0 # SKIP $cc not found"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kc-fuzz-$target.XXXXXX") || not_ok "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# A toolchain without the libFuzzer runtime is a skip, not a failure.
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n; }' >"$tmp/probe.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined "$tmp/probe.c" -o "$tmp/probe" >/dev/null 2>&1; then
	echo "1..0 # SKIP $cc cannot build libFuzzer targets (install libclang-rt-dev)"
	exit 0
fi

if [ "$protos" = yes ]; then
	# The protobuf C code, generated as the meson build does.
	mkdir "$tmp/proto"
	if ! protoc-c --proto_path=src/proto --c_out="$tmp/proto" src/proto/[a-z]*.proto \
		>"$tmp/build.log" 2>&1; then
		echo "1..1"
		echo "not ok 1 - fuzz $target: protoc-c failed"
		sed 's/^/# /' "$tmp/build.log"
		exit 1
	fi
	sources="$sources $tmp/proto/*.pb-c.c"
fi

if [ "$build_config" = yes ]; then
	# What meson's configure_file() gives the agent and the configuration.
	mkdir -p "$tmp/proto"
	cat >"$tmp/proto/kc-build-config.h" <<EOF
#define KC_VERSION "fuzz"
#define KC_DEFAULTS_DIR "/usr/share/defaults/kata-containers"
#define KC_ETC_DIR "/etc/kata-containers"
#define KC_SHARE_DIR "/usr/share/kata-containers"
#define KC_LIBEXEC_DIR "/usr/libexec"
EOF
fi

# shellcheck disable=SC2086 # $sources, $incs, $libs: paths and flags without spaces
if ! "$cc" -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -std=gnu11 -Wall -Wextra -Werror -I src -D_GNU_SOURCE \
	-I "$tmp/proto" $incs "$harness" $sources $libs -o "$tmp/fuzzer" >"$tmp/build.log" 2>&1; then
	echo "1..1"
	echo "not ok 1 - fuzz $target: the fuzzer does not build"
	sed 's/^/# /' "$tmp/build.log"
	exit 1
fi

mkdir "$tmp/corpus"
seeds=0
# shellcheck disable=SC2086 # $seed_files: globs
for f in $seed_files; do
	[ -f "$f" ] || continue
	seeds=$((seeds + 1))
	cp "$f" "$tmp/corpus/seed-$seeds"
done
dict=
[ -f "tests/fuzz/$target.dict" ] && dict=-dict=tests/fuzz/$target.dict

# Leak detection stays on: a leak on an error path fails the run too.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1"
UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS UBSAN_OPTIONS

# -timeout and -rss_limit_mb turn hangs and memory blow-ups into failures.
# shellcheck disable=SC2086 # $dict: empty or one word
"$tmp/fuzzer" $dict -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-detect_leaks=1 -print_final_stats=1 -artifact_prefix="$tmp/" \
	"$tmp/corpus" >"$tmp/fuzz.log" 2>&1
rc=$?

done_line=$(grep '^Done [0-9]* runs in [0-9]* second' "$tmp/fuzz.log" | tail -n 1)
runs=$(echo "$done_line" | sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p')
secs=$(echo "$done_line" | sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p')
inputs=$(find "$tmp/corpus" -type f | wc -l)

echo "1..1"
if [ "$rc" -eq 0 ] && [ -n "$runs" ]; then
	echo "ok 1 - fuzz $target $runs runs in ${secs}s ($seeds seeds, corpus grew to $inputs inputs)"
	exit 0
fi

echo "not ok 1 - fuzz $target: the fuzzer failed (exit $rc)"
keep=
if [ -n "${KC_BUILD_ROOT:-}" ] && mkdir -p "$KC_BUILD_ROOT/fuzz-artifacts/$target"; then
	keep=$KC_BUILD_ROOT/fuzz-artifacts/$target
	cp "$tmp/fuzzer" "$keep/fuzzer"
fi
for a in "$tmp"/crash-* "$tmp"/leak-* "$tmp"/timeout-* "$tmp"/oom-* "$tmp"/slow-unit-*; do
	[ -f "$a" ] || continue
	if [ -n "$keep" ] && cp "$a" "$keep/"; then
		echo "# replay: $keep/fuzzer $keep/${a##*/}"
	fi
	echo "# the input, ${a##*/} (first 512 bytes):"
	head -c 512 "$a" | od -A x -t x1z -v | sed 's/^/#   /'
done
# The report: from the sanitizer's or libFuzzer's first error line on.
awk 'p || /ERROR|runtime error|Sanitizer|deadly signal/ { p = 1; print "# " $0 }' "$tmp/fuzz.log" |
	head -n 200
exit 1
