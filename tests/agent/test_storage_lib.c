/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage.c's own API, for the container code: a rootfs bound from the
 * share into place.  The test process mounts in a mount namespace of its
 * own, so nothing it does is seen outside.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/storage/storage.h"
#include "lib/util.h"

static char dir[] = "/tmp/kc-guest-boot-slib-XXXXXX";

static bool mounted(const char *path)
{
	cleanup_free char *buf = NULL;
	size_t len;
	bool found = false;

	assert_int_equal(kc_read_file("/proc/self/mountinfo", 1 << 20, &buf, &len, NULL), 0);
	for (char *line = strtok(buf, "\n"); line && !found; line = strtok(NULL, "\n")) {
		char mp[4096];

		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && strcmp(mp, path) == 0)
			found = true;
	}
	return found;
}

static void test_bind_rootfs(void **state)
{
	struct kc_agent_storages s;
	cleanup_free char *root = kc_xasprintf("%s/run", dir);
	cleanup_free char *src = kc_xasprintf("%s/shared/containers/c1/rootfs", root);
	cleanup_free char *dst = kc_xasprintf("%s/c1/rootfs", root);
	cleanup_free char *marker = kc_xasprintf("%s/marker", src);
	cleanup_free char *seen = kc_xasprintf("%s/marker", dst);
	cleanup_free char *escape = kc_xasprintf("%s/../../etc", root);
	cleanup_free char *other = kc_xasprintf("%s/c1/other", root);
	cleanup_free char *cmd = kc_xasprintf("mkdir -p '%s' && touch '%s'", src, marker);
	kc_error_t err = NULL;
	struct stat st;
	int fd;

	(void)state;
	assert_int_equal(system(cmd), 0);
	kc_agent_storages_init(&s, root);
	assert_int_equal(kc_agent_storages_bind(&s, "c1", src, dst, true, &err), 0);
	assert_true(mounted(dst));
	assert_int_equal(stat(seen, &st), 0);
	fd = open(seen, O_WRONLY | O_CLOEXEC);
	assert_int_equal(fd, -1);
	assert_int_equal(errno, EROFS);
	assert_int_equal(kc_agent_storages_count(&s), 1);
	/* The same rules as any bind storage; a failed bind leaves the
	 * owner's other storages alone. */
	assert_true(kc_agent_storages_bind(&s, "c1", escape, other, false, &err) < 0);
	assert_non_null(strstr(err->msg, "`..` escapes"));
	kc_error_free(&err);
	assert_true(kc_agent_storages_bind(&s, "c1", src, "/etc/kc-guest-boot", false, &err) < 0);
	assert_non_null(strstr(err->msg, "/etc/kc-guest-boot"));
	kc_error_free(&err);
	assert_true(kc_agent_storages_bind(&s, "c2", src, dst, false, &err) < 0);
	assert_non_null(strstr(err->msg, "already used"));
	kc_error_free(&err);
	assert_true(mounted(dst));
	assert_int_equal(stat(other, &st), -1);
	kc_agent_storages_release(&s, "c1");
	assert_false(mounted(dst));
	assert_int_equal(stat(dst, &st), -1);
	assert_int_equal(kc_agent_storages_count(&s), 0);
	kc_agent_storages_fini(&s);
}

/*
 * A subPath of the pod's emptyDir: the sub directories a bind names under
 * an ephemeral storage its container holds are made, with the volume's
 * mode, beneath it only.
 */
static void test_make_subdir(void **state)
{
	struct kc_agent_storages s;
	cleanup_free char *root = kc_xasprintf("%s/run2", dir);
	cleanup_free char *vol = kc_xasprintf("%s/sandbox/ephemeral/cache", root);
	cleanup_free char *sub = kc_xasprintf("%s/sub/dir", vol);
	cleanup_free char *mid = kc_xasprintf("%s/sub", vol);
	cleanup_free char *outside = kc_xasprintf("%s/outside", dir);
	cleanup_free char *link = kc_xasprintf("%s/link", vol);
	cleanup_free char *via_link = kc_xasprintf("%s/link/x", vol);
	cleanup_free char *dotdot = kc_xasprintf("%s/../x", vol);
	cleanup_free char *other = kc_xasprintf("%s/other/x", root);
	cleanup_free char *escaped = kc_xasprintf("%s/x", outside);
	Grpc__Storage st = GRPC__STORAGE__INIT;
	Grpc__Storage *ptr = &st;
	char *opts[] = { (char *)"mode=0750" };
	kc_error_t err = NULL;
	struct stat sb;

	(void)state;
	st.driver = (char *)"ephemeral";
	st.source = (char *)"tmpfs";
	st.fstype = (char *)"tmpfs";
	st.mount_point = vol;
	st.options = opts;
	st.n_options = 1;
	st.shared = true;
	assert_int_equal(mkdir(outside, 0755), 0);
	kc_agent_storages_init(&s, root);
	assert_int_equal(kc_agent_storages_add(&s, "c1", &ptr, 1, &err), 0);
	assert_true(mounted(vol));
	/* Another container's volume, or a path under none: nothing made. */
	assert_int_equal(kc_agent_storages_make_subdir(&s, "c2", sub, &err), 0);
	assert_int_equal(stat(mid, &sb), -1);
	assert_int_equal(kc_agent_storages_make_subdir(&s, "c1", other, &err), 0);
	assert_int_equal(stat(other, &sb), -1);
	/* Nested, each level with the volume's mode whatever the umask. */
	umask(077);
	assert_int_equal(kc_agent_storages_make_subdir(&s, "c1", sub, &err), 0);
	umask(022);
	assert_int_equal(stat(mid, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0750);
	assert_int_equal(stat(sub, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0750);
	/* Again: it is there, nothing to do. */
	assert_int_equal(kc_agent_storages_make_subdir(&s, "c1", sub, &err), 0);
	/* Neither a symlink nor ".." leaves the volume. */
	assert_int_equal(symlink(outside, link), 0);
	assert_true(kc_agent_storages_make_subdir(&s, "c1", via_link, &err) < 0);
	assert_non_null(strstr(err->msg, via_link));
	kc_error_free(&err);
	assert_int_equal(stat(escaped, &sb), -1);
	assert_true(kc_agent_storages_make_subdir(&s, "c1", dotdot, &err) < 0);
	assert_non_null(strstr(err->msg, "`..` escapes"));
	kc_error_free(&err);
	/* The pod's volume, with what was made in it, stays after its
	 * container and goes with the sandbox. */
	kc_agent_storages_release(&s, "c1");
	assert_true(mounted(vol));
	kc_agent_storages_clear(&s);
	assert_false(mounted(vol));
	assert_int_equal(kc_agent_storages_count(&s), 0);
	kc_agent_storages_fini(&s);
}

static int setup(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "the storage tests mount: run them as root\n");
		return -1;
	}
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	cleanup_free char *cmd = kc_xasprintf("rm -rf '%s'", dir);

	(void)state;
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bind_rootfs),
		cmocka_unit_test(test_make_subdir),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
