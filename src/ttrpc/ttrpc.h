/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_TTRPC_TTRPC_H
#define KC_TTRPC_TTRPC_H

/*
 * What the ttrpc client and server share: limits, status codes, metadata.
 *
 * ttrpc (containerd/ttrpc) is gRPC's unary calls without HTTP/2: each call
 * is one Request frame and one Response frame on the same odd stream id,
 * and an error travels as a google.rpc.Status whose codes are gRPC's.
 */

#include <stddef.h>
#include <stdint.h>

/* The largest message body either side accepts or sends (ttrpc's
 * messageLengthMax).  An oversized frame is skipped and answered with
 * RESOURCE_EXHAUSTED; the connection stays usable. */
#define KC_TTRPC_MESSAGE_MAX (4u << 20)

/* google.rpc.Code. */
enum kc_ttrpc_code {
	KC_TTRPC_OK = 0,
	KC_TTRPC_CANCELLED = 1,
	KC_TTRPC_UNKNOWN = 2,
	KC_TTRPC_INVALID_ARGUMENT = 3,
	KC_TTRPC_DEADLINE_EXCEEDED = 4,
	KC_TTRPC_NOT_FOUND = 5,
	KC_TTRPC_ALREADY_EXISTS = 6,
	KC_TTRPC_PERMISSION_DENIED = 7,
	KC_TTRPC_RESOURCE_EXHAUSTED = 8,
	KC_TTRPC_FAILED_PRECONDITION = 9,
	KC_TTRPC_ABORTED = 10,
	KC_TTRPC_OUT_OF_RANGE = 11,
	KC_TTRPC_UNIMPLEMENTED = 12,
	KC_TTRPC_INTERNAL = 13,
	KC_TTRPC_UNAVAILABLE = 14,
	KC_TTRPC_DATA_LOSS = 15,
	KC_TTRPC_UNAUTHENTICATED = 16,
};

/* "NOT_FOUND"; "CODE(<n>)" is not returned: unknown codes give "UNKNOWN". */
const char *kc_ttrpc_code_name(int code);

/*
 * Codes and errno values, so that a status crosses kc_error_t (whose
 * `status` is an errno) and back: NOT_FOUND <-> ENOENT, ALREADY_EXISTS <->
 * EEXIST, INVALID_ARGUMENT <-> EINVAL, DEADLINE_EXCEEDED <-> ETIMEDOUT,
 * CANCELLED <-> ECANCELED, UNIMPLEMENTED <-> ENOSYS, UNAVAILABLE <->
 * ENOTCONN, ...  kc_ttrpc_code_to_errno(OK) is 0; an errno without a
 * better match maps to UNKNOWN (and 0 to INTERNAL: a failure without a
 * cause).
 */
int kc_ttrpc_code_to_errno(int code);
int kc_ttrpc_code_from_errno(int errnum);

/* One metadata pair (ttrpc KeyValue): NUL-terminated strings. */
struct kc_ttrpc_kv {
	const char *key;
	const char *value;
};

#endif
