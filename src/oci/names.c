/* SPDX-License-Identifier: Apache-2.0 */
/* Capability and rlimit names as the OCI spec writes them. */
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "lib/util.h"
#include "spec.h"

/* Indexed by the kernel's capability number (linux/capability.h). */
static const char *const caps[] = {
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_DAC_READ_SEARCH",
	"CAP_FOWNER",
	"CAP_FSETID",
	"CAP_KILL",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST",
	"CAP_NET_ADMIN",
	"CAP_NET_RAW",
	"CAP_IPC_LOCK",
	"CAP_IPC_OWNER",
	"CAP_SYS_MODULE",
	"CAP_SYS_RAWIO",
	"CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE",
	"CAP_SYS_PACCT",
	"CAP_SYS_ADMIN",
	"CAP_SYS_BOOT",
	"CAP_SYS_NICE",
	"CAP_SYS_RESOURCE",
	"CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG",
	"CAP_MKNOD",
	"CAP_LEASE",
	"CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL",
	"CAP_SETFCAP",
	"CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN",
	"CAP_SYSLOG",
	"CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND",
	"CAP_AUDIT_READ",
	"CAP_PERFMON",
	"CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};

int kc_oci_cap_from_name(const char *name)
{
	for (size_t i = 0; i < KC_ARRAY_SIZE(caps); i++)
		if (strcmp(caps[i], name) == 0)
			return (int)i;
	return -1;
}

const char *kc_oci_cap_name(int cap)
{
	if (cap < 0 || (size_t)cap >= KC_ARRAY_SIZE(caps))
		return NULL;
	return caps[cap];
}

static const struct {
	const char *name;
	int resource;
} rlimits[] = {
	{ "RLIMIT_AS", RLIMIT_AS },
	{ "RLIMIT_CORE", RLIMIT_CORE },
	{ "RLIMIT_CPU", RLIMIT_CPU },
	{ "RLIMIT_DATA", RLIMIT_DATA },
	{ "RLIMIT_FSIZE", RLIMIT_FSIZE },
	{ "RLIMIT_LOCKS", RLIMIT_LOCKS },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
	{ "RLIMIT_NICE", RLIMIT_NICE },
	{ "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },
	{ "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
	{ "RLIMIT_RTTIME", RLIMIT_RTTIME },
	{ "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_STACK", RLIMIT_STACK },
};

int kc_oci_rlimit_from_name(const char *name)
{
	for (size_t i = 0; i < KC_ARRAY_SIZE(rlimits); i++)
		if (strcmp(rlimits[i].name, name) == 0)
			return rlimits[i].resource;
	return -1;
}

const char *kc_oci_hook_kind_name(enum kc_oci_hook_kind k)
{
	static const char *const names[] = {
		"prestart",	  "createRuntime", "createContainer",
		"startContainer", "poststart",	   "poststop",
	};

	return (unsigned)k < KC_ARRAY_SIZE(names) ? names[k] : "unknown";
}
