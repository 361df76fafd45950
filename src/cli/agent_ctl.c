/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kata-agent-ctl: call any method of a kata-agent from the command line,
 * as Kata's agent-ctl does, for developers and tests.
 *
 *   kata-agent-ctl --server-address URI [--timeout S] call METHOD [JSON]
 *   kata-agent-ctl list
 *
 * URI is any transport the ttrpc layer dials (unix://, vsock://CID:PORT,
 * hvsock:///path:PORT, serial:///path of QEMU's chardev socket).  METHOD
 * is "CreateSandbox", "Health.Check" or the full "grpc.Health/Check".
 * JSON is the request (default {}); "-" reads it from stdin, "@FILE" from
 * a file.  The answer is printed as JSON (see pbjson.h for the mapping).
 *
 * Exit status: 0 answered OK, 1 the call failed (the status is printed),
 * 2 usage or request errors.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.pb-c.h"
#include "health.pb-c.h"
#include "lib/json.h"
#include "lib/util.h"
#include "pbjson.h"
#include "ttrpc/client.h"
#include "ttrpc/loop.h"
#include "ttrpc/transport.h"

#define PROG "kata-agent-ctl"

static const ProtobufCServiceDescriptor *const services[] = {
	&grpc__agent_service__descriptor,
	&grpc__health__descriptor,
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " --server-address URI [--timeout SECONDS] call METHOD [JSON]\n"
		"       " PROG " list\n"
		"  --server-address URI  unix:///path, vsock://CID:PORT, hvsock:///path:PORT or\n"
		"                        serial:///path (QEMU's chardev socket)\n"
		"  --timeout SECONDS     deadline for connecting and for the call (default 30)\n"
		"  METHOD                CreateSandbox, Health.Check or grpc.Health/Check\n"
		"  JSON                  the request (default {}); - reads stdin, @FILE a file\n");
}

/* Finds METHOD in the services: "M", "Service.M", "pkg.Service/M". */
static int find_method(const char *name, const ProtobufCServiceDescriptor **svc,
		       const ProtobufCMethodDescriptor **method, kc_error_t *err)
{
	const char *slash = strchr(name, '/'), *dot = strrchr(name, '.');
	const char *mname = slash ? slash + 1 : dot ? dot + 1 : name;
	size_t slen = slash ? (size_t)(slash - name) : dot ? (size_t)(dot - name) : 0;

	for (size_t i = 0; i < KC_ARRAY_SIZE(services); i++) {
		const ProtobufCServiceDescriptor *s = services[i];
		const ProtobufCMethodDescriptor *m;

		if (slen && !(strlen(s->name) == slen && strncmp(s->name, name, slen) == 0) &&
		    !(strlen(s->short_name) == slen && strncmp(s->short_name, name, slen) == 0))
			continue;
		m = protobuf_c_service_descriptor_get_method_by_name(s, mname);
		if (m) {
			*svc = s;
			*method = m;
			return 0;
		}
	}
	return kc_error_set(err, ENOENT, "no method `%s` (see `" PROG " list`)", name);
}

static int list_methods(void)
{
	for (size_t i = 0; i < KC_ARRAY_SIZE(services); i++)
		for (unsigned k = 0; k < services[i]->n_methods; k++)
			printf("%s/%s\n", services[i]->name, services[i]->methods[k].name);
	return 0;
}

static int read_request(const char *arg, json_t **out, kc_error_t *err)
{
	cleanup_free char *buf = NULL;
	size_t len;
	int ret;

	if (!arg)
		arg = "{}";
	if (strcmp(arg, "-") == 0) {
		ret = kc_read_file("/dev/stdin", KC_TTRPC_MESSAGE_MAX, &buf, &len, err);
		if (ret < 0)
			return ret;
		arg = buf;
	} else if (arg[0] == '@') {
		ret = kc_read_file(arg + 1, KC_TTRPC_MESSAGE_MAX, &buf, &len, err);
		if (ret < 0)
			return ret;
		arg = buf;
	}
	return kc_json_parse(arg, strlen(arg), "request", out, err);
}

static int do_call(const char *uri, double timeout, const char *name, const char *json_arg)
{
	cleanup_error kc_error_t err = NULL;
	cleanup_json json_t *j = NULL, *out = NULL;
	const ProtobufCServiceDescriptor *svc = NULL;
	const ProtobufCMethodDescriptor *method = NULL;
	ProtobufCMessage *req = NULL, *resp = NULL;
	struct kc_ttrpc_call_opts opts = { .timeout_ns = (uint64_t)(timeout * 1e9) };
	struct kc_ttrpc_client *cli = NULL;
	struct kc_loop *loop = NULL;
	cleanup_free char *text = NULL;
	int fd, ret;

	if (find_method(name, &svc, &method, &err) < 0 || read_request(json_arg, &j, &err) < 0 ||
	    kc_pbjson_to_msg(method->input, j, &req, &err) < 0) {
		kc_error_report(PROG, &err);
		return 2;
	}
	ret = kc_loop_new(&loop, &err);
	if (ret >= 0) {
		fd = kc_ttrpc_dial(uri, opts.timeout_ns, &err);
		ret = fd < 0 ? fd : kc_ttrpc_client_new(loop, fd, &cli, &err);
	}
	if (ret >= 0)
		ret = kc_ttrpc_client_call_msg_sync(cli, svc->name, method->name, req,
						    method->output, &resp, &opts, &err);
	protobuf_c_message_free_unpacked(req, NULL);
	if (cli)
		kc_ttrpc_client_free(cli);
	kc_loop_free(loop);
	if (ret < 0) {
		kc_error_report(PROG, &err);
		return 1;
	}
	out = resp ? kc_pbjson_from_msg(resp) : json_object();
	protobuf_c_message_free_unpacked(resp, NULL);
	text = kc_json_dump(out, 0);
	printf("%s\n", text);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "server-address", required_argument, NULL, 'a' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *uri = NULL;
	double timeout = 30;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			uri = optarg;
			break;
		case 't':
			timeout = strtod(optarg, &end);
			if (*end || !(timeout > 0) || timeout > 1e6) {
				fprintf(stderr, PROG ": --timeout `%s` is not a number of seconds\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc && strcmp(argv[optind], "list") == 0 && optind + 1 == argc)
		return list_methods();
	if (optind + 2 > argc || optind + 3 < argc || strcmp(argv[optind], "call") != 0) {
		usage(stderr);
		return 2;
	}
	if (!uri) {
		fprintf(stderr, PROG ": --server-address is required for call\n");
		return 2;
	}
	return do_call(uri, timeout, argv[optind + 1], optind + 2 < argc ? argv[optind + 2] : NULL);
}
