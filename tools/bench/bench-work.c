// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench-work: the overhead benchmark's workloads, each run for a fixed time
 * and reported as operations per second.
 *
 *   bench-work -w WORKLOAD [-d SECONDS] [-W WARMUP] [-t THREADS] [-p PAGES]
 *
 *   pwrite  (w1)  4 KiB pwrite() of a resident buffer to a tmpfs file, offset
 *                 0, in a tight loop: the buffered write path, no faults.
 *                 op = one write.
 *   pfault  (w2)  page-fault storm: mmap PAGES anonymous pages, write one
 *                 byte to each (user-mode faults), munmap, repeat.
 *                 op = one page faulted.
 *   kfault  (w2k) the same storm faulted by the kernel: read() of /dev/zero
 *                 into the fresh mapping, so every page is a kernel-mode
 *                 fault on a new user address (page_fault_kernel fires per
 *                 page).  op = one page faulted.
 *   race    (w3)  the madvise/pwrite race of tools/race.c: THREADS writers
 *                 pwrite() their own 4 KiB buffer while one dropper thread
 *                 keeps discarding the buffers with MADV_DONTNEED, so writes
 *                 fault and retry at the same address.  op = one write.
 *   retry   (w3r) every write retries: one thread drops its own buffer with
 *                 MADV_DONTNEED, then pwrite()s it; the atomic copy faults,
 *                 the fault-in faults the page back, the copy is retried at
 *                 the same address (2 page_fault_kernel events, 1 retry per
 *                 write, deterministic).  op = one write.
 *   getpid  (w4)  syscall(SYS_getpid) in a loop: ordinary syscall load that
 *                 touches no user memory.  op = one syscall.
 *
 * Prints one line:
 *   bench-work workload=W threads=T ops=N secs=S ops_per_s=R all_ops=A
 * (ops and ops_per_s: the measured window; all_ops: warm-up included)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BUF_SZ 4096

static atomic_int stop;		/* measuring window over */
static atomic_int counting;	/* warm-up over: ops count */
static atomic_long total_ops, all_ops;
static int file_fd;
static long pages = 256;
static long page_sz;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench-work: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int open_tmpfs_file(void)
{
	char path[] = "/dev/shm/faultloop-bench-XXXXXX";
	char alt[] = "/tmp/faultloop-bench-XXXXXX";	/* guests: /tmp is a tmpfs */
	int fd = mkstemp(path);

	if (fd >= 0) {
		unlink(path);
		return fd;
	}
	fd = mkstemp(alt);
	if (fd < 0)
		die("mkstemp");
	unlink(alt);
	return fd;
}

/* Each loop adds its ops to total_ops when the window ends (no shared
 * cache line on the hot path); ops done during the warm-up count only in
 * all_ops (what per-op rates of kernel-side counters divide by). */
#define RUN_LOOP(body, per_iter)						\
	do {									\
		long n = 0, warm_n = 0;						\
		int c = 0;							\
		while (!atomic_load_explicit(&stop, memory_order_relaxed)) {	\
			body;							\
			if (!c && atomic_load_explicit(&counting, memory_order_relaxed)) { \
				c = 1;						\
				warm_n = n;					\
				n = 0;						\
			}							\
			n += (per_iter);					\
		}								\
		atomic_fetch_add(&total_ops, n);				\
		atomic_fetch_add(&all_ops, n + warm_n);				\
	} while (0)

static void *w_pwrite(void *arg)
{
	char *buf = malloc(BUF_SZ);

	memset(buf, 'x', BUF_SZ);
	RUN_LOOP(if (pwrite(file_fd, buf, BUF_SZ, 0) != BUF_SZ) die("pwrite"), 1);
	return NULL;
}

static void *w_pfault(void *arg)
{
	size_t len = pages * page_sz;

	RUN_LOOP({
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap");
		madvise(p, len, MADV_NOHUGEPAGE);
		for (long i = 0; i < pages; i++)
			((volatile char *)p)[i * page_sz] = 1;
		munmap(p, len);
	}, pages);
	return NULL;
}

static void *w_kfault(void *arg)
{
	size_t len = pages * page_sz;
	int zfd = open("/dev/zero", O_RDONLY);

	if (zfd < 0)
		die("open /dev/zero");
	RUN_LOOP({
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap");
		madvise(p, len, MADV_NOHUGEPAGE);
		if (read(zfd, p, len) != (ssize_t)len)
			die("read /dev/zero");
		munmap(p, len);
	}, pages);
	close(zfd);
	return NULL;
}

static void *w_retry(void *arg)
{
	char *buf = mmap(NULL, BUF_SZ, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (buf == MAP_FAILED)
		die("mmap");
	memset(buf, 'x', BUF_SZ);
	RUN_LOOP({
		madvise(buf, BUF_SZ, MADV_DONTNEED);
		if (pwrite(file_fd, buf, BUF_SZ, 0) != BUF_SZ)
			die("pwrite");
	}, 1);
	return NULL;
}

static void *w_getpid(void *arg)
{
	RUN_LOOP(syscall(SYS_getpid), 1);
	return NULL;
}

struct race_writer {
	char *buf;
};

static struct race_writer *writers;
static int nwriters;

static void *w_race_writer(void *arg)
{
	struct race_writer *w = arg;

	RUN_LOOP(if (pwrite(file_fd, w->buf, BUF_SZ, 0) != BUF_SZ) die("pwrite"), 1);
	return NULL;
}

static void *w_race_dropper(void *arg)
{
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		for (int i = 0; i < nwriters; i++)
			madvise(writers[i].buf, BUF_SZ, MADV_DONTNEED);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench-work -w pwrite|pfault|kfault|race|retry|getpid [-d SECONDS] [-W WARMUP]\n"
		"                  [-t THREADS] [-p PAGES]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *wl = NULL;
	double secs = 2, warm = 0.2, t0, t1;
	int threads = 1, opt, i, nth;
	void *(*fn)(void *) = NULL;
	pthread_t *th;
	pthread_t dropper;

	while ((opt = getopt(argc, argv, "w:d:W:t:p:")) != -1) {
		switch (opt) {
		case 'w': wl = optarg; break;
		case 'd': secs = atof(optarg); break;
		case 'W': warm = atof(optarg); break;
		case 't': threads = atoi(optarg); break;
		case 'p': pages = atol(optarg); break;
		default: usage();
		}
	}
	if (!wl || secs <= 0 || warm < 0 || threads < 1 || threads > 4096 || pages < 1)
		usage();
	page_sz = sysconf(_SC_PAGESIZE);
	if (!strcmp(wl, "pwrite"))
		fn = w_pwrite;
	else if (!strcmp(wl, "pfault"))
		fn = w_pfault;
	else if (!strcmp(wl, "kfault"))
		fn = w_kfault;
	else if (!strcmp(wl, "retry"))
		fn = w_retry;
	else if (!strcmp(wl, "getpid"))
		fn = w_getpid;
	else if (!strcmp(wl, "race"))
		fn = w_race_writer;
	else
		usage();
	if (fn == w_pwrite || fn == w_race_writer || fn == w_retry)
		file_fd = open_tmpfs_file();

	th = calloc(threads, sizeof(*th));
	if (fn == w_race_writer) {
		nwriters = threads;
		writers = calloc(threads, sizeof(*writers));
		for (i = 0; i < threads; i++) {
			writers[i].buf = mmap(NULL, BUF_SZ, PROT_READ | PROT_WRITE,
					      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (writers[i].buf == MAP_FAILED)
				die("mmap");
			memset(writers[i].buf, 'x', BUF_SZ);
		}
		if (pthread_create(&dropper, NULL, w_race_dropper, NULL))
			die("pthread_create");
	}
	for (nth = 0; nth < threads; nth++)
		if (pthread_create(&th[nth], NULL, fn,
				   fn == w_race_writer ? (void *)&writers[nth] : NULL))
			die("pthread_create");
	if (warm > 0)
		usleep(warm * 1e6);
	t0 = now_s();
	atomic_store(&counting, 1);
	usleep(secs * 1e6);
	atomic_store(&stop, 1);
	t1 = now_s();
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	if (fn == w_race_writer)
		pthread_join(dropper, NULL);
	/* a thread's last, unfinished iteration may land after t1: at most one
	 * iteration per thread, far below the noise at the default durations */
	printf("bench-work workload=%s threads=%d ops=%ld secs=%.4f ops_per_s=%.1f all_ops=%ld\n",
	       wl, threads, atomic_load(&total_ops), t1 - t0,
	       atomic_load(&total_ops) / (t1 - t0), atomic_load(&all_ops));
	return 0;
}
