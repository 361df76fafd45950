/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_ERROR_H
#define KC_ERROR_H

/*
 * The one error convention of kata-c.
 *
 * A function that can fail takes `kc_error_t *err` as its last argument,
 * returns a negative value on failure and fills *err with a message that
 * names the operation and the object, e.g. "open `/run/x`: No such file or
 * directory".  Call sites stay uniform:
 *
 *     ret = do_thing(..., err);
 *     if (ret < 0)
 *             return ret;
 *
 * *err must be NULL on entry; the caller owns the error and frees it with
 * kc_error_free() (or declares it `cleanup_error`).
 */

#include <stdarg.h>

struct kc_error {
	int status; /* errno of the failure, 0 if none applies */
	char *msg;
};
typedef struct kc_error *kc_error_t;

/* Fills *err with the formatted message, followed by ": strerror(errnum)"
 * when errnum is not 0.  Returns -errnum, or -1 when errnum is 0. */
int kc_error_set(kc_error_t *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int kc_error_setv(kc_error_t *err, int errnum, const char *fmt, va_list ap);
/* Like kc_error_set() with errnum's value but without its text: for
 * messages that already say what happened ("exited with status 1"). */
int kc_error_set_status(kc_error_t *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes the message of an existing error with context ("loading X: ...").
 * Returns the same negative value kc_error_set() returned. */
int kc_error_wrap(kc_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The negative value that represents *err (as returned when it was set). */
int kc_error_ret(const kc_error_t *err);

void kc_error_free(kc_error_t *err);

/* Writes "prog: message\n" to stderr and frees the error. */
void kc_error_report(const char *prog, kc_error_t *err);

#define cleanup_error __attribute__((cleanup(kc_error_free)))

#endif
