/* SPDX-License-Identifier: Apache-2.0 */
#include "kvm_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/json.h"
#include "lib/log.h"
#include "lib/util.h"

#define TIMED_RUNS 3
/* A run this slow needs no repetition to tell. */
#define SLOW_RUN_NS (50ULL * 1000 * 1000)
/* How long to wait for a SIGKILLed probe to die before giving up on it. */
#define REAP_GRACE_MS 1000

/* Guest physical layout: page tables, then the code; the 2 MiB are
 * identity-mapped by one large page. */
#define GUEST_MEM_SIZE (2u << 20)
#define PML4_ADDR 0x1000
#define PDPT_ADDR 0x2000
#define PD_ADDR 0x3000
#define CODE_ADDR 0x8000

static const struct {
	const char *name;
	int cap;
} probed_exts[KC_KVM_PROBE_NEXT] = {
	{ "KVM_CAP_USER_MEMORY", KVM_CAP_USER_MEMORY },
	{ "KVM_CAP_IRQCHIP", KVM_CAP_IRQCHIP },
	{ "KVM_CAP_HLT", KVM_CAP_HLT },
	{ "KVM_CAP_IOEVENTFD", KVM_CAP_IOEVENTFD },
	{ "KVM_CAP_IRQFD", KVM_CAP_IRQFD },
	{ "KVM_CAP_SET_TSS_ADDR", KVM_CAP_SET_TSS_ADDR },
	{ "KVM_CAP_NR_VCPUS", KVM_CAP_NR_VCPUS },
	{ "KVM_CAP_IMMEDIATE_EXIT", KVM_CAP_IMMEDIATE_EXIT },
};

/* How far the child got: tells a timeout in setup from one in the loop. */
enum stage { STAGE_START, STAGE_SETUP, STAGE_LOOP, STAGE_DONE };

/* The page the child and the parent share. */
struct shared {
	struct kc_kvm_probe r;
	enum stage stage;
};

/* The same two instructions the guest runs: dec; jnz. */
static uint64_t time_host_loop(uint64_t n)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < TIMED_RUNS; i++) {
		uint64_t count = n, start = kc_monotonic_ns(), t;
		__asm__ volatile("1: dec %0\n\tjnz 1b" : "+r"(count) : : "cc");
		t = kc_monotonic_ns() - start;
		if (t < best)
			best = t;
	}
	return best ? best : 1;
}

struct vm {
	int kvm, vm, vcpu;
	uint8_t *mem;
	struct kvm_run *run;
	size_t run_size;
};

/* Not strictly needed (the child exits), but keeps the child clean under
 * leak checkers and makes the probe reusable in-process. */
static void vm_close(struct vm *v)
{
	if (v->run && v->run != MAP_FAILED)
		munmap(v->run, v->run_size);
	if (v->mem && v->mem != MAP_FAILED)
		munmap(v->mem, GUEST_MEM_SIZE);
	if (v->vcpu >= 0)
		close(v->vcpu);
	if (v->vm >= 0)
		close(v->vm);
	if (v->kvm >= 0)
		close(v->kvm);
}

static void __attribute__((format(printf, 2, 3))) why(struct kc_kvm_probe *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
	va_end(ap);
}

/* Identity-maps the first 2 MiB with one large page and enters 64-bit
 * long mode at CPL0 directly through the segment registers, as a 64-bit
 * kernel runs: no real-mode firmware, no mode switch code. */
static int setup_long_mode(struct vm *v, struct kc_kvm_probe *p)
{
	struct kvm_sregs sregs;
	uint64_t *pml4 = (uint64_t *)(v->mem + PML4_ADDR);
	uint64_t *pdpt = (uint64_t *)(v->mem + PDPT_ADDR);
	uint64_t *pd = (uint64_t *)(v->mem + PD_ADDR);

	pml4[0] = PDPT_ADDR | 0x3; /* present, writable */
	pdpt[0] = PD_ADDR | 0x3;
	pd[0] = 0x83; /* present, writable, 2 MiB page */

	if (ioctl(v->vcpu, KVM_GET_SREGS, &sregs) < 0) {
		why(p, "KVM_GET_SREGS: %s", strerror(errno));
		return -1;
	}
	/* A flat 64-bit code segment at DPL 0: the loop runs at CPL0, which
	 * is exactly what a PVM host emulates and a real VMX/SVM host does not. */
	struct kvm_segment code = {
		.base = 0,
		.limit = 0xffffffff,
		.selector = 0x8,
		.type = 11,
		.present = 1,
		.dpl = 0,
		.db = 0,
		.s = 1,
		.l = 1,
		.g = 1,
	};
	struct kvm_segment data = code;
	data.selector = 0x10;
	data.type = 3;
	data.l = 0;
	data.db = 1;
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.cr3 = PML4_ADDR;
	sregs.cr4 = 1u << 5; /* PAE */
	sregs.cr0 = 0x80050033; /* PG WP NE ET MP PE */
	sregs.efer = (1u << 8) | (1u << 10); /* LME LMA */
	if (ioctl(v->vcpu, KVM_SET_SREGS, &sregs) < 0) {
		why(p, "KVM_SET_SREGS (64-bit mode): %s", strerror(errno));
		return -1;
	}
	return 0;
}

static const char *internal_error_name(uint32_t suberror)
{
	switch (suberror) {
	case KVM_INTERNAL_ERROR_EMULATION:
		return "emulation failure";
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		return "simultaneous exceptions";
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		return "failure delivering an event";
	case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
		return "unexpected exit reason";
	default:
		return "unknown suberror";
	}
}

/* Runs the loop once for n iterations; returns the time in ns, or 0 with
 * p->reason set. */
static uint64_t run_loop(struct vm *v, struct kc_kvm_probe *p, uint64_t n)
{
	struct kvm_regs regs = { .rip = CODE_ADDR, .rflags = 0x2, .rsp = GUEST_MEM_SIZE, .rcx = n };
	uint64_t start;

	if (ioctl(v->vcpu, KVM_SET_REGS, &regs) < 0) {
		why(p, "KVM_SET_REGS: %s", strerror(errno));
		return 0;
	}
	start = kc_monotonic_ns();
	for (;;) {
		if (ioctl(v->vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			why(p, "KVM_RUN: %s", strerror(errno));
			return 0;
		}
		switch (v->run->exit_reason) {
		case KVM_EXIT_HLT: {
			uint64_t t = kc_monotonic_ns() - start;
			if (ioctl(v->vcpu, KVM_GET_REGS, &regs) == 0 && regs.rcx != 0) {
				why(p, "the guest stopped with the loop unfinished (rcx=%llu)",
				    (unsigned long long)regs.rcx);
				return 0;
			}
			return t ? t : 1;
		}
		case KVM_EXIT_INTR:
			continue;
		case KVM_EXIT_INTERNAL_ERROR:
			why(p,
			    "KVM internal error (%s, suberror %u) running 64-bit kernel-mode code",
			    internal_error_name(v->run->internal.suberror),
			    v->run->internal.suberror);
			return 0;
		case KVM_EXIT_FAIL_ENTRY:
			why(p, "KVM could not enter the guest (hardware reason 0x%llx)",
			    (unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
			return 0;
		case KVM_EXIT_SHUTDOWN:
			why(p, "the guest shut down (triple fault) in 64-bit kernel mode");
			return 0;
		default:
			why(p, "unexpected KVM exit reason %u running the guest loop",
			    v->run->exit_reason);
			return 0;
		}
	}
}

static int create_vm(struct vm *v, struct kc_kvm_probe *p)
{
	static const uint8_t code[] = {
		0x48, 0xff, 0xc9, /* 1: dec rcx */
		0x75, 0xfb, /*    jnz 1b  */
		0xf4, /*    hlt     */
	};
	/* On the stack: the child of a multi-threaded caller should not
	 * depend on malloc. */
	enum { NCPUID = 256 };
	uint64_t cpuid_buf[(sizeof(struct kvm_cpuid2) + NCPUID * sizeof(struct kvm_cpuid_entry2)) /
				   sizeof(uint64_t) +
			   1];
	struct kvm_cpuid2 *cpuid = (struct kvm_cpuid2 *)cpuid_buf;
	struct kvm_userspace_memory_region region;
	int run_size;

	v->vm = ioctl(v->kvm, KVM_CREATE_VM, 0);
	if (v->vm < 0) {
		why(p, "KVM_CREATE_VM: %s", strerror(errno));
		return -1;
	}
	/* Needed on Intel hosts without unrestricted guest; harmless elsewhere. */
	ioctl(v->vm, KVM_SET_TSS_ADDR, 0xfffbd000UL);
	v->mem = mmap(NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (v->mem == MAP_FAILED) {
		why(p, "mmap guest memory: %s", strerror(errno));
		return -1;
	}
	memcpy(v->mem + CODE_ADDR, code, sizeof(code));
	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = GUEST_MEM_SIZE,
		.userspace_addr = (uintptr_t)v->mem,
	};
	if (ioctl(v->vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		why(p, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
		return -1;
	}
	v->vcpu = ioctl(v->vm, KVM_CREATE_VCPU, 0);
	if (v->vcpu < 0) {
		why(p, "KVM_CREATE_VCPU: %s", strerror(errno));
		return -1;
	}
	run_size = ioctl(v->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (int)sizeof(struct kvm_run)) {
		why(p, "KVM_GET_VCPU_MMAP_SIZE: %s", run_size < 0 ? strerror(errno) : "too small");
		return -1;
	}
	v->run_size = (size_t)run_size;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0);
	if (v->run == MAP_FAILED) {
		why(p, "mmap kvm_run: %s", strerror(errno));
		return -1;
	}
	/* KVM refuses long mode (EFER.LME) unless the guest's CPUID has it. */
	memset(cpuid_buf, 0, sizeof(cpuid_buf));
	cpuid->nent = NCPUID;
	if (ioctl(v->kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0 ||
	    ioctl(v->vcpu, KVM_SET_CPUID2, cpuid) < 0) {
		why(p, "setting the guest CPUID: %s", strerror(errno));
		return -1;
	}
	return setup_long_mode(v, p);
}

/* The best of TIMED_RUNS runs of n iterations (fewer when one is slow
 * enough to tell without repeating). */
static int best_run(struct vm *v, struct kc_kvm_probe *p, uint64_t n, uint64_t *best)
{
	*best = UINT64_MAX;
	for (int i = 0; i < TIMED_RUNS; i++) {
		uint64_t t = run_loop(v, p, n);
		if (t == 0)
			return -1;
		if (t < *best)
			*best = t;
		if (t > SLOW_RUN_NS)
			break;
	}
	return 0;
}

/* The probe proper; runs in the child and writes only to *s. */
static void probe(const char *dev_path, struct shared *s)
{
	struct kc_kvm_probe *p = &s->r;
	struct vm v = { .kvm = -1, .vm = -1, .vcpu = -1 };

	p->iterations = KC_KVM_PROBE_ITERATIONS;
	p->host_ns = time_host_loop(KC_KVM_PROBE_ITERATIONS);
	v.kvm = open(dev_path, O_RDWR | O_CLOEXEC);
	if (v.kvm < 0) {
		why(p, "open `%s`: %s", dev_path, strerror(errno));
		return;
	}
	p->opened = true;
	p->api_version = ioctl(v.kvm, KVM_GET_API_VERSION, 0);
	if (p->api_version < 0) {
		why(p, "KVM_GET_API_VERSION on `%s`: %s (not a KVM device?)", dev_path,
		    strerror(errno));
		p->api_version = -1;
		goto out;
	}
	for (size_t i = 0; i < KC_KVM_PROBE_NEXT; i++) {
		int r = ioctl(v.kvm, KVM_CHECK_EXTENSION, probed_exts[i].cap);
		p->exts[i].value = r < 0 ? 0 : r;
	}
	if (p->api_version != KVM_API_VERSION) {
		why(p, "`%s` answers KVM API version %d, expected %d", dev_path, p->api_version,
		    KVM_API_VERSION);
		goto out;
	}
	s->stage = STAGE_SETUP;
	if (create_vm(&v, p) < 0)
		goto out;
	/* A short warm-up run faults the pages in and checks the loop works. */
	s->stage = STAGE_LOOP;
	if (run_loop(&v, p, KC_KVM_PROBE_BASE_ITERATIONS) == 0)
		goto out;
	p->base_iterations = KC_KVM_PROBE_BASE_ITERATIONS;
	if (best_run(&v, p, KC_KVM_PROBE_BASE_ITERATIONS, &p->base_ns) < 0 ||
	    best_run(&v, p, KC_KVM_PROBE_ITERATIONS, &p->guest_ns) < 0) {
		p->base_ns = p->guest_ns = 0;
		goto out;
	}
	p->ran = true;
	p->ratio = kc_kvm_probe_guest_ns_per_iter(p) / kc_kvm_probe_host_ns_per_iter(p);
	p->native = p->ratio <= KC_KVM_NATIVE_MAX_RATIO;
	if (!p->native)
		why(p,
		    "guest kernel-mode code runs %.0fx slower than on the host (%.1f ns per "
		    "loop iteration vs %.2f ns): KVM emulates it",
		    p->ratio, kc_kvm_probe_guest_ns_per_iter(p), kc_kvm_probe_host_ns_per_iter(p));
out:
	vm_close(&v);
}

/* Waits for the child to die, at most grace_ms; false if it did not (or
 * was reaped by someone else: SIGCHLD ignored), leaving *status 0. */
static bool reap(pid_t pid, int *status, int grace_ms)
{
	uint64_t end = kc_monotonic_ns() + (uint64_t)grace_ms * 1000000ULL;
	const struct timespec pause = { 0, 2 * 1000 * 1000 };

	*status = 0;
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return true;
		if (r < 0 && errno != EINTR)
			return false;
		if (kc_monotonic_ns() >= end)
			return false;
		nanosleep(&pause, NULL);
	}
}

/* Waits until the child closes the pipe (it never writes: its exit closes
 * it) or the deadline passes; true if it finished in time. */
static bool wait_for_exit(int fd, uint64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = kc_monotonic_ns();
		char c;
		int r;

		if (now >= deadline)
			return false;
		r = poll(&pfd, 1, (int)((deadline - now) / 1000000) + 1);
		if (r < 0 && errno != EINTR)
			return false;
		if (r > 0 && read(fd, &c, 1) == 0)
			return true;
	}
}

int kc_kvm_probe_deadline(const char *dev_path, int deadline_ms, struct kc_kvm_probe *out,
			  kc_error_t *err)
{
	struct shared *s;
	int pipefd[2], status;
	bool finished, reaped;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		return kc_error_set(err, errno, "mmap the KVM probe's result page");
	memset(s, 0, sizeof(*s));
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		int saved = errno;
		munmap(s, sizeof(*s));
		return kc_error_set(err, saved, "pipe");
	}
	/* Not a program started (child.h): the probe runs this process's own
	 * code, forked so that a hang or a crash in KVM cannot take us along. */
	pid = fork();
	if (pid < 0) {
		int saved = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		munmap(s, sizeof(*s));
		return kc_error_set(err, saved, "fork the KVM probe");
	}
	if (pid == 0) {
		close(pipefd[0]);
		probe(dev_path, s);
		s->stage = STAGE_DONE;
		_exit(0);
	}
	close(pipefd[1]);
	finished = wait_for_exit(pipefd[0], kc_monotonic_ns() + (uint64_t)deadline_ms * 1000000ULL);
	close(pipefd[0]);
	if (!finished)
		kill(pid, SIGKILL);
	reaped = reap(pid, &status, REAP_GRACE_MS);

	/* The child is gone (or stuck for good): its writes are all visible. */
	*out = s->r;
	if (s->stage != STAGE_DONE) {
		enum stage stage = s->stage;

		out->ran = out->native = false;
		out->guest_ns = out->base_ns = 0;
		out->ratio = 0;
		if (!finished) {
			out->timed_out = true;
			if (stage == STAGE_LOOP)
				why(out,
				    "the guest loop (%llu iterations, %llu us on the host) did not "
				    "finish within %d ms: KVM cannot run guest kernel code at a "
				    "usable speed",
				    (unsigned long long)out->iterations,
				    (unsigned long long)(out->host_ns / 1000), deadline_ms);
			else
				why(out, "KVM did not %s within %d ms",
				    stage == STAGE_SETUP ? "set up a one-vCPU VM" : "answer",
				    deadline_ms);
		} else if (reaped && WIFSIGNALED(status)) {
			why(out, "the probe process was killed by signal %d (%s)", WTERMSIG(status),
			    strsignal(WTERMSIG(status)));
		} else {
			why(out, "the probe process ended without a result");
		}
		if (!reaped)
			kc_warn("KVM probe process %d did not exit after SIGKILL", (int)pid);
	}
	munmap(s, sizeof(*s));
	for (size_t i = 0; i < KC_KVM_PROBE_NEXT; i++)
		out->exts[i].name = probed_exts[i].name;
	return 0;
}

int kc_kvm_probe(const char *dev_path, struct kc_kvm_probe *out, kc_error_t *err)
{
	return kc_kvm_probe_deadline(dev_path, KC_KVM_PROBE_DEADLINE_MS, out, err);
}

double kc_kvm_probe_guest_ns_per_iter(const struct kc_kvm_probe *p)
{
	uint64_t n = p->iterations - p->base_iterations;

	if (p->guest_ns == 0 || p->iterations <= p->base_iterations)
		return 0;
	/* Timer noise can make the short run the slower: then the loop's own
	 * cost is below what the clock can tell, i.e. native. */
	if (p->guest_ns <= p->base_ns)
		return 1.0 / (double)n;
	return (double)(p->guest_ns - p->base_ns) / (double)n;
}

double kc_kvm_probe_host_ns_per_iter(const struct kc_kvm_probe *p)
{
	return p->iterations ? (double)p->host_ns / (double)p->iterations : 0;
}

const char *kc_accel_resolve(const char *configured, const struct kc_kvm_probe *p)
{
	if (strcmp(configured, "kvm") == 0 || strcmp(configured, "tcg") == 0)
		return configured;
	return p && p->native ? "kvm" : "tcg";
}

json_t *kc_kvm_probe_to_json(const struct kc_kvm_probe *p)
{
	json_t *exts = json_object();

	for (size_t i = 0; i < KC_KVM_PROBE_NEXT; i++)
		json_object_set_new(exts, p->exts[i].name ? p->exts[i].name : probed_exts[i].name,
				    json_integer(p->exts[i].value));
	return json_pack(
		"{s:b, s:i, s:o, s:b, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:s}",
		"Opened", p->opened, "APIVersion", p->api_version, "Extensions", exts, "Ran",
		p->ran, "Native", p->native, "TimedOut", p->timed_out, "Iterations",
		(json_int_t)p->iterations, "GuestNs", (json_int_t)p->guest_ns, "BaseIterations",
		(json_int_t)p->base_iterations, "BaseNs", (json_int_t)p->base_ns, "HostNs",
		(json_int_t)p->host_ns, "GuestNsPerIteration", kc_kvm_probe_guest_ns_per_iter(p),
		"HostNsPerIteration", kc_kvm_probe_host_ns_per_iter(p), "Ratio", p->ratio, "Reason",
		p->reason);
}
