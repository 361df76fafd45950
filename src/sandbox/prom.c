// SPDX-License-Identifier: Apache-2.0
/*
 * The Prometheus text format 0.0.4, written and read back
 * (https://prometheus.io/docs/instrumenting/exposition_formats/):
 *
 *   # HELP name help text, with \\ and \n escaped
 *   # TYPE name counter|gauge|untyped|histogram|summary
 *   name{label="value, with \\ \" \n escaped",...} value [timestamp]
 *
 * Metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
 * [a-zA-Z_][a-zA-Z0-9_]* and may not start with "__" (reserved).  Values
 * are floats as Go's ParseFloat reads them, including NaN, +Inf and -Inf.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "prom.h"
#include "prom_internal.h"

struct kc_prom {
	char *buf;
	size_t len, cap;
	char **families; /* names started, in order */
	size_t n_families;
	const char *cur; /* the family samples go to (an entry of families) */
	enum kc_prom_type cur_type;
	char **const_labels; /* name, value, ... */
	size_t n_const;
};

static const char *const type_names[] = {
	[KC_PROM_COUNTER] = "counter",
	[KC_PROM_GAUGE] = "gauge",
	[KC_PROM_UNTYPED] = "untyped",
	[KC_PROM_HISTOGRAM] = "histogram",
};

/* Room for element n of an array grown by doubling: its capacity is the
 * power of two above the count, so it grows when the count is one. */
static void *grow(void *array, size_t n, size_t size)
{
	if (n && (n & (n - 1)))
		return array;
	return kc_xrealloc(array, (n ? 2 * n : 1) * size);
}

bool kc_prom_valid_name(const char *s)
{
	if (!s || !*s || !(isalpha((unsigned char)*s) || *s == '_' || *s == ':'))
		return false;
	for (s++; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_' || *s == ':'))
			return false;
	return true;
}

bool kc_prom_valid_label(const char *s)
{
	if (!s || !*s || !(isalpha((unsigned char)*s) || *s == '_') || strncmp(s, "__", 2) == 0)
		return false;
	for (s++; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return false;
	return true;
}

struct kc_prom *kc_prom_new(void)
{
	struct kc_prom *p = kc_xzalloc(sizeof(*p));

	p->cap = 4096;
	p->buf = kc_xmalloc(p->cap);
	p->buf[0] = '\0';
	return p;
}

void kc_prom_free(struct kc_prom *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_families; i++)
		free(p->families[i]);
	free(p->families);
	for (size_t i = 0; i < 2 * p->n_const; i++)
		free(p->const_labels[i]);
	free(p->const_labels);
	free(p->buf);
	free(p);
}

void kc_prom_freep(struct kc_prom **p)
{
	kc_prom_free(*p);
}

static void put(struct kc_prom *p, const char *s, size_t n)
{
	if (p->len + n + 1 > p->cap) {
		while (p->len + n + 1 > p->cap)
			p->cap *= 2;
		p->buf = kc_xrealloc(p->buf, p->cap);
	}
	memcpy(p->buf + p->len, s, n);
	p->len += n;
	p->buf[p->len] = '\0';
}

static void puts_(struct kc_prom *p, const char *s)
{
	put(p, s, strlen(s));
}

/* HELP text escapes \ and newline; label values also the double quote. */
static void put_escaped(struct kc_prom *p, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			put(p, "\\\\", 2);
		else if (*s == '\n')
			put(p, "\\n", 2);
		else if (*s == '"' && quote)
			put(p, "\\\"", 2);
		else
			put(p, s, 1);
	}
}

void kc_prom_format_value(double v, char out[32])
{
	if (isnan(v)) {
		strcpy(out, "NaN");
	} else if (isinf(v)) {
		strcpy(out, v > 0 ? "+Inf" : "-Inf");
	} else {
		/* The shortest of 15 or 17 digits that reads back as v. */
		snprintf(out, 32, "%.15g", v);
		if (strtod(out, NULL) != v)
			snprintf(out, 32, "%.17g", v);
	}
}

int kc_prom_const_label(struct kc_prom *p, const char *name, const char *value,
			kc_error_t *err)
{
	if (!kc_prom_valid_label(name))
		return kc_error_set(err, EINVAL, "metrics: invalid label name \"%s\"",
				    name ? name : "");
	if (p->n_families)
		return kc_error_set(err, EINVAL, "metrics: constant label %s set after a family",
				    name);
	if (kc_prom_is_const_label(p, name))
		return kc_error_set(err, EINVAL, "metrics: constant label %s set twice", name);
	p->const_labels = kc_xrealloc(p->const_labels, 2 * (p->n_const + 1) * sizeof(char *));
	p->const_labels[2 * p->n_const] = kc_xstrdup(name);
	p->const_labels[2 * p->n_const + 1] = kc_xstrdup(value ? value : "");
	p->n_const++;
	return 0;
}

bool kc_prom_is_const_label(const struct kc_prom *p, const char *name)
{
	for (size_t i = 0; i < p->n_const; i++)
		if (strcmp(p->const_labels[2 * i], name) == 0)
			return true;
	return false;
}

int kc_prom_family(struct kc_prom *p, const char *name, const char *help,
		   enum kc_prom_type type, kc_error_t *err)
{
	if (!kc_prom_valid_name(name))
		return kc_error_set(err, EINVAL, "metrics: invalid metric name \"%s\"",
				    name ? name : "");
	if ((unsigned)type >= KC_ARRAY_SIZE(type_names))
		return kc_error_set(err, EINVAL, "metrics: %s: invalid type %d", name, type);
	for (size_t i = 0; i < p->n_families; i++)
		if (strcmp(p->families[i], name) == 0)
			return kc_error_set(err, EEXIST, "metrics: family %s written twice", name);
	p->families = grow(p->families, p->n_families, sizeof(char *));
	p->families[p->n_families] = kc_xstrdup(name);
	p->cur = p->families[p->n_families++];
	p->cur_type = type;
	if (help) {
		puts_(p, "# HELP ");
		puts_(p, name);
		puts_(p, " ");
		put_escaped(p, help, false);
		puts_(p, "\n");
	}
	puts_(p, "# TYPE ");
	puts_(p, name);
	puts_(p, " ");
	puts_(p, type_names[type]);
	puts_(p, "\n");
	return 0;
}

static void put_label(struct kc_prom *p, bool *first, const char *name, const char *value)
{
	puts_(p, *first ? "{" : ",");
	*first = false;
	puts_(p, name);
	puts_(p, "=\"");
	put_escaped(p, value, true);
	puts_(p, "\"");
}

/* The caller's labels checked: n their count of names and values. */
static int check_labels(const struct kc_prom *p, const char *const *labels, size_t *n,
			kc_error_t *err)
{
	if (!p->cur)
		return kc_error_set(err, EINVAL, "metrics: a sample before any family");
	for (*n = 0; labels && labels[*n]; *n += 2) {
		const char *name = labels[*n];

		if (!kc_prom_valid_label(name))
			return kc_error_set(err, EINVAL, "metrics: %s: invalid label name \"%s\"",
					    p->cur, name);
		if (!labels[*n + 1])
			return kc_error_set(err, EINVAL, "metrics: %s: label %s has no value",
					    p->cur, name);
		if (kc_prom_is_const_label(p, name))
			return kc_error_set(err, EINVAL, "metrics: %s: label %s is constant",
					    p->cur, name);
		if (p->cur_type == KC_PROM_HISTOGRAM && strcmp(name, "le") == 0)
			return kc_error_set(err, EINVAL, "metrics: %s: label le is the buckets'",
					    p->cur);
		for (size_t j = 0; j < *n; j += 2)
			if (strcmp(labels[j], name) == 0)
				return kc_error_set(err, EINVAL, "metrics: %s: label %s twice",
						    p->cur, name);
	}
	return 0;
}

/* name{labels,le="le",constant labels} value */
static void put_sample(struct kc_prom *p, const char *suffix, const char *const *labels,
		       size_t n, const char *le, double value)
{
	char num[32];
	bool first = true;

	puts_(p, p->cur);
	puts_(p, suffix);
	for (size_t i = 0; i < n; i += 2)
		put_label(p, &first, labels[i], labels[i + 1]);
	if (le)
		put_label(p, &first, "le", le);
	for (size_t i = 0; i < p->n_const; i++)
		put_label(p, &first, p->const_labels[2 * i], p->const_labels[2 * i + 1]);
	if (!first)
		puts_(p, "}");
	kc_prom_format_value(value, num);
	puts_(p, " ");
	puts_(p, num);
	puts_(p, "\n");
}

int kc_prom_sample(struct kc_prom *p, const char *const *labels, double value, kc_error_t *err)
{
	size_t n;
	int ret = check_labels(p, labels, &n, err);

	if (ret < 0)
		return ret;
	if (p->cur_type == KC_PROM_HISTOGRAM)
		return kc_error_set(err, EINVAL, "metrics: %s: a histogram takes "
				    "kc_prom_histogram()", p->cur);
	put_sample(p, "", labels, n, NULL, value);
	return 0;
}

static double hist_bound(size_t i)
{
	return (double)(1u << i);
}

void kc_prom_hist_observe(struct kc_prom_hist *h, double v)
{
	for (size_t i = 0; i < KC_PROM_HIST_BUCKETS; i++)
		if (v <= hist_bound(i)) {
			h->counts[i]++;
			break;
		}
	h->count++;
	h->sum += v;
}

int kc_prom_histogram(struct kc_prom *p, const char *const *labels,
		      const struct kc_prom_hist *h, kc_error_t *err)
{
	uint64_t cumulative = 0;
	char le[32];
	size_t n;
	int ret = check_labels(p, labels, &n, err);

	if (ret < 0)
		return ret;
	if (p->cur_type != KC_PROM_HISTOGRAM)
		return kc_error_set(err, EINVAL, "metrics: %s: not a histogram", p->cur);
	for (size_t i = 0; i < KC_PROM_HIST_BUCKETS; i++) {
		cumulative += h->counts[i];
		kc_prom_format_value(hist_bound(i), le);
		put_sample(p, "_bucket", labels, n, le, (double)cumulative);
	}
	put_sample(p, "_bucket", labels, n, "+Inf", (double)h->count);
	put_sample(p, "_sum", labels, n, NULL, h->sum);
	put_sample(p, "_count", labels, n, NULL, (double)h->count);
	return 0;
}

const char *kc_prom_text(const struct kc_prom *p, size_t *len)
{
	if (len)
		*len = p->len;
	return p->buf;
}

/* ---- parsing ---- */

struct parser {
	struct kc_prom_parsed *out;
	bool strict;
	size_t lineno, samples;
	struct kc_prom_parsed_family *cur;
	/* families whose samples ended (another family's came after): more
	 * of them would split the family */
	bool *closed;
	/* summaries refused: their _sum and _count samples go too */
	char **refused;
	size_t n_refused;
};

static bool is_refused(const struct parser *ps, const char *name)
{
	for (size_t i = 0; i < ps->n_refused; i++) {
		size_t n = strlen(ps->refused[i]);

		if (strncmp(name, ps->refused[i], n) == 0 &&
		    (!name[n] || !strcmp(name + n, "_bucket") || !strcmp(name + n, "_sum") ||
		     !strcmp(name + n, "_count")))
			return true;
	}
	return false;
}

static void sample_free(struct kc_prom_parsed_sample *s)
{
	for (size_t i = 0; i < s->n_labels; i++) {
		free(s->label_names[i]);
		free(s->label_values[i]);
	}
	free(s->label_names);
	free(s->label_values);
	free(s->name);
}

void kc_prom_parsed_free(struct kc_prom_parsed *parsed)
{
	for (size_t i = 0; i < parsed->n_families; i++) {
		struct kc_prom_parsed_family *f = &parsed->families[i];

		for (size_t j = 0; j < f->n_samples; j++)
			sample_free(&f->samples[j]);
		free(f->samples);
		free(f->name);
		free(f->help);
	}
	free(parsed->families);
	memset(parsed, 0, sizeof(*parsed));
}

static struct kc_prom_parsed_family *find_family(struct parser *ps, const char *name, size_t *idx)
{
	for (size_t i = 0; i < ps->out->n_families; i++)
		if (strcmp(ps->out->families[i].name, name) == 0) {
			if (idx)
				*idx = i;
			return &ps->out->families[i];
		}
	return NULL;
}

static struct kc_prom_parsed_family *new_family(struct parser *ps, const char *name)
{
	struct kc_prom_parsed *o = ps->out;
	struct kc_prom_parsed_family *f;

	o->families = grow(o->families, o->n_families, sizeof(*f));
	ps->closed = grow(ps->closed, o->n_families, sizeof(bool));
	ps->closed[o->n_families] = false;
	f = &o->families[o->n_families++];
	memset(f, 0, sizeof(*f));
	f->name = kc_xstrdup(name);
	f->type = KC_PROM_UNTYPED;
	return f;
}

/* Makes `name` the current family, for a HELP/TYPE line (meta) or a
 * sample: NULL where it would split a family or repeat its metadata. */
static struct kc_prom_parsed_family *enter(struct parser *ps, const char *name, bool meta)
{
	size_t idx;
	struct kc_prom_parsed_family *f = find_family(ps, name, &idx);

	if (ps->cur && ps->cur != f) {
		ps->closed[ps->cur - ps->out->families] = true;
		ps->cur = NULL;
	}
	if (!f) {
		if (ps->out->n_families >= KC_PROM_MAX_FAMILIES)
			return NULL;
		f = new_family(ps, name);
		idx = ps->out->n_families - 1;
	} else if (ps->closed[idx] || (meta && f->n_samples)) {
		return NULL;
	}
	ps->cur = f;
	return f;
}

/* A quoted label value at *p (after the opening quote): unescaped into
 * out; *p then points past the closing quote. */
static bool take_quoted(const char **p, char **out)
{
	const char *s = *p;
	char *v = kc_xmalloc(strlen(s) + 1), *w = v;

	for (; *s && *s != '"'; s++) {
		if (*s != '\\') {
			*w++ = *s;
			continue;
		}
		s++;
		if (*s == '\\' || *s == '"')
			*w++ = *s;
		else if (*s == 'n')
			*w++ = '\n';
		else
			break;
	}
	if (*s != '"' || w - v > KC_PROM_MAX_VALUE) {
		free(v);
		return false;
	}
	*w = '\0';
	*out = v;
	*p = s + 1;
	return true;
}

static bool take_name(const char **p, char *out, size_t size, bool metric)
{
	const char *s = *p;
	size_t n = 0;

	while (isalnum((unsigned char)s[n]) || s[n] == '_' || (metric && s[n] == ':'))
		n++;
	if (!n || n >= size)
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	*p = s + n;
	return metric ? kc_prom_valid_name(out) : kc_prom_valid_label(out);
}

static bool take_value(const char **p, double *v)
{
	const char *s = *p;
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	if (strncmp(s, "+Inf", 4) == 0 || strncmp(s, "-Inf", 4) == 0 ||
	    strncmp(s, "NaN", 3) == 0) {
		*v = s[0] == 'N' ? NAN : (s[0] == '+' ? INFINITY : -INFINITY);
		end = (char *)s + (s[0] == 'N' ? 3 : 4);
	} else {
		if (!(isdigit((unsigned char)*s) || *s == '-' || *s == '+' || *s == '.'))
			return false;
		errno = 0;
		*v = strtod(s, &end);
		if (end == s || errno == ERANGE)
			return false;
		for (const char *c = s; c < end; c++)
			if (*c == 'x' || *c == 'X' || *c == 'n' || *c == 'N' || *c == 'i' ||
			    *c == 'I')
				return false; /* hex, nan, inf spelt otherwise */
	}
	*p = end;
	return true;
}

/* A histogram's name_bucket, name_sum and name_count samples are its
 * family's (the current one: its samples come together). */
static const char *histogram_family(const struct parser *ps, const char *name)
{
	const struct kc_prom_parsed_family *f = ps->cur;
	size_t n = f ? strlen(f->name) : 0;

	if (f && f->type == KC_PROM_HISTOGRAM && strncmp(name, f->name, n) == 0 &&
	    (!strcmp(name + n, "_bucket") || !strcmp(name + n, "_sum") ||
	     !strcmp(name + n, "_count")))
		return f->name;
	return name;
}

static int parse_sample(struct parser *ps, const char *line, kc_error_t *err)
{
	struct kc_prom_parsed_sample s = { 0 };
	struct kc_prom_parsed_family *f;
	char name[KC_PROM_MAX_NAME];
	const char *p = line;
	const char *why = NULL;

	if (!take_name(&p, name, sizeof(name), true)) {
		why = "invalid metric name";
		goto bad;
	}
	s.name = kc_xstrdup(name);
	if (is_refused(ps, name)) {
		why = "a sample of a summary";
		goto bad;
	}
	if (*p == '{') {
		p++;
		for (;;) {
			char lname[KC_PROM_MAX_NAME], *value;

			while (*p == ' ')
				p++;
			if (*p == '}')
				break;
			if (!take_name(&p, lname, sizeof(lname), false)) {
				why = "invalid label name";
				goto bad;
			}
			if (p[0] != '=' || p[1] != '"') {
				why = "a label without =\"value\"";
				goto bad;
			}
			p += 2;
			if (!take_quoted(&p, &value)) {
				why = "a label value badly quoted, escaped or too long";
				goto bad;
			}
			for (size_t i = 0; i < s.n_labels; i++)
				if (strcmp(s.label_names[i], lname) == 0) {
					free(value);
					why = "a label twice";
					goto bad;
				}
			if (s.n_labels == KC_PROM_MAX_LABELS) {
				free(value);
				why = "too many labels";
				goto bad;
			}
			s.label_names = kc_xrealloc(s.label_names, (s.n_labels + 1) * sizeof(char *));
			s.label_values = kc_xrealloc(s.label_values,
						     (s.n_labels + 1) * sizeof(char *));
			s.label_names[s.n_labels] = kc_xstrdup(lname);
			s.label_values[s.n_labels++] = value;
			while (*p == ' ')
				p++;
			if (*p == ',')
				p++;
			else if (*p != '}') {
				why = "labels not separated by ','";
				goto bad;
			}
		}
		p++;
	}
	if ((*p != ' ' && *p != '\t') || !take_value(&p, &s.value)) {
		why = "no valid value";
		goto bad;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p) { /* a timestamp: an integer of milliseconds */
		if (*p == '-')
			p++;
		if (!isdigit((unsigned char)*p)) {
			why = "junk after the value";
			goto bad;
		}
		while (isdigit((unsigned char)*p))
			p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p) {
			why = "junk after the timestamp";
			goto bad;
		}
	}
	if (ps->samples >= KC_PROM_MAX_SAMPLES) {
		why = "too many samples";
		goto bad;
	}
	f = enter(ps, histogram_family(ps, name), false);
	if (!f) {
		why = "a family's samples apart, or too many families";
		goto bad;
	}
	f->samples = grow(f->samples, f->n_samples, sizeof(s));
	f->samples[f->n_samples++] = s;
	ps->samples++;
	return 0;
bad:
	sample_free(&s);
	if (ps->strict)
		return kc_error_set(err, EINVAL, "metrics line %zu: %s", ps->lineno, why);
	ps->out->dropped++;
	return 0;
}

static bool unescape_help(const char *s, char **out)
{
	char *v = kc_xmalloc(strlen(s) + 1), *w = v;

	for (; *s; s++) {
		if (*s != '\\') {
			*w++ = *s;
			continue;
		}
		s++;
		if (*s == '\\')
			*w++ = '\\';
		else if (*s == 'n')
			*w++ = '\n';
		else {
			free(v);
			return false;
		}
	}
	*w = '\0';
	*out = v;
	return true;
}

static int parse_comment(struct parser *ps, const char *line, kc_error_t *err)
{
	char name[KC_PROM_MAX_NAME] = "";
	const char *p = line + 1, *why = NULL;
	bool help;
	struct kc_prom_parsed_family *f;

	while (*p == ' ' || *p == '\t')
		p++;
	if (strncmp(p, "HELP", 4) == 0 && (p[4] == ' ' || p[4] == '\t'))
		help = true;
	else if (strncmp(p, "TYPE", 4) == 0 && (p[4] == ' ' || p[4] == '\t'))
		help = false;
	else
		return 0; /* a plain comment */
	p += 5;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!take_name(&p, name, sizeof(name), true) || (*p && *p != ' ' && *p != '\t')) {
		name[0] = '\0'; /* no family to close below */
		why = "invalid metric name";
		goto bad;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	f = enter(ps, name, true);
	if (!f || (help && f->help) || (!help && f->typed)) {
		why = "HELP or TYPE repeated or after the family's samples";
		goto bad;
	}
	if (help) {
		if (!unescape_help(p, &f->help)) {
			why = "an invalid escape in HELP";
			goto bad;
		}
		return 0;
	}
	for (size_t i = 0; i < KC_ARRAY_SIZE(type_names); i++)
		if (strcmp(p, type_names[i]) == 0) {
			f->type = (enum kc_prom_type)i;
			f->typed = true;
			return 0;
		}
	why = "an unknown TYPE";
	if (strcmp(p, "summary") == 0) {
		why = "summaries are not supported";
		if (ps->n_refused < KC_PROM_MAX_FAMILIES) {
			ps->refused = kc_xrealloc(ps->refused, (ps->n_refused + 1) * sizeof(char *));
			ps->refused[ps->n_refused++] = kc_xstrdup(name);
		}
	}
bad:
	if (ps->strict)
		return kc_error_set(err, EINVAL, "metrics line %zu: %s", ps->lineno, why);
	ps->out->dropped++;
	/* The family's samples would be taken for untyped: mark it done. */
	f = find_family(ps, name, NULL);
	if (f && !help && !f->typed) {
		ps->closed[f - ps->out->families] = true;
		ps->cur = NULL;
	}
	return 0;
}

int kc_prom_parse(const char *text, size_t len, bool strict, struct kc_prom_parsed *out,
		  kc_error_t *err)
{
	struct parser ps = { .out = out, .strict = strict };
	const char *p = text, *end;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (len > KC_PROM_MAX_TEXT) {
		if (strict)
			return kc_error_set(err, EFBIG, "metrics: %zu bytes, more than %d", len,
					    KC_PROM_MAX_TEXT);
		out->dropped++;
		len = KC_PROM_MAX_TEXT;
	}
	end = text + len;
	while (p < end && ret == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		cleanup_free char *line = NULL;

		ps.lineno++;
		if (memchr(p, '\0', n) || n > KC_PROM_MAX_LINE) {
			if (strict)
				ret = kc_error_set(err, EINVAL, "metrics line %zu: a NUL byte or "
						   "longer than %d bytes", ps.lineno,
						   KC_PROM_MAX_LINE);
			else
				out->dropped++;
		} else {
			line = kc_xstrndup(p, n);
			if (n && line[n - 1] == '\r') /* tolerate CRLF */
				line[n - 1] = '\0';
			if (!*line || strspn(line, " \t") == strlen(line))
				;
			else if (line[0] == '#')
				ret = parse_comment(&ps, line, err);
			else
				ret = parse_sample(&ps, line, err);
		}
		p = nl ? nl + 1 : end;
	}
	free(ps.closed);
	for (size_t i = 0; i < ps.n_refused; i++)
		free(ps.refused[i]);
	free(ps.refused);
	if (ret < 0)
		kc_prom_parsed_free(out);
	return ret;
}
