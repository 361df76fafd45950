/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent harness itself: an agent that a test started does not outlive
 * the test when the test aborts (PR_SET_PDEATHSIG), so that no kata-agent
 * keeps cgroups, mounts or sockets busy after a crash.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_harness.h"
#include "lib/util.h"

struct started {
	pid_t agent;
	char dir[64];
};

/* Whether pid is gone (or a zombie nobody reaped yet). */
static bool gone(pid_t pid)
{
	cleanup_free char *path = kc_xasprintf("/proc/%d/stat", (int)pid);
	cleanup_free char *stat = ah_read(path);
	const char *p = stat ? strrchr(stat, ')') : NULL;

	return !stat || (p && p[1] == ' ' && p[2] == 'Z');
}

/* A child (the test) starts an agent with o and aborts; the agent must go. */
static void agent_dies_with_aborted_test(const struct ah_agent_opts *o)
{
	struct started s = { 0 };
	int fds[2], wstatus;
	pid_t test;

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	test = fork();
	assert_true(test >= 0);
	if (test == 0) {
		struct ah_agent a = { 0 };

		ah_agent_start(&a, o);
		s.agent = a.pid;
		memcpy(s.dir, a.dir, sizeof(s.dir));
		if (write(fds[1], &s, sizeof(s)) != (ssize_t)sizeof(s))
			_exit(1);
		/* A test that crashes: no teardown, no SIGTERM to the agent. */
		signal(SIGABRT, SIG_DFL);
		abort();
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &s, sizeof(s)), (ssize_t)sizeof(s));
	close(fds[0]);
	assert_int_equal(waitpid(test, &wstatus, 0), test);
	assert_true(WIFSIGNALED(wstatus));
	assert_int_equal(WTERMSIG(wstatus), SIGABRT);
	/* A hang guard, not a timing assertion: SIGKILL is delivered at
	 * once, the reaping by init takes what it takes. */
	for (int i = 0; i < AH_GUARD_S * 20 && !gone(s.agent); i++)
		usleep(50000);
	if (!gone(s.agent))
		fail_msg("the agent %d outlived its test", (int)s.agent);
	ah_rm_tree(s.dir);
}

static void test_agent_dies_with_an_aborted_test(void **state)
{
	(void)state;
	agent_dies_with_aborted_test(NULL);
}

static char ns[64];

/* Removes the namespace also when the test failed. */
static int del_ns(void **state)
{
	(void)state;
	ah_netns_del(ns);
	return 0;
}

/* Under `ip netns exec`, which execs the agent: the signal still holds. */
static void test_agent_in_a_netns_dies_with_an_aborted_test(void **state)
{
	(void)state;
	snprintf(ns, sizeof(ns), "kc-testharness-%d", (int)getpid());
	free(ah_sh("ip netns add %s", ns));
	agent_dies_with_aborted_test(&(struct ah_agent_opts){ .netns = ns });
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_dies_with_an_aborted_test),
		cmocka_unit_test_teardown(test_agent_in_a_netns_dies_with_an_aborted_test, del_ns),
	};

	return cmocka_run_group_tests_name("agent-harness", tests, NULL, NULL);
}
