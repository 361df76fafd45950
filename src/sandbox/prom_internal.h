/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_SANDBOX_PROM_INTERNAL_H
#define KC_SANDBOX_PROM_INTERNAL_H

/* What prom.c shares with prom_parse.c, kata_metrics.c and the unit tests. */

#include <stdbool.h>
#include <stddef.h>

#include "prom.h"

/* Bounds on a text we parse (the agent's: Kata's design measures a whole
 * sandbox's scrape at ~144 KiB). */
#define KC_PROM_MAX_TEXT (1024 * 1024)
#define KC_PROM_MAX_LINE 8192
#define KC_PROM_MAX_SAMPLES 16384
#define KC_PROM_MAX_FAMILIES 1024
#define KC_PROM_MAX_LABELS 16
#define KC_PROM_MAX_VALUE 1024
#define KC_PROM_MAX_NAME 256

bool kc_prom_valid_name(const char *s);
bool kc_prom_valid_label(const char *s);
bool kc_prom_is_const_label(const struct kc_prom *p, const char *name);
/* v as the format writes it: NaN, +Inf, -Inf or the shortest decimal
 * (15 or 17 digits) that reads back as v. */
void kc_prom_format_value(double v, char out[32]);
/* "counter", "gauge", "untyped", "histogram"; NULL past the last type. */
const char *kc_prom_type_name(enum kc_prom_type type);
/* Room for element n of an array grown by doubling (kc_xrealloc). */
void *kc_prom_grow(void *array, size_t n, size_t size);

#endif
