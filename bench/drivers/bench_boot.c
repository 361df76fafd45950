/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_boot: boot to agent-ready through kc_vm_start(), against the bare
 * baseline (the same kernel and QEMU command line, an initrd whose init
 * powers off at once), interleaved in one run.  bench/boot builds and runs
 * it; see there for what each figure means.
 *
 *   bench_boot CONFIG KERNEL INITRD BARE_INITRD RUNS WORKDIR
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "lib/log.h"
#include "host/accel_cache.h"
#include "hypervisor/agent_client.h"
#include "host/child.h"
#include "hypervisor/hypervisor.h"
#include "hypervisor/qemu/qemu.h"
#include "hypervisor/qemu/qmp.h"
#include "ttrpc/client.h"
#include "../../tests/vm/vm_helpers.h"

#define MEM_MIB 256
#define MS(ns) ((double)(ns) / 1e6)

static struct kc_config cfg;
static const char *workdir;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what, kc_error_t *err)
{
	fprintf(stderr, "bench_boot: %s: %s\n", what, err && *err ? (*err)->msg : "failed");
	exit(1);
}

/* The command line kc_vm_start() uses (no console, no share), for the
 * bare initrd; extra_opt adds one more option (-S for the QEMU-start run). */
static char **bare_argv(const char *initrd, const char *qmp, const char *agent, bool kvm,
			unsigned long tsc)
{
	cleanup_free char *append = kc_qemu_kernel_cmdline(&cfg, NULL, false, tsc);
	struct kc_qemu_cmdline c = {
		.qemu_path = cfg.hypervisor.path,
		.name = "bare",
		.kvm = kvm,
		.vcpus = 1,
		.memory_mib = MEM_MIB,
		.kernel = cfg.hypervisor.kernel,
		.initrd = initrd,
		.append = append,
		.qmp_socket = qmp,
		.agent_socket = agent,
	};

	return kc_qemu_build_argv(&c);
}

/* Launch to power-off of the bare VM, in ns. */
static uint64_t bare_boot(const char *initrd, bool kvm, unsigned long tsc)
{
	cleanup_free char *qmp = kc_xasprintf("%s/bare-qmp.sock", workdir);
	cleanup_free char *agent = kc_xasprintf("%s/bare-agent.sock", workdir);
	cleanup_strv char **argv = bare_argv(initrd, qmp, agent, kvm, tsc);
	cleanup_error kc_error_t err = NULL;
	struct kc_child c;
	uint64_t t0 = kc_monotonic_ns(), t1;

	if (kc_child_spawn(argv, NULL, &c, &err) < 0)
		die("bare QEMU", &err);
	if (kc_child_wait(&c, t0 + 120 * SEC, &err) != 1) {
		kc_child_stop(&c, false, 0);
		die("bare VM did not power off in 120 s", NULL);
	}
	t1 = kc_monotonic_ns();
	if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0)
		die("bare VM: QEMU failed", NULL);
	kc_child_stop(&c, false, 0);
	unlink(qmp);
	unlink(agent);
	return t1 - t0;
}

/* QEMU start: launch until QMP answers, with the vCPU held (-S). */
static uint64_t qemu_start(bool kvm, unsigned long tsc)
{
	cleanup_free char *qmp = kc_xasprintf("%s/start-qmp.sock", workdir);
	cleanup_free char *agent = kc_xasprintf("%s/start-agent.sock", workdir);
	char **argv = bare_argv(cfg.hypervisor.initrd, qmp, agent, kvm, tsc);
	cleanup_error kc_error_t err = NULL;
	struct kc_qmp *q = NULL;
	struct kc_child c;
	uint64_t t0, t1;
	size_t n = 0;

	while (argv[n])
		n++;
	argv = kc_xrealloc(argv, (n + 2) * sizeof(char *));
	argv[n] = kc_xstrdup("-S");
	argv[n + 1] = NULL;
	t0 = kc_monotonic_ns();
	if (kc_child_spawn(argv, NULL, &c, &err) < 0)
		die("QEMU", &err);
	for (;;) {
		kc_error_free(&err);
		if (kc_qmp_connect(qmp, kc_monotonic_ns() + SEC, &q, &err) == 0)
			break;
		if (kc_child_exited(&c) || kc_monotonic_ns() > t0 + 60 * SEC)
			die("QEMU -S: no QMP", &err);
		usleep(1000);
	}
	t1 = kc_monotonic_ns();
	kc_qmp_execute(q, "quit", NULL, NULL, kc_monotonic_ns() + SEC, NULL);
	kc_qmp_close(q);
	kc_child_stop(&c, false, 0);
	kc_free_strv(argv);
	unlink(qmp);
	unlink(agent);
	return t1 - t0;
}

static struct kc_vm *agent_boot(const char *name, const char *shared, const char *console,
				bool keep, uint64_t *ns)
{
	cleanup_free char *run = kc_xasprintf("%s/%s", workdir, name);
	cleanup_error kc_error_t err = NULL;
	struct kc_vm_spec s = {
		.cfg = &cfg,
		.id = name,
		.run_dir = run,
		.shared_dir = shared,
		.memory_mib = MEM_MIB,
		.console_log = console,
		.agent_timeout_ns = 120 * SEC,
		.keep_agent_conn = keep,
	};
	struct kc_vm *vm = NULL;
	uint64_t t0 = kc_monotonic_ns();

	if (kc_vm_start(&s, &vm, &err) < 0)
		die("kc_vm_start", &err);
	*ns = kc_monotonic_ns() - t0;
	return vm;
}

/* "... boot+123 ms" after `key` in the console log; -1 if absent. */
static double console_ms(const char *log, const char *key)
{
	cleanup_free char *buf = NULL;
	size_t len;
	char *p;
	double v;

	if (kc_read_file(log, 16 << 20, &buf, &len, NULL) < 0 || !(p = strstr(buf, key)))
		return -1;
	if (sscanf(p + strlen(key), "%lf", &v) != 1)
		return -1;
	return v;
}

/* The guest's wall-clock time (seconds of the day) of the first agent log
 * line containing key; -1 if absent.  Only differences are meaningful. */
static double console_wall(const char *log, const char *key)
{
	cleanup_free char *buf = NULL;
	size_t len;
	char *p, *t;
	int h, m;
	double sec;

	if (kc_read_file(log, 16 << 20, &buf, &len, NULL) < 0 || !(p = strstr(buf, key)))
		return -1;
	*p = '\0';
	t = strrchr(buf, '\n');
	t = strstr(t ? t : buf, "time=");
	if (!t || !(t = strchr(t, 'T')) || sscanf(t + 1, "%d:%d:%lf", &h, &m, &sec) != 3)
		return -1;
	return h * 3600.0 + m * 60.0 + sec;
}

static long pss_kib_mentioning(const char *needle)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	long total = 0;

	while (d && (de = readdir(d)) != NULL) {
		char path[300], buf[8192], line[256];
		ssize_t n;
		FILE *f;
		int fd;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		for (ssize_t i = 0; i < n; i++)
			if (!buf[i])
				buf[i] = ' ';
		buf[n] = '\0';
		if (!strstr(buf, needle))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/smaps_rollup", de->d_name);
		f = fopen(path, "re");
		while (f && fgets(line, sizeof(line), f)) {
			long kib;

			if (sscanf(line, "Pss: %ld kB", &kib) == 1)
				total += kib;
		}
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return total;
}

/* QEMU's PSS split: guest RAM (the memfd), the kernel file QEMU keeps
 * mapped, the rest (TCG's translation cache, heap, libraries). */
static void qemu_pss_split(pid_t pid, long *ram, long *kernel, long *rest)
{
	char path[64], line[512], name[512] = "";
	FILE *f;

	*ram = *kernel = *rest = 0;
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		long kib;
		int off = 0;

		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &a, &b, &off) == 2 && off > 0) {
			snprintf(name, sizeof(name), "%s", line + off);
			continue;
		}
		if (sscanf(line, "Pss: %ld kB", &kib) != 1)
			continue;
		if (strstr(name, "memfd:"))
			*ram += kib;
		else if (strstr(name, cfg.hypervisor.kernel))
			*kernel += kib;
		else
			*rest += kib;
	}
	if (f)
		fclose(f);
}

/* A busybox rootfs in the shared directory, for the meminfo container. */
static char *make_share(void)
{
	char *shared = kc_xasprintf("%s/share", workdir);
	cleanup_free char *cmd = kc_xasprintf("set -e; mkdir -p '%s/ct/rootfs/bin' '%s/ct/rootfs/proc'; "
					      "cp /bin/busybox '%s/ct/rootfs/bin/busybox'",
					      shared, shared, shared);

	if (system(cmd) != 0)
		die("making the shared rootfs (needs /bin/busybox)", NULL);
	return shared;
}

/* MemTotal and MemAvailable (kB) of the guest, from a container that
 * mounts its own /proc; 0 when the agent cannot run it. */
static void guest_meminfo(int fd, long *total, long *avail)
{
	Grpc__CreateSandboxRequest cs = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	Grpc__Storage st = GRPC__STORAGE__INIT;
	Grpc__Storage *sts[1] = { &st };
	Grpc__CreateContainerRequest cc = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	Grpc__StartContainerRequest sc = GRPC__START_CONTAINER_REQUEST__INIT;
	Grpc__ReadStreamRequest rs = GRPC__READ_STREAM_REQUEST__INIT;
	struct kc_ttrpc_call_opts o = { .timeout_ns = 60 * SEC };
	const char *json =
		"{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"/bin/busybox\",\"sh\",\"-c\","
		"\"/bin/busybox mount -t proc proc /proc && /bin/busybox cat /proc/meminfo\"],"
		"\"env\":[\"PATH=/bin\"],\"cwd\":\"/\"},"
		"\"root\":{\"path\":\"/run/kata-containers/shared/containers/ct/rootfs\"}}";
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *out = kc_xzalloc(1);
	struct kc_ttrpc_client *c = NULL;
	struct kc_loop *loop = NULL;
	size_t len = 0;
	char *p;

	*total = *avail = 0;
	if (kc_loop_new(&loop, &err) < 0)
		die("loop", &err);
	if (fd < 0 || kc_ttrpc_client_new(loop, fd, &c, &err) < 0)
		die("dial agent", &err);
	st.driver = (char *)"virtio-fs";
	st.source = (char *)"kataShared";
	st.fstype = (char *)"virtiofs";
	st.mount_point = (char *)"/run/kata-containers/shared/containers";
	cs.sandbox_id = (char *)"mem";
	cs.n_storages = 1;
	cs.storages = sts;
	cc.container_id = sc.container_id = rs.container_id = (char *)"ct";
	cc.exec_id = rs.exec_id = (char *)"ct";
	cc.oci_spec_json.data = (uint8_t *)json;
	cc.oci_spec_json.len = strlen(json);
	rs.len = 65536;
	if (kc_ttrpc_client_call_msg_sync(c, "grpc.AgentService", "CreateSandbox", &cs.base, NULL,
					  NULL, &o, &err) < 0 ||
	    kc_ttrpc_client_call_msg_sync(c, "grpc.AgentService", "CreateContainer", &cc.base, NULL,
					  NULL, &o, &err) < 0 ||
	    kc_ttrpc_client_call_msg_sync(c, "grpc.AgentService", "StartContainer", &sc.base, NULL,
					  NULL, &o, &err) < 0) {
		fprintf(stderr, "# guest memory: container failed: %s\n", err->msg);
		goto out;
	}
	for (;;) {
		ProtobufCMessage *m = NULL;
		Grpc__ReadStreamResponse *r;

		if (kc_ttrpc_client_call_msg_sync(c, "grpc.AgentService", "ReadStdout", &rs.base,
						  &grpc__read_stream_response__descriptor, &m, &o,
						  &err) < 0)
			break;
		r = (Grpc__ReadStreamResponse *)m;
		if (!r || !r->data.len) {
			if (m)
				protobuf_c_message_free_unpacked(m, NULL);
			break;
		}
		out = kc_xrealloc(out, len + r->data.len + 1);
		memcpy(out + len, r->data.data, r->data.len);
		len += r->data.len;
		out[len] = '\0';
		protobuf_c_message_free_unpacked(m, NULL);
	}
	if ((p = strstr(out, "MemTotal:")))
		sscanf(p, "MemTotal: %ld", total);
	if ((p = strstr(out, "MemAvailable:")))
		sscanf(p, "MemAvailable: %ld", avail);
out:
	kc_ttrpc_client_free(c);
	kc_loop_free(loop);
}

int main(int argc, char **argv)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_config_warnings w = { 0 };
	double bare[64], boot[64], stop[64], qstart[8], kern[8], mods[8], init[8], stot[8];
	double agent[8];
	const char *bare_initrd;
	cleanup_free char *shared = NULL;
	unsigned long tsc = 0;
	struct stat st;
	bool kvm;
	int runs, nsplit = 3;
	uint64_t ns;
	long mtotal, mavail, pss, q_ram, q_kernel, q_rest;
	struct kc_vm *vm;

	if (argc != 7) {
		fprintf(stderr, "usage: bench_boot CONFIG KERNEL INITRD BARE_INITRD RUNS WORKDIR\n");
		return 2;
	}
	kc_log_init("bench-boot", "runtime");
	kc_log_set_level(KC_LOG_ERROR);
	if (kc_config_load_file(argv[1], &cfg, &w, &err) < 0)
		die("configuration", &err);
	kc_config_warnings_free(&w);
	set_str(&cfg.hypervisor.kernel, argv[2]);
	set_str(&cfg.hypervisor.initrd, argv[3]);
	bare_initrd = argv[4];
	runs = atoi(argv[5]);
	if (runs < 1 || runs > 64)
		runs = 10;
	workdir = argv[6];
	shared = make_share();

	/* Warm-up, not counted: `qemu -M help` runs once per process, the
	 * KVM probe's verdict ("auto") is cached, the page cache fills. */
	vm = agent_boot("warm", shared, NULL, false, &ns);
	kc_vm_free(vm);
	{
		char reason[256];

		kvm = strcmp(cfg.hypervisor.accel, "auto") == 0
			      ? strcmp(kc_accel_auto(KC_ACCEL_CACHE_PATH, reason, sizeof(reason),
						     NULL),
				       "kvm") == 0
			      : strcmp(cfg.hypervisor.accel, "kvm") == 0;
	}
	if (!kvm)
		tsc = kc_qemu_host_tsc_khz();
	printf("# accelerator %s, %d MiB guests, %d runs of each, interleaved\n",
	       kvm ? "kvm" : "tcg", MEM_MIB, runs);

	for (int i = 0; i < runs; i++) {
		uint64_t t0;

		bare[i] = MS(bare_boot(bare_initrd, kvm, tsc));
		vm = agent_boot("boot", shared, NULL, false, &ns);
		boot[i] = MS(ns);
		t0 = kc_monotonic_ns();
		kc_vm_free(vm);
		stop[i] = MS(kc_monotonic_ns() - t0);
		printf("# run %d: bare %.0f ms, agent-ready %.0f ms, stop %.0f ms\n", i + 1,
		       bare[i], boot[i], stop[i]);
		fflush(stdout);
	}

	/* The split, from separate boots with the console captured (the
	 * agent logs boot-relative times as init) and a QEMU held at -S. */
	for (int i = 0; i < nsplit; i++) {
		cleanup_free char *log = kc_xasprintf("%s/console-%d.log", workdir, i);

		qstart[i] = MS(qemu_start(kvm, tsc));
		vm = agent_boot("split", shared, log, false, &ns);
		stot[i] = MS(ns);
		kc_vm_free(vm);
		kern[i] = console_ms(log, "starting as init at boot+");
		mods[i] = console_ms(log, "kernel modules in ");
		init[i] = console_ms(log, "(boot+");
		agent[i] = 1000.0 *
			   (console_wall(log, "listening on") - console_wall(log, "init done"));
		unlink(log);
	}

	/* Guest memory and host PSS in one 256 MiB VM after boot. */
	vm = agent_boot("mem", shared, NULL, true, &ns);
	guest_meminfo(kc_vm_take_agent_fd(vm), &mtotal, &mavail);
	{
		cleanup_free char *needle = kc_xasprintf("%s/mem/", workdir);

		pss = pss_kib_mentioning(needle);
		qemu_pss_split(kc_vm_pid(vm), &q_ram, &q_kernel, &q_rest);
	}
	kc_vm_free(vm);

	{
		double b = median(boot, runs), r = median(bare, runs), s = median(stop, runs);
		double q = median(qstart, nsplit), k = median(kern, nsplit);
		double m = median(mods, nsplit), in = median(init, nsplit);
		double sb = median(stot, nsplit), ag = median(agent, nsplit);
		long initrd_kib = stat(cfg.hypervisor.initrd, &st) == 0 ? (long)(st.st_size / 1024)
									: -1;

		printf("boot to agent-ready: median %.0f ms (bare VM to power-off: %.0f ms), ratio %.2f\n",
		       b, r, b / r);
		printf("stop (QMP quit to all reaped): median %.0f ms\n", s);
		/* The guest's clock starts after its earliest boot code ran:
		 * "kernel" is what remains of the whole once the parts measured
		 * directly are taken out. */
		if (k >= 0 && in >= 0 && ag >= 0)
			printf("split (boots with the console on: %.0f ms in all): QEMU start %.0f ms, "
			       "kernel %.0f ms (%.0f ms of it on the guest's clock; the rest also "
			       "holds the first Check's round trip), init duties %.0f ms (modules "
			       "%.0f ms), agent start to listening %.0f ms\n",
			       sb, q, sb - q - (in - k) - ag, k, in - k, m, ag);
		else
			printf("split: QEMU start %.0f ms; the console did not show the agent's init "
			       "timestamps\n",
			       q);
		printf("initrd: %ld KiB compressed\n", initrd_kib);
		if (mtotal > 0)
			printf("guest memory (256 MiB VM): MemTotal %ld KiB, MemAvailable %ld KiB = "
			       "%.1f%% of 256 MiB free (%.1f%% of MemTotal)\n",
			       mtotal, mavail, 100.0 * (double)mavail / (MEM_MIB * 1024.0),
			       100.0 * (double)mavail / (double)mtotal);
		else
			printf("guest memory: not measured (the meminfo container could not run)\n");
		printf("host PSS per VM (QEMU + virtiofsd, 256 MiB guest): %ld KiB; QEMU: guest RAM "
		       "touched %ld KiB, kernel file mapped %ld KiB (page cache, shared by VMs), "
		       "the rest %ld KiB\n",
		       pss, q_ram, q_kernel, q_rest);
		printf("RESULT name=boot ratio_vs_bare=%.2f boot_ms=%.0f bare_ms=%.0f initrd_kib=%ld "
		       "host_pss_kib=%ld\n",
		       b / r, b, r, initrd_kib, pss);
	}
	kc_config_free(&cfg);
	return 0;
}
