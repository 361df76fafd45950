/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bad specs and failing setups: each a precise error from CreateContainer,
 * StartContainer or ExecProcess, with nothing left behind and the agent
 * serving on; path escapes refused; then the sandbox's shared pid
 * namespace.
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

static void expect_create_error(const char *spec, int code, const char *want)
{
	cleanup_free char *msg = NULL;
	int got = h_create("c-bad", spec, &msg);

	/* code -1: any failure (hooks fail with their own status). */
	if (code < 0)
		assert_int_not_equal(got, 0);
	else
		assert_int_equal(got, code);
	if (!strstr(msg, want))
		fail_msg("message `%s` lacks `%s`", msg, want);
	h_check_clean();
}

static void test_bad_specs(void **state)
{
	static const struct {
		const char *proc, *lnx, *top, *want;
		int code;
	} cases[] = {
		{ ",\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1,\"hard\":1},"
		  "{\"type\":\"RLIMIT_CORE\",\"soft\":1,\"hard\":1},{\"type\":\"RLIMIT_FOO\","
		  "\"soft\":1,\"hard\":1}]",
		  NULL, NULL, "process.rlimits[2].type: unknown rlimit \"RLIMIT_FOO\"" },
		{ ",\"capabilities\":{\"bounding\":[\"CAP_NOPE\"]}", NULL, NULL,
		  "process.capabilities.bounding[0]: unknown capability \"CAP_NOPE\"" },
		{ NULL, ",\"resources\":{\"memory\":{\"limit\":-100}}", NULL,
		  "linux.resources.memory.limit: -100 is below the smallest allowed value -1" },
		{ ",\"user\":{\"uid\":\"root\"}", NULL, NULL,
		  "process.user.uid: must be an id from 0 to 2147483647" },
		{ ",\"terminal\":1", NULL, NULL, "process.terminal: must be true or false" },
		{ NULL, ",\"seccomp\":{\"defaultAction\":\"SCMP_ACT_PERHAPS\"}", NULL,
		  "linux.seccomp.defaultAction: unknown seccomp action \"SCMP_ACT_PERHAPS\"" },
		{ NULL, NULL, ",\"mounts\":{}", "mounts: must be an array" },
		{ NULL, NULL, ",\"mounts\":[{\"destination\":\"/x\",\"type\":\"kcnosuchfs\"}]",
		  "mounts[0]: mount kcnosuchfs on `/x`: No such device" },
		{ NULL, NULL,
		  ",\"mounts\":[{\"destination\":\"/x\",\"type\":\"bind\","
		  "\"source\":\"/no/such/dir\",\"options\":[\"rbind\"]}]",
		  "mounts[0]: bind source `/no/such/dir` of `/x`: No such file or directory" },
		{ NULL, NULL, ",\"hostname\":7", "hostname: must be a string" },
		{ NULL, "\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"pid\"}]",
		  ",\"hostname\":\"h\"", "hostname: needs a uts namespace of its own" },
		{ NULL, "\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"user\"}]", NULL,
		  "linux.uidMappings and gidMappings: needed with a user namespace" },
		{ NULL,
		  "\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"network\","
		  "\"path\":\"/no/such/netns\"}]",
		  NULL, "open namespace `/no/such/netns`: No such file or directory" },
		{ NULL, ",\"devices\":[{\"path\":\"/dev/x\",\"type\":\"z\",\"major\":1,\"minor\":1}]",
		  NULL, "linux.devices[0].type: \"z\" is not a device type" },
		{ NULL, NULL,
		  ",\"hooks\":{\"createRuntime\":[{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\","
		  "\"echo broken >&2; exit 3\"]}]}",
		  "hook createRuntime[0] `/bin/sh` failed with status 3: broken", -1 },
		{ NULL, NULL,
		  ",\"hooks\":{\"createContainer\":[{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\","
		  "\"sleep 1031\"],\"timeout\":1}]}",
		  "hook createContainer[0] `/bin/sh` timed out after 1 s", -1 },
		{ NULL, NULL, ",\"hooks\":{\"prestart\":[{\"path\":\"/no/such/hook\"}]}",
		  "hook prestart[0] `/no/such/hook` failed with status 127: exec: No such file", -1 },
	};

	(void)state;
	for (size_t i = 0; i < KC_ARRAY_SIZE(cases); i++) {
		cleanup_free char *s = h_spec("[\"true\"]", cases[i].proc, cases[i].lnx,
					      cases[i].top);

		expect_create_error(s, cases[i].code ? cases[i].code : 3, cases[i].want);
	}
	expect_create_error("{\"process\": [", 3, "oci spec:1:");
	expect_create_error("", 3, "oci spec: empty");
	assert_false(ah_process_running("sleep", "1031"));
}

/* A mount destination may not leave the rootfs, by ".." or by a symlink;
 * nothing is created outside it. */
static void test_path_escapes(void **state)
{
	cleanup_free char *abs_link = h_path("rootfs/escape-abs");
	cleanup_free char *rel_link = h_path("rootfs/escape-rel");
	cleanup_free char *outside = h_path("outside");
	cleanup_free char *outside_x = h_path("outside/x");
	static const struct {
		const char *dest, *want;
	} cases[] = {
		{ "/../outside/x", "destination `/../outside/x`: \"..\" is not allowed" },
		{ "/tmp/../../x", "\"..\" is not allowed" },
		{ "/escape-abs/x",
		  "destination `/escape-abs/x`: `escape-abs` leads out of the rootfs" },
		{ "/escape-rel/x",
		  "destination `/escape-rel/x`: `escape-rel` leads out of the rootfs" },
	};

	(void)state;
	assert_int_equal(mkdir(outside, 0755), 0);
	assert_int_equal(symlink(outside, abs_link), 0);
	assert_int_equal(symlink("../outside", rel_link), 0);
	for (size_t i = 0; i < KC_ARRAY_SIZE(cases); i++) {
		cleanup_free char *top = kc_xasprintf(
			",\"mounts\":[{\"destination\":\"%s\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}]",
			cases[i].dest);
		cleanup_free char *s = h_spec("[\"true\"]", NULL, NULL, top);

		expect_create_error(s, 3, cases[i].want);
		assert_int_equal(access(outside_x, F_OK), -1);
	}
	/* A spec device through the symlink: refused the same way. */
	{
		cleanup_free char *s = h_spec("[\"true\"]", NULL,
					      ",\"devices\":[{\"path\":\"/escape-abs/null\",\"type\":"
					      "\"c\",\"major\":1,\"minor\":3}]",
					      NULL);

		expect_create_error(s, 3, "leads out of the rootfs");
	}
	unlink(abs_link);
	unlink(rel_link);
}

/* s with its first `from` replaced by `to`. */
static char *replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);

	assert_non_null(at);
	return kc_xasprintf("%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
}

static void test_start_errors(void **state)
{
	cleanup_free char *s = h_spec("[\"true\"]", NULL, NULL,
				      ",\"hooks\":{\"startContainer\":[{\"path\":\"/bin/sh\","
				      "\"args\":[\"sh\",\"-c\",\"exit 5\"]}]}");
	cleanup_free char *s2 = h_spec("[\"/no/such/binary\"]", NULL, NULL, NULL);
	cleanup_free char *base = h_spec("[\"true\"]", NULL, NULL, NULL);
	cleanup_free char *s3 = replace(base, "\"cwd\":\"/\"", "\"cwd\":\"/no/such/dir\"");
	cleanup_free char *msg = NULL, *msg2 = NULL, *msg3 = NULL;

	(void)state;
	assert_int_equal(h_create("c-hookfail", s, NULL), 0);
	assert_int_not_equal(h_start("c-hookfail", &msg), 0);
	assert_non_null(strstr(msg, "hook startContainer[0] `/bin/sh` failed with status 5"));
	assert_int_equal(h_wait_status("c-hookfail", ""), 127);
	assert_int_equal(h_remove("c-hookfail", 0), 0);

	assert_int_equal(h_create("c-nobin", s2, NULL), 0);
	assert_int_not_equal(h_start("c-nobin", &msg2), 0);
	assert_non_null(strstr(msg2, "exec `/no/such/binary`: No such file or directory"));
	assert_int_equal(h_wait_status("c-nobin", ""), 127);
	assert_int_equal(h_remove("c-nobin", 0), 0);

	assert_int_equal(h_create("c-nocwd", s3, NULL), 0);
	assert_int_not_equal(h_start("c-nocwd", &msg3), 0);
	assert_non_null(strstr(msg3, "chdir to cwd `/no/such/dir`"));
	assert_int_equal(h_remove("c-nocwd", 0), 0);
	h_check_clean();
}

static void test_exec_and_signal_errors(void **state)
{
	cleanup_free char *s = h_spec("[\"sleep\",\"1030\"]", NULL, NULL, NULL);
	cleanup_free char *m1 = NULL, *m2 = NULL, *m3 = NULL;

	(void)state;
	h_run("c-errs", s);
	assert_int_equal(h_exec("c-errs", "e1", "{\"args\":[]}", &m1), 3);
	assert_string_equal(m1, "exec `e1` in container `c-errs`: process.args: is empty");
	assert_int_equal(h_exec("c-errs", "e2", "not json", &m2), 3);
	assert_non_null(strstr(m2, "oci process:1:"));
	assert_int_equal(h_exec("nope", "e3", "{\"args\":[\"true\"]}", &m3), 5);
	assert_int_equal(h_signal("c-errs", "", 0), 3);
	assert_int_equal(h_signal("c-errs", "", 99), 3);
	assert_int_equal(h_signal("c-errs", "no-such-exec", 9), 5);
	assert_int_equal(h_remove("c-errs", 0), 0);
	assert_false(ah_process_running("sleep", "1030"));
	h_check_clean();
}

/* A pod whose containers share the pause process's pid namespace. */
static void test_sandbox_pidns(void **state)
{
	Grpc__DestroySandboxRequest d = GRPC__DESTROY_SANDBOX_REQUEST__INIT;
	Grpc__CreateSandboxRequest c = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	Grpc__CreateContainerRequest req = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	cleanup_free char *s1 = h_spec("[\"sleep\",\"1040\"]", NULL, NULL, NULL);
	cleanup_free char *s2 = h_spec(
		"[\"sh\",\"-c\",\"cat /proc/1/comm; cat /proc/[0-9]*/comm\"]", NULL, NULL,
		",\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"}]");
	cleanup_free char *out = NULL, *msg = NULL;
	const char *ids[] = { "c-pod-a", "c-pod-b" };
	const char *specs[] = { s1, s2 };

	(void)state;
	/* Asking for the sandbox's namespace when there is none: no pause
	 * process and no container yet. */
	assert_int_equal(ah_call0(H, "DestroySandbox", &d.base), 0);
	c.sandbox_id = (char *)"sb-empty";
	assert_int_equal(ah_call0(H, "CreateSandbox", &c.base), 0);
	req.container_id = (char *)"c-pod-x";
	req.exec_id = (char *)"c-pod-x";
	req.oci_spec_json.data = (uint8_t *)s1;
	req.oci_spec_json.len = strlen(s1);
	req.sandbox_pidns = true;
	assert_int_equal(ah_call0(H, "CreateContainer", &req.base), 3);

	assert_int_equal(ah_call0(H, "DestroySandbox", &d.base), 0);
	c.sandbox_id = (char *)"sb-pidns";
	c.sandbox_pidns = true;
	assert_int_equal(ah_call0(H, "CreateSandbox", &c.base), 0);
	for (int i = 0; i < 2; i++) {
		req.container_id = (char *)ids[i];
		req.exec_id = (char *)ids[i];
		req.oci_spec_json.data = (uint8_t *)specs[i];
		req.oci_spec_json.len = strlen(specs[i]);
		assert_int_equal(ah_call0(H, "CreateContainer", &req.base), 0);
		assert_int_equal(h_start(ids[i], &msg), 0);
	}
	out = h_read_all("c-pod-b", "", false, NULL);
	assert_int_equal(strncmp(out, "pause\n", 6), 0);
	/* Container b sees container a's process. */
	assert_non_null(strstr(out, "sleep"));
	assert_int_equal(h_wait_status("c-pod-b", ""), 0);
	/* Exec into a container of the shared namespace. */
	assert_int_equal(h_exec("c-pod-a", "e1",
				"{\"args\":[\"kc-test-init\",\"exit\",\"3\"],\"cwd\":\"/\"}", NULL),
			 0);
	assert_int_equal(h_wait_status("c-pod-a", "e1"), 3);
	assert_int_equal(h_remove("c-pod-b", 0), 0);
	assert_true(ah_process_running("sleep", "1040"));
	assert_int_equal(h_remove("c-pod-a", 0), 0);
	assert_false(ah_process_running("sleep", "1040"));
	/* DestroySandbox ends the pause process (and the fd count is back). */
	assert_int_equal(ah_call0(H, "DestroySandbox", &d.base), 0);
	c.sandbox_pidns = false;
	c.sandbox_id = (char *)"sb-after";
	assert_int_equal(ah_call0(H, "CreateSandbox", &c.base), 0);
	h_check_clean();
}

/*
 * CRI's pod: the sandbox container (the first created) has its own pid,
 * ipc and uts namespaces and the pod's hostname; a container created with
 * sandbox_pidns, sandbox_ipcns and sandbox_utsns shares them (it sees the
 * sandbox's process, its hostname and its ipc namespace), one created
 * without gets new ones.  Once the sandbox container is gone, asking for
 * its namespaces is an error that names it.
 */
static void test_sandbox_container_ns(void **state)
{
	Grpc__DestroySandboxRequest d = GRPC__DESTROY_SANDBOX_REQUEST__INIT;
	Grpc__CreateSandboxRequest c = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	Grpc__CreateContainerRequest req = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	const char *proc = ",\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\","
			   "\"source\":\"proc\"}]";
	cleanup_free char *infra = h_spec("[\"sleep\",\"1050\"]", NULL, NULL,
					  ",\"hostname\":\"kc-pod-host\"");
	/* No pid, ipc or uts entry: they come from the sandbox. */
	cleanup_free char *shared = h_spec(
		"[\"sh\",\"-c\",\"hostname; cat /proc/[0-9]*/cmdline | tr '\\\\0' ' '; echo; "
		"readlink /proc/self/ns/ipc\"]",
		NULL, "\"namespaces\":[{\"type\":\"mount\"}]", proc);
	cleanup_free char *own = h_spec(
		"[\"sh\",\"-c\",\"hostname; cat /proc/[0-9]*/cmdline | tr '\\\\0' ' '; echo; "
		"readlink /proc/self/ns/ipc\"]",
		NULL, NULL, proc);
	cleanup_free char *out = NULL, *out2 = NULL, *msg = NULL, *ipc = NULL;
	char buf[64];
	ssize_t n;

	(void)state;
	assert_int_equal(ah_call0(H, "DestroySandbox", &d.base), 0);
	c.sandbox_id = (char *)"sb-infra";
	assert_int_equal(ah_call0(H, "CreateSandbox", &c.base), 0);
	assert_int_equal(h_create("c-infra", infra, &msg), 0);
	assert_int_equal(h_start("c-infra", &msg), 0);

	req.container_id = (char *)"c-shared";
	req.exec_id = (char *)"c-shared";
	req.oci_spec_json.data = (uint8_t *)shared;
	req.oci_spec_json.len = strlen(shared);
	req.sandbox_pidns = req.sandbox_ipcns = req.sandbox_utsns = true;
	assert_int_equal(ah_call0(H, "CreateContainer", &req.base), 0);
	assert_int_equal(h_start("c-shared", &msg), 0);
	out = h_read_all("c-shared", "", false, NULL);
	assert_int_equal(h_wait_status("c-shared", ""), 0);
	{
		cleanup_free char *p = NULL;

		/* The sandbox container's ipc namespace, as the host sees it. */
		p = kc_xasprintf("/proc/%d/ns/ipc", (int)ah_find_process("sleep", "1050"));
		n = readlink(p, buf, sizeof(buf) - 1);
		assert_true(n > 0);
		buf[n] = 0;
		ipc = kc_xstrdup(buf);
	}
	assert_int_equal(strncmp(out, "kc-pod-host\n", 12), 0);
	assert_non_null(strstr(out, "sleep 1050"));
	assert_non_null(strstr(out, ipc));

	assert_int_equal(h_create("c-own", own, &msg), 0);
	assert_int_equal(h_start("c-own", &msg), 0);
	out2 = h_read_all("c-own", "", false, NULL);
	assert_int_equal(h_wait_status("c-own", ""), 0);
	assert_null(strstr(out2, "kc-pod-host"));
	assert_null(strstr(out2, "sleep 1050"));
	assert_null(strstr(out2, ipc));

	/* A hostname needs a uts namespace of the container's own. */
	cleanup_free char *named = h_spec("[\"true\"]", NULL,
					  "\"namespaces\":[{\"type\":\"mount\"}]",
					  ",\"hostname\":\"x\"");
	req.container_id = (char *)"c-named";
	req.exec_id = (char *)"c-named";
	req.oci_spec_json.data = (uint8_t *)named;
	req.oci_spec_json.len = strlen(named);
	assert_int_equal(ah_call0(H, "CreateContainer", &req.base), 3);

	assert_int_equal(h_remove("c-shared", 0), 0);
	assert_int_equal(h_remove("c-own", 0), 0);
	assert_int_equal(h_remove("c-infra", 0), 0);
	req.container_id = (char *)"c-late";
	req.exec_id = (char *)"c-late";
	req.oci_spec_json.data = (uint8_t *)shared;
	req.oci_spec_json.len = strlen(shared);
	assert_int_equal(ah_call0(H, "CreateContainer", &req.base), 5);
	assert_int_equal(ah_call0(H, "DestroySandbox", &d.base), 0);
	c.sandbox_id = (char *)"sb-after2";
	assert_int_equal(ah_call0(H, "CreateSandbox", &c.base), 0);
	h_check_clean();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_specs),     cmocka_unit_test(test_path_escapes),
		cmocka_unit_test(test_start_errors),  cmocka_unit_test(test_exec_and_signal_errors),
		cmocka_unit_test(test_sandbox_pidns), cmocka_unit_test(test_sandbox_container_ns),
	};

	h_filter_from_env();
	return cmocka_run_group_tests(tests, h_setup, h_teardown);
}
