/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.json: the document, process, root, mounts, hooks, annotations.
 * The linux section is in linux.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "lib/json.h"
#include "lib/util.h"
#include "parse.h"
#include "spec.h"

/* Kernels accept at most this many arguments anyway; a bigger array is an
 * attack on the agent's memory, not a program. */
#define MAX_LIST 65536

static int check_list_size(struct kc_oci_ctx *c, const char *key, json_t *arr)
{
	if (arr && json_array_size(arr) > MAX_LIST)
		return kc_oci_fail_key(c, key, "more than %d entries", MAX_LIST);
	return 0;
}

/* ---- process ---- */

static int parse_caps(struct kc_oci_ctx *c, json_t *obj, struct kc_oci_process *p)
{
	static const char *const sets[] = {
		[KC_OCI_CAP_BOUNDING] = "bounding",	  [KC_OCI_CAP_EFFECTIVE] = "effective",
		[KC_OCI_CAP_INHERITABLE] = "inheritable", [KC_OCI_CAP_PERMITTED] = "permitted",
		[KC_OCI_CAP_AMBIENT] = "ambient",
	};

	p->has_caps = true;
	for (int s = 0; s < KC_OCI_CAP_NSETS; s++) {
		cleanup_strv char **names = NULL;
		size_t old;
		int ret = kc_oci_get_strv(c, obj, sets[s], &names);

		if (ret < 0)
			return ret;
		old = kc_oci_push_key(c, sets[s]);
		for (size_t i = 0; names[i]; i++) {
			int cap = kc_oci_cap_from_name(names[i]);

			if (cap < 0) {
				kc_oci_push_index(c, i);
				ret = kc_oci_fail(c, "unknown capability \"%s\"", names[i]);
				kc_oci_pop(c, old);
				return ret;
			}
			p->caps[s] |= 1ull << cap;
		}
		kc_oci_pop(c, old);
	}
	return 0;
}

static int parse_rlimits(struct kc_oci_ctx *c, json_t *arr, struct kc_oci_process *p)
{
	size_t n = json_array_size(arr);

	p->rlimits = kc_xzalloc((n ? n : 1) * sizeof(*p->rlimits));
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(arr, i);
		struct kc_oci_rlimit *r = &p->rlimits[i];
		cleanup_free char *type = NULL;
		size_t old = kc_oci_push_index(c, i);
		int ret;

		if (!json_is_object(o)) {
			ret = kc_oci_fail(c, "must be an object");
			goto out;
		}
		ret = kc_oci_get_string(c, o, "type", &type);
		if (ret == 0)
			ret = kc_oci_fail_key(c, "type", "missing");
		if (ret < 0)
			goto out;
		r->resource = kc_oci_rlimit_from_name(type);
		if (r->resource < 0) {
			ret = kc_oci_fail_key(c, "type", "unknown rlimit \"%s\"", type);
			goto out;
		}
		for (size_t j = 0; j < i; j++)
			if (p->rlimits[j].resource == r->resource) {
				ret = kc_oci_fail_key(c, "type", "rlimit \"%s\" given twice", type);
				goto out;
			}
		if ((ret = kc_oci_get_u64(c, o, "soft", &r->soft)) == 0)
			ret = kc_oci_fail_key(c, "soft", "missing");
		if (ret < 0)
			goto out;
		if ((ret = kc_oci_get_u64(c, o, "hard", &r->hard)) == 0)
			ret = kc_oci_fail_key(c, "hard", "missing");
		if (ret < 0)
			goto out;
		if (r->soft > r->hard) {
			ret = kc_oci_fail(c, "soft limit %llu above hard limit %llu",
					  (unsigned long long)r->soft, (unsigned long long)r->hard);
			goto out;
		}
		p->n_rlimits++;
		ret = 0;
out:
		kc_oci_pop(c, old);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int parse_user(struct kc_oci_ctx *c, json_t *u, struct kc_oci_user *user)
{
	json_t *gids = NULL;
	int ret;

	/* runc's range: setresuid(-1) changes nothing, and a process asked
	 * to be 4294967295 would go on as root. */
	if ((ret = kc_oci_get_id(c, u, "uid", &user->uid)) < 0 ||
	    (ret = kc_oci_get_id(c, u, "gid", &user->gid)) < 0)
		return ret;
	ret = kc_oci_get_u32(c, u, "umask", &user->umask);
	if (ret < 0)
		return ret;
	if (ret > 0 && user->umask > 0777)
		return kc_oci_fail_key(c, "umask", "%#o is not a umask", user->umask);
	user->has_umask = ret > 0;
	if (kc_oci_field(u, "username") && !json_is_string(kc_oci_field(u, "username")))
		return kc_oci_fail_key(c, "username", "must be a string");
	ret = kc_oci_get_array(c, u, "additionalGids", &gids);
	if (ret < 0)
		return ret;
	if (gids) {
		size_t n = json_array_size(gids), old = kc_oci_push_key(c, "additionalGids");

		if (n > MAX_LIST) {
			ret = kc_oci_fail(c, "more than %d entries", MAX_LIST);
			kc_oci_pop(c, old);
			return ret;
		}
		user->additional_gids = kc_xzalloc((n ? n : 1) * sizeof(uint32_t));
		for (size_t i = 0; i < n; i++) {
			json_t *g = json_array_get(gids, i);

			if (!json_is_integer(g) || json_integer_value(g) < 0 ||
			    json_integer_value(g) > (json_int_t)KC_OCI_ID_MAX) {
				kc_oci_push_index(c, i);
				ret = kc_oci_fail(c, "must be an id from 0 to %u", KC_OCI_ID_MAX);
				kc_oci_pop(c, old);
				return ret;
			}
			user->additional_gids[user->n_additional_gids++] = (uint32_t)
				json_integer_value(g);
		}
		kc_oci_pop(c, old);
	}
	return 0;
}

int kc_oci_parse_process(struct kc_oci_ctx *c, json_t *j, struct kc_oci_process *p)
{
	json_t *o = NULL, *arr = NULL;
	int64_t adj;
	int ret;

	if ((ret = kc_oci_get_bool(c, j, "terminal", &p->terminal)) < 0)
		return ret;
	if ((ret = kc_oci_get_object(c, j, "consoleSize", &o)) < 0)
		return ret;
	if (o) {
		size_t old = kc_oci_push_key(c, "consoleSize");

		p->has_console_size = true;
		if ((ret = kc_oci_get_u32(c, o, "height", &p->console_height)) >= 0)
			ret = kc_oci_get_u32(c, o, "width", &p->console_width);
		kc_oci_pop(c, old);
		if (ret < 0)
			return ret;
		if (p->console_height > 65535 || p->console_width > 65535)
			return kc_oci_fail_key(c, "consoleSize", "larger than 65535");
	}
	o = NULL;
	if ((ret = kc_oci_get_object(c, j, "user", &o)) < 0)
		return ret;
	if (o) {
		size_t old = kc_oci_push_key(c, "user");

		ret = parse_user(c, o, &p->user);
		kc_oci_pop(c, old);
		if (ret < 0)
			return ret;
	}
	if ((ret = kc_oci_get_array(c, j, "args", &arr)) < 0 ||
	    (ret = check_list_size(c, "args", arr)) < 0)
		return ret;
	if ((ret = kc_oci_get_strv(c, j, "args", &p->args)) < 0)
		return ret;
	if (!p->args[0])
		return kc_oci_fail_key(c, "args", "%s", ret ? "is empty" : "is missing");
	if (!p->args[0][0])
		return kc_oci_fail_key(c, "args", "args[0] is an empty string");
	arr = NULL;
	if ((ret = kc_oci_get_array(c, j, "env", &arr)) < 0 ||
	    (ret = check_list_size(c, "env", arr)) < 0)
		return ret;
	if ((ret = kc_oci_get_strv(c, j, "env", &p->env)) < 0)
		return ret;
	for (size_t i = 0; p->env[i]; i++)
		if (!strchr(p->env[i], '=') || p->env[i][0] == '=') {
			size_t old = kc_oci_push_key(c, "env");

			kc_oci_push_index(c, i);
			ret = kc_oci_fail(c, "\"%s\" is not NAME=VALUE", p->env[i]);
			kc_oci_pop(c, old);
			return ret;
		}
	ret = kc_oci_get_abs_path(c, j, "cwd", &p->cwd);
	if (ret < 0)
		return ret;
	if (ret == 0)
		p->cwd = kc_xstrdup("/");
	o = NULL;
	if ((ret = kc_oci_get_object(c, j, "capabilities", &o)) < 0)
		return ret;
	if (o) {
		size_t old = kc_oci_push_key(c, "capabilities");

		ret = parse_caps(c, o, p);
		kc_oci_pop(c, old);
		if (ret < 0)
			return ret;
	}
	arr = NULL;
	if ((ret = kc_oci_get_array(c, j, "rlimits", &arr)) < 0 ||
	    (ret = check_list_size(c, "rlimits", arr)) < 0)
		return ret;
	if (arr) {
		size_t old = kc_oci_push_key(c, "rlimits");

		ret = parse_rlimits(c, arr, p);
		kc_oci_pop(c, old);
		if (ret < 0)
			return ret;
	}
	if ((ret = kc_oci_get_bool(c, j, "noNewPrivileges", &p->no_new_privileges)) < 0)
		return ret;
	p->has_no_new_privileges = ret > 0;
	ret = kc_oci_get_i64(c, j, "oomScoreAdj", -1000, &adj);
	if (ret < 0)
		return ret;
	if (ret > 0) {
		if (adj > 1000)
			return kc_oci_fail_key(c, "oomScoreAdj", "%lld is above 1000",
					       (long long)adj);
		p->has_oom_score_adj = true;
		p->oom_score_adj = (int)adj;
	}
	/* Known fields the guest does not act on, checked for their type. */
	{
		char *s = NULL;

		if ((ret = kc_oci_get_string(c, j, "apparmorProfile", &s)) >= 0) {
			free(s);
			s = NULL;
			ret = kc_oci_get_string(c, j, "selinuxLabel", &s);
			free(s);
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

void kc_oci_process_clear(struct kc_oci_process *p)
{
	kc_free_strv(p->args);
	kc_free_strv(p->env);
	free(p->cwd);
	free(p->rlimits);
	free(p->user.additional_gids);
	memset(p, 0, sizeof(*p));
}

void kc_oci_process_free(struct kc_oci_process *p)
{
	if (!p)
		return;
	kc_oci_process_clear(p);
	free(p);
}

int kc_oci_process_parse(const char *buf, size_t len, struct kc_oci_process **out, kc_error_t *err)
{
	struct kc_oci_ctx c = { .err = err };
	cleanup_json json_t *j = NULL;
	struct kc_oci_process *p;
	int ret = kc_oci_load(buf, len, "oci process", &j, err);

	if (ret < 0)
		return ret;
	p = kc_xzalloc(sizeof(*p));
	kc_oci_push_key(&c, "process");
	ret = kc_oci_parse_process(&c, j, p);
	if (ret < 0) {
		kc_oci_process_free(p);
		return ret;
	}
	*out = p;
	return 0;
}

/* ---- mounts ---- */

static const struct {
	const char *name;
	unsigned long set, clear;
} mount_flags[] = {
	{ "defaults", 0, 0 },
	{ "ro", MS_RDONLY, 0 },
	{ "rw", 0, MS_RDONLY },
	{ "nosuid", MS_NOSUID, 0 },
	{ "suid", 0, MS_NOSUID },
	{ "nodev", MS_NODEV, 0 },
	{ "dev", 0, MS_NODEV },
	{ "noexec", MS_NOEXEC, 0 },
	{ "exec", 0, MS_NOEXEC },
	{ "sync", MS_SYNCHRONOUS, 0 },
	{ "async", 0, MS_SYNCHRONOUS },
	{ "dirsync", MS_DIRSYNC, 0 },
	{ "remount", MS_REMOUNT, 0 },
	{ "mand", MS_MANDLOCK, 0 },
	{ "nomand", 0, MS_MANDLOCK },
	{ "atime", 0, MS_NOATIME },
	{ "noatime", MS_NOATIME, 0 },
	{ "diratime", 0, MS_NODIRATIME },
	{ "nodiratime", MS_NODIRATIME, 0 },
	{ "relatime", MS_RELATIME, 0 },
	{ "norelatime", 0, MS_RELATIME },
	{ "strictatime", MS_STRICTATIME, 0 },
	{ "nostrictatime", 0, MS_STRICTATIME },
};

int kc_oci_parse_propagation(const char *s, unsigned long *out)
{
	static const struct {
		const char *name;
		unsigned long flags;
	} props[] = {
		{ "private", MS_PRIVATE },	 { "rprivate", MS_PRIVATE | MS_REC },
		{ "shared", MS_SHARED },	 { "rshared", MS_SHARED | MS_REC },
		{ "slave", MS_SLAVE },		 { "rslave", MS_SLAVE | MS_REC },
		{ "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
	};

	for (size_t i = 0; i < KC_ARRAY_SIZE(props); i++)
		if (strcmp(props[i].name, s) == 0) {
			*out = props[i].flags;
			return 0;
		}
	return -1;
}

static void append_data(char **data, const char *opt)
{
	char *d = *data ? kc_xasprintf("%s,%s", *data, opt) : kc_xstrdup(opt);

	free(*data);
	*data = d;
}

static int parse_mount_options(struct kc_oci_ctx *c, char **opts, struct kc_oci_mount *m)
{
	for (size_t i = 0; opts[i]; i++) {
		const char *o = opts[i];
		unsigned long prop;
		bool known = false;

		for (size_t k = 0; k < KC_ARRAY_SIZE(mount_flags); k++)
			if (strcmp(mount_flags[k].name, o) == 0) {
				m->flags = (m->flags | mount_flags[k].set) & ~mount_flags[k].clear;
				known = true;
			}
		if (known)
			continue;
		if (strcmp(o, "bind") == 0 || strcmp(o, "rbind") == 0) {
			m->bind = true;
			m->recursive |= o[0] == 'r';
		} else if (kc_oci_parse_propagation(o, &prop) == 0) {
			m->propagation = prop;
		} else if (!o[0] || strchr(o, ',')) {
			size_t old = kc_oci_push_key(c, "options");
			int ret;

			kc_oci_push_index(c, i);
			ret = kc_oci_fail(c, "\"%s\" is not a mount option", o);
			kc_oci_pop(c, old);
			return ret;
		} else if (strcmp(o, "tmpcopyup") == 0 || strcmp(o, "rro") == 0 ||
			   strncmp(o, "idmap", 5) == 0) {
			/* Runtime extensions (crun, runc) the guest does not do:
			 * refused rather than handed to the kernel as data. */
			size_t old = kc_oci_push_key(c, "options");
			int ret;

			kc_oci_push_index(c, i);
			ret = kc_oci_fail(c, "mount option \"%s\" is not supported", o);
			kc_oci_pop(c, old);
			return ret;
		} else {
			append_data(&m->data, o);
		}
	}
	return 0;
}

static int parse_mount(struct kc_oci_ctx *c, json_t *o, struct kc_oci_mount *m)
{
	cleanup_strv char **opts = NULL;
	int ret;

	if (!json_is_object(o))
		return kc_oci_fail(c, "must be an object");
	ret = kc_oci_get_abs_path(c, o, "destination", &m->destination);
	if (ret == 0)
		ret = kc_oci_fail_key(c, "destination", "missing");
	if (ret < 0)
		return ret;
	if ((ret = kc_oci_get_string(c, o, "type", &m->type)) < 0 ||
	    (ret = kc_oci_get_string(c, o, "source", &m->source)) < 0 ||
	    (ret = kc_oci_get_strv(c, o, "options", &opts)) < 0)
		return ret;
	/* uidMappings/gidMappings of idmapped mounts: not done here. */
	if (kc_oci_field(o, "uidMappings") || kc_oci_field(o, "gidMappings"))
		return kc_oci_fail_key(c, "uidMappings", "idmapped mounts are not supported");
	ret = parse_mount_options(c, opts, m);
	if (ret < 0)
		return ret;
	if (!m->type || !m->type[0] || strcmp(m->type, "none") == 0) {
		if (!m->bind)
			return kc_oci_fail_key(c, "type", "missing, and the mount is no bind mount");
		free(m->type);
		m->type = kc_xstrdup("bind");
	} else if (strcmp(m->type, "bind") == 0) {
		m->bind = true;
	}
	for (const char *t = m->type; *t; t++)
		if (!(*t >= 'a' && *t <= 'z') && !(*t >= '0' && *t <= '9') && !strchr("._-", *t))
			return kc_oci_fail_key(c, "type", "\"%s\" is not a filesystem type",
					       m->type);
	if (m->bind && (!m->source || m->source[0] != '/'))
		return kc_oci_fail_key(c, "source", "a bind mount needs an absolute source");
	return 0;
}

static int parse_mounts(struct kc_oci_ctx *c, json_t *arr, struct kc_oci_spec *s)
{
	size_t n = json_array_size(arr);

	s->mounts = kc_xzalloc((n ? n : 1) * sizeof(*s->mounts));
	for (size_t i = 0; i < n; i++) {
		size_t old = kc_oci_push_index(c, i);
		int ret;

		s->n_mounts++;
		ret = parse_mount(c, json_array_get(arr, i), &s->mounts[i]);
		kc_oci_pop(c, old);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ---- hooks ---- */

static int parse_hook(struct kc_oci_ctx *c, json_t *o, struct kc_oci_hook *h)
{
	int64_t timeout = 0;
	int ret;

	if (!json_is_object(o))
		return kc_oci_fail(c, "must be an object");
	ret = kc_oci_get_abs_path(c, o, "path", &h->path);
	if (ret == 0)
		ret = kc_oci_fail_key(c, "path", "missing");
	if (ret < 0)
		return ret;
	if ((ret = kc_oci_get_strv(c, o, "args", &h->args)) < 0 ||
	    (ret = kc_oci_get_strv(c, o, "env", &h->env)) < 0)
		return ret;
	ret = kc_oci_get_i64(c, o, "timeout", 1, &timeout);
	if (ret < 0)
		return ret;
	if (timeout > 3600)
		return kc_oci_fail_key(c, "timeout", "%lld s is more than an hour",
				       (long long)timeout);
	h->timeout = (int)timeout;
	return 0;
}

static int parse_hooks(struct kc_oci_ctx *c, json_t *o, struct kc_oci_spec *s)
{
	for (int k = 0; k < KC_OCI_HOOK_NKINDS; k++) {
		const char *name = kc_oci_hook_kind_name(k);
		json_t *arr = NULL;
		size_t n, old;
		int ret = kc_oci_get_array(c, o, name, &arr);

		if (ret < 0 || (ret = check_list_size(c, name, arr)) < 0)
			return ret;
		if (!arr)
			continue;
		n = json_array_size(arr);
		s->hooks[k] = kc_xzalloc((n ? n : 1) * sizeof(struct kc_oci_hook));
		old = kc_oci_push_key(c, name);
		for (size_t i = 0; i < n; i++) {
			size_t o2 = kc_oci_push_index(c, i);

			s->n_hooks[k]++;
			ret = parse_hook(c, json_array_get(arr, i), &s->hooks[k][i]);
			kc_oci_pop(c, o2);
			if (ret < 0) {
				kc_oci_pop(c, old);
				return ret;
			}
		}
		kc_oci_pop(c, old);
	}
	return 0;
}

/* ---- the document ---- */

static int parse_spec(struct kc_oci_ctx *c, json_t *j, struct kc_oci_spec *s)
{
	json_t *o = NULL, *arr = NULL;
	int ret;

	if ((ret = kc_oci_get_string(c, j, "ociVersion", &s->oci_version)) < 0)
		return ret;
	if ((ret = kc_oci_get_object(c, j, "process", &o)) < 0)
		return ret;
	if (o) {
		size_t old = kc_oci_push_key(c, "process");

		s->process = kc_xzalloc(sizeof(*s->process));
		ret = kc_oci_parse_process(c, o, s->process);
		kc_oci_pop(c, old);
		if (ret < 0)
			return ret;
	}
	o = NULL;
	if ((ret = kc_oci_get_object(c, j, "root", &o)) < 0)
		return ret;
	if (o) {
		size_t old = kc_oci_push_key(c, "root");

		ret = kc_oci_get_string(c, o, "path", &s->root_path);
		if (ret == 0)
			ret = kc_oci_fail_key(c, "path", "missing");
		if (ret > 0)
			ret = kc_oci_get_bool(c, o, "readonly", &s->root_readonly);
		kc_oci_pop(c, old);
		if (ret < 0)
			return ret;
	}
	if ((ret = kc_oci_get_string(c, j, "hostname", &s->hostname)) < 0 ||
	    (ret = kc_oci_get_string(c, j, "domainname", &s->domainname)) < 0)
		return ret;
	if (s->hostname && strlen(s->hostname) > 64)
		return kc_oci_fail_key(c, "hostname", "longer than 64 bytes");
	if (s->domainname && strlen(s->domainname) > 64)
		return kc_oci_fail_key(c, "domainname", "longer than 64 bytes");
	if ((ret = kc_oci_get_array(c, j, "mounts", &arr)) < 0 ||
	    (ret = check_list_size(c, "mounts", arr)) < 0)
		return ret;
	if (arr) {
		size_t old = kc_oci_push_key(c, "mounts");

		ret = parse_mounts(c, arr, s);
		kc_oci_pop(c, old);
		if (ret < 0)
			return ret;
	}
	o = NULL;
	if ((ret = kc_oci_get_object(c, j, "hooks", &o)) < 0)
		return ret;
	if (o) {
		size_t old = kc_oci_push_key(c, "hooks");

		ret = parse_hooks(c, o, s);
		kc_oci_pop(c, old);
		if (ret < 0)
			return ret;
	}
	ret = kc_oci_get_string_map(c, j, "annotations", &s->annotation_keys, &s->annotation_values);
	if (ret < 0)
		return ret;
	o = NULL;
	if ((ret = kc_oci_get_object(c, j, "linux", &o)) < 0)
		return ret;
	{
		size_t old = kc_oci_push_key(c, "linux");

		ret = kc_oci_parse_linux(c, o, &s->lnx);
		kc_oci_pop(c, old);
	}
	return ret < 0 ? ret : 0;
}

void kc_oci_spec_free(struct kc_oci_spec *s)
{
	if (!s)
		return;
	free(s->oci_version);
	kc_oci_process_free(s->process);
	free(s->root_path);
	free(s->hostname);
	free(s->domainname);
	for (size_t i = 0; i < s->n_mounts; i++) {
		struct kc_oci_mount *m = &s->mounts[i];

		free(m->destination);
		free(m->type);
		free(m->source);
		free(m->data);
	}
	free(s->mounts);
	for (int k = 0; k < KC_OCI_HOOK_NKINDS; k++) {
		for (size_t i = 0; i < s->n_hooks[k]; i++) {
			free(s->hooks[k][i].path);
			kc_free_strv(s->hooks[k][i].args);
			kc_free_strv(s->hooks[k][i].env);
		}
		free(s->hooks[k]);
	}
	kc_free_strv(s->annotation_keys);
	kc_free_strv(s->annotation_values);
	kc_oci_linux_clear(&s->lnx);
	free(s);
}

int kc_oci_spec_parse(const char *buf, size_t len, struct kc_oci_spec **out, kc_error_t *err)
{
	struct kc_oci_ctx c = { .err = err };
	cleanup_json json_t *j = NULL;
	struct kc_oci_spec *s;
	int ret = kc_oci_load(buf, len, "oci spec", &j, err);

	if (ret < 0)
		return ret;
	s = kc_xzalloc(sizeof(*s));
	ret = parse_spec(&c, j, s);
	if (ret < 0) {
		kc_oci_spec_free(s);
		return ret;
	}
	*out = s;
	return 0;
}
