/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_AGENT_MODULES_H
#define KC_AGENT_MODULES_H

/*
 * Kernel modules of the guest image.  The initrd holds them flat in
 * /lib/modules (guest/build-kernel.sh writes them):
 *
 *   NAME.ko, load-order   what init loads at boot, dependencies first,
 *                         with finit_module(2)
 *   NAME.ko.gz            the rest (bridge, veth, tun, nf_tables, overlay...),
 *                         loaded on demand with init_module(2)
 *   on-demand             "MODULE DEP... MODULE": each such module and what
 *                         it needs, dependencies first
 *   aliases               "ALIAS MODULE", from modules.alias
 *
 *   modprobe              a link to /init: the agent as modprobe
 *
 * Once init has loaded the boot modules it makes DIR/modprobe the kernel's
 * modprobe (kc_agent_modprobe_install), so that the kernel's
 * request_module (a bridge asked of rtnetlink, a mount of overlay,
 * nf_tables over netlink) loads them when first used; the guest needs no
 * kmod, modules.dep or depmod.
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
 * Loads the module NAME (or with '-' and '_' swapped, as modprobe treats
 * them alike), or the on-demand module an alias NAME names, with `params`
 * ("key=value ...", may be NULL: those of the kernel command line), after
 * the on-demand modules it needs.  Already loaded (EEXIST) is success.
 * Errors name the module.
 */
int kc_agent_module_load(const char *dir, const char *name, const char *params, kc_error_t *err);

#define KC_AGENT_VIRTIO_BUS "/sys/bus/virtio/devices"

/*
 * Loads every module of DIR/load-order in order, then the `extra` ones
 * (NULL-terminated, may be NULL; the kernel command line's modules_load=).
 * Each gets its parameters from `cmdline` (may be NULL), as modprobe would.
 * The drivers of one kind of virtio device (net, blk, vsock, virtio-fs)
 * are skipped when virtio_bus (NULL: never skip) lists no such device.
 * A module that fails is logged with its name and the others are still
 * loaded.  The file of each module loaded (or found loaded) is unlinked:
 * the initrd's files take guest RAM; a later kc_agent_module_load() of one
 * of them is "already loaded" (only init calls this).  Returns the number of failures, or negative when load-order
 * itself is unreadable or malformed.
 */
int kc_agent_modules_load_all(const char *dir, const char *virtio_bus, char *const *extra,
			      const char *cmdline, kc_error_t *err);

/* CreateSandbox.kernel_modules: each module with its parameters, in order;
 * the first failure is the error. */
int kc_agent_modules_load_request(const char *dir, Grpc__KernelModule *const *mods, size_t n,
				  kc_error_t *err);

/* Writes DIR/modprobe to /proc/sys/kernel/modprobe, where the image has
 * one (only init calls this: a host's modprobe is not ours to change). */
int kc_agent_modprobe_install(const char *dir, kc_error_t *err);

/*
 * The agent run as DIR/modprobe (argv[0]'s base name) by the kernel's
 * request_module: `modprobe [-q] [--] NAME [PARAM=VALUE...]` loads NAME
 * as kc_agent_module_load() does, logging to the kernel log.  Returns the
 * exit status: 0 loaded (or already there), 1 failed, 2 usage.
 */
int kc_agent_modprobe_main(int argc, char **argv);

#endif
