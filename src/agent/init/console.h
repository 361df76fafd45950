/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_AGENT_CONSOLE_H
#define KC_AGENT_CONSOLE_H

/*
 * The debug console (agent.debug_console): the agent serves the console's
 * own channel, the virtio-serial port KC_CONSOLE_PORT_NAME, never the
 * agent's.  Each host connection is one session: the host's OPEN frame
 * asks for a shell (or `sh -c COMMAND`), on a pty when it asks for a
 * terminal, else on pipes; the agent relays between the port and the
 * session on its loop (nothing blocks), applies RESIZE frames to the pty,
 * and sends the shell's EXIT status when it is reaped.  The port then
 * waits for the host to hang up, and for the next connection.  The
 * framing is lib/console_proto.h (docs/debug-console.md).
 */

#include <stdbool.h>
#include <sys/types.h>

#include "lib/error.h"
#include "ttrpc/loop.h"

struct kc_agent_console;

/* Serves the virtio-serial port named port (under ports_dir, sysfs's
 * virtio-ports directory), which may appear later: until it does, the
 * agent looks for it again twice a second. */
int kc_agent_console_start(struct kc_loop *loop, const char *ports_dir, const char *port,
			   struct kc_agent_console **out, kc_error_t *err);

/* A child reaped by the agent: true if it was the console's shell (its
 * session then ends with its status). */
bool kc_agent_console_reaped(struct kc_agent_console *c, pid_t pid, int wstatus);

/* Ends any session (its processes are killed) and closes the port.  NULL
 * is ignored. */
void kc_agent_console_free(struct kc_agent_console *c);

#endif
