/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_TESTS_AGENT_HARNESS_H
#define KC_TESTS_AGENT_HARNESS_H

/*
 * The container runtime tests' part: a real kata-agent (started by
 * tests/common/agent_harness.h) with a sandbox, a rootfs holding busybox
 * and the static helper kc-test-init (tests/agent/kc_test_init.c), and the
 * container calls.  Other calls go through ah_call(H, ...).  Include after
 * cmocka.h.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent.pb-c.h"
#include "agent_harness.h"

struct h_state {
	struct ah_agent agent; /* agent.dir is the test's directory */
	char *rootfs;
	int base_fds; /* the agent's, with the sandbox */
	int base_mounts;
};
extern struct h_state h;

/* The connection to the agent, for ah_call() and the others. */
#define H (&h.agent.conn)

/* KC_TEST_FILTER=pattern runs only the matching tests (for debugging). */
void h_filter_from_env(void);

/* cmocka group setup/teardown: the agent, its directory, a sandbox. */
int h_setup(void **state);
int h_teardown(void **state);

/*
 * A spec: process args (a JSON array), more process members (`proc`,
 * starting with a comma, or NULL), more linux members (`lnx`, idem) and
 * more top-level members (`top`, idem).  The namespaces are pid, mount,
 * ipc and uts unless lnx gives "namespaces".
 */
char *h_spec(const char *args, const char *proc, const char *lnx, const char *top);
/* CreateContainer; the code, *msg the message when not OK (or NULL). */
int h_create(const char *id, const char *spec, char **msg);
int h_start(const char *id, char **msg);
void h_run(const char *id, const char *spec);
/* ExecProcess of a process JSON object. */
int h_exec(const char *id, const char *exec_id, const char *process_json, char **msg);
/* WaitProcess's status (asserts the call succeeds). */
int h_wait_status(const char *id, const char *exec_id);
/* Reads a stream to its end; *len gets the length (may be NULL). */
char *h_read_all(const char *id, const char *exec_id, bool is_err, size_t *len);
/* Writes all of data to stdin. */
void h_write_stdin(const char *id, const char *exec_id, const void *data, size_t len);
void h_close_stdin(const char *id, const char *exec_id);
int h_signal(const char *id, const char *exec_id, int sig);
/* RemoveContainer; the code. */
int h_remove(const char *id, uint32_t timeout);
/* Runs a container to its end: its stdout, *status its exit status. */
char *h_run_output(const char *id, const char *spec, int *status);

/* Agent health, and that nothing leaked: fds, mounts. */
void h_check_clean(void);

/* A path in the test directory (the caller frees). */
char *h_path(const char *rel);

/* The byte kc-test-init's bigout writes at offset i. */
static inline unsigned char h_pattern_byte(unsigned long i)
{
	return (unsigned char)((i * 7u) ^ (i >> 12));
}

#endif
