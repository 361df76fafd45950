/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_RUNTIME_ACCEL_CACHE_H
#define KC_RUNTIME_ACCEL_CACHE_H

/*
 * What accel = "auto" means on this host, remembered for the host's boot.
 *
 * The KVM probe (kvm_probe.h) costs ~150 ms where KVM emulates guest kernel
 * code, and the shim is one process per pod: without a cache every pod
 * boot would pay it.  The verdict cannot change while the host runs (the
 * host's KVM is what it is), so it is kept in a boot cache file
 * (boot_cache.h), and probed again when the file is from another boot,
 * missing or malformed.
 */

#include <stdbool.h>
#include <stddef.h>

#include "boot_cache.h"

#define KC_ACCEL_CACHE_PATH KC_BOOT_CACHE_DIR "/kata-c-accel"

/* "kvm" or "tcg".  reason (size bytes) gets why KVM is not used ("" when
 * it is); *from_cache (may be NULL) tells whether the probe was skipped.
 * Failing to write the cache is only logged. */
const char *kc_accel_auto(const char *cache_path, char *reason, size_t size, bool *from_cache);

#endif
