/* SPDX-License-Identifier: Apache-2.0 */
/* hypervisor.h over the back ends: pick one, forward the calls. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "lib/util.h"

static const struct kc_vm_ops *const backends[] = {
	&kc_qemu_vm_ops,
};

struct kc_vm {
	const struct kc_vm_ops *ops;
	void *impl;
};

int kc_vm_start(const struct kc_vm_spec *spec, struct kc_vm **out, kc_error_t *err)
{
	const char *name = spec->cfg->hypervisor.name;
	const struct kc_vm_ops *ops = NULL;
	void *impl = NULL;
	int ret;

	if (!name || !*name)
		name = "qemu";
	for (size_t i = 0; i < KC_ARRAY_SIZE(backends); i++)
		if (strcmp(backends[i]->name, name) == 0)
			ops = backends[i];
	if (!ops)
		return kc_error_set(err, ENOTSUP, "[hypervisor.%s]: not supported (kata-c runs qemu)",
				    name);
	ret = ops->start(spec, &impl, err);
	if (ret < 0)
		return ret;
	*out = kc_xmalloc(sizeof(**out));
	(*out)->ops = ops;
	(*out)->impl = impl;
	return 0;
}

const char *kc_vm_agent_uri(const struct kc_vm *vm)
{
	return vm->ops->agent_uri(vm->impl);
}

int kc_vm_take_agent_fd(struct kc_vm *vm)
{
	return vm->ops->take_agent_fd(vm->impl);
}

pid_t kc_vm_pid(const struct kc_vm *vm)
{
	return vm->ops->pid(vm->impl);
}

int kc_vm_pidfd(const struct kc_vm *vm)
{
	return vm->ops->pidfd(vm->impl);
}

int kc_vm_watch_fd(const struct kc_vm *vm)
{
	return vm->ops->watch_fd(vm->impl);
}

char *kc_vm_lost(struct kc_vm *vm)
{
	return vm->ops->lost(vm->impl);
}

int kc_vm_stop(struct kc_vm *vm, kc_error_t *err)
{
	return vm->ops->stop(vm->impl, err);
}

void kc_vm_free(struct kc_vm *vm)
{
	if (!vm)
		return;
	vm->ops->free(vm->impl);
	free(vm);
}
