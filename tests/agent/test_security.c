/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a container may see and do, checked from inside by kc-test-init:
 * readonly rootfs and paths, masked paths, capabilities, no_new_privileges,
 * seccomp (and disable_guest_seccomp), rlimits, user and groups, umask,
 * hostname, sysctls, mounts, devices, hooks and a user namespace.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "lib/util.h"

#define PROC_MOUNT "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"}"
#define TMP_MOUNT "{\"destination\":\"/tmp\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}"

/* Runs kc-test-init with args (a JSON list without the brackets). */
static char *run_init(const char *id, const char *args, const char *proc, const char *lnx,
		      const char *top, int *status)
{
	cleanup_free char *a = kc_xasprintf("[\"kc-test-init\",%s]", args);
	cleanup_free char *s = h_spec(a, proc, lnx, top);

	return h_run_output(id, s, status);
}

static void test_readonly_rootfs_real(void **state)
{
	cleanup_free char *a = NULL, *b = NULL;
	cleanup_free char *s = kc_xasprintf(
		"{\"process\":{\"args\":[\"sh\",\"-c\",\"kc-test-init write /newfile; "
		"kc-test-init write /tmp/ok\"],\"env\":[\"PATH=/bin\"],\"cwd\":\"/\"},"
		"\"root\":{\"path\":\"%s\",\"readonly\":true},\"mounts\":[" TMP_MOUNT "],"
		"\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"}]}}",
		h.rootfs);
	int status;

	(void)state;
	a = h_run_output("c-ro", s, &status);
	assert_string_equal(a, "errno=30\nok\n");
	assert_int_equal(status, 0);
	b = h_path("rootfs/newfile");
	assert_int_equal(access(b, F_OK), -1);
	h_check_clean();
}

static void test_masked_and_readonly_paths(void **state)
{
	cleanup_free char *f = h_path("rootfs/etc/secret");
	cleanup_free char *d = h_path("rootfs/etc/secretdir");
	cleanup_free char *df = h_path("rootfs/etc/secretdir/inner");
	cleanup_free char *out = NULL;
	cleanup_free char *s = NULL;
	int status;

	(void)state;
	ah_write_mode(f, "s3cret\n", 0644);
	assert_int_equal(mkdir(d, 0755), 0);
	ah_write_mode(df, "inner\n", 0644);
	s = h_spec("[\"sh\",\"-c\",\"kc-test-init read /etc/secret; echo .; "
		   "kc-test-init ls /etc/secretdir; kc-test-init write /etc/secretdir/x; "
		   "kc-test-init write /etc/new; kc-test-init write /tmp/fine\"]",
		   NULL,
		   ",\"maskedPaths\":[\"/etc/secret\",\"/etc/secretdir\",\"/no/such\"],"
		   "\"readonlyPaths\":[\"/etc\",\"/absent\"]",
		   ",\"mounts\":[" TMP_MOUNT "]");
	out = h_run_output("c-mask", s, &status);
	assert_string_equal(out, ".\n\nerrno=30\nerrno=30\nok\n");
	assert_int_equal(status, 0);
	h_check_clean();
}

static void test_capabilities(void **state)
{
	cleanup_free char *out = NULL, *out2 = NULL, *out3 = NULL, *out4 = NULL;
	int status;

	(void)state;
	out = run_init("c-caps", "\"status\"",
		       ",\"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_KILL\"],"
		       "\"effective\":[\"CAP_CHOWN\",\"CAP_KILL\"],"
		       "\"permitted\":[\"CAP_CHOWN\",\"CAP_KILL\"],\"inheritable\":[],"
		       "\"ambient\":[]}",
		       NULL, ",\"mounts\":[" PROC_MOUNT "]", &status);
	assert_int_equal(status, 0);
	assert_non_null(strstr(out, "CapInh:\t0000000000000000\n"));
	assert_non_null(strstr(out, "CapPrm:\t0000000000000021\n"));
	assert_non_null(strstr(out, "CapEff:\t0000000000000021\n"));
	assert_non_null(strstr(out, "CapBnd:\t0000000000000021\n"));
	assert_non_null(strstr(out, "CapAmb:\t0000000000000000\n"));
	assert_non_null(strstr(out, "NoNewPrivs:\t0\n"));

	/* A non-root user keeps an ambient capability across exec. */
	out2 = run_init("c-ambient", "\"status\"",
			",\"user\":{\"uid\":1000,\"gid\":1000},\"noNewPrivileges\":true,"
			"\"capabilities\":{\"bounding\":[\"CAP_KILL\"],\"effective\":[\"CAP_KILL\"],"
			"\"permitted\":[\"CAP_KILL\"],\"inheritable\":[\"CAP_KILL\"],"
			"\"ambient\":[\"CAP_KILL\"]}",
			NULL, ",\"mounts\":[" PROC_MOUNT "]", &status);
	assert_int_equal(status, 0);
	assert_non_null(strstr(out2, "CapEff:\t0000000000000020\n"));
	assert_non_null(strstr(out2, "CapAmb:\t0000000000000020\n"));
	assert_non_null(strstr(out2, "CapBnd:\t0000000000000020\n"));
	assert_non_null(strstr(out2, "NoNewPrivs:\t1\n"));

	/* An ambient capability outside the inheritable set cannot be held:
	 * left out, as runc does, and the container still runs. */
	out4 = run_init("c-ambient-no-inh", "\"status\"",
			",\"user\":{\"uid\":1000,\"gid\":1000},"
			"\"capabilities\":{\"bounding\":[\"CAP_KILL\"],\"effective\":[\"CAP_KILL\"],"
			"\"permitted\":[\"CAP_KILL\"],\"ambient\":[\"CAP_KILL\"]}",
			NULL, ",\"mounts\":[" PROC_MOUNT "]", &status);
	assert_int_equal(status, 0);
	assert_non_null(strstr(out4, "CapAmb:\t0000000000000000\n"));
	/* ... and a non-root process keeps nothing across exec without it. */
	assert_non_null(strstr(out4, "CapPrm:\t0000000000000000\n"));

	/* Without a user change and without the capabilities member, the
	 * process keeps what the agent has. */
	out3 = run_init("c-allcaps", "\"status\"", NULL, NULL, ",\"mounts\":[" PROC_MOUNT "]",
			&status);
	assert_null(strstr(out3, "CapEff:\t0000000000000000\n"));
	h_check_clean();
}

/* The line of /proc/PID/status that starts with key, with its newline. */
static char *status_line(pid_t pid, const char *key)
{
	cleanup_free char *path = kc_xasprintf("/proc/%d/status", (int)pid);
	cleanup_free char *buf = NULL;
	size_t len;
	char *l, *e;

	assert_int_equal(kc_read_file(path, 1 << 16, &buf, &len, NULL), 0);
	l = strstr(buf, key);
	assert_non_null(l);
	e = strchr(l, '\n');
	assert_non_null(e);
	return kc_xasprintf("%.*s", (int)(e - l + 1), l);
}

/*
 * An exec whose process leaves out capabilities, noNewPrivileges and
 * rlimits gets the container's (as runc's exec does), not the agent's
 * full set: what it sees in /proc/self/status is what the container's
 * init has.
 */
static void test_exec_inherits_container(void **state)
{
	cleanup_free char *s = h_spec(
		"[\"sleep\",\"1012\"]",
		",\"noNewPrivileges\":true,"
		"\"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_KILL\"],"
		"\"effective\":[\"CAP_CHOWN\",\"CAP_KILL\"],"
		"\"permitted\":[\"CAP_CHOWN\",\"CAP_KILL\"]},"
		"\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":123,\"hard\":456}]",
		NULL, ",\"mounts\":[" PROC_MOUNT "]");
	cleanup_free char *out = NULL, *lim = NULL, *own_out = NULL;
	static const char *const keys[] = { "CapInh:", "CapPrm:", "CapEff:",
					    "CapBnd:", "CapAmb:", "NoNewPrivs:" };
	pid_t init;

	(void)state;
	h_run("c-exec-inh", s);
	init = ah_find_process("sleep", "1012");
	assert_true(init > 0);
	assert_int_equal(h_exec("c-exec-inh", "e-st",
				"{\"args\":[\"kc-test-init\",\"status\"],\"cwd\":\"/\"}", NULL),
			 0);
	out = h_read_all("c-exec-inh", "e-st", false, NULL);
	assert_int_equal(h_wait_status("c-exec-inh", "e-st"), 0);
	for (size_t i = 0; i < KC_ARRAY_SIZE(keys); i++) {
		cleanup_free char *want = status_line(init, keys[i]);

		if (!strstr(out, want)) {
			print_message("# exec's %s differs from the init's %s# the exec's:\n%s",
				      keys[i], want, out);
			fail();
		}
	}
	assert_non_null(strstr(out, "CapEff:\t0000000000000021\n"));
	assert_non_null(strstr(out, "NoNewPrivs:\t1\n"));
	assert_int_equal(h_exec("c-exec-inh", "e-lim",
				"{\"args\":[\"kc-test-init\",\"rlimit\",\"NOFILE\"],\"cwd\":\"/\"}",
				NULL),
			 0);
	lim = h_read_all("c-exec-inh", "e-lim", false, NULL);
	assert_string_equal(lim, "123 456\n");
	assert_int_equal(h_wait_status("c-exec-inh", "e-lim"), 0);
	/* What the exec's process does give is its own: an explicit false and
	 * a narrower set. */
	assert_int_equal(
		h_exec("c-exec-inh", "e-own",
		       "{\"args\":[\"kc-test-init\",\"status\"],\"cwd\":\"/\","
		       "\"noNewPrivileges\":false,\"capabilities\":{\"bounding\":[\"CAP_KILL\"],"
		       "\"effective\":[\"CAP_KILL\"],\"permitted\":[\"CAP_KILL\"]}}",
		       NULL),
		0);
	own_out = h_read_all("c-exec-inh", "e-own", false, NULL);
	assert_int_equal(h_wait_status("c-exec-inh", "e-own"), 0);
	assert_non_null(strstr(own_out, "CapEff:\t0000000000000020\n"));
	assert_non_null(strstr(own_out, "CapBnd:\t0000000000000020\n"));
	/* The exec is the agent's child, not the init's: false leaves the
	 * flag unset. */
	assert_non_null(strstr(own_out, "NoNewPrivs:\t0\n"));
	assert_int_equal(h_remove("c-exec-inh", 0), 0);
	h_check_clean();
}

static void test_seccomp(void **state)
{
	cleanup_free char *out = NULL;
	int status;

	(void)state;
	out = run_init("c-seccomp", "\"mkdir\",\"/tmp/d\"", NULL,
		       ",\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
		       "\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\"],"
		       "\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\",\"no_such_syscall\"],"
		       "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1}]}",
		       ",\"mounts\":[" TMP_MOUNT "]", &status);
	assert_string_equal(out, "errno=1\n");
	assert_int_equal(status, 0);
	h_check_clean();
}

static void test_rlimits_user_umask(void **state)
{
	cleanup_free char *out = NULL;
	cleanup_free char *s = h_spec(
		"[\"sh\",\"-c\",\"kc-test-init rlimit NOFILE; kc-test-init ids; "
		"kc-test-init umask\"]",
		",\"user\":{\"uid\":1000,\"gid\":1001,\"additionalGids\":[10,20],\"umask\":23},"
		"\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":100,\"hard\":200}]",
		NULL, NULL);
	int status;

	(void)state;
	out = h_run_output("c-ids", s, &status);
	assert_string_equal(out, "100 200\nuid=1000 gid=1001 groups=10,20\n0027\n");
	assert_int_equal(status, 0);
	h_check_clean();
}

static void test_hostname_sysctl(void **state)
{
	cleanup_free char *out = NULL;
	cleanup_free char *s = h_spec(
		"[\"sh\",\"-c\",\"kc-test-init hostname; kc-test-init read /proc/sys/kernel/msgmax; "
		"echo 1 2> /dev/null > /proc/sys/kernel/msgmax || echo read-only\"]",
		NULL,
		/* containerd's default readonlyPaths: the sysctls are written
		 * before /proc/sys becomes read-only, as runc does. */
		",\"sysctl\":{\"kernel.msgmax\":\"4321\"},\"readonlyPaths\":[\"/proc/sys\"]",
		",\"hostname\":\"kc-host\",\"domainname\":\"kc-domain\",\"mounts\":[" PROC_MOUNT
		"]");
	int status;

	(void)state;
	out = h_run_output("c-uts", s, &status);
	assert_string_equal(out, "kc-host kc-domain\n4321\nread-only\n");
	assert_int_equal(status, 0);
	h_check_clean();
}

static void test_mounts_and_devices(void **state)
{
	cleanup_free char *hostdir = h_path("shared");
	cleanup_free char *hostfile = h_path("shared/f");
	cleanup_free char *out = NULL, *s = NULL, *lnx = NULL;
	int status;

	(void)state;
	assert_int_equal(mkdir(hostdir, 0755), 0);
	ah_write_mode(hostfile, "from the host\n", 0644);
	s = kc_xasprintf(
		",\"mounts\":[" PROC_MOUNT ","
		"{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
		"\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
		"{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\","
		"\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\"]},"
		"{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\"},"
		"{\"destination\":\"/mnt/t\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
		"\"options\":[\"nosuid\",\"nodev\",\"size=1m\"]},"
		"{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"%s\","
		"\"options\":[\"rbind\",\"ro\",\"rprivate\"]},"
		"{\"destination\":\"/etc/one-file\",\"type\":\"bind\",\"source\":\"%s\","
		"\"options\":[\"bind\"]}]",
		hostdir, hostfile);
	lnx = kc_xstrdup(",\"devices\":[{\"path\":\"/dev/kc-null\",\"type\":\"c\",\"major\":1,"
			 "\"minor\":3,\"fileMode\":438}]");
	{
		cleanup_free char *spec = h_spec(
			"[\"sh\",\"-c\",\"kc-test-init ls /dev; kc-test-init read /data/f; "
			"kc-test-init write /data/g; kc-test-init read /etc/one-file; "
			"echo hi > /dev/kc-null && echo null-ok; kc-test-init write /mnt/t/x; "
			"kc-test-init mounts\"]",
			NULL, lnx, s);

		out = h_run_output("c-mounts", spec, &status);
	}
	assert_int_equal(status, 0);
	assert_int_equal(
		strncmp(out,
			"fd full kc-null mqueue null ptmx pts random stderr stdin stdout "
			"tty urandom zero\nfrom the host\nerrno=30\nfrom the host\nnull-ok\nok\n",
			strlen("fd full kc-null mqueue null ptmx pts random stderr stdin "
			       "stdout tty urandom zero\nfrom the host\nerrno=30\nfrom the "
			       "host\nnull-ok\nok\n")),
		0);
	assert_non_null(strstr(out, "\n/data "));
	assert_non_null(strstr(out, "\n/mnt/t tmpfs rw,nosuid,nodev"));
	assert_non_null(strstr(out, "\n/dev/pts devpts rw,nosuid,noexec"));
	assert_non_null(strstr(out, "\n/dev/mqueue mqueue "));
	h_check_clean();
}

static void test_hooks(void **state)
{
	cleanup_free char *cr = h_path("hook-create-runtime.json");
	cleanup_free char *cc = h_path("hook-create-container.json");
	cleanup_free char *ps = h_path("hook-poststart.json");
	cleanup_free char *pst = h_path("hook-poststop.json");
	cleanup_free char *top = kc_xasprintf(
		",\"mounts\":[" TMP_MOUNT "],\"annotations\":{\"kc.test\":\"yes\"},\"hooks\":{"
		"\"createRuntime\":[{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",\"cat > %s\"]}],"
		"\"createContainer\":[{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",\"cat > %s\"]}],"
		"\"startContainer\":[{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\","
		"\"cat > /tmp/started\"],\"env\":[\"PATH=/bin\"]}],"
		"\"poststart\":[{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",\"cat > %s\"],"
		"\"timeout\":10}],"
		"\"poststop\":[{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",\"cat > %s\"]}]}",
		cr, cc, ps, pst);
	cleanup_free char *spec = h_spec("[\"kc-test-init\",\"read\",\"/tmp/started\"]", NULL, NULL,
					 top);
	cleanup_free char *out = NULL, *b1 = NULL, *b2 = NULL, *b3 = NULL, *b4 = NULL;
	size_t len;
	int status;

	(void)state;
	out = h_run_output("c-hooks", spec, &status);
	assert_int_equal(status, 0);
	assert_non_null(strstr(out, "\"id\":\"c-hooks\""));
	assert_non_null(strstr(out, "\"status\":\"created\""));
	assert_int_equal(kc_read_file(cr, 65536, &b1, &len, NULL), 0);
	assert_non_null(strstr(b1, "\"status\":\"creating\""));
	assert_non_null(strstr(b1, "\"kc.test\":\"yes\""));
	assert_non_null(strstr(b1, "\"pid\":"));
	assert_int_equal(kc_read_file(cc, 65536, &b2, &len, NULL), 0);
	assert_non_null(strstr(b2, "\"id\":\"c-hooks\""));
	assert_int_equal(kc_read_file(ps, 65536, &b3, &len, NULL), 0);
	assert_non_null(strstr(b3, "\"status\":\"running\""));
	assert_int_equal(kc_read_file(pst, 65536, &b4, &len, NULL), 0);
	assert_non_null(strstr(b4, "\"status\":\"stopped\""));
	h_check_clean();
}

static void test_user_namespace(void **state)
{
	static const char lnx[] =
		"\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"user\"},"
		"{\"type\":\"ipc\"},{\"type\":\"uts\"}],"
		"\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
		"\"gidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}]";
	static const char top[] = ",\"mounts\":[" PROC_MOUNT ",{\"destination\":\"/dev\","
				  "\"type\":\"tmpfs\",\"source\":\"tmpfs\"}]";
	cleanup_free char *out = NULL, *eout = NULL;
	cleanup_free char *s = h_spec(
		"[\"sh\",\"-c\",\"kc-test-init ids; kc-test-init read /proc/self/uid_map\"]", NULL,
		lnx, top);
	cleanup_free char *s2 = h_spec("[\"sleep\",\"1016\"]", NULL, lnx, top);
	unsigned a, b, c;
	int status;

	(void)state;
	out = h_run_output("c-userns", s, &status);
	assert_int_equal(status, 0);
	assert_int_equal(strncmp(out, "uid=0 gid=0 groups=\n", 20), 0);
	assert_int_equal(sscanf(out + 20, "%u %u %u", &a, &b, &c), 3);
	assert_int_equal(a, 0);
	assert_int_equal(b, 100000);
	assert_int_equal(c, 65536);

	/* An exec joins the user namespace too, as its own user. */
	h_run("c-userns2", s2);
	assert_int_equal(h_exec("c-userns2", "e1",
				"{\"args\":[\"kc-test-init\",\"ids\"],\"user\":{\"uid\":5,"
				"\"gid\":6},\"cwd\":\"/\"}",
				NULL),
			 0);
	eout = h_read_all("c-userns2", "e1", false, NULL);
	assert_string_equal(eout, "uid=5 gid=6 groups=\n");
	assert_int_equal(h_wait_status("c-userns2", "e1"), 0);
	assert_int_equal(h_remove("c-userns2", 0), 0);
	assert_false(ah_process_running("sleep", "1016"));
	h_check_clean();
}

/* A network namespace joined by path (one a helper process holds), and a
 * cgroup namespace of the container's own. */
static void test_join_netns_cgroupns(void **state)
{
	int pfd[2];
	char c;
	pid_t holder;
	cleanup_free char *lnx = NULL, *spec = NULL, *out = NULL;
	int status;

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	holder = fork();
	assert_true(holder >= 0);
	if (holder == 0) {
		close(pfd[0]);
		if (unshare(CLONE_NEWNET) < 0)
			_exit(1);
		if (write(pfd[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &c, 1), 1);
	close(pfd[0]);
	lnx = kc_xasprintf("\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},"
			   "{\"type\":\"network\",\"path\":\"/proc/%d/ns/net\"},"
			   "{\"type\":\"cgroup\"}]",
			   (int)holder);
	spec = h_spec("[\"sh\",\"-c\",\"kc-test-init read /proc/self/net/dev; "
		      "kc-test-init read /proc/self/cgroup\"]",
		      NULL, lnx, ",\"mounts\":[" PROC_MOUNT "]");
	out = h_run_output("c-netns", spec, &status);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	assert_int_equal(status, 0);
	/* Only the loopback of the new namespace, none of the host's. */
	assert_non_null(strstr(out, "lo:"));
	assert_null(strstr(out, "eth0:"));
	assert_non_null(strstr(out, ":/\n"));
	h_check_clean();
}

/* Last: the sandbox is recreated with disable_guest_seccomp and a
 * guest_hook_path (Kata's guest hooks). */
static void test_sandbox_options(void **state)
{
	Grpc__DestroySandboxRequest d = GRPC__DESTROY_SANDBOX_REQUEST__INIT;
	Grpc__CreateSandboxRequest c = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	cleanup_free char *hooks = h_path("guest-hooks");
	cleanup_free char *pre = h_path("guest-hooks/prestart");
	cleanup_free char *hook = h_path("guest-hooks/prestart/10-mark");
	cleanup_free char *mark = h_path("guest-hook.out");
	cleanup_free char *script = kc_xasprintf("#!/bin/sh\ncat > %s\necho \"$1\" >> %s\n", mark,
						 mark);
	cleanup_free char *out = NULL, *got = NULL;
	size_t len;
	int status;

	(void)state;
	assert_int_equal(mkdir(hooks, 0755), 0);
	assert_int_equal(mkdir(pre, 0755), 0);
	ah_write_mode(hook, script, 0755);
	assert_int_equal(ah_call0(H, "DestroySandbox", &d.base), 0);
	c.sandbox_id = (char *)"sb-no-seccomp";
	c.guest_hook_path = (char *)"relative/hooks";
	assert_int_equal(ah_call0(H, "CreateSandbox", &c.base), 3);
	c.guest_hook_path = hooks;
	c.disable_guest_seccomp = true;
	assert_int_equal(ah_call0(H, "CreateSandbox", &c.base), 0);
	out = run_init("c-noseccomp", "\"mkdir\",\"/tmp/d\"", NULL,
		       ",\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
		       "[\"mkdir\",\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1}]}",
		       ",\"mounts\":[" TMP_MOUNT "]", &status);
	assert_string_equal(out, "ok\n");
	/* The guest hook ran with the state on stdin, then its kind. */
	assert_int_equal(kc_read_file(mark, 65536, &got, &len, NULL), 0);
	assert_non_null(strstr(got, "\"id\":\"c-noseccomp\""));
	assert_non_null(strstr(got, "}prestart\n"));
	h_check_clean();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readonly_rootfs_real),
		cmocka_unit_test(test_masked_and_readonly_paths),
		cmocka_unit_test(test_capabilities),
		cmocka_unit_test(test_exec_inherits_container),
		cmocka_unit_test(test_seccomp),
		cmocka_unit_test(test_rlimits_user_umask),
		cmocka_unit_test(test_hostname_sysctl),
		cmocka_unit_test(test_mounts_and_devices),
		cmocka_unit_test(test_hooks),
		cmocka_unit_test(test_user_namespace),
		cmocka_unit_test(test_join_netns_cgroupns),
		cmocka_unit_test(test_sandbox_options),
	};

	h_filter_from_env();
	return cmocka_run_group_tests(tests, h_setup, h_teardown);
}
