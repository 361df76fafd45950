/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kc-netperf: the TCP measurement bench/net runs inside its pods (built
 * static, mounted into the containers read-only).
 *
 *   kc-netperf server PORT
 *   kc-netperf client IP PORT MIB ITERATIONS
 *
 * The client makes two connections: 'T' sends MIB MiB in 128 KiB writes,
 * half-closes and waits for the server's 8-byte count (so the time covers
 * delivery, not just the local send buffer), and prints tput_mbps=X;
 * 'R' bounces one byte ITERATIONS times with TCP_NODELAY and prints the
 * median round trip, rtt_us=X.  Around both it asks its own kernel and the
 * server's ('S': the busy jiffies of /proc/stat's first line) and prints
 * guest_cpu_s=X, the CPU both kernels spent meanwhile: in a kata-c pod
 * that is the guest's side of the work (/proc/stat is the VM's), in a runc
 * pod it is the host's whole load and means nothing.  The server serves
 * connections one after another, forever.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (128 * 1024)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "kc-netperf: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int full_write(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int full_read(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* user + nice + system + irq + softirq of all CPUs, in USER_HZ. */
static uint64_t busy_jiffies(void)
{
	unsigned long long v[7] = { 0 };
	FILE *f = fopen("/proc/stat", "re");

	if (!f)
		return 0;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
		   &v[5], &v[6]) != 7)
		memset(v, 0, sizeof(v));
	fclose(f);
	return v[0] + v[1] + v[2] + v[5] + v[6];
}

static void serve(int c)
{
	static char buf[CHUNK];
	char cmd;
	int one = 1;

	if (full_read(c, &cmd, 1) < 0)
		return;
	if (cmd == 'T') {
		uint64_t total = 0;
		ssize_t n;

		while ((n = read(c, buf, sizeof(buf))) > 0)
			total += (uint64_t)n;
		full_write(c, &total, sizeof(total));
	} else if (cmd == 'S') {
		uint64_t j = busy_jiffies();

		full_write(c, &j, sizeof(j));
	} else if (cmd == 'R') {
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		while (full_read(c, buf, 1) == 0 && full_write(c, buf, 1) == 0)
			;
	}
}

static _Noreturn void server(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (s < 0)
		die("socket");
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 8) < 0)
		die("bind/listen");
	for (;;) {
		int c = accept(s, NULL, NULL);

		if (c < 0) {
			if (errno == EINTR)
				continue;
			die("accept");
		}
		serve(c);
		close(c);
	}
}

/* Connects, retrying while the server's pod is still starting. */
static int dial(const char *ip, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, "kc-netperf: bad address %s\n", ip);
		exit(2);
	}
	for (int i = 0; i < 600; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);

		if (s < 0)
			die("socket");
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
			return s;
		close(s);
		usleep(200000);
	}
	die("connect");
	return -1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t remote_jiffies(const char *ip, int port)
{
	int s = dial(ip, port);
	uint64_t j = 0;

	if (full_write(s, "S", 1) < 0 || full_read(s, &j, sizeof(j)) < 0)
		die("stat");
	close(s);
	return j;
}

static int client(const char *ip, int port, unsigned mib, unsigned iters)
{
	static char buf[CHUNK];
	uint64_t total = 0, t0, t1, *rtt, j0, j1;
	int s, one = 1;
	char cmd = 'T';

	j0 = busy_jiffies() + remote_jiffies(ip, port);
	s = dial(ip, port);
	memset(buf, 'x', sizeof(buf));
	t0 = now_ns();
	if (full_write(s, &cmd, 1) < 0)
		die("write");
	for (uint64_t left = (uint64_t)mib << 20; left; left -= CHUNK)
		if (full_write(s, buf, CHUNK) < 0)
			die("write");
	shutdown(s, SHUT_WR);
	if (full_read(s, &total, sizeof(total)) < 0)
		die("read count");
	t1 = now_ns();
	close(s);
	if (total != (uint64_t)mib << 20) {
		fprintf(stderr, "kc-netperf: server got %llu bytes\n", (unsigned long long)total);
		return 1;
	}
	printf("tput_mbps=%.1f\n", (double)total * 8 * 1000 / (double)(t1 - t0));

	rtt = calloc(iters, sizeof(*rtt));
	if (!rtt)
		die("calloc");
	s = dial(ip, port);
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	cmd = 'R';
	if (full_write(s, &cmd, 1) < 0)
		die("write");
	for (unsigned i = 0; i < iters; i++) {
		t0 = now_ns();
		if (full_write(s, "p", 1) < 0 || full_read(s, buf, 1) < 0)
			die("ping-pong");
		rtt[i] = now_ns() - t0;
	}
	close(s);
	qsort(rtt, iters, sizeof(*rtt), cmp_u64);
	printf("rtt_us=%.1f\n", (double)rtt[iters / 2] / 1000);
	j1 = busy_jiffies() + remote_jiffies(ip, port);
	printf("guest_cpu_s=%.2f\n", (double)(j1 - j0) / (double)sysconf(_SC_CLK_TCK));
	free(rtt);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "server") == 0)
		server(atoi(argv[2]));
	if (argc == 6 && strcmp(argv[1], "client") == 0 && atoi(argv[4]) > 0 && atoi(argv[5]) > 0)
		return client(argv[2], atoi(argv[3]), (unsigned)atoi(argv[4]),
			      (unsigned)atoi(argv[5]));
	fprintf(stderr, "usage: kc-netperf server PORT | client IP PORT MIB ITERATIONS\n");
	return 2;
}
