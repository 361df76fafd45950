// SPDX-License-Identifier: Apache-2.0
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
#include "runtime/agent_client.h"
#include "runtime/hypervisor/hypervisor.h"
#include "ttrpc/client.h"
#include "ttrpc/transport.h"
#include "vm_helpers.h"

#define AGENT "grpc.AgentService"
#define BOOT_TIMEOUT (120 * SEC) /* TCG on a busy 2-core machine */

static struct kc_config cfg;
static char base[] = "/tmp/kc-vm-XXXXXX";

struct conn {
	struct kc_loop *loop;
	struct kc_ttrpc_client *cli;
};

static void conn_open(struct conn *c, const char *uri)
{
	cleanup_error kc_error_t err = NULL;
	int fd;

	assert_int_equal(kc_loop_new(&c->loop, &err), 0);
	fd = kc_agent_dial_retry(uri, kc_monotonic_ns() + 30 * SEC, NULL, 0, &err);
	if (fd < 0)
		fail_msg("%s", err->msg);
	assert_int_equal(kc_ttrpc_client_new(c->loop, fd, &c->cli, &err), 0);
}

static void conn_close(struct conn *c)
{
	kc_ttrpc_client_free(c->cli);
	kc_loop_free(c->loop);
}

static int agent_call(struct conn *c, const char *svc, const char *method,
		      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *rd,
		      ProtobufCMessage **resp)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_ttrpc_call_opts o = { .timeout_ns = 60 * SEC };
	int ret = kc_ttrpc_client_call_msg_sync(c->cli, svc, method, req, rd, resp, &o, &err);

	if (ret < 0)
		print_message("# %s/%s: %s\n", svc, method, err->msg);
	return ret;
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
	t->fds = count_fds();
	t->children = count_children();
}

/* Nothing of the VM survives: processes, children, run dir, fds. */
static void case_check_clean(struct vm_case *t)
{
	assert_int_equal(leftover_procs(t->run_dir), 0);
	assert_int_equal(count_children(), t->children);
	assert_false(path_exists(t->run_dir));
	assert_int_equal(count_fds(), t->fds);
	free(t->run_dir);
}

static struct kc_vm *boot(struct vm_case *t)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_vm *vm = NULL;

	if (kc_vm_start(&t->spec, &vm, &err) < 0)
		fail_msg("kc_vm_start: %s", err->msg);
	assert_true(kc_vm_pid(vm) > 0);
	assert_true(kc_vm_pidfd(vm) >= 0);
	assert_non_null(strstr(kc_vm_agent_uri(vm), t->run_dir));
	return vm;
}

static void check_health(const char *uri)
{
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	Grpc__VersionCheckResponse *v;
	Grpc__HealthCheckResponse *h;
	struct conn c;

	conn_open(&c, uri);
	assert_int_equal(agent_call(&c, "grpc.Health", "Check", &req.base,
				    &grpc__health_check_response__descriptor, &resp),
			 0);
	h = (Grpc__HealthCheckResponse *)resp;
	assert_int_equal(h->status, GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
	protobuf_c_message_free_unpacked(resp, NULL);
	assert_int_equal(agent_call(&c, "grpc.Health", "Version", &req.base,
				    &grpc__version_check_response__descriptor, &resp),
			 0);
	v = (Grpc__VersionCheckResponse *)resp;
	assert_true(v->agent_version[0] != '\0');
	assert_true(v->grpc_version[0] != '\0');
	print_message("# agent %s, API %s\n", v->agent_version, v->grpc_version);
	protobuf_c_message_free_unpacked(resp, NULL);
	conn_close(&c);
}

/* Boot, Check and Version over a fresh connection, stop (QMP quit). */
static void test_boot_check_version(void **state)
{
	cleanup_error kc_error_t err = NULL;
	struct vm_case t;
	struct kc_vm *vm;

	(void)state;
	case_init(&t, "boot");
	vm = boot(&t);
	check_health(kc_vm_agent_uri(vm));
	/* A second connection after the first one hung up. */
	check_health(kc_vm_agent_uri(vm));
	assert_int_equal(kc_vm_stop(vm, &err), 0);
	assert_int_equal(kc_vm_stop(vm, &err), 0); /* idempotent */
	kc_vm_free(vm);
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
	struct conn c;
	bool exited;

	(void)state;
	case_init(&t, "destroy");
	vm = boot(&t);
	conn_open(&c, kc_vm_agent_uri(vm));
	cs.sandbox_id = (char *)"destroy";
	cs.hostname = (char *)"kc-destroy";
	assert_int_equal(agent_call(&c, AGENT, "CreateSandbox", &cs.base, NULL, NULL), 0);
	assert_int_equal(agent_call(&c, AGENT, "DestroySandbox", &ds.base, NULL, NULL), 0);
	pfd = (struct pollfd){ .fd = kc_vm_pidfd(vm), .events = POLLIN };
	exited = poll(&pfd, 1, 60000) == 1;
	conn_close(&c);
	/* Stopped either way, so that a failure leaves no VM running. */
	assert_int_equal(kc_vm_stop(vm, &err), 0);
	kc_vm_free(vm);
	assert_true(exited);
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

/* Five VMs booted at the same time (one process each) all answer. */
static void test_five_concurrent(void **state)
{
	char *dirs[5];
	pid_t pids[5];
	int children = count_children();

	(void)state;
	for (int i = 0; i < 5; i++) {
		dirs[i] = kc_xasprintf("%s/c%d", base, i);
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			cleanup_error kc_error_t err = NULL;
			char id[16];
			struct kc_vm_spec s = { .cfg = &cfg, .id = id, .run_dir = dirs[i],
						.agent_timeout_ns = 300 * SEC };
			struct kc_vm *vm = NULL;
			struct conn c;
			Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
			ProtobufCMessage *resp = NULL;

			snprintf(id, sizeof(id), "c%d", i);
			if (kc_vm_start(&s, &vm, &err) < 0) {
				fprintf(stderr, "# VM %d: %s\n", i, err->msg);
				_exit(1);
			}
			conn_open(&c, kc_vm_agent_uri(vm));
			if (agent_call(&c, "grpc.Health", "Check", &req.base,
				       &grpc__health_check_response__descriptor, &resp) < 0)
				_exit(2);
			protobuf_c_message_free_unpacked(resp, NULL);
			conn_close(&c);
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
	assert_int_equal(count_children(), children);
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
		cmocka_unit_test(test_boot_check_version),
		cmocka_unit_test(test_destroy_sandbox_shuts_down),
		cmocka_unit_test(test_never_answers_killed_at_deadline),
		cmocka_unit_test(test_five_concurrent),
	};

	return cmocka_run_group_tests_name("vm", tests, group_setup, group_teardown);
}
