/* SPDX-License-Identifier: Apache-2.0 */
/* The host's watch of kubelet's atomically written volumes (watch.h). */
#include "watch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "container.h"
#include "internal.h"
#include "lib/log.h"
#include "lib/util.h"

#define RETRY_NS 1000000000ull
#define MASK (IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

struct mnt {
	struct mnt *next;
	struct kc_vwatch *w; /* NULL: removed while an update was in flight */
	char *owner, *dir, *mount_point;
	int wd; /* -1: the directory went */
	char *sent; /* the version the guest has */
	char *sending; /* the version in flight */
	char *refused; /* the last version the agent failed (logged once) */
	bool busy, again; /* an update in flight; another event meanwhile */
	struct kc_loop_timer retry;
};

struct kc_vwatch {
	struct kc_loop *loop;
	kc_vwatch_send_fn send;
	void *data;
	int fd;
	struct kc_loop_watch *watch;
	struct mnt *mnts;
	size_t updated;
};

static void mnt_free(struct mnt *m)
{
	free(m->owner);
	free(m->dir);
	free(m->mount_point);
	free(m->sent);
	free(m->sending);
	free(m->refused);
	free(m);
}

static void sync_mnt(struct mnt *m);

static void on_sent(void *ctx, kc_error_t *err)
{
	struct mnt *m = ctx;
	char *version = m->sending;

	m->sending = NULL;
	m->busy = false;
	if (!m->w) {
		free(version);
		mnt_free(m);
		return;
	}
	if (err) {
		int status = (*err)->status;
		bool retry = status != ENOTCONN && status != ECANCELED;
		bool again = m->refused && strcmp(m->refused, version) == 0;

		/* Once per version at warning: a retry every second says
		 * nothing new. */
		kc_log(again ? KC_LOG_DEBUG : KC_LOG_WARNING,
		       "volume `%s` of %s: UpdateWatchableVolume %s to %s: %s; the guest keeps "
		       "`%s`%s",
		       m->dir, m->owner, m->mount_point, version, (*err)->msg, m->sent,
		       retry ? " (retried in 1 s)" : "");
		free(m->refused);
		m->refused = version;
		if (retry)
			kc_loop_timer_start(m->w->loop, &m->retry,
					    kc_loop_now(m->w->loop) + RETRY_NS);
	} else {
		kc_info("volume `%s` of %s: the guest's copy at %s is now %s", m->dir, m->owner,
			m->mount_point, version);
		free(m->sent);
		m->sent = version;
		m->w->updated++;
	}
	if (m->again) {
		m->again = false;
		sync_mnt(m);
	}
}

static void on_retry(void *data)
{
	sync_mnt(data);
}

static void sync_mnt(struct mnt *m)
{
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *what = NULL;
	char *version = NULL;
	int fd;

	if (m->busy) {
		m->again = true;
		return;
	}
	kc_loop_timer_stop(m->w->loop, &m->retry);
	what = kc_xasprintf("volume `%s` of %s", m->dir, m->owner);
	fd = open(m->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		kc_warn("%s: open: %s", what, strerror(errno));
		return;
	}
	if (kc_kubelet_data_dir(fd, what, &version, &err) < 0) {
		close(fd);
		kc_warn("refused: %s; the guest keeps version `%s`", err->msg, m->sent);
		return;
	}
	close(fd);
	if (strcmp(m->sent, version) == 0) {
		free(version);
		return;
	}
	m->busy = true;
	m->sending = version;
	m->w->send(m->w->data, m->mount_point, version, on_sent, m);
}

static void on_events(struct kc_loop_watch *lw, int fd, uint32_t events, void *data)
{
	struct kc_vwatch *w = data;
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	(void)lw;
	(void)events;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const void *)p;

			p += sizeof(*e) + e->len;
			for (struct mnt *m = w->mnts; m; m = m->next) {
				if (e->mask & IN_Q_OVERFLOW) {
					sync_mnt(m);
				} else if (m->wd != e->wd) {
					continue;
				} else if (e->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF |
						      IN_UNMOUNT)) {
					kc_info("volume `%s` of %s: the directory went; no more "
						"updates",
						m->dir, m->owner);
					m->wd = -1;
				} else if (e->len && strcmp(e->name, "..data") == 0) {
					sync_mnt(m);
				}
			}
		}
	}
}

int kc_vwatch_new(struct kc_loop *loop, kc_vwatch_send_fn send, void *data, struct kc_vwatch **out,
		  kc_error_t *err)
{
	struct kc_vwatch *w = kc_xzalloc(sizeof(*w));

	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		free(w);
		return kc_error_set(err, errno, "inotify_init1");
	}
	if (kc_loop_watch_fd(loop, w->fd, EPOLLIN, on_events, w, &w->watch, err) < 0) {
		close(w->fd);
		free(w);
		return -1;
	}
	w->loop = loop;
	w->send = send;
	w->data = data;
	*out = w;
	return 0;
}

/* Unlinks m; drops its inotify watch when no other mount uses it. */
static void mnt_drop(struct kc_vwatch *w, struct mnt *m)
{
	bool used = false;

	for (struct mnt **pp = &w->mnts; *pp; pp = &(*pp)->next) {
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	}
	for (struct mnt *o = w->mnts; o && m->wd >= 0; o = o->next)
		used |= o->wd == m->wd;
	if (m->wd >= 0 && !used)
		inotify_rm_watch(w->fd, m->wd);
	kc_loop_timer_stop(w->loop, &m->retry);
	if (m->busy)
		m->w = NULL; /* on_sent frees it */
	else
		mnt_free(m);
}

void kc_vwatch_free(struct kc_vwatch *w)
{
	if (!w)
		return;
	while (w->mnts)
		mnt_drop(w, w->mnts);
	kc_loop_watch_remove(w->watch);
	close(w->fd);
	free(w);
}

int kc_vwatch_add(struct kc_vwatch *w, const char *owner, const char *dir, const char *mount_point,
		  kc_error_t *err)
{
	cleanup_free char *what = kc_xasprintf("volume `%s` of %s", dir, owner);
	struct mnt *m;
	int fd, wd;

	/* First the watch, then the version: a swap in between is an event. */
	wd = inotify_add_watch(w->fd, dir, MASK);
	if (wd < 0)
		return kc_error_set(err, errno, "%s: inotify_add_watch", what);
	m = kc_xzalloc(sizeof(*m));
	m->w = w;
	m->wd = wd;
	m->owner = kc_xstrdup(owner);
	m->dir = kc_xstrdup(dir);
	m->mount_point = kc_xstrdup(mount_point);
	kc_loop_timer_init(&m->retry, on_retry, m);
	m->next = w->mnts;
	w->mnts = m;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || kc_kubelet_data_dir(fd, what, &m->sent, err) < 0) {
		if (fd < 0)
			kc_error_set(err, errno, "%s: open", what);
		else
			close(fd);
		mnt_drop(w, m);
		return -1;
	}
	close(fd);
	kc_debug("%s: watched for %s (now %s)", what, mount_point, m->sent);
	return 0;
}

void kc_vwatch_remove(struct kc_vwatch *w, const char *owner)
{
	if (!w)
		return;
	for (struct mnt *m = w->mnts, *next; m; m = next) {
		next = m->next;
		if (strcmp(m->owner, owner) == 0)
			mnt_drop(w, m);
	}
}

void kc_vwatch_counts(const struct kc_vwatch *w, size_t *watches, size_t *mounts, size_t *updated)
{
	*watches = *mounts = *updated = 0;
	if (!w)
		return;
	*updated = w->updated;
	for (const struct mnt *m = w->mnts; m; m = m->next) {
		bool seen = false;

		(*mounts)++;
		for (const struct mnt *o = w->mnts; o != m && m->wd >= 0; o = o->next)
			seen |= o->wd == m->wd;
		if (m->wd >= 0 && !seen)
			(*watches)++;
	}
}

/* ---- the pod's watch (internal.h): updates through its agent ---- */

struct vwatch_call {
	kc_done_fn done;
	void *ctx;
};

static void on_vwatch_sent(void *ctx, kc_error_t *err, const ProtobufCMessage *m)
{
	struct vwatch_call x = *(struct vwatch_call *)ctx;

	(void)m;
	free(ctx);
	x.done(x.ctx, err);
}

static void vwatch_send(void *data, const char *mount_point, const char *data_dir, kc_done_fn done,
			void *done_ctx)
{
	struct kc_pod *pod = data;
	Grpc__UpdateWatchableVolumeRequest req = GRPC__UPDATE_WATCHABLE_VOLUME_REQUEST__INIT;
	struct vwatch_call *x = kc_xzalloc(sizeof(*x));

	*x = (struct vwatch_call){ done, done_ctx };
	req.mount_point = (char *)mount_point;
	req.data_dir = (char *)data_dir;
	kc_agent_update_watchable_volume(pod->agent, &req, on_vwatch_sent, x);
}

int kc_pod_watch_volumes(struct kc_pod *pod, const char *cid, const struct kc_guest_storages *gs,
			 kc_error_t *err)
{
	for (size_t i = 0; i < gs->n; i++) {
		if (!gs->v[i].watch_dir)
			continue;
		if (!pod->vwatch && kc_vwatch_new(pod->loop, vwatch_send, pod, &pod->vwatch, err) < 0)
			return -1;
		if (kc_vwatch_add(pod->vwatch, cid, gs->v[i].watch_dir, gs->v[i].mount_point, err) <
		    0) {
			kc_vwatch_remove(pod->vwatch, cid);
			return -1;
		}
	}
	return 0;
}
