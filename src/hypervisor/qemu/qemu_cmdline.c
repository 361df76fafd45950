/* SPDX-License-Identifier: Apache-2.0 */
/* QEMU microvm: command lines and the checks made before launching. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qemu.h"
#include "lib/console_proto.h"
#include "lib/log.h"
#include "lib/util.h"
#include "host/boot_cache.h"
#include "host/child.h"

struct argv_buf {
	char **v;
	size_t n, cap;
};

static void add(struct argv_buf *a, char *s)
{
	if (a->n + 2 > a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		a->v = kc_xrealloc(a->v, a->cap * sizeof(char *));
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static void add2(struct argv_buf *a, const char *opt, char *val)
{
	add(a, kc_xstrdup(opt));
	add(a, val);
}

/* QEMU splits option values at commas; a comma in a path is doubled. */
static char *qesc(const char *s)
{
	size_t n = 0;
	char *out, *o;

	for (const char *p = s; *p; p++)
		n += *p == ',' ? 2 : 1;
	o = out = kc_xmalloc(n + 1);
	for (const char *p = s; *p; p++) {
		*o++ = *p;
		if (*p == ',')
			*o++ = ',';
	}
	*o = '\0';
	return out;
}

char **kc_qemu_build_argv(const struct kc_qemu_cmdline *c)
{
	struct argv_buf a = { 0 };
	cleanup_free char *qmp = qesc(c->qmp_socket);
	cleanup_free char *agent = qesc(c->agent_socket);

	add(&a, kc_xstrdup(c->qemu_path));
	add2(&a, "-name", kc_xasprintf("kata-%s", c->name));
	/* No default devices, no config files, no monitor or display: the
	 * VM has exactly the devices below. */
	add(&a, kc_xstrdup("-nodefaults"));
	add(&a, kc_xstrdup("-no-user-config"));
	add2(&a, "-display", kc_xstrdup("none"));
	add(&a, kc_xstrdup("-no-reboot"));
	add2(&a, "-accel", kc_xstrdup(c->kvm ? "kvm" : "tcg,thread=multi"));
	add2(&a, "-cpu", kc_xstrdup(c->kvm ? "host" : "max"));
	/* The PIT, PIC and RTC are what a stock kernel calibrates and boots
	 * with; without a console the serial port goes too. */
	add2(&a, "-M",
	     kc_xasprintf("microvm,pit=on,pic=on,rtc=on,isa-serial=%s,"
			  "memory-backend=mem",
			  c->console_log ? "on" : "off"));
	/* virtiofsd refuses legacy virtio-mmio. */
	add2(&a, "-global", kc_xstrdup("virtio-mmio.force-legacy=false"));
	/* vhost-user needs the guest memory in a shareable memfd. */
	add2(&a, "-object",
	     kc_xasprintf("memory-backend-memfd,id=mem,size=%uM,share=on", c->memory_mib));
	add2(&a, "-m", kc_xasprintf("%u", c->memory_mib));
	add2(&a, "-smp", kc_xasprintf("%u", c->vcpus));
	add2(&a, "-kernel", kc_xstrdup(c->kernel));
	if (c->initrd)
		add2(&a, "-initrd", kc_xstrdup(c->initrd));
	add2(&a, "-append", kc_xstrdup(c->append));
	add2(&a, "-qmp", kc_xasprintf("unix:%s,server=on,wait=off", qmp));
	if (c->console_log) {
		cleanup_free char *log = qesc(c->console_log);

		add2(&a, "-chardev", kc_xasprintf("file,id=console,path=%s,append=on", log));
		add2(&a, "-serial", kc_xstrdup("chardev:console"));
	}
	if (c->virtiofs_socket) {
		cleanup_free char *fs = qesc(c->virtiofs_socket);

		add2(&a, "-chardev", kc_xasprintf("socket,id=fs0,path=%s", fs));
		add2(&a, "-device",
		     kc_xstrdup("vhost-user-fs-device,chardev=fs0,tag=" KC_QEMU_SHARED_TAG));
	}
	/* NICs: TAP fds that QEMU inherits (it runs in the host's network
	 * namespace, the TAPs live in the pod's); no vhost-net here. */
	for (size_t i = 0, fd = (size_t)c->first_netdev_fd; i < c->n_netdevs; i++) {
		const struct kc_vm_netdev *nd = &c->netdevs[i];
		cleanup_free char *fds = kc_xstrdup("");
		const uint8_t *m = nd->mac;

		for (unsigned q = 0; q < nd->n_fds; q++, fd++) {
			char *n = kc_xasprintf("%s%s%zu", fds, q ? ":" : "", fd);

			free(fds);
			fds = n;
		}
		add2(&a, "-netdev",
		     kc_xasprintf("tap,id=%s,%s=%s,vhost=off", nd->id, nd->n_fds > 1 ? "fds" : "fd",
				  fds));
		add2(&a, "-device",
		     kc_xasprintf("virtio-net-device,netdev=%s,mac=%02x:%02x:%02x:%02x:%02x:%02x%s",
				  nd->id, m[0], m[1], m[2], m[3], m[4], m[5],
				  nd->n_fds > 1 ? ",mq=on" : ""));
	}
	/* Two ports (0 is the console's, ours is 1) instead of QEMU's 31: the
	 * guest allocates receive buffers per port, 8 MiB of a 256 MiB VM with
	 * the default (docs/guest-memory.md).  A third for the debug console,
	 * only when it is enabled. */
	add2(&a, "-device",
	     kc_xasprintf("virtio-serial-device,max_ports=%d", c->debug_console_socket ? 3 : 2));
	add2(&a, "-chardev", kc_xasprintf("socket,id=agent,path=%s,server=on,wait=off", agent));
	add2(&a, "-device", kc_xstrdup("virtserialport,chardev=agent,name=" KC_QEMU_AGENT_PORT));
	if (c->debug_console_socket) {
		cleanup_free char *dbg = qesc(c->debug_console_socket);

		add2(&a, "-chardev",
		     kc_xasprintf("socket,id=dbgcon,path=%s,server=on,wait=off", dbg));
		add2(&a, "-device",
		     kc_xstrdup("virtserialport,chardev=dbgcon,name=" KC_CONSOLE_PORT_NAME));
	}
	return a.v;
}

/*
 * Kata's built-in words for a fast boot of a VM that has no legacy PC
 * devices and a TSC it can trust: no crypto self-tests at boot (about
 * 200 ms of a TCG boot: the algorithms are the kernel's, not ours to
 * test), no TSC and timer checks, expedited RCU grace periods, no i8042
 * probing, no SMP alternatives patching, reboot through the keyboard
 * controller.  Together about 350 ms of a 1.45 s TCG boot here.  The
 * configuration's kernel_params come after these and can override them.
 */
#define KC_QEMU_BOOT_PARAMS \
	"tsc=reliable no_timer_check rcupdate.rcu_expedited=1 i8042.direct=1 i8042.dumbkbd=1 " \
	"i8042.nopnp=1 i8042.noaux=1 noreplace-smp reboot=k cryptomgr.notests"

static void append_word(char **s, const char *w)
{
	char *n;

	if (!w || !*w)
		return;
	n = *s && **s ? kc_xasprintf("%s %s", *s, w) : kc_xstrdup(w);
	free(*s);
	*s = n;
}

char *kc_qemu_kernel_cmdline(const struct kc_config *cfg, const char *extra, bool console,
			     unsigned long tsc_khz)
{
	bool debug = cfg->hypervisor.enable_debug || cfg->agent.enable_debug;
	char *s = kc_xstrdup("");

	append_word(&s, console ? "console=ttyS0" : NULL);
	append_word(&s, debug ? NULL : "quiet");
	/* A panicking guest ends the VM (QEMU runs with -no-reboot). */
	append_word(&s, "panic=-1");
	append_word(&s, KC_QEMU_BOOT_PARAMS);
	append_word(&s, "agent.listen=serial://" KC_QEMU_AGENT_PORT);
	if (cfg->agent.enable_debug)
		append_word(&s, "agent.log=debug");
	/* The agent serves the debug console's port (Kata also gives
	 * agent.debug_console_vport=1026 where the VM has vsock; here the
	 * port is virtio-serial's, found by its name). */
	if (cfg->agent.debug_console_enabled)
		append_word(&s, "agent.debug_console");
	if (tsc_khz) {
		char buf[48];

		snprintf(buf, sizeof(buf), "tsc_early_khz=%lu", tsc_khz);
		append_word(&s, buf);
	}
	append_word(&s, cfg->hypervisor.kernel_params);
	append_word(&s, extra);
	return s;
}

char *kc_qemu_console_initrd_path(const char *initrd)
{
	size_t n = strlen(initrd);

	if (n > 4 && strcmp(initrd + n - 4, ".img") == 0)
		return kc_xasprintf("%.*s-console.img", (int)(n - 4), initrd);
	return kc_xasprintf("%s-console", initrd);
}

char *kc_qemu_initrd(const struct kc_config *cfg)
{
	const char *initrd = cfg->hypervisor.initrd;
	char *console;

	if (!initrd || !cfg->agent.debug_console_enabled)
		return initrd ? kc_xstrdup(initrd) : NULL;
	console = kc_qemu_console_initrd_path(initrd);
	if (access(console, R_OK) == 0)
		return console;
	kc_warn("debug console: no `%s` (%s): booting `%s`, which needs a shell of its own "
		"(/bin/sh) for the console",
		console, strerror(errno), initrd);
	free(console);
	return kc_xstrdup(initrd);
}

int kc_qemu_check_kernel_cmdline(const char *cmdline, kc_error_t *err)
{
	size_t len = strlen(cmdline);

	/* Cut, the line would lose the words at its end (kernel_params) and
	 * keep a half word, and the guest would boot without them. */
	if (len >= KC_KERNEL_CMDLINE_SIZE)
		return kc_error_set(err, 0,
				    "the guest kernel command line is %zu bytes, over the "
				    "kernel's limit of %d (COMMAND_LINE_SIZE %d on x86_64, "
				    "with its NUL): shorten kernel_params",
				    len, KC_KERNEL_CMDLINE_SIZE - 1, KC_KERNEL_CMDLINE_SIZE);
	return kc_kernel_params_check(cmdline, err);
}

unsigned long kc_qemu_host_tsc_khz(void)
{
	cleanup_fclose FILE *f = fopen("/proc/cpuinfo", "re");
	char line[256];

	if (!f)
		return 0;
	/* Under TCG the guest's TSC runs at the host's rate; "cpu MHz" is the
	 * figure the kernel reports for it (what tests/guest uses too). */
	while (fgets(line, sizeof(line), f)) {
		const char *colon = strchr(line, ':');
		double mhz;

		if (strncmp(line, "cpu MHz", 7) == 0 && colon &&
		    sscanf(colon + 1, "%lf", &mhz) == 1 && mhz > 0)
			return (unsigned long)(mhz * 1000.0);
	}
	return 0;
}

int kc_qemu_check_netdev(const struct kc_vm_netdev *nd, size_t i, kc_error_t *err)
{
	size_t len = nd->id ? strlen(nd->id) : 0;

	/* The id goes into QEMU's option strings: nothing that could end
	 * or extend them. */
	if (len == 0 || len > 15 ||
	    strspn(nd->id, "abcdefghijklmnopqrstuvwxyz"
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != len)
		return kc_error_set(err, EINVAL,
				    "VM: netdevs[%zu]: id `%s` is not 1 to 15 of [A-Za-z0-9_-]", i,
				    nd->id ? nd->id : "");
	if (nd->n_fds == 0 || nd->n_fds > KC_VM_MAX_NETDEV_FDS || !nd->fds)
		return kc_error_set(err, EINVAL, "VM: netdev `%s`: %u TAP fds (1 to %d)", nd->id,
				    nd->n_fds, KC_VM_MAX_NETDEV_FDS);
	/* A multicast MAC (bit 0 of the first byte) is no NIC's. */
	if (nd->mac[0] & 1)
		return kc_error_set(err, EINVAL, "VM: netdev `%s`: multicast MAC", nd->id);
	for (unsigned q = 0; q < nd->n_fds; q++)
		if (fcntl(nd->fds[q], F_GETFD) < 0)
			return kc_error_set(err, errno, "VM: netdev `%s`: TAP fd %d", nd->id,
					    nd->fds[q]);
	return 0;
}

int kc_qemu_check_file(const char *what, const char *path, bool exec, kc_error_t *err)
{
	struct stat st;

	if (!path || !*path)
		return kc_error_set(err, EINVAL, "%s: no path configured", what);
	if (stat(path, &st) < 0)
		return kc_error_set(err, errno, "%s `%s`", what, path);
	if (!S_ISREG(st.st_mode))
		return kc_error_set(err, EINVAL, "%s `%s`: not a regular file", what, path);
	if (access(path, exec ? X_OK : R_OK) < 0)
		return kc_error_set(err, errno, "%s `%s`: not %s", what, path,
				    exec ? "executable" : "readable");
	return 0;
}

int kc_qemu_socket_path(const char *run_dir, const char *name, char **out, kc_error_t *err)
{
	char *p = kc_xasprintf("%s/%s", run_dir, name);

	if (strlen(p) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		int ret = kc_error_set(err, ENAMETOOLONG,
				       "socket path `%s`: %zu bytes, longer than a unix socket "
				       "address allows (%zu); use a shorter run directory",
				       p, strlen(p),
				       sizeof(((struct sockaddr_un *)0)->sun_path) - 1);

		free(p);
		return ret;
	}
	*out = p;
	return 0;
}

static bool output_has_microvm(const char *path)
{
	cleanup_free char *buf = NULL;
	size_t len;

	if (kc_read_file(path, 1 << 20, &buf, &len, NULL) < 0)
		return false;
	for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, "microvm ", 8) == 0)
			return true;
	return false;
}

/* "DEV INO MTIME_S MTIME_NS SIZE PATH": a binary is the same one while
 * all of these are. */
static char *binary_key(const char *path, const struct stat *st)
{
	return kc_xasprintf("%llu %llu %lld %ld %lld %s", (unsigned long long)st->st_dev,
			    (unsigned long long)st->st_ino, (long long)st->st_mtim.tv_sec,
			    st->st_mtim.tv_nsec, (long long)st->st_size, path);
}

static bool cache_has(const char *cache, const char *key)
{
	for (const char *l = cache; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);

		if (n == strlen(key) && strncmp(l, key, n) == 0)
			return true;
		l = nl ? nl + 1 : NULL;
	}
	return false;
}

/* The cache keeps the newest KEEP binaries. */
#define KEEP 16

static void cache_add(const char *cache_path, const char *cache, const char *key)
{
	cleanup_free char *body = kc_xasprintf("%s\n", key);
	size_t n = 1;

	for (const char *l = cache; l && *l && n < KEEP; n++) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		char *b = kc_xasprintf("%s%.*s\n", body, (int)len, l);

		free(body);
		body = b;
		l = nl ? nl + 1 : NULL;
	}
	kc_boot_cache_write(cache_path, body);
}

int kc_qemu_check_binary(const char *path, const char *cache_path, kc_error_t *err)
{
	char tmpl[] = "/tmp/kc-qemu-machines.XXXXXX";
	char *argv[] = { (char *)path, (char *)"-M", (char *)"help", NULL };
	cleanup_free char *key = NULL, *cache = NULL;
	struct kc_child c;
	struct stat st;
	char how[64];
	int ret, fd;

	ret = kc_qemu_check_file("QEMU", path, true, err);
	if (ret < 0)
		return ret;
	if (stat(path, &st) < 0)
		return kc_error_set(err, errno, "QEMU `%s`", path);
	key = binary_key(path, &st);
	cache = cache_path ? kc_boot_cache_read(cache_path) : NULL;
	if (cache_has(cache, key))
		return 0;

	fd = mkstemp(tmpl);
	if (fd < 0)
		return kc_error_set(err, errno, "mkstemp `%s`", tmpl);
	close(fd);
	ret = kc_child_spawn(argv, tmpl, &c, err);
	if (ret >= 0) {
		ret = kc_child_wait(&c, kc_monotonic_ns() + 10000000000ull, err);
		if (ret == 0)
			ret = kc_error_set(err, ETIMEDOUT, "QEMU `%s -M help`: no answer in 10 s",
					   path);
		kc_child_stop(&c, false, 0);
	}
	if (ret >= 0 && !(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0))
		ret = kc_error_set(err, EINVAL, "QEMU `%s -M help`: %s", path,
				   kc_child_describe(&c, how, sizeof(how)));
	if (ret >= 0 && !output_has_microvm(tmpl))
		ret = kc_error_set(err, ENOTSUP,
				   "QEMU `%s` does not support the microvm machine "
				   "(not listed by `-M help`)",
				   path);
	unlink(tmpl);
	if (ret < 0)
		return ret;
	if (cache_path)
		cache_add(cache_path, cache, key);
	return 0;
}
