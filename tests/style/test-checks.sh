#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# scripts/check-style and scripts/check-layers on a small fake tree: the
# clean tree passes, each deliberate violation fails and names its file,
# and --fix repairs what it can and is idempotent.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
KC_BUILD_ROOT=${KC_BUILD_ROOT:-}
. "$top/tests/cli/lib.sh"

out_has_all() {
	for want; do
		out_has "$want" || return 1
	done
}

check_style="$top/scripts/check-style"
check_layers="$top/scripts/check-layers"

# A clean tree: a few layers, a header included across them the right way,
# a script, a python file, a meson file, docs with the layers table.
clean="$tmp/clean"
mkdir -p "$clean/scripts" "$clean/docs" "$clean/src/lib" "$clean/src/host" \
	"$clean/src/sandbox" "$clean/tests"
cp "$top/.clang-format" "$clean/"
cp "$top/scripts/layers.txt" "$top/scripts/codespell-ignore.txt" "$clean/scripts/"
cat >"$clean/src/lib/util.h" <<'EOF'
/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

int kc_util_answer(void);
EOF
cat >"$clean/src/lib/util.c" <<'EOF'
/* SPDX-License-Identifier: Apache-2.0 */
#include "util.h"

int kc_util_answer(void)
{
	return 42;
}
EOF
cat >"$clean/src/host/host.c" <<'EOF'
/* SPDX-License-Identifier: Apache-2.0 */
#include "lib/util.h"
#include "agent.pb-c.h"

int kc_host_answer(void)
{
	return kc_util_answer();
}
EOF
cat >"$clean/src/sandbox/sandbox.h" <<'EOF'
/* SPDX-License-Identifier: Apache-2.0 */
#pragma once
#include "host/host.h"
EOF
cat >"$clean/src/host/host.h" <<'EOF'
/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

int kc_host_answer(void);
EOF
# tests/ may include any layer.
cat >"$clean/tests/test_x.c" <<'EOF'
/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/sandbox.h"

int main(void)
{
	return kc_host_answer() == 42 ? 0 : 1;
}
EOF
cat >"$clean/scripts/run.sh" <<'EOF'
#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
echo "the tests receive their arguments"
EOF
printf '# SPDX-License-Identifier: Apache-2.0\nprint("separate")\n' >"$clean/tests/t.py"
printf "# SPDX-License-Identifier: Apache-2.0\nproject('x', 'c')\n" >"$clean/meson.build"
printf '# x\n\nThe layers are separate.\n' >"$clean/README.md"
printf '# Design\n\n<!-- scripts/layers.txt -->\n```\n```\n' >"$clean/docs/design.md"
run_cmd "$check_layers" --root "$clean" --update-doc
ok "check-layers --update-doc writes the table into a fresh docs/design.md" rc_is 0
ok "  ... and says the table matches" out_has "ok 2 - layers table in docs/design.md matches"

run_cmd "$check_style" --root "$clean"
ok "check-style passes a clean tree" rc_is 0
ok "  ... with one TAP case per check" out_has_all "ok 1 - clang-format" "ok 2 - spdx" \
	"ok 3 - codespell"
run_cmd "$check_layers" --root "$clean"
ok "check-layers passes a clean tree" rc_is 0

# A fresh copy of the clean tree for each violation.
copy() {
	rm -rf "$tmp/t"
	cp -R "$clean" "$tmp/t"
	t="$tmp/t"
}
# A checksum of every file in the tree, to see whether a run changed it.
tree_sum() { (cd "$t" && find . -type f | sort | xargs cat | cksum); }

# --- layers ------------------------------------------------------------
copy
sed -i 's|#include "lib/util.h"|#include "sandbox/sandbox.h"|' "$t/src/host/host.c"
run_cmd "$check_layers" --root "$t"
ok "check-layers fails on host including sandbox" rc_is 1
ok "  ... naming the file, line and header" \
	out_has 'src/host/host.c:2: #include "sandbox/sandbox.h" goes up the layers'
ok "  ... and only that case fails" out_has "ok 2 - layers table"

copy
printf '/* SPDX-License-Identifier: Apache-2.0 */\n#include "nosuch.h"\n' >"$t/src/lib/bad.c"
run_cmd "$check_layers" --root "$t"
ok "check-layers fails on a header it cannot place in a layer" rc_is 1
ok "  ... naming it" out_has 'src/lib/bad.c:2: #include "nosuch.h": found neither'

copy
mkdir "$t/src/extra"
printf '/* SPDX-License-Identifier: Apache-2.0 */\n' >"$t/src/extra/e.c"
run_cmd "$check_layers" --root "$t"
ok "check-layers fails on a folder of src/ that is no layer" rc_is 1
ok "  ... naming it" out_has "src/extra/e.c: src/extra/ is not a layer"

copy
sed -i 's/^network      lib proto ttrpc host$/network      lib proto ttrpc host hypervisor/' \
	"$t/docs/design.md"
run_cmd "$check_layers" --root "$t"
ok "check-layers fails when docs/design.md's table differs from scripts/layers.txt" rc_is 1
ok "  ... naming docs/design.md" out_has "docs/design.md: the layers table differs"
ok "  ... and the includes still pass" out_has "ok 1 - layers"
run_cmd "$check_layers" --root "$t" --update-doc
run_cmd "$check_layers" --root "$t"
ok "check-layers --update-doc repairs the copy" rc_is 0

# --- SPDX --------------------------------------------------------------
copy
sed -i '1s|.*|// SPDX-License-Identifier: Apache-2.0|' "$t/src/host/host.c"
sed -i '2d' "$t/scripts/run.sh"
sed -i '1d' "$t/meson.build"
run_cmd "$check_style" --root "$t" spdx
ok "check-style spdx fails on the // form in C, and on missing lines" rc_is 1
ok "  ... naming the C file and the form it wants" \
	out_has 'src/host/host.c:1: `// SPDX-License-Identifier: Apache-2.0`: want `/* SPDX-License-Identifier: Apache-2.0 */` on line 1'
ok "  ... naming the script, after its #! line" \
	out_has 'scripts/run.sh: no SPDX-License-Identifier line: want `# SPDX-License-Identifier: Apache-2.0` on line 2'
ok "  ... naming the meson file" out_has 'meson.build: no SPDX-License-Identifier line'
run_cmd "$check_style" --root "$t" --fix spdx
ok "check-style --fix spdx repairs them" rc_is 0
ok "  ... the C file's first line" [ "$(head -1 "$t/src/host/host.c")" = \
	'/* SPDX-License-Identifier: Apache-2.0 */' ]
ok "  ... the script's second line" [ "$(sed -n 2p "$t/scripts/run.sh")" = \
	'# SPDX-License-Identifier: Apache-2.0' ]
ok "  ... and the fixed tree is the clean one" diff -r "$clean" "$t"

copy
sed -i '1s|.*|/* SPDX-License-Identifier: MIT */|' "$t/src/lib/util.c"
sed -i '1s|.*|// SPDX-License-Identifier: MIT|' "$t/src/lib/util.h"
run_cmd "$check_style" --root "$t" --fix spdx
ok "check-style accepts another license identifier in the right form" rc_is 0
ok "  ... and --fix keeps the identifier it rewrites" [ "$(head -1 "$t/src/lib/util.h")" = \
	'/* SPDX-License-Identifier: MIT */' ]

# --- codespell ---------------------------------------------------------
# The misspellings are put together here, so that this file passes.
receive_wrong="rec""ieve"
separate_wrong="Sep""erate"
copy
printf 'The tests %s their arguments.\n' "$receive_wrong" >>"$t/README.md"
printf '/* SPDX-License-Identifier: Apache-2.0 */\n/* %s from the rest. */\n' \
	"$separate_wrong" >"$t/src/lib/spell.h"
run_cmd "$check_style" --root "$t" codespell
ok "check-style codespell fails on misspellings" rc_is 1
ok "  ... naming README.md" out_has "README.md:4: $receive_wrong ==> receive"
ok "  ... naming the C header" out_has "src/lib/spell.h:2: $separate_wrong ==> Separate"
run_cmd "$check_style" --root "$t" --fix codespell
ok "check-style --fix codespell corrects them" rc_is 0
ok "  ... in the file" grep -q "The tests receive their" "$t/README.md"

# --- clang-format ------------------------------------------------------
copy
cat >"$t/src/lib/util.c" <<'EOF'
/* SPDX-License-Identifier: Apache-2.0 */
#include "util.h"

int kc_util_answer( void ) {
    return 42;
}
EOF
run_cmd "$check_style" --root "$t" clang-format
ok "check-style clang-format fails on a misformatted file" rc_is 1
ok "  ... listing it" out_has "# clang-format:   src/lib/util.c"
ok "  ... with a diff excerpt" out_has "+int kc_util_answer(void)"
ok "  ... and only that file" \
	sh -c '! printf "%s\n" "$1" | grep -q "#   *src/lib/util.h\|#   *src/host"' _ "$out"
run_cmd "$check_style" --root "$t" --fix
ok "check-style --fix formats it and every check passes" rc_is 0
ok "  ... into the clean file" cmp "$clean/src/lib/util.c" "$t/src/lib/util.c"
before=$(tree_sum)
run_cmd "$check_style" --root "$t" --fix
ok "check-style --fix a second time passes and changes nothing" \
	sh -c '[ "$1" -eq 0 ] && [ "$2" = "$3" ]' _ "$rc" "$before" "$(tree_sum)"

# clang-format output for a whole run of violations at once.
copy
sed -i '1d' "$t/src/lib/util.h"
printf '%s.\n' "$separate_wrong" >>"$t/docs/design.md"
sed -i 's/^int kc_host_answer(void);$/int   kc_host_answer(void);/' "$t/src/host/host.h"
run_cmd "$check_style" --root "$t"
ok "check-style reports each failing check as its own TAP case" \
	sh -c 'printf "%s\n" "$1" | grep -q "^not ok 1 - clang-format" &&
	       printf "%s\n" "$1" | grep -q "^not ok 2 - spdx" &&
	       printf "%s\n" "$1" | grep -q "^not ok 3 - codespell"' _ "$out"

done_testing
