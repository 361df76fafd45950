/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The QEMU microvm back end of hypervisor.h: checks, virtiofsd, QEMU, the
 * wait for the agent, and a stop that leaves nothing behind.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hypervisor/backend.h"
#include "lib/console_proto.h"
#include "qemu.h"
#include "qmp.h"
#include "hypervisor/virtiofsd.h"
#include "lib/log.h"
#include "lib/util.h"
#include "host/accel_cache.h"
#include "hypervisor/agent_client.h"
#include "host/child.h"
#include "host/kvm_probe.h"

#define QMP_TIMEOUT_NS 2000000000ull /* connect + quit */
#define QMP_COMMAND_NS 5000000000ull /* connect + stop/cont/queries */
#define QUIT_GRACE_NS 5000000000ull /* QEMU exiting after quit */
#define VIRTIOFSD_GRACE_NS 2000000000ull /* virtiofsd exiting after QEMU */
#define VIRTIOFSD_START_NS 10000000000ull
#define EXIT_SETTLE_NS 1000000000ull /* QEMU's exit seen after virtiofsd's */

struct qvm {
	char *id;
	char *run_dir;
	bool made_run_dir;
	char *qmp_sock, *agent_sock, *fs_sock, *qemu_log, *fs_log;
	char *console_sock; /* the debug console's chardev; NULL: not enabled */
	char *console_auto; /* run_dir/console.log when debugging without spec->console_log */
	char *agent_uri;
	struct kc_child qemu, fsd;
	int watch_fd; /* epoll set of the pidfds of qemu and fsd */
	int agent_fd; /* kept for kc_vm_take_agent_fd(), -1: none */
	unsigned vcpus, memory_mib; /* as launched */
	bool stopped;
};

/* "auto" probes KVM once per process: the answer does not change. */
static pthread_mutex_t accel_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *accel_auto;
static char accel_reason[256];

static const char *resolve_accel(const char *configured, bool *warn, const char **reason)
{
	*warn = false;
	*reason = "";
	if (!configured || strcmp(configured, "auto") != 0)
		return kc_accel_resolve(configured, NULL);
	pthread_mutex_lock(&accel_lock);
	if (!accel_auto)
		accel_auto = kc_accel_auto(KC_ACCEL_CACHE_PATH, accel_reason, sizeof(accel_reason),
					   NULL);
	*warn = strcmp(accel_auto, "kvm") != 0;
	*reason = accel_reason;
	pthread_mutex_unlock(&accel_lock);
	return accel_auto;
}

static void remove_file(const char *path)
{
	if (path && unlink(path) < 0 && errno != ENOENT)
		kc_warn("remove `%s`: %s", path, strerror(errno));
}

static void vm_cleanup_files(struct qvm *vm)
{
	remove_file(vm->qmp_sock);
	remove_file(vm->agent_sock);
	remove_file(vm->fs_sock);
	remove_file(vm->console_sock);
	remove_file(vm->qemu_log);
	remove_file(vm->fs_log);
	if (vm->console_auto) {
		/* The run dir goes: what the guest said last goes to the log. */
		cleanup_free char *tail = kc_log_tail(vm->console_auto, 4096);

		if (*tail)
			kc_log_kv(KC_LOG_DEBUG, "guest console (last lines)", "vm", vm->id,
				  "console", tail, NULL);
		remove_file(vm->console_auto);
	}
	if (vm->made_run_dir && rmdir(vm->run_dir) < 0 && errno != ENOENT)
		kc_warn("remove `%s`: %s", vm->run_dir, strerror(errno));
	vm->made_run_dir = false;
}

static void vm_release(struct qvm *vm)
{
	if (vm->watch_fd >= 0)
		close(vm->watch_fd);
	free(vm->id);
	free(vm->run_dir);
	free(vm->qmp_sock);
	free(vm->agent_sock);
	free(vm->fs_sock);
	free(vm->console_sock);
	free(vm->qemu_log);
	free(vm->fs_log);
	free(vm->console_auto);
	free(vm->agent_uri);
	free(vm);
}

/* Every check that needs no process: before anything is created. */
static int check_spec(const struct kc_vm_spec *spec, const struct kc_config *cfg, kc_error_t *err)
{
	const struct kc_hypervisor_config *h = &cfg->hypervisor;
	struct stat st;
	int ret;

	if (!spec->id || !*spec->id || strchr(spec->id, '/'))
		return kc_error_set(err, EINVAL, "VM: bad sandbox id `%s`",
				    spec->id ? spec->id : "");
	if (!spec->run_dir || spec->run_dir[0] != '/')
		return kc_error_set(err, EINVAL, "VM: run_dir must be an absolute path");
	if (h->machine_type && *h->machine_type && strcmp(h->machine_type, "microvm") != 0)
		return kc_error_set(err, ENOTSUP,
				    "hypervisor machine_type `%s`: only microvm is "
				    "supported",
				    h->machine_type);
	if (h->image && *h->image && !(h->initrd && *h->initrd))
		return kc_error_set(err, ENOTSUP,
				    "hypervisor image `%s`: disk images are not "
				    "supported yet, configure an initrd",
				    h->image);
	ret = kc_qemu_check_file("guest kernel", h->kernel, false, err);
	if (ret < 0)
		return ret;
	ret = kc_qemu_check_file("guest initrd", h->initrd, false, err);
	if (ret < 0)
		return ret;
	if (spec->shared_dir) {
		if (stat(spec->shared_dir, &st) < 0)
			return kc_error_set(err, errno, "shared directory `%s`", spec->shared_dir);
		if (!S_ISDIR(st.st_mode))
			return kc_error_set(err, ENOTDIR, "shared directory `%s`", spec->shared_dir);
		ret = kc_qemu_check_file("virtiofsd (virtio_fs_daemon)", h->virtio_fs_daemon, true,
					 err);
		if (ret < 0)
			return ret;
	}
	if (spec->n_netdevs > KC_VM_MAX_NETDEVS || (spec->n_netdevs && !spec->netdevs))
		return kc_error_set(err, EINVAL, "VM: %zu netdevs (at most %d)", spec->n_netdevs,
				    KC_VM_MAX_NETDEVS);
	for (size_t i = 0; i < spec->n_netdevs; i++) {
		ret = kc_qemu_check_netdev(&spec->netdevs[i], i, err);
		if (ret < 0)
			return ret;
		for (size_t j = 0; j < i; j++)
			if (strcmp(spec->netdevs[i].id, spec->netdevs[j].id) == 0)
				return kc_error_set(err, EINVAL, "VM: netdev id `%s` twice",
						    spec->netdevs[i].id);
	}
	return kc_qemu_check_binary(h->path, KC_QEMU_CHECK_CACHE_PATH, err);
}

static int make_run_dir(struct qvm *vm, kc_error_t *err)
{
	/* Parents (/run/vc/vm...) are shared by every sandbox: made when
	 * missing and left in place. */
	for (char *p = strchr(vm->run_dir + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(vm->run_dir, 0755) < 0 && errno != EEXIST) {
			int ret = kc_error_set(err, errno, "mkdir `%s`", vm->run_dir);

			*p = '/';
			return ret;
		}
		*p = '/';
	}
	if (mkdir(vm->run_dir, 0700) == 0) {
		vm->made_run_dir = true;
		return 0;
	}
	if (errno != EEXIST)
		return kc_error_set(err, errno, "mkdir `%s`", vm->run_dir);
	/* A socket left by a crashed run would make QEMU or virtiofsd fail. */
	remove_file(vm->qmp_sock);
	remove_file(vm->agent_sock);
	remove_file(vm->fs_sock);
	remove_file(vm->console_sock);
	return 0;
}

/* Stops everything that runs, gently first (QMP quit) unless kill; idempotent.
 * A VM that failed to start is killed: nothing in it is worth a clean exit. */
static void vm_stop_processes(struct qvm *vm, bool kill)
{
	if (!kill && vm->qemu.pidfd >= 0 && !kc_child_exited(&vm->qemu)) {
		cleanup_error kc_error_t err = NULL;
		uint64_t deadline = kc_monotonic_ns() + QMP_TIMEOUT_NS;
		struct kc_qmp *q = NULL;

		if (kc_qmp_connect(vm->qmp_sock, deadline, &q, &err) < 0 ||
		    kc_qmp_execute(q, "quit", NULL, NULL, deadline, &err) < 0) {
			/* QEMU closing the socket right after answering is normal,
			 * and so is a guest that powered off meanwhile. */
			kc_child_wait(&vm->qemu, kc_monotonic_ns() + QMP_TIMEOUT_NS / 4, NULL);
			if (!kc_child_exited(&vm->qemu))
				kc_warn("VM %s: QMP quit: %s; killing QEMU", vm->id, err->msg);
		}
		kc_qmp_close(q);
		if (!err)
			kc_child_wait(&vm->qemu, kc_monotonic_ns() + QUIT_GRACE_NS, NULL);
		if (!kc_child_exited(&vm->qemu))
			kc_debug("VM %s: QEMU still running after quit, SIGKILL", vm->id);
	}
	kc_child_stop(&vm->qemu, false, 0);
	/* virtiofsd ends by itself once QEMU's connection goes. */
	if (vm->fsd.pidfd >= 0)
		kc_child_wait(&vm->fsd, kc_monotonic_ns() + VIRTIOFSD_GRACE_NS, NULL);
	kc_child_stop(&vm->fsd, true, VIRTIOFSD_GRACE_NS);
}

/* Every process the VM depends on goes into its watch set as soon as it
 * runs: the boot waits on the set, and so does whoever runs the VM. */
static int watch_child(struct qvm *vm, const struct kc_child *c, const char *what, kc_error_t *err)
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (epoll_ctl(vm->watch_fd, EPOLL_CTL_ADD, c->pidfd, &ev) < 0)
		return kc_error_set(err, errno, "VM %s: watch the pidfd of %s", vm->id, what);
	return 0;
}

static int launch(struct qvm *vm, const struct kc_vm_spec *spec, const struct kc_config *cfg,
		  uint64_t deadline, kc_error_t *err)
{
	const struct kc_hypervisor_config *h = &cfg->hypervisor;
	bool debug = h->enable_debug || cfg->agent.enable_debug;
	const char *console = spec->console_log;
	cleanup_free char *append = NULL, *initrd = kc_qemu_initrd(cfg);
	cleanup_strv char **argv = NULL;
	const char *accel, *reason;
	struct kc_qemu_cmdline qc;
	int tap_fds[KC_VM_MAX_NETDEVS * KC_VM_MAX_NETDEV_FDS];
	size_t n_tap_fds = 0;
	unsigned long tsc = 0;
	bool warn;
	int ret;

	if (!console && debug)
		console = vm->console_auto = kc_xasprintf("%s/console.log", vm->run_dir);
	accel = resolve_accel(h->accel, &warn, &reason);
	if (strcmp(accel, "kvm") != 0) {
		if (warn)
			kc_warn("VM %s: KVM cannot run this guest at native speed (%s); using TCG, "
				"QEMU's software CPU: the VM will be much slower",
				vm->id, *reason ? reason : "no KVM");
		/* TCG's guest TSC runs at the host's rate; telling the kernel
		 * skips its PIT calibration, which TCG's jitter breaks now and
		 * then (the boot hangs). */
		tsc = kc_qemu_host_tsc_khz();
	}
	append = kc_qemu_kernel_cmdline(cfg, spec->kernel_params, console != NULL, tsc);
	/* Refused now, not by a guest that never answers. */
	ret = kc_qemu_check_kernel_cmdline(append, err);
	if (ret < 0)
		return kc_error_wrap(err, "VM %s", vm->id);

	if (spec->shared_dir) {
		ret = kc_virtiofsd_start(cfg, vm->fs_sock, spec->shared_dir, vm->fs_log,
					 kc_monotonic_ns() + VIRTIOFSD_START_NS < deadline
						 ? kc_monotonic_ns() + VIRTIOFSD_START_NS
						 : deadline,
					 &vm->fsd, err);
		if (ret >= 0)
			ret = watch_child(vm, &vm->fsd, "virtiofsd", err);
		if (ret < 0)
			return ret;
	}
	qc = (struct kc_qemu_cmdline){
		.qemu_path = h->path,
		.name = vm->id,
		.kvm = strcmp(accel, "kvm") == 0,
		.vcpus = spec->vcpus ? spec->vcpus
				     : (unsigned)(h->default_vcpus > 0 ? h->default_vcpus : 1),
		.memory_mib = spec->memory_mib
				      ? spec->memory_mib
				      : (unsigned)(h->default_memory > 0 ? h->default_memory : 2048),
		.kernel = h->kernel,
		.initrd = initrd,
		.append = append,
		.qmp_socket = vm->qmp_sock,
		.agent_socket = vm->agent_sock,
		.virtiofs_socket = spec->shared_dir ? vm->fs_sock : NULL,
		.console_log = console,
		.debug_console_socket = vm->console_sock,
		.netdevs = spec->netdevs,
		.n_netdevs = spec->n_netdevs,
		.first_netdev_fd = 3,
	};
	/* The TAP fds, in order, become QEMU's fds 3, 4, ... */
	for (size_t i = 0; i < spec->n_netdevs; i++)
		for (unsigned q = 0; q < spec->netdevs[i].n_fds; q++)
			tap_fds[n_tap_fds++] = spec->netdevs[i].fds[q];
	argv = kc_qemu_build_argv(&qc);
	if (kc_log_enabled(KC_LOG_DEBUG)) {
		cleanup_free char *line = kc_xstrdup(argv[0]);

		for (char **a = argv + 1; *a; a++) {
			char *n = kc_xasprintf("%s %s", line, *a);

			free(line);
			line = n;
		}
		kc_debug("VM %s: launching %s", vm->id, line);
	}
	ret = kc_child_spawn_fds(argv, vm->qemu_log, tap_fds, n_tap_fds, &vm->qemu, err);
	if (ret < 0)
		return kc_error_wrap(err, "VM %s: QEMU", vm->id);
	ret = watch_child(vm, &vm->qemu, "QEMU", err);
	if (ret < 0)
		return ret;
	vm->vcpus = qc.vcpus;
	vm->memory_mib = qc.memory_mib;
	kc_info("VM %s: QEMU started (pid %d, accel %s, %u vCPU, %u MiB)", vm->id,
		(int)vm->qemu.pid, accel, qc.vcpus, qc.memory_mib);
	return 0;
}

/*
 * sandbox_cgroup_only = false (Kata's default): only the vCPU threads go to
 * the pod's cgroup, which QMP's query-cpus-fast names.  QEMU answers QMP
 * once its machine is up; its vCPU runs outside until then (tens of ms,
 * while the guest boots; the shim waits for the agent meanwhile anyway).
 */
static int place_vcpus(struct qvm *vm, struct kc_host_cgroup *cg, uint64_t deadline, kc_error_t *err)
{
	cleanup_free pid_t *tids = NULL;
	json_t *cpus = NULL, *cpu;
	struct kc_qmp *q = NULL;
	size_t i, n = 0;
	int ret;

	ret = kc_qmp_connect_wait(vm->qmp_sock, deadline, vm->qemu.pidfd, &q, err);
	if (ret == 0)
		ret = kc_qmp_execute(q, "query-cpus-fast", NULL, &cpus, deadline, err);
	kc_qmp_close(q);
	if (ret == 0 && !json_is_array(cpus))
		ret = kc_error_set(err, EPROTO, "QMP query-cpus-fast: no list of vCPUs");
	if (ret == 0) {
		tids = kc_xzalloc((json_array_size(cpus) + 1) * sizeof(*tids));
		json_array_foreach(cpus, i, cpu)
		{
			json_t *t = json_object_get(cpu, "thread-id");

			if (!json_is_integer(t) || json_integer_value(t) <= 0 ||
			    json_integer_value(t) > INT32_MAX) {
				ret = kc_error_set(err, EPROTO,
						   "QMP query-cpus-fast: vCPU %zu has no thread-id",
						   i);
				break;
			}
			tids[n++] = (pid_t)json_integer_value(t);
		}
	}
	json_decref(cpus);
	if (ret < 0)
		return kc_error_wrap(err, "VM %s: the vCPU threads into the pod's cgroup", vm->id);
	kc_host_cgroup_add_threads(cg, vm->qemu.pid, tids, n);
	kc_debug("VM %s: %zu vCPU thread(s) in the pod's cgroup", vm->id, n);
	return 0;
}

/*
 * The process whose exit ended the VM; NULL while all of them run.  QEMU
 * is named whenever it exited: virtiofsd ends when QEMU's vhost-user
 * connection closes, which it may notice before QEMU's own exit shows, so
 * a virtiofsd found gone alone gives QEMU a moment to show it went first.
 */
static struct kc_child *ended_by(struct qvm *vm, const char **what)
{
	bool fsd_gone = vm->fsd.pid > 0 && kc_child_exited(&vm->fsd);

	if (fsd_gone && !kc_child_exited(&vm->qemu))
		kc_child_wait(&vm->qemu, kc_monotonic_ns() + EXIT_SETTLE_NS, NULL);
	if (vm->qemu.pid > 0 && kc_child_exited(&vm->qemu)) {
		*what = "QEMU";
		return &vm->qemu;
	}
	if (fsd_gone) {
		*what = "virtiofsd";
		return &vm->fsd;
	}
	return NULL;
}

/* What the guest console says of its end: after a kernel panic, the
 * panic's line and the few before it (what init said as it exited, or why
 * the kernel gave up); the stack dump that follows tells a user nothing.
 * Otherwise its last lines. */
static char *console_reason(const char *console)
{
	char *tail = kc_log_tail(console, 8192);
	char *panic = NULL, *start, *end;
	size_t len;

	for (char *p = tail; (p = strstr(p, "Kernel panic - not syncing")) != NULL; p++)
		panic = p;
	if (panic) {
		start = panic;
		for (int lines = 0; start > tail && lines < 4; start--)
			if (start[-1] == '\n' && ++lines == 4)
				break;
		end = strchr(panic, '\n');
		len = end ? (size_t)(end - start) : strlen(start);
	} else {
		len = strlen(tail);
		start = tail + (len > 2048 ? len - 2048 : 0);
		len = strlen(start);
	}
	memmove(tail, start, len);
	tail[len] = '\0';
	return tail;
}

/* QEMU runs with -no-reboot: status 0 is the guest going (its kernel
 * panicked, as it does when init exits, or it powered off), not QEMU
 * failing.  What the guest said last tells why, when its console is kept. */
static int guest_died(struct qvm *vm, const char *console, kc_error_t *err)
{
	cleanup_free char *tail = console ? console_reason(console) : NULL;

	if (!console)
		return kc_error_set_status(err, ECHILD,
					   "VM %s: the guest died before its agent answered "
					   "(QEMU exited with status 0); no guest console was kept "
					   "(enable_debug keeps one)",
					   vm->id);
	return kc_error_set_status(err, ECHILD,
				   "VM %s: the guest died before its agent answered "
				   "(QEMU exited with status 0); guest console: %s",
				   vm->id, *tail ? tail : "(empty)");
}

static int wait_agent(struct qvm *vm, const char *console, uint64_t deadline, uint64_t timeout_ns,
		      bool keep, kc_error_t *err)
{
	cleanup_error kc_error_t e = NULL;
	const char *what = NULL;
	struct kc_child *who;
	char how[64];
	int ret;

	ret = kc_agent_wait_ready(vm->agent_uri, deadline, &vm->watch_fd, 1,
				  keep ? &vm->agent_fd : NULL, &e);
	if (ret == 0)
		return 0;
	who = ended_by(vm, &what);
	if (who == &vm->qemu && WIFEXITED(who->status) && WEXITSTATUS(who->status) == 0)
		return guest_died(vm, console, err);
	if (who) {
		cleanup_free char *tail = kc_log_tail(who == &vm->qemu ? vm->qemu_log : vm->fs_log,
						      2048);

		return kc_error_set_status(err, ECHILD, "VM %s: %s %s before the agent answered: %s",
					   vm->id, what, kc_child_describe(who, how, sizeof(how)),
					   *tail ? tail : "(no output)");
	}
	if (e->status == ETIMEDOUT)
		return kc_error_set_status(
			err, ETIMEDOUT,
			"VM %s: the guest agent did not answer grpc.Health/Check within "
			"%.1f s; VM killed (last: %s)",
			vm->id, (double)timeout_ns / 1e9, e->msg);
	*err = kc_steal_ptr(&e);
	return kc_error_wrap(err, "VM %s: waiting for the agent", vm->id);
}

static int qemu_start(const struct kc_vm_spec *spec, void **out, kc_error_t *err)
{
	const struct kc_config *cfg = spec->cfg;
	uint64_t timeout_ns, deadline;
	struct qvm *vm;
	int ret;

	ret = check_spec(spec, cfg, err);
	if (ret < 0)
		return ret;
	vm = kc_xzalloc(sizeof(*vm));
	vm->qemu = (struct kc_child)KC_CHILD_INIT;
	vm->fsd = (struct kc_child)KC_CHILD_INIT;
	vm->agent_fd = -1;
	vm->id = kc_xstrdup(spec->id);
	vm->run_dir = kc_xstrdup(spec->run_dir);
	vm->watch_fd = epoll_create1(EPOLL_CLOEXEC);
	if (vm->watch_fd < 0) {
		ret = kc_error_set(err, errno, "VM %s: epoll_create1", vm->id);
		vm_release(vm);
		return ret;
	}
	for (size_t n = strlen(vm->run_dir); n > 1 && vm->run_dir[n - 1] == '/'; n--)
		vm->run_dir[n - 1] = '\0';
	if ((ret = kc_qemu_socket_path(vm->run_dir, "qmp.sock", &vm->qmp_sock, err)) < 0 ||
	    (ret = kc_qemu_socket_path(vm->run_dir, "agent.sock", &vm->agent_sock, err)) < 0 ||
	    (spec->shared_dir &&
	     (ret = kc_qemu_socket_path(vm->run_dir, "virtiofsd.sock", &vm->fs_sock, err)) < 0) ||
	    (cfg->agent.debug_console_enabled &&
	     (ret = kc_qemu_socket_path(vm->run_dir, KC_CONSOLE_SOCKET, &vm->console_sock, err)) <
		     0)) {
		vm_release(vm);
		return ret;
	}
	vm->qemu_log = kc_xasprintf("%s/qemu.log", vm->run_dir);
	if (spec->shared_dir)
		vm->fs_log = kc_xasprintf("%s/virtiofsd.log", vm->run_dir);
	vm->agent_uri = kc_xasprintf("unix://%s", vm->agent_sock);

	timeout_ns = spec->agent_timeout_ns
			     ? spec->agent_timeout_ns
			     : (uint64_t)(cfg->agent.dial_timeout > 0 ? cfg->agent.dial_timeout
								      : 45) *
				       1000000000ull;
	deadline = kc_monotonic_ns() + timeout_ns;
	ret = make_run_dir(vm, err);
	if (ret >= 0)
		ret = launch(vm, spec, cfg, deadline, err);
	if (ret >= 0 && spec->vcpu_cgroup)
		ret = place_vcpus(vm, spec->vcpu_cgroup, deadline, err);
	if (ret >= 0)
		ret = wait_agent(vm, spec->console_log ? spec->console_log : vm->console_auto,
				 deadline, timeout_ns, spec->keep_agent_conn, err);
	if (ret < 0) {
		vm_stop_processes(vm, true);
		vm_cleanup_files(vm);
		vm_release(vm);
		return ret;
	}
	kc_info("VM %s: agent ready at %s", vm->id, vm->agent_uri);
	*out = vm;
	return 0;
}

static const char *qemu_agent_uri(const void *impl)
{
	const struct qvm *vm = impl;

	return vm->agent_uri;
}

static pid_t qemu_pid(const void *impl)
{
	const struct qvm *vm = impl;

	return vm->qemu.pid;
}

static int qemu_pidfd(const void *impl)
{
	const struct qvm *vm = impl;

	return vm->qemu.pidfd;
}

static int qemu_watch_fd(const void *impl)
{
	const struct qvm *vm = impl;

	return vm->watch_fd;
}

static char *qemu_lost(void *impl)
{
	struct qvm *vm = impl;
	const char *what = NULL;
	struct kc_child *who = ended_by(vm, &what);
	char how[64];
	char *why;

	why = who ? kc_xasprintf("%s %s", what, kc_child_describe(who, how, sizeof(how)))
		  : kc_xstrdup("none of its processes exited");
	vm_stop_processes(vm, true);
	return why;
}

static void qemu_parts(const void *impl, struct kc_vm_parts *out)
{
	const struct qvm *vm = impl;

	if (vm->qemu.pid > 0 && !vm->qemu.reaped) {
		out->procs[out->n_procs].what = "qemu";
		out->procs[out->n_procs++].pid = vm->qemu.pid;
	}
	if (vm->fsd.pid > 0 && !vm->fsd.reaped) {
		out->procs[out->n_procs].what = "virtiofsd";
		out->procs[out->n_procs++].pid = vm->fsd.pid;
	}
	out->qmp_socket = vm->qmp_sock;
}

static int qemu_take_agent_fd(void *impl)
{
	struct qvm *vm = impl;

	return kc_steal_fd(&vm->agent_fd);
}

static int qemu_stop(void *impl, kc_error_t *err)
{
	struct qvm *vm = impl;

	(void)err;
	if (vm->agent_fd >= 0)
		close(kc_steal_fd(&vm->agent_fd));
	if (vm->stopped)
		return 0;
	vm_stop_processes(vm, false);
	vm_cleanup_files(vm);
	vm->stopped = true;
	{
		char how[64];

		kc_info("VM %s: stopped (QEMU %s)", vm->id,
			kc_child_describe(&vm->qemu, how, sizeof(how)));
	}
	return 0;
}

static void qemu_free(void *impl)
{
	struct qvm *vm = impl;

	if (!vm)
		return;
	qemu_stop(vm, NULL);
	vm_release(vm);
}

static int qemu_wait(void *impl, uint64_t deadline, kc_error_t *err)
{
	struct qvm *vm = impl;
	int ret;

	/* Stopped: reaped, and the pidfd is closed. */
	if (vm->qemu.reaped || vm->qemu.pidfd < 0)
		return 1;
	ret = kc_child_wait(&vm->qemu, deadline, err);
	if (ret < 0)
		kc_error_wrap(err, "VM %s: wait for QEMU", vm->id);
	return ret;
}

/* The VMM must run for op: -ESRCH saying why it does not. */
static int check_alive(struct qvm *vm, const char *op, kc_error_t *err)
{
	char how[64];

	if (vm->stopped)
		return kc_error_set_status(err, ESRCH, "VM %s: %s: the VM is stopped", vm->id, op);
	if (kc_child_exited(&vm->qemu))
		return kc_error_set_status(err, ESRCH, "VM %s: %s: the VM is not running (QEMU %s)",
					   vm->id, op,
					   kc_child_describe(&vm->qemu, how, sizeof(how)));
	return 0;
}

/* QMP query-status: QEMU's word for the run state ("running", "paused",
 * "suspended", ...), to be freed. */
static int qmp_status(struct kc_qmp *q, uint64_t deadline, char **status, kc_error_t *err)
{
	json_t *r = NULL;
	const char *s;
	int ret;

	ret = kc_qmp_execute(q, "query-status", NULL, &r, deadline, err);
	if (ret < 0)
		return ret;
	s = json_string_value(json_object_get(r, "status"));
	if (s)
		*status = kc_xstrdup(s);
	else
		ret = kc_error_set(err, EPROTO, "QMP query-status: no status in the answer");
	json_decref(r);
	return ret;
}

/* Pause and resume: QMP command, then query-status must answer want. */
static int set_run_state(struct qvm *vm, const char *op, const char *command, const char *want,
			 kc_error_t *err)
{
	uint64_t deadline = kc_monotonic_ns() + QMP_COMMAND_NS;
	cleanup_free char *status = NULL;
	struct kc_qmp *q = NULL;
	int ret;

	ret = check_alive(vm, op, err);
	if (ret < 0)
		return ret;
	ret = kc_qmp_connect(vm->qmp_sock, deadline, &q, err);
	if (ret >= 0)
		ret = kc_qmp_execute(q, command, NULL, NULL, deadline, err);
	if (ret >= 0)
		ret = qmp_status(q, deadline, &status, err);
	kc_qmp_close(q);
	if (ret < 0) {
		kc_error_wrap(err, "VM %s: %s", vm->id, op);
		return ret;
	}
	if (strcmp(status, want) != 0)
		return kc_error_set(err, EPROTO,
				    "VM %s: %s: QEMU took `%s` but reports status `%s`, not `%s`",
				    vm->id, op, command, status, want);
	kc_info("VM %s: %s", vm->id, want);
	return 0;
}

static int qemu_pause(void *impl, kc_error_t *err)
{
	return set_run_state(impl, "pause", "stop", "paused", err);
}

static int qemu_resume(void *impl, kc_error_t *err)
{
	return set_run_state(impl, "resume", "cont", "running", err);
}

/* query-cpus-fast and query-memory-size-summary: what the guest has now. */
static int qmp_sizes(struct kc_qmp *q, uint64_t deadline, unsigned *vcpus, unsigned *mib,
		     kc_error_t *err)
{
	json_t *cpus = NULL, *mem = NULL;
	json_int_t bytes;
	int ret;

	ret = kc_qmp_execute(q, "query-cpus-fast", NULL, &cpus, deadline, err);
	if (ret >= 0 && !json_is_array(cpus))
		ret = kc_error_set(err, EPROTO, "QMP query-cpus-fast: no list of vCPUs");
	if (ret >= 0)
		ret = kc_qmp_execute(q, "query-memory-size-summary", NULL, &mem, deadline, err);
	if (ret >= 0 && !json_is_integer(json_object_get(mem, "base-memory")))
		ret = kc_error_set(err, EPROTO, "QMP query-memory-size-summary: no base-memory");
	if (ret >= 0) {
		bytes = json_integer_value(json_object_get(mem, "base-memory")) +
			json_integer_value(json_object_get(mem, "plugged-memory"));
		*vcpus = (unsigned)json_array_size(cpus);
		*mib = (unsigned)(bytes >> 20);
	}
	json_decref(cpus);
	json_decref(mem);
	return ret;
}

static int qemu_query(void *impl, struct kc_vm_info *info, kc_error_t *err)
{
	struct qvm *vm = impl;
	uint64_t deadline = kc_monotonic_ns() + QMP_COMMAND_NS;
	cleanup_error kc_error_t e = NULL;
	cleanup_free char *status = NULL;
	struct kc_qmp *q = NULL;
	unsigned vcpus = 0, mib = 0;
	int ret;

	info->agent_uri = vm->agent_uri;
	info->vcpus = vm->vcpus;
	info->memory_mib = vm->memory_mib;
	info->state = KC_VM_STOPPED;
	if (vm->stopped || kc_child_exited(&vm->qemu))
		return 0;
	ret = kc_qmp_connect(vm->qmp_sock, deadline, &q, &e);
	if (ret >= 0)
		ret = qmp_status(q, deadline, &status, &e);
	if (ret >= 0)
		ret = qmp_sizes(q, deadline, &vcpus, &mib, &e);
	kc_qmp_close(q);
	if (ret < 0) {
		/* QEMU exiting while asked is the answer. */
		if (kc_child_wait(&vm->qemu, kc_monotonic_ns() + QMP_TIMEOUT_NS / 4, NULL) == 1)
			return 0;
		kc_error_wrap(&e, "VM %s: query", vm->id);
		if (err)
			*err = kc_steal_ptr(&e);
		return ret;
	}
	info->pid = vm->qemu.pid;
	info->state = strcmp(status, "running") == 0 ? KC_VM_RUNNING : KC_VM_PAUSED;
	info->vcpus = vcpus;
	info->memory_mib = mib;
	return 0;
}

/* save, restore, add_device and remove_device: not yet (hypervisor.c
 * answers for them).  microvm has no bus to hot-plug devices on; templates
 * come with QEMU's migration to a file. */
const struct kc_vm_ops kc_qemu_vm_ops = {
	.name = "qemu",
	.start = qemu_start,
	.agent_uri = qemu_agent_uri,
	.take_agent_fd = qemu_take_agent_fd,
	.pid = qemu_pid,
	.pidfd = qemu_pidfd,
	.watch_fd = qemu_watch_fd,
	.lost = qemu_lost,
	.parts = qemu_parts,
	.stop = qemu_stop,
	.free = qemu_free,
	.wait = qemu_wait,
	.pause = qemu_pause,
	.resume = qemu_resume,
	.query = qemu_query,
};
