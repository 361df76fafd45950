/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_LIB_CONSOLE_PROTO_H
#define KC_LIB_CONSOLE_PROTO_H

/*
 * The debug console's framing, spoken by `kata-runtime exec` (host) and
 * the agent (guest) on the console's own channel: the virtio-serial port
 * KC_CONSOLE_PORT_NAME (QEMU's chardev socket console.sock in the VM's
 * run dir), or vsock port KC_CONSOLE_VPORT where there is vsock.
 *
 * Every frame is a 4-byte header, then the payload:
 *   byte 0  type (enum kc_console_type)
 *   byte 1  0 (reserved)
 *   2..3    payload length, big-endian, at most KC_CONSOLE_MAX_PAYLOAD
 * Numbers in payloads are big-endian.  A frame that breaks a rule (unknown
 * type, a type sent the wrong way, a reserved byte set, a length over the
 * limit or not the type's) ends the session: docs/debug-console.md.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"

#define KC_CONSOLE_PORT_NAME "console.0"
#define KC_CONSOLE_VPORT 1026
#define KC_CONSOLE_SOCKET "console.sock" /* in the VM's run dir */
#define KC_CONSOLE_HDR 4
#define KC_CONSOLE_MAX_PAYLOAD 4096
#define KC_CONSOLE_MAX_FRAME (KC_CONSOLE_HDR + KC_CONSOLE_MAX_PAYLOAD)

enum kc_console_type {
	/* host -> guest */
	KC_CONSOLE_OPEN = 1, /* u8 flags, u16 rows, u16 cols, command (the rest; none: a shell) */
	KC_CONSOLE_STDIN = 2, /* bytes for the session's input */
	KC_CONSOLE_EOF = 3, /* no more input (empty) */
	KC_CONSOLE_RESIZE = 4, /* u16 rows, u16 cols */
	/* guest -> host */
	KC_CONSOLE_STARTED = 5, /* u32 pid of the shell: the answer to OPEN */
	KC_CONSOLE_STDOUT = 6, /* output (a terminal's: stdout and stderr together) */
	KC_CONSOLE_STDERR = 7, /* stderr, without a terminal */
	KC_CONSOLE_EXIT = 8, /* u32 status: the exit code, 128 + N after signal N */
	KC_CONSOLE_ERROR = 9, /* why there is no session (text); the session is over */
};

/* OPEN's flags. */
#define KC_CONSOLE_OPEN_TTY 0x01 /* a terminal (pty) rather than pipes */

struct kc_console_msg {
	enum kc_console_type type;
	const uint8_t *payload; /* in the parsed buffer */
	size_t len;
	/* Decoded, by type: */
	uint8_t flags; /* OPEN */
	uint16_t rows, cols; /* OPEN, RESIZE */
	uint32_t value; /* STARTED (pid), EXIT (status) */
};

/* "OPEN", "STDIN", ...; "unknown" otherwise. */
const char *kc_console_type_name(unsigned type);

/*
 * Writes one frame into out (room for KC_CONSOLE_HDR + len); returns its
 * size.  len must be at most KC_CONSOLE_MAX_PAYLOAD.
 */
size_t kc_console_encode(uint8_t *out, enum kc_console_type type, const void *payload, size_t len);
/* The fixed-size frames. */
size_t kc_console_encode_open(uint8_t *out, uint8_t flags, uint16_t rows, uint16_t cols,
			      const char *command);
size_t kc_console_encode_size(uint8_t *out, enum kc_console_type type, uint16_t rows, uint16_t cols);
size_t kc_console_encode_u32(uint8_t *out, enum kc_console_type type, uint32_t value);

/*
 * Parses the frame at the start of buf (len bytes available) as sent by
 * the host (from_host) or the guest.  Returns the frame's size (> 0) and
 * fills msg, 0 when buf holds only part of a frame, or -EPROTO with *err
 * naming what is wrong.
 */
int kc_console_parse(const uint8_t *buf, size_t len, bool from_host, struct kc_console_msg *msg,
		     kc_error_t *err);

/* A byte queue: appended at the end, consumed from the front. */
struct kc_console_buf {
	uint8_t *data;
	size_t len, cap;
};

void kc_console_buf_append(struct kc_console_buf *b, const void *data, size_t len);
void kc_console_buf_consume(struct kc_console_buf *b, size_t n);
void kc_console_buf_free(struct kc_console_buf *b);

#endif
