/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hooks that take their time do not stall the agent: while a container's
 * createRuntime, startContainer, poststart or poststop hooks run, the
 * health check and calls on another container are answered at once, and
 * the hooked call is answered after its hooks.  A hook past its timeout is
 * killed with what it started and fails its call naming it; a container
 * removed while its hooks run takes them with it, and so does a caller
 * giving up on its CreateContainer.  DestroySandbox runs the poststop
 * hooks on the loop too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "lib/util.h"

/* "Promptly", generously: the machine running the tests may be loaded. */
#define PROMPT_MS 1500

static uint64_t ms_since(uint64_t t0)
{
	return (kc_monotonic_ns() - t0) / 1000000;
}

/* Fails unless `what` took less than PROMPT_MS since t0. */
static void assert_prompt(const char *what, uint64_t t0)
{
	uint64_t ms = ms_since(t0);

	if (ms >= PROMPT_MS) {
		print_message("# %s took %llu ms (%d allowed)\n", what, (unsigned long long)ms,
			      PROMPT_MS);
		fail();
	}
}

/* A hook of the agent's (run on the host's /bin/sh) that sleeps s. */
#define SLEEP_HOOK(s) "{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",\"exec sleep " s "\"]}"

/* While one call waits on its hooks: the health check and a whole
 * container's life on another id answer promptly. */
static void others_are_served(const char *other)
{
	cleanup_free char *s = h_spec("[\"echo\",\"meanwhile\"]", NULL, NULL, NULL);
	cleanup_free char *out = NULL;
	uint64_t t0 = kc_monotonic_ns();
	int status;

	ah_check_health(H);
	assert_prompt("Health.Check", t0);
	t0 = kc_monotonic_ns();
	out = h_run_output(other, s, &status);
	assert_string_equal(out, "meanwhile\n");
	assert_int_equal(status, 0);
	assert_prompt("another container's whole life", t0);
}

/* Starts method on container id and checks the others are served while it
 * is held; returns how long it took, asserting it succeeded. */
static uint64_t held_call(const char *method, const ProtobufCMessage *req, const char *other)
{
	struct ah_answer a;
	uint64_t t0 = kc_monotonic_ns(), took;

	ah_start_call(H, method, req, &a);
	/* Give it time to reach its hook. */
	ah_pump(H, 200);
	assert_false(a.done);
	others_are_served(other);
	assert_false(a.done);
	ah_wait(H, &a);
	took = ms_since(t0);
	if (a.code != 0)
		print_message("# %s: %s\n", method, a.message);
	assert_int_equal(a.code, 0);
	ah_answer_free(&a);
	return took;
}

static void test_slow_hooks_do_not_block(void **state)
{
	cleanup_free char *s = h_spec(
		"[\"sleep\",\"1040\"]", NULL, NULL,
		",\"hooks\":{\"createRuntime\":[" SLEEP_HOOK(
			"2.0401") "],"
				  "\"startContainer\":[{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",\"sleep 2\"]}],"
				  "\"poststart\":[" SLEEP_HOOK(
					  "2.0402") "],"
						    "\"poststop\":[" SLEEP_HOOK("2.0403") "]}");
	Grpc__CreateContainerRequest cr = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	Grpc__StartContainerRequest sr = GRPC__START_CONTAINER_REQUEST__INIT;
	Grpc__RemoveContainerRequest rr = GRPC__REMOVE_CONTAINER_REQUEST__INIT;
	uint64_t took;

	(void)state;
	cr.container_id = cr.exec_id = (char *)"c-slowhooks";
	cr.oci_spec_json.data = (uint8_t *)s;
	cr.oci_spec_json.len = strlen(s);
	took = held_call("CreateContainer", &cr.base, "c-meanwhile1");
	print_message("# CreateContainer with a 2 s createRuntime hook: %llu ms\n",
		      (unsigned long long)took);
	assert_true(took >= 1900);
	/* Hooks and their order: the createRuntime one is gone, the init
	 * waits to be started. */
	assert_false(ah_process_running("sleep", "2.0401"));
	sr.container_id = (char *)"c-slowhooks";
	took = held_call("StartContainer", &sr.base, "c-meanwhile2");
	print_message("# StartContainer with 2 s startContainer and poststart hooks: %llu ms\n",
		      (unsigned long long)took);
	/* The start waited for both: the one in the container, then the
	 * agent's poststart. */
	assert_true(took >= 3900);
	assert_true(ah_process_running("sleep", "1040"));
	assert_int_equal(h_signal("c-slowhooks", "c-slowhooks", 9), 0);
	assert_int_equal(h_wait_status("c-slowhooks", ""), 137);
	rr.container_id = (char *)"c-slowhooks";
	took = held_call("RemoveContainer", &rr.base, "c-meanwhile3");
	print_message("# RemoveContainer with a 2 s poststop hook: %llu ms\n",
		      (unsigned long long)took);
	assert_true(took >= 1900);
	assert_false(ah_process_running("sleep", "2.0403"));
	h_check_clean();
}

/* Waits up to 2 s for no process `a0 a1` to be left. */
static bool gone(const char *a0, const char *a1)
{
	for (int i = 0; i < 200 && ah_process_running(a0, a1); i++)
		usleep(10000);
	return !ah_process_running(a0, a1);
}

/* A hook past its timeout is killed, with what it started, and fails its
 * call naming the hook; the agent served others meanwhile. */
static void test_hook_timeout(void **state)
{
	cleanup_free char *s = h_spec(
		"[\"true\"]", NULL, NULL,
		",\"hooks\":{\"createRuntime\":[{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\","
		"\"sleep 1041 & exec sleep 1042\"],\"timeout\":2}]}");
	Grpc__CreateContainerRequest cr = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	struct ah_answer a;
	uint64_t t0 = kc_monotonic_ns();

	(void)state;
	cr.container_id = cr.exec_id = (char *)"c-hooktimeout";
	cr.oci_spec_json.data = (uint8_t *)s;
	cr.oci_spec_json.len = strlen(s);
	ah_start_call(H, "CreateContainer", &cr.base, &a);
	ah_pump(H, 300);
	assert_true(ah_process_running("sleep", "1042"));
	others_are_served("c-meanwhile4");
	ah_wait(H, &a);
	print_message("# %s (after %llu ms)\n", a.message, (unsigned long long)ms_since(t0));
	assert_int_not_equal(a.code, 0);
	assert_non_null(strstr(a.message, "container `c-hooktimeout`: hook createRuntime[0] "
					  "`/bin/sh` timed out after 2 s"));
	ah_answer_free(&a);
	assert_true(ms_since(t0) >= 1900);
	/* The hook and the process it left in the background. */
	assert_true(gone("sleep", "1042"));
	assert_true(gone("sleep", "1041"));
	/* The id is free again: the failed container is gone. */
	assert_int_equal(h_remove("c-hooktimeout", 0), 5);
	h_check_clean();
}

/* RemoveContainer while CreateContainer waits on a hook: the create fails
 * (ABORTED), the hook is killed, the remove succeeds. */
static void test_remove_during_hook(void **state)
{
	cleanup_free char *s = h_spec("[\"true\"]", NULL, NULL,
				      ",\"hooks\":{\"prestart\":[" SLEEP_HOOK("1043") "]}");
	Grpc__CreateContainerRequest cr = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	struct ah_answer a;

	(void)state;
	cr.container_id = cr.exec_id = (char *)"c-hookremoved";
	cr.oci_spec_json.data = (uint8_t *)s;
	cr.oci_spec_json.len = strlen(s);
	ah_start_call(H, "CreateContainer", &cr.base, &a);
	ah_pump(H, 300);
	assert_true(ah_process_running("sleep", "1043"));
	assert_int_equal(h_remove("c-hookremoved", 5), 0);
	ah_wait(H, &a);
	print_message("# %s\n", a.message);
	assert_int_equal(a.code, 10);
	assert_non_null(strstr(a.message, "c-hookremoved"));
	ah_answer_free(&a);
	assert_true(gone("sleep", "1043"));
	h_check_clean();
}

/* Two RemoveContainer while the poststop hook runs: both answered once it
 * ran (the second neither restarts nor stops the removal). */
static void test_remove_twice_during_poststop(void **state)
{
	cleanup_free char *s = h_spec("[\"true\"]", NULL, NULL,
				      ",\"hooks\":{\"poststop\":[" SLEEP_HOOK("1.0405") "]}");
	Grpc__RemoveContainerRequest rr = GRPC__REMOVE_CONTAINER_REQUEST__INIT;
	struct ah_answer a1, a2;

	(void)state;
	h_run("c-twice", s);
	assert_int_equal(h_wait_status("c-twice", ""), 0);
	rr.container_id = (char *)"c-twice";
	ah_start_call(H, "RemoveContainer", &rr.base, &a1);
	ah_pump(H, 200);
	assert_true(ah_process_running("sleep", "1.0405"));
	ah_start_call(H, "RemoveContainer", &rr.base, &a2);
	ah_wait(H, &a1);
	ah_wait(H, &a2);
	assert_int_equal(a1.code, 0);
	assert_int_equal(a2.code, 0);
	ah_answer_free(&a1);
	ah_answer_free(&a2);
	assert_int_equal(h_remove("c-twice", 0), 5);
	h_check_clean();
}

/* A caller that gives up on CreateContainer (its connection closed) while
 * a hook runs: the hook is killed and the container dropped, not left as
 * one nobody knows to remove. */
static void test_create_cancelled(void **state)
{
	cleanup_free char *s = h_spec("[\"true\"]", NULL, NULL,
				      ",\"hooks\":{\"createRuntime\":[" SLEEP_HOOK("1044") "]}");
	Grpc__CreateContainerRequest cr = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	struct ah_conn other = { 0 };
	struct ah_answer a;

	(void)state;
	cr.container_id = cr.exec_id = (char *)"c-hookcancel";
	cr.oci_spec_json.data = (uint8_t *)s;
	cr.oci_spec_json.len = strlen(s);
	ah_conn_dial(&other, h.agent.uri, h.agent.pid);
	ah_start_call(&other, "CreateContainer", &cr.base, &a);
	ah_pump(&other, 300);
	assert_true(ah_process_running("sleep", "1044"));
	ah_conn_close(&other);
	ah_answer_free(&a);
	assert_true(gone("sleep", "1044"));
	/* Dropped: the id is unknown, and free for a new container. */
	assert_int_equal(h_remove("c-hookcancel", 0), 5);
	h_check_clean();
}

/* DestroySandbox waits for the containers' poststop hooks on the loop:
 * the health check is answered meanwhile, new containers are refused,
 * and the answer comes after the hooks.  (Last: the sandbox is made
 * again for the group's teardown.) */
static void test_destroy_sandbox_hooks(void **state)
{
	cleanup_free char *s = h_spec("[\"sleep\",\"1045\"]", NULL, NULL,
				      ",\"hooks\":{\"poststop\":[" SLEEP_HOOK("2.0406") "]}");
	cleanup_free char *s2 = h_spec("[\"true\"]", NULL, NULL, NULL);
	cleanup_free char *msg = NULL, *sbid = kc_xasprintf("sb-hooks-again-%d", (int)getpid());
	Grpc__DestroySandboxRequest dr = GRPC__DESTROY_SANDBOX_REQUEST__INIT;
	Grpc__CreateSandboxRequest sb = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	struct ah_answer a;
	uint64_t t0, t1;

	(void)state;
	h_run("c-destroyhooks", s);
	t0 = kc_monotonic_ns();
	ah_start_call(H, "DestroySandbox", &dr.base, &a);
	ah_pump(H, 300);
	assert_false(a.done);
	assert_false(ah_process_running("sleep", "1045"));
	assert_true(ah_process_running("sleep", "2.0406"));
	t1 = kc_monotonic_ns();
	ah_check_health(H);
	assert_prompt("Health.Check during DestroySandbox", t1);
	assert_int_equal(h_create("c-late", s2, &msg), 9);
	assert_non_null(strstr(msg, "is being destroyed"));
	ah_wait(H, &a);
	assert_int_equal(a.code, 0);
	ah_answer_free(&a);
	print_message("# DestroySandbox with a 2 s poststop hook: %llu ms\n",
		      (unsigned long long)ms_since(t0));
	assert_true(ms_since(t0) >= 1900);
	assert_false(ah_process_running("sleep", "2.0406"));
	sb.sandbox_id = sbid;
	assert_int_equal(ah_call0(H, "CreateSandbox", &sb.base), 0);
	h_check_clean();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slow_hooks_do_not_block),
		cmocka_unit_test(test_hook_timeout),
		cmocka_unit_test(test_remove_during_hook),
		cmocka_unit_test(test_remove_twice_during_poststop),
		cmocka_unit_test(test_create_cancelled),
		cmocka_unit_test(test_destroy_sandbox_hooks),
	};

	h_filter_from_env();
	return cmocka_run_group_tests(tests, h_setup, h_teardown);
}
