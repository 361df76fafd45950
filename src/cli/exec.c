/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kata-runtime exec: Kata's debug console, a shell in a sandbox's VM.
 *
 *   kata-runtime exec [--config FILE] [--timeout SECONDS] SANDBOX-ID [COMMAND...]
 *
 * Needs [agent.kata] debug_console_enabled = true when the sandbox started:
 * the VM then has the console's port, whose socket is console.sock in the
 * VM's run dir (/run/vc/vm/ID), and a shell (docs/debug-console.md).
 * Without COMMAND and with a terminal on stdin: an interactive shell, the
 * terminal in raw mode (restored on every way out), window size changes
 * passed on; the shell's exit status is ours.  With COMMAND: `sh -c` of it
 * on pipes, its stdout and stderr apart; one argument is a shell command
 * line, several are the words of one command (each quoted for sh).
 * Exit status: the shell's, or 1 when there is no session (the error says
 * why), 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "cli/commands.h"
#include "lib/config.h"
#include "lib/console_proto.h"
#include "lib/log.h"
#include "lib/util.h"
#include "sandbox/sandbox.h"
#include "sandbox/state.h"

#define PROG "kata-runtime exec"
#define DEFAULT_TIMEOUT_S 10
/* Input queued for the guest above this stops the reading of stdin. */
#define QUEUE_HIGH (64u * 1024)

/* The terminal as it was, restored however we leave (raw mode). */
static struct termios saved_tty;
static bool tty_raw;

static void restore_tty(void)
{
	if (tty_raw)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_tty);
	tty_raw = false;
}

static void fatal_signal(int sig)
{
	restore_tty();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int make_raw(kc_error_t *err)
{
	struct termios t;

	if (tcgetattr(STDIN_FILENO, &saved_tty) < 0)
		return kc_error_set(err, errno, "terminal attributes of stdin");
	t = saved_tty;
	cfmakeraw(&t);
	tty_raw = true;
	atexit(restore_tty);
	/* Signals that end us without our loop seeing them. */
	signal(SIGSEGV, fatal_signal);
	signal(SIGBUS, fatal_signal);
	signal(SIGABRT, fatal_signal);
	if (tcsetattr(STDIN_FILENO, TCSADRAIN, &t) < 0) {
		tty_raw = false;
		return kc_error_set(err, errno, "raw mode on the terminal");
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kata-runtime exec [--config FILE] [--timeout SECONDS] SANDBOX-ID "
		"[COMMAND...]\n"
		"A shell in the sandbox's VM, through its debug console ([agent.kata]\n"
		"debug_console_enabled = true).  Without COMMAND: an interactive shell\n"
		"(a terminal when stdin is one); with COMMAND: `sh -c COMMAND` (one\n"
		"argument: a shell command line; several: the words of one command).\n"
		"Exits with the shell's status.\n"
		"  --timeout SECONDS   how long the console may take to answer (default %d)\n"
		"  --vm-run-root DIR   where the VMs' run dirs are (default " KC_VM_RUN_DIR ";\n"
		"                      tests)\n",
		DEFAULT_TIMEOUT_S);
}

/* 'word' with every ' as '\'' : one word for sh, whatever it holds. */
static char *sh_quote_join(char **words, int n)
{
	char *out = kc_xstrdup("");

	for (int i = 0; i < n; i++) {
		size_t len = strlen(out), add = 3;
		char *o;

		for (const char *p = words[i]; *p; p++)
			add += *p == '\'' ? 4 : 1;
		out = kc_xrealloc(out, len + add + 1);
		o = out + len;
		if (i)
			*o++ = ' ';
		*o++ = '\'';
		for (const char *p = words[i]; *p; p++) {
			if (*p == '\'') {
				memcpy(o, "'\\''", 4);
				o += 4;
			} else {
				*o++ = *p;
			}
		}
		*o++ = '\'';
		*o = '\0';
	}
	return out;
}

struct session {
	const char *id;
	int sock;
	bool tty;
	struct kc_console_buf in, out; /* from the guest, to the guest */
	bool started;
	bool stdin_open;
	int status; /* the shell's, -1 until EXIT */
};

static void send_frame(struct session *s, const uint8_t *frame, size_t len)
{
	kc_console_buf_append(&s->out, frame, len);
}

static void send_resize(struct session *s)
{
	struct winsize ws;
	uint8_t frame[KC_CONSOLE_HDR + 4];

	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 || !ws.ws_row || !ws.ws_col)
		return;
	send_frame(s, frame, kc_console_encode_size(frame, KC_CONSOLE_RESIZE, ws.ws_row, ws.ws_col));
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The frames the guest sent: 1 when its session is over (EXIT), 0 for
 * more, negative with *err set (ERROR, or a frame that breaks the rules). */
static int handle_input(struct session *s, kc_error_t *err)
{
	for (;;) {
		struct kc_console_msg m;
		int r = kc_console_parse(s->in.data, s->in.len, false, &m, err);

		if (r <= 0)
			return r;
		switch (m.type) {
		case KC_CONSOLE_STARTED:
			if (s->started)
				return kc_error_set_status(err, EPROTO,
							   "debug console: STARTED twice");
			s->started = true;
			kc_debug("sandbox %s: debug console: process %u", s->id, m.value);
			break;
		case KC_CONSOLE_STDOUT:
		case KC_CONSOLE_STDERR:
			if (!s->started)
				return kc_error_set_status(err, EPROTO,
							   "debug console: output before STARTED");
			/* Our stdout gone (a pipe closed) is no reason to stop the shell. */
			(void)write_all(m.type == KC_CONSOLE_STDOUT ? STDOUT_FILENO : STDERR_FILENO,
					m.payload, m.len);
			break;
		case KC_CONSOLE_EXIT:
			s->status = (int)(m.value > 255 ? 255 : m.value);
			kc_console_buf_consume(&s->in, (size_t)r);
			return 1;
		case KC_CONSOLE_ERROR:
			return kc_error_set_status(err, EIO, "sandbox %s: debug console: %.*s",
						   s->id, (int)m.len, (const char *)m.payload);
		default:
			break;
		}
		kc_console_buf_consume(&s->in, (size_t)r);
	}
}

/* Relays until the guest's EXIT; 0 with s->status, or negative. */
static int relay(struct session *s, int sigfd, unsigned timeout_s, kc_error_t *err)
{
	uint64_t deadline = kc_monotonic_ns() + (uint64_t)timeout_s * 1000000000ull;

	for (;;) {
		struct pollfd p[3] = {
			{ .fd = s->sock, .events = POLLIN | (s->out.len ? POLLOUT : 0) },
			{ .fd = sigfd, .events = POLLIN },
			{ .fd = s->stdin_open && s->started && s->out.len < QUEUE_HIGH ? STDIN_FILENO
										       : -1,
			  .events = POLLIN },
		};
		int timeout = -1, ret;

		if (!s->started) {
			uint64_t now = kc_monotonic_ns();

			if (now >= deadline)
				return kc_error_set_status(
					err, ETIMEDOUT,
					"sandbox %s: the debug console did not answer "
					"within %u s (is its VM running? is another "
					"client attached to console.sock?)",
					s->id, timeout_s);
			timeout = (int)((deadline - now) / 1000000) + 1;
		}
		if (poll(p, 3, timeout) < 0) {
			if (errno == EINTR)
				continue;
			return kc_error_set(err, errno, "poll");
		}
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGWINCH) {
					if (s->tty)
						send_resize(s);
					continue;
				}
				kc_error_set_status(err, EINTR,
						    "sandbox %s: interrupted by signal %u", s->id,
						    si.ssi_signo);
				return -(128 + (int)si.ssi_signo);
			}
		}
		if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
			uint8_t buf[KC_CONSOLE_MAX_PAYLOAD], frame[KC_CONSOLE_MAX_FRAME];
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

			if (n > 0) {
				send_frame(s, frame,
					   kc_console_encode(frame, KC_CONSOLE_STDIN, buf,
							     (size_t)n));
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				/* A terminal has no end of input to pass on. */
				s->stdin_open = false;
				if (!s->tty)
					send_frame(s, frame,
						   kc_console_encode(frame, KC_CONSOLE_EOF, NULL, 0));
			}
		}
		if (p[0].revents & POLLOUT) {
			ssize_t n = send(s->sock, s->out.data, s->out.len, MSG_NOSIGNAL);

			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return kc_error_set(err, errno, "sandbox %s: debug console: send",
						    s->id);
			if (n > 0)
				kc_console_buf_consume(&s->out, (size_t)n);
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			uint8_t buf[16384];
			ssize_t n = read(s->sock, buf, sizeof(buf));

			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n < 0 && errno != ECONNRESET)
				return kc_error_set(err, errno, "sandbox %s: debug console: read",
						    s->id);
			if (n <= 0)
				return kc_error_set_status(err, ECONNRESET,
							   "sandbox %s: the debug console closed "
							   "before the shell's exit status came (did "
							   "the VM stop?)",
							   s->id);
			kc_console_buf_append(&s->in, buf, (size_t)n);
			ret = handle_input(s, err);
			if (ret != 0)
				return ret < 0 ? ret : 0;
		}
	}
}

static int connect_console(const char *path, const char *id, kc_error_t *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return kc_error_set(err, ENAMETOOLONG, "socket path `%s` is too long", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return kc_error_set(err, errno, "socket");
	/* A unix socket connects at once, or not at all: EAGAIN is a full
	 * backlog (QEMU takes one client; others wait there). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int ret = errno == EAGAIN
				  ? kc_error_set_status(err, EBUSY,
							"sandbox %s: the debug console `%s` is "
							"busy (another client waits for it)",
							id, path)
				  : kc_error_set(err, errno,
						 "sandbox %s: connect to its debug console "
						 "`%s` (is its VM running?)",
						 id, path);

		close(fd);
		return ret;
	}
	return fd;
}

/*
 * The VM run dir of sandbox id: the one its state records
 * (KC_STATE_ROOT/<id>/state.json), refusing a state whose owner is gone;
 * without a state, <root>/<id>.  Freed by the caller.
 */
static char *find_run_dir(const char *root, bool root_given, const char *id, kc_error_t *err)
{
	cleanup_free char *state_dir = kc_xasprintf("%s/%s", KC_STATE_ROOT, id);
	struct kc_sandbox_state st = { 0 };
	char *dir;

	if (root_given || access(state_dir, F_OK) < 0)
		return kc_xasprintf("%s/%s", root, id);
	if (kc_state_read(state_dir, &st, err) < 0)
		return NULL;
	if (!kc_state_owner_alive(state_dir, &st)) {
		kc_error_set_status(err, ESRCH,
				    "sandbox %s: its shim (pid %d) is gone, the state in "
				    "`%s` is stale",
				    id, (int)st.owner_pid, state_dir);
		kc_state_clear(&st);
		return NULL;
	}
	dir = kc_xstrdup(st.run_dir);
	kc_state_clear(&st);
	return dir;
}

/* The session: lock, connect, OPEN, relay.  0 with *status, or negative. */
static int run_session(const char *dir, const char *id, const char *command, unsigned timeout_s,
		       int *status, kc_error_t *err)
{
	cleanup_free char *sock_path = kc_xasprintf("%s/" KC_CONSOLE_SOCKET, dir);
	cleanup_close int dirfd = -1, sigfd = -1;
	struct session s = { .id = id, .sock = -1, .stdin_open = true, .status = -1 };
	uint8_t frame[KC_CONSOLE_MAX_FRAME];
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	struct stat st;
	sigset_t mask;
	int ret;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 && errno == ENOENT)
		return kc_error_set_status(err, ENOENT, "sandbox %s not found (no `%s`)", id, dir);
	if (dirfd < 0)
		return kc_error_set(err, errno, "sandbox %s: `%s`", id, dir);
	if (lstat(sock_path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return kc_error_set_status(err, ENOENT,
					   "debug console is not enabled for sandbox %s: set "
					   "[agent.kata] debug_console_enabled = true (and start the "
					   "sandbox again)",
					   id);
	/* QEMU's chardev serves one client; a second would wait unanswered
	 * in its backlog.  The run dir's lock says who has it. */
	if (flock(dirfd, LOCK_EX | LOCK_NB) < 0)
		return kc_error_set_status(
			err, errno == EWOULDBLOCK ? EBUSY : errno,
			"sandbox %s: the debug console is in use by another `kata-runtime "
			"exec` (it takes one client at a time)",
			id);
	s.tty = !command && isatty(STDIN_FILENO);
	if (s.tty)
		ioctl(STDIN_FILENO, TIOCGWINSZ, &ws);
	if (command && strlen(command) > KC_CONSOLE_MAX_PAYLOAD - 5)
		return kc_error_set_status(err, E2BIG,
					   "the command is %zu bytes, more than the debug "
					   "console takes (%d)",
					   strlen(command), KC_CONSOLE_MAX_PAYLOAD - 5);
	sigemptyset(&mask);
	sigaddset(&mask, SIGWINCH);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	/* A closed stdout is no reason to die with the terminal raw. */
	signal(SIGPIPE, SIG_IGN);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0)
		return kc_error_set(err, errno, "signalfd");
	s.sock = connect_console(sock_path, id, err);
	if (s.sock < 0)
		return s.sock;
	send_frame(&s, frame,
		   kc_console_encode_open(frame, s.tty ? KC_CONSOLE_OPEN_TTY : 0,
					  ws.ws_row ? ws.ws_row : 24, ws.ws_col ? ws.ws_col : 80,
					  command));
	if (s.tty) {
		ret = make_raw(err);
		if (ret < 0)
			goto out;
	}
	ret = relay(&s, sigfd, timeout_s, err);
	if (ret == 0)
		*status = s.status;
out:
	restore_tty();
	close(s.sock);
	kc_console_buf_free(&s.in);
	kc_console_buf_free(&s.out);
	return ret;
}

int kc_cmd_exec(int argc, char **argv, const char *config_path)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "vm-run-root", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *command = NULL, *run_dir = NULL;
	const char *root = KC_VM_RUN_DIR, *id;
	bool root_given = false;
	unsigned long long timeout_s = DEFAULT_TIMEOUT_S;
	struct kc_config_warnings warnings = { 0 };
	struct kc_config cfg = { 0 };
	int status = 1, c, ret;

	opterr = 0;
	/* '+': the command's own options are the command's. */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 't':
			if (!kc_parse_u64(optarg, &timeout_s) || timeout_s == 0 || timeout_s > 3600) {
				fprintf(stderr, PROG ": --timeout `%s`: not 1 to 3600 seconds\n",
					optarg);
				return 2;
			}
			break;
		case 'r':
			root = optarg;
			root_given = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, PROG ": unknown or incomplete option `%s`\n",
				argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, PROG ": no sandbox id given\n");
		usage(stderr);
		return 2;
	}
	id = argv[optind++];
	if (!*id || strchr(id, '/') || strcmp(id, ".") == 0 || strcmp(id, "..") == 0) {
		fprintf(stderr, PROG ": `%s` is not a sandbox id\n", id);
		return 2;
	}
	if (optind < argc)
		command = argc - optind == 1 ? kc_xstrdup(argv[optind])
					     : sh_quote_join(argv + optind, argc - optind);
	/* The configuration only sets logging here: the sandbox runs with the
	 * one it started with, and its run dir tells the rest. */
	ret = kc_cli_load_config(config_path, &cfg, &warnings, &err);
	kc_config_warnings_free(&warnings);
	if (ret == 0)
		kc_config_free(&cfg);
	else if (config_path) {
		kc_error_report("kata-runtime exec", &err);
		return 1;
	} else {
		kc_debug("no configuration (%s): its logging settings are not applied", err->msg);
		kc_error_free(&err);
	}
	run_dir = find_run_dir(root, root_given, id, &err);
	ret = run_dir ? run_session(run_dir, id, command, (unsigned)timeout_s, &status, &err) : -1;
	if (ret < 0) {
		kc_error_report("kata-runtime exec", &err);
		return ret < -128 ? -ret : 1;
	}
	return status;
}
