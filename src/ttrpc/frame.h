/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_TTRPC_FRAME_H
#define KC_TTRPC_FRAME_H

/*
 * ttrpc framing: a 10-byte big-endian header, then the body.
 *
 *   uint32 length (of the body) | uint32 stream id | uint8 type | uint8 flags
 *
 * The reader is an incremental decoder over one connection's input: the
 * owner reads from its fd straight into kc_ttrpc_reader_space(), commits
 * what arrived, then takes every complete frame with kc_ttrpc_reader_next().
 * One read thus drains as many frames as it carried.  It is pure (no I/O)
 * so that it can be tested and fuzzed byte by byte.
 *
 * Memory stays bounded: a frame whose length exceeds the limit is never
 * buffered; its body is skipped as it arrives and the frame is reported as
 * KC_TTRPC_READ_OVERSIZED so that the owner can answer it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KC_TTRPC_HEADER_SIZE 10

enum kc_ttrpc_msg_type {
	KC_TTRPC_TYPE_REQUEST = 1,
	KC_TTRPC_TYPE_RESPONSE = 2,
	KC_TTRPC_TYPE_DATA = 3,
};

struct kc_ttrpc_header {
	uint32_t length;
	uint32_t stream_id;
	uint8_t type;
	uint8_t flags;
};

void kc_ttrpc_header_put(uint8_t *p, const struct kc_ttrpc_header *h);
void kc_ttrpc_header_get(const uint8_t *p, struct kc_ttrpc_header *h);

/* ---- input ---- */

struct kc_ttrpc_reader {
	uint8_t *buf;
	size_t cap;
	size_t start, end; /* unconsumed input is buf[start, end) */
	uint64_t skip; /* bytes of an oversized body still to drop */
	uint32_t max_body;
};

enum kc_ttrpc_read_result {
	KC_TTRPC_READ_MORE = 0, /* no complete frame yet */
	KC_TTRPC_READ_FRAME = 1, /* *frame is complete */
	KC_TTRPC_READ_OVERSIZED = 2, /* frame->hdr only: its body is skipped */
};

struct kc_ttrpc_frame {
	struct kc_ttrpc_header hdr;
	/* Points into the reader: valid until the next kc_ttrpc_reader_space(). */
	const uint8_t *body;
};

void kc_ttrpc_reader_init(struct kc_ttrpc_reader *r, uint32_t max_body);
void kc_ttrpc_reader_release(struct kc_ttrpc_reader *r);
/* Forgets buffered input (a reconnected byte stream starts afresh). */
void kc_ttrpc_reader_reset(struct kc_ttrpc_reader *r);
/* Where to read into, and how much fits (never 0). */
uint8_t *kc_ttrpc_reader_space(struct kc_ttrpc_reader *r, size_t *len);
void kc_ttrpc_reader_commit(struct kc_ttrpc_reader *r, size_t n);
/* Copies len bytes in (for tests and fuzzing); frames must be taken with
 * kc_ttrpc_reader_next() between calls when len is large. */
size_t kc_ttrpc_reader_feed(struct kc_ttrpc_reader *r, const void *data, size_t len);
int kc_ttrpc_reader_next(struct kc_ttrpc_reader *r, struct kc_ttrpc_frame *frame);
/* True while part of a frame is buffered or being skipped. */
bool kc_ttrpc_reader_partial(const struct kc_ttrpc_reader *r);

/* ---- output ---- */

/*
 * A growable output buffer: frames are encoded straight into it and the
 * owner writes it out once per loop iteration.
 */
struct kc_ttrpc_writer {
	uint8_t *buf;
	size_t cap;
	size_t start, end; /* pending output is buf[start, end) */
};

void kc_ttrpc_writer_release(struct kc_ttrpc_writer *w);
static inline size_t kc_ttrpc_writer_pending(const struct kc_ttrpc_writer *w)
{
	return w->end - w->start;
}
/* Room for n more bytes at the end: write them, then commit. */
uint8_t *kc_ttrpc_writer_reserve(struct kc_ttrpc_writer *w, size_t n);
static inline void kc_ttrpc_writer_commit(struct kc_ttrpc_writer *w, size_t n)
{
	w->end += n;
}
/* Drops n bytes written out from the front. */
void kc_ttrpc_writer_consume(struct kc_ttrpc_writer *w, size_t n);
/* Drops the last n bytes committed (an encoding that failed half way). */
void kc_ttrpc_writer_unwind(struct kc_ttrpc_writer *w, size_t n);

#endif
