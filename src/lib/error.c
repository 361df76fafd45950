/* SPDX-License-Identifier: Apache-2.0 */
#include "error.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kc_error_setv(kc_error_t *err, int errnum, const char *fmt, va_list ap)
{
	char *msg = kc_xvasprintf(fmt, ap);
	struct kc_error *e;

	if (errnum != 0) {
		char *full = kc_xasprintf("%s: %s", msg, strerror(errnum));
		free(msg);
		msg = full;
	}
	if (err == NULL) {
		/* Nobody asked for details: the return value is all that is left. */
		free(msg);
		return errnum ? -errnum : -1;
	}
	/* Overwriting an error would lose the first cause: keep the first. */
	if (*err != NULL) {
		free(msg);
		return kc_error_ret(err);
	}
	e = kc_xmalloc(sizeof(*e));
	e->status = errnum;
	e->msg = msg;
	*err = e;
	return errnum ? -errnum : -1;
}

int kc_error_set(kc_error_t *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = kc_error_setv(err, errnum, fmt, ap);
	va_end(ap);
	return ret;
}

int kc_error_set_status(kc_error_t *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kc_error_setv(err, 0, fmt, ap);
	va_end(ap);
	if (err && *err)
		(*err)->status = errnum;
	return -errnum;
}

int kc_error_wrap(kc_error_t *err, const char *fmt, ...)
{
	va_list ap;
	char *prefix, *msg;

	if (err == NULL || *err == NULL)
		return -1;
	va_start(ap, fmt);
	prefix = kc_xvasprintf(fmt, ap);
	va_end(ap);
	msg = kc_xasprintf("%s: %s", prefix, (*err)->msg);
	free(prefix);
	free((*err)->msg);
	(*err)->msg = msg;
	return kc_error_ret(err);
}

int kc_error_ret(const kc_error_t *err)
{
	if (err == NULL || *err == NULL || (*err)->status == 0)
		return -1;
	return -(*err)->status;
}

void kc_error_free(kc_error_t *err)
{
	if (err == NULL || *err == NULL)
		return;
	free((*err)->msg);
	free(*err);
	*err = NULL;
}

void kc_error_report(const char *prog, kc_error_t *err)
{
	if (err == NULL || *err == NULL)
		return;
	fprintf(stderr, "%s: %s\n", prog, (*err)->msg);
	kc_error_free(err);
}
