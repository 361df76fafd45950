/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KC_KVM_PROBE_H
#define KC_KVM_PROBE_H

/*
 * Does KVM run a normal guest at native speed?
 *
 * Some hosts expose a working /dev/kvm but emulate guest kernel-mode code
 * (a paravirtualised KVM such as PVM runs guest CPL0 one instruction at a
 * time, about 1000x slower): a standard guest kernel then crawls or dies.
 * The probe creates a VM with one vCPU in 64-bit long mode, runs a counted
 * `dec rcx; jnz` loop at CPL0 until HLT, and compares its time with the
 * same loop on the host.
 *
 * It runs in a child process so that a hang, a signal or a crash cannot
 * affect the caller: the child is killed at a deadline and always reaped
 * (or, should the kernel never let it die, given up on after a second),
 * and every fd and mapping it made dies with it.  Its findings travel
 * through a shared anonymous mapping, so a probe that times out still
 * reports how far it got (opened, API version, extensions).
 *
 * The runtime uses kc_accel_resolve() on the result to choose QEMU's
 * accelerator: "kvm" where the probe found KVM native, "tcg" otherwise.
 */

#include <stdbool.h>
#include <stdint.h>

#include "lib/error.h"

struct json_t;

/* A loop at most this many times slower than on the host counts as native
 * (VM entry and first-touch page faults cost a little; emulation costs
 * three orders of magnitude). */
#define KC_KVM_NATIVE_MAX_RATIO 10.0

/* The whole probe, VM setup included, must end within this time. */
#define KC_KVM_PROBE_DEADLINE_MS 2000

/* Iterations of the timed loop: ~25 us natively, ~0.1-0.2 s where every
 * guest kernel instruction is emulated (2 instructions an iteration). */
#define KC_KVM_PROBE_ITERATIONS 100000
/* Iterations of the short loop that measures the fixed cost of a KVM_RUN
 * (entry, HLT exit: tens of microseconds under nested virtualisation),
 * which the per-iteration figure leaves out. */
#define KC_KVM_PROBE_BASE_ITERATIONS 1000

struct kc_kvm_ext {
	const char *name; /* "KVM_CAP_IRQCHIP" */
	int value; /* KVM_CHECK_EXTENSION result; 0 = absent */
};

enum { KC_KVM_PROBE_NEXT = 8 };

struct kc_kvm_probe {
	bool opened; /* the device could be opened read-write */
	int api_version; /* KVM_GET_API_VERSION (12 on every supported kernel); -1 if refused */
	struct kc_kvm_ext exts[KC_KVM_PROBE_NEXT];
	bool ran; /* the guest loop reached HLT with the count done */
	bool native; /* ran, and within KC_KVM_NATIVE_MAX_RATIO of the host */
	bool timed_out; /* the deadline passed before the probe ended */
	uint64_t iterations; /* of the timed loop */
	uint64_t guest_ns; /* best time of the timed loop in the guest; 0 unless ran */
	uint64_t base_iterations; /* of the short loop */
	uint64_t base_ns; /* best time of the short loop in the guest; 0 unless ran */
	uint64_t host_ns; /* best time of the timed loop on the host CPU */
	double ratio; /* guest over host time per iteration; 0 unless ran */
	char reason[256]; /* why KVM is not usable or not native; "" when native */
};

/*
 * Probes dev_path (normally "/dev/kvm") within KC_KVM_PROBE_DEADLINE_MS.
 * Returns 0 when the probe could be carried out, whatever it found (see
 * out->native and out->reason); a negative value with *err set only when
 * the probe itself could not start (pipe, mmap or fork failed).
 */
int kc_kvm_probe(const char *dev_path, struct kc_kvm_probe *out, kc_error_t *err);

/* The same with another deadline (tests use a tiny one to exercise the
 * timeout path). */
int kc_kvm_probe_deadline(const char *dev_path, int deadline_ms, struct kc_kvm_probe *out,
			  kc_error_t *err);

/* Nanoseconds per loop iteration; 0 when not measured.  The guest's is
 * (guest_ns - base_ns) / (iterations - base_iterations): the loop's own
 * cost, without the fixed cost of entering and leaving the guest. */
double kc_kvm_probe_guest_ns_per_iter(const struct kc_kvm_probe *p);
double kc_kvm_probe_host_ns_per_iter(const struct kc_kvm_probe *p);

/*
 * The accelerator VMs get: `configured` is the hypervisor's accel key
 * ("auto", "kvm" or "tcg").  "auto" is "kvm" only when the probe found KVM
 * native; "kvm" stays "kvm" (starting a VM will then fail loudly rather than
 * crawl).  p may be NULL when accel is "tcg" or the probe did not run.
 */
const char *kc_accel_resolve(const char *configured, const struct kc_kvm_probe *p);

/* The findings as JSON (CamelCase keys, as `kata-runtime env` shows). */
struct json_t *kc_kvm_probe_to_json(const struct kc_kvm_probe *p);

#endif
