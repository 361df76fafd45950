/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for kata-agent-ctl's JSON <-> protobuf mapping
 * (src/cli/pbjson.c), over every request and response message of the
 * agent's services.  The first byte picks the message (its method's input
 * or output, in the order of agent.proto and health.proto), the second
 * the direction, the rest is the input:
 *
 *   even  JSON text, as a user types it: a message it maps to must print
 *         back (from_msg) as JSON that maps to the same message again
 *         (the same protobuf bytes); a failure must say why
 *   odd   protobuf bytes, as an agent answers: a message they decode to
 *         must print as JSON that maps back to a message
 *
 * Built and run by tests/fuzz/run-fuzz.sh pbjson.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.pb-c.h"
#include "cli/pbjson.h"
#include "health.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ProtobufCServiceDescriptor *const services[] = {
	&grpc__agent_service__descriptor,
	&grpc__health__descriptor,
};

/* The n-th message of every method's input and output, wrapping around. */
static const ProtobufCMessageDescriptor *pick(unsigned n)
{
	unsigned total = 0;

	for (size_t s = 0; s < sizeof(services) / sizeof(services[0]); s++)
		total += 2 * services[s]->n_methods;
	n %= total;
	for (size_t s = 0; s < sizeof(services) / sizeof(services[0]); s++) {
		if (n < 2 * services[s]->n_methods) {
			const ProtobufCMethodDescriptor *m = &services[s]->methods[n / 2];

			return n % 2 ? m->output : m->input;
		}
		n -= 2 * services[s]->n_methods;
	}
	abort();
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(m);
	buf = malloc(*len ? *len : 1);
	if (!buf || protobuf_c_message_pack(m, buf) != *len)
		abort();
	return buf;
}

/* m printed as JSON and mapped back: that must work; the message it
 * gives back is returned. */
static ProtobufCMessage *round_trip(const ProtobufCMessageDescriptor *desc,
				    const ProtobufCMessage *m)
{
	json_t *j = kc_pbjson_from_msg(m);
	ProtobufCMessage *back = NULL;
	kc_error_t err = NULL;

	if (!j)
		abort();
	if (kc_pbjson_to_msg(desc, j, &back, &err) < 0) {
		char *text = json_dumps(j, JSON_ENCODE_ANY);

		fprintf(stderr, "%s: %s\nprinted as: %s\n", desc->name, err->msg, text);
		abort();
	}
	json_decref(j);
	return back;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ProtobufCMessageDescriptor *desc;
	ProtobufCMessage *m = NULL, *back;
	kc_error_t err = NULL;

	if (size < 2)
		return 0;
	desc = pick(data[0]);
	if (data[1] % 2 == 0) {
		json_t *j = json_loadb((const char *)data + 2, size - 2, JSON_DECODE_ANY, NULL);
		uint8_t *a, *b;
		size_t alen, blen;

		if (!j)
			return 0;
		if (kc_pbjson_to_msg(desc, j, &m, &err) < 0) {
			if (!err || !err->msg || m)
				abort();
			kc_error_free(&err);
			json_decref(j);
			return 0;
		}
		json_decref(j);
		back = round_trip(desc, m);
		a = pack(m, &alen);
		b = pack(back, &blen);
		if (alen != blen || memcmp(a, b, alen) != 0)
			abort();
		free(a);
		free(b);
	} else {
		m = protobuf_c_message_unpack(desc, NULL, size - 2, data + 2);
		if (!m)
			return 0;
		back = round_trip(desc, m);
	}
	protobuf_c_message_free_unpacked(back, NULL);
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}
