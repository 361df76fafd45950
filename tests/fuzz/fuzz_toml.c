/* SPDX-License-Identifier: Apache-2.0 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/toml.h"

/* Touches every value so that a tree the parser built wrongly (dangling
 * pointers, bad lengths) shows up under the sanitizers. */
static size_t walk_value(const struct kc_toml_value *v);

static size_t walk_table(const struct kc_toml_table *t)
{
	size_t sum = 0;
	for (size_t i = 0; i < kc_toml_table_len(t); i++) {
		sum += strlen(kc_toml_table_key(t, i));
		sum += walk_value(kc_toml_table_value(t, i));
		if (kc_toml_table_get(t, kc_toml_table_key(t, i)) == NULL)
			__builtin_trap();
	}
	return sum;
}

static size_t walk_value(const struct kc_toml_value *v)
{
	size_t sum = v->line + v->col;
	switch (v->type) {
	case KC_TOML_STRING:
	case KC_TOML_DATETIME:
		if (v->u.s.ptr[v->u.s.len] != '\0')
			__builtin_trap();
		sum += v->u.s.len;
		break;
	case KC_TOML_ARRAY:
		for (size_t i = 0; i < kc_toml_array_len(v->u.array); i++)
			sum += walk_value(kc_toml_array_get(v->u.array, i));
		break;
	case KC_TOML_TABLE:
		sum += walk_table(v->u.table);
		break;
	default:
		break;
	}
	return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kc_toml_table *t = NULL;
	kc_error_t err = NULL;

	if (kc_toml_parse((const char *)data, size, "fuzz", &t, &err) == 0) {
		volatile size_t sum = walk_table(t);
		(void)sum;
		kc_toml_free(t);
		if (err != NULL)
			__builtin_trap();
	} else if (err == NULL || err->msg == NULL) {
		/* Every failure must say why. */
		__builtin_trap();
	}
	kc_error_free(&err);
	return 0;
}
