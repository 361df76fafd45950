#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The whole test suite: install dependencies, build kata-c twice (an
# optimised build, which must compile without warnings, and a debug build
# with AddressSanitizer and UndefinedBehaviorSanitizer that the tests run
# against), run every test and print `N passed, N failed`.  Safe to re-run.
set -eu
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh build
scripts/build.sh build-test -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

status=0
meson test -C build-test --print-errorlogs --num-processes 2 "$@" || status=$?
python3 tests/summary.py build-test/meson-logs/testlog.json || status=1
exit "$status"
