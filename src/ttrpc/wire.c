/* SPDX-License-Identifier: Apache-2.0 */
#include "wire.h"

#include <string.h>

enum {
	WT_VARINT = 0,
	WT_I64 = 1,
	WT_LEN = 2,
	WT_I32 = 5,
};

static size_t varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* tag + length + bytes of a length-delimited field (tags here fit a byte) */
static size_t len_field_size(size_t len)
{
	return 1 + varint_size(len) + len;
}

static uint8_t *put_len_field(uint8_t *p, unsigned field, const void *data, size_t len)
{
	*p++ = (uint8_t)(field << 3 | WT_LEN);
	p = put_varint(p, len);
	if (len > 0)
		memcpy(p, data, len);
	return p + len;
}

/* ---- decoding ---- */

struct cursor {
	const uint8_t *p, *end;
};

static int get_varint(struct cursor *c, uint64_t *out)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (c->p >= c->end)
			return -1;
		b = *c->p++;
		/* The tenth byte may only carry the top bit. */
		if (shift == 63 && b > 1)
			return -1;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -1;
}

/* Reads a field key; 1 with *field and *wt set, 0 at the end, -1 on junk. */
static int get_key(struct cursor *c, uint32_t *field, unsigned *wt)
{
	uint64_t key;

	if (c->p == c->end)
		return 0;
	if (get_varint(c, &key) < 0)
		return -1;
	if ((key >> 3) == 0 || (key >> 3) > 0x1fffffff)
		return -1;
	*field = (uint32_t)(key >> 3);
	*wt = key & 7;
	return 1;
}

static int get_bytes(struct cursor *c, struct kc_ttrpc_bytes *out)
{
	uint64_t len;

	if (get_varint(c, &len) < 0 || len > (uint64_t)(c->end - c->p))
		return -1;
	out->data = c->p;
	out->len = (size_t)len;
	c->p += len;
	return 0;
}

static int skip_field(struct cursor *c, unsigned wt)
{
	struct kc_ttrpc_bytes b;
	uint64_t v;

	switch (wt) {
	case WT_VARINT:
		return get_varint(c, &v);
	case WT_I64:
		if (c->end - c->p < 8)
			return -1;
		c->p += 8;
		return 0;
	case WT_LEN:
		return get_bytes(c, &b);
	case WT_I32:
		if (c->end - c->p < 4)
			return -1;
		c->p += 4;
		return 0;
	default:
		/* Groups (3, 4) are proto2 relics that these messages never hold. */
		return -1;
	}
}

static int decode_kv(const struct kc_ttrpc_bytes *b, struct kc_ttrpc_bytes *key,
		     struct kc_ttrpc_bytes *value)
{
	struct cursor c = { b->data, b->data + b->len };
	uint32_t field;
	unsigned wt;
	int r;

	key->data = value->data = NULL;
	key->len = value->len = 0;
	while ((r = get_key(&c, &field, &wt)) > 0) {
		if (field == 1 || field == 2) {
			if (wt != WT_LEN || get_bytes(&c, field == 1 ? key : value) < 0)
				return -1;
		} else if (skip_field(&c, wt) < 0) {
			return -1;
		}
	}
	return r;
}

int kc_ttrpc_request_decode(const uint8_t *p, size_t len, struct kc_ttrpc_request_view *out)
{
	struct cursor c = { p, p + len };
	uint32_t field;
	unsigned wt;
	uint64_t v;
	int r;

	memset(out, 0, sizeof(*out));
	out->body.data = p;
	out->body.len = len;
	while ((r = get_key(&c, &field, &wt)) > 0) {
		switch (field) {
		case 1:
		case 2:
		case 3:
			if (wt != WT_LEN)
				return -1;
			if (get_bytes(&c, field == 1   ? &out->service
					  : field == 2 ? &out->method
						       : &out->payload) < 0)
				return -1;
			break;
		case 4:
			if (wt != WT_VARINT || get_varint(&c, &v) < 0)
				return -1;
			out->timeout_nano = (int64_t)v;
			break;
		case 5: {
			struct kc_ttrpc_bytes kv, k, val;

			if (wt != WT_LEN || get_bytes(&c, &kv) < 0 || decode_kv(&kv, &k, &val) < 0)
				return -1;
			out->n_metadata++;
			break;
		}
		default:
			if (skip_field(&c, wt) < 0)
				return -1;
		}
	}
	return r;
}

bool kc_ttrpc_request_metadata_next(const struct kc_ttrpc_request_view *req, size_t *cursor,
				    struct kc_ttrpc_bytes *key, struct kc_ttrpc_bytes *value)
{
	struct cursor c = { req->body.data + *cursor, req->body.data + req->body.len };
	uint32_t field;
	unsigned wt;

	if (*cursor >= req->body.len)
		return false;
	/* The body was validated by kc_ttrpc_request_decode(). */
	while (get_key(&c, &field, &wt) > 0) {
		if (field == 5 && wt == WT_LEN) {
			struct kc_ttrpc_bytes kv;

			if (get_bytes(&c, &kv) < 0 || decode_kv(&kv, key, value) < 0)
				break;
			*cursor = (size_t)(c.p - req->body.data);
			return true;
		}
		if (skip_field(&c, wt) < 0)
			break;
	}
	*cursor = req->body.len;
	return false;
}

static int decode_status(const struct kc_ttrpc_bytes *b, struct kc_ttrpc_response_view *out)
{
	struct cursor c = { b->data, b->data + b->len };
	uint32_t field;
	unsigned wt;
	uint64_t v;
	int r;

	while ((r = get_key(&c, &field, &wt)) > 0) {
		if (field == 1) {
			if (wt != WT_VARINT || get_varint(&c, &v) < 0)
				return -1;
			out->code = (int32_t)v;
		} else if (field == 2) {
			if (wt != WT_LEN || get_bytes(&c, &out->message) < 0)
				return -1;
		} else if (skip_field(&c, wt) < 0) {
			return -1;
		}
	}
	return r;
}

int kc_ttrpc_response_decode(const uint8_t *p, size_t len, struct kc_ttrpc_response_view *out)
{
	struct cursor c = { p, p + len };
	uint32_t field;
	unsigned wt;
	int r;

	memset(out, 0, sizeof(*out));
	while ((r = get_key(&c, &field, &wt)) > 0) {
		struct kc_ttrpc_bytes st;

		if (field == 1) {
			if (wt != WT_LEN || get_bytes(&c, &st) < 0 || decode_status(&st, out) < 0)
				return -1;
		} else if (field == 2) {
			if (wt != WT_LEN || get_bytes(&c, &out->payload) < 0)
				return -1;
		} else if (skip_field(&c, wt) < 0) {
			return -1;
		}
	}
	return r;
}

/* ---- encoding ---- */

size_t kc_ttrpc_request_head_size(size_t service_len, size_t method_len, size_t payload_len)
{
	size_t n = 0;

	if (service_len > 0)
		n += len_field_size(service_len);
	if (method_len > 0)
		n += len_field_size(method_len);
	if (payload_len > 0)
		n += len_field_size(payload_len) - payload_len;
	return n;
}

uint8_t *kc_ttrpc_request_head_put(uint8_t *p, const char *service, size_t service_len,
				   const char *method, size_t method_len, size_t payload_len)
{
	if (service_len > 0)
		p = put_len_field(p, 1, service, service_len);
	if (method_len > 0)
		p = put_len_field(p, 2, method, method_len);
	if (payload_len > 0) {
		*p++ = 3 << 3 | WT_LEN;
		p = put_varint(p, payload_len);
	}
	return p;
}

static size_t kv_size(const struct kc_ttrpc_kv *kv)
{
	size_t klen = kv->key ? strlen(kv->key) : 0;
	size_t vlen = kv->value ? strlen(kv->value) : 0;

	return (klen ? len_field_size(klen) : 0) + (vlen ? len_field_size(vlen) : 0);
}

size_t kc_ttrpc_request_tail_size(int64_t timeout_nano, const struct kc_ttrpc_kv *md, size_t n_md)
{
	size_t n = 0;

	if (timeout_nano != 0)
		n += 1 + varint_size((uint64_t)timeout_nano);
	for (size_t i = 0; i < n_md; i++)
		n += len_field_size(kv_size(&md[i]));
	return n;
}

uint8_t *kc_ttrpc_request_tail_put(uint8_t *p, int64_t timeout_nano, const struct kc_ttrpc_kv *md,
				   size_t n_md)
{
	if (timeout_nano != 0) {
		*p++ = 4 << 3 | WT_VARINT;
		p = put_varint(p, (uint64_t)timeout_nano);
	}
	for (size_t i = 0; i < n_md; i++) {
		size_t klen = md[i].key ? strlen(md[i].key) : 0;
		size_t vlen = md[i].value ? strlen(md[i].value) : 0;

		*p++ = 5 << 3 | WT_LEN;
		p = put_varint(p, kv_size(&md[i]));
		if (klen > 0)
			p = put_len_field(p, 1, md[i].key, klen);
		if (vlen > 0)
			p = put_len_field(p, 2, md[i].value, vlen);
	}
	return p;
}

static size_t status_size(int32_t code, size_t message_len)
{
	/* int32 is sign-extended to 64 bits on the wire. */
	size_t n = 1 + varint_size((uint64_t)(int64_t)code);

	if (message_len > 0)
		n += len_field_size(message_len);
	return n;
}

size_t kc_ttrpc_response_head_size(int32_t code, size_t message_len, size_t payload_len)
{
	size_t n = 0;

	if (code != 0)
		n += len_field_size(status_size(code, message_len));
	if (payload_len > 0)
		n += len_field_size(payload_len) - payload_len;
	return n;
}

uint8_t *kc_ttrpc_response_head_put(uint8_t *p, int32_t code, const char *message,
				    size_t message_len, size_t payload_len)
{
	if (code != 0) {
		*p++ = 1 << 3 | WT_LEN;
		p = put_varint(p, status_size(code, message_len));
		*p++ = 1 << 3 | WT_VARINT;
		p = put_varint(p, (uint64_t)(int64_t)code);
		if (message_len > 0)
			p = put_len_field(p, 2, message, message_len);
	}
	if (payload_len > 0) {
		*p++ = 2 << 3 | WT_LEN;
		p = put_varint(p, payload_len);
	}
	return p;
}
