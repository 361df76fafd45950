/* SPDX-License-Identifier: Apache-2.0 */
/* Network namespace files: open and check them, enter and leave them. */
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "lib/log.h"
#include "lib/util.h"

int kc_netns_open(const char *path, int *out, kc_error_t *err)
{
	cleanup_close int fd = -1;
	struct stat st, self;
	int type;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kc_error_set(err, errno, "open network namespace `%s`", path);
	/* A stale /var/run/netns entry is an empty file, not a namespace. */
	type = ioctl(fd, NS_GET_NSTYPE);
	if (type < 0 && (errno == ENOTTY || errno == EINVAL))
		return kc_error_set(err, EINVAL, "`%s` is not a namespace", path);
	if (type < 0)
		return kc_error_set(err, errno, "NS_GET_NSTYPE on `%s`", path);
	if (type != CLONE_NEWNET)
		return kc_error_set(err, EINVAL, "`%s` is not a network namespace", path);
	/* Connecting the host's own interfaces to a VM would take them
	 * from the host: refuse instead of trusting the spec. */
	if (fstat(fd, &st) < 0)
		return kc_error_set(err, errno, "stat `%s`", path);
	if (stat("/proc/thread-self/ns/net", &self) < 0)
		return kc_error_set(err, errno, "stat `/proc/thread-self/ns/net`");
	if (st.st_dev == self.st_dev && st.st_ino == self.st_ino)
		return kc_error_set(err, EINVAL,
				    "`%s` is the runtime's own network namespace, not a pod's",
				    path);
	*out = kc_steal_fd(&fd);
	return 0;
}

int kc_netns_enter(int nsfd, const char *path, int *saved, kc_error_t *err)
{
	cleanup_close int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

	if (self < 0)
		return kc_error_set(err, errno, "open `/proc/thread-self/ns/net`");
	if (setns(nsfd, CLONE_NEWNET) < 0)
		return kc_error_set(err, errno, "enter network namespace `%s`", path);
	*saved = kc_steal_fd(&self);
	return 0;
}

void kc_netns_leave(int *saved)
{
	if (*saved < 0)
		return;
	if (setns(*saved, CLONE_NEWNET) < 0) {
		kc_log_error("return to the runtime's network namespace: setns: %m");
		abort();
	}
	close(*saved);
	*saved = -1;
}

int kc_podnet_enter(const struct kc_podnet *net, int *saved, kc_error_t *err)
{
	if (!net->netns_path || net->netns_fd < 0)
		return kc_error_set(err, EINVAL, "the pod has no network namespace");
	return kc_netns_enter(net->netns_fd, net->netns_path, saved, err);
}

void kc_podnet_leave(int *saved)
{
	kc_netns_leave(saved);
}
