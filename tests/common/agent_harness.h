/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_TESTS_COMMON_AGENT_HARNESS_H
#define KC_TESTS_COMMON_AGENT_HARNESS_H

/*
 * One harness for the tests that drive a kata-agent over ttrpc (tests/agent,
 * tests/vm, tests/net): a connection with its own loop, calls whose answer
 * (code, message, payload) the test keeps, long polls started and waited
 * for apart, an agent process started with extra arguments, in a network
 * namespace or not, and the counts a test compares for leftovers (fds,
 * mounts, processes).  Failures are cmocka assertions; include after
 * cmocka.h.  Every process started here dies with the test process
 * (PR_SET_PDEATHSIG): an aborted test leaves no agent or QEMU behind.
 */

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

struct kc_loop;
struct kc_ttrpc_client;

/* A hang guard far above any real wait (not a timing assertion). */
#define AH_GUARD_S 120

struct ah_answer {
	bool done;
	int code;
	char *message;
	uint8_t *payload;
	size_t len;
};

struct ah_conn {
	struct kc_loop *loop;
	struct kc_ttrpc_client *cli;
};

/* A connection over fd (taken), or dialed to uri until it answers; while
 * dialing, pid (if > 0) must not have exited. */
void ah_conn_fd(struct ah_conn *c, int fd);
void ah_conn_dial(struct ah_conn *c, const char *uri, pid_t pid);
void ah_conn_close(struct ah_conn *c);

/*
 * method is "Name" for grpc.AgentService, or "Service.Name" for
 * grpc.Service ("Health.Check").  ah_start_call() only sends: the answer
 * arrives while ah_wait() (or ah_pump()) runs the loop.
 */
void ah_start_call(struct ah_conn *c, const char *method, const ProtobufCMessage *req,
		   struct ah_answer *a);
void ah_wait(struct ah_conn *c, struct ah_answer *a);
/* Runs the loop for about ms (answers to calls in flight arrive). */
void ah_pump(struct ah_conn *c, int ms);
/* One call to the end: the status code; *a keeps the answer. */
int ah_call(struct ah_conn *c, const char *method, const ProtobufCMessage *req, struct ah_answer *a);
/* The same, the answer dropped (its message printed when not OK). */
int ah_call0(struct ah_conn *c, const char *method, const ProtobufCMessage *req);
/* Asserts OK; the answer unpacked as desc (NULL: dropped).  Free it with
 * protobuf_c_message_free_unpacked(). */
ProtobufCMessage *ah_call_ok(struct ah_conn *c, const char *method, const ProtobufCMessage *req,
			     const ProtobufCMessageDescriptor *desc);
/* Asserts that the call fails with code and a message containing what
 * (NULL: any message). */
void ah_call_fails(struct ah_conn *c, const char *method, const ProtobufCMessage *req, int code,
		   const char *what);
void ah_answer_free(struct ah_answer *a);
/* Asserts that Health.Check answers OK. */
void ah_check_health(struct ah_conn *c);

/* CreateContainer of id (its exec_id too) with spec_json: the code; *a
 * keeps the answer. */
int ah_create_container(struct ah_conn *c, const char *id, const char *spec_json,
			struct ah_answer *a);
/* WaitProcess: the code; *status the exit status when OK, *msg (if not
 * NULL) the message when not.  exec_id NULL: none sent. */
int ah_wait_process(struct ah_conn *c, const char *id, const char *exec_id, int *status, char **msg);
/* ReadStdout or ReadStderr (method) in chunks of chunk bytes until the end
 * of the stream (each call must succeed): all of it, *len its length (len
 * may be NULL). */
char *ah_read_stream(struct ah_conn *c, const char *method, const char *id, const char *exec_id,
		     uint32_t chunk, size_t *len);

/* A blocking call on a client of the caller's (kc_vm_start()'s
 * connection): 0 and *resp, or negative with the error printed. */
int ah_call_sync(struct kc_ttrpc_client *cli, const char *method, const ProtobufCMessage *req,
		 const ProtobufCMessageDescriptor *rd, ProtobufCMessage **resp);

/*
 * Forks and execs argv (argv[0] looked up in PATH); the child's stderr
 * goes to log when not NULL.  The child is SIGKILLed when the test process
 * dies, however it dies.
 */
enum {
	AH_SPAWN_MOUNT_NS = 1, /* a private mount namespace: its mounts die with it */
	AH_SPAWN_LOG_STDOUT = 2 /* stdout to log too, stdin from /dev/null (QEMU) */
};
pid_t ah_spawn(const char *const *argv, const char *log, unsigned flags);

struct ah_agent {
	char dir[64]; /* its temporary directory: agent.sock, agent.log */
	char *sock, *uri;
	pid_t pid;
	struct ah_conn conn;
	int base_fds; /* the agent's fds once connected */
};

struct ah_agent_opts {
	const char *dir_template; /* mkdtemp template; default /tmp/kc-agent-test-XXXXXX */
	const char *netns; /* entered with `ip netns exec` */
	const char *const *extra; /* more arguments, NULL-terminated */
	bool log_file; /* stderr to dir/agent.log (else the test's) */
	bool mount_ns; /* AH_SPAWN_MOUNT_NS */
};

/*
 * Makes the directory (unless a->dir is set: a restart, or a directory
 * the test prepared), starts `kata-agent --listen unix://DIR/agent.sock
 * --no-init --log-level debug EXTRA...` (the binary is $KC_AGENT, else
 * KC_AGENT_BIN), connects, and waits for one Health.Check answer, so that
 * base_fds counts the connection.
 */
void ah_agent_start(struct ah_agent *a, const struct ah_agent_opts *o);
/* Closes the connection, SIGTERMs the agent and reaps it: its wait status
 * (-1 when none ran).  The directory stays. */
int ah_agent_kill(struct ah_agent *a);
/* The same, asserting exit status 0 (no leak under ASan), then
 * ah_agent_free(). */
void ah_agent_stop(struct ah_agent *a);
/* Removes the directory (unless KC_TEST_KEEP is set) and frees the paths. */
void ah_agent_free(struct ah_agent *a);

/* Open fds of pid (without . and ..). */
int ah_count_fds(pid_t pid);
/* Mounts of this namespace whose line mentions under. */
int ah_count_mounts(const char *under);
/* The first process whose argv[0] is a0 and argv[1] a1, 0 if none. */
pid_t ah_find_process(const char *a0, const char *a1);
bool ah_process_running(const char *a0, const char *a1);
/* Processes other than us whose command line mentions needle. */
int ah_count_procs_mentioning(const char *needle);
/* Our own children, zombies included. */
int ah_count_children(void);

/* Shell commands: the exit status (printed when not 0); the stdout,
 * asserting status 0; that parsed as JSON; the stdout, any status. */
int ah_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *ah_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
json_t *ah_sh_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *ah_sh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ah_rm_tree(const char *dir);
/* Deletes the network namespace `name` if there is one ("" is none). */
void ah_netns_del(const char *name);

/* Files: a whole small file or NULL; written (0644, or mode, which is set
 * also on a file that was there); copied (0755). */
char *ah_read(const char *path);
void ah_write(const char *path, const char *text);
void ah_write_mode(const char *path, const char *text, mode_t mode);
void ah_copy_file(const char *from, const char *to);

#endif
