/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `delete`: containerd runs it whenever its connection to the shim closes
 * (after a normal Shutdown too).  It cleans what a dead shim left of the
 * sandbox or container and prints a protobuf DeleteResponse; finding
 * nothing is success.  The sandbox's state (sandbox/state.h) says what the
 * shim made and whether it still lives: a shim that holds its state's lock
 * (stopping its VM after Shutdown, or serving a pod whose other container
 * is deleted) is left to clean up after itself; containerd only needs the
 * DeleteResponse then.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/json.h"
#include "lib/log.h"
#include "lib/util.h"
#include "sandbox/mount.h"
#include "sandbox/sandbox.h"
#include "shim.h"
#include "shim_task.pb-c.h"

/* Whether the shim whose pid is in <socket>.pid still runs.  One that
 * containerd just saw disconnect after Shutdown is still stopping its VM
 * and cleans up after itself: not waited for, since containerd waits for
 * this command.  A dead one's pidfd is readable at once (zombie or gone). */
static bool shim_alive(const char *sock)
{
	cleanup_free char *pidfile = kc_xasprintf("%s.pid", sock);
	cleanup_free char *text = NULL;
	unsigned long long pid;
	struct pollfd p;
	size_t len;
	int fd;

	if (kc_read_file(pidfile, 64, &text, &len, NULL) < 0)
		return false;
	text[strcspn(text, "\n")] = '\0';
	if (!kc_parse_u64(text, &pid) || pid < 2 || pid > INT32_MAX)
		return false;
	fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (fd < 0)
		return false;
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&p, 1, 0) > 0) {
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

int shim_delete(const struct shim_args *a, kc_error_t *err)
{
	cleanup_free char *cwd = getcwd(NULL, 0);
	const char *bundle = a->bundle ? a->bundle : cwd;
	cleanup_free char *rootfs = NULL, *sock = NULL;
	cleanup_json json_t *spec = NULL;
	Containerd__Task__V2__DeleteResponse r = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	struct timespec now;
	const char *sid = a->id;
	cleanup_free uint8_t *out = NULL;
	bool owner_alive = false;
	size_t len;
	int ret;

	ret = kc_check_id("id", a->id, err);
	if (ret < 0)
		return ret;
	if (bundle)
		sid = shim_sandbox_of(bundle, a->id, &spec);
	ret = kc_check_id("sandbox id", sid, err);
	if (ret < 0)
		return ret;
	sock = shim_socket_path(a->address, a->ns, sid);
	owner_alive = shim_alive(sock) || kc_sandbox_owner_alive(sid);
	if (owner_alive) {
		kc_info("delete %s: the shim of sandbox %s is alive: left to it", a->id, sid);
	} else if (strcmp(sid, a->id) == 0) {
		/* The pod's shim is gone: so must everything it ran. */
		json_t *cg = json_object_get(json_object_get(spec, "linux"), "cgroupsPath");

		ret = kc_sandbox_cleanup_dead(sid, json_is_string(cg) ? json_string_value(cg) : NULL,
					      err);
		if (ret < 0)
			return ret;
		/* 1: an owner took the sandbox meanwhile. */
		owner_alive = ret == 1;
		if (!owner_alive) {
			cleanup_free char *pidfile = kc_xasprintf("%s.pid", sock);

			unlink(sock);
			unlink(pidfile);
		}
	} else {
		cleanup_free char *mounts = kc_xasprintf("%s/%s/mounts", KC_SANDBOXES_DIR, sid);
		struct kc_container_env env = { .mounts_dir = mounts };

		ret = kc_container_cleanup(&env, a->id, NULL, err);
		if (ret < 0)
			return ret;
	}
	if (bundle && !owner_alive) {
		rootfs = kc_xasprintf("%s/rootfs", bundle);
		ret = kc_umount_below(rootfs, err);
		if (ret < 0)
			return ret;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	ts.seconds = now.tv_sec;
	ts.nanos = (int32_t)now.tv_nsec;
	r.exit_status = 128 + 9; /* as the runc shim: killed */
	r.exited_at = &ts;
	len = protobuf_c_message_get_packed_size(&r.base);
	out = kc_xmalloc(len + 1);
	protobuf_c_message_pack(&r.base, out);
	if (fwrite(out, 1, len, stdout) != len || fflush(stdout) != 0)
		return kc_error_set(err, errno, "write the DeleteResponse");
	return 0;
}
