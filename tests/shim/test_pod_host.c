/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_pod_host.c -- the pod lifecycle library (src/sandbox/pod.h) driven
 * as a one-shot tool drives it, through kc_sync_wait(): a pod whose agent
 * is a host process (KATA_C_TEST_AGENT's mode, as the e2e tests' host-agent
 * runs), one container run to completion with its exit status, output and
 * exit event checked, an exec, the errors a caller can make, and nothing
 * left behind (mounts, directories, processes).  Needs root and the built
 * kata-agent; runs under the heavy lock (it starts an agent).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util.h"
#include "sandbox/mount.h"
#include "sandbox/pod.h"
#include "sandbox/sandbox.h"

static char dir[] = "/tmp/kc-test-pod.XXXXXX";
static char *agent, *config;
static struct kc_loop *loop;
static unsigned n_exited;
static struct kc_proc *last_exited;

static void on_exited(void *data, struct kc_proc *p)
{
	(void)data;
	n_exited++;
	last_exited = p;
}

/* A bundle under dir: a busybox rootfs and config.json running args. */
static char *bundle(const char *name, const char *args)
{
	char *b = kc_xasprintf("%s/%s", dir, name);
	cleanup_free char *bin = kc_xasprintf("%s/rootfs/bin", b);
	cleanup_free char *bb = kc_xasprintf("%s/busybox", bin);
	cleanup_free char *sh = kc_xasprintf("%s/sh", bin);
	cleanup_free char *cfg = kc_xasprintf("%s/config.json", b);
	cleanup_free char *cmd = kc_xasprintf("cp /bin/busybox %s", bb);
	cleanup_free char *spec = kc_xasprintf(
		"{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":%s,\"env\":[\"PATH=/bin\"],"
		"\"cwd\":\"/\"},\"root\":{\"path\":\"rootfs\"},\"linux\":{\"namespaces\":"
		"[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"ipc\"},{\"type\":\"uts\"}]}}",
		args);
	FILE *f;

	assert_int_equal(kc_mkdir_p(bin, NULL), 0);
	for (const char *d = "proc\0sys\0dev\0tmp\0"; *d; d += strlen(d) + 1) {
		cleanup_free char *p = kc_xasprintf("%s/rootfs/%s", b, d);

		assert_int_equal(kc_mkdir_p(p, NULL), 0);
	}
	assert_int_equal(system(cmd), 0);
	assert_int_equal(symlink("busybox", sh), 0);
	f = fopen(cfg, "we");
	assert_non_null(f);
	assert_true(fputs(spec, f) >= 0);
	assert_int_equal(fclose(f), 0);
	return b;
}

static struct kc_pod *pod_new(void)
{
	struct kc_pod_opts o = {
		.loop = loop,
		.config_path = config,
		.agent_binary = agent,
		.events = { .exited = on_exited },
	};
	struct kc_pod *pod = NULL;

	assert_int_equal(kc_pod_new(&o, &pod, NULL), 0);
	n_exited = 0;
	last_exited = NULL;
	return pod;
}

static int create(struct kc_pod *pod, const char *id, const char *b, const char *out,
		  kc_error_t *err)
{
	struct kc_ctr_opts o = { .id = id, .bundle = b, .stdout_path = out, .stderr_path = out };
	struct kc_sync sync = { 0 };
	int ret;

	ret = kc_ctr_create(pod, &o, kc_sync_done, &sync, err);
	return ret < 0 ? ret : kc_sync_wait(loop, &sync, err);
}

static int proc_op(struct kc_proc *p, void (*op)(struct kc_proc *, kc_done_fn, void *),
		   kc_error_t *err)
{
	struct kc_sync sync = { 0 };

	int ret;

	op(p, kc_sync_done, &sync);
	ret = kc_sync_wait(loop, &sync, err);
	if (ret < 0)
		print_message("# %s\n", (*err)->msg);
	return ret;
}

static int ctr_delete(struct kc_ctr *c, kc_error_t *err)
{
	struct kc_sync sync = { 0 };

	kc_ctr_delete(c, kc_sync_done, &sync);
	return kc_sync_wait(loop, &sync, err);
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void test_run_to_completion(void **state)
{
	cleanup_free char *id = kc_xasprintf("kcpod%d", (int)getpid());
	cleanup_free char *b = bundle("c1", "[\"/bin/sh\",\"-c\",\"echo hello; exit 7\"]");
	cleanup_free char *out = kc_xasprintf("file://%s/c1.out", dir);
	cleanup_free char *text = NULL;
	cleanup_free char *base = kc_xasprintf("%s/%s", KC_SANDBOXES_DIR, id);
	cleanup_error kc_error_t err = NULL;
	const struct kc_proc_info *i;
	struct kc_pod *pod = pod_new();
	struct kc_sync sync = { 0 };
	struct kc_proc *p;
	struct kc_ctr *c;
	size_t len;
	pid_t pid;

	(void)state;
	assert_null(kc_pod_sandbox_id(pod));
	assert_int_equal(create(pod, id, b, out, &err), 0);
	assert_string_equal(kc_pod_sandbox_id(pod), id);
	assert_true(exists(base));
	pid = kc_pod_pid(pod);
	assert_true(pid > 0);
	c = kc_pod_container(pod, id);
	assert_non_null(c);
	p = kc_ctr_proc(c, NULL);
	i = kc_proc_info(p);
	assert_int_equal(i->status, KC_PROC_CREATED);
	assert_string_equal(i->bundle, b);

	assert_int_equal(proc_op(p, kc_proc_start, &err), 0);
	assert_int_equal(proc_op(p, kc_proc_wait, &err), 0);
	assert_true(i->exited);
	assert_int_equal(i->status, KC_PROC_STOPPED);
	assert_int_equal(i->exit_status, 7);
	assert_int_equal(n_exited, 1);
	assert_ptr_equal(last_exited, p);
	/* Every byte came before the exit. */
	assert_int_equal(kc_read_file(out + 7, 4096, &text, &len, NULL), 0);
	assert_string_equal(text, "hello\n");

	/* A finished process cannot be started or signalled again. */
	assert_int_equal(proc_op(p, kc_proc_start, &err), -EBUSY);
	assert_non_null(strstr(err->msg, "was already started"));
	kc_error_free(&err);
	kc_proc_kill(p, SIGTERM, false, kc_sync_done, &sync);
	assert_int_equal(kc_sync_wait(loop, &sync, &err), -ENOENT);
	assert_non_null(strstr(err->msg, "already finished"));
	kc_error_free(&err);

	/* Deleted: gone from the pod, its rootfs out of the share. */
	assert_int_equal(ctr_delete(c, &err), 0);
	assert_null(kc_pod_container(pod, id));
	assert_false(kc_pod_has_containers(pod));
	kc_pod_free(pod);
	/* The sandbox went with the pod: its directory and its agent. */
	assert_false(exists(base));
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

static void test_exec_and_errors(void **state)
{
	cleanup_free char *id = kc_xasprintf("kcpodx%d", (int)getpid());
	cleanup_free char *b = bundle("c2", "[\"/bin/busybox\",\"sleep\",\"60\"]");
	cleanup_free char *bad = kc_xasprintf("%s/nothing", dir);
	static const char proc_json[] = "{\"args\":[\"/bin/sh\",\"-c\",\"exit 3\"],\"cwd\":\"/\","
					"\"env\":[\"PATH=/bin\"],\"user\":{\"uid\":0,\"gid\":0}}";
	cleanup_error kc_error_t err = NULL;
	struct kc_pod *pod = pod_new();
	struct kc_sync sync = { 0 };
	struct kc_proc *init, *e;
	struct kc_ctr *c;

	(void)state;
	/* Refused at once: no callback. */
	assert_int_equal(create(pod, "../x", b, NULL, &err), -EINVAL);
	kc_error_free(&err);
	assert_int_equal(create(pod, "c2", "relative", NULL, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "bundle `relative` is not absolute"));
	kc_error_free(&err);
	/* Refused in the callback: nothing was started for it. */
	assert_true(create(pod, "c2", bad, NULL, &err) < 0);
	assert_non_null(strstr(err->msg, "create `c2`"));
	kc_error_free(&err);
	assert_true(kc_pod_idle(pod));
	assert_null(kc_pod_sandbox_id(pod));

	assert_int_equal(create(pod, id, b, NULL, &err), 0);
	assert_int_equal(create(pod, id, b, NULL, &err), -EEXIST);
	kc_error_free(&err);
	c = kc_pod_container(pod, id);
	init = kc_ctr_proc(c, "");
	/* No exec before the container runs. */
	assert_int_equal(kc_ctr_exec(c, "e1", (const uint8_t *)proc_json, strlen(proc_json), false,
				     NULL, NULL, NULL, &e, &err),
			 -EBUSY);
	kc_error_free(&err);
	assert_int_equal(proc_op(init, kc_proc_start, &err), 0);
	assert_int_equal(kc_ctr_exec(c, "e1", (const uint8_t *)proc_json, strlen(proc_json), false,
				     NULL, NULL, NULL, &e, &err),
			 0);
	assert_ptr_equal(kc_ctr_proc(c, "e1"), e);
	assert_int_equal(kc_ctr_exec(c, "e1", (const uint8_t *)proc_json, strlen(proc_json), false,
				     NULL, NULL, NULL, &e, &err),
			 -EEXIST);
	kc_error_free(&err);
	e = kc_ctr_proc(c, "e1");
	assert_int_equal(proc_op(e, kc_proc_start, &err), 0);
	assert_int_equal(proc_op(e, kc_proc_wait, &err), 0);
	assert_int_equal(kc_proc_info(e)->exit_status, 3);
	assert_int_equal(kc_proc_delete(e, &err), 0);
	assert_null(kc_ctr_proc(c, "e1"));

	/* A running container is not deleted; signalled, it ends. */
	assert_int_equal(ctr_delete(c, &err), -EBUSY);
	kc_error_free(&err);
	kc_proc_kill(init, 0, false, kc_sync_done, &sync);
	assert_int_equal(kc_sync_wait(loop, &sync, &err), -EINVAL);
	kc_error_free(&err);
	sync = (struct kc_sync){ 0 };
	kc_proc_kill(init, SIGKILL, true, kc_sync_done, &sync);
	assert_int_equal(kc_sync_wait(loop, &sync, &err), 0);
	assert_int_equal(proc_op(init, kc_proc_wait, &err), 0);
	assert_int_equal(kc_proc_info(init)->exit_status, 128 + SIGKILL);
	assert_int_equal(n_exited, 2);
	kc_pod_free(pod);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_to_completion),
		cmocka_unit_test(test_exec_and_errors),
	};
	const char *src = getenv("KC_SOURCE_ROOT"), *build = getenv("KC_BUILD_ROOT");
	cleanup_free char *rm = NULL;
	int ret;

	if (geteuid() != 0 || !src || !build) {
		printf("1..0 # SKIP needs root, KC_SOURCE_ROOT and KC_BUILD_ROOT\n");
		return 0;
	}
	agent = kc_xasprintf("%s/src/agent/kata-agent", build);
	config = kc_xasprintf("%s/config/configuration-qemu.toml", src);
	if (!mkdtemp(dir) || kc_loop_new(&loop, NULL) < 0)
		return 1;
	ret = cmocka_run_group_tests_name("sandbox-pod", tests, NULL, NULL);
	kc_loop_free(loop);
	rm = kc_xasprintf("rm -rf %s", dir);
	if (system(rm) != 0)
		ret = 1;
	free(agent);
	free(config);
	return ret;
}
