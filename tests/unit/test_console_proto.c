/* SPDX-License-Identifier: Apache-2.0 */
/* The debug console's framing (lib/console_proto.h): what each side sends
 * parses back the same, split anywhere; every broken rule is refused with
 * a message naming it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "lib/console_proto.h"
#include "lib/util.h"

static void test_roundtrip(void **state)
{
	uint8_t f[KC_CONSOLE_MAX_FRAME];
	struct kc_console_msg m;
	size_t n;

	(void)state;
	n = kc_console_encode_open(f, KC_CONSOLE_OPEN_TTY, 33, 111, "uname -r");
	assert_int_equal(n, 4 + 5 + 8);
	assert_int_equal(kc_console_parse(f, n, true, &m, NULL), (int)n);
	assert_int_equal(m.type, KC_CONSOLE_OPEN);
	assert_int_equal(m.flags, KC_CONSOLE_OPEN_TTY);
	assert_int_equal(m.rows, 33);
	assert_int_equal(m.cols, 111);
	assert_int_equal(m.len, 13);
	assert_memory_equal(m.payload + 5, "uname -r", 8);

	n = kc_console_encode_size(f, KC_CONSOLE_RESIZE, 500, 65535);
	assert_int_equal(kc_console_parse(f, n, true, &m, NULL), 8);
	assert_int_equal(m.rows, 500);
	assert_int_equal(m.cols, 65535);

	n = kc_console_encode_u32(f, KC_CONSOLE_EXIT, 0x81020304);
	assert_int_equal(kc_console_parse(f, n, false, &m, NULL), 8);
	assert_int_equal(m.type, KC_CONSOLE_EXIT);
	assert_int_equal(m.value, 0x81020304);
	/* Big-endian on the wire. */
	assert_memory_equal(f, "\x08\x00\x00\x04\x81\x02\x03\x04", 8);

	n = kc_console_encode(f, KC_CONSOLE_EOF, NULL, 0);
	assert_int_equal(kc_console_parse(f, n, true, &m, NULL), 4);
	assert_int_equal(m.type, KC_CONSOLE_EOF);
}

/* A stream of frames cut at every byte: each parses only once whole. */
static void test_partial(void **state)
{
	uint8_t stream[256], data[100];
	size_t len = 0, pos = 0;
	int frames = 0;

	(void)state;
	memset(data, 'x', sizeof(data));
	len += kc_console_encode_u32(stream + len, KC_CONSOLE_STARTED, 42);
	len += kc_console_encode(stream + len, KC_CONSOLE_STDOUT, data, sizeof(data));
	len += kc_console_encode(stream + len, KC_CONSOLE_STDERR, "e", 1);
	len += kc_console_encode_u32(stream + len, KC_CONSOLE_EXIT, 3);
	for (size_t have = 1; have <= len; have++) {
		struct kc_console_msg m;
		int r;

		while ((r = kc_console_parse(stream + pos, have - pos, false, &m, NULL)) > 0) {
			frames++;
			pos += (size_t)r;
		}
		assert_int_equal(r, 0);
	}
	assert_int_equal(pos, len);
	assert_int_equal(frames, 4);
}

static void refused(const uint8_t *f, size_t len, bool from_host, const char *needle)
{
	kc_error_t err = NULL;
	struct kc_console_msg m;

	assert_int_equal(kc_console_parse(f, len, from_host, &m, &err), -EPROTO);
	assert_non_null(err);
	if (!strstr(err->msg, needle))
		fail_msg("`%s` does not say `%s`", err->msg, needle);
	kc_error_free(&err);
}

static void test_refused(void **state)
{
	uint8_t f[KC_CONSOLE_MAX_FRAME + 16] = { 0 };

	(void)state;
	refused((const uint8_t *)"\x00\x00\x00\x00", 4, true, "unknown frame type 0");
	refused((const uint8_t *)"\x0a\x00\x00\x00", 4, false, "unknown frame type 10");
	/* Each side's frames only from that side. */
	refused((const uint8_t *)"\x06\x00\x00\x00", 4, true, "the host sent STDOUT");
	refused((const uint8_t *)"\x02\x00\x00\x00", 4, false, "the guest sent STDIN");
	refused((const uint8_t *)"\x02\x01\x00\x00", 4, true, "reserved byte 1");
	/* Lengths: checked from the header alone, before the payload came. */
	refused((const uint8_t *)"\x02\x00\x10\x01", 4, true, "4097 bytes (at most 4096)");
	refused((const uint8_t *)"\x04\x00\x00\x03", 4, true, "RESIZE frame of 3 bytes");
	refused((const uint8_t *)"\x08\x00\x00\x05", 4, false, "EXIT frame of 5 bytes");
	refused((const uint8_t *)"\x05\x00\x00\x00", 4, false, "STARTED frame of 0 bytes");
	refused((const uint8_t *)"\x03\x00\x00\x01", 4, true, "EOF frame of 1 bytes");
	refused((const uint8_t *)"\x01\x00\x00\x04", 4, true, "OPEN frame of 4 bytes");
	/* Payloads. */
	refused((const uint8_t *)"\x04\x00\x00\x04\x00\x00\x00\x50", 8, true, "0x80 window");
	refused((const uint8_t *)"\x01\x00\x00\x05\x01\x00\x00\x00\x50", 9, true,
		"OPEN with a 0x80 window");
	refused((const uint8_t *)"\x01\x00\x00\x05\x02\x00\x18\x00\x50", 9, true,
		"unknown flags 0x02");
	refused((const uint8_t *)"\x01\x00\x00\x07\x00\x00\x00\x00\x00"
				 "a\0",
		11, true, "NUL byte");
	/* A window is only a terminal's: without one it may be 0x0. */
	{
		struct kc_console_msg m;
		size_t n = kc_console_encode_open(f, 0, 0, 0, "true");

		assert_int_equal(kc_console_parse(f, n, true, &m, NULL), (int)n);
		static const uint8_t zeros[KC_CONSOLE_MAX_PAYLOAD];

		/* The largest payload passes. */
		n = kc_console_encode(f, KC_CONSOLE_STDOUT, zeros, sizeof(zeros));
		assert_int_equal(kc_console_parse(f, n, false, &m, NULL), KC_CONSOLE_MAX_FRAME);
	}
}

static void test_buf(void **state)
{
	struct kc_console_buf b = { 0 };
	char big[10000];

	(void)state;
	memset(big, 'a', sizeof(big));
	kc_console_buf_append(&b, "hello", 5);
	kc_console_buf_append(&b, big, sizeof(big));
	assert_int_equal(b.len, 10005);
	kc_console_buf_consume(&b, 3);
	assert_memory_equal(b.data, "loa", 3);
	kc_console_buf_consume(&b, 20000);
	assert_int_equal(b.len, 0);
	kc_console_buf_free(&b);
	assert_null(b.data);
	assert_string_equal(kc_console_type_name(KC_CONSOLE_RESIZE), "RESIZE");
	assert_string_equal(kc_console_type_name(0), "unknown");
	assert_string_equal(kc_console_type_name(200), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_buf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
