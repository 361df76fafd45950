/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_RUNTIME_HYPERVISOR_BACKEND_H
#define KC_RUNTIME_HYPERVISOR_BACKEND_H

/*
 * What a VMM back end implements behind hypervisor.h.  hypervisor.c picks
 * one by the configuration's [hypervisor.NAME] and forwards every call;
 * the meanings are those of the kc_vm_* function of the same name.
 *
 * start, agent_uri, take_agent_fd, pid, pidfd, watch_fd, lost, stop and
 * free are required.  The others may be NULL: the back end cannot do that,
 * and hypervisor.c answers -ENOTSUP naming the operation and the back end,
 * so that each back end implements only what it can.  hypervisor.c also
 * checks a kc_vm_device before add_device/remove_device see it.
 */

#include "hypervisor.h"

struct kc_vm_ops {
	const char *name; /* the NAME of [hypervisor.NAME] */
	int (*start)(const struct kc_vm_spec *spec, void **impl, kc_error_t *err);
	const char *(*agent_uri)(const void *impl);
	int (*take_agent_fd)(void *impl);
	pid_t (*pid)(const void *impl);
	int (*pidfd)(const void *impl);
	int (*watch_fd)(const void *impl);
	char *(*lost)(void *impl);
	void (*parts)(const void *impl, struct kc_vm_parts *out);
	int (*stop)(void *impl, kc_error_t *err);
	void (*free)(void *impl);

	/* Optional (NULL: not supported). */
	int (*wait)(void *impl, uint64_t deadline, kc_error_t *err);
	int (*pause)(void *impl, kc_error_t *err);
	int (*resume)(void *impl, kc_error_t *err);
	int (*save)(void *impl, const char *dir, kc_error_t *err);
	int (*restore)(const struct kc_vm_spec *spec, const char *dir, void **impl, kc_error_t *err);
	int (*add_device)(void *impl, const struct kc_vm_device *dev, kc_error_t *err);
	int (*remove_device)(void *impl, const struct kc_vm_device *dev, kc_error_t *err);
	int (*query)(void *impl, struct kc_vm_info *info, kc_error_t *err);
};

extern const struct kc_vm_ops kc_qemu_vm_ops;

/* kc_vm_start() with the back end given, not looked up: for back ends
 * outside the table (tests).  A table that lacks a required op is
 * -EINVAL naming it. */
int kc_vm_start_ops(const struct kc_vm_ops *ops, const struct kc_vm_spec *spec, struct kc_vm **out,
		    kc_error_t *err);

#endif
