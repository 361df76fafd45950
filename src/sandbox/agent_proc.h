/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_RUNTIME_AGENT_PROC_H
#define KC_RUNTIME_AGENT_PROC_H

/* kata-agent as a host process in place of a VM (tests; see sandbox.h). */

#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"

/* Starts `binary --no-init --listen unix://<run_dir>/agent.sock` (its
 * output to <run_dir>/agent.log) and waits until the socket answers. */
int kc_agent_proc_start(const char *binary, const char *run_dir, uint64_t timeout_ns, pid_t *pid,
			int *pidfd, char **uri, kc_error_t *err);
/* SIGTERM, SIGKILL after a while, reaped.  Closes pidfd. */
void kc_agent_proc_stop(pid_t pid, int pidfd);

#endif
