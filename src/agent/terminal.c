// SPDX-License-Identifier: Apache-2.0
/* A process's terminal: a pty pair whose master the agent keeps (stdin and
 * stdout of the process, through WriteStdin/ReadStdout) and whose slave
 * becomes the process's controlling terminal. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "container.h"
#include "lib/util.h"

int kc_tty_resize(int master, unsigned rows, unsigned cols, kc_error_t *err)
{
	struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };

	if (rows > 65535 || cols > 65535)
		return kc_error_set(err, EINVAL, "window size %ux%u is too large", rows, cols);
	if (ioctl(master, TIOCSWINSZ, &ws) < 0)
		return kc_error_set(err, errno, "set the window size");
	return 0;
}

int kc_tty_new(const struct kc_oci_process *p, int *master, char **slave, kc_error_t *err)
{
	cleanup_close int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	char name[128];
	int ret;

	if (m < 0)
		return kc_error_set(err, errno, "open /dev/ptmx");
	if (unlockpt(m) < 0)
		return kc_error_set(err, errno, "unlockpt");
	if (ptsname_r(m, name, sizeof(name)) != 0)
		return kc_error_set(err, errno, "ptsname");
	if (p->has_console_size) {
		ret = kc_tty_resize(m, p->console_height, p->console_width, err);
		if (ret < 0)
			return ret;
	}
	fcntl(m, F_SETFL, O_NONBLOCK);
	*slave = kc_xstrdup(name);
	*master = kc_steal_fd(&m);
	return 0;
}

int kc_tty_child_attach(const char *slave, kc_error_t *err)
{
	int fd;

	if (setsid() < 0)
		return kc_error_set(err, errno, "setsid");
	fd = open(slave, O_RDWR | O_NOCTTY);
	if (fd < 0)
		return kc_error_set(err, errno, "open the terminal `%s`", slave);
	if (ioctl(fd, TIOCSCTTY, 0) < 0) {
		close(fd);
		return kc_error_set(err, errno, "make `%s` the controlling terminal", slave);
	}
	if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
		close(fd);
		return kc_error_set(err, errno, "dup2 the terminal");
	}
	if (fd > 2)
		close(fd);
	return 0;
}
