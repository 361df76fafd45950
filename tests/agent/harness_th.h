/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_TESTS_AGENT_HARNESS_TH_H
#define KC_TESTS_AGENT_HARNESS_TH_H

/*
 * For the agent test groups that drive one kata-agent --no-init: start
 * it (in a network namespace if asked) on a unix socket in a temporary
 * directory, call it, read its fds, stop it.  cmocka asserts on failure.
 */

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

struct th_answer {
	int code;
	char *message;
	uint8_t *payload;
	size_t len;
};

struct th_agent {
	char dir[64]; /* the temporary directory, removed by th_stop() */
	char *sock, *uri;
	pid_t pid;
	int base_fds;
};

/* Starts the agent with extra arguments (NULL-terminated, may be NULL);
 * netns, if not NULL, is entered with `ip netns exec`. */
void th_start(struct th_agent *a, const char *netns, const char *const *extra);
/* SIGTERM, waits for exit status 0 (no leak under ASan), removes dir. */
void th_stop(struct th_agent *a);

/* One call to the end; returns the status code and keeps the answer. */
int th_call(struct th_agent *a, const char *method, const ProtobufCMessage *req,
	    struct th_answer *ans);
/* Same, the answer unpacked as desc (asserts OK); free with
 * protobuf_c_message_free_unpacked(). */
ProtobufCMessage *th_call_ok(struct th_agent *a, const char *method, const ProtobufCMessage *req,
			     const ProtobufCMessageDescriptor *desc);
/* Asserts that the call fails with code and a message containing what. */
void th_call_fails(struct th_agent *a, const char *method, const ProtobufCMessage *req, int code,
		   const char *what);
void th_answer_free(struct th_answer *ans);

int th_count_fds(pid_t pid);
/* Runs a shell command; returns its stdout (asserts exit status 0). */
char *th_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, parsed as JSON. */
json_t *th_sh_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A whole small file, or NULL. */
char *th_read(const char *path);
void th_write(const char *path, const char *text);

#endif
