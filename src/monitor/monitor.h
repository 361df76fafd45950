/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_MONITOR_MONITOR_H
#define KC_MONITOR_MONITOR_H

/*
 * kata-monitor's work, apart from its HTTP server (main.c): finding the
 * live sandboxes under /run/vc/sbs and asking each shim's management
 * socket (the state's monitor_socket, /run/vc/sbs/<id>/shim-monitor.sock:
 * HTTP over a unix socket)
 * for its metrics or its agent's URL.
 *
 * Everything runs on one event loop: a scrape connects to every live
 * sandbox at once (non-blocking), and one deadline bounds it; a shim that
 * has not answered by then is skipped and counted, never waited for.
 * Scrapes asked for while one runs join it.  Answers always come from a
 * deferred callback, never from inside the call that asked.
 */

#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"
#include "ttrpc/loop.h"

struct kc_mon;
struct kc_mon_job;

struct kc_mon_opts {
	const char *sbs_dir; /* KC_STATE_ROOT unless testing */
	uint64_t timeout_ns; /* one scrape's bound */
};

/* One question's answer: an HTTP status and a body (text/plain), both
 * valid during the callback only. */
typedef void (*kc_mon_answer_fn)(void *data, unsigned status, const char *body, size_t len);

/* A question in flight; the asker embeds it and keeps it until answered
 * or kc_mon_cancel()ed. */
struct kc_mon_req {
	struct kc_mon_req *next;
	struct kc_mon_job *job; /* NULL: not in flight */
	kc_mon_answer_fn fn;
	void *data;
};

int kc_mon_new(struct kc_loop *loop, const struct kc_mon_opts *opts, struct kc_mon **out,
	       kc_error_t *err);
/* Answers every question in flight with 503 first. */
void kc_mon_free(struct kc_mon *m);

/* GET /metrics: every live sandbox's metrics, each sample labelled with
 * sandbox_id, cri_uid, cri_name and cri_namespace, then kata_monitor_*. */
void kc_mon_metrics(struct kc_mon *m, struct kc_mon_req *r);
/* GET /agent-url?sandbox=ID: the shim's answer.  400 for an id that cannot
 * be a sandbox's, 404 for no live sandbox of that id, 502 for a shim that
 * did not answer. */
void kc_mon_agent_url(struct kc_mon *m, const char *id, struct kc_mon_req *r);
/* GET /sandboxes: the live sandboxes' ids, one a line (answered at once). */
int kc_mon_sandboxes(struct kc_mon *m, char **text, size_t *len, kc_error_t *err);
/* Forgets r (no answer comes). */
void kc_mon_cancel(struct kc_mon_req *r);

#endif
