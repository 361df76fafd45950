/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container lifecycle through the real agent: output and exit codes,
 * exec, stdin, terminal, signals, many execs at once, 50 MiB of output,
 * ListProcesses and RemoveContainer leaving nothing behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "lib/util.h"

#define PROC(args) "{\"args\":" args ",\"env\":[\"PATH=/bin\"],\"cwd\":\"/\"}"

static void test_echo_and_exit_codes(void **state)
{
	cleanup_free char *s0 = h_spec("[\"echo\",\"hello\",\"world\"]", NULL, NULL, NULL);
	cleanup_free char *s7 = h_spec("[\"sh\",\"-c\",\"echo out; echo err >&2; exit 7\"]", NULL,
				       NULL, NULL);
	cleanup_free char *out0 = NULL, *out7 = NULL, *err7 = NULL;
	int status = -1;

	(void)state;
	out0 = h_run_output("c-echo", s0, &status);
	assert_string_equal(out0, "hello world\n");
	assert_int_equal(status, 0);

	h_run("c-seven", s7);
	out7 = h_read_all("c-seven", "", false, NULL);
	err7 = h_read_all("c-seven", "", true, NULL);
	assert_string_equal(out7, "out\n");
	assert_string_equal(err7, "err\n");
	assert_int_equal(h_wait_status("c-seven", ""), 7);
	/* Asked again, the same status. */
	assert_int_equal(h_wait_status("c-seven", "c-seven"), 7);
	assert_int_equal(h_remove("c-seven", 0), 0);
	h_check_clean();
}

/* Create then start: the process exists after create, runs after start. */
static void test_create_then_start(void **state)
{
	cleanup_free char *s = h_spec("[\"kc-test-init\",\"pid\"]", NULL, NULL, NULL);
	cleanup_free char *out = NULL;

	(void)state;
	assert_int_equal(h_create("c-two-step", s, NULL), 0);
	assert_int_equal(h_start("c-two-step", NULL), 0);
	out = h_read_all("c-two-step", "", false, NULL);
	/* PID 1 of its own pid namespace. */
	assert_string_equal(out, "1\n");
	assert_int_equal(h_wait_status("c-two-step", ""), 0);
	assert_int_equal(h_remove("c-two-step", 0), 0);
	h_check_clean();
}

static void test_sigkill_137(void **state)
{
	cleanup_free char *s = h_spec("[\"sleep\",\"1001\"]", NULL, NULL, NULL);

	(void)state;
	h_run("c-kill", s);
	assert_true(ah_process_running("sleep", "1001"));
	assert_int_equal(h_signal("c-kill", "c-kill", SIGKILL), 0);
	assert_int_equal(h_wait_status("c-kill", ""), 137);
	assert_int_equal(h_remove("c-kill", 0), 0);
	assert_false(ah_process_running("sleep", "1001"));
	h_check_clean();
}

/* A stop right after start (containerd sends SIGTERM about a millisecond
 * after StartContainer): the init is PID 1 of its namespace and has no
 * handler for SIGTERM, which the kernel would drop; the agent sends SIGKILL
 * in its place, so the container stops at once instead of after the
 * caller's whole grace period. */
static void test_sigterm_without_handler(void **state)
{
	cleanup_free char *s = h_spec("[\"sleep\",\"1004\"]", NULL, NULL, NULL);

	(void)state;
	h_run("c-term", s);
	assert_int_equal(h_signal("c-term", "c-term", SIGTERM), 0);
	assert_int_equal(h_wait_status("c-term", ""), 128 + SIGKILL);
	assert_int_equal(h_remove("c-term", 0), 0);
	assert_false(ah_process_running("sleep", "1004"));
	h_check_clean();
}

/* ... but an init that ignores SIGTERM on purpose keeps ignoring it, and
 * one outside a pid namespace of its own dies of SIGTERM itself (143). */
static void test_sigterm_ignored_or_not_init(void **state)
{
	cleanup_free char *ign = h_spec("[\"sh\",\"-c\",\"trap '' TERM; echo ready; "
					"while true; do sleep 1; done\"]",
					NULL, NULL, NULL);
	cleanup_free char *shared = h_spec("[\"sleep\",\"1005\"]", NULL,
					   "\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"ipc\"},"
					   "{\"type\":\"uts\"}]",
					   NULL);
	Grpc__ReadStreamRequest req = GRPC__READ_STREAM_REQUEST__INIT;
	struct ah_answer a;

	(void)state;
	h_run("c-term-ign", ign);
	req.container_id = (char *)"c-term-ign";
	req.len = 6;
	assert_int_equal(ah_call(H, "ReadStdout", &req.base, &a), 0);
	ah_answer_free(&a);
	assert_int_equal(h_signal("c-term-ign", "c-term-ign", SIGTERM), 0);
	usleep(300 * 1000);
	/* Still running: an exec needs a live init. */
	assert_int_equal(h_exec("c-term-ign", "e-alive", PROC("[\"true\"]"), NULL), 0);
	assert_int_equal(h_wait_status("c-term-ign", "e-alive"), 0);
	assert_int_equal(h_signal("c-term-ign", "c-term-ign", SIGKILL), 0);
	assert_int_equal(h_wait_status("c-term-ign", ""), 128 + SIGKILL);
	assert_int_equal(h_remove("c-term-ign", 0), 0);

	h_run("c-term-shared", shared);
	assert_true(ah_process_running("sleep", "1005"));
	assert_int_equal(h_signal("c-term-shared", "c-term-shared", SIGTERM), 0);
	assert_int_equal(h_wait_status("c-term-shared", ""), 128 + SIGTERM);
	assert_int_equal(h_remove("c-term-shared", 0), 0);
	h_check_clean();
}

/* SignalProcess with an empty exec id reaches every process, execs too. */
static void test_signal_all(void **state)
{
	/* The init is PID 1 of its namespace: only signals it handles reach
	 * it (as with runc), so it traps TERM. */
	cleanup_free char *s = h_spec("[\"sh\",\"-c\",\"trap 'exit 15' TERM; echo ready; "
				      "while true; do sleep 1; done\"]",
				      NULL, NULL, NULL);
	Grpc__ReadStreamRequest req = GRPC__READ_STREAM_REQUEST__INIT;
	struct ah_answer a;

	(void)state;
	h_run("c-sigall", s);
	/* "ready": the trap is set. */
	req.container_id = (char *)"c-sigall";
	req.len = 6;
	assert_int_equal(ah_call(H, "ReadStdout", &req.base, &a), 0);
	ah_answer_free(&a);
	assert_int_equal(h_exec("c-sigall", "e1", PROC("[\"sleep\",\"1003\"]"), NULL), 0);
	assert_true(ah_process_running("sleep", "1003"));
	assert_int_equal(h_signal("c-sigall", "", SIGTERM), 0);
	assert_int_equal(h_wait_status("c-sigall", "e1"), 128 + SIGTERM);
	assert_int_equal(h_wait_status("c-sigall", ""), 15);
	assert_int_not_equal(h_signal("c-sigall", "", SIGTERM), 0);
	assert_int_equal(h_remove("c-sigall", 0), 0);
	h_check_clean();
}

/* A trap in the container sees the signal (not only SIGKILL works). */
static void test_signal_trap(void **state)
{
	cleanup_free char *s = h_spec("[\"sh\",\"-c\",\"trap 'echo got-usr1; exit 9' USR1; echo ready; "
				      "while true; do sleep 1; done\"]",
				      NULL, NULL, NULL);
	Grpc__ReadStreamRequest req = GRPC__READ_STREAM_REQUEST__INIT;
	Grpc__ReadStreamResponse *r;
	struct ah_answer a;
	cleanup_free char *rest = NULL;

	(void)state;
	h_run("c-trap", s);
	req.container_id = (char *)"c-trap";
	req.len = 6;
	assert_int_equal(ah_call(H, "ReadStdout", &req.base, &a), 0);
	r = grpc__read_stream_response__unpack(NULL, a.len, a.payload);
	assert_non_null(r);
	assert_int_equal(r->data.len, 6);
	assert_memory_equal(r->data.data, "ready\n", 6);
	grpc__read_stream_response__free_unpacked(r, NULL);
	ah_answer_free(&a);
	assert_int_equal(h_signal("c-trap", "c-trap", SIGUSR1), 0);
	rest = h_read_all("c-trap", "", false, NULL);
	assert_string_equal(rest, "got-usr1\n");
	assert_int_equal(h_wait_status("c-trap", ""), 9);
	assert_int_equal(h_remove("c-trap", 0), 0);
	h_check_clean();
}

static void test_exec(void **state)
{
	cleanup_free char *s = h_spec(
		"[\"sleep\",\"1004\"]", NULL, NULL,
		",\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"}]");
	cleanup_free char *out = NULL, *out2 = NULL, *msg = NULL, *msg2 = NULL, *msg3 = NULL;

	(void)state;
	h_run("c-exec", s);
	/* Same namespaces: it sees the container's init as PID 1. */
	assert_int_equal(h_exec("c-exec", "e-ps",
				"{\"args\":[\"sh\",\"-c\",\"cat /proc/1/comm; pwd; "
				"echo $X; exit 4\"],\"env\":[\"PATH=/bin\",\"X=exec-env\"],"
				"\"cwd\":\"/tmp\"}",
				NULL),
			 0);
	out = h_read_all("c-exec", "e-ps", false, NULL);
	assert_string_equal(out, "sleep\n/tmp\nexec-env\n");
	assert_int_equal(h_wait_status("c-exec", "e-ps"), 4);
	/* Waited for and read to its end: forgotten, as Kata does. */
	{
		cleanup_free char *err = h_read_all("c-exec", "e-ps", true, NULL);
		Grpc__WaitProcessRequest w = GRPC__WAIT_PROCESS_REQUEST__INIT;

		w.container_id = (char *)"c-exec";
		w.exec_id = (char *)"e-ps";
		assert_int_equal(ah_call0(H, "WaitProcess", &w.base), 5);
	}
	/* An exec'd program not found: the error names it, at once, and is
	 * the whole answer: nothing of the process stays to be waited for. */
	assert_int_not_equal(h_exec("c-exec", "e-missing", PROC("[\"no-such-prog\"]"), &msg), 0);
	assert_non_null(strstr(msg, "no-such-prog"));
	{
		Grpc__WaitProcessRequest w = GRPC__WAIT_PROCESS_REQUEST__INIT;

		w.container_id = (char *)"c-exec";
		w.exec_id = (char *)"e-missing";
		assert_int_equal(ah_call0(H, "WaitProcess", &w.base), 5);
	}
	/* stdin to an exec'd cat, then its end. */
	assert_int_equal(h_exec("c-exec", "e-cat", PROC("[\"cat\"]"), NULL), 0);
	/* Exec ids are unique; the init's is refused. */
	assert_int_equal(h_exec("c-exec", "e-cat", PROC("[\"true\"]"), &msg2), 6);
	assert_int_equal(h_exec("c-exec", "c-exec", PROC("[\"true\"]"), &msg3), 3);
	h_write_stdin("c-exec", "e-cat", "piped through\n", 14);
	h_close_stdin("c-exec", "e-cat");
	out2 = h_read_all("c-exec", "e-cat", false, NULL);
	assert_string_equal(out2, "piped through\n");
	assert_int_equal(h_wait_status("c-exec", "e-cat"), 0);
	assert_int_equal(h_remove("c-exec", 0), 0);
	assert_false(ah_process_running("sleep", "1004"));
	h_check_clean();
}

/* Exec into a container that has not started or has stopped: refused. */
static void test_exec_not_running(void **state)
{
	cleanup_free char *s = h_spec("[\"true\"]", NULL, NULL, NULL);
	cleanup_free char *msg = NULL, *msg2 = NULL;

	(void)state;
	assert_int_equal(h_create("c-norun", s, NULL), 0);
	assert_int_equal(h_exec("c-norun", "e", PROC("[\"true\"]"), &msg), 9);
	assert_non_null(strstr(msg, "not running"));
	assert_int_equal(h_start("c-norun", NULL), 0);
	assert_int_equal(h_wait_status("c-norun", ""), 0);
	assert_int_equal(h_exec("c-norun", "e", PROC("[\"true\"]"), &msg2), 9);
	assert_int_equal(h_remove("c-norun", 0), 0);
	h_check_clean();
}

static void test_stdin_init(void **state)
{
	cleanup_free char *s = h_spec("[\"sh\",\"-c\",\"cat; echo done\"]", NULL, NULL, NULL);
	cleanup_free char *out = NULL;
	char big[100000];

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	h_run("c-stdin", s);
	/* More than a pipe holds: WriteStdin answers short, the rest follows. */
	h_write_stdin("c-stdin", "", big, sizeof(big));
	h_close_stdin("c-stdin", "");
	{
		size_t len;

		out = h_read_all("c-stdin", "", false, &len);
		assert_int_equal(len, sizeof(big) + 5);
		assert_memory_equal(out, big, sizeof(big));
		assert_string_equal(out + sizeof(big), "done\n");
	}
	assert_int_equal(h_wait_status("c-stdin", ""), 0);
	assert_int_equal(h_remove("c-stdin", 0), 0);
	h_check_clean();
}

/* The container's own devpts, as containerd's default spec has it: the
 * agent opens a process's pty from the container's /dev/ptmx. */
#define DEVPTS \
	",\"mounts\":[{\"destination\":\"/dev/pts\",\"type\":\"devpts\"," \
	"\"source\":\"devpts\",\"options\":[\"nosuid\",\"noexec\",\"newinstance\"," \
	"\"ptmxmode=0666\",\"mode=0620\"]}]"

static void test_tty(void **state)
{
	cleanup_free char *s = h_spec(
		"[\"kc-test-init\",\"tty-on-input\"]",
		",\"terminal\":true,\"consoleSize\":{\"height\":30,\"width\":100}", NULL, DEVPTS);
	Grpc__TtyWinResizeRequest rz = GRPC__TTY_WIN_RESIZE_REQUEST__INIT;
	cleanup_free char *out = NULL, *errout = NULL, *eout = NULL;

	(void)state;
	h_run("c-tty", s);
	rz.container_id = (char *)"c-tty";
	rz.row = 40;
	rz.column = 120;
	assert_int_equal(ah_call0(H, "TtyWinResize", &rz.base), 0);
	h_write_stdin("c-tty", "", "x\n", 2);
	out = h_read_all("c-tty", "", false, NULL);
	/* The terminal echoes the input; \r\n is the tty's line end. */
	assert_non_null(strstr(out, "tty\r\n40 120\r\n"));
	errout = h_read_all("c-tty", "", true, NULL);
	assert_string_equal(errout, "");
	assert_int_equal(h_wait_status("c-tty", ""), 0);
	assert_int_equal(h_remove("c-tty", 0), 0);

	/* CloseStdin on a terminal: the EOF character, and cat ends. */
	{
		cleanup_free char *sc = h_spec("[\"cat\"]", ",\"terminal\":true", NULL, DEVPTS);
		cleanup_free char *cout = NULL;

		h_run("c-tty-cat", sc);
		h_write_stdin("c-tty-cat", "", "abc\n", 4);
		h_close_stdin("c-tty-cat", "");
		cout = h_read_all("c-tty-cat", "", false, NULL);
		/* The terminal's echo, then cat's copy. */
		assert_string_equal(cout, "abc\r\nabc\r\n");
		assert_int_equal(h_wait_status("c-tty-cat", ""), 0);
		assert_int_equal(h_remove("c-tty-cat", 0), 0);
	}

	/* An exec with its own terminal; without one, resize is refused. */
	{
		cleanup_free char *s2 = h_spec("[\"sleep\",\"1005\"]", NULL, NULL, DEVPTS);

		h_run("c-tty2", s2);
		assert_int_equal(h_exec("c-tty2", "e-tty",
					"{\"args\":[\"kc-test-init\",\"tty\"],\"terminal\":true,"
					"\"consoleSize\":{\"height\":12,\"width\":34},"
					"\"env\":[\"PATH=/bin\"],\"cwd\":\"/\"}",
					NULL),
				 0);
		eout = h_read_all("c-tty2", "e-tty", false, NULL);
		assert_string_equal(eout, "tty\r\n12 34\r\n");
		assert_int_equal(h_wait_status("c-tty2", "e-tty"), 0);
		rz.container_id = (char *)"c-tty2";
		rz.exec_id = (char *)"";
		assert_int_equal(ah_call0(H, "TtyWinResize", &rz.base), 9);
		assert_int_equal(h_remove("c-tty2", 0), 0);
	}
	h_check_clean();
}

/* The terminal is one of the container's: `tty` prints a /dev/pts path
 * that, inside the container, is that very terminal, for the init process
 * and for an exec (whose pty is the container's second); it is the
 * controlling terminal.  Without a devpts in the container, a precise
 * error. */
static void test_tty_in_container(void **state)
{
	const char *sh = "[\"sh\",\"-c\",\"n=$(tty) && test -c $n && echo yes $n; "
			 "kc-test-init ttyname\"]";
	const char *ex = "{\"args\":[\"sh\",\"-c\",\"n=$(tty) && test -c $n && echo yes $n; "
			 "kc-test-init ttyname\"],\"terminal\":true,\"env\":[\"PATH=/bin\"],"
			 "\"cwd\":\"/\"}";
	cleanup_free char *s = h_spec(sh, ",\"terminal\":true", NULL, DEVPTS);
	cleanup_free char *s2 = h_spec("[\"cat\"]", ",\"terminal\":true", NULL, DEVPTS);
	cleanup_free char *bare = h_spec("[\"true\"]", ",\"terminal\":true", NULL, NULL);
	cleanup_free char *out = NULL, *eout = NULL, *msg = NULL;

	(void)state;
	h_run("c-ttyn", s);
	out = h_read_all("c-ttyn", "", false, NULL);
	assert_string_equal(out, "yes /dev/pts/0\r\n/dev/pts/0 same ctty\r\n");
	assert_int_equal(h_wait_status("c-ttyn", ""), 0);
	assert_int_equal(h_remove("c-ttyn", 0), 0);

	/* The init (cat) holds the container's pts/0: the exec gets pts/1. */
	h_run("c-ttyn2", s2);
	assert_int_equal(h_exec("c-ttyn2", "e-ttyn", ex, NULL), 0);
	eout = h_read_all("c-ttyn2", "e-ttyn", false, NULL);
	assert_string_equal(eout, "yes /dev/pts/1\r\n/dev/pts/1 same ctty\r\n");
	assert_int_equal(h_wait_status("c-ttyn2", "e-ttyn"), 0);
	assert_int_equal(h_remove("c-ttyn2", 0), 0);

	/* No devpts mounted: /dev/ptmx names nothing there. */
	assert_int_not_equal(h_create("c-ttyn-bare", bare, &msg), 0);
	print_message("# %s\n", msg);
	assert_non_null(strstr(msg, "open the container's /dev/ptmx: No such file or directory"));
	h_check_clean();
}

/* 20 execs at once, each answering its own output and status. */
static void test_concurrent_execs(void **state)
{
	cleanup_free char *s = h_spec("[\"sleep\",\"1006\"]", NULL, NULL, NULL);
	struct ah_answer waits[20];
	char ids[20][16];

	(void)state;
	h_run("c-many", s);
	for (int i = 0; i < 20; i++) {
		cleanup_free char *p = kc_xasprintf(
			"{\"args\":[\"sh\",\"-c\",\"echo exec-%d; exit %d\"],\"cwd\":\"/\","
			"\"env\":[\"PATH=/bin\"]}",
			i, i);

		snprintf(ids[i], sizeof(ids[i]), "e%d", i);
		assert_int_equal(h_exec("c-many", ids[i], p, NULL), 0);
	}
	/* All the waits held at once, answered as each exits. */
	for (int i = 0; i < 20; i++) {
		Grpc__WaitProcessRequest req = GRPC__WAIT_PROCESS_REQUEST__INIT;

		req.container_id = (char *)"c-many";
		req.exec_id = ids[i];
		ah_start_call(H, "WaitProcess", &req.base, &waits[i]);
	}
	for (int i = 0; i < 20; i++) {
		Grpc__WaitProcessResponse *r;
		cleanup_free char *out = NULL, *want = kc_xasprintf("exec-%d\n", i);

		ah_wait(H, &waits[i]);
		assert_int_equal(waits[i].code, 0);
		r = grpc__wait_process_response__unpack(NULL, waits[i].len, waits[i].payload);
		assert_non_null(r);
		assert_int_equal(r->status, i);
		grpc__wait_process_response__free_unpacked(r, NULL);
		ah_answer_free(&waits[i]);
		out = h_read_all("c-many", ids[i], false, NULL);
		assert_string_equal(out, want);
	}
	assert_int_equal(h_remove("c-many", 0), 0);
	h_check_clean();
}

/*
 * 1000 execs into one container, half of them failing (a program that is
 * not there, as a Kubernetes exec probe naming a missing binary): a failed
 * exec is released by the agent itself, without a WaitProcess or a stream
 * read from the caller, so the agent's descriptors are the same after as
 * before, and execs still work.
 */
static void test_failed_execs_release(void **state)
{
	cleanup_free char *s = h_spec("[\"sleep\",\"1010\"]", NULL, NULL, NULL);
	cleanup_free char *out = NULL;
	pid_t pid = h.agent.pid;
	int before;

	(void)state;
	h_run("c-failexec", s);
	before = ah_count_fds(pid);
	for (int i = 0; i < 1000; i++) {
		char id[16];

		snprintf(id, sizeof(id), "e%d", i);
		if (i % 2) {
			cleanup_free char *msg = NULL;

			assert_int_not_equal(
				h_exec("c-failexec", id, PROC("[\"/nonexistent\"]"), &msg), 0);
			if (!strstr(msg, "/nonexistent")) {
				print_message("# exec %d: %s\n", i, msg);
				fail();
			}
		} else {
			cleanup_free char *o = NULL, *e = NULL;

			assert_int_equal(h_exec("c-failexec", id, PROC("[\"true\"]"), NULL), 0);
			assert_int_equal(h_wait_status("c-failexec", id), 0);
			o = h_read_all("c-failexec", id, false, NULL);
			e = h_read_all("c-failexec", id, true, NULL);
		}
	}
	assert_int_equal(ah_count_fds(pid), before);
	/* A failed exec's id is free again. */
	assert_int_equal(h_exec("c-failexec", "e1", PROC("[\"echo\",\"still\"]"), NULL), 0);
	out = h_read_all("c-failexec", "e1", false, NULL);
	assert_string_equal(out, "still\n");
	assert_int_equal(h_wait_status("c-failexec", "e1"), 0);
	assert_int_equal(h_remove("c-failexec", 0), 0);
	h_check_clean();
}

/* 50 MiB through a pipe of bounded size: every byte, in order. */
static void test_big_output(void **state)
{
	cleanup_free char *s = h_spec("[\"kc-test-init\",\"bigout\",\"50\"]", NULL, NULL, NULL);
	cleanup_free char *out = NULL;
	size_t len = 0, bad = 0;

	(void)state;
	h_run("c-big", s);
	out = h_read_all("c-big", "", false, &len);
	assert_int_equal(len, 50u << 20);
	for (size_t i = 0; i < len; i++)
		bad += (unsigned char)out[i] != h_pattern_byte(i);
	assert_int_equal(bad, 0);
	assert_int_equal(h_wait_status("c-big", ""), 0);
	assert_int_equal(h_remove("c-big", 0), 0);
	h_check_clean();
}

static long status_kib(pid_t pid, const char *field)
{
	cleanup_free char *path = kc_xasprintf("/proc/%d/status", (int)pid);
	cleanup_free char *buf = NULL;
	size_t len;
	char *p;

	assert_int_equal(kc_read_file(path, 65536, &buf, &len, NULL), 0);
	p = strstr(buf, field);
	assert_non_null(p);
	return strtol(p + strlen(field) + 1, NULL, 10);
}

static long io_field(pid_t pid, const char *field)
{
	cleanup_free char *path = kc_xasprintf("/proc/%d/io", (int)pid);
	cleanup_free char *buf = NULL;
	size_t len;
	char *p;

	assert_int_equal(kc_read_file(path, 65536, &buf, &len, NULL), 0);
	p = strstr(buf, field);
	assert_non_null(p);
	return strtol(p + strlen(field) + 1, NULL, 10);
}

/* Nobody reads: the writer blocks once the pipe is full, the agent holds
 * nothing of it; then everything comes, in order. */
static void test_backpressure(void **state)
{
	cleanup_free char *s = h_spec("[\"kc-test-init\",\"bigout\",\"20\"]", NULL, NULL, NULL);
	cleanup_free char *out = NULL;
	long rss_before = status_kib(h.agent.pid, "VmRSS:");
	uint64_t guard = kc_monotonic_ns() + 60 * 1000000000ull;
	size_t len = 0, bad = 0;
	pid_t writer;

	(void)state;
	h_run("c-slow", s);
	writer = ah_find_process("kc-test-init", "bigout");
	assert_true(writer > 0);
	/* Wait (not a timing assertion: a condition, with a hang guard) for
	 * the writer to sleep in write(2) on the full pipe. */
	for (;;) {
		cleanup_free char *path = kc_xasprintf("/proc/%d/syscall", (int)writer);
		cleanup_free char *wchan = kc_xasprintf("/proc/%d/wchan", (int)writer);
		cleanup_free char *sc = NULL, *wc = NULL;
		size_t wl;

		assert_int_equal(kc_read_file(path, 4096, &sc, &wl, NULL), 0);
		assert_int_equal(kc_read_file(wchan, 256, &wc, &wl, NULL), 0);
		if (strncmp(sc, "1 ", 2) == 0 && strstr(wc, "pipe_write"))
			break;
		assert_true(kc_monotonic_ns() < guard);
		usleep(10000);
	}
	/* What it wrote is what the pipe holds (256 KiB) and its stdio
	 * buffer; the agent's memory did not take the rest. */
	assert_true(io_field(writer, "wchar:") <= (256 << 10) + (64 << 10));
	assert_true(status_kib(h.agent.pid, "VmRSS:") - rss_before < 4096);
	out = h_read_all("c-slow", "", false, &len);
	assert_int_equal(len, 20u << 20);
	for (size_t i = 0; i < len; i++)
		bad += (unsigned char)out[i] != h_pattern_byte(i);
	assert_int_equal(bad, 0);
	assert_int_equal(h_wait_status("c-slow", ""), 0);
	assert_int_equal(h_remove("c-slow", 0), 0);
	h_check_clean();
}

/* Output written just before exit is there after the exit. */
static void test_output_after_exit(void **state)
{
	cleanup_free char *s = h_spec("[\"kc-test-init\",\"bigout\",\"1\"]", NULL, NULL, NULL);
	cleanup_free char *out = NULL;
	size_t len = 0;

	(void)state;
	h_run("c-late", s);
	/* The pipe holds less than 1 MiB: the writer waits for the reader,
	 * then exits; the reader still gets it all. */
	out = h_read_all("c-late", "", false, &len);
	assert_int_equal(h_wait_status("c-late", ""), 0);
	assert_int_equal(len, 1u << 20);
	assert_int_equal(h_remove("c-late", 0), 0);
	h_check_clean();
}

static void test_list_processes(void **state)
{
	cleanup_free char *s = h_spec("[\"sleep\",\"1007\"]", NULL, NULL, NULL);
	Grpc__ListProcessesRequest req = GRPC__LIST_PROCESSES_REQUEST__INIT;
	Grpc__ListProcessesResponse *r;
	struct ah_answer a;
	cleanup_free char *table = NULL, *json = NULL;

	(void)state;
	h_run("c-ps", s);
	assert_int_equal(h_exec("c-ps", "e1", PROC("[\"sleep\",\"1008\"]"), NULL), 0);
	req.container_id = (char *)"c-ps";
	req.format = (char *)"table";
	assert_int_equal(ah_call(H, "ListProcesses", &req.base, &a), 0);
	r = grpc__list_processes_response__unpack(NULL, a.len, a.payload);
	assert_non_null(r);
	table = kc_xstrndup((char *)r->process_list.data, r->process_list.len);
	grpc__list_processes_response__free_unpacked(r, NULL);
	ah_answer_free(&a);
	assert_int_equal(strncmp(table, "PID CMD\n", 8), 0);
	assert_non_null(strstr(table, " sleep 1007\n"));
	assert_non_null(strstr(table, " sleep 1008\n"));
	req.format = (char *)"json";
	assert_int_equal(ah_call(H, "ListProcesses", &req.base, &a), 0);
	r = grpc__list_processes_response__unpack(NULL, a.len, a.payload);
	assert_non_null(r);
	json = kc_xstrndup((char *)r->process_list.data, r->process_list.len);
	grpc__list_processes_response__free_unpacked(r, NULL);
	ah_answer_free(&a);
	assert_int_equal(json[0], '[');
	assert_non_null(strchr(json, ','));
	req.format = (char *)"yaml";
	assert_int_equal(ah_call0(H, "ListProcesses", &req.base), 3);
	assert_int_equal(h_remove("c-ps", 0), 0);
	h_check_clean();
}

/* RemoveContainer of a running container with execs and mounts: every
 * process gone, no mount left in the agent's namespace. */
static void test_remove_cleans(void **state)
{
	cleanup_free char *s = h_spec(
		"[\"sh\",\"-c\",\"sleep 1009 & sleep 1010\"]", NULL, NULL,
		",\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
		"{\"destination\":\"/tmp\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}]");

	(void)state;
	h_run("c-rm", s);
	assert_int_equal(h_exec("c-rm", "e1", PROC("[\"sleep\",\"1011\"]"), NULL), 0);
	assert_true(ah_process_running("sleep", "1011"));
	assert_int_equal(h_remove("c-rm", 5), 0);
	assert_false(ah_process_running("sleep", "1009"));
	assert_false(ah_process_running("sleep", "1010"));
	assert_false(ah_process_running("sleep", "1011"));
	h_check_clean();
}

static void write_str(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(s, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* RemoveContainer's timeout: a process that cannot die yet (frozen by the
 * host's cgroup v1 freezer, the test's own tool) makes it answer
 * DEADLINE_EXCEEDED; once it can, a second RemoveContainer succeeds. */
static void test_remove_timeout(void **state)
{
	cleanup_free char *s = h_spec("[\"sleep\",\"1013\"]", NULL, NULL, NULL);
	cleanup_free char *cg = kc_xasprintf("/sys/fs/cgroup/freezer/kc-container-test-%d",
					     (int)getpid());
	cleanup_free char *procs = kc_xasprintf("%s/cgroup.procs", cg);
	cleanup_free char *st = kc_xasprintf("%s/freezer.state", cg);
	cleanup_free char *pid = NULL;
	struct ah_answer a;
	Grpc__RemoveContainerRequest req = GRPC__REMOVE_CONTAINER_REQUEST__INIT;

	(void)state;
	if (access("/sys/fs/cgroup/freezer/cgroup.procs", W_OK) < 0)
		skip();
	h_run("c-frozen", s);
	pid = kc_xasprintf("%d", (int)ah_find_process("sleep", "1013"));
	assert_int_equal(mkdir(cg, 0755), 0);
	write_str(procs, pid);
	write_str(st, "FROZEN");
	req.container_id = (char *)"c-frozen";
	req.timeout = 1;
	assert_int_equal(ah_call(H, "RemoveContainer", &req.base, &a), 4 /* DEADLINE_EXCEEDED */);
	assert_non_null(strstr(a.message, "did not exit in time"));
	ah_answer_free(&a);
	assert_true(ah_process_running("sleep", "1013"));
	write_str(st, "THAWED");
	req.timeout = 0;
	assert_int_equal(ah_call0(H, "RemoveContainer", &req.base), 0);
	assert_false(ah_process_running("sleep", "1013"));
	assert_int_equal(rmdir(cg), 0);
	h_check_clean();
}

/* The agent's memory with ten containers running, printed (run with
 * KC_AGENT=<the static build> for the real figures; ASan inflates them). */
static void test_memory_figures(void **state)
{
	cleanup_free char *s = h_spec("[\"sleep\",\"1014\"]", NULL, NULL, NULL);
	long idle = status_kib(h.agent.pid, "VmRSS:"), ten;

	(void)state;
	for (int i = 0; i < 10; i++) {
		cleanup_free char *id = kc_xasprintf("c-mem-%d", i);

		h_run(id, s);
	}
	ten = status_kib(h.agent.pid, "VmRSS:");
	print_message("# agent VmRSS: %ld KiB before, %ld KiB with 10 containers\n", idle, ten);
	for (int i = 0; i < 10; i++) {
		cleanup_free char *id = kc_xasprintf("c-mem-%d", i);

		assert_int_equal(h_remove(id, 0), 0);
	}
	assert_false(ah_process_running("sleep", "1014"));
	/* Per container: a spec, a few fds, no buffers. */
	assert_true(ten - idle < 10 * 1024);
	h_check_clean();
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* create+start+wait+remove of /bin/true, 20 times: the median is printed,
 * never asserted (the machine is shared and slow). */
static void test_lifecycle_figure(void **state)
{
	cleanup_free char *s = h_spec("[\"true\"]", NULL, NULL, NULL);
	uint64_t t[20];

	(void)state;
	for (int i = 0; i < 20; i++) {
		uint64_t t0 = kc_monotonic_ns();

		h_run("c-true", s);
		assert_int_equal(h_wait_status("c-true", ""), 0);
		assert_int_equal(h_remove("c-true", 0), 0);
		t[i] = kc_monotonic_ns() - t0;
	}
	qsort(t, 20, sizeof(t[0]), cmp_u64);
	print_message("# create+start+wait+remove of true: median %.2f ms (min %.2f, max %.2f)\n",
		      (double)(t[9] + t[10]) / 2e6, (double)t[0] / 1e6, (double)t[19] / 1e6);
	h_check_clean();
}

/* A created container never started is removed too. */
static void test_remove_created(void **state)
{
	cleanup_free char *s = h_spec("[\"sleep\",\"1012\"]", NULL, NULL, NULL);

	(void)state;
	assert_int_equal(h_create("c-created", s, NULL), 0);
	assert_int_equal(h_remove("c-created", 0), 0);
	assert_int_equal(h_remove("c-created", 0), 5);
	h_check_clean();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo_and_exit_codes),
		cmocka_unit_test(test_create_then_start),
		cmocka_unit_test(test_sigkill_137),
		cmocka_unit_test(test_sigterm_without_handler),
		cmocka_unit_test(test_sigterm_ignored_or_not_init),
		cmocka_unit_test(test_signal_all),
		cmocka_unit_test(test_signal_trap),
		cmocka_unit_test(test_exec),
		cmocka_unit_test(test_exec_not_running),
		cmocka_unit_test(test_stdin_init),
		cmocka_unit_test(test_tty),
		cmocka_unit_test(test_tty_in_container),
		cmocka_unit_test(test_concurrent_execs),
		cmocka_unit_test(test_failed_execs_release),
		cmocka_unit_test(test_big_output),
		cmocka_unit_test(test_output_after_exit),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_list_processes),
		cmocka_unit_test(test_remove_cleans),
		cmocka_unit_test(test_remove_timeout),
		cmocka_unit_test(test_remove_created),
		cmocka_unit_test(test_memory_figures),
		cmocka_unit_test(test_lifecycle_figure),
	};

	h_filter_from_env();
	return cmocka_run_group_tests(tests, h_setup, h_teardown);
}
