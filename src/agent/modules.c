// SPDX-License-Identifier: Apache-2.0
/* Loading the image's kernel modules with finit_module(2). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init.h"
#include "lib/log.h"
#include "lib/util.h"
#include "modules.h"

/* load-order is written by our own builder: a few dozen short lines. */
#define LOAD_ORDER_MAX (64 * 1024)

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

static bool was_released(const char *name)
{
	for (size_t i = 0; i < n_released; i++) {
		const char *a = released[i], *b = name;

		/* modprobe treats '-' and '_' alike. */
		while (*a && (*a == *b || ((*a == '-' || *a == '_') && (*b == '-' || *b == '_'))))
			a++, b++;
		if (!*a && !*b)
			return true;
	}
	return false;
}

/* Opens NAME.ko (or with '-' and '_' swapped); `file` gets the name that
 * was found. */
static int open_module(int dirfd, const char *name, char file[80])
{
	char alt[80];
	int fd;

	snprintf(file, 80, "%s.ko", name);
	fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	memcpy(alt, file, sizeof(alt));
	for (char *p = alt; *p; p++) {
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

static int load_at(int dirfd, const char *dir, const char *name, const char *params,
		   bool release, kc_error_t *err)
{
	cleanup_close int fd = -1;
	uint64_t t0 = kc_monotonic_ns();
	char file[80];

	if (!kc_agent_module_name_valid(name))
		return kc_error_set(err, EINVAL, "module `%s`: not a valid module name", name);
	fd = open_module(dirfd, name, file);
	if (fd < 0 && errno == ENOENT && was_released(name)) {
		kc_debug("module %s was already loaded (its file released)", name);
		return 0;
	}
	if (fd < 0)
		return kc_error_set(err, errno, "module `%s`: open `%s/%s.ko`", name, dir, name);
	if (syscall(SYS_finit_module, fd, params ? params : "", 0) < 0) {
		if (errno == EEXIST) {
			kc_debug("module %s was already loaded", name);
			release_file(dirfd, dir, name, file, release);
			return 0;
		}
		return kc_error_set(err, errno, "module `%s`: finit_module", name);
	}
	kc_debug("module %s loaded in %llu us%s%s", name,
		 (unsigned long long)((kc_monotonic_ns() - t0) / 1000), params && *params ? " with " : "",
		 params ? params : "");
	release_file(dirfd, dir, name, file, release);
	return 0;
}

int kc_agent_module_load(const char *dir, const char *name, const char *params,
			 kc_error_t *err)
{
	cleanup_close int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dirfd < 0)
		return kc_error_set(err, errno, "module `%s`: open `%s`", name, dir);
	return load_at(dirfd, dir, name, params, false, err);
}

static int load_logged(int dirfd, const char *dir, const char *name, const char *cmdline)
{
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *params = cmdline ? kc_agent_cmdline_module_params(cmdline, name) : NULL;

	if (load_at(dirfd, dir, name, params, true, &err) < 0) {
		kc_error("%s", err->msg);
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

/*
 * Modules no boot needs, loaded on first use instead: the first mount of
 * their file system (kc_agent_module_for_fstype).  overlay is 19 ms of a
 * TCG boot, and kata-c's containers get their rootfs over virtio-fs.
 * modules_load= and kernel_modules still load them at once.
 */
static const char *const on_demand[] = { "overlay" };

static bool is_on_demand(const char *module)
{
	for (size_t i = 0; i < KC_ARRAY_SIZE(on_demand); i++)
		if (strcmp(on_demand[i], module) == 0)
			return true;
	return false;
}

static bool listed(char *const *v, const char *name)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], name) == 0)
			return true;
	return false;
}

/* Set by init (kc_agent_modules_load_all): a host process never loads. */
static char *demand_dir, *demand_cmdline;

bool kc_agent_module_for_fstype(const char *fstype)
{
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *params = NULL;

	if (!demand_dir || !fstype || !is_on_demand(fstype))
		return false;
	params = demand_cmdline ? kc_agent_cmdline_module_params(demand_cmdline, fstype) : NULL;
	if (kc_agent_module_load(demand_dir, fstype, params, &err) < 0) {
		kc_warn("file system %s: %s", fstype, err->msg);
		errno = ENODEV; /* the caller's error is the mount's */
		return false;
	}
	kc_info("kernel module %s loaded on first use", fstype);
	return true;
}

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
	unsigned skipped = 0, deferred = 0;
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
		if (is_on_demand(line) && !listed(extra, line)) {
			kc_debug("module %s left for its first use", line);
			deferred++;
			continue;
		}
		failed += load_logged(dirfd, dir, line, cmdline);
		count++;
	}
	for (size_t i = 0; extra && extra[i]; i++) {
		failed += load_logged(dirfd, dir, extra[i], cmdline);
		count++;
	}
	kc_info("loaded %u kernel modules in %llu ms (%d failed, %u skipped: no such device, "
		"%u on first use)",
		count - (unsigned)failed, (unsigned long long)((kc_monotonic_ns() - t0) / 1000000),
		failed, skipped, deferred);
	free(demand_dir);
	free(demand_cmdline);
	demand_dir = kc_xstrdup(dir);
	demand_cmdline = cmdline ? kc_xstrdup(cmdline) : NULL;
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
