/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A strict TOML 1.0 parser: a small recursive-descent parser over a byte
 * buffer that builds the tree of toml.h directly.
 *
 * The whole input is checked to be UTF-8 before parsing, so the parser
 * proper only ever looks at ASCII delimiters and copies other bytes.  Every
 * read goes through peek_at(), which is bounded by `len`: the input need not
 * be NUL-terminated.  Every node is linked into the tree (or owned by the
 * value being built) as soon as it exists, so an error anywhere frees
 * everything with one kc_toml_free().
 *
 * TOML's rules on (re)defining tables follow Python's tomllib:
 *   - a [header] defines its table once; tables it creates on the way
 *     ([a] for [a.b]) are implicit and may be defined later;
 *   - dotted keys (a.b = 1) define tables too, and only within the section
 *     that wrote them: later sections can neither redefine them with a
 *     header nor add to them with dotted keys (sub-tables are allowed);
 *   - inline tables and arrays written with [ ] are complete once closed.
 */
#include "toml.h"
#include "util.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

/* Containers nest at most this deep (tables, arrays, dotted key parts):
 * the parser and kc_toml_free() recurse, and hostile input must not
 * exhaust the stack. */
#define MAX_DEPTH 128
#define MAX_FILE_SIZE (16u << 20)

struct entry {
	char *key;
	size_t keylen; /* quoted keys may contain NUL */
	unsigned line, col; /* where the key was written (for "first defined at") */
	struct kc_toml_value v;
};

struct kc_toml_table {
	struct entry *e;
	size_t n, cap;
	size_t *idx; /* hash index once the table grows: entry number + 1, 0 = free */
	size_t idx_cap; /* power of two, 0 while the table is small */
	unsigned line, col, depth;
	bool header; /* defined by a [header] */
	bool frozen; /* an inline table (or inside one): complete once closed */
	unsigned dotted; /* section whose dotted keys defined it, 0 if none */
};

struct kc_toml_array {
	struct kc_toml_value *v;
	size_t n, cap;
	unsigned depth;
	bool aot; /* built by [[headers]]; arrays written with [ ] are static */
};

struct parser {
	const char *buf;
	size_t len, off;
	unsigned line, col; /* of buf[off], 1-based; columns count characters */
	const char *name;
	kc_error_t *err;
	struct kc_toml_table *root, *cur; /* cur: where key/value lines go */
	unsigned section; /* current section: each header and inline table opens one */
	unsigned sections; /* section ids handed out so far */
};

struct buf {
	char *p;
	size_t len, cap;
};

struct key {
	char *s;
	size_t len;
	unsigned line, col;
};

struct keypath {
	struct key *k;
	size_t n;
};

/* ---- small helpers ---------------------------------------------------- */

static int fail_at(struct parser *p, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail_at(struct parser *p, unsigned line, unsigned col, const char *fmt, ...)
{
	cleanup_free char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = kc_xvasprintf(fmt, ap);
	va_end(ap);
	return kc_error_set(p->err, 0, "%s:%u:%u: %s", p->name, line, col, msg);
}

#define fail(p, ...) fail_at((p), (p)->line, (p)->col, __VA_ARGS__)

static char *dup_bytes(const char *s, size_t n)
{
	char *d = kc_xmalloc(n + 1);

	if (n)
		memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static void buf_put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = b->cap * 2 > b->len + n + 1 ? b->cap * 2 : b->len + n + 16;
		b->p = kc_xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static int peek_at(const struct parser *p, size_t k)
{
	return k < p->len - p->off ? (unsigned char)p->buf[p->off + k] : -1;
}

static int peek(const struct parser *p)
{
	return peek_at(p, 0);
}

static void advance(struct parser *p, size_t n)
{
	for (; n > 0 && p->off < p->len; n--) {
		unsigned char c = (unsigned char)p->buf[p->off++];

		if (c == '\n') {
			p->line++;
			p->col = 1;
		} else if ((c & 0xC0) != 0x80) { /* not a UTF-8 continuation byte */
			p->col++;
		}
	}
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_bare(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' ||
	       c == '-';
}

/* c is one of the characters of set (never matching NUL or end of input) */
static bool in_set(int c, const char *set)
{
	return c > 0 && strchr(set, c) != NULL;
}

static bool is_control(int c)
{
	return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

/* Length of the newline at the cursor: 1 for LF, 2 for CRLF, else 0. */
static size_t newline_len(const struct parser *p)
{
	if (peek(p) == '\n')
		return 1;
	return peek(p) == '\r' && peek_at(p, 1) == '\n' ? 2 : 0;
}

static void skip_ws(struct parser *p)
{
	while (peek(p) == ' ' || peek(p) == '\t')
		advance(p, 1);
}

/* Names what is at the cursor for messages: `x`, U+0007, end of line... */
static const char *describe(const struct parser *p, char d[16])
{
	int c = peek(p);
	size_t n = 1;

	if (c < 0)
		return "end of file";
	if (newline_len(p))
		return "end of line";
	if (c == '\r')
		return "a carriage return without a line feed";
	if (is_control(c)) {
		snprintf(d, 16, "U+%04X", (unsigned)c);
		return d;
	}
	if (c >= 0x80) /* a whole UTF-8 sequence, validated upfront */
		while (n < 4 && (peek_at(p, n) & 0xC0) == 0x80)
			n++;
	d[0] = '`';
	memcpy(d + 1, p->buf + p->off, n);
	d[n + 1] = '`';
	d[n + 2] = '\0';
	return d;
}

/* Shows a token of the input in a message, shortened when long. */
static char *show(const char *s, size_t n)
{
	if (n > 40)
		return kc_xasprintf("%.32s...", s);
	return dup_bytes(s, n);
}

/* Writes a key path as TOML would: bare parts as they are, others quoted.
 * Messages stay short on hostile keys. */
static char *key_name(const struct keypath *kp, size_t n)
{
	struct buf b = { 0 };

	buf_put(&b, "", 0);
	for (size_t i = 0; i < n && b.len < 120; i++) {
		const struct key *k = &kp->k[i];
		bool bare = k->len > 0;

		for (size_t j = 0; j < k->len; j++)
			bare = bare && is_bare((unsigned char)k->s[j]);
		if (i > 0)
			buf_put(&b, ".", 1);
		if (bare) {
			buf_put(&b, k->s, k->len < 120 ? k->len : 120);
			continue;
		}
		buf_put(&b, "\"", 1);
		for (size_t j = 0; j < k->len && b.len < 120; j++) {
			unsigned char c = (unsigned char)k->s[j];
			char esc[8];

			if (c == '"' || c == '\\') {
				snprintf(esc, sizeof(esc), "\\%c", c);
				buf_put(&b, esc, 2);
			} else if (is_control(c)) {
				snprintf(esc, sizeof(esc), "\\u%04X", c);
				buf_put(&b, esc, 6);
			} else {
				buf_put(&b, k->s + j, 1);
			}
		}
		buf_put(&b, "\"", 1);
	}
	if (b.len >= 120) {
		/* no half character: drop trailing continuation bytes and their lead */
		while (b.len > 0 && (b.p[b.len - 1] & 0xC0) == 0x80)
			b.len--;
		if (b.len > 0 && (b.p[b.len - 1] & 0xC0) == 0xC0)
			b.len--;
		b.p[b.len] = '\0';
		buf_put(&b, "...", 3);
	}
	return b.p;
}

/* "an integer", "an array of tables"... for messages */
static const char *a_type(const struct kc_toml_value *v)
{
	static const char *const words[] = {
		[KC_TOML_STRING] = "a string",	    [KC_TOML_INTEGER] = "an integer",
		[KC_TOML_FLOAT] = "a float",	    [KC_TOML_BOOL] = "a boolean",
		[KC_TOML_DATETIME] = "a date-time", [KC_TOML_ARRAY] = "an array",
		[KC_TOML_TABLE] = "a table",
	};

	if (v->type == KC_TOML_ARRAY && v->u.array->aot)
		return "an array of tables";
	return words[v->type];
}

/* ---- the tree --------------------------------------------------------- */

static void table_free(struct kc_toml_table *t);

static void array_free(struct kc_toml_array *a);

static void value_free(struct kc_toml_value *v)
{
	switch (v->type) {
	case KC_TOML_STRING:
	case KC_TOML_DATETIME:
		free(v->u.s.ptr);
		break;
	case KC_TOML_ARRAY:
		array_free(v->u.array);
		break;
	case KC_TOML_TABLE:
		table_free(v->u.table);
		break;
	default:
		break;
	}
}

static void array_free(struct kc_toml_array *a)
{
	for (size_t i = 0; i < a->n; i++)
		value_free(&a->v[i]);
	free(a->v);
	free(a);
}

static void table_free(struct kc_toml_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->e[i].key);
		value_free(&t->e[i].v);
	}
	free(t->e);
	free(t->idx);
	free(t);
}

static size_t hash_key(const char *k, size_t n)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)k[i];
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

static ssize_t table_find(const struct kc_toml_table *t, const char *key, size_t len)
{
	if (t->idx_cap == 0) {
		for (size_t i = 0; i < t->n; i++)
			if (t->e[i].keylen == len && memcmp(t->e[i].key, key, len) == 0)
				return (ssize_t)i;
		return -1;
	}
	for (size_t h = hash_key(key, len) & (t->idx_cap - 1);; h = (h + 1) & (t->idx_cap - 1)) {
		const struct entry *e;

		if (t->idx[h] == 0)
			return -1;
		e = &t->e[t->idx[h] - 1];
		if (e->keylen == len && memcmp(e->key, key, len) == 0)
			return (ssize_t)(t->idx[h] - 1);
	}
}

static void index_insert(struct kc_toml_table *t, size_t i)
{
	size_t h = hash_key(t->e[i].key, t->e[i].keylen) & (t->idx_cap - 1);

	while (t->idx[h] != 0)
		h = (h + 1) & (t->idx_cap - 1);
	t->idx[h] = i + 1;
}

/* Appends a key (known to be absent) with its value.  Lookups are linear
 * in small tables; large ones get a hash index so that big inputs do not
 * make parsing quadratic. */
static void table_add(struct kc_toml_table *t, const struct key *k, const struct kc_toml_value *v)
{
	struct entry *e;

	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		t->e = kc_xrealloc(t->e, t->cap * sizeof(*t->e));
	}
	e = &t->e[t->n++];
	e->key = dup_bytes(k->s, k->len);
	e->keylen = k->len;
	e->line = k->line;
	e->col = k->col;
	e->v = *v;
	if (t->n >= 16 && t->n * 2 > t->idx_cap) {
		free(t->idx);
		t->idx_cap = t->idx_cap ? t->idx_cap * 2 : 64;
		t->idx = kc_xzalloc(t->idx_cap * sizeof(*t->idx));
		for (size_t i = 0; i < t->n; i++)
			index_insert(t, i);
	} else if (t->idx_cap) {
		index_insert(t, t->n - 1);
	}
}

static bool too_deep(struct parser *p, unsigned depth, unsigned line, unsigned col)
{
	if (depth <= MAX_DEPTH)
		return false;
	fail_at(p, line, col, "tables and arrays nest too deeply (more than %d levels)", MAX_DEPTH);
	return true;
}

/* A table or array `depth` levels below the root, or NULL when too deep. */
static struct kc_toml_table *new_table(struct parser *p, unsigned depth, unsigned line, unsigned col)
{
	struct kc_toml_table *t;

	if (too_deep(p, depth, line, col))
		return NULL;
	t = kc_xzalloc(sizeof(*t));
	t->depth = depth;
	t->line = line;
	t->col = col;
	return t;
}

static struct kc_toml_array *new_array(struct parser *p, unsigned depth, unsigned line, unsigned col)
{
	struct kc_toml_array *a;

	if (too_deep(p, depth, line, col))
		return NULL;
	a = kc_xzalloc(sizeof(*a));
	a->depth = depth;
	return a;
}

static void array_push(struct kc_toml_array *a, const struct kc_toml_value *v)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 4;
		a->v = kc_xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	a->v[a->n++] = *v;
}

static struct kc_toml_value table_value(struct kc_toml_table *t)
{
	struct kc_toml_value v = { .type = KC_TOML_TABLE, .line = t->line, .col = t->col };

	v.u.table = t;
	return v;
}

/* Marks a closed inline table and the tables its dotted keys created. */
static void freeze(struct kc_toml_table *t)
{
	t->frozen = true;
	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].v.type == KC_TOML_TABLE && !t->e[i].v.u.table->frozen)
			freeze(t->e[i].v.u.table);
}

/* ---- lexical pieces --------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp, min;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		len = 2, cp = s[0] & 0x1F, min = 0x80;
	} else if ((s[0] & 0xF0) == 0xE0) {
		len = 3, cp = s[0] & 0x0F, min = 0x800;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		len = 4, cp = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

static int check_utf8(struct parser *p)
{
	while (p->off < p->len) {
		const unsigned char *s = (const unsigned char *)p->buf + p->off;
		size_t n = utf8_len(s, p->len - p->off);

		if (n == 0)
			return fail(p,
				    "invalid UTF-8 (byte 0x%02X): TOML files must be UTF-8 encoded",
				    s[0]);
		advance(p, n);
	}
	p->off = 0;
	p->line = p->col = 1;
	return 0;
}

/* The cursor is on a character TOML does not allow in `where`. */
static int bad_control(struct parser *p, const char *where, const char *hint)
{
	int c = peek(p);

	if (c == '\r')
		return fail(p,
			    "carriage return without a line feed in %s: lines end with LF or CRLF",
			    where);
	return fail(p, "control character U+%04X is not allowed in %s%s", (unsigned)c, where, hint);
}

/* From `#` to the end of the line (the newline itself is left). */
static int skip_comment(struct parser *p)
{
	advance(p, 1);
	while (peek(p) >= 0 && !newline_len(p)) {
		if (is_control(peek(p)))
			return bad_control(p, "a comment", "");
		advance(p, 1);
	}
	return 0;
}

/* Whitespace, comments and newlines, as allowed between array elements. */
static int skip_ws_comments_newlines(struct parser *p)
{
	for (;;) {
		size_t nl = newline_len(p);

		if (peek(p) == ' ' || peek(p) == '\t' || nl) {
			advance(p, nl ? nl : 1);
		} else if (peek(p) == '#') {
			if (skip_comment(p) < 0)
				return -1;
		} else {
			return 0;
		}
	}
}

/* After a key/value pair or a header only a comment may follow. */
static int expect_eol(struct parser *p, const char *after)
{
	char d[16];

	skip_ws(p);
	if (peek(p) == '#' && skip_comment(p) < 0)
		return -1;
	if (peek(p) < 0)
		return 0;
	if (newline_len(p)) {
		advance(p, newline_len(p));
		return 0;
	}
	return fail(
		p,
		"expected the end of the line after %s, found %s (write one key = value or [table] per line)",
		after, describe(p, d));
}

static int hex_value(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void put_utf8(struct buf *b, uint32_t cp)
{
	char s[4];
	size_t n;

	if (cp < 0x80) {
		s[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		s[0] = (char)(0xC0 | cp >> 6), s[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
	} else if (cp < 0x10000) {
		s[0] = (char)(0xE0 | cp >> 12), s[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		s[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
	} else {
		s[0] = (char)(0xF0 | cp >> 18), s[1] = (char)(0x80 | (cp >> 12 & 0x3F));
		s[2] = (char)(0x80 | (cp >> 6 & 0x3F)), s[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
	}
	buf_put(b, s, n);
}

/* A backslash sequence in a basic string; the cursor is on the backslash. */
static int parse_escape(struct parser *p, bool multiline, struct buf *out)
{
	static const char from[] = "btnfr\"\\", to[] = "\b\t\n\f\r\"\\";
	int c = peek_at(p, 1);
	const char *hit = c > 0 ? strchr(from, c) : NULL;
	char d[16];

	if (hit) {
		buf_put(out, &to[hit - from], 1);
		advance(p, 2);
		return 0;
	}
	if (c == 'u' || c == 'U') {
		size_t n = c == 'u' ? 4 : 8;
		uint32_t cp = 0;

		for (size_t i = 0; i < n; i++) {
			int h = hex_value(peek_at(p, 2 + i));

			if (h < 0)
				return fail(
					p,
					"invalid escape `\\%c`: it needs exactly %zu hex digits (\\%c%s)",
					c, n, c, n == 4 ? "XXXX" : "XXXXXXXX");
			cp = cp << 4 | (uint32_t)h;
		}
		if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return fail(
				p,
				"invalid escape `\\%c%.*s`: not a Unicode scalar value (surrogates and values above 10FFFF are not characters)",
				c, (int)n, p->buf + p->off + 2);
		put_utf8(out, cp);
		advance(p, 2 + n);
		return 0;
	}
	if (multiline) {
		/* A backslash ending a line trims the newline and all the
		 * whitespace and newlines after it. */
		size_t k = 1;

		while (peek_at(p, k) == ' ' || peek_at(p, k) == '\t')
			k++;
		if (peek_at(p, k) == '\n' || (peek_at(p, k) == '\r' && peek_at(p, k + 1) == '\n')) {
			advance(p, k);
			while (peek(p) == ' ' || peek(p) == '\t' || newline_len(p))
				advance(p, newline_len(p) ? newline_len(p) : 1);
			return 0;
		}
	}
	if (c > 0x20 && c < 0x7f)
		return fail(
			p,
			"invalid escape `\\%c`: valid escapes are \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX and \\UXXXXXXXX (write \\\\ for a backslash, or use a 'literal string')",
			c);
	advance(p, 1);
	return fail(
		p,
		"invalid escape: a backslash followed by %s (write \\\\ for a backslash, or use a 'literal string')",
		describe(p, d));
}

/* Any of the four string forms; keys pass multiline_ok = false. */
static int parse_string(struct parser *p, bool multiline_ok, struct buf *out)
{
	int q = peek(p);
	bool ml = peek_at(p, 1) == q && peek_at(p, 2) == q;
	unsigned line = p->line, col = p->col;
	const char *kind = q == '"' ? (ml ? "multi-line string" : "string")
				    : (ml ? "multi-line literal string" : "literal string");
	const char *delim = q == '"' ? (ml ? "\"\"\"" : "\"") : (ml ? "'''" : "'");

	buf_put(out, "", 0);
	if (ml && !multiline_ok)
		return fail(p, "a multi-line string cannot be a key: use \"key\" or 'key'");
	advance(p, ml ? 3 : 1);
	if (ml) /* a newline right after the opening delimiter is not part of the text */
		advance(p, newline_len(p));
	for (;;) {
		int c = peek(p);
		size_t nl = newline_len(p);

		if (c < 0 || (nl && !ml))
			return fail_at(p, line, col,
				       "unterminated %s (opened at %u:%u): add a closing %s%s", kind,
				       line, col, delim, ml ? "" : " before the end of the line");
		if (c == q && !ml) {
			advance(p, 1);
			return 0;
		}
		if (c == q) {
			/* Up to two quotes may sit right before the closing three. */
			size_t n = 0;

			while (peek_at(p, n) == q)
				n++;
			if (n > 5)
				return fail(
					p,
					"too many quotes in a row: at most two may come right before the closing %s",
					delim);
			buf_put(out, p->buf + p->off, n >= 3 ? n - 3 : n);
			advance(p, n);
			if (n >= 3)
				return 0;
		} else if (nl) {
			buf_put(out, "\n", 1); /* CRLF becomes LF */
			advance(p, nl);
		} else if (c == '\\' && q == '"') {
			if (parse_escape(p, ml, out) < 0)
				return -1;
		} else if (is_control(c)) {
			return bad_control(
				p, q == '"' ? "a string" : "a literal string",
				": write it as an escape such as \\t or \\u0001 in a \"basic string\"");
		} else {
			buf_put(out, p->buf + p->off, 1);
			advance(p, 1);
		}
	}
}

/* ---- keys ------------------------------------------------------------- */

static void keypath_free(struct keypath *kp)
{
	for (size_t i = 0; i < kp->n; i++)
		free(kp->k[i].s);
	free(kp->k);
	kp->k = NULL;
	kp->n = 0;
}

/* key = simple-key *( ws "." ws simple-key ); whitespace after it is eaten. */
static int parse_key(struct parser *p, struct keypath *kp)
{
	for (;;) {
		struct key k = { .line = p->line, .col = p->col };
		int c = peek(p);
		char d[16];

		if (kp->n >= MAX_DEPTH)
			return fail(p, "a key has too many dotted parts (at most %d)", MAX_DEPTH);
		if (c == '"' || c == '\'') {
			struct buf b = { 0 };

			if (parse_string(p, false, &b) < 0) {
				free(b.p);
				return -1;
			}
			k.s = b.p;
			k.len = b.len;
		} else if (is_bare(c)) {
			size_t n = 0;

			while (is_bare(peek_at(p, n)))
				n++;
			k.s = dup_bytes(p->buf + p->off, n);
			k.len = n;
			advance(p, n);
			c = peek(p);
			if (is_control(c) && !newline_len(p)) {
				free(k.s);
				return bad_control(p, "a key", "");
			}
			if (c >= 0 && !newline_len(p) && !in_set(c, " \t.=]},#")) {
				free(k.s);
				return fail(
					p,
					"invalid character %s in a bare key: bare keys may contain only ASCII letters, digits, `_` and `-`; put other keys in quotes (\"key\")",
					describe(p, d));
			}
		} else if (c < 0 || newline_len(p) || in_set(c, "=#].,}")) {
			return fail(p, "expected a key, found %s", describe(p, d));
		} else if (is_control(c)) {
			return bad_control(p, "a key", "");
		} else {
			return fail(
				p,
				"invalid character %s at the start of a key: bare keys may contain only ASCII letters, digits, `_` and `-`; put other keys in quotes (\"key\")",
				describe(p, d));
		}
		kp->k = kc_xrealloc(kp->k, (kp->n + 1) * sizeof(*kp->k));
		kp->k[kp->n++] = k;
		skip_ws(p);
		if (peek(p) != '.')
			return 0;
		advance(p, 1);
		skip_ws(p);
	}
}

/* ---- values ----------------------------------------------------------- */

static int parse_value(struct parser *p, unsigned depth, struct kc_toml_value *v);
static int parse_keyval(struct parser *p, struct kc_toml_table *t);

static bool is_base_digit(char c, int base)
{
	int v = hex_value((unsigned char)c);

	return v >= 0 && v < base;
}

/* DIGIT *( [ "_" ] DIGIT ) in the given base; returns the length, 0 if none. */
static size_t scan_digits(const char *s, size_t n, int base)
{
	size_t i = 0;

	while (i < n && is_base_digit(s[i], base)) {
		i++;
		if (i + 1 < n && s[i] == '_' && is_base_digit(s[i + 1], base))
			i++;
	}
	return i;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void init_c_locale(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* Integers and floats.  The token is every character a number may hold;
 * it is then checked against TOML's grammar, part by part. */
static int parse_number(struct parser *p, struct kc_toml_value *v)
{
	const char *s = p->buf + p->off, *r;
	size_t n = 0, rn, k, j;
	bool neg = false, is_float = false;
	cleanup_free char *tok = NULL;
	uint64_t val = 0;

	while (is_bare(peek_at(p, n)) || peek_at(p, n) == '.' || peek_at(p, n) == '+')
		n++;
	tok = show(s, n);
	r = s, rn = n;
	if (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-';
		r++, rn--;
	}
	if (rn == 3 && (memcmp(r, "inf", 3) == 0 || memcmp(r, "nan", 3) == 0)) {
		v->type = KC_TOML_FLOAT;
		v->u.f = r[0] == 'i' ? INFINITY : NAN;
		v->u.f = neg ? -v->u.f : v->u.f;
		advance(p, n);
		return 0;
	}
	if (rn >= 2 && r[0] == '0' && in_set(r[1], "xob")) {
		int base = r[1] == 'x' ? 16 : r[1] == 'o' ? 8 : 2;
		const char *what = base == 16 ? "hexadecimal" : base == 8 ? "octal" : "binary";

		if (r != s)
			return fail(p, "invalid integer `%s`: %s integers cannot have a sign", tok,
				    what);
		k = scan_digits(r + 2, rn - 2, base);
		if (k == 0 || k != rn - 2)
			return fail(
				p,
				"invalid %s integer `%s`: expected %s digits after 0%c, with `_` only between digits",
				what, tok, what, r[1]);
		for (j = 2; j < rn; j++) {
			int d = hex_value((unsigned char)r[j]);

			if (d < 0)
				continue;
			if (val > ((uint64_t)INT64_MAX - (uint64_t)d) / (uint64_t)base)
				return fail(
					p,
					"integer `%s` is too large: integers must fit in 64 bits (at most 0x7FFFFFFFFFFFFFFF)",
					tok);
			val = val * (uint64_t)base + (uint64_t)d;
		}
		v->type = KC_TOML_INTEGER;
		v->u.i = (int64_t)val;
		advance(p, n);
		return 0;
	}
	k = scan_digits(r, rn, 10);
	if (k == 0)
		return fail(p, "invalid number `%s`: expected digits", tok);
	if (r[0] == '0' && k > 1)
		return fail(p, "invalid number `%s`: leading zeros are not allowed%s", tok,
			    k == rn && !memchr(r, '_', k) ? " (octal integers start with 0o)" : "");
	j = k;
	if (j < rn && r[j] == '.') {
		size_t m = scan_digits(r + j + 1, rn - j - 1, 10);

		if (m == 0)
			return fail(
				p,
				"invalid float `%s`: a decimal point must have digits on both sides (1.0, not 1.)",
				tok);
		j += 1 + m;
		is_float = true;
	}
	if (j < rn && (r[j] == 'e' || r[j] == 'E')) {
		size_t m;

		j++;
		if (j < rn && (r[j] == '+' || r[j] == '-'))
			j++;
		m = scan_digits(r + j, rn - j, 10);
		if (m == 0)
			return fail(p, "invalid float `%s`: expected digits in the exponent", tok);
		j += m;
		is_float = true;
	}
	if (j != rn)
		return fail(p, "invalid number `%s`: %s", tok,
			    r[j] == '_' ? "`_` may only appear between two digits"
					: "unexpected characters after the number");
	if (is_float) {
		struct buf b = { 0 };

		for (j = 0; j < n; j++)
			if (s[j] != '_')
				buf_put(&b, s + j, 1);
		pthread_once(&c_locale_once, init_c_locale);
		/* strtod() follows LC_NUMERIC; TOML's decimal point is always '.' */
		v->u.f = c_locale ? strtod_l(b.p, NULL, c_locale) : strtod(b.p, NULL);
		free(b.p);
		if (isinf(v->u.f))
			return fail(p, "float `%s` is out of range (too large for a 64-bit float)",
				    tok);
		v->type = KC_TOML_FLOAT;
		advance(p, n);
		return 0;
	}
	for (j = 0; j < rn; j++) {
		uint64_t max = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		uint64_t d = (uint64_t)(r[j] - '0');

		if (r[j] == '_')
			continue;
		if (val > (max - d) / 10)
			return fail(
				p,
				"integer `%s` is out of range: integers must fit in 64 bits (-9223372036854775808 to 9223372036854775807)",
				tok);
		val = val * 10 + d;
	}
	v->type = KC_TOML_INTEGER;
	v->u.i = neg ? (int64_t)(0 - val) : (int64_t)val;
	if (neg && val == (uint64_t)INT64_MAX + 1)
		v->u.i = INT64_MIN;
	advance(p, n);
	return 0;
}

static bool digits_at(const struct parser *p, size_t i, size_t n)
{
	for (size_t j = i; j < i + n; j++)
		if (!is_digit(peek_at(p, j)))
			return false;
	return true;
}

static unsigned two_digits(const struct parser *p, size_t i)
{
	return (unsigned)(peek_at(p, i) - '0') * 10 + (unsigned)(peek_at(p, i + 1) - '0');
}

/* Checks HH:MM:SS[.frac] at offset i from the cursor; returns its length. */
static size_t scan_time(const struct parser *p, size_t i, const char **why)
{
	size_t k = i + 8;

	if (!digits_at(p, i, 2) || peek_at(p, i + 2) != ':' || !digits_at(p, i + 3, 2) ||
	    peek_at(p, i + 5) != ':' || !digits_at(p, i + 6, 2)) {
		*why = "expected a time as HH:MM:SS (seconds are required)";
		return 0;
	}
	if (two_digits(p, i) > 23 || two_digits(p, i + 3) > 59 || two_digits(p, i + 6) > 60) {
		*why = "hour, minute or second out of range";
		return 0;
	}
	if (peek_at(p, k) == '.') {
		if (!is_digit(peek_at(p, ++k))) {
			*why = "expected digits after the decimal point of the seconds";
			return 0;
		}
		while (is_digit(peek_at(p, k)))
			k++;
	}
	return k - i;
}

/* Offset/local date-time, local date or local time; validated, kept as
 * written. */
static int parse_datetime(struct parser *p, struct kc_toml_value *v)
{
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *why = NULL;
	size_t i = 0, t;
	unsigned y, m, d;
	cleanup_free char *tok = NULL;

	if (peek_at(p, 2) == ':') { /* local time */
		i = scan_time(p, 0, &why);
		goto out;
	}
	if (!digits_at(p, 0, 4) || peek_at(p, 4) != '-' || !digits_at(p, 5, 2) ||
	    peek_at(p, 7) != '-' || !digits_at(p, 8, 2)) {
		why = "expected a date as YYYY-MM-DD";
		goto out;
	}
	y = two_digits(p, 0) * 100 + two_digits(p, 2);
	m = two_digits(p, 5);
	d = two_digits(p, 8);
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1] ||
	    (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))) {
		why = "no such day";
		goto out;
	}
	i = 10;
	/* A space only separates date and time when a time follows; otherwise
	 * the value is a local date and the space is just whitespace. */
	if (!in_set(peek_at(p, i), "Tt") &&
	    !(peek_at(p, i) == ' ' && digits_at(p, i + 1, 2) && peek_at(p, i + 3) == ':'))
		goto out;
	t = scan_time(p, i + 1, &why);
	if (t == 0)
		goto out;
	i += 1 + t;
	if (peek_at(p, i) == 'Z' || peek_at(p, i) == 'z') {
		i++;
	} else if (peek_at(p, i) == '+' || peek_at(p, i) == '-') {
		if (!digits_at(p, i + 1, 2) || peek_at(p, i + 3) != ':' || !digits_at(p, i + 4, 2) ||
		    two_digits(p, i + 1) > 23 || two_digits(p, i + 4) > 59) {
			why = "expected a UTC offset as +HH:MM or -HH:MM";
			goto out;
		}
		i += 6;
	}
out:
	if (why) {
		size_t n = 0;

		while (is_bare(peek_at(p, n)) || in_set(peek_at(p, n), ":.+"))
			n++;
		tok = show(p->buf + p->off, n);
		return fail(p, "invalid date-time `%s`: %s", tok, why);
	}
	v->type = KC_TOML_DATETIME;
	v->u.s.ptr = dup_bytes(p->buf + p->off, i);
	v->u.s.len = i;
	advance(p, i);
	return 0;
}

static int parse_array(struct parser *p, unsigned depth, struct kc_toml_value *v)
{
	struct kc_toml_array *a = new_array(p, depth, p->line, p->col);
	unsigned line = p->line, col = p->col;
	char d[16];

	if (a == NULL)
		return -1;
	advance(p, 1);
	for (;;) {
		struct kc_toml_value item;

		if (skip_ws_comments_newlines(p) < 0)
			goto fail;
		if (peek(p) == ']')
			break;
		if (peek(p) < 0)
			goto unterminated;
		if (peek(p) == ',') {
			fail(p, "expected a value before `,` in the array");
			goto fail;
		}
		if (parse_value(p, depth + 1, &item) < 0)
			goto fail;
		array_push(a, &item);
		if (skip_ws_comments_newlines(p) < 0)
			goto fail;
		if (peek(p) == ']')
			break;
		if (peek(p) < 0)
			goto unterminated;
		if (peek(p) != ',') {
			fail(p, "expected `,` or `]` after an array element, found %s",
			     describe(p, d));
			goto fail;
		}
		advance(p, 1);
	}
	advance(p, 1);
	v->type = KC_TOML_ARRAY;
	v->u.array = a;
	return 0;
unterminated:
	fail_at(p, line, col, "unterminated array (opened at %u:%u): add a closing ]", line, col);
fail:
	array_free(a);
	return -1;
}

/* { key = value, ... } on one line, no trailing comma (TOML 1.0). */
static int parse_inline_table(struct parser *p, unsigned depth, struct kc_toml_value *v)
{
	struct kc_toml_table *t = new_table(p, depth, p->line, p->col);
	unsigned line = p->line, col = p->col, outer = p->section;
	char d[16];

	if (t == NULL)
		return -1;
	advance(p, 1);
	p->section = ++p->sections; /* dotted keys inside define tables of their own */
	skip_ws(p);
	if (peek(p) != '}') {
		for (;;) {
			skip_ws(p);
			if (peek(p) < 0 || newline_len(p) || peek(p) == '#') {
				fail(p,
				     "unterminated inline table (opened at %u:%u): an inline table must close with } on the same line (use a [table] section for longer tables)",
				     line, col);
				goto fail;
			}
			if (peek(p) == '}') {
				fail(p,
				     "trailing comma in an inline table: remove the `,` before `}`");
				goto fail;
			}
			if (parse_keyval(p, t) < 0)
				goto fail;
			skip_ws(p);
			if (peek(p) == '}')
				break;
			if (peek(p) != ',') {
				if (peek(p) < 0 || newline_len(p) || peek(p) == '#')
					fail(p,
					     "unterminated inline table (opened at %u:%u): an inline table must close with } on the same line (use a [table] section for longer tables)",
					     line, col);
				else
					fail(p,
					     "expected `,` or `}` after a key/value pair in an inline table, found %s",
					     describe(p, d));
				goto fail;
			}
			advance(p, 1);
		}
	}
	advance(p, 1);
	p->section = outer;
	freeze(t);
	*v = table_value(t);
	return 0;
fail:
	p->section = outer;
	table_free(t);
	return -1;
}

static int parse_value(struct parser *p, unsigned depth, struct kc_toml_value *v)
{
	int c = peek(p);
	size_t n = 0;
	char d[16];
	cleanup_free char *word = NULL;

	memset(v, 0, sizeof(*v));
	v->line = p->line;
	v->col = p->col;
	if (c == '"' || c == '\'') {
		struct buf b = { 0 };

		if (parse_string(p, true, &b) < 0) {
			free(b.p);
			return -1;
		}
		v->type = KC_TOML_STRING;
		v->u.s.ptr = b.p;
		v->u.s.len = b.len;
		return 0;
	}
	if (c == '[')
		return parse_array(p, depth, v);
	if (c == '{')
		return parse_inline_table(p, depth, v);
	if (is_digit(c) && ((digits_at(p, 0, 4) && peek_at(p, 4) == '-') ||
			    (digits_at(p, 0, 2) && peek_at(p, 2) == ':')))
		return parse_datetime(p, v);
	if (is_digit(c) || c == '+' || c == '-')
		return parse_number(p, v);
	while (is_bare(peek_at(p, n)))
		n++;
	if ((n == 4 && memcmp(p->buf + p->off, "true", 4) == 0) ||
	    (n == 5 && memcmp(p->buf + p->off, "false", 5) == 0)) {
		v->type = KC_TOML_BOOL;
		v->u.b = n == 4;
		advance(p, n);
		return 0;
	}
	if (n == 3 &&
	    (memcmp(p->buf + p->off, "inf", 3) == 0 || memcmp(p->buf + p->off, "nan", 3) == 0))
		return parse_number(p, v);
	if (c == '.' && is_digit(peek_at(p, 1)))
		return fail(
			p,
			"invalid float: a decimal point must have digits on both sides (0.5, not .5)");
	if (n == 0)
		return fail(
			p,
			"expected a value (a string, number, boolean, date-time, array or inline table), found %s",
			describe(p, d));
	word = show(p->buf + p->off, n);
	if (strcasecmp(word, "true") == 0 || strcasecmp(word, "false") == 0)
		return fail(p,
			    "invalid value `%s`: booleans are written in lower case: true or false",
			    word);
	return fail(p, "invalid value `%s`: text must be quoted (\"%s\")", word, word);
}

/* ---- key/value pairs and headers -------------------------------------- */

/* Steps from t into the table named by the dotted key part kp->k[i],
 * creating it if needed. */
static struct kc_toml_table *dotted_step(struct parser *p, struct kc_toml_table *t,
					 const struct keypath *kp, size_t i)
{
	const struct key *k = &kp->k[i];
	ssize_t j = table_find(t, k->s, k->len);
	cleanup_free char *name = NULL;
	struct kc_toml_table *sub;

	if (j < 0) {
		struct kc_toml_value v;

		sub = new_table(p, t->depth + 1, k->line, k->col);
		if (sub == NULL)
			return NULL;
		sub->dotted = p->section;
		v = table_value(sub);
		table_add(t, k, &v);
		return sub;
	}
	name = key_name(kp, i + 1);
	if (t->e[j].v.type != KC_TOML_TABLE) {
		fail_at(p, k->line, k->col,
			"cannot use `%s` as a table: it is already %s (defined at %u:%u)", name,
			a_type(&t->e[j].v), t->e[j].line, t->e[j].col);
		return NULL;
	}
	sub = t->e[j].v.u.table;
	if (sub->frozen)
		fail_at(p, k->line, k->col,
			"cannot add keys to inline table `%s` (defined at %u:%u): an inline table is complete once closed; put all its keys between { and }",
			name, sub->line, sub->col);
	else if (sub->header)
		fail_at(p, k->line, k->col,
			"cannot add keys to table `%s` with dotted keys: it is defined by the header at %u:%u; put the keys under that header",
			name, sub->line, sub->col);
	else if (sub->dotted && sub->dotted != p->section)
		fail_at(p, k->line, k->col,
			"cannot add keys to table `%s`: it was defined by dotted keys at %u:%u; keep its keys together",
			name, sub->line, sub->col);
	else {
		if (sub->dotted == 0) { /* an implicit table: these dotted keys define it */
			sub->line = t->e[j].line = t->e[j].v.line = k->line;
			sub->col = t->e[j].col = t->e[j].v.col = k->col;
		}
		sub->dotted = p->section;
		return sub;
	}
	return NULL;
}

/* key = value into t (the current section or an inline table being built). */
static int parse_keyval(struct parser *p, struct kc_toml_table *t)
{
	struct keypath kp = { 0 };
	unsigned line = p->line, col = p->col;
	cleanup_free char *name = NULL;
	struct kc_toml_value v;
	struct key last;
	char d[16];
	ssize_t j;
	int ret = -1;

	if (parse_key(p, &kp) < 0)
		goto out;
	name = key_name(&kp, kp.n);
	if (peek(p) != '=') {
		fail(p, "expected `=` after the key `%s`, found %s", name, describe(p, d));
		goto out;
	}
	advance(p, 1);
	skip_ws(p);
	if (peek(p) < 0 || newline_len(p) || peek(p) == '#') {
		fail(p, "missing value for `%s`: write a value after `=`", name);
		goto out;
	}
	for (size_t i = 0; i + 1 < kp.n; i++)
		if ((t = dotted_step(p, t, &kp, i)) == NULL)
			goto out;
	last = kp.k[kp.n - 1];
	j = table_find(t, last.s, last.len);
	if (j >= 0) {
		fail_at(p, line, col, "duplicate key `%s` (first defined at %u:%u)", name,
			t->e[j].line, t->e[j].col);
		goto out;
	}
	if (parse_value(p, t->depth + 1, &v) < 0)
		goto out;
	last.line = line; /* "first defined at" points at the whole key */
	last.col = col;
	table_add(t, &last, &v);
	ret = 0;
out:
	keypath_free(&kp);
	return ret;
}

/* Steps from t into kp->k[i] on the way to a header's table: implicit
 * tables are created, arrays of tables lead to their last element. */
static struct kc_toml_table *header_step(struct parser *p, struct kc_toml_table *t,
					 const struct keypath *kp, size_t i)
{
	const struct key *k = &kp->k[i];
	ssize_t j = table_find(t, k->s, k->len);
	cleanup_free char *name = NULL;
	const struct kc_toml_value *v;

	if (j < 0) {
		struct kc_toml_table *sub = new_table(p, t->depth + 1, k->line, k->col);
		struct kc_toml_value nv;

		if (sub == NULL)
			return NULL;
		nv = table_value(sub);
		table_add(t, k, &nv);
		return sub;
	}
	v = &t->e[j].v;
	name = key_name(kp, i + 1);
	if (v->type == KC_TOML_TABLE && !v->u.table->frozen)
		return v->u.table;
	if (v->type == KC_TOML_ARRAY && v->u.array->aot)
		return v->u.array->v[v->u.array->n - 1].u.table;
	if (v->type == KC_TOML_TABLE)
		fail_at(p, k->line, k->col,
			"cannot extend inline table `%s` (defined at %u:%u) with a [table] header: an inline table is complete once closed",
			name, v->line, v->col);
	else if (v->type == KC_TOML_ARRAY)
		fail_at(p, k->line, k->col,
			"cannot extend `%s` with a [table] header: it is an array written with [ ] (defined at %u:%u), which is complete once closed",
			name, t->e[j].line, t->e[j].col);
	else
		fail_at(p, k->line, k->col,
			"cannot use `%s` as a table: it is already %s (defined at %u:%u)", name,
			a_type(v), t->e[j].line, t->e[j].col);
	return NULL;
}

/* The table a [header] defines: t is its parent, k the last key part
 * (placed at the header). */
static struct kc_toml_table *define_table(struct parser *p, struct kc_toml_table *t,
					  const struct key *k, const char *name)
{
	unsigned line = k->line, col = k->col;
	ssize_t j = table_find(t, k->s, k->len);
	struct kc_toml_table *sub;
	struct kc_toml_value v;

	if (j < 0) {
		if ((sub = new_table(p, t->depth + 1, line, col)) == NULL)
			return NULL;
		sub->header = true;
		v = table_value(sub);
		table_add(t, k, &v);
		return sub;
	}
	v = t->e[j].v;
	sub = v.type == KC_TOML_TABLE ? v.u.table : NULL;
	if (v.type == KC_TOML_ARRAY && v.u.array->aot)
		fail_at(p, line, col,
			"[%s] conflicts with the array of tables [[%s]] defined at %u:%u", name,
			name, t->e[j].line, t->e[j].col);
	else if (sub == NULL)
		fail_at(p, line, col,
			"cannot define table [%s]: `%s` is already %s (defined at %u:%u)", name,
			name, a_type(&v), t->e[j].line, t->e[j].col);
	else if (sub->header)
		fail_at(p, line, col,
			"table [%s] is defined twice (first defined at %u:%u): merge the two sections",
			name, sub->line, sub->col);
	else if (sub->frozen)
		fail_at(p, line, col,
			"cannot define table [%s]: it is already an inline table (defined at %u:%u)",
			name, sub->line, sub->col);
	else if (sub->dotted)
		fail_at(p, line, col,
			"cannot define table [%s]: it was already defined by dotted keys at %u:%u; keep its keys together",
			name, sub->line, sub->col);
	else { /* implicit so far: this header defines it */
		sub->header = true;
		sub->line = t->e[j].line = t->e[j].v.line = line;
		sub->col = t->e[j].col = t->e[j].v.col = col;
		return sub;
	}
	return NULL;
}

/* A new element of the array of tables a [[header]] names (k as above). */
static struct kc_toml_table *append_table(struct parser *p, struct kc_toml_table *t,
					  const struct key *k, const char *name)
{
	unsigned line = k->line, col = k->col;
	ssize_t j = table_find(t, k->s, k->len);
	struct kc_toml_array *a;
	struct kc_toml_table *sub;
	struct kc_toml_value v = { .type = KC_TOML_ARRAY, .line = line, .col = col };

	if (j < 0) {
		if ((a = new_array(p, t->depth + 1, line, col)) == NULL)
			return NULL;
		a->aot = true;
		v.u.array = a;
		table_add(t, k, &v);
	} else if (t->e[j].v.type == KC_TOML_ARRAY && t->e[j].v.u.array->aot) {
		a = t->e[j].v.u.array;
	} else {
		if (t->e[j].v.type == KC_TOML_ARRAY)
			fail_at(p, line, col,
				"cannot append to `%s` with [[%s]]: it is an array written with [ ] (defined at %u:%u), which is complete once closed",
				name, name, t->e[j].line, t->e[j].col);
		else
			fail_at(p, line, col,
				"[[%s]] conflicts with `%s`, already %s (defined at %u:%u)", name,
				name, a_type(&t->e[j].v), t->e[j].line, t->e[j].col);
		return NULL;
	}
	if ((sub = new_table(p, a->depth + 1, line, col)) == NULL)
		return NULL;
	sub->header = true;
	v = table_value(sub);
	array_push(a, &v);
	return sub;
}

/* [table] or [[array.of.tables]] */
static int parse_header(struct parser *p)
{
	unsigned line = p->line, col = p->col;
	bool aot = peek_at(p, 1) == '[';
	struct keypath kp = { 0 };
	cleanup_free char *name = NULL;
	struct kc_toml_table *t = p->root;
	struct key last;
	char d[16];
	int ret = -1;

	advance(p, aot ? 2 : 1);
	skip_ws(p);
	if (parse_key(p, &kp) < 0)
		goto out;
	name = key_name(&kp, kp.n);
	if (peek(p) != ']' || (aot && peek_at(p, 1) != ']')) {
		if (aot && peek(p) == ']')
			advance(p, 1);
		fail(p, "expected `%s` to close the header `%s%s`, found %s", aot ? "]]" : "]",
		     aot ? "[[" : "[", name, describe(p, d));
		goto out;
	}
	advance(p, aot ? 2 : 1);
	for (size_t i = 0; i + 1 < kp.n; i++)
		if ((t = header_step(p, t, &kp, i)) == NULL)
			goto out;
	last = kp.k[kp.n - 1];
	last.line = line; /* "defined at" points at the header */
	last.col = col;
	if (aot)
		t = append_table(p, t, &last, name);
	else
		t = define_table(p, t, &last, name);
	if (t == NULL)
		goto out;
	p->cur = t;
	p->section = ++p->sections;
	ret = expect_eol(p, "a table header");
out:
	keypath_free(&kp);
	return ret;
}

static int parse_document(struct parser *p)
{
	for (;;) {
		skip_ws(p);
		if (peek(p) < 0)
			return 0;
		if (newline_len(p)) {
			advance(p, newline_len(p));
		} else if (peek(p) == '#') {
			if (skip_comment(p) < 0)
				return -1;
		} else if (peek(p) == '[') {
			if (parse_header(p) < 0)
				return -1;
		} else if (parse_keyval(p, p->cur) < 0 || expect_eol(p, "a value") < 0) {
			return -1;
		}
	}
}

/* ---- public API ------------------------------------------------------- */

int kc_toml_parse(const char *buf, size_t len, const char *name, struct kc_toml_table **out,
		  kc_error_t *err)
{
	struct parser p = { .buf = buf, .len = len, .line = 1, .col = 1, .err = err };

	p.name = name ? name : "<toml>";
	p.section = p.sections = 1; /* the root section (0 means "none" in .dotted) */
	*out = NULL;
	if (check_utf8(&p) < 0)
		return -1;
	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
		p.off = 3; /* a byte order mark is not part of the document */
	p.root = p.cur = kc_xzalloc(sizeof(*p.root));
	if (parse_document(&p) < 0) {
		table_free(p.root);
		return -1;
	}
	*out = p.root;
	return 0;
}

int kc_toml_parse_file(const char *path, struct kc_toml_table **out, kc_error_t *err)
{
	cleanup_free char *buf = NULL;
	size_t len = 0;
	int ret;

	*out = NULL;
	ret = kc_read_file(path, MAX_FILE_SIZE, &buf, &len, err);
	if (ret < 0)
		return ret;
	return kc_toml_parse(buf, len, path, out, err);
}

void kc_toml_free(struct kc_toml_table *root)
{
	if (root)
		table_free(root);
}

void kc_toml_freep(struct kc_toml_table **root)
{
	kc_toml_free(*root);
	*root = NULL;
}

size_t kc_toml_table_len(const struct kc_toml_table *t)
{
	return t ? t->n : 0;
}

const char *kc_toml_table_key(const struct kc_toml_table *t, size_t i)
{
	return t && i < t->n ? t->e[i].key : NULL;
}

const struct kc_toml_value *kc_toml_table_value(const struct kc_toml_table *t, size_t i)
{
	return t && i < t->n ? &t->e[i].v : NULL;
}

const struct kc_toml_value *kc_toml_table_get(const struct kc_toml_table *t, const char *key)
{
	ssize_t j = t ? table_find(t, key, strlen(key)) : -1;

	return j >= 0 ? &t->e[j].v : NULL;
}

void kc_toml_table_pos(const struct kc_toml_table *t, unsigned *line, unsigned *col)
{
	*line = t ? t->line : 0;
	*col = t ? t->col : 0;
}

size_t kc_toml_array_len(const struct kc_toml_array *a)
{
	return a ? a->n : 0;
}

const struct kc_toml_value *kc_toml_array_get(const struct kc_toml_array *a, size_t i)
{
	return a && i < a->n ? &a->v[i] : NULL;
}

const char *kc_toml_type_name(enum kc_toml_type type)
{
	static const char *const names[] = {
		[KC_TOML_STRING] = "string",	 [KC_TOML_INTEGER] = "integer",
		[KC_TOML_FLOAT] = "float",	 [KC_TOML_BOOL] = "boolean",
		[KC_TOML_DATETIME] = "datetime", [KC_TOML_ARRAY] = "array",
		[KC_TOML_TABLE] = "table",
	};

	return (unsigned)type < KC_ARRAY_SIZE(names) ? names[type] : "unknown";
}
