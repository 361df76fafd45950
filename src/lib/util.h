/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_UTIL_H
#define KC_UTIL_H

/*
 * Allocation, cleanup helpers and small file utilities.
 *
 * Allocation failure aborts (as in crun): a process that cannot allocate a
 * few bytes has nothing useful left to do, and handling it at every call
 * site hides the real error paths.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "error.h"

void *kc_xmalloc(size_t size);
void *kc_xzalloc(size_t size);
void *kc_xrealloc(void *p, size_t size);
char *kc_xstrdup(const char *s);
char *kc_xstrndup(const char *s, size_t n);
char *kc_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *kc_xvasprintf(const char *fmt, va_list ap);

void kc_freep(void *p);
void kc_closep(int *fd);
void kc_fclosep(FILE **f);
void kc_free_strv(char **v);
void kc_free_strvp(char ***v);

#define cleanup_free __attribute__((cleanup(kc_freep)))
#define cleanup_close __attribute__((cleanup(kc_closep)))
#define cleanup_fclose __attribute__((cleanup(kc_fclosep)))
#define cleanup_strv __attribute__((cleanup(kc_free_strvp)))

/* Moves ownership out of a cleanup variable: `return steal_ptr(&buf);`. */
static inline void *kc_steal_ptr(void *pp)
{
	void **p = (void **)pp;
	void *v = *p;
	*p = NULL;
	return v;
}

static inline int kc_steal_fd(int *fd)
{
	int v = *fd;
	*fd = -1;
	return v;
}

#define KC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Reads a whole file (at most max_size bytes, refusing larger ones) into a
 * NUL-terminated buffer. */
int kc_read_file(const char *path, size_t max_size, char **out, size_t *len, kc_error_t *err);

/* Writes a file atomically: a temporary file beside it, fsync, rename. */
int kc_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			 kc_error_t *err);

/* CLOCK_MONOTONIC in ns, read now. */
uint64_t kc_monotonic_ns(void);

/* Parses a whole decimal unsigned integer; false on any junk or overflow. */
bool kc_parse_u64(const char *s, unsigned long long *out);

#endif
