/* SPDX-License-Identifier: Apache-2.0 */
#include "toml.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/*
 * A recursive-descent parser for TOML 1.0.  The whole input is checked for
 * valid UTF-8 first, so the rest can walk bytes.  Nesting (arrays, inline
 * tables, table depth) is bounded so hostile input cannot exhaust the stack
 * of the parser or of the recursive walks that free and print the tree.
 */

#define MAX_DEPTH 128
/* Configuration files are small; a bound keeps hostile input cheap. */
#define MAX_FILE_SIZE (4u << 20)

struct kc_toml_array {
	struct kc_toml_value *items;
	size_t n, cap;
	bool of_tables; /* created by [[header]]: may be appended to */
};

enum table_origin {
	TABLE_IMPLICIT, /* created as the parent of a [header] */
	TABLE_HEADER,   /* defined by its own [header] */
	TABLE_DOTTED,   /* created by a dotted key */
	TABLE_INLINE,   /* { inline } tables are closed once written */
};

struct kc_toml_table {
	char **keys;
	struct kc_toml_value *vals;
	size_t n, cap;
	unsigned line, col;
	unsigned depth;
	enum table_origin origin;
};

struct parser {
	const char *buf;
	size_t len, pos;
	unsigned line, col;
	const char *name;
	kc_error_t *err;
	unsigned depth; /* of arrays and inline tables being parsed */
	struct kc_toml_table *root;
	struct kc_toml_table *cur;
};

static int __attribute__((format(printf, 4, 5)))
fail_at(struct parser *p, unsigned line, unsigned col, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = kc_xvasprintf(fmt, ap);
	va_end(ap);
	kc_error_set(p->err, 0, "%s:%u:%u: %s", p->name, line, col, msg);
	free(msg);
	return -1;
}

#define fail(p, ...) fail_at(p, (p)->line, (p)->col, __VA_ARGS__)

/* ---- the tree ---- */

static struct kc_toml_table *table_new(unsigned line, unsigned col, unsigned depth,
				       enum table_origin origin)
{
	struct kc_toml_table *t = kc_xzalloc(sizeof(*t));
	t->line = line;
	t->col = col;
	t->depth = depth;
	t->origin = origin;
	return t;
}

static void value_clear(struct kc_toml_value *v);

static void table_free(struct kc_toml_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->keys[i]);
		value_clear(&t->vals[i]);
	}
	free(t->keys);
	free(t->vals);
	free(t);
}

static void array_free(struct kc_toml_array *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n; i++)
		value_clear(&a->items[i]);
	free(a->items);
	free(a);
}

static void value_clear(struct kc_toml_value *v)
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
	memset(v, 0, sizeof(*v));
}

void kc_toml_free(struct kc_toml_table *root)
{
	table_free(root);
}

void kc_toml_freep(struct kc_toml_table **root)
{
	table_free(*root);
	*root = NULL;
}

static struct kc_toml_value *table_find(struct kc_toml_table *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->keys[i], key) == 0)
			return &t->vals[i];
	return NULL;
}

/* Adds a key; takes ownership of key and of the value's contents. */
static struct kc_toml_value *table_add(struct kc_toml_table *t, char *key,
				       const struct kc_toml_value *v)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		t->keys = kc_xrealloc(t->keys, t->cap * sizeof(*t->keys));
		t->vals = kc_xrealloc(t->vals, t->cap * sizeof(*t->vals));
	}
	t->keys[t->n] = key;
	t->vals[t->n] = *v;
	return &t->vals[t->n++];
}

static void array_add(struct kc_toml_array *a, const struct kc_toml_value *v)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 4;
		a->items = kc_xrealloc(a->items, a->cap * sizeof(*a->items));
	}
	a->items[a->n++] = *v;
}

/* ---- reading ---- */

static bool at_end(const struct parser *p)
{
	return p->pos >= p->len;
}

static int peek(const struct parser *p)
{
	return at_end(p) ? -1 : (unsigned char)p->buf[p->pos];
}

static int peek_at(const struct parser *p, size_t off)
{
	return p->pos + off >= p->len ? -1 : (unsigned char)p->buf[p->pos + off];
}

static bool looking_at(const struct parser *p, const char *s)
{
	size_t n = strlen(s);
	return p->len - p->pos >= n && memcmp(p->buf + p->pos, s, n) == 0;
}

static void advance(struct parser *p)
{
	unsigned char c = (unsigned char)p->buf[p->pos++];

	if (c == '\n') {
		p->line++;
		p->col = 1;
	} else if ((c & 0xc0) != 0x80) {
		/* Columns count characters, not the continuation bytes of UTF-8. */
		p->col++;
	}
}

static void advance_n(struct parser *p, size_t n)
{
	while (n-- > 0)
		advance(p);
}

static void skip_ws(struct parser *p)
{
	while (peek(p) == ' ' || peek(p) == '\t')
		advance(p);
}

static const char *char_name(int c, char buf[16])
{
	if (c < 0)
		return "end of file";
	if (c == '\n')
		return "end of line";
	if (c < 0x20 || c == 0x7f) {
		snprintf(buf, 16, "U+%04X", (unsigned)c);
		return buf;
	}
	if (c >= 0x80)
		return "a non-ASCII character";
	snprintf(buf, 16, "`%c`", c);
	return buf;
}

/* Skips a comment, if any; control characters other than tab are not
 * allowed in comments. */
static int skip_comment(struct parser *p)
{
	if (peek(p) != '#')
		return 0;
	while (!at_end(p) && peek(p) != '\n') {
		int c = peek(p);
		if (c == '\r' && peek_at(p, 1) == '\n')
			break;
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			char b[16];
			return fail(p, "control character %s is not allowed in a comment",
				    char_name(c, b));
		}
		advance(p);
	}
	return 0;
}

/* Consumes a newline (LF or CRLF) if there is one. */
static int eat_newline(struct parser *p, bool *ate)
{
	*ate = false;
	if (peek(p) == '\n') {
		advance(p);
		*ate = true;
	} else if (peek(p) == '\r') {
		if (peek_at(p, 1) != '\n')
			return fail(p, "a carriage return must be followed by a line feed");
		advance_n(p, 2);
		*ate = true;
	}
	return 0;
}

/* Whitespace, comments and newlines, as allowed inside arrays. */
static int skip_ws_comments_newlines(struct parser *p)
{
	for (;;) {
		bool ate;
		skip_ws(p);
		if (skip_comment(p) < 0 || eat_newline(p, &ate) < 0)
			return -1;
		if (!ate)
			return 0;
	}
}

/* ---- UTF-8 ---- */

/* Returns the length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
	uint32_t cp;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n > avail)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are invalid. */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

static int check_utf8(struct parser *p)
{
	unsigned line = 1, col = 1;

	for (size_t i = 0; i < p->len;) {
		size_t n = utf8_len((const unsigned char *)p->buf + i, p->len - i);
		if (n == 0)
			return fail_at(p, line, col, "invalid UTF-8 (TOML files must be UTF-8)");
		if (p->buf[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
		i += n;
	}
	return 0;
}

static void utf8_encode(uint32_t cp, char *out, size_t *n)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		*n = 1;
	} else if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		*n = 2;
	} else if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		*n = 3;
	} else {
		out[0] = (char)(0xf0 | (cp >> 18));
		out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[3] = (char)(0x80 | (cp & 0x3f));
		*n = 4;
	}
}

/* ---- strings ---- */

struct strbuf {
	char *s;
	size_t len, cap;
};

static void sb_add(struct strbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap = b->cap ? b->cap * 2 : 32;
		b->s = kc_xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static int parse_escape(struct parser *p, struct strbuf *b)
{
	unsigned line = p->line, col = p->col;
	int c = peek_at(p, 1);
	char out[4];
	size_t n = 1;

	switch (c) {
	case 'b':
		out[0] = '\b';
		break;
	case 't':
		out[0] = '\t';
		break;
	case 'n':
		out[0] = '\n';
		break;
	case 'f':
		out[0] = '\f';
		break;
	case 'r':
		out[0] = '\r';
		break;
	case '"':
		out[0] = '"';
		break;
	case '\\':
		out[0] = '\\';
		break;
	case 'u':
	case 'U': {
		size_t digits = c == 'u' ? 4 : 8;
		uint32_t cp = 0;
		for (size_t i = 0; i < digits; i++) {
			int h = peek_at(p, 2 + i);
			int v = h >= '0' && h <= '9' ? h - '0' :
				h >= 'a' && h <= 'f' ? h - 'a' + 10 :
				h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
			if (v < 0)
				return fail_at(p, line, col, "escape \\%c needs %zu hexadecimal digits",
					       c, digits);
			cp = cp << 4 | (uint32_t)v;
		}
		if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return fail_at(p, line, col,
				       "escape \\%c%.*s is not a Unicode scalar value", c,
				       (int)digits, p->buf + p->pos + 2);
		utf8_encode(cp, out, &n);
		advance_n(p, 2 + digits);
		sb_add(b, out, n);
		return 0;
	}
	default: {
		char nb[16];
		return fail_at(p, line, col,
			       "invalid escape \\%s in a string: valid escapes are \\b \\t \\n \\f "
			       "\\r \\\" \\\\ \\uXXXX \\UXXXXXXXX",
			       c >= 0x21 && c < 0x7f ? (snprintf(nb, sizeof(nb), "%c", c), nb) :
						       char_name(c, nb));
	}
	}
	advance_n(p, 2);
	sb_add(b, out, n);
	return 0;
}

static bool is_bad_control(int c, bool multiline)
{
	if (c == '\t' || (multiline && c == '\n'))
		return false;
	return (c >= 0 && c < 0x20) || c == 0x7f;
}

/* Parses any of the four string forms; p is at the opening quote. */
static int parse_string(struct parser *p, bool allow_multiline, struct strbuf *b)
{
	unsigned line = p->line, col = p->col;
	bool literal = peek(p) == '\'';
	const char *delim = literal ? "'" : "\"";
	const char *delim3 = literal ? "'''" : "\"\"\"";
	bool multiline = looking_at(p, delim3);

	b->s = kc_xstrdup("");
	b->len = 0;
	b->cap = 1;
	if (multiline && !allow_multiline)
		return fail(p, "a key cannot be a multi-line string");
	if (multiline) {
		bool ate;
		advance_n(p, 3);
		/* A newline right after the opening delimiter is trimmed. */
		if (eat_newline(p, &ate) < 0)
			return -1;
	} else {
		advance(p);
	}
	for (;;) {
		int c = peek(p);

		if (c < 0 || (!multiline && (c == '\n' || c == '\r')))
			return fail_at(p, line, col,
				       "unterminated string (opened at %u:%u): add a closing %s", line,
				       col, multiline ? delim3 : delim);
		if (multiline && looking_at(p, delim3)) {
			/* Up to two quotes may sit right before the closing three. */
			size_t extra = 0;
			while (extra < 2 && peek_at(p, 3 + extra) == delim[0])
				extra++;
			sb_add(b, p->buf + p->pos, extra);
			advance_n(p, 3 + extra);
			return 0;
		}
		if (!multiline && c == delim[0]) {
			advance(p);
			return 0;
		}
		if (c == '\r' && peek_at(p, 1) == '\n') {
			sb_add(b, "\r\n", 2);
			advance_n(p, 2);
			continue;
		}
		if (is_bad_control(c, multiline)) {
			char nb[16];
			return fail(p, "control character %s must be escaped in a string",
				    char_name(c, nb));
		}
		if (c == '\\' && !literal) {
			if (multiline) {
				/* A line-ending backslash trims the newline and the
				 * whitespace that follows it. */
				size_t i = 1;
				while (peek_at(p, i) == ' ' || peek_at(p, i) == '\t')
					i++;
				if (peek_at(p, i) == '\n' ||
				    (peek_at(p, i) == '\r' && peek_at(p, i + 1) == '\n')) {
					advance_n(p, i);
					while (peek(p) == ' ' || peek(p) == '\t' || peek(p) == '\n' ||
					       (peek(p) == '\r' && peek_at(p, 1) == '\n'))
						advance(p);
					continue;
				}
			}
			if (parse_escape(p, b) < 0)
				return -1;
			continue;
		}
		sb_add(b, p->buf + p->pos, 1);
		advance(p);
	}
}

/* ---- keys ---- */

static bool is_bare_key_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

struct key_path {
	char **parts;
	unsigned *lines, *cols;
	size_t n;
};

static void key_path_free(struct key_path *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->parts[i]);
	free(k->parts);
	free(k->lines);
	free(k->cols);
	memset(k, 0, sizeof(*k));
}

static char *key_path_text(const struct key_path *k, size_t upto)
{
	struct strbuf b = { 0 };
	sb_add(&b, "", 0);
	for (size_t i = 0; i < upto; i++) {
		if (i)
			sb_add(&b, ".", 1);
		sb_add(&b, k->parts[i], strlen(k->parts[i]));
	}
	return b.s;
}

static int parse_key(struct parser *p, struct key_path *k)
{
	memset(k, 0, sizeof(*k));
	for (;;) {
		struct strbuf b = { 0 };
		unsigned line, col;
		int c;

		skip_ws(p);
		line = p->line;
		col = p->col;
		c = peek(p);
		if (c == '"' || c == '\'') {
			if (parse_string(p, false, &b) < 0) {
				free(b.s);
				return -1;
			}
			if (strlen(b.s) != b.len) {
				free(b.s);
				return fail_at(p, line, col, "a key cannot contain a NUL character");
			}
		} else if (is_bare_key_char(c)) {
			size_t start = p->pos;
			while (is_bare_key_char(peek(p)))
				advance(p);
			b.s = kc_xstrndup(p->buf + start, p->pos - start);
		} else {
			char nb[16];
			return fail(p, "expected a key, found %s (bare keys use A-Z a-z 0-9 _ -; "
				       "quote other keys)", char_name(c, nb));
		}
		k->parts = kc_xrealloc(k->parts, (k->n + 1) * sizeof(*k->parts));
		k->lines = kc_xrealloc(k->lines, (k->n + 1) * sizeof(*k->lines));
		k->cols = kc_xrealloc(k->cols, (k->n + 1) * sizeof(*k->cols));
		k->parts[k->n] = b.s;
		k->lines[k->n] = line;
		k->cols[k->n] = col;
		k->n++;
		skip_ws(p);
		if (peek(p) != '.')
			return 0;
		advance(p);
	}
}

/* ---- values ---- */

static int parse_value(struct parser *p, struct kc_toml_value *v);
static int parse_inline_table(struct parser *p, struct kc_toml_value *v);

static int parse_array(struct parser *p, struct kc_toml_value *v)
{
	unsigned line = p->line, col = p->col;

	if (++p->depth > MAX_DEPTH)
		return fail(p, "arrays and inline tables nest deeper than %d levels", MAX_DEPTH);
	v->type = KC_TOML_ARRAY;
	v->u.array = kc_xzalloc(sizeof(*v->u.array));
	advance(p); /* [ */
	for (;;) {
		struct kc_toml_value item = { 0 };

		if (skip_ws_comments_newlines(p) < 0)
			return -1;
		if (peek(p) == ']')
			break;
		if (at_end(p))
			return fail_at(p, line, col, "unterminated array (opened at %u:%u): add a ]",
				       line, col);
		if (parse_value(p, &item) < 0) {
			value_clear(&item);
			return -1;
		}
		array_add(v->u.array, &item);
		if (skip_ws_comments_newlines(p) < 0)
			return -1;
		if (peek(p) == ',') {
			advance(p);
			continue;
		}
		if (peek(p) == ']')
			break;
		if (at_end(p))
			return fail_at(p, line, col, "unterminated array (opened at %u:%u): add a ]",
				       line, col);
		char nb[16];
		return fail(p, "expected `,` or `]` in the array opened at %u:%u, found %s", line, col,
			    char_name(peek(p), nb));
	}
	advance(p); /* ] */
	p->depth--;
	return 0;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int digits_at(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit((unsigned char)s[i]))
			return -1;
	int v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* Validates HH:MM:SS[.frac] at s; returns its length or 0. */
static size_t time_len(const char *s, size_t avail)
{
	size_t n = 8;
	if (avail < 8 || s[2] != ':' || s[5] != ':')
		return 0;
	int h = digits_at(s, 2), m = digits_at(s + 3, 2), sec = digits_at(s + 6, 2);
	if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60)
		return 0;
	if (n < avail && s[n] == '.') {
		size_t d = 0;
		while (n + 1 + d < avail && is_digit((unsigned char)s[n + 1 + d]))
			d++;
		if (d == 0)
			return 0;
		n += 1 + d;
	}
	return n;
}

static bool valid_date(int y, int m, int d)
{
	static const int days[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (y < 0 || m < 1 || m > 12 || d < 1 || d > days[m - 1])
		return false;
	if (m == 2 && d == 29)
		return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return true;
}

/* Offset date-time, local date-time, local date or local time. */
static int parse_datetime(struct parser *p, struct kc_toml_value *v)
{
	const char *s = p->buf + p->pos;
	size_t avail = p->len - p->pos, n = 0;

	if (avail >= 3 && s[2] == ':') {
		n = time_len(s, avail);
		if (n == 0)
			return fail(p, "invalid local time (expected HH:MM:SS with valid values)");
	} else {
		if (avail < 10 || s[4] != '-' || s[7] != '-' ||
		    !valid_date(digits_at(s, 4), digits_at(s + 5, 2), digits_at(s + 8, 2)))
			return fail(p, "invalid date (expected YYYY-MM-DD with valid values)");
		n = 10;
		/* A space separates date and time only when a time follows. */
		if (n < avail && (s[n] == 'T' || s[n] == 't' ||
				  (s[n] == ' ' && n + 3 < avail && is_digit((unsigned char)s[n + 1]) &&
				   is_digit((unsigned char)s[n + 2]) && s[n + 3] == ':'))) {
			size_t t = time_len(s + n + 1, avail - n - 1);
			if (t == 0)
				return fail(p, "invalid time in date-time (expected HH:MM:SS)");
			n += 1 + t;
			if (n < avail && (s[n] == 'Z' || s[n] == 'z')) {
				n++;
			} else if (n < avail && (s[n] == '+' || s[n] == '-')) {
				if (avail - n < 6 || s[n + 3] != ':' || digits_at(s + n + 1, 2) < 0 ||
				    digits_at(s + n + 1, 2) > 23 || digits_at(s + n + 4, 2) < 0 ||
				    digits_at(s + n + 4, 2) > 59)
					return fail(p, "invalid time offset (expected Z or +HH:MM)");
				n += 6;
			}
		}
	}
	v->type = KC_TOML_DATETIME;
	v->u.s.ptr = kc_xstrndup(s, n);
	v->u.s.len = n;
	advance_n(p, n);
	return 0;
}

/* Copies digits of a number token without underscores, checking that each
 * underscore sits between two digits of the given base. */
static int strip_underscores(struct parser *p, const char *s, size_t n, int base, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '_') {
			bool ok = i > 0 && i + 1 < n;
			if (ok) {
				int a = (unsigned char)s[i - 1], b = (unsigned char)s[i + 1];
				ok = base == 16 ? isxdigit(a) && isxdigit(b) : is_digit(a) && is_digit(b);
			}
			if (!ok)
				return fail(p, "an underscore in a number must sit between two digits");
			continue;
		}
		out[o++] = s[i];
	}
	out[o] = '\0';
	return 0;
}

static int parse_number(struct parser *p, struct kc_toml_value *v)
{
	const char *s = p->buf + p->pos;
	size_t n = 0;
	cleanup_free char *tok = NULL;
	cleanup_free char *clean = NULL;

	while (p->pos + n < p->len) {
		int c = (unsigned char)s[n];
		if (!(is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		      c == '+' || c == '-' || c == '.'))
			break;
		/* A sign is part of a number only first or after an exponent. */
		if ((c == '+' || c == '-') && n > 0 && s[n - 1] != 'e' && s[n - 1] != 'E')
			break;
		n++;
	}
	tok = kc_xstrndup(s, n);
	clean = kc_xmalloc(n + 1);

	const char *t = tok;
	bool neg = false, sign = false;
	if (*t == '+' || *t == '-') {
		neg = *t == '-';
		sign = true;
		t++;
	}
	if (strcmp(t, "inf") == 0 || strcmp(t, "nan") == 0) {
		v->type = KC_TOML_FLOAT;
		v->u.f = t[0] == 'i' ? (neg ? -INFINITY : INFINITY) : (neg ? -NAN : NAN);
		advance_n(p, n);
		return 0;
	}
	if (t[0] == '0' && (t[1] == 'x' || t[1] == 'o' || t[1] == 'b')) {
		int base = t[1] == 'x' ? 16 : t[1] == 'o' ? 8 : 2;
		char *end;
		if (sign)
			return fail(p, "`%s`: hexadecimal, octal and binary integers take no sign", tok);
		if (t[2] == '\0' || t[2] == '_')
			return fail(p, "`%s`: digits expected after the 0%c prefix", tok, t[1]);
		if (strip_underscores(p, t + 2, strlen(t + 2), base, clean) < 0)
			return -1;
		errno = 0;
		unsigned long long u = strtoull(clean, &end, base);
		if (*end != '\0' || clean[0] == '-' || clean[0] == '+')
			return fail(p, "`%s` is not a valid base-%d integer", tok, base);
		if (errno == ERANGE || u > INT64_MAX)
			return fail(p, "integer `%s` does not fit in 64 bits", tok);
		v->type = KC_TOML_INTEGER;
		v->u.i = (int64_t)u;
		advance_n(p, n);
		return 0;
	}
	if (!is_digit((unsigned char)t[0]))
		return fail(p, "expected a value, found `%s` (strings need quotes)", tok);
	/* Integer part: no leading zeros. */
	size_t i = 0;
	while (is_digit((unsigned char)t[i]) || t[i] == '_')
		i++;
	if (t[0] == '0' && i > 1)
		return fail(p, "`%s`: leading zeros are not allowed", tok);
	bool is_float = false;
	if (t[i] == '.') {
		is_float = true;
		i++;
		if (!is_digit((unsigned char)t[i]))
			return fail(p, "`%s`: a digit must follow the decimal point", tok);
		while (is_digit((unsigned char)t[i]) || t[i] == '_')
			i++;
	}
	if (t[i] == 'e' || t[i] == 'E') {
		is_float = true;
		i++;
		if (t[i] == '+' || t[i] == '-')
			i++;
		if (!is_digit((unsigned char)t[i]))
			return fail(p, "`%s`: digits must follow the exponent", tok);
		while (is_digit((unsigned char)t[i]) || t[i] == '_')
			i++;
	}
	if (t[i] != '\0')
		return fail(p, "`%s` is not a valid number", tok);
	if (strip_underscores(p, tok, n, 10, clean) < 0)
		return -1;
	/* "1_.5" or "1._5" pass the digit check of the underscore's left side
	 * only if both neighbours are digits, which strip_underscores checked. */
	errno = 0;
	char *end;
	if (is_float) {
		double d = strtod(clean, &end);
		if (*end != '\0')
			return fail(p, "`%s` is not a valid float", tok);
		if (errno == ERANGE && isinf(d))
			return fail(p, "float `%s` is out of range", tok);
		v->type = KC_TOML_FLOAT;
		v->u.f = d;
	} else {
		long long l = strtoll(clean, &end, 10);
		if (*end != '\0')
			return fail(p, "`%s` is not a valid integer", tok);
		if (errno == ERANGE)
			return fail(p, "integer `%s` does not fit in 64 bits", tok);
		v->type = KC_TOML_INTEGER;
		v->u.i = l;
	}
	advance_n(p, n);
	return 0;
}

static bool looks_like_datetime(const struct parser *p)
{
	const char *s = p->buf + p->pos;
	size_t avail = p->len - p->pos;
	if (avail >= 5 && is_digit((unsigned char)s[0]) && is_digit((unsigned char)s[1]) &&
	    is_digit((unsigned char)s[2]) && is_digit((unsigned char)s[3]) && s[4] == '-')
		return true;
	return avail >= 3 && is_digit((unsigned char)s[0]) && is_digit((unsigned char)s[1]) &&
	       s[2] == ':';
}

static int parse_value(struct parser *p, struct kc_toml_value *v)
{
	int c = peek(p);

	memset(v, 0, sizeof(*v));
	v->line = p->line;
	v->col = p->col;
	if (c == '"' || c == '\'') {
		struct strbuf b = { 0 };
		if (parse_string(p, true, &b) < 0) {
			free(b.s);
			return -1;
		}
		v->type = KC_TOML_STRING;
		v->u.s.ptr = b.s;
		v->u.s.len = b.len;
		return 0;
	}
	if (c == '[')
		return parse_array(p, v);
	if (c == '{')
		return parse_inline_table(p, v);
	if (looking_at(p, "true") && !is_bare_key_char(peek_at(p, 4))) {
		v->type = KC_TOML_BOOL;
		v->u.b = true;
		advance_n(p, 4);
		return 0;
	}
	if (looking_at(p, "false") && !is_bare_key_char(peek_at(p, 5))) {
		v->type = KC_TOML_BOOL;
		v->u.b = false;
		advance_n(p, 5);
		return 0;
	}
	if (looks_like_datetime(p))
		return parse_datetime(p, v);
	if (c == '+' || c == '-' || is_digit(c) || looking_at(p, "inf") || looking_at(p, "nan"))
		return parse_number(p, v);
	char nb[16];
	if (c < 0 || c == '\n' || c == '\r' || c == '#')
		return fail(p, "expected a value after `=`, found %s", char_name(c == '\r' ? '\n' : c, nb));
	if (is_bare_key_char(c)) {
		size_t n = 0;
		while (n < 64 && is_bare_key_char(peek_at(p, n)))
			n++;
		return fail(p, "expected a value, found `%.*s` (strings need quotes)", (int)n,
			    p->buf + p->pos);
	}
	return fail(p, "expected a value, found %s", char_name(c, nb));
}

/* ---- key/value pairs and tables ---- */

/*
 * Stores `key = value` in table t, creating the tables of a dotted key.
 * Dotted keys may only extend tables that dotted keys created in this same
 * table: TOML forbids them to reopen a table defined by a [header] or an
 * inline table.
 */
static int store_keyval(struct parser *p, struct kc_toml_table *t, struct key_path *k,
			struct kc_toml_value *v, enum table_origin origin)
{
	for (size_t i = 0; i + 1 < k->n; i++) {
		struct kc_toml_value *e = table_find(t, k->parts[i]);
		if (e == NULL) {
			if (t->depth + 1 > MAX_DEPTH)
				return fail_at(p, k->lines[i], k->cols[i],
					       "tables nest deeper than %d levels", MAX_DEPTH);
			struct kc_toml_value nt = { .type = KC_TOML_TABLE,
						    .line = k->lines[i],
						    .col = k->cols[i] };
			nt.u.table = table_new(k->lines[i], k->cols[i], t->depth + 1, origin);
			e = table_add(t, kc_xstrdup(k->parts[i]), &nt);
		} else if (e->type != KC_TOML_TABLE || e->u.table->origin != origin) {
			cleanup_free char *name = key_path_text(k, i + 1);
			return fail_at(p, k->lines[i], k->cols[i],
				       "cannot add keys to `%s` with a dotted key: it was defined at "
				       "%u:%u as %s",
				       name, e->line, e->col,
				       e->type != KC_TOML_TABLE ? "a value" :
				       e->u.table->origin == TABLE_INLINE ? "an inline table" :
									   "a [table]");
		}
		t = e->u.table;
	}
	const char *last = k->parts[k->n - 1];
	struct kc_toml_value *dup = table_find(t, last);
	if (dup != NULL) {
		cleanup_free char *name = key_path_text(k, k->n);
		return fail_at(p, k->lines[k->n - 1], k->cols[k->n - 1],
			       "duplicate key `%s` (first defined at %u:%u)", name, dup->line,
			       dup->col);
	}
	if (v->type == KC_TOML_TABLE)
		v->u.table->depth = t->depth + 1;
	table_add(t, kc_xstrdup(last), v);
	memset(v, 0, sizeof(*v));
	return 0;
}

/* key = value, with p at the key; into table t. */
static int parse_keyval(struct parser *p, struct kc_toml_table *t, enum table_origin origin)
{
	struct key_path k;
	struct kc_toml_value v = { 0 };
	int ret = -1;

	if (parse_key(p, &k) < 0)
		goto out;
	skip_ws(p);
	if (peek(p) != '=') {
		cleanup_free char *name = key_path_text(&k, k.n);
		char nb[16];
		fail(p, "expected `=` after the key `%s`, found %s", name, char_name(peek(p), nb));
		goto out;
	}
	advance(p);
	skip_ws(p);
	if (parse_value(p, &v) < 0)
		goto out;
	ret = store_keyval(p, t, &k, &v, origin);
out:
	value_clear(&v);
	key_path_free(&k);
	return ret;
}

static void freeze(struct kc_toml_table *t)
{
	t->origin = TABLE_INLINE;
	for (size_t i = 0; i < t->n; i++)
		if (t->vals[i].type == KC_TOML_TABLE)
			freeze(t->vals[i].u.table);
}

static int parse_inline_table(struct parser *p, struct kc_toml_value *v)
{
	unsigned line = p->line, col = p->col;

	if (++p->depth > MAX_DEPTH)
		return fail(p, "arrays and inline tables nest deeper than %d levels", MAX_DEPTH);
	v->type = KC_TOML_TABLE;
	/* Built with dotted-key rules, then closed for good. */
	v->u.table = table_new(line, col, 0, TABLE_DOTTED);
	advance(p); /* { */
	skip_ws(p);
	if (peek(p) == '}') {
		advance(p);
		freeze(v->u.table);
		p->depth--;
		return 0;
	}
	for (;;) {
		skip_ws(p);
		if (parse_keyval(p, v->u.table, TABLE_DOTTED) < 0)
			return -1;
		skip_ws(p);
		if (peek(p) == ',') {
			advance(p);
			skip_ws(p);
			if (peek(p) == '}')
				return fail(p, "a trailing comma is not allowed in an inline table");
			continue;
		}
		if (peek(p) == '}') {
			advance(p);
			break;
		}
		char nb[16];
		return fail(p, "expected `,` or `}` in the inline table opened at %u:%u, found %s "
			       "(inline tables must stay on one line)", line, col,
			    char_name(peek(p), nb));
	}
	freeze(v->u.table);
	p->depth--;
	return 0;
}

/* Walks (creating where needed) the tables of a header's key path except
 * the last part. */
static int header_parent(struct parser *p, struct key_path *k, struct kc_toml_table **out)
{
	struct kc_toml_table *t = p->root;

	for (size_t i = 0; i + 1 < k->n; i++) {
		struct kc_toml_value *e = table_find(t, k->parts[i]);
		if (e == NULL) {
			if (t->depth + 1 > MAX_DEPTH)
				return fail_at(p, k->lines[i], k->cols[i],
					       "tables nest deeper than %d levels", MAX_DEPTH);
			struct kc_toml_value nt = { .type = KC_TOML_TABLE,
						    .line = k->lines[i],
						    .col = k->cols[i] };
			nt.u.table = table_new(k->lines[i], k->cols[i], t->depth + 1,
					       TABLE_IMPLICIT);
			e = table_add(t, kc_xstrdup(k->parts[i]), &nt);
		}
		if (e->type == KC_TOML_ARRAY && e->u.array->of_tables) {
			/* [[a]] then [a.b]: b belongs to the last element of a. */
			t = e->u.array->items[e->u.array->n - 1].u.table;
			continue;
		}
		if (e->type != KC_TOML_TABLE || e->u.table->origin == TABLE_INLINE) {
			cleanup_free char *name = key_path_text(k, i + 1);
			return fail_at(p, k->lines[i], k->cols[i],
				       "`%s` was defined at %u:%u as %s and cannot take sub-tables",
				       name, e->line, e->col,
				       e->type == KC_TOML_TABLE ? "an inline table" : "a value");
		}
		t = e->u.table;
	}
	*out = t;
	return 0;
}

static int parse_header(struct parser *p)
{
	unsigned line = p->line, col = p->col;
	bool array = looking_at(p, "[[");
	struct kc_toml_table *parent = NULL;
	char *name = NULL;
	struct key_path k;
	int ret = -1;

	advance_n(p, array ? 2 : 1);
	if (parse_key(p, &k) < 0)
		goto out;
	if (array ? !looking_at(p, "]]") : peek(p) != ']') {
		char nb[16];
		fail(p, "expected `%s` to close the table header, found %s", array ? "]]" : "]",
		     char_name(peek(p), nb));
		goto out;
	}
	advance_n(p, array ? 2 : 1);
	if (header_parent(p, &k, &parent) < 0)
		goto out;

	const char *last = k.parts[k.n - 1];
	struct kc_toml_value *e = table_find(parent, last);
	name = key_path_text(&k, k.n);
	if (parent->depth + 1 > MAX_DEPTH) {
		fail_at(p, line, col, "tables nest deeper than %d levels", MAX_DEPTH);
		goto out;
	}
	if (array) {
		struct kc_toml_value nt = { .type = KC_TOML_TABLE, .line = line, .col = col };
		if (e == NULL) {
			struct kc_toml_value na = { .type = KC_TOML_ARRAY, .line = line, .col = col };
			na.u.array = kc_xzalloc(sizeof(*na.u.array));
			na.u.array->of_tables = true;
			e = table_add(parent, kc_xstrdup(last), &na);
		} else if (e->type != KC_TOML_ARRAY || !e->u.array->of_tables) {
			fail_at(p, line, col, "cannot define [[%s]]: `%s` was defined at %u:%u as %s",
				name, name, e->line, e->col,
				e->type == KC_TOML_ARRAY ? "a static array" : "a table or value");
			goto out;
		}
		nt.u.table = table_new(line, col, parent->depth + 1, TABLE_HEADER);
		array_add(e->u.array, &nt);
		p->cur = nt.u.table;
		ret = 0;
		goto out;
	}
	if (e == NULL) {
		struct kc_toml_value nt = { .type = KC_TOML_TABLE, .line = line, .col = col };
		nt.u.table = table_new(line, col, parent->depth + 1, TABLE_HEADER);
		table_add(parent, kc_xstrdup(last), &nt);
		p->cur = nt.u.table;
		ret = 0;
		goto out;
	}
	if (e->type == KC_TOML_TABLE && e->u.table->origin == TABLE_IMPLICIT) {
		/* Created as the parent of an earlier header: defined now. */
		e->u.table->origin = TABLE_HEADER;
		e->u.table->line = line;
		e->u.table->col = col;
		e->line = line;
		e->col = col;
		p->cur = e->u.table;
		ret = 0;
		goto out;
	}
	fail_at(p, line, col, "table [%s] is defined twice (first at %u:%u)", name, e->line, e->col);
out:
	free(name);
	key_path_free(&k);
	return ret;
}

/* After a key/value or a header: only whitespace and a comment may follow
 * on the line. */
static int end_of_line(struct parser *p)
{
	bool ate;

	skip_ws(p);
	if (skip_comment(p) < 0)
		return -1;
	if (at_end(p))
		return 0;
	if (eat_newline(p, &ate) < 0)
		return -1;
	if (!ate) {
		char nb[16];
		return fail(p, "unexpected %s after the value: expected a newline or a # comment",
			    char_name(peek(p), nb));
	}
	return 0;
}

int kc_toml_parse(const char *buf, size_t len, const char *name, struct kc_toml_table **out,
		  kc_error_t *err)
{
	struct parser p = {
		.buf = buf, .len = len, .line = 1, .col = 1, .name = name, .err = err,
	};

	if (check_utf8(&p) < 0)
		return -1;
	p.root = table_new(0, 0, 0, TABLE_HEADER);
	p.cur = p.root;
	/* A byte order mark is allowed at the start. */
	if (looking_at(&p, "\xef\xbb\xbf"))
		advance_n(&p, 3);
	while (!at_end(&p)) {
		bool ate;
		int ret;

		skip_ws(&p);
		if (skip_comment(&p) < 0 || eat_newline(&p, &ate) < 0)
			goto fail;
		if (ate || at_end(&p))
			continue;
		if (peek(&p) == '[')
			ret = parse_header(&p);
		else
			ret = parse_keyval(&p, p.cur, TABLE_DOTTED);
		if (ret < 0 || end_of_line(&p) < 0)
			goto fail;
	}
	*out = p.root;
	return 0;
fail:
	table_free(p.root);
	return kc_error_ret(err);
}

int kc_toml_parse_file(const char *path, struct kc_toml_table **out, kc_error_t *err)
{
	cleanup_free char *buf = NULL;
	size_t len;
	int ret = kc_read_file(path, MAX_FILE_SIZE, &buf, &len, err);

	if (ret < 0)
		return ret;
	return kc_toml_parse(buf, len, path, out, err);
}

size_t kc_toml_table_len(const struct kc_toml_table *t)
{
	return t->n;
}

const char *kc_toml_table_key(const struct kc_toml_table *t, size_t i)
{
	return i < t->n ? t->keys[i] : NULL;
}

const struct kc_toml_value *kc_toml_table_value(const struct kc_toml_table *t, size_t i)
{
	return i < t->n ? &t->vals[i] : NULL;
}

const struct kc_toml_value *kc_toml_table_get(const struct kc_toml_table *t, const char *key)
{
	return table_find((struct kc_toml_table *)t, key);
}

void kc_toml_table_pos(const struct kc_toml_table *t, unsigned *line, unsigned *col)
{
	*line = t->line;
	*col = t->col;
}

size_t kc_toml_array_len(const struct kc_toml_array *a)
{
	return a->n;
}

const struct kc_toml_value *kc_toml_array_get(const struct kc_toml_array *a, size_t i)
{
	return i < a->n ? &a->items[i] : NULL;
}

const char *kc_toml_type_name(enum kc_toml_type type)
{
	static const char *const names[] = {
		[KC_TOML_STRING] = "string",     [KC_TOML_INTEGER] = "integer",
		[KC_TOML_FLOAT] = "float",       [KC_TOML_BOOL] = "boolean",
		[KC_TOML_DATETIME] = "datetime", [KC_TOML_ARRAY] = "array",
		[KC_TOML_TABLE] = "table",
	};
	return (unsigned)type < KC_ARRAY_SIZE(names) ? names[type] : "unknown";
}
