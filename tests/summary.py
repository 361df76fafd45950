#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Counts test cases from meson's testlog.json and prints `N passed, N failed`.

Each meson test speaks TAP: its `ok` / `not ok` lines are the cases.  A test
that meson marks failed (crash, timeout, sanitizer report, bad exit status)
without a `not ok` line of its own counts as one more failure, so nothing
that went wrong is lost.  Skipped cases are reported separately, never as
passes.
"""
import json
import re
import sys

ok_re = re.compile(r'^(not ok|ok)\b(.*)$')


def main(path):
    passed = failed = skipped = 0
    failures = []
    with open(path) as f:
        for line in f:
            t = json.loads(line)
            name = t['name']
            out = t.get('stdout') or ''
            p = fl = 0
            for l in out.splitlines():
                m = ok_re.match(l)
                if not m:
                    continue
                rest = m.group(2)
                if re.search(r'#\s*skip', rest, re.I):
                    skipped += 1
                    failures.append(f'{name}: SKIPPED{rest}')
                    continue
                if m.group(1) == 'ok':
                    p += 1
                else:
                    fl += 1
                    failures.append(f'{name}: not ok{rest}')
            if t['result'] not in ('OK', 'EXPECTEDFAIL') and fl == 0:
                fl += 1
                failures.append(f'{name}: {t["result"]} (exit {t.get("returncode")})')
            if p == 0 and fl == 0:
                # A test that ran nothing is a failure, not a silent pass.
                fl += 1
                failures.append(f'{name}: reported no test cases')
            passed += p
            failed += fl
    for f in failures:
        print('  ' + f)
    if skipped:
        print(f'{skipped} skipped (counted as failures)')
        failed += skipped
    print(f'{passed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
