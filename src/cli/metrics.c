/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `kata-runtime metrics SANDBOX_ID`: the sandbox's metrics as its shim
 * serves them on its management socket (GET /metrics, docs/metrics.md),
 * found through the sandbox's state (/run/vc/sbs/<id>/state.json).  The
 * answer is checked (HTTP 200, Prometheus text that parses) before it is
 * printed; every failure says which sandbox and what was wrong: none by
 * that id, a dead owner (a stale state), a shim that does not answer in
 * time, an answer that is not metrics.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "lib/http.h"
#include "lib/util.h"
#include "sandbox/container.h"
#include "sandbox/prom.h"
#include "sandbox/state.h"

#define METRICS_MAX_BODY (4 * 1024 * 1024)

static void metrics_usage(FILE *out)
{
	fprintf(out, "Usage: kata-runtime metrics [--timeout SECONDS] SANDBOX_ID\n"
		     "\n"
		     "Prints the sandbox's metrics (Prometheus text format 0.0.4) as its shim\n"
		     "serves them on /run/vc/sbs/SANDBOX_ID/shim-monitor.sock.\n"
		     "\n"
		     "  --timeout SECONDS   give up after this long (default 10)\n");
}

static int fail(const char *id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(const char *id, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kata-runtime metrics: sandbox %s: ", id);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* The first line of an answer, bounded and printable, for an error. */
static char *excerpt(const char *body, size_t len)
{
	size_t n = strcspn(body, "\r\n");
	char *s;

	if (n > 80)
		n = 80;
	if (n > len)
		n = len;
	s = kc_xstrndup(body, n);
	for (char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
	return s;
}

int kc_cmd_metrics(int argc, char **argv, const char *config_path)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	cleanup_error kc_error_t err = NULL;
	struct kc_sandbox_state st = { 0 };
	struct kc_http_response resp = { 0 };
	struct kc_prom_parsed parsed;
	cleanup_free char *dir = NULL;
	unsigned timeout_s = 10;
	const char *id;
	struct stat sb;
	int c, ret = 1;

	(void)config_path;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (!*optarg || *end || v == 0 || v > 3600) {
				fprintf(stderr,
					"kata-runtime metrics: --timeout `%s` is not a "
					"number of seconds from 1 to 3600\n",
					optarg);
				return 2;
			}
			timeout_s = (unsigned)v;
			break;
		}
		case 'h':
			metrics_usage(stdout);
			return 0;
		default:
			metrics_usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "kata-runtime metrics: %s\n",
			optind >= argc ? "no sandbox id given" : "one sandbox id only");
		metrics_usage(stderr);
		return 2;
	}
	id = argv[optind];
	if (kc_check_id("sandbox id", id, &err) < 0) {
		fprintf(stderr, "kata-runtime metrics: %s\n", err->msg);
		return 2;
	}
	dir = kc_xasprintf("%s/%s", KC_STATE_ROOT, id);
	if (lstat(dir, &sb) < 0 && errno == ENOENT)
		return fail(id, "not found (no %s)", dir);
	if (kc_state_read(dir, &st, &err) < 0)
		return fail(id, "%s", err->msg);
	if (!kc_state_owner_alive(dir, &st)) {
		ret = fail(id,
			   "its owner (pid %d) is dead: the state in %s is stale "
			   "(`containerd-shim-kata-v2 delete` cleans it up)",
			   (int)st.owner_pid, dir);
		goto out;
	}
	if (!st.monitor_socket) {
		ret = fail(id, "its shim (pid %d) serves no management socket", (int)st.owner_pid);
		goto out;
	}
	if (kc_http_get_unix(st.monitor_socket, "/metrics", timeout_s * 1000, METRICS_MAX_BODY,
			     &resp, &err) < 0) {
		ret = fail(id, "its shim (pid %d): %s", (int)st.owner_pid, err->msg);
		goto out;
	}
	if (resp.status != 200) {
		cleanup_free char *e = excerpt(resp.body, resp.len);

		ret = fail(id, "`%s` answered HTTP %d: %s", st.monitor_socket, resp.status, e);
		goto out;
	}
	if (!resp.content_type || strncmp(resp.content_type, "text/plain", 10) != 0) {
		ret = fail(id, "`%s` answered `%s`, not Prometheus text", st.monitor_socket,
			   resp.content_type ? resp.content_type : "no Content-Type");
		goto out;
	}
	if (strlen(resp.body) != resp.len ||
	    kc_prom_parse(resp.body, resp.len, true, &parsed, &err) < 0) {
		ret = fail(id, "`%s` answered no Prometheus text: %s", st.monitor_socket,
			   err ? err->msg : "a NUL byte in it");
		goto out;
	}
	kc_prom_parsed_free(&parsed);
	if (fwrite(resp.body, 1, resp.len, stdout) != resp.len || fflush(stdout) != 0) {
		ret = fail(id, "writing the metrics: %s", strerror(errno));
		goto out;
	}
	ret = 0;
out:
	kc_http_response_clear(&resp);
	kc_state_clear(&st);
	return ret;
}
