/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_LOG_H
#define KC_LOG_H

/*
 * Logging in Kata's logfmt style, one record a line:
 *
 *   time=2026-11-24T19:56:41.123456789Z level=info msg="VM started" \
 *     source=runtime name=containerd-shim-v2 pid=4242 sandbox=abc
 *
 * Level names are logrus's (Kata's): error, warning, info, debug.
 * Records go to stderr until kc_log_open_file() or kc_log_set_fd().
 */

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

enum kc_log_level {
	KC_LOG_ERROR = 0,
	KC_LOG_WARNING,
	KC_LOG_INFO,
	KC_LOG_DEBUG,
};

/* name: the program ("containerd-shim-v2", "kata-runtime", "kata-agent");
 * source: the layer ("runtime", "agent", "virtcontainers").  Both strings
 * must outlive the logger (string literals in practice). */
void kc_log_init(const char *name, const char *source);
void kc_log_set_level(enum kc_log_level level);
enum kc_log_level kc_log_get_level(void);
int kc_log_parse_level(const char *s, enum kc_log_level *out, kc_error_t *err);
const char *kc_log_level_name(enum kc_log_level level);

/* Appends to path (created 0640); the previous destination is closed. */
int kc_log_open_file(const char *path, kc_error_t *err);
/* Logs to fd, which the logger does not own; -1 goes back to stderr. */
void kc_log_set_fd(int fd);

/* A field added to every record after `pid=` (e.g. sandbox=<id>); the
 * value is copied.  NULL removes it. */
void kc_log_set_field(const char *key, const char *value);

static inline bool kc_log_enabled(enum kc_log_level level)
{
	return level <= kc_log_get_level();
}

void kc_log(enum kc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Logs an error and frees it, in one call: "CONTEXT: MESSAGE" (only the
 * message when fmt is NULL).  *err may be NULL (nothing is logged); it is
 * NULL afterwards.  For the places that report a failure and go on:
 *
 *     if (kc_thing(..., &err) < 0)
 *             kc_log_error_free(KC_LOG_WARNING, &err, "container %s", id);
 */
void kc_log_error_free(enum kc_log_level level, kc_error_t *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One record with extra key/value pairs: kc_log_kv(level, msg, "k1", v1, ..., NULL). */
void kc_log_kv(enum kc_log_level level, const char *msg, ...) __attribute__((sentinel));

/* Appends `value` to *buf quoted as logfmt requires (used by kc_log). */
void kc_logfmt_append_value(char **buf, size_t *len, size_t *cap, const char *value);

/* kc_log_error() logs; kc_error_t (error.h) is an error. */
#define kc_log_error(...) kc_log(KC_LOG_ERROR, __VA_ARGS__)
#define kc_warn(...) kc_log(KC_LOG_WARNING, __VA_ARGS__)
#define kc_info(...) kc_log(KC_LOG_INFO, __VA_ARGS__)
#define kc_debug(...) \
	do { \
		if (kc_log_enabled(KC_LOG_DEBUG)) \
			kc_log(KC_LOG_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
