/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_AGENT_MODULES_H
#define KC_AGENT_MODULES_H

/*
 * Kernel modules of the guest image.  The initrd holds them flat in
 * /lib/modules (NAME.ko) with /lib/modules/load-order listing their file
 * names dependencies first (guest/build-kernel.sh writes it), so the agent
 * needs neither modprobe nor modules.dep: it loads them in that order with
 * finit_module(2).
 */

#include <stdbool.h>
#include <stddef.h>

#include "agent.pb-c.h"
#include "lib/error.h"

#define KC_AGENT_MODULES_DIR "/lib/modules"

/* A module name: 1-63 of [A-Za-z0-9_-].  Anything else (a '/', "..") is
 * refused before it becomes a path. */
bool kc_agent_module_name_valid(const char *name);

/*
 * Loads DIR/NAME.ko (or with '-' and '_' swapped, as modprobe treats them
 * alike) with finit_module and `params` ("key=value ...", may be NULL).
 * Already loaded (EEXIST) is success.  Errors name the module.
 */
int kc_agent_module_load(const char *dir, const char *name, const char *params,
			 kc_error_t *err);

#define KC_AGENT_VIRTIO_BUS "/sys/bus/virtio/devices"

/*
 * Loads every module of DIR/load-order in order, then the `extra` ones
 * (NULL-terminated, may be NULL; the kernel command line's modules_load=).
 * Each gets its parameters from `cmdline` (may be NULL), as modprobe would.
 * The drivers of one kind of virtio device (net, blk, vsock, virtio-fs)
 * are skipped when virtio_bus (NULL: never skip) lists no such device, and
 * those loaded on first use (kc_agent_module_for_fstype) unless `extra`
 * names them.
 * A module that fails is logged with its name and the others are still
 * loaded.  The file of each module loaded (or found loaded) is unlinked:
 * the initrd's files take guest RAM; a later kc_agent_module_load() of one
 * of them is "already loaded" (only init calls this).  Returns the number of failures, or negative when load-order
 * itself is unreadable or malformed.
 */
int kc_agent_modules_load_all(const char *dir, const char *virtio_bus, char *const *extra,
			      const char *cmdline, kc_error_t *err);

/*
 * A mount of `fstype` failed with ENODEV.  After init's
 * kc_agent_modules_load_all, a module left for its first use (overlay) is
 * loaded now, as the kernel's request_module would with a modprobe the
 * guest does not have; true when it was, and the caller mounts again.
 * Always false in a process that is not the VM's init.
 */
bool kc_agent_module_for_fstype(const char *fstype);

/* CreateSandbox.kernel_modules: each module with its parameters, in order;
 * the first failure is the error. */
int kc_agent_modules_load_request(const char *dir, Grpc__KernelModule *const *mods, size_t n,
				  kc_error_t *err);

#endif
