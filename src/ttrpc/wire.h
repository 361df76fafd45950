/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_TTRPC_WIRE_H
#define KC_TTRPC_WIRE_H

/*
 * The protobuf envelope of ttrpc bodies, encoded and decoded by hand:
 *
 *   Request  { string service = 1; string method = 2; bytes payload = 3;
 *              int64 timeout_nano = 4; repeated KeyValue metadata = 5; }
 *   KeyValue { string key = 1; string value = 2; }
 *   Response { google.rpc.Status status = 1; bytes payload = 2; }
 *   Status   { int32 code = 1; string message = 2; repeated Any details = 3; }
 *
 * Decoding copies nothing: the views point into the body.  Encoding writes
 * the fields in Go's order with proto3's rules (empty fields left out), so
 * the bytes equal those containerd sends.  The payload is left for the
 * caller to write in place (a protobuf-c message packs straight into the
 * output buffer).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ttrpc.h"

struct kc_ttrpc_bytes {
	const uint8_t *data;
	size_t len;
};

struct kc_ttrpc_request_view {
	struct kc_ttrpc_bytes service, method, payload;
	int64_t timeout_nano;
	size_t n_metadata;
	/* The whole body, to walk the metadata again. */
	struct kc_ttrpc_bytes body;
};

struct kc_ttrpc_response_view {
	int32_t code;
	struct kc_ttrpc_bytes message, payload;
};

/* Returns 0, or -1 if the body is not a well-formed message of its kind
 * (unknown fields are skipped, as protobuf requires). */
int kc_ttrpc_request_decode(const uint8_t *p, size_t len, struct kc_ttrpc_request_view *out);
int kc_ttrpc_response_decode(const uint8_t *p, size_t len, struct kc_ttrpc_response_view *out);

/* Walks the metadata of a decoded request: *cursor starts at 0; returns
 * false at the end. */
bool kc_ttrpc_request_metadata_next(const struct kc_ttrpc_request_view *req, size_t *cursor,
				    struct kc_ttrpc_bytes *key, struct kc_ttrpc_bytes *value);

/* Request: the encoding is head, payload bytes, tail. */
size_t kc_ttrpc_request_head_size(size_t service_len, size_t method_len, size_t payload_len);
uint8_t *kc_ttrpc_request_head_put(uint8_t *p, const char *service, size_t service_len,
				   const char *method, size_t method_len, size_t payload_len);
size_t kc_ttrpc_request_tail_size(int64_t timeout_nano, const struct kc_ttrpc_kv *md, size_t n_md);
uint8_t *kc_ttrpc_request_tail_put(uint8_t *p, int64_t timeout_nano, const struct kc_ttrpc_kv *md,
				   size_t n_md);

/* Response: the encoding is head, payload bytes.  A status with code 0 is
 * left out; a failed call sends no payload. */
size_t kc_ttrpc_response_head_size(int32_t code, size_t message_len, size_t payload_len);
uint8_t *kc_ttrpc_response_head_put(uint8_t *p, int32_t code, const char *message,
				    size_t message_len, size_t payload_len);

#endif
