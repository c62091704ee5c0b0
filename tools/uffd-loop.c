// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * uffd-loop: the userfaultfd + pending-signal busy loop in the kernel.
 *
 * A page registered MISSING with userfaultfd is never filled.  A thread
 * pwrite()s from it (-d write: the kernel reads the user page) or
 * pread()s into it (-d read: the kernel writes it) and sleeps in
 * handle_userfault().  A non-fatal signal with a handler is then queued
 * to it: handle_userfault() returns VM_FAULT_RETRY at once while a signal
 * is pending, and a kernel-mode fault retries on anything but a fatal
 * signal, so the thread spins in the kernel at that address until the
 * page is filled.  With -n no signal is sent: the thread just sleeps, which
 * is no loop.
 *
 *   uffd-loop [-d read|write] [-t SECONDS] [-n] [-c COMM]
 *
 * The page is filled after SECONDS, or as soon as the process gets SIGUSR2
 * (tests/vm/loops.sh sends it once the loop is reported: a run lasts as
 * long as its proof takes).
 *
 * Prints "pid P", "tid T", "addr 0x..", then "signal_realtime_ns N" when
 * the signal is sent, and at the end the thread's user and system time
 * over the spin ("utime_ms U stime_ms S over Xs"), after filling the page.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static char *page;
static long page_size;
static int writing = 1;
static volatile pid_t worker_tid;
static volatile int got_signal;

static void on_usr1(int sig)
{
	(void)sig;
	got_signal = 1;
}

static void *worker(void *arg)
{
	int fd = *(int *)arg;
	ssize_t n;

	worker_tid = syscall(SYS_gettid);
	n = writing ? pwrite(fd, page, page_size, 0) : pread(fd, page, page_size, 0);
	printf("worker returned %zd (%s)\n", n, n < 0 ? strerror(errno) : "ok");
	return NULL;
}

static void die(const char *what)
{
	fprintf(stderr, "uffd-loop: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void task_times(pid_t tid, long *utime, long *stime)
{
	char path[64], buf[1024], *p;
	FILE *f;

	*utime = *stime = -1;
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", utime, stime);
	fclose(f);
}

static int file_for_io(void)
{
	char path[] = "/tmp/uffd-loop.XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		die("mkstemp");
	unlink(path);
	if (ftruncate(fd, page_size))
		die("ftruncate");
	return fd;
}

static int register_page(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	int uffd = syscall(SYS_userfaultfd, O_CLOEXEC);

	if (uffd < 0)
		die("userfaultfd (vm.unprivileged_userfaultfd, or root)");
	if (ioctl(uffd, UFFDIO_API, &api))
		die("UFFDIO_API");
	page = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		die("mmap");
	reg.range.start = (unsigned long)page;
	reg.range.len = page_size;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		die("UFFDIO_REGISTER");
	return uffd;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct uffdio_zeropage zp = {};
	double secs = 3;
	int opt, uffd, fd, nosig = 0;
	long u0, s0, u1, s1, tck = sysconf(_SC_CLK_TCK);
	struct timespec ts, t0, t1;
	sigset_t usr2;
	pthread_t th;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "d:t:nc:")) != -1) {
		switch (opt) {
		case 'd': writing = strcmp(optarg, "read"); break;
		case 't': secs = atof(optarg); break;
		case 'n': nosig = 1; break;
		case 'c': prctl(PR_SET_NAME, optarg); break;
		default:
			fprintf(stderr, "usage: uffd-loop [-d read|write] [-t SECONDS] [-n] [-c COMM]\n");
			return 2;
		}
	}
	page_size = sysconf(_SC_PAGESIZE);
	sigaction(SIGUSR1, &sa, NULL);
	/* blocked in both threads (the worker inherits the mask): a
	 * process-directed SIGUSR2 must wait for sigtimedwait() below, not go
	 * to the worker, which has a signal pending already and never returns
	 * to user mode while it spins */
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &usr2, NULL);
	uffd = register_page();
	fd = file_for_io();
	if (pthread_create(&th, NULL, worker, &fd))
		die("pthread_create");
	while (!worker_tid)
		usleep(1000);
	printf("pid %d\ntid %d\naddr %p\ndirection %s\n", getpid(), worker_tid, (void *)page,
	       writing ? "write" : "read");
	usleep(300 * 1000);	/* asleep in handle_userfault() by now */
	task_times(worker_tid, &u0, &s0);
	if (!nosig) {
		clock_gettime(CLOCK_REALTIME, &ts);
		pthread_kill(th, SIGUSR1);
		printf("signal_realtime_ns %lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	}
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (sigtimedwait(&usr2, NULL, &ts) < 0 && errno == EINTR)
		;	/* SIGUSR2, the timeout, or (EINTR) nothing yet */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	task_times(worker_tid, &u1, &s1);
	printf("utime_ms %ld stime_ms %ld over %.1fs\n", (u1 - u0) * 1000 / tck,
	       (s1 - s0) * 1000 / tck,
	       (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	zp.range.start = (unsigned long)page;
	zp.range.len = page_size;
	if (ioctl(uffd, UFFDIO_ZEROPAGE, &zp))
		die("UFFDIO_ZEROPAGE");
	pthread_join(th, NULL);
	printf("signal handled %d\n", got_signal);
	return 0;
}
