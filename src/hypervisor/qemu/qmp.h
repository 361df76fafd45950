/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_RUNTIME_QMP_H
#define KC_RUNTIME_QMP_H

/*
 * A minimal, blocking QMP client (QEMU's JSON control protocol), enough to
 * stop a VM cleanly: connect, read the greeting, negotiate capabilities,
 * run a command and wait for its "return".  Asynchronous events met on the
 * way are skipped.  Every step is bounded by the caller's deadline.
 */

#include <stdint.h>

#include "lib/error.h"
#include "lib/json.h"

struct kc_qmp;

/* Connects to the QMP unix socket at path and completes the handshake
 * (greeting + qmp_capabilities) before deadline (CLOCK_MONOTONIC ns). */
int kc_qmp_connect(const char *path, uint64_t deadline, struct kc_qmp **out, kc_error_t *err);
/* The same for a QEMU that may not serve QMP yet: the dial is retried
 * (kc_dial_retry) until deadline, and ends with -ECHILD if abort_fd (the
 * QEMU's pidfd; -1: none) turns readable. */
int kc_qmp_connect_wait(const char *path, uint64_t deadline, int abort_fd, struct kc_qmp **out,
			kc_error_t *err);

/* Runs command (with arguments, which may be NULL) and stores its "return"
 * value in *ret (may be NULL).  A QMP "error" reply is -EIO naming its
 * class and description.  For `quit`, the connection closing after the
 * answer is the expected end. */
int kc_qmp_execute(struct kc_qmp *q, const char *command, json_t *arguments, json_t **ret,
		   uint64_t deadline, kc_error_t *err);

void kc_qmp_close(struct kc_qmp *q);

#endif
