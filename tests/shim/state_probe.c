/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kc-state-probe ID: another process opening the live sandbox ID from its
 * state (/run/vc/sbs/ID), as a host tool would.  Prints the state as read
 * (owner, processes, containers) and the agent's health as the owner relays
 * it ("health SERVING"); exits 1 with the reason when the sandbox cannot
 * be opened or its agent does not answer SERVING.  For tests/e2e.
 */
#include <stdio.h>
#include <stdlib.h>

#include "hypervisor/agent_client.h"
#include "lib/util.h"
#include "sandbox/state.h"
#include "ttrpc/loop.h"

int main(int argc, char **argv)
{
	cleanup_error kc_error_t err = NULL;
	cleanup_free char *dir = NULL;
	struct kc_sandbox_state st;
	struct kc_ttrpc_client *c = NULL;
	struct kc_loop *loop = NULL;
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: kc-state-probe SANDBOX-ID\n");
		return 2;
	}
	dir = kc_xasprintf("%s/%s", KC_STATE_ROOT, argv[1]);
	if (kc_loop_new(&loop, &err) < 0 || kc_state_open_live(dir, loop, &st, &c, &err) < 0) {
		kc_error_report("kc-state-probe", &err);
		kc_loop_free(loop);
		return 1;
	}
	printf("owner %d\n", (int)st.owner_pid);
	for (size_t i = 0; i < st.n_procs; i++)
		printf("process %s %d\n", st.procs[i].what, (int)st.procs[i].pid);
	for (size_t i = 0; i < st.n_containers; i++)
		printf("container %s %s\n", st.containers[i].id,
		       kc_state_status_name(st.containers[i].status));
	ret = kc_agent_check(c, 10 * 1000000000ull, &err);
	if (ret == 0)
		printf("health SERVING\n");
	else
		kc_error_report("kc-state-probe", &err);
	kc_ttrpc_client_free(c);
	kc_loop_free(loop);
	kc_state_clear(&st);
	return ret == 0 ? 0 : 1;
}
