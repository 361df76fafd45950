/* SPDX-License-Identifier: Apache-2.0 */
/* The debug console's server in the guest (console.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "console.h"
#include "lib/console_proto.h"
#include "lib/log.h"
#include "lib/util.h"
#include "ttrpc/transport.h"

/* How often a missing port is looked for. */
#define FIND_RETRY_NS (500 * 1000000ull)
/* How long a hangup must last to end the session (see hup_check()). */
#define HANGUP_CHECK_NS (300 * 1000000ull)
/* Output queued for the host above this stops the reading of the
 * session's output; input queued for the session above this stops the
 * reading of the port. */
#define QUEUE_HIGH (64u * 1024)
/* What a session that ended may still say: read after its shell exited. */
#define DRAIN_MAX (1u << 20)

/*
 * The port stays open from the first open to the agent's end: closing it
 * would drop what the next host sent meanwhile (the guest's driver discards
 * a closed port's input), and QEMU drops one client and accepts the next
 * between two polls, so that a hangup is not always seen.  Sessions are
 * therefore told apart by OPEN: whatever the state, an OPEN starts a new
 * one.  A virtio port without a host polls as HUP forever: the watch is
 * edge-triggered, and each event reads and writes until EAGAIN.
 */
enum state {
	ST_IDLE, /* no session: waiting for an OPEN */
	ST_RUNNING, /* a shell runs */
};

struct stream {
	int fd;
	struct kc_loop_watch *w;
	enum kc_console_type type; /* STDOUT or STDERR for outputs */
};

struct kc_agent_console {
	struct kc_loop *loop;
	char *ports_dir, *port;
	int fd;
	struct kc_loop_watch *watch;
	struct kc_loop_timer timer;
	struct kc_loop_timer hup_timer;
	struct kc_loop_defer resume; /* reading the port again, after backpressure */
	bool read_stalled; /* stopped reading the port: to_child is full */
	bool missing_logged;
	enum state state;
	struct kc_console_buf in, out; /* from the host, to the host */
	struct kc_console_buf to_child;
	bool eof_pending; /* EOF from the host: close stdin once to_child drained */
	bool tty;
	pid_t pid;
	struct stream child_in, child_out, child_err; /* tty: in and out are the master */
};

static void port_event(struct kc_loop_watch *w, int fd, uint32_t events, void *data);
static void stream_event(struct kc_loop_watch *w, int fd, uint32_t events, void *data);
static void update_watches(struct kc_agent_console *c);

static void stream_close(struct stream *s)
{
	if (s->w)
		kc_loop_watch_remove(s->w);
	s->w = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

static void queue_frame(struct kc_agent_console *c, enum kc_console_type type, const void *p,
			size_t len)
{
	uint8_t frame[KC_CONSOLE_MAX_FRAME];

	kc_console_buf_append(&c->out, frame, kc_console_encode(frame, type, p, len));
}

static void queue_u32(struct kc_agent_console *c, enum kc_console_type type, uint32_t v)
{
	uint8_t frame[KC_CONSOLE_HDR + 4];

	kc_console_buf_append(&c->out, frame, kc_console_encode_u32(frame, type, v));
}

/* The session's processes and fds go; its shell is reaped as any orphan. */
static void end_session(struct kc_agent_console *c)
{
	if (c->pid > 0) {
		kill(-c->pid, SIGKILL);
		kill(c->pid, SIGKILL);
		kc_info("debug console: session of process %d ended by the host", (int)c->pid);
	}
	c->pid = 0;
	stream_close(&c->child_in);
	stream_close(&c->child_out);
	stream_close(&c->child_err);
	kc_console_buf_free(&c->to_child);
	c->eof_pending = false;
}

static void open_port(void *data)
{
	struct kc_agent_console *c = data;
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *dev = NULL;
	int fd = -1;

	if (kc_ttrpc_serial_find(c->ports_dir, c->port, &dev, &err) == 0) {
		fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			kc_error_set(&err, errno, "open `%s`", dev);
	}
	if (fd >= 0 && kc_loop_watch_fd(c->loop, fd, EPOLLIN | EPOLLOUT | EPOLLET, port_event, c,
					&c->watch, &err) < 0) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		if (!c->missing_logged)
			kc_warn("debug console: %s; trying again", err->msg);
		c->missing_logged = true;
		kc_loop_timer_start(c->loop, &c->timer, kc_monotonic_ns() + FIND_RETRY_NS);
		return;
	}
	kc_info("debug console: serving port %s (%s)", c->port, dev);
	c->missing_logged = false;
	c->fd = fd;
	c->state = ST_IDLE;
}

static const char *find_shell(void)
{
	static const char *const shells[] = { "/bin/sh", "/bin/busybox" };

	for (size_t i = 0; i < KC_ARRAY_SIZE(shells); i++)
		if (access(shells[i], X_OK) == 0)
			return shells[i];
	return NULL;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* The child: its own session, on the pty's slave (which becomes its
 * controlling terminal) or on the pipes; never returns. */
static void child_exec(const char *shell, const char *command, int tty_slave, int pin[2],
		       int pout[2], int perr[2])
{
	char *const envp[] = { (char *)"PATH=/bin:/sbin:/usr/bin:/usr/sbin", (char *)"HOME=/",
			       (char *)"TERM=vt220", (char *)"PS1=[debug console] \\w # ", NULL };
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (setsid() < 0)
		_exit(127);
	if (tty_slave >= 0) {
		if (ioctl(tty_slave, TIOCSCTTY, 0) < 0)
			_exit(127);
		dup2(tty_slave, 0);
		dup2(tty_slave, 1);
		dup2(tty_slave, 2);
	} else {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
	}
	/* Everything else of the agent is close-on-exec. */
	if (chdir("/") < 0)
		_exit(127);
	if (command)
		execle(shell, "sh", "-c", command, (char *)NULL, envp);
	else
		execle(shell, "sh", (char *)NULL, envp);
	_exit(127);
}

static int pipe_pair(int p[2], kc_error_t *err)
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return kc_error_set(err, errno, "pipe");
	return 0;
}

static void close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0)
			close(p[i]);
	p[0] = p[1] = -1;
}

/* Starts the session OPEN asks for; its fds go to c. */
static int spawn(struct kc_agent_console *c, const struct kc_console_msg *m, kc_error_t *err)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	cleanup_free char *command = NULL;
	cleanup_close int master = -1, slave = -1;
	const char *shell = find_shell();
	int ret = 0;
	pid_t pid;

	if (!shell)
		return kc_error_set(err, ENOENT,
				    "the guest has no shell (/bin/sh, /bin/busybox): "
				    "boot it with the debug console's initrd "
				    "(debug_console_enabled = true)");
	if (m->len > 5)
		command = kc_xstrndup((const char *)m->payload + 5, m->len - 5);
	c->tty = m->flags & KC_CONSOLE_OPEN_TTY;
	if (c->tty) {
		struct winsize ws = { .ws_row = m->rows, .ws_col = m->cols };
		char name[64];

		master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
		if (master < 0)
			return kc_error_set(err, errno, "open `/dev/ptmx`");
		if (unlockpt(master) < 0 || ptsname_r(master, name, sizeof(name)) != 0)
			return kc_error_set(err, errno, "unlock the pty");
		slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (slave < 0)
			return kc_error_set(err, errno, "open the pty `%s`", name);
		if (ioctl(master, TIOCSWINSZ, &ws) < 0)
			return kc_error_set(err, errno, "set the pty's window size");
	} else if ((ret = pipe_pair(pin, err)) < 0 || (ret = pipe_pair(pout, err)) < 0 ||
		   (ret = pipe_pair(perr, err)) < 0) {
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		ret = kc_error_set(err, errno, "fork");
		goto out;
	}
	if (pid == 0)
		child_exec(shell, command, slave, pin, pout, perr);
	c->pid = pid;
	if (c->tty) {
		c->child_in.fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
		c->child_out.fd = kc_steal_fd(&master);
	} else {
		c->child_in.fd = kc_steal_fd(&pin[1]);
		c->child_out.fd = kc_steal_fd(&pout[0]);
		c->child_err.fd = kc_steal_fd(&perr[0]);
		set_nonblock(c->child_in.fd);
		set_nonblock(c->child_out.fd);
		set_nonblock(c->child_err.fd);
	}
	c->child_out.type = KC_CONSOLE_STDOUT;
	c->child_err.type = KC_CONSOLE_STDERR;
	if (c->child_in.fd < 0 ||
	    kc_loop_watch_fd(c->loop, c->child_in.fd, 0, stream_event, c, &c->child_in.w, err) < 0 ||
	    kc_loop_watch_fd(c->loop, c->child_out.fd, EPOLLIN, stream_event, c, &c->child_out.w,
			     err) < 0 ||
	    (c->child_err.fd >= 0 && kc_loop_watch_fd(c->loop, c->child_err.fd, EPOLLIN,
						      stream_event, c, &c->child_err.w, err) < 0)) {
		if (!(err && *err))
			kc_error_set(err, errno, "dup the pty");
		end_session(c);
		ret = -EIO;
		goto out;
	}
	kc_info("debug console: %s%s on %s (process %d)", command ? "sh -c " : "a shell",
		command ? command : "", c->tty ? "a pty" : "pipes", (int)pid);
out:
	close_pair(pin);
	close_pair(pout);
	close_pair(perr);
	return ret;
}

/* Output of the session, as frames for the host; false at its end (EOF,
 * or EIO: a pty whose every slave closed). */
static bool read_stream(struct kc_agent_console *c, struct stream *s, size_t budget)
{
	uint8_t buf[KC_CONSOLE_MAX_PAYLOAD];
	size_t total = 0;

	while (total < budget) {
		ssize_t n = read(s->fd, buf, sizeof(buf));

		if (n > 0) {
			queue_frame(c, s->type, buf, (size_t)n);
			total += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN;
	}
	return true;
}

static void write_child(struct kc_agent_console *c)
{
	while (c->to_child.len && c->child_in.fd >= 0) {
		ssize_t n = write(c->child_in.fd, c->to_child.data, c->to_child.len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			/* The shell closed its input: what it did not take is lost. */
			kc_console_buf_free(&c->to_child);
			break;
		}
		kc_console_buf_consume(&c->to_child, (size_t)n);
	}
	if (!c->to_child.len && c->eof_pending && c->child_in.fd >= 0) {
		c->eof_pending = false;
		if (c->tty) {
			/* A terminal has no end of input: its EOF character is
			 * what a shell reads as one (at the start of a line). */
			struct termios t;
			char eof = 4;

			if (tcgetattr(c->child_in.fd, &t) == 0)
				eof = (char)t.c_cc[VEOF];
			if (write(c->child_in.fd, &eof, 1) < 0)
				kc_debug("debug console: EOF to the pty: %s", strerror(errno));
		} else {
			stream_close(&c->child_in);
		}
	}
}

static void flush_port(struct kc_agent_console *c)
{
	while (c->out.len && c->fd >= 0) {
		ssize_t n = write(c->fd, c->out.data, c->out.len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN)
				kc_debug("debug console: write to the port: %s", strerror(errno));
			break;
		}
		kc_console_buf_consume(&c->out, (size_t)n);
	}
}

static void update_watches(struct kc_agent_console *c)
{
	bool out_room = c->out.len < QUEUE_HIGH;

	/* The port's reading stopped for a full to_child: it goes on once
	 * that drained (an edge-triggered watch says nothing again). */
	if (c->read_stalled && c->to_child.len < QUEUE_HIGH && c->fd >= 0)
		kc_loop_defer_queue(c->loop, &c->resume);
	if (c->child_in.w)
		kc_loop_watch_set_events(c->child_in.w, c->to_child.len ? EPOLLOUT : 0, NULL);
	if (c->child_out.w)
		kc_loop_watch_set_events(c->child_out.w, out_room ? EPOLLIN : 0, NULL);
	if (c->child_err.w)
		kc_loop_watch_set_events(c->child_err.w, out_room ? EPOLLIN : 0, NULL);
}

/* A frame broke the protocol: the host is told why, the session ends. */
static void fail_session(struct kc_agent_console *c, const char *why)
{
	kc_warn("debug console: %s", why);
	end_session(c);
	queue_frame(c, KC_CONSOLE_ERROR, why, strnlen(why, KC_CONSOLE_MAX_PAYLOAD));
	c->state = ST_IDLE;
}

static void handle_frame(struct kc_agent_console *c, const struct kc_console_msg *m)
{
	cleanup_error kc_error_t err = NULL;

	if (m->type == KC_CONSOLE_OPEN) {
		/* A new host (the last one may have left unseen): whatever ran
		 * was the last host's. */
		if (c->state == ST_RUNNING)
			kc_debug("debug console: OPEN of a new host");
		end_session(c);
		kc_console_buf_free(&c->out);
		if (spawn(c, m, &err) < 0) {
			fail_session(c, err->msg);
			return;
		}
		queue_u32(c, KC_CONSOLE_STARTED, (uint32_t)c->pid);
		c->state = ST_RUNNING;
		return;
	}
	/* A session's leftovers, once it ended, or a host that did not
	 * start with OPEN: nothing to apply them to. */
	if (c->state != ST_RUNNING) {
		kc_debug("debug console: %s without a session, ignored",
			 kc_console_type_name(m->type));
		return;
	}
	switch (m->type) {
	case KC_CONSOLE_STDIN:
		if (!c->eof_pending && c->child_in.fd >= 0)
			kc_console_buf_append(&c->to_child, m->payload, m->len);
		break;
	case KC_CONSOLE_EOF:
		c->eof_pending = true;
		break;
	case KC_CONSOLE_RESIZE:
		if (c->tty && c->child_out.fd >= 0) {
			struct winsize ws = { .ws_row = m->rows, .ws_col = m->cols };

			/* The pty sends SIGWINCH to its foreground group. */
			if (ioctl(c->child_out.fd, TIOCSWINSZ, &ws) < 0)
				kc_debug("debug console: resize: %s", strerror(errno));
		}
		break;
	default:
		break;
	}
	write_child(c);
}

/* The host left (a virtio port reads 0 without one): its session ends. */
static void host_gone(struct kc_agent_console *c)
{
	if (c->state == ST_RUNNING || c->in.len || c->out.len)
		kc_debug("debug console: the host hung up");
	end_session(c);
	c->state = ST_IDLE;
	kc_console_buf_free(&c->in);
	kc_console_buf_free(&c->out);
}

/* Reads what the host sent, until EAGAIN or a full to_child. */
static void read_port(struct kc_agent_console *c)
{
	uint8_t buf[4096];

	c->read_stalled = false;
	while (c->fd >= 0) {
		ssize_t n;

		if (c->to_child.len >= QUEUE_HIGH) {
			c->read_stalled = true;
			return;
		}
		n = read(c->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			/* Not at once: hup_check() tells. */
			if (!kc_loop_timer_armed(&c->hup_timer))
				kc_loop_timer_start(c->loop, &c->hup_timer,
						    kc_monotonic_ns() + HANGUP_CHECK_NS);
			return;
		}
		kc_console_buf_append(&c->in, buf, (size_t)n);
		for (;;) {
			cleanup_error kc_error_t err = NULL;
			struct kc_console_msg m;
			int r = kc_console_parse(c->in.data, c->in.len, true, &m, &err);

			if (r == 0)
				break;
			if (r < 0) {
				/* No frame boundary to find again: what came is
				 * dropped; an OPEN may start afresh. */
				fail_session(c, err->msg);
				kc_console_buf_free(&c->in);
				break;
			}
			handle_frame(c, &m);
			kc_console_buf_consume(&c->in, (size_t)r);
		}
	}
}

static void serve_port(struct kc_agent_console *c);

/*
 * The port read 0: no host is connected, now.  That may be stale: the
 * guest learns of hosts coming and going by control messages that its
 * driver handles apart from the data, so the last host's hangup can be
 * seen after the next host's OPEN, and end the new session.  A hangup
 * counts only if the port still has no host a moment later.
 */
static void hup_check(void *data)
{
	struct kc_agent_console *c = data;
	struct pollfd p = { .fd = c->fd, .events = POLLOUT };

	if (c->fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLHUP))
		host_gone(c);
	serve_port(c);
}

static void serve_port(struct kc_agent_console *c)
{
	read_port(c);
	flush_port(c);
	update_watches(c);
}

static void resume_port(void *data)
{
	serve_port(data);
}

static void port_event(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	(void)w;
	(void)fd;
	(void)events;
	serve_port(data);
}

static void stream_event(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	struct kc_agent_console *c = data;

	(void)fd;
	(void)events;
	if (w == c->child_in.w) {
		write_child(c);
	} else {
		struct stream *s = w == c->child_out.w ? &c->child_out : &c->child_err;

		/* Its end (EOF; EIO: a pty none of whose slaves is open):
		 * nothing more to read; the shell's exit ends the session. */
		if (!read_stream(c, s, QUEUE_HIGH)) {
			if (s == &c->child_out && c->tty)
				stream_close(&c->child_in);
			stream_close(s);
		}
	}
	flush_port(c);
	update_watches(c);
}

bool kc_agent_console_reaped(struct kc_agent_console *c, pid_t pid, int wstatus)
{
	uint32_t status;

	if (!c || pid <= 0 || pid != c->pid)
		return false;
	status = WIFSIGNALED(wstatus) ? 128u + (uint32_t)WTERMSIG(wstatus)
				      : (uint32_t)WEXITSTATUS(wstatus);
	/* What the shell wrote before it exited is still to be read. */
	if (c->child_out.fd >= 0)
		read_stream(c, &c->child_out, DRAIN_MAX);
	if (c->child_err.fd >= 0)
		read_stream(c, &c->child_err, DRAIN_MAX);
	kc_info("debug console: process %d exited with status %u", (int)pid, status);
	c->pid = 0;
	end_session(c);
	queue_u32(c, KC_CONSOLE_EXIT, status);
	c->state = ST_IDLE;
	flush_port(c);
	update_watches(c);
	return true;
}

int kc_agent_console_start(struct kc_loop *loop, const char *ports_dir, const char *port,
			   struct kc_agent_console **out, kc_error_t *err)
{
	struct kc_agent_console *c = kc_xzalloc(sizeof(*c));

	(void)err;
	c->loop = loop;
	c->ports_dir = kc_xstrdup(ports_dir);
	c->port = kc_xstrdup(port);
	c->fd = -1;
	c->child_in.fd = c->child_out.fd = c->child_err.fd = -1;
	kc_loop_timer_init(&c->timer, open_port, c);
	kc_loop_defer_init(&c->resume, resume_port, c);
	kc_loop_timer_init(&c->hup_timer, hup_check, c);
	if (!find_shell())
		kc_warn("debug console: the image has no shell (/bin/sh, /bin/busybox): every "
			"session will fail; boot the debug console's initrd");
	open_port(c);
	*out = c;
	return 0;
}

void kc_agent_console_free(struct kc_agent_console *c)
{
	if (!c)
		return;
	end_session(c);
	if (c->watch)
		kc_loop_watch_remove(c->watch);
	if (c->fd >= 0)
		close(c->fd);
	kc_loop_timer_stop(c->loop, &c->timer);
	kc_loop_defer_cancel(c->loop, &c->resume);
	kc_loop_timer_stop(c->loop, &c->hup_timer);
	kc_console_buf_free(&c->in);
	kc_console_buf_free(&c->out);
	free(c->ports_dir);
	free(c->port);
	free(c);
}
