/* SPDX-License-Identifier: Apache-2.0 */
/* The OCI spec parser: a full config.json, then each kind of bad input
 * with the exact field its message must name. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "lib/util.h"
#include "oci/spec.h"

static struct kc_oci_spec *load(const char *name)
{
	cleanup_free char *path = kc_xasprintf("%s/oci/%s", KC_TEST_DATA, name);
	cleanup_free char *buf = NULL;
	cleanup_error kc_error_t err = NULL;
	struct kc_oci_spec *s = NULL;
	size_t len;

	assert_int_equal(kc_read_file(path, 1 << 20, &buf, &len, NULL), 0);
	if (kc_oci_spec_parse(buf, len, &s, &err) < 0)
		fail_msg("%s: %s", name, err->msg);
	return s;
}

static void test_full(void **state)
{
	cleanup_oci_spec struct kc_oci_spec *s = load("full.json");
	struct kc_oci_process *p = s->process;
	bool found_ro = false;

	(void)state;
	assert_string_equal(s->oci_version, "1.0.2-dev");
	assert_string_equal(p->args[0], "sh");
	assert_true(p->terminal);
	assert_int_equal(p->console_width, 80);
	assert_int_equal(p->user.n_additional_gids, 2);
	assert_int_equal(p->user.additional_gids[1], 20);
	assert_true(p->user.has_umask);
	assert_int_equal(p->user.umask, 022);
	assert_true(p->has_caps);
	assert_true(p->caps[KC_OCI_CAP_BOUNDING] & (1ull << kc_oci_cap_from_name("CAP_KILL")));
	assert_false(p->caps[KC_OCI_CAP_BOUNDING] & (1ull << kc_oci_cap_from_name("CAP_SYS_ADMIN")));
	assert_int_equal(p->n_rlimits, 2);
	assert_int_equal(p->rlimits[0].resource, RLIMIT_NOFILE);
	assert_int_equal(p->rlimits[1].soft, 50);
	assert_true(p->no_new_privileges);
	assert_int_equal(p->oom_score_adj, 10);
	assert_string_equal(s->root_path, "rootfs");
	assert_true(s->root_readonly);
	assert_string_equal(s->hostname, "kc-test");
	assert_true(s->n_mounts >= 7);
	for (size_t i = 0; i < s->n_mounts; i++) {
		struct kc_oci_mount *m = &s->mounts[i];

		if (strcmp(m->destination, "/data") == 0) {
			assert_true(m->bind);
			assert_true(m->recursive);
			assert_true(m->flags & MS_RDONLY);
			assert_int_equal(m->propagation, MS_PRIVATE | MS_REC);
			found_ro = true;
		}
		if (strcmp(m->destination, "/dev") == 0) {
			assert_string_equal(m->type, "tmpfs");
			assert_true(m->flags & MS_NOSUID);
			assert_true(m->flags & MS_STRICTATIME);
			assert_string_equal(m->data, "mode=755,size=65536k");
		}
	}
	assert_true(found_ro);
	assert_int_equal(s->n_hooks[KC_OCI_HOOK_POSTSTART], 1);
	assert_int_equal(s->hooks[KC_OCI_HOOK_POSTSTART][0].timeout, 5);
	assert_string_equal(s->hooks[KC_OCI_HOOK_POSTSTART][0].args[1], "x");
	assert_int_equal(s->n_hooks[KC_OCI_HOOK_CREATE_CONTAINER], 1);
	assert_null(s->hooks[KC_OCI_HOOK_CREATE_CONTAINER][0].args[0]);
	assert_string_equal(s->annotation_keys[0], "io.kubernetes.cri.container-type");
	assert_int_equal(s->lnx.n_namespaces, 6);
	assert_int_equal(s->lnx.namespaces[5].type, CLONE_NEWNET);
	assert_string_equal(s->lnx.namespaces[5].path, "/var/run/netns/x");
	assert_int_equal(s->lnx.n_devices, 1);
	assert_int_equal(s->lnx.devices[0].minor, 229);
	assert_int_equal(s->lnx.devices[0].mode, 0666);
	assert_true(s->lnx.resources.has_memory_limit);
	assert_int_equal(s->lnx.resources.memory_limit, 104857600);
	assert_int_equal(s->lnx.resources.memory_swap, -1);
	assert_int_equal(s->lnx.resources.cpu_quota, -1);
	assert_string_equal(s->lnx.resources.cpus, "0-1");
	assert_int_equal(s->lnx.resources.pids_limit, 100);
	assert_int_equal(s->lnx.rootfs_propagation, MS_SLAVE | MS_REC);
	assert_non_null(s->lnx.masked_paths[0]);
	assert_non_null(s->lnx.readonly_paths[0]);
	assert_string_equal(s->lnx.sysctl_values[0], "1");
	assert_non_null(s->lnx.seccomp);
	assert_int_equal(s->lnx.seccomp->default_action, KC_OCI_SCMP_ALLOW);
	assert_int_equal(s->lnx.seccomp->n_rules, 2);
	assert_int_equal(s->lnx.seccomp->rules[0].errno_ret, 1);
	assert_int_equal(s->lnx.seccomp->rules[1].args[0].op, KC_OCI_SCMP_CMP_EQ);
}

static void test_minimal(void **state)
{
	cleanup_oci_spec struct kc_oci_spec *s = load("minimal.json");

	(void)state;
	assert_string_equal(s->process->cwd, "/");
	assert_null(s->process->env[0]);
	assert_false(s->process->has_caps);
	assert_int_equal(s->lnx.n_namespaces, 0);
	assert_null(s->lnx.masked_paths[0]);
	assert_null(s->lnx.seccomp);
}

/* A document built from the minimal one: `process` and `linux` are JSON
 * members spliced in. */
static void expect_error(const char *json, const char *msg)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_oci_spec *s = NULL;

	if (kc_oci_spec_parse(json, strlen(json), &s, &err) == 0) {
		kc_oci_spec_free(s);
		fail_msg("accepted: %s", json);
	}
	assert_non_null(err);
	assert_int_equal(err->status, 22);
	if (strcmp(err->msg, msg) != 0)
		fail_msg("for %s\n  got      %s\n  expected %s", json, err->msg, msg);
}

#define P(x) "{\"process\":{\"args\":[\"sh\"]," x "},\"root\":{\"path\":\"/r\"}}"
#define L(x) "{\"process\":{\"args\":[\"sh\"]},\"linux\":{" x "}}"

static void test_errors(void **state)
{
	static const struct {
		const char *json, *msg;
	} cases[] = {
		{ "", "oci spec: empty" },
		{ "[]", "oci spec: not a JSON object" },
		{ "{\"process\":3}", "process: must be an object" },
		{ "{\"process\":{}}", "process.args: is missing" },
		{ "{\"process\":{\"args\":[]}}", "process.args: is empty" },
		{ "{\"process\":{\"args\":[\"a\",1]}}", "process.args[1]: must be a string" },
		{ "{\"process\":{\"args\":\"sh\"}}", "process.args: must be an array" },
		{ "{\"process\":{\"args\":[\"a\\u0000b\"]}}",
		  "oci spec:1:30: invalid JSON: \\u0000 is not allowed without JSON_ALLOW_NUL "
		  "near '\"a\\u0000b\"'" },
		{ P("\"cwd\":\"tmp\""), "process.cwd: \"tmp\" is not an absolute path" },
		{ P("\"terminal\":\"yes\""), "process.terminal: must be true or false" },
		{ P("\"env\":[\"NOEQUALS\"]"), "process.env[0]: \"NOEQUALS\" is not NAME=VALUE" },
		{ P("\"user\":{\"uid\":-1}"),
		  "process.user.uid: must be an id from 0 to 2147483647" },
		{ P("\"user\":{\"uid\":\"0\"}"),
		  "process.user.uid: must be an id from 0 to 2147483647" },
		{ P("\"user\":{\"additionalGids\":[1,\"x\"]}"),
		  "process.user.additionalGids[1]: must be an id from 0 to 2147483647" },
		/* (uid_t)-1 would leave the process root: runc's range. */
		{ P("\"user\":{\"uid\":4294967295}"),
		  "process.user.uid: must be an id from 0 to 2147483647" },
		{ P("\"user\":{\"uid\":2147483648}"),
		  "process.user.uid: must be an id from 0 to 2147483647" },
		{ P("\"user\":{\"uid\":0,\"gid\":4294967295}"),
		  "process.user.gid: must be an id from 0 to 2147483647" },
		{ P("\"user\":{\"additionalGids\":[1,4294967295]}"),
		  "process.user.additionalGids[1]: must be an id from 0 to 2147483647" },
		{ P("\"user\":{\"umask\":4096}"), "process.user.umask: 010000 is not a umask" },
		{ P("\"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_FOO\"]}"),
		  "process.capabilities.bounding[1]: unknown capability \"CAP_FOO\"" },
		{ P("\"capabilities\":{\"ambient\":\"CAP_KILL\"}"),
		  "process.capabilities.ambient: must be an array" },
		{ P("\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1,\"hard\":2},"
		    "{\"type\":\"RLIMIT_CORE\",\"soft\":1,\"hard\":2},"
		    "{\"type\":\"RLIMIT_FOO\",\"soft\":1,\"hard\":2}]"),
		  "process.rlimits[2].type: unknown rlimit \"RLIMIT_FOO\"" },
		{ P("\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":3,\"hard\":2}]"),
		  "process.rlimits[0]: soft limit 3 above hard limit 2" },
		{ P("\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":-3,\"hard\":2}]"),
		  "process.rlimits[0].soft: must be a non-negative integer" },
		{ P("\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":2}]"),
		  "process.rlimits[0].soft: missing" },
		{ P("\"oomScoreAdj\":1001"), "process.oomScoreAdj: 1001 is above 1000" },
		{ P("\"consoleSize\":{\"height\":1.5}"),
		  "process.consoleSize.height: must be an integer from 0 to 4294967295" },
		{ "{\"root\":{\"path\":7}}", "root.path: must be a string" },
		{ "{\"root\":{\"path\":\"/r\",\"readonly\":1}}",
		  "root.readonly: must be true or false" },
		{ "{\"hostname\":[]}", "hostname: must be a string" },
		{ "{\"mounts\":[{\"destination\":\"/a\",\"type\":\"tmpfs\"},{\"type\":\"tmpfs\"}]}",
		  "mounts[1].destination: missing" },
		{ "{\"mounts\":[{\"destination\":\"a\",\"type\":\"tmpfs\"}]}",
		  "mounts[0].destination: \"a\" is not an absolute path" },
		{ "{\"mounts\":[{\"destination\":\"/a\",\"source\":\"/b\"}]}",
		  "mounts[0].type: missing, and the mount is no bind mount" },
		{ "{\"mounts\":[{\"destination\":\"/a\",\"type\":\"bind\",\"source\":\"b\"}]}",
		  "mounts[0].source: a bind mount needs an absolute source" },
		{ "{\"mounts\":[{\"destination\":\"/a\",\"type\":\"tmpfs\",\"options\":[\"a,b\"]}]}",
		  "mounts[0].options[0]: \"a,b\" is not a mount option" },
		{ "{\"mounts\":[{\"destination\":\"/a\",\"type\":\"../x\"}]}",
		  "mounts[0].type: \"../x\" is not a filesystem type" },
		{ "{\"hooks\":{\"poststop\":[{\"path\":\"rel\"}]}}",
		  "hooks.poststop[0].path: \"rel\" is not an absolute path" },
		{ "{\"hooks\":{\"poststart\":[{\"path\":\"/x\",\"timeout\":0}]}}",
		  "hooks.poststart[0].timeout: 0 is below the smallest allowed value 1" },
		{ "{\"annotations\":{\"a\":1}}", "annotations.a: must be a string" },
		{ L("\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"bogus\"}]"),
		  "linux.namespaces[1].type: unknown namespace \"bogus\"" },
		{ L("\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"pid\"}]"),
		  "linux.namespaces[1].type: namespace \"pid\" given twice" },
		{ L("\"namespaces\":[{\"type\":\"network\",\"path\":\"netns\"}]"),
		  "linux.namespaces[0].path: \"netns\" is not an absolute path" },
		{ L("\"uidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":0}]"),
		  "linux.uidMappings[0].size: must not be 0" },
		{ L("\"uidMappings\":[{\"containerID\":0,\"hostID\":4294967295,\"size\":1}]"),
		  "linux.uidMappings[0].size: the range reaches past id 4294967294" },
		{ L("\"gidMappings\":[{\"containerID\":4294967294,\"hostID\":0,\"size\":2}]"),
		  "linux.gidMappings[0].size: the range reaches past id 4294967294" },
		{ L("\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":4096}"),
		  "linux.seccomp.defaultErrnoRet: 4096 is not an errno (0 to 4095)" },
		{ L("\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
		    "[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":70000}]}"),
		  "linux.seccomp.syscalls[0].errnoRet: 70000 is not an errno (0 to 4095)" },
		{ L("\"devices\":[{\"path\":\"/dev/x\",\"type\":\"q\"}]"),
		  "linux.devices[0].type: \"q\" is not a device type (c, b, u or p)" },
		{ L("\"devices\":[{\"path\":\"/dev/x\",\"type\":\"c\",\"major\":1}]"),
		  "linux.devices[0].minor: missing" },
		{ L("\"resources\":{\"memory\":{\"limit\":-5}}"),
		  "linux.resources.memory.limit: -5 is below the smallest allowed value -1" },
		{ L("\"resources\":{\"memory\":{\"limit\":\"1G\"}}"),
		  "linux.resources.memory.limit: must be an integer" },
		{ L("\"resources\":{\"memory\":{\"swappiness\":101}}"),
		  "linux.resources.memory.swappiness: 101 is above 100" },
		{ L("\"resources\":{\"cpu\":{\"shares\":-1}}"),
		  "linux.resources.cpu.shares: must be a non-negative integer" },
		{ L("\"resources\":{\"pids\":{\"limit\":-2}}"),
		  "linux.resources.pids.limit: -2 is below the smallest allowed value -1" },
		{ L("\"resources\":{\"devices\":[{\"allow\":true,\"access\":\"rwx\"}]}"),
		  "linux.resources.devices[0].access: \"rwx\" is not made of r, w and m" },
		{ L("\"resources\":{\"unified\":{\"../x\":\"1\"}}"),
		  "linux.resources.unified: \"../x\" is not a cgroup file" },
		{ L("\"rootfsPropagation\":\"sideways\""),
		  "linux.rootfsPropagation: unknown propagation \"sideways\"" },
		{ L("\"maskedPaths\":[\"proc/kcore\"]"),
		  "linux.maskedPaths[0]: \"proc/kcore\" is not an absolute path" },
		{ L("\"sysctl\":{\"../../x\":\"1\"}"),
		  "linux.sysctl: \"../../x\" is not a sysctl name" },
		{ L("\"seccomp\":{}"), "linux.seccomp.defaultAction: missing" },
		{ L("\"seccomp\":{\"defaultAction\":\"SCMP_ACT_MAYBE\"}"),
		  "linux.seccomp.defaultAction: unknown seccomp action \"SCMP_ACT_MAYBE\"" },
		{ L("\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
		    "[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":9,\"value\":0,"
		    "\"op\":\"SCMP_CMP_EQ\"}]}]}"),
		  "linux.seccomp.syscalls[0].args[0].index: 9 is not a syscall argument (0-5)" },
		{ L("\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
		    "[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":0,"
		    "\"op\":\"SCMP_CMP_ABOUT\"}]}]}"),
		  "linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator \"SCMP_CMP_ABOUT\"" },
		{ L("\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[],"
		    "\"action\":\"SCMP_ACT_ERRNO\"}]}"),
		  "linux.seccomp.syscalls[0].names: missing or empty" },
		{ L("\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"x86\"]}"),
		  "linux.seccomp.architectures[0]: unknown architecture \"x86\"" },
	};

	(void)state;
	for (size_t i = 0; i < KC_ARRAY_SIZE(cases); i++)
		expect_error(cases[i].json, cases[i].msg);
}

/* Unknown fields are tolerated; null is an absent field. */
static void test_tolerant(void **state)
{
	const char *json = "{\"process\":{\"args\":[\"sh\"],\"newThing\":{\"a\":[1]},"
			   "\"cwd\":null,\"user\":{\"uid\":5,\"username\":\"x\"}},"
			   "\"linux\":{\"seccomp\":null,\"intelRdt\":{},\"personality\":{}},"
			   "\"vm\":{\"hypervisor\":{}},\"future\":true}";
	cleanup_oci_spec struct kc_oci_spec *s = NULL;
	cleanup_error kc_error_t err = NULL;

	(void)state;
	assert_int_equal(kc_oci_spec_parse(json, strlen(json), &s, &err), 0);
	assert_string_equal(s->process->cwd, "/");
	assert_int_equal(s->process->user.uid, 5);
	assert_null(s->lnx.seccomp);
}

static void test_process_and_resources(void **state)
{
	cleanup_free char *path = kc_xasprintf("%s/oci/process.json", KC_TEST_DATA);
	cleanup_free char *buf = NULL;
	cleanup_error kc_error_t err = NULL;
	struct kc_oci_process *p = NULL;
	struct kc_oci_resources r;
	size_t len;

	(void)state;
	assert_int_equal(kc_read_file(path, 1 << 20, &buf, &len, NULL), 0);
	assert_int_equal(kc_oci_process_parse(buf, len, &p, &err), 0);
	assert_string_equal(p->args[0], "sh");
	kc_oci_process_free(p);
	assert_true(kc_oci_process_parse("{\"args\":[]}", 11, &p, &err) < 0);
	assert_string_equal(err->msg, "process.args: is empty");
	kc_error_free(&err);
	/* ExecProcess's process: the same id range as the container's. */
	{
		const char *bad = "{\"args\":[\"id\"],\"user\":{\"uid\":4294967295,\"gid\":0}}";
		const char *top = "{\"args\":[\"id\"],\"user\":{\"uid\":2147483647,"
				  "\"gid\":2147483647,\"additionalGids\":[2147483647]}}";

		assert_true(kc_oci_process_parse(bad, strlen(bad), &p, &err) < 0);
		assert_string_equal(err->msg,
				    "process.user.uid: must be an id from 0 to 2147483647");
		kc_error_free(&err);
		assert_int_equal(kc_oci_process_parse(top, strlen(top), &p, &err), 0);
		assert_int_equal(p->user.uid, 2147483647);
		assert_int_equal(p->user.additional_gids[0], 2147483647);
		kc_oci_process_free(p);
	}
	assert_int_equal(kc_oci_resources_parse("{\"memory\":{\"limit\":1000}}", 25, &r, &err), 0);
	assert_int_equal(r.memory_limit, 1000);
	kc_oci_resources_clear(&r);
	assert_true(kc_oci_resources_parse("{\"memory\":{\"limit\":-9}}", 23, &r, &err) < 0);
	assert_string_equal(err->msg,
			    "resources.memory.limit: -9 is below the smallest allowed value -1");
}

static void test_names(void **state)
{
	(void)state;
	assert_int_equal(kc_oci_cap_from_name("CAP_CHOWN"), 0);
	assert_int_equal(kc_oci_cap_from_name("CAP_SYS_ADMIN"), 21);
	assert_int_equal(kc_oci_cap_from_name("CAP_CHECKPOINT_RESTORE"), 40);
	assert_int_equal(kc_oci_cap_from_name("cap_chown"), -1);
	assert_string_equal(kc_oci_cap_name(40), "CAP_CHECKPOINT_RESTORE");
	assert_null(kc_oci_cap_name(41));
	assert_int_equal(kc_oci_rlimit_from_name("RLIMIT_STACK"), RLIMIT_STACK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_tolerant),
		cmocka_unit_test(test_process_and_resources),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
