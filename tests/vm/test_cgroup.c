/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup v2 in a real guest: the guest image (vmlinux + the agent's initrd)
 * booted under QEMU microvm, the agent as PID 1 with every controller
 * enabled, driven over its virtio-serial port.
 *
 * The containers' rootfs travels in a second cpio archive appended to the
 * initrd (the kernel unpacks concatenated archives): /kc-rootfs holds
 * busybox.  The same archive puts busybox at /bin/busybox of the guest, so
 * that agent.debug_console gives a shell on the debug console's port: the
 * test reads the guest's cgroup files through it, to check what the kernel
 * holds rather than what the agent says.
 *
 * Checked: a memory limit enforced (the container is OOM-killed, 137) with
 * its OOM event delivered to a GetOOMEvent held before; a pids limit
 * (pids.current stops at it); cpu.weight and cpu.max as runc computes them,
 * and updated by UpdateContainer; freeze and thaw; stats; removal of the
 * cgroups; power-off on DestroySandbox.  The tests run in order and share
 * the VM.
 *
 * Env: KC_GUEST_KERNEL, KC_GUEST_INITRD (the meson targets), KC_QEMU
 * (default qemu-system-x86_64), KC_QEMU_ACCEL (default tcg,thread=multi).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "agent_harness.h"
#include "health.pb-c.h"
#include "lib/console_proto.h"
#include "lib/util.h"
#include "ttrpc/client.h"
#include "ttrpc/loop.h"

#define BUSYBOX "/bin/busybox"
#define SEC 1000000000ull
#define BOOT_S 180
#define CALL_S AH_GUARD_S
#define ROOTFS "/kc-rootfs"
#define CG "/sys/fs/cgroup/kc-vm-test"

static struct {
	char dir[64];
	char *agent_sock, *con_sock, *dbg_sock, *initrd, *qemu_log;
	pid_t qemu;
	struct ah_conn conn;
	int con;
	struct kc_loop_watch *con_watch;
	char *out; /* console output so far */
	size_t out_len;
} g = { .con = -1 };

/* The connection to the agent. */
#define C (&g.conn)

/* ---- the guest's serial console ---- */

static void on_console(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	char buf[4096];
	ssize_t n;

	(void)w;
	(void)events;
	(void)data;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		g.out = kc_xrealloc(g.out, g.out_len + (size_t)n + 1);
		memcpy(g.out + g.out_len, buf, (size_t)n);
		g.out_len += (size_t)n;
		g.out[g.out_len] = '\0';
	}
}

static int unix_connect(const char *path);

/*
 * Runs `cmd` with `sh -c` through the guest's debug console (its own
 * virtio-serial port: lib/console_proto.h) and returns its output (stdout
 * and stderr as they came), its lines joined by '\n', empty ones left out.
 */
static char *guest_sh(const char *cmd)
{
	uint64_t deadline = kc_monotonic_ns() + CALL_S * SEC;
	struct kc_console_buf in = { 0 };
	uint8_t frame[KC_CONSOLE_MAX_FRAME];
	cleanup_free char *raw = kc_xstrdup("");
	cleanup_close int fd = -1;
	char *res, *save = NULL;
	bool exited = false;
	size_t n;

	/* The agent opens its port again a moment after each session. */
	while ((fd = unix_connect(g.dbg_sock)) < 0 && kc_monotonic_ns() < deadline)
		usleep(50000);
	assert_true(fd >= 0);
	n = kc_console_encode_open(frame, 0, 0, 0, cmd);
	assert_int_equal(write(fd, frame, n), (ssize_t)n);
	while (!exited) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint8_t buf[8192];
		ssize_t r;

		/* The serial console is drained meanwhile. */
		kc_loop_run_once(C->loop, 0, NULL);
		if (kc_monotonic_ns() > deadline)
			fail_msg("guest shell: no answer to `%s`", cmd);
		if (poll(&p, 1, 100) <= 0)
			continue;
		r = read(fd, buf, sizeof(buf));
		if (r <= 0)
			fail_msg("guest shell: the console closed during `%s`", cmd);
		kc_console_buf_append(&in, buf, (size_t)r);
		for (;;) {
			struct kc_console_msg m;
			int k = kc_console_parse(in.data, in.len, false, &m, NULL);
			char *more;

			if (k < 0)
				fail_msg("guest shell: a bad frame during `%s`", cmd);
			if (k == 0)
				break;
			if (m.type == KC_CONSOLE_STDOUT || m.type == KC_CONSOLE_STDERR) {
				more = kc_xasprintf("%s%.*s", raw, (int)m.len,
						    (const char *)m.payload);
				free(raw);
				raw = more;
			} else if (m.type == KC_CONSOLE_ERROR) {
				fail_msg("guest shell: %.*s", (int)m.len, (const char *)m.payload);
			}
			exited = exited || m.type == KC_CONSOLE_EXIT;
			kc_console_buf_consume(&in, (size_t)k);
		}
	}
	kc_console_buf_free(&in);
	res = kc_xzalloc(strlen(raw) + 1);
	for (char *l = strtok_r(raw, "\r\n", &save); l; l = strtok_r(NULL, "\r\n", &save)) {
		if (res[0])
			strcat(res, "\n");
		strcat(res, l);
	}
	return res;
}

static void assert_guest(const char *cmd, const char *want)
{
	cleanup_free char *got = guest_sh(cmd);

	if (strcmp(got, want) != 0)
		fail_msg("guest `%s`: got `%s`, want `%s`", cmd, got, want);
}

/* ---- containers ---- */

static int create(const char *id, const char *args, const char *linux_json, struct ah_answer *a)
{
	cleanup_free char *json = kc_xasprintf("{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":%s,"
					       "\"env\":[\"PATH=/bin\"]},\"root\":{\"path\":\"" ROOTFS
					       "\"},\"linux\":%s}",
					       args, linux_json);
	return ah_create_container(C, id, json, a);
}

static void run(const char *id, const char *args, const char *linux_json)
{
	Grpc__StartContainerRequest start = GRPC__START_CONTAINER_REQUEST__INIT;
	struct ah_answer a;

	if (create(id, args, linux_json, &a) != 0)
		fail_msg("CreateContainer %s: %s", id, a.message);
	ah_answer_free(&a);
	start.container_id = (char *)id;
	ah_call_ok(C, "StartContainer", &start.base, NULL);
}

static int wait_status(const char *id)
{
	int status;

	assert_int_equal(ah_wait_process(C, id, NULL, &status, NULL), 0);
	return status;
}

static Grpc__StatsContainerResponse *stats(const char *id)
{
	Grpc__StatsContainerRequest req = GRPC__STATS_CONTAINER_REQUEST__INIT;
	Grpc__StatsContainerResponse *r;
	struct ah_answer a;

	req.container_id = (char *)id;
	if (ah_call(C, "StatsContainer", &req.base, &a) != 0)
		fail_msg("StatsContainer %s: %s", id, a.message);
	r = grpc__stats_container_response__unpack(NULL, a.len, a.payload);
	ah_answer_free(&a);
	assert_non_null(r);
	assert_non_null(r->cgroup_stats);
	return r;
}

static void remove_container(const char *id)
{
	Grpc__RemoveContainerRequest req = GRPC__REMOVE_CONTAINER_REQUEST__INIT;

	req.container_id = (char *)id;
	ah_call_ok(C, "RemoveContainer", &req.base, NULL);
}

static void update(const char *id, const char *json)
{
	Grpc__UpdateContainerRequest req = GRPC__UPDATE_CONTAINER_REQUEST__INIT;

	req.container_id = (char *)id;
	req.resources_json.data = (uint8_t *)json;
	req.resources_json.len = strlen(json);
	ah_call_ok(C, "UpdateContainer", &req.base, NULL);
}

/* ---- setup ---- */

static void sh_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void sh_ok(const char *fmt, ...)
{
	cleanup_free char *cmd = NULL;
	va_list ap;

	va_start(ap, fmt);
	cmd = kc_xvasprintf(fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("`%s` failed", cmd);
}

/* The initrd with busybox for the debug shell and the containers. */
static void build_initrd(const char *base)
{
	static const char *const applets[] = { "sh", "sleep", "cat", "echo", "read" };

	sh_ok("mkdir -p %s/x/bin %s/x" ROOTFS "/bin && cp " BUSYBOX " %s/x/bin/busybox && "
	      "cp " BUSYBOX " %s/x" ROOTFS "/bin/busybox && ln -s busybox %s/x/bin/sh",
	      g.dir, g.dir, g.dir, g.dir, g.dir);
	for (size_t i = 0; i < KC_ARRAY_SIZE(applets); i++)
		sh_ok("ln -s busybox %s/x" ROOTFS "/bin/%s", g.dir, applets[i]);
	/* Compressed too: the kernel takes an uncompressed archive after a
	 * compressed one only at a 4-byte aligned offset, which the image's
	 * size does not promise. */
	sh_ok("cd %s/x && find . -mindepth 1 | LC_ALL=C sort | "
	      "cpio -o -H newc -R 0:0 --quiet | gzip -1 > %s/extra.cpio.gz && "
	      "cat '%s' %s/extra.cpio.gz > %s",
	      g.dir, g.dir, base, g.dir, g.initrd);
}

/* TCG's guest TSC runs at the host's rate: giving it skips the PIT
 * calibration that fails now and then under TCG (see tests/guest). */
static char *tsc_param(const char *accel)
{
	cleanup_free char *info = NULL;
	const char *p;
	size_t len;

	if (strncmp(accel, "tcg", 3) != 0 ||
	    kc_read_file("/proc/cpuinfo", 4 << 20, &info, &len, NULL) < 0 ||
	    !(p = strstr(info, "cpu MHz")) || !(p = strchr(p, ':')))
		return kc_xstrdup("");
	return kc_xasprintf("tsc_early_khz=%ld", (long)(atof(p + 1) * 1000));
}

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int setup(void **state)
{
	const char *kernel = getenv("KC_GUEST_KERNEL"), *base = getenv("KC_GUEST_INITRD");
	const char *qemu = getenv("KC_QEMU") ? getenv("KC_QEMU") : "qemu-system-x86_64";
	const char *accel = getenv("KC_QEMU_ACCEL") ? getenv("KC_QEMU_ACCEL") : "tcg,thread=multi";
	cleanup_free char *tsc = tsc_param(accel), *append = NULL, *con = NULL, *agent = NULL;
	cleanup_free char *dbg = NULL;
	Grpc__CheckRequest check = GRPC__CHECK_REQUEST__INIT;
	uint64_t deadline;
	int fd = -1;

	(void)state;
	if (!kernel || !base || access(kernel, R_OK) < 0 || access(base, R_OK) < 0) {
		fprintf(stderr, "KC_GUEST_KERNEL and KC_GUEST_INITRD must name the guest image\n");
		return -1;
	}
	strcpy(g.dir, "/tmp/kc-cgroup-vm-XXXXXX");
	assert_non_null(mkdtemp(g.dir));
	g.agent_sock = kc_xasprintf("%s/agent.sock", g.dir);
	g.con_sock = kc_xasprintf("%s/console.sock", g.dir);
	g.dbg_sock = kc_xasprintf("%s/dbg.sock", g.dir);
	g.initrd = kc_xasprintf("%s/initrd.img", g.dir);
	g.qemu_log = kc_xasprintf("%s/qemu.log", g.dir);
	build_initrd(base);
	append = kc_xasprintf("console=ttyS0 panic=-1 quiet cgroup_no_v1=all agent.log=info "
			      "agent.debug_console agent.listen=serial://agent.channel.0 %s",
			      tsc);
	con = kc_xasprintf("socket,id=con,path=%s,server=on,wait=off", g.con_sock);
	agent = kc_xasprintf("socket,id=agent,path=%s,server=on,wait=off", g.agent_sock);
	dbg = kc_xasprintf("socket,id=dbg,path=%s,server=on,wait=off", g.dbg_sock);
	{
		const char *argv[] = { qemu,
				       "-accel",
				       accel,
				       "-cpu",
				       "max",
				       "-M",
				       "microvm,pit=on,pic=on,rtc=on,memory-backend=mem",
				       "-global",
				       "virtio-mmio.force-legacy=false",
				       "-object",
				       "memory-backend-memfd,id=mem,size=512M,share=on",
				       "-m",
				       "512",
				       "-smp",
				       "2",
				       "-display",
				       "none",
				       "-monitor",
				       "none",
				       "-no-reboot",
				       "-kernel",
				       kernel,
				       "-initrd",
				       g.initrd,
				       "-append",
				       append,
				       "-chardev",
				       con,
				       "-serial",
				       "chardev:con",
				       "-device",
				       "virtio-serial-device",
				       "-chardev",
				       agent,
				       "-device",
				       "virtserialport,chardev=agent,name=agent.channel.0",
				       "-chardev",
				       dbg,
				       "-device",
				       "virtserialport,chardev=dbg,name=" KC_CONSOLE_PORT_NAME,
				       NULL };

		/* QEMU dies with the test, however the test ends. */
		g.qemu = ah_spawn(argv, g.qemu_log, AH_SPAWN_LOG_STDOUT);
	}
	deadline = kc_monotonic_ns() + 30 * SEC;
	while ((g.con = unix_connect(g.con_sock)) < 0 || (fd = unix_connect(g.agent_sock)) < 0) {
		if (g.con >= 0)
			close(g.con);
		g.con = -1;
		if (kc_monotonic_ns() > deadline || waitpid(g.qemu, NULL, WNOHANG) == g.qemu) {
			fprintf(stderr, "QEMU did not start: see %s\n", g.qemu_log);
			return -1;
		}
		usleep(50000);
	}
	fcntl(g.con, F_SETFL, O_NONBLOCK);
	ah_conn_fd(C, fd);
	assert_int_equal(
		kc_loop_watch_fd(C->loop, g.con, EPOLLIN, on_console, NULL, &g.con_watch, NULL), 0);
	/* The agent answers once it has booted; the port is there before. */
	deadline = kc_monotonic_ns() + BOOT_S * SEC;
	for (;;) {
		struct ah_answer a;

		ah_start_call(C, "Health.Check", &check.base, &a);
		while (!a.done && kc_monotonic_ns() < deadline)
			kc_loop_run_once(C->loop, 100 * 1000000, NULL);
		if (a.done && a.code == 0) {
			ah_answer_free(&a);
			break;
		}
		if (!a.done || kc_monotonic_ns() > deadline) {
			fprintf(stderr, "agent did not answer in %d s; console:\n%s\n", BOOT_S,
				g.out ? g.out : "");
			return -1;
		}
		ah_answer_free(&a);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	/* The guest's side of the story, for whoever reads a failed run. */
	if (getenv("KC_TEST_CONSOLE") && g.out)
		fprintf(stderr, "---- guest console ----\n%s\n---- end ----\n", g.out);
	if (g.con_watch)
		kc_loop_watch_remove(g.con_watch);
	if (g.con >= 0)
		close(g.con);
	ah_conn_close(C);
	if (g.qemu > 0) {
		kill(g.qemu, SIGKILL);
		waitpid(g.qemu, NULL, 0);
	}
	if (g.dir[0])
		ah_rm_tree(g.dir);
	free(g.agent_sock);
	free(g.con_sock);
	free(g.dbg_sock);
	free(g.initrd);
	free(g.qemu_log);
	free(g.out);
	return 0;
}

/* ---- tests ---- */

static void test_sandbox(void **state)
{
	Grpc__CreateSandboxRequest req = GRPC__CREATE_SANDBOX_REQUEST__INIT;

	char *dns[] = { (char *)"nameserver 10.0.0.53", (char *)"search kc.test" };

	(void)state;
	req.sandbox_id = (char *)"cgroup-vm";
	req.n_dns = KC_ARRAY_SIZE(dns);
	req.dns = dns;
	ah_call_ok(C, "CreateSandbox", &req.base, NULL);
	/* The shell answers and the guest has cgroup2 with controllers. */
	assert_guest("echo hello", "hello");
	/* The sandbox's DNS lines are the guest's resolv.conf. */
	assert_guest("cat /etc/resolv.conf | tr '\\n' ' '", "nameserver 10.0.0.53 search kc.test ");
	{
		cleanup_free char *ctl = guest_sh("cat /sys/fs/cgroup/cgroup.subtree_control");

		assert_non_null(strstr(ctl, "memory"));
		assert_non_null(strstr(ctl, "pids"));
		assert_non_null(strstr(ctl, "cpu"));
	}
}

/* 32 MiB and a shell that doubles a string until it is killed: OOM, exit
 * 137, and the GetOOMEvent asked before gets the container's id. */
static void test_memory_oom(void **state)
{
	Grpc__GetOOMEventRequest req = GRPC__GET_OOMEVENT_REQUEST__INIT;
	/* Static: a failed assertion leaves the call pending, and the client
	 * answers it later, when this frame is gone. */
	static struct ah_answer oom;
	Grpc__StatsContainerResponse *s;
	Grpc__OOMEvent *ev;

	(void)state;
	ah_start_call(C, "GetOOMEvent", &req.base, &oom);
	run("oom", "[\"sh\",\"-c\",\"a=0123456789abcdef; while :; do a=$a$a; done\"]",
	    "{\"cgroupsPath\":\"/kc-vm-test/oom\",\"resources\":{\"memory\":"
	    "{\"limit\":33554432,\"reservation\":16777216}}}");
	assert_guest("cat " CG "/oom/memory.max", "33554432");
	assert_guest("cat " CG "/oom/memory.low", "16777216");
	assert_int_equal(wait_status("oom"), 137);
	ah_wait(C, &oom);
	if (oom.code != 0)
		fail_msg("GetOOMEvent: %s", oom.message);
	ev = grpc__oomevent__unpack(NULL, oom.len, oom.payload);
	assert_non_null(ev);
	assert_string_equal(ev->container_id, "oom");
	grpc__oomevent__free_unpacked(ev, NULL);
	ah_answer_free(&oom);
	{
		cleanup_free char *events = guest_sh("cat " CG "/oom/memory.events");

		assert_non_null(strstr(events, "oom_kill 1"));
	}
	/* Stats of the stopped container: its limit and the hits. */
	s = stats("oom");
	assert_int_equal(s->cgroup_stats->memory_stats->usage->limit, 33554432);
	assert_true(s->cgroup_stats->memory_stats->usage->failcnt > 0);
	assert_true(s->cgroup_stats->memory_stats->usage->max_usage > 16 << 20);
	grpc__stats_container_response__free_unpacked(s, NULL);
	remove_container("oom");
	assert_guest("test -e " CG "/oom || echo gone", "gone");
}

/* pids.max 4, reached by a shell and three sleeps; a fifth process moved
 * in (moving is not limited) cannot fork, and the kernel counts it. */
static void test_pids_limit(void **state)
{
	Grpc__StatsContainerResponse *s = NULL;
	uint64_t deadline = kc_monotonic_ns() + CALL_S * SEC;
	cleanup_free char *out = NULL;

	(void)state;
	run("pids", "[\"sh\",\"-c\",\"sleep 1000 & sleep 1000 & sleep 1000 & read x\"]",
	    "{\"cgroupsPath\":\"/kc-vm-test/pids\",\"resources\":{\"pids\":{\"limit\":4}}}");
	assert_guest("cat " CG "/pids/pids.max", "4");
	/* The shell forks on its own schedule: wait until it has. */
	for (;;) {
		cleanup_free char *cur = guest_sh("cat " CG "/pids/pids.current");

		if (strcmp(cur, "4") == 0)
			break;
		if (kc_monotonic_ns() > deadline)
			fail_msg("pids.current stays at %s", cur);
	}
	s = stats("pids");
	assert_int_equal(s->cgroup_stats->pids_stats->current, 4);
	assert_int_equal(s->cgroup_stats->pids_stats->limit, 4);
	grpc__stats_container_response__free_unpacked(s, NULL);
	assert_guest("cat " CG "/pids/pids.events", "max 0");
	out = guest_sh("sh -c 'echo $$ > " CG "/pids/cgroup.procs; ( : ); echo survived' 2>&1");
	if (!strstr(out, "can't fork") || strstr(out, "survived"))
		fail_msg("a fork beyond pids.max: `%s`", out);
	assert_guest("cat " CG "/pids/pids.events", "max 1");
	assert_guest("cat " CG "/pids/pids.current", "4");
	remove_container("pids");
	assert_guest("test -e " CG "/pids || echo gone", "gone");
}

/* cpu.shares 512 -> cpu.weight 20 (runc's formula); quota/period ->
 * cpu.max; UpdateContainer changes both, and memory.max. */
static void test_cpu_and_update(void **state)
{
	(void)state;
	run("cpu", "[\"sleep\",\"1000\"]",
	    "{\"cgroupsPath\":\"/kc-vm-test/cpu\",\"resources\":{\"cpu\":"
	    "{\"shares\":512,\"quota\":50000,\"period\":100000}}}");
	assert_guest("cat " CG "/cpu/cpu.weight", "20");
	assert_guest("cat " CG "/cpu/cpu.max", "50000 100000");
	update("cpu", "{\"cpu\":{\"shares\":2048,\"quota\":-1},\"memory\":{\"limit\":67108864}}");
	assert_guest("cat " CG "/cpu/cpu.weight", "79");
	assert_guest("cat " CG "/cpu/cpu.max", "max 100000");
	assert_guest("cat " CG "/cpu/memory.max", "67108864");
	assert_guest("cat " CG "/cpu/cgroup.procs | wc -l", "1");
}

static void test_freeze(void **state)
{
	Grpc__PauseContainerRequest p = GRPC__PAUSE_CONTAINER_REQUEST__INIT;
	Grpc__ResumeContainerRequest r = GRPC__RESUME_CONTAINER_REQUEST__INIT;

	(void)state;
	p.container_id = r.container_id = (char *)"cpu";
	ah_call_ok(C, "PauseContainer", &p.base, NULL);
	assert_guest("grep frozen " CG "/cpu/cgroup.events", "frozen 1");
	assert_guest("cat " CG "/cpu/cgroup.freeze", "1");
	ah_call_ok(C, "ResumeContainer", &r.base, NULL);
	assert_guest("grep frozen " CG "/cpu/cgroup.events", "frozen 0");
}

static void test_stats(void **state)
{
	Grpc__StatsContainerResponse *s = stats("cpu");
	Grpc__CgroupStats *c = s->cgroup_stats;

	(void)state;
	assert_int_equal(c->pids_stats->current, 1);
	assert_true(c->pids_stats->limit == UINT64_MAX);
	assert_true(c->memory_stats->usage->usage > 0);
	assert_int_equal(c->memory_stats->usage->limit, 67108864);
	assert_true(c->memory_stats->n_stats > 10);
	assert_true(c->cpu_stats->cpu_usage->total_usage > 0);
	assert_non_null(c->blkio_stats);
	grpc__stats_container_response__free_unpacked(s, NULL);
	remove_container("cpu");
	assert_guest("test -e " CG "/cpu || echo gone", "gone");
}

/* DestroySandbox powers the guest off: QEMU exits 0. */
static void test_poweroff(void **state)
{
	Grpc__DestroySandboxRequest req = GRPC__DESTROY_SANDBOX_REQUEST__INIT;
	uint64_t deadline;
	int wstatus = 0;
	pid_t got = 0;

	(void)state;
	ah_call_ok(C, "DestroySandbox", &req.base, NULL);
	deadline = kc_monotonic_ns() + CALL_S * SEC;
	while ((got = waitpid(g.qemu, &wstatus, WNOHANG)) == 0 && kc_monotonic_ns() < deadline)
		kc_loop_run_once(C->loop, 100 * 1000000, NULL);
	assert_int_equal(got, g.qemu);
	g.qemu = 0;
	assert_true(WIFEXITED(wstatus));
	assert_int_equal(WEXITSTATUS(wstatus), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sandbox),	   cmocka_unit_test(test_memory_oom),
		cmocka_unit_test(test_pids_limit), cmocka_unit_test(test_cpu_and_update),
		cmocka_unit_test(test_freeze),	   cmocka_unit_test(test_stats),
		cmocka_unit_test(test_poweroff),
	};

	return cmocka_run_group_tests_name("cgroup-vm", tests, setup, teardown);
}
