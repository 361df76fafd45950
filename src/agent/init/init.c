/* SPDX-License-Identifier: Apache-2.0 */
/* The agent as the guest's init: mounts, cgroups, console, entropy,
 * kernel command line, power-off. */
#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "init.h"
#include "lib/util.h"
#include "modules.h"

static const struct {
	const char *source, *target, *fstype;
	unsigned long flags;
	const char *data;
} init_mounts[] = {
	{ "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
	{ "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
	{ "dev", "/dev", "devtmpfs", MS_NOSUID, "mode=0755" },
	{ "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
	  "newinstance,ptmxmode=0666,mode=0620" },
	{ "shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777" },
	{ "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755" },
	{ "cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
};

int kc_agent_init_mounts(kc_error_t *err)
{
	int ret = 0;

	/* One that fails does not stop the others (devpts failing should not
	 * cost /run); the first failure is the error. */
	for (size_t i = 0; i < KC_ARRAY_SIZE(init_mounts); i++) {
		cleanup_error kc_error_t e = NULL;
		int r = 0;

		if (mkdir(init_mounts[i].target, 0755) < 0 && errno != EEXIST)
			r = kc_error_set(&e, errno, "mkdir `%s`", init_mounts[i].target);
		else if (mount(init_mounts[i].source, init_mounts[i].target, init_mounts[i].fstype,
			       init_mounts[i].flags, init_mounts[i].data) < 0 &&
			 errno != EBUSY)
			r = kc_error_set(&e, errno, "mount %s on `%s`", init_mounts[i].fstype,
					 init_mounts[i].target);
		if (r < 0 && ret == 0) {
			ret = r;
			if (err)
				*err = kc_steal_ptr(&e);
		} else if (r < 0)
			kc_log_error_free(KC_LOG_ERROR, &e, "init");
	}
	return ret;
}

int kc_agent_init_cgroups(const char *root, kc_error_t *err)
{
	cleanup_free char *cpath = kc_xasprintf("%s/cgroup.controllers", root);
	cleanup_free char *spath = kc_xasprintf("%s/cgroup.subtree_control", root);
	cleanup_free char *buf = NULL;
	cleanup_close int fd = -1;
	char *name, *save = NULL;
	int enabled = 0;
	size_t len;
	int ret;

	ret = kc_read_file(cpath, 4096, &buf, &len, err);
	if (ret < 0)
		return ret;
	fd = open(spath, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return kc_error_set(err, errno, "open `%s`", spath);
	for (name = strtok_r(buf, " \n", &save); name; name = strtok_r(NULL, " \n", &save)) {
		cleanup_free char *word = kc_xasprintf("+%s", name);

		if (write(fd, word, strlen(word)) < 0)
			kc_warn("cgroup controller %s: enable in `%s`: %s", name, spath,
				strerror(errno));
		else
			enabled++;
	}
	kc_debug("%d cgroup controllers enabled", enabled);
	return enabled;
}

void kc_agent_init_console(void)
{
	int fd = -1;

	for (int i = 0; i < 3; i++) {
		if (fcntl(i, F_GETFD) >= 0)
			continue;
		/* No O_CLOEXEC: the first open may land on i itself. */
		if (fd < 0)
			fd = open("/dev/console", O_RDWR | O_NOCTTY);
		if (fd < 0)
			fd = open("/dev/null", O_RDWR);
		if (fd >= 0 && fd != i)
			dup2(fd, i);
	}
	if (fd > 2)
		close(fd);
}

#if defined(__x86_64__)
static size_t rdrand_bytes(uint8_t *buf, size_t len)
{
	unsigned a, b, c, d;
	size_t n = 0;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_RDRND))
		return 0;
	while (n + 8 <= len) {
		unsigned long long v;
		unsigned char ok = 0;

		/* RDRAND can fail transiently; a few tries, as Intel advises. */
		for (int tries = 0; tries < 10 && !ok; tries++)
			__asm__ volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok));
		if (!ok)
			break;
		memcpy(buf + n, &v, 8);
		n += 8;
	}
	return n;
}
#else
static size_t rdrand_bytes(uint8_t *buf, size_t len)
{
	(void)buf;
	(void)len;
	return 0;
}
#endif

int kc_agent_init_entropy(kc_error_t *err)
{
	/* 32 bytes of RDRAND, then three timespecs, after the ioctl's header
	 * (a struct ending in a variable-sized buffer, hence the allocation). */
	enum { RDRAND_MAX = 32, POOL_MAX = RDRAND_MAX + 3 * sizeof(struct timespec) };
	cleanup_free struct rand_pool_info *info = kc_xzalloc(sizeof(*info) + POOL_MAX);
	uint8_t *buf = (uint8_t *)(info + 1);
	cleanup_close int fd = open("/dev/random", O_WRONLY | O_CLOEXEC);
	static const clockid_t clocks[] = { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME };
	size_t n;

	if (fd < 0)
		return kc_error_set(err, errno, "open `/dev/random`");
	/* The CPU's generator counts as entropy (under TCG QEMU feeds it from
	 * the host's getrandom); clock readings are only mixed in, since a
	 * fresh VM's clocks are predictable. */
	n = rdrand_bytes(buf, RDRAND_MAX);
	info->entropy_count = (int)(n * 8);
	for (size_t i = 0; i < KC_ARRAY_SIZE(clocks); i++) {
		struct timespec ts;

		clock_gettime(clocks[i], &ts);
		memcpy(buf + n, &ts, sizeof(ts));
		n += sizeof(ts);
	}
	info->buf_size = (int)n;
	if (ioctl(fd, RNDADDENTROPY, info) < 0)
		return kc_error_set(err, errno, "RNDADDENTROPY on `/dev/random`");
	kc_debug("entropy: %d bits credited from RDRAND, %zu bytes mixed", info->entropy_count, n);
	return 0;
}

void kc_agent_init_poweroff(void)
{
	kc_info("powering off");
	sync();
	reboot(RB_POWER_OFF);
}

/* ---- the kernel command line ---- */

typedef int (*word_fn)(const char *word, void *data, kc_error_t *err);

/* Calls fn for each word, quotes removed. */
static int for_each_word(const char *cmdline, word_fn fn, void *data, kc_error_t *err)
{
	cleanup_free char *word = kc_xmalloc(strlen(cmdline) + 1);
	const char *p = cmdline;

	while (*p) {
		size_t n = 0;
		bool quoted = false;
		int ret;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		for (; *p && (quoted || (*p != ' ' && *p != '\t' && *p != '\n')); p++) {
			if (*p == '"')
				quoted = !quoted;
			else
				word[n++] = *p;
		}
		word[n] = '\0';
		if (quoted)
			return kc_error_set(err, EINVAL, "kernel command line: unterminated quote");
		ret = fn(word, data, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int parse_modules(struct kc_agent_cmdline *out, const char *val, kc_error_t *err)
{
	cleanup_free char *copy = kc_xstrdup(val);
	char *name, *save = NULL;
	size_t n = 0;

	kc_free_strv(out->modules);
	out->modules = kc_xzalloc(sizeof(char *));
	for (name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		if (!kc_agent_module_name_valid(name))
			return kc_error_set(err, EINVAL,
					    "kernel command line modules_load: `%s` is not a "
					    "module name",
					    name);
		out->modules = kc_xrealloc(out->modules, (n + 2) * sizeof(char *));
		out->modules[n++] = kc_xstrdup(name);
		out->modules[n] = NULL;
	}
	return 0;
}

static int apply(const char *word, void *data, kc_error_t *err)
{
	struct kc_agent_cmdline *out = data;
	const char *eq = strchr(word, '=');
	size_t klen = eq ? (size_t)(eq - word) : strlen(word);
	const char *val = eq ? eq + 1 : NULL;

	if (val && klen == strlen("modules_load") && strncmp(word, "modules_load", klen) == 0)
		return parse_modules(out, val, err);
	if (strncmp(word, "agent.", 6) != 0)
		return 0;
	if (klen == strlen("agent.log") && strncmp(word, "agent.log", klen) == 0) {
		if (!val || kc_log_parse_level(val, &out->log_level, err) < 0) {
			if (err && *err)
				return kc_error_wrap(err, "kernel command line agent.log");
			return kc_error_set(err, EINVAL,
					    "kernel command line: agent.log needs a level");
		}
		out->log_level_set = true;
	} else if (klen == strlen("agent.debug_console") &&
		   strncmp(word, "agent.debug_console", klen) == 0) {
		out->debug_console = !val || strcmp(val, "1") == 0 || strcmp(val, "true") == 0;
	} else if (klen == strlen("agent.listen") && strncmp(word, "agent.listen", klen) == 0) {
		if (!val || !*val)
			return kc_error_set(err, EINVAL,
					    "kernel command line: agent.listen needs a URI");
		free(out->listen);
		out->listen = kc_xstrdup(val);
	}
	return 0;
}

int kc_agent_cmdline_parse(const char *cmdline, struct kc_agent_cmdline *out, kc_error_t *err)
{
	int ret;

	memset(out, 0, sizeof(*out));
	ret = for_each_word(cmdline, apply, out, err);
	if (ret < 0)
		kc_agent_cmdline_free(out);
	return ret;
}

void kc_agent_cmdline_free(struct kc_agent_cmdline *c)
{
	free(c->listen);
	c->listen = NULL;
	kc_free_strv(c->modules);
	c->modules = NULL;
}

struct params {
	const char *name;
	char *out;
};

/* '-' and '_' are the same character in module names. */
static bool same_module(const char *a, const char *b, size_t blen)
{
	size_t i;

	for (i = 0; a[i] && i < blen; i++) {
		char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];

		if (x != y)
			return false;
	}
	return !a[i] && i == blen;
}

static int collect_param(const char *word, void *data, kc_error_t *err)
{
	struct params *p = data;
	const char *dot = strchr(word, '.'), *eq = strchr(word, '=');
	char *joined;

	(void)err;
	/* "name.key=value" or a bare "name.flag"; a '.' after the '=' is
	 * part of the value. */
	if (!dot || (eq && eq < dot) || dot[1] == '\0' || dot[1] == '=')
		return 0;
	if (!same_module(p->name, word, (size_t)(dot - word)))
		return 0;
	joined = kc_xasprintf("%s%s%s", p->out, p->out[0] ? " " : "", dot + 1);
	free(p->out);
	p->out = joined;
	return 0;
}

char *kc_agent_cmdline_module_params(const char *cmdline, const char *name)
{
	struct params p = { .name = name, .out = kc_xstrdup("") };

	/* A bad quote was already reported by kc_agent_cmdline_parse(). */
	for_each_word(cmdline, collect_param, &p, NULL);
	return p.out;
}
