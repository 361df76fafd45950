/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_TEST_TMPDIR_H
#define KC_TEST_TMPDIR_H

/*
 * A private temporary directory for one cmocka group: pass tmpdir_setup and
 * tmpdir_teardown to cmocka_run_group_tests_name(); tests write under
 * `tmpdir` with tmpdir_write().  Nothing is left behind.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

static char tmpdir[] = "/tmp/kc-test-XXXXXX";

static int tmpdir_setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int tmpdir_teardown(void **state)
{
	char cmd[64];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd);
}

/* Writes `text` to tmpdir/name with the given mode; returns the path. */
static inline char *tmpdir_write(const char *name, const char *text, mode_t mode)
{
	char *path = kc_xasprintf("%s/%s", tmpdir, name);
	cleanup_error kc_error_t err = NULL;

	if (kc_write_file_atomic(path, text, strlen(text), mode, &err) < 0) {
		fprintf(stderr, "%s\n", err->msg);
		abort();
	}
	return path;
}

#endif
