/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_RUNTIME_HYPERVISOR_BACKEND_H
#define KC_RUNTIME_HYPERVISOR_BACKEND_H

/*
 * What a VMM back end implements behind hypervisor.h.  hypervisor.c picks
 * one by the configuration's [hypervisor.NAME] and forwards every call;
 * the meanings are those of the kc_vm_* function of the same name.
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
};

extern const struct kc_vm_ops kc_qemu_vm_ops;

#endif
