#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The soak that tests/e2e/test-soak.sh (short, in the suite) and bench/soak
# (long) run, sourced after lib.sh once e2e_start has run:
#
#   soak_run CYCLES EXECS
#
# One pod stays up (kce2e-soak) and takes EXECS execs, every other one of
# a missing binary (it fails, as a Kubernetes exec probe that names one
# does); then CYCLES pods of one `ctr run --rm` each (kce2e-sk1...).  The
# descriptors of the agent of the pod that stays (its GetMetrics, relayed
# by its shim: the one way into a guest's agent from the host), of its
# shim and of containerd, the mounts and the processes of this run are
# counted before and after: none may grow, and no cycle may leave anything
# (lib.sh's pod_leftovers).  It sets:
#
#   SOAK_FAILED_CYCLES  cycles whose `ctr run` failed
#   SOAK_BAD_EXECS      execs that did not end as they should
#   SOAK_AGENT_FDS SOAK_SHIM_FDS SOAK_CONTAINERD_FDS SOAK_MOUNTS SOAK_PROCS
#                       growth, after less before
#   SOAK_LEFT_PROCS SOAK_LEFT_MOUNTS SOAK_LEFT_OTHER
#                       what the cycles left (processes, mounts, the rest)
#   SOAK_P50_MS SOAK_P99_MS
#                       of the cycles' wall time
#   SOAK_REPORT         a line for each figure that is not 0, with the
#                       details (which descriptors, what was left)
#
# Progress goes to stderr.
SOAK_POD=kce2e-soak

# The agent's open descriptors, from its own metrics.
soak_agent_fds() {
	"$KC_BUILD_ROOT/src/cli/kata-agent-ctl" --server-address "unix://$(shim_socket $SOAK_POD)" \
		call GetMetrics 2> /dev/null | grep -o 'kata_agent_process_open_fds [0-9][0-9]*' | awk '{print $2}'
}

# What one process has open, a line each ("fd -> target"), and how many.
soak_fd_list() { ls -l "/proc/$1/fd" 2> /dev/null | awk 'NR > 1 {print $(NF - 2), $NF}' | sort -n; }

# This run's mounts and processes (not the host's: other work goes on).
soak_mounts() {
	awk -v w="$W/" 'index($5, "/run/kata-containers/") == 1 || index($5, "/run/vc/") == 1 ||
		index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort
}
soak_procs() {
	ps -eo pid,args | awk -v w="$W/" '!/awk/ && ($0 ~ "containerd-shim-kata-v2 .*-address " w ||
		index($0, "-name kata-kce2e-s") || index($0, "/run/vc/vm/kce2e-s")) {print $1, substr($0, 1, 100)}' |
		sort
}

# A snapshot of every count into $W/soak.NAME.* (NAME: before, after).
soak_snapshot() {
	local shim
	shim=$(shim_of $SOAK_POD)
	soak_agent_fds > "$W/soak.$1.agent"
	soak_fd_list "$shim" > "$W/soak.$1.shim"
	soak_fd_list "$CPID" > "$W/soak.$1.containerd"
	soak_mounts > "$W/soak.$1.mounts"
	soak_procs > "$W/soak.$1.procs"
}

# growth KIND: how many more lines (for the agent: descriptors) after than
# before.
soak_growth() {
	if [ "$1" = agent ]; then
		echo $(($(cat "$W/soak.after.agent" || echo 0) - $(cat "$W/soak.before.agent" || echo 0)))
	else
		echo $(($(wc -l < "$W/soak.after.$1") - $(wc -l < "$W/soak.before.$1")))
	fi
}

soak_percentile() { # soak_percentile P < numbers
	sort -n | awk -v p="$1" '{a[NR] = $1} END {if (NR == 0) {print 0; exit}
		i = int((NR * p + 99) / 100); if (i < 1) i = 1; print a[i]}'
}

# A line more in SOAK_REPORT.
soak_note() {
	SOAK_REPORT="${SOAK_REPORT:+$SOAK_REPORT
}$*"
}

soak_run() {
	local cycles=$1 execs=$2 C i rc t0 t1 left kind g
	C="--runtime-config-path $(e2e_config)"
	SOAK_FAILED_CYCLES=0 SOAK_BAD_EXECS=0 SOAK_REPORT=
	timeout 120 $CTR run -d $F $R $C $IMG $SOAK_POD /bin/sleep inf > /dev/null 2>&1
	wait_state $SOAK_POD RUNNING || soak_note "the pod $SOAK_POD did not start"
	# One exec of each kind first: what the first ones set up for good
	# (a log descriptor, a cache) is not a leak.
	$CTR tasks exec --exec-id warm1 $SOAK_POD /bin/true > /dev/null 2>&1
	$CTR tasks exec --exec-id warm2 $SOAK_POD /nonexistent > /dev/null 2>&1
	soak_snapshot before
	echo "soak: $execs execs into $SOAK_POD, every other one failing..." >&2
	for i in $(seq "$execs"); do
		if [ $((i % 2)) = 0 ]; then
			$CTR tasks exec --exec-id e$i $SOAK_POD /bin/true > /dev/null 2>&1 ||
				SOAK_BAD_EXECS=$((SOAK_BAD_EXECS + 1))
		else
			$CTR tasks exec --exec-id e$i $SOAK_POD /nonexistent > /dev/null 2>&1 &&
				SOAK_BAD_EXECS=$((SOAK_BAD_EXECS + 1))
		fi
	done
	echo "soak: $cycles cycles of ctr run --rm..." >&2
	: > "$W/soak.ms"
	for i in $(seq "$cycles"); do
		t0=$(date +%s%N)
		timeout 120 $CTR run --rm $F $R $C $IMG kce2e-sk$i /bin/true > /dev/null 2>&1
		rc=$?
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000000)) >> "$W/soak.ms"
		[ $rc = 0 ] || SOAK_FAILED_CYCLES=$((SOAK_FAILED_CYCLES + 1))
	done
	# What a cycle leaves, once its shim had the time to finish.
	: > "$W/soak.left"
	for i in $(seq "$cycles"); do
		left=$(pod_clean kce2e-sk$i) || echo "$left" >> "$W/soak.left"
	done
	SOAK_LEFT_PROCS=$(grep -c '^process ' "$W/soak.left")
	SOAK_LEFT_MOUNTS=$(grep -c '^mount ' "$W/soak.left")
	SOAK_LEFT_OTHER=$(grep -vcE '^(process|mount) ' "$W/soak.left")
	# Descriptors close asynchronously (containerd's fifos, a connection
	# being dropped): the counts get 5 s to come back.
	for _ in $(seq 10); do
		soak_snapshot after
		g=0
		for kind in agent shim containerd mounts procs; do
			[ "$(soak_growth $kind)" = 0 ] || g=1
		done
		[ $g = 0 ] && break
		sleep 0.5
	done
	SOAK_AGENT_FDS=$(soak_growth agent)
	SOAK_SHIM_FDS=$(soak_growth shim)
	SOAK_CONTAINERD_FDS=$(soak_growth containerd)
	SOAK_MOUNTS=$(soak_growth mounts)
	SOAK_PROCS=$(soak_growth procs)
	SOAK_P50_MS=$(soak_percentile 50 < "$W/soak.ms")
	SOAK_P99_MS=$(soak_percentile 99 < "$W/soak.ms")
	[ "$SOAK_FAILED_CYCLES" = 0 ] || soak_note "$SOAK_FAILED_CYCLES of $cycles cycles failed"
	[ "$SOAK_BAD_EXECS" = 0 ] || soak_note "$SOAK_BAD_EXECS of $execs execs did not end as they should"
	[ "$SOAK_AGENT_FDS" = 0 ] || soak_note "the agent's descriptors:" \
		"$(cat "$W/soak.before.agent") before, $(cat "$W/soak.after.agent") after"
	for kind in shim containerd mounts procs; do
		[ "$(soak_growth $kind)" = 0 ] || soak_note "$kind grew by $(soak_growth $kind):
$(diff "$W/soak.before.$kind" "$W/soak.after.$kind" | grep '^[<>]' | head -20)"
	done
	[ -s "$W/soak.left" ] && soak_note "the cycles left:
$(head -20 "$W/soak.left")"
	$CTR tasks kill -s SIGKILL $SOAK_POD > /dev/null 2>&1
	wait_state $SOAK_POD STOPPED
	$CTR tasks rm $SOAK_POD > /dev/null 2>&1
	$CTR containers rm $SOAK_POD > /dev/null 2>&1
	return 0
}
