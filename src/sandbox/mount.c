/* SPDX-License-Identifier: Apache-2.0 */
#include "mount.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/util.h"

static const struct {
	const char *name;
	bool clear;
	unsigned long flag;
} flag_words[] = {
	{ "ro", false, MS_RDONLY },
	{ "rw", true, MS_RDONLY },
	{ "nosuid", false, MS_NOSUID },
	{ "suid", true, MS_NOSUID },
	{ "nodev", false, MS_NODEV },
	{ "dev", true, MS_NODEV },
	{ "noexec", false, MS_NOEXEC },
	{ "exec", true, MS_NOEXEC },
	{ "sync", false, MS_SYNCHRONOUS },
	{ "async", true, MS_SYNCHRONOUS },
	{ "noatime", false, MS_NOATIME },
	{ "atime", true, MS_NOATIME },
	{ "relatime", false, MS_RELATIME },
	{ "norelatime", true, MS_RELATIME },
	{ "strictatime", false, MS_STRICTATIME },
	{ "nodiratime", false, MS_NODIRATIME },
	{ "bind", false, MS_BIND },
	{ "rbind", false, MS_BIND | MS_REC },
	{ "private", false, MS_PRIVATE },
	{ "rprivate", false, MS_PRIVATE | MS_REC },
	{ "slave", false, MS_SLAVE },
	{ "rslave", false, MS_SLAVE | MS_REC },
	{ "shared", false, MS_SHARED },
	{ "rshared", false, MS_SHARED | MS_REC },
	{ "defaults", false, 0 },
};

int kc_mount_options(char *const *opts, size_t n, unsigned long *flags, char **data, kc_error_t *err)
{
	cleanup_free char *buf = NULL;
	size_t len = 0;
	long page = sysconf(_SC_PAGESIZE);

	*flags = 0;
	*data = NULL;
	for (size_t i = 0; i < n; i++) {
		const char *o = opts[i];
		size_t ol = strlen(o);
		bool word = false;

		for (size_t j = 0; j < KC_ARRAY_SIZE(flag_words); j++) {
			if (strcmp(o, flag_words[j].name) == 0) {
				if (flag_words[j].clear)
					*flags &= ~flag_words[j].flag;
				else
					*flags |= flag_words[j].flag;
				word = true;
				break;
			}
		}
		if (word)
			continue;
		if (ol == 0)
			return kc_error_set(err, EINVAL, "mount option %zu is empty", i + 1);
		if (strchr(o, ','))
			return kc_error_set(err, EINVAL, "mount option `%s` holds a ','", o);
		if (len + ol + 2 > (size_t)page)
			return kc_error_set(err, E2BIG,
					    "mount options are longer than a page (%ld bytes)",
					    page);
		buf = kc_xrealloc(buf, len + ol + 2);
		if (len)
			buf[len++] = ',';
		memcpy(buf + len, o, ol + 1);
		len += ol;
	}
	*data = kc_steal_ptr(&buf);
	return 0;
}

int kc_mkdir_p(const char *path, kc_error_t *err)
{
	cleanup_free char *p = kc_xstrdup(path);

	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;

			*s = '\0';
			if (mkdir(p, 0711) < 0 && errno != EEXIST)
				return kc_error_set(err, errno, "mkdir `%s`", p);
			*s = c;
			if (c == '\0')
				break;
		}
	}
	return 0;
}

/* mountinfo escapes ' ', '\t', '\n' and '\\' as octal. */
static void unescape(char *s)
{
	char *o = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

static bool below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int kc_umount_below(const char *dir, kc_error_t *err)
{
	int count = 0;

	/* Unmounting one may uncover or drop others: repeat until none is left,
	 * deepest (longest path) first each round. */
	for (int round = 0; round < 64; round++) {
		cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
		cleanup_free char *line = NULL, *best = NULL;
		size_t cap = 0;

		if (!f)
			return kc_error_set(err, errno, "open `/proc/self/mountinfo`");
		while (getline(&line, &cap, f) > 0) {
			char mp[PATH_MAX];

			if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
				continue;
			unescape(mp);
			if (below(mp, dir) && (!best || strlen(mp) > strlen(best))) {
				free(best);
				best = kc_xstrdup(mp);
			}
		}
		if (!best)
			return count;
		if (umount2(best, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
			return kc_error_set(err, errno, "umount `%s`", best);
		count++;
	}
	return kc_error_set(err, EBUSY, "umount below `%s`: mounts keep reappearing", dir);
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int kc_rm_tree(const char *dir, kc_error_t *err)
{
	struct stat st;

	if (lstat(dir, &st) < 0)
		return errno == ENOENT ? 0 : kc_error_set(err, errno, "stat `%s`", dir);
	if (!S_ISDIR(st.st_mode))
		return unlink(dir) < 0 ? kc_error_set(err, errno, "unlink `%s`", dir) : 0;
	/* FTW_MOUNT: a mount left below stays untouched and its directory
	 * makes rmdir fail, which is reported. */
	if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return kc_error_set(err, errno, "remove `%s`", dir);
	return 0;
}

static bool proc_matches(const char *pid, const char *marker)
{
	char path[64], root[PATH_MAX];
	cleanup_free char *cmd = NULL;
	size_t len = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%s/root", pid);
	n = readlink(path, root, sizeof(root) - 1);
	if (n > 0) {
		root[n] = '\0';
		if (below(root, marker))
			return true;
	}
	snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
	if (kc_read_file(path, 1 << 20, &cmd, &len, NULL) < 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	return strstr(cmd, marker) != NULL;
}

int kc_kill_procs_matching(const char *marker, kc_error_t *err)
{
	cleanup_free int *fds = NULL;
	size_t n = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t self = getpid();

	if (!d)
		return kc_error_set(err, errno, "open `/proc`");
	while ((e = readdir(d))) {
		unsigned long long pid;
		int fd;

		if (!kc_parse_u64(e->d_name, &pid) || (pid_t)pid == self || pid == 1)
			continue;
		if (!proc_matches(e->d_name, marker))
			continue;
		fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
		if (fd < 0)
			continue;
		if (syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) < 0) {
			close(fd);
			continue;
		}
		fds = kc_xrealloc(fds, (n + 1) * sizeof(*fds));
		fds[n++] = fd;
	}
	closedir(d);
	/* A pidfd turns readable when its process exits (zombie or gone). */
	for (size_t i = 0; i < n; i++) {
		struct pollfd p = { .fd = fds[i], .events = POLLIN };

		poll(&p, 1, 5000);
		close(fds[i]);
	}
	return (int)n;
}
