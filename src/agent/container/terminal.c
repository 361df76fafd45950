/* SPDX-License-Identifier: Apache-2.0 */
/* A process's terminal, made as runc and crun make it: the child, once in
 * the container's mount namespace and root, opens the container's own
 * /dev/ptmx (its devpts instance), makes the slave its controlling terminal
 * and sends the master to the agent (container.c), which keeps it as the
 * process's stdin and stdout (WriteStdin/ReadStdout).  A pty from the
 * agent's devpts would be a terminal the container cannot name: ttyname()
 * inside finds no /dev/pts entry for it, or another pty's. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "container.h"
#include "lib/util.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

int kc_tty_resize(int master, unsigned rows, unsigned cols, kc_error_t *err)
{
	struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };

	if (rows > 65535 || cols > 65535)
		return kc_error_set(err, EINVAL, "window size %ux%u is too large", rows, cols);
	if (ioctl(master, TIOCSWINSZ, &ws) < 0)
		return kc_error_set(err, errno, "set the window size");
	return 0;
}

int kc_tty_child_open(const struct kc_oci_process *p, kc_error_t *err)
{
	cleanup_close int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	cleanup_close int s = -1;
	char name[128];
	int ret;

	if (m < 0)
		return kc_error_set(err, errno, "open the container's /dev/ptmx");
	if (unlockpt(m) < 0)
		return kc_error_set(err, errno, "unlockpt the container's /dev/ptmx");
	/* The peer of this very master, whatever /dev/pts names; by path on
	 * kernels before 4.13. */
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0) {
		if (ptsname_r(m, name, sizeof(name)) != 0)
			return kc_error_set(err, errno, "ptsname of the container's /dev/ptmx");
		s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (s < 0)
			return kc_error_set(err, errno, "open the terminal `%s`", name);
	}
	if (p->has_console_size) {
		ret = kc_tty_resize(m, p->console_height, p->console_width, err);
		if (ret < 0)
			return ret;
	}
	/* The caller made a new session: the slave becomes its terminal. */
	if (ioctl(s, TIOCSCTTY, 0) < 0)
		return kc_error_set(err, errno, "make the pty the controlling terminal");
	if (dup2(s, 0) < 0 || dup2(s, 1) < 0 || dup2(s, 2) < 0)
		return kc_error_set(err, errno, "dup2 the terminal onto stdio");
	return kc_steal_fd(&m);
}
