/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's side of cgroup v2: a cgroup per container, created with the
 * container and removed with it, and the RPCs that work on it
 * (UpdateContainer, StatsContainer, PauseContainer, ResumeContainer,
 * GetOOMEvent).
 *
 * One inotify fd on the agent's loop watches every container's
 * memory.events (an oom_kill count that grows is an OOM event, queued for
 * GetOOMEvent) and cgroup.events (whose "frozen" line answers the held
 * PauseContainer and ResumeContainer calls: freezing completes
 * asynchronously).  GetOOMEvent is a long poll like WaitProcess: held until
 * an event is queued, or answered at once from the queue.
 */
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent.pb-c.h"
#include "cgroup.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/util.h"
#include "cgroup_agent.h"

/* OOM events nobody asked for yet; older ones are dropped past this. */
#define OOM_QUEUE_MAX 64

struct kc_agent_cgroups {
	struct kc_agent *agent;
	char *root;
	bool available; /* root is a cgroup2 mount */
	int ifd; /* inotify */
	struct kc_loop_watch *watch;
	char *oom[OOM_QUEUE_MAX]; /* container ids, oldest first */
	size_t n_oom;
	struct kc_agent_waiter *oom_waiters;
};

struct kc_agent_cgroup {
	struct kc_agent_cgroups *mgr;
	struct kc_cgroup *cg;
	int mem_wd, ev_wd; /* inotify watches, -1 for none */
	uint64_t oom_kills;
	struct kc_agent_waiter *pausers, *resumers;
};

/* ---- held calls ---- */

static void hold(struct kc_agent_waiter **list, struct kc_ttrpc_call *call);

static void held_cancel(struct kc_ttrpc_call *call, void *data)
{
	struct kc_agent_waiter **list = data;

	for (struct kc_agent_waiter **pp = list; *pp; pp = &(*pp)->next) {
		if ((*pp)->call == call) {
			struct kc_agent_waiter *w = *pp;

			*pp = w->next;
			free(w);
			break;
		}
	}
	kc_ttrpc_call_fail(call, KC_TTRPC_CANCELLED, "cancelled");
}

/* Appends at the tail: the oldest call is answered first. */
static void hold(struct kc_agent_waiter **list, struct kc_ttrpc_call *call)
{
	struct kc_agent_waiter *w = kc_xzalloc(sizeof(*w)), **pp = list;

	while (*pp)
		pp = &(*pp)->next;
	w->call = call;
	*pp = w;
	kc_ttrpc_call_set_cancel(call, held_cancel, list);
}

static struct kc_ttrpc_call *unhold(struct kc_agent_waiter **list)
{
	struct kc_agent_waiter *w = *list;
	struct kc_ttrpc_call *call = w->call;

	*list = w->next;
	free(w);
	kc_ttrpc_call_set_cancel(call, NULL, NULL);
	return call;
}

static void fail_held(struct kc_agent_waiter **list, int code, const char *msg)
{
	while (*list)
		kc_ttrpc_call_fail(unhold(list), code, "%s", msg);
}

/* ---- events ---- */

static void oom_serve(struct kc_agent_cgroups *m)
{
	while (m->n_oom && m->oom_waiters) {
		Grpc__OOMEvent ev = GRPC__OOMEVENT__INIT;
		struct kc_ttrpc_call *call = unhold(&m->oom_waiters);

		ev.container_id = m->oom[0];
		kc_ttrpc_call_reply_msg(call, &ev.base);
		free(m->oom[0]);
		memmove(m->oom, m->oom + 1, --m->n_oom * sizeof(m->oom[0]));
	}
}

static void oom_check(struct kc_agent_cgroups *m, struct kc_agent_container *c)
{
	struct kc_agent_cgroup *g = c->cgroup;
	uint64_t kills = 0;

	if (kc_cgroup_read_key(g->cg, "memory.events", "oom_kill", &kills, NULL) < 0 ||
	    kills <= g->oom_kills)
		return;
	g->oom_kills = kills;
	kc_warn("container %s: OOM killer ran (%llu kills)", c->id, (unsigned long long)kills);
	if (m->n_oom == OOM_QUEUE_MAX) {
		kc_warn("OOM event queue full: dropping the event of %s", m->oom[0]);
		free(m->oom[0]);
		memmove(m->oom, m->oom + 1, --m->n_oom * sizeof(m->oom[0]));
	}
	m->oom[m->n_oom++] = kc_xstrdup(c->id);
	oom_serve(m);
}

static void freeze_check(struct kc_agent_cgroup *g)
{
	cleanup_error kc_error_t err = NULL;
	bool frozen;

	if (!g->pausers && !g->resumers)
		return;
	if (kc_cgroup_frozen(g->cg, &frozen, &err) < 0) {
		fail_held(&g->pausers, KC_TTRPC_INTERNAL, err->msg);
		fail_held(&g->resumers, KC_TTRPC_INTERNAL, err->msg);
		return;
	}
	while (frozen && g->pausers)
		kc_ttrpc_call_reply_msg(unhold(&g->pausers), NULL);
	while (!frozen && g->resumers)
		kc_ttrpc_call_reply_msg(unhold(&g->resumers), NULL);
}

static void on_inotify(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	struct kc_agent_cgroups *m = data;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	(void)w;
	(void)events;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			for (struct kc_agent_container *c = m->agent->containers; c; c = c->next) {
				if (!c->cgroup)
					continue;
				if (ev->wd == c->cgroup->mem_wd)
					oom_check(m, c);
				else if (ev->wd == c->cgroup->ev_wd)
					freeze_check(c->cgroup);
			}
			p += sizeof(*ev) + ev->len;
		}
	}
}

/* ---- lifecycle ---- */

int kc_agent_cgroups_init(struct kc_agent *a, const char *root, kc_error_t *err)
{
	struct kc_agent_cgroups *m = kc_xzalloc(sizeof(*m));
	int ret;

	m->agent = a;
	m->root = kc_xstrdup(root);
	m->available = kc_cgroup_is_cgroup2(root);
	m->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (m->ifd < 0) {
		ret = kc_error_set(err, errno, "inotify_init1");
		goto fail;
	}
	ret = kc_loop_watch_fd(a->loop, m->ifd, EPOLLIN, on_inotify, m, &m->watch, err);
	if (ret < 0)
		goto fail;
	if (!m->available)
		kc_info("no cgroup2 at %s: containers run without cgroups", root);
	a->cgroups = m;
	return 0;
fail:
	if (m->ifd >= 0)
		close(m->ifd);
	free(m->root);
	free(m);
	return ret;
}

void kc_agent_cgroups_free(struct kc_agent *a)
{
	struct kc_agent_cgroups *m = a->cgroups;

	if (!m)
		return;
	fail_held(&m->oom_waiters, KC_TTRPC_UNAVAILABLE, "agent shutting down");
	for (size_t i = 0; i < m->n_oom; i++)
		free(m->oom[i]);
	if (m->watch)
		kc_loop_watch_remove(m->watch);
	close(m->ifd);
	free(m->root);
	free(m);
	a->cgroups = NULL;
}

static int precondition(kc_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int precondition(kc_error_t *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kc_error_setv(err, 0, fmt, ap);
	va_end(ap);
	if (err)
		(*err)->status = EBUSY;
	return -EBUSY;
}

static void watch_files(struct kc_agent_cgroup *g)
{
	cleanup_free char *mem = kc_xasprintf("%s/memory.events", g->cg->path);
	cleanup_free char *ev = kc_xasprintf("%s/cgroup.events", g->cg->path);

	g->mem_wd = g->ev_wd = -1;
	if (kc_cgroup_has(g->cg, "memory.events")) {
		g->mem_wd = inotify_add_watch(g->mgr->ifd, mem, IN_MODIFY);
		if (g->mem_wd < 0)
			kc_warn("inotify on %s: %s: OOM events will be missed", mem,
				strerror(errno));
		kc_cgroup_read_key(g->cg, "memory.events", "oom_kill", &g->oom_kills, NULL);
	}
	g->ev_wd = inotify_add_watch(g->mgr->ifd, ev, IN_MODIFY);
	if (g->ev_wd < 0)
		kc_debug("inotify on %s: %s", ev, strerror(errno));
}

int kc_agent_cgroup_create(struct kc_agent *a, struct kc_agent_container *c, const void *spec,
			   size_t len, kc_error_t *err)
{
	struct kc_agent_cgroups *m = a->cgroups;
	struct kc_cgroup_resources *res = NULL;
	cleanup_json json_t *root = NULL;
	cleanup_free char *rel = NULL;
	struct kc_agent_cgroup *g;
	const json_t *linux_, *path;
	int ret;

	if (!m)
		return 0;
	ret = kc_json_parse(spec, len, "oci spec", &root, err);
	if (ret < 0) {
		(*err)->status = EINVAL;
		return -EINVAL;
	}
	linux_ = json_object_get(root, "linux");
	if (linux_ && !json_is_null(linux_) && !json_is_object(linux_))
		return kc_error_set(err, EINVAL, "oci spec: linux must be an object");
	path = linux_ ? json_object_get(linux_, "cgroupsPath") : NULL;
	if (path && !json_is_null(path) && !json_is_string(path))
		return kc_error_set(err, EINVAL, "oci spec: linux.cgroupsPath must be a string");
	ret = kc_cgroup_resources_parse(linux_ ? json_object_get(linux_, "resources") : NULL,
					"linux.resources", &res, err);
	if (ret < 0)
		return ret;
	if (!m->available) {
		bool empty = kc_cgroup_resources_empty(res);

		kc_cgroup_resources_free(res);
		if (!empty)
			return precondition(err,
					    "cgroup2 is not mounted at `%s`: "
					    "linux.resources cannot be applied",
					    m->root);
		return 0;
	}
	ret = kc_cgroup_path_from_spec(json_is_string(path) ? json_string_value(path) : NULL, c->id,
				       &rel, err);
	if (ret < 0)
		goto out;
	for (struct kc_agent_container *o = a->containers; o; o = o->next) {
		if (o != c && o->cgroup && strcmp(o->cgroup->cg->rel, rel) == 0) {
			ret = kc_error_set(err, EEXIST, "cgroup `%s` is used by container `%s`",
					   rel, o->id);
			goto out;
		}
	}
	g = kc_xzalloc(sizeof(*g));
	g->mgr = m;
	g->mem_wd = g->ev_wd = -1;
	ret = kc_cgroup_create(m->root, rel, &g->cg, err);
	if (ret < 0) {
		free(g);
		goto out;
	}
	c->cgroup = g;
	ret = kc_cgroup_resources_apply(g->cg, res, err);
	if (ret < 0) {
		kc_agent_cgroup_remove(c);
		goto out;
	}
	watch_files(g);
	kc_debug("container %s: cgroup %s", c->id, g->cg->path);
out:
	kc_cgroup_resources_free(res);
	return ret;
}

void kc_agent_cgroup_remove(struct kc_agent_container *c)
{
	struct kc_agent_cgroup *g = c->cgroup;
	cleanup_error kc_error_t err = NULL;
	int ret;

	if (!g)
		return;
	fail_held(&g->pausers, KC_TTRPC_NOT_FOUND, "container removed");
	fail_held(&g->resumers, KC_TTRPC_NOT_FOUND, "container removed");
	if (g->mem_wd >= 0)
		inotify_rm_watch(g->mgr->ifd, g->mem_wd);
	if (g->ev_wd >= 0)
		inotify_rm_watch(g->mgr->ifd, g->ev_wd);
	/* The init process is reaped by now, and with it its pid namespace;
	 * what is left (a container without one) dies within moments of
	 * cgroup.kill.  Zombies do not keep a cgroup busy. */
	for (int tries = 0; (ret = kc_cgroup_destroy(g->cg, &err)) == -EBUSY && tries < 500;
	     tries++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		kc_error_free(&err);
		nanosleep(&ts, NULL);
	}
	if (ret < 0)
		kc_log_error_free(KC_LOG_WARNING, &err, "container %s", c->id);
	kc_cgroup_free(g->cg);
	free(g);
	c->cgroup = NULL;
}

void kc_agent_cgroup_kill(struct kc_agent_container *c)
{
	if (c->cgroup)
		kc_cgroup_kill(c->cgroup->cg);
}

int kc_agent_cgroup_fd(const struct kc_agent_container *c)
{
	return c->cgroup ? c->cgroup->cg->dirfd : -1;
}

/* ---- RPCs ---- */

/* The container and its cgroup, or the call answered with why not. */
static struct kc_agent_cgroup *lookup(struct kc_agent *a, struct kc_ttrpc_call *call,
				      const char *id, struct kc_agent_container **out)
{
	struct kc_agent_container *c = a->containers;

	while (c && strcmp(c->id, id) != 0)
		c = c->next;
	if (!c) {
		kc_ttrpc_call_fail(call, KC_TTRPC_NOT_FOUND, "container `%s` not found", id);
		return NULL;
	}
	if (!c->cgroup) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
				   "container `%s` has no cgroup: cgroup2 is not mounted at `%s`",
				   id, a->cgroups ? a->cgroups->root : "(none)");
		return NULL;
	}
	if (out)
		*out = c;
	return c->cgroup;
}

void kc_agent_h_update_container(struct kc_ttrpc_call *call, const ProtobufCMessage *msg, void *data)
{
	const Grpc__UpdateContainerRequest *req = (const void *)msg;
	struct kc_agent_cgroup *g = lookup(data, call, req->container_id, NULL);
	struct kc_cgroup_resources *res = NULL;
	cleanup_error kc_error_t err = NULL;
	cleanup_json json_t *j = NULL;

	if (!g)
		return;
	if (kc_json_parse((const char *)req->resources_json.data, req->resources_json.len,
			  "resources", &j, &err) < 0) {
		err->status = EINVAL;
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	if (kc_cgroup_resources_parse(j, "resources", &res, &err) < 0 ||
	    kc_cgroup_resources_apply(g->cg, res, &err) < 0) {
		kc_cgroup_resources_free(res);
		kc_error_wrap(&err, "container `%s`", req->container_id);
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	kc_cgroup_resources_free(res);
	kc_ttrpc_call_reply_msg(call, NULL);
}

void kc_agent_h_stats_container(struct kc_ttrpc_call *call, const ProtobufCMessage *msg, void *data)
{
	const Grpc__StatsContainerRequest *req = (const void *)msg;
	struct kc_agent_cgroup *g = lookup(data, call, req->container_id, NULL);
	Grpc__StatsContainerResponse resp = GRPC__STATS_CONTAINER_RESPONSE__INIT;
	cleanup_error kc_error_t err = NULL;

	if (!g)
		return;
	if (kc_cgroup_stats(g->cg, &resp.cgroup_stats, &err) < 0) {
		kc_error_wrap(&err, "stats of container `%s`", req->container_id);
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	kc_ttrpc_call_reply_msg(call, &resp.base);
	protobuf_c_message_free_unpacked(&resp.cgroup_stats->base, NULL);
}

static void set_freeze(struct kc_ttrpc_call *call, struct kc_agent *a, const char *id, bool freeze)
{
	struct kc_agent_container *c = NULL;
	struct kc_agent_cgroup *g = lookup(a, call, id, &c);
	cleanup_error kc_error_t err = NULL;

	if (!g)
		return;
	if (c->state != KC_AGENT_RUNNING) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
				   "container `%s` is not running", id);
		return;
	}
	if (g->ev_wd < 0) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
				   "cgroup `%s` has no cgroup.events to follow the freezer",
				   g->cg->path);
		return;
	}
	if (kc_cgroup_set_freeze(g->cg, freeze, &err) < 0) {
		kc_error_wrap(&err, "%s container `%s`", freeze ? "pausing" : "resuming", id);
		kc_ttrpc_call_fail_error(call, &err);
		return;
	}
	/* Answered once cgroup.events agrees (maybe at once). */
	hold(freeze ? &g->pausers : &g->resumers, call);
	freeze_check(g);
}

void kc_agent_h_pause_container(struct kc_ttrpc_call *call, const ProtobufCMessage *msg, void *data)
{
	set_freeze(call, data, ((const Grpc__PauseContainerRequest *)msg)->container_id, true);
}

void kc_agent_h_resume_container(struct kc_ttrpc_call *call, const ProtobufCMessage *msg, void *data)
{
	set_freeze(call, data, ((const Grpc__ResumeContainerRequest *)msg)->container_id, false);
}

void kc_agent_h_get_oom_event(struct kc_ttrpc_call *call, const ProtobufCMessage *msg, void *data)
{
	struct kc_agent *a = data;
	struct kc_agent_cgroups *m = a->cgroups;

	(void)msg;
	if (!m || !m->available) {
		kc_ttrpc_call_fail(call, KC_TTRPC_FAILED_PRECONDITION,
				   "no OOM events: cgroup2 is not mounted at `%s`",
				   m ? m->root : "(none)");
		return;
	}
	hold(&m->oom_waiters, call);
	oom_serve(m);
}
