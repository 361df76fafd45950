/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_LIB_HTTP_H
#define KC_LIB_HTTP_H

/*
 * The smallest HTTP/1.1 client that reads a shim's management socket
 * (docs/shim.md): one GET over a unix socket, `Connection: close`, with a
 * deadline on the whole exchange (connect, request, answer) and a bound on
 * what is read, so a server that accepts and never answers, or answers
 * without end, costs at most the timeout and the bound.  The answer's body
 * comes by Content-Length, chunked transfer coding or the end of the
 * stream; anything else malformed (status line, headers over 16 KiB, a
 * length that does not match) is EPROTO, naming what was wrong.
 */

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct kc_http_response {
	int status; /* 200, 404... */
	char *content_type; /* NULL: none sent */
	char *body; /* NUL-terminated (the NUL not counted in len) */
	size_t len;
};

/*
 * GETs `path` (starting with '/') from the HTTP server on the unix socket
 * `socket_path`.  timeout_ms bounds the whole exchange (ETIMEDOUT);
 * max_body bounds the body (EFBIG).  Any complete answer is success, its
 * status in resp->status: the caller decides what a 404 means.
 */
int kc_http_get_unix(const char *socket_path, const char *path, unsigned timeout_ms,
		     size_t max_body, struct kc_http_response *resp, kc_error_t *err);

void kc_http_response_clear(struct kc_http_response *resp);

#endif
