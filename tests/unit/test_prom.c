/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox/prom: the text format written and read back, Kata's families of
 * processes and of the agent's answer, and a whole sandbox's render checked
 * by Prometheus's promtool.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/util.h"
#include "sandbox/prom.h"
#include "sandbox/prom_internal.h"

/* ---- helpers ---- */

static const struct kc_prom_parsed_family *family(const struct kc_prom_parsed *d, const char *name)
{
	for (size_t i = 0; i < d->n_families; i++)
		if (strcmp(d->families[i].name, name) == 0)
			return &d->families[i];
	return NULL;
}

static const char *label(const struct kc_prom_parsed_sample *s, const char *name)
{
	for (size_t i = 0; i < s->n_labels; i++)
		if (strcmp(s->label_names[i], name) == 0)
			return s->label_values[i];
	return NULL;
}

/* The sample of `name` whose label `lname` is `lvalue` (lname NULL: the
 * first sample); fails the test if there is none. */
static const struct kc_prom_parsed_sample *sample(const struct kc_prom_parsed *d, const char *name,
						  const char *lname, const char *lvalue)
{
	const struct kc_prom_parsed_family *f = family(d, name);

	if (!f)
		fail_msg("no family %s", name);
	for (size_t i = 0; i < f->n_samples; i++) {
		const char *v = lname ? label(&f->samples[i], lname) : NULL;

		if (!lname || (v && strcmp(v, lvalue) == 0))
			return &f->samples[i];
	}
	fail_msg("no sample %s{%s=\"%s\"}", name, lname, lvalue);
	return NULL;
}

static void parse_strict(const char *text, struct kc_prom_parsed *d)
{
	cleanup_error kc_error_t err = NULL;

	if (kc_prom_parse(text, strlen(text), true, d, &err) < 0)
		fail_msg("parse: %s\n%s", err->msg, text);
}

/* ---- the writer ---- */

static void test_writer_exact(void **state)
{
	cleanup_prom struct kc_prom *p = kc_prom_new();
	cleanup_error kc_error_t err = NULL;
	const char *l1[] = { "item", "a\\b\"c\nd", "cpu", "0", NULL };
	const char *want = "# HELP t_one Help with a \\\\ and a\\nnewline; \"quotes\" stay.\n"
			   "# TYPE t_one gauge\n"
			   "t_one{item=\"a\\\\b\\\"c\\nd\",cpu=\"0\",sandbox_id=\"sb\\\"1\"} 1\n"
			   "t_one{sandbox_id=\"sb\\\"1\"} 0.5\n"
			   "# HELP t_two Two.\n"
			   "# TYPE t_two counter\n"
			   "t_two{sandbox_id=\"sb\\\"1\"} NaN\n"
			   "t_two{sandbox_id=\"sb\\\"1\"} +Inf\n"
			   "t_two{sandbox_id=\"sb\\\"1\"} -Inf\n"
			   "t_two{sandbox_id=\"sb\\\"1\"} 1e+20\n"
			   "t_two{sandbox_id=\"sb\\\"1\"} 12345678901234568\n"
			   "t_two{sandbox_id=\"sb\\\"1\"} 0.1\n"
			   "t_two{sandbox_id=\"sb\\\"1\"} 0.30000000000000004\n"
			   "# TYPE t_three untyped\n"
			   "t_three{sandbox_id=\"sb\\\"1\"} -3\n";

	(void)state;
	assert_int_equal(kc_prom_const_label(p, "sandbox_id", "sb\"1", &err), 0);
	assert_int_equal(kc_prom_family(p, "t_one", "Help with a \\ and a\nnewline; \"quotes\" stay.",
					KC_PROM_GAUGE, &err),
			 0);
	assert_int_equal(kc_prom_sample(p, l1, 1, &err), 0);
	assert_int_equal(kc_prom_sample(p, NULL, 0.5, &err), 0);
	assert_int_equal(kc_prom_family(p, "t_two", "Two.", KC_PROM_COUNTER, &err), 0);
	assert_int_equal(kc_prom_sample(p, NULL, NAN, &err), 0);
	assert_int_equal(kc_prom_sample(p, NULL, INFINITY, &err), 0);
	assert_int_equal(kc_prom_sample(p, NULL, -INFINITY, &err), 0);
	assert_int_equal(kc_prom_sample(p, NULL, 1e20, &err), 0);
	assert_int_equal(kc_prom_sample(p, NULL, 12345678901234567.0, &err), 0);
	/* 0.1 reads back from 15 digits, 0.1 + 0.2 needs 17. */
	assert_int_equal(kc_prom_sample(p, NULL, 0.1, &err), 0);
	assert_int_equal(kc_prom_sample(p, NULL, 0.1 + 0.2, &err), 0);
	assert_int_equal(kc_prom_family(p, "t_three", NULL, KC_PROM_UNTYPED, &err), 0);
	assert_int_equal(kc_prom_sample(p, NULL, -3, &err), 0);
	assert_string_equal(kc_prom_text(p, NULL), want);
}

static void expect_fail(int ret, kc_error_t *err, int status, const char *msg)
{
	assert_int_equal(ret, -status);
	if (!strstr((*err)->msg, msg))
		fail_msg("\"%s\" does not say \"%s\"", (*err)->msg, msg);
	kc_error_free(err);
}

static void test_writer_refuses(void **state)
{
	cleanup_prom struct kc_prom *p = kc_prom_new();
	cleanup_error kc_error_t err = NULL;
	const char *bad_label[] = { "a-b", "x", NULL };
	const char *reserved[] = { "__name__", "x", NULL };
	const char *twice[] = { "a", "1", "a", "2", NULL };
	const char *no_value[] = { "a", NULL };
	const char *constant[] = { "sandbox_id", "spoof", NULL };
	size_t len;

	(void)state;
	expect_fail(kc_prom_sample(p, NULL, 1, &err), &err, EINVAL, "a sample before any family");
	expect_fail(kc_prom_const_label(p, "9x", "v", &err), &err, EINVAL,
		    "invalid label name \"9x\"");
	assert_int_equal(kc_prom_const_label(p, "sandbox_id", "s", &err), 0);
	expect_fail(kc_prom_const_label(p, "sandbox_id", "t", &err), &err, EINVAL, "set twice");
	expect_fail(kc_prom_family(p, "1abc", "h", KC_PROM_GAUGE, &err), &err, EINVAL,
		    "invalid metric name \"1abc\"");
	expect_fail(kc_prom_family(p, "a-b", "h", KC_PROM_GAUGE, &err), &err, EINVAL,
		    "invalid metric name \"a-b\"");
	expect_fail(kc_prom_family(p, "", "h", KC_PROM_GAUGE, &err), &err, EINVAL,
		    "invalid metric name \"\"");
	expect_fail(kc_prom_family(p, "ok", "h", (enum kc_prom_type)7, &err), &err, EINVAL,
		    "invalid type 7");
	assert_int_equal(kc_prom_family(p, "ok:name_1", "h", KC_PROM_GAUGE, &err), 0);
	expect_fail(kc_prom_family(p, "ok:name_1", "h", KC_PROM_GAUGE, &err), &err, EEXIST,
		    "family ok:name_1 written twice");
	expect_fail(kc_prom_const_label(p, "late", "v", &err), &err, EINVAL, "after a family");
	expect_fail(kc_prom_sample(p, bad_label, 1, &err), &err, EINVAL,
		    "invalid label name \"a-b\"");
	expect_fail(kc_prom_sample(p, reserved, 1, &err), &err, EINVAL,
		    "invalid label name \"__name__\"");
	expect_fail(kc_prom_sample(p, twice, 1, &err), &err, EINVAL, "label a twice");
	expect_fail(kc_prom_sample(p, no_value, 1, &err), &err, EINVAL, "label a has no value");
	expect_fail(kc_prom_sample(p, constant, 1, &err), &err, EINVAL,
		    "label sandbox_id is constant");
	/* Nothing of the refused samples was written. */
	assert_string_equal(kc_prom_text(p, &len), "# HELP ok:name_1 h\n# TYPE ok:name_1 gauge\n");
	assert_int_equal(len, strlen(kc_prom_text(p, NULL)));
}

static void test_histogram(void **state)
{
	cleanup_prom struct kc_prom *p = kc_prom_new();
	cleanup_error kc_error_t err = NULL;
	struct kc_prom_hist h = { 0 };
	const char *action[] = { "action", "x", NULL };
	const char *le[] = { "le", "1", NULL };
	struct kc_prom_parsed d;
	const char *want = "# HELP h_ms H.\n# TYPE h_ms histogram\n"
			   "h_ms_bucket{action=\"x\",le=\"1\"} 2\n"
			   "h_ms_bucket{action=\"x\",le=\"2\"} 2\n"
			   "h_ms_bucket{action=\"x\",le=\"4\"} 3\n"
			   "h_ms_bucket{action=\"x\",le=\"8\"} 3\n"
			   "h_ms_bucket{action=\"x\",le=\"16\"} 3\n"
			   "h_ms_bucket{action=\"x\",le=\"32\"} 3\n"
			   "h_ms_bucket{action=\"x\",le=\"64\"} 3\n"
			   "h_ms_bucket{action=\"x\",le=\"128\"} 3\n"
			   "h_ms_bucket{action=\"x\",le=\"256\"} 3\n"
			   "h_ms_bucket{action=\"x\",le=\"512\"} 4\n"
			   "h_ms_bucket{action=\"x\",le=\"+Inf\"} 5\n"
			   "h_ms_sum{action=\"x\"} 1616.5\n"
			   "h_ms_count{action=\"x\"} 5\n"
			   "# TYPE g gauge\n";

	(void)state;
	/* 1 falls in le="1", 512 in le="512", 1000 only in +Inf. */
	kc_prom_hist_observe(&h, 0.5);
	kc_prom_hist_observe(&h, 1);
	kc_prom_hist_observe(&h, 3);
	kc_prom_hist_observe(&h, 512);
	kc_prom_hist_observe(&h, 1100);
	assert_int_equal(kc_prom_family(p, "h_ms", "H.", KC_PROM_HISTOGRAM, &err), 0);
	expect_fail(kc_prom_sample(p, NULL, 1, &err), &err, EINVAL, "takes kc_prom_histogram()");
	expect_fail(kc_prom_histogram(p, le, &h, &err), &err, EINVAL, "label le is the buckets'");
	assert_int_equal(kc_prom_histogram(p, action, &h, &err), 0);
	assert_int_equal(kc_prom_family(p, "g", NULL, KC_PROM_GAUGE, &err), 0);
	expect_fail(kc_prom_histogram(p, action, &h, &err), &err, EINVAL, "g: not a histogram");
	assert_string_equal(kc_prom_text(p, NULL), want);
	parse_strict(want, &d);
	assert_int_equal(d.n_families, 2);
	assert_int_equal(d.families[0].type, KC_PROM_HISTOGRAM);
	assert_int_equal(d.families[0].n_samples, 13);
	assert_string_equal(d.families[0].samples[12].name, "h_ms_count");
	kc_prom_parsed_free(&d);
}

/* What the writer writes, the strict parser reads back as given. */
static void test_round_trip(void **state)
{
	cleanup_prom struct kc_prom *p = kc_prom_new();
	cleanup_error kc_error_t err = NULL;
	struct kc_prom_parsed d;
	const char *odd = "\\\\\"\n\"} 7\n# TYPE x gauge\n{";
	const char *labels[] = { "item", odd, "empty", "", NULL };
	const struct kc_prom_parsed_sample *s;

	(void)state;
	assert_int_equal(kc_prom_family(p, "rt", "h\\elp\n2", KC_PROM_GAUGE, &err), 0);
	assert_int_equal(kc_prom_sample(p, labels, 42.25, &err), 0);
	assert_int_equal(kc_prom_sample(p, NULL, -0.0001, &err), 0);
	parse_strict(kc_prom_text(p, NULL), &d);
	assert_int_equal(d.n_families, 1);
	assert_string_equal(d.families[0].help, "h\\elp\n2");
	assert_int_equal(d.families[0].type, KC_PROM_GAUGE);
	assert_int_equal(d.families[0].n_samples, 2);
	s = sample(&d, "rt", "item", odd);
	assert_string_equal(label(s, "empty"), "");
	assert_true(s->value == 42.25);
	assert_true(d.families[0].samples[1].value == -0.0001);
	kc_prom_parsed_free(&d);
}

static void expect_parse_error(const char *text, const char *msg)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_prom_parsed d;

	assert_int_equal(kc_prom_parse(text, strlen(text), true, &d, &err), -EINVAL);
	if (!strstr(err->msg, msg))
		fail_msg("\"%s\" does not say \"%s\"", err->msg, msg);
	/* Leniently, the same text loses that line and keeps the rest. */
	kc_error_free(&err);
	assert_int_equal(kc_prom_parse(text, strlen(text), false, &d, &err), 0);
	assert_true(d.dropped >= 1);
	kc_prom_parsed_free(&d);
}

static void test_parse_refuses(void **state)
{
	(void)state;
	expect_parse_error("a 1\nb 2\na 3\n", "line 3: a family's samples apart");
	expect_parse_error("# TYPE a gauge\n# TYPE a gauge\na 1\n", "line 2: HELP or TYPE");
	expect_parse_error("a 1\n# HELP a late\n", "line 2: HELP or TYPE");
	expect_parse_error("a{x=\"\\q\"} 1\n", "line 1: a label value badly quoted");
	expect_parse_error("a{x=\"open} 1\n", "line 1: a label value badly quoted");
	expect_parse_error("a{x=1} 1\n", "line 1: a label without");
	expect_parse_error("a{x=\"1\",x=\"2\"} 1\n", "line 1: a label twice");
	expect_parse_error("a{__x=\"1\"} 1\n", "line 1: invalid label name");
	expect_parse_error("a{x=\"1\" y=\"2\"} 1\n", "line 1: labels not separated");
	expect_parse_error("9a 1\n", "line 1: invalid metric name");
	expect_parse_error("# TYPE 9a gauge\na 1\n", "line 1: invalid metric name");
	expect_parse_error("a one\n", "line 1: no valid value");
	expect_parse_error("a 0x10\n", "line 1: no valid value");
	expect_parse_error("a 1 2 3\n", "line 1: junk after the timestamp");
	expect_parse_error("# TYPE s summary\ns_sum 1\n", "line 1: summaries are not supported");
	expect_parse_error("# TYPE a gaug\na 1\n", "line 1: an unknown TYPE");
	expect_parse_error("# HELP a bad \\t escape\n", "line 1: an invalid escape in HELP");
}

static void test_parse_accepts(void **state)
{
	struct kc_prom_parsed d;
	/* Comments, blank lines, CRLF, timestamps, a trailing comma, spaces. */
	const char *text = "# a comment\n\n# HELP a A.\r\n# TYPE a counter\n"
			   "a{x=\"1\",} 3 1700000000000\na{ x=\"2\" } -Inf\n  \nb +Inf\n";

	(void)state;
	parse_strict(text, &d);
	assert_int_equal(d.n_families, 2);
	assert_string_equal(d.families[0].help, "A.");
	assert_int_equal(d.families[0].type, KC_PROM_COUNTER);
	assert_true(sample(&d, "a", "x", "1")->value == 3);
	assert_true(isinf(sample(&d, "a", "x", "2")->value));
	assert_false(d.families[1].typed);
	kc_prom_parsed_free(&d);
}

static void test_parse_bounds(void **state)
{
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *big = kc_xmalloc(KC_PROM_MAX_TEXT + 2);
	cleanup_free char *many = NULL;
	static const char nul[] = "a 1\nb\0 2\nc 3\n";
	struct kc_prom_parsed d;
	size_t n = 0;

	(void)state;
	memset(big, ' ', KC_PROM_MAX_TEXT + 1);
	big[KC_PROM_MAX_TEXT + 1] = '\0';
	assert_int_equal(kc_prom_parse(big, KC_PROM_MAX_TEXT + 1, true, &d, &err), -EFBIG);
	kc_error_free(&err);
	/* A NUL inside the text is a bad line, not the end of it. */
	assert_int_equal(kc_prom_parse(nul, sizeof(nul) - 1, false, &d, &err), 0);
	assert_int_equal(d.n_families, 2);
	assert_int_equal(d.dropped, 1);
	kc_prom_parsed_free(&d);
	/* More samples than the bound: the rest are dropped, counted. */
	many = kc_xmalloc((KC_PROM_MAX_SAMPLES + 10) * 24);
	for (int i = 0; i < KC_PROM_MAX_SAMPLES + 10; i++)
		n += (size_t)sprintf(many + n, "a{i=\"%d\"} 1\n", i);
	assert_int_equal(kc_prom_parse(many, n, false, &d, &err), 0);
	assert_int_equal(d.families[0].n_samples, KC_PROM_MAX_SAMPLES);
	assert_int_equal(d.dropped, 10);
	kc_prom_parsed_free(&d);
}

/* ---- the agent's answer ---- */

/* The text kata-c's agent answers GetMetrics with today (guest.c), plus
 * what Kata's agent sends and what a hostile guest might. */
#define AGENT_CLEAN \
	"# HELP kata_agent_scrape_count Metrics scrape count\n" \
	"# TYPE kata_agent_scrape_count counter\n" \
	"kata_agent_scrape_count 3\n" \
	"# HELP kata_agent_threads Agent process threads\n" \
	"# TYPE kata_agent_threads gauge\n" \
	"kata_agent_threads 2\n" \
	"# HELP kata_guest_load Guest system load.\n" \
	"# TYPE kata_guest_load gauge\n" \
	"kata_guest_load{item=\"load1\"} 0.25\n" \
	"kata_guest_load{item=\"load5\"} 0.5\n" \
	"kata_guest_load{item=\"load15\"} 0.75\n" \
	"# HELP kata_guest_meminfo Statistics about memory usage in the system.\n" \
	"# TYPE kata_guest_meminfo gauge\n" \
	"kata_guest_meminfo{item=\"MemTotal\"} 2048000\n" \
	"kata_guest_meminfo{item=\"Active_anon_\"} 4096\n" \
	"kata_guest_meminfo{item=\"Committed_AS\"} 8192\n" \
	"kata_guest_meminfo{item=\"DirectMap2M\"} 1024\n" \
	"kata_guest_meminfo{item=\"HugePages_Total\"} 0\n" \
	"kata_guest_meminfo{item=\"NotAKataItem\"} 5\n" /* Kata's agent: Go-style process families. */ \
	"# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n" \
	"# TYPE process_cpu_seconds_total counter\n" \
	"process_cpu_seconds_total 1.5\n"
/* Not the guest's to say: host families, the sandbox's id; not valid. */
#define AGENT_HOSTILE \
	"# TYPE kata_hypervisor_threads gauge\n" \
	"kata_hypervisor_threads 999\n" \
	"kata_guest_tasks{item=\"cur\",sandbox_id=\"other\"} 1\n" \
	"kata_guest_tasks{item=\"max\"} 4\n" \
	"# TYPE kata_guest_hist histogram\n" \
	"kata_guest_hist_bucket{le=\"1\"} 1\n" \
	"kata_guest_hist_sum 1\n" \
	"kata_guest_hist_count 1\n" \
	"kata_guest_bad{item=\"x} 1\n" \
	"kata_guest_ok 1\n"

static const char agent_text[] = AGENT_CLEAN AGENT_HOSTILE;

static void test_agent(void **state)
{
	cleanup_prom struct kc_prom *p = kc_prom_new();
	cleanup_error kc_error_t err = NULL;
	struct kc_prom_parsed d;
	size_t dropped;

	(void)state;
	assert_int_equal(kc_prom_const_label(p, "sandbox_id", "sb1", &err), 0);
	assert_int_equal(kc_prom_agent(p, agent_text, strlen(agent_text), &dropped, &err), 0);
	parse_strict(kc_prom_text(p, NULL), &d);

	assert_true(sample(&d, "kata_agent_scrape_count", NULL, NULL)->value == 3);
	assert_int_equal(family(&d, "kata_agent_scrape_count")->type, KC_PROM_COUNTER);
	assert_string_equal(family(&d, "kata_agent_threads")->help, "Agent process threads");
	assert_true(sample(&d, "kata_guest_load", "item", "load15")->value == 0.75);
	/* meminfo's items take Kata's names. */
	assert_true(sample(&d, "kata_guest_meminfo", "item", "mem_total")->value == 2048000);
	assert_true(sample(&d, "kata_guest_meminfo", "item", "active_anon")->value == 4096);
	assert_true(sample(&d, "kata_guest_meminfo", "item", "committed_as")->value == 8192);
	assert_true(sample(&d, "kata_guest_meminfo", "item", "direct_map_2M")->value == 1024);
	assert_non_null(sample(&d, "kata_guest_meminfo", "item", "hugepages_total"));
	assert_int_equal(family(&d, "kata_guest_meminfo")->n_samples, 5);
	assert_string_equal(
		label(sample(&d, "kata_guest_meminfo", "item", "mem_total"), "sandbox_id"), "sb1");
	/* Kata's shim renames the agent's process_* families. */
	assert_true(sample(&d, "kata_agent_process_cpu_seconds_total", NULL, NULL)->value == 1.5);
	assert_null(family(&d, "process_cpu_seconds_total"));
	/* What the guest may not say, it did not. */
	assert_null(family(&d, "kata_hypervisor_threads"));
	assert_int_equal(family(&d, "kata_guest_tasks")->n_samples, 1);
	assert_true(sample(&d, "kata_guest_tasks", "item", "max")->value == 4);
	assert_null(family(&d, "kata_guest_hist"));
	assert_null(family(&d, "kata_guest_hist_bucket"));
	assert_null(family(&d, "kata_guest_bad"));
	assert_non_null(family(&d, "kata_guest_ok"));
	/* NotAKataItem, hypervisor_threads, tasks{sandbox_id}, the histogram's
	 * three samples, the bad line. */
	assert_int_equal(dropped, 7);
	kc_prom_parsed_free(&d);
}

/* Whatever the guest sends, what passes is valid text: the agent's text
 * mutated byte by byte (a fixed seed, so a failure repeats), ingested, and
 * the result parsed strictly. */
static void test_agent_mutated(void **state)
{
	static const char alphabet[] = "{}\"\\\n =,#_aZ09.-+e\r\t\0";
	unsigned seed = 20261207;
	size_t len = strlen(agent_text);

	(void)state;
	for (int round = 0; round < 3000; round++) {
		cleanup_prom struct kc_prom *p = kc_prom_new();
		cleanup_error kc_error_t err = NULL;
		cleanup_free char *text = kc_xstrdup(agent_text);
		struct kc_prom_parsed d;
		size_t dropped;

		assert_int_equal(kc_prom_const_label(p, "sandbox_id", "sb", &err), 0);
		for (int i = 0; i < 1 + round % 8; i++)
			text[rand_r(&seed) % len] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		assert_int_equal(kc_prom_agent(p, text, len, &dropped, &err), 0);
		parse_strict(kc_prom_text(p, NULL), &d);
		for (size_t i = 0; i < d.n_families; i++) {
			const char *name = d.families[i].name;

			assert_true(strncmp(name, "kata_agent_", 11) == 0 ||
				    strncmp(name, "kata_guest_", 11) == 0);
			for (size_t j = 0; j < d.families[i].n_samples; j++)
				assert_string_equal(label(&d.families[i].samples[j], "sandbox_id"),
						    "sb");
		}
		kc_prom_parsed_free(&d);
	}
}

/* ---- a whole sandbox ---- */

static pid_t sleeper(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		/* Gone with the test, should a failed assertion skip reap(). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pause();
		_exit(0);
	}
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

static char *render(pid_t hyp, pid_t vfs, const char *agent, size_t want_dropped)
{
	cleanup_prom struct kc_prom *p = kc_prom_new();
	cleanup_error kc_error_t err = NULL;
	struct kc_pod_usage before = { .at_ns = 1000000000,
				       .host_cpu_ns = 100000000,
				       .guest_cpu_ns = 50000000,
				       .host_mem_bytes = 300 << 20,
				       .guest_mem_bytes = 100 << 20 };
	struct kc_pod_usage after = { .at_ns = 2000000000,
				      .host_cpu_ns = 400000000,
				      .guest_cpu_ns = 250000000,
				      .host_mem_bytes = 310 << 20,
				      .guest_mem_bytes = 110 << 20 };
	struct kc_prom_sandbox sb = {
		.hypervisor_pid = hyp,
		.virtiofsd_pid = vfs,
		.agent_text = agent,
		.agent_len = strlen(agent),
		.overhead = { &before, &after },
	};
	size_t dropped;
	struct kc_prom_hist rpc = { 0 };
	const char *create[] = { "action", "create", NULL };

	assert_int_equal(kc_prom_const_label(p, "sandbox_id", "0123abcd", &err), 0);
	if (kc_prom_render_sandbox(p, &sb, &dropped, &err) < 0)
		fail_msg("render: %s", err->msg);
	assert_int_equal(dropped, want_dropped);
	/* The shim's own RPC timings, as Kata's shim keeps them. */
	kc_prom_hist_observe(&rpc, 0.5);
	kc_prom_hist_observe(&rpc, 3);
	kc_prom_hist_observe(&rpc, 700);
	assert_int_equal(kc_prom_family(p, "kata_shim_rpc_durations_histogram_milliseconds",
					"RPC latency distributions.", KC_PROM_HISTOGRAM, &err),
			 0);
	assert_int_equal(kc_prom_histogram(p, create, &rpc, &err), 0);
	return kc_xstrdup(kc_prom_text(p, NULL));
}

static void test_sandbox(void **state)
{
	pid_t hyp = sleeper(), vfs = sleeper();
	cleanup_free char *text = render(hyp, vfs, agent_text, 7);
	struct kc_prom_parsed d;
	const char *shim[] = { "threads", "proc_status", "proc_stat", "io_stat", "fds" };

	(void)state;
	reap(hyp);
	reap(vfs);
	parse_strict(text, &d);
	for (size_t i = 0; i < KC_ARRAY_SIZE(shim); i++) {
		const char *ns[] = { "kata_shim", "kata_hypervisor", "kata_virtiofsd" };

		for (size_t j = 0; j < KC_ARRAY_SIZE(ns); j++) {
			cleanup_free char *name = kc_xasprintf("%s_%s", ns[j], shim[i]);

			assert_non_null(family(&d, name));
		}
	}
	assert_string_equal(family(&d, "kata_hypervisor_threads")->help,
			    "Hypervisor process threads.");
	assert_true(sample(&d, "kata_hypervisor_threads", NULL, NULL)->value == 1);
	assert_true(sample(&d, "kata_shim_proc_status", "item", "vmrss")->value > 0);
	assert_non_null(sample(&d, "kata_hypervisor_proc_stat", "item", "cstime"));
	assert_non_null(sample(&d, "kata_virtiofsd_io_stat", "item", "cancelledwritebytes"));
	assert_non_null(sample(&d, "kata_hypervisor_netdev", "item", "sent_carrier"));
	assert_string_equal(label(sample(&d, "kata_hypervisor_netdev", "interface", "lo"), "item"),
			    "recv_bytes");
	assert_non_null(family(&d, "kata_shim_process_start_time_seconds"));
	assert_int_equal(family(&d, "kata_shim_process_cpu_seconds_total")->type, KC_PROM_COUNTER);
	assert_null(family(&d, "kata_hypervisor_process_open_fds"));
	/* 300 ms of the host's cpu over a second, less the guest's 200 ms. */
	assert_true(fabs(sample(&d, "kata_shim_pod_overhead_cpu", NULL, NULL)->value - 10) < 1e-9);
	assert_true(sample(&d, "kata_shim_pod_overhead_memory_in_bytes", NULL, NULL)->value ==
		    200 << 20);
	assert_true(sample(&d, "kata_guest_meminfo", "item", "mem_total")->value == 2048000);
	assert_int_equal(family(&d, "kata_shim_rpc_durations_histogram_milliseconds")->n_samples,
			 13);
	/* Every sample carries the sandbox's id. */
	for (size_t i = 0; i < d.n_families; i++)
		for (size_t j = 0; j < d.families[i].n_samples; j++)
			assert_string_equal(label(&d.families[i].samples[j], "sandbox_id"),
					    "0123abcd");
	kc_prom_parsed_free(&d);
}

/* The hypervisor gone: the render says whose figures it could not read. */
static void test_sandbox_hypervisor_gone(void **state)
{
	cleanup_prom struct kc_prom *p = kc_prom_new();
	cleanup_error kc_error_t err = NULL;
	pid_t hyp = sleeper();
	struct kc_prom_sandbox sb = { .hypervisor_pid = hyp };

	(void)state;
	reap(hyp);
	assert_int_equal(kc_prom_render_sandbox(p, &sb, NULL, &err), -ESRCH);
	assert_non_null(strstr(err->msg, "metrics of the hypervisor: process"));
	assert_non_null(strstr(err->msg, "no such process"));
}

/*
 * Prometheus's own checker on a whole render.  Its lint findings about
 * names are allowed only for the names Kata chose (dashboards need those);
 * a parse error ("error while linting") never.  Rendered with a histogram
 * too, as the shim will time its RPCs.
 */
static const char *const kata_lints[] = {
	"kata_agent_scrape_count counter metrics should have \"_total\" suffix",
	"kata_agent_scrape_count non-histogram and non-summary metrics should not have "
	"\"_count\" suffix",
	"kata_shim_rpc_durations_histogram_milliseconds metric name should not include type "
	"'histogram'",
	"kata_shim_rpc_durations_histogram_milliseconds use base unit \"seconds\" instead of "
	"\"milliseconds\"",
};

static void test_promtool(void **state)
{
	pid_t hyp = sleeper();
	cleanup_free char *text = render(hyp, 0, AGENT_CLEAN, 1);
	cleanup_free char *dir = kc_xstrdup("/tmp/kc-test-prom-XXXXXX");
	cleanup_free char *in = NULL, *out = NULL, *cmd = NULL, *report = NULL;
	size_t len;
	int status;

	(void)state;
	reap(hyp);
	assert_non_null(mkdtemp(dir));
	in = kc_xasprintf("%s/metrics", dir);
	out = kc_xasprintf("%s/report", dir);
	assert_int_equal(kc_write_file_atomic(in, text, strlen(text), 0600, NULL), 0);
	cmd = kc_xasprintf("promtool check metrics < %s > %s 2>&1", in, out);
	status = system(cmd);
	assert_int_equal(kc_read_file(out, 1 << 20, &report, &len, NULL), 0);
	unlink(in);
	unlink(out);
	rmdir(dir);
	assert_true(WIFEXITED(status));
	/* 127: no promtool (scripts/install-deps.sh installs Debian's prometheus). */
	if (WEXITSTATUS(status) == 127)
		fail_msg("promtool is missing: %s", report);
	if (strstr(report, "error"))
		fail_msg("promtool: %s", report);
	/* 0: clean; 3: lint findings, each of which must be Kata's naming. */
	assert_true(WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 3);
	for (char *line = strtok(report, "\n"); line; line = strtok(NULL, "\n")) {
		bool known = false;

		for (size_t i = 0; i < KC_ARRAY_SIZE(kata_lints); i++)
			known |= strcmp(line, kata_lints[i]) == 0;
		if (!known)
			fail_msg("promtool: %s", line);
	}
}

/* kc_prom_relay(): a shim's samples written again with kata-monitor's
 * labels, histograms' le kept; samples of another family, a label brought
 * twice, refused. */
static void test_relay(void **state)
{
	const char *in = "# HELP g a gauge\n# TYPE g gauge\ng{item=\"x\"} 3\n"
			 "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
			 "h_sum 7\nh_count 2\n"
			 "# TYPE c counter\nc{sandbox_id=\"evil\"} 1\n";
	const char *extra[] = { "sandbox_id", "s1", "cri_name", "pod", NULL };
	const char *want = "# HELP g a gauge\n# TYPE g gauge\n"
			   "g{item=\"x\",sandbox_id=\"s1\",cri_name=\"pod\"} 3\n"
			   "# TYPE h histogram\n"
			   "h_bucket{le=\"1\",sandbox_id=\"s1\",cri_name=\"pod\"} 1\n"
			   "h_bucket{le=\"+Inf\",sandbox_id=\"s1\",cri_name=\"pod\"} 2\n"
			   "h_sum{sandbox_id=\"s1\",cri_name=\"pod\"} 7\n"
			   "h_count{sandbox_id=\"s1\",cri_name=\"pod\"} 2\n"
			   "# TYPE c counter\n";
	cleanup_prom struct kc_prom *p = kc_prom_new();
	struct kc_prom_parsed d;
	cleanup_error kc_error_t err = NULL;

	(void)state;
	parse_strict(in, &d);
	assert_int_equal(d.n_families, 3);
	for (size_t i = 0; i < d.n_families; i++) {
		const struct kc_prom_parsed_family *f = &d.families[i];

		assert_int_equal(kc_prom_family(p, f->name, f->help, f->type, &err), 0);
		for (size_t k = 0; k < f->n_samples; k++) {
			int ret = kc_prom_relay(p, &f->samples[k], extra, &err);

			if (strcmp(f->name, "c") == 0) {
				assert_int_equal(ret, -EINVAL);
				assert_non_null(strstr(err->msg, "label sandbox_id twice"));
				kc_error_free(&err);
			} else {
				assert_int_equal(ret, 0);
			}
		}
	}
	assert_string_equal(kc_prom_text(p, NULL), want);
	/* h's samples under g, g's under h: refused. */
	assert_int_equal(kc_prom_family(p, "g2", NULL, KC_PROM_GAUGE, &err), 0);
	assert_int_equal(kc_prom_relay(p, &d.families[1].samples[0], NULL, &err), -EINVAL);
	kc_error_free(&err);
	assert_int_equal(kc_prom_family(p, "g_bucket", NULL, KC_PROM_GAUGE, &err), 0);
	assert_int_equal(kc_prom_relay(p, &d.families[0].samples[0], NULL, &err), -EINVAL);
	kc_error_free(&err);
	kc_prom_parsed_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_writer_exact),
		cmocka_unit_test(test_writer_refuses),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_parse_accepts),
		cmocka_unit_test(test_parse_bounds),
		cmocka_unit_test(test_agent),
		cmocka_unit_test(test_agent_mutated),
		cmocka_unit_test(test_sandbox),
		cmocka_unit_test(test_sandbox_hypervisor_gone),
		cmocka_unit_test(test_promtool),
		cmocka_unit_test(test_relay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
