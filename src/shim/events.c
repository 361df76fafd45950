/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Events to containerd, strictly in the order they were raised: over ttrpc
 * to $TTRPC_ADDRESS (Events/Forward, as Kata does), else through the
 * publish binary (`containerd --address A publish --topic T --namespace N`
 * with the Any on stdin).  One event is in flight at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "events_service.pb-c.h"
#include "google_protobuf.pb-c.h"
#include "host/child.h"
#include "lib/log.h"
#include "lib/util.h"
#include "shim.h"
#include "ttrpc/transport.h"

#define EVENTS_SERVICE "containerd.services.events.ttrpc.v1.Events"

struct shim_event {
	struct shim_event *next;
	char *topic;
	uint8_t *any; /* packed google.protobuf.Any */
	size_t any_len;
	struct timespec when;
	/* publish binary in flight */
	struct kc_child child;
	struct kc_loop_watch *watch;
};

static void pump(struct shim *s);

static void event_free(struct shim_event *e)
{
	free(e->topic);
	free(e->any);
	free(e);
}

static void done_head(struct shim *s)
{
	struct shim_event *e = s->ev_head;

	s->ev_head = e->next;
	if (!s->ev_head)
		s->ev_tail = NULL;
	event_free(e);
	s->ev_busy = false;
	pump(s);
}

static void on_binary_exit(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	struct shim *s = data;
	struct shim_event *e = s->ev_head;
	int st;

	(void)fd;
	(void)events;
	kc_loop_watch_remove(w);
	kc_child_wait(&e->child, 0, NULL);
	st = e->child.status;
	kc_child_stop(&e->child, false, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		kc_warn("publishing %s with %s failed (status %d)", e->topic, s->publish_binary, st);
	done_head(s);
}

static void publish_binary(struct shim *s, struct shim_event *e)
{
	cleanup_error kc_error_t err = NULL;
	char *argv[] = { s->publish_binary, "--address",   s->address, "publish", "--topic",
			 e->topic,	    "--namespace", s->ns,      NULL };
	int p[2], stdio[3] = { -1, KC_CHILD_NULL, KC_CHILD_NULL };
	struct kc_child_opts o = { .argv = argv, .stdio = stdio };

	if (!s->publish_binary || pipe2(p, O_CLOEXEC) < 0)
		goto fail;
	stdio[0] = p[0];
	if (kc_child_start(&o, &e->child, &err) < 0) {
		close(p[0]);
		close(p[1]);
		kc_warn("event %s dropped: %s", e->topic, err->msg);
		done_head(s);
		return;
	}
	close(p[0]);
	/* An event is far smaller than a pipe's buffer. */
	if (write(p[1], e->any, e->any_len) < 0)
		kc_warn("writing event to %s: %s", s->publish_binary, strerror(errno));
	close(p[1]);
	if (kc_loop_watch_fd(s->loop, e->child.pidfd, EPOLLIN, on_binary_exit, s, &e->watch, &err) <
	    0) {
		kc_child_wait(&e->child, 0, NULL);
		kc_child_stop(&e->child, false, 0);
		done_head(s);
	}
	return;
fail:
	kc_warn("event %s dropped: no way to publish it", e->topic);
	done_head(s);
}

static void on_forwarded(const struct kc_ttrpc_reply *reply, void *data)
{
	struct shim *s = data;
	cleanup_error kc_error_t err = NULL;

	if (kc_ttrpc_reply_check(reply, EVENTS_SERVICE, "Forward", &err) < 0) {
		kc_warn("forwarding %s: %s; using the publish binary", s->ev_head->topic, err->msg);
		if (s->ev_client)
			kc_ttrpc_client_free(s->ev_client);
		s->ev_client = NULL;
		publish_binary(s, s->ev_head);
		return;
	}
	done_head(s);
}

static void pump(struct shim *s)
{
	struct shim_event *e = s->ev_head;
	cleanup_error kc_error_t err = NULL;
	const char *addr = getenv("TTRPC_ADDRESS");
	Containerd__Services__Events__Ttrpc__V1__ForwardRequest fr =
		CONTAINERD__SERVICES__EVENTS__TTRPC__V1__FORWARD_REQUEST__INIT;
	Containerd__Services__Events__Ttrpc__V1__Envelope env =
		CONTAINERD__SERVICES__EVENTS__TTRPC__V1__ENVELOPE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Google__Protobuf__Any *any;
	struct kc_ttrpc_call_opts opts = { .timeout_ns = 5000000000ull };
	int ret;

	if (!e || s->ev_busy)
		return;
	s->ev_busy = true;
	if (!s->ev_client && addr && addr[0] && !s->ev_use_binary) {
		int fd = kc_ttrpc_dial(addr, 1000000000ull, &err);

		if (fd < 0 || kc_ttrpc_client_new(s->loop, fd, &s->ev_client, &err) < 0) {
			kc_warn("events: %s; using the publish binary", err->msg);
			kc_error_free(&err);
			s->ev_client = NULL;
		}
	}
	if (!s->ev_client) {
		publish_binary(s, e);
		return;
	}
	any = google__protobuf__any__unpack(NULL, e->any_len, e->any);
	ts.seconds = e->when.tv_sec;
	ts.nanos = (int32_t)e->when.tv_nsec;
	env.timestamp = &ts;
	env.namespace_ = s->ns;
	env.topic = e->topic;
	env.event = any;
	fr.envelope = &env;
	ret = kc_ttrpc_client_call_msg(s->ev_client, EVENTS_SERVICE, "Forward", &fr.base, &opts,
				       on_forwarded, s, NULL, &err);
	google__protobuf__any__free_unpacked(any, NULL);
	if (ret < 0) {
		kc_ttrpc_client_free(s->ev_client);
		s->ev_client = NULL;
		publish_binary(s, e);
	}
}

void shim_publish(struct shim *s, const char *topic, const ProtobufCMessage *msg)
{
	struct shim_event *e = kc_xzalloc(sizeof(*e));
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	cleanup_free uint8_t *value = kc_xmalloc(protobuf_c_message_get_packed_size(msg) + 1);

	any.type_url = (char *)msg->descriptor->name; /* bare: containerd.events.TaskExit */
	any.value.data = value;
	any.value.len = protobuf_c_message_pack(msg, value);
	e->any_len = protobuf_c_message_get_packed_size(&any.base);
	e->any = kc_xmalloc(e->any_len + 1);
	protobuf_c_message_pack(&any.base, e->any);
	e->topic = kc_xstrdup(topic);
	e->child = (struct kc_child)KC_CHILD_INIT;
	clock_gettime(CLOCK_REALTIME, &e->when);
	kc_debug("event %s", topic);
	if (s->ev_tail)
		s->ev_tail->next = e;
	else
		s->ev_head = e;
	s->ev_tail = e;
	pump(s);
}

void shim_events_free(struct shim *s)
{
	while (s->ev_head) {
		struct shim_event *e = s->ev_head;

		s->ev_head = e->next;
		if (e->watch) {
			kc_loop_watch_remove(e->watch);
			kc_child_wait(&e->child, 0, NULL);
			kc_child_stop(&e->child, false, 0);
		}
		event_free(e);
	}
	s->ev_tail = NULL;
	if (s->ev_client)
		kc_ttrpc_client_free(s->ev_client);
	s->ev_client = NULL;
}
