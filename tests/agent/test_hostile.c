/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hostile input to the agent (issue 13): ids that are paths, newlines or
 * 100 KB; a uid of 4294967295; sysctls outside the container's
 * namespaces; seccomp filters libseccomp refuses; an image whose /dev/null
 * is a symlink.  Each is refused with an error naming what was wrong, and
 * a witness container started first keeps answering execs throughout.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "lib/util.h"
#include "ttrpc/ttrpc.h"

#define PROC_MOUNT "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"}"
#define WITNESS "c-witness"

/* The witness still runs execs and answers with their output. */
static void witness_ok(void)
{
	static int n;
	char eid[32];
	cleanup_free char *out = NULL;

	snprintf(eid, sizeof(eid), "w%d", n++);
	assert_int_equal(h_exec(WITNESS, eid, "{\"args\":[\"echo\",\"alive\"],\"cwd\":\"/\"}", NULL),
			 0);
	out = h_read_all(WITNESS, eid, false, NULL);
	assert_string_equal(out, "alive\n");
	free(out);
	/* Both streams to their end: the agent then forgets the exec. */
	out = h_read_all(WITNESS, eid, true, NULL);
	assert_string_equal(out, "");
	assert_int_equal(h_wait_status(WITNESS, eid), 0);
}

static int setup(void **state)
{
	cleanup_free char *s = NULL;

	if (h_setup(state) < 0)
		return -1;
	s = h_spec("[\"sleep\",\"1050\"]", NULL, NULL, NULL);
	h_run(WITNESS, s);
	/* What h_check_clean() compares with: the witness included. */
	h.base_fds = ah_count_fds(h.agent.pid);
	h.base_mounts = ah_count_mounts(h.agent.dir);
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(h_remove(WITNESS, 0), 0);
	assert_false(ah_process_running("sleep", "1050"));
	return h_teardown(state);
}

static void expect_create_error(const char *id, const char *spec, const char *want)
{
	cleanup_free char *msg = NULL;
	int got = h_create(id, spec, &msg);

	if (got != KC_TTRPC_INVALID_ARGUMENT || !msg || !strstr(msg, want))
		fail_msg("CreateContainer %s: got %d `%s`, want %d `%s`", id, got,
			 msg ? msg : "(ok)", KC_TTRPC_INVALID_ARGUMENT, want);
	print_message("# %s\n", msg);
	h_check_clean();
	witness_ok();
}

/* ---- ids (defect 14) ---- */

/* A request of the method's own type with its id fields set by name:
 * every method the agent has that takes one gets the same treatment. */
static int call_with_ids(const char *method, const char *cid, const char *eid, const char *sid,
			 char **msg)
{
	const ProtobufCServiceDescriptor *svc = &grpc__agent_service__descriptor;
	const ProtobufCMethodDescriptor *m = protobuf_c_service_descriptor_get_method_by_name(
		svc, method);
	const char *names[] = { "container_id", "exec_id", "sandbox_id" };
	const char *vals[] = { cid, eid, sid };
	cleanup_free void *req = NULL;
	struct ah_answer a;
	int code;

	assert_non_null(m);
	req = kc_xzalloc(m->input->sizeof_message);
	protobuf_c_message_init(m->input, req);
	for (size_t i = 0; i < KC_ARRAY_SIZE(names); i++) {
		const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(
			m->input, names[i]);

		if (f && vals[i])
			*(const char **)(void *)((char *)req + f->offset) = vals[i];
	}
	code = ah_call(H, method, req, &a);
	*msg = code ? kc_steal_ptr(&a.message) : NULL;
	ah_answer_free(&a);
	return code;
}

static bool has_field(const char *method, const char *field)
{
	const ProtobufCMethodDescriptor *m = protobuf_c_service_descriptor_get_method_by_name(
		&grpc__agent_service__descriptor, method);

	return protobuf_c_message_descriptor_get_field_by_name(m->input, field) != NULL;
}

static void test_bad_ids(void **state)
{
	static const char *const methods[] = {
		"CreateContainer", "StartContainer", "RemoveContainer", "ExecProcess",
		"SignalProcess",   "WaitProcess",    "ReadStdout",	"ReadStderr",
		"WriteStdin",	   "CloseStdin",     "TtyWinResize",	"ListProcesses",
		"UpdateContainer", "StatsContainer", "PauseContainer",	"ResumeContainer",
	};
	cleanup_free char *huge = kc_xzalloc(100 * 1024 + 1);
	struct {
		const char *id, *shown;
	} bad[] = {
		{ "../../..", "`../../..`" },
		{ "a\nb", "`a\\x0ab`" },
		{ "", "is empty" },
		{ "-lead", "`-lead`" },
		{ "a b", "`a b`" },
		{ "a/b", "`a/b`" },
		{ "a`b\\", "`a\\x60b\\x5c`" },
		{ huge, "... (102400 bytes)" },
	};

	(void)state;
	memset(huge, 'a', 100 * 1024);
	for (size_t i = 0; i < KC_ARRAY_SIZE(bad); i++) {
		for (size_t k = 0; k < KC_ARRAY_SIZE(methods); k++) {
			cleanup_free char *m1 = NULL, *m2 = NULL;
			int code;

			/* A bad container id. */
			code = call_with_ids(methods[k], bad[i].id, "", NULL, &m1);
			if (code != KC_TTRPC_INVALID_ARGUMENT || !strstr(m1, "container_id") ||
			    !strstr(m1, bad[i].shown) || strlen(m1) > 512)
				fail_msg("%s with container_id #%zu: %d `%s`", methods[k], i, code,
					 m1 ? m1 : "(ok)");
			/* A bad exec id, with a good container id (the
			 * witness, or a new one for CreateContainer); the
			 * empty exec id names the init process. */
			if (!bad[i].id[0] || !has_field(methods[k], "exec_id"))
				continue;
			code = call_with_ids(methods[k],
					     strcmp(methods[k], "CreateContainer") == 0 ? "c-eid"
											: WITNESS,
					     bad[i].id, NULL, &m2);
			if (code != KC_TTRPC_INVALID_ARGUMENT || !strstr(m2, "exec_id") ||
			    !strstr(m2, bad[i].shown))
				fail_msg("%s with exec_id #%zu: %d `%s`", methods[k], i, code,
					 m2 ? m2 : "(ok)");
		}
		/* The sandbox exists: a good id would be ALREADY_EXISTS. */
		{
			cleanup_free char *m = NULL;
			int code = call_with_ids("CreateSandbox", NULL, NULL, bad[i].id, &m);

			if (code != KC_TTRPC_INVALID_ARGUMENT || !strstr(m, "sandbox_id") ||
			    !strstr(m, bad[i].shown))
				fail_msg("CreateSandbox with sandbox_id #%zu: %d `%s`", i, code,
					 m ? m : "(ok)");
		}
	}
	h_check_clean();
	witness_ok();
}

/* What containerd, CRI, ctr and the shim send still works. */
static void test_good_ids(void **state)
{
	static const char *const cids[] = {
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"x",
		"my_container.v2-1",
	};
	static const char *const eids[] = {
		"fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
		"1",
		"exec-probe_3.sh",
	};
	cleanup_free char *s = h_spec("[\"sleep\",\"1051\"]", NULL, NULL, NULL);

	(void)state;
	for (size_t i = 0; i < KC_ARRAY_SIZE(cids); i++) {
		h_run(cids[i], s);
		for (size_t k = 0; k < KC_ARRAY_SIZE(eids); k++) {
			assert_int_equal(h_exec(cids[i], eids[k],
						"{\"args\":[\"true\"],\"cwd\":\"/\"}", NULL),
					 0);
			assert_int_equal(h_wait_status(cids[i], eids[k]), 0);
		}
		assert_int_equal(h_remove(cids[i], 0), 0);
	}
	assert_false(ah_process_running("sleep", "1051"));
	h_check_clean();
	witness_ok();
}

/* ---- user ids (defect 3) ---- */

static void test_uid_range(void **state)
{
	static const struct {
		const char *user, *want;
	} cases[] = {
		{ "{\"uid\":4294967295,\"gid\":0}",
		  "process.user.uid: must be an id from 0 to 2147483647" },
		{ "{\"uid\":0,\"gid\":4294967295}",
		  "process.user.gid: must be an id from 0 to 2147483647" },
		{ "{\"uid\":2147483648,\"gid\":0}",
		  "process.user.uid: must be an id from 0 to 2147483647" },
		{ "{\"uid\":1000,\"gid\":1000,\"additionalGids\":[4294967295]}",
		  "process.user.additionalGids[0]: must be an id from 0 to 2147483647" },
	};

	(void)state;
	for (size_t i = 0; i < KC_ARRAY_SIZE(cases); i++) {
		cleanup_free char *proc = kc_xasprintf(",\"user\":%s", cases[i].user);
		cleanup_free char *s = h_spec("[\"id\"]", proc, NULL, NULL);
		cleanup_free char *p = kc_xasprintf("{\"args\":[\"id\"],\"cwd\":\"/\",\"user\":%s}",
						    cases[i].user);
		cleanup_free char *msg = NULL;
		int code;

		expect_create_error("c-uid", s, cases[i].want);
		/* ExecProcess, into the running witness. */
		code = h_exec(WITNESS, "e-uid", p, &msg);
		if (code != KC_TTRPC_INVALID_ARGUMENT || !strstr(msg, cases[i].want)) {
			if (code == 0)
				print_message("# it ran as: %s\n",
					      h_read_all(WITNESS, "e-uid", false, NULL));
			fail_msg("ExecProcess with user %s: %d `%s`", cases[i].user, code,
				 msg ? msg : "(ok)");
		}
		witness_ok();
	}
	h_check_clean();
}

/* ---- sysctls (defect 5) ---- */

/* The host's current value, so that an agent that wrongly writes it
 * changes nothing. */
static char *host_sysctl(const char *path)
{
	char *v = ah_read(path);

	v[strcspn(v, "\n")] = '\0';
	/* ping_group_range's two numbers: a JSON string holds no tab. */
	for (char *c = v; *c; c++)
		if (*c == '\t')
			*c = ' ';
	return v;
}

static void test_sysctls(void **state)
{
	cleanup_free char *ratio = host_sysctl("/proc/sys/vm/overcommit_ratio");
	cleanup_free char *panic = host_sysctl("/proc/sys/kernel/panic");
	cleanup_free char *ping = host_sysctl("/proc/sys/net/ipv4/ping_group_range");
	const char *own_ns = "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},"
			     "{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"network\"}]";
	const char *no_ipc = "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"}]";
	struct {
		const char *lnx;
		char *sysctl;
		const char *want;
	} bad[] = {
		{ NULL, kc_xasprintf("\"vm.overcommit_ratio\":\"%s\"", ratio),
		  "linux.sysctl: `vm.overcommit_ratio` is not in a namespace of the container" },
		{ NULL, kc_xasprintf("\"kernel.panic\":\"%s\"", panic),
		  "linux.sysctl: `kernel.panic` is not in a namespace of the container" },
		/* The agent shares the host's network namespace here. */
		{ NULL, kc_xasprintf("\"net.ipv4.ping_group_range\":\"%s\"", ping),
		  "linux.sysctl: `net.ipv4.ping_group_range` needs a network namespace of the "
		  "container's own" },
		{ no_ipc, kc_xstrdup("\"kernel.msgmax\":\"4321\""),
		  "linux.sysctl: `kernel.msgmax` needs an ipc namespace of the container's own" },
		{ no_ipc, kc_xstrdup("\"kernel.domainname\":\"x\""),
		  "linux.sysctl: `kernel.domainname` needs a uts namespace of the container's own" },
	};

	(void)state;
	for (size_t i = 0; i < KC_ARRAY_SIZE(bad); i++) {
		cleanup_free char *lnx = kc_xasprintf("%s%s\"sysctl\":{%s}",
						      bad[i].lnx ? bad[i].lnx : "",
						      bad[i].lnx ? "," : ",", bad[i].sysctl);
		cleanup_free char *s = h_spec("[\"true\"]", NULL, lnx,
					      ",\"mounts\":[" PROC_MOUNT "]");

		expect_create_error("c-sysctl", s, bad[i].want);
		free(bad[i].sysctl);
	}
	/* In namespaces of its own: written, and seen inside. */
	{
		cleanup_free char *lnx = kc_xasprintf(
			"%s,\"sysctl\":{\"net.ipv4.ping_group_range\":\"0 7\","
			"\"kernel.shmmni\":\"123\",\"fs.mqueue.msg_max\":\"17\","
			"\"kernel.domainname\":\"kc-dom\"}",
			own_ns);
		cleanup_free char *s = h_spec(
			"[\"sh\",\"-c\",\"kc-test-init read /proc/sys/net/ipv4/ping_group_range; "
			"kc-test-init read /proc/sys/kernel/shmmni; "
			"kc-test-init read /proc/sys/fs/mqueue/msg_max; "
			"kc-test-init read /proc/sys/kernel/domainname\"]",
			NULL, lnx, ",\"mounts\":[" PROC_MOUNT "]");
		cleanup_free char *out = NULL, *after = NULL;
		int status;

		out = h_run_output("c-sysctl-ok", s, &status);
		assert_int_equal(status, 0);
		assert_string_equal(out, "0\t7\n123\n17\nkc-dom\n");
		after = host_sysctl("/proc/sys/net/ipv4/ping_group_range");
		assert_string_equal(after, ping);
	}
	h_check_clean();
	witness_ok();
}

/* ---- seccomp at CreateContainer (defect 12) ---- */

static void test_seccomp_at_create(void **state)
{
	static const struct {
		const char *seccomp, *want;
	} bad[] = {
		{ "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\","
		  "\"SCMP_ARCH_NOPE\"]}",
		  "linux.seccomp.architectures[1]: architecture `SCMP_ARCH_NOPE` is unknown to "
		  "libseccomp" },
		{ "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
		  "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":70000}]}",
		  "linux.seccomp.syscalls[0].errnoRet: 70000 is not an errno (0 to 4095)" },
		{ "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":65536}",
		  "linux.seccomp.defaultErrnoRet: 65536 is not an errno (0 to 4095)" },
		{ "{\"defaultAction\":\"SCMP_ACT_SOMETIMES\"}",
		  "linux.seccomp.defaultAction: unknown seccomp action \"SCMP_ACT_SOMETIMES\"" },
		{ "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
		  "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":1,"
		  "\"op\":\"SCMP_CMP_ROUGHLY\"}]}]}",
		  "linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator" },
	};

	(void)state;
	for (size_t i = 0; i < KC_ARRAY_SIZE(bad); i++) {
		cleanup_free char *lnx = kc_xasprintf(",\"seccomp\":%s", bad[i].seccomp);
		cleanup_free char *s = h_spec("[\"true\"]", NULL, lnx, NULL);

		expect_create_error("c-seccomp", s, bad[i].want);
	}
	/* Names this libseccomp does not know are skipped, as runc does;
	 * the known ones apply. */
	{
		cleanup_free char *s = h_spec(
			"[\"sh\",\"-c\",\"mkdir /tmp/kc-sc 2>/dev/null || echo refused\"]", NULL,
			",\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":"
			"[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\"],\"syscalls\":[{\"names\":"
			"[\"kc_no_such_syscall\",\"mkdir\",\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\","
			"\"errnoRet\":1}]}",
			NULL);
		cleanup_free char *out = NULL;
		int status;

		out = h_run_output("c-seccomp-ok", s, &status);
		assert_string_equal(out, "refused\n");
		assert_int_equal(status, 0);
	}
	h_check_clean();
	witness_ok();
}

/* ---- masked paths and /dev/null (defect 4) ---- */

static void test_masked_dev_null(void **state)
{
	cleanup_free char *null = kc_xasprintf("%s/dev/null", h.rootfs);
	cleanup_free char *bait = kc_xasprintf("%s/tmp/kc-bait", h.rootfs);
	cleanup_free char *secret = kc_xasprintf("%s/etc/kc-masked", h.rootfs);
	cleanup_free char *s = h_spec("[\"sh\",\"-c\",\"echo \\\"[$(cat /etc/kc-masked)]\\\"\"]",
				      NULL, ",\"maskedPaths\":[\"/etc/kc-masked\"]", NULL);
	cleanup_free char *msg = NULL, *out = NULL;
	struct stat st;
	int code, status;

	(void)state;
	ah_write(secret, "secret\n");
	/* The real thing first: masked, the file reads empty. */
	out = h_run_output("c-mask", s, &status);
	assert_string_equal(out, "[]\n");
	assert_int_equal(status, 0);
	free(out);
	out = NULL;

	/* The image's /dev/null: a symlink to a file it controls. */
	assert_int_equal(lstat(null, &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(unlink(null), 0);
	ah_write(bait, "bait\n");
	assert_int_equal(symlink("/tmp/kc-bait", null), 0);
	code = h_create("c-mask-link", s, &msg);
	if (code == 0) {
		assert_int_equal(h_start("c-mask-link", NULL), 0);
		out = h_read_all("c-mask-link", "", false, NULL);
		h_wait_status("c-mask-link", "");
		assert_int_equal(h_remove("c-mask-link", 0), 0);
		fail_msg("a /dev/null symlink was used to mask: the masked file read `%s`", out);
	}
	assert_int_equal(code, KC_TTRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(msg, "mask `/etc/kc-masked`: /dev/null is a symlink"));
	print_message("# %s\n", msg);
	free(msg);
	msg = NULL;

	/* A regular file there instead: refused the same way. */
	assert_int_equal(unlink(null), 0);
	ah_write(null, "bait\n");
	code = h_create("c-mask-file", s, &msg);
	assert_int_equal(code, KC_TTRPC_INVALID_ARGUMENT);
	assert_non_null(strstr(msg, "mask `/etc/kc-masked`: /dev/null is not the null device"));
	free(msg);
	msg = NULL;
	assert_int_equal(unlink(null), 0);

	/* A masked path through a symlink is masked where the link leads
	 * inside the rootfs, never outside it. */
	{
		cleanup_free char *lnk = kc_xasprintf("%s/etc/kc-masked-link", h.rootfs);
		cleanup_free char *s2 = h_spec(
			"[\"sh\",\"-c\",\"echo \\\"[$(cat /etc/kc-masked)]\\\"\"]", NULL,
			",\"maskedPaths\":[\"/etc/kc-masked-link\"]", NULL);

		assert_int_equal(symlink("../../../../etc/kc-masked", lnk), 0);
		out = h_run_output("c-mask-via", s2, &status);
		assert_string_equal(out, "[]\n");
		assert_int_equal(unlink(lnk), 0);
	}
	assert_int_equal(unlink(bait), 0);
	assert_int_equal(unlink(secret), 0);
	h_check_clean();
	witness_ok();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_ids),		  cmocka_unit_test(test_good_ids),
		cmocka_unit_test(test_uid_range),	  cmocka_unit_test(test_sysctls),
		cmocka_unit_test(test_seccomp_at_create), cmocka_unit_test(test_masked_dev_null),
	};

	h_filter_from_env();
	return cmocka_run_group_tests(tests, setup, teardown);
}
