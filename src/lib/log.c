/* SPDX-License-Identifier: Apache-2.0 */
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {
	[KC_LOG_ERROR] = "error",
	[KC_LOG_WARNING] = "warning",
	[KC_LOG_INFO] = "info",
	[KC_LOG_DEBUG] = "debug",
};

static struct {
	const char *name;
	const char *source;
	enum kc_log_level level;
	int fd; /* -1: stderr */
	bool own_fd; /* opened by kc_log_open_file */
	char *field_key;
	char *field_value;
} logger = { "kata-c", "runtime", KC_LOG_INFO, -1, false, NULL, NULL };

void kc_log_init(const char *name, const char *source)
{
	logger.name = name;
	logger.source = source;
}

void kc_log_set_level(enum kc_log_level level)
{
	logger.level = level;
}

enum kc_log_level kc_log_get_level(void)
{
	return logger.level;
}

const char *kc_log_level_name(enum kc_log_level level)
{
	if ((unsigned)level >= KC_ARRAY_SIZE(level_names))
		return "unknown";
	return level_names[level];
}

int kc_log_parse_level(const char *s, enum kc_log_level *out, kc_error_t *err)
{
	for (size_t i = 0; i < KC_ARRAY_SIZE(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum kc_log_level)i;
			return 0;
		}
	}
	/* logrus also accepts "warn". */
	if (strcmp(s, "warn") == 0) {
		*out = KC_LOG_WARNING;
		return 0;
	}
	return kc_error_set(err, 0,
			    "unknown log level `%s` (expected error, warning, info or debug)", s);
}

static void close_own_fd(void)
{
	if (logger.own_fd && logger.fd >= 0)
		close(logger.fd);
	logger.own_fd = false;
	logger.fd = -1;
}

int kc_log_open_file(const char *path, kc_error_t *err)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return kc_error_set(err, errno, "open log file `%s`", path);
	close_own_fd();
	logger.fd = fd;
	logger.own_fd = true;
	return 0;
}

void kc_log_set_fd(int fd)
{
	close_own_fd();
	logger.fd = fd;
}

void kc_log_set_field(const char *key, const char *value)
{
	free(logger.field_key);
	free(logger.field_value);
	logger.field_key = key && value ? kc_xstrdup(key) : NULL;
	logger.field_value = key && value ? kc_xstrdup(value) : NULL;
}

static void append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		while (*len + n + 1 > *cap)
			*cap = *cap ? *cap * 2 : 256;
		*buf = kc_xrealloc(*buf, *cap);
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
}

static void append_str(char **buf, size_t *len, size_t *cap, const char *s)
{
	append(buf, len, cap, s, strlen(s));
}

static bool needs_quotes(const char *v)
{
	if (*v == '\0')
		return true;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' || *p >= 0x7f)
			return true;
	return false;
}

void kc_logfmt_append_value(char **buf, size_t *len, size_t *cap, const char *value)
{
	if (!needs_quotes(value)) {
		append_str(buf, len, cap, value);
		return;
	}
	append(buf, len, cap, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		char esc[8];
		switch (*p) {
		case '"':
			append(buf, len, cap, "\\\"", 2);
			break;
		case '\\':
			append(buf, len, cap, "\\\\", 2);
			break;
		case '\n':
			append(buf, len, cap, "\\n", 2);
			break;
		case '\t':
			append(buf, len, cap, "\\t", 2);
			break;
		case '\r':
			append(buf, len, cap, "\\r", 2);
			break;
		default:
			if (*p < ' ' || *p == 0x7f) {
				snprintf(esc, sizeof(esc), "\\x%02x", *p);
				append_str(buf, len, cap, esc);
			} else {
				append(buf, len, cap, (const char *)p, 1);
			}
		}
	}
	append(buf, len, cap, "\"", 1);
}

static void append_kv(char **buf, size_t *len, size_t *cap, const char *k, const char *v)
{
	append(buf, len, cap, " ", 1);
	append_str(buf, len, cap, k);
	append(buf, len, cap, "=", 1);
	kc_logfmt_append_value(buf, len, cap, v);
}

static void emit(enum kc_log_level level, const char *msg, va_list *kv)
{
	char *buf = NULL, ts[64], pid[24];
	size_t len = 0, cap = 0;
	struct timespec now;
	struct tm tm;
	int saved_errno = errno;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + strlen(ts), sizeof(ts) - strlen(ts), ".%09ldZ", now.tv_nsec);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());

	append_str(&buf, &len, &cap, "time=");
	append_str(&buf, &len, &cap, ts);
	append_kv(&buf, &len, &cap, "level", kc_log_level_name(level));
	append_kv(&buf, &len, &cap, "msg", msg);
	append_kv(&buf, &len, &cap, "source", logger.source);
	append_kv(&buf, &len, &cap, "name", logger.name);
	append_kv(&buf, &len, &cap, "pid", pid);
	if (logger.field_key)
		append_kv(&buf, &len, &cap, logger.field_key, logger.field_value);
	if (kv) {
		const char *k;
		while ((k = va_arg(*kv, const char *)) != NULL) {
			const char *v = va_arg(*kv, const char *);
			append_kv(&buf, &len, &cap, k, v ? v : "");
		}
	}
	append(&buf, &len, &cap, "\n", 1);

	/* One write per record so that concurrent writers do not interleave. */
	int fd = logger.fd >= 0 ? logger.fd : STDERR_FILENO;
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		p += n;
		len -= (size_t)n;
	}
	free(buf);
	errno = saved_errno;
}

void kc_log(enum kc_log_level level, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (!kc_log_enabled(level))
		return;
	va_start(ap, fmt);
	msg = kc_xvasprintf(fmt, ap);
	va_end(ap);
	emit(level, msg, NULL);
	free(msg);
}

void kc_log_error_free(enum kc_log_level level, kc_error_t *err, const char *fmt, ...)
{
	va_list ap;
	char *ctx;

	if (!*err)
		return;
	if (kc_log_enabled(level)) {
		if (fmt) {
			va_start(ap, fmt);
			ctx = kc_xvasprintf(fmt, ap);
			va_end(ap);
			kc_log(level, "%s: %s", ctx, (*err)->msg);
			free(ctx);
		} else {
			kc_log(level, "%s", (*err)->msg);
		}
	}
	kc_error_free(err);
}

void kc_log_kv(enum kc_log_level level, const char *msg, ...)
{
	va_list ap;

	if (!kc_log_enabled(level))
		return;
	va_start(ap, msg);
	emit(level, msg, &ap);
	va_end(ap);
}
