/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox's state document (state.h, docs/state.md): ownership by
 * flock, the atomic write, the strict read, and the kill that only hits
 * the processes recorded.
 */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "container.h"
#include "lib/json.h"
#include "lib/util.h"
#include "mount.h"
#include "ttrpc/transport.h"

/* A document is a few KiB; anything this large is not ours. */
#define STATE_MAX_SIZE (1024 * 1024)
#define KC_CRI_MAX_LEN 253
#define KILL_WAIT_MS 5000
#define LOCK_RETRIES 5
#define LOCK_RETRY_US 20000

static const char *const status_names[] = {
	[KC_STATE_UNKNOWN] = "UNKNOWN", [KC_STATE_CREATED] = "CREATED",
	[KC_STATE_RUNNING] = "RUNNING", [KC_STATE_STOPPED] = "STOPPED",
	[KC_STATE_PAUSED] = "PAUSED",
};

const char *kc_state_status_name(enum kc_state_status s)
{
	if ((unsigned)s >= KC_ARRAY_SIZE(status_names))
		return NULL;
	return status_names[s];
}

int kc_proc_start_time(pid_t pid, uint64_t *out, kc_error_t *err)
{
	char path[64], buf[1024];
	unsigned long long v;
	cleanup_close int fd = -1;
	char *p, *save = NULL, *tok;
	ssize_t n;
	int field = 2;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kc_error_set(err, errno, "open `%s`", path);
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return kc_error_set(err, errno, "read `%s`", path);
	buf[n] = '\0';
	/* comm (field 2) may hold blanks and parentheses: the fields that
	 * follow start after its last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return kc_error_set(err, EINVAL, "`%s`: no command name", path);
	for (tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (++field < 22)
			continue;
		if (!kc_parse_u64(tok, &v))
			return kc_error_set(err, EINVAL, "`%s`: field 22 `%s` is not a number",
					    path, tok);
		*out = v;
		return 0;
	}
	return kc_error_set(err, EINVAL, "`%s`: fewer than 22 fields", path);
}

/* ---- ownership ---- */

/* The state dir itself, never through a symbolic link. */
static int open_dir(const char *dir, kc_error_t *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat sb;

	if (fd >= 0)
		return fd;
	if ((errno == ENOTDIR || errno == ELOOP) && lstat(dir, &sb) == 0 && S_ISLNK(sb.st_mode))
		return kc_error_set(err, ENOTDIR, "open `%s`: a symbolic link, not a directory",
				    dir);
	return kc_error_set(err, errno, "open `%s`", dir);
}

static int open_lock(const char *dir, bool create, kc_error_t *err)
{
	cleanup_free char *path = kc_xasprintf("%s/%s", dir, KC_STATE_LOCK);
	cleanup_close int dfd = open_dir(dir, err);
	int fd;

	if (dfd < 0)
		return dfd;
	fd = openat(dfd, KC_STATE_LOCK, O_RDWR | O_NOFOLLOW | O_CLOEXEC | (create ? O_CREAT : 0),
		    0600);
	if (fd < 0)
		return kc_error_set(err, errno, "open `%s`", path);
	return fd;
}

/* Whether someone holds dir's lock (false also when there is none). */
static bool lock_held(const char *dir)
{
	cleanup_error kc_error_t e = NULL;
	cleanup_close int fd = open_lock(dir, false, &e);

	if (fd < 0)
		return false;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0)
		return false;
	return errno == EWOULDBLOCK;
}

int kc_state_claim(const char *dir, int *lock_fd, kc_error_t *err)
{
	cleanup_free char *parent = kc_xstrdup(dir);
	char *slash = strrchr(parent, '/');
	int fd, ret;

	if (slash && slash != parent) {
		*slash = '\0';
		ret = kc_mkdir_p(parent, err);
		if (ret < 0)
			return ret;
	}
	if (mkdir(dir, 0700) < 0) {
		if (errno != EEXIST)
			return kc_error_set(err, errno, "mkdir `%s`", dir);
		return kc_error_set(err, EEXIST, "sandbox state `%s` exists already (%s)", dir,
				    lock_held(dir) ? "its owner is alive"
						   : "left by a dead owner: delete it first");
	}
	fd = open_lock(dir, true, err);
	if (fd < 0)
		return fd;
	/* Nobody else can hold the lock of a dir just made, but a cleaner
	 * that raced us to it would: then it is not ours. */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ret = kc_error_set(err, errno, "lock `%s/%s`", dir, KC_STATE_LOCK);
		close(fd);
		return ret;
	}
	*lock_fd = fd;
	return 0;
}

int kc_state_lock(const char *dir, int *lock_fd, kc_error_t *err)
{
	int fd = open_lock(dir, true, err);

	if (fd < 0)
		return fd;
	/* A reader asking lock_held() holds a shared lock for a moment: a
	 * few short retries ride over it, an owner holds it for good. */
	for (int i = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; i++) {
		int e = errno;

		if (e == EWOULDBLOCK && i < LOCK_RETRIES) {
			usleep(LOCK_RETRY_US);
			continue;
		}
		close(fd);
		if (e == EWOULDBLOCK)
			return kc_error_set(err, EBUSY, "`%s/%s` is held: the sandbox has an owner",
					    dir, KC_STATE_LOCK);
		return kc_error_set(err, e, "lock `%s/%s`", dir, KC_STATE_LOCK);
	}
	*lock_fd = fd;
	return 0;
}

bool kc_state_owner_alive(const char *dir, const struct kc_sandbox_state *st)
{
	cleanup_error kc_error_t e = NULL;
	uint64_t start;

	if (!lock_held(dir))
		return false;
	if (!st)
		return true;
	return kc_proc_start_time(st->owner_pid, &start, &e) == 0 && start == st->owner_start_time;
}

/* ---- writing ---- */

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *to_json(const struct kc_sandbox_state *st)
{
	json_t *procs = json_array(), *taps = json_array(), *ctrs = json_array();
	json_t *cri = json_null();

	for (size_t i = 0; i < st->n_procs; i++)
		json_array_append_new(procs, json_pack("{s:s, s:i, s:I}", "what", st->procs[i].what,
						       "pid", (int)st->procs[i].pid, "start_time",
						       (json_int_t)st->procs[i].start_time));
	for (size_t i = 0; i < st->n_taps; i++)
		json_array_append_new(taps, json_pack("{s:s, s:s}", "link", st->taps[i].link, "tap",
						      st->taps[i].tap));
	for (size_t i = 0; i < st->n_containers; i++) {
		const struct kc_state_container *c = &st->containers[i];
		json_t *execs = json_array();

		for (size_t j = 0; j < c->n_execs; j++)
			json_array_append_new(
				execs,
				json_pack("{s:s, s:s, s:I}", "id", c->execs[j].id, "status",
					  kc_state_status_name(c->execs[j].status), "exit_status",
					  (json_int_t)c->execs[j].exit_status));
		json_array_append_new(ctrs, json_pack("{s:s, s:s, s:s, s:I, s:o}", "id", c->id,
						      "bundle", c->bundle, "status",
						      kc_state_status_name(c->status), "exit_status",
						      (json_int_t)c->exit_status, "execs", execs));
	}
	if (st->cri_name)
		cri = json_pack("{s:s, s:s, s:o}", "name", st->cri_name, "namespace",
				st->cri_namespace, "uid", str_or_null(st->cri_uid));
	return json_pack("{s:i, s:s, s:{s:i, s:I}, s:o, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o,"
			 " s:{s:o, s:o}, s:o}",
			 "version", KC_STATE_VERSION, "id", st->id, "owner", "pid",
			 (int)st->owner_pid, "start_time", (json_int_t)st->owner_start_time,
			 "processes", procs, "run_dir", st->run_dir, "share_dir", st->share_dir,
			 "qmp_socket", str_or_null(st->qmp_socket), "agent_uri",
			 str_or_null(st->agent_uri), "owner_socket", str_or_null(st->owner_socket),
			 "monitor_socket", str_or_null(st->monitor_socket), "cri", cri, "cgroup",
			 str_or_null(st->cgroup), "network", "netns", str_or_null(st->netns),
			 "taps", taps, "containers", ctrs);
}

static const char *base_name(const char *dir)
{
	const char *s = strrchr(dir, '/');

	return s ? s + 1 : dir;
}

int kc_state_write(const char *dir, const struct kc_sandbox_state *st, kc_error_t *err)
{
	cleanup_free char *path = kc_xasprintf("%s/%s", dir, KC_STATE_FILE);
	cleanup_free char *tmp = kc_xasprintf("%s.tmp.%d", KC_STATE_FILE, (int)getpid());
	cleanup_json json_t *j = NULL;
	cleanup_free char *text = NULL;
	cleanup_close int dfd = -1, fd = -1;
	size_t len, off = 0;
	int ret;

	if (!st->id || strcmp(st->id, base_name(dir)) != 0 || !st->run_dir || !st->share_dir)
		return kc_error_set(err, EINVAL, "`%s`: the state of `%s` is incomplete", path,
				    st->id ? st->id : "");
	j = to_json(st);
	if (!j)
		return kc_error_set(err, EINVAL, "`%s`: a field cannot be encoded", path);
	text = kc_json_dump(j, 0);
	len = strlen(text);
	dfd = open_dir(dir, err);
	if (dfd < 0)
		return dfd;
	/* A temporary file of a dead writer with our pid goes first. */
	unlinkat(dfd, tmp, 0);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return kc_error_set(err, errno, "create `%s/%s`", dir, tmp);
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = kc_error_set(err, errno, "write `%s/%s`", dir, tmp);
			goto fail;
		}
		off += (size_t)n;
	}
	/* No fsync: the state describes processes of this boot (pids, start
	 * times) and /run does not outlive it, so what must hold is that a
	 * reader, or a writer killed half-way, never sees a partial document:
	 * the rename gives that.  (Two fsyncs cost ~15 ms a write where /run
	 * is not a tmpfs, on the shim's loop.) */
	if (renameat(dfd, tmp, dfd, KC_STATE_FILE) < 0) {
		ret = kc_error_set(err, errno, "rename `%s/%s` to `%s`", dir, tmp, path);
		goto fail;
	}
	return 0;
fail:
	unlinkat(dfd, tmp, 0);
	return ret;
}

/* ---- reading ---- */

struct rd {
	const char *path;
	kc_error_t *err;
};

static int bad(struct rd *r, const char *field, const char *why)
{
	return kc_error_set(r->err, EINVAL, "`%s`: field `%s` %s", r->path, field, why);
}

static int bad_id(struct rd *r, const char *field, kc_error_t e)
{
	return kc_error_set(r->err, EINVAL, "`%s`: field `%s` is invalid: %s", r->path, field,
			    e->msg);
}

/* key of o as a string (NULL for JSON null when nullable), copied. */
static int get_str(struct rd *r, const json_t *o, const char *key, const char *field, bool nullable,
		   char **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v)
		return bad(r, field, "is missing");
	if (json_is_null(v) && nullable)
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return bad(r, field,
			   nullable ? "is not a non-empty string or null"
				    : "is not a non-empty string");
	*out = kc_xstrdup(json_string_value(v));
	return 0;
}

static int get_path(struct rd *r, const json_t *o, const char *key, const char *field,
		    bool nullable, char **out)
{
	int ret = get_str(r, o, key, field, nullable, out);

	if (ret < 0 || !*out)
		return ret;
	if ((*out)[0] != '/' || strstr(*out, "/../") || strlen(*out) >= PATH_MAX)
		return bad(r, field, "is not an absolute path");
	return 0;
}

static int get_uint(struct rd *r, const json_t *o, const char *key, const char *field, uint64_t min,
		    uint64_t max, uint64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return bad(r, field, "is missing");
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) < min || (uint64_t)json_integer_value(v) > max) {
		char why[96];

		snprintf(why, sizeof(why), "is not an integer from %llu to %llu",
			 (unsigned long long)min, (unsigned long long)max);
		return bad(r, field, why);
	}
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int get_status(struct rd *r, const json_t *o, const char *field, enum kc_state_status *out)
{
	json_t *v = json_object_get(o, "status");

	if (!v)
		return bad(r, field, "is missing");
	for (size_t i = 0; json_is_string(v) && i < KC_ARRAY_SIZE(status_names); i++) {
		if (strcmp(json_string_value(v), status_names[i]) == 0) {
			*out = (enum kc_state_status)i;
			return 0;
		}
	}
	return bad(r, field, "is not CREATED, RUNNING, STOPPED, PAUSED or UNKNOWN");
}

static int get_array(struct rd *r, const json_t *o, const char *key, const char *field, json_t **out)
{
	*out = json_object_get(o, key);
	if (!*out)
		return bad(r, field, "is missing");
	if (!json_is_array(*out))
		return bad(r, field, "is not an array");
	return 0;
}

static int get_object(struct rd *r, const json_t *o, const char *key, const char *field,
		      json_t **out)
{
	*out = key ? json_object_get(o, key) : (json_t *)o;
	if (!*out)
		return bad(r, field, "is missing");
	if (!json_is_object(*out))
		return bad(r, field, "is not an object");
	return 0;
}

#define FIELD(buf, ...) (snprintf(buf, sizeof(buf), __VA_ARGS__), buf)

static int read_procs(struct rd *r, const json_t *doc, struct kc_sandbox_state *st)
{
	char f[96];
	json_t *a, *o;
	size_t i;
	int ret;

	ret = get_array(r, doc, "processes", "processes", &a);
	if (ret < 0)
		return ret;
	st->procs = kc_xzalloc((json_array_size(a) + 1) * sizeof(*st->procs));
	json_array_foreach(a, i, o)
	{
		struct kc_state_proc *p = &st->procs[i];
		uint64_t v;

		st->n_procs = i + 1;
		ret = get_object(r, o, NULL, FIELD(f, "processes[%zu]", i), &o);
		if (ret >= 0)
			ret = get_str(r, o, "what", FIELD(f, "processes[%zu].what", i), false,
				      &p->what);
		if (ret >= 0)
			ret = get_uint(r, o, "pid", FIELD(f, "processes[%zu].pid", i), 2, INT32_MAX,
				       &v);
		if (ret < 0)
			return ret;
		p->pid = (pid_t)v;
		ret = get_uint(r, o, "start_time", FIELD(f, "processes[%zu].start_time", i), 0,
			       INT64_MAX, &p->start_time);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* A CRI name, namespace or uid: Kubernetes keeps them to DNS names and
 * UUIDs; here only what a reader must not be fed (control characters,
 * unbounded lengths: they end up in metric labels and logs). */
static int get_cri_str(struct rd *r, const json_t *o, const char *key, const char *field,
		       bool nullable, char **out)
{
	int ret = get_str(r, o, key, field, nullable, out);

	if (ret < 0 || !*out)
		return ret;
	if (strlen(*out) > KC_CRI_MAX_LEN)
		return bad(r, field, "is longer than 253 bytes");
	for (const char *c = *out; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return bad(r, field, "holds a control character");
	return 0;
}

static int read_cri(struct rd *r, const json_t *doc, struct kc_sandbox_state *st)
{
	json_t *cri = json_object_get(doc, "cri");
	int ret;

	if (!cri)
		return bad(r, "cri", "is missing");
	if (json_is_null(cri))
		return 0;
	ret = get_object(r, doc, "cri", "cri", &cri);
	if (ret >= 0)
		ret = get_cri_str(r, cri, "name", "cri.name", false, &st->cri_name);
	if (ret >= 0)
		ret = get_cri_str(r, cri, "namespace", "cri.namespace", false, &st->cri_namespace);
	if (ret >= 0)
		ret = get_cri_str(r, cri, "uid", "cri.uid", true, &st->cri_uid);
	return ret;
}

static int read_network(struct rd *r, const json_t *doc, struct kc_sandbox_state *st)
{
	char f[96];
	json_t *net, *a, *o;
	size_t i;
	int ret;

	ret = get_object(r, doc, "network", "network", &net);
	if (ret >= 0)
		ret = get_path(r, net, "netns", "network.netns", true, &st->netns);
	if (ret >= 0)
		ret = get_array(r, net, "taps", "network.taps", &a);
	if (ret < 0)
		return ret;
	st->taps = kc_xzalloc((json_array_size(a) + 1) * sizeof(*st->taps));
	json_array_foreach(a, i, o)
	{
		struct kc_state_tap *t = &st->taps[i];

		st->n_taps = i + 1;
		ret = get_object(r, o, NULL, FIELD(f, "network.taps[%zu]", i), &o);
		if (ret >= 0)
			ret = get_str(r, o, "link", FIELD(f, "network.taps[%zu].link", i), false,
				      &t->link);
		if (ret >= 0)
			ret = get_str(r, o, "tap", FIELD(f, "network.taps[%zu].tap", i), false,
				      &t->tap);
		if (ret < 0)
			return ret;
		if (strlen(t->link) >= IFNAMSIZ || strchr(t->link, '/'))
			return bad(r, FIELD(f, "network.taps[%zu].link", i), "is no interface name");
		if (strlen(t->tap) >= IFNAMSIZ || strchr(t->tap, '/'))
			return bad(r, FIELD(f, "network.taps[%zu].tap", i), "is no interface name");
	}
	if (st->n_taps && !st->netns)
		return bad(r, "network.netns", "is null but there are TAPs");
	return 0;
}

static int read_execs(struct rd *r, const json_t *co, size_t ci, struct kc_state_container *c)
{
	char f[96];
	json_t *a, *o;
	size_t i;
	int ret;

	ret = get_array(r, co, "execs", FIELD(f, "containers[%zu].execs", ci), &a);
	if (ret < 0)
		return ret;
	c->execs = kc_xzalloc((json_array_size(a) + 1) * sizeof(*c->execs));
	json_array_foreach(a, i, o)
	{
		struct kc_state_exec *e = &c->execs[i];
		uint64_t v;

		c->n_execs = i + 1;
		ret = get_object(r, o, NULL, FIELD(f, "containers[%zu].execs[%zu]", ci, i), &o);
		if (ret >= 0)
			ret = get_str(r, o, "id", FIELD(f, "containers[%zu].execs[%zu].id", ci, i),
				      false, &e->id);
		if (ret >= 0)
			ret = get_status(r, o, FIELD(f, "containers[%zu].execs[%zu].status", ci, i),
					 &e->status);
		if (ret >= 0)
			ret = get_uint(r, o, "exit_status",
				       FIELD(f, "containers[%zu].execs[%zu].exit_status", ci, i), 0,
				       UINT32_MAX, &v);
		if (ret < 0)
			return ret;
		e->exit_status = (uint32_t)v;
	}
	return 0;
}

static int read_containers(struct rd *r, const json_t *doc, struct kc_sandbox_state *st)
{
	char f[96];
	json_t *a, *o;
	size_t i;
	int ret;

	ret = get_array(r, doc, "containers", "containers", &a);
	if (ret < 0)
		return ret;
	st->containers = kc_xzalloc((json_array_size(a) + 1) * sizeof(*st->containers));
	json_array_foreach(a, i, o)
	{
		struct kc_state_container *c = &st->containers[i];
		cleanup_error kc_error_t e = NULL;
		uint64_t v;

		st->n_containers = i + 1;
		ret = get_object(r, o, NULL, FIELD(f, "containers[%zu]", i), &o);
		if (ret >= 0)
			ret = get_str(r, o, "id", FIELD(f, "containers[%zu].id", i), false, &c->id);
		if (ret >= 0 && kc_check_id("container id", c->id, &e) < 0)
			ret = bad_id(r, FIELD(f, "containers[%zu].id", i), e);
		if (ret >= 0)
			ret = get_path(r, o, "bundle", FIELD(f, "containers[%zu].bundle", i), false,
				       &c->bundle);
		if (ret >= 0)
			ret = get_status(r, o, FIELD(f, "containers[%zu].status", i), &c->status);
		if (ret >= 0)
			ret = get_uint(r, o, "exit_status",
				       FIELD(f, "containers[%zu].exit_status", i), 0, UINT32_MAX,
				       &v);
		if (ret >= 0)
			ret = read_execs(r, o, i, c);
		if (ret < 0)
			return ret;
		c->exit_status = (uint32_t)v;
	}
	return 0;
}

static int from_json(struct rd *r, const char *dir, const json_t *doc, struct kc_sandbox_state *st)
{
	cleanup_error kc_error_t e = NULL;
	json_t *owner;
	uint64_t v;
	int ret;

	if (!json_is_object(doc))
		return kc_error_set(r->err, EINVAL, "`%s`: not a JSON object", r->path);
	ret = get_uint(r, doc, "version", "version", 0, INT32_MAX, &v);
	if (ret < 0)
		return ret;
	if (v != KC_STATE_VERSION)
		return kc_error_set(r->err, EINVAL, "`%s`: field `version` is %llu, not %d",
				    r->path, (unsigned long long)v, KC_STATE_VERSION);
	ret = get_str(r, doc, "id", "id", false, &st->id);
	if (ret < 0)
		return ret;
	if (kc_check_id("sandbox id", st->id, &e) < 0)
		return bad_id(r, "id", e);
	if (strcmp(st->id, base_name(dir)) != 0)
		return kc_error_set(r->err, EINVAL,
				    "`%s`: field `id` is `%s`, not the directory's `%s`", r->path,
				    st->id, base_name(dir));
	ret = get_object(r, doc, "owner", "owner", &owner);
	if (ret >= 0)
		ret = get_uint(r, owner, "pid", "owner.pid", 2, INT32_MAX, &v);
	if (ret < 0)
		return ret;
	st->owner_pid = (pid_t)v;
	ret = get_uint(r, owner, "start_time", "owner.start_time", 0, INT64_MAX,
		       &st->owner_start_time);
	if (ret >= 0)
		ret = read_procs(r, doc, st);
	if (ret >= 0)
		ret = get_path(r, doc, "run_dir", "run_dir", false, &st->run_dir);
	if (ret >= 0)
		ret = get_path(r, doc, "share_dir", "share_dir", false, &st->share_dir);
	if (ret >= 0)
		ret = get_path(r, doc, "qmp_socket", "qmp_socket", true, &st->qmp_socket);
	if (ret >= 0)
		ret = get_str(r, doc, "agent_uri", "agent_uri", true, &st->agent_uri);
	if (ret >= 0)
		ret = get_str(r, doc, "owner_socket", "owner_socket", true, &st->owner_socket);
	if (ret >= 0)
		ret = get_path(r, doc, "monitor_socket", "monitor_socket", true,
			       &st->monitor_socket);
	if (ret >= 0)
		ret = read_cri(r, doc, st);
	if (ret >= 0)
		ret = get_path(r, doc, "cgroup", "cgroup", true, &st->cgroup);
	if (ret >= 0)
		ret = read_network(r, doc, st);
	if (ret >= 0)
		ret = read_containers(r, doc, st);
	return ret;
}

int kc_state_read(const char *dir, struct kc_sandbox_state *st, kc_error_t *err)
{
	cleanup_free char *path = kc_xasprintf("%s/%s", dir, KC_STATE_FILE);
	cleanup_close int dfd = -1, fd = -1;
	cleanup_free char *buf = NULL;
	cleanup_json json_t *doc = NULL;
	struct rd r = { path, err };
	struct stat sb;
	size_t len = 0;
	int ret;

	memset(st, 0, sizeof(*st));
	dfd = open_dir(dir, err);
	if (dfd < 0)
		return dfd;
	/* O_NONBLOCK: a FIFO planted there must not hang the reader. */
	fd = openat(dfd, KC_STATE_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return kc_error_set(err, errno, "open `%s`%s", path,
				    errno == ELOOP ? " (a symbolic link)" : "");
	if (fstat(fd, &sb) < 0)
		return kc_error_set(err, errno, "stat `%s`", path);
	if (!S_ISREG(sb.st_mode))
		return kc_error_set(err, EINVAL, "`%s` is not a regular file", path);
	if (sb.st_uid != 0)
		return kc_error_set(err, EPERM, "`%s` is owned by uid %u, not root", path,
				    (unsigned)sb.st_uid);
	if (sb.st_mode & 022)
		return kc_error_set(err, EPERM, "`%s` is writable by others (mode %04o)", path,
				    (unsigned)(sb.st_mode & 07777));
	if (sb.st_size > STATE_MAX_SIZE)
		return kc_error_set(err, EFBIG, "`%s` is larger than %d bytes", path,
				    STATE_MAX_SIZE);
	buf = kc_xmalloc((size_t)sb.st_size + 1);
	while (len < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)sb.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kc_error_set(err, errno, "read `%s`", path);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	ret = kc_json_parse(buf, len, path, &doc, err);
	if (ret >= 0)
		ret = from_json(&r, dir, doc, st);
	if (ret < 0)
		kc_state_clear(st);
	return ret;
}

void kc_state_clear(struct kc_sandbox_state *st)
{
	for (size_t i = 0; i < st->n_procs; i++)
		free(st->procs[i].what);
	for (size_t i = 0; i < st->n_taps; i++) {
		free(st->taps[i].link);
		free(st->taps[i].tap);
	}
	for (size_t i = 0; i < st->n_containers; i++) {
		struct kc_state_container *c = &st->containers[i];

		for (size_t j = 0; j < c->n_execs; j++)
			free(c->execs[j].id);
		free(c->execs);
		free(c->id);
		free(c->bundle);
	}
	free(st->procs);
	free(st->taps);
	free(st->containers);
	free(st->id);
	free(st->run_dir);
	free(st->share_dir);
	free(st->qmp_socket);
	free(st->agent_uri);
	free(st->owner_socket);
	free(st->cgroup);
	free(st->netns);
	free(st->cri_name);
	free(st->cri_namespace);
	free(st->cri_uid);
	free(st->monitor_socket);
	memset(st, 0, sizeof(*st));
}

/* ---- killing, removing ---- */

int kc_state_kill(const struct kc_state_proc *p, int sig, kc_error_t *err)
{
	cleanup_error kc_error_t e = NULL;
	cleanup_close int fd = -1;
	struct pollfd pfd;
	uint64_t start;

	if (p->pid < 2)
		return 0;
	fd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	if (fd < 0) {
		if (errno == ESRCH)
			return 0;
		return kc_error_set(err, errno, "pidfd_open %s (pid %d)", p->what, (int)p->pid);
	}
	/* The pidfd holds the process that has the pid now: if /proc says it
	 * started at the recorded time, it is the recorded one (a recycled
	 * pid starts later), and the signal goes through the pidfd to it. */
	if (kc_proc_start_time(p->pid, &start, &e) < 0)
		return 0;
	if (start != p->start_time)
		return 0;
	if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0) {
		if (errno == ESRCH)
			return 0;
		return kc_error_set(err, errno, "signal %s (pid %d)", p->what, (int)p->pid);
	}
	if (sig != SIGKILL)
		return 1;
	/* Readable once it exited (zombie or gone). */
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&pfd, 1, KILL_WAIT_MS) <= 0)
		return kc_error_set(err, ETIMEDOUT, "%s (pid %d) did not exit after SIGKILL",
				    p->what, (int)p->pid);
	return 1;
}

int kc_state_remove(const char *dir, kc_error_t *err)
{
	return kc_rm_tree(dir, err);
}

int kc_state_open_live(const char *dir, struct kc_loop *loop, struct kc_sandbox_state *st,
		       struct kc_ttrpc_client **client, kc_error_t *err)
{
	int fd, ret;

	ret = kc_state_read(dir, st, err);
	if (ret < 0)
		return ret;
	if (!kc_state_owner_alive(dir, st)) {
		ret = kc_error_set(err, ESRCH, "sandbox `%s`: its owner (pid %d) is not running",
				   st->id, (int)st->owner_pid);
		goto fail;
	}
	if (!st->owner_socket) {
		ret = kc_error_set(err, ENOTCONN, "sandbox `%s`: its owner records no socket",
				   st->id);
		goto fail;
	}
	fd = kc_ttrpc_dial(st->owner_socket, 5 * 1000000000ull, err);
	if (fd < 0) {
		ret = fd;
		goto fail;
	}
	ret = kc_ttrpc_client_new(loop, fd, client, err);
	if (ret < 0)
		goto fail;
	return 0;
fail:
	kc_error_wrap(err, "open the live sandbox of `%s`", dir);
	kc_state_clear(st);
	return ret;
}

/* ---- edits of the owner's document ---- */

static struct kc_state_container *find_container(struct kc_sandbox_state *st, const char *id)
{
	for (size_t i = 0; i < st->n_containers; i++)
		if (strcmp(st->containers[i].id, id) == 0)
			return &st->containers[i];
	return NULL;
}

void kc_state_set_container(struct kc_sandbox_state *st, const char *id, const char *bundle,
			    enum kc_state_status status)
{
	struct kc_state_container *c = find_container(st, id);

	if (!c) {
		st->containers = kc_xrealloc(st->containers,
					     (st->n_containers + 1) * sizeof(*st->containers));
		c = &st->containers[st->n_containers++];
		memset(c, 0, sizeof(*c));
		c->id = kc_xstrdup(id);
	}
	free(c->bundle);
	c->bundle = kc_xstrdup(bundle);
	c->status = status;
}

void kc_state_set_process(struct kc_sandbox_state *st, const char *cid, const char *eid,
			  enum kc_state_status status, uint32_t exit_status)
{
	struct kc_state_container *c = find_container(st, cid);
	struct kc_state_exec *e = NULL;

	if (!c)
		return;
	if (!eid || !eid[0]) {
		c->status = status;
		c->exit_status = exit_status;
		return;
	}
	for (size_t i = 0; i < c->n_execs && !e; i++)
		if (strcmp(c->execs[i].id, eid) == 0)
			e = &c->execs[i];
	if (!e) {
		c->execs = kc_xrealloc(c->execs, (c->n_execs + 1) * sizeof(*c->execs));
		e = &c->execs[c->n_execs++];
		e->id = kc_xstrdup(eid);
	}
	e->status = status;
	e->exit_status = exit_status;
}

void kc_state_drop(struct kc_sandbox_state *st, const char *cid, const char *eid)
{
	struct kc_state_container *c = find_container(st, cid);

	if (!c)
		return;
	if (eid && eid[0]) {
		for (size_t i = 0; i < c->n_execs; i++) {
			if (strcmp(c->execs[i].id, eid) == 0) {
				free(c->execs[i].id);
				c->execs[i] = c->execs[--c->n_execs];
				return;
			}
		}
		return;
	}
	for (size_t j = 0; j < c->n_execs; j++)
		free(c->execs[j].id);
	free(c->execs);
	free(c->id);
	free(c->bundle);
	*c = st->containers[--st->n_containers];
}
