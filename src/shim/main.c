/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd-shim-kata-v2 [flags] start|delete
 *
 * Flags as containerd passes them (Go's flag syntax: -x v, --x v, -x=v):
 * -namespace, -address, -publish-binary, -id, -bundle, -debug.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kc-build-config.h"
#include "lib/log.h"
#include "lib/util.h"
#include "shim.h"

static int usage(const char *why)
{
	fprintf(stderr,
		"containerd-shim-kata-v2: %s\n"
		"usage: containerd-shim-kata-v2 -namespace NS -address ADDR -publish-binary BIN "
		"-id ID [-bundle DIR] [-debug] start|delete\n",
		why);
	return 2;
}

int main(int argc, char **argv)
{
	struct shim_args a = { 0 };
	cleanup_error kc_error_t err = NULL;
	int ret;

	kc_log_init("containerd-shim-v2", "runtime");
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *val = NULL;
		cleanup_free char *name = NULL;
		const char **slot = NULL;

		if (arg[0] != '-') {
			if (a.action)
				return usage("more than one action given");
			a.action = arg;
			continue;
		}
		arg += arg[1] == '-' ? 2 : 1;
		name = kc_xstrdup(arg);
		if (strchr(name, '=')) {
			*strchr(name, '=') = '\0';
			val = strchr(arg, '=') + 1;
		}
		if (strcmp(name, "debug") == 0) {
			a.debug = !val || strcmp(val, "true") == 0 || strcmp(val, "1") == 0;
			continue;
		}
		if (strcmp(name, "namespace") == 0)
			slot = &a.ns;
		else if (strcmp(name, "address") == 0)
			slot = &a.address;
		else if (strcmp(name, "publish-binary") == 0)
			slot = &a.publish_binary;
		else if (strcmp(name, "id") == 0)
			slot = &a.id;
		else if (strcmp(name, "bundle") == 0)
			slot = &a.bundle;
		else if (strcmp(name, "socket") == 0 || strcmp(name, "version") == 0) {
			if (strcmp(name, "version") == 0) {
				printf("containerd-shim-kata-v2 (kata-c) %s\n", KC_VERSION);
				return 0;
			}
			i++;
			continue;
		} else
			return usage("unknown flag");
		if (!val) {
			if (i + 1 >= argc)
				return usage("a flag lacks its value");
			val = argv[++i];
		}
		*slot = val;
	}
	if (!a.action)
		return usage("no action (start or delete)");
	if (!a.ns)
		a.ns = "default";
	if (!a.id)
		return usage("-id is required");
	if (strcmp(a.action, "start") == 0)
		ret = shim_start(&a, &err);
	else if (strcmp(a.action, "delete") == 0)
		ret = shim_delete(&a, &err);
	else
		return usage("unknown action");
	if (ret < 0) {
		kc_error_report("containerd-shim-kata-v2", &err);
		return 1;
	}
	return 0;
}
