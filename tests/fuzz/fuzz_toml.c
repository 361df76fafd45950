/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the TOML parser: parse, walk the whole tree through
 * the public API (so that every node is read back), free.  Besides the
 * sanitizers' findings it checks what toml.h promises: bounded nesting, a
 * position for every value, NUL-terminated strings, and errors of the form
 * "NAME:LINE:COL: message" that point into the input.  A document that
 * parses is then loaded as kata-c's configuration file (every section's
 * keys, types and values checked, src/lib/config.c): that must succeed or
 * fail with a message, and a loaded one must print as `kata-runtime env`
 * prints it.  Built and run by tests/fuzz/run-fuzz.sh.
 */
#undef NDEBUG
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/toml.h"

static const uint8_t *input;
static size_t input_len;

static void walk_table(const struct kc_toml_table *t, unsigned depth);

static void walk_value(const struct kc_toml_value *v, unsigned depth)
{
	assert(depth < 128);
	assert(v->line >= 1 && v->col >= 1);
	assert(strcmp(kc_toml_type_name(v->type), "unknown") != 0);
	switch (v->type) {
	case KC_TOML_STRING:
	case KC_TOML_DATETIME:
		assert(v->u.s.ptr != NULL && v->u.s.ptr[v->u.s.len] == '\0');
		break;
	case KC_TOML_ARRAY:
		for (size_t i = 0; i < kc_toml_array_len(v->u.array); i++)
			walk_value(kc_toml_array_get(v->u.array, i), depth + 1);
		assert(kc_toml_array_get(v->u.array, kc_toml_array_len(v->u.array)) == NULL);
		break;
	case KC_TOML_TABLE:
		walk_table(v->u.table, depth + 1);
		break;
	default:
		break;
	}
}

static void walk_table(const struct kc_toml_table *t, unsigned depth)
{
	unsigned line, col;

	kc_toml_table_pos(t, &line, &col);
	assert(depth == 0 ? line == 0 && col == 0 : line >= 1 && col >= 1);
	for (size_t i = 0; i < kc_toml_table_len(t); i++) {
		const char *key = kc_toml_table_key(t, i);
		const struct kc_toml_value *v = kc_toml_table_value(t, i);

		/* Lookup finds the entry itself, unless a key holds a NUL
		 * (written \u0000) and so reads as a shorter key. */
		if (kc_toml_table_get(t, key) != v)
			assert(memmem(input, input_len, "\\u0000", 6) ||
			       memmem(input, input_len, "\\U00000000", 10));
		walk_value(v, depth);
	}
	assert(kc_toml_table_key(t, kc_toml_table_len(t)) == NULL);
}

/* The input as a configuration file (a memfd: the loader reads a path). */
static void load_config(const uint8_t *data, size_t size)
{
	struct kc_config cfg;
	struct kc_config_warnings warnings = { 0 };
	kc_error_t err = NULL;
	char path[64];
	int fd = memfd_create("fuzz-config", MFD_CLOEXEC);

	assert(fd >= 0);
	assert(write(fd, data, size) == (ssize_t)size);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (kc_config_load_file(path, &cfg, &warnings, &err) == 0) {
		json_t *j = kc_config_to_json(&cfg);

		assert(j != NULL);
		json_decref(j);
		kc_config_free(&cfg);
	} else {
		assert(err != NULL && err->msg[0] != '\0');
		kc_error_free(&err);
	}
	kc_config_warnings_free(&warnings);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kc_toml_table *root = NULL;
	kc_error_t err = NULL;
	unsigned line, col, lines = 1;
	int used = 0;

	input = data;
	input_len = size;
	if (kc_toml_parse((const char *)data, size, "fuzz", &root, &err) < 0) {
		/* Every failure explains itself, at a place in the input. */
		assert(err != NULL && root == NULL);
		assert(sscanf(err->msg, "fuzz:%u:%u: %n", &line, &col, &used) == 2 && used > 0);
		assert(err->msg[used] != '\0');
		for (size_t i = 0; i < size; i++)
			lines += data[i] == '\n';
		assert(line >= 1 && line <= lines && col >= 1 && col <= size + 1);
		kc_error_free(&err);
		return 0;
	}
	assert(err == NULL);
	walk_table(root, 0);
	kc_toml_free(root);
	load_config(data, size);
	return 0;
}
