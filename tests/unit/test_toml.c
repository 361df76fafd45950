/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/toml.h"
#include "lib/util.h"

#define DATA KC_TEST_DATA "/toml/"

static struct kc_toml_table *parse_ok(const char *text)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_toml_table *t = NULL;

	if (kc_toml_parse(text, strlen(text), "t.toml", &t, &err) < 0)
		fail_msg("unexpected error: %s\n--- input:\n%s", err->msg, text);
	return t;
}

static struct kc_toml_table *parse_file_ok(const char *name)
{
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *path = kc_xasprintf(DATA "%s", name);
	struct kc_toml_table *t = NULL;

	if (kc_toml_parse_file(path, &t, &err) < 0)
		fail_msg("unexpected error: %s", err->msg);
	return t;
}

/* Expects a parse error whose message contains `want` (e.g. "t.toml:2:5: ..."). */
static void parse_err(const char *text, const char *want)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_toml_table *t = NULL;

	if (kc_toml_parse(text, strlen(text), "t.toml", &t, &err) == 0) {
		kc_toml_free(t);
		fail_msg("no error for:\n%s", text);
	}
	assert_null(t);
	if (strstr(err->msg, want) == NULL)
		fail_msg("error `%s` lacks `%s`", err->msg, want);
}

/* Follows a dotted path of plain keys ("a.b.c"); array elements as [N]. */
static const struct kc_toml_value *get(const struct kc_toml_table *t, const char *path)
{
	char buf[256];
	const struct kc_toml_value *v = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *save = NULL, *part = strtok_r(buf, ".", &save); part;
	     part = strtok_r(NULL, ".", &save)) {
		if (v != NULL) {
			if (v->type == KC_TOML_ARRAY) {
				size_t idx = (size_t)atoi(part);
				v = kc_toml_array_get(v->u.array, idx);
				assert_non_null(v);
				continue;
			}
			assert_int_equal(v->type, KC_TOML_TABLE);
			t = v->u.table;
		}
		v = kc_toml_table_get(t, part);
		if (v == NULL)
			fail_msg("no key `%s` in `%s`", part, path);
	}
	return v;
}

static const char *str(const struct kc_toml_table *t, const char *path)
{
	const struct kc_toml_value *v = get(t, path);
	assert_true(v->type == KC_TOML_STRING || v->type == KC_TOML_DATETIME);
	return v->u.s.ptr;
}

static int64_t integer(const struct kc_toml_table *t, const char *path)
{
	const struct kc_toml_value *v = get(t, path);
	assert_int_equal(v->type, KC_TOML_INTEGER);
	return v->u.i;
}

static double flt(const struct kc_toml_table *t, const char *path)
{
	const struct kc_toml_value *v = get(t, path);
	assert_int_equal(v->type, KC_TOML_FLOAT);
	return v->u.f;
}

static void test_spec_example(void **state)
{
	(void)state;
	cleanup_toml struct kc_toml_table *t = parse_file_ok("spec-example.toml");

	assert_string_equal(str(t, "title"), "TOML Example");
	assert_string_equal(str(t, "owner.name"), "Tom Preston-Werner");
	assert_int_equal(get(t, "owner.dob")->type, KC_TOML_DATETIME);
	assert_string_equal(str(t, "owner.dob"), "1979-05-27T07:32:00-08:00");
	assert_true(get(t, "database.enabled")->u.b);
	assert_int_equal(integer(t, "database.ports.2"), 8002);
	assert_string_equal(str(t, "database.data.0.1"), "phi");
	assert_true(flt(t, "database.data.1.0") == 3.14);
	assert_true(flt(t, "database.temp_targets.case") == 72.0);
	assert_string_equal(str(t, "servers.beta.role"), "backend");
	/* Keys keep document order. */
	assert_string_equal(kc_toml_table_key(t, 0), "title");
	assert_string_equal(kc_toml_table_key(t, 3), "servers");
	const struct kc_toml_value *v = get(t, "database.ports");
	assert_int_equal(v->line, 11);
	assert_int_equal(v->col, 9);
}

static void test_spec_strings(void **state)
{
	(void)state;
	cleanup_toml struct kc_toml_table *t = parse_file_ok("spec-strings.toml");

	assert_string_equal(str(t, "str"),
			    "I'm a string. \"You can quote me\". Name\tJos\xc3\xa9\nLocation\tSF.");
	assert_string_equal(str(t, "str1"), "Roses are red\nViolets are blue");
	assert_string_equal(str(t, "str3"), "The quick brown fox jumps over the lazy dog.");
	assert_string_equal(str(t, "str4"), "Here are two quotation marks: \"\". Simple enough.");
	assert_string_equal(str(t, "str5"), "Here are three quotation marks: \"\"\".");
	assert_string_equal(str(t, "str6"), "Here are fifteen quotation marks: \"\"\"\"\"\"\"\"\"\"\"\"\"\"\".");
	assert_string_equal(str(t, "str7"), "\"This,\" she said, \"is just a pointless statement.\"");
	assert_string_equal(str(t, "winpath"), "C:\\Users\\nodejs\\templates");
	assert_string_equal(str(t, "winpath2"), "\\\\ServerX\\admin$\\system32\\");
	assert_string_equal(str(t, "regex2"), "I [dw]on't need \\d{2} apples");
	assert_string_equal(str(t, "lines"), "The first newline is\ntrimmed in raw strings.\n"
					     "   All other whitespace\n   is preserved.\n");
	assert_string_equal(str(t, "quot15"), "Here are fifteen quotation marks: \"\"\"\"\"\"\"\"\"\"\"\"\"\"\"");
	assert_string_equal(str(t, "str8"), "'That,' she said, 'is still pointless.'");
}

static void test_spec_numbers(void **state)
{
	(void)state;
	cleanup_toml struct kc_toml_table *t = parse_file_ok("spec-numbers.toml");

	assert_int_equal(integer(t, "int1"), 99);
	assert_int_equal(integer(t, "int4"), -17);
	assert_int_equal(integer(t, "int6"), 5349221);
	assert_int_equal(integer(t, "int8"), 12345);
	assert_int_equal(integer(t, "hex1"), 0xdeadbeef);
	assert_int_equal(integer(t, "hex3"), 0xdeadbeef);
	assert_int_equal(integer(t, "oct1"), 01234567);
	assert_int_equal(integer(t, "bin1"), 214);
	assert_true(flt(t, "flt3") == -0.01);
	assert_true(flt(t, "flt4") == 5e22);
	assert_true(flt(t, "flt6") == -2e-2);
	assert_true(flt(t, "flt8") == 224617.445991228);
	assert_true(isinf(flt(t, "sf1")) && flt(t, "sf1") > 0);
	assert_true(isinf(flt(t, "sf3")) && flt(t, "sf3") < 0);
	assert_true(isnan(flt(t, "sf4")));
	assert_true(isnan(flt(t, "sf6")));
	assert_false(get(t, "bool2")->u.b);
	assert_int_equal(integer(t, "max"), INT64_MAX);
	assert_int_equal(integer(t, "min"), INT64_MIN);
}

static void test_spec_tables(void **state)
{
	(void)state;
	cleanup_toml struct kc_toml_table *t = parse_file_ok("spec-tables.toml");

	assert_string_equal(str(t, "physical.shape"), "round");
	assert_true(get(t, "site")->type == KC_TOML_TABLE);
	assert_true(kc_toml_table_get(get(t, "site")->u.table, "google.com")->u.b);
	assert_string_equal(str(t, "fruitx.color"), "yellow");
	assert_string_equal(str(t, "3.14159"), "pi");
	assert_string_equal(str(t, "odt4"), "1979-05-27 07:32:00Z");
	assert_string_equal(str(t, "ld1"), "1979-05-27");
	assert_string_equal(str(t, "lt2"), "00:32:00.999999");
	assert_string_equal(str(t, "contributors.1.email"), "bazqux@example.com");
	assert_int_equal(kc_toml_array_len(get(t, "integers3")->u.array), 2);
	assert_string_equal(str(t, "animal.type.name"), "pug");
	assert_int_equal(integer(t, "table-1.key2"), 123);
	assert_true(get(t, "fruits.apple.texture.smooth")->u.b);
	assert_true(get(t, "fruits.apple.taste.sweet")->u.b);
	assert_int_equal(kc_toml_array_len(get(t, "products")->u.array), 3);
	assert_int_equal(kc_toml_table_len(get(t, "products.1")->u.table), 0);
	assert_string_equal(str(t, "products.2.color"), "gray");
	assert_string_equal(str(t, "fruit.0.physical.color"), "red");
	assert_string_equal(str(t, "fruit.0.variety.1.name"), "granny smith");
	assert_string_equal(str(t, "fruit.1.variety.0.name"), "plantain");
	assert_non_null(kc_toml_table_get(t, "\xca\x8e\xc7\x9d\xca\x9e"));
	assert_non_null(get(t, "x.y.z.w"));
	assert_non_null(kc_toml_table_get(get(t, "dog")->u.table, "tater.man"));
}

static void test_kata_configuration(void **state)
{
	(void)state;
	cleanup_toml struct kc_toml_table *t = parse_ok(
		"# Kata style\r\n"
		"[hypervisor.qemu]\r\n"
		"path = \"/usr/bin/qemu-system-x86_64\"\r\n"
		"kernel_params = \"\"\n"
		"enable_annotations = [\"enable_iommu\",\n"
		"    # a comment between items\n"
		"    \"kernel_params\",   # trailing comment\n"
		"]\n"
		"default_vcpus = 1\n"
		"\n"
		"[agent.kata]\n"
		"kernel_modules=[]\n");

	assert_string_equal(str(t, "hypervisor.qemu.path"), "/usr/bin/qemu-system-x86_64");
	assert_string_equal(str(t, "hypervisor.qemu.kernel_params"), "");
	assert_int_equal(kc_toml_array_len(get(t, "hypervisor.qemu.enable_annotations")->u.array), 2);
	assert_string_equal(str(t, "hypervisor.qemu.enable_annotations.1"), "kernel_params");
	assert_int_equal(kc_toml_array_len(get(t, "agent.kata.kernel_modules")->u.array), 0);
	unsigned line, col;
	kc_toml_table_pos(get(t, "agent.kata")->u.table, &line, &col);
	assert_int_equal(line, 11);
	assert_int_equal(col, 1);
}

static void test_valid_edge_cases(void **state)
{
	(void)state;
	struct kc_toml_table *t;

	t = parse_ok("");
	assert_int_equal(kc_toml_table_len(t), 0);
	kc_toml_free(t);
	t = parse_ok("a = 1"); /* no final newline */
	kc_toml_free(t);
	t = parse_ok("\xef\xbb\xbf" "a = 1\n"); /* byte order mark */
	kc_toml_free(t);
	t = parse_ok("s = \"\\u0000x\"\n"); /* NUL via escape keeps its length */
	assert_int_equal(get(t, "s")->u.s.len, 2);
	kc_toml_free(t);
	t = parse_ok("s = \"\\U0001F600\"\n");
	assert_string_equal(str(t, "s"), "\xf0\x9f\x98\x80");
	kc_toml_free(t);
	t = parse_ok("a = [1, 'x', [2.0], {b = true}]\n"); /* mixed types (TOML 1.0) */
	assert_int_equal(kc_toml_array_len(get(t, "a")->u.array), 4);
	kc_toml_free(t);
	t = parse_ok("e = {}\nf = []\n");
	kc_toml_free(t);
	t = parse_ok("[a]\n[a.b]\n[a.c]\n");
	kc_toml_free(t);
	t = parse_ok("leap = 2000-02-29\n");
	kc_toml_free(t);
	t = parse_ok("s = \"\"\"\\\n   \"\"\"\n");
	assert_string_equal(str(t, "s"), "");
	kc_toml_free(t);
	t = parse_ok("f = -0.0\ng = 0e0\nh = 1_000.5e1_0\n");
	assert_true(signbit(flt(t, "f")));
	kc_toml_free(t);
}

static void test_errors_with_position(void **state)
{
	(void)state;
	parse_err("a = \"abc\nb = 1\n", "t.toml:1:5: unterminated string (opened at 1:5): add a closing \"");
	parse_err("a = '''abc", "t.toml:1:5: unterminated string (opened at 1:5): add a closing '''");
	parse_err("x = 1\na = 1\na = 2\n", "t.toml:3:1: duplicate key `a` (first defined at 2:5)");
	parse_err("[t]\n[t]\n", "t.toml:2:1: table [t] is defined twice (first at 1:1)");
	parse_err("a = \"\\q\"\n", "t.toml:1:6: invalid escape \\q in a string");
	parse_err("a = \"\\u12\"\n", "t.toml:1:6: escape \\u needs 4 hexadecimal digits");
	parse_err("a = \"\\uD800\"\n", "is not a Unicode scalar value");
	parse_err("a =\n", "t.toml:1:4: expected a value after `=`, found end of line");
	parse_err("a = hello\n", "t.toml:1:5: expected a value, found `hello` (strings need quotes)");
	parse_err("a = 1 2\n", "t.toml:1:7: unexpected `2` after the value");
	parse_err("a b = 1\n", "t.toml:1:3: expected `=` after the key `a`");
	parse_err("= 1\n", "t.toml:1:1: expected a key, found `=`");
	parse_err("a = [1, 2\n", "t.toml:1:5: unterminated array (opened at 1:5)");
	parse_err("a = [1 2]\n", "expected `,` or `]`");
	parse_err("a = {b = 1,}\n", "a trailing comma is not allowed in an inline table");
	parse_err("a = {b = 1\n}\n", "inline tables must stay on one line");
	parse_err("a = 0123\n", "t.toml:1:5: `0123`: leading zeros are not allowed");
	parse_err("a = 1__2\n", "an underscore in a number must sit between two digits");
	parse_err("a = _1\n", "expected a value");
	parse_err("a = 1_\n", "underscore");
	parse_err("a = 9223372036854775808\n", "integer `9223372036854775808` does not fit in 64 bits");
	parse_err("a = 0x\n", "digits expected after the 0x prefix");
	parse_err("a = -0x1\n", "take no sign");
	parse_err("a = 1.\n", "a digit must follow the decimal point");
	parse_err("a = .5\n", "expected a value");
	parse_err("a = 1e\n", "digits must follow the exponent");
	parse_err("a = tru\n", "expected a value");
	parse_err("a = 2001-02-29\n", "invalid date");
	parse_err("a = 1979-05-27T25:00:00\n", "invalid time");
	parse_err("a = 1979-05-27T07:32:00+25:00\n", "invalid time offset");
	parse_err("a = \"\x80\"\n", "t.toml:1:6: invalid UTF-8");
	parse_err("a = \"\xed\xa0\x80\"\n", "invalid UTF-8"); /* encoded surrogate */
	parse_err("a = \"\xc0\xaf\"\n", "invalid UTF-8");     /* overlong */
	parse_err("a = \"x\x01\"\n", "control character U+0001 must be escaped");
	parse_err("# bad \x7f comment\n", "control character U+007F is not allowed in a comment");
	parse_err("a = 1\r\n b = 2\r", "a carriage return must be followed by a line feed");
	parse_err("\"\"\"a\"\"\" = 1\n", "a key cannot be a multi-line string");
	parse_err("a = 1\n[a]\n", "t.toml:2:1: table [a] is defined twice (first at 1:5)");
	parse_err("[a]\nb.c = 1\n[a.b]\n", "table [a.b] is defined twice");
	parse_err("[a.b]\n[a]\nb.c = 1\n", "cannot add keys to `b` with a dotted key: it was defined at 1:1 as a [table]");
	parse_err("a = {b = 1}\na.c = 2\n", "cannot add keys to `a` with a dotted key");
	parse_err("a = {b = 1}\n[a.c]\n", "cannot take sub-tables");
	parse_err("a = [1]\n[[a]]\n", "cannot define [[a]]");
	parse_err("[[a]]\n[a]\n", "table [a] is defined twice");
	parse_err("a.b = 1\na.b.c = 2\n", "cannot add keys to `a.b` with a dotted key: it was defined at 1:7 as a value");
	parse_err("[a\n", "t.toml:1:3: expected `]` to close the table header");
	parse_err("[[a]\n", "expected `]]`");
}

static void test_depth_limits(void **state)
{
	(void)state;
	char buf[4096];
	size_t n = 0;

	n += (size_t)snprintf(buf, sizeof(buf), "a = ");
	for (int i = 0; i < 200; i++)
		buf[n++] = '[';
	buf[n] = '\0';
	parse_err(buf, "nest deeper than 128 levels");

	n = (size_t)snprintf(buf, sizeof(buf), "[x");
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ".k");
	snprintf(buf + n, sizeof(buf) - n, "]\n");
	parse_err(buf, "tables nest deeper than 128 levels");
}

static void test_input_not_nul_terminated(void **state)
{
	(void)state;
	/* Only len bytes are read: the trailing junk must be invisible. */
	const char text[] = "a = 12345junk";
	cleanup_error kc_error_t err = NULL;
	cleanup_toml struct kc_toml_table *t = NULL;

	assert_int_equal(kc_toml_parse(text, 9, "t.toml", &t, &err), 0);
	assert_int_equal(get(t, "a")->u.i, 12345);
}

static void test_missing_file(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;
	struct kc_toml_table *t = NULL;

	assert_true(kc_toml_parse_file(DATA "nope.toml", &t, &err) < 0);
	assert_non_null(strstr(err->msg, "nope.toml"));
	assert_non_null(strstr(err->msg, "No such file or directory"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_spec_strings),
		cmocka_unit_test(test_spec_numbers),
		cmocka_unit_test(test_spec_tables),
		cmocka_unit_test(test_kata_configuration),
		cmocka_unit_test(test_valid_edge_cases),
		cmocka_unit_test(test_errors_with_position),
		cmocka_unit_test(test_depth_limits),
		cmocka_unit_test(test_input_not_nul_terminated),
		cmocka_unit_test(test_missing_file),
	};
	return cmocka_run_group_tests_name("toml", tests, NULL, NULL);
}
