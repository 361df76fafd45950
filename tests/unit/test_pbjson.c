/* SPDX-License-Identifier: Apache-2.0 */
/* JSON <-> protobuf-c (src/cli/pbjson.c): round trips and precise errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "agent.pb-c.h"
#include "cli/pbjson.h"
#include "lib/json.h"
#include "lib/util.h"

static ProtobufCMessage *parse(const ProtobufCMessageDescriptor *d, const char *text)
{
	cleanup_json json_t *j = NULL;
	ProtobufCMessage *m = NULL;
	cleanup_error kc_error_t err = NULL;

	assert_int_equal(kc_json_parse(text, strlen(text), "t", &j, NULL), 0);
	if (kc_pbjson_to_msg(d, j, &m, &err) < 0)
		fail_msg("%s: %s", text, err->msg);
	return m;
}

static char *fails(const ProtobufCMessageDescriptor *d, const char *text)
{
	cleanup_json json_t *j = NULL;
	ProtobufCMessage *m = NULL;
	kc_error_t err = NULL;
	char *msg;

	assert_int_equal(kc_json_parse(text, strlen(text), "t", &j, NULL), 0);
	assert_true(kc_pbjson_to_msg(d, j, &m, &err) < 0);
	assert_null(m);
	msg = kc_steal_ptr(&err->msg);
	kc_error_free(&err);
	return msg;
}

/* JSON -> message -> wire -> message -> JSON gives the same JSON. */
static void round_trip(const ProtobufCMessageDescriptor *d, const char *text)
{
	ProtobufCMessage *m = parse(d, text), *back;
	cleanup_json json_t *want = NULL, *got = NULL;
	size_t len = protobuf_c_message_get_packed_size(m);
	cleanup_free uint8_t *buf = kc_xmalloc(len + 1);

	protobuf_c_message_pack(m, buf);
	back = protobuf_c_message_unpack(d, NULL, len, buf);
	assert_non_null(back);
	assert_int_equal(kc_json_parse(text, strlen(text), "t", &want, NULL), 0);
	got = kc_pbjson_from_msg(back);
	if (!json_equal(want, got)) {
		cleanup_free char *s = kc_json_dump(got, 1);

		fail_msg("round trip of %s gave %s", text, s);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	protobuf_c_message_free_unpacked(back, NULL);
}

static void test_round_trips(void **state)
{
	(void)state;
	round_trip(&grpc__interface__descriptor,
		   "{\"name\":\"eth0\",\"mtu\":1500,\"raw_flags\":4099,"
		   "\"ip_addresses\":[{\"address\":\"10.0.0.2\",\"mask\":\"24\"},"
		   "{\"family\":\"V6\",\"address\":\"fd00::2\",\"mask\":\"64\"}]}");
	/* Map fields are objects; nested messages; 64-bit values. */
	round_trip(&grpc__stats_container_response__descriptor,
		   "{\"cgroup_stats\":{\"memory_stats\":{\"cache\":12,\"stats\":{\"rss\":4096,"
		   "\"swap\":0}},\"hugetlb_stats\":{\"2MB\":{\"usage\":3}},"
		   "\"cpu_stats\":{\"cpu_usage\":{\"percpu_usage\":[1,2,3]}}},"
		   "\"network_stats\":[{\"name\":\"eth0\",\"rx_bytes\":9007199254740993}]}");
	/* Past INT64_MAX an unsigned value is a string. */
	round_trip(&grpc__mem_hotplug_by_probe_request__descriptor,
		   "{\"mem_hotplug_probe_addr\":[\"18446744073709551615\",4294967296]}");
	/* Bytes: text stays text, anything else is base64. */
	round_trip(&grpc__copy_file_request__descriptor,
		   "{\"path\":\"/run/kata-containers/x\",\"file_size\":-1,\"uid\":-1,"
		   "\"data\":\"base64:AP8KAA==\"}");
	round_trip(&grpc__copy_file_request__descriptor, "{\"data\":\"plain text\\n\"}");
	round_trip(&grpc__copy_file_request__descriptor, "{\"data\":\"base64:YmFzZTY0OnRleHQ=\"}");
	round_trip(&grpc__guest_details_request__descriptor, "{\"mem_block_size\":true}");
}

static void test_inputs(void **state)
{
	Grpc__CopyFileRequest *c;
	Grpc__SignalProcessRequest *s;
	Grpc__IPAddress *ip;

	(void)state;
	c = (void *)parse(&grpc__copy_file_request__descriptor,
			  "{\"data\":\"base64:aGk\",\"offset\":\"12\",\"file_mode\":null}");
	assert_int_equal(c->data.len, 2);
	assert_memory_equal(c->data.data, "hi", 2);
	assert_int_equal(c->offset, 12);
	protobuf_c_message_free_unpacked(&c->base, NULL);
	s = (void *)parse(&grpc__signal_process_request__descriptor, "{\"signal\":4294967295}");
	assert_int_equal(s->signal, UINT32_MAX);
	protobuf_c_message_free_unpacked(&s->base, NULL);
	ip = (void *)parse(&grpc__ipaddress__descriptor, "{\"family\":1}");
	assert_int_equal(ip->family, GRPC__IPFAMILY__V6);
	protobuf_c_message_free_unpacked(&ip->base, NULL);
	/* A value the .proto does not name (proto3's enums are open): kept,
	 * as from_msg prints it. */
	ip = (void *)parse(&grpc__ipaddress__descriptor, "{\"family\":70}");
	assert_int_equal(ip->family, 70);
	protobuf_c_message_free_unpacked(&ip->base, NULL);
}

static void test_errors(void **state)
{
	static const struct {
		const ProtobufCMessageDescriptor *d;
		const char *json, *want;
	} cases[] = {
		{ &grpc__signal_process_request__descriptor, "{\"signal\":4294967296}", "signal" },
		{ &grpc__signal_process_request__descriptor, "{\"signal\":-1}", "out of range" },
		{ &grpc__signal_process_request__descriptor, "{\"signal\":\"9x\"}", "`9x`" },
		{ &grpc__signal_process_request__descriptor, "{\"signal\":1.5}", "integer" },
		{ &grpc__signal_process_request__descriptor, "{\"sig\":1}",
		  "sig: no such field in grpc.SignalProcessRequest (fields: container_id, exec_id, "
		  "signal)" },
		{ &grpc__signal_process_request__descriptor, "[1]", "expected an object" },
		{ &grpc__update_interface_request__descriptor,
		  "{\"interface\":{\"ip_addresses\":[{},{\"family\":\"V5\"}]}}",
		  "interface.ip_addresses[1].family: not a value of grpc.IPFamily (V4, V6)" },
		{ &grpc__update_interface_request__descriptor,
		  "{\"interface\":{\"ip_addresses\":{}}}",
		  "interface.ip_addresses: expected an array" },
		{ &grpc__update_interface_request__descriptor, "{\"interface\":{\"name\":5}}",
		  "interface.name: expected a string" },
		{ &grpc__guest_details_request__descriptor, "{\"mem_block_size\":1}",
		  "true or false" },
		{ &grpc__copy_file_request__descriptor, "{\"data\":\"base64:a*\"}", "bad base64" },
		{ &grpc__mem_hotplug_by_probe_request__descriptor,
		  "{\"mem_hotplug_probe_addr\":[1,\"-2\"]}", "mem_hotplug_probe_addr[1]" },
		{ &grpc__stats_container_response__descriptor,
		  "{\"cgroup_stats\":{\"memory_stats\":{\"stats\":{\"rss\":\"x\"}}}}",
		  "cgroup_stats.memory_stats.stats.rss" },
	};

	(void)state;
	for (size_t i = 0; i < KC_ARRAY_SIZE(cases); i++) {
		cleanup_free char *msg = fails(cases[i].d, cases[i].json);

		if (!strstr(msg, cases[i].want))
			fail_msg("%s: `%s` lacks `%s`", cases[i].json, msg, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_inputs),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
