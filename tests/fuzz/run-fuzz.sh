#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds a libFuzzer target with clang and runs it for a bounded time,
# printing TAP.  Usage: run-fuzz.sh TARGET   (toml)
# KC_FUZZ_SECONDS sets the time (default 60).  Leak detection is on; a
# crash, leak, timeout or sanitizer report fails the test and its input is
# printed (base64) so that it can be replayed.
set -u
target=${1:?usage: run-fuzz.sh TARGET}
src=${KC_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
seconds=${KC_FUZZ_SECONDS:-60}

case "$target" in
toml)
	sources="tests/fuzz/fuzz_toml.c src/lib/toml.c src/lib/error.c src/lib/util.c"
	seeds="tests/data/toml config"
	dict="-dict=tests/fuzz/toml.dict"
	;;
*)
	echo "1..0 # unknown fuzz target $target"
	exit 2
	;;
esac

work=$(mktemp -d /tmp/kc-fuzz-$target.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM

echo "1..1"
cd "$src" || exit 1
# shellcheck disable=SC2086
if ! clang -g -O1 -std=gnu11 -D_GNU_SOURCE -I src -I "$work" \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-o "$work/fuzz" $sources -lm 2>"$work/build.log"; then
	echo "not ok 1 - fuzz $target: build failed"
	sed 's/^/# /' "$work/build.log"
	exit 1
fi

mkdir -p "$work/corpus"
for d in $seeds; do
	for f in "$d"/*; do
		[ -f "$f" ] && cp "$f" "$work/corpus/"
	done
done

status=0
# -rss_limit_mb and -timeout turn memory blow-ups and hangs into failures.
ASAN_OPTIONS=detect_leaks=1 "$work/fuzz" $dict -max_total_time="$seconds" -timeout=10 \
	-rss_limit_mb=1024 -max_len=8192 -print_final_stats=1 \
	-artifact_prefix="$work/" "$work/corpus" >"$work/log" 2>&1 || status=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
if [ "$status" -eq 0 ] && [ -n "$runs" ] && [ "$runs" -gt 0 ]; then
	echo "ok 1 - fuzz $target: $runs runs in ${seconds}s without a crash or leak"
	exit 0
fi
echo "not ok 1 - fuzz $target: exit status $status after ${runs:-0} runs"
tail -40 "$work/log" | sed 's/^/# /'
for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
	[ -f "$a" ] || continue
	echo "# input $(basename "$a") (base64):"
	base64 "$a" | sed 's/^/#   /'
done
exit 1
