/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_TOML_H
#define KC_TOML_H

/*
 * A strict TOML 1.0 parser producing a read-only tree.
 *
 * Errors name the place: "configuration.toml:12:7: duplicate key `path`
 * (first defined at 3:1)".  Every value records the line and column where
 * it starts so that later stages (configuration validation) can point at
 * the offending value too.  Tables keep their keys in document order.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum kc_toml_type {
	KC_TOML_STRING,
	KC_TOML_INTEGER,
	KC_TOML_FLOAT,
	KC_TOML_BOOL,
	KC_TOML_DATETIME, /* offset/local date-time, local date or local time, kept as text */
	KC_TOML_ARRAY,
	KC_TOML_TABLE,
};

struct kc_toml_table;
struct kc_toml_array;

struct kc_toml_value {
	enum kc_toml_type type;
	unsigned line, col; /* 1-based position of the value's first character */
	union {
		struct {
			char *ptr; /* NUL-terminated UTF-8; may contain NUL via \u0000 */
			size_t len;
		} s; /* STRING and DATETIME */
		int64_t i;
		double f;
		bool b;
		struct kc_toml_array *array;
		struct kc_toml_table *table;
	} u;
};

/* Parses len bytes (need not be NUL-terminated).  `name` is used in
 * messages (a file name, or e.g. "<annotation>").  On success *out owns the
 * root table. */
int kc_toml_parse(const char *buf, size_t len, const char *name, struct kc_toml_table **out,
		  kc_error_t *err);
/* Reads and parses a file; messages carry its path. */
int kc_toml_parse_file(const char *path, struct kc_toml_table **out, kc_error_t *err);

void kc_toml_free(struct kc_toml_table *root);
void kc_toml_freep(struct kc_toml_table **root);
#define cleanup_toml __attribute__((cleanup(kc_toml_freep)))

/* Tables: entries in document order. */
size_t kc_toml_table_len(const struct kc_toml_table *t);
const char *kc_toml_table_key(const struct kc_toml_table *t, size_t i);
const struct kc_toml_value *kc_toml_table_value(const struct kc_toml_table *t, size_t i);
/* Lookup of one key (not a dotted path); NULL when absent. */
const struct kc_toml_value *kc_toml_table_get(const struct kc_toml_table *t, const char *key);
/* The table's position: the `[header]` that defined it, or the first key
 * that created it implicitly; 0:0 for the root. */
void kc_toml_table_pos(const struct kc_toml_table *t, unsigned *line, unsigned *col);

size_t kc_toml_array_len(const struct kc_toml_array *a);
const struct kc_toml_value *kc_toml_array_get(const struct kc_toml_array *a, size_t i);

/* "string", "integer", "float", "boolean", "datetime", "array", "table". */
const char *kc_toml_type_name(enum kc_toml_type type);

#endif
