/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_TTRPC_IDMAP_H
#define KC_TTRPC_IDMAP_H

/*
 * Stream id -> pointer, for the calls in flight on one connection.  Open
 * addressing with linear probing; 0 marks a free slot (stream id 0 is never
 * valid).  The table grows as needed and never holds more than half full.
 */

#include <stddef.h>
#include <stdint.h>

struct kc_idmap_slot {
	uint32_t id;
	void *value;
};

struct kc_idmap {
	struct kc_idmap_slot *slots;
	size_t mask; /* capacity - 1; capacity is a power of two */
	size_t len;
};

void kc_idmap_release(struct kc_idmap *m);
void *kc_idmap_get(const struct kc_idmap *m, uint32_t id);
/* Inserts or replaces; returns the previous value or NULL.  id 0 is a
 * caller bug (abort); get and del of 0 find nothing. */
void *kc_idmap_put(struct kc_idmap *m, uint32_t id, void *value);
/* Removes id; returns its value or NULL. */
void *kc_idmap_del(struct kc_idmap *m, uint32_t id);
/* Removes and returns any one entry, NULL when empty (for tearing down). */
void *kc_idmap_pop(struct kc_idmap *m);

#endif
