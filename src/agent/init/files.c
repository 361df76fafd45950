/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Files the host places in, or asks about, below /run/kata-containers:
 * CopyFile, GetVolumeStats and AddSwapPath (see guest.h).
 *
 * Every path is opened inside agent->run_root with RESOLVE_IN_ROOT, and
 * the last component is handled with *at() calls on its parent and
 * O_NOFOLLOW, so neither ".." nor a symlink the guest holds leads out.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/swap.h>
#include <unistd.h>

#include "guest.h"
#include "agent.pb-c.h"
#include "lib/log.h"
#include "lib/path.h"
#include "lib/util.h"

static const char *run_root(const struct kc_agent *a)
{
	return a->run_root ? a->run_root : KC_AGENT_RUN_DIR;
}

/* Checks a host-supplied path and returns what follows the run dir. */
static int check_run_path(const char *path, const char **rel, kc_error_t *err)
{
	size_t plen = strlen(KC_AGENT_RUN_DIR);
	cleanup_free char *clean = NULL;

	if (path[0] != '/')
		return kc_error_set(err, EINVAL, "path `%s` is not absolute", path);
	clean = kc_path_clean(path);
	if (strcmp(clean, path) != 0)
		return kc_error_set(err, EINVAL, "path `%s` is not canonical (`%s`)", path, clean);
	if (strncmp(path, KC_AGENT_RUN_DIR, plen) != 0 || (path[plen] != '/' && path[plen]))
		return kc_error_set(err, EPERM, "path `%s` is not below %s", path, KC_AGENT_RUN_DIR);
	*rel = path[plen] ? path + plen + 1 : "";
	return 0;
}

static int open_root(const struct kc_agent *a, kc_error_t *err)
{
	int fd = open(run_root(a), O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT && mkdir(run_root(a), 0755) == 0)
		fd = open(run_root(a), O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kc_error_set(err, errno, "open `%s`", run_root(a));
	return fd;
}

int kc_agent_open_run_path(const struct kc_agent *a, const char *path, int flags, const char **rel,
			   kc_error_t *err)
{
	cleanup_close int root = -1;
	const char *r = "";
	int ret;

	ret = check_run_path(path, &r, err);
	if (ret < 0)
		return ret;
	if (rel)
		*rel = r;
	root = open_root(a, err);
	if (root < 0)
		return root;
	ret = kc_open_in_root(root, r[0] ? r : ".", flags, 0, err);
	return ret;
}

/* ---- CopyFile ---- */

/* uid/gid -1 leave ownership alone, as chown(2) does. */
static int check_owner(int32_t id, const char *what, kc_error_t *err)
{
	if (id < -1)
		return kc_error_set(err, EINVAL, "%s %d is negative", what, id);
	return 0;
}

/*
 * Opens (as O_PATH) the directory rel inside root, creating missing
 * components with dir_mode and uid/gid as Kata does.
 */
static int open_parents(int root, const char *rel, mode_t dir_mode, uid_t uid, gid_t gid,
			kc_error_t *err)
{
	cleanup_free char *buf = kc_xstrdup(rel);
	cleanup_close int cur = fcntl(root, F_DUPFD_CLOEXEC, 0);
	char *save = NULL;

	if (cur < 0)
		return kc_error_set(err, errno, "dup");
	for (char *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		cleanup_error kc_error_t e = NULL;
		int next = kc_open_in_root(cur, c, O_PATH | O_DIRECTORY, 0, &e);

		if (next == -ENOENT) {
			/* Mode and owner only for what we created: an existing
			 * name (a dangling symlink) is never followed. */
			if (mkdirat(cur, c, dir_mode) < 0)
				return kc_error_set(err, errno, "mkdir `%s` in `%s`", c, rel);
			if (fchownat(cur, c, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
			    fchmodat(cur, c, dir_mode, 0) < 0)
				return kc_error_set(err, errno, "set owner and mode of `%s`", c);
			next = kc_open_in_root(cur, c, O_PATH | O_DIRECTORY, 0, err);
		} else if (next < 0) {
			*err = kc_steal_ptr(&e);
		}
		if (next < 0)
			return next;
		close(cur);
		cur = next;
	}
	return kc_steal_fd(&cur);
}

struct copy_req {
	const char *path, *name; /* the guest path and its last component */
	uint64_t size, offset;
	mode_t type, perm, dir_perm;
	uid_t uid;
	gid_t gid;
	const uint8_t *data;
	size_t len;
};

static int copy_dir(int dir, const struct copy_req *r, kc_error_t *err)
{
	struct stat st;

	if (mkdirat(dir, r->name, r->perm) < 0) {
		if (errno != EEXIST)
			return kc_error_set(err, errno, "mkdir `%s`", r->path);
		if (fstatat(dir, r->name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			return kc_error_set(err, EEXIST, "`%s` exists and is not a directory",
					    r->path);
	}
	/* Owner first: chown(2) may clear the set-id bits the mode sets. */
	if (fchownat(dir, r->name, r->uid, r->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(dir, r->name, r->perm, 0) < 0)
		return kc_error_set(err, errno, "set owner and mode of `%s`", r->path);
	return 0;
}

/* The link is made beside its place and renamed over it, so that copying
 * the same tree twice works. */
static int copy_symlink(int dir, const struct copy_req *r, const char *tmp, kc_error_t *err)
{
	cleanup_free char *target = NULL;

	if (r->len == 0 || r->len >= PATH_MAX || memchr(r->data, '\0', r->len))
		return kc_error_set(err, EINVAL, "symlink `%s`: bad target (%zu bytes)", r->path,
				    r->len);
	target = kc_xstrndup((const char *)r->data, r->len);
	unlinkat(dir, tmp, 0);
	if (symlinkat(target, dir, tmp) < 0)
		return kc_error_set(err, errno, "symlink `%s` -> `%s`", r->path, target);
	if (fchownat(dir, tmp, r->uid, r->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    renameat(dir, tmp, dir, r->name) < 0) {
		int e = errno;

		unlinkat(dir, tmp, 0);
		return kc_error_set(err, e, "symlink `%s`", r->path);
	}
	return 0;
}

/* Chunks arrive in order: each continues the temporary file at its end
 * (or restarts it at offset 0); the last one renames it into place. */
static int copy_chunk(int dir, const struct copy_req *r, const char *tmp, kc_error_t *err)
{
	cleanup_close int fd = -1;
	struct stat st;
	size_t done = 0;

	fd = openat(dir, tmp,
		    O_WRONLY | O_NOFOLLOW | O_CLOEXEC | (r->offset == 0 ? O_CREAT | O_TRUNC : 0),
		    0600);
	if (fd < 0 && errno == ENOENT && r->offset > 0)
		return kc_error_set(err, ERANGE, "copy `%s`: offset %llu but no earlier chunk",
				    r->path, (unsigned long long)r->offset);
	if (fd < 0)
		return kc_error_set(err, errno, "open `%s` (temporary file of `%s`)", tmp, r->path);
	if (fstat(fd, &st) < 0)
		return kc_error_set(err, errno, "stat `%s`", tmp);
	if (!S_ISREG(st.st_mode))
		return kc_error_set(err, EINVAL, "`%s` is not a regular file", tmp);
	if (r->offset > (uint64_t)st.st_size)
		return kc_error_set(err, ERANGE,
				    "copy `%s`: offset %llu is past the %lld bytes received",
				    r->path, (unsigned long long)r->offset, (long long)st.st_size);
	while (done < r->len) {
		ssize_t n = pwrite(fd, r->data + done, r->len - done, (off_t)(r->offset + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return kc_error_set(err, n < 0 ? errno : EIO, "write `%s`", r->path);
		done += (size_t)n;
	}
	if (r->offset + r->len < (uint64_t)st.st_size &&
	    ftruncate(fd, (off_t)(r->offset + r->len)) < 0)
		return kc_error_set(err, errno, "truncate `%s`", tmp);
	if (r->offset + r->len < r->size)
		return 0;
	/* Owner first: chown(2) clears a regular file's setuid and setgid
	 * bits, which the mode then sets. */
	if (fchown(fd, r->uid, r->gid) < 0 || fchmod(fd, r->perm) < 0)
		return kc_error_set(err, errno, "set owner and mode of `%s`", r->path);
	if (renameat(dir, tmp, dir, r->name) < 0)
		return kc_error_set(err, errno, "rename into `%s`", r->path);
	return 0;
}

static int copy_file(struct kc_agent *a, const Grpc__CopyFileRequest *req, kc_error_t *err)
{
	struct copy_req r = { .path = req->path };
	cleanup_close int root = -1, dir = -1;
	cleanup_free char *parent = NULL, *tmp = NULL;
	const char *rel = "", *slash;
	int ret;

	ret = check_run_path(req->path, &rel, err);
	if (ret < 0)
		return ret;
	if (!rel[0])
		return kc_error_set(err, EINVAL, "path `%s` names the run directory itself",
				    req->path);
	if (req->file_size < 0 || req->offset < 0)
		return kc_error_set(err, EINVAL, "copy `%s`: negative file_size %lld or offset %lld",
				    req->path, (long long)req->file_size, (long long)req->offset);
	if ((uint64_t)req->file_size > KC_AGENT_COPY_FILE_MAX)
		return kc_error_set(err, E2BIG,
				    "copy `%s`: file_size %lld is over the %llu MiB limit",
				    req->path, (long long)req->file_size,
				    KC_AGENT_COPY_FILE_MAX >> 20);
	r.size = (uint64_t)req->file_size;
	r.offset = (uint64_t)req->offset;
	r.data = req->data.data;
	r.len = req->data.len;
	r.type = req->file_mode & S_IFMT;
	r.perm = req->file_mode & 07777;
	r.dir_perm = req->dir_mode & 07777;
	if (r.type == S_IFREG || r.type == 0) {
		if (r.offset > r.size || r.len > r.size - r.offset)
			return kc_error_set(
				err, ERANGE,
				"copy `%s`: %zu bytes at offset %llu go past file_size %llu",
				req->path, r.len, (unsigned long long)r.offset,
				(unsigned long long)r.size);
	} else if (r.type != S_IFDIR && r.type != S_IFLNK) {
		return kc_error_set(err, EINVAL,
				    "copy `%s`: file_mode %#o is not a file, directory "
				    "or symlink",
				    req->path, req->file_mode);
	}
	if (check_owner(req->uid, "uid", err) < 0 || check_owner(req->gid, "gid", err) < 0)
		return -EINVAL;
	r.uid = (uid_t)req->uid;
	r.gid = (gid_t)req->gid;

	slash = strrchr(rel, '/');
	r.name = slash ? slash + 1 : rel;
	parent = slash ? kc_xstrndup(rel, (size_t)(slash - rel)) : kc_xstrdup("");
	if (strlen(r.name) + 10 > NAME_MAX)
		return kc_error_set(err, ENAMETOOLONG, "copy `%s`: name too long", req->path);
	tmp = kc_xasprintf(".%s.kc-copy", r.name);
	root = open_root(a, err);
	if (root < 0)
		return root;
	dir = open_parents(root, parent, r.dir_perm, r.uid, r.gid, err);
	if (dir < 0)
		return kc_error_wrap(err, "copy `%s`", req->path);
	if (r.type == S_IFDIR)
		return copy_dir(dir, &r, err);
	if (r.type == S_IFLNK)
		return copy_symlink(dir, &r, tmp, err);
	return copy_chunk(dir, &r, tmp, err);
}

void kc_agent_h_copy_file(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	cleanup_error kc_error_t err = NULL;

	if (copy_file(data, (const void *)m, &err) < 0) {
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	kc_ttrpc_call_reply_msg(call, NULL);
}

/* ---- GetVolumeStats ---- */

void kc_agent_h_get_volume_stats(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__VolumeStatsRequest *req = (const void *)m;
	Grpc__VolumeStatsResponse resp = GRPC__VOLUME_STATS_RESPONSE__INIT;
	Grpc__VolumeUsage bytes = GRPC__VOLUME_USAGE__INIT, inodes = GRPC__VOLUME_USAGE__INIT;
	Grpc__VolumeUsage *usage[2] = { &bytes, &inodes };
	cleanup_error kc_error_t err = NULL;
	cleanup_close int fd = -1;
	struct statfs sf;

	fd = kc_agent_open_run_path(data, req->volume_guest_path, O_PATH, NULL, &err);
	if (fd < 0) {
		kc_error_wrap(&err, "GetVolumeStats");
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	if (fstatfs(fd, &sf) < 0) {
		kc_ttrpc_call_fail(call, kc_ttrpc_code_from_errno(errno), "statfs `%s`: %s",
				   req->volume_guest_path, strerror(errno));
		return;
	}
	bytes.unit = GRPC__VOLUME_USAGE__UNIT__BYTES;
	bytes.total = (uint64_t)sf.f_blocks * (uint64_t)sf.f_frsize;
	bytes.available = (uint64_t)sf.f_bavail * (uint64_t)sf.f_frsize;
	bytes.used = (uint64_t)(sf.f_blocks - sf.f_bfree) * (uint64_t)sf.f_frsize;
	inodes.unit = GRPC__VOLUME_USAGE__UNIT__INODES;
	inodes.total = sf.f_files;
	inodes.available = sf.f_ffree;
	inodes.used = sf.f_files - sf.f_ffree;
	resp.usage = usage;
	resp.n_usage = 2;
	resp.condition_message = (char *)"NORMAL";
	kc_ttrpc_call_reply_msg(call, &resp.base);
}

/* ---- AddSwapPath ---- */

/* The swap signature mkswap writes at the end of the first page. */
static int check_swap_file(int fd, const char *path, kc_error_t *err)
{
	long page = sysconf(_SC_PAGESIZE);
	char magic[10];
	struct stat st;

	if (fstat(fd, &st) < 0)
		return kc_error_set(err, errno, "stat `%s`", path);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return kc_error_set(err, EINVAL, "swap `%s` is not a file or block device", path);
	if (S_ISREG(st.st_mode) && st.st_size < 10 * page)
		return kc_error_set(err, EINVAL, "swap file `%s` is too small (%lld bytes)", path,
				    (long long)st.st_size);
	if (pread(fd, magic, sizeof(magic), page - (off_t)sizeof(magic)) != (ssize_t)sizeof(magic))
		return kc_error_set(err, errno ? errno : EINVAL, "read `%s`", path);
	if (memcmp(magic, "SWAPSPACE2", sizeof(magic)) != 0)
		return kc_error_set(err, EINVAL, "`%s` has no swap signature (run mkswap on it)",
				    path);
	return 0;
}

void kc_agent_h_add_swap_path(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data)
{
	const Grpc__AddSwapPathRequest *req = (const void *)m;
	struct kc_agent *a = data;
	cleanup_error kc_error_t err = NULL;
	cleanup_close int fd = -1;
	char proc[64];

	fd = kc_agent_open_run_path(a, req->path, O_RDONLY | O_NOFOLLOW, NULL, &err);
	if (fd < 0 || check_swap_file(fd, req->path, &err) < 0) {
		kc_error_wrap(&err, "AddSwapPath");
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	if (!a->init_mode) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
				   "AddSwapPath `%s`: the agent is not the guest's init "
				   "(--no-init), it does not add swap to this machine",
				   req->path);
		return;
	}
	/* swapon() takes a path: the fd's, which the checks above opened. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (swapon(proc, 0) < 0) {
		kc_ttrpc_call_fail(call, kc_ttrpc_code_from_errno(errno), "swapon `%s`: %s",
				   req->path, strerror(errno));
		return;
	}
	kc_info("swap on %s", req->path);
	kc_ttrpc_call_reply_msg(call, NULL);
}
