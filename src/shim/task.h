/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_SHIM_TASK_H
#define KC_SHIM_TASK_H

/* What task_service.c, create.c and process.c share (inside the shim). */

#include "shim.h"

#define TYPE_ANNOTATION "io.kubernetes.cri.container-type"
#define SANDBOX_ANNOTATION "io.kubernetes.cri.sandbox-id"
#define NS_SEC 1000000000ull

/* process.c */
struct shim_container *shim_find_container(struct shim *s, const char *id);
/* The process (init for an empty eid), or fails call with NOT_FOUND. */
struct shim_proc *shim_find_proc(struct shim *s, struct kc_ttrpc_call *call, const char *id,
				 const char *eid);
/* The pid containerd sees for every process: the VMM's. */
uint32_t shim_task_pid(struct shim *s);
/* Logs and fails call with *err (freed). */
void shim_fail(struct kc_ttrpc_call *call, kc_error_t *err);
void shim_proc_init(struct shim_container *c, struct shim_proc *p, const char *eid,
		    bool terminal, const char *in, const char *out, const char *errp);
void shim_waiters_answer(struct shim_proc *p);
void shim_proc_release(struct shim_proc *p);
void shim_container_free(struct shim_container *c);
void shim_container_unlink(struct shim *s, struct shim_container *c);
/* Started: IO pumps and the WaitProcess long poll. */
void shim_proc_running(struct shim_proc *p);

/* task_service.c: the shim ends as Shutdown ends it, once the events
 * still queued are out (bounded); the VM and its files go after the loop. */
void shim_exit(struct shim *s);

/* create.c */
void shim_h_create(struct kc_ttrpc_call *call, const ProtobufCMessage *m, void *data);
/* Stops the VM and removes the sandbox (Shutdown, exit). */
void shim_sandbox_teardown(struct shim *s);

#endif
