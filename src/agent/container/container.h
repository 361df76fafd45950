/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_AGENT_CONTAINER_H
#define KC_AGENT_CONTAINER_H

/*
 * The parts of the container runtime that run in the container's process
 * between clone and exec (rootfs.c, caps.c, seccomp.c, terminal.c) and the
 * hooks (hooks.c).  They follow the error convention: the child sends the
 * message back over its sync socket (container.c).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/agent.h"
#include "lib/error.h"
#include "oci/spec.h"

/* ---- rootfs.c (in the container's new mount namespace) ---- */

/* Makes the mount tree private (or the spec's propagation), binds the
 * rootfs on itself, mounts the spec's mounts and creates the devices.
 * A mount destination with ".." or that resolves outside the rootfs
 * (through a symlink) is refused naming the destination. */
int kc_rootfs_prepare(const struct kc_oci_spec *s, const char *root, bool userns, kc_error_t *err);
/* pivot_root into root (MS_MOVE + chroot on an initramfs), then masked and
 * readonly paths, the readonly root and rootfsPropagation. */
int kc_rootfs_enter(const struct kc_oci_spec *s, const char *root, kc_error_t *err);

/* ---- caps.c ---- */

int kc_proc_apply_rlimits(const struct kc_oci_process *p, kc_error_t *err);
/* Bounding set, groups, gid, uid, then the other four capability sets;
 * umask and no_new_privileges. */
int kc_proc_set_identity(const struct kc_oci_process *p, kc_error_t *err);

/* ---- seccomp.c ---- */

/* Builds the filter without loading it: what libseccomp refuses is an
 * error naming the field, at CreateContainer rather than at start. */
int kc_seccomp_check(const struct kc_oci_seccomp *s, kc_error_t *err);
int kc_seccomp_load(const struct kc_oci_seccomp *s, kc_error_t *err);

/* ---- terminal.c ---- */

/* In the child, in a new session, in the container's mount namespace and
 * root: a pty from the container's /dev/ptmx, its slave the controlling
 * terminal on fds 0, 1 and 2, the window size from consoleSize.  Returns the
 * master (close-on-exec), which the child sends to the agent. */
int kc_tty_child_open(const struct kc_oci_process *p, kc_error_t *err);
int kc_tty_resize(int master, unsigned rows, unsigned cols, kc_error_t *err);

/* ---- hooks.c ---- */

/* The OCI state document a hook reads on stdin. */
char *kc_hook_state(const struct kc_agent_container *c, const char *status, pid_t pid);
/* Runs the spec's hooks of kind k in order, each with the state on stdin
 * and its timeout, and waits for them in place: for a container's process
 * before it execs (createContainer, startContainer), and for the agent
 * only where nothing else is served any more (DestroySandbox).  The first
 * failure stops and is *err. */
int kc_hooks_run(const struct kc_oci_spec *s, enum kc_oci_hook_kind k, const char *state,
		 kc_error_t *err);

/* A run of hooks on the agent's loop. */
struct kc_hook_run;
/* The end of a run: err NULL when every hook succeeded, else the first
 * failure (done may take *err).  The run is already freed. */
typedef void (*kc_hooks_done_fn)(void *data, kc_error_t *err);
/*
 * Starts s's hooks of kinds[0], then kinds[1]..., in order, each a child
 * of the agent with the state on stdin, followed on a's loop (pidfd,
 * stderr, a timer for its timeout: the hook and its process group are
 * killed then); the agent goes on serving meanwhile.  Returns 0 with *out
 * set: done(data, ...) follows once from the loop, unless
 * kc_hooks_cancel(*out) comes first; 0 with *out NULL: there is no hook
 * to run and done is not called; negative: the first hook could not be
 * started (*err), done is not called.  s must outlive the run.
 */
int kc_hooks_start(struct kc_agent *a, const struct kc_oci_spec *s,
		   const enum kc_oci_hook_kind *kinds, size_t nkinds, const char *state,
		   kc_hooks_done_fn done, void *data, struct kc_hook_run **out, kc_error_t *err);
/* Kills the hook running (with its group), reaps it and frees r; done is
 * not called.  NULL is ignored. */
void kc_hooks_cancel(struct kc_hook_run *r);
/* For the agent's reaper: pid was a running hook's, whose run takes its
 * status.  False when pid is no hook's. */
bool kc_hooks_reaped(struct kc_agent *a, pid_t pid, int wstatus);

/* Kata's guest hooks: the executables in dir/prestart, dir/poststart and
 * dir/poststop (CreateSandbox.guest_hook_path), added to s's hooks of the
 * kind, in name order, each run as `path kind`. */
int kc_hooks_add_guest(struct kc_oci_spec *s, const char *dir, kc_error_t *err);

/* ---- container.c, for exec and init alike ---- */

/* Clones a child (with a pidfd) in the pid namespace of pidns_fd (-1: the
 * agent's own) and the cgroup of the directory cgroup_fd (-1: the agent's)
 * with the clone flags; 0 in the child. */
pid_t kc_agent_clone_in(int pidns_fd, uint64_t flags, int cgroup_fd, int *pidfd, kc_error_t *err);
/* In a child: closes every fd from 3 up but those in keep (ascending). */
void kc_agent_close_all_but(const int *keep, size_t n);

/* The program's path: args[0] itself when it has a '/', else searched in
 * the process's PATH (in the current root), as execvp does.  Execs it. */
int kc_proc_exec(const struct kc_oci_process *p, kc_error_t *err);

#endif
