/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kata-monitor's scrapes (monitor.h).  A job is one question to one or
 * more shims: a fetch per sandbox (a non-blocking unix socket carrying one
 * HTTP/1.0 GET, read to EOF), a timer for the job's deadline, the
 * questions waiting for it.  When the last fetch ends or the deadline
 * passes, a deferred callback merges what came and answers them all.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "monitor.h"
#include "sandbox/prom.h"
#include "sandbox/state.h"

/* A shim's answer beyond this is cut off and counted as failed. */
#define MAX_ANSWER (4u * 1024 * 1024)
#define MAX_SANDBOXES 4096
/* Idle this long after a question, the monitor gives its free heap back. */
#define TRIM_IDLE_NS 1000000000ull

/* Why a sandbox was left out of a scrape: kata_monitor_sandboxes_skipped's
 * reason label. */
enum skip {
	SKIP_NONE,
	SKIP_STATE, /* no readable state document (a sandbox starting) */
	SKIP_CONNECT, /* no management socket, or it refused */
	SKIP_TIMEOUT, /* no full answer before the deadline */
	SKIP_HTTP, /* not HTTP, not 200, or too long */
	SKIP_PARSE, /* not Prometheus text */
	SKIP_N,
};

static const char *const skip_names[SKIP_N] = {
	[SKIP_STATE] = "state", [SKIP_CONNECT] = "connect", [SKIP_TIMEOUT] = "timeout",
	[SKIP_HTTP] = "http",	[SKIP_PARSE] = "parse",
};

struct fetch {
	struct kc_mon_job *job;
	char *id, *cri_uid, *cri_name, *cri_namespace;
	char *sock; /* the shim's management socket; NULL: it records none */
	int fd;
	struct kc_loop_watch *watch;
	char *req;
	size_t req_len, sent;
	char *buf;
	size_t len, cap;
	bool done;
	enum skip skip;
	const char *body; /* into buf once done and answered 200 */
	size_t body_len;
};

enum job_kind { JOB_METRICS, JOB_AGENT_URL };

struct kc_mon_job {
	struct kc_mon *m;
	enum job_kind kind;
	struct kc_mon_job *next; /* m->jobs */
	struct kc_mon_req *reqs;
	struct fetch *fetches;
	size_t n_fetches, pending;
	unsigned status; /* set before the job ends: its answer without fetches */
	char *msg;
	uint64_t started;
	struct kc_loop_timer deadline;
	struct kc_loop_defer finish;
	size_t skipped[SKIP_N];
};

struct kc_mon {
	struct kc_loop *loop;
	char *sbs_dir;
	uint64_t timeout_ns;
	struct kc_mon_job *jobs;
	struct kc_mon_job *metrics_job; /* the scrape in flight, joined by newcomers */
	/* kata_monitor_* */
	uint64_t scrapes, failed;
	size_t running;
	size_t skipped[SKIP_N]; /* the last scrape's */
	struct kc_prom_hist durations;
	struct kc_loop_timer trim; /* malloc_trim() once idle */
};

/* ---- the sandboxes ---- */

static bool valid_id(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > 255 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (id[i] == '/' || (unsigned char)id[i] < 0x20)
			return false;
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names under the state root, sorted (the output's order). */
static int list_dirs(struct kc_mon *m, char ***names, size_t *n, kc_error_t *err)
{
	DIR *d = opendir(m->sbs_dir);
	struct dirent *e;
	char **v = NULL;
	size_t cnt = 0;

	*names = NULL;
	*n = 0;
	if (!d) {
		if (errno == ENOENT)
			return 0; /* no sandbox ever ran */
		return kc_error_set(err, errno, "open `%s`", m->sbs_dir);
	}
	while ((e = readdir(d)) && cnt < MAX_SANDBOXES) {
		if (e->d_name[0] == '.' || !valid_id(e->d_name))
			continue;
		if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
			continue;
		v = kc_xrealloc(v, (cnt + 2) * sizeof(char *));
		v[cnt++] = kc_xstrdup(e->d_name);
		v[cnt] = NULL;
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(char *), cmp_str);
	*names = v;
	*n = cnt;
	return 0;
}

/* true: id is a live sandbox (its owner holds the lock and runs), *st its
 * state (kc_state_clear() it in any case); false: not, or a stale
 * directory a dead shim left; *skip says SKIP_STATE where a live owner's
 * document could not be read (a sandbox being made). */
static bool live_sandbox(struct kc_mon *m, const char *id, struct kc_sandbox_state *st,
			 enum skip *skip)
{
	cleanup_free char *dir = kc_xasprintf("%s/%s", m->sbs_dir, id);
	cleanup_error kc_error_t err = NULL;

	*skip = SKIP_NONE;
	if (kc_state_read(dir, st, &err) < 0) {
		kc_log_error_free(KC_LOG_DEBUG, &err, "sandbox %s", id);
		if (kc_state_owner_alive(dir, NULL))
			*skip = SKIP_STATE;
		return false;
	}
	return kc_state_owner_alive(dir, st);
}

/* ---- one fetch: an HTTP/1.0 GET over a unix socket ---- */

static void job_fetch_done(struct fetch *f, enum skip skip);

static void fetch_close(struct fetch *f)
{
	if (f->watch)
		kc_loop_watch_remove(f->watch);
	f->watch = NULL;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/* The answer read to EOF: status 200 and its body, or why not. */
static enum skip fetch_parse(struct fetch *f)
{
	char *end, *p;
	unsigned status;

	if (!f->buf)
		return SKIP_HTTP;
	f->buf[f->len] = '\0';
	if (sscanf(f->buf, "HTTP/1.%*1[01] %3u", &status) != 1 || status != 200)
		return SKIP_HTTP;
	end = memmem(f->buf, f->len, "\r\n\r\n", 4);
	if (!end)
		return SKIP_HTTP;
	*end = '\0';
	f->body = end + 4;
	f->body_len = f->len - (size_t)(f->body - f->buf);
	/* A Content-Length shorter than the body: the body ends there;
	 * longer: the shim closed early. */
	for (p = strchr(f->buf, '\n'); p; p = strchr(p + 1, '\n')) {
		unsigned long long cl;

		if (strncasecmp(p + 1, "content-length:", 15) != 0)
			continue;
		if (sscanf(p + 16, " %llu", &cl) != 1 || cl > f->body_len)
			return SKIP_HTTP;
		f->body_len = cl;
	}
	if (strcasestr(f->buf, "\ntransfer-encoding:"))
		return SKIP_HTTP; /* not an HTTP/1.0 answer */
	return SKIP_NONE;
}

static void fetch_io(struct kc_loop_watch *w, int fd, uint32_t events, void *data)
{
	struct fetch *f = data;
	cleanup_error kc_error_t err = NULL;

	(void)w;
	while (f->sent < f->req_len) {
		ssize_t n;

		if (f->sent == 0) {
			int soerr = 0;
			socklen_t sl = sizeof(soerr);

			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr)
				return job_fetch_done(f, SKIP_CONNECT);
		}
		n = send(fd, f->req + f->sent, f->req_len - f->sent, MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0)
			return job_fetch_done(f, f->sent ? SKIP_HTTP : SKIP_CONNECT);
		f->sent += (size_t)n;
		if (f->sent == f->req_len && kc_loop_watch_set_events(f->watch, EPOLLIN, &err) < 0) {
			kc_log_error_free(KC_LOG_WARNING, &err, "sandbox %s", f->id);
			return job_fetch_done(f, SKIP_CONNECT);
		}
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		ssize_t n;

		if (f->cap - f->len < 4096) {
			if (f->cap >= MAX_ANSWER)
				return job_fetch_done(f, SKIP_HTTP);
			f->cap = f->cap ? 2 * f->cap : 16384;
			f->buf = kc_xrealloc(f->buf, f->cap + 1);
		}
		n = read(fd, f->buf + f->len, f->cap - f->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0)
			return job_fetch_done(f, SKIP_HTTP);
		if (n == 0)
			return job_fetch_done(f, fetch_parse(f));
		f->len += (size_t)n;
	}
}

static void fetch_start(struct fetch *f, const char *path)
{
	cleanup_error kc_error_t err = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	f->req = kc_xasprintf("GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
	f->req_len = strlen(f->req);
	if (!f->sock) {
		kc_debug("sandbox %s: no management socket recorded", f->id);
		return job_fetch_done(f, SKIP_CONNECT);
	}
	if (strlen(f->sock) >= sizeof(sa.sun_path))
		return job_fetch_done(f, SKIP_CONNECT);
	strcpy(sa.sun_path, f->sock);
	f->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->fd < 0)
		return job_fetch_done(f, SKIP_CONNECT);
	if (connect(f->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EAGAIN &&
	    errno != EINPROGRESS) {
		kc_debug("sandbox %s: connect %s: %s", f->id, sa.sun_path, strerror(errno));
		return job_fetch_done(f, SKIP_CONNECT);
	}
	if (kc_loop_watch_fd(f->job->m->loop, f->fd, EPOLLOUT | EPOLLIN, fetch_io, f, &f->watch,
			     &err) < 0) {
		kc_log_error_free(KC_LOG_WARNING, &err, "sandbox %s", f->id);
		return job_fetch_done(f, SKIP_CONNECT);
	}
}

/* ---- jobs ---- */

static void job_finish(void *data);
static void job_deadline(void *data);

static struct kc_mon_job *job_new(struct kc_mon *m, enum job_kind kind)
{
	struct kc_mon_job *j = kc_xzalloc(sizeof(*j));

	j->m = m;
	j->kind = kind;
	j->started = kc_monotonic_ns();
	kc_loop_timer_init(&j->deadline, job_deadline, j);
	kc_loop_defer_init(&j->finish, job_finish, j);
	j->next = m->jobs;
	m->jobs = j;
	return j;
}

/* A fetch from the live sandbox of state st. */
static void job_add_fetch(struct kc_mon_job *j, const struct kc_sandbox_state *st)
{
	struct fetch *f;

	j->fetches = kc_xrealloc(j->fetches, (j->n_fetches + 1) * sizeof(*f));
	f = &j->fetches[j->n_fetches++];
	memset(f, 0, sizeof(*f));
	f->job = j;
	f->fd = -1;
	f->id = kc_xstrdup(st->id);
	f->cri_uid = kc_xstrdup(st->cri_uid ? st->cri_uid : "");
	f->cri_name = kc_xstrdup(st->cri_name ? st->cri_name : "");
	f->cri_namespace = kc_xstrdup(st->cri_namespace ? st->cri_namespace : "");
	f->sock = st->monitor_socket ? kc_xstrdup(st->monitor_socket) : NULL;
}

/* Starts the fetches added; the job ends when they all have or at the
 * deadline, from a deferred callback in any case. */
static void job_start(struct kc_mon_job *j, const char *path)
{
	struct kc_mon *m = j->m;

	j->pending = j->n_fetches;
	for (size_t i = 0; i < j->n_fetches; i++)
		fetch_start(&j->fetches[i], path);
	if (j->pending)
		kc_loop_timer_start(m->loop, &j->deadline, kc_monotonic_ns() + m->timeout_ns);
	else
		kc_loop_defer_queue(m->loop, &j->finish);
}

static void job_fetch_done(struct fetch *f, enum skip skip)
{
	struct kc_mon_job *j = f->job;

	if (f->done)
		return;
	fetch_close(f);
	f->done = true;
	f->skip = skip;
	if (skip != SKIP_NONE)
		kc_debug("sandbox %s: skipped (%s)", f->id, skip_names[skip]);
	if (--j->pending == 0) {
		kc_loop_timer_stop(j->m->loop, &j->deadline);
		kc_loop_defer_queue(j->m->loop, &j->finish);
	}
}

static void job_deadline(void *data)
{
	struct kc_mon_job *j = data;

	for (size_t i = 0; i < j->n_fetches; i++)
		if (!j->fetches[i].done) {
			kc_warn("sandbox %s: no answer within %llu ms, skipped", j->fetches[i].id,
				(unsigned long long)(j->m->timeout_ns / 1000000));
			job_fetch_done(&j->fetches[i], SKIP_TIMEOUT);
		}
}

static void job_free(struct kc_mon_job *j)
{
	struct kc_mon *m = j->m;

	for (struct kc_mon_job **pp = &m->jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	if (m->metrics_job == j)
		m->metrics_job = NULL;
	kc_loop_timer_stop(m->loop, &j->deadline);
	kc_loop_defer_cancel(m->loop, &j->finish);
	for (size_t i = 0; i < j->n_fetches; i++) {
		struct fetch *f = &j->fetches[i];

		fetch_close(f);
		free(f->id);
		free(f->cri_uid);
		free(f->cri_name);
		free(f->cri_namespace);
		free(f->sock);
		free(f->req);
		free(f->buf);
	}
	free(j->fetches);
	free(j->msg);
	free(j);
}

static void job_answer(struct kc_mon_job *j, unsigned status, const char *body, size_t len)
{
	struct kc_mon_req *r = j->reqs;

	j->reqs = NULL;
	while (r) {
		struct kc_mon_req *next = r->next;

		r->job = NULL;
		r->next = NULL;
		r->fn(r->data, status, body, len);
		r = next;
	}
}

static void job_add_req(struct kc_mon_job *j, struct kc_mon_req *r)
{
	r->job = j;
	r->next = j->reqs;
	j->reqs = r;
}

void kc_mon_cancel(struct kc_mon_req *r)
{
	struct kc_mon_job *j = r->job;

	if (!j)
		return;
	for (struct kc_mon_req **pp = &j->reqs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	r->job = NULL;
	r->next = NULL;
}

/* ---- /metrics: merging ---- */

struct member {
	struct fetch *f;
	const struct kc_prom_parsed_family *fam;
};

struct merged {
	const struct kc_prom_parsed_family *first; /* help and type */
	struct member *members;
	size_t n;
};

static const char *const hist_suffixes[] = { "_bucket", "_sum", "_count" };

/* Each family of every answer once, in the order first seen, its samples
 * from each sandbox in turn with the sandbox's labels. */
static int merge(struct kc_mon_job *j, struct kc_prom_parsed *parsed, struct kc_prom *p,
		 size_t *dropped, kc_error_t *err)
{
	struct merged *fams = NULL;
	size_t n_fams = 0;
	int ret = 0;

	for (size_t i = 0; i < j->n_fetches; i++) {
		for (size_t k = 0; k < parsed[i].n_families; k++) {
			const struct kc_prom_parsed_family *pf = &parsed[i].families[k];
			struct merged *mf = NULL;

			if (strncmp(pf->name, "kata_monitor_", 13) == 0) {
				*dropped += pf->n_samples; /* ours only */
				continue;
			}
			for (size_t x = 0; x < n_fams && !mf; x++)
				if (strcmp(fams[x].first->name, pf->name) == 0)
					mf = &fams[x];
			if (!mf) {
				fams = kc_xrealloc(fams, (n_fams + 1) * sizeof(*fams));
				mf = &fams[n_fams++];
				memset(mf, 0, sizeof(*mf));
				mf->first = pf;
			} else if (mf->first->type != pf->type) {
				*dropped += pf->n_samples; /* two shims disagree: the first wins */
				continue;
			}
			mf->members = kc_xrealloc(mf->members, (mf->n + 1) * sizeof(*mf->members));
			mf->members[mf->n++] = (struct member){ &j->fetches[i], pf };
		}
	}
	for (size_t x = 0; x < n_fams && ret == 0; x++) {
		const struct kc_prom_parsed_family *first = fams[x].first;
		enum kc_prom_type type = first->typed ? first->type : KC_PROM_UNTYPED;

		/* A name that is another family's histogram sample would be
		 * read as that family's: left out. */
		bool clash = false;

		for (size_t y = 0; y < n_fams && !clash; y++) {
			size_t l = strlen(fams[y].first->name);

			if (y == x || fams[y].first->type != KC_PROM_HISTOGRAM ||
			    strncmp(first->name, fams[y].first->name, l) != 0)
				continue;
			for (size_t s = 0; s < KC_ARRAY_SIZE(hist_suffixes); s++)
				clash |= strcmp(first->name + l, hist_suffixes[s]) == 0;
		}
		if (clash) {
			for (size_t k = 0; k < fams[x].n; k++)
				*dropped += fams[x].members[k].fam->n_samples;
			continue;
		}
		ret = kc_prom_family(p, first->name, first->help, type, err);
		for (size_t k = 0; k < fams[x].n && ret == 0; k++) {
			const struct member *mb = &fams[x].members[k];
			const char *extra[] = { "sandbox_id",
						mb->f->id,
						"cri_uid",
						mb->f->cri_uid,
						"cri_name",
						mb->f->cri_name,
						"cri_namespace",
						mb->f->cri_namespace,
						NULL };

			for (size_t s = 0; s < mb->fam->n_samples; s++) {
				cleanup_error kc_error_t e = NULL;

				if (kc_prom_relay(p, &mb->fam->samples[s], extra, &e) < 0) {
					kc_log_error_free(KC_LOG_DEBUG, &e, "sandbox %s", mb->f->id);
					(*dropped)++;
				}
			}
		}
	}
	for (size_t x = 0; x < n_fams; x++)
		free(fams[x].members);
	free(fams);
	return ret;
}

static int own_metrics(struct kc_mon *m, struct kc_prom *p, size_t dropped, kc_error_t *err)
{
	int ret;

	ret = kc_prom_family(p, "kata_monitor_running_shim_count",
			     "Running shim count(running sandboxes).", KC_PROM_GAUGE, err);
	if (ret == 0)
		ret = kc_prom_sample(p, NULL, (double)m->running, err);
	if (ret == 0)
		ret = kc_prom_family(p, "kata_monitor_scrape_count", "Scape count.",
				     KC_PROM_COUNTER, err);
	if (ret == 0)
		ret = kc_prom_sample(p, NULL, (double)m->scrapes, err);
	if (ret == 0)
		ret = kc_prom_family(p, "kata_monitor_scrape_failed_count",
				     "Failed scape count (sandboxes skipped for want of an answer).",
				     KC_PROM_COUNTER, err);
	if (ret == 0)
		ret = kc_prom_sample(p, NULL, (double)m->failed, err);
	if (ret == 0)
		ret = kc_prom_family(p, "kata_monitor_scrape_durations_histogram_milliseconds",
				     "Time used to scrape from shims", KC_PROM_HISTOGRAM, err);
	if (ret == 0)
		ret = kc_prom_histogram(p, NULL, &m->durations, err);
	if (ret == 0)
		ret = kc_prom_family(p, "kata_monitor_sandboxes_skipped",
				     "Sandboxes left out of the last scrape, by reason.",
				     KC_PROM_GAUGE, err);
	for (size_t i = SKIP_STATE; i < SKIP_N && ret == 0; i++) {
		const char *labels[] = { "reason", skip_names[i], NULL };

		ret = kc_prom_sample(p, labels, (double)m->skipped[i], err);
	}
	if (ret == 0)
		ret = kc_prom_family(p, "kata_monitor_samples_dropped",
				     "Samples of the last scrape left out (malformed, clashing).",
				     KC_PROM_GAUGE, err);
	if (ret == 0)
		ret = kc_prom_sample(p, NULL, (double)dropped, err);
	return ret;
}

static void finish_metrics(struct kc_mon_job *j)
{
	struct kc_mon *m = j->m;
	struct kc_prom_parsed *parsed = kc_xzalloc((j->n_fetches + 1) * sizeof(*parsed));
	cleanup_prom struct kc_prom *p = kc_prom_new();
	cleanup_error kc_error_t err = NULL;
	size_t dropped = 0, running = 0;
	const char *text;
	size_t len;

	memcpy(m->skipped, j->skipped, sizeof(m->skipped));
	for (size_t i = 0; i < j->n_fetches; i++) {
		struct fetch *f = &j->fetches[i];

		if (f->skip == SKIP_NONE) {
			cleanup_error kc_error_t e = NULL;

			if (kc_prom_parse(f->body, f->body_len, false, &parsed[i], &e) < 0 ||
			    (parsed[i].n_families == 0 && parsed[i].dropped > 0)) {
				kc_log_error_free(KC_LOG_DEBUG, &e, "sandbox %s", f->id);
				kc_prom_parsed_free(&parsed[i]);
				memset(&parsed[i], 0, sizeof(parsed[i]));
				f->skip = SKIP_PARSE;
			} else {
				dropped += parsed[i].dropped;
			}
		}
		running++;
		if (f->skip != SKIP_NONE) {
			m->skipped[f->skip]++;
			m->failed++;
		}
	}
	m->running = running;
	m->scrapes++;
	kc_prom_hist_observe(&m->durations, (double)(kc_monotonic_ns() - j->started) / 1e6);
	if (merge(j, parsed, p, &dropped, &err) < 0 || own_metrics(m, p, dropped, &err) < 0) {
		kc_log_error_free(KC_LOG_ERROR, &err, "metrics");
		job_answer(j, 500, "internal error\n", 15);
	} else {
		text = kc_prom_text(p, &len);
		job_answer(j, 200, text, len);
	}
	for (size_t i = 0; i < j->n_fetches; i++)
		kc_prom_parsed_free(&parsed[i]);
	free(parsed);
}

static void finish_agent_url(struct kc_mon_job *j)
{
	struct fetch *f = j->n_fetches ? &j->fetches[0] : NULL;

	if (!f)
		job_answer(j, j->status, j->msg, strlen(j->msg));
	else if (f->skip != SKIP_NONE)
		job_answer(j, 502, "the sandbox's shim did not answer\n", 34);
	else
		job_answer(j, 200, f->body, f->body_len);
}

static void job_finish(void *data)
{
	struct kc_mon_job *j = data;
	struct kc_mon *m = j->m;

	if (m->metrics_job == j)
		m->metrics_job = NULL; /* questions from now on start another */
	if (j->kind == JOB_METRICS)
		finish_metrics(j);
	else
		finish_agent_url(j);
	job_free(j);
	/* A scrape's buffers and parsed samples stay in the heap once freed:
	 * its pages go back once the monitor is idle (not after every job:
	 * back-to-back scrapes would fault them in again, at twice the
	 * scrape's time). */
	kc_loop_timer_start(m->loop, &m->trim, kc_monotonic_ns() + TRIM_IDLE_NS);
}

/* ---- the questions ---- */

void kc_mon_metrics(struct kc_mon *m, struct kc_mon_req *r)
{
	struct kc_mon_job *j = m->metrics_job;
	cleanup_error kc_error_t err = NULL;
	cleanup_strv char **names = NULL;
	size_t n;

	if (j) {
		job_add_req(j, r);
		return;
	}
	j = m->metrics_job = job_new(m, JOB_METRICS);
	job_add_req(j, r);
	if (list_dirs(m, &names, &n, &err) < 0)
		kc_log_error_free(KC_LOG_WARNING, &err, "scrape");
	for (size_t i = 0; i < n; i++) {
		struct kc_sandbox_state st;
		enum skip skip;

		if (live_sandbox(m, names[i], &st, &skip))
			job_add_fetch(j, &st);
		else if (skip != SKIP_NONE)
			j->skipped[skip]++;
		kc_state_clear(&st);
	}
	job_start(j, "/metrics");
}

void kc_mon_agent_url(struct kc_mon *m, const char *id, struct kc_mon_req *r)
{
	struct kc_mon_job *j = job_new(m, JOB_AGENT_URL);
	struct kc_sandbox_state st = { 0 };
	enum skip skip;

	job_add_req(j, r);
	if (!id || !valid_id(id)) {
		j->status = 400;
		j->msg = kc_xstrdup("the sandbox parameter must be a sandbox id\n");
	} else if (!live_sandbox(m, id, &st, &skip)) {
		j->status = 404;
		j->msg = kc_xasprintf("no live sandbox %s\n", id);
	} else {
		job_add_fetch(j, &st);
	}
	kc_state_clear(&st);
	job_start(j, "/agent-url");
}

int kc_mon_sandboxes(struct kc_mon *m, char **text, size_t *len, kc_error_t *err)
{
	cleanup_strv char **names = NULL;
	char *out = kc_xstrdup("");
	size_t n, used = 0;
	int ret = list_dirs(m, &names, &n, err);

	if (ret < 0) {
		free(out);
		return ret;
	}
	for (size_t i = 0; i < n; i++) {
		struct kc_sandbox_state st;
		enum skip skip;
		size_t l = strlen(names[i]);
		bool live = live_sandbox(m, names[i], &st, &skip);

		kc_state_clear(&st);
		if (!live)
			continue;
		out = kc_xrealloc(out, used + l + 2);
		memcpy(out + used, names[i], l);
		used += l;
		out[used++] = '\n';
		out[used] = '\0';
	}
	*text = out;
	*len = used;
	return 0;
}

static void trim_heap(void *data)
{
	struct kc_mon *m = data;

	if (!m->jobs)
		malloc_trim(0);
}

int kc_mon_new(struct kc_loop *loop, const struct kc_mon_opts *opts, struct kc_mon **out,
	       kc_error_t *err)
{
	struct kc_mon *m;

	if (!opts->sbs_dir || opts->sbs_dir[0] != '/')
		return kc_error_set(err, EINVAL, "the sandboxes' directory must be absolute");
	if (opts->timeout_ns == 0)
		return kc_error_set(err, EINVAL, "the scrape timeout must not be 0");
	m = kc_xzalloc(sizeof(*m));
	m->loop = loop;
	m->sbs_dir = kc_xstrdup(opts->sbs_dir);
	m->timeout_ns = opts->timeout_ns;
	kc_loop_timer_init(&m->trim, trim_heap, m);
	*out = m;
	return 0;
}

void kc_mon_free(struct kc_mon *m)
{
	if (!m)
		return;
	while (m->jobs) {
		struct kc_mon_job *j = m->jobs;

		job_answer(j, 503, "kata-monitor is stopping\n", 25);
		job_free(j);
	}
	kc_loop_timer_stop(m->loop, &m->trim);
	free(m->sbs_dir);
	free(m);
}
