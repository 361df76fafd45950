/* SPDX-License-Identifier: Apache-2.0 */
/* Loading the image's kernel modules with finit_module(2). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zlib.h>

#include "init.h"
#include "lib/log.h"
#include "lib/util.h"
#include "modules.h"

/* load-order, on-demand and aliases are written by our own builder: a
 * few dozen short lines each. */
#define LOAD_ORDER_MAX (64 * 1024)
/* The largest module of Debian's kernel (xfs) is 4 MB. */
#define MODULE_MAX (64 * 1024 * 1024)
#define SYS_MODULE "/sys/module"

bool kc_agent_module_name_valid(const char *name)
{
	size_t n = 0;

	for (const char *p = name; *p; p++, n++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return false;
	}
	return n > 0 && n < 64;
}

/*
 * The initrd is unpacked into the rootfs, a RAM file system: a module's
 * file costs its size in guest memory for the VM's life.  What init has
 * loaded is unlinked (0.6 MB for a serial-only boot, 1 MB with virtio-fs;
 * docs/guest-memory.md); the modules it skipped stay for kernel_modules
 * and modules_load=.  The names are kept so that a later request for one
 * of them is "already loaded", as EEXIST is.
 */
#define RELEASED_MAX 64
static char released[RELEASED_MAX][64];
static size_t n_released;

/* modprobe treats '-' and '_' in module names alike. */
static bool same_name(const char *a, const char *b)
{
	while (*a && (*a == *b || ((*a == '-' || *a == '_') && (*b == '-' || *b == '_'))))
		a++, b++;
	return !*a && !*b;
}

static bool was_released(const char *name)
{
	for (size_t i = 0; i < n_released; i++)
		if (same_name(released[i], name))
			return true;
	return false;
}

static int open_file(int dirfd, const char *name, const char *suffix, char file[80])
{
	char alt[80];
	int fd;

	snprintf(file, 80, "%s%s", name, suffix);
	fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	memcpy(alt, file, sizeof(alt));
	for (char *p = alt; *p && p < alt + strlen(name); p++) {
		if (*p == '-')
			*p = '_';
		else if (*p == '_')
			*p = '-';
	}
	fd = openat(dirfd, alt, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0)
		memcpy(file, alt, 80);
	return fd;
}

/* Opens NAME.ko, else the gzip'd NAME.ko.gz of an on-demand module (each
 * also with '-' and '_' swapped); `file` gets the name that was found. */
static int open_module(int dirfd, const char *name, char file[80], bool *gz)
{
	int fd = open_file(dirfd, name, ".ko", file);

	*gz = false;
	if (fd >= 0 || errno != ENOENT)
		return fd;
	fd = open_file(dirfd, name, ".ko.gz", file);
	if (fd >= 0)
		*gz = true;
	else
		errno = ENOENT; /* the error names NAME.ko */
	return fd;
}

/*
 * Reads a gzip'd module for init_module(2): Debian's 6.1 kernel cannot
 * decompress modules itself (no CONFIG_MODULE_DECOMPRESS), and keeping
 * them compressed in the initrd saves guest RAM (3.9 MB unpacked, 1.2 MB
 * gzip'd).  zlib's inflate only: its gz* file API would bring deflate
 * into the static agent too (130 kB).
 */
static int read_gz(int fd, const char *name, const char *file, char **out, size_t *out_len,
		   kc_error_t *err)
{
	cleanup_free char *in = NULL, *buf = NULL;
	size_t in_len, cap = 1024 * 1024;
	z_stream z = { 0 };
	struct stat st;
	ssize_t n;
	int zret;

	if (fstat(fd, &st) < 0)
		return kc_error_set(err, errno, "module `%s`: stat `%s`", name, file);
	if (st.st_size <= 0 || st.st_size > MODULE_MAX)
		return kc_error_set(err, EFBIG, "module `%s`: `%s` is empty or over %d MiB", name,
				    file, MODULE_MAX >> 20);
	in_len = (size_t)st.st_size;
	in = kc_xmalloc(in_len);
	n = pread(fd, in, in_len, 0);
	if (n != (ssize_t)in_len)
		return kc_error_set(err, n < 0 ? errno : EIO, "module `%s`: read `%s`", name, file);
	/* 16 + MAX_WBITS: a gzip stream, not a bare zlib one. */
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return kc_error_set(err, ENOMEM, "module `%s`: inflateInit2", name);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)in_len;
	buf = kc_xmalloc(cap);
	do {
		if (z.total_out == cap) {
			if (cap * 2 > MODULE_MAX) {
				inflateEnd(&z);
				return kc_error_set(err, EFBIG,
						    "module `%s`: `%s` inflates to over %d MiB",
						    name, file, MODULE_MAX >> 20);
			}
			cap *= 2;
			buf = kc_xrealloc(buf, cap);
		}
		z.next_out = (Bytef *)buf + z.total_out;
		z.avail_out = (uInt)(cap - z.total_out);
		zret = inflate(&z, Z_NO_FLUSH);
	} while (zret == Z_OK);
	inflateEnd(&z);
	if (zret != Z_STREAM_END)
		return kc_error_set(err, EINVAL, "module `%s`: `%s` is not a whole gzip stream (%d)",
				    name, file, zret);
	*out_len = z.total_out;
	*out = kc_steal_ptr(&buf);
	return 0;
}

/* After a load that worked: unlinks the file when `release`. */
static void release_file(int dirfd, const char *dir, const char *name, const char *file,
			 bool release)
{
	if (!release || n_released >= RELEASED_MAX)
		return;
	if (unlinkat(dirfd, file, 0) < 0) {
		kc_debug("module %s: unlink `%s/%s`: %s", name, dir, file, strerror(errno));
		return;
	}
	snprintf(released[n_released++], sizeof(released[0]), "%s", name);
}

static int load_at(int dirfd, const char *dir, const char *name, const char *params, bool release,
		   kc_error_t *err)
{
	cleanup_close int fd = -1;
	uint64_t t0 = kc_monotonic_ns();
	char file[80];
	bool gz;
	int ret;

	if (!kc_agent_module_name_valid(name))
		return kc_error_set(err, EINVAL, "module `%s`: not a valid module name", name);
	fd = open_module(dirfd, name, file, &gz);
	if (fd < 0 && errno == ENOENT && was_released(name)) {
		kc_debug("module %s was already loaded (its file released)", name);
		return 0;
	}
	if (fd < 0)
		return kc_error_set(err, errno, "module `%s`: open `%s/%s.ko`", name, dir, name);
	if (gz) {
		cleanup_free char *image = NULL;
		size_t len = 0;

		ret = read_gz(fd, name, file, &image, &len, err);
		if (ret < 0)
			return ret;
		ret = (int)syscall(SYS_init_module, image, len, params ? params : "");
	} else {
		ret = (int)syscall(SYS_finit_module, fd, params ? params : "", 0);
	}
	if (ret < 0) {
		if (errno == EEXIST) {
			kc_debug("module %s was already loaded", name);
			release_file(dirfd, dir, name, file, release);
			return 0;
		}
		return kc_error_set(err, errno, "module `%s`: %s", name,
				    gz ? "init_module" : "finit_module");
	}
	kc_debug("module %s loaded in %llu us%s%s", name,
		 (unsigned long long)((kc_monotonic_ns() - t0) / 1000),
		 params && *params ? " with " : "", params ? params : "");
	release_file(dirfd, dir, name, file, release);
	return 0;
}

/* The kernel command line, set by init (kc_agent_modules_load_all) or
 * read by modprobe: the parameters of a dependency come from it. */
static char *boot_cmdline;

/* Loaded, or built in with parameters: the kernel has it. */
static bool is_loaded(const char *name)
{
	char path[sizeof(SYS_MODULE) + 80];
	struct stat st;
	char *p;

	snprintf(path, sizeof(path), SYS_MODULE "/%s", name);
	for (p = path + sizeof(SYS_MODULE); *p; p++)
		if (*p == '-')
			*p = '_';
	return stat(path, &st) == 0;
}

static char **split_words(char *line)
{
	char **v = kc_xzalloc(sizeof(char *));
	char *w, *save = NULL;
	size_t n = 0;

	for (w = strtok_r(line, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		v = kc_xrealloc(v, (n + 2) * sizeof(char *));
		v[n++] = kc_xstrdup(w);
		v[n] = NULL;
	}
	return v;
}

/*
 * The line of DIR/on-demand for `request` (the module's name, then what to
 * load, dependencies first and the module last; NULL-terminated): its own
 * when `request` is an on-demand module, else that of the module
 * DIR/aliases maps it to.  NULL when neither: a module that init loads,
 * or none of the image.
 */
static char **demand_list(const char *dir, const char *request)
{
	cleanup_free char *od_path = kc_xasprintf("%s/on-demand", dir);
	cleanup_free char *al_path = kc_xasprintf("%s/aliases", dir);
	cleanup_free char *od = NULL, *al = NULL, *module = NULL;
	char *line, *save = NULL;
	size_t len;

	if (kc_read_file(od_path, LOAD_ORDER_MAX, &od, &len, NULL) < 0)
		return NULL;
	if (kc_read_file(al_path, LOAD_ORDER_MAX, &al, &len, NULL) == 0) {
		for (line = strtok_r(al, "\n", &save); line && !module;
		     line = strtok_r(NULL, "\n", &save)) {
			char *sp = strchr(line, ' ');

			if (!sp)
				continue;
			*sp = '\0';
			if (strcmp(line, request) == 0)
				module = kc_xstrdup(sp + 1);
		}
	}
	save = NULL;
	for (line = strtok_r(od, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char **words = split_words(line);

		if (words[0] && words[1] && same_name(words[0], module ? module : request))
			return words;
		kc_free_strv(words);
	}
	return NULL;
}

/*
 * Loads `request` (a module, or what the kernel's request_module asks
 * for: "rtnl-link-bridge", "fs-overlay") after the modules it needs.  The
 * module gets `params`, or when NULL its parameters from `cmdline` (the
 * kernel command line, may be NULL), as its dependencies do.
 */
static int load_request(int dirfd, const char *dir, const char *request, const char *params,
			const char *cmdline, kc_error_t *err)
{
	cleanup_strv char **list = demand_list(dir, request);
	size_t n = 0;
	int ret;

	if (!list) {
		cleanup_free char *own = !params && cmdline
						 ? kc_agent_cmdline_module_params(cmdline, request)
						 : NULL;

		return load_at(dirfd, dir, request, params ? params : own, false, err);
	}
	while (list[n])
		n++;
	/* list[0] is the module's name, list[1..n-1] what to load. */
	for (size_t i = 1; i < n; i++) {
		cleanup_free char *own = NULL;
		bool last = i == n - 1;

		if (is_loaded(list[i]))
			continue;
		if (cmdline && !(last && params))
			own = kc_agent_cmdline_module_params(cmdline, list[i]);
		ret = load_at(dirfd, dir, list[i], last && params ? params : own, false, err);
		if (ret < 0)
			return last ? ret : kc_error_wrap(err, "`%s` needs `%s`", request, list[i]);
		if (last)
			kc_info("kernel module %s loaded for %s", list[i], request);
		else
			kc_info("kernel module %s loaded (needed by %s)", list[i], list[n - 1]);
	}
	return 0;
}

int kc_agent_module_load(const char *dir, const char *name, const char *params, kc_error_t *err)
{
	cleanup_close int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dirfd < 0)
		return kc_error_set(err, errno, "module `%s`: open `%s`", name, dir);
	return load_request(dirfd, dir, name, params, boot_cmdline, err);
}

/* A module of load-order (its file released once loaded), or of
 * modules_load= (`request`: an on-demand one comes with what it needs). */
static int load_logged(int dirfd, const char *dir, const char *name, const char *cmdline,
		       bool request)
{
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *params = cmdline ? kc_agent_cmdline_module_params(cmdline, name) : NULL;

	if ((request ? load_request(dirfd, dir, name, NULL, cmdline, &err)
		     : load_at(dirfd, dir, name, params, true, &err)) < 0) {
		kc_log_error_free(KC_LOG_ERROR, &err, NULL);
		return 1;
	}
	return 0;
}

/*
 * Modules that drive one kind of virtio device and nothing else (with
 * the modules only they need), by virtio device ID.  Loading them costs
 * ~100 ms of a TCG boot; without such a device at boot they are left out
 * (a microvm has no hotplug; modules_load= still forces one).
 */
static const struct {
	const char *name;
	unsigned id;
} device_modules[] = {
	{ "virtio_net", 1 },
	{ "net_failover", 1 },
	{ "failover", 1 },
	{ "virtio_blk", 2 },
	{ "vsock", 19 },
	{ "vmw_vsock_virtio_transport_common", 19 },
	{ "vmw_vsock_virtio_transport", 19 },
	{ "fuse", 26 },
	{ "virtiofs", 26 },
};

static int device_id_of(const char *module)
{
	for (size_t i = 0; i < KC_ARRAY_SIZE(device_modules); i++)
		if (strcmp(device_modules[i].name, module) == 0)
			return (int)device_modules[i].id;
	return -1;
}

/* The virtio device IDs present (bit n for ID n < 64); false if the bus
 * cannot be read, in which case nothing is skipped. */
static bool scan_virtio(const char *bus_dir, uint64_t *present)
{
	DIR *d = opendir(bus_dir);
	struct dirent *e;

	*present = 0;
	if (!d)
		return false;
	while ((e = readdir(d))) {
		cleanup_free char *path = NULL, *buf = NULL;
		unsigned long id;
		size_t len;
		char *end;

		if (e->d_name[0] == '.')
			continue;
		path = kc_xasprintf("%s/%s/device", bus_dir, e->d_name);
		if (kc_read_file(path, 64, &buf, &len, NULL) < 0)
			continue;
		id = strtoul(buf, &end, 16);
		if (end != buf && id < 64)
			*present |= 1ull << id;
	}
	closedir(d);
	return true;
}

int kc_agent_modules_load_all(const char *dir, const char *virtio_bus, char *const *extra,
			      const char *cmdline, kc_error_t *err)
{
	bool scanned = false;
	uint64_t present = 0;
	unsigned skipped = 0;
	cleanup_free char *path = kc_xasprintf("%s/load-order", dir);
	cleanup_free char *buf = NULL;
	cleanup_close int dirfd = -1;
	uint64_t t0 = kc_monotonic_ns();
	unsigned count = 0;
	int failed = 0, ret;
	size_t len;
	char *line, *save = NULL;

	ret = kc_read_file(path, LOAD_ORDER_MAX, &buf, &len, err);
	if (ret < 0)
		return ret;
	if (strlen(buf) != len)
		return kc_error_set(err, EINVAL, "`%s`: holds a NUL byte", path);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return kc_error_set(err, errno, "open `%s`", dir);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(line);

		if (n == 0)
			continue;
		/* Lines are file names: "virtio_ring.ko". */
		if (n > 3 && strcmp(line + n - 3, ".ko") == 0)
			line[n - 3] = '\0';
		/* The bus is read once its own modules (earlier in the order)
		 * have loaded and probed the devices. */
		if (device_id_of(line) >= 0 && virtio_bus && !scanned)
			scanned = scan_virtio(virtio_bus, &present);
		if (scanned && device_id_of(line) >= 0 && !(present & (1ull << device_id_of(line)))) {
			kc_debug("module %s skipped: no virtio device of type %d", line,
				 device_id_of(line));
			skipped++;
			continue;
		}
		failed += load_logged(dirfd, dir, line, cmdline, false);
		count++;
	}
	free(boot_cmdline);
	boot_cmdline = cmdline ? kc_xstrdup(cmdline) : NULL;
	for (size_t i = 0; extra && extra[i]; i++) {
		failed += load_logged(dirfd, dir, extra[i], cmdline, true);
		count++;
	}
	kc_info("loaded %u kernel modules in %llu ms (%d failed, %u skipped: no such device)",
		count - (unsigned)failed, (unsigned long long)((kc_monotonic_ns() - t0) / 1000000),
		failed, skipped);
	return failed;
}

int kc_agent_modules_load_request(const char *dir, Grpc__KernelModule *const *mods, size_t n,
				  kc_error_t *err)
{
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *params = kc_xstrdup("");
		int ret;

		for (size_t j = 0; j < mods[i]->n_parameters; j++) {
			const char *p = mods[i]->parameters[j];
			char *joined;

			/* One key=value each: a blank would smuggle in another. */
			if (!p[0] || strpbrk(p, " \t\n"))
				return kc_error_set(err, EINVAL,
						    "module `%s`: parameter %zu `%s` is empty or "
						    "holds a blank",
						    mods[i]->name, j, p);
			joined = kc_xasprintf("%s%s%s", params, params[0] ? " " : "", p);
			free(params);
			params = joined;
		}
		ret = kc_agent_module_load(dir, mods[i]->name, params, err);
		if (ret < 0)
			return ret;
		kc_info("kernel module %s loaded for the sandbox", mods[i]->name);
	}
	return 0;
}

int kc_agent_modprobe_install(const char *dir, kc_error_t *err)
{
	cleanup_free char *path = kc_xasprintf("%s/modprobe", dir);
	cleanup_close int fd = -1;

	if (access(path, X_OK) < 0)
		return kc_error_set(err, errno, "kernel modules on demand: `%s`", path);
	fd = open("/proc/sys/kernel/modprobe", O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0 || write(fd, path, strlen(path)) != (ssize_t)strlen(path))
		return kc_error_set(err, errno,
				    "kernel modules on demand: write `%s` to "
				    "/proc/sys/kernel/modprobe",
				    path);
	kc_debug("the kernel's modprobe is %s", path);
	return 0;
}

/*
 * The kernel's request_module runs `DIR/modprobe -q -- NAME` (the agent,
 * kc_agent_modprobe_install) as a usermode helper: a child of kthreadd,
 * in the initrd's root, with no fd open.  Its output goes to the kernel
 * log.
 */
int kc_agent_modprobe_main(int argc, char **argv)
{
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *params = NULL, *cmdline = NULL;
	cleanup_close int dirfd = -1;
	const char *name = NULL;
	size_t len;
	int i, fd;

	/* fds 0 and 1 on /dev/null, 2 on the kernel log. */
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd < 2)
		;
	if (fd > 2)
		close(fd);
	fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (fd >= 0 && fd != 2) {
		dup2(fd, 2);
		close(fd);
	}
	kc_log_init("modprobe", "agent");
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		/* The kernel passes -q; -v, -b and -s change nothing here. */
		if (strcmp(argv[i], "-q") != 0 && strcmp(argv[i], "-v") != 0 &&
		    strcmp(argv[i], "-b") != 0 && strcmp(argv[i], "-s") != 0) {
			kc_log_error("option `%s` is not supported (usage: modprobe [-q] [--] NAME "
				     "[PARAM=VALUE...])",
				     argv[i]);
			return 2;
		}
	}
	if (i >= argc) {
		kc_log_error("usage: modprobe [-q] [--] NAME [PARAM=VALUE...]");
		return 2;
	}
	name = argv[i++];
	for (; i < argc; i++) {
		char *joined = kc_xasprintf("%s%s%s", params ? params : "", params ? " " : "",
					    argv[i]);

		free(params);
		params = joined;
	}
	if (kc_read_file("/proc/cmdline", 64 * 1024, &cmdline, &len, NULL) < 0)
		cmdline = NULL;
	dirfd = open(KC_AGENT_MODULES_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		kc_log_error("module `%s`: open `%s`: %s", name, KC_AGENT_MODULES_DIR,
			     strerror(errno));
		return 1;
	}
	if (load_request(dirfd, KC_AGENT_MODULES_DIR, name, params, cmdline, &err) < 0) {
		kc_log_error_free(KC_LOG_ERROR, &err, NULL);
		return 1;
	}
	return 0;
}
