/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_OCI_PARSE_H
#define KC_OCI_PARSE_H

/*
 * Typed field access with the field's path kept for error messages (the
 * oci layer's internals).  Getters return 1 when the field is present and
 * valid, 0 when it is absent (or null) and *out is untouched, negative on
 * error with *err naming the field: "process.user.uid: must be an integer
 * from 0 to 4294967295".
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/error.h"

struct kc_oci_ctx {
	char path[256];
	size_t len;
	kc_error_t *err;
};

/* Appends ".key" (or "key" at the top) / "[i]"; returns what to pop back to. */
size_t kc_oci_push_key(struct kc_oci_ctx *c, const char *key);
size_t kc_oci_push_index(struct kc_oci_ctx *c, size_t i);
void kc_oci_pop(struct kc_oci_ctx *c, size_t len);

/* Sets *err to "<path>: <message>" (EINVAL); returns -EINVAL. */
int kc_oci_fail(struct kc_oci_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same for a field `key` below the current path. */
int kc_oci_fail_key(struct kc_oci_ctx *c, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The field, or NULL when absent or null. */
json_t *kc_oci_field(json_t *obj, const char *key);

int kc_oci_get_object(struct kc_oci_ctx *c, json_t *obj, const char *key, json_t **out);
int kc_oci_get_array(struct kc_oci_ctx *c, json_t *obj, const char *key, json_t **out);
int kc_oci_get_string(struct kc_oci_ctx *c, json_t *obj, const char *key, char **out);
int kc_oci_get_bool(struct kc_oci_ctx *c, json_t *obj, const char *key, bool *out);
int kc_oci_get_u32(struct kc_oci_ctx *c, json_t *obj, const char *key, uint32_t *out);
/* A user or group id: 0 to KC_OCI_ID_MAX (runc's range; (uid_t)-1 would
 * leave the id unchanged, as root). */
#define KC_OCI_ID_MAX 2147483647u
int kc_oci_get_id(struct kc_oci_ctx *c, json_t *obj, const char *key, uint32_t *out);
int kc_oci_get_u64(struct kc_oci_ctx *c, json_t *obj, const char *key, uint64_t *out);
/* An integer >= min. */
int kc_oci_get_i64(struct kc_oci_ctx *c, json_t *obj, const char *key, int64_t min, int64_t *out);
/* An absolute path without NUL; "..": allowed here, refused where used. */
int kc_oci_get_abs_path(struct kc_oci_ctx *c, json_t *obj, const char *key, char **out);
/* An array of strings; absent gives an empty (non-NULL) vector. */
int kc_oci_get_strv(struct kc_oci_ctx *c, json_t *obj, const char *key, char ***out);
/* An object of string values, as two parallel vectors (non-NULL). */
int kc_oci_get_string_map(struct kc_oci_ctx *c, json_t *obj, const char *key, char ***keys,
			  char ***values);

/* Whole-document helper: parses the JSON text and checks it is an object. */
int kc_oci_load(const char *buf, size_t len, const char *what, json_t **out, kc_error_t *err);

/* Parsers shared between spec.c and linux.c. */
struct kc_oci_process;
struct kc_oci_linux;
struct kc_oci_resources;
int kc_oci_parse_process(struct kc_oci_ctx *c, json_t *j, struct kc_oci_process *p);
void kc_oci_process_clear(struct kc_oci_process *p);
int kc_oci_parse_linux(struct kc_oci_ctx *c, json_t *j, struct kc_oci_linux *l);
void kc_oci_linux_clear(struct kc_oci_linux *l);
int kc_oci_parse_resources(struct kc_oci_ctx *c, json_t *j, struct kc_oci_resources *r);
int kc_oci_parse_propagation(const char *s, unsigned long *out);

#endif
