/* SPDX-License-Identifier: Apache-2.0 */
/* Framing and the ttrpc envelope: pure code, byte by byte. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "lib/util.h"
#include "ttrpc.pb-c.h"
#include "ttrpc/frame.h"
#include "ttrpc/idmap.h"
#include "ttrpc/ttrpc.h"
#include "ttrpc/wire.h"

/* Captured from containerd 1.6.20 (reference/containerd-shim.md §4.7). */
#define HEX_CONNECT_REQ \
	"000000280000000301000a17636f6e7461696e6572642e7461736b2e76322e5461736b1207436f6e6e" \
	"6563741a040a026831"
#define HEX_CONNECT_REPLY "00000013000000030200121108c03d10d23d1a0970726f62652d302e31"
#define HEX_WAIT_REPLY "00000011000000090200120f0803120b08e4b98bd80610dc86e21f"
#define HEX_STATE_REQ \
	"0000002c0000000d01000a17636f6e7461696e6572642e7461736b2e76322e5461736b120553746174" \
	"651a040a02683120f989d4b907"
#define HEX_SHUTDOWN_REPLY "00000000000000110200"

static size_t make_frame(uint8_t *out, uint32_t id, uint8_t type, const void *body, size_t len)
{
	struct kc_ttrpc_header h = { (uint32_t)len, id, type, 0 };

	kc_ttrpc_header_put(out, &h);
	if (len > 0)
		memcpy(out + KC_TTRPC_HEADER_SIZE, body, len);
	return KC_TTRPC_HEADER_SIZE + len;
}

static void test_header_roundtrip(void **state)
{
	struct kc_ttrpc_header h = { 0x01020304, 0xa0b0c0d1, 2, 0x5a }, g;
	uint8_t buf[KC_TTRPC_HEADER_SIZE];
	const uint8_t want[] = { 1, 2, 3, 4, 0xa0, 0xb0, 0xc0, 0xd1, 2, 0x5a };

	(void)state;
	kc_ttrpc_header_put(buf, &h);
	assert_memory_equal(buf, want, sizeof(want));
	kc_ttrpc_header_get(buf, &g);
	assert_int_equal(g.length, h.length);
	assert_int_equal(g.stream_id, h.stream_id);
	assert_int_equal(g.type, h.type);
	assert_int_equal(g.flags, h.flags);
}

/* Every frame of the vectors comes out whole, fed one byte at a time. */
static void test_reader_byte_by_byte(void **state)
{
	const char *vectors[] = { HEX_CONNECT_REQ, HEX_CONNECT_REPLY, HEX_WAIT_REPLY, HEX_STATE_REQ,
				  HEX_SHUTDOWN_REPLY };
	struct kc_ttrpc_reader r;

	(void)state;
	kc_ttrpc_reader_init(&r, KC_TTRPC_MESSAGE_MAX);
	for (size_t v = 0; v < KC_ARRAY_SIZE(vectors); v++) {
		size_t len;
		uint8_t *bytes = hex_decode(vectors[v], &len);
		struct kc_ttrpc_frame f;
		int got = 0;

		for (size_t i = 0; i < len; i++) {
			assert_int_equal(kc_ttrpc_reader_feed(&r, bytes + i, 1), 1);
			int res = kc_ttrpc_reader_next(&r, &f);

			if (i + 1 < len) {
				assert_int_equal(res, KC_TTRPC_READ_MORE);
				assert_true(kc_ttrpc_reader_partial(&r));
			} else {
				assert_int_equal(res, KC_TTRPC_READ_FRAME);
				got = 1;
			}
		}
		assert_int_equal(got, 1);
		assert_int_equal(f.hdr.length, len - KC_TTRPC_HEADER_SIZE);
		assert_memory_equal(f.body, bytes + KC_TTRPC_HEADER_SIZE, f.hdr.length);
		assert_false(kc_ttrpc_reader_partial(&r));
		free(bytes);
	}
	kc_ttrpc_reader_release(&r);
}

/* Many frames in one read, zero-length bodies among them. */
static void test_reader_coalesced(void **state)
{
	uint8_t buf[4096];
	size_t off = 0;
	struct kc_ttrpc_reader r;
	struct kc_ttrpc_frame f;

	(void)state;
	for (uint32_t i = 0; i < 100; i++) {
		char body[16];
		size_t n = i % 3 == 0 ? 0 : (size_t)snprintf(body, sizeof(body), "m%u", i);

		off += make_frame(buf + off, 2 * i + 1, KC_TTRPC_TYPE_REQUEST, body, n);
	}
	kc_ttrpc_reader_init(&r, KC_TTRPC_MESSAGE_MAX);
	assert_int_equal(kc_ttrpc_reader_feed(&r, buf, off), off);
	for (uint32_t i = 0; i < 100; i++) {
		char body[16];
		size_t n = i % 3 == 0 ? 0 : (size_t)snprintf(body, sizeof(body), "m%u", i);

		assert_int_equal(kc_ttrpc_reader_next(&r, &f), KC_TTRPC_READ_FRAME);
		assert_int_equal(f.hdr.stream_id, 2 * i + 1);
		assert_int_equal(f.hdr.length, n);
		if (n > 0)
			assert_memory_equal(f.body, body, n);
	}
	assert_int_equal(kc_ttrpc_reader_next(&r, &f), KC_TTRPC_READ_MORE);
	assert_false(kc_ttrpc_reader_partial(&r));
	kc_ttrpc_reader_release(&r);
}

/* Frames split at every possible point between two reads. */
static void test_reader_split_everywhere(void **state)
{
	uint8_t buf[256];
	size_t len = 0;

	(void)state;
	len += make_frame(buf + len, 1, 1, "abc", 3);
	len += make_frame(buf + len, 3, 1, "", 0);
	len += make_frame(buf + len, 5, 2, "hello world", 11);
	for (size_t cut = 0; cut <= len; cut++) {
		struct kc_ttrpc_reader r;
		struct kc_ttrpc_frame f;
		uint32_t ids[3];
		int n = 0;

		kc_ttrpc_reader_init(&r, KC_TTRPC_MESSAGE_MAX);
		kc_ttrpc_reader_feed(&r, buf, cut);
		while (kc_ttrpc_reader_next(&r, &f) == KC_TTRPC_READ_FRAME)
			ids[n++] = f.hdr.stream_id;
		kc_ttrpc_reader_feed(&r, buf + cut, len - cut);
		while (kc_ttrpc_reader_next(&r, &f) == KC_TTRPC_READ_FRAME)
			ids[n++] = f.hdr.stream_id;
		assert_int_equal(n, 3);
		assert_int_equal(ids[0], 1);
		assert_int_equal(ids[1], 3);
		assert_int_equal(ids[2], 5);
		kc_ttrpc_reader_release(&r);
	}
}

/* Exactly the limit passes; one byte more is skipped without buffering and
 * the next frame still decodes. */
static void test_reader_max_size(void **state)
{
	size_t big = KC_TTRPC_MESSAGE_MAX;
	uint8_t *buf = malloc(KC_TTRPC_HEADER_SIZE + big + 1);
	struct kc_ttrpc_header h = { (uint32_t)big, 7, 1, 0 };
	struct kc_ttrpc_reader r;
	struct kc_ttrpc_frame f;
	uint8_t small[32];
	size_t off, slen;

	(void)state;
	kc_ttrpc_header_put(buf, &h);
	for (size_t i = 0; i < big; i++)
		buf[KC_TTRPC_HEADER_SIZE + i] = (uint8_t)i;
	kc_ttrpc_reader_init(&r, KC_TTRPC_MESSAGE_MAX);
	for (off = 0; off < KC_TTRPC_HEADER_SIZE + big;) {
		size_t room;
		uint8_t *p = kc_ttrpc_reader_space(&r, &room);
		size_t n = KC_TTRPC_HEADER_SIZE + big - off;

		if (n > room)
			n = room;
		if (n > 100000)
			n = 100000;
		memcpy(p, buf + off, n);
		kc_ttrpc_reader_commit(&r, n);
		off += n;
		if (off < KC_TTRPC_HEADER_SIZE + big)
			assert_int_equal(kc_ttrpc_reader_next(&r, &f), KC_TTRPC_READ_MORE);
	}
	assert_int_equal(kc_ttrpc_reader_next(&r, &f), KC_TTRPC_READ_FRAME);
	assert_int_equal(f.hdr.length, big);
	assert_memory_equal(f.body, buf + KC_TTRPC_HEADER_SIZE, big);

	/* One byte over: reported at once, then skipped as it arrives. */
	h.length = (uint32_t)big + 1;
	h.stream_id = 9;
	kc_ttrpc_header_put(buf, &h);
	kc_ttrpc_reader_feed(&r, buf, KC_TTRPC_HEADER_SIZE);
	assert_int_equal(kc_ttrpc_reader_next(&r, &f), KC_TTRPC_READ_OVERSIZED);
	assert_int_equal(f.hdr.stream_id, 9);
	assert_null(f.body);
	for (off = 0; off < big + 1;) {
		size_t room;
		uint8_t *p = kc_ttrpc_reader_space(&r, &room);
		size_t n = big + 1 - off;

		/* Skipping never needs a buffer larger than the default. */
		assert_true(r.cap <= 256 * 1024);
		if (n > room)
			n = room;
		memset(p, 0xee, n);
		kc_ttrpc_reader_commit(&r, n);
		off += n;
		assert_int_equal(kc_ttrpc_reader_next(&r, &f), KC_TTRPC_READ_MORE);
	}
	slen = make_frame(small, 11, 1, "ok", 2);
	kc_ttrpc_reader_feed(&r, small, slen);
	assert_int_equal(kc_ttrpc_reader_next(&r, &f), KC_TTRPC_READ_FRAME);
	assert_int_equal(f.hdr.stream_id, 11);
	assert_memory_equal(f.body, "ok", 2);

	/* A length of 4 GiB - 1 is just as harmless. */
	h.length = UINT32_MAX;
	kc_ttrpc_header_put(small, &h);
	kc_ttrpc_reader_feed(&r, small, KC_TTRPC_HEADER_SIZE);
	assert_int_equal(kc_ttrpc_reader_next(&r, &f), KC_TTRPC_READ_OVERSIZED);
	assert_true(kc_ttrpc_reader_partial(&r));
	kc_ttrpc_reader_reset(&r);
	assert_false(kc_ttrpc_reader_partial(&r));
	kc_ttrpc_reader_release(&r);
	free(buf);
}

static void test_writer(void **state)
{
	struct kc_ttrpc_writer w = { 0 };

	(void)state;
	for (int i = 0; i < 1000; i++) {
		uint8_t *p = kc_ttrpc_writer_reserve(&w, 1000);

		memset(p, i & 0xff, 1000);
		kc_ttrpc_writer_commit(&w, 1000);
		if (i % 3 == 0)
			kc_ttrpc_writer_consume(&w, 500);
	}
	assert_int_equal(kc_ttrpc_writer_pending(&w), 1000 * 1000 - 334 * 500);
	/* The bytes kept their order across the moves. */
	assert_int_equal(w.buf[w.end - 1], 999 & 0xff);
	kc_ttrpc_writer_unwind(&w, 10);
	kc_ttrpc_writer_consume(&w, kc_ttrpc_writer_pending(&w));
	assert_int_equal(kc_ttrpc_writer_pending(&w), 0);
	kc_ttrpc_writer_release(&w);
}

static void test_request_vectors(void **state)
{
	size_t len;
	uint8_t *want = hex_decode(HEX_CONNECT_REQ, &len);
	uint8_t buf[256], *p;
	const uint8_t payload[] = { 0x0a, 0x02, 'h', '1' };
	struct kc_ttrpc_request_view v;
	struct kc_ttrpc_header h;

	(void)state;
	/* Encoding gives containerd's bytes. */
	size_t body = kc_ttrpc_request_head_size(23, 7, 4) + 4 +
		      kc_ttrpc_request_tail_size(0, NULL, 0);

	h = (struct kc_ttrpc_header){ (uint32_t)body, 3, KC_TTRPC_TYPE_REQUEST, 0 };
	kc_ttrpc_header_put(buf, &h);
	p = kc_ttrpc_request_head_put(buf + KC_TTRPC_HEADER_SIZE, "containerd.task.v2.Task", 23,
				      "Connect", 7, 4);
	memcpy(p, payload, 4);
	p = kc_ttrpc_request_tail_put(p + 4, 0, NULL, 0);
	assert_int_equal(p - buf, len);
	assert_memory_equal(buf, want, len);

	/* Decoding gives the fields. */
	assert_int_equal(kc_ttrpc_request_decode(want + 10, len - 10, &v), 0);
	assert_int_equal(v.service.len, 23);
	assert_memory_equal(v.service.data, "containerd.task.v2.Task", 23);
	assert_memory_equal(v.method.data, "Connect", 7);
	assert_int_equal(v.payload.len, 4);
	assert_int_equal(v.timeout_nano, 0);
	free(want);

	/* State with a deadline: timeout_nano is field 4. */
	want = hex_decode(HEX_STATE_REQ, &len);
	assert_int_equal(kc_ttrpc_request_decode(want + 10, len - 10, &v), 0);
	assert_memory_equal(v.method.data, "State", 5);
	assert_int_equal(v.timeout_nano, 1999963385);
	body = kc_ttrpc_request_head_size(23, 5, 4) + 4 +
	       kc_ttrpc_request_tail_size(1999963385, NULL, 0);
	assert_int_equal(body, len - 10);
	p = kc_ttrpc_request_head_put(buf, "containerd.task.v2.Task", 23, "State", 5, 4);
	memcpy(p, payload, 4);
	p = kc_ttrpc_request_tail_put(p + 4, 1999963385, NULL, 0);
	assert_memory_equal(buf, want + 10, len - 10);
	free(want);
}

static void test_response_vectors(void **state)
{
	size_t len;
	uint8_t *want = hex_decode(HEX_CONNECT_REPLY, &len);
	struct kc_ttrpc_response_view v;
	uint8_t buf[64], *p;

	(void)state;
	assert_int_equal(kc_ttrpc_response_decode(want + 10, len - 10, &v), 0);
	assert_int_equal(v.code, 0);
	assert_int_equal(v.payload.len, 17);
	assert_int_equal(kc_ttrpc_response_head_size(0, 0, 17), 2);
	p = kc_ttrpc_response_head_put(buf, 0, NULL, 0, 17);
	memcpy(p, v.payload.data, 17);
	assert_memory_equal(buf, want + 10, len - 10);
	free(want);

	/* Empty answers are empty bodies. */
	want = hex_decode(HEX_SHUTDOWN_REPLY, &len);
	assert_int_equal(len, 10);
	assert_int_equal(kc_ttrpc_response_head_size(0, 0, 0), 0);
	assert_int_equal(kc_ttrpc_response_decode(want + 10, 0, &v), 0);
	assert_int_equal(v.code, 0);
	assert_int_equal(v.payload.len, 0);
	free(want);

	/* A status: code and message, no payload. */
	p = kc_ttrpc_response_head_put(buf, KC_TTRPC_NOT_FOUND, "no such task", 12, 0);
	assert_int_equal(p - buf, kc_ttrpc_response_head_size(KC_TTRPC_NOT_FOUND, 12, 0));
	assert_int_equal(kc_ttrpc_response_decode(buf, (size_t)(p - buf), &v), 0);
	assert_int_equal(v.code, KC_TTRPC_NOT_FOUND);
	assert_int_equal(v.message.len, 12);
	assert_memory_equal(v.message.data, "no such task", 12);
}

/* The hand codec and protoc-c agree, both ways, metadata included. */
static void test_envelope_matches_protobuf_c(void **state)
{
	const struct kc_ttrpc_kv md[] = {
		{ "containerd-namespace-ttrpc", "k8s.io" },
		{ "x", "" },
		{ "trace", "abc" },
	};
	const uint8_t payload[] = "payload bytes";
	uint8_t buf[512], *p;
	size_t len;
	Ttrpc__Request *req;
	Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
	Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
	struct kc_ttrpc_request_view v;
	struct kc_ttrpc_response_view rv;
	struct kc_ttrpc_bytes k, val;
	size_t cursor = 0;
	int n = 0;

	(void)state;
	p = kc_ttrpc_request_head_put(buf, "svc", 3, "Method", 6, sizeof(payload));
	memcpy(p, payload, sizeof(payload));
	p = kc_ttrpc_request_tail_put(p + sizeof(payload), -5, md, 3);
	len = (size_t)(p - buf);
	assert_int_equal(len, kc_ttrpc_request_head_size(3, 6, sizeof(payload)) + sizeof(payload) +
				      kc_ttrpc_request_tail_size(-5, md, 3));
	req = ttrpc__request__unpack(NULL, len, buf);
	assert_non_null(req);
	assert_string_equal(req->service, "svc");
	assert_string_equal(req->method, "Method");
	assert_int_equal(req->payload.len, sizeof(payload));
	assert_int_equal(req->timeout_nano, -5);
	assert_int_equal(req->n_metadata, 3);
	assert_string_equal(req->metadata[0]->key, "containerd-namespace-ttrpc");
	assert_string_equal(req->metadata[0]->value, "k8s.io");
	assert_string_equal(req->metadata[1]->value, "");
	/* And protoc-c's encoding of it decodes by hand. */
	len = ttrpc__request__pack(req, buf);
	ttrpc__request__free_unpacked(req, NULL);
	assert_int_equal(kc_ttrpc_request_decode(buf, len, &v), 0);
	assert_int_equal(v.timeout_nano, -5);
	assert_int_equal(v.n_metadata, 3);
	while (kc_ttrpc_request_metadata_next(&v, &cursor, &k, &val)) {
		assert_int_equal(k.len, strlen(md[n].key));
		assert_memory_equal(k.data, md[n].key, k.len);
		assert_int_equal(val.len, strlen(md[n].value));
		n++;
	}
	assert_int_equal(n, 3);

	st.code = KC_TTRPC_DEADLINE_EXCEEDED;
	st.message = "too late";
	resp.status = &st;
	resp.payload.data = (uint8_t *)payload;
	resp.payload.len = 3;
	len = ttrpc__response__pack(&resp, buf);
	assert_int_equal(kc_ttrpc_response_decode(buf, len, &rv), 0);
	assert_int_equal(rv.code, KC_TTRPC_DEADLINE_EXCEEDED);
	assert_memory_equal(rv.message.data, "too late", 8);
	assert_int_equal(rv.payload.len, 3);

	/* Negative codes are sign-extended like protobuf's int32. */
	p = kc_ttrpc_response_head_put(buf, -1, "m", 1, 0);
	{
		Ttrpc__Response *r = ttrpc__response__unpack(NULL, (size_t)(p - buf), buf);

		assert_non_null(r);
		assert_int_equal(r->status->code, -1);
		ttrpc__response__free_unpacked(r, NULL);
	}
}

static void test_envelope_garbage(void **state)
{
	struct kc_ttrpc_request_view v;
	struct kc_ttrpc_response_view rv;
	static const struct {
		const char *hex;
		int ok;
	} cases[] = {
		{ "", 0 }, /* empty request: all defaults */
		{ "0a", -1 }, /* key without length */
		{ "0a05616263", -1 }, /* length past the end */
		{ "08", -1 }, /* service as a varint */
		{ "0b", -1 }, /* start group */
		{ "00", -1 }, /* field 0 */
		{ "2080808080808080808002", -1 }, /* 11-byte varint */
		{ "20ffffffffffffffffff01", 0 }, /* -1 as a 10-byte varint */
		{ "20ffffffffffffffffff02", -1 }, /* overflow in byte 10 */
		{ "2a03080102", -1 }, /* metadata key as varint */
		{ "2a020a00", 0 }, /* empty key */
		{ "7801", 0 }, /* unknown varint field */
		{ "7d01020304", 0 }, /* unknown fixed32 */
		{ "790102030405060708", 0 }, /* unknown fixed64 */
		{ "7901020304", -1 }, /* short fixed64 */
		{ "f2ffffff0f00", 0 }, /* the largest field number */
		{ "f2ffffff1f00", -1 }, /* past it */
	};

	(void)state;
	for (size_t i = 0; i < KC_ARRAY_SIZE(cases); i++) {
		size_t len;
		uint8_t *b = hex_decode(cases[i].hex, &len);

		assert_int_equal(kc_ttrpc_request_decode(b, len, &v), cases[i].ok);
		free(b);
	}
	/* Response: status must be a message, payload bytes. */
	assert_int_equal(kc_ttrpc_response_decode((const uint8_t *)"\x08\x01", 2, &rv), -1);
	assert_int_equal(kc_ttrpc_response_decode((const uint8_t *)"\x0a\x02\x08", 3, &rv), -1);
	assert_int_equal(kc_ttrpc_response_decode((const uint8_t *)"\x0a\x02\x12\x05", 4, &rv), -1);
	assert_int_equal(kc_ttrpc_response_decode((const uint8_t *)"\x0a\x02\x08\x05", 4, &rv), 0);
	assert_int_equal(rv.code, 5);
}

static void test_codes(void **state)
{
	(void)state;
	assert_string_equal(kc_ttrpc_code_name(KC_TTRPC_UNIMPLEMENTED), "UNIMPLEMENTED");
	assert_string_equal(kc_ttrpc_code_name(99), "UNKNOWN");
	for (int c = 1; c <= KC_TTRPC_UNAUTHENTICATED; c++)
		assert_int_equal(kc_ttrpc_code_from_errno(kc_ttrpc_code_to_errno(c)), c);
	assert_int_equal(kc_ttrpc_code_to_errno(KC_TTRPC_OK), 0);
	assert_int_equal(kc_ttrpc_code_from_errno(ESRCH), KC_TTRPC_NOT_FOUND);
	assert_int_equal(kc_ttrpc_code_from_errno(-ENOENT), KC_TTRPC_NOT_FOUND);
	assert_int_equal(kc_ttrpc_code_from_errno(0), KC_TTRPC_INTERNAL);
	assert_int_equal(kc_ttrpc_code_from_errno(EXDEV), KC_TTRPC_UNKNOWN);
}

static void test_idmap(void **state)
{
	struct kc_idmap m = { 0 };
	static char marks[20001];

	(void)state;
	assert_null(kc_idmap_get(&m, 1));
	assert_null(kc_idmap_del(&m, 1));
	for (uint32_t id = 1; id < 20000; id += 2)
		assert_null(kc_idmap_put(&m, id, &marks[id]));
	assert_int_equal(m.len, 10000);
	/* 0 marks free slots: it is never found, and deleting it is a no-op
	 * (a peer can send stream id 0). */
	assert_null(kc_idmap_get(&m, 0));
	assert_null(kc_idmap_del(&m, 0));
	assert_int_equal(m.len, 10000);
	assert_ptr_equal(kc_idmap_put(&m, 7, &marks[8]), &marks[7]);
	assert_int_equal(m.len, 10000);
	/* Remove every third, then check all. */
	for (uint32_t id = 1; id < 20000; id += 6)
		assert_ptr_equal(kc_idmap_del(&m, id), id == 7 ? &marks[8] : &marks[id]);
	for (uint32_t id = 1; id < 20000; id += 2) {
		void *want = (id - 1) % 6 == 0 ? NULL : id == 7 ? &marks[8] : &marks[id];

		assert_ptr_equal(kc_idmap_get(&m, id), want);
	}
	/* Ids far apart and high. */
	assert_null(kc_idmap_put(&m, UINT32_MAX, &marks[0]));
	assert_ptr_equal(kc_idmap_get(&m, UINT32_MAX), &marks[0]);
	size_t n = m.len;

	while (kc_idmap_pop(&m) != NULL)
		n--;
	assert_int_equal(n, 0);
	assert_int_equal(m.len, 0);
	kc_idmap_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_roundtrip),
		cmocka_unit_test(test_reader_byte_by_byte),
		cmocka_unit_test(test_reader_coalesced),
		cmocka_unit_test(test_reader_split_everywhere),
		cmocka_unit_test(test_reader_max_size),
		cmocka_unit_test(test_writer),
		cmocka_unit_test(test_request_vectors),
		cmocka_unit_test(test_response_vectors),
		cmocka_unit_test(test_envelope_matches_protobuf_c),
		cmocka_unit_test(test_envelope_garbage),
		cmocka_unit_test(test_codes),
		cmocka_unit_test(test_idmap),
	};

	return cmocka_run_group_tests_name("ttrpc-frame", tests, NULL, NULL);
}
