/* SPDX-License-Identifier: Apache-2.0 */
/* The protocol definitions: containerd's bytes, round trips, services. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "containerd_events.pb-c.h"
#include "events_service.pb-c.h"
#include "health.pb-c.h"
#include "helpers.h"
#include "lib/util.h"
#include "runtimeoptions.pb-c.h"
#include "shim_task.pb-c.h"
#include "ttrpc/client.h"
#include "ttrpc/frame.h"
#include "ttrpc/server.h"

/* reference/containerd-shim.md §4.7, captured from containerd 1.6.20. */
#define HEX_CONNECT_REQ \
	"000000280000000301000a17636f6e7461696e6572642e7461736b2e76322e5461736b1207436f6e6e" \
	"6563741a040a026831"
#define HEX_CONNECT_REPLY "00000013000000030200121108c03d10d23d1a0970726f62652d302e31"
#define HEX_WAIT_REPLY "00000011000000090200120f0803120b08e4b98bd80610dc86e21f"

/* Packs msg and compares with hex. */
static void assert_packs_to(const ProtobufCMessage *msg, const char *hex)
{
	size_t len, n = protobuf_c_message_get_packed_size(msg);
	uint8_t *want = hex_decode(hex, &len);
	uint8_t *got = malloc(n + 1);

	assert_int_equal(protobuf_c_message_pack(msg, got), n);
	assert_int_equal(n, len);
	assert_memory_equal(got, want, len);
	free(got);
	free(want);
}

static void test_task_vectors(void **state)
{
	Containerd__Task__V2__ConnectRequest creq = CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
	Containerd__Task__V2__ConnectResponse cresp = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;
	Containerd__Task__V2__ConnectResponse *cr;
	Containerd__Task__V2__WaitResponse *wr;
	Containerd__Task__V2__WaitResponse wresp = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	size_t len;
	uint8_t *b;

	(void)state;
	creq.id = "h1";
	assert_packs_to(&creq.base, "0a026831");

	b = hex_decode("08c03d10d23d1a0970726f62652d302e31", &len);
	cr = containerd__task__v2__connect_response__unpack(NULL, len, b);
	assert_non_null(cr);
	assert_int_equal(cr->shim_pid, 7872);
	assert_int_equal(cr->task_pid, 7890);
	assert_string_equal(cr->version, "probe-0.1");
	containerd__task__v2__connect_response__free_unpacked(cr, NULL);
	free(b);
	cresp.shim_pid = 7872;
	cresp.task_pid = 7890;
	cresp.version = "probe-0.1";
	assert_packs_to(&cresp.base, "08c03d10d23d1a0970726f62652d302e31");

	b = hex_decode("0803120b08e4b98bd80610dc86e21f", &len);
	wr = containerd__task__v2__wait_response__unpack(NULL, len, b);
	assert_non_null(wr);
	assert_int_equal(wr->exit_status, 3);
	assert_non_null(wr->exited_at);
	assert_int_equal(wr->exited_at->seconds, 1795349732);
	assert_int_equal(wr->exited_at->nanos, 66618204);
	containerd__task__v2__wait_response__free_unpacked(wr, NULL);
	free(b);
	wresp.exit_status = 3;
	ts.seconds = 1795349732;
	ts.nanos = 66618204;
	wresp.exited_at = &ts;
	assert_packs_to(&wresp.base, "0803120b08e4b98bd80610dc86e21f");

	/* Go always sends its non-nullable timestamps, empty when zero. */
	b = hex_decode("08001200", &len);
	wr = containerd__task__v2__wait_response__unpack(NULL, len, b);
	assert_non_null(wr);
	assert_non_null(wr->exited_at);
	assert_int_equal(wr->exited_at->seconds, 0);
	containerd__task__v2__wait_response__free_unpacked(wr, NULL);
	free(b);
}

static void test_task_service_shape(void **state)
{
	const ProtobufCServiceDescriptor *d = &containerd__task__v2__task__descriptor;
	static const char *const methods[] = {
		"State",  "Create",	"Start", "Delete",  "Pids",	 "Pause",
		"Resume", "Checkpoint", "Kill",	 "Exec",    "ResizePty", "CloseIO",
		"Update", "Wait",	"Stats", "Connect", "Shutdown",
	};

	(void)state;
	assert_string_equal(d->name, "containerd.task.v2.Task");
	assert_int_equal(d->n_methods, KC_ARRAY_SIZE(methods));
	for (size_t i = 0; i < KC_ARRAY_SIZE(methods); i++)
		assert_string_equal(d->methods[i].name, methods[i]);
	assert_string_equal(d->methods[5].output->name, "google.protobuf.Empty");
	assert_string_equal(containerd__services__events__ttrpc__v1__events__descriptor.name,
			    "containerd.services.events.ttrpc.v1.Events");
	assert_string_equal(
		containerd__services__events__ttrpc__v1__events__descriptor.methods[0].name,
		"Forward");
	assert_string_equal(grpc__agent_service__descriptor.name, "grpc.AgentService");
	assert_int_equal(grpc__agent_service__descriptor.n_methods, 49);
	assert_string_equal(grpc__health__descriptor.name, "grpc.Health");
	assert_int_equal(grpc__health__descriptor.n_methods, 2);
}

/* A Create as containerd sends it, with every kind of field. */
static void test_create_roundtrip(void **state)
{
	Containerd__Task__V2__CreateTaskRequest req = CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
	Containerd__Types__Mount m = CONTAINERD__TYPES__MOUNT__INIT;
	Containerd__Types__Mount *mounts[] = { &m };
	char *opts[] = { "index=off", "workdir=/w", "upperdir=/u", "lowerdir=/l1:/l2" };
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	Runtimeoptions__V1__Options ro = RUNTIMEOPTIONS__V1__OPTIONS__INIT;
	Containerd__Task__V2__CreateTaskRequest *got;
	Runtimeoptions__V1__Options *rgot;
	uint8_t buf[1024], robuf[128];
	size_t len;

	(void)state;
	m.type = "overlay";
	m.source = "overlay";
	m.n_options = 4;
	m.options = opts;
	ro.config_path = "/etc/kata-containers/configuration.toml";
	any.type_url = "runtimeoptions.v1.Options";
	any.value.len = runtimeoptions__v1__options__pack(&ro, robuf);
	any.value.data = robuf;
	req.id = "c1";
	req.bundle = "/run/containerd/io.containerd.runtime.v2.task/default/c1";
	req.n_rootfs = 1;
	req.rootfs = mounts;
	req.terminal = true;
	req.stdin = "/tmp/fifo/c1-stdin";
	req.stdout = "/tmp/fifo/c1-stdout";
	req.options = &any;
	len = containerd__task__v2__create_task_request__pack(&req, buf);
	got = containerd__task__v2__create_task_request__unpack(NULL, len, buf);
	assert_non_null(got);
	assert_string_equal(got->id, "c1");
	assert_int_equal(got->n_rootfs, 1);
	assert_string_equal(got->rootfs[0]->options[3], "lowerdir=/l1:/l2");
	assert_true(got->terminal);
	assert_string_equal(got->stderr, "");
	assert_string_equal(got->options->type_url, "runtimeoptions.v1.Options");
	rgot = runtimeoptions__v1__options__unpack(NULL, got->options->value.len,
						   got->options->value.data);
	assert_non_null(rgot);
	assert_string_equal(rgot->config_path, "/etc/kata-containers/configuration.toml");
	runtimeoptions__v1__options__free_unpacked(rgot, NULL);
	containerd__task__v2__create_task_request__free_unpacked(got, NULL);
}

static void test_update_and_state(void **state)
{
	Containerd__Task__V2__UpdateTaskRequest up = CONTAINERD__TASK__V2__UPDATE_TASK_REQUEST__INIT;
	Containerd__Task__V2__UpdateTaskRequest__AnnotationsEntry e1 =
		CONTAINERD__TASK__V2__UPDATE_TASK_REQUEST__ANNOTATIONS_ENTRY__INIT;
	Containerd__Task__V2__UpdateTaskRequest__AnnotationsEntry *es[] = { &e1 };
	Containerd__Task__V2__UpdateTaskRequest *ugot;
	Containerd__Task__V2__StateResponse st = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
	Containerd__Task__V2__StateResponse *sgot;
	uint8_t buf[512];
	size_t len;

	(void)state;
	e1.key = "io.katacontainers.config.hypervisor.default_vcpus";
	e1.value = "2";
	up.id = "c1";
	up.n_annotations = 1;
	up.annotations = es;
	len = containerd__task__v2__update_task_request__pack(&up, buf);
	ugot = containerd__task__v2__update_task_request__unpack(NULL, len, buf);
	assert_non_null(ugot);
	assert_int_equal(ugot->n_annotations, 1);
	assert_string_equal(ugot->annotations[0]->value, "2");
	containerd__task__v2__update_task_request__free_unpacked(ugot, NULL);

	st.id = "c1";
	st.pid = 42;
	st.status = CONTAINERD__V1__TYPES__STATUS__RUNNING;
	st.exec_id = "e1";
	len = containerd__task__v2__state_response__pack(&st, buf);
	/* status is field 4 (varint 2), exec_id field 11. */
	assert_non_null(memmem(buf, len, "\x20\x02", 2));
	assert_non_null(memmem(buf, len,
			       "\x5a\x02"
			       "e1",
			       4));
	sgot = containerd__task__v2__state_response__unpack(NULL, len, buf);
	assert_non_null(sgot);
	assert_int_equal(sgot->status, CONTAINERD__V1__TYPES__STATUS__RUNNING);
	containerd__task__v2__state_response__free_unpacked(sgot, NULL);
}

/* An event as the shim forwards it: TaskExit in an Any in an Envelope. */
static void test_event_forward(void **state)
{
	Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	Containerd__Services__Events__Ttrpc__V1__Envelope env =
		CONTAINERD__SERVICES__EVENTS__TTRPC__V1__ENVELOPE__INIT;
	Containerd__Services__Events__Ttrpc__V1__ForwardRequest fwd =
		CONTAINERD__SERVICES__EVENTS__TTRPC__V1__FORWARD_REQUEST__INIT;
	Containerd__Services__Events__Ttrpc__V1__ForwardRequest *got;
	Containerd__Events__TaskExit *egot;
	uint8_t evbuf[256], buf[512];
	size_t len;

	(void)state;
	ts.seconds = 1700000000;
	ts.nanos = 5;
	ev.container_id = "c1";
	ev.id = "c1";
	ev.pid = 4242;
	ev.exit_status = 137;
	ev.exited_at = &ts;
	/* TaskExit{container_id=1, id=2, pid=3, exit_status=4, exited_at=5} */
	len = containerd__events__task_exit__pack(&ev, evbuf);
	assert_memory_equal(evbuf,
			    "\x0a\x02"
			    "c1"
			    "\x12\x02"
			    "c1"
			    "\x18\x92\x21"
			    "\x20\x89\x01",
			    13);
	any.type_url = "containerd.events.TaskExit";
	any.value.data = evbuf;
	any.value.len = len;
	env.timestamp = &ts;
	env.namespace_ = "default";
	env.topic = "/tasks/exit";
	env.event = &any;
	fwd.envelope = &env;
	len = containerd__services__events__ttrpc__v1__forward_request__pack(&fwd, buf);
	got = containerd__services__events__ttrpc__v1__forward_request__unpack(NULL, len, buf);
	assert_non_null(got);
	assert_string_equal(got->envelope->namespace_, "default");
	assert_string_equal(got->envelope->topic, "/tasks/exit");
	assert_string_equal(got->envelope->event->type_url, "containerd.events.TaskExit");
	egot = containerd__events__task_exit__unpack(NULL, got->envelope->event->value.len,
						     got->envelope->event->value.data);
	assert_non_null(egot);
	assert_int_equal(egot->pid, 4242);
	assert_int_equal(egot->exit_status, 137);
	assert_int_equal(egot->exited_at->seconds, 1700000000);
	containerd__events__task_exit__free_unpacked(egot, NULL);
	containerd__services__events__ttrpc__v1__forward_request__free_unpacked(got, NULL);

	/* The other events carry the container id first. */
	{
		Containerd__Events__TaskOOM oom = CONTAINERD__EVENTS__TASK_OOM__INIT;
		Containerd__Events__TaskExecStarted es = CONTAINERD__EVENTS__TASK_EXEC_STARTED__INIT;
		Containerd__Events__TaskCreate tc = CONTAINERD__EVENTS__TASK_CREATE__INIT;
		Containerd__Events__TaskIO io = CONTAINERD__EVENTS__TASK_IO__INIT;

		oom.container_id = "c1";
		assert_packs_to(&oom.base, "0a026331");
		es.container_id = "c1";
		es.exec_id = "e";
		es.pid = 1;
		assert_packs_to(&es.base, "0a0263311201651801");
		io.terminal = true;
		tc.container_id = "c";
		tc.io = &io;
		tc.pid = 2;
		assert_packs_to(&tc.base, "0a0163220220013002");
	}
}

static void test_agent_messages(void **state)
{
	Grpc__CreateContainerRequest req = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	Grpc__Storage s = GRPC__STORAGE__INIT;
	Grpc__Storage *ss[] = { &s };
	Grpc__CreateContainerRequest *got;
	const char spec[] = "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"]}}";
	Grpc__WaitProcessResponse w = GRPC__WAIT_PROCESS_RESPONSE__INIT;
	uint8_t buf[512];
	size_t len;

	(void)state;
	s.driver = "virtio-fs";
	s.source = "kataShared";
	s.fstype = "virtiofs";
	s.mount_point = "/run/kata-containers/shared/containers";
	req.container_id = "c1";
	req.exec_id = "c1";
	req.n_storages = 1;
	req.storages = ss;
	req.oci_spec_json.data = (uint8_t *)spec;
	req.oci_spec_json.len = sizeof(spec) - 1;
	len = grpc__create_container_request__pack(&req, buf);
	got = grpc__create_container_request__unpack(NULL, len, buf);
	assert_non_null(got);
	assert_int_equal(got->oci_spec_json.len, sizeof(spec) - 1);
	assert_memory_equal(got->oci_spec_json.data, spec, sizeof(spec) - 1);
	assert_string_equal(got->storages[0]->mount_point, "/run/kata-containers/shared/containers");
	grpc__create_container_request__free_unpacked(got, NULL);

	/* A negative exit status survives (int32 sign extension). */
	w.status = -1;
	assert_packs_to(&w.base, "08ffffffffffffffffff01");
}

/* Random bytes into the unpackers: NULL or a message, never a crash. */
static void test_garbage_protobuf(void **state)
{
	const ProtobufCMessageDescriptor *descs[] = {
		&containerd__task__v2__create_task_request__descriptor,
		&containerd__task__v2__state_response__descriptor,
		&containerd__task__v2__update_task_request__descriptor,
		&containerd__services__events__ttrpc__v1__forward_request__descriptor,
		&grpc__create_sandbox_request__descriptor,
		&grpc__stats_container_response__descriptor,
	};
	uint32_t seed = 12345;
	uint8_t buf[256];
	int ok = 0;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		size_t len = (seed >> 8) % sizeof(buf);

		for (size_t j = 0; j < len; j++) {
			seed = seed * 1103515245 + 12345;
			buf[j] = (uint8_t)(seed >> 16);
			/* Mostly plausible keys, to get past the first field. */
			if (j % 7 == 0 && (seed & 0x100))
				buf[j] = (uint8_t)((((seed >> 20) % 12) + 1) << 3 |
						   ((seed >> 24) % 3));
		}
		ProtobufCMessage *m = protobuf_c_message_unpack(descs[i % KC_ARRAY_SIZE(descs)],
								NULL, len, buf);

		if (m != NULL) {
			ok++;
			protobuf_c_message_free_unpacked(m, NULL);
		}
	}
	assert_true(ok > 0);
}

/* ---- the Task service over ttrpc, byte for byte with containerd ---- */

static void connect_handler(struct kc_ttrpc_call *call, const ProtobufCMessage *req, void *data)
{
	const Containerd__Task__V2__ConnectRequest *r = (const void *)req;
	Containerd__Task__V2__ConnectResponse resp = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;

	(void)data;
	assert_string_equal(r->id, "h1");
	resp.shim_pid = 7872;
	resp.task_pid = 7890;
	resp.version = "probe-0.1";
	kc_ttrpc_call_reply_msg(call, &resp.base);
}

static void shutdown_handler(struct kc_ttrpc_call *call, const ProtobufCMessage *req, void *data)
{
	(void)req;
	(void)data;
	kc_ttrpc_call_reply_msg(call, NULL);
}

static void count_reply(const struct kc_ttrpc_reply *reply, void *data)
{
	assert_int_not_equal(reply->code, KC_TTRPC_OK);
	(*(int *)data)++;
}

static void read_exactly(struct kc_loop *loop, int fd, uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = read(fd, buf + off, len - off);

		if (n > 0)
			off += (size_t)n;
		else
			kc_loop_run_once(loop, 5 * 1000000, NULL);
	}
}

static void test_task_over_ttrpc(void **state)
{
	struct kc_loop *loop;
	struct kc_ttrpc_server *srv;
	kc_ttrpc_msg_handler_fn handlers[17] = { 0 };
	int sv[2];
	size_t len;
	uint8_t *req = hex_decode(HEX_CONNECT_REQ, &len);
	uint8_t got[128];
	size_t want_len;
	uint8_t *want = hex_decode(HEX_CONNECT_REPLY, &want_len);
	uint8_t first[] = { 0, 0, 0, 0x25, 0, 0, 0, 1, 1, 0 };

	(void)state;
	handlers[15] = connect_handler; /* Connect */
	handlers[16] = shutdown_handler; /* Shutdown */
	assert_int_equal(kc_loop_new(&loop, NULL), 0);
	assert_int_equal(kc_ttrpc_server_new(loop, &srv, NULL), 0);
	assert_int_equal(kc_ttrpc_server_register_service(srv,
							  &containerd__task__v2__task__descriptor,
							  handlers, NULL, NULL),
			 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(kc_ttrpc_server_add_conn(srv, sv[0], NULL), 0);
	/* containerd's Connect on stream 3 gets the probe's exact answer. */
	assert_int_equal(write(sv[1], req, len), (ssize_t)len);
	read_exactly(loop, sv[1], got, want_len);
	assert_memory_equal(got, want, want_len);
	/* Shutdown answers with an empty body: 00000000 00000011 02 00. */
	{
		uint8_t sreq[64], sresp[10];
		const uint8_t swant[] = { 0, 0, 0, 0, 0, 0, 0, 0x11, 2, 0 };
		size_t n = 0;

		memcpy(sreq, "\x00\x00\x00\x23\x00\x00\x00\x11\x01\x00", 10);
		n = 10;
		memcpy(sreq + n,
		       "\x0a\x17"
		       "containerd.task.v2.Task"
		       "\x12\x08"
		       "Shutdown",
		       35);
		n += 35;
		assert_int_equal(write(sv[1], sreq, n), (ssize_t)n);
		read_exactly(loop, sv[1], sresp, sizeof(sresp));
		assert_memory_equal(sresp, swant, sizeof(swant));
	}
	kc_ttrpc_server_free(srv);
	close(sv[1]);

	/* Our client sends containerd's bytes: its second call is stream 3. */
	{
		struct kc_ttrpc_client *cli;
		Containerd__Task__V2__ConnectRequest creq = CONTAINERD__TASK__V2__CONNECT_REQUEST__INIT;
		Containerd__Task__V2__StateRequest sreq = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
		int replies = 0;

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
		assert_int_equal(kc_ttrpc_client_new(loop, sv[0], &cli, NULL), 0);
		sreq.id = "x";
		creq.id = "h1";
		assert_int_equal(kc_ttrpc_client_call_msg(cli, "containerd.task.v2.Task", "State",
							  &sreq.base, NULL, count_reply, &replies,
							  NULL, NULL),
				 0);
		assert_int_equal(kc_ttrpc_client_call_msg(cli, "containerd.task.v2.Task", "Connect",
							  &creq.base, NULL, count_reply, &replies,
							  NULL, NULL),
				 0);
		read_exactly(loop, sv[1], got, 10);
		assert_memory_equal(got, first, 10);
		read_exactly(loop, sv[1], got, 0x25);
		read_exactly(loop, sv[1], got, len);
		assert_memory_equal(got, req, len);
		/* Nobody answers: the peer's close fails both calls. */
		close(sv[1]);
		while (replies < 2)
			kc_loop_run_once(loop, 5 * 1000000, NULL);
		assert_false(kc_ttrpc_client_connected(cli));
		kc_ttrpc_client_free(cli);
	}
	kc_loop_free(loop);
	free(req);
	free(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_task_vectors),	 cmocka_unit_test(test_task_service_shape),
		cmocka_unit_test(test_create_roundtrip), cmocka_unit_test(test_update_and_state),
		cmocka_unit_test(test_event_forward),	 cmocka_unit_test(test_agent_messages),
		cmocka_unit_test(test_garbage_protobuf), cmocka_unit_test(test_task_over_ttrpc),
	};

	return cmocka_run_group_tests_name("ttrpc-proto", tests, NULL, NULL);
}
