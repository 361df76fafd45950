/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_TTRPC_HTTPD_H
#define KC_TTRPC_HTTPD_H

/*
 * A minimal HTTP/1.1 server on the event loop (loop.h), no thread: the
 * shim's management socket (docs/shim.md).  It lives beside the loop, the
 * lowest layer that has one, so that any program above (the shim,
 * kata-monitor) may serve with it; a static library links only what is
 * used, so the agent does not carry it.
 *
 * One request per connection, `Connection: close`.  The request's head
 * (request line and headers, up to `\r\n\r\n`) is read into a bounded
 * buffer; only the request line is parsed, strictly:
 *
 *   METHOD SP /PATH SP HTTP/1.x CRLF
 *
 * METHOD a token (RFC 9110) of at most 16 characters, PATH printable
 * ASCII starting with '/' (its query, from '?', is ignored when routing;
 * no percent-decoding of the path; a handler reads the query's arguments
 * with kc_httpd_req_arg()), lines ending in CRLF only.  Headers are not
 * parsed; a request body and anything pipelined after the head are
 * ignored.  The answers the server gives itself:
 *
 *   400  a malformed request line, a NUL, a CR or LF that is not CRLF
 *   403  a peer (SO_PEERCRED at accept) that is neither root nor our euid,
 *        unless limits.any_peer (a TCP listener: there is no peer uid)
 *   404  a path no route has
 *   405  a method other than GET on a route's path (`Allow: GET`)
 *   414  a path over KC_HTTPD_PATH_MAX bytes
 *   431  no end of the head within max_head bytes
 *   505  an HTTP major version other than 1
 *
 * A connection that sends nothing, or not a whole head, by its deadline is
 * closed without an answer; one whose peer hangs up is closed.  At
 * max_conns connections the server stops accepting (more wait in the
 * listen backlog) until one ends.
 *
 * Deadlines, each limits.deadline_ns: from accept to the end of the head
 * (not renewed by progress: a client that trickles bytes is cut too),
 * from the dispatch to the handler's answer, and between two writes of
 * the answer.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"
#include "loop.h"

#define KC_HTTPD_PATH_MAX 1024
#define KC_HTTPD_METHOD_MAX 16

struct kc_httpd;
/* A request being handled: valid from its handler's call until
 * kc_httpd_reply() or its cancel function. */
struct kc_httpd_req;

/* A GET of route->path.  The handler answers with kc_httpd_reply(), then
 * or later; if it answers later it should set a cancel function first. */
typedef void (*kc_httpd_handler_fn)(struct kc_httpd_req *req, void *data);

struct kc_httpd_route {
	const char *path; /* matched exactly, without the query */
	kc_httpd_handler_fn fn;
	void *data;
};

struct kc_httpd_limits {
	unsigned max_conns; /* 0: 16 */
	uint64_t deadline_ns; /* 0: 10 s */
	size_t max_head; /* 0: 8 KiB */
	/* Serve every peer: no SO_PEERCRED check at accept.  For a TCP
	 * listener (kata-monitor's); a unix socket's server keeps the
	 * check (false, the default). */
	bool any_peer;
};

/*
 * Serves listen_fd (a listening SOCK_STREAM socket, nonblocking; still the
 * caller's to close after kc_httpd_free()) on loop.  routes (n of them)
 * must outlive the server.
 */
int kc_httpd_new(struct kc_loop *loop, int listen_fd, const struct kc_httpd_route *routes, size_t n,
		 const struct kc_httpd_limits *limits, struct kc_httpd **out, kc_error_t *err);
/* Closes every connection (the cancel functions of the requests still
 * unanswered run) and stops serving.  Not from a handler. */
void kc_httpd_free(struct kc_httpd *h);

/* The request's path, without the query. */
const char *kc_httpd_req_path(const struct kc_httpd_req *req);
/* The request's query, after the '?' (raw, not decoded); NULL for none. */
const char *kc_httpd_req_query(const struct kc_httpd_req *req);
/*
 * The query argument name (its first occurrence in NAME=VALUE&...), its
 * value percent-decoded ('+' a space) into *value (malloc'd).  Returns 1
 * (found), 0 (no such argument, or no query; *value NULL) or -EINVAL (a
 * bad %XX escape, or one that decodes to NUL).  The query is bounded by
 * KC_HTTPD_PATH_MAX, so is the value.
 */
int kc_httpd_req_arg(const struct kc_httpd_req *req, const char *name, char **value);

/*
 * fn(data) runs if the request ends before it is answered: its deadline,
 * its peer gone, the server freed.  req is gone then.
 */
void kc_httpd_req_on_cancel(struct kc_httpd_req *req, kc_loop_fn fn, void *data);

/*
 * Answers req: status (200, 404, 500...), content type, body (taken: freed
 * by the server, NULL for none), with Content-Length and
 * `Connection: close`; the connection closes once it is written.  req is
 * gone on return (its cancel function will not run).
 */
void kc_httpd_reply(struct kc_httpd_req *req, unsigned status, const char *type, char *body,
		    size_t len);
/* The same with a copy of a text (text/plain; charset=utf-8). */
void kc_httpd_reply_text(struct kc_httpd_req *req, unsigned status, const char *text);

#endif
