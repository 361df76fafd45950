/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kata-agent: the guest agent.
 *
 *   kata-agent [--listen URI] [--no-init] [--log-level LEVEL] [--storage-root DIR]
 *              [--cgroup-root DIR]
 *
 * As PID 1 of a guest (without --no-init) it first does init's work
 * (mounts, cgroup controllers, console, entropy, kernel modules, agent.*
 * settings from the kernel command line), chooses its channel (vsock when
 * the VM has a vsock device, else virtio-serial) unless one is given, and
 * powers the VM off when it ends: after DestroySandbox or a fatal error.
 * With --no-init it is an ordinary process, as the tests run it.  Everything happens on one epoll loop: the ttrpc
 * server and a signalfd for SIGCHLD (reaping), SIGTERM and SIGINT (clean
 * shutdown).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "agent/cgroup/cgroup_agent.h"
#include "agent/init/channel.h"
#include "agent/init/console.h"
#include "agent/init/init.h"
#include "agent/init/modules.h"
#include "agent/network/portfwd.h"
#include "kc-build-config.h"
#include "lib/console_proto.h"
#include "lib/log.h"
#include "lib/util.h"
#include "ttrpc/transport.h"

#define DEFAULT_LISTEN KC_AGENT_VSOCK_URI
#define DEFAULT_CGROUP_ROOT "/sys/fs/cgroup"
/* How long init waits for the virtio-serial port to be named: the host
 * names it right after the driver binds, but TCG guests are slow. */
#define CHANNEL_WAIT_NS (10 * 1000000000ull)
#define PORTS_DIR "/sys/class/virtio-ports"

struct opts {
	const char *listen;
	const char *storage_root;
	bool no_init;
	const char *log_level;
	const char *cgroup_root;
	const char *sysfs_root, *run_root;
	bool debug_console; /* agent.debug_console (as init) */
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: kata-agent [--listen URI] [--no-init] [--log-level LEVEL]\n"
		   "                  [--storage-root DIR] [--cgroup-root DIR]\n"
		   "  --listen URI        unix:///path, vsock://-1:1024 (default) or\n"
		   "                      serial://agent.channel.0; as init the default\n"
		   "                      is vsock if the VM has it, else that port\n"
		   "  --no-init           run as an ordinary process even as PID 1\n"
		   "  --log-level LEVEL   error, warning, info (default) or debug\n"
		   "  --storage-root DIR  where storages may be mounted (default\n"
		   "                      " KC_AGENT_STORAGE_ROOT ")\n"
		   "  --cgroup-root DIR   cgroup2 directory for the containers' cgroups\n"
		   "                      (default " DEFAULT_CGROUP_ROOT ")\n"
		   "  --sysfs-root DIR    sysfs to use instead of /sys (tests)\n"
		   "  --run-root DIR      the directory that stands for /run/kata-containers\n"
		   "                      (tests)\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "no-init", no_argument, NULL, 'n' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "storage-root", required_argument, NULL, 'S' },
		{ "cgroup-root", required_argument, NULL, 'C' },
		{ "sysfs-root", required_argument, NULL, 'Y' },
		{ "run-root", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	/* As the VM's init, argv is what the kernel passed on: the words of its
	 * command line it did not take itself (Kata users put bare words there
	 * for the kernel, and the kernel hands unknown ones to init).  Exiting
	 * on one would panic the guest, so they are logged and ignored. */
	bool as_init = getpid() == 1;
	int c;

	opterr = !as_init;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o->listen = optarg;
			break;
		case 'n':
			o->no_init = true;
			break;
		case 'L':
			o->log_level = optarg;
			break;
		case 'S':
			if (optarg[0] != '/') {
				fprintf(stderr,
					"kata-agent: --storage-root needs an absolute path\n");
				return -1;
			}
			o->storage_root = optarg;
			break;
		case 'C':
			o->cgroup_root = optarg;
			break;
		case 'Y':
			o->sysfs_root = optarg;
			break;
		case 'R':
			o->run_root = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("kata-agent %s (API %s)\n", KC_VERSION, KC_AGENT_API_VERSION);
			exit(0);
		default:
			if (as_init && optopt) {
				kc_warn("ignoring option `-%c`: not one of kata-agent's", optopt);
				break;
			}
			if (as_init) {
				kc_warn("ignoring argument `%s`: not an option of kata-agent",
					argv[optind - 1]);
				break;
			}
			usage(stderr);
			return -1;
		}
	}
	for (; optind < argc && as_init; optind++)
		kc_warn("ignoring argument `%s` (from the kernel command line)", argv[optind]);
	if (optind < argc) {
		fprintf(stderr, "kata-agent: unexpected argument `%s`\n", argv[optind]);
		return -1;
	}
	return 0;
}

static void on_signal(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	struct kc_agent *a = data;
	struct signalfd_siginfo si;
	bool reap = false;

	(void)w;
	(void)events;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			reap = true;
		} else {
			kc_info("received signal %d, shutting down", (int)si.ssi_signo);
			kc_loop_quit(a->loop);
		}
	}
	/* SIGCHLD coalesces: one read may stand for many children. */
	if (reap)
		kc_agent_reap(a);
}

/* The socket file of a unix listen URI, NULL for other transports and
 * abstract sockets. */
static char *unix_socket_path(const char *uri)
{
	struct kc_ttrpc_addr addr;

	if (kc_ttrpc_addr_parse(uri, &addr, NULL) < 0 || addr.kind != KC_TTRPC_ADDR_UNIX ||
	    addr.path[0] == '@')
		return NULL;
	return kc_xstrdup(addr.path);
}

/* Boot time so far, for the log: where the guest's start-up time goes. */
static unsigned long long boot_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

/* "MemTotal N kB, MemFree F kB, MemAvailable M kB" for the log: what the
 * guest leaves to containers once the kernel, the modules and the agent
 * are in (guest/measure-memory.sh reads it; docs/guest-memory.md). */
static char *mem_summary(void)
{
	cleanup_free char *buf = NULL;
	unsigned long long total = 0, free_kb = 0, avail = 0;
	size_t len;

	if (kc_read_file("/proc/meminfo", 64 * 1024, &buf, &len, NULL) < 0)
		return kc_xstrdup("unknown");
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		sscanf(line, "MemTotal: %llu kB", &total);
		sscanf(line, "MemFree: %llu kB", &free_kb);
		sscanf(line, "MemAvailable: %llu kB", &avail);
	}
	return kc_xasprintf("MemTotal %llu kB, MemFree %llu kB, MemAvailable %llu kB", total,
			    free_kb, avail);
}

/*
 * PID 1 duties before serving.  Each step that fails is logged and the
 * others still run: an agent that serves with, say, one module missing
 * tells the host more than a VM that powers off at once.  Only having no
 * channel at all is fatal (run() fails to listen).
 */
static void init_setup(struct opts *o, char **listen)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_agent_cmdline cl = { 0 };
	cleanup_free char *buf = NULL;
	unsigned long long t0 = boot_ms();
	char *meminfo;
	size_t len;

	if (kc_agent_init_mounts(&err) < 0) {
		kc_agent_init_console();
		kc_log_error_free(KC_LOG_ERROR, &err, "init");
	}
	kc_agent_init_console();
	if (kc_read_file("/proc/cmdline", 64 * 1024, &buf, &len, &err) < 0 ||
	    kc_agent_cmdline_parse(buf, &cl, &err) < 0)
		kc_log_error_free(KC_LOG_ERROR, &err, "init");
	if (cl.log_level_set && !o->log_level)
		kc_log_set_level(cl.log_level);
	kc_info("kata-agent %s starting as init at boot+%llu ms", KC_VERSION, t0);
	if (kc_agent_init_cgroups("/sys/fs/cgroup", &err) < 0)
		kc_log_error_free(KC_LOG_ERROR, &err, "init");
	if (kc_agent_init_entropy(&err) < 0)
		kc_log_error_free(KC_LOG_WARNING, &err, "init");
	if (kc_agent_modules_load_all(KC_AGENT_MODULES_DIR, KC_AGENT_VIRTIO_BUS, cl.modules, buf,
				      &err) < 0)
		kc_log_error_free(KC_LOG_ERROR, &err, "init");
	if (kc_agent_modprobe_install(KC_AGENT_MODULES_DIR, &err) < 0)
		kc_log_error_free(KC_LOG_WARNING, &err, "init");
	o->debug_console = cl.debug_console;
	meminfo = mem_summary();
	if (o->listen) {
		*listen = kc_xstrdup(o->listen);
	} else if (cl.listen) {
		struct kc_ttrpc_addr addr;
		cleanup_free char *dev = NULL;

		*listen = kc_steal_ptr(&cl.listen);
		kc_info("channel: %s (agent.listen)", *listen);
		/* The port shows up after its module loaded: wait for it
		 * rather than fail to open it. */
		if (kc_ttrpc_addr_parse(*listen, &addr, NULL) == 0 &&
		    addr.kind == KC_TTRPC_ADDR_SERIAL && addr.path[0] != '/' &&
		    kc_agent_channel_wait_serial(PORTS_DIR, addr.path, CHANNEL_WAIT_NS, &dev,
						 &err) < 0)
			kc_log_error_free(KC_LOG_ERROR, &err, "init");
	} else if (kc_agent_channel_choose(PORTS_DIR, CHANNEL_WAIT_NS, listen, &err) < 0)
		kc_log_error_free(KC_LOG_ERROR, &err, "init");
	kc_agent_cmdline_free(&cl);
	kc_info("init done in %llu ms (boot+%llu ms); memory: %s", boot_ms() - t0, boot_ms(),
		meminfo);
	free(meminfo);
}

static int run(bool init_mode, const struct opts *o, const char *listen, kc_error_t *err)
{
	struct kc_agent a = {
		.init_mode = init_mode,
		.sysfs_root = o->sysfs_root,
		.run_root = o->run_root,
		.start_ns = kc_monotonic_ns(),
	};
	struct kc_loop_watch *sigwatch = NULL;
	cleanup_free char *sock = unix_socket_path(listen);
	cleanup_close int sfd = -1;
	struct stat st;
	sigset_t mask;
	int ret;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return kc_error_set(err, errno, "sigprocmask");
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		return kc_error_set(err, errno, "signalfd");
	if (!init_mode && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		kc_warn("cannot become a child subreaper: %s", strerror(errno));

	kc_agent_storages_init(&a.storages,
			       o->storage_root ? o->storage_root : KC_AGENT_STORAGE_ROOT);
	ret = kc_loop_new(&a.loop, err);
	if (ret < 0)
		goto out;
	ret = kc_ttrpc_server_new(a.loop, &a.srv, err);
	if (ret < 0)
		goto out;
	ret = kc_agent_health_register(&a, err);
	if (ret < 0)
		goto out;
	ret = kc_agent_service_register(&a, err);
	if (ret < 0)
		goto out;
	ret = kc_agent_cgroups_init(&a, o->cgroup_root ? o->cgroup_root : DEFAULT_CGROUP_ROOT, err);
	if (ret < 0)
		goto out;
	ret = kc_loop_watch_fd(a.loop, sfd, EPOLLIN, on_signal, &a, &sigwatch, err);
	if (ret < 0)
		goto out;
	if (o->debug_console) {
		ret = kc_agent_console_start(a.loop, PORTS_DIR, KC_CONSOLE_PORT_NAME, &a.console,
					     err);
		if (ret < 0)
			goto out;
	}
	/* A socket left by an agent that died is ours to replace; one that
	 * still answers belongs to a live agent. */
	if (sock && lstat(sock, &st) == 0 && S_ISSOCK(st.st_mode)) {
		int fd = kc_ttrpc_dial(listen, 1000000000ull, NULL);

		if (fd >= 0) {
			close(fd);
			free(sock);
			sock = NULL;
			ret = kc_error_set(err, EADDRINUSE, "listen on %s: another agent serves it",
					   listen);
			goto out;
		}
		unlink(sock);
	}
	ret = kc_ttrpc_server_listen(a.srv, listen, KC_TTRPC_SAME_USER, err);
	if (ret < 0) {
		free(sock);
		sock = NULL; /* not ours to remove */
		goto out;
	}
	kc_info("listening on %s (version %s, init %s)", listen, KC_VERSION,
		init_mode ? "yes" : "no");
	ret = kc_loop_run(a.loop, err);

out:
	kc_agent_pfwd_close_all(&a, KC_TTRPC_ABORTED, "the agent is stopping");
	kc_agent_console_free(a.console);
	a.console = NULL;
	kc_agent_destroy_containers(&a);
	kc_agent_storages_fini(&a.storages);
	kc_agent_reap(&a);
	kc_agent_cgroups_free(&a);
	if (a.srv)
		kc_ttrpc_server_free(a.srv);
	if (sigwatch)
		kc_loop_watch_remove(sigwatch);
	kc_loop_free(a.loop);
	free(a.sandbox_id);
	free(a.infra_id);
	free(a.guest_hook_path);
	if (sock)
		unlink(sock);
	if (ret >= 0)
		kc_info("agent stopped");
	return ret;
}

int main(int argc, char **argv)
{
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *listen = NULL;
	struct opts o = { 0 };
	enum kc_log_level level;
	bool init_mode;
	int ret;

	{
		/* The initrd's /lib/modules/modprobe is this binary: the kernel
		 * runs it to load a module (modules.c). */
		const char *base = strrchr(argv[0], '/');

		if (strcmp(base ? base + 1 : argv[0], "modprobe") == 0)
			return kc_agent_modprobe_main(argc, argv);
	}
	kc_log_init("kata-agent", "agent");
	if (parse_opts(argc, argv, &o) < 0)
		return 2;
	if (o.log_level) {
		if (kc_log_parse_level(o.log_level, &level, &err) < 0) {
			kc_error_report("kata-agent", &err);
			return 2;
		}
		kc_log_set_level(level);
	}
	init_mode = getpid() == 1 && !o.no_init;
	if (init_mode)
		init_setup(&o, &listen);
	else
		listen = kc_xstrdup(o.listen ? o.listen : DEFAULT_LISTEN);
	if (listen)
		ret = run(init_mode, &o, listen, &err);
	else
		ret = -1; /* init_setup() logged why */
	if (ret < 0 && err)
		kc_log_error_free(KC_LOG_ERROR, &err, NULL);
	if (init_mode)
		kc_agent_init_poweroff();
	return ret < 0 ? 1 : 0;
}
