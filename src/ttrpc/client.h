/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_TTRPC_CLIENT_H
#define KC_TTRPC_CLIENT_H

/*
 * The ttrpc client: any number of calls in flight over one connection, on
 * the caller's event loop.
 *
 * A call's callback runs exactly once, from the loop: with the answer, with
 * DEADLINE_EXCEEDED when the per-call timeout passes first (the timeout
 * also travels to the server as timeout_nano), with CANCELLED after
 * kc_ttrpc_client_cancel(), or with UNAVAILABLE when the connection is lost
 * (every pending call fails at once).  A call that cannot even be sent
 * (connection already lost, request too large) fails synchronously with a
 * negative return and no callback.
 *
 * The *_sync variants run the loop until their answer: for tools, tests and
 * start-up code, not from inside a loop callback.
 */

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"
#include "loop.h"
#include "ttrpc.h"

struct kc_ttrpc_client;

struct kc_ttrpc_call_opts {
	uint64_t timeout_ns; /* 0: no deadline */
	const struct kc_ttrpc_kv *metadata;
	size_t n_metadata;
};

/* The answer; the pointers are valid during the callback only. */
struct kc_ttrpc_reply {
	int code; /* KC_TTRPC_OK or the failure */
	const char *message; /* the status message (not NUL-terminated) */
	size_t message_len;
	const uint8_t *payload;
	size_t len;
};

typedef void (*kc_ttrpc_reply_fn)(const struct kc_ttrpc_reply *reply, void *data);
typedef void (*kc_ttrpc_client_closed_fn)(struct kc_ttrpc_client *client, void *data);

/* Takes ownership of fd (a connected stream from kc_ttrpc_dial()). */
int kc_ttrpc_client_new(struct kc_loop *loop, int fd, struct kc_ttrpc_client **out, kc_error_t *err);
/* Fails the pending calls with CANCELLED, closes and frees.  Safe from a
 * reply callback of this client. */
void kc_ttrpc_client_free(struct kc_ttrpc_client *c);
/* Called once when the connection is lost (after the pending calls have
 * failed), not when the client is freed. */
void kc_ttrpc_client_on_closed(struct kc_ttrpc_client *c, kc_ttrpc_client_closed_fn fn, void *data);
bool kc_ttrpc_client_connected(const struct kc_ttrpc_client *c);
size_t kc_ttrpc_client_pending(const struct kc_ttrpc_client *c);

/* opts may be NULL.  *stream_id (if not NULL) names the call for cancel. */
int kc_ttrpc_client_call(struct kc_ttrpc_client *c, const char *service, const char *method,
			 const void *req, size_t len, const struct kc_ttrpc_call_opts *opts,
			 kc_ttrpc_reply_fn fn, void *data, uint32_t *stream_id, kc_error_t *err);
/* The same with a protobuf-c request, packed straight into the output. */
int kc_ttrpc_client_call_msg(struct kc_ttrpc_client *c, const char *service, const char *method,
			     const ProtobufCMessage *req, const struct kc_ttrpc_call_opts *opts,
			     kc_ttrpc_reply_fn fn, void *data, uint32_t *stream_id, kc_error_t *err);
/* The callback runs now with CANCELLED; an answer arriving later is
 * dropped.  Unknown ids are ignored. */
void kc_ttrpc_client_cancel(struct kc_ttrpc_client *c, uint32_t stream_id);

/*
 * Turns a reply into the error convention: 0 on OK, otherwise negative
 * (-errno of the code, see kc_ttrpc_code_to_errno()) with *err naming the
 * method and carrying the status message.
 */
int kc_ttrpc_reply_check(const struct kc_ttrpc_reply *reply, const char *service,
			 const char *method, kc_error_t *err);
/* Unpacks an OK reply's payload as desc; INVALID data is -EBADMSG. */
int kc_ttrpc_reply_unpack(const struct kc_ttrpc_reply *reply, const ProtobufCMessageDescriptor *desc,
			  ProtobufCMessage **out, kc_error_t *err);

/* Blocking calls.  *resp is malloc'd (NULL when empty). */
int kc_ttrpc_client_call_sync(struct kc_ttrpc_client *c, const char *service, const char *method,
			      const void *req, size_t len, const struct kc_ttrpc_call_opts *opts,
			      uint8_t **resp, size_t *resp_len, kc_error_t *err);
/* *resp: free with protobuf_c_message_free_unpacked(); resp_desc NULL
 * ignores the payload (Empty answers). */
int kc_ttrpc_client_call_msg_sync(struct kc_ttrpc_client *c, const char *service,
				  const char *method, const ProtobufCMessage *req,
				  const ProtobufCMessageDescriptor *resp_desc,
				  ProtobufCMessage **resp, const struct kc_ttrpc_call_opts *opts,
				  kc_error_t *err);

#endif
