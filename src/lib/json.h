/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_JSON_H
#define KC_JSON_H

#include <jansson.h>

#include "error.h"

static inline void kc_json_decrefp(json_t **j)
{
	if (*j)
		json_decref(*j);
	*j = NULL;
}
#define cleanup_json __attribute__((cleanup(kc_json_decrefp)))

/* Parses JSON text; a syntax error names `what`, the line and column. */
int kc_json_parse(const char *buf, size_t len, const char *what, json_t **out, kc_error_t *err);
int kc_json_load_file(const char *path, json_t **out, kc_error_t *err);

/* Serialises with sorted keys and a two-space indent (or compact); the
 * caller frees the string. */
char *kc_json_dump(const json_t *j, int compact);

#endif
