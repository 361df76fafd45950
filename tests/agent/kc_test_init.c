/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A static multi-call helper that runs inside test containers and prints
 * what the agent tests check (as crun's tests/init.c does).  One command
 * per run, argv[1]; output is one line unless said otherwise:
 *
 *   status            the Cap*, NoNewPrivs and Seccomp lines of /proc/self/status
 *   ids               uid=U gid=G groups=A,B
 *   rlimit NAME       soft hard (NOFILE, NPROC, CORE, STACK)
 *   umask             the umask in octal
 *   hostname          nodename domainname
 *   mkdir PATH        ok, or errno=N
 *   write PATH        ok, or errno=N (creates or truncates PATH)
 *   read PATH         the file's content, or errno=N
 *   ls DIR            the entries of DIR, sorted, space-separated, or errno=N
 *   mounts            "destination fstype options" for each mount
 *   bigout MIB        MIB MiB of the test pattern (see pattern_byte)
 *   tty               tty or notty (stdin), then the window size "rows cols"
 *   tty-on-input      reads one byte of stdin, then prints as tty does
 *   ttyname           ttyname(0), then "same" when that path here is the
 *                     very terminal on fd 0 (same device) or "other", then
 *                     "ctty" when /dev/tty opens (a controlling terminal)
 *   pid               the pid
 *   shm KEY           creates a SysV shared memory segment of KEY (decimal)
 *                     in the ipc namespace: its id, or errno=N
 *   exit N            exits with status N
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

/* The tests compute the same bytes. */
static unsigned char pattern_byte(unsigned long i)
{
	return (unsigned char)((i * 7u) ^ (i >> 12));
}

static int fail_errno(void)
{
	printf("errno=%d\n", errno);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int do_tty(void)
{
	struct winsize ws = { 0 };

	printf("%s\n", isatty(0) ? "tty" : "notty");
	if (ioctl(0, TIOCGWINSZ, &ws) < 0)
		return fail_errno();
	printf("%u %u\n", ws.ws_row, ws.ws_col);
	return 0;
}

static int do_ttyname(void)
{
	const char *name = ttyname(0);
	struct stat fd0, path;
	int t;

	if (!name)
		return fail_errno();
	if (fstat(0, &fd0) < 0 || stat(name, &path) < 0)
		return fail_errno();
	t = open("/dev/tty", O_RDWR | O_NOCTTY);
	printf("%s %s %s\n", name,
	       S_ISCHR(path.st_mode) && path.st_rdev == fd0.st_rdev ? "same" : "other",
	       t >= 0 ? "ctty" : "noctty");
	if (t >= 0)
		close(t);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	const char *arg = argc > 2 ? argv[2] : "";

	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	if (strcmp(cmd, "status") == 0) {
		char line[512];
		FILE *f = fopen("/proc/self/status", "r");

		if (!f)
			return fail_errno();
		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "Cap", 3) == 0 || strncmp(line, "NoNewPrivs", 10) == 0 ||
			    strncmp(line, "Seccomp:", 8) == 0)
				fputs(line, stdout);
		fclose(f);
	} else if (strcmp(cmd, "ids") == 0) {
		gid_t g[64];
		int n = getgroups(64, g);

		printf("uid=%d gid=%d groups=", (int)getuid(), (int)getgid());
		for (int i = 0; i < n; i++)
			printf("%s%d", i ? "," : "", (int)g[i]);
		printf("\n");
	} else if (strcmp(cmd, "rlimit") == 0) {
		static const struct {
			const char *name;
			int r;
		} rl[] = { { "NOFILE", RLIMIT_NOFILE },
			   { "NPROC", RLIMIT_NPROC },
			   { "CORE", RLIMIT_CORE },
			   { "STACK", RLIMIT_STACK } };
		struct rlimit lim;

		for (size_t i = 0; i < sizeof(rl) / sizeof(rl[0]); i++)
			if (strcmp(rl[i].name, arg) == 0) {
				if (getrlimit(rl[i].r, &lim) < 0)
					return fail_errno();
				printf("%llu %llu\n", (unsigned long long)lim.rlim_cur,
				       (unsigned long long)lim.rlim_max);
				return 0;
			}
		return 2;
	} else if (strcmp(cmd, "umask") == 0) {
		mode_t m = umask(0);

		printf("%04o\n", (unsigned)m);
	} else if (strcmp(cmd, "shm") == 0) {
		int id = shmget((key_t)atoi(arg), 4096, IPC_CREAT | 0600);

		if (id < 0)
			return fail_errno();
		printf("%d\n", id);
	} else if (strcmp(cmd, "hostname") == 0) {
		struct utsname u;

		uname(&u);
		printf("%s %s\n", u.nodename, u.domainname);
	} else if (strcmp(cmd, "mkdir") == 0) {
		if (mkdir(arg, 0755) < 0)
			return fail_errno();
		printf("ok\n");
	} else if (strcmp(cmd, "write") == 0) {
		int fd = open(arg, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0 || write(fd, "x", 1) != 1)
			return fail_errno();
		close(fd);
		printf("ok\n");
	} else if (strcmp(cmd, "read") == 0) {
		char buf[4096];
		ssize_t n;
		int fd = open(arg, O_RDONLY);

		if (fd < 0)
			return fail_errno();
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			fwrite(buf, 1, (size_t)n, stdout);
		if (n < 0)
			return fail_errno();
		close(fd);
	} else if (strcmp(cmd, "ls") == 0) {
		char *names[1024];
		size_t n = 0;
		struct dirent *e;
		DIR *d = opendir(arg);

		if (!d)
			return fail_errno();
		while ((e = readdir(d)) && n < 1024)
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				names[n++] = strdup(e->d_name);
		closedir(d);
		qsort(names, n, sizeof(char *), cmp);
		for (size_t i = 0; i < n; i++)
			printf("%s%s", i ? " " : "", names[i]);
		printf("\n");
	} else if (strcmp(cmd, "mounts") == 0) {
		char line[4096];
		FILE *f = fopen("/proc/self/mountinfo", "r");

		if (!f)
			return fail_errno();
		/* id parent maj:min root mountpoint options ... - type source superopts */
		while (fgets(line, sizeof(line), f)) {
			char mp[1024], opts[512], type[64], *dash = strstr(line, " - ");

			if (!dash || sscanf(line, "%*s %*s %*s %*s %1023s %511s", mp, opts) != 2 ||
			    sscanf(dash + 3, "%63s", type) != 1)
				continue;
			printf("%s %s %s\n", mp, type, opts);
		}
		fclose(f);
	} else if (strcmp(cmd, "bigout") == 0) {
		unsigned long total = strtoul(arg, NULL, 10) << 20;
		unsigned char buf[1 << 16];

		for (unsigned long off = 0; off < total; off += sizeof(buf)) {
			for (size_t i = 0; i < sizeof(buf); i++)
				buf[i] = pattern_byte(off + i);
			if (fwrite(buf, 1, sizeof(buf), stdout) != sizeof(buf))
				return 1;
		}
	} else if (strcmp(cmd, "tty") == 0) {
		return do_tty();
	} else if (strcmp(cmd, "ttyname") == 0) {
		return do_ttyname();
	} else if (strcmp(cmd, "tty-on-input") == 0) {
		char c;

		if (read(0, &c, 1) != 1)
			return fail_errno();
		return do_tty();
	} else if (strcmp(cmd, "pid") == 0) {
		printf("%d\n", (int)getpid());
	} else if (strcmp(cmd, "exit") == 0) {
		return atoi(arg);
	} else {
		fprintf(stderr, "kc-test-init: unknown command `%s`\n", cmd);
		return 2;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
