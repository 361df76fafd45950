/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_RUNTIME_VIRTIOFSD_H
#define KC_RUNTIME_VIRTIOFSD_H

/*
 * virtiofsd, the vhost-user daemon that serves a host directory to the
 * guest over virtio-fs.  One per sandbox; it serves a single vhost-user
 * connection (QEMU's) and exits when QEMU goes.
 */

#include <stdint.h>

#include "lib/config.h"
#include "lib/error.h"
#include "host/child.h"

/* The argv: cfg's virtio_fs_daemon, --socket-path=socket, -o source=dir,
 * -o cache=<virtio_fs_cache>, then virtio_fs_extra_args. */
char **kc_virtiofsd_argv(const struct kc_config *cfg, const char *socket, const char *dir);

/* Starts it (output appended to log) and waits until its socket exists,
 * so QEMU can connect.  It exiting first is an error carrying the tail of
 * log; so is deadline passing. */
int kc_virtiofsd_start(const struct kc_config *cfg, const char *socket, const char *dir,
		       const char *log, uint64_t deadline, struct kc_child *c, kc_error_t *err);

/* The last lines of a log file (at most max bytes), for error messages;
 * "" when there is none.  Free the result. */
char *kc_log_tail(const char *path, size_t max);

#endif
