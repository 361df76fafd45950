/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_RUNTIME_BOOT_CACHE_H
#define KC_RUNTIME_BOOT_CACHE_H

/*
 * Facts about this host that hold until it reboots, kept in small files
 * under /run (a tmpfs, emptied at reboot): the shim is one process per
 * pod, and what one shim found out (the KVM probe's verdict, a QEMU binary
 * that has the microvm machine) the next need not find out again.  Each
 * file is "boot_id ID\n" (the kernel's random boot_id) and then its body;
 * a file from another boot, or without a boot_id, reads as missing.
 */

#define KC_BOOT_CACHE_DIR "/run/kata-containers"

/* The body of `path` (at most 64 KiB) when it was written during this
 * boot; NULL otherwise.  The caller frees it. */
char *kc_boot_cache_read(const char *path);

/* Replaces `path` (its directory is made when missing) with this boot's id
 * and `body`, atomically; a failure is only logged: a cache is optional. */
void kc_boot_cache_write(const char *path, const char *body);

#endif
