/* SPDX-License-Identifier: Apache-2.0 */
/* JSON <-> protobuf-c messages through their descriptors (see pbjson.h). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pbjson.h"
#include "lib/util.h"

#define MEMBER(msg, off, type) ((type *)((uint8_t *)(msg) + (off)))

/* ---- base64 ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *base64_encode(const uint8_t *p, size_t n)
{
	char *out = kc_xmalloc(4 * ((n + 2) / 3) + 1), *o = out;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*o++ = b64[(v >> 18) & 63];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		*o++ = i + 2 < n ? b64[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

/* Standard alphabet, padding optional; whitespace is not allowed. */
static int base64_decode(const char *s, uint8_t **out, size_t *len)
{
	size_t n = strlen(s), k = 0;
	uint8_t *buf;
	uint32_t acc = 0;
	int bits = 0;

	while (n > 0 && s[n - 1] == '=')
		n--;
	buf = kc_xmalloc(n * 3 / 4 + 1);
	for (size_t i = 0; i < n; i++) {
		int v = b64_value(s[i]);

		if (v < 0) {
			free(buf);
			return -1;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[k++] = (uint8_t)(acc >> bits);
		}
	}
	*out = buf;
	*len = k;
	return 0;
}

/* ---- JSON to message ---- */

static int to_msg(const ProtobufCMessageDescriptor *desc, json_t *j, const char *path,
		  ProtobufCMessage **out, kc_error_t *err);

static size_t elem_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_ENUM:
		return 4;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

/* An integer from a JSON number or a decimal string, within [lo, hi]
 * (signed) or [0, uhi] (unsigned). */
static int get_int(json_t *v, bool is_signed, int64_t lo, int64_t hi, uint64_t uhi, uint64_t *out,
		   const char *path, kc_error_t *err)
{
	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);

		if (is_signed ? (x < lo || x > hi) : (x < 0 || (uint64_t)x > uhi))
			return kc_error_set(err, ERANGE, "%s: %lld is out of range", path,
					    (long long)x);
		*out = (uint64_t)x;
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;

		errno = 0;
		if (is_signed) {
			long long x = strtoll(s, &end, 10);

			if (!s[0] || *end || errno || x < lo || x > hi)
				return kc_error_set(err, ERANGE,
						    "%s: `%s` is not an integer in range", path, s);
			*out = (uint64_t)x;
		} else {
			unsigned long long x = strtoull(s, &end, 10);

			if (!s[0] || *end || errno || s[0] == '-' || x > uhi)
				return kc_error_set(err, ERANGE,
						    "%s: `%s` is not an integer in range", path, s);
			*out = x;
		}
		return 0;
	}
	return kc_error_set(err, EINVAL, "%s: expected an integer", path);
}

/* Stores one value of field f's type at p. */
static int set_value(const ProtobufCFieldDescriptor *f, json_t *v, void *p, const char *path,
		     kc_error_t *err)
{
	uint64_t u;
	int ret = 0;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		ret = get_int(v, true, INT32_MIN, INT32_MAX, 0, &u, path, err);
		if (ret == 0)
			*(int32_t *)p = (int32_t)(int64_t)u;
		return ret;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		ret = get_int(v, false, 0, 0, UINT32_MAX, &u, path, err);
		if (ret == 0)
			*(uint32_t *)p = (uint32_t)u;
		return ret;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		ret = get_int(v, true, INT64_MIN, INT64_MAX, 0, &u, path, err);
		if (ret == 0)
			*(int64_t *)p = (int64_t)u;
		return ret;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		ret = get_int(v, false, 0, 0, UINT64_MAX, &u, path, err);
		if (ret == 0)
			*(uint64_t *)p = u;
		return ret;
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE:
		if (!json_is_number(v))
			return kc_error_set(err, EINVAL, "%s: expected a number", path);
		if (f->type == PROTOBUF_C_TYPE_FLOAT)
			*(float *)p = (float)json_number_value(v);
		else
			*(double *)p = json_number_value(v);
		return 0;
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(v))
			return kc_error_set(err, EINVAL, "%s: expected true or false", path);
		*(protobuf_c_boolean *)p = json_is_true(v);
		return 0;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumDescriptor *ed = f->descriptor;
		const ProtobufCEnumValue *ev = NULL;

		/* Any int32 number: proto3's enums are open, and a value the
		 * .proto does not name is printed (from_msg) as its number. */
		if (json_is_integer(v) && json_integer_value(v) >= INT32_MIN &&
		    json_integer_value(v) <= INT32_MAX) {
			*(int *)p = (int)json_integer_value(v);
			return 0;
		}
		if (json_is_string(v))
			ev = protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(v));
		if (!ev) {
			cleanup_free char *names = kc_xstrdup("");

			for (unsigned i = 0; i < ed->n_values; i++) {
				char *o = names;

				names = kc_xasprintf("%s%s%s", o, i ? ", " : "", ed->values[i].name);
				free(o);
			}
			return kc_error_set(err, EINVAL, "%s: not a value of %s (%s)", path,
					    ed->name, names);
		}
		*(int *)p = ev->value;
		return 0;
	}
	case PROTOBUF_C_TYPE_STRING:
		if (!json_is_string(v))
			return kc_error_set(err, EINVAL, "%s: expected a string", path);
		*(char **)p = kc_xstrndup(json_string_value(v), json_string_length(v));
		return 0;
	case PROTOBUF_C_TYPE_BYTES: {
		ProtobufCBinaryData *bd = p;
		const char *s;

		if (!json_is_string(v))
			return kc_error_set(err, EINVAL,
					    "%s: expected a string (or \"base64:...\")", path);
		s = json_string_value(v);
		if (strncmp(s, "base64:", 7) == 0) {
			if (base64_decode(s + 7, &bd->data, &bd->len) < 0)
				return kc_error_set(err, EINVAL, "%s: bad base64", path);
			return 0;
		}
		bd->len = json_string_length(v);
		bd->data = kc_xmalloc(bd->len + 1);
		memcpy(bd->data, s, bd->len);
		return 0;
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		return to_msg(f->descriptor, v, path, (ProtobufCMessage **)p, err);
	}
	return kc_error_set(err, EINVAL, "%s: unsupported field type", path);
}

/* protobuf-c has no flag for map entries: a message named *Entry with
 * fields key and value is one. */
static bool is_map_entry(const ProtobufCMessageDescriptor *d)
{
	size_t n = strlen(d->name);

	return n > 5 && strcmp(d->name + n - 5, "Entry") == 0 && d->n_fields == 2 &&
	       strcmp(d->fields[0].name, "key") == 0 && strcmp(d->fields[1].name, "value") == 0 &&
	       d->fields[0].type == PROTOBUF_C_TYPE_STRING;
}

static int set_repeated(const ProtobufCFieldDescriptor *f, json_t *v, void *msg, const char *path,
			kc_error_t *err)
{
	size_t *n = MEMBER(msg, f->quantifier_offset, size_t);
	void **arr = MEMBER(msg, f->offset, void *);
	size_t es = elem_size(f->type), count;
	bool map = f->type == PROTOBUF_C_TYPE_MESSAGE && is_map_entry(f->descriptor) &&
		   json_is_object(v);
	const char *key;
	json_t *val;
	size_t i = 0;

	if (!json_is_array(v) && !map)
		return kc_error_set(err, EINVAL, "%s: expected an array%s", path,
				    f->type == PROTOBUF_C_TYPE_MESSAGE && is_map_entry(f->descriptor)
					    ? " or an object"
					    : "");
	count = map ? json_object_size(v) : json_array_size(v);
	*arr = kc_xzalloc((count ? count : 1) * es);
	if (!map) {
		json_array_foreach(v, i, val)
		{
			cleanup_free char *p = kc_xasprintf("%s[%zu]", path, i);
			int ret = set_value(f, val, (uint8_t *)*arr + i * es, p, err);

			/* The slot counts even when it failed half-built, so
			 * that freeing the message frees it. */
			*n = i + 1;
			if (ret < 0)
				return ret;
		}
		return 0;
	}
	json_object_foreach(v, key, val)
	{
		cleanup_free char *p = kc_xasprintf("%s.%s", path, key);
		json_t *entry = json_pack("{sssO}", "key", key, "value", val);
		int ret = set_value(f, entry, (uint8_t *)*arr + i * es, p, err);

		json_decref(entry);
		*n = ++i;
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int to_msg(const ProtobufCMessageDescriptor *desc, json_t *j, const char *path,
		  ProtobufCMessage **out, kc_error_t *err)
{
	ProtobufCMessage *msg;
	const char *key;
	json_t *v;

	*out = NULL;
	if (json_is_null(j))
		return 0;
	if (!json_is_object(j))
		return kc_error_set(err, EINVAL, "%s: expected an object (%s)",
				    path[0] ? path : "request", desc->name);
	msg = kc_xzalloc(desc->sizeof_message);
	desc->message_init(msg);
	*out = msg;
	json_object_foreach(j, key, v)
	{
		const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(
			desc, key);
		cleanup_free char *p = path[0] ? kc_xasprintf("%s.%s", path, key) : kc_xstrdup(key);
		int ret;

		if (!f) {
			cleanup_free char *names = kc_xstrdup("");

			for (unsigned i = 0; i < desc->n_fields; i++) {
				char *o = names;

				names = kc_xasprintf("%s%s%s", o, i ? ", " : "",
						     desc->fields[i].name);
				free(o);
			}
			return kc_error_set(err, EINVAL, "%s: no such field in %s (fields: %s)", p,
					    desc->name, names);
		}
		if (json_is_null(v))
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			ret = set_repeated(f, v, msg, p, err);
		} else {
			ret = set_value(f, v, MEMBER(msg, f->offset, void), p, err);
			if (ret == 0 && (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
				*MEMBER(msg, f->quantifier_offset, uint32_t) = f->id;
			else if (ret == 0 && f->label == PROTOBUF_C_LABEL_OPTIONAL &&
				 f->quantifier_offset && f->type != PROTOBUF_C_TYPE_STRING &&
				 f->type != PROTOBUF_C_TYPE_MESSAGE)
				*MEMBER(msg, f->quantifier_offset, protobuf_c_boolean) = 1;
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

int kc_pbjson_to_msg(const ProtobufCMessageDescriptor *desc, json_t *j, ProtobufCMessage **out,
		     kc_error_t *err)
{
	ProtobufCMessage *m = NULL;
	int ret;

	if (json_is_null(j))
		return kc_error_set(err, EINVAL, "request: expected an object (%s)", desc->name);
	ret = to_msg(desc, j, "", &m, err);
	if (ret < 0) {
		protobuf_c_message_free_unpacked(m, NULL);
		return ret;
	}
	*out = m;
	return 0;
}

/* ---- message to JSON ---- */

static bool is_text(const uint8_t *p, size_t n)
{
	if (n >= 7 && memcmp(p, "base64:", 7) == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] == 0 || (p[i] < 0x20 && p[i] != '\n' && p[i] != '\t' && p[i] != '\r') ||
		    p[i] == 0x7f)
			return false;
	{
		json_t *t = json_stringn((const char *)p, n);
		bool ok = t != NULL;

		json_decref(t);
		return ok;
	}
}

static json_t *value_json(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_integer(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(*(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return json_integer(*(const int64_t *)p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: {
		uint64_t u = *(const uint64_t *)p;
		char buf[32];

		if (u <= INT64_MAX)
			return json_integer((json_int_t)u);
		snprintf(buf, sizeof(buf), "%" PRIu64, u);
		return json_string(buf);
	}
	case PROTOBUF_C_TYPE_FLOAT:
		return json_real(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return json_real(*(const double *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor,
										    *(const int *)p);

		return ev ? json_string(ev->name) : json_integer(*(const int *)p);
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		json_t *j = json_string(s ? s : "");

		/* Not UTF-8: the bytes, so nothing is lost. */
		if (!j) {
			cleanup_free char *b = base64_encode((const uint8_t *)s, strlen(s));
			char *t = kc_xasprintf("base64:%s", b);

			j = json_string(t);
			free(t);
		}
		return j;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *bd = p;
		cleanup_free char *b = NULL;
		json_t *j;
		char *t;

		if (is_text(bd->data, bd->len))
			return json_stringn((const char *)bd->data, bd->len);
		b = base64_encode(bd->data, bd->len);
		t = kc_xasprintf("base64:%s", b);
		j = json_string(t);
		free(t);
		return j;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;

		return m ? kc_pbjson_from_msg(m) : json_null();
	}
	}
	return json_null();
}

static bool is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
	static const uint8_t zero[16];

	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;

		return !s || !s[0];
	}
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)p)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(ProtobufCMessage *const *)p == NULL;
	default:
		return memcmp(p, zero, elem_size(f->type)) == 0;
	}
}

json_t *kc_pbjson_from_msg(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *desc = m->descriptor;
	json_t *o = json_object();

	for (unsigned i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		const void *p = (const uint8_t *)m + f->offset;

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const uint8_t *)m + f->quantifier_offset);
			const uint8_t *arr = *(void *const *)p;
			size_t es = elem_size(f->type);
			bool map = f->type == PROTOBUF_C_TYPE_MESSAGE && is_map_entry(f->descriptor);
			json_t *a;

			if (n == 0)
				continue;
			a = map ? json_object() : json_array();
			for (size_t k = 0; k < n; k++) {
				if (map) {
					const ProtobufCMessage *e = *(
						ProtobufCMessage *const *)(arr + k * es);
					const ProtobufCMessageDescriptor *ed = f->descriptor;
					const char *key = *(char *const *)((const uint8_t *)e +
									   ed->fields[0].offset);

					json_object_set_new(a, key ? key : "",
							    value_json(&ed->fields[1],
								       (const uint8_t *)e +
									       ed->fields[1].offset));
				} else {
					json_array_append_new(a, value_json(f, arr + k * es));
				}
			}
			json_object_set_new(o, f->name, a);
			continue;
		}
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			if (*(const uint32_t *)((const uint8_t *)m + f->quantifier_offset) != f->id)
				continue;
		} else if (is_default(f, p)) {
			continue;
		}
		json_object_set_new(o, f->name, value_json(f, p));
	}
	return o;
}
