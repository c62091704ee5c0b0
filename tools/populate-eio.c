// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * populate-eio: MADV_POPULATE_READ on a file whose reads fail with EIO.
 *
 * Kernels 5.14 to 6.8 without 631426ba1d45 ("mm/madvise: make
 * MADV_POPULATE_(READ|WRITE) handle VM_FAULT_RETRY properly") loop for ever:
 * filemap_fault() drops the mmap lock for the read, the read fails, the
 * fault returns VM_FAULT_RETRY, __get_user_pages() returns 0 pages, and
 * madvise_populate() calls it again without FOLL_TRIED, so every attempt is
 * a "first" try that drops the lock, reads and fails again.  Fixed kernels
 * retry once with FAULT_FLAG_TRIED, get VM_FAULT_SIGBUS and return EFAULT.
 * Before 5.14 the advice does not exist (EINVAL).
 *
 * The file is mapped read-only (-w: private and writable, with
 * MADV_POPULATE_WRITE) and madvise() runs in a thread.  The main thread
 * waits up to -t SECONDS, sampling the thread's state from
 * /proc/self/task/TID/stat every 10 ms.
 *
 *   populate-eio [-t SECONDS] [-n PAGES] [-o PAGE] [-w] [-p] [-c COMM] FILE
 *
 * -n PAGES  pages to populate (default: the whole file)
 * -o PAGE   first page of the range (default 0)
 * -p        pread() the range first and print the result
 * -c COMM   name the process (and so the thread) COMM
 *
 * Prints "pid P", "tid T", "addr 0x..", "len N", then either
 * "madvise returned R errno E (NAME) after S s" or, at the timeout,
 * "madvise still running after S s".  Then, in both cases, the thread's
 * "utime_ms U stime_ms S over S s", "min_flt N maj_flt N" (deltas over the
 * run), "states R=.. D=.. S=.. other=.." (10 ms samples),
 * its context switches and, where readable, its kernel stack
 * ("stack: ..." lines).  On a timeout the process leaves with _exit(): the
 * looping thread is killed with it.
 *
 * Exit status: 0 madvise returned (whatever its result), 3 still inside
 * madvise at the timeout, 1 setup error, 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static char *addr;
static size_t len;
static int advice = MADV_POPULATE_READ;
static volatile pid_t worker_tid;
static volatile int go, done, release, ret_val, ret_errno;
static struct timespec t_start, t_end;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double diff_s(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) + (b->tv_nsec - a->tv_nsec) / 1e9;
}

static void *worker(void *arg)
{
	(void)arg;
	worker_tid = syscall(SYS_gettid);
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		usleep(1000);
	clock_gettime(CLOCK_MONOTONIC, &t_start);
	ret_val = madvise(addr, len, advice);
	ret_errno = ret_val ? errno : 0;
	clock_gettime(CLOCK_MONOTONIC, &t_end);
	__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
	/* Stay alive so that /proc/self/task/TID/stat can still be read. */
	while (!__atomic_load_n(&release, __ATOMIC_ACQUIRE))
		usleep(1000);
	return NULL;
}

static void die(const char *what)
{
	fprintf(stderr, "populate-eio: %s: %s\n", what, strerror(errno));
	exit(1);
}

struct tstat {
	char state;
	long minflt, majflt, utime, stime;
};

/* State, fault counts and times (clock ticks) of a thread; state 0 if unreadable. */
static char task_stat(pid_t tid, struct tstat *t)
{
	char path[64], buf[1024], *p;
	FILE *f;

	t->state = 0;
	t->minflt = t->majflt = t->utime = t->stime = -1;
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %ld %*u %ld %*u %ld %ld", &t->state,
		       &t->minflt, &t->majflt, &t->utime, &t->stime);
	fclose(f);
	return t->state;
}

static void print_times(const struct tstat *a, const struct tstat *b, double secs)
{
	long tck = sysconf(_SC_CLK_TCK);

	printf("utime_ms %ld stime_ms %ld over %.1fs\n", (b->utime - a->utime) * 1000 / tck,
	       (b->stime - a->stime) * 1000 / tck, secs);
	printf("min_flt %ld maj_flt %ld\n", b->minflt - a->minflt, b->majflt - a->majflt);
}

static void print_file_lines(const char *path, const char *prefix, const char *only)
{
	char line[512];
	FILE *f = fopen(path, "re");

	if (!f) {
		printf("%s(unreadable: %s)\n", prefix, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f))
		if (!only || strstr(line, only))
			printf("%s%s", prefix, line);
	fclose(f);
}

static const char *errno_name(int e)
{
	switch (e) {
	case 0: return "0";
	case EFAULT: return "EFAULT";
	case EINVAL: return "EINVAL";
	case EIO: return "EIO";
	case EINTR: return "EINTR";
	case ENOMEM: return "ENOMEM";
	case EHWPOISON: return "EHWPOISON";
	case EPERM: return "EPERM";
	default: return "other";
	}
}

int main(int argc, char **argv)
{
	double secs = 5, t0, waited;
	long npages = 0, first = 0;
	long page = sysconf(_SC_PAGESIZE);
	long nr = 0, nd = 0, ns = 0, nother = 0;
	int opt, fd, do_pread = 0, prot = PROT_READ, flags = MAP_SHARED;
	char path[64];
	struct stat sb;
	struct tstat t0s, t1s;
	pthread_t th;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "t:n:o:wpc:")) != -1) {
		switch (opt) {
		case 't': secs = atof(optarg); break;
		case 'n': npages = atol(optarg); break;
		case 'o': first = atol(optarg); break;
		case 'w':
			advice = MADV_POPULATE_WRITE;
			prot = PROT_READ | PROT_WRITE;
			flags = MAP_PRIVATE;
			break;
		case 'p': do_pread = 1; break;
		case 'c': prctl(PR_SET_NAME, optarg); break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || secs <= 0 || npages < 0 || first < 0)
		goto usage;
	fd = open(argv[optind], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb))
		die(argv[optind]);
	if (!npages)
		npages = (sb.st_size + page - 1) / page - first;
	if (npages <= 0) {
		fprintf(stderr, "populate-eio: %s: nothing to map at page %ld\n", argv[optind], first);
		return 1;
	}
	len = (size_t)npages * page;
	if (do_pread) {
		char *buf = malloc(len);
		ssize_t n;

		if (!buf)
			die("malloc");
		errno = 0;
		n = pread(fd, buf, len, (off_t)first * page);
		printf("pread %zd errno %d (%s)\n", n, n < 0 ? errno : 0,
		       n < 0 ? errno_name(errno) : "0");
		free(buf);
	}
	addr = mmap(NULL, len, prot, flags, fd, (off_t)first * page);
	if (addr == MAP_FAILED)
		die("mmap");
	if (pthread_create(&th, NULL, worker, NULL))
		die("pthread_create");
	while (!worker_tid)
		usleep(1000);
	printf("pid %d\ntid %d\naddr %p\nlen %zu\nadvice %s\n", getpid(), worker_tid, (void *)addr,
	       len, advice == MADV_POPULATE_READ ? "MADV_POPULATE_READ" : "MADV_POPULATE_WRITE");
	task_stat(worker_tid, &t0s);
	t0 = now_s();
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	for (;;) {
		char st;

		if (__atomic_load_n(&done, __ATOMIC_ACQUIRE))
			break;
		waited = now_s() - t0;
		if (waited >= secs)
			break;
		st = task_stat(worker_tid, &t1s);
		if (st == 'R')
			nr++;
		else if (st == 'D')
			nd++;
		else if (st == 'S')
			ns++;
		else
			nother++;
		usleep(10000);
	}
	waited = now_s() - t0;
	if (__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
		printf("madvise returned %d errno %d (%s) after %.3f s\n", ret_val, ret_errno,
		       errno_name(ret_errno), diff_s(&t_start, &t_end));
	} else {
		printf("madvise still running after %.3f s\n", waited);
		task_stat(worker_tid, &t1s);
		print_times(&t0s, &t1s, waited);
		printf("states R=%ld D=%ld S=%ld other=%ld\n", nr, nd, ns, nother);
		snprintf(path, sizeof(path), "/proc/self/task/%d/status", worker_tid);
		print_file_lines(path, "", "ctxt_switches");
		snprintf(path, sizeof(path), "/proc/self/task/%d/stack", worker_tid);
		print_file_lines(path, "stack: ", NULL);
		_exit(3);
	}
	/* The thread has left madvise(): its times are final. */
	task_stat(worker_tid, &t1s);
	print_times(&t0s, &t1s, waited);
	printf("states R=%ld D=%ld S=%ld other=%ld\n", nr, nd, ns, nother);
	__atomic_store_n(&release, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	return 0;
usage:
	fprintf(stderr, "usage: populate-eio [-t SECONDS] [-n PAGES] [-o PAGE] [-w] [-p] [-c COMM] FILE\n");
	return 2;
}
