/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The measuring half of bench/agent:
 *
 *   bench_agent AGENT_BIN BUNDLE RUNS
 *
 * Starts AGENT_BIN --no-init on a unix socket, then RUNS times, one after
 * the other: create+start+wait+remove of a container from BUNDLE's
 * config.json through the agent, and `runc run` of the same bundle.  Then
 * the agent's resident memory idle and with 10 containers running sleep.
 * Prints one line of key=value figures (milliseconds are medians).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "lib/json.h"
#include "lib/util.h"
#include "ttrpc/client.h"
#include "ttrpc/transport.h"

#define SEC 1000000000ull
#define SVC "grpc.AgentService"

static struct kc_ttrpc_client *cli;

static void die(const char *what, kc_error_t *err)
{
	fprintf(stderr, "bench_agent: %s: %s\n", what, err && *err ? (*err)->msg : strerror(errno));
	exit(1);
}

static void call(const char *method, const ProtobufCMessage *req,
		 const ProtobufCMessageDescriptor *out, ProtobufCMessage **resp)
{
	cleanup_error kc_error_t err = NULL;
	struct kc_ttrpc_call_opts opts = { .timeout_ns = 60 * SEC };

	if (kc_ttrpc_client_call_msg_sync(cli, SVC, method, req, out, resp, &opts, &err) < 0)
		die(method, &err);
}

static void create_start(const char *id, const char *spec)
{
	Grpc__CreateContainerRequest c = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	Grpc__StartContainerRequest s = GRPC__START_CONTAINER_REQUEST__INIT;

	c.container_id = (char *)id;
	c.exec_id = (char *)id;
	c.oci_spec_json.data = (uint8_t *)spec;
	c.oci_spec_json.len = strlen(spec);
	call("CreateContainer", &c.base, NULL, NULL);
	s.container_id = (char *)id;
	call("StartContainer", &s.base, NULL, NULL);
}

static int wait_remove(const char *id)
{
	Grpc__WaitProcessRequest w = GRPC__WAIT_PROCESS_REQUEST__INIT;
	Grpc__RemoveContainerRequest r = GRPC__REMOVE_CONTAINER_REQUEST__INIT;
	Grpc__WaitProcessResponse *resp = NULL;
	int status;

	w.container_id = (char *)id;
	call("WaitProcess", &w.base, &grpc__wait_process_response__descriptor,
	     (ProtobufCMessage **)&resp);
	status = resp->status;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	r.container_id = (char *)id;
	call("RemoveContainer", &r.base, NULL, NULL);
	return status;
}

static double agent_cycle(const char *spec, int i)
{
	char id[64];
	uint64_t t0 = kc_monotonic_ns();
	int status;

	snprintf(id, sizeof(id), "bench-%d", i);
	create_start(id, spec);
	status = wait_remove(id);
	if (status != 0) {
		fprintf(stderr, "bench_agent: container exited %d\n", status);
		exit(1);
	}
	return (double)(kc_monotonic_ns() - t0) / 1e6;
}

static double runc_cycle(const char *bundle, int i)
{
	char id[64];
	uint64_t t0 = kc_monotonic_ns();
	int wstatus;
	pid_t pid;

	snprintf(id, sizeof(id), "kc-bench-agent-%d-%d", (int)getpid(), i);
	pid = fork();
	if (pid < 0)
		die("fork", NULL);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		execlp("runc", "runc", "run", "--bundle", bundle, id, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &wstatus, 0) != pid || !WIFEXITED(wstatus) || WEXITSTATUS(wstatus)) {
		fprintf(stderr, "bench_agent: runc run failed (%#x)\n", wstatus);
		exit(1);
	}
	return (double)(kc_monotonic_ns() - t0) / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static long rss_kib(pid_t pid)
{
	char path[64];
	cleanup_free char *buf = NULL;
	size_t len;
	const char *p;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (kc_read_file(path, 1 << 16, &buf, &len, NULL) < 0 || !(p = strstr(buf, "VmRSS:")))
		return -1;
	return strtol(p + 6, NULL, 10);
}

/* The bundle's config.json with root.path made absolute and args set. */
static char *spec_for(const char *bundle, const char *args_json)
{
	cleanup_free char *path = kc_xasprintf("%s/config.json", bundle);
	cleanup_free char *root = NULL;
	cleanup_json json_t *spec = NULL, *args = NULL;
	cleanup_error kc_error_t err = NULL;
	json_t *r;

	if (kc_json_load_file(path, &spec, &err) < 0)
		die("config.json", &err);
	r = json_object_get(spec, "root");
	root = kc_xasprintf("%s/%s", bundle, json_string_value(json_object_get(r, "path")));
	json_object_set_new(r, "path", json_string(root));
	if (kc_json_parse(args_json, strlen(args_json), "args", &args, &err) < 0)
		die("args", &err);
	json_object_set(json_object_get(spec, "process"), "args", args);
	return kc_json_dump(spec, 1);
}

int main(int argc, char **argv)
{
	cleanup_error kc_error_t err = NULL;
	char dir[] = "/tmp/kc-bench-agent-XXXXXX";
	cleanup_free char *uri = NULL, *true_spec = NULL, *sleep_spec = NULL;
	cleanup_free double *ta = NULL, *tr = NULL;
	struct kc_loop *loop;
	long idle, idle_after, rss10;
	int runs, fd, wstatus;
	uint64_t deadline;
	pid_t agent;

	if (argc != 4 || (runs = atoi(argv[3])) < 1) {
		fprintf(stderr, "usage: bench_agent AGENT_BIN BUNDLE RUNS\n");
		return 2;
	}
	true_spec = spec_for(argv[2], "[\"/bin/true\"]");
	sleep_spec = spec_for(argv[2], "[\"/bin/sleep\", \"1000\"]");
	if (!mkdtemp(dir))
		die("mkdtemp", NULL);
	uri = kc_xasprintf("unix://%s/agent.sock", dir);
	agent = fork();
	if (agent == 0) {
		/* A driver that dies on an error takes the agent with it (else
		 * the agent keeps the bench script's output pipe open). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(argv[1], "kata-agent", "--no-init", "--listen", uri, "--log-level", "error",
		      (char *)NULL);
		_exit(127);
	}
	if (kc_loop_new(&loop, &err) < 0)
		die("loop", &err);
	deadline = kc_monotonic_ns() + 20 * SEC;
	while ((fd = kc_ttrpc_dial(uri, SEC, NULL)) < 0) {
		if (kc_monotonic_ns() > deadline)
			die("agent did not start", NULL);
		usleep(10000);
	}
	if (kc_ttrpc_client_new(loop, fd, &cli, &err) < 0)
		die("client", &err);
	{
		Grpc__CreateSandboxRequest sb = GRPC__CREATE_SANDBOX_REQUEST__INIT;

		sb.sandbox_id = (char *)"bench";
		call("CreateSandbox", &sb.base, NULL, NULL);
	}
	idle = rss_kib(agent);

	/* Warm-up, then the runs, the two kinds interleaved. */
	agent_cycle(true_spec, -1);
	runc_cycle(argv[2], -1);
	ta = kc_xzalloc((size_t)runs * sizeof(*ta));
	tr = kc_xzalloc((size_t)runs * sizeof(*tr));
	for (int i = 0; i < runs; i++) {
		ta[i] = agent_cycle(true_spec, i);
		tr[i] = runc_cycle(argv[2], i);
	}
	idle_after = rss_kib(agent);

	for (int i = 0; i < 10; i++) {
		char id[32];

		snprintf(id, sizeof(id), "sleep-%d", i);
		create_start(id, sleep_spec);
	}
	rss10 = rss_kib(agent);
	for (int i = 0; i < 10; i++) {
		Grpc__RemoveContainerRequest r = GRPC__REMOVE_CONTAINER_REQUEST__INIT;
		char id[32];

		snprintf(id, sizeof(id), "sleep-%d", i);
		r.container_id = id;
		call("RemoveContainer", &r.base, NULL, NULL);
	}

	kc_ttrpc_client_free(cli);
	kc_loop_free(loop);
	kill(agent, SIGTERM);
	waitpid(agent, &wstatus, 0);
	{
		cleanup_free char *rm = kc_xasprintf("rm -rf '%s'", dir);

		if (system(rm) != 0)
			fprintf(stderr, "bench_agent: cannot remove %s\n", dir);
	}
	{
		/* median() sorts: the fastest is first afterwards. */
		double ma = median(ta, runs), mr = median(tr, runs);

		printf("agent_ms=%.2f runc_ms=%.2f agent_min_ms=%.2f runc_min_ms=%.2f "
		       "idle_rss_kib=%ld idle_after_kib=%ld rss10_kib=%ld runs=%d\n",
		       ma, mr, ta[0], tr[0], idle, idle_after, rss10, runs);
	}
	return 0;
}
