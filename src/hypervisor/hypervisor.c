/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hypervisor.h over the back ends: pick one, forward the calls, and answer
 * for the operations a back end lacks (a NULL op: -ENOTSUP naming it).
 */
#include <errno.h>
#include <stdio.h>
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
	char *id; /* the sandbox's, for messages */
};

/* "VM ID: OP: not supported by the NAME back end" */
static int not_supported(const char *id, const struct kc_vm_ops *ops, const char *op,
			 kc_error_t *err)
{
	return kc_error_set_status(err, ENOTSUP, "VM %s: %s: not supported by the %s back end", id,
				   op, ops->name);
}

static int find_backend(const struct kc_vm_spec *spec, const struct kc_vm_ops **out, kc_error_t *err)
{
	const char *name = spec->cfg->hypervisor.name;

	if (!name || !*name)
		name = "qemu";
	for (size_t i = 0; i < KC_ARRAY_SIZE(backends); i++) {
		if (strcmp(backends[i]->name, name) == 0) {
			*out = backends[i];
			return 0;
		}
	}
	return kc_error_set(err, ENOTSUP, "[hypervisor.%s]: not supported (kata-c runs qemu)", name);
}

static int check_ops(const struct kc_vm_ops *ops, kc_error_t *err)
{
	const struct {
		const char *name;
		bool set;
	} required[] = {
		{ "start", ops->start != NULL },
		{ "agent_uri", ops->agent_uri != NULL },
		{ "take_agent_fd", ops->take_agent_fd != NULL },
		{ "pid", ops->pid != NULL },
		{ "pidfd", ops->pidfd != NULL },
		{ "watch_fd", ops->watch_fd != NULL },
		{ "lost", ops->lost != NULL },
		{ "stop", ops->stop != NULL },
		{ "free", ops->free != NULL },
	};

	if (!ops->name || !*ops->name)
		return kc_error_set(err, EINVAL, "VM back end without a name");
	for (size_t i = 0; i < KC_ARRAY_SIZE(required); i++)
		if (!required[i].set)
			return kc_error_set(err, EINVAL, "VM back end %s: no `%s` op (required)",
					    ops->name, required[i].name);
	return 0;
}

static struct kc_vm *vm_new(const struct kc_vm_ops *ops, void *impl, const char *id)
{
	struct kc_vm *vm = kc_xmalloc(sizeof(*vm));

	vm->ops = ops;
	vm->impl = impl;
	vm->id = kc_xstrdup(id ? id : "");
	return vm;
}

int kc_vm_start_ops(const struct kc_vm_ops *ops, const struct kc_vm_spec *spec, struct kc_vm **out,
		    kc_error_t *err)
{
	void *impl = NULL;
	int ret;

	ret = check_ops(ops, err);
	if (ret < 0)
		return ret;
	ret = ops->start(spec, &impl, err);
	if (ret < 0)
		return ret;
	*out = vm_new(ops, impl, spec->id);
	return 0;
}

int kc_vm_start(const struct kc_vm_spec *spec, struct kc_vm **out, kc_error_t *err)
{
	const struct kc_vm_ops *ops = NULL;
	int ret = find_backend(spec, &ops, err);

	if (ret < 0)
		return ret;
	return kc_vm_start_ops(ops, spec, out, err);
}

int kc_vm_restore(const struct kc_vm_spec *spec, const char *dir, struct kc_vm **out,
		  kc_error_t *err)
{
	const struct kc_vm_ops *ops = NULL;
	void *impl = NULL;
	int ret = find_backend(spec, &ops, err);

	if (ret < 0)
		return ret;
	if (!dir || dir[0] != '/')
		return kc_error_set(err, EINVAL,
				    "VM %s: restore: the state directory must be an "
				    "absolute path, not `%s`",
				    spec->id, dir ? dir : "");
	if (!ops->restore)
		return not_supported(spec->id, ops, "restore", err);
	ret = ops->restore(spec, dir, &impl, err);
	if (ret < 0)
		return ret;
	*out = vm_new(ops, impl, spec->id);
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

int kc_vm_wait(struct kc_vm *vm, uint64_t deadline, kc_error_t *err)
{
	if (!vm->ops->wait)
		return not_supported(vm->id, vm->ops, "wait", err);
	return vm->ops->wait(vm->impl, deadline, err);
}

int kc_vm_pause(struct kc_vm *vm, kc_error_t *err)
{
	if (!vm->ops->pause)
		return not_supported(vm->id, vm->ops, "pause", err);
	return vm->ops->pause(vm->impl, err);
}

int kc_vm_resume(struct kc_vm *vm, kc_error_t *err)
{
	if (!vm->ops->resume)
		return not_supported(vm->id, vm->ops, "resume", err);
	return vm->ops->resume(vm->impl, err);
}

int kc_vm_save(struct kc_vm *vm, const char *dir, kc_error_t *err)
{
	if (!dir || dir[0] != '/')
		return kc_error_set(err, EINVAL,
				    "VM %s: save: the state directory must be an "
				    "absolute path, not `%s`",
				    vm->id, dir ? dir : "");
	if (!vm->ops->save)
		return not_supported(vm->id, vm->ops, "save", err);
	return vm->ops->save(vm->impl, dir, err);
}

const char *kc_vm_device_type_name(enum kc_vm_device_type type)
{
	switch (type) {
	case KC_VM_DEV_DISK:
		return "disk";
	case KC_VM_DEV_NET:
		return "net";
	case KC_VM_DEV_MEMORY:
		return "memory";
	case KC_VM_DEV_VCPUS:
		return "vcpus";
	case KC_VM_DEV_VFIO:
		return "vfio";
	}
	return "unknown";
}

static bool has_text(const char *s)
{
	return s && *s;
}

/* dev for messages: "disk `d1`", "memory 512 MiB", "vcpus 2". */
static void describe_device(const struct kc_vm_device *dev, char *buf, size_t size)
{
	const char *type = kc_vm_device_type_name(dev->type);
	const char *id = NULL;

	switch (dev->type) {
	case KC_VM_DEV_DISK:
		id = dev->disk.id;
		break;
	case KC_VM_DEV_NET:
		id = dev->net.id;
		break;
	case KC_VM_DEV_VFIO:
		id = dev->vfio.id;
		break;
	case KC_VM_DEV_MEMORY:
		snprintf(buf, size, "%s %u MiB", type, dev->memory.size_mib);
		return;
	case KC_VM_DEV_VCPUS:
		snprintf(buf, size, "%s %u", type, dev->vcpus.count);
		return;
	}
	if (has_text(id))
		snprintf(buf, size, "%s `%s`", type, id);
	else
		snprintf(buf, size, "%s", type);
}

/*
 * The description holds what op needs: for add_device everything the
 * device is made of, for remove_device what names it (the id, or the
 * amount).  Each failure names the field.
 */
static int check_device(const char *vm_id, const char *op, const struct kc_vm_device *dev, bool add,
			kc_error_t *err)
{
	const char *bad = NULL;
	char what[96], buf[64];

	if (!dev)
		return kc_error_set(err, EINVAL, "VM %s: %s: no device", vm_id, op);
	switch (dev->type) {
	case KC_VM_DEV_DISK:
		if (!has_text(dev->disk.id))
			bad = "no id";
		else if (add && !(has_text(dev->disk.path) && dev->disk.path[0] == '/'))
			bad = "the host path must be an absolute path";
		break;
	case KC_VM_DEV_NET:
		if (!has_text(dev->net.id))
			bad = "no id";
		else if (add && (dev->net.n_fds < 1 || dev->net.n_fds > KC_VM_MAX_NETDEV_FDS ||
				 !dev->net.fds)) {
			snprintf(buf, sizeof(buf), "needs 1 to %d TAP queue fds, not %u",
				 KC_VM_MAX_NETDEV_FDS, dev->net.fds ? dev->net.n_fds : 0);
			bad = buf;
		}
		break;
	case KC_VM_DEV_MEMORY:
		if (dev->memory.size_mib == 0)
			bad = "size 0";
		break;
	case KC_VM_DEV_VCPUS:
		if (dev->vcpus.count == 0)
			bad = "count 0";
		break;
	case KC_VM_DEV_VFIO:
		if (!has_text(dev->vfio.id))
			bad = "no id";
		else if (add && !(has_text(dev->vfio.sysfs_path) &&
				  strncmp(dev->vfio.sysfs_path, "/sys/", 5) == 0))
			bad = "the host device must be a path under /sys/";
		break;
	default:
		return kc_error_set(err, EINVAL, "VM %s: %s: unknown device type %d", vm_id, op,
				    (int)dev->type);
	}
	if (!bad)
		return 0;
	describe_device(dev, what, sizeof(what));
	return kc_error_set(err, EINVAL, "VM %s: %s (%s): %s", vm_id, op, what, bad);
}

static int device_op(struct kc_vm *vm, const char *op, bool add,
		     int (*fn)(void *, const struct kc_vm_device *, kc_error_t *),
		     const struct kc_vm_device *dev, kc_error_t *err)
{
	char what[128];
	int ret = check_device(vm->id, op, dev, add, err);

	if (ret < 0)
		return ret;
	if (fn)
		return fn(vm->impl, dev, err);
	describe_device(dev, what, sizeof(what));
	return kc_error_set_status(err, ENOTSUP, "VM %s: %s (%s): not supported by the %s back end",
				   vm->id, op, what, vm->ops->name);
}

int kc_vm_add_device(struct kc_vm *vm, const struct kc_vm_device *dev, kc_error_t *err)
{
	return device_op(vm, "add_device", true, vm->ops->add_device, dev, err);
}

int kc_vm_remove_device(struct kc_vm *vm, const struct kc_vm_device *dev, kc_error_t *err)
{
	return device_op(vm, "remove_device", false, vm->ops->remove_device, dev, err);
}

const char *kc_vm_state_name(enum kc_vm_state state)
{
	switch (state) {
	case KC_VM_STOPPED:
		return "stopped";
	case KC_VM_RUNNING:
		return "running";
	case KC_VM_PAUSED:
		return "paused";
	}
	return "unknown";
}

int kc_vm_query(struct kc_vm *vm, struct kc_vm_info *info, kc_error_t *err)
{
	memset(info, 0, sizeof(*info));
	if (!vm->ops->query)
		return not_supported(vm->id, vm->ops, "query", err);
	return vm->ops->query(vm->impl, info, err);
}

void kc_vm_parts(const struct kc_vm *vm, struct kc_vm_parts *out)
{
	memset(out, 0, sizeof(*out));
	if (vm->ops->parts)
		vm->ops->parts(vm->impl, out);
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
	free(vm->id);
	free(vm);
}
