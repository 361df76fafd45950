/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Real VMs under QEMU (TCG here): boot the guest image through
 * kc_vm_start(), talk to its agent, stop it, and check that nothing is left
 * behind (processes naming the run directory, children, the directory, fds).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "agent.pb-c.h"
#include "health.pb-c.h"
#include "lib/log.h"
#include "hypervisor/agent_client.h"
#include "hypervisor/hypervisor.h"
#include "ttrpc/client.h"
#include "ttrpc/transport.h"
#include "vm_helpers.h"

#define BOOT_TIMEOUT (120 * SEC) /* TCG on a busy 2-core machine */

static struct kc_config cfg;
static char base[] = "/tmp/kc-vm-XXXXXX";

static void conn_open(struct ah_conn *c, const char *uri)
{
	cleanup_error kc_error_t err = NULL;
	int fd = kc_dial_retry(uri, kc_monotonic_ns() + 30 * SEC, NULL, 0, &err);

	if (fd < 0)
		fail_msg("%s", err->msg);
	ah_conn_fd(c, fd);
}

/* The connection kc_vm_start() kept (spec.keep_agent_conn). */
static void conn_take(struct ah_conn *c, struct kc_vm *vm)
{
	ah_conn_fd(c, kc_vm_take_agent_fd(vm));
}

struct vm_case {
	char *run_dir;
	struct kc_vm_spec spec;
	int fds, children;
};

static void case_init(struct vm_case *t, const char *name)
{
	t->run_dir = kc_xasprintf("%s/%s", base, name);
	t->spec = (struct kc_vm_spec){
		.cfg = &cfg,
		.id = name,
		.run_dir = t->run_dir,
		.agent_timeout_ns = BOOT_TIMEOUT,
	};
	t->fds = ah_count_fds(getpid());
	t->children = ah_count_children();
}

/* Nothing of the VM survives: processes, children, run dir, fds. */
static void case_check_clean(struct vm_case *t)
{
	assert_int_equal(leftover_procs(t->run_dir), 0);
	assert_int_equal(ah_count_children(), t->children);
	assert_false(path_exists(t->run_dir));
	assert_int_equal(ah_count_fds(getpid()), t->fds);
	free(t->run_dir);
}

/* The VM of the running test: a failed assertion jumps out of the test,
 * and the teardown stops what it left running. */
static struct kc_vm *live_vm;

static int stop_live_vm(void **state)
{
	(void)state;
	kc_vm_free(live_vm);
	live_vm = NULL;
	return 0;
}

static struct kc_vm *boot(struct vm_case *t)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_vm *vm = NULL;

	if (kc_vm_start(&t->spec, &vm, &err) < 0)
		fail_msg("kc_vm_start: %s", err->msg);
	live_vm = vm;
	assert_true(kc_vm_pid(vm) > 0);
	assert_true(kc_vm_pidfd(vm) >= 0);
	assert_non_null(strstr(kc_vm_agent_uri(vm), t->run_dir));
	return vm;
}

/* Check (retried on the same connection: see kc_agent_check_retry) and
 * Version on c. */
static void check_health_on(struct ah_conn *c)
{
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	cleanup_error kc_error_t err = NULL;
	ProtobufCMessage *resp = NULL;
	Grpc__VersionCheckResponse *v;

	if (kc_agent_check_retry(c->cli, kc_monotonic_ns() + 60 * SEC, &err) < 0)
		fail_msg("Check: %s", err->msg);
	assert_int_equal(ah_call_sync(c->cli, "Health.Version", &req.base,
				      &grpc__version_check_response__descriptor, &resp),
			 0);
	v = (Grpc__VersionCheckResponse *)resp;
	assert_true(v->agent_version[0] != '\0');
	assert_true(v->grpc_version[0] != '\0');
	print_message("# agent %s, API %s\n", v->agent_version, v->grpc_version);
	protobuf_c_message_free_unpacked(resp, NULL);
}

static void check_health(const char *uri)
{
	struct ah_conn c;

	conn_open(&c, uri);
	check_health_on(&c);
	ah_conn_close(&c);
}

/* Boot keeping the connection that answered; Check and Version on it, then
 * on two fresh connections (each after the previous one hung up); stop
 * (QMP quit). */
static void test_boot_check_version(void **state)
{
	cleanup_error kc_error_t err = NULL;
	struct vm_case t;
	struct kc_vm *vm;
	cleanup_free char *logp = kc_xasprintf("%s/stop.log", base);
	cleanup_free char *log = NULL;
	struct ah_conn c;
	size_t len;
	int logfd;

	(void)state;
	case_init(&t, "boot");
	t.spec.keep_agent_conn = true;
	vm = boot(&t);
	conn_take(&c, vm);
	assert_int_equal(kc_vm_take_agent_fd(vm), -1);
	check_health_on(&c);
	ah_conn_close(&c);
	check_health(kc_vm_agent_uri(vm));
	check_health(kc_vm_agent_uri(vm));
	/* The stop is a clean QMP quit: QEMU exits 0, not by SIGKILL. */
	logfd = open(logp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(logfd >= 0);
	kc_log_set_fd(logfd);
	assert_int_equal(kc_vm_stop(vm, &err), 0);
	assert_int_equal(kc_vm_stop(vm, &err), 0); /* idempotent */
	kc_log_set_fd(-1);
	close(logfd);
	assert_int_equal(kc_read_file(logp, 1 << 20, &log, &len, &err), 0);
	assert_non_null(strstr(log, "VM boot: stopped (QEMU exited with status 0)"));
	assert_int_equal(unlink(logp), 0);
	kc_vm_free(vm);
	live_vm = NULL;
	case_check_clean(&t);
}

/* The guest console: into spec->console_log when given (kept after the
 * stop), into the run dir when debugging (removed with it); none otherwise
 * (the other tests: no console file appears). */
static void test_console(void **state)
{
	cleanup_free char *log = kc_xasprintf("%s/console.txt", base);
	cleanup_free char *text = NULL;
	cleanup_free char *auto_log = NULL;
	cleanup_error kc_error_t err = NULL;
	struct vm_case t;
	struct kc_vm *vm;
	size_t len;

	(void)state;
	case_init(&t, "console");
	t.spec.console_log = log;
	vm = boot(&t);
	auto_log = kc_xasprintf("%s/console.log", t.run_dir);
	assert_false(path_exists(auto_log));
	kc_vm_free(vm);
	live_vm = NULL;
	assert_int_equal(kc_read_file(log, 16 << 20, &text, &len, &err), 0);
	assert_non_null(strstr(text, "kata-agent"));
	assert_non_null(strstr(text, "starting as init"));
	assert_int_equal(unlink(log), 0);
	case_check_clean(&t);

	cfg.agent.enable_debug = true;
	case_init(&t, "console");
	vm = boot(&t);
	cfg.agent.enable_debug = false;
	assert_true(path_exists(auto_log));
	kc_vm_free(vm);
	live_vm = NULL;
	case_check_clean(&t);
}

/* DestroySandbox powers the guest off: QEMU exits by itself. */
static void test_destroy_sandbox_shuts_down(void **state)
{
	Grpc__CreateSandboxRequest cs = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	Grpc__DestroySandboxRequest ds = GRPC__DESTROY_SANDBOX_REQUEST__INIT;
	cleanup_error kc_error_t err = NULL;
	struct pollfd pfd;
	struct vm_case t;
	struct kc_vm *vm;
	struct ah_conn c;
	bool exited;

	(void)state;
	case_init(&t, "destroy");
	t.spec.keep_agent_conn = true;
	vm = boot(&t);
	conn_take(&c, vm);
	cs.sandbox_id = (char *)"destroy";
	cs.hostname = (char *)"kc-destroy";
	assert_int_equal(ah_call_sync(c.cli, "CreateSandbox", &cs.base, NULL, NULL), 0);
	assert_int_equal(ah_call_sync(c.cli, "DestroySandbox", &ds.base, NULL, NULL), 0);
	pfd = (struct pollfd){ .fd = kc_vm_pidfd(vm), .events = POLLIN };
	exited = poll(&pfd, 1, 60000) == 1;
	ah_conn_close(&c);
	if (exited) {
		/* kc_vm_wait() reaps it; a VM whose VMM is gone cannot pause,
		 * and says why; query reports it stopped before kc_vm_stop(). */
		struct kc_vm_info info;

		assert_int_equal(kc_vm_wait(vm, kc_monotonic_ns() + 10 * SEC, &err), 1);
		assert_int_equal(kc_vm_pause(vm, &err), -ESRCH);
		print_message("# %s\n", err->msg);
		assert_non_null(strstr(err->msg, "VM destroy: pause: the VM is not running "
						 "(QEMU exited with status 0)"));
		kc_error_free(&err);
		assert_int_equal(kc_vm_query(vm, &info, &err), 0);
		assert_int_equal(info.state, KC_VM_STOPPED);
		assert_int_equal(info.pid, 0);
	}
	/* Stopped either way, so that a failure leaves no VM running. */
	assert_int_equal(kc_vm_stop(vm, &err), 0);
	kc_vm_free(vm);
	live_vm = NULL;
	assert_true(exited);
	case_check_clean(&t);
}

static void expect_state(struct kc_vm *vm, enum kc_vm_state state)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_vm_info info;

	if (kc_vm_query(vm, &info, &err) < 0)
		fail_msg("kc_vm_query: %s", err->msg);
	print_message("# query: pid %d, %s, %u vCPU, %u MiB, %s\n", (int)info.pid,
		      kc_vm_state_name(info.state), info.vcpus, info.memory_mib, info.agent_uri);
	assert_int_equal(info.state, state);
	assert_string_equal(info.agent_uri, kc_vm_agent_uri(vm));
	assert_int_equal(info.vcpus, (unsigned)cfg.hypervisor.default_vcpus);
	assert_int_equal(info.memory_mib, 256);
	if (state == KC_VM_STOPPED)
		assert_int_equal(info.pid, 0);
	else
		assert_int_equal(info.pid, kc_vm_pid(vm));
}

/* An operation QEMU does not support yet: -ENOTSUP naming it and QEMU. */
static void expect_not_supported(int ret, kc_error_t *err, const char *op)
{
	assert_int_equal(ret, -ENOTSUP);
	print_message("# %s\n", (*err)->msg);
	assert_non_null(strstr((*err)->msg, op));
	assert_non_null(strstr((*err)->msg, "not supported by the qemu back end"));
	kc_error_free(err);
}

/* Pause and resume over QMP: the query follows, the agent stays silent
 * while paused (its Check times out) and answers once resumed, on the
 * same connection.  Templates and hotplug answer -ENOTSUP.  After the stop,
 * wait returns at once, query says stopped, pause and resume fail. */
static void test_pause_resume(void **state)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_vm_device disk = {
		.type = KC_VM_DEV_DISK,
		.disk = { .id = "d1", .path = "/dev/null", .read_only = true },
	};
	struct kc_vm_device mem = { .type = KC_VM_DEV_MEMORY, .memory = { .size_mib = 128 } };
	struct kc_vm *restored = NULL;
	struct vm_case t;
	struct kc_vm *vm;
	struct ah_conn c;
	uint64_t t0;
	int ret;

	(void)state;
	case_init(&t, "pause");
	t.spec.keep_agent_conn = true;
	vm = boot(&t);
	conn_take(&c, vm);
	check_health_on(&c);
	expect_state(vm, KC_VM_RUNNING);
	assert_int_equal(kc_vm_wait(vm, kc_monotonic_ns() + SEC / 10, &err), 0);

	t0 = kc_monotonic_ns();
	if (kc_vm_pause(vm, &err) < 0)
		fail_msg("pause: %s", err->msg);
	print_message("# pause: %.1f ms\n", (double)(kc_monotonic_ns() - t0) / 1e6);
	expect_state(vm, KC_VM_PAUSED);
	assert_int_equal(kc_vm_pause(vm, &err), 0); /* already paused */
	expect_state(vm, KC_VM_PAUSED);
	ret = kc_agent_check(c.cli, 2 * SEC, &err);
	assert_int_equal(ret, -ETIMEDOUT);
	print_message("# Check while paused: %s\n", err->msg);
	kc_error_free(&err);

	t0 = kc_monotonic_ns();
	if (kc_vm_resume(vm, &err) < 0)
		fail_msg("resume: %s", err->msg);
	print_message("# resume: %.1f ms\n", (double)(kc_monotonic_ns() - t0) / 1e6);
	expect_state(vm, KC_VM_RUNNING);
	assert_int_equal(kc_vm_resume(vm, &err), 0); /* already running */
	/* The answer to the Check sent while paused arrives late and is
	 * dropped; a new one is answered. */
	if (kc_agent_check_retry(c.cli, kc_monotonic_ns() + 30 * SEC, &err) < 0)
		fail_msg("Check after resume: %s", err->msg);

	expect_not_supported(kc_vm_save(vm, t.run_dir, &err), &err, "VM pause: save: ");
	expect_not_supported(kc_vm_restore(&t.spec, t.run_dir, &restored, &err), &err,
			     "VM pause: restore: ");
	assert_null(restored);
	expect_not_supported(kc_vm_add_device(vm, &disk, &err), &err,
			     "VM pause: add_device (disk `d1`): ");
	expect_not_supported(kc_vm_add_device(vm, &mem, &err), &err,
			     "VM pause: add_device (memory 128 MiB): ");
	expect_not_supported(kc_vm_remove_device(vm, &disk, &err), &err,
			     "VM pause: remove_device (disk `d1`): ");
	expect_state(vm, KC_VM_RUNNING);
	ah_conn_close(&c);

	assert_int_equal(kc_vm_stop(vm, &err), 0);
	assert_int_equal(kc_vm_wait(vm, kc_monotonic_ns() + SEC / 10, &err), 1);
	expect_state(vm, KC_VM_STOPPED);
	assert_int_equal(kc_vm_pause(vm, &err), -ESRCH);
	print_message("# %s\n", err->msg);
	assert_string_equal(err->msg, "VM pause: pause: the VM is stopped");
	kc_error_free(&err);
	assert_int_equal(kc_vm_resume(vm, &err), -ESRCH);
	assert_string_equal(err->msg, "VM pause: resume: the VM is stopped");
	kc_vm_free(vm);
	live_vm = NULL;
	case_check_clean(&t);
}

/* An agent that listens elsewhere never answers on the channel: the VM is
 * killed at the deadline, with an error that says so. */
static void test_never_answers_killed_at_deadline(void **state)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_vm *vm = NULL;
	struct vm_case t;
	int ret;

	(void)state;
	case_init(&t, "silent");
	t.spec.kernel_params = "agent.listen=unix:///run/nobody-listens-here.sock";
	t.spec.agent_timeout_ns = 5 * SEC;
	ret = kc_vm_start(&t.spec, &vm, &err);
	assert_int_equal(ret, -ETIMEDOUT);
	assert_null(vm);
	print_message("# %s\n", err->msg);
	assert_non_null(strstr(err->msg, "did not answer grpc.Health/Check within 5.0 s"));
	assert_non_null(strstr(err->msg, "VM killed"));
	case_check_clean(&t);
}

/* The real QEMU refusing a kernel that is not one: it exits at once, and
 * the error has its status and its own words. */
static void test_qemu_rejects_kernel(void **state)
{
	cleanup_free char *bogus = kc_xasprintf("%s/not-a-kernel", base);
	cleanup_free char *saved = kc_xstrdup(cfg.hypervisor.kernel);
	cleanup_error kc_error_t err = NULL;
	struct kc_vm *vm = NULL;
	struct vm_case t;
	FILE *f = fopen(bogus, "w");

	(void)state;
	assert_non_null(f);
	for (int i = 0; i < 1024; i++)
		fputs("junk", f);
	fclose(f);
	set_str(&cfg.hypervisor.kernel, bogus);
	case_init(&t, "bogus");
	assert_int_equal(kc_vm_start(&t.spec, &vm, &err), -ECHILD);
	set_str(&cfg.hypervisor.kernel, saved);
	assert_int_equal(unlink(bogus), 0);
	assert_null(vm);
	print_message("# %s\n", err->msg);
	assert_non_null(strstr(err->msg, "QEMU exited with status 1 before the agent answered"));
	assert_non_null(strstr(err->msg, "kernel"));
	case_check_clean(&t);
}

/* Five VMs booted at the same time (one process each) all answer. */
static void test_five_concurrent(void **state)
{
	char *dirs[5];
	pid_t pids[5];
	int children = ah_count_children();

	(void)state;
	for (int i = 0; i < 5; i++) {
		dirs[i] = kc_xasprintf("%s/c%d", base, i);
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			cleanup_error kc_error_t err = NULL;
			char id[16];
			struct kc_vm_spec s = { .cfg = &cfg,
						.id = id,
						.run_dir = dirs[i],
						.agent_timeout_ns = 300 * SEC,
						.keep_agent_conn = true };
			struct kc_vm *vm = NULL;
			struct ah_conn c;
			Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
			ProtobufCMessage *resp = NULL;

			snprintf(id, sizeof(id), "c%d", i);
			if (kc_vm_start(&s, &vm, &err) < 0) {
				fprintf(stderr, "# VM %d: %s\n", i, err->msg);
				_exit(1);
			}
			conn_take(&c, vm);
			if (ah_call_sync(c.cli, "Health.Check", &req.base,
					 &grpc__health_check_response__descriptor, &resp) < 0)
				_exit(2);
			protobuf_c_message_free_unpacked(resp, NULL);
			ah_conn_close(&c);
			kc_vm_free(vm);
			_exit(0);
		}
	}
	for (int i = 0; i < 5; i++) {
		int st = -1;

		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	for (int i = 0; i < 5; i++) {
		assert_int_equal(leftover_procs(dirs[i]), 0);
		assert_false(path_exists(dirs[i]));
		free(dirs[i]);
	}
	assert_int_equal(ah_count_children(), children);
}

/* ---- a container whose rootfs comes over virtio-fs ---- */

#define BUSYBOX "/bin/busybox"
#define GUEST_SHARED "/run/kata-containers/shared/containers"

/* shared/ct1/rootfs with busybox and a file only the host wrote. */
static char *make_shared(void)
{
	char *shared = kc_xasprintf("%s/share", base);
	cleanup_free char *ct = kc_xasprintf("%s/ct1", shared);
	cleanup_free char *rootfs = kc_xasprintf("%s/rootfs", ct);
	cleanup_free char *bin = kc_xasprintf("%s/bin", rootfs);
	cleanup_free char *bb = kc_xasprintf("%s/busybox", bin);
	cleanup_free char *sh = kc_xasprintf("%s/sh", bin);
	cleanup_free char *note = kc_xasprintf("%s/from-host.txt", rootfs);
	cleanup_free char *layer = kc_xasprintf("%s/layer", rootfs);
	cleanup_free char *marker = kc_xasprintf("%s/layer/marker", rootfs);
	FILE *f;

	assert_int_equal(access(BUSYBOX, X_OK), 0);
	assert_int_equal(mkdir(shared, 0755), 0);
	assert_int_equal(mkdir(ct, 0755), 0);
	assert_int_equal(mkdir(rootfs, 0755), 0);
	assert_int_equal(mkdir(bin, 0755), 0);
	ah_copy_file(BUSYBOX, bb);
	assert_int_equal(symlink("busybox", sh), 0);
	f = fopen(note, "w");
	assert_non_null(f);
	fputs("written on the host\n", f);
	fclose(f);
	assert_int_equal(mkdir(layer, 0755), 0);
	f = fopen(marker, "w");
	assert_non_null(f);
	fclose(f);
	return shared;
}

/* The container's whole stdout, until end of stream; NULL on failure. */
static char *read_stdout(struct ah_conn *c, const char *id)
{
	Grpc__ReadStreamRequest req = GRPC__READ_STREAM_REQUEST__INIT;
	char *out = kc_xzalloc(1);
	size_t len = 0;

	req.container_id = (char *)id;
	req.exec_id = (char *)id;
	req.len = 4096;
	for (;;) {
		ProtobufCMessage *m = NULL;
		Grpc__ReadStreamResponse *r;

		if (ah_call_sync(c->cli, "ReadStdout", &req.base,
				 &grpc__read_stream_response__descriptor, &m) < 0) {
			free(out);
			return NULL;
		}
		r = (Grpc__ReadStreamResponse *)m;
		if (!r || r->data.len == 0) {
			if (m)
				protobuf_c_message_free_unpacked(m, NULL);
			return out;
		}
		out = kc_xrealloc(out, len + r->data.len + 1);
		memcpy(out + len, r->data.data, r->data.len);
		len += r->data.len;
		out[len] = '\0';
		protobuf_c_message_free_unpacked(m, NULL);
	}
}

/* Runs the container; returns its stdout (NULL on any failure) and its
 * exit status in *status. */
static char *run_shared_container(struct ah_conn *c, int *status)
{
	Grpc__CreateSandboxRequest cs = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	Grpc__Storage st = GRPC__STORAGE__INIT;
	Grpc__Storage *sts[1] = { &st };
	Grpc__CreateContainerRequest cc = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	Grpc__StartContainerRequest sc = GRPC__START_CONTAINER_REQUEST__INIT;
	Grpc__WaitProcessRequest wp = GRPC__WAIT_PROCESS_REQUEST__INIT;
	Grpc__RemoveContainerRequest rc = GRPC__REMOVE_CONTAINER_REQUEST__INIT;
	Grpc__DestroySandboxRequest ds = GRPC__DESTROY_SANDBOX_REQUEST__INIT;
	ProtobufCMessage *m = NULL;
	cleanup_free char *json = kc_xasprintf(
		"{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"/bin/sh\",\"-c\","
		"\"echo hello from the guest; /bin/busybox cat /from-host.txt; /bin/busybox ls /ov\"],"
		"\"env\":[\"PATH=/bin\"],\"cwd\":\"/\"},\"root\":{\"path\":\"%s/ct1/rootfs\"},"
		/* overlay is loaded on its first mount (src/agent/modules.c) */
		"\"mounts\":[{\"destination\":\"/ov\",\"type\":\"overlay\",\"source\":\"overlay\","
		"\"options\":[\"lowerdir=%s/ct1/rootfs/bin:%s/ct1/rootfs/layer\"]}]}",
		GUEST_SHARED, GUEST_SHARED, GUEST_SHARED);
	char *out;

	/* Kata's sandbox storage for the shared directory. */
	st.driver = (char *)"virtio-fs";
	st.source = (char *)"kataShared";
	st.fstype = (char *)"virtiofs";
	st.mount_point = (char *)GUEST_SHARED;
	cs.sandbox_id = (char *)"share";
	cs.hostname = (char *)"kc-share";
	cs.n_storages = 1;
	cs.storages = sts;
	if (ah_call_sync(c->cli, "CreateSandbox", &cs.base, NULL, NULL) < 0)
		return NULL;
	cc.container_id = (char *)"ct1";
	cc.exec_id = (char *)"ct1";
	cc.oci_spec_json.data = (uint8_t *)json;
	cc.oci_spec_json.len = strlen(json);
	if (ah_call_sync(c->cli, "CreateContainer", &cc.base, NULL, NULL) < 0)
		return NULL;
	sc.container_id = (char *)"ct1";
	if (ah_call_sync(c->cli, "StartContainer", &sc.base, NULL, NULL) < 0)
		return NULL;
	out = read_stdout(c, "ct1");
	wp.container_id = (char *)"ct1";
	wp.exec_id = (char *)"ct1";
	if (out && ah_call_sync(c->cli, "WaitProcess", &wp.base,
				&grpc__wait_process_response__descriptor, &m) == 0) {
		*status = ((Grpc__WaitProcessResponse *)m)->status;
		protobuf_c_message_free_unpacked(m, NULL);
	}
	rc.container_id = (char *)"ct1";
	ah_call_sync(c->cli, "RemoveContainer", &rc.base, NULL, NULL);
	ah_call_sync(c->cli, "DestroySandbox", &ds.base, NULL, NULL);
	return out;
}

/* A container in the guest runs from a rootfs the host shares over
 * virtio-fs; its output shows it read the host's file, and an overlay
 * mount of two of its dirs (the module loaded on first use). */
static void test_container_over_virtiofs(void **state)
{
	cleanup_free char *shared = make_shared();
	cleanup_free char *out = NULL;
	cleanup_free char *rm = NULL;
	cleanup_error kc_error_t err = NULL;
	struct vm_case t;
	struct kc_vm *vm;
	struct ah_conn c;
	int status = -1;

	(void)state;
	case_init(&t, "share");
	t.spec.shared_dir = shared;
	t.spec.keep_agent_conn = true;
	vm = boot(&t);
	conn_take(&c, vm);
	out = run_shared_container(&c, &status);
	ah_conn_close(&c);
	assert_int_equal(kc_vm_stop(vm, &err), 0);
	kc_vm_free(vm);
	live_vm = NULL;
	rm = kc_xasprintf("rm -rf '%s'", shared);
	assert_int_equal(system(rm), 0);
	assert_non_null(out);
	for (char *l = out, *nl; (nl = strchr(l, '\n')) != NULL; l = nl + 1)
		print_message("# container said: %.*s\n", (int)(nl - l), l);
	/* The overlay of bin/ and layer/: its first mount loaded the module. */
	assert_string_equal(out, "hello from the guest\nwritten on the host\nbusybox\nmarker\nsh\n");
	assert_int_equal(status, 0);
	case_check_clean(&t);
}

/* kubelet's atomic writer on the host: version v of share/cm holding keys
 * ("<key>=v<v>\n"), ..data swapped to it, the top-level symlinks. */
static void kubelet_write(const char *shared, int v, const char *const *keys)
{
	cleanup_free char *dir = kc_xasprintf("%s/cm", shared);
	cleanup_free char *name = kc_xasprintf("..2026_12_07_18_00_%02d.%d", v, 100 + v);
	cleanup_free char *vdir = kc_xasprintf("%s/%s", dir, name);
	cleanup_free char *tmp = kc_xasprintf("%s/..data_tmp", dir);
	cleanup_free char *data = kc_xasprintf("%s/..data", dir);

	mkdir(dir, 0755);
	assert_int_equal(mkdir(vdir, 0755), 0);
	for (size_t i = 0; keys[i]; i++) {
		cleanup_free char *f = kc_xasprintf("%s/%s", vdir, keys[i]);
		cleanup_free char *text = kc_xasprintf("%s=v%d\n", keys[i], v);
		cleanup_free char *link = kc_xasprintf("%s/%s", dir, keys[i]);
		cleanup_free char *target = kc_xasprintf("..data/%s", keys[i]);

		ah_write(f, text);
		symlink(target, link);
	}
	unlink(tmp);
	assert_int_equal(symlink(name, tmp), 0);
	assert_int_equal(rename(tmp, data), 0);
}

/* One PortForward* call with a session: the code. */
static int pf_call(struct ah_conn *c, const char *method, uint64_t id)
{
	Grpc__PortForwardSessionRequest req = GRPC__PORT_FORWARD_SESSION_REQUEST__INIT;

	req.session = id;
	return ah_call0(c, method, &req.base);
}

/*
 * The agent's halves of port forwarding and of in-place volume updates in
 * a real guest: a container (in the guest's network namespace, as the
 * shim makes them) serves one connection on 127.0.0.1:8080 with busybox
 * nc, reached through PortForwardOpen/Write/CloseWrite/Read/Close; it
 * reads a ConfigMap-like volume through a watchable-bind storage of the
 * share, bound read-only at /cfg, and sees UpdateWatchableVolume's new
 * version (a key added) without a restart.
 */
static void test_port_forward_and_watchable(void **state)
{
	static const char *const v1[] = { "key1", "key2", NULL };
	static const char *const v2[] = { "key1", "key3", NULL };
	cleanup_free char *shared = make_shared();
	cleanup_free char *cfg_dir = kc_xasprintf("%s/ct1/rootfs/cfg", shared);
	cleanup_free char *rm = NULL, *out = NULL, *json = NULL, *got = kc_xzalloc(1);
	cleanup_error kc_error_t err = NULL;
	Grpc__CreateSandboxRequest cs = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	Grpc__Storage share = GRPC__STORAGE__INIT, watch = GRPC__STORAGE__INIT;
	Grpc__Storage *sb_sts[1] = { &share }, *ct_sts[1] = { &watch };
	Grpc__CreateContainerRequest cc = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	Grpc__StartContainerRequest sc = GRPC__START_CONTAINER_REQUEST__INIT;
	Grpc__PortForwardOpenRequest po = GRPC__PORT_FORWARD_OPEN_REQUEST__INIT;
	Grpc__PortForwardWriteRequest pw = GRPC__PORT_FORWARD_WRITE_REQUEST__INIT;
	Grpc__PortForwardReadRequest pr = GRPC__PORT_FORWARD_READ_REQUEST__INIT;
	Grpc__UpdateWatchableVolumeRequest uw = GRPC__UPDATE_WATCHABLE_VOLUME_REQUEST__INIT;
	Grpc__RemoveContainerRequest rc = GRPC__REMOVE_CONTAINER_REQUEST__INIT;
	Grpc__DestroySandboxRequest ds = GRPC__DESTROY_SANDBOX_REQUEST__INIT;
	uint64_t deadline, id = 0;
	struct vm_case t;
	struct kc_vm *vm;
	struct ah_conn c;
	struct ah_answer a;
	size_t got_len = 0;

	(void)state;
	assert_int_equal(mkdir(cfg_dir, 0755), 0);
	kubelet_write(shared, 1, v1);
	json = kc_xasprintf(
		"{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"/bin/sh\",\"-c\","
		"\"/bin/busybox cat /cfg/key1; /bin/busybox nc -l -p 8080 < /cfg/key2; "
		"while [ ! -e /cfg/key3 ]; do /bin/busybox sleep 0.1; done; "
		"/bin/busybox cat /cfg/key1 /cfg/key3; [ -e /cfg/key2 ] || echo key2 gone\"],"
		"\"env\":[\"PATH=/bin\"],\"cwd\":\"/\"},"
		"\"root\":{\"path\":\"%s/ct1/rootfs\"},"
		"\"mounts\":[{\"destination\":\"/cfg\",\"type\":\"bind\","
		"\"source\":\"/run/kata-containers/sandbox/watchable/ct1-0\","
		"\"options\":[\"rbind\",\"ro\"]}]}",
		GUEST_SHARED);
	case_init(&t, "pfwd");
	t.spec.shared_dir = shared;
	t.spec.keep_agent_conn = true;
	vm = boot(&t);
	conn_take(&c, vm);

	share.driver = (char *)"virtio-fs";
	share.source = (char *)"kataShared";
	share.fstype = (char *)"virtiofs";
	share.mount_point = (char *)GUEST_SHARED;
	cs.sandbox_id = (char *)"pfwd";
	cs.n_storages = 1;
	cs.storages = sb_sts;
	assert_int_equal(ah_call0(&c, "CreateSandbox", &cs.base), 0);
	watch.driver = (char *)"watchable-bind";
	watch.source = (char *)GUEST_SHARED "/cm";
	watch.fstype = (char *)"";
	watch.mount_point = (char *)"/run/kata-containers/sandbox/watchable/ct1-0";
	cc.container_id = (char *)"ct1";
	cc.exec_id = (char *)"ct1";
	cc.oci_spec_json.data = (uint8_t *)json;
	cc.oci_spec_json.len = strlen(json);
	cc.n_storages = 1;
	cc.storages = ct_sts;
	assert_int_equal(ah_call0(&c, "CreateContainer", &cc.base), 0);
	sc.container_id = (char *)"ct1";
	assert_int_equal(ah_call0(&c, "StartContainer", &sc.base), 0);

	/* Until nc listens (TCG is slow to start it). */
	po.port = 8080;
	deadline = kc_monotonic_ns() + 60 * SEC;
	for (;;) {
		int code = ah_call(&c, "PortForwardOpen", &po.base, &a);

		if (code == 0) {
			Grpc__PortForwardOpenResponse *r = grpc__port_forward_open_response__unpack(
				NULL, a.len, a.payload);

			assert_non_null(r);
			id = r->session;
			grpc__port_forward_open_response__free_unpacked(r, NULL);
			ah_answer_free(&a);
			break;
		}
		assert_int_equal(code, KC_TTRPC_UNAVAILABLE);
		assert_non_null(strstr(a.message, "connect 127.0.0.1:8080 in the guest"));
		ah_answer_free(&a);
		assert_true(kc_monotonic_ns() < deadline);
		ah_pump(&c, 200);
	}
	pw.session = id;
	pw.data.data = (uint8_t *)"ping\n";
	pw.data.len = 5;
	assert_int_equal(ah_call(&c, "PortForwardWrite", &pw.base, &a), 0);
	{
		Grpc__WriteStreamResponse *r = grpc__write_stream_response__unpack(NULL, a.len,
										   a.payload);

		assert_non_null(r);
		assert_int_equal(r->len, 5);
		grpc__write_stream_response__free_unpacked(r, NULL);
	}
	ah_answer_free(&a);
	assert_int_equal(pf_call(&c, "PortForwardCloseWrite", id), 0);
	pr.session = id;
	for (;;) {
		Grpc__ReadStreamResponse *r;

		assert_int_equal(ah_call(&c, "PortForwardRead", &pr.base, &a), 0);
		r = grpc__read_stream_response__unpack(NULL, a.len, a.payload);
		assert_non_null(r);
		ah_answer_free(&a);
		if (r->data.len == 0) {
			grpc__read_stream_response__free_unpacked(r, NULL);
			break;
		}
		got = kc_xrealloc(got, got_len + r->data.len + 1);
		memcpy(got + got_len, r->data.data, r->data.len);
		got_len += r->data.len;
		got[got_len] = '\0';
		grpc__read_stream_response__free_unpacked(r, NULL);
	}
	assert_string_equal(got, "key2=v1\n");
	assert_int_equal(pf_call(&c, "PortForwardClose", id), 0);

	/* The new version, as kubelet writes it, then the agent's copy. */
	kubelet_write(shared, 2, v2);
	uw.mount_point = (char *)"/run/kata-containers/sandbox/watchable/ct1-0";
	uw.data_dir = (char *)"..2026_12_07_18_00_02.102";
	assert_int_equal(ah_call0(&c, "UpdateWatchableVolume", &uw.base), 0);
	out = read_stdout(&c, "ct1");
	assert_non_null(out);
	for (char *l = out, *nl; (nl = strchr(l, '\n')) != NULL; l = nl + 1)
		print_message("# container said: %.*s\n", (int)(nl - l), l);
	assert_string_equal(out, "key1=v1\nping\nkey1=v2\nkey3=v2\nkey2 gone\n");
	rc.container_id = (char *)"ct1";
	assert_int_equal(ah_call0(&c, "RemoveContainer", &rc.base), 0);
	assert_int_equal(ah_call0(&c, "DestroySandbox", &ds.base), 0);
	ah_conn_close(&c);
	assert_int_equal(kc_vm_stop(vm, &err), 0);
	kc_vm_free(vm);
	live_vm = NULL;
	rm = kc_xasprintf("rm -rf '%s'", shared);
	assert_int_equal(system(rm), 0);
	case_check_clean(&t);
}

/* Bare words in kernel_params (`nokaslr` the kernel takes, `foo` it hands
 * to init as an argument) boot: the agent as init logs and ignores what it
 * does not know.  A quoted word fails at once, before anything runs. */
static void test_kernel_params_words(void **state)
{
	cleanup_free char *log = kc_xasprintf("%s/words-console.txt", base);
	cleanup_free char *text = NULL;
	cleanup_error kc_error_t err = NULL;
	struct kc_vm *vm = NULL;
	struct vm_case t;
	uint64_t t0;
	size_t len;

	(void)state;
	case_init(&t, "words");
	t.spec.kernel_params = "nokaslr foo";
	t.spec.console_log = log;
	vm = boot(&t);
	check_health(kc_vm_agent_uri(vm));
	kc_vm_free(vm);
	live_vm = vm = NULL;
	assert_int_equal(kc_read_file(log, 16 << 20, &text, &len, &err), 0);
	assert_non_null(strstr(text, "ignoring argument `foo`"));
	assert_int_equal(unlink(log), 0);
	case_check_clean(&t);

	case_init(&t, "quote");
	t.spec.kernel_params = "nokaslr a\"b";
	t0 = kc_monotonic_ns();
	assert_true(kc_vm_start(&t.spec, &vm, &err) < 0);
	assert_true(kc_monotonic_ns() - t0 < 2 * SEC);
	assert_null(vm);
	print_message("# %s\n", err->msg);
	assert_non_null(strstr(err->msg, "kernel parameter `a\"b`: a quote is not allowed"));
	case_check_clean(&t);
}

/* A guest that dies while booting (no init: the kernel panics, and QEMU,
 * run with -no-reboot, exits 0) is reported as the guest dying, with what
 * its console said last; not as virtiofsd, which exits with QEMU. */
static void test_guest_dies_at_boot(void **state)
{
	cleanup_free char *log = kc_xasprintf("%s/died-console.txt", base);
	cleanup_free char *shared = kc_xasprintf("%s/died-share", base);
	cleanup_error kc_error_t err = NULL;
	struct kc_vm *vm = NULL;
	struct vm_case t;

	(void)state;
	assert_int_equal(mkdir(shared, 0755), 0);
	case_init(&t, "died");
	t.spec.kernel_params = "rdinit=/nonexistent";
	t.spec.console_log = log;
	t.spec.shared_dir = shared;
	assert_int_equal(kc_vm_start(&t.spec, &vm, &err), -ECHILD);
	assert_null(vm);
	print_message("# %s\n", err->msg);
	assert_non_null(strstr(err->msg, "VM died: the guest died before its agent answered "
					 "(QEMU exited with status 0); guest console: "));
	/* The panic's line and the ones before it, not its stack dump. */
	assert_non_null(strstr(err->msg, "Kernel panic - not syncing: VFS: Unable to mount root fs"));
	assert_non_null(strstr(err->msg, "Can't open blockdev"));
	assert_null(strstr(err->msg, "Call Trace"));
	assert_null(strstr(err->msg, "virtiofsd"));
	assert_int_equal(unlink(log), 0);
	assert_int_equal(rmdir(shared), 0);
	case_check_clean(&t);
}

static int group_setup(void **state)
{
	(void)state;
	kc_log_init("test-vm", "runtime");
	kc_log_set_level(KC_LOG_INFO);
	if (!mkdtemp(base) || load_test_config(&cfg) < 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	kc_config_free(&cfg);
	return rmdir(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_boot_check_version, stop_live_vm),
		cmocka_unit_test_teardown(test_console, stop_live_vm),
		cmocka_unit_test_teardown(test_destroy_sandbox_shuts_down, stop_live_vm),
		cmocka_unit_test_teardown(test_pause_resume, stop_live_vm),
		cmocka_unit_test_teardown(test_never_answers_killed_at_deadline, stop_live_vm),
		cmocka_unit_test_teardown(test_qemu_rejects_kernel, stop_live_vm),
		cmocka_unit_test_teardown(test_five_concurrent, stop_live_vm),
		cmocka_unit_test_teardown(test_container_over_virtiofs, stop_live_vm),
		cmocka_unit_test_teardown(test_kernel_params_words, stop_live_vm),
		cmocka_unit_test_teardown(test_guest_dies_at_boot, stop_live_vm),
		cmocka_unit_test_teardown(test_port_forward_and_watchable, stop_live_vm),
	};

	/* KC_TEST_FILTER=test_boot* runs a subset while developing. */
	if (getenv("KC_TEST_FILTER"))
		cmocka_set_test_filter(getenv("KC_TEST_FILTER"));
	return cmocka_run_group_tests_name("vm", tests, group_setup, group_teardown);
}
