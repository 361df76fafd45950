/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bare-init.c - bare-VM baseline init for kata-c boot benchmarks.
 *
 * Runs as PID 1 in the guest: writes one line to the console (if there is
 * one), then powers the VM off at once. Benchmarks compare the agent's boot
 * against "the same kernel with a trivial init that powers off at once".
 *
 * Build: gcc -static -Os -o bare-init bare-init.c
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <unistd.h>

#define BARE_INIT_LINE "kata-c bare-init: powering off\n"

static int write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int main(void)
{
	const char *line = BARE_INIT_LINE;
	size_t len = strlen(line);

	/* The kernel opens /dev/console as fds 0-2 before exec'ing init, when
     * the initramfs provides it. Otherwise try devtmpfs. */
	if (write_all(1, line, len) != 0) {
		int fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (fd < 0 && mount("devtmpfs", "/dev", "devtmpfs", 0, NULL) == 0)
			fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0) {
			(void)write_all(fd, line, len);
			close(fd);
		}
	}
	sync();
	reboot(RB_POWER_OFF);
	/* PID 1 must never exit (kernel panic); only reached if reboot failed. */
	for (;;)
		pause();
}
