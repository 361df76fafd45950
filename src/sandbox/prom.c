/* SPDX-License-Identifier: Apache-2.0 */
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
 * This file writes it; prom_parse.c reads it.
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
 * least power of two above the count, so it grows when the count is 0 or
 * a power of two. */
void *kc_prom_grow(void *array, size_t n, size_t size)
{
	if (n && (n & (n - 1)))
		return array;
	return kc_xrealloc(array, (n ? 2 * n : 1) * size);
}

const char *kc_prom_type_name(enum kc_prom_type type)
{
	return (unsigned)type < KC_ARRAY_SIZE(type_names) ? type_names[type] : NULL;
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

int kc_prom_const_label(struct kc_prom *p, const char *name, const char *value, kc_error_t *err)
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

int kc_prom_family(struct kc_prom *p, const char *name, const char *help, enum kc_prom_type type,
		   kc_error_t *err)
{
	if (!kc_prom_valid_name(name))
		return kc_error_set(err, EINVAL, "metrics: invalid metric name \"%s\"",
				    name ? name : "");
	if ((unsigned)type >= KC_ARRAY_SIZE(type_names))
		return kc_error_set(err, EINVAL, "metrics: %s: invalid type %d", name, type);
	for (size_t i = 0; i < p->n_families; i++)
		if (strcmp(p->families[i], name) == 0)
			return kc_error_set(err, EEXIST, "metrics: family %s written twice", name);
	p->families = kc_prom_grow(p->families, p->n_families, sizeof(char *));
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
static void put_sample(struct kc_prom *p, const char *suffix, const char *const *labels, size_t n,
		       const char *le, double value)
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
		return kc_error_set(err, EINVAL,
				    "metrics: %s: a histogram takes "
				    "kc_prom_histogram()",
				    p->cur);
	put_sample(p, "", labels, n, NULL, value);
	return 0;
}

int kc_prom_relay(struct kc_prom *p, const struct kc_prom_parsed_sample *s,
		  const char *const *extra, kc_error_t *err)
{
	const char *labels[2 * (KC_PROM_MAX_LABELS + 8) + 1];
	const char *suffix;
	size_t n = 0, len;

	if (!p->cur)
		return kc_error_set(err, EINVAL, "metrics: a sample before any family");
	len = strlen(p->cur);
	if (strncmp(s->name, p->cur, len) != 0)
		return kc_error_set(err, EINVAL, "metrics: %s: sample %s of another family", p->cur,
				    s->name);
	suffix = s->name + len;
	if (*suffix && !(p->cur_type == KC_PROM_HISTOGRAM &&
			 (strcmp(suffix, "_bucket") == 0 || strcmp(suffix, "_sum") == 0 ||
			  strcmp(suffix, "_count") == 0)))
		return kc_error_set(err, EINVAL, "metrics: %s: sample %s of another family", p->cur,
				    s->name);
	if (s->n_labels > KC_PROM_MAX_LABELS)
		return kc_error_set(err, EINVAL, "metrics: %s: more than %d labels", s->name,
				    KC_PROM_MAX_LABELS);
	for (size_t i = 0; i < s->n_labels; i++) {
		labels[n++] = s->label_names[i];
		labels[n++] = s->label_values[i];
	}
	for (size_t i = 0; extra && extra[i]; i += 2) {
		if (n + 2 >= KC_ARRAY_SIZE(labels))
			return kc_error_set(err, EINVAL, "metrics: %s: too many labels", s->name);
		labels[n++] = extra[i];
		labels[n++] = extra[i + 1];
	}
	labels[n] = NULL;
	for (size_t i = 0; i < n; i += 2) {
		if (!kc_prom_valid_label(labels[i]))
			return kc_error_set(err, EINVAL, "metrics: %s: invalid label name \"%s\"",
					    s->name, labels[i]);
		if (!labels[i + 1])
			return kc_error_set(err, EINVAL, "metrics: %s: label %s has no value",
					    s->name, labels[i]);
		if (kc_prom_is_const_label(p, labels[i]))
			return kc_error_set(err, EINVAL, "metrics: %s: label %s is constant",
					    s->name, labels[i]);
		for (size_t j = 0; j < i; j += 2)
			if (strcmp(labels[j], labels[i]) == 0)
				return kc_error_set(err, EINVAL, "metrics: %s: label %s twice",
						    s->name, labels[i]);
	}
	put_sample(p, suffix, labels, n, NULL, s->value);
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

int kc_prom_histogram(struct kc_prom *p, const char *const *labels, const struct kc_prom_hist *h,
		      kc_error_t *err)
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
