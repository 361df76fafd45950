/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inotify-watch DIR: prints `moved NAME` for each entry renamed into DIR,
 * as a watcher of a ConfigMap (Envoy, Prometheus) hears kubelet's swap of
 * `..data`.  Built static by tests/e2e/test-cri-volumes.sh and bound into
 * the container (the test image's busybox has no inotifyd).
 */
#include <stdio.h>
#include <sys/inotify.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int fd = inotify_init1(IN_CLOEXEC);
	ssize_t n;

	if (argc != 2 || fd < 0 || inotify_add_watch(fd, argv[1], IN_MOVED_TO) < 0) {
		perror("inotify-watch");
		return 1;
	}
	printf("watching %s\n", argv[1]);
	fflush(stdout);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const void *)p;

			p += sizeof(*e) + e->len;
			if (e->len)
				printf("moved %s\n", e->name);
		}
		fflush(stdout);
	}
	return 0;
}
