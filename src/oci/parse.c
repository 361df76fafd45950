/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Typed access to the fields of an OCI document, with the path of the
 * field kept for the error message.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/json.h"
#include "lib/util.h"
#include "parse.h"

size_t kc_oci_push_key(struct kc_oci_ctx *c, const char *key)
{
	size_t old = c->len;
	int n = snprintf(c->path + c->len, sizeof(c->path) - c->len, "%s%s", c->len ? "." : "", key);

	if (n > 0)
		c->len += (size_t)n < sizeof(c->path) - c->len ? (size_t)n
							       : sizeof(c->path) - c->len - 1;
	return old;
}

size_t kc_oci_push_index(struct kc_oci_ctx *c, size_t i)
{
	size_t old = c->len;
	int n = snprintf(c->path + c->len, sizeof(c->path) - c->len, "[%zu]", i);

	if (n > 0)
		c->len += (size_t)n < sizeof(c->path) - c->len ? (size_t)n
							       : sizeof(c->path) - c->len - 1;
	return old;
}

void kc_oci_pop(struct kc_oci_ctx *c, size_t len)
{
	c->len = len;
	c->path[len] = '\0';
}

static int failv(struct kc_oci_ctx *c, const char *fmt, va_list ap)
{
	cleanup_free char *msg = kc_xvasprintf(fmt, ap);

	/* The message says what is wrong; ": Invalid argument" would add
	 * nothing, so the status is set after the fact. */
	kc_error_set(c->err, 0, "%s: %s", c->len ? c->path : "(document)", msg);
	if (c->err && *c->err && (*c->err)->status == 0)
		(*c->err)->status = EINVAL;
	return -EINVAL;
}

int kc_oci_fail(struct kc_oci_ctx *c, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = failv(c, fmt, ap);
	va_end(ap);
	return ret;
}

int kc_oci_fail_key(struct kc_oci_ctx *c, const char *key, const char *fmt, ...)
{
	size_t old = kc_oci_push_key(c, key);
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = failv(c, fmt, ap);
	va_end(ap);
	kc_oci_pop(c, old);
	return ret;
}

json_t *kc_oci_field(json_t *obj, const char *key)
{
	json_t *v = obj ? json_object_get(obj, key) : NULL;

	return json_is_null(v) ? NULL : v;
}

int kc_oci_get_object(struct kc_oci_ctx *c, json_t *obj, const char *key, json_t **out)
{
	json_t *v = kc_oci_field(obj, key);

	if (!v)
		return 0;
	if (!json_is_object(v))
		return kc_oci_fail_key(c, key, "must be an object");
	*out = v;
	return 1;
}

int kc_oci_get_array(struct kc_oci_ctx *c, json_t *obj, const char *key, json_t **out)
{
	json_t *v = kc_oci_field(obj, key);

	if (!v)
		return 0;
	if (!json_is_array(v))
		return kc_oci_fail_key(c, key, "must be an array");
	*out = v;
	return 1;
}

/* A string without an embedded NUL (jansson allows \u0000). */
static int check_string(struct kc_oci_ctx *c, const char *key, json_t *v)
{
	if (!json_is_string(v))
		return kc_oci_fail_key(c, key, "must be a string");
	if (strlen(json_string_value(v)) != json_string_length(v))
		return kc_oci_fail_key(c, key, "must not contain a NUL character");
	return 0;
}

/* The same for an element whose path is already pushed. */
static int check_elem(struct kc_oci_ctx *c, json_t *v)
{
	if (!json_is_string(v))
		return kc_oci_fail(c, "must be a string");
	if (strlen(json_string_value(v)) != json_string_length(v))
		return kc_oci_fail(c, "must not contain a NUL character");
	return 0;
}

int kc_oci_get_string(struct kc_oci_ctx *c, json_t *obj, const char *key, char **out)
{
	json_t *v = kc_oci_field(obj, key);

	if (!v)
		return 0;
	if (check_string(c, key, v) < 0)
		return -EINVAL;
	free(*out);
	*out = kc_xstrdup(json_string_value(v));
	return 1;
}

int kc_oci_get_bool(struct kc_oci_ctx *c, json_t *obj, const char *key, bool *out)
{
	json_t *v = kc_oci_field(obj, key);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return kc_oci_fail_key(c, key, "must be true or false");
	*out = json_is_true(v);
	return 1;
}

int kc_oci_get_u32(struct kc_oci_ctx *c, json_t *obj, const char *key, uint32_t *out)
{
	json_t *v = kc_oci_field(obj, key);
	json_int_t n;

	if (!v)
		return 0;
	n = json_is_integer(v) ? json_integer_value(v) : -1;
	if (!json_is_integer(v) || n < 0 || n > (json_int_t)UINT32_MAX)
		return kc_oci_fail_key(c, key, "must be an integer from 0 to %u", UINT32_MAX);
	*out = (uint32_t)n;
	return 1;
}

int kc_oci_get_id(struct kc_oci_ctx *c, json_t *obj, const char *key, uint32_t *out)
{
	json_t *v = kc_oci_field(obj, key);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > (json_int_t)KC_OCI_ID_MAX)
		return kc_oci_fail_key(c, key, "must be an id from 0 to %u", KC_OCI_ID_MAX);
	*out = (uint32_t)json_integer_value(v);
	return 1;
}

int kc_oci_get_u64(struct kc_oci_ctx *c, json_t *obj, const char *key, uint64_t *out)
{
	json_t *v = kc_oci_field(obj, key);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return kc_oci_fail_key(c, key, "must be a non-negative integer");
	*out = (uint64_t)json_integer_value(v);
	return 1;
}

int kc_oci_get_i64(struct kc_oci_ctx *c, json_t *obj, const char *key, int64_t min, int64_t *out)
{
	json_t *v = kc_oci_field(obj, key);

	if (!v)
		return 0;
	if (!json_is_integer(v))
		return kc_oci_fail_key(c, key, "must be an integer");
	if (json_integer_value(v) < min)
		return kc_oci_fail_key(c, key, "%lld is below the smallest allowed value %lld",
				       (long long)json_integer_value(v), (long long)min);
	*out = json_integer_value(v);
	return 1;
}

int kc_oci_get_abs_path(struct kc_oci_ctx *c, json_t *obj, const char *key, char **out)
{
	cleanup_free char *s = NULL;
	int ret = kc_oci_get_string(c, obj, key, &s);

	if (ret <= 0)
		return ret;
	if (s[0] != '/')
		return kc_oci_fail_key(c, key, "\"%s\" is not an absolute path", s);
	free(*out);
	*out = kc_steal_ptr(&s);
	return 1;
}

int kc_oci_get_strv(struct kc_oci_ctx *c, json_t *obj, const char *key, char ***out)
{
	json_t *arr = NULL;
	size_t n, old;
	char **v;
	int ret = kc_oci_get_array(c, obj, key, &arr);

	if (ret < 0)
		return ret;
	n = arr ? json_array_size(arr) : 0;
	v = kc_xzalloc((n + 1) * sizeof(char *));
	old = kc_oci_push_key(c, key);
	for (size_t i = 0; i < n; i++) {
		size_t o2 = kc_oci_push_index(c, i);

		if (check_elem(c, json_array_get(arr, i)) < 0) {
			kc_free_strv(v);
			kc_oci_pop(c, old);
			return -EINVAL;
		}
		kc_oci_pop(c, o2);
		v[i] = kc_xstrdup(json_string_value(json_array_get(arr, i)));
	}
	kc_oci_pop(c, old);
	kc_free_strv(*out);
	*out = v;
	return ret;
}

int kc_oci_get_string_map(struct kc_oci_ctx *c, json_t *obj, const char *key, char ***keys,
			  char ***values)
{
	json_t *m = NULL, *v;
	const char *k;
	size_t n, i = 0, old;
	char **ks, **vs;
	int ret = kc_oci_get_object(c, obj, key, &m);

	if (ret < 0)
		return ret;
	n = m ? json_object_size(m) : 0;
	ks = kc_xzalloc((n + 1) * sizeof(char *));
	vs = kc_xzalloc((n + 1) * sizeof(char *));
	old = kc_oci_push_key(c, key);
	if (m) {
		json_object_foreach(m, k, v)
		{
			if (check_string(c, k, v) < 0) {
				kc_free_strv(ks);
				kc_free_strv(vs);
				kc_oci_pop(c, old);
				return -EINVAL;
			}
			ks[i] = kc_xstrdup(k);
			vs[i] = kc_xstrdup(json_string_value(v));
			i++;
		}
	}
	kc_oci_pop(c, old);
	kc_free_strv(*keys);
	kc_free_strv(*values);
	*keys = ks;
	*values = vs;
	return ret;
}

int kc_oci_load(const char *buf, size_t len, const char *what, json_t **out, kc_error_t *err)
{
	json_t *j = NULL;

	if (len == 0) {
		kc_error_set(err, 0, "%s: empty", what);
		goto einval;
	}
	if (kc_json_parse(buf, len, what, &j, err) < 0)
		goto einval;
	if (!json_is_object(j)) {
		json_decref(j);
		kc_error_set(err, 0, "%s: not a JSON object", what);
		goto einval;
	}
	*out = j;
	return 0;
einval:
	if (err && *err)
		(*err)->status = EINVAL;
	return -EINVAL;
}
