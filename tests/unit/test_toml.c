/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the TOML 1.0 parser.  Most cases are tables of (input, expected)
 * pairs: a valid input is compared with a compact rendering of its tree
 * (see dump()), an invalid one with (part of) its error message, which
 * always starts with "t.toml:LINE:COL: ".  Inputs are copied into buffers of
 * exactly their length, so that ASan catches any read past the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/toml.h"
#include "lib/util.h"

#define DATA KC_TEST_DATA "/toml/"

struct ok_case {
	const char *toml;
	const char *tree; /* dump() of the result */
};

struct bad_case {
	const char *toml;
	const char *error; /* a prefix of the message, or a part of it */
};

/* ---- helpers ---------------------------------------------------------- */

static int parse_len(const char *text, size_t len, struct kc_toml_table **t, kc_error_t *err)
{
	/* An exact-size copy without a NUL: ASan sees any read past `len`. */
	char *copy = kc_xmalloc(len);
	int ret;

	memcpy(copy, text, len);
	ret = kc_toml_parse(copy, len, "t.toml", t, err);
	free(copy);
	return ret;
}

static struct kc_toml_table *parse_ok(const char *text)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_toml_table *t = NULL;

	if (parse_len(text, strlen(text), &t, &err) < 0)
		fail_msg("unexpected error: %s\n--- input:\n%s", err->msg, text);
	assert_null(err);
	return t;
}

/* The error message for text (which must fail), to be freed. */
static char *parse_error_len(const char *text, size_t len)
{
	kc_error_t err = NULL;
	struct kc_toml_table *t = NULL;
	char *msg;

	if (parse_len(text, len, &t, &err) == 0) {
		kc_toml_free(t);
		fail_msg("no error for:\n%s", text);
	}
	assert_null(t);
	assert_non_null(err);
	assert_int_equal(kc_error_ret(&err), -1);
	msg = kc_xstrdup(err->msg);
	kc_error_free(&err);
	return msg;
}

static char *parse_error(const char *text)
{
	return parse_error_len(text, strlen(text));
}

static void dump_table(FILE *f, const struct kc_toml_table *t);

static void dump_string(FILE *f, const char *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void dump_key(FILE *f, const char *k)
{
	bool bare = k[0] != '\0';

	for (const char *c = k; *c; c++)
		bare = bare && (strchr("_-", *c) || (*c >= '0' && *c <= '9') ||
				((*c | 0x20) >= 'a' && (*c | 0x20) <= 'z'));
	if (bare)
		fputs(k, f);
	else
		dump_string(f, k, strlen(k));
}

/* The shortest form that reads back as the same double; a float always
 * shows a '.', an exponent or inf/nan, so 1.0 and 1 stay apart. */
static void dump_float(FILE *f, double d)
{
	char buf[64];

	if (isnan(d)) {
		fputs(signbit(d) ? "-nan" : "nan", f);
		return;
	}
	if (isinf(d)) {
		fputs(d < 0 ? "-inf" : "inf", f);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	fputs(buf, f);
	if (!strpbrk(buf, ".e"))
		fputs(".0", f);
}

static void dump_value(FILE *f, const struct kc_toml_value *v)
{
	switch (v->type) {
	case KC_TOML_STRING:
		dump_string(f, v->u.s.ptr, v->u.s.len);
		break;
	case KC_TOML_DATETIME:
		fprintf(f, "dt:%s", v->u.s.ptr);
		break;
	case KC_TOML_INTEGER:
		fprintf(f, "%" PRId64, v->u.i);
		break;
	case KC_TOML_FLOAT:
		dump_float(f, v->u.f);
		break;
	case KC_TOML_BOOL:
		fputs(v->u.b ? "true" : "false", f);
		break;
	case KC_TOML_ARRAY:
		fputc('[', f);
		for (size_t i = 0; i < kc_toml_array_len(v->u.array); i++) {
			if (i)
				fputc(',', f);
			dump_value(f, kc_toml_array_get(v->u.array, i));
		}
		fputc(']', f);
		break;
	case KC_TOML_TABLE:
		dump_table(f, v->u.table);
		break;
	}
}

static void dump_table(FILE *f, const struct kc_toml_table *t)
{
	fputc('{', f);
	for (size_t i = 0; i < kc_toml_table_len(t); i++) {
		if (i)
			fputc(',', f);
		dump_key(f, kc_toml_table_key(t, i));
		fputc('=', f);
		dump_value(f, kc_toml_table_value(t, i));
	}
	fputc('}', f);
}

/* {key=value,...}: strings quoted with \xNN escapes, date-times as dt:TEXT,
 * tables and arrays nested, keys in document order. */
static char *dump(const struct kc_toml_table *t)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	assert_non_null(f);
	dump_table(f, t);
	fclose(f);
	return s;
}

/* Runs every case and reports all the failures before failing. */
static void check_ok(const struct ok_case *c, size_t n)
{
	int failures = 0;

	for (size_t i = 0; i < n; i++) {
		cleanup_error kc_error_t err = NULL;
		cleanup_toml struct kc_toml_table *t = NULL;
		cleanup_free char *got = NULL;

		if (parse_len(c[i].toml, strlen(c[i].toml), &t, &err) < 0) {
			print_error("case %zu: unexpected error: %s\n  input: %s\n", i, err->msg,
				    c[i].toml);
			failures++;
			continue;
		}
		got = dump(t);
		if (strcmp(got, c[i].tree) != 0) {
			print_error("case %zu:\n  input: %s\n  want:  %s\n  got:   %s\n", i,
				    c[i].toml, c[i].tree, got);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

static bool error_matches(const char *msg, const char *want)
{
	/* "t.toml:..." is a prefix of the whole message, anything else a part */
	if (strncmp(want, "t.toml:", 7) == 0)
		return strncmp(msg, want, strlen(want)) == 0;
	return strstr(msg, want) != NULL;
}

static void check_bad(const struct bad_case *c, size_t n)
{
	int failures = 0;

	for (size_t i = 0; i < n; i++) {
		cleanup_error kc_error_t err = NULL;
		cleanup_toml struct kc_toml_table *t = NULL;

		if (parse_len(c[i].toml, strlen(c[i].toml), &t, &err) == 0) {
			print_error("case %zu: no error for: %s\n", i, c[i].toml);
			failures++;
		} else if (t != NULL || !error_matches(err->msg, c[i].error)) {
			print_error("case %zu:\n  input: %s\n  want:  %s\n  got:   %s\n", i,
				    c[i].toml, c[i].error, err->msg);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

#define CHECK_OK(cases) check_ok(cases, KC_ARRAY_SIZE(cases))
#define CHECK_BAD(cases) check_bad(cases, KC_ARRAY_SIZE(cases))

/* Follows a path of plain keys ("a.b.c"), array elements by number. */
static const struct kc_toml_value *get(const struct kc_toml_table *t, const char *path)
{
	char buf[256];
	const struct kc_toml_value *v = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *save = NULL, *part = strtok_r(buf, ".", &save); part;
	     part = strtok_r(NULL, ".", &save)) {
		if (v != NULL && v->type == KC_TOML_ARRAY) {
			v = kc_toml_array_get(v->u.array, (size_t)atoi(part));
			if (v == NULL)
				fail_msg("no element %s in `%s`", part, path);
			continue;
		}
		if (v != NULL) {
			assert_int_equal(v->type, KC_TOML_TABLE);
			t = v->u.table;
		}
		v = kc_toml_table_get(t, part);
		if (v == NULL)
			fail_msg("no key `%s` in `%s`", part, path);
	}
	return v;
}

static void assert_pos(const struct kc_toml_value *v, unsigned line, unsigned col)
{
	if (v->line != line || v->col != col)
		fail_msg("value at %u:%u, expected %u:%u", v->line, v->col, line, col);
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

/* ---- the examples of the TOML 1.0 specification ----------------------- */

static void test_spec_example(void **state)
{
	(void)state;
	cleanup_toml struct kc_toml_table *t = parse_file_ok("spec-example.toml");
	cleanup_free char *tree = dump(t);

	assert_string_equal(tree,
			    "{title=\"TOML Example\","
			    "owner={name=\"Tom Preston-Werner\",dob=dt:1979-05-27T07:32:00-08:00},"
			    "database={enabled=true,ports=[8000,8001,8002],"
			    "data=[[\"delta\",\"phi\"],[3.14]],temp_targets={cpu=79.5,case=72.0}},"
			    "servers={alpha={ip=\"10.0.0.1\",role=\"frontend\"},"
			    "beta={ip=\"10.0.0.2\",role=\"backend\"}}}");
	assert_pos(get(t, "database.ports"), 11, 9);
	assert_pos(get(t, "database.data.1.0"), 12, 29);
}

static void test_spec_strings(void **state)
{
	(void)state;
	cleanup_toml struct kc_toml_table *t = parse_file_ok("spec-strings.toml");
	static const struct {
		const char *key, *value;
	} want[] = {
		{ "str", "I'm a string. \"You can quote me\". Name\tJos\xc3\xa9\nLocation\tSF." },
		{ "str1", "Roses are red\nViolets are blue" },
		{ "str2", "The quick brown fox jumps over the lazy dog." },
		{ "str3", "The quick brown fox jumps over the lazy dog." },
		{ "str4", "Here are two quotation marks: \"\". Simple enough." },
		{ "str5", "Here are three quotation marks: \"\"\"." },
		{ "str6", "Here are fifteen quotation marks: \"\"\"\"\"\"\"\"\"\"\"\"\"\"\"." },
		{ "str7", "\"This,\" she said, \"is just a pointless statement.\"" },
		{ "winpath", "C:\\Users\\nodejs\\templates" },
		{ "winpath2", "\\\\ServerX\\admin$\\system32\\" },
		{ "quoted", "Tom \"Dubs\" Preston-Werner" },
		{ "regex", "<\\i\\c*\\s*>" },
		{ "regex2", "I [dw]on't need \\d{2} apples" },
		{ "lines", "The first newline is\ntrimmed in raw strings.\n"
			   "   All other whitespace\n   is preserved.\n" },
		{ "quot15", "Here are fifteen quotation marks: \"\"\"\"\"\"\"\"\"\"\"\"\"\"\"" },
		{ "apos15", "Here are fifteen apostrophes: '''''''''''''''" },
		{ "str8", "'That,' she said, 'is still pointless.'" },
	};

	assert_int_equal(kc_toml_table_len(t), KC_ARRAY_SIZE(want));
	for (size_t i = 0; i < KC_ARRAY_SIZE(want); i++) {
		const struct kc_toml_value *v = get(t, want[i].key);

		assert_string_equal(kc_toml_table_key(t, i), want[i].key);
		assert_int_equal(v->type, KC_TOML_STRING);
		assert_string_equal(v->u.s.ptr, want[i].value);
		assert_int_equal(v->u.s.len, strlen(want[i].value));
	}
}

static void test_spec_numbers(void **state)
{
	(void)state;
	cleanup_toml struct kc_toml_table *t = parse_file_ok("spec-numbers.toml");
	cleanup_free char *tree = dump(t);

	assert_string_equal(tree,
			    "{int1=99,int2=42,int3=0,int4=-17,int5=1000,int6=5349221,int7=5349221,"
			    "int8=12345,hex1=3735928559,hex2=3735928559,hex3=3735928559,"
			    "oct1=342391,oct2=493,bin1=214,flt1=1.0,flt2=3.1415,flt3=-0.01,"
			    "flt4=5e+22,flt5=1e+06,flt6=-0.02,flt7=6.626e-34,flt8=224617.445991228,"
			    "sf1=inf,sf2=inf,sf3=-inf,sf4=nan,sf5=nan,sf6=-nan,bool1=true,"
			    "bool2=false,max=9223372036854775807,min=-9223372036854775808}");
	assert_int_equal(get(t, "max")->u.i, INT64_MAX);
	assert_int_equal(get(t, "min")->u.i, INT64_MIN);
}

static void test_spec_keys_tables_arrays(void **state)
{
	(void)state;
	cleanup_toml struct kc_toml_table *t = parse_file_ok("spec-tables.toml");

	assert_string_equal(get(t, "physical.shape")->u.s.ptr, "round");
	assert_true(kc_toml_table_get(get(t, "site")->u.table, "google.com")->u.b);
	assert_string_equal(get(t, "fruitx.color")->u.s.ptr, "yellow");
	assert_string_equal(kc_toml_table_get(get(t, "3")->u.table, "14159")->u.s.ptr, "pi");
	assert_int_equal(get(t, "odt4")->type, KC_TOML_DATETIME);
	assert_string_equal(get(t, "odt4")->u.s.ptr, "1979-05-27 07:32:00Z");
	assert_string_equal(get(t, "ld1")->u.s.ptr, "1979-05-27");
	assert_string_equal(get(t, "lt2")->u.s.ptr, "00:32:00.999999");
	assert_string_equal(get(t, "contributors.1.email")->u.s.ptr, "bazqux@example.com");
	assert_int_equal(kc_toml_array_len(get(t, "integers3")->u.array), 2);
	assert_string_equal(get(t, "animal.type.name")->u.s.ptr, "pug");
	assert_int_equal(get(t, "table-1.key2")->u.i, 123);
	assert_true(get(t, "fruits.apple.texture.smooth")->u.b);
	assert_true(get(t, "fruits.apple.taste.sweet")->u.b);
	assert_int_equal(kc_toml_array_len(get(t, "products")->u.array), 3);
	assert_int_equal(kc_toml_table_len(get(t, "products.1")->u.table), 0);
	assert_string_equal(get(t, "products.2.color")->u.s.ptr, "gray");
	assert_string_equal(get(t, "fruit.0.physical.color")->u.s.ptr, "red");
	assert_string_equal(get(t, "fruit.0.variety.1.name")->u.s.ptr, "granny smith");
	assert_string_equal(get(t, "fruit.1.variety.0.name")->u.s.ptr, "plantain");
	assert_non_null(kc_toml_table_get(t, "\xca\x8e\xc7\x9d\xca\x9e"));
	assert_non_null(get(t, "x.y.z.w"));
	assert_non_null(get(t, "j.\xca\x9e.l"));
	assert_non_null(kc_toml_table_get(get(t, "dog")->u.table, "tater.man"));
}

/* The spec's INVALID examples and a few common mistakes, one file each:
 * the first line says "# expect: MESSAGE-PREFIX". */
static void test_invalid_files(void **state)
{
	(void)state;
	DIR *d = opendir(DATA "invalid");
	struct dirent *de;
	int files = 0, failures = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		cleanup_free char *path = NULL, *buf = NULL, *msg = NULL;
		cleanup_error kc_error_t err = NULL;
		char want[512];
		size_t len;
		const char *nl;

		if (strstr(de->d_name, ".toml") == NULL)
			continue;
		files++;
		path = kc_xasprintf(DATA "invalid/%s", de->d_name);
		assert_int_equal(kc_read_file(path, 1 << 20, &buf, &len, &err), 0);
		nl = strchr(buf, '\n');
		assert_true(strncmp(buf, "# expect: ", 10) == 0 && nl != NULL);
		snprintf(want, sizeof(want), "%.*s", (int)(nl - buf - 10), buf + 10);
		msg = parse_error_len(buf, len);
		if (strncmp(msg, want, strlen(want)) != 0) {
			print_error("%s:\n  want: %s\n  got:  %s\n", de->d_name, want, msg);
			failures++;
		}
	}
	closedir(d);
	assert_true(files >= 20);
	assert_int_equal(failures, 0);
}

/* ---- comments, keys --------------------------------------------------- */

static void test_comments(void **state)
{
	(void)state;
	static const struct ok_case ok[] = {
		{ "# This is a full-line comment\nkey = \"value\"  # This is a comment at the end of a line\n"
		  "another = \"# This is not a comment\"\n",
		  "{key=\"value\",another=\"# This is not a comment\"}" },
		{ "#\n\n   # indented\n\t# tab\n", "{}" },
		{ "# tab\tinside and unicode \xc3\xa9\xf0\x9f\x98\x80\n", "{}" },
		{ "a = 1# no space\n", "{a=1}" },
		{ "[t] # comment\n", "{t={}}" },
		{ "[[t]] # comment\n", "{t=[{}]}" },
		{ "# comment without newline", "{}" },
		{ "a = 1 #", "{a=1}" },
	};
	static const struct bad_case bad[] = {
		{ "# \x01\n", "t.toml:1:3: control character U+0001 is not allowed in a comment" },
		{ "a = 1 # \x7f\n",
		  "t.toml:1:9: control character U+007F is not allowed in a comment" },
		{ "# \x1b[31m\n", "U+001B is not allowed in a comment" },
		{ "# a\rb\n", "t.toml:1:4: carriage return without a line feed in a comment" },
	};

	CHECK_OK(ok);
	CHECK_BAD(bad);
}

static void test_keys(void **state)
{
	(void)state;
	static const struct ok_case ok[] = {
		{ "key = 1\nbare_key = 2\nbare-key = 3\n1234 = 4\n-_- = 5\nABC = 6\n",
		  "{key=1,bare_key=2,bare-key=3,1234=4,-_-=5,ABC=6}" },
		{ "\"127.0.0.1\" = 1\n\"character encoding\" = 2\n\"\xca\x8e\xc7\x9d\xca\x9e\" = 3\n"
		  "'key2' = 4\n'quoted \"value\"' = 5\n",
		  "{\"127.0.0.1\"=1,\"character encoding\"=2,\"\xca\x8e\xc7\x9d\xca\x9e\"=3,key2=4,"
		  "\"quoted \\\"value\\\"\"=5}" },
		{ "\"\" = 1\n", "{\"\"=1}" },
		{ "'' = 1\n", "{\"\"=1}" },
		{ "\"a\\u0062\\tc\" = 1\n", "{\"ab\\x09c\"=1}" },
		{ "'a\\u0062' = 1\n", "{\"a\\\\u0062\"=1}" },
		{ "name = \"Orange\"\nphysical.color = \"orange\"\nphysical.shape = \"round\"\n"
		  "site.\"google.com\" = true\n",
		  "{name=\"Orange\",physical={color=\"orange\",shape=\"round\"},site={\"google.com\"=true}}" },
		{ "fruit.name = 1\nfruit. color = 2\nfruit . flavor = 3\nfruit\t.\tsize = 4\n",
		  "{fruit={name=1,color=2,flavor=3,size=4}}" },
		{ "3.14159 = \"pi\"\n", "{3={14159=\"pi\"}}" },
		{ "a.\"b.c\".'d' = 1\n", "{a={\"b.c\"={d=1}}}" },
		{ "apple.type = \"fruit\"\norange.type = \"fruit\"\napple.skin = \"thin\"\n"
		  "orange.skin = \"thick\"\n",
		  "{apple={type=\"fruit\",skin=\"thin\"},orange={type=\"fruit\",skin=\"thick\"}}" },
		{ "a = 1\nb = 2\n\"a b\" = 3\n", "{a=1,b=2,\"a b\"=3}" },
		{ "  a=1\n\tb\t=\t2\n", "{a=1,b=2}" },
		{ "true = 1\nfalse = 2\ninf = 3\nnan = 4\n", "{true=1,false=2,inf=3,nan=4}" },
		{ "1979-05-27 = 1\n", "{1979-05-27=1}" },
	};
	static const struct bad_case bad[] = {
		{ "= 1\n", "t.toml:1:1: expected a key, found `=`" },
		{ "a b = 1\n", "t.toml:1:3: expected `=` after the key `a`, found `b`" },
		{ "a$b = 1\n",
		  "t.toml:1:2: invalid character `$` in a bare key: bare keys may contain only ASCII letters, digits, `_` and `-`; put other keys in quotes (\"key\")" },
		{ "\xc3\xa9 = 1\n",
		  "t.toml:1:1: invalid character `\xc3\xa9` at the start of a key" },
		{ "a\xc3\xa9 = 1\n", "t.toml:1:2: invalid character `\xc3\xa9` in a bare key" },
		{ "a. = 1\n", "t.toml:1:4: expected a key, found `=`" },
		{ ".a = 1\n", "t.toml:1:1: expected a key, found `.`" },
		{ "a..b = 1\n", "t.toml:1:3: expected a key, found `.`" },
		{ "a.\n", "t.toml:1:3: expected a key, found end of line" },
		{ "a\n", "t.toml:1:2: expected `=` after the key `a`, found end of line" },
		{ "a", "t.toml:1:2: expected `=` after the key `a`, found end of file" },
		{ "a.b.c\n", "t.toml:1:6: expected `=` after the key `a.b.c`, found end of line" },
		{ "a: 1\n", "t.toml:1:2: invalid character `:` in a bare key" },
		{ "+a = 1\n", "t.toml:1:1: invalid character `+` at the start of a key" },
		{ "\"\"\"a\"\"\" = 1\n", "t.toml:1:1: a multi-line string cannot be a key" },
		{ "'''a''' = 1\n", "t.toml:1:1: a multi-line string cannot be a key" },
		{ "\"a = 1\n", "t.toml:1:1: unterminated string (opened at 1:1)" },
		{ "\"a\\q\" = 1\n", "t.toml:1:3: invalid escape `\\q`" },
		{ "a\x01 = 1\n", "t.toml:1:2: control character U+0001 is not allowed in a key" },
		{ "\x01 = 1\n", "t.toml:1:1: control character U+0001 is not allowed in a key" },
		{ "a = 1\na = 2\n", "t.toml:2:1: duplicate key `a` (first defined at 1:1)" },
		{ "spelling = \"favorite\"\n\"spelling\" = \"favourite\"\n",
		  "t.toml:2:1: duplicate key `spelling` (first defined at 1:1)" },
		{ "'a' = 1\n\"\\u0061\" = 2\n",
		  "t.toml:2:1: duplicate key `a` (first defined at 1:1)" },
		{ "\"\" = 1\n'' = 2\n", "t.toml:2:1: duplicate key `\"\"` (first defined at 1:1)" },
		{ "\"a\\u0001\" = 1\n\"a\\u0001\" = 2\n", "duplicate key `\"a\\u0001\"`" },
		{ "\"a\\\"b\" = 1\n'a\"b' = 2\n", "duplicate key `\"a\\\"b\"`" },
		{ "x.a = 1\nx.\"a\" = 2\n",
		  "t.toml:2:1: duplicate key `x.a` (first defined at 1:1)" },
		{ "fruit.apple = 1\nfruit.apple.smooth = true\n",
		  "t.toml:2:7: cannot use `fruit.apple` as a table: it is already an integer (defined at 1:1)" },
	};

	CHECK_OK(ok);
	CHECK_BAD(bad);
}

/* ---- strings ---------------------------------------------------------- */

static void test_basic_strings(void **state)
{
	(void)state;
	static const struct ok_case ok[] = {
		{ "a = \"\"\n", "{a=\"\"}" },
		{ "a = \"\\b\\t\\n\\f\\r\\\"\\\\\"\n", "{a=\"\\x08\\x09\\x0a\\x0c\\x0d\\\"\\\\\"}" },
		{ "a = \"\\u00e9\\u00E9\\U0001F600\\u0041\\u007e\"\n",
		  "{a=\"\xc3\xa9\xc3\xa9\xf0\x9f\x98\x80"
		  "A~\"}" },
		{ "a = \"\\u0000\\u007F\\u0080\\u07FF\\u0800\\uFFFF\\U00010000\\U0010FFFF\"\n",
		  "{a=\"\\x00\\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"}" },
		{ "a = \"tab\there\"\n", "{a=\"tab\\x09here\"}" },
		{ "a = \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"\n",
		  "{a=\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}" },
		{ "a = \"# not a comment\" # a comment\n", "{a=\"# not a comment\"}" },
		{ "a = \"'\"\n", "{a=\"'\"}" },
		{ "a = \"\\\\n\"\n", "{a=\"\\\\n\"}" },
	};
	static const struct bad_case bad[] = {
		{ "a = \"\\x41\"\n",
		  "t.toml:1:6: invalid escape `\\x`: valid escapes are \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX and \\UXXXXXXXX (write \\\\ for a backslash, or use a 'literal string')" },
		{ "a = \"\\e\"\n", "t.toml:1:6: invalid escape `\\e`" }, /* TOML 1.1 only */
		{ "a = \"\\a\"\n", "invalid escape `\\a`" },
		{ "a = \"\\0\"\n", "invalid escape `\\0`" },
		{ "a = \"\\'\"\n", "invalid escape `\\'`" },
		{ "a = \"\\ \"\n", "t.toml:1:7: invalid escape: a backslash followed by ` `" },
		{ "a = \"\\", "t.toml:1:7: invalid escape: a backslash followed by end of file" },
		{ "a = \"\\\n\"\n", "invalid escape: a backslash followed by end of line" },
		{ "a = \"\\u12\"\n",
		  "t.toml:1:6: invalid escape `\\u`: it needs exactly 4 hex digits (\\uXXXX)" },
		{ "a = \"\\u123\"\n", "exactly 4 hex digits" },
		{ "a = \"\\uGGGG\"\n", "exactly 4 hex digits" },
		{ "a = \"\\U1234567\"\n",
		  "t.toml:1:6: invalid escape `\\U`: it needs exactly 8 hex digits (\\UXXXXXXXX)" },
		{ "a = \"\\u", "exactly 4 hex digits" },
		{ "a = \"\\uD800\"\n",
		  "t.toml:1:6: invalid escape `\\uD800`: not a Unicode scalar value" },
		{ "a = \"\\uDFFF\"\n", "invalid escape `\\uDFFF`: not a Unicode scalar value" },
		{ "a = \"\\U00110000\"\n",
		  "invalid escape `\\U00110000`: not a Unicode scalar value" },
		{ "a = \"\\UFFFFFFFF\"\n", "not a Unicode scalar value" },
		{ "a = \"abc\n",
		  "t.toml:1:5: unterminated string (opened at 1:5): add a closing \" before the end of the line" },
		{ "a = \"abc\nb = 1\n", "t.toml:1:5: unterminated string (opened at 1:5)" },
		{ "a = \"abc", "t.toml:1:5: unterminated string (opened at 1:5)" },
		{ "a = \"", "t.toml:1:5: unterminated string (opened at 1:5)" },
		{ "a = \"abc\\\"\n", "t.toml:1:5: unterminated string (opened at 1:5)" },
		{ "a = \"a\x01"
		  "b\"\n",
		  "t.toml:1:7: control character U+0001 is not allowed in a string: write it as an escape" },
		{ "a = \"a\x7f\"\n",
		  "t.toml:1:7: control character U+007F is not allowed in a string" },
		{ "a = \"a\x1f\"\n", "control character U+001F" },
		{ "a = \"a\rb\"\n", "t.toml:1:7: carriage return without a line feed in a string" },
		{ "a = \"x\" \"y\"\n",
		  "t.toml:1:9: expected the end of the line after a value, found `\"`" },
	};

	CHECK_OK(ok);
	CHECK_BAD(bad);
}

static void test_multiline_basic_strings(void **state)
{
	(void)state;
	static const struct ok_case ok[] = {
		{ "a = \"\"\"\nRoses are red\nViolets are blue\"\"\"\n",
		  "{a=\"Roses are red\\x0aViolets are blue\"}" },
		{ "a = \"\"\"\r\nRoses\r\nViolets\r\n\"\"\"\n", "{a=\"Roses\\x0aViolets\\x0a\"}" },
		{ "a = \"\"\"\nThe quick brown \\\n\n\n  fox jumps over \\\n    the lazy dog.\"\"\"\n",
		  "{a=\"The quick brown fox jumps over the lazy dog.\"}" },
		{ "a = \"\"\"\\\n       The quick brown \\\n       fox jumps over \\\n       the lazy dog.\\\n       \"\"\"\n",
		  "{a=\"The quick brown fox jumps over the lazy dog.\"}" },
		{ "a = \"\"\"x \\  \t\n  y\"\"\"\n", "{a=\"x y\"}" },
		{ "a = \"\"\"x \\\r\n\r\n  y\"\"\"\n", "{a=\"x y\"}" },
		{ "a = \"\"\"\\\n\"\"\"\n", "{a=\"\"}" },
		{ "a = \"\"\"Here are two quotation marks: \"\". Simple enough.\"\"\"\n",
		  "{a=\"Here are two quotation marks: \\\"\\\". Simple enough.\"}" },
		{ "a = \"\"\"Here are three quotation marks: \"\"\\\".\"\"\"\n",
		  "{a=\"Here are three quotation marks: \\\"\\\"\\\".\"}" },
		{ "a = \"\"\"\"This,\" she said, \"is just a pointless statement.\"\"\"\"\n",
		  "{a=\"\\\"This,\\\" she said, \\\"is just a pointless statement.\\\"\"}" },
		{ "a = \"\"\"\"\"\"\n", "{a=\"\"}" },
		{ "a = \"\"\"a\"\"\"\"\n", "{a=\"a\\\"\"}" },
		{ "a = \"\"\"a\"\"\"\"\"\n", "{a=\"a\\\"\\\"\"}" },
		{ "a = \"\"\"\"\"a\"\"\"\n", "{a=\"\\\"\\\"a\"}" },
		{ "a = \"\"\"\n\"\"\"\n", "{a=\"\"}" },
		{ "a = \"\"\"\n\n\"\"\"\n", "{a=\"\\x0a\"}" },
		{ "a = \"\"\"\\u00e9\\t\\\\\"\"\"\n", "{a=\"\xc3\xa9\\x09\\\\\"}" },
		{ "a = \"\"\"tab\there\"\"\"\n", "{a=\"tab\\x09here\"}" },
		{ "a = \"\"\" # not a comment\n\"\"\" # comment\n", "{a=\" # not a comment\\x0a\"}" },
	};
	static const struct bad_case bad[] = {
		{ "a = \"\"\"a\"\"\"\"\"\"\n",
		  "t.toml:1:9: too many quotes in a row: at most two may come right before the closing \"\"\"" },
		{ "a = \"\"\"abc\n",
		  "t.toml:1:5: unterminated multi-line string (opened at 1:5): add a closing \"\"\"" },
		{ "a = \"\"\"abc\"\"\n", "t.toml:1:5: unterminated multi-line string" },
		{ "x = 1\na = \"\"\"\n\n\n",
		  "t.toml:2:5: unterminated multi-line string (opened at 2:5)" },
		{ "a = \"\"\"a\\   b\"\"\"\n",
		  "t.toml:1:10: invalid escape: a backslash followed by ` `" },
		{ "a = \"\"\"\\x\"\"\"\n", "invalid escape `\\x`" },
		{ "a = \"\"\"\x01\"\"\"\n",
		  "t.toml:1:8: control character U+0001 is not allowed in a string" },
		{ "a = \"\"\"a\rb\"\"\"\n",
		  "t.toml:1:9: carriage return without a line feed in a string" },
		{ "a = \"\"\"a\"\"\" \"\"\"b\"\"\"\n", "expected the end of the line after a value" },
	};

	CHECK_OK(ok);
	CHECK_BAD(bad);
}

static void test_literal_strings(void **state)
{
	(void)state;
	static const struct ok_case ok[] = {
		{ "winpath = 'C:\\Users\\nodejs\\templates'\n",
		  "{winpath=\"C:\\\\Users\\\\nodejs\\\\templates\"}" },
		{ "a = 'Tom \"Dubs\" Preston-Werner'\n", "{a=\"Tom \\\"Dubs\\\" Preston-Werner\"}" },
		{ "a = '<\\i\\c*\\s*>'\n", "{a=\"<\\\\i\\\\c*\\\\s*>\"}" },
		{ "a = ''\n", "{a=\"\"}" },
		{ "a = 'tab\there'\n", "{a=\"tab\\x09here\"}" },
		{ "a = '\\u0041'\n", "{a=\"\\\\u0041\"}" },
		{ "a = '''\nThe first newline is\ntrimmed in raw strings.\n   All other whitespace\n   is preserved.\n'''\n",
		  "{a=\"The first newline is\\x0atrimmed in raw strings.\\x0a   All other whitespace\\x0a   is preserved.\\x0a\"}" },
		{ "a = '''I [dw]on't need \\d{2} apples'''\n",
		  "{a=\"I [dw]on't need \\\\d{2} apples\"}" },
		{ "a = ''''That,' she said, 'is still pointless.''''\n",
		  "{a=\"'That,' she said, 'is still pointless.'\"}" },
		{ "a = '''Here are fifteen quotation marks: \"\"\"\"\"\"\"\"\"\"\"\"\"\"\"'''\n",
		  "{a=\"Here are fifteen quotation marks: \\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\"}" },
		{ "a = '''a\\\nb'''\n", "{a=\"a\\\\\\x0ab\"}" },
		{ "a = ''''''\n", "{a=\"\"}" },
		{ "a = '''a'''''\n", "{a=\"a''\"}" },
		{ "a = '''\r\nx\r\n'''\n", "{a=\"x\\x0a\"}" },
	};
	static const struct bad_case bad[] = {
		{ "a = 'abc\n",
		  "t.toml:1:5: unterminated literal string (opened at 1:5): add a closing ' before the end of the line" },
		{ "a = 'abc", "t.toml:1:5: unterminated literal string (opened at 1:5)" },
		{ "a = '''abc\n",
		  "t.toml:1:5: unterminated multi-line literal string (opened at 1:5): add a closing '''" },
		{ "a = 'a\x01'\n",
		  "t.toml:1:7: control character U+0001 is not allowed in a literal string" },
		{ "a = '''a\x7f'''\n",
		  "t.toml:1:9: control character U+007F is not allowed in a literal string" },
		{ "a = 'a\rb'\n", "carriage return without a line feed in a literal string" },
		{ "a = '''a''''''\n",
		  "t.toml:1:9: too many quotes in a row: at most two may come right before the closing '''" },
		{ "a = 'it's'\n",
		  "t.toml:1:9: expected the end of the line after a value, found `s`" },
	};

	CHECK_OK(ok);
	CHECK_BAD(bad);
}

/* ---- numbers, booleans, date-times ------------------------------------ */

static void test_integers(void **state)
{
	(void)state;
	static const struct ok_case ok[] = {
		{ "a = +99\nb = 42\nc = 0\nd = -17\ne = 1_000\nf = 5_349_221\ng = 53_49_221\nh = 1_2_3_4_5\n",
		  "{a=99,b=42,c=0,d=-17,e=1000,f=5349221,g=5349221,h=12345}" },
		{ "a = -0\nb = +0\nc = 0\n", "{a=0,b=0,c=0}" },
		{ "a = 0xDEADBEEF\nb = 0xdeadbeef\nc = 0xdead_beef\nd = 0o01234567\ne = 0o755\nf = 0b11010110\n"
		  "g = 0x0\nh = 0o0\ni = 0b0\nj = 0x00_01\n",
		  "{a=3735928559,b=3735928559,c=3735928559,d=342391,e=493,f=214,g=0,h=0,i=0,j=1}" },
		{ "a = 9223372036854775807\nb = -9223372036854775808\nc = 0x7FFFFFFFFFFFFFFF\n"
		  "d = 0o777777777777777777777\n"
		  "e = 0b111111111111111111111111111111111111111111111111111111111111111\n"
		  "f = 0x0000000000000000000000001\n",
		  "{a=9223372036854775807,b=-9223372036854775808,c=9223372036854775807,"
		  "d=9223372036854775807,e=9223372036854775807,f=1}" },
		{ "a = [1,-2,+3]\n", "{a=[1,-2,3]}" },
		{ "a = {b=1}\n", "{a={b=1}}" },
	};
	static const struct bad_case bad[] = {
		{ "a = 9223372036854775808\n",
		  "t.toml:1:5: integer `9223372036854775808` is out of range: integers must fit in 64 bits (-9223372036854775808 to 9223372036854775807)" },
		{ "a = -9223372036854775809\n",
		  "t.toml:1:5: integer `-9223372036854775809` is out of range" },
		{ "a = 99999999999999999999999999999\n", "is out of range" },
		{ "a = 0x8000000000000000\n",
		  "t.toml:1:5: integer `0x8000000000000000` is too large: integers must fit in 64 bits" },
		{ "a = 0o1000000000000000000000\n", "is too large" },
		{ "a = 0b1000000000000000000000000000000000000000000000000000000000000000\n",
		  "is too large" },
		{ "a = 01\n",
		  "t.toml:1:5: invalid number `01`: leading zeros are not allowed (octal integers start with 0o)" },
		{ "a = -01\n", "invalid number `-01`: leading zeros are not allowed" },
		{ "a = 00\n", "invalid number `00`: leading zeros are not allowed" },
		{ "a = 0_0\n", "invalid number `0_0`: leading zeros are not allowed" },
		{ "a = 1__2\n",
		  "t.toml:1:5: invalid number `1__2`: `_` may only appear between two digits" },
		{ "a = 1_\n", "invalid number `1_`: `_` may only appear between two digits" },
		{ "a = 1_000_\n", "`_` may only appear between two digits" },
		{ "a = _1\n", "t.toml:1:5: invalid value `_1`: text must be quoted (\"_1\")" },
		{ "a = +_1\n", "invalid number `+_1`: expected digits" },
		{ "a = 0x\n",
		  "t.toml:1:5: invalid hexadecimal integer `0x`: expected hexadecimal digits after 0x" },
		{ "a = 0x_1\n", "invalid hexadecimal integer `0x_1`" },
		{ "a = 0x1_\n", "invalid hexadecimal integer `0x1_`" },
		{ "a = 0xG\n", "invalid hexadecimal integer `0xG`" },
		{ "a = 0o8\n", "invalid octal integer `0o8`: expected octal digits after 0o" },
		{ "a = 0b2\n", "invalid binary integer `0b2`: expected binary digits after 0b" },
		{ "a = 0X1\n", "invalid number `0X1`" },
		{ "a = 0O1\n", "invalid number `0O1`" },
		{ "a = +0x1\n",
		  "t.toml:1:5: invalid integer `+0x1`: hexadecimal integers cannot have a sign" },
		{ "a = -0o7\n", "invalid integer `-0o7`: octal integers cannot have a sign" },
		{ "a = 1a\n", "invalid number `1a`: unexpected characters after the number" },
		{ "a = 1-2\n", "invalid number `1-2`" },
		{ "a = +\n", "invalid number `+`: expected digits" },
		{ "a = --1\n", "invalid number `--1`: expected digits" },
		{ "a = 1 2\n", "t.toml:1:7: expected the end of the line after a value, found `2`" },
		{ "a = 1,000\n",
		  "t.toml:1:6: expected the end of the line after a value, found `,`" },
		{ "a = 12345678901234567890123456789012345678901234567890x\n",
		  "invalid number `12345678901234567890123456789012...`" },
	};

	CHECK_OK(ok);
	CHECK_BAD(bad);
}

static void test_floats(void **state)
{
	(void)state;
	static const struct ok_case ok[] = {
		{ "a = +1.0\nb = 3.1415\nc = -0.01\nd = 5e+22\ne = 1e06\nf = -2E-2\ng = 6.626e-34\n"
		  "h = 224_617.445_991_228\n",
		  "{a=1.0,b=3.1415,c=-0.01,d=5e+22,e=1e+06,f=-0.02,g=6.626e-34,h=224617.445991228}" },
		{ "a = inf\nb = +inf\nc = -inf\nd = nan\ne = +nan\nf = -nan\n",
		  "{a=inf,b=inf,c=-inf,d=nan,e=nan,f=-nan}" },
		{ "a = -0.0\nb = +0.0\nc = 0e0\nd = 0.0\ne = 0E-0\nf = 1e-400\n",
		  "{a=-0.0,b=0.0,c=0.0,d=0.0,e=0.0,f=0.0}" },
		{ "a = 1_000.000_1\nb = 1e1_0\nc = 1.5E+1_0\n", "{a=1000.0001,b=1e+10,c=1.5e+10}" },
		{ "a = 1.7976931348623157e308\nb = 4.9e-324\nc = 0.1\n",
		  "{a=1.7976931348623157e+308,b=5e-324,c=0.1}" },
		{ "a = 0.1e1\nb = 3.0E2\n", "{a=1.0,b=3e+02}" },
		{ "a = [inf, -inf, nan]\n", "{a=[inf,-inf,nan]}" },
	};
	static const struct bad_case bad[] = {
		{ "a = .7\n",
		  "t.toml:1:5: invalid float: a decimal point must have digits on both sides (0.5, not .5)" },
		{ "a = 7.\n",
		  "t.toml:1:5: invalid float `7.`: a decimal point must have digits on both sides (1.0, not 1.)" },
		{ "a = 3.e+20\n", "invalid float `3.e+20`" },
		{ "a = -.5\n", "invalid number `-.5`: expected digits" },
		{ "a = 1e\n", "t.toml:1:5: invalid float `1e`: expected digits in the exponent" },
		{ "a = 1e+\n", "invalid float `1e+`: expected digits in the exponent" },
		{ "a = 1e_1\n", "invalid float `1e_1`: expected digits in the exponent" },
		{ "a = 1._1\n", "invalid float `1._1`" },
		{ "a = 1_.1\n", "invalid number `1_.1`: `_` may only appear between two digits" },
		{ "a = 1.1_\n", "invalid number `1.1_`: `_` may only appear between two digits" },
		{ "a = 1e1_\n", "`_` may only appear between two digits" },
		{ "a = 00.1\n", "invalid number `00.1`: leading zeros are not allowed" },
		{ "a = 01e1\n", "invalid number `01e1`: leading zeros are not allowed" },
		{ "a = 007e0\n",
		  "t.toml:1:5: invalid number `007e0`: leading zeros are not allowed" },
		{ "a = 1.2.3\n", "invalid number `1.2.3`: unexpected characters after the number" },
		{ "a = 1e2.5\n", "invalid number `1e2.5`" },
		{ "a = 1e400\n",
		  "t.toml:1:5: float `1e400` is out of range (too large for a 64-bit float)" },
		{ "a = -1.8e308\n", "float `-1.8e308` is out of range" },
		{ "a = Inf\n", "invalid value `Inf`" },
		{ "a = NaN\n", "invalid value `NaN`" },
		{ "a = infinity\n", "invalid value `infinity`" },
		{ "a = +infinity\n", "invalid number `+infinity`" },
		{ "a = -nanx\n", "invalid number `-nanx`" },
		{ "a = 1,5\n", "found `,`" },
	};

	CHECK_OK(ok);
	CHECK_BAD(bad);
}

/* Floats read the same whatever LC_NUMERIC says: checked under each of
 * these locales that is installed (a decimal comma in the first ones). */
static void test_floats_ignore_locale(void **state)
{
	(void)state;
	static const char *const locales[] = { "de_DE.UTF-8", "fr_FR.UTF-8", "ru_RU.UTF-8",
					       "C.UTF-8" };
	int tried = 0;

	for (size_t i = 0; i < KC_ARRAY_SIZE(locales); i++) {
		struct kc_toml_table *t;

		if (setlocale(LC_NUMERIC, locales[i]) == NULL)
			continue;
		tried++;
		t = parse_ok("a = 1.5\nb = 2e-1\nc = 1_000.25\n");
		setlocale(LC_NUMERIC, "C");
		assert_true(get(t, "a")->u.f == 1.5);
		assert_true(get(t, "b")->u.f == 0.2);
		assert_true(get(t, "c")->u.f == 1000.25);
		kc_toml_free(t);
	}
	assert_true(tried > 0);
}

static void test_booleans(void **state)
{
	(void)state;
	static const struct ok_case ok[] = {
		{ "a = true\nb = false\nc = [true,false]\nd = {e=true}\n",
		  "{a=true,b=false,c=[true,false],d={e=true}}" },
	};
	static const struct bad_case bad[] = {
		{ "a = True\n",
		  "t.toml:1:5: invalid value `True`: booleans are written in lower case: true or false" },
		{ "a = FALSE\n", "booleans are written in lower case" },
		{ "a = truex\n",
		  "t.toml:1:5: invalid value `truex`: text must be quoted (\"truex\")" },
		{ "a = tru\n", "invalid value `tru`" },
		{ "a = yes\n", "invalid value `yes`: text must be quoted (\"yes\")" },
		{ "a = true false\n",
		  "t.toml:1:10: expected the end of the line after a value, found `f`" },
		{ "a = true.\n",
		  "t.toml:1:9: expected the end of the line after a value, found `.`" },
	};

	CHECK_OK(ok);
	CHECK_BAD(bad);
}

static void test_datetimes(void **state)
{
	(void)state;
	static const struct ok_case ok[] = {
		{ "odt1 = 1979-05-27T07:32:00Z\nodt2 = 1979-05-27T00:32:00-07:00\n"
		  "odt3 = 1979-05-27T00:32:00.999999-07:00\nodt4 = 1979-05-27 07:32:00Z\n",
		  "{odt1=dt:1979-05-27T07:32:00Z,odt2=dt:1979-05-27T00:32:00-07:00,"
		  "odt3=dt:1979-05-27T00:32:00.999999-07:00,odt4=dt:1979-05-27 07:32:00Z}" },
		{ "ldt1 = 1979-05-27T07:32:00\nldt2 = 1979-05-27T00:32:00.999999\n",
		  "{ldt1=dt:1979-05-27T07:32:00,ldt2=dt:1979-05-27T00:32:00.999999}" },
		{ "ld1 = 1979-05-27\nlt1 = 07:32:00\nlt2 = 00:32:00.999999\n",
		  "{ld1=dt:1979-05-27,lt1=dt:07:32:00,lt2=dt:00:32:00.999999}" },
		{ "a = 1979-05-27t07:32:00z\nb = 1979-05-27T07:32:00+05:30\n",
		  "{a=dt:1979-05-27t07:32:00z,b=dt:1979-05-27T07:32:00+05:30}" },
		{ "a = 2000-02-29\nb = 2024-02-29\nc = 1979-12-31T23:59:60Z\nd = 0000-01-01\ne = 9999-12-31\n",
		  "{a=dt:2000-02-29,b=dt:2024-02-29,c=dt:1979-12-31T23:59:60Z,d=dt:0000-01-01,e=dt:9999-12-31}" },
		{ "a = 1979-05-27 # a date, then a comment\n", "{a=dt:1979-05-27}" },
		{ "a = [1979-05-27, 07:32:00, 1979-05-27 07:32:00]\n",
		  "{a=[dt:1979-05-27,dt:07:32:00,dt:1979-05-27 07:32:00]}" },
		{ "a = {d=1979-05-27}\n", "{a={d=dt:1979-05-27}}" },
		{ "a = 1979-05-27T07:32:00.123456789123-00:00\n",
		  "{a=dt:1979-05-27T07:32:00.123456789123-00:00}" },
		{ "a = 23:59:59\nb = 00:00:00\n", "{a=dt:23:59:59,b=dt:00:00:00}" },
	};
	static const struct bad_case bad[] = {
		{ "a = 1979-13-01\n", "t.toml:1:5: invalid date-time `1979-13-01`: no such day" },
		{ "a = 1979-00-10\n", "no such day" },
		{ "a = 1979-02-29\n", "invalid date-time `1979-02-29`: no such day" },
		{ "a = 1900-02-29\n", "invalid date-time `1900-02-29`: no such day" },
		{ "a = 1979-04-31\n", "no such day" },
		{ "a = 1979-05-00\n", "no such day" },
		{ "a = 1979-05-32\n", "no such day" },
		{ "a = 1979-5-27\n",
		  "t.toml:1:5: invalid date-time `1979-5-27`: expected a date as YYYY-MM-DD" },
		{ "a = 1979-05-7\n", "expected a date as YYYY-MM-DD" },
		{ "a = 07:32\n",
		  "t.toml:1:5: invalid date-time `07:32`: expected a time as HH:MM:SS (seconds are required)" },
		{ "a = 7:32:00\n",
		  "t.toml:1:6: expected the end of the line after a value, found `:`" },
		{ "a = 24:00:00\n",
		  "invalid date-time `24:00:00`: hour, minute or second out of range" },
		{ "a = 23:60:00\n", "hour, minute or second out of range" },
		{ "a = 23:59:61\n", "hour, minute or second out of range" },
		{ "a = 1979-05-27T07:32:00+24:00\n", "expected a UTC offset as +HH:MM or -HH:MM" },
		{ "a = 1979-05-27T07:32:00+07:60\n", "expected a UTC offset" },
		{ "a = 1979-05-27T07:32:00+0700\n", "expected a UTC offset" },
		{ "a = 1979-05-27T07:32:00+07\n", "expected a UTC offset" },
		{ "a = 1979-05-27T\n",
		  "invalid date-time `1979-05-27T`: expected a time as HH:MM:SS" },
		{ "a = 1979-05-27T+07:00\n",
		  "invalid date-time `1979-05-27T+07:00`: expected a time as HH:MM:SS" },
		{ "a = 1979-05-27T07:32Z\n", "expected a time as HH:MM:SS (seconds are required)" },
		{ "a = 1979-05-27T07:32:00.Z\n",
		  "invalid date-time `1979-05-27T07:32:00.Z`: expected digits after the decimal point of the seconds" },
		{ "a = 1979-05-27T25:00:00Z\n", "hour, minute or second out of range" },
		{ "a = 07:32:00Z\n",
		  "t.toml:1:13: expected the end of the line after a value, found `Z`" },
		{ "a = 07:32:00-07:00\n", "found `-`" },
		{ "a = 1979-05-27 07\n",
		  "t.toml:1:16: expected the end of the line after a value, found `0`" },
		{ "a = 1979-05-27X07:32:00\n", "found `X`" },
		{ "a = 1979-05-27T07:32:00Zx\n", "found `x`" },
		{ "a = 1979-05", "expected a date as YYYY-MM-DD" },
	};

	CHECK_OK(ok);
	CHECK_BAD(bad);
}

/* ---- arrays, inline tables -------------------------------------------- */

static void test_arrays(void **state)
{
	(void)state;
	static const struct ok_case ok[] = {
		{ "integers = [ 1, 2, 3 ]\ncolors = [ \"red\", \"yellow\", \"green\" ]\n"
		  "nested_arrays_of_ints = [ [ 1, 2 ], [3, 4, 5] ]\n"
		  "nested_mixed_array = [ [ 1, 2 ], [\"a\", \"b\", \"c\"] ]\n"
		  "string_array = [ \"all\", 'strings', \"\"\"are the same\"\"\", '''type''' ]\n"
		  "numbers = [ 0.1, 0.2, 0.5, 1, 2, 5 ]\n",
		  "{integers=[1,2,3],colors=[\"red\",\"yellow\",\"green\"],"
		  "nested_arrays_of_ints=[[1,2],[3,4,5]],nested_mixed_array=[[1,2],[\"a\",\"b\",\"c\"]],"
		  "string_array=[\"all\",\"strings\",\"are the same\",\"type\"],"
		  "numbers=[0.1,0.2,0.5,1,2,5]}" },
		{ "contributors = [\n  \"Foo Bar <foo@example.com>\",\n"
		  "  { name = \"Baz Qux\", email = \"bazqux@example.com\", url = \"https://example.com/bazqux\" }\n]\n",
		  "{contributors=[\"Foo Bar <foo@example.com>\",{name=\"Baz Qux\","
		  "email=\"bazqux@example.com\",url=\"https://example.com/bazqux\"}]}" },
		{ "integers2 = [\n  1, 2, 3\n]\nintegers3 = [\n  1,\n  2, # this is ok\n]\n",
		  "{integers2=[1,2,3],integers3=[1,2]}" },
		{ "a = []\nb = [ ]\nc = [\n]\nd = [[]]\ne = [1,]\nf = [\t1\t,\t]\n",
		  "{a=[],b=[],c=[],d=[[]],e=[1],f=[1]}" },
		{ "a = [ # c\n  1, # c\n  # c\n  2 # c\n  , 3 # c\n  # ]\n]\n", "{a=[1,2,3]}" },
		{ "a = [\r\n1,\r\n# c\r\n]\r\n", "{a=[1]}" },
		{ "a = [1, \"a\", 1.5, true, 1979-05-27, [], {}, {b = [2]}]\n",
		  "{a=[1,\"a\",1.5,true,dt:1979-05-27,[],{},{b=[2]}]}" },
		{ "a = [\"]\", ',', \"#\"]\n", "{a=[\"]\",\",\",\"#\"]}" },
		{ "a = [[[[[[[[[[1]]]]]]]]]]\n", "{a=[[[[[[[[[[1]]]]]]]]]]}" },
	};
	static const struct bad_case bad[] = {
		{ "a = [,]\n", "t.toml:1:6: expected a value before `,` in the array" },
		{ "a = [1,,2]\n", "t.toml:1:8: expected a value before `,` in the array" },
		{ "a = [1 2]\n",
		  "t.toml:1:8: expected `,` or `]` after an array element, found `2`" },
		{ "a = [1\n", "t.toml:1:5: unterminated array (opened at 1:5): add a closing ]" },
		{ "a = [1,\n2,\n", "t.toml:1:5: unterminated array (opened at 1:5)" },
		{ "a = [", "t.toml:1:5: unterminated array (opened at 1:5)" },
		{ "x = 1\na = [[1, 2]\n", "t.toml:2:5: unterminated array (opened at 2:5)" },
		{ "a = [1]]\n", "t.toml:1:8: expected the end of the line after a value, found `]`" },
		{ "a = [1}\n", "expected `,` or `]` after an array element, found `}`" },
		{ "a = [ # \x01\n]\n", "control character U+0001 is not allowed in a comment" },
		{ "a = [1 # c ]\n", "t.toml:1:5: unterminated array" },
		{ "a = [a]\n", "t.toml:1:6: invalid value `a`" },
		{ "a = [=]\n",
		  "t.toml:1:6: expected a value (a string, number, boolean, date-time, array or inline table), found `=`" },
		{ "a = [\"x\" \"y\"]\n", "expected `,` or `]` after an array element, found `\"`" },
		{ "a = [1\r]\n", "found a carriage return without a line feed" },
	};

	CHECK_OK(ok);
	CHECK_BAD(bad);
}

static void test_inline_tables(void **state)
{
	(void)state;
	static const struct ok_case ok[] = {
		{ "name = { first = \"Tom\", last = \"Preston-Werner\" }\npoint = { x = 1, y = 2 }\n"
		  "animal = { type.name = \"pug\" }\n",
		  "{name={first=\"Tom\",last=\"Preston-Werner\"},point={x=1,y=2},animal={type={name=\"pug\"}}}" },
		{ "a = {}\nb = { }\nc = {a={b={}}}\nd={e=1}\n", "{a={},b={},c={a={b={}}},d={e=1}}" },
		{ "a = { b.c = 1, b.d = 2, e = [1, {f = 1}] }\n", "{a={b={c=1,d=2},e=[1,{f=1}]}}" },
		{ "a = {\"k\" = 1, 'l' = 2, \"m n\".o = 3}\n", "{a={k=1,l=2,\"m n\"={o=3}}}" },
		{ "a = {\tb\t=\t1\t}\n", "{a={b=1}}" },
		{ "a = { b = \"}\", c = '{' }\n", "{a={b=\"}\",c=\"{\"}}" },
		{ "a = { b = [\n1,\n2] }\n", "{a={b=[1,2]}}" },
		{ "points = [ { x = 1, y = 2, z = 3 },\n           { x = 7, y = 8, z = 9 },\n"
		  "           { x = 2, y = 4, z = 8 } ]\n",
		  "{points=[{x=1,y=2,z=3},{x=7,y=8,z=9},{x=2,y=4,z=8}]}" },
		{ "[t]\na = {b = 1}\n[t.c]\n", "{t={a={b=1},c={}}}" },
	};
	static const struct bad_case bad[] = {
		{ "a = {a=1,}\n",
		  "t.toml:1:10: trailing comma in an inline table: remove the `,` before `}`" },
		{ "a = {a=1\n}\n",
		  "t.toml:1:9: unterminated inline table (opened at 1:5): an inline table must close with } on the same line (use a [table] section for longer tables)" },
		{ "a = {\na=1}\n", "t.toml:1:6: unterminated inline table (opened at 1:5)" },
		{ "a = {a=1, # c\n}\n", "t.toml:1:11: unterminated inline table" },
		{ "a = { b = 1 # c }\n", "t.toml:1:13: unterminated inline table" },
		{ "a = {", "t.toml:1:6: unterminated inline table" },
		{ "a = {a=1 b=2}\n",
		  "t.toml:1:10: expected `,` or `}` after a key/value pair in an inline table, found `b`" },
		{ "a = {a=1, a=2}\n", "t.toml:1:11: duplicate key `a` (first defined at 1:6)" },
		{ "a = {,}\n", "t.toml:1:6: expected a key, found `,`" },
		{ "a = {a}\n", "t.toml:1:7: expected `=` after the key `a`, found `}`" },
		{ "a = {a=}\n",
		  "t.toml:1:8: expected a value (a string, number, boolean, date-time, array or inline table), found `}`" },
		{ "a = {a=1} b\n",
		  "t.toml:1:11: expected the end of the line after a value, found `b`" },
		{ "a = {a=1}}\n", "expected the end of the line after a value, found `}`" },
		{ "a = {b = {c = 1}, b.d = 2}\n",
		  "t.toml:1:19: cannot add keys to inline table `b` (defined at 1:10)" },
		{ "a = {b.c = 1, b = 2}\n", "t.toml:1:15: duplicate key `b` (first defined at 1:6)" },
		{ "a = {b.c = 1, b.c.d = 2}\n",
		  "cannot use `b.c` as a table: it is already an integer" },
		{ "[product]\ntype = { name = \"Nail\" }\ntype.edible = false\n",
		  "t.toml:3:1: cannot add keys to inline table `type` (defined at 2:8): an inline table is complete once closed; put all its keys between { and }" },
		{ "[product]\ntype.name = \"Nail\"\ntype = { edible = false }\n",
		  "t.toml:3:1: duplicate key `type` (first defined at 2:1)" },
		{ "a = {b = {}}\na.b.c = 1\n", "t.toml:2:1: cannot add keys to inline table `a`" },
		{ "a = {b = {}}\n[a.b]\n",
		  "t.toml:2:2: cannot extend inline table `a` (defined at 1:5) with a [table] header" },
		{ "a = {b.c = {}}\n[a.b.c.d]\n", "cannot extend inline table `a`" },
		{ "a = {}\n[a]\n",
		  "t.toml:2:1: cannot define table [a]: it is already an inline table (defined at 1:5)" },
		{ "a = {}\n[[a]]\n",
		  "t.toml:2:1: [[a]] conflicts with `a`, already a table (defined at 1:1)" },
	};

	CHECK_OK(ok);
	CHECK_BAD(bad);
}

/* ---- tables and arrays of tables -------------------------------------- */

static void test_tables(void **state)
{
	(void)state;
	static const struct ok_case ok[] = {
		{ "[table-1]\nkey1 = \"some string\"\nkey2 = 123\n\n[table-2]\nkey1 = \"another string\"\nkey2 = 456\n",
		  "{table-1={key1=\"some string\",key2=123},table-2={key1=\"another string\",key2=456}}" },
		{ "[dog.\"tater.man\"]\ntype.name = \"pug\"\n",
		  "{dog={\"tater.man\"={type={name=\"pug\"}}}}" },
		{ "[a.b.c]\n[ d.e.f ]\n[ g .  h  . i ]\n[ j . \"\xca\x9e\" . 'l' ]\n",
		  "{a={b={c={}}},d={e={f={}}},g={h={i={}}},j={\"\xca\x9e\"={l={}}}}" },
		{ "[x.y.z.w]\n[x]\n", "{x={y={z={w={}}}}}" },
		{ "[fruit.apple]\n[animal]\n[fruit.orange]\n",
		  "{fruit={apple={},orange={}},animal={}}" },
		{ "[fruit]\napple.color = \"red\"\napple.taste.sweet = true\n[fruit.apple.texture]\nsmooth = true\n",
		  "{fruit={apple={color=\"red\",taste={sweet=true},texture={smooth=true}}}}" },
		{ "a = 1\n[b]\nc = 2\n[b.d]\ne = 3\n", "{a=1,b={c=2,d={e=3}}}" },
		{ "[a]\n[a.b]\n[a.c]\n", "{a={b={},c={}}}" },
		{ "[a.b.c]\n[a.b]\nx = 1\n", "{a={b={c={},x=1}}}" },
		{ "  [a]  # c\n  b = 1\n", "{a={b=1}}" },
		{ "[a.b.c]\n[a]\nb.x = 1\n", "{a={b={c={},x=1}}}" },
		{ "[a]\nb.c = 1\n[a.b.d]\ne = 2\n", "{a={b={c=1,d={e=2}}}}" },
		{ "a.b.c = 1\n[a.b.d]\n[a.x]\n", "{a={b={c=1,d={}},x={}}}" },
		{ "[\"a.b\"]\n['c d']\n[\"\"]\n", "{\"a.b\"={},\"c d\"={},\"\"={}}" },
		{ "[a]\nb = 1\n[\"a\".c]\n", "{a={b=1,c={}}}" },
		{ "[t]\n", "{t={}}" },
	};
	static const struct bad_case bad[] = {
		{ "[fruit]\napple = \"red\"\n\n[fruit]\norange = \"orange\"\n",
		  "t.toml:4:1: table [fruit] is defined twice (first defined at 1:1): merge the two sections" },
		{ "[fruit]\napple = \"red\"\n\n[fruit.apple]\ntexture = \"smooth\"\n",
		  "t.toml:4:1: cannot define table [fruit.apple]: `fruit.apple` is already a string (defined at 2:1)" },
		{ "[fruit]\napple.color = \"red\"\napple.taste.sweet = true\n[fruit.apple]\n",
		  "t.toml:4:1: cannot define table [fruit.apple]: it was already defined by dotted keys at 2:1; keep its keys together" },
		{ "[fruit]\napple.color = \"red\"\napple.taste.sweet = true\n[fruit.apple.taste]\n",
		  "t.toml:4:1: cannot define table [fruit.apple.taste]: it was already defined by dotted keys at 3:7" },
		{ "a.b = 1\n[a]\n",
		  "t.toml:2:1: cannot define table [a]: it was already defined by dotted keys at 1:1" },
		{ "[a.b.c]\n[a]\nb.x = 1\n[a.b]\n",
		  "t.toml:4:1: cannot define table [a.b]: it was already defined by dotted keys at 3:1" },
		{ "[a.b]\n[a]\nb.c = 1\n",
		  "t.toml:3:1: cannot add keys to table `b` with dotted keys: it is defined by the header at 1:1; put the keys under that header" },
		{ "[a.b.c]\n[a]\nb.c.t = 1\n",
		  "t.toml:3:3: cannot add keys to table `b.c` with dotted keys: it is defined by the header at 1:1" },
		{ "[a]\n[a]\n", "t.toml:2:1: table [a] is defined twice (first defined at 1:1)" },
		{ "[a]\n[b]\n['a']\n",
		  "t.toml:3:1: table [a] is defined twice (first defined at 1:1)" },
		{ "[a.b.c]\n[a.b]\n[a.b]\n",
		  "t.toml:3:1: table [a.b] is defined twice (first defined at 2:1)" },
		{ "a = 1\n[a]\n",
		  "t.toml:2:1: cannot define table [a]: `a` is already an integer (defined at 1:1)" },
		{ "a = 1\n[a.b]\n",
		  "t.toml:2:2: cannot use `a` as a table: it is already an integer (defined at 1:1)" },
		{ "[a]\nb = 1\n[a.b.c]\n",
		  "t.toml:3:4: cannot use `a.b` as a table: it is already an integer (defined at 2:1)" },
		{ "a = [1]\n[a.b]\n",
		  "t.toml:2:2: cannot extend `a` with a [table] header: it is an array written with [ ] (defined at 1:1), which is complete once closed" },
		{ "a = [{}]\n[a.b]\n", "cannot extend `a` with a [table] header" },
		{ "[]\n", "t.toml:1:2: expected a key, found `]`" },
		{ "[a.]\n", "t.toml:1:4: expected a key, found `]`" },
		{ "[.a]\n", "t.toml:1:2: expected a key, found `.`" },
		{ "[a b]\n", "t.toml:1:4: expected `]` to close the header `[a`, found `b`" },
		{ "[a\n", "t.toml:1:3: expected `]` to close the header `[a`, found end of line" },
		{ "[a", "expected `]` to close the header `[a`, found end of file" },
		{ "[a]]\n",
		  "t.toml:1:4: expected the end of the line after a table header, found `]`" },
		{ "[a] x = 1\n",
		  "t.toml:1:5: expected the end of the line after a table header, found `x`" },
		{ "[ [a] ]\n", "t.toml:1:3: invalid character `[` at the start of a key" },
		{ "[a]\n[a.b]\n[a]\n",
		  "t.toml:3:1: table [a] is defined twice (first defined at 1:1)" },
		{ "[\"\"\"a\"\"\"]\n", "a multi-line string cannot be a key" },
		{ "[a.\"b]\n", "t.toml:1:4: unterminated string (opened at 1:4)" },
	};

	CHECK_OK(ok);
	CHECK_BAD(bad);
}

static void test_arrays_of_tables(void **state)
{
	(void)state;
	static const struct ok_case ok[] = {
		{ "[[products]]\nname = \"Hammer\"\nsku = 738594937\n\n[[products]]  # empty table within the array\n\n"
		  "[[products]]\nname = \"Nail\"\nsku = 284758393\n\ncolor = \"gray\"\n",
		  "{products=[{name=\"Hammer\",sku=738594937},{},{name=\"Nail\",sku=284758393,color=\"gray\"}]}" },
		{ "[[fruits]]\nname = \"apple\"\n\n[fruits.physical]  # subtable\ncolor = \"red\"\nshape = \"round\"\n\n"
		  "[[fruits.varieties]]  # nested array of tables\nname = \"red delicious\"\n\n"
		  "[[fruits.varieties]]\nname = \"granny smith\"\n\n\n[[fruits]]\nname = \"banana\"\n\n"
		  "[[fruits.varieties]]\nname = \"plantain\"\n",
		  "{fruits=[{name=\"apple\",physical={color=\"red\",shape=\"round\"},"
		  "varieties=[{name=\"red delicious\"},{name=\"granny smith\"}]},"
		  "{name=\"banana\",varieties=[{name=\"plantain\"}]}]}" },
		{ "[[a]]\n[[a.b]]\n[a.b.c]\nd = 1\n[[a]]\n", "{a=[{b=[{c={d=1}}]},{}]}" },
		{ "[[a]]\nb.c = 1\n[[a]]\nb.c = 2\n", "{a=[{b={c=1}},{b={c=2}}]}" },
		{ "[[a]]\n[a.b]\n[[a]]\n[a.b]\n", "{a=[{b={}},{b={}}]}" },
		{ "[[a.b]]\n[a]\nc = 1\n", "{a={b=[{}],c=1}}" },
		{ "[[a.b]]\nx = 1\n[[a.b]]\n[a.b.c]\n", "{a={b=[{x=1},{c={}}]}}" },
		{ "[t]\n[[t.a]]\n[[t.a]]\n", "{t={a=[{},{}]}}" },
	};
	static const struct bad_case bad[] = {
		{ "[fruit.physical]\ncolor = \"red\"\nshape = \"round\"\n\n[[fruit]]\nname = \"apple\"\n",
		  "t.toml:5:1: [[fruit]] conflicts with `fruit`, already a table (defined at 1:2)" },
		{ "fruits = []\n\n[[fruits]] # Not allowed\n",
		  "t.toml:3:1: cannot append to `fruits` with [[fruits]]: it is an array written with [ ] (defined at 1:1), which is complete once closed" },
		{ "a = [{b = 1}]\n[[a]]\n", "t.toml:2:1: cannot append to `a` with [[a]]" },
		{ "[[fruits]]\nname = \"apple\"\n\n[[fruits.varieties]]\nname = \"red delicious\"\n\n"
		  "[fruits.varieties]\nname = \"granny smith\"\n",
		  "t.toml:7:1: [fruits.varieties] conflicts with the array of tables [[fruits.varieties]] defined at 4:1" },
		{ "[[fruits]]\n[fruits.physical]\ncolor = \"red\"\n[[fruits.physical]]\ncolor = \"green\"\n",
		  "t.toml:4:1: [[fruits.physical]] conflicts with `fruits.physical`, already a table (defined at 2:1)" },
		{ "[[a]]\n[a]\n",
		  "t.toml:2:1: [a] conflicts with the array of tables [[a]] defined at 1:1" },
		{ "[a]\n[[a]]\n",
		  "t.toml:2:1: [[a]] conflicts with `a`, already a table (defined at 1:1)" },
		{ "a = 1\n[[a]]\n",
		  "t.toml:2:1: [[a]] conflicts with `a`, already an integer (defined at 1:1)" },
		{ "a.b = 1\n[[a]]\n", "[[a]] conflicts with `a`, already a table" },
		{ "[[a]]\nb = 1\n[[a.b]]\n",
		  "t.toml:3:1: [[a.b]] conflicts with `a.b`, already an integer (defined at 2:1)" },
		{ "[[a]]\nb = 1\n[[a]]\nb = 1\nb = 2\n",
		  "t.toml:5:1: duplicate key `b` (first defined at 4:1)" },
		{ "[[a]\n",
		  "t.toml:1:5: expected `]]` to close the header `[[a`, found end of line" },
		{ "[[a] ]\n", "expected `]]` to close the header `[[a`, found ` `" },
		{ "[[]]\n", "t.toml:1:3: expected a key, found `]`" },
		{ "[[a]] x\n",
		  "t.toml:1:7: expected the end of the line after a table header, found `x`" },
		{ "a = [1]\na.b = 1\n",
		  "t.toml:2:1: cannot use `a` as a table: it is already an array (defined at 1:1)" },
	};

	CHECK_OK(ok);
	CHECK_BAD(bad);
}

/* ---- encoding, whitespace, newlines ----------------------------------- */

struct raw_case {
	const char *toml;
	size_t len;
	const char *error; /* NULL: must parse */
};

#define RAW(s, e) \
	{ \
		s, sizeof(s) - 1, e \
	}

static void test_encoding_and_newlines(void **state)
{
	(void)state;
	static const struct raw_case cases[] = {
		RAW("a = \"\x80\"\n",
		    "t.toml:1:6: invalid UTF-8 (byte 0x80): TOML files must be UTF-8 encoded"),
		RAW("a = \"\xc3\"\n", "t.toml:1:6: invalid UTF-8 (byte 0xC3)"),
		RAW("a = \"\xc3", "t.toml:1:6: invalid UTF-8 (byte 0xC3)"),
		RAW("a = \"\xc0\xaf\"\n", "invalid UTF-8 (byte 0xC0)"), /* overlong '/' */
		RAW("a = \"\xe0\x80\xaf\"\n", "invalid UTF-8 (byte 0xE0)"), /* overlong */
		RAW("a = \"\xed\xa0\x80\"\n", "invalid UTF-8 (byte 0xED)"), /* a surrogate */
		RAW("a = \"\xf4\x90\x80\x80\"\n", "invalid UTF-8 (byte 0xF4)"), /* above U+10FFFF */
		RAW("a = \"\xf8\x88\x80\x80\x80\"\n", "invalid UTF-8 (byte 0xF8)"),
		RAW("a = \"\xff\"\n", "invalid UTF-8 (byte 0xFF)"),
		RAW("# \xe9t\xe9\n", "t.toml:1:3: invalid UTF-8 (byte 0xE9)"),
		RAW("a = 1\n\n\xc3\xa9\xc3\xa9\xfe", "t.toml:3:3: invalid UTF-8 (byte 0xFE)"),
		RAW("\xef\xbb\xbf"
		    "a = 1\n",
		    NULL), /* a byte order mark */
		RAW("\xef\xbb\xbf"
		    "a = \"x\n",
		    "t.toml:1:5: unterminated string"),
		RAW("a = 1\n\xef\xbb\xbf"
		    "b = 2\n",
		    "t.toml:2:1: invalid character `\xef\xbb\xbf` at the start of a key"),
		RAW("a = 1\0",
		    "t.toml:1:6: expected the end of the line after a value, found U+0000"),
		RAW("a = \"\0\"\n",
		    "t.toml:1:6: control character U+0000 is not allowed in a string"),
		RAW("a = '\0'\n", "control character U+0000 is not allowed in a literal string"),
		RAW("# \0\n", "t.toml:1:3: control character U+0000 is not allowed in a comment"),
		RAW("\0", "t.toml:1:1: control character U+0000 is not allowed in a key"),
		RAW("a = \"\\u0000\"\n", NULL),
		RAW("a = 1\r\n[b]\r\nc = \"x\" # c\r\nd = [\r\n1,\r\n]\r\n", NULL),
		RAW("a = 1\r",
		    "t.toml:1:6: expected the end of the line after a value, found a carriage return without a line feed"),
		RAW("a = 1\r\n b = 2\r", "t.toml:2:7: expected the end of the line after a value"),
		RAW("\r", "t.toml:1:1: carriage return without a line feed in a key"),
		RAW("[a]\r[b]\n",
		    "t.toml:1:4: expected the end of the line after a table header, found a carriage return"),
		RAW("a = 1\n\n\n", NULL),
		RAW("\n\n\t \n", NULL),
		RAW("", NULL),
		RAW("a\v= 1\n", "t.toml:1:2: control character U+000B is not allowed in a key"),
		RAW("a =\f1\n", "t.toml:1:4: expected a value"),
		RAW("\"\xc3\xa9\" = \"x\n",
		    "t.toml:1:7: unterminated string (opened at 1:7)"), /* columns count characters */
		RAW("\ta\t=\t\"x\n",
		    "t.toml:1:6: unterminated string (opened at 1:6)"), /* a tab is one column */
		RAW("a = \"\xf0\x9f\x98\x80\" b\n",
		    "t.toml:1:9: expected the end of the line after a value, found `b`"),
	};
	int failures = 0;

	for (size_t i = 0; i < KC_ARRAY_SIZE(cases); i++) {
		cleanup_error kc_error_t err = NULL;
		cleanup_toml struct kc_toml_table *t = NULL;
		int ret = parse_len(cases[i].toml, cases[i].len, &t, &err);

		if (cases[i].error == NULL && ret < 0) {
			print_error("case %zu: unexpected error %s\n", i, err->msg);
			failures++;
		} else if (cases[i].error != NULL &&
			   (ret == 0 || !error_matches(err->msg, cases[i].error))) {
			print_error("case %zu:\n  want: %s\n  got:  %s\n", i, cases[i].error,
				    err ? err->msg : "no error");
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

static void test_values_and_missing_values(void **state)
{
	(void)state;
	static const struct bad_case bad[] = {
		{ "a =\n", "t.toml:1:4: missing value for `a`: write a value after `=`" },
		{ "a = ", "t.toml:1:5: missing value for `a`: write a value after `=`" },
		{ "a = # nothing\n", "t.toml:1:5: missing value for `a`" },
		{ "a.b.c =\n", "missing value for `a.b.c`" },
		{ "a = =\n",
		  "t.toml:1:5: expected a value (a string, number, boolean, date-time, array or inline table), found `=`" },
		{ "a = }\n", "found `}`" },
		{ "a = ]\n", "found `]`" },
		{ "a = @\n", "found `@`" },
		{ "a = \xc3\xa9\n", "found `\xc3\xa9`" },
		{ "a = hello world\n",
		  "t.toml:1:5: invalid value `hello`: text must be quoted (\"hello\")" },
		{ "a = /usr/bin/qemu\n", "t.toml:1:5: expected a value" },
		{ "a = 1 b = 2\n",
		  "t.toml:1:7: expected the end of the line after a value, found `b` (write one key = value or [table] per line)" },
		{ "first = \"Tom\" last = \"Preston-Werner\" # INVALID\n",
		  "t.toml:1:15: expected the end of the line after a value, found `l`" },
		{ "a = 1 = 2\n", "found `=`" },
		{ "a = 1;\n", "found `;`" },
		{ "key = # INVALID\n", "t.toml:1:7: missing value for `key`" },
		{ "a = averyveryveryveryveryveryveryveryveryveryverylongword\n",
		  "invalid value `averyveryveryveryveryveryveryver...`" },
	};

	CHECK_BAD(bad);
}

/* ---- positions ---------------------------------------------------------- */

static void test_positions(void **state)
{
	(void)state;
	cleanup_toml struct kc_toml_table *t = parse_ok("a = 1\n"
							"  b = \"x\"\n"
							"[t]\n"
							"c = [1,\n"
							"  2]\n"
							"d = {e = 1, f.g = 2}\n"
							"x.y.z = true\n"
							"[[p]]\n"
							"[[p]]\n"
							"[u.v]\n"
							"[u]\n"
							"\"\xc3\xa9\" = 1979-05-27\n"
							"\tm = 'x'\n");
	unsigned line, col;

	assert_pos(get(t, "a"), 1, 5);
	assert_pos(get(t, "b"), 2, 7);
	assert_pos(get(t, "t"), 3, 1);
	assert_pos(get(t, "t.c"), 4, 5);
	assert_pos(get(t, "t.c.0"), 4, 6);
	assert_pos(get(t, "t.c.1"), 5, 3);
	assert_pos(get(t, "t.d"), 6, 5);
	assert_pos(get(t, "t.d.e"), 6, 10);
	assert_pos(get(t, "t.d.f"), 6, 13);
	assert_pos(get(t, "t.d.f.g"), 6, 19);
	assert_pos(get(t, "t.x"), 7, 1);
	assert_pos(get(t, "t.x.y"), 7, 3);
	assert_pos(get(t, "t.x.y.z"), 7, 9);
	assert_pos(get(t, "p"), 8, 1);
	assert_pos(get(t, "p.0"), 8, 1);
	assert_pos(get(t, "p.1"), 9, 1);
	/* [u.v] creates `u`; the later [u] header defines it there. */
	assert_pos(get(t, "u"), 11, 1);
	assert_pos(get(t, "u.v"), 10, 1);
	assert_pos(get(t, "u.\xc3\xa9"), 12, 7); /* columns count characters */
	assert_pos(get(t, "u.m"), 13, 6);
	kc_toml_table_pos(get(t, "t.x")->u.table, &line, &col);
	assert_int_equal(line, 7);
	assert_int_equal(col, 1);
	kc_toml_table_pos(get(t, "u")->u.table, &line, &col);
	assert_int_equal(line, 11);
	assert_int_equal(col, 1);
	kc_toml_table_pos(t, &line, &col);
	assert_int_equal(line, 0);
	assert_int_equal(col, 0);
	/* Keys keep document order. */
	assert_string_equal(kc_toml_table_key(get(t, "t")->u.table, 0), "c");
	assert_string_equal(kc_toml_table_key(get(t, "t")->u.table, 2), "x");
	assert_string_equal(kc_toml_table_key(t, 3), "p");
	assert_string_equal(kc_toml_table_key(t, 4), "u");

	kc_toml_free(t);
	/* An implicit table created by a header sits at its key. */
	t = parse_ok("[a.b]\n");
	assert_pos(get(t, "a"), 1, 2);
	assert_pos(get(t, "a.b"), 1, 1);
}

/* The messages quoted in the documentation and by other components. */
static void test_exact_messages(void **state)
{
	(void)state;
	static const struct {
		const char *toml, *msg;
	} cases[] = {
		{ "[hypervisor.qemu]\npath = \"/usr/bin/qemu\"\nimage = \"/x.img\nkernel = \"/vmlinuz\"\n",
		  "configuration.toml:3:9: unterminated string (opened at 3:9): add a closing \" before the end of the line" },
		{ "[hypervisor.qemu]\npath = \"/usr/bin/qemu\"\ndefault_vcpus = 1\npath = \"/usr/bin/kvm\"\n",
		  "configuration.toml:4:1: duplicate key `path` (first defined at 2:1)" },
		{ "[runtime]\nenable_debug = true\n\n[runtime]\n",
		  "configuration.toml:4:1: table [runtime] is defined twice (first defined at 1:1): merge the two sections" },
		{ "[hypervisor.qemu]\nkernel_params = \"a\\qb\"\n",
		  "configuration.toml:2:19: invalid escape `\\q`: valid escapes are \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX and \\UXXXXXXXX (write \\\\ for a backslash, or use a 'literal string')" },
		{ "[hypervisor.qemu]\ndefault_vcpus =\n",
		  "configuration.toml:2:16: missing value for `default_vcpus`: write a value after `=`" },
		{ "[hypervisor.qemu]\nenable_annotations = [\"a\",\n\"b\"\n",
		  "configuration.toml:2:22: unterminated array (opened at 2:22): add a closing ]" },
		{ "[agent.kata]\ndial_timeout = 45s\n",
		  "configuration.toml:2:16: invalid number `45s`: unexpected characters after the number" },
		{ "[runtime]\nenable_debug = yes\n",
		  "configuration.toml:2:16: invalid value `yes`: text must be quoted (\"yes\")" },
		{ "[hypervisor.qemu]\npath = \"/usr/bin/qemu\" kernel = \"/vmlinuz\"\n",
		  "configuration.toml:2:24: expected the end of the line after a value, found `k` (write one key = value or [table] per line)" },
	};

	for (size_t i = 0; i < KC_ARRAY_SIZE(cases); i++) {
		cleanup_error kc_error_t err = NULL;
		struct kc_toml_table *t = NULL;

		assert_int_equal(kc_toml_parse(cases[i].toml, strlen(cases[i].toml),
					       "configuration.toml", &t, &err),
				 -1);
		assert_null(t);
		assert_string_equal(err->msg, cases[i].msg);
	}
}

/* ---- Kata's configuration ----------------------------------------------- */

static void test_kata_configuration(void **state)
{
	(void)state;
	cleanup_toml struct kc_toml_table *t = parse_file_ok("kata-configuration.toml");
	const struct kc_toml_value *v = get(t, "hypervisor.qemu.enable_annotations");
	cleanup_free char *tree = NULL;
	cleanup_toml struct kc_toml_table *shipped = NULL;
	cleanup_error kc_error_t err = NULL;
	unsigned line, col;

	assert_string_equal(kc_toml_table_key(t, 0), "hypervisor");
	assert_string_equal(get(t, "hypervisor.qemu.path")->u.s.ptr, "/usr/bin/qemu-system-x86_64");
	assert_string_equal(get(t, "hypervisor.qemu.kernel_params")->u.s.ptr, "");
	assert_null(kc_toml_table_get(get(t, "hypervisor.qemu")->u.table, "rootfs_type"));
	assert_int_equal(v->type, KC_TOML_ARRAY);
	assert_pos(v, 18, 22);
	assert_int_equal(kc_toml_array_len(v->u.array), 3);
	assert_string_equal(get(t, "hypervisor.qemu.enable_annotations.0")->u.s.ptr, "enable_iommu");
	assert_string_equal(get(t, "hypervisor.qemu.enable_annotations.2")->u.s.ptr,
			    "kernel_verity_params");
	assert_pos(get(t, "hypervisor.qemu.enable_annotations.2"), 22, 2);
	assert_int_equal(
		kc_toml_array_len(get(t, "hypervisor.qemu.valid_virtio_fs_daemon_paths")->u.array),
		2);
	assert_string_equal(get(t, "hypervisor.qemu.valid_entropy_sources.2")->u.s.ptr, "");
	assert_int_equal(get(t, "hypervisor.qemu.default_memory")->u.i, 2048);
	assert_false(get(t, "hypervisor.qemu.disable_block_device_use")->u.b);
	assert_int_equal(kc_toml_array_len(get(t, "agent.kata.kernel_modules")->u.array), 0);
	assert_int_equal(get(t, "agent.kata.dial_timeout")->u.i, 45);
	assert_true(get(t, "runtime.disable_guest_seccomp")->u.b);
	kc_toml_table_pos(get(t, "agent.kata")->u.table, &line, &col);
	assert_int_equal(line, 54);
	assert_int_equal(col, 1);
	tree = dump(get(t, "runtime")->u.table);
	assert_string_equal(
		tree, "{enable_debug=false,internetworking_model=\"tcfilter\","
		      "disable_guest_seccomp=true,sandbox_cgroup_only=false,"
		      "static_sandbox_resource_mgmt=false,sandbox_bind_mounts=[],"
		      "vfio_mode=\"guest-kernel\",disable_guest_empty_dir=false,experimental=[]}");

	/* The configuration kata-c ships parses too. */
	assert_int_equal(kc_toml_parse_file(KC_TEST_DATA "/../../config/configuration-qemu.toml",
					    &shipped, &err),
			 0);
	assert_int_equal(get(shipped, "hypervisor.qemu")->type, KC_TOML_TABLE);
}

/* ---- limits, robustness, API --------------------------------------------- */

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = kc_xmalloc(hl + ul * n + tl + 1);

	memcpy(s, head, hl);
	for (size_t i = 0; i < n; i++)
		memcpy(s + hl + i * ul, unit, ul);
	memcpy(s + hl + ul * n, tail, tl + 1);
	return s;
}

static void expect_error(char *toml, const char *want)
{
	cleanup_free char *msg = parse_error(toml);

	free(toml);
	if (!error_matches(msg, want))
		fail_msg("want: %s\ngot:  %s", want, msg);
}

static void expect_ok(char *toml)
{
	kc_toml_free(parse_ok(toml));
	free(toml);
}

static void test_depth_limits(void **state)
{
	(void)state;
	/* 128 levels below the root are allowed, 129 are not. */
	char *open = repeat("a = ", "[", 128, "");

	expect_ok(repeat(open, "]", 128, "\n"));
	free(open);
	expect_error(repeat("a = ", "[", 129, ""),
		     "t.toml:1:133: tables and arrays nest too deeply (more than 128 levels)");
	expect_error(repeat("a = ", "{b=", 129, ""), "nest too deeply");
	expect_error(repeat("a = ", "[{b=", 65, ""), "nest too deeply");
	/* Hostile depth fails fast, without exhausting the stack. */
	expect_error(repeat("a = ", "[", 1000000, ""), "nest too deeply");
	expect_error(repeat("a = ", "{b=", 1000000, ""), "nest too deeply");
	/* Keys: 128 parts at most, and their tables count as levels too. */
	expect_ok(repeat("[a", ".a", 127, "]\n"));
	expect_error(repeat("[a", ".a", 128, "]\n"),
		     "t.toml:1:258: a key has too many dotted parts (at most 128)");
	expect_error(repeat("a", ".a", 200000, " = 1\n"), "a key has too many dotted parts");
	expect_ok(repeat("[[a", ".a", 126, "]]\n"));
	expect_error(repeat("[[a", ".a", 127, "]]\n"), "nest too deeply");
	expect_error(repeat("[a", ".a", 99,
			    "]\nb.b.b.b.b.b.b.b.b.b.b.b.b.b.b.b.b.b.b.b.b.b.b.b.b.b.b.b.b.b = 1\n"),
		     "t.toml:2:57: tables and arrays nest too deeply");
}

/* A document printed by fn into a string. */
static char *print_doc(void (*fn)(FILE *f))
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	fn(f);
	fclose(f);
	return text;
}

static void many_keys(FILE *f)
{
	for (int i = 0; i < 50000; i++)
		fprintf(f, "k%d = %d\n", i, i);
	fputs("arr = [", f);
	for (int i = 0; i < 100000; i++)
		fprintf(f, "%d,", i);
	fputs("]\n", f);
}

static void many_keys_and_a_duplicate(FILE *f)
{
	for (int i = 0; i < 30000; i++)
		fprintf(f, "k%d = %d\n", i, i);
	fputs("k12345 = 0\n", f);
}

static void test_large_documents(void **state)
{
	(void)state;
	cleanup_free char *text = print_doc(many_keys);
	cleanup_free char *dup = print_doc(many_keys_and_a_duplicate);
	cleanup_free char *msg = NULL;
	struct kc_toml_table *t = parse_ok(text);

	/* Many keys in one table: lookups stay right (and fast) past the
	 * point where the table gets a hash index. */
	assert_int_equal(kc_toml_table_len(t), 50001);
	for (int i = 0; i < 50000; i += 7) {
		char key[16];

		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(kc_toml_table_get(t, key)->u.i, i);
		assert_string_equal(kc_toml_table_key(t, (size_t)i), key);
	}
	assert_null(kc_toml_table_get(t, "k50000"));
	assert_int_equal(kc_toml_array_len(get(t, "arr")->u.array), 100000);
	assert_int_equal(kc_toml_array_get(get(t, "arr")->u.array, 99999)->u.i, 99999);
	kc_toml_free(t);

	/* ...and duplicates are still found, with the first place. */
	msg = parse_error(dup);
	assert_string_equal(msg,
			    "t.toml:30001:1: duplicate key `k12345` (first defined at 12346:1)");
}

static void test_long_strings_and_keys(void **state)
{
	(void)state;
	cleanup_free char *head = repeat("\"", "x", 1 << 20, "\" = \"");
	cleanup_free char *text = repeat(head, "\\u00e9", 100000, "\"\n");
	cleanup_free char *key = repeat("", "k", 5000, " = 1\n");
	cleanup_free char *twice = kc_xasprintf("%s%s", key, key);
	cleanup_free char *msg = NULL;
	struct kc_toml_table *t = parse_ok(text);

	assert_int_equal(strlen(kc_toml_table_key(t, 0)), 1 << 20);
	assert_int_equal(kc_toml_table_value(t, 0)->u.s.len, 200000);
	kc_toml_free(t);

	/* A long key in a message is shortened. */
	msg = parse_error(twice);
	assert_true(strncmp(msg, "t.toml:2:1: duplicate key `kkkkkkkk", 35) == 0);
	assert_non_null(strstr(msg, "...` (first defined at 1:1)"));
	assert_true(strlen(msg) < 300);
}

static void test_input_bounds(void **state)
{
	(void)state;
	const char text[] = "a = 12345junk";
	cleanup_error kc_error_t err = NULL;
	struct kc_toml_table *t = NULL;

	/* Only len bytes are read: the rest is invisible. */
	assert_int_equal(kc_toml_parse(text, 9, "t.toml", &t, &err), 0);
	assert_int_equal(get(t, "a")->u.i, 12345);
	kc_toml_free(t);
	/* An empty input needs no buffer. */
	assert_int_equal(kc_toml_parse(NULL, 0, "t.toml", &t, &err), 0);
	assert_int_equal(kc_toml_table_len(t), 0);
	kc_toml_free(t);
	/* Every prefix of a document either parses or fails cleanly (ASan
	 * checks the bounds, the exact-size copies make overreads visible). */
	{
		cleanup_free char *doc = NULL;
		size_t len;

		assert_int_equal(kc_read_file(DATA "spec-tables.toml", 1 << 20, &doc, &len, &err),
				 0);
		for (size_t n = 0; n <= len; n++) {
			kc_error_t e = NULL;

			t = NULL;
			if (parse_len(doc, n, &t, &e) < 0)
				assert_non_null(strstr(e->msg, "t.toml:"));
			kc_error_free(&e);
			kc_toml_free(t);
		}
	}
}

static void test_api(void **state)
{
	(void)state;
	cleanup_toml struct kc_toml_table *t = parse_ok("a = [1]\nb = {c = 'x'}\n");
	cleanup_error kc_error_t err = NULL;
	struct kc_toml_table *none = (struct kc_toml_table *)1;
	const struct kc_toml_value *a = get(t, "a");

	assert_string_equal(kc_toml_type_name(KC_TOML_STRING), "string");
	assert_string_equal(kc_toml_type_name(KC_TOML_INTEGER), "integer");
	assert_string_equal(kc_toml_type_name(KC_TOML_FLOAT), "float");
	assert_string_equal(kc_toml_type_name(KC_TOML_BOOL), "boolean");
	assert_string_equal(kc_toml_type_name(KC_TOML_DATETIME), "datetime");
	assert_string_equal(kc_toml_type_name(KC_TOML_ARRAY), "array");
	assert_string_equal(kc_toml_type_name(KC_TOML_TABLE), "table");
	assert_null(kc_toml_table_get(t, "c"));
	assert_null(kc_toml_table_key(t, 2));
	assert_null(kc_toml_table_value(t, 2));
	assert_null(kc_toml_array_get(a->u.array, 1));
	assert_int_equal(kc_toml_array_len(a->u.array), 1);
	assert_int_equal(kc_toml_table_len(NULL), 0);
	assert_int_equal(kc_toml_array_len(NULL), 0);
	kc_toml_free(NULL);

	/* A failed parse leaves *out NULL; an unnamed input gets a name. */
	assert_int_equal(kc_toml_parse("a =", 3, NULL, &none, &err), -1);
	assert_null(none);
	assert_string_equal(err->msg, "<toml>:1:4: missing value for `a`: write a value after `=`");
	kc_error_free(&err);
	/* Without an error object only the return value says it failed. */
	assert_int_equal(kc_toml_parse("a =", 3, "x", &none, NULL), -1);
}

static void test_parse_file(void **state)
{
	(void)state;
	cleanup_error kc_error_t err = NULL;
	struct kc_toml_table *t = NULL;
	char path[] = "/tmp/kc-test-toml-XXXXXX";
	int fd = mkstemp(path);
	cleanup_free char *want = NULL;

	assert_true(kc_toml_parse_file(DATA "nope.toml", &t, &err) < 0);
	assert_null(t);
	assert_non_null(strstr(err->msg, "nope.toml"));
	assert_non_null(strstr(err->msg, "No such file or directory"));
	kc_error_free(&err);

	/* Messages name the file by the path given. */
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "a = 1\nb = [\n", 12), 12);
	close(fd);
	assert_int_equal(kc_toml_parse_file(path, &t, &err), -1);
	want = kc_xasprintf("%s:2:5: unterminated array (opened at 2:5): add a closing ]", path);
	assert_string_equal(err->msg, want);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_spec_strings),
		cmocka_unit_test(test_spec_numbers),
		cmocka_unit_test(test_spec_keys_tables_arrays),
		cmocka_unit_test(test_invalid_files),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_basic_strings),
		cmocka_unit_test(test_multiline_basic_strings),
		cmocka_unit_test(test_literal_strings),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_floats),
		cmocka_unit_test(test_floats_ignore_locale),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_datetimes),
		cmocka_unit_test(test_arrays),
		cmocka_unit_test(test_inline_tables),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_arrays_of_tables),
		cmocka_unit_test(test_encoding_and_newlines),
		cmocka_unit_test(test_values_and_missing_values),
		cmocka_unit_test(test_positions),
		cmocka_unit_test(test_exact_messages),
		cmocka_unit_test(test_kata_configuration),
		cmocka_unit_test(test_depth_limits),
		cmocka_unit_test(test_large_documents),
		cmocka_unit_test(test_long_strings_and_keys),
		cmocka_unit_test(test_input_bounds),
		cmocka_unit_test(test_api),
		cmocka_unit_test(test_parse_file),
	};

	return cmocka_run_group_tests_name("toml", tests, NULL, NULL);
}
