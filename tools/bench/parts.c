// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * parts: what each step of faultloop's page_fault_kernel program costs
 * (tools/bench/parts.bpf.c): every program attached alone in turn, order
 * rotated per round, median ns per run from the kernel's BPF stats (enabled
 * for this process only, with BPF_ENABLE_STATS; the sysctl is untouched).
 *
 *   parts [-w kfault|retry] [-d SECONDS] [-r ROUNDS]
 *
 * The workload runs in this process: kfault = read() of /dev/zero into 256
 * fresh anonymous pages (one kernel fault per page, a new address each);
 * retry = MADV_DONTNEED then pwrite() of one 4 KiB buffer (two faults at
 * one address per write, a new episode per write).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "faultloop.h"	/* the skeleton's .bss types */
#include "parts.skel.h"
#include "hz.h"

#define MAXR 64
#define PAGES 256

static const struct {
	const char *name, *what;
	int vs;		/* the step it adds to / replaces */
} progs_def[] = {
	{ "step0", "empty program (the floor)", -1 },
	{ "step1", "+ user-address check, task->pagefault_disabled", 0 },
	{ "step2", "+ per-CPU stats lookup, events[sig]++", 1 },
	{ "step3", "+ tid/tgid loaded from the task", 2 },
	{ "step4", "+ bpf_jiffies64()", 3 },
	{ "step5", "+ io_seq, nr_migrations (4 task loads)", 4 },
	{ "step6", "+ the per-CPU slot: lookup, owner and epoch test", 5 },
	{ "step7", "+ the guard, the rest of fl_event() = faultloop's", 6 },
	{ "old_pid", "step 3 with bpf_get_current_pid_tgid() (before)", 3 },
	{ "old_ktime", "step 4 with bpf_ktime_get_ns() (before)", 4 },
	{ "old_hash", "step 6 with the tid hash lookup (before)", 6 },
	{ "old_all", "step 6 with all three as before", 6 },
	{ "gate_only", "the atomic-fault gate alone: count, no detector", 0 },
	{ "gate_big", "the gate, the detector behind a branch never taken", 0 },
	{ "gate_stack", "the gate, a 256-byte stack frame behind that branch", 0 },
	{ "gate_stack48", "the gate, a 48-byte stack frame behind that branch", 0 },
	{ "prog", "faultloop's page_fault_kernel program, gate included", 0 },
};
#define NPROGS (int)(sizeof(progs_def) / sizeof(progs_def[0]))

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int zfd, wfd;
static char *wbuf;

/* events per op: kfault 1 (one fault per page), retry 2 */
static double run(const char *wl, double secs)
{
	double t0 = now_s(), t;
	long ops = 0;

	do {
		for (int k = 0; k < 16; k++) {
			if (!strcmp(wl, "kfault")) {
				char *p = mmap(NULL, PAGES * 4096, PROT_READ | PROT_WRITE,
					       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

				madvise(p, PAGES * 4096, MADV_NOHUGEPAGE);
				if (read(zfd, p, PAGES * 4096) != PAGES * 4096)
					exit(1);
				munmap(p, PAGES * 4096);
				ops += PAGES;
			} else {
				madvise(wbuf, 4096, MADV_DONTNEED);
				if (pwrite(wfd, wbuf, 4096, 0) != 4096)
					exit(1);
				ops++;
			}
		}
		t = now_s();
	} while (t - t0 < secs);
	return ops / (t - t0);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int silent(enum libbpf_print_level l, const char *f, va_list a)
{
	return l == LIBBPF_WARN ? vfprintf(stderr, f, a) : 0;
}

int main(int argc, char **argv)
{
	static double nsrun[NPROGS][MAXR];
	const char *wl = "kfault";
	double secs = 0.5, base_ops;
	int rounds = 5, opt, r, s, stats_fd;
	struct bpf_program *progs[NPROGS];
	struct parts_bpf *skel;
	const char *hz_source = NULL;
	uint64_t jiffy_ns, gap_j;
	unsigned int hz;
	char path[] = "/dev/shm/faultloop-parts-XXXXXX";

	while ((opt = getopt(argc, argv, "w:d:r:")) != -1) {
		switch (opt) {
		case 'w': wl = optarg; break;
		case 'd': secs = atof(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: parts [-w kfault|retry] [-d SECONDS] [-r ROUNDS]\n");
			return 2;
		}
	}
	if (rounds < 1 || rounds > MAXR || secs <= 0 || (strcmp(wl, "kfault") && strcmp(wl, "retry"))) {
		fprintf(stderr, "parts: bad arguments\n");
		return 2;
	}
	zfd = open("/dev/zero", O_RDONLY);
	wfd = mkstemp(path);
	if (zfd < 0 || wfd < 0) {
		perror("parts: open");
		return 1;
	}
	unlink(path);
	wbuf = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(wbuf, 'x', 4096);

	libbpf_set_print(silent);
	skel = parts_bpf__open();
	if (!skel) {
		fprintf(stderr, "parts: open failed: %s\n", strerror(errno));
		return 1;
	}
	/* the coarse clock as faultloop sets it, for its default 1 s gap */
	hz = fl_kernel_hz(&hz_source);
	fl_clock_knobs(hz, 1000000000ULL, &jiffy_ns, &gap_j);
	skel->rodata->jiffy_ns = jiffy_ns;
	skel->rodata->gap_j = gap_j;
	if (parts_bpf__load(skel)) {
		fprintf(stderr, "parts: load failed: %s\n", strerror(errno));
		return 1;
	}
	for (s = 0; s < NPROGS; s++)
		progs[s] = bpf_object__find_program_by_name(skel->obj, progs_def[s].name);

	base_ops = run(wl, secs);	/* warm-up, and the rate without a program */
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		fprintf(stderr, "parts: BPF_ENABLE_STATS: %s\n", strerror(-stats_fd));
		return 1;
	}
	for (r = 0; r < rounds; r++) {
		for (s = 0; s < NPROGS; s++) {
			int i = (s + r) % NPROGS, fd = bpf_program__fd(progs[i]);
			struct bpf_prog_info a = {}, b = {};
			__u32 len = sizeof(a);
			struct bpf_link *l;

			bpf_obj_get_info_by_fd(fd, &a, &len);
			l = bpf_program__attach(progs[i]);
			if (!l) {
				fprintf(stderr, "parts: attach %s: %s\n", progs_def[i].name, strerror(errno));
				return 1;
			}
			run(wl, secs);
			bpf_link__destroy(l);
			len = sizeof(b);
			bpf_obj_get_info_by_fd(fd, &b, &len);
			nsrun[i][r] = b.run_cnt > a.run_cnt ?
				(double)(b.run_time_ns - a.run_time_ns) / (b.run_cnt - a.run_cnt) : 0;
		}
	}
	close(stats_fd);

	printf("parts: workload %s (%.0f ops/s without a program), %d rounds of %.1f s per program, median ns/run\n",
	       wl, base_ops, rounds, secs);
	printf("%-11s %-50s %7s %8s %6s %8s\n", "program", "what", "ns/run", "+ns", "xlated", "verified");
	for (s = 0; s < NPROGS; s++) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		double ns = median(nsrun[s], rounds);
		char delta[32] = "";

		if (progs_def[s].vs >= 0)
			snprintf(delta, sizeof(delta), "%+.1f", ns - median(nsrun[progs_def[s].vs], rounds));
		bpf_obj_get_info_by_fd(bpf_program__fd(progs[s]), &info, &len);
		printf("%-11s %-50s %7.1f %8s %6u %8u\n", progs_def[s].name, progs_def[s].what, ns, delta,
		       info.xlated_prog_len, info.verified_insns);
	}
	printf("(+ns: against the step it adds to or replaces.  ns/run includes the stats' own two clock\n"
	       " reads, i.e. step0's time is the measuring overhead, not a program cost.)\n");
	parts_bpf__destroy(skel);
	return 0;
}
