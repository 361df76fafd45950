/* SPDX-License-Identifier: Apache-2.0 */
#include "frame.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

/* Big enough for many small frames per read, small enough to keep per
 * connection; a larger frame grows the buffer until it has been taken. */
#define READER_DEFAULT_CAP (64 * 1024)
#define WRITER_DEFAULT_CAP (64 * 1024)
/* An idle buffer larger than this goes back to the default size. */
#define SHRINK_ABOVE (256 * 1024)

static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

void kc_ttrpc_header_put(uint8_t *p, const struct kc_ttrpc_header *h)
{
	put_be32(p, h->length);
	put_be32(p + 4, h->stream_id);
	p[8] = h->type;
	p[9] = h->flags;
}

void kc_ttrpc_header_get(const uint8_t *p, struct kc_ttrpc_header *h)
{
	h->length = get_be32(p);
	h->stream_id = get_be32(p + 4);
	h->type = p[8];
	h->flags = p[9];
}

/* ---- reader ---- */

void kc_ttrpc_reader_init(struct kc_ttrpc_reader *r, uint32_t max_body)
{
	memset(r, 0, sizeof(*r));
	r->max_body = max_body;
}

void kc_ttrpc_reader_release(struct kc_ttrpc_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = r->start = r->end = 0;
	r->skip = 0;
}

void kc_ttrpc_reader_reset(struct kc_ttrpc_reader *r)
{
	r->start = r->end = 0;
	r->skip = 0;
}

bool kc_ttrpc_reader_partial(const struct kc_ttrpc_reader *r)
{
	return r->skip > 0 || r->end > r->start;
}

/* Bytes the frame at the front needs in total, as far as known. */
static size_t frame_need(const struct kc_ttrpc_reader *r)
{
	size_t avail = r->end - r->start;
	uint32_t len;

	if (r->skip > 0 || avail < KC_TTRPC_HEADER_SIZE)
		return KC_TTRPC_HEADER_SIZE;
	len = get_be32(r->buf + r->start);
	if (len > r->max_body)
		return KC_TTRPC_HEADER_SIZE;
	return KC_TTRPC_HEADER_SIZE + (size_t)len;
}

uint8_t *kc_ttrpc_reader_space(struct kc_ttrpc_reader *r, size_t *len)
{
	size_t avail = r->end - r->start;
	size_t need = frame_need(r);
	size_t want;

	if (avail == 0) {
		r->start = r->end = 0;
		if (r->cap > SHRINK_ABOVE) {
			free(r->buf);
			r->buf = NULL;
			r->cap = 0;
		}
	}
	want = need > READER_DEFAULT_CAP ? need : READER_DEFAULT_CAP;
	if (r->cap < want) {
		/* Compact first so that realloc copies only live bytes. */
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, avail);
			r->start = 0;
			r->end = avail;
		}
		r->buf = kc_xrealloc(r->buf, want);
		r->cap = want;
	} else if (r->cap - r->end < 4096 || r->start + need > r->cap) {
		/* Little room at the tail, or the frame would not fit: move the
		 * unconsumed bytes to the front. */
		memmove(r->buf, r->buf + r->start, avail);
		r->start = 0;
		r->end = avail;
	}
	*len = r->cap - r->end;
	return r->buf + r->end;
}

void kc_ttrpc_reader_commit(struct kc_ttrpc_reader *r, size_t n)
{
	r->end += n;
}

size_t kc_ttrpc_reader_feed(struct kc_ttrpc_reader *r, const void *data, size_t len)
{
	size_t room;
	uint8_t *p = kc_ttrpc_reader_space(r, &room);

	if (room > len)
		room = len;
	memcpy(p, data, room);
	kc_ttrpc_reader_commit(r, room);
	return room;
}

int kc_ttrpc_reader_next(struct kc_ttrpc_reader *r, struct kc_ttrpc_frame *frame)
{
	size_t avail = r->end - r->start;

	if (r->skip > 0) {
		size_t drop = r->skip < avail ? (size_t)r->skip : avail;

		r->start += drop;
		r->skip -= drop;
		avail -= drop;
		if (r->skip > 0)
			return KC_TTRPC_READ_MORE;
	}
	if (avail < KC_TTRPC_HEADER_SIZE)
		return KC_TTRPC_READ_MORE;
	kc_ttrpc_header_get(r->buf + r->start, &frame->hdr);
	if (frame->hdr.length > r->max_body) {
		r->start += KC_TTRPC_HEADER_SIZE;
		r->skip = frame->hdr.length;
		frame->body = NULL;
		return KC_TTRPC_READ_OVERSIZED;
	}
	if (avail < KC_TTRPC_HEADER_SIZE + (size_t)frame->hdr.length)
		return KC_TTRPC_READ_MORE;
	frame->body = r->buf + r->start + KC_TTRPC_HEADER_SIZE;
	r->start += KC_TTRPC_HEADER_SIZE + (size_t)frame->hdr.length;
	return KC_TTRPC_READ_FRAME;
}

/* ---- writer ---- */

void kc_ttrpc_writer_release(struct kc_ttrpc_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

uint8_t *kc_ttrpc_writer_reserve(struct kc_ttrpc_writer *w, size_t n)
{
	size_t pending = w->end - w->start;

	if (w->cap - w->end >= n)
		return w->buf + w->end;
	if (w->start > 0 && w->cap - pending >= n && pending < w->cap / 2) {
		memmove(w->buf, w->buf + w->start, pending);
	} else {
		size_t cap = w->cap ? w->cap : WRITER_DEFAULT_CAP;

		while (cap < pending + n)
			cap *= 2;
		if (w->start > 0) {
			uint8_t *nb = kc_xmalloc(cap);

			memcpy(nb, w->buf + w->start, pending);
			free(w->buf);
			w->buf = nb;
		} else {
			w->buf = kc_xrealloc(w->buf, cap);
		}
		w->cap = cap;
	}
	w->start = 0;
	w->end = pending;
	return w->buf + w->end;
}

void kc_ttrpc_writer_consume(struct kc_ttrpc_writer *w, size_t n)
{
	w->start += n;
	if (w->start == w->end) {
		w->start = w->end = 0;
		if (w->cap > SHRINK_ABOVE) {
			free(w->buf);
			w->buf = NULL;
			w->cap = 0;
		}
	}
}

void kc_ttrpc_writer_unwind(struct kc_ttrpc_writer *w, size_t n)
{
	w->end -= n;
}
