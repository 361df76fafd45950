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
 * loop at CPL0 until HLT, and compares its time with the same loop on the
 * host.  It runs in a child process so that a hang, a signal or a crash
 * cannot affect the caller, and it is killed after a deadline.
 */

#include <stdbool.h>
#include <stdint.h>

#include "lib/error.h"

struct json_t;

/* A loop at most this many times slower than on the host counts as native
 * (VM entry and first-touch page faults cost a little). */
#define KC_KVM_NATIVE_MAX_RATIO 10.0

struct kc_kvm_ext {
	const char *name;
	int value; /* KVM_CHECK_EXTENSION result; 0 = absent */
};

enum { KC_KVM_PROBE_NEXT = 8 };

struct kc_kvm_probe {
	bool opened;     /* the device could be opened read-write */
	int api_version; /* KVM_GET_API_VERSION (12 on every supported kernel) */
	struct kc_kvm_ext exts[KC_KVM_PROBE_NEXT];
	bool ran;        /* the guest loop reached HLT */
	bool native;     /* ran, and within KC_KVM_NATIVE_MAX_RATIO of the host */
	uint64_t iterations;
	uint64_t guest_ns; /* best of the timed runs */
	uint64_t host_ns;
	double ratio;      /* guest_ns / host_ns */
	char reason[256];  /* why KVM is not usable or not native; "" when native */
};

/*
 * Probes dev_path (normally "/dev/kvm").  Returns 0 when the probe could
 * be carried out, whatever it found (see out->native and out->reason); a
 * negative value only when the probe itself could not run (fork failed).
 */
int kc_kvm_probe(const char *dev_path, struct kc_kvm_probe *out, kc_error_t *err);

/*
 * The accelerator VMs get: `configured` is the hypervisor's accel key
 * ("auto", "kvm" or "tcg").  "auto" is "kvm" only when the probe found KVM
 * native; "kvm" stays "kvm" (starting a VM will then fail loudly rather than
 * crawl).  p may be NULL when accel is "tcg".
 */
const char *kc_accel_resolve(const char *configured, const struct kc_kvm_probe *p);

struct json_t *kc_kvm_probe_to_json(const struct kc_kvm_probe *p);

#endif
