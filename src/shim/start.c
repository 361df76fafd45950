/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `start`: containerd runs it with cwd = the bundle and reads its combined
 * output.  It prints only the socket address and exits 0; the daemon it
 * forks holds none of that output pipe.  A container of an existing pod
 * (CRI annotations) gets the pod shim's address instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/json.h"
#include "lib/log.h"
#include "lib/util.h"
#include "runtimeoptions.pb-c.h"
#include "google_protobuf.pb-c.h"
#include "sandbox/mount.h"
#include "shim.h"
#include "ttrpc/transport.h"

#define SOCKET_DIR "/run/kata-containers/s"

char *shim_socket_path(const char *address, const char *ns, const char *id)
{
	cleanup_free char *key = kc_xasprintf("%s/%s/%s", address ? address : "", ns, id);
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (const char *p = key; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 0x100000001b3ull;
	}
	return kc_xasprintf("%s/%016llx.sock", SOCKET_DIR, (unsigned long long)h);
}

const char *shim_sandbox_of(const char *bundle, const char *id, json_t **spec)
{
	cleanup_free char *cfgpath = kc_xasprintf("%s/config.json", bundle);
	const char *type, *sid;

	*spec = NULL;
	if (kc_json_load_file(cfgpath, spec, NULL) < 0)
		return id;
	type = kc_spec_annotation(*spec, "io.kubernetes.cri.container-type");
	sid = kc_spec_annotation(*spec, "io.kubernetes.cri.sandbox-id");
	return type && strcmp(type, "container") == 0 && sid ? sid : id;
}

static bool answers(const char *path)
{
	cleanup_free char *uri = kc_xasprintf("unix://%s", path);
	int fd = kc_ttrpc_dial(uri, 1000000000ull, NULL);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* runtimeoptions.v1.Options in a google.protobuf.Any, or nothing. */
static char *read_config_path(void)
{
	uint8_t buf[65536];
	size_t len = 0;
	ssize_t n;
	Google__Protobuf__Any *any;
	char *path = NULL;

	if (isatty(0))
		return NULL;
	while (len < sizeof(buf) && (n = read(0, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	if (len == 0)
		return NULL;
	any = google__protobuf__any__unpack(NULL, len, buf);
	if (!any)
		return NULL;
	if (strstr(any->type_url, "runtimeoptions.v1.Options")) {
		Runtimeoptions__V1__Options *o = runtimeoptions__v1__options__unpack(
			NULL, any->value.len, any->value.data);

		if (o && o->config_path[0])
			path = kc_xstrdup(o->config_path);
		if (o)
			runtimeoptions__v1__options__free_unpacked(o, NULL);
	}
	google__protobuf__any__free_unpacked(any, NULL);
	return path;
}

/* The daemon keeps nothing of its parent's but the two fds it needs. */
static void close_others(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;

	if (lo > 3)
		syscall(SYS_close_range, 3u, (unsigned)lo - 1, 0);
	if (hi > lo + 1)
		syscall(SYS_close_range, (unsigned)lo + 1, (unsigned)hi - 1, 0);
	syscall(SYS_close_range, (unsigned)hi + 1, ~0u, 0);
}

static int write_address(const char *bundle, const char *addr, kc_error_t *err)
{
	cleanup_free char *p = kc_xasprintf("%s/address", bundle);

	return kc_write_file_atomic(p, addr, strlen(addr), 0644, err);
}

int shim_start(const struct shim_args *a, kc_error_t *err)
{
	cleanup_free char *bundle = getcwd(NULL, 0);
	cleanup_free char *sock = NULL, *addr = NULL;
	cleanup_free char *config_path = NULL;
	cleanup_json json_t *spec = NULL;
	const char *sid;
	pid_t pid;
	int fd, ret, ready[2];
	char msg[512];
	ssize_t n;

	if (!bundle)
		return kc_error_set(err, errno, "getcwd");
	ret = kc_check_id("id", a->id, err);
	if (ret < 0)
		return ret;
	sid = shim_sandbox_of(bundle, a->id, &spec);
	ret = kc_check_id("sandbox id", sid, err);
	if (ret < 0)
		return ret;
	sock = shim_socket_path(a->address, a->ns, sid);
	addr = kc_xasprintf("unix://%s", sock);
	if (strcmp(sid, a->id) != 0 || answers(sock)) {
		/* A container of a running pod, or a shim that already serves
		 * this id: its address is the answer. */
		if (!answers(sock))
			return kc_error_set(err, ENOENT, "no shim runs for sandbox `%s` (%s)", sid,
					    sock);
		ret = write_address(bundle, addr, err);
		if (ret < 0)
			return ret;
		printf("%s", addr);
		return 0;
	}
	config_path = read_config_path();
	ret = kc_mkdir_p(SOCKET_DIR, err);
	if (ret < 0)
		return ret;
	unlink(sock); /* a dead shim's: it did not answer */
	fd = kc_ttrpc_listen(addr, err);
	if (fd < 0)
		return fd;
	if (pipe2(ready, O_CLOEXEC) < 0) {
		close(fd);
		unlink(sock);
		return kc_error_set(err, errno, "pipe");
	}
	fflush(stdout);
	/* Not a program started (host/child.h): the shim daemonises itself,
	 * the child going on in this very code with the socket. */
	pid = fork();
	if (pid < 0) {
		close(fd);
		close(ready[0]);
		close(ready[1]);
		unlink(sock);
		return kc_error_set(err, errno, "fork the shim daemon");
	}
	if (pid == 0) {
		cleanup_error kc_error_t serr = NULL;
		int nul = open("/dev/null", O_RDWR);

		setsid();
		/* Nothing of containerd's pipe stays open here. */
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		if (nul > 2)
			close(nul);
		close(ready[0]);
		close_others(fd, ready[1]);
		ret = shim_serve(a, fd, sock, config_path, ready[1], &serr);
		if (ret < 0)
			kc_log_error("shim: %s", serr->msg);
		_exit(ret < 0 ? 1 : 0);
	}
	close(fd);
	close(ready[1]);
	/* The answer goes out once the daemon serves: what containerd (or a
	 * test) does next finds it ready, and a daemon that failed is an
	 * error here rather than a dead socket. */
	n = read(ready[0], msg, sizeof(msg) - 1);
	close(ready[0]);
	msg[n > 0 ? n : 0] = '\0';
	if (strcmp(msg, "ok") != 0) {
		kill(pid, SIGKILL);
		unlink(sock);
		return kc_error_set(err, 0, "the shim daemon did not start: %s",
				    msg[0] ? msg : "it exited");
	}
	ret = write_address(bundle, addr, err);
	if (ret < 0) {
		kill(pid, SIGKILL);
		unlink(sock);
		return ret;
	}
	printf("%s", addr);
	return 0;
}
