/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_TESTS_TTRPC_HELPERS_H
#define KC_TESTS_TTRPC_HELPERS_H

/* Small helpers shared by the ttrpc tests (header-only). */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Decodes a hex string into a malloc'd buffer; aborts on bad input. */
static inline uint8_t *hex_decode(const char *hex, size_t *len)
{
	size_t n = strlen(hex);
	uint8_t *out = malloc(n / 2 + 1);

	if (out == NULL || n % 2 != 0)
		abort();
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			abort();
		out[i] = (uint8_t)v;
	}
	*len = n / 2;
	return out;
}

#endif
