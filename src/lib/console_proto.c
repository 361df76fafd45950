/* SPDX-License-Identifier: Apache-2.0 */
/* The debug console's framing (console_proto.h, docs/debug-console.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "console_proto.h"
#include "util.h"

static const char *const type_names[] = {
	[KC_CONSOLE_OPEN] = "OPEN",	  [KC_CONSOLE_STDIN] = "STDIN",
	[KC_CONSOLE_EOF] = "EOF",	  [KC_CONSOLE_RESIZE] = "RESIZE",
	[KC_CONSOLE_STARTED] = "STARTED", [KC_CONSOLE_STDOUT] = "STDOUT",
	[KC_CONSOLE_STDERR] = "STDERR",	  [KC_CONSOLE_EXIT] = "EXIT",
	[KC_CONSOLE_ERROR] = "ERROR",
};

const char *kc_console_type_name(unsigned type)
{
	if (type < KC_ARRAY_SIZE(type_names) && type_names[type])
		return type_names[type];
	return "unknown";
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

size_t kc_console_encode(uint8_t *out, enum kc_console_type type, const void *payload, size_t len)
{
	out[0] = (uint8_t)type;
	out[1] = 0;
	put16(out + 2, (uint16_t)len);
	if (len)
		memcpy(out + KC_CONSOLE_HDR, payload, len);
	return KC_CONSOLE_HDR + len;
}

size_t kc_console_encode_open(uint8_t *out, uint8_t flags, uint16_t rows, uint16_t cols,
			      const char *command)
{
	size_t clen = command ? strlen(command) : 0;
	uint8_t *p = out + KC_CONSOLE_HDR;

	p[0] = flags;
	put16(p + 1, rows);
	put16(p + 3, cols);
	if (clen)
		memcpy(p + 5, command, clen);
	out[0] = KC_CONSOLE_OPEN;
	out[1] = 0;
	put16(out + 2, (uint16_t)(5 + clen));
	return KC_CONSOLE_HDR + 5 + clen;
}

size_t kc_console_encode_size(uint8_t *out, enum kc_console_type type, uint16_t rows, uint16_t cols)
{
	uint8_t p[4];

	put16(p, rows);
	put16(p + 2, cols);
	return kc_console_encode(out, type, p, sizeof(p));
}

size_t kc_console_encode_u32(uint8_t *out, enum kc_console_type type, uint32_t value)
{
	uint8_t p[4];

	put32(p, value);
	return kc_console_encode(out, type, p, sizeof(p));
}

int kc_console_parse(const uint8_t *buf, size_t len, bool from_host, struct kc_console_msg *msg,
		     kc_error_t *err)
{
	const char *from = from_host ? "host" : "guest";
	size_t plen;
	unsigned type;
	bool host_type;

	if (len < KC_CONSOLE_HDR)
		return 0;
	type = buf[0];
	plen = get16(buf + 2);
	if (type < KC_CONSOLE_OPEN || type > KC_CONSOLE_ERROR)
		return kc_error_set_status(err, EPROTO,
					   "debug console: unknown frame type %u from the %s", type,
					   from);
	host_type = type <= KC_CONSOLE_RESIZE;
	if (host_type != from_host)
		return kc_error_set_status(err, EPROTO,
					   "debug console: the %s sent %s, a %s's frame", from,
					   kc_console_type_name(type), from_host ? "guest" : "host");
	if (buf[1] != 0)
		return kc_error_set_status(err, EPROTO,
					   "debug console: %s frame with reserved byte %u",
					   kc_console_type_name(type), buf[1]);
	if (plen > KC_CONSOLE_MAX_PAYLOAD)
		return kc_error_set_status(err, EPROTO,
					   "debug console: %s frame of %zu bytes (at most %d)",
					   kc_console_type_name(type), plen, KC_CONSOLE_MAX_PAYLOAD);
	switch (type) {
	case KC_CONSOLE_OPEN:
		if (plen < 5)
			return kc_error_set_status(err, EPROTO,
						   "debug console: OPEN frame of %zu bytes "
						   "(at least 5)",
						   plen);
		break;
	case KC_CONSOLE_RESIZE:
	case KC_CONSOLE_STARTED:
	case KC_CONSOLE_EXIT:
		if (plen != 4)
			return kc_error_set_status(err, EPROTO,
						   "debug console: %s frame of %zu bytes "
						   "(4 exactly)",
						   kc_console_type_name(type), plen);
		break;
	case KC_CONSOLE_EOF:
		if (plen != 0)
			return kc_error_set_status(err, EPROTO,
						   "debug console: EOF frame of %zu bytes "
						   "(empty)",
						   plen);
		break;
	default:
		break;
	}
	if (len < KC_CONSOLE_HDR + plen)
		return 0;
	memset(msg, 0, sizeof(*msg));
	msg->type = (enum kc_console_type)type;
	msg->payload = buf + KC_CONSOLE_HDR;
	msg->len = plen;
	switch (type) {
	case KC_CONSOLE_OPEN:
		msg->flags = msg->payload[0];
		msg->rows = get16(msg->payload + 1);
		msg->cols = get16(msg->payload + 3);
		if (msg->flags & ~KC_CONSOLE_OPEN_TTY)
			return kc_error_set_status(err, EPROTO,
						   "debug console: OPEN with unknown flags "
						   "0x%02x",
						   msg->flags);
		if (memchr(msg->payload + 5, '\0', plen - 5))
			return kc_error_set_status(err, EPROTO,
						   "debug console: OPEN's command holds a "
						   "NUL byte");
		break;
	case KC_CONSOLE_RESIZE:
		msg->rows = get16(msg->payload);
		msg->cols = get16(msg->payload + 2);
		break;
	case KC_CONSOLE_STARTED:
	case KC_CONSOLE_EXIT:
		msg->value = get32(msg->payload);
		break;
	default:
		break;
	}
	if ((type == KC_CONSOLE_RESIZE ||
	     (type == KC_CONSOLE_OPEN && (msg->flags & KC_CONSOLE_OPEN_TTY))) &&
	    (msg->rows == 0 || msg->cols == 0))
		return kc_error_set_status(err, EPROTO, "debug console: %s with a %ux%u window",
					   kc_console_type_name(type), msg->rows, msg->cols);
	return (int)(KC_CONSOLE_HDR + plen);
}

void kc_console_buf_append(struct kc_console_buf *b, const void *data, size_t len)
{
	if (b->len + len > b->cap) {
		b->cap = b->cap ? b->cap : 4096;
		while (b->cap < b->len + len)
			b->cap *= 2;
		b->data = kc_xrealloc(b->data, b->cap);
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

void kc_console_buf_consume(struct kc_console_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

void kc_console_buf_free(struct kc_console_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}
