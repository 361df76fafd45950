#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A short soak (bench/drivers/soak.sh; bench/soak runs the long one): 10
# `ctr run --rm` cycles and 60 execs into one pod, half of them of a
# missing binary.  Nothing may grow: the agent's descriptors, the shim's,
# containerd's, this run's mounts and processes; no cycle may fail or
# leave anything.  KC_SOAK_CYCLES and KC_SOAK_EXECS change the counts.  TAP.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../../bench/drivers/soak.sh"
trap 'e2e_stop' EXIT
e2e_start
soak_run "${KC_SOAK_CYCLES:-10}" "${KC_SOAK_EXECS:-60}"
[ -n "$SOAK_REPORT" ] && echo "$SOAK_REPORT" | sed 's/^/# /'
echo "# agent descriptors $(cat "$W/soak.before.agent") -> $(cat "$W/soak.after.agent"); cycles p50 ${SOAK_P50_MS} ms, p99 ${SOAK_P99_MS} ms"
[ -s "$W/soak.before.agent" ] && ok "the agent's descriptors are read through its shim" ||
	not_ok "the agent's descriptors are read through its shim"
check "every cycle ran" 0 "$SOAK_FAILED_CYCLES"
check "every exec ended as it should (ran, or failed to start)" 0 "$SOAK_BAD_EXECS"
check "the agent's descriptors did not grow" 0 "$SOAK_AGENT_FDS"
check "the shim's descriptors did not grow" 0 "$SOAK_SHIM_FDS"
check "containerd's descriptors did not grow" 0 "$SOAK_CONTAINERD_FDS"
check "mounts did not grow" 0 "$SOAK_MOUNTS"
check "processes did not grow" 0 "$SOAK_PROCS"
check "the cycles left no process" 0 "$SOAK_LEFT_PROCS"
check "the cycles left no mount" 0 "$SOAK_LEFT_MOUNTS"
check "the cycles left no socket, directory or cgroup" 0 "$SOAK_LEFT_OTHER"
trap - EXIT
e2e_stop
e2e_leftovers
e2e_finish
