/* SPDX-License-Identifier: Apache-2.0 */
#include "idmap.h"

#include <stdlib.h>

#include "lib/util.h"

static inline size_t slot_of(const struct kc_idmap *m, uint32_t id)
{
	/* Fibonacci hashing spreads consecutive odd ids over the table. */
	return (size_t)((id * 2654435769u) >> 7) & m->mask;
}

void kc_idmap_release(struct kc_idmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->mask = 0;
	m->len = 0;
}

void *kc_idmap_get(const struct kc_idmap *m, uint32_t id)
{
	/* 0 marks free slots: no entry ever has it. */
	if (m->slots == NULL || id == 0)
		return NULL;
	for (size_t i = slot_of(m, id);; i = (i + 1) & m->mask) {
		if (m->slots[i].id == id)
			return m->slots[i].value;
		if (m->slots[i].id == 0)
			return NULL;
	}
}

static void grow(struct kc_idmap *m)
{
	struct kc_idmap_slot *old = m->slots;
	size_t old_cap = old ? m->mask + 1 : 0;
	size_t cap = old_cap ? old_cap * 2 : 16;

	m->slots = kc_xzalloc(cap * sizeof(*m->slots));
	m->mask = cap - 1;
	for (size_t j = 0; j < old_cap; j++) {
		size_t i;

		if (old[j].id == 0)
			continue;
		for (i = slot_of(m, old[j].id); m->slots[i].id != 0; i = (i + 1) & m->mask)
			;
		m->slots[i] = old[j];
	}
	free(old);
}

void *kc_idmap_put(struct kc_idmap *m, uint32_t id, void *value)
{
	size_t i;

	if (id == 0)
		abort(); /* a caller bug: stream ids start at 1 */
	if (m->slots == NULL || (m->len + 1) * 2 > m->mask + 1)
		grow(m);
	for (i = slot_of(m, id); m->slots[i].id != 0; i = (i + 1) & m->mask) {
		if (m->slots[i].id == id) {
			void *prev = m->slots[i].value;

			m->slots[i].value = value;
			return prev;
		}
	}
	m->slots[i].id = id;
	m->slots[i].value = value;
	m->len++;
	return NULL;
}

/* Backward-shift deletion keeps every probe sequence unbroken. */
static void remove_at(struct kc_idmap *m, size_t i)
{
	size_t j = i;

	m->slots[i].id = 0;
	m->slots[i].value = NULL;
	m->len--;
	for (;;) {
		size_t home;

		j = (j + 1) & m->mask;
		if (m->slots[j].id == 0)
			return;
		home = slot_of(m, m->slots[j].id);
		/* Move j back to i if its home is not in (i, j] cyclically. */
		if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
			m->slots[i] = m->slots[j];
			m->slots[j].id = 0;
			m->slots[j].value = NULL;
			i = j;
		}
	}
}

void *kc_idmap_del(struct kc_idmap *m, uint32_t id)
{
	if (m->slots == NULL || id == 0)
		return NULL;
	for (size_t i = slot_of(m, id);; i = (i + 1) & m->mask) {
		if (m->slots[i].id == id) {
			void *v = m->slots[i].value;

			remove_at(m, i);
			return v;
		}
		if (m->slots[i].id == 0)
			return NULL;
	}
}

void *kc_idmap_pop(struct kc_idmap *m)
{
	if (m->len == 0)
		return NULL;
	for (size_t i = 0; i <= m->mask; i++) {
		if (m->slots[i].id != 0) {
			void *v = m->slots[i].value;

			remove_at(m, i);
			return v;
		}
	}
	return NULL;
}
