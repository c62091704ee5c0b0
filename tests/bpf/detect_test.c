// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The detector through the real verifier and JIT: synthetic event
 * sequences fed with BPF_PROG_TEST_RUN into tests/bpf/detect_test.bpf.c,
 * which runs bpf/detector.bpf.h, the code the probes run.  Needs root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "faultloop.h"
#include "detect_test.h"
#include "detect_test.skel.h"

#define MS 1000000ULL
#define JIFFY 1000ULL	/* the tests' coarse clock: 1 us, so times stay exact */
#define GAP (100 * MS)
#define IVL (50 * MS)
#define T0 (1000 * MS)
#define MAX_REPORTS 4096

struct fx {
	struct detect_test_bpf *skel;
	bool vma;		/* samples go through detector_test_vma */
	struct ring_buffer *rb;
	struct fl_report reps[MAX_REPORTS];
	int nrep;
};

static int on_report(void *ctx, void *data, size_t len)
{
	struct fx *f = ctx;

	assert_true(len >= sizeof(struct fl_report));
	if (f->nrep < MAX_REPORTS)
		memcpy(&f->reps[f->nrep++], data, sizeof(struct fl_report));
	return 0;
}

static struct fx *fx_open_j(__u32 threshold, __u32 max_tasks, __u64 min_duration_ns,
			    __u64 jiffy)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->skel = detect_test_bpf__open();
	assert_non_null(f->skel);
	f->skel->rodata->threshold = threshold;
	f->skel->rodata->min_duration_ns = min_duration_ns;
	f->skel->rodata->gap_ns = GAP;
	f->skel->rodata->jiffy_ns = jiffy;
	f->skel->rodata->gap_j = GAP / jiffy;
	f->skel->rodata->ongoing_ns = IVL;
	if (max_tasks)
		bpf_map__set_max_entries(f->skel->maps.episodes, max_tasks);
	assert_int_equal(detect_test_bpf__load(f->skel), 0);
	f->rb = ring_buffer__new(bpf_map__fd(f->skel->maps.reports), on_report, f, NULL);
	assert_non_null(f->rb);
	return f;
}

static struct fx *fx_open_md(__u32 threshold, __u32 max_tasks, __u64 min_duration_ns)
{
	return fx_open_j(threshold, max_tasks, min_duration_ns, JIFFY);
}

static struct fx *fx_open(__u32 threshold, __u32 max_tasks)
{
	return fx_open_md(threshold, max_tasks, 0);
}

static void fx_close(struct fx *f)
{
	ring_buffer__free(f->rb);
	detect_test_bpf__destroy(f->skel);
	free(f);
}

/* Every event runs on CPU 0, the CPU whose slot (struct fl_cur) get_ep() reads. */
#define NARGS 10

/* One run of the driver with all its arguments; its return value. */
static __u32 run_args(struct fx *f, const __u64 *args)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = NARGS * sizeof(__u64),
		    .flags = BPF_F_TEST_RUN_ON_CPU, .cpu = 0);

	struct bpf_program *prog = f->vma ? f->skel->progs.detector_test_vma :
					    f->skel->progs.detector_test;

	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(prog), &opts), 0);
	ring_buffer__consume(f->rb);
	return opts.retval;
}

static void run_m(struct fx *f, __u64 op, __u64 sig, __u64 tid, __u64 addr,
		  __u64 now, __u64 io_seq, __u64 extra, __u64 migr)
{
	__u64 args[NARGS] = { op, sig, tid, addr, now, io_seq, extra, migr };

	assert_int_equal(run_args(f, args), 0);
}

/* The driver's return value, for the ops that report one. */
static __u32 run_ret(struct fx *f, __u64 op, __u64 sig, __u64 tid, __u64 now, __u64 flag)
{
	__u64 args[NARGS] = { op, sig, tid, 0, now, flag, 0, 0 };

	return run_args(f, args);
}

static void run(struct fx *f, __u64 op, __u64 sig, __u64 tid, __u64 addr,
		__u64 now, __u64 io_seq, __u64 extra)
{
	run_m(f, op, sig, tid, addr, now, io_seq, extra, 0);
}

static void ev(struct fx *f, __u32 sig, __u32 tid, __u64 addr, __u64 now)
{
	run(f, FL_TEST_EVENT, sig, tid, addr, now, 0, 0);
}

/* A retrying (promoted) episode, from the hash. */
static bool in_hash(struct fx *f, __u32 tid, struct fl_episode *ep)
{
	return bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.episodes), &tid, ep) == 0;
}

/* The episode in CPU 0's slot, if it is tid's and live. */
static bool in_cur(struct fx *f, __u32 tid, struct fl_cur *out)
{
	int ncpu = libbpf_num_possible_cpus();
	struct fl_cur *per = calloc(ncpu, sizeof(*per));
	__u32 zero = 0;
	bool ok;

	assert_non_null(per);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.cur), &zero, per), 0);
	ok = per[0].live && per[0].tid == tid;
	if (ok && out)
		*out = per[0];
	free(per);
	return ok;
}

/* The task's episode wherever it is; from the slot: no retries yet. */
static bool get_ep(struct fx *f, __u32 tid, struct fl_episode *ep)
{
	struct fl_cur c;

	if (in_hash(f, tid, ep))
		return true;
	if (!in_cur(f, tid, &c))
		return false;
	memset(ep, 0, sizeof(*ep));
	ep->start_ns = c.start_j * JIFFY;
	ep->last_ns = c.last_j * JIFFY;
	ep->io_seq = c.io_seq;
	ep->addr = c.addr;
	ep->size = c.size;
	ep->pid = c.pid;
	ep->tid = c.tid;
	ep->events = c.events;
	ep->sig_mask = c.sig_mask;
	return true;
}

static __u64 nr_promoted(struct fx *f)
{
	return f->skel->bss->nr_promoted;
}

static void get_stats(struct fx *f, struct fl_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus(), i, j;
	struct fl_stats *per = calloc(ncpu, sizeof(*per));
	__u32 zero = 0;

	assert_non_null(per);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.stats), &zero, per), 0);
	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < ncpu; i++)
		for (j = 0; j < (int)(sizeof(*sum) / 8); j++)
			((__u64 *)sum)[j] += ((__u64 *)&per[i])[j];
	free(per);
}

/* fl_slot() of bpf/detector.bpf.h: bucket i holds [2^(i-1), 2^i) */
static int fl_test_slot(__u64 v)
{
	int s = 0;

	while (v) {
		s++;
		v >>= 1;
	}
	return s;
}

static int count_kind(struct fx *f, int kind)
{
	int i, n = 0;

	for (i = 0; i < f->nrep; i++)
		n += f->reps[i].kind == kind;
	return n;
}

/* A reported loop of tid: 5 faults at one address, T0 .. T0 + 4 ms. */
static void reported_loop(struct fx *f, __u32 tid, __u64 addr)
{
	int i;

	for (i = 0; i < 5; i++)
		ev(f, FL_SIG_PF_KERNEL_ATOMIC, tid, addr, T0 + i * MS);
	assert_int_equal(count_kind(f, FL_REPORT_DETECTED), 1);
}

/* The idle sweep closes with the probes' own code: not before the gap and
 * its half again (FL_SWEEP_SLACK), once after it, back-dated to the last
 * event, and never again. */
static void test_sweep_ends_idle_once(void **state)
{
	struct fx *f = fx_open(2, 0);
	struct fl_episode ep;
	struct fl_stats st;

	reported_loop(f, 900, 0x7f0000001000ULL);
	assert_int_equal(run_ret(f, FL_TEST_SWEEP, 0, 900, T0 + 4 * MS + GAP / 2, 0), 3);
	assert_true(in_hash(f, 900, &ep));
	assert_int_equal(run_ret(f, FL_TEST_SWEEP, 0, 900, T0 + 4 * MS + GAP + 1, 0), 3);
	assert_int_equal(run_ret(f, FL_TEST_SWEEP, 0, 900, T0 + 4 * MS + GAP * 3 / 2, 0), 3);
	assert_true(in_hash(f, 900, &ep));
	assert_int_equal(run_ret(f, FL_TEST_SWEEP, 0, 900, T0 + 4 * MS + GAP * 3 / 2 + 1, 0), 0);
	assert_false(in_hash(f, 900, &ep));
	assert_int_equal(count_kind(f, FL_REPORT_ENDED), 1);
	assert_int_equal(f->reps[f->nrep - 1].reason, FL_END_GAP);
	assert_int_equal(f->reps[f->nrep - 1].duration_ns, 4 * MS);
	assert_int_equal(f->reps[f->nrep - 1].stack_sz, 0);
	assert_int_equal(nr_promoted(f), 0);
	/* gone: a second sweep and the owner's late return end nothing */
	assert_int_equal(run_ret(f, FL_TEST_SWEEP, 0, 900, T0 + 3 * GAP, 0), 3);
	run(f, FL_TEST_OWNER_EXIT, FL_SIG_OWNER_GENERIC_PERFORM_WRITE, 900, 0, T0 + 3 * GAP, 0, 0);
	assert_int_equal(count_kind(f, FL_REPORT_ENDED), 1);
	get_stats(f, &st);
	assert_int_equal(st.ended[FL_END_GAP], 1);
	assert_int_equal(st.hist_retries[fl_test_slot(4)], 1);
	fx_close(f);
}

/* At detach every episode ends, idle or not. */
static void test_sweep_all_at_detach(void **state)
{
	struct fx *f = fx_open(2, 0);

	reported_loop(f, 901, 0x7f0000002000ULL);
	assert_int_equal(run_ret(f, FL_TEST_SWEEP, 0, 901, T0 + 5 * MS, 1), 0);
	assert_int_equal(count_kind(f, FL_REPORT_ENDED), 1);
	assert_int_equal(f->reps[f->nrep - 1].reason, FL_END_DETACH);
	assert_int_equal(f->reps[f->nrep - 1].duration_ns, 5 * MS);
	fx_close(f);
}

/*
 * The ENDED race, provoked deterministically: a probe has looked the
 * episode up, then the sweep's delete wins, then the probe closes it.  The
 * probe must neither report ENDED a second time nor count the episode
 * again.  (Before, BPF reported and then deleted, user space deleted and
 * then reported: both reported.)
 */
static void test_lost_delete_reports_nothing(void **state)
{
	struct fx *f = fx_open(2, 0);
	struct fl_stats before, after;

	reported_loop(f, 902, 0x7f0000003000ULL);
	get_stats(f, &before);
	assert_int_equal(run_ret(f, FL_TEST_LOST_END, FL_SIG_OWNER_SEARCH_IOCTL, 902,
				 T0 + 6 * MS, 0), 0);
	assert_int_equal(count_kind(f, FL_REPORT_ENDED), 0);
	get_stats(f, &after);
	assert_int_equal(after.ended[FL_END_OWNER_RETURN], before.ended[FL_END_OWNER_RETURN]);
	assert_int_equal(after.sum_retries, before.sum_retries);
	assert_int_equal(after.cnt[FL_CNT_REPORTS], before.cnt[FL_CNT_REPORTS]);
	fx_close(f);
}

/* ---- the stall sampler ---------------------------------------------------- */

#define IN_FAULT	0xffffffff81001010ULL	/* inside the test's range 0 */
#define ELSEWHERE	0xffffffff82000000ULL

/* The sampler's fixture: range 0 is handle_userfault(), range 1 (with
 * two_ranges) other fault code; the retry detector at threshold; vma: the
 * samples go through the sampler that looks up the fault's VMA. */
static struct fx *fx_stall_vma(__u32 threshold, bool two_ranges, bool vma)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->skel = detect_test_bpf__open();
	assert_non_null(f->skel);
	f->skel->rodata->threshold = threshold;
	f->skel->rodata->gap_ns = GAP;
	f->skel->rodata->ongoing_ns = IVL;
	f->skel->rodata->stall_ns = 1000 * MS;
	f->skel->rodata->stall_gap_ns = 400 * MS;
	f->skel->rodata->stall_lo[0] = 0xffffffff81001000ULL;
	f->skel->rodata->stall_hi[0] = 0xffffffff81002000ULL;
	f->skel->rodata->stall_lo[1] = 0xffffffff81003000ULL;
	f->skel->rodata->stall_hi[1] = 0xffffffff81004000ULL;
	f->skel->rodata->nr_stall_ranges = two_ranges ? 2 : 1;
	f->skel->rodata->stall_uffd_range = 0;	/* say range 0 is handle_userfault */
	f->vma = vma;
	assert_int_equal(bpf_program__set_autoload(f->skel->progs.detector_test_vma, vma), 0);
	assert_int_equal(detect_test_bpf__load(f->skel), 0);
	f->rb = ring_buffer__new(bpf_map__fd(f->skel->maps.reports), on_report, f, NULL);
	assert_non_null(f->rb);
	return f;
}

static struct fx *fx_stall_at(__u32 threshold, bool two_ranges)
{
	return fx_stall_vma(threshold, two_ranges, false);
}

static struct fx *fx_stall(void)
{
	return fx_stall_at(2, false);
}

/* progress, frame (0: user mode), wall and CPU time in ms from T0,
 * a signal pending */
static void sample_sig(struct fx *f, __u32 tid, __u64 progress, __u64 frame, __u64 wall_ms,
		       __u64 cpu_ms, bool sigpend)
{
	__u64 args[NARGS] = { FL_TEST_STALL_SAMPLE, progress, tid, frame, T0 + wall_ms * MS,
			      cpu_ms * MS, sigpend, 0 };

	assert_int_equal(run_args(f, args), 0);
}

static void sample(struct fx *f, __u32 tid, __u64 progress, __u64 frame, __u64 wall_ms,
		   __u64 cpu_ms)
{
	sample_sig(f, tid, progress, frame, wall_ms, cpu_ms, false);
}

/* A pending signal seen in any sample marks the stall (the known bug). */
static void test_stall_signal_pending(void **state)
{
	struct fx *f = fx_stall();
	int i;

	for (i = 0; i <= 10; i++)
		sample_sig(f, 706, 5, ELSEWHERE + 1, i * 100, i * 100, i == 3);
	assert_int_equal(f->nrep, 0);	/* never in fault code: no stall */
	for (i = 0; i <= 10; i++)
		sample_sig(f, 707, 5, 0xffffffff81001800ULL, i * 100, i * 100, i == 3);
	assert_int_equal(count_kind(f, FL_REPORT_DETECTED), 1);
	assert_true(f->reps[0].flags & FL_EP_SIGPEND);
	fx_close(f);
}

static void pin_cpu0(cpu_set_t *old);

#define IN_FAULT2	0xffffffff81003010ULL	/* inside range 1: fault code, not uffd */

/* One page of this process registered with a userfaultfd (missing mode),
 * and one plain page: the driver is the current task under TEST_RUN, so
 * these are the VMAs bpf_find_vma() finds. */
static void *uffd_page(int *uffd)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	long psz = sysconf(_SC_PAGESIZE);
	void *p;

	*uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	assert_true(*uffd >= 0);
	assert_int_equal(ioctl(*uffd, UFFDIO_API, &api), 0);
	p = mmap(NULL, psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	reg.range.start = (unsigned long)p;
	reg.range.len = psz;
	assert_int_equal(ioctl(*uffd, UFFDIO_REGISTER, &reg), 0);
	return p;
}

/* tid took its last kernel fault at addr (what the page_fault_kernel
 * program leaves for the sampler) */
static void set_fault(struct fx *f, __u32 tid, __u64 addr)
{
	struct fl_fault_at *at = &f->skel->bss->fault_at[tid & (FL_FAULT_SLOTS - 1)];

	at->tid = tid;
	at->addr = addr;
}

/* tid spins in fault code outside handle_userfault() with a signal pending
 * (the uffd loop's write direction, sampled in the allocation) at addr;
 * returns its DETECTED report's flags */
static __u8 stall_at(struct fx *f, __u32 tid, void *addr)
{
	int i, n = f->nrep;

	set_fault(f, tid, (__u64)(unsigned long)addr);
	for (i = 0; i <= 10; i++)
		sample_sig(f, tid, 5, IN_FAULT2, i * 100, i * 100, true);
	for (i = n; i < f->nrep; i++)
		if (f->reps[i].tid == tid && f->reps[i].kind == FL_REPORT_DETECTED)
			return f->reps[i].flags;
	fail_msg("tid %u: no DETECTED", tid);
	return 0;
}

/*
 * The stall's userfaultfd evidence from its fault address's VMA
 * (fl_stall_vma, bpf_find_vma): a stall whose samples never reach
 * handle_userfault() is named by its VMA, a plain VMA says no, and the
 * sampler without the lookup (kernels before 5.17) has only the stack.
 */
static void test_stall_vma_says_uffd(void **state)
{
	long psz = sysconf(_SC_PAGESIZE);
	void *reg, *plain;
	cpu_set_t cpus;
	struct fx *f;
	int uffd;
	__u8 fl;

	if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_RAW_TRACEPOINT, BPF_FUNC_find_vma, NULL) <= 0) {
		print_message("      no bpf_find_vma on this kernel (5.17+): not run\n");
		skip();
	}
	pin_cpu0(&cpus);	/* the program runs here: its current is this thread */
	reg = uffd_page(&uffd);
	plain = mmap(NULL, psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(plain != MAP_FAILED);

	f = fx_stall_vma(2, true, true);
	fl = stall_at(f, 720, (char *)reg + 64);
	assert_int_equal(fl & (FL_EP_VMA | FL_EP_UFFD | FL_EP_SIGPEND),
			 FL_EP_VMA | FL_EP_UFFD | FL_EP_SIGPEND);
	fl = stall_at(f, 721, plain);
	assert_int_equal(fl & (FL_EP_VMA | FL_EP_UFFD), FL_EP_VMA);
	fx_close(f);

	f = fx_stall_vma(2, true, false);
	fl = stall_at(f, 722, reg);
	assert_int_equal(fl & (FL_EP_VMA | FL_EP_UFFD), 0);
	fx_close(f);

	munmap(plain, psz);
	munmap(reg, psz);
	close(uffd);
	assert_int_equal(sched_setaffinity(0, sizeof(cpus), &cpus), 0);
}

/* A task spinning inside one fault: DETECTED once it has spent
 * stall_ns on a CPU there, not before; ONGOING rate limited; the fault
 * completing (min_flt moves) ends it. */
static void test_stall_detected_and_progress_ends_it(void **state)
{
	struct fx *f = fx_stall();
	int i;

	for (i = 0; i <= 9; i++)
		sample(f, 700, 5, IN_FAULT, i * 100, i * 100);
	assert_int_equal(f->nrep, 0);			/* 900 ms on CPU */
	sample(f, 700, 5, IN_FAULT, 1000, 1000);
	assert_int_equal(count_kind(f, FL_REPORT_DETECTED), 1);
	assert_int_equal(f->reps[0].tid, 700);
	assert_int_equal(f->reps[0].sig, FL_SIG_FAULT_STALL);
	assert_int_equal(f->reps[0].duration_ns, 1000 * MS);
	assert_int_equal(f->reps[0].samples, 11);	/* samples inside the fault */
	assert_int_equal(f->reps[0].retries, 0);	/* a stall has no retry */
	assert_true(f->reps[0].flags & FL_EP_UFFD);
	sample(f, 700, 5, IN_FAULT, 1020, 1020);	/* within --interval */
	assert_int_equal(f->nrep, 1);
	sample(f, 700, 5, IN_FAULT, 1100, 1100);
	assert_int_equal(count_kind(f, FL_REPORT_ONGOING), 1);
	sample(f, 700, 6, IN_FAULT, 1200, 1200);	/* a fault completed */
	assert_int_equal(count_kind(f, FL_REPORT_ENDED), 1);
	assert_int_equal(f->reps[f->nrep - 1].reason, FL_END_PROGRESS);
	assert_int_equal(f->reps[f->nrep - 1].duration_ns, 1100 * MS);	/* at its last sample */
	fx_close(f);
}

/* Asleep in the fault (wall time passes, CPU time does not), samples
 * elsewhere in the kernel, and user mode: none is a loop. */
static void test_stall_needs_cpu_time(void **state)
{
	struct fx *f = fx_stall();
	int i;

	for (i = 0; i <= 30; i++)
		sample(f, 701, 5, IN_FAULT, i * 100, i * 5);	/* 5% on CPU, 3 s */
	for (i = 0; i <= 30; i++)
		sample(f, 702, 5, ELSEWHERE, i * 100, i * 100);	/* never in fault code */
	sample(f, 703, 5, IN_FAULT, 0, 0);
	sample(f, 703, 5, 0, 600, 600);			/* back in user mode */
	sample(f, 703, 5, IN_FAULT, 700, 700);		/* a new stall */
	sample(f, 703, 5, IN_FAULT, 1600, 1600);	/* 900 ms of it */
	assert_int_equal(f->nrep, 0);
	fx_close(f);
}

/* One loop, one report: the retry detector reported this task first. */
static void test_stall_shadowed_by_detector(void **state)
{
	struct fx *f = fx_stall();
	int i;

	for (i = 0; i < 5; i++)
		ev(f, FL_SIG_PF_KERNEL_ATOMIC, 704, 0x7f0000004000ULL, T0 + i * MS);
	assert_int_equal(count_kind(f, FL_REPORT_DETECTED), 1);
	for (i = 0; i <= 15; i++)
		sample(f, 704, 5, IN_FAULT, i * 100, i * 100);
	assert_int_equal(count_kind(f, FL_REPORT_DETECTED), 1);
	assert_int_equal(f->nrep, 1);
	fx_close(f);
}

/* The other detector's evidence of the same task's loop counts for the
 * first report (fl_reported_elsewhere). */
#define IN_FAULT_NOT_UFFD	0xffffffff81003010ULL	/* inside range 1 */

/* The sampler reports first, none of its samples in handle_userfault();
 * the fault probe's episode of the task saw the VMA's userfaultfd
 * context (and, the control, a task whose fault probe did not). */
static void test_stall_takes_fault_probe_uffd(void **state)
{
	int uffd, i;

	for (uffd = 0; uffd <= 1; uffd++) {
		struct fx *f = fx_stall_at(1000000, true);	/* the retries never report */

		for (i = 0; i < 20; i++)
			ev(f, FL_SIG_HANDLE_MM_FAULT | (uffd ? FL_TEST_UFFD : 0), 720,
			   0x7f0000006000ULL, T0 + i * 50 * MS);
		assert_int_equal(f->nrep, 0);
		for (i = 0; i <= 10; i++)
			sample(f, 720, 5, IN_FAULT_NOT_UFFD, i * 100, i * 100);
		assert_int_equal(count_kind(f, FL_REPORT_DETECTED), 1);
		assert_int_equal(f->reps[0].sig, FL_SIG_FAULT_STALL);
		assert_int_equal(!!(f->reps[0].flags & FL_EP_UFFD), uffd);
		fx_close(f);
	}
}

/* The other way round: the retry detector reports first; the sampler
 * had the task in handle_userfault(), the fault probe saw no VMA (a
 * signal with none, kprobes on 5.10 modules without BTF). */
static void test_retries_take_stall_uffd(void **state)
{
	struct fx *f = fx_stall_at(5, true);
	int i;

	for (i = 0; i <= 3; i++)
		sample(f, 721, 5, IN_FAULT, i * 100, i * 100);	/* 300 ms: no stall yet */
	for (i = 0; i < 6; i++)
		ev(f, FL_SIG_HANDLE_MM_FAULT, 721, 0x7f0000007000ULL, T0 + 300 * MS + i * MS);
	assert_int_equal(count_kind(f, FL_REPORT_DETECTED), 1);
	assert_int_equal(f->reps[0].sig, FL_SIG_HANDLE_MM_FAULT);
	assert_true(f->reps[0].flags & FL_EP_UFFD);
	fx_close(f);
}

/* One event with the call boundary's two parts (struct fl_ev): io_seq,
 * its read/write-call part sys_seq, and whether an unblocked signal is
 * pending. */
static void ev_seq(struct fx *f, __u32 sig, __u32 tid, __u64 addr, __u64 now,
		   __u64 io_seq, __u64 sys_seq, bool sigpend)
{
	__u64 args[NARGS] = { FL_TEST_EVENT, sig, tid, addr, now, io_seq, 0, 0,
			      sys_seq + 1, sigpend };

	assert_int_equal(run_args(f, args), 0);
}

/*
 * The userfaultfd loop retried with a signal pending: its schedule() does
 * not sleep, but moves nvcsw whenever another task gets the CPU (here
 * every 7th turn).  One loop: one DETECTED, ONGOING while it spins, one
 * ENDED when the task exits, one count.  (Before: DETECTED, ENDED
 * next_call, DETECTED again.)
 */
static void test_own_switch_with_signal_is_one_loop(void **state)
{
	struct fx *f = fx_open(2, 0);
	__u64 A = 0x7f0000002000ULL, nv = 0;
	struct fl_stats st;
	int i;

	for (i = 0; i < 60; i++) {
		nv += i % 7 == 6;
		ev_seq(f, FL_SIG_HANDLE_MM_FAULT | FL_TEST_UFFD, 910, A, T0 + i * 5 * MS,
		       40 + nv, 40, true);
	}
	assert_int_equal(count_kind(f, FL_REPORT_DETECTED), 1);
	assert_true(count_kind(f, FL_REPORT_ONGOING) >= 4);
	assert_int_equal(count_kind(f, FL_REPORT_ENDED), 0);
	assert_true(f->reps[0].flags & FL_EP_UFFD);
	run(f, FL_TEST_TASK_EXIT, 0, 910, 0, T0 + 400 * MS, 0, 0);
	assert_int_equal(count_kind(f, FL_REPORT_ENDED), 1);
	assert_int_equal(f->reps[f->nrep - 1].reason, FL_END_TASK_EXIT);
	assert_int_equal(f->reps[f->nrep - 1].retries, 59);
	get_stats(f, &st);
	assert_int_equal(st.cnt[FL_CNT_DETECTED], 1);
	fx_close(f);
}

/* Without a signal pending a voluntary switch is a sleep and ends the
 * episode (bash re-faulting its stack at each SIGCHLD, across wait4()),
 * and with one a read/write call that began still does. */
static void test_sleep_and_call_still_end(void **state)
{
	struct fx *f = fx_open(2, 0);
	__u64 A = 0x7f0000003000ULL;
	struct fl_stats st;
	int i;

	for (i = 0; i < 20; i++)
		ev_seq(f, FL_SIG_PF_KERNEL_ATOMIC, 911, A, T0 + i * MS, 50 + i, 50, false);
	for (i = 0; i < 20; i++)
		ev_seq(f, FL_SIG_PF_KERNEL_ATOMIC, 912, A, T0 + i * MS, 70 + i, 70 + i, true);
	assert_int_equal(f->nrep, 0);
	get_stats(f, &st);
	assert_int_equal(st.ended[FL_END_SYSCALL], 38);
	assert_int_equal(st.cnt[FL_CNT_RETRIES], 0);
	fx_close(f);
}

/* The evidence a known bug is named on: the userfaultfd flag comes only
 * from an event that saw userfaultfd. */
static void test_uffd_flag_only_from_uffd(void **state)
{
	struct fx *f = fx_open(2, 0);
	int i;

	for (i = 0; i < 3; i++)
		ev(f, FL_SIG_HANDLE_MM_FAULT, 913, 0x7f0000004000ULL, T0 + i * MS);
	assert_int_equal(count_kind(f, FL_REPORT_DETECTED), 1);
	assert_false(f->reps[0].flags & FL_EP_UFFD);
	assert_false(f->reps[0].flags & FL_EP_SIGPEND);
	fx_close(f);
}

static void pin_cpu0(cpu_set_t *old)
{
	cpu_set_t one;

	assert_int_equal(sched_getaffinity(0, sizeof(*old), old), 0);
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
}

/*
 * A blocked signal pending (a daemon taking SIGUSR1 with sigwait) is not
 * what makes handle_userfault() return VM_FAULT_RETRY: neither
 * fl_task_sigpend() nor a report's FL_EP_SIGPEND may say so.  The test
 * runs on CPU 0, so the driver's current is this thread.
 */
static void test_blocked_signal_is_not_pending(void **state)
{
	struct fx *f = fx_open(2, 0);
	sigset_t set, old;
	cpu_set_t cpus;
	int i;

	pin_cpu0(&cpus);
	assert_int_equal(run_ret(f, FL_TEST_SIGPEND, 0, 0, 0, 0), 11);
	/* ignored, so that a failure here cannot kill the runner: a blocked
	 * signal is queued even when ignored (sig_ignored(), kernel/signal.c) */
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &set, &old), 0);
	assert_int_equal(raise(SIGUSR1), 0);		/* this thread's */
	assert_int_equal(kill(getpid(), SIGUSR2), 0);	/* the process's */
	assert_int_equal(sigpending(&set), 0);
	assert_true(sigismember(&set, SIGUSR1) && sigismember(&set, SIGUSR2));
	assert_int_equal(run_ret(f, FL_TEST_SIGPEND, 0, 0, 0, 0), 11);
	for (i = 0; i < 3; i++)
		ev(f, FL_SIG_PF_KERNEL_ATOMIC, 914, 0x7f0000005000ULL, T0 + i * MS);
	assert_int_equal(count_kind(f, FL_REPORT_DETECTED), 1);
	assert_false(f->reps[0].flags & FL_EP_SIGPEND);
	assert_int_equal(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
	signal(SIGUSR1, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);
	assert_int_equal(sched_setaffinity(0, sizeof(cpus), &cpus), 0);
	fx_close(f);
}

/*
 * The sweep (another CPU) and a probe meet at the gap's edge: the probe's
 * event is inside the gap, the sweep's clock just past it, and the sweep
 * runs between the probe's lookup and its writes.  The sweep must leave
 * the episode to the probe (before: it deleted and reported ENDED, and
 * the probe wrote into the freed element, which the next promotion
 * reuses).  Then another task's promotion finds its element whole.
 */
static void test_sweep_race_at_gap_edge(void **state)
{
	struct fx *f = fx_open(2, 0);
	__u64 A = 0x7f0000006000ULL, B = 0x7f0000007000ULL;
	__u64 args[NARGS] = { FL_TEST_SWEEP_RACE, FL_SIG_PF_KERNEL_ATOMIC, 920, A,
			      T0 + 4 * MS + GAP - MS, T0 + 4 * MS + GAP + MS };
	struct fl_episode ep;
	int i;

	reported_loop(f, 920, A);
	assert_int_equal(run_args(f, args), 0);
	assert_int_equal(count_kind(f, FL_REPORT_ENDED), 0);
	assert_true(in_hash(f, 920, &ep));
	assert_int_equal(ep.events, 6);
	assert_int_equal(ep.last_ns, T0 + 4 * MS + GAP - MS);
	for (i = 0; i < 2; i++)
		ev(f, FL_SIG_PF_KERNEL_ATOMIC, 921, B, T0 + GAP + i * MS);
	assert_true(in_hash(f, 921, &ep));
	assert_int_equal(ep.tid, 921);
	assert_int_equal(ep.events, 2);
	assert_int_equal(ep.addr, B);
	assert_int_equal(nr_promoted(f), 2);
	fx_close(f);
}

/* An element the sweep finds half made (start_ns set, last_ns not yet:
 * what a promotion that inserted a zeroed episode and filled it afterwards
 * showed) must not add 0 - start_ns to the duration sums. */
static void test_sweep_half_made_element(void **state)
{
	struct fx *f = fx_open(2, 0);
	struct fl_episode ep = { .start_ns = T0, .tid = 930, .pid = 930 };
	__u32 tid = 930;
	struct fl_stats st;

	assert_int_equal(bpf_map_update_elem(bpf_map__fd(f->skel->maps.episodes), &tid, &ep,
					     BPF_NOEXIST), 0);
	f->skel->bss->nr_promoted = 1;
	assert_int_equal(run_ret(f, FL_TEST_SWEEP, 0, 930, T0 + 3 * GAP, 0), 0);
	get_stats(f, &st);
	assert_true(st.sum_duration_ns < 3 * GAP);
	assert_int_equal(nr_promoted(f), 0);
	fx_close(f);
}

/*
 * The sampler's interrupt landing inside a probe on the same CPU: the
 * sample is skipped and counted, and touches neither the stalls nor the
 * scratch episode the probe may be building a report from.
 */
static void test_sampler_inside_probe(void **state)
{
	struct fx *f = fx_stall();
	__u64 args[NARGS] = { FL_TEST_NESTED, 5, 706, IN_FAULT, T0, 0, 0 };
	struct fl_episode ep;
	struct fl_stats st;
	__u32 tid = 706;

	assert_int_equal(run_args(f, args), 0);
	assert_int_not_equal(bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.stalls), &tid, &ep), 0);
	get_stats(f, &st);
	assert_int_equal(st.cnt[FL_CNT_NESTED], 1);
	assert_int_equal(st.events[FL_SIG_FAULT_STALL], 0);
	sample(f, 706, 5, IN_FAULT, 0, 0);	/* outside a probe: taken */
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.stalls), &tid, &ep), 0);
	fx_close(f);
}

/* A stall of tid reported: samples inside the fault every 100 ms of wall
 * and CPU time, 0 to 1100 ms. */
static void stalled(struct fx *f, __u32 tid)
{
	int i;

	for (i = 0; i <= 11; i++)
		sample(f, tid, 5, IN_FAULT, i * 100, i * 100);
	assert_int_equal(count_kind(f, FL_REPORT_DETECTED), 1);
}

/* A stalled task that exits ends its stall, once, through the task-exit
 * probe's own path (fl_end). */
static void test_stall_task_exit(void **state)
{
	struct fx *f = fx_stall();

	stalled(f, 708);
	run(f, FL_TEST_TASK_EXIT, 0, 708, 0, T0 + 1150 * MS, 0, 0);
	run(f, FL_TEST_TASK_EXIT, 0, 708, 0, T0 + 1160 * MS, 0, 0);
	assert_int_equal(count_kind(f, FL_REPORT_ENDED), 1);
	assert_int_equal(f->reps[f->nrep - 1].reason, FL_END_TASK_EXIT);
	assert_int_equal(f->skel->bss->nr_stalls, 0);
	fx_close(f);
}

/* A stall counts samples, not retries: the retries histogram and sum get
 * none of them. */
static void test_stall_samples_not_retries(void **state)
{
	struct fx *f = fx_stall();
	struct fl_stats st;

	stalled(f, 707);
	sample(f, 707, 6, IN_FAULT, 1200, 1200);	/* progress: it ends */
	assert_int_equal(count_kind(f, FL_REPORT_ENDED), 1);
	assert_int_equal(f->reps[f->nrep - 1].samples, 12);
	get_stats(f, &st);
	assert_int_equal(st.sum_retries, 0);
	assert_int_equal(st.hist_retries[fl_test_slot(12)], 0);
	fx_close(f);
}

/* A stalled task no longer sampled (asleep for good) is swept as idle. */
static void test_stall_sweep(void **state)
{
	struct fx *f = fx_stall();

	stalled(f, 705);
	assert_int_equal(run_ret(f, FL_TEST_STALL_SWEEP, 0, 705, T0 + 1500 * MS, 0), 3);
	assert_int_equal(run_ret(f, FL_TEST_STALL_SWEEP, 0, 705, T0 + 1700 * MS, 0), 3);
	assert_int_equal(run_ret(f, FL_TEST_STALL_SWEEP, 0, 705, T0 + 1701 * MS, 0), 0);
	assert_int_equal(count_kind(f, FL_REPORT_ENDED), 1);
	assert_int_equal(f->reps[f->nrep - 1].reason, FL_END_GAP);
	assert_int_equal(f->skel->bss->nr_stalls, 0);
	fx_close(f);
}

/* Faults walking up a buffer page by page are progress, never retries. */
static void test_progress_is_not_retry(void **state)
{
	struct fx *f = fx_open(2, 0);
	struct fl_episode ep;
	int i;

	for (i = 0; i < 64; i++)
		ev(f, FL_SIG_PF_KERNEL, 100, 0x700000000000ULL + i * 4096, T0 + i * MS);
	assert_true(get_ep(f, 100, &ep));
	assert_int_equal(ep.retries, 0);
	assert_int_equal(ep.events, 64);
	assert_int_equal(f->nrep, 0);
	fx_close(f);
}

/* execve's copy_strings() fills the stack top-down: progress too. */
static void test_downward_progress(void **state)
{
	struct fx *f = fx_open(2, 0);
	struct fl_episode ep;
	int i;

	for (i = 0; i < 33; i++)
		ev(f, FL_SIG_PF_KERNEL, 101, 0x7ffff0000000ULL - i * 4096, T0 + i * MS);
	assert_true(get_ep(f, 101, &ep));
	assert_int_equal(ep.retries, 0);
	assert_int_equal(f->nrep, 0);
	fx_close(f);
}

/* Same address over and over: retries count, DETECTED exactly at the
 * threshold, then ONGOING no more often than the interval. */
static void test_threshold_and_ongoing(void **state)
{
	struct fx *f = fx_open(5, 0);
	const __u64 a = 0x7f0000001680ULL;
	struct fl_episode ep;
	struct fl_stats st;
	int i;

	for (i = 0; i < 5; i++)	/* first sighting + 4 retries */
		ev(f, FL_SIG_PF_KERNEL_ATOMIC, 200, a, T0 + i * MS);
	assert_true(get_ep(f, 200, &ep));
	assert_int_equal(ep.retries, 4);
	assert_int_equal(f->nrep, 0);

	ev(f, FL_SIG_PF_KERNEL_ATOMIC, 200, a, T0 + 5 * MS);
	assert_int_equal(f->nrep, 1);
	assert_int_equal(f->reps[0].kind, FL_REPORT_DETECTED);
	assert_int_equal(f->reps[0].tid, 200);
	assert_int_equal(f->reps[0].pid, 200);
	assert_int_equal(f->reps[0].retries, 5);
	assert_int_equal(f->reps[0].addr, a);
	assert_int_equal(f->reps[0].sig, FL_SIG_PF_KERNEL_ATOMIC);
	assert_int_equal(f->reps[0].duration_ns, 5 * MS);
	assert_true(f->reps[0].stack_sz >= 0);

	/* within the interval: counted, not reported */
	for (i = 6; i < 40; i++)
		ev(f, FL_SIG_PF_KERNEL_ATOMIC, 200, a, T0 + i * MS);
	assert_int_equal(f->nrep, 1);
	/* 50 ms after DETECTED: one ONGOING */
	ev(f, FL_SIG_PF_KERNEL_ATOMIC, 200, a, T0 + 56 * MS);
	assert_int_equal(f->nrep, 2);
	assert_int_equal(f->reps[1].kind, FL_REPORT_ONGOING);
	assert_int_equal(f->reps[1].retries, 40);
	assert_true(get_ep(f, 200, &ep));
	assert_int_equal(ep.retries, 40);

	get_stats(f, &st);
	assert_int_equal(st.cnt[FL_CNT_DETECTED], 1);
	assert_int_equal(st.cnt[FL_CNT_REPORTS], 2);
	assert_int_equal(st.events[FL_SIG_PF_KERNEL_ATOMIC], 41);
	fx_close(f);
}

/* One iteration seen by two probes at the same address counts once. */
static void test_probes_do_not_inflate(void **state)
{
	struct fx *f = fx_open(1000, 0);
	struct fl_episode ep;
	int i;

	for (i = 0; i < 10; i++) {
		ev(f, FL_SIG_PF_KERNEL_ATOMIC, 300, 0x7f0000002000ULL, T0 + i * MS);
		ev(f, FL_SIG_PF_KERNEL, 300, 0x7f0000002000ULL, T0 + i * MS + 1);
		ev(f, FL_SIG_FIXUP_EXCEPTION, 300, 0x7f0000002000ULL, T0 + i * MS + 2);
	}
	assert_true(get_ep(f, 300, &ep));
	assert_int_equal(ep.retries, 9);
	assert_int_equal(ep.events, 30);
	assert_int_equal(ep.sig_mask, (1ULL << FL_SIG_PF_KERNEL_ATOMIC) |
			 (1ULL << FL_SIG_PF_KERNEL) | (1ULL << FL_SIG_FIXUP_EXCEPTION));
	fx_close(f);
}

/*
 * btrfs search_ioctl on 5.10 with MTE: the copy of an item's data fails at
 * X, the loop rewinds to the item header H < X, the fault-in succeeds at H,
 * the copy fails at X again.  Then search_ioctl returns: ENDED with owner
 * and return value.
 */
static void test_rewinding_loop_and_owner_exit(void **state)
{
	struct fx *f = fx_open(16, 0);
	const __u64 h = 0xffff8000a000ULL, x = h + 0x40;
	struct fl_episode ep;
	int i;

	run(f, FL_TEST_OWNER_ENTRY, FL_SIG_OWNER_SEARCH_IOCTL, 400, 0, T0, 0, 0);
	for (i = 0; i < 20; i++) {
		__u64 t = T0 + i * 100000;

		ev(f, FL_SIG_TAG_CHECK_FAULT, 400, x, t);
		ev(f, FL_SIG_KERNEL_FAULT, 400, x, t + 10);
		ev(f, FL_SIG_FAULT_IN_WRITEABLE, 400, h, t + 20);
		ev(f, FL_SIG_EB_TO_USER_NOFAULT, 400, x - 0x20, t + 30);
	}
	assert_true(get_ep(f, 400, &ep));
	assert_int_equal(ep.retries, 19);
	assert_int_equal(count_kind(f, FL_REPORT_DETECTED), 1);
	/* the bad granule, not where the fault-in or the copy started */
	assert_int_equal(f->reps[0].addr, x);
	assert_int_equal(ep.addr, x);

	run(f, FL_TEST_OWNER_EXIT, FL_SIG_OWNER_SEARCH_IOCTL, 400, 0, T0 + 3 * MS, 0, (__u64)-14);
	assert_false(get_ep(f, 400, &ep));
	assert_int_equal(f->nrep, 2);
	assert_int_equal(f->reps[1].kind, FL_REPORT_ENDED);
	assert_int_equal(f->reps[1].reason, FL_END_OWNER_RETURN);
	assert_int_equal(f->reps[1].owner, FL_SIG_OWNER_SEARCH_IOCTL);
	assert_int_equal(f->reps[1].owner_ret, -14);
	assert_true(f->reps[1].flags & FL_EP_HAS_RET);
	assert_int_equal(f->reps[1].retries, 19);
	assert_int_equal(f->reps[1].duration_ns, 3 * MS);
	assert_int_equal(nr_promoted(f), 0);
	fx_close(f);
}

/*
 * --min-duration: a storm of retries that completes (the copy wins in the
 * end, as under qemu TCG) is no loop; the same storm that goes on is
 * DETECTED at its first event once it has lasted min_duration_ns.
 */
static void test_min_duration(void **state)
{
	struct fx *f = fx_open_md(5, 0, 20 * MS);
	const __u64 a = 0x7f0000008000ULL;
	struct fl_episode ep;
	struct fl_stats st;
	int i;

	/* 500 retries in 10 ms, then the owner returns: quiet */
	for (i = 0; i < 500; i++)
		ev(f, FL_SIG_PF_KERNEL_ATOMIC, 800, a, T0 + i * 20000);
	run(f, FL_TEST_OWNER_EXIT, FL_SIG_OWNER_GENERIC_PERFORM_WRITE, 800, 0, T0 + 10 * MS, 0, 4096);
	assert_int_equal(f->nrep, 0);

	/* a loop that keeps going: nothing before 20 ms, DETECTED at 20 ms */
	for (i = 0; i < 20; i++)
		ev(f, FL_SIG_PF_KERNEL_ATOMIC, 801, a, T0 + i * MS);
	assert_true(get_ep(f, 801, &ep));
	assert_int_equal(ep.retries, 19);
	assert_int_equal(f->nrep, 0);
	ev(f, FL_SIG_PF_KERNEL_ATOMIC, 801, a, T0 + 20 * MS);
	assert_int_equal(f->nrep, 1);
	assert_int_equal(f->reps[0].kind, FL_REPORT_DETECTED);
	assert_int_equal(f->reps[0].tid, 801);
	assert_int_equal(f->reps[0].retries, 20);
	assert_int_equal(f->reps[0].duration_ns, 20 * MS);

	get_stats(f, &st);
	assert_int_equal(st.cnt[FL_CNT_DETECTED], 1);
	assert_int_equal(st.ended[FL_END_OWNER_RETURN], 1);
	assert_int_equal(st.hist_retries[9], 1);	/* 499 retries: [256, 512) */
	fx_close(f);
}

/*
 * A storm that keeps advancing (a tree search whose buffer is discarded
 * under it, on a slow host) retries at each place for a while: retries and
 * --min-duration count from its last progress, so it is never one loop;
 * a loop stuck at one place is still DETECTED min_duration after it got
 * stuck, and once reported, progress no longer resets it.
 */
static void test_progress_restarts_the_clock(void **state)
{
	struct fx *f = fx_open_md(5, 0, 20 * MS);
	const __u64 a = 0x7f000000a000ULL;
	struct fl_episode ep;
	int i, j;

	/* 10 places, 15 ms and 15 retries at each: 150 ms, 140 retries */
	for (j = 0; j < 10; j++)
		for (i = 0; i < 16; i++)
			ev(f, FL_SIG_PF_KERNEL_ATOMIC, 900, a + j * 4096, T0 + (j * 15 + i) * MS);
	assert_true(get_ep(f, 900, &ep));
	assert_int_equal(f->nrep, 0);
	assert_int_equal(ep.retries, 15);
	assert_int_equal(ep.start_ns, T0 + 9 * 15 * MS);

	/* stuck at the last place: DETECTED 20 ms after the last progress */
	for (i = 16; i < 20 + 1; i++)
		ev(f, FL_SIG_PF_KERNEL_ATOMIC, 900, a + 9 * 4096, T0 + (9 * 15 + i) * MS);
	assert_int_equal(f->nrep, 1);
	assert_int_equal(f->reps[0].kind, FL_REPORT_DETECTED);
	assert_int_equal(f->reps[0].duration_ns, 20 * MS);
	assert_int_equal(f->reps[0].retries, 20);

	/* reported: moving on now is not a fresh start */
	ev(f, FL_SIG_PF_KERNEL_ATOMIC, 900, a + 10 * 4096, T0 + 200 * MS);
	assert_true(get_ep(f, 900, &ep));
	assert_int_equal(ep.retries, 20);
	assert_int_equal(ep.start_ns, T0 + 9 * 15 * MS);
	fx_close(f);
}

/* A quiet task's episode ends at the gap; the next event starts afresh. */
static void test_gap_ends_episode(void **state)
{
	struct fx *f = fx_open(2, 0);
	struct fl_episode ep;
	int i;

	for (i = 0; i < 3; i++)
		ev(f, FL_SIG_PF_KERNEL, 500, 0x7f0000003000ULL, T0 + i * MS);
	assert_int_equal(count_kind(f, FL_REPORT_DETECTED), 1);
	ev(f, FL_SIG_PF_KERNEL, 500, 0x7f0000003000ULL, T0 + 2 * MS + GAP + 1);
	assert_int_equal(f->nrep, 2);
	assert_int_equal(f->reps[1].kind, FL_REPORT_ENDED);
	assert_int_equal(f->reps[1].reason, FL_END_GAP);
	/* a loop that went quiet lasted until its last event */
	assert_int_equal(f->reps[1].duration_ns, 2 * MS);
	assert_true(get_ep(f, 500, &ep));
	assert_int_equal(ep.retries, 0);
	assert_int_equal(ep.events, 1);
	fx_close(f);
}

/* The next read/write syscall (ioac.syscr+syscw moved) ends the episode:
 * consecutive writes of one buffer must not merge. */
static void test_syscall_boundary(void **state)
{
	struct fx *f = fx_open(3, 0);
	struct fl_episode ep;
	int call, i;

	for (call = 0; call < 50; call++)
		for (i = 0; i < 3; i++)	/* 2 retries per call: below 3 */
			run(f, FL_TEST_EVENT, FL_SIG_PF_KERNEL_ATOMIC, 600,
			    0x7f0000004000ULL, T0 + call * MS + i, call, 0);
	assert_int_equal(f->nrep, 0);
	assert_true(get_ep(f, 600, &ep));
	assert_int_equal(ep.retries, 2);
	assert_int_equal(ep.io_seq, 49);
	fx_close(f);
}

static void test_task_exit(void **state)
{
	struct fx *f = fx_open(2, 0);
	struct fl_episode ep;
	struct fl_stats st;
	int i;

	for (i = 0; i < 4; i++)
		ev(f, FL_SIG_PF_KERNEL, 700, 0x7f0000005000ULL, T0 + i);
	run(f, FL_TEST_TASK_EXIT, 0, 700, 0, T0 + MS, 0, 0);
	assert_false(get_ep(f, 700, &ep));
	assert_int_equal(f->reps[f->nrep - 1].kind, FL_REPORT_ENDED);
	assert_int_equal(f->reps[f->nrep - 1].reason, FL_END_TASK_EXIT);
	/* a task exit with no episode costs a lookup, nothing else */
	run(f, FL_TEST_TASK_EXIT, 0, 701, 0, T0 + MS, 0, 0);
	get_stats(f, &st);
	assert_int_equal(st.ended[FL_END_TASK_EXIT], 1);
	assert_int_equal(st.events[FL_SIG_TASK_EXIT], 2);
	assert_int_equal(nr_promoted(f), 0);
	fx_close(f);
}

/*
 * Tasks taking turns on one CPU, a time slice of 3 events each: the odd
 * ones loop on one address, the even ones make progress.  A looping task
 * retries within its first slice, moves to the hash and is followed from
 * slice to slice; the others' episodes end each time they leave the CPU.
 */
static void test_many_tasks(void **state)
{
	struct fx *f = fx_open(8, 0);
	struct fl_stats st;
	int round, t, i, k;

	for (round = 0; round < 12; round++)
		for (t = 0; t < 200; t++)
			for (k = 0; k < 3; k++) {
				__u64 addr = 0x7f0000000000ULL + t * 0x10000;
				__u64 now = T0 + round * 10000 + t * 3 + k;

				if (t & 1)
					ev(f, FL_SIG_PF_KERNEL_ATOMIC, 1000 + t, addr, now);
				else
					ev(f, FL_SIG_PF_KERNEL_ATOMIC, 1000 + t,
					   addr + (round * 3 + k) * 4096, now);
			}
	assert_int_equal(count_kind(f, FL_REPORT_DETECTED), 100);
	for (i = 0; i < f->nrep; i++) {
		assert_true(f->reps[i].tid & 1);
		assert_int_equal(f->reps[i].addr, 0x7f0000000000ULL + (f->reps[i].tid - 1000) * 0x10000);
		assert_int_equal(f->reps[i].retries, 8);
	}
	get_stats(f, &st);
	/* odd: one episode each; even: one per slice, all but the last one ended */
	assert_int_equal(st.cnt[FL_CNT_EPISODES], 100 + 100 * 12);
	assert_int_equal(st.ended[FL_END_LEFT_CPU], 100 * 12 - 1);
	assert_int_equal(nr_promoted(f), 100);
	fx_close(f);
}

/* A full episode map drops new tasks, counted; tracked ones carry on. */
static void test_map_full(void **state)
{
	struct fx *f = fx_open(3, 8);
	struct fl_episode ep;
	struct fl_stats st;
	int t, i;

	for (t = 0; t < 20; t++)
		for (i = 0; i < 4; i++)
			ev(f, FL_SIG_PF_KERNEL, 2000 + t, 0x7f0000006000ULL, T0 + t * 10 + i);
	get_stats(f, &st);
	/* every task opens an episode; only retrying ones need the map */
	assert_int_equal(st.cnt[FL_CNT_EPISODES], 20);
	/* the 12 that did not fit: each retry tried again */
	assert_int_equal(st.cnt[FL_CNT_EPISODES_DROPPED], 12 * 3);
	assert_int_equal(count_kind(f, FL_REPORT_DETECTED), 8);
	assert_true(in_hash(f, 2000, &ep));
	assert_false(in_hash(f, 2019, &ep));
	assert_int_equal(nr_promoted(f), 8);
	fx_close(f);
}

/* Kernel addresses (vmalloc faults) and NULL are counted, not tracked. */
static void test_kernel_addresses_ignored(void **state)
{
	struct fx *f = fx_open(1, 0);
	struct fl_episode ep;
	struct fl_stats st;
	int i;

	for (i = 0; i < 10; i++) {
		ev(f, FL_SIG_PF_KERNEL, 3000, 0xffffc90000001000ULL, T0 + i);
		ev(f, FL_SIG_PF_KERNEL, 3000, 0, T0 + i);
	}
	assert_false(get_ep(f, 3000, &ep));
	get_stats(f, &st);
	assert_int_equal(st.events[FL_SIG_PF_KERNEL], 20);
	assert_int_equal(f->nrep, 0);
	fx_close(f);
}

/* Every closed episode lands in exactly one histogram bucket. */
static void test_histograms(void **state)
{
	struct fx *f = fx_open(1000, 0);
	struct fl_stats st;
	__u64 sum = 0;
	int t, i;

	for (t = 0; t < 10; t++) {
		for (i = 0; i <= t * 3; i++)
			ev(f, FL_SIG_PF_KERNEL, 4000 + t, 0x7f0000007000ULL, T0 + i * 1000);
		run(f, FL_TEST_OWNER_EXIT, FL_SIG_OWNER_GENERIC_PERFORM_WRITE, 4000 + t, 0, T0 + MS, 0, 4096);
	}
	get_stats(f, &st);
	for (i = 0; i < FL_HIST_SLOTS; i++)
		sum += st.hist_retries[i];
	assert_int_equal(sum, 10);
	assert_int_equal(st.hist_retries[0], 1);	/* t = 0: no retry */
	assert_int_equal(st.hist_retries[5], 4);	/* 18, 21, 24, 27 retries: [16, 32) */
	assert_int_equal(st.ended[FL_END_OWNER_RETURN], 10);
	assert_int_equal(f->nrep, 0);
	fx_close(f);
}

/*
 * What almost every event on a healthy host is: one fault per call, no
 * retry.  None of it reaches the hash (no lookup, no insert), and the
 * per-CPU slot still counts and ends every episode.
 */
static void test_no_retry_stays_in_slot(void **state)
{
	struct fx *f = fx_open(2, 0);
	struct fl_episode ep;
	struct fl_stats st;
	__u32 key;
	int t, call;

	for (t = 0; t < 100; t++)	/* 100 tasks, one fault each */
		ev(f, FL_SIG_PF_KERNEL_ATOMIC, 5000 + t, 0x7f0000010000ULL, T0 + t);
	for (call = 0; call < 50; call++) {	/* one task, 50 calls, 2 signals each */
		run(f, FL_TEST_EVENT, FL_SIG_PF_KERNEL_ATOMIC, 5200,
		    0x7f0000020000ULL, T0 + MS + call * 10, call, 0);
		run(f, FL_TEST_EVENT, FL_SIG_PF_KERNEL, 5200,
		    0x7f0000020000ULL, T0 + MS + call * 10 + 1, call, 0);
	}
	assert_int_equal(bpf_map_get_next_key(bpf_map__fd(f->skel->maps.episodes), NULL, &key), -ENOENT);
	assert_int_equal(nr_promoted(f), 0);
	get_stats(f, &st);
	assert_int_equal(st.cnt[FL_CNT_EPISODES], 150);
	assert_int_equal(st.ended[FL_END_LEFT_CPU], 100);
	assert_int_equal(st.ended[FL_END_SYSCALL], 49);
	assert_int_equal(st.hist_retries[0], 149);
	assert_int_equal(st.cnt[FL_CNT_RETRIES], 0);
	assert_true(get_ep(f, 5200, &ep));
	assert_int_equal(ep.events, 2);
	assert_int_equal(ep.io_seq, 49);
	assert_int_equal(f->nrep, 0);
	fx_close(f);
}

/*
 * The slot is the task's only while it stays on its CPU: a migration
 * (se.nr_migrations moved) between two faults at one address is no retry.
 * Once retrying, the episode is in the hash and migrations do not matter.
 */
static void test_migration(void **state)
{
	struct fx *f = fx_open(4, 0);
	const __u64 a = 0x7f0000030000ULL;
	struct fl_episode ep;
	struct fl_stats st;
	int i;

	for (i = 0; i < 5; i++)	/* a fault per CPU visit: no retry */
		run_m(f, FL_TEST_EVENT, FL_SIG_PF_KERNEL_ATOMIC, 6000, a, T0 + i * MS, 0, 0, i);
	assert_false(in_hash(f, 6000, &ep));
	get_stats(f, &st);
	assert_int_equal(st.ended[FL_END_LEFT_CPU], 4);
	assert_int_equal(st.cnt[FL_CNT_RETRIES], 0);

	run_m(f, FL_TEST_EVENT, FL_SIG_PF_KERNEL_ATOMIC, 6000, a, T0 + 5 * MS, 0, 0, 4);
	assert_true(in_hash(f, 6000, &ep));	/* retried on one CPU: promoted */
	assert_int_equal(ep.retries, 1);
	assert_int_equal(ep.start_ns, T0 + 4 * MS);
	for (i = 6; i < 9; i++)
		run_m(f, FL_TEST_EVENT, FL_SIG_PF_KERNEL_ATOMIC, 6000, a, T0 + i * MS, 0, 0, i);
	assert_true(in_hash(f, 6000, &ep));
	assert_int_equal(ep.retries, 4);
	assert_int_equal(count_kind(f, FL_REPORT_DETECTED), 1);
	assert_int_equal(f->reps[0].duration_ns, 4 * MS);
	fx_close(f);
}

/*
 * With a copy or fault probe attached, a fault-in only joins: alone it is
 * counted (every buffered write prefaults its chunk); after a failed copy
 * it is part of the episode, in the slot and in the hash.
 */
static void test_faultin_joins_only(void **state)
{
	struct fx *f = fx_open(3, 0);
	const __u64 a = 0x7f0000040000ULL;
	const __u32 fin = FL_SIG_FAULT_IN_READABLE | FL_TEST_JOIN_ONLY;
	struct fl_episode ep;
	struct fl_stats st;
	int i;

	for (i = 0; i < 10; i++)	/* ten writes, each prefaulting */
		run(f, FL_TEST_EVENT, fin, 7000, a, T0 + i, i, 0);
	assert_false(get_ep(f, 7000, &ep));
	get_stats(f, &st);
	assert_int_equal(st.cnt[FL_CNT_EPISODES], 0);
	assert_int_equal(st.events[FL_SIG_FAULT_IN_READABLE], 10);

	for (i = 0; i < 4; i++) {	/* copy fails, fault-in, copy fails again, ... */
		run(f, FL_TEST_EVENT, FL_SIG_COPY_ATOMIC, 7000, a, T0 + MS + i * 10, 99, 0);
		run(f, FL_TEST_EVENT, fin, 7000, a, T0 + MS + i * 10 + 1, 99, 0);
		if (i == 0) {
			assert_true(in_cur(f, 7000, NULL));
			assert_true(get_ep(f, 7000, &ep));
			assert_int_equal(ep.events, 2);
		}
	}
	assert_true(in_hash(f, 7000, &ep));
	assert_int_equal(ep.events, 8);
	assert_int_equal(ep.retries, 3);
	assert_int_equal(ep.sig_mask, (1ULL << FL_SIG_COPY_ATOMIC) | (1ULL << FL_SIG_FAULT_IN_READABLE));
	assert_int_equal(count_kind(f, FL_REPORT_DETECTED), 1);
	fx_close(f);
}

/*
 * A real kernel's coarse clock: 4 ms jiffies (HZ=250).  The slot keeps
 * jiffies; the promoted episode's start is back-dated from them, so a
 * report's duration is right to within one jiffy.
 */
static void test_coarse_clock(void **state)
{
	const __u64 j = 4 * MS, a = 0x7f0000050000ULL;
	struct fx *f = fx_open_j(5, 0, 0, j);
	struct fl_stats st;
	int i;

	ev(f, FL_SIG_PF_KERNEL_ATOMIC, 8000, a + 4096, T0 + 1 * MS);	/* jiffy 250 */
	ev(f, FL_SIG_PF_KERNEL_ATOMIC, 8000, a, T0 + 9 * MS);		/* jiffy 252 */
	for (i = 0; i < 5; i++)
		ev(f, FL_SIG_PF_KERNEL_ATOMIC, 8000, a, T0 + 30 * MS + i * MS);
	assert_int_equal(count_kind(f, FL_REPORT_DETECTED), 1);
	/* true duration 33 ms; start back-dated by whole jiffies from 30 ms:
	 * (257 - 250) * 4 = 28 ms, i.e. start at T0 + 2 ms, 1 ms late */
	assert_true(f->reps[0].duration_ns <= 33 * MS);
	assert_true(f->reps[0].duration_ns > 33 * MS - j);
	/* a slot episode's duration is in whole jiffies too */
	run(f, FL_TEST_EVENT, FL_SIG_PF_KERNEL_ATOMIC, 8001, a, T0 + 100 * MS, 0, 0);
	run(f, FL_TEST_EVENT, FL_SIG_PF_KERNEL_ATOMIC, 8001, a + 4096, T0 + 113 * MS, 0, 0);
	run(f, FL_TEST_TASK_EXIT, 0, 8001, 0, T0 + 114 * MS, 0, 0);
	get_stats(f, &st);
	assert_int_equal(st.ended[FL_END_TASK_EXIT], 1);
	/* jiffies 25 -> 28: 12 ms; bucket of 12000 us is [8192, 16384) = 14 */
	assert_int_equal(st.hist_duration_us[14], 1);
	fx_close(f);
}

/*
 * The atomic-fault gate (fl_pf_gate(), bpf/probe.bpf.h), which decides
 * what a page_fault_kernel event feeds the detector with.  Under
 * BPF_PROG_TEST_RUN the current task is this process, so the driver gives
 * the gate the pagefault_disabled count and the tid; every call runs on
 * CPU 0 and uses CPU 0's pf_cpu slot.
 */
static __u32 gate(struct fx *f, int pf_disabled, __u32 tid)
{
	f->skel->bss->gate_sig = ~0U;
	run(f, FL_TEST_PF_GATE, (__u64)pf_disabled, tid, 0, 0, 0, 0);
	return f->skel->bss->gate_sig;
}

/* CPU 0's pf_cpu.atomic_tid: the tid whose next fault the gate lets through */
static __u32 gate_pass(struct fx *f)
{
	int ncpu = libbpf_num_possible_cpus();
	struct fl_pf_cpu *per = calloc(ncpu, sizeof(*per));
	__u32 zero = 0, v;

	assert_non_null(per);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.pf_cpu), &zero, per), 0);
	v = per[0].atomic_tid;
	free(per);
	return v;
}

/* A fault under pagefault_disable() is the atomic signal and arms the pass
 * for its task; a nested disable (count 2) too. */
static void test_gate_atomic_arms_pass(void **state)
{
	struct fx *f = fx_open(2, 0);

	assert_int_equal(gate_pass(f), 0);
	assert_int_equal(gate(f, 1, 9100), FL_SIG_PF_KERNEL_ATOMIC);
	assert_int_equal(gate_pass(f), 9100);
	assert_int_equal(gate(f, 2, 9101), FL_SIG_PF_KERNEL_ATOMIC);
	assert_int_equal(gate_pass(f), 9101);	/* the last atomic fault's task */
	fx_close(f);
}

/* The same task's next fault with page faults enabled gets through once,
 * and only once: the pass is consumed. */
static void test_gate_pass_is_used_once(void **state)
{
	struct fx *f = fx_open(2, 0);

	assert_int_equal(gate(f, 1, 9200), FL_SIG_PF_KERNEL_ATOMIC);
	assert_int_equal(gate(f, 0, 9200), FL_SIG_PF_KERNEL);
	assert_int_equal(gate_pass(f), 0);
	assert_int_equal(gate(f, 0, 9200), 0);
	assert_int_equal(gate(f, 0, 9200), 0);
	/* a new atomic fault gives a new pass */
	assert_int_equal(gate(f, 1, 9200), FL_SIG_PF_KERNEL_ATOMIC);
	assert_int_equal(gate(f, 0, 9200), FL_SIG_PF_KERNEL);
	assert_int_equal(gate(f, 0, 9200), 0);
	fx_close(f);
}

/* Another task's fault on that CPU is only counted and leaves the pass to
 * the task that armed it. */
static void test_gate_other_tid(void **state)
{
	struct fx *f = fx_open(2, 0);

	assert_int_equal(gate(f, 1, 9300), FL_SIG_PF_KERNEL_ATOMIC);
	assert_int_equal(gate(f, 0, 9301), 0);
	assert_int_equal(gate_pass(f), 9300);
	assert_int_equal(gate(f, 0, 9300), FL_SIG_PF_KERNEL);
	fx_close(f);
}

/* With no atomic fault before it, a fault with page faults enabled (a
 * read() into fresh pages) is only counted. */
static void test_gate_no_prior_atomic(void **state)
{
	struct fx *f = fx_open(2, 0);
	int i;

	for (i = 0; i < 4; i++)
		assert_int_equal(gate(f, 0, 9400 + i % 2), 0);
	assert_int_equal(gate_pass(f), 0);
	fx_close(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sweep_ends_idle_once),
		cmocka_unit_test(test_sweep_all_at_detach),
		cmocka_unit_test(test_lost_delete_reports_nothing),
		cmocka_unit_test(test_stall_detected_and_progress_ends_it),
		cmocka_unit_test(test_stall_needs_cpu_time),
		cmocka_unit_test(test_stall_shadowed_by_detector),
		cmocka_unit_test(test_stall_takes_fault_probe_uffd),
		cmocka_unit_test(test_retries_take_stall_uffd),
		cmocka_unit_test(test_stall_sweep),
		cmocka_unit_test(test_stall_signal_pending),
		cmocka_unit_test(test_stall_vma_says_uffd),
		cmocka_unit_test(test_own_switch_with_signal_is_one_loop),
		cmocka_unit_test(test_sleep_and_call_still_end),
		cmocka_unit_test(test_uffd_flag_only_from_uffd),
		cmocka_unit_test(test_blocked_signal_is_not_pending),
		cmocka_unit_test(test_sweep_race_at_gap_edge),
		cmocka_unit_test(test_sweep_half_made_element),
		cmocka_unit_test(test_sampler_inside_probe),
		cmocka_unit_test(test_stall_samples_not_retries),
		cmocka_unit_test(test_stall_task_exit),
		cmocka_unit_test(test_progress_is_not_retry),
		cmocka_unit_test(test_downward_progress),
		cmocka_unit_test(test_threshold_and_ongoing),
		cmocka_unit_test(test_probes_do_not_inflate),
		cmocka_unit_test(test_rewinding_loop_and_owner_exit),
		cmocka_unit_test(test_min_duration),
		cmocka_unit_test(test_progress_restarts_the_clock),
		cmocka_unit_test(test_gap_ends_episode),
		cmocka_unit_test(test_syscall_boundary),
		cmocka_unit_test(test_task_exit),
		cmocka_unit_test(test_many_tasks),
		cmocka_unit_test(test_map_full),
		cmocka_unit_test(test_kernel_addresses_ignored),
		cmocka_unit_test(test_histograms),
		cmocka_unit_test(test_no_retry_stays_in_slot),
		cmocka_unit_test(test_migration),
		cmocka_unit_test(test_faultin_joins_only),
		cmocka_unit_test(test_coarse_clock),
		cmocka_unit_test(test_gate_atomic_arms_pass),
		cmocka_unit_test(test_gate_pass_is_used_once),
		cmocka_unit_test(test_gate_other_tid),
		cmocka_unit_test(test_gate_no_prior_atomic),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "detect_test: BPF_PROG_TEST_RUN needs root; run 'sudo make test'\n");
		return 1;
	}
	return cmocka_run_group_tests_name("bpf detector (BPF_PROG_TEST_RUN)", tests, NULL, NULL);
}
