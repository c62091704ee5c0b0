// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * race: make the kernel retry a uaccess at one user address, benignly.
 *
 * Writer threads pwrite() a 4 KiB anonymous buffer to a file (tmpfs by
 * default) in a loop while a dropper thread keeps discarding that page with
 * madvise(MADV_DONTNEED).  The atomic copy in generic_perform_write() then
 * faults, the fault-in brings the page back, the dropper discards it again:
 * several page_fault_kernel events at the same address inside one write.
 * Every write still completes, so this is a retry storm, not a live-lock.
 *
 *   race [-t SECONDS] [-n WRITES] [-w WRITERS] [-f FILE] [-c COMM]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define BUF_SZ 4096

static atomic_int stop;
static atomic_long writes;
static long max_writes;
static int fd;

struct writer {
	pthread_t th;
	char *buf;
};

static void *writer_fn(void *p)
{
	struct writer *w = p;

	while (!atomic_load(&stop)) {
		if (pwrite(fd, w->buf, BUF_SZ, 0) != BUF_SZ) {
			perror("race: pwrite");
			exit(1);
		}
		if (max_writes && atomic_fetch_add(&writes, 1) + 1 >= max_writes)
			atomic_store(&stop, 1);
		else if (!max_writes)
			atomic_fetch_add(&writes, 1);
	}
	return NULL;
}

struct dropper {
	pthread_t th;
	struct writer *ws;
	int n;
};

static void *dropper_fn(void *p)
{
	struct dropper *d = p;
	int i;

	while (!atomic_load(&stop))
		for (i = 0; i < d->n; i++)
			madvise(d->ws[i].buf, BUF_SZ, MADV_DONTNEED);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: race [-t SECONDS] [-n WRITES] [-w WRITERS] [-f FILE] [-c COMM]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *file = NULL, *comm = NULL;
	double seconds = 5;
	struct dropper d = {};
	struct writer *ws;
	char path[] = "/dev/shm/faultloop-race-XXXXXX";
	struct timespec t0, t1;
	int nw = 1, opt, i;

	while ((opt = getopt(argc, argv, "t:n:w:f:c:")) != -1) {
		switch (opt) {
		case 't': seconds = atof(optarg); break;
		case 'n': max_writes = atol(optarg); break;
		case 'w': nw = atoi(optarg); break;
		case 'f': file = optarg; break;
		case 'c': comm = optarg; break;
		default: usage();
		}
	}
	if (nw < 1 || nw > 1024 || seconds <= 0 || max_writes < 0)
		usage();
	if (comm)
		prctl(PR_SET_NAME, comm);
	if (file) {
		fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
	} else {
		fd = mkstemp(path);
		if (fd >= 0)
			unlink(path);
	}
	if (fd < 0) {
		perror("race: open");
		return 1;
	}
	ws = calloc(nw, sizeof(*ws));
	for (i = 0; i < nw; i++) {
		ws[i].buf = mmap(NULL, BUF_SZ, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (ws[i].buf == MAP_FAILED) {
			perror("race: mmap");
			return 1;
		}
		memset(ws[i].buf, 'x', BUF_SZ);
		/* the address the reports must name */
		printf("buffer %d %p\n", i, (void *)ws[i].buf);
	}
	printf("pid %d\n", getpid());
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	d.ws = ws;
	d.n = nw;
	pthread_create(&d.th, NULL, dropper_fn, &d);
	for (i = 0; i < nw; i++)
		pthread_create(&ws[i].th, NULL, writer_fn, &ws[i]);
	for (;;) {
		usleep(10000);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (atomic_load(&stop) ||
		    (!max_writes && (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9 >= seconds))
			break;
	}
	atomic_store(&stop, 1);
	for (i = 0; i < nw; i++)
		pthread_join(ws[i].th, NULL);
	pthread_join(d.th, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("writes %ld in %.2fs\n", atomic_load(&writes),
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
