/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup v2 translation and file handling against a fake cgroup tree: a
 * temporary directory of regular files standing for the interface files a
 * kernel would offer.  A file that is absent stands for a controller that
 * is not enabled.  Each test makes its own cgroup directory.
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

#include "../unit/tmpdir.h"
#include "agent/cgroup/cgroup.h"
#include "lib/json.h"
#include "lib/util.h"

#define UNTOUCHED "untouched"

/* Every file a fully equipped cgroup has for the translation. */
static const char *const all_files[] = {
	"memory.max",	   "memory.low",
	"memory.swap.max", "memory.high",
	"cpu.weight",	   "cpu.max",
	"cpu.max.burst",   "cpu.idle",
	"cpuset.cpus",	   "cpuset.mems",
	"pids.max",	   "io.weight",
	"io.max",	   "hugetlb.2MB.max",
	"hugetlb.1GB.max", "hugetlb.1GB.rsvd.max",
	"cgroup.freeze",   NULL,
};

/* Makes tmpdir/name holding `files` (each "untouched") and opens it. */
static struct kc_cgroup *fake(const char *name, const char *const *files)
{
	cleanup_free char *dir = kc_xasprintf("%s/%s", tmpdir, name);
	cleanup_error kc_error_t err = NULL;
	struct kc_cgroup *cg = NULL;

	assert_int_equal(mkdir(dir, 0755), 0);
	for (size_t i = 0; files && files[i]; i++) {
		cleanup_free char *rel = kc_xasprintf("%s/%s", name, files[i]);

		free(tmpdir_write(rel, UNTOUCHED, 0644));
	}
	if (kc_cgroup_create(tmpdir, name, &cg, &err) < 0)
		fail_msg("%s", err->msg);
	return cg;
}

static char *slurp(struct kc_cgroup *cg, const char *file)
{
	cleanup_error kc_error_t err = NULL;
	char *buf = NULL;

	if (kc_cgroup_read(cg, file, &buf, &err) < 0)
		fail_msg("%s", err->msg);
	return buf;
}

static void assert_file(struct kc_cgroup *cg, const char *file, const char *want)
{
	cleanup_free char *got = slurp(cg, file);

	if (strcmp(got, want) != 0)
		fail_msg("%s: got `%s`, want `%s`", file, got, want);
}

/* Parses `json` (a LinuxResources object) and applies it to cg. */
static int apply(struct kc_cgroup *cg, const char *json, kc_error_t *err)
{
	cleanup_json json_t *j = NULL;
	struct kc_cgroup_resources *r = NULL;
	int ret;

	assert_int_equal(kc_json_parse(json, strlen(json), "test", &j, NULL), 0);
	ret = kc_cgroup_resources_parse(j, "linux.resources", &r, err);
	if (ret < 0)
		return ret;
	ret = kc_cgroup_resources_apply(cg, r, err);
	kc_cgroup_resources_free(r);
	return ret;
}

static void apply_ok(struct kc_cgroup *cg, const char *json)
{
	cleanup_error kc_error_t err = NULL;

	if (apply(cg, json, &err) < 0)
		fail_msg("%s: %s", json, err->msg);
}

/* ---- paths ---- */

static void path_ok(const char *spec, const char *id, const char *want)
{
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *got = NULL;

	if (kc_cgroup_path_from_spec(spec, id, &got, &err) < 0)
		fail_msg("`%s`: %s", spec ? spec : "(no cgroupsPath)", err->msg);
	assert_string_equal(got, want);
}

static void path_bad(const char *spec, const char *id, const char *why)
{
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *got = NULL;

	if (kc_cgroup_path_from_spec(spec, id, &got, &err) != -EINVAL)
		fail_msg("`%s` accepted as `%s`", spec, got);
	if (!strstr(err->msg, why))
		fail_msg("`%s`: `%s` lacks `%s`", spec, err->msg, why);
}

static void test_paths(void **state)
{
	(void)state;
	path_ok("/kubepods/pod1/c1", "c1", "kubepods/pod1/c1");
	path_ok("kubepods//pod1/./c1/", "c1", "kubepods/pod1/c1");
	path_ok(NULL, "c1", "kata/c1");
	path_ok("", "c1", "kata/c1");
	path_ok("system.slice:kata:c1", "c1", "system.slice/kata-c1.scope");
	path_ok(":kata:c1", "c1", "system.slice/kata-c1.scope");
	path_ok("user.slice::c1", "c1", "user.slice/c1.scope");

	path_bad("/kata/../../etc", "c1", "`..` is not allowed");
	path_bad("..", "c1", "`..` is not allowed");
	path_bad("a/..", "c1", "`..` is not allowed");
	path_bad("/", "c1", "root cgroup");
	path_bad("/./", "c1", "root cgroup");
	path_bad("a\nb", "c1", "control characters");
	path_bad("slice:only", "c1", "slice:prefix:name");
	path_bad("a:b:c:d", "c1", "slice:prefix:name");
	path_bad("..:x:c1", "c1", "`..` is not allowed");
	/* Dots inside a scope's name are only a name. */
	path_ok("a.slice:x:..", "c1", "a.slice/x-...scope");
	path_bad(NULL, "../x", "cannot name a cgroup");
	path_bad(NULL, "..", "cannot name a cgroup");
	path_bad(NULL, "", "cannot name a cgroup");
	path_bad(NULL, "a\tb", "cannot name a cgroup");
	path_bad(NULL, ".", "cannot name a cgroup");
}

/* ---- creation ---- */

static void test_create_enables_controllers(void **state)
{
	cleanup_free char *ctl = NULL, *sub = NULL, *leaf = NULL;
	cleanup_error kc_error_t err = NULL;
	struct kc_cgroup *cg = NULL;
	struct stat st;

	(void)state;
	free(tmpdir_write("cgroup.controllers", "cpu memory pids\n", 0644));
	free(tmpdir_write("cgroup.subtree_control", "cpu\n", 0644));
	assert_int_equal(kc_cgroup_create(tmpdir, "pod/c1", &cg, &err), 0);
	/* A fake file keeps only the last write: the last controller not yet
	 * enabled ("cpu" already was). */
	ctl = kc_xasprintf("%s/cgroup.subtree_control", tmpdir);
	{
		cleanup_free char *got = NULL;
		size_t len;

		assert_int_equal(kc_read_file(ctl, 4096, &got, &len, NULL), 0);
		assert_string_equal(got, "+pids");
	}
	unlink(ctl);
	sub = kc_xasprintf("%s/pod", tmpdir);
	leaf = kc_xasprintf("%s/pod/c1", tmpdir);
	assert_int_equal(stat(sub, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(stat(leaf, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_string_equal(cg->rel, "pod/c1");
	assert_string_equal(cg->path, leaf);
	/* No controllers below the root to enable (pod has no
	 * cgroup.controllers in the fake tree): nothing was created there. */
	free(ctl);
	ctl = kc_xasprintf("%s/pod/cgroup.subtree_control", tmpdir);
	assert_int_equal(stat(ctl, &st), -1);
	/* An existing cgroup is reused. */
	{
		struct kc_cgroup *again = NULL;

		assert_int_equal(kc_cgroup_create(tmpdir, "pod/c1", &again, &err), 0);
		kc_cgroup_free(again);
	}
	/* Destroy removes the (empty) directory and keeps the parent. */
	assert_int_equal(kc_cgroup_destroy(cg, &err), 0);
	assert_int_equal(stat(leaf, &st), -1);
	assert_int_equal(stat(sub, &st), 0);
	kc_cgroup_free(cg);
	free(ctl);
	ctl = kc_xasprintf("%s/cgroup.controllers", tmpdir);
	unlink(ctl);
}

static void test_create_errors(void **state)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_cgroup *cg = NULL;
	cleanup_free char *missing = kc_xasprintf("%s/no-such-root", tmpdir);
	char *file;

	(void)state;
	assert_true(kc_cgroup_create(missing, "a", &cg, &err) < 0);
	assert_non_null(strstr(err->msg, "no-such-root"));
	kc_error_free(&err);
	/* A regular file where a cgroup directory should be. */
	file = tmpdir_write("notadir", "x", 0644);
	free(file);
	assert_true(kc_cgroup_create(tmpdir, "notadir/c", &cg, &err) < 0);
	assert_non_null(strstr(err->msg, "notadir"));
	assert_null(cg);
	assert_false(kc_cgroup_is_cgroup2(tmpdir));
}

/* ---- translation ---- */

static void test_full_translation(void **state)
{
	struct kc_cgroup *cg = fake("full", all_files);

	(void)state;
	apply_ok(cg, "{\"memory\":{\"limit\":1073741824,\"reservation\":536870912,"
		     "\"swap\":2147483648,\"kernel\":-1,\"swappiness\":60},"
		     "\"cpu\":{\"shares\":1024,\"quota\":50000,\"period\":100000,"
		     "\"burst\":10000,\"idle\":1,\"cpus\":\"0-1\",\"mems\":\"0\"},"
		     "\"pids\":{\"limit\":100},"
		     "\"blockIO\":{\"weight\":500,"
		     "\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0,\"rate\":1048576}]},"
		     "\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":4194304},"
		     "{\"pageSize\":\"1GB\",\"limit\":0}],"
		     "\"unified\":{\"memory.high\":\"900000000\"},"
		     "\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]}");
	assert_file(cg, "memory.max", "1073741824");
	assert_file(cg, "memory.low", "536870912");
	/* OCI swap is memory+swap: v2's swap.max is the difference. */
	assert_file(cg, "memory.swap.max", "1073741824");
	/* runc: 1 + (1024 - 2) * 9999 / 262142. */
	assert_file(cg, "cpu.weight", "39");
	assert_file(cg, "cpu.max", "50000 100000");
	assert_file(cg, "cpu.max.burst", "10000");
	assert_file(cg, "cpu.idle", "1");
	assert_file(cg, "cpuset.cpus", "0-1");
	assert_file(cg, "cpuset.mems", "0");
	assert_file(cg, "pids.max", "100");
	/* No io.bfq.weight here: io.weight = 1 + (500 - 10) * 9999 / 990. */
	assert_file(cg, "io.weight", "4950");
	assert_file(cg, "io.max", "8:0 rbps=1048576");
	assert_file(cg, "hugetlb.2MB.max", "4194304");
	/* No hugetlb.2MB.rsvd.max here: skipped; 1GB has one. */
	assert_file(cg, "hugetlb.1GB.max", "0");
	assert_file(cg, "hugetlb.1GB.rsvd.max", "0");
	assert_file(cg, "memory.high", "900000000");
	/* Not touched by resources. */
	assert_file(cg, "cgroup.freeze", UNTOUCHED);
	kc_cgroup_free(cg);
}

static void test_translation_edges(void **state)
{
	static const char *const files[] = { "memory.max",    "memory.low", "cpu.max",
					     "cpu.weight",    "pids.max",   "io.max",
					     "io.bfq.weight", "io.weight",  NULL };
	static const char *const with_swap[] = { "memory.max", "memory.swap.max", NULL };
	struct kc_cgroup *cg = fake("edges", files), *sw = fake("swap", with_swap);

	(void)state;
	/* -1 is "max"; swap unset with an unlimited memory: swap.max is max
	 * too, and its absence (no swap accounting) is no error. */
	apply_ok(cg, "{\"memory\":{\"limit\":-1}}");
	assert_file(cg, "memory.max", "max");
	assert_file(cg, "memory.low", UNTOUCHED);
	apply_ok(sw, "{\"memory\":{\"limit\":-1}}");
	assert_file(sw, "memory.swap.max", "max");
	/* memory == swap: no swap at all. */
	apply_ok(sw, "{\"memory\":{\"limit\":1000000,\"swap\":1000000}}");
	assert_file(sw, "memory.swap.max", "0");
	assert_file(sw, "memory.max", "1000000");
	apply_ok(sw, "{\"memory\":{\"limit\":1000000,\"swap\":-1}}");
	assert_file(sw, "memory.swap.max", "max");
	/* Quota alone: period stays the kernel's; no quota: max. */
	apply_ok(cg, "{\"cpu\":{\"quota\":20000}}");
	assert_file(cg, "cpu.max", "20000");
	apply_ok(cg, "{\"cpu\":{\"quota\":-1,\"period\":50000}}");
	assert_file(cg, "cpu.max", "max 50000");
	/* The ends of the shares range are the ends of cpu.weight's. */
	apply_ok(cg, "{\"cpu\":{\"shares\":2}}");
	assert_file(cg, "cpu.weight", "1");
	apply_ok(cg, "{\"cpu\":{\"shares\":262144}}");
	assert_file(cg, "cpu.weight", "10000");
	/* runc: pids.limit 0 or negative is unlimited. */
	apply_ok(cg, "{\"pids\":{\"limit\":-1}}");
	assert_file(cg, "pids.max", "max");
	apply_ok(cg, "{\"pids\":{\"limit\":0}}");
	assert_file(cg, "pids.max", "max");
	/* BFQ present: its weight is the blkio value itself. */
	apply_ok(cg, "{\"blockIO\":{\"weight\":500}}");
	assert_file(cg, "io.bfq.weight", "500");
	assert_file(cg, "io.weight", UNTOUCHED);
	apply_ok(cg, "{\"blockIO\":{\"weightDevice\":[{\"major\":8,\"minor\":16,\"weight\":100}]}}");
	assert_file(cg, "io.bfq.weight", "8:16 100");
	apply_ok(cg, "{\"blockIO\":{\"throttleWriteIOPSDevice\":[{\"major\":8,\"minor\":0,"
		     "\"rate\":0}]}}");
	assert_file(cg, "io.max", "8:0 wiops=max");
	/* Nothing, null and empty objects write nothing. */
	apply_ok(cg, "{}");
	apply_ok(cg, "{\"memory\":null,\"cpu\":{},\"unified\":{}}");
	{
		struct kc_cgroup_resources *r = NULL;

		assert_int_equal(kc_cgroup_resources_parse(NULL, "x", &r, NULL), 0);
		assert_true(kc_cgroup_resources_empty(r));
		kc_cgroup_resources_free(r);
	}
	kc_cgroup_free(cg);
	kc_cgroup_free(sw);
}

/* Every impossible value: INVALID_ARGUMENT naming the field, and nothing
 * written (the valid memory limit in front of each must not land). */
static void test_bad_values(void **state)
{
	static const struct {
		const char *json, *want;
	} cases[] = {
		{ "\"memory\":{\"limit\":-5}", "linux.resources.memory.limit: -5 is impossible" },
		{ "\"memory\":{\"limit\":\"1G\"}",
		  "linux.resources.memory.limit: must be an integer" },
		{ "\"memory\":{\"reservation\":-2}", "linux.resources.memory.reservation: -2" },
		{ "\"memory\":{\"limit\":100,\"swap\":-3}", "linux.resources.memory.swap: -3" },
		{ "\"memory\":{\"swap\":1000}", "memory.swap: cannot limit swap without" },
		{ "\"memory\":{\"limit\":2000,\"swap\":1000}", "memory.swap: 1000 is below" },
		{ "\"memory\":[]", "linux.resources.memory: must be an object" },
		{ "\"cpu\":{\"shares\":1}", "linux.resources.cpu.shares: 1 is out of range" },
		{ "\"cpu\":{\"shares\":300000}",
		  "linux.resources.cpu.shares: 300000 is out of range" },
		{ "\"cpu\":{\"shares\":-4}", "linux.resources.cpu.shares: -4 is negative" },
		{ "\"cpu\":{\"quota\":500}", "linux.resources.cpu.quota: 500 is impossible" },
		{ "\"cpu\":{\"quota\":-2}", "linux.resources.cpu.quota: -2 is impossible" },
		{ "\"cpu\":{\"period\":100}", "linux.resources.cpu.period: 100 is out of range" },
		{ "\"cpu\":{\"period\":2000000}", "linux.resources.cpu.period: 2000000" },
		{ "\"cpu\":{\"realtimeRuntime\":1000}", "cpu.realtimeRuntime: real-time" },
		{ "\"cpu\":{\"realtimePeriod\":1000}", "cpu.realtimePeriod: real-time" },
		{ "\"cpu\":{\"idle\":2}", "linux.resources.cpu.idle: 2 is neither" },
		{ "\"cpu\":{\"cpus\":\"0-1;x\"}", "linux.resources.cpu.cpus: `0-1;x`" },
		{ "\"cpu\":{\"mems\":\"node0\"}", "linux.resources.cpu.mems: `node0`" },
		{ "\"cpu\":{\"cpus\":3}", "linux.resources.cpu.cpus: must be a string" },
		{ "\"pids\":{\"limit\":1.5}", "linux.resources.pids.limit: must be an integer" },
		{ "\"blockIO\":{\"weight\":5}", "linux.resources.blockIO.weight: 5 is out of range" },
		{ "\"blockIO\":{\"weight\":2000}", "blockIO.weight: 2000 is out of range" },
		{ "\"blockIO\":{\"weightDevice\":[{\"major\":8,\"minor\":0,\"weight\":1}]}",
		  "blockIO.weightDevice[].weight: 1 is out of range" },
		{ "\"blockIO\":{\"weightDevice\":[{\"minor\":0,\"weight\":100}]}",
		  "blockIO.weightDevice: entries need integer major and minor" },
		{ "\"blockIO\":{\"weightDevice\":{}}", "blockIO.weightDevice: must be an array" },
		{ "\"blockIO\":{\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0,\"rate\":-1}]}",
		  "blockIO.throttleReadBpsDevice: -1 is negative" },
		{ "\"blockIO\":{\"throttleWriteBpsDevice\":[{\"major\":-8,\"minor\":0,\"rate\":1}]}",
		  "blockIO.throttleWriteBpsDevice: device -8:0 is impossible" },
		{ "\"blockIO\":{\"throttleReadIOPSDevice\":[7]}",
		  "blockIO.throttleReadIOPSDevice: entries must be objects" },
		{ "\"hugepageLimits\":[{\"pageSize\":\"2XB\",\"limit\":1}]",
		  "hugepageLimits[].pageSize: `2XB` is not a page size" },
		{ "\"hugepageLimits\":[{\"pageSize\":\"../2MB\",\"limit\":1}]",
		  "hugepageLimits[].pageSize: `../2MB`" },
		{ "\"hugepageLimits\":[{\"limit\":1}]", "hugepageLimits[].pageSize: `` is not" },
		{ "\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":-1}]",
		  "hugepageLimits[].limit: -1 is negative" },
		{ "\"hugepageLimits\":{}", "linux.resources.hugepageLimits: must be an array" },
		{ "\"unified\":{\"../memory.max\":\"1\"}", "unified: key `../memory.max`" },
		{ "\"unified\":{\"a/memory.max\":\"1\"}", "unified: key `a/memory.max`" },
		{ "\"unified\":{\"memory\":\"1\"}", "unified: key `memory` is not" },
		{ "\"unified\":{\".max\":\"1\"}", "unified: key `.max` is not" },
		{ "\"unified\":{\"memory..max\":\"1\"}", "unified: key `memory..max`" },
		{ "\"unified\":{\"\":\"1\"}", "unified: key `` is not" },
		{ "\"unified\":{\"cgroup.procs\":\"1\"}", "`cgroup.procs` is managed by the agent" },
		{ "\"unified\":{\"cgroup.kill\":\"1\"}", "`cgroup.kill` is managed by the agent" },
		{ "\"unified\":{\"memory.high\":5}", "unified.memory.high: must be a string" },
		{ "\"unified\":[]", "linux.resources.unified: must be an object" },
	};
	struct kc_cgroup *cg = fake("bad", all_files);

	(void)state;
	for (size_t i = 0; i < KC_ARRAY_SIZE(cases); i++) {
		/* A valid pids limit first: it must not be written either. */
		cleanup_free char *json = kc_xasprintf("{\"pids\":{\"limit\":7},%s}", cases[i].json);
		cleanup_error kc_error_t err = NULL;

		if (strncmp(cases[i].json, "\"pids\"", 6) == 0) {
			free(json);
			json = kc_xasprintf("{%s}", cases[i].json);
		}
		assert_int_equal(apply(cg, json, &err), -EINVAL);
		assert_int_equal(err->status, EINVAL);
		if (!strstr(err->msg, cases[i].want))
			fail_msg("%s: `%s` lacks `%s`", json, err->msg, cases[i].want);
		assert_file(cg, "pids.max", UNTOUCHED);
		assert_file(cg, "memory.max", UNTOUCHED);
	}
	{
		cleanup_error kc_error_t err = NULL;
		struct kc_cgroup_resources *r = NULL;
		cleanup_json json_t *j = json_array();

		assert_int_equal(kc_cgroup_resources_parse(j, "resources", &r, &err), -EINVAL);
		assert_string_equal(err->msg, "resources: must be an object: Invalid argument");
	}
	kc_cgroup_free(cg);
}

/* A controller's file that is absent: FAILED_PRECONDITION (EBUSY) naming
 * the controller and the file. */
static void test_missing_controller(void **state)
{
	static const char *const files[] = { "memory.max", NULL };
	struct kc_cgroup *cg = fake("nopids", files);
	cleanup_error kc_error_t err = NULL;

	(void)state;
	assert_int_equal(apply(cg, "{\"pids\":{\"limit\":10}}", &err), -EBUSY);
	assert_int_equal(err->status, EBUSY);
	assert_non_null(strstr(err->msg, "controller `pids` is not available (no `pids.max`)"));
	kc_error_free(&err);
	assert_int_equal(apply(cg, "{\"unified\":{\"io.latency\":\"8:0 target=10\"}}", &err),
			 -EBUSY);
	assert_non_null(strstr(err->msg, "controller `io`"));
	kc_error_free(&err);
	/* Neither io.bfq.weight nor io.weight. */
	assert_int_equal(apply(cg, "{\"blockIO\":{\"weight\":100}}", &err), -EBUSY);
	assert_non_null(strstr(err->msg, "io.weight"));
	kc_error_free(&err);
	assert_int_equal(kc_cgroup_set_freeze(cg, true, &err), -EBUSY);
	assert_non_null(strstr(err->msg, "has no `cgroup.freeze`: not a cgroup2 directory"));
	kc_cgroup_free(cg);
}

/* ---- freezing and keyed files ---- */

static void test_freeze_files(void **state)
{
	static const char *const files[] = { "cgroup.freeze", NULL };
	struct kc_cgroup *cg = fake("freeze", files);
	cleanup_error kc_error_t err = NULL;
	bool frozen = true;
	char *p;

	(void)state;
	assert_int_equal(kc_cgroup_set_freeze(cg, true, &err), 0);
	assert_file(cg, "cgroup.freeze", "1");
	assert_int_equal(kc_cgroup_frozen(cg, &frozen, &err), -EBUSY);
	kc_error_free(&err);
	p = tmpdir_write("freeze/cgroup.events", "populated 1\nfrozen 1\n", 0644);
	free(p);
	assert_int_equal(kc_cgroup_frozen(cg, &frozen, &err), 0);
	assert_true(frozen);
	p = tmpdir_write("freeze/cgroup.events", "populated 1\nfrozen 0\n", 0644);
	free(p);
	assert_int_equal(kc_cgroup_frozen(cg, &frozen, &err), 0);
	assert_false(frozen);
	assert_int_equal(kc_cgroup_set_freeze(cg, false, &err), 0);
	assert_file(cg, "cgroup.freeze", "0");
	/* A key that is absent, a value that is not a number. */
	{
		uint64_t v;

		p = tmpdir_write("freeze/memory.events", "oom 1\noom_kill x\n", 0644);
		free(p);
		assert_true(kc_cgroup_read_key(cg, "memory.events", "oom_kill", &v, &err) < 0);
		assert_non_null(strstr(err->msg, "bad value for `oom_kill`"));
		kc_error_free(&err);
		assert_true(kc_cgroup_read_key(cg, "memory.events", "max", &v, &err) < 0);
		assert_non_null(strstr(err->msg, "no key `max`"));
		kc_error_free(&err);
		assert_int_equal(kc_cgroup_read_key(cg, "memory.events", "oom", &v, &err), 0);
		assert_int_equal(v, 1);
	}
	kc_cgroup_free(cg);
}

/* ---- stats ---- */

static void test_stats(void **state)
{
	struct kc_cgroup *cg = fake("stats", NULL);
	cleanup_error kc_error_t err = NULL;
	Grpc__CgroupStats *s = NULL;
	static const char *const contents[][2] = {
		{ "memory.current", "1234\n" },
		{ "memory.max", "max\n" },
		{ "memory.peak", "5000\n" },
		{ "memory.stat", "anon 10\nfile 20\nkernel 30\nbad line\n" },
		{ "memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n" },
		{ "memory.swap.current", "7\n" },
		{ "memory.swap.max", "max\n" },
		{ "pids.current", "5\n" },
		{ "pids.max", "100\n" },
		{ "cpu.stat", "usage_usec 100\nuser_usec 60\nsystem_usec 40\nnr_periods 7\n"
			      "nr_throttled 2\nthrottled_usec 9\n" },
		{ "io.stat", "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n" },
		{ "hugetlb.2MB.current", "4096\n" },
		{ "hugetlb.2MB.events", "max 2\n" },
		{ "hugetlb.2MB.rsvd.current", "0\n" },
	};

	(void)state;
	/* No memory controller: a precise FAILED_PRECONDITION. */
	assert_int_equal(kc_cgroup_stats(cg, &s, &err), -EBUSY);
	assert_non_null(strstr(err->msg, "controller `memory` is not available"));
	kc_error_free(&err);
	for (size_t i = 0; i < KC_ARRAY_SIZE(contents); i++) {
		cleanup_free char *rel = kc_xasprintf("stats/%s", contents[i][0]);

		free(tmpdir_write(rel, contents[i][1], 0644));
		/* pids comes second: its absence is named too. */
		if (i == 6) {
			assert_int_equal(kc_cgroup_stats(cg, &s, &err), -EBUSY);
			assert_non_null(strstr(err->msg, "controller `pids`"));
			kc_error_free(&err);
		}
	}
	if (kc_cgroup_stats(cg, &s, &err) < 0)
		fail_msg("%s", err->msg);
	assert_int_equal(s->memory_stats->usage->usage, 1234);
	assert_true(s->memory_stats->usage->limit == UINT64_MAX);
	assert_int_equal(s->memory_stats->usage->max_usage, 5000);
	assert_int_equal(s->memory_stats->usage->failcnt, 3);
	assert_int_equal(s->memory_stats->swap_usage->usage, 7);
	assert_int_equal(s->memory_stats->cache, 20);
	assert_int_equal(s->memory_stats->kernel_usage->usage, 30);
	assert_int_equal(s->memory_stats->n_stats, 3);
	assert_string_equal(s->memory_stats->stats[0]->key, "anon");
	assert_int_equal(s->memory_stats->stats[1]->value, 20);
	assert_int_equal(s->pids_stats->current, 5);
	assert_int_equal(s->pids_stats->limit, 100);
	assert_int_equal(s->cpu_stats->cpu_usage->total_usage, 100000);
	assert_int_equal(s->cpu_stats->cpu_usage->usage_in_usermode, 60000);
	assert_int_equal(s->cpu_stats->cpu_usage->usage_in_kernelmode, 40000);
	assert_int_equal(s->cpu_stats->throttling_data->periods, 7);
	assert_int_equal(s->cpu_stats->throttling_data->throttled_periods, 2);
	assert_int_equal(s->cpu_stats->throttling_data->throttled_time, 9000);
	assert_int_equal(s->blkio_stats->n_io_service_bytes_recursive, 2);
	assert_string_equal(s->blkio_stats->io_service_bytes_recursive[1]->op, "Write");
	assert_int_equal(s->blkio_stats->io_service_bytes_recursive[1]->value, 2);
	assert_int_equal(s->blkio_stats->io_service_bytes_recursive[0]->major, 8);
	assert_int_equal(s->blkio_stats->n_io_serviced_recursive, 2);
	assert_int_equal(s->blkio_stats->io_serviced_recursive[0]->value, 3);
	assert_int_equal(s->n_hugetlb_stats, 1);
	assert_string_equal(s->hugetlb_stats[0]->key, "2MB");
	assert_int_equal(s->hugetlb_stats[0]->value->usage, 4096);
	assert_int_equal(s->hugetlb_stats[0]->value->failcnt, 2);
	/* It packs: what StatsContainer sends. */
	assert_true(protobuf_c_message_get_packed_size(&s->base) > 0);
	protobuf_c_message_free_unpacked(&s->base, NULL);
	kc_cgroup_free(cg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_create_enables_controllers),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_full_translation),
		cmocka_unit_test(test_translation_edges),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_missing_controller),
		cmocka_unit_test(test_freeze_files),
		cmocka_unit_test(test_stats),
	};

	return cmocka_run_group_tests_name("cgroup", tests, tmpdir_setup, tmpdir_teardown);
}
