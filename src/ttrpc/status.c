/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>

#include "lib/util.h"
#include "ttrpc.h"

static const char *const code_names[] = {
	[KC_TTRPC_OK] = "OK",
	[KC_TTRPC_CANCELLED] = "CANCELLED",
	[KC_TTRPC_UNKNOWN] = "UNKNOWN",
	[KC_TTRPC_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
	[KC_TTRPC_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
	[KC_TTRPC_NOT_FOUND] = "NOT_FOUND",
	[KC_TTRPC_ALREADY_EXISTS] = "ALREADY_EXISTS",
	[KC_TTRPC_PERMISSION_DENIED] = "PERMISSION_DENIED",
	[KC_TTRPC_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
	[KC_TTRPC_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
	[KC_TTRPC_ABORTED] = "ABORTED",
	[KC_TTRPC_OUT_OF_RANGE] = "OUT_OF_RANGE",
	[KC_TTRPC_UNIMPLEMENTED] = "UNIMPLEMENTED",
	[KC_TTRPC_INTERNAL] = "INTERNAL",
	[KC_TTRPC_UNAVAILABLE] = "UNAVAILABLE",
	[KC_TTRPC_DATA_LOSS] = "DATA_LOSS",
	[KC_TTRPC_UNAUTHENTICATED] = "UNAUTHENTICATED",
};

/* One errno per code, distinct, so that the mapping goes both ways. */
static const int code_errno[] = {
	[KC_TTRPC_OK] = 0,
	[KC_TTRPC_CANCELLED] = ECANCELED,
	[KC_TTRPC_UNKNOWN] = EIO,
	[KC_TTRPC_INVALID_ARGUMENT] = EINVAL,
	[KC_TTRPC_DEADLINE_EXCEEDED] = ETIMEDOUT,
	[KC_TTRPC_NOT_FOUND] = ENOENT,
	[KC_TTRPC_ALREADY_EXISTS] = EEXIST,
	[KC_TTRPC_PERMISSION_DENIED] = EPERM,
	[KC_TTRPC_RESOURCE_EXHAUSTED] = ENOSPC,
	[KC_TTRPC_FAILED_PRECONDITION] = EBUSY,
	[KC_TTRPC_ABORTED] = ECONNABORTED,
	[KC_TTRPC_OUT_OF_RANGE] = ERANGE,
	[KC_TTRPC_UNIMPLEMENTED] = ENOSYS,
	[KC_TTRPC_INTERNAL] = EREMOTEIO,
	[KC_TTRPC_UNAVAILABLE] = ENOTCONN,
	[KC_TTRPC_DATA_LOSS] = EBADMSG,
	[KC_TTRPC_UNAUTHENTICATED] = EACCES,
};

const char *kc_ttrpc_code_name(int code)
{
	if (code < 0 || (size_t)code >= KC_ARRAY_SIZE(code_names))
		return "UNKNOWN";
	return code_names[code];
}

int kc_ttrpc_code_to_errno(int code)
{
	if (code < 0 || (size_t)code >= KC_ARRAY_SIZE(code_errno))
		return EIO;
	return code_errno[code];
}

int kc_ttrpc_code_from_errno(int errnum)
{
	if (errnum < 0)
		errnum = -errnum;
	if (errnum == 0)
		return KC_TTRPC_INTERNAL;
	for (size_t i = 1; i < KC_ARRAY_SIZE(code_errno); i++)
		if (code_errno[i] == errnum)
			return (int)i;
	/* A few neighbours of the canonical values. */
	switch (errnum) {
	case ESRCH:
	case ENODEV:
	case ENXIO:
		return KC_TTRPC_NOT_FOUND;
	case EAGAIN:
	case ECONNREFUSED:
	case ECONNRESET:
	case EPIPE:
	case EHOSTUNREACH:
		return KC_TTRPC_UNAVAILABLE;
	case ENOMEM:
	case EMSGSIZE:
	case E2BIG:
	case EMFILE:
	case ENFILE:
		return KC_TTRPC_RESOURCE_EXHAUSTED;
	case EOPNOTSUPP:
		return KC_TTRPC_UNIMPLEMENTED;
	case ENOTEMPTY:
		return KC_TTRPC_FAILED_PRECONDITION;
	default:
		return KC_TTRPC_UNKNOWN;
	}
}
