// SPDX-License-Identifier: Apache-2.0
/* The agent as the guest's init: mounts, kernel command line, power-off. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

#include "init.h"
#include "lib/util.h"

static const struct {
	const char *source, *target, *fstype;
	unsigned long flags;
	const char *data;
} init_mounts[] = {
	{ "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
	{ "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
	{ "dev", "/dev", "devtmpfs", MS_NOSUID, "mode=0755" },
	{ "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620" },
	{ "shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777" },
	{ "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755" },
	{ "cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
};

int kc_agent_init_mounts(kc_error_t *err)
{
	for (size_t i = 0; i < KC_ARRAY_SIZE(init_mounts); i++) {
		if (mkdir(init_mounts[i].target, 0755) < 0 && errno != EEXIST)
			return kc_error_set(err, errno, "mkdir `%s`", init_mounts[i].target);
		if (mount(init_mounts[i].source, init_mounts[i].target, init_mounts[i].fstype,
			  init_mounts[i].flags, init_mounts[i].data) < 0 && errno != EBUSY)
			return kc_error_set(err, errno, "mount %s on `%s`", init_mounts[i].fstype,
					    init_mounts[i].target);
	}
	return 0;
}

void kc_agent_init_poweroff(void)
{
	sync();
	reboot(RB_POWER_OFF);
}

static int apply(struct kc_agent_cmdline *out, const char *word, kc_error_t *err)
{
	const char *eq = strchr(word, '=');
	size_t klen = eq ? (size_t)(eq - word) : strlen(word);
	const char *val = eq ? eq + 1 : NULL;

	if (strncmp(word, "agent.", 6) != 0)
		return 0;
	if (klen == strlen("agent.log") && strncmp(word, "agent.log", klen) == 0) {
		if (!val || kc_log_parse_level(val, &out->log_level, err) < 0) {
			if (*err)
				return kc_error_wrap(err, "kernel command line agent.log");
			return kc_error_set(err, EINVAL, "kernel command line: agent.log needs a level");
		}
		out->log_level_set = true;
	} else if (klen == strlen("agent.debug_console") &&
		   strncmp(word, "agent.debug_console", klen) == 0) {
		out->debug_console = !val || strcmp(val, "1") == 0 || strcmp(val, "true") == 0;
	} else if (klen == strlen("agent.listen") && strncmp(word, "agent.listen", klen) == 0) {
		if (!val || !*val)
			return kc_error_set(err, EINVAL,
					    "kernel command line: agent.listen needs a URI");
		free(out->listen);
		out->listen = kc_xstrdup(val);
	}
	return 0;
}

int kc_agent_cmdline_parse(const char *cmdline, struct kc_agent_cmdline *out, kc_error_t *err)
{
	cleanup_free char *word = kc_xmalloc(strlen(cmdline) + 1);
	const char *p = cmdline;

	memset(out, 0, sizeof(*out));
	while (*p) {
		size_t n = 0;
		bool quoted = false;
		int ret;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		for (; *p && (quoted || (*p != ' ' && *p != '\t' && *p != '\n')); p++) {
			if (*p == '"')
				quoted = !quoted;
			else
				word[n++] = *p;
		}
		word[n] = '\0';
		if (quoted) {
			kc_agent_cmdline_free(out);
			return kc_error_set(err, EINVAL, "kernel command line: unterminated quote");
		}
		ret = apply(out, word, err);
		if (ret < 0) {
			kc_agent_cmdline_free(out);
			return ret;
		}
	}
	return 0;
}

void kc_agent_cmdline_free(struct kc_agent_cmdline *c)
{
	free(c->listen);
	c->listen = NULL;
}
