/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_TTRPC_SERVER_H
#define KC_TTRPC_SERVER_H

/*
 * The ttrpc server: many connections, many calls in flight on each, all on
 * one event loop.
 *
 * A method table maps "service/method" to a handler.  A handler either
 * answers at once or keeps the call and answers later from any loop
 * callback (long polls: WaitProcess, ReadStdout, GetOOMEvent); meanwhile
 * the connection goes on serving other requests.  Every call is finished
 * exactly once, with kc_ttrpc_call_reply*() or kc_ttrpc_call_fail(), also
 * after it was cancelled.
 *
 * A call is cancelled when its connection goes away, when the caller's
 * deadline (timeout_nano) passes (the server then answers
 * DEADLINE_EXCEEDED itself), or when the caller reuses its stream id.  The
 * cancel callback, if set, tells the handler to stop waiting; the handler's
 * later answer is dropped.
 *
 * Bad input never crashes the server nor makes it keep unbounded memory:
 * an oversized frame gets RESOURCE_EXHAUSTED, a body that is not a Request
 * or an even stream id INVALID_ARGUMENT, an unknown method UNIMPLEMENTED,
 * too many calls in flight on one connection RESOURCE_EXHAUSTED; a peer
 * that stops reading its answers stops being read.
 */

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"
#include "loop.h"
#include "ttrpc.h"

struct kc_ttrpc_server;
struct kc_ttrpc_call;

/* payload: the request's bytes, valid until the handler returns. */
typedef void (*kc_ttrpc_handler_fn)(struct kc_ttrpc_call *call, const uint8_t *payload, size_t len,
				    void *data);
/* req: the unpacked request, freed when the handler returns. */
typedef void (*kc_ttrpc_msg_handler_fn)(struct kc_ttrpc_call *call, const ProtobufCMessage *req,
					void *data);
typedef void (*kc_ttrpc_cancel_fn)(struct kc_ttrpc_call *call, void *data);

int kc_ttrpc_server_new(struct kc_loop *loop, struct kc_ttrpc_server **out, kc_error_t *err);
/* Closes every listener and connection (cancelling their calls) and frees
 * the server.  Calls still held by handlers stay valid until finished. */
void kc_ttrpc_server_free(struct kc_ttrpc_server *srv);

/* The most calls in flight on one connection (default 4096). */
void kc_ttrpc_server_set_max_calls(struct kc_ttrpc_server *srv, size_t max);

/* Registers one method; service and method are copied. */
int kc_ttrpc_server_register(struct kc_ttrpc_server *srv, const char *service, const char *method,
			     kc_ttrpc_handler_fn fn, void *data, kc_error_t *err);
/*
 * Registers the methods of a protoc-c service (e.g.
 * containerd__task__v2__task__descriptor): handlers[i] serves
 * desc->methods[i], NULL leaves it UNIMPLEMENTED.  The request is unpacked
 * with the method's input type (garbage gets INVALID_ARGUMENT).
 */
int kc_ttrpc_server_register_service(struct kc_ttrpc_server *srv,
				     const ProtobufCServiceDescriptor *desc,
				     const kc_ttrpc_msg_handler_fn *handlers, void *data,
				     kc_error_t *err);

enum {
	/* Unix sockets: accept only peers with our euid and egid, or root
	 * (ttrpc's UnixSocketRequireSameUser, as containerd's shims use). */
	KC_TTRPC_SAME_USER = 1 << 0,
};

/* Accepts connections on a listening socket; takes ownership of fd. */
int kc_ttrpc_server_add_listener(struct kc_ttrpc_server *srv, int fd, unsigned flags,
				 kc_error_t *err);
/* Serves one connected stream (socket, pipe pair not supported); takes
 * ownership of fd. */
int kc_ttrpc_server_add_conn(struct kc_ttrpc_server *srv, int fd, kc_error_t *err);
/*
 * Serves a reopenable byte stream that the peer may close and reopen at any
 * time, such as a virtio-serial port: open_fn(data, err) returns a new
 * nonblocking fd or negative.  The server waits for the peer (writability),
 * serves one connection on it, and on hang-up drops the connection's state
 * (partial frames, calls in flight) and reopens.  close_fn, if set, runs
 * when the server is freed.
 */
typedef int (*kc_ttrpc_open_fn)(void *data, kc_error_t *err);
int kc_ttrpc_server_add_reopenable(struct kc_ttrpc_server *srv, kc_ttrpc_open_fn open_fn,
				   kc_loop_fn close_fn, void *data, kc_error_t *err);
/*
 * Listens on a URI (see transport.h): unix and vsock listen; serial opens
 * the guest's virtio port (by name, e.g. "serial://agent.channel.0", or by
 * path) and serves it with kc_ttrpc_server_add_reopenable().
 */
int kc_ttrpc_server_listen(struct kc_ttrpc_server *srv, const char *uri, unsigned flags,
			   kc_error_t *err);

/*
 * Stops accepting and reading new requests; once every connection has
 * answered its calls and written its output, closes it; when none is left
 * runs done(data).  Long polls keep a connection open: bound the wait with
 * a timer and free the server.
 */
void kc_ttrpc_server_shutdown(struct kc_ttrpc_server *srv, kc_loop_fn done, void *data);
size_t kc_ttrpc_server_conn_count(const struct kc_ttrpc_server *srv);

/* ---- calls ---- */

void kc_ttrpc_call_reply(struct kc_ttrpc_call *call, const void *payload, size_t len);
/* msg NULL answers an empty message (google.protobuf.Empty). */
void kc_ttrpc_call_reply_msg(struct kc_ttrpc_call *call, const ProtobufCMessage *msg);
void kc_ttrpc_call_fail(struct kc_ttrpc_call *call, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Fails with the error's message and the code of its errno; frees *err. */
void kc_ttrpc_call_fail_error(struct kc_ttrpc_call *call, kc_error_t *err);

void kc_ttrpc_call_set_cancel(struct kc_ttrpc_call *call, kc_ttrpc_cancel_fn fn, void *data);
/* False once the call was cancelled (its answer will be dropped). */
bool kc_ttrpc_call_active(const struct kc_ttrpc_call *call);
/* The caller's deadline (CLOCK_MONOTONIC ns), 0 for none. */
uint64_t kc_ttrpc_call_deadline(const struct kc_ttrpc_call *call);
uint32_t kc_ttrpc_call_stream_id(const struct kc_ttrpc_call *call);
/* The registered names, valid while the server lives. */
const char *kc_ttrpc_call_service(const struct kc_ttrpc_call *call);
const char *kc_ttrpc_call_method(const struct kc_ttrpc_call *call);
/* The first metadata value for key (not NUL-terminated), only while the
 * handler runs. */
bool kc_ttrpc_call_metadata(const struct kc_ttrpc_call *call, const char *key, const char **value,
			    size_t *len);

#endif
