/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_RUNTIME_QEMU_H
#define KC_RUNTIME_QEMU_H

/*
 * The pieces of the QEMU back end that tests exercise without a VM: the
 * kernel command line, the QEMU command line, the checks made before
 * anything is launched.  kc_vm_start() (hypervisor.h) puts them together.
 */

#include <stdbool.h>

#include "hypervisor/hypervisor.h"
#include "lib/config.h"
#include "lib/error.h"
#include "host/boot_cache.h"

/* The name of the virtio-serial port the agent listens on. */
#define KC_QEMU_AGENT_PORT "agent.channel.0"
/* The virtio-fs tag of the sandbox's shared directory. */
#define KC_QEMU_SHARED_TAG "kataShared"

/* Everything the QEMU command line is made of, resolved. */
struct kc_qemu_cmdline {
	const char *qemu_path;
	const char *name; /* -name (the sandbox id) */
	bool kvm; /* -accel kvm, else tcg,thread=multi */
	unsigned vcpus;
	unsigned memory_mib;
	const char *kernel;
	const char *initrd;
	const char *append; /* the kernel command line */
	const char *qmp_socket;
	const char *agent_socket; /* virtio-serial port's chardev (QEMU listens) */
	const char *virtiofs_socket; /* virtiofsd's vhost-user socket; NULL: no share */
	const char *console_log; /* serial console appended here; NULL: no console */
	const char *debug_console_socket; /* the debug console's port's chardev (QEMU
	                                   * listens); NULL: no debug console */
	const struct kc_vm_netdev *netdevs; /* NICs, fds numbered as below */
	size_t n_netdevs;
	int first_netdev_fd; /* QEMU's number of netdevs[0].fds[0]; the others follow */
};

/* The argv (NULL-terminated, free with kc_free_strv()). */
char **kc_qemu_build_argv(const struct kc_qemu_cmdline *c);

/*
 * The guest kernel's command line: our fixed part ("panic=-1", the agent's
 * channel, "quiet" unless debugging, "console=ttyS0" with a console,
 * "agent.debug_console" with [agent.kata] debug_console_enabled), the
 * configuration's kernel_params, then extra (the spec's).  tsc_khz != 0
 * adds tsc_early_khz=, which TCG guests need (see docs/vm.md).
 */
char *kc_qemu_kernel_cmdline(const struct kc_config *cfg, const char *extra, bool console,
			     unsigned long tsc_khz);

/*
 * The initrd to boot: the configured one, or with debug_console_enabled
 * the debug console's (the same image with a shell appended, built by
 * guest/build-console-initrd.sh): beside it, "-console" before its ".img"
 * (kata-containers-initrd.img: kata-containers-initrd-console.img).  When
 * that file is missing the configured initrd is booted and a warning says
 * that it must hold a shell itself.  To be freed.
 */
char *kc_qemu_initrd(const struct kc_config *cfg);
/* The debug console's initrd beside initrd, as above (to be freed). */
char *kc_qemu_console_initrd_path(const char *initrd);

/* The guest kernel's COMMAND_LINE_SIZE on x86_64: the command line and
 * its NUL.  The kernel cuts a longer one without a word. */
#define KC_KERNEL_CMDLINE_SIZE 2048

/* A command line the guest kernel takes whole: kc_kernel_params_check()'s
 * words, at most KC_KERNEL_CMDLINE_SIZE - 1 bytes (the error gives the
 * length and the limit). */
int kc_qemu_check_kernel_cmdline(const char *cmdline, kc_error_t *err);

/* The host's TSC frequency in kHz (from /proc/cpuinfo), 0 if unknown. */
unsigned long kc_qemu_host_tsc_khz(void);

/* QEMU at path exists, runs, and lists the microvm machine (`-M help`,
 * ~20 ms).  A binary found good is remembered in the boot cache file
 * cache_path (NULL: none; boot_cache.h) by device, inode, mtime, size and
 * path, so the next shim does not ask again. */
#define KC_QEMU_CHECK_CACHE_PATH KC_BOOT_CACHE_DIR "/kata-c-qemu"
int kc_qemu_check_binary(const char *path, const char *cache_path, kc_error_t *err);

/* run_dir/name as a unix socket path; too long for sun_path is an error
 * naming it. */
int kc_qemu_socket_path(const char *run_dir, const char *name, char **out, kc_error_t *err);

/* A regular, readable file (kernel, initrd) or an executable (QEMU,
 * virtiofsd): what names it in the message. */
/* A NIC the spec asks for: id, MAC and fds checked (before launching). */
int kc_qemu_check_netdev(const struct kc_vm_netdev *nd, size_t i, kc_error_t *err);

int kc_qemu_check_file(const char *what, const char *path, bool exec, kc_error_t *err);

#endif
