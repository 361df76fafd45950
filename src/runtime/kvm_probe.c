/* SPDX-License-Identifier: Apache-2.0 */
#include "runtime/kvm_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/json.h"
#include "lib/util.h"

/* Iterations of the timed loop: ~50 us natively, ~0.2 s where every guest
 * kernel instruction is emulated (2 instructions an iteration). */
#define LOOP_ITERATIONS 100000ULL
#define TIMED_RUNS 3
/* A run this slow needs no repetition to tell. */
#define SLOW_RUN_NS (50ULL * 1000 * 1000)
/* The whole probe, VM setup included, must finish in this time. */
#define PROBE_DEADLINE_MS 5000

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

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The same two instructions the guest runs: dec; jnz. */
static uint64_t time_host_loop(uint64_t n)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < TIMED_RUNS; i++) {
		uint64_t count = n, start = now_ns(), t;
		__asm__ volatile("1: dec %0\n\tjnz 1b" : "+r"(count) : : "cc");
		t = now_ns() - start;
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
 * kernel runs. */
static int setup_long_mode(struct vm *v, struct kc_kvm_probe *p)
{
	struct kvm_sregs sregs;
	uint64_t *pml4 = (uint64_t *)(v->mem + PML4_ADDR);
	uint64_t *pdpt = (uint64_t *)(v->mem + PDPT_ADDR);
	uint64_t *pd = (uint64_t *)(v->mem + PD_ADDR);

	pml4[0] = PDPT_ADDR | 0x3; /* present, writable */
	pdpt[0] = PD_ADDR | 0x3;
	pd[0] = 0x83;              /* present, writable, 2 MiB page */

	if (ioctl(v->vcpu, KVM_GET_SREGS, &sregs) < 0) {
		why(p, "KVM_GET_SREGS: %s", strerror(errno));
		return -1;
	}
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 0x8, .type = 11, .present = 1,
		.dpl = 0, .db = 0, .s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment data = code;
	data.selector = 0x10;
	data.type = 3;
	data.l = 0;
	data.db = 1;
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.cr3 = PML4_ADDR;
	sregs.cr4 = 1u << 5;                 /* PAE */
	sregs.cr0 = 0x80050033;              /* PG WP NE ET MP PE */
	sregs.efer = (1u << 8) | (1u << 10); /* LME LMA */
	if (ioctl(v->vcpu, KVM_SET_SREGS, &sregs) < 0) {
		why(p, "KVM_SET_SREGS (64-bit mode): %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Runs the loop once for n iterations; returns the time in ns or 0. */
static uint64_t run_loop(struct vm *v, struct kc_kvm_probe *p, uint64_t n)
{
	struct kvm_regs regs = { .rip = CODE_ADDR, .rflags = 0x2, .rsp = GUEST_MEM_SIZE, .rcx = n };
	uint64_t start;

	if (ioctl(v->vcpu, KVM_SET_REGS, &regs) < 0) {
		why(p, "KVM_SET_REGS: %s", strerror(errno));
		return 0;
	}
	start = now_ns();
	for (;;) {
		if (ioctl(v->vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			why(p, "KVM_RUN: %s", strerror(errno));
			return 0;
		}
		switch (v->run->exit_reason) {
		case KVM_EXIT_HLT: {
			uint64_t t = now_ns() - start;
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
			why(p, "KVM internal error (suberror %u) running 64-bit kernel-mode code",
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
			why(p, "unexpected KVM exit reason %u", v->run->exit_reason);
			return 0;
		}
	}
}

static int create_vm(struct vm *v, struct kc_kvm_probe *p)
{
	static const uint8_t code[] = {
		0x48, 0xff, 0xc9, /* 1: dec rcx */
		0x75, 0xfb,       /*    jnz 1b  */
		0xf4,             /*    hlt     */
	};
	struct kvm_userspace_memory_region region;
	struct kvm_cpuid2 *cpuid;
	int run_size, ncpuid = 128;

	v->vm = ioctl(v->kvm, KVM_CREATE_VM, 0);
	if (v->vm < 0) {
		why(p, "KVM_CREATE_VM: %s", strerror(errno));
		return -1;
	}
	/* Needed on Intel hosts without unrestricted guest; harmless elsewhere. */
	ioctl(v->vm, KVM_SET_TSS_ADDR, 0xfffbd000UL);
	v->mem = mmap(NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (v->mem == MAP_FAILED) {
		why(p, "mmap guest memory: %s", strerror(errno));
		return -1;
	}
	memcpy(v->mem + CODE_ADDR, code, sizeof(code));
	region = (struct kvm_userspace_memory_region){
		.slot = 0, .guest_phys_addr = 0, .memory_size = GUEST_MEM_SIZE,
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
	cpuid = kc_xzalloc(sizeof(*cpuid) + (size_t)ncpuid * sizeof(cpuid->entries[0]));
	cpuid->nent = (uint32_t)ncpuid;
	if (ioctl(v->kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0 ||
	    ioctl(v->vcpu, KVM_SET_CPUID2, cpuid) < 0) {
		why(p, "setting the guest CPUID: %s", strerror(errno));
		free(cpuid);
		return -1;
	}
	free(cpuid);
	return setup_long_mode(v, p);
}

/* The probe proper; runs in the child. */
static void probe(const char *dev_path, struct kc_kvm_probe *p)
{
	struct vm v = { .kvm = -1, .vm = -1, .vcpu = -1 };

	p->iterations = LOOP_ITERATIONS;
	p->host_ns = time_host_loop(LOOP_ITERATIONS);
	v.kvm = open(dev_path, O_RDWR | O_CLOEXEC);
	if (v.kvm < 0) {
		why(p, "open `%s`: %s", dev_path, strerror(errno));
		return;
	}
	p->opened = true;
	p->api_version = ioctl(v.kvm, KVM_GET_API_VERSION, 0);
	for (size_t i = 0; i < KC_KVM_PROBE_NEXT; i++) {
		int r = ioctl(v.kvm, KVM_CHECK_EXTENSION, probed_exts[i].cap);
		p->exts[i].name = NULL; /* pointers do not cross the pipe */
		p->exts[i].value = r < 0 ? 0 : r;
	}
	if (p->api_version != KVM_API_VERSION) {
		why(p, "KVM API version %d, expected %d", p->api_version, KVM_API_VERSION);
		goto out;
	}
	if (create_vm(&v, p) < 0)
		goto out;
	/* A short warm-up run faults the pages in and checks the loop works. */
	if (run_loop(&v, p, 1000) == 0)
		goto out;
	p->guest_ns = UINT64_MAX;
	for (int i = 0; i < TIMED_RUNS; i++) {
		uint64_t t = run_loop(&v, p, LOOP_ITERATIONS);
		if (t == 0)
			goto out;
		if (t < p->guest_ns)
			p->guest_ns = t;
		if (t > SLOW_RUN_NS)
			break;
	}
	p->ran = true;
	p->ratio = (double)p->guest_ns / (double)p->host_ns;
	p->native = p->ratio <= KC_KVM_NATIVE_MAX_RATIO;
	if (!p->native)
		why(p, "guest kernel-mode code runs %.0fx slower than on the host (%.1f ns per "
		       "loop iteration vs %.1f ns): KVM emulates it",
		    p->ratio, (double)p->guest_ns / LOOP_ITERATIONS,
		    (double)p->host_ns / LOOP_ITERATIONS);
out:
	vm_close(&v);
	close(v.kvm);
}

int kc_kvm_probe(const char *dev_path, struct kc_kvm_probe *out, kc_error_t *err)
{
	int pipefd[2], status;
	size_t got = 0;
	pid_t pid;
	uint64_t deadline;

	memset(out, 0, sizeof(*out));
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return kc_error_set(err, errno, "pipe");
	pid = fork();
	if (pid < 0) {
		int saved = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return kc_error_set(err, saved, "fork the KVM probe");
	}
	if (pid == 0) {
		struct kc_kvm_probe r = { 0 };
		ssize_t n;
		close(pipefd[0]);
		probe(dev_path, &r);
		n = write(pipefd[1], &r, sizeof(r));
		_exit(n == (ssize_t)sizeof(r) ? 0 : 1);
	}
	close(pipefd[1]);
	deadline = now_ns() + PROBE_DEADLINE_MS * 1000000ULL;
	while (got < sizeof(*out)) {
		struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };
		uint64_t now = now_ns();
		ssize_t n;

		if (now >= deadline)
			break;
		/* On a timeout or EINTR the loop condition decides. */
		if (poll(&pfd, 1, (int)((deadline - now) / 1000000) + 1) <= 0)
			continue;
		n = read(pipefd[0], (char *)out + got, sizeof(*out) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(pipefd[0]);
	if (got < sizeof(*out))
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got < sizeof(*out)) {
		uint64_t host_ns = time_host_loop(LOOP_ITERATIONS);
		memset(out, 0, sizeof(*out));
		out->host_ns = host_ns;
		out->opened = true;
		out->iterations = LOOP_ITERATIONS;
		if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
			why(out, "the probe was killed by signal %d", WTERMSIG(status));
		else
			why(out, "the guest loop did not finish within %d ms (it takes %llu us on "
				 "the host): KVM cannot run guest kernel code at a usable speed",
			    PROBE_DEADLINE_MS, (unsigned long long)(host_ns / 1000));
	}
	for (size_t i = 0; i < KC_KVM_PROBE_NEXT; i++)
		out->exts[i].name = probed_exts[i].name;
	return 0;
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
		json_object_set_new(exts, p->exts[i].name, json_integer(p->exts[i].value));
	return json_pack("{s:b, s:i, s:o, s:b, s:b, s:I, s:I, s:I, s:f, s:s}",
			 "Opened", p->opened, "APIVersion", p->api_version, "Extensions", exts,
			 "Ran", p->ran, "Native", p->native,
			 "Iterations", (json_int_t)p->iterations,
			 "GuestNs", (json_int_t)p->guest_ns, "HostNs", (json_int_t)p->host_ns,
			 "Ratio", p->ratio, "Reason", p->reason);
}
