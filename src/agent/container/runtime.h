/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_AGENT_CONTAINER_RUNTIME_H
#define KC_AGENT_CONTAINER_RUNTIME_H

/*
 * The container runtime as the service uses it (container.c, signals.c):
 * creating and starting a container's init process, exec'd processes,
 * signals, the sandbox's shared pid namespace.
 */

#include "agent/agent.h"

/*
 * Creates the container's init process from c->spec: namespaces, rootfs,
 * mounts, devices, hooks prestart, createRuntime and createContainer; it
 * then waits in the container for kc_agent_container_start().  sandbox_ns
 * (CLONE_NEWPID, CLONE_NEWIPC, CLONE_NEWUTS) names the namespaces it joins
 * rather than creates: the sandbox's (see CreateContainerRequest).  The child
 * is cloned here; the rest follows on the loop (its sync socket, the
 * hooks), and done(c, err) tells the end.  A failure is *err (with done
 * not called) or done's err, with the child reaped either way.
 */
int kc_agent_container_create(struct kc_agent_container *c, uint64_t sandbox_ns,
			      kc_agent_step_fn done, kc_error_t *err);
/* Lets the init process exec (startContainer hooks run first, in it);
 * the poststart hooks run on the loop once it did; then done(c, err),
 * err an exec failure (a poststart hook's failure is only logged, as
 * the OCI spec says).  Returns negative (done not called) when the
 * start cannot begin. */
int kc_agent_container_start(struct kc_agent_container *c, kc_agent_step_fn done, kc_error_t *err);
/* Starts the poststop hooks once, on the loop; done(c, NULL) when they
 * ran (failures are logged: the container is gone).  False when there is
 * nothing to run (done is not called). */
bool kc_agent_container_poststop_start(struct kc_agent_container *c, kc_agent_step_fn done);
/* Stops the step in progress, if any: its hooks killed, the sync socket
 * closed, a child still in its setup killed and reaped; its done is not
 * called.  c's pending call is the caller's to answer. */
void kc_agent_container_abort(struct kc_agent_container *c);
/* Starts p (p->spec set, pipes ready) in c's namespaces.  What p's spec
 * leaves out of capabilities, noNewPrivileges and rlimits is the
 * container's process's, as with runc.  On failure no
 * child is left: one cloned is killed and reaped before this returns,
 * and the caller frees p with everything it holds. */
int kc_agent_exec_spawn(struct kc_agent_container *c, struct kc_agent_proc *p, kc_error_t *err);
/* Sends sig to every process of the container (its pid namespace's, or
 * the known ones in a shared one).  Returns how many got it. */
int kc_agent_container_signal_all(struct kc_agent_container *c, int sig, kc_error_t *err);
/* The pids (agent's view) of the container's processes, sorted, for
 * ListProcesses; *n set.  The caller frees. */
pid_t *kc_agent_container_pids(struct kc_agent_container *c, size_t *n);
/* Runs the poststop hooks once and waits for them in place
 * (DestroySandbox, shutdown: errors are logged, the container is gone). */
void kc_agent_container_poststop(struct kc_agent_container *c);
/* The sandbox's shared pid namespace (a pause process). */
int kc_agent_sandbox_pidns_start(struct kc_agent *a, kc_error_t *err);
void kc_agent_sandbox_pidns_stop(struct kc_agent *a);

/* Sends sig through the pidfd (or kill() before one exists). */
int kc_agent_proc_signal(struct kc_agent_proc *p, int sig, kc_error_t *err);
/* The wait status as the API reports it: code, or 128 + signal. */
int kc_agent_exit_status(int wstatus);

#endif
