/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Prometheus text format 0.0.4 read back (prom.c says what it is): for
 * the agent's GetMetrics text, which comes from the guest and is read
 * leniently within the bounds of prom_internal.h, and for tests, which
 * read the writer's text strictly.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "prom.h"
#include "prom_internal.h"

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

	o->families = kc_prom_grow(o->families, o->n_families, sizeof(*f));
	ps->closed = kc_prom_grow(ps->closed, o->n_families, sizeof(bool));
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
	if (strncmp(s, "+Inf", 4) == 0 || strncmp(s, "-Inf", 4) == 0 || strncmp(s, "NaN", 3) == 0) {
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
			s.label_names = kc_xrealloc(s.label_names,
						    (s.n_labels + 1) * sizeof(char *));
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
	f->samples = kc_prom_grow(f->samples, f->n_samples, sizeof(s));
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
	for (int i = 0; kc_prom_type_name((enum kc_prom_type)i); i++)
		if (strcmp(p, kc_prom_type_name((enum kc_prom_type)i)) == 0) {
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
				ret = kc_error_set(err, EINVAL,
						   "metrics line %zu: a NUL byte or "
						   "longer than %d bytes",
						   ps.lineno, KC_PROM_MAX_LINE);
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
