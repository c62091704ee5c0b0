// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The detector through the real verifier and JIT: synthetic event
 * sequences fed with BPF_PROG_TEST_RUN into tests/bpf/detect_test.bpf.c,
 * which runs bpf/core.bpf.h, the code the probes run.  Needs root.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "faultloop.h"
#include "detect_test.skel.h"

#define MS 1000000ULL
#define GAP (100 * MS)
#define IVL (50 * MS)
#define T0 (1000 * MS)
#define MAX_REPORTS 4096

struct fx {
	struct detect_test_bpf *skel;
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

static struct fx *fx_open_md(__u32 threshold, __u32 max_tasks, __u64 min_duration_ns)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->skel = detect_test_bpf__open();
	assert_non_null(f->skel);
	f->skel->rodata->threshold = threshold;
	f->skel->rodata->min_duration_ns = min_duration_ns;
	f->skel->rodata->gap_ns = GAP;
	f->skel->rodata->ongoing_ns = IVL;
	if (max_tasks)
		bpf_map__set_max_entries(f->skel->maps.episodes, max_tasks);
	assert_int_equal(detect_test_bpf__load(f->skel), 0);
	f->rb = ring_buffer__new(bpf_map__fd(f->skel->maps.reports), on_report, f, NULL);
	assert_non_null(f->rb);
	return f;
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

static void run(struct fx *f, __u64 op, __u64 sig, __u64 tid, __u64 addr,
		__u64 now, __u64 io_seq, __u64 extra)
{
	__u64 args[7] = { op, sig, tid, addr, now, io_seq, extra };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof(args));

	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(f->skel->progs.detector_test), &opts), 0);
	assert_int_equal(opts.retval, 0);
	ring_buffer__consume(f->rb);
}

static void ev(struct fx *f, __u32 sig, __u32 tid, __u64 addr, __u64 now)
{
	run(f, FL_TEST_EVENT, sig, tid, addr, now, 0, 0);
}

static bool get_ep(struct fx *f, __u32 tid, struct fl_episode *ep)
{
	return bpf_map_lookup_elem(bpf_map__fd(f->skel->maps.episodes), &tid, ep) == 0;
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

static int count_kind(struct fx *f, int kind)
{
	int i, n = 0;

	for (i = 0; i < f->nrep; i++)
		n += f->reps[i].kind == kind;
	return n;
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
	fx_close(f);
}

/* Interleaved tasks keep separate episodes; only the looping ones report. */
static void test_many_tasks(void **state)
{
	struct fx *f = fx_open(8, 0);
	int round, t, i;

	for (round = 0; round < 12; round++)
		for (t = 0; t < 200; t++) {
			__u64 addr = 0x7f0000000000ULL + t * 0x10000;

			/* odd tasks loop on one address, even ones make progress */
			if (t & 1)
				ev(f, FL_SIG_PF_KERNEL_ATOMIC, 1000 + t, addr, T0 + round * 10000 + t);
			else
				ev(f, FL_SIG_PF_KERNEL_ATOMIC, 1000 + t, addr + round * 4096,
				   T0 + round * 10000 + t);
		}
	assert_int_equal(count_kind(f, FL_REPORT_DETECTED), 100);
	for (i = 0; i < f->nrep; i++) {
		assert_true(f->reps[i].tid & 1);
		assert_int_equal(f->reps[i].addr, 0x7f0000000000ULL + (f->reps[i].tid - 1000) * 0x10000);
		assert_int_equal(f->reps[i].retries, 8);
	}
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
	assert_int_equal(st.cnt[FL_CNT_EPISODES], 8);
	assert_int_equal(st.cnt[FL_CNT_EPISODES_DROPPED], 12 * 4);
	assert_int_equal(count_kind(f, FL_REPORT_DETECTED), 8);
	assert_true(get_ep(f, 2000, &ep));
	assert_false(get_ep(f, 2019, &ep));
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_progress_is_not_retry),
		cmocka_unit_test(test_downward_progress),
		cmocka_unit_test(test_threshold_and_ongoing),
		cmocka_unit_test(test_probes_do_not_inflate),
		cmocka_unit_test(test_rewinding_loop_and_owner_exit),
		cmocka_unit_test(test_min_duration),
		cmocka_unit_test(test_gap_ends_episode),
		cmocka_unit_test(test_syscall_boundary),
		cmocka_unit_test(test_task_exit),
		cmocka_unit_test(test_many_tasks),
		cmocka_unit_test(test_map_full),
		cmocka_unit_test(test_kernel_addresses_ignored),
		cmocka_unit_test(test_histograms),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "detect_test: BPF_PROG_TEST_RUN needs root; run 'sudo make test'\n");
		return 1;
	}
	return cmocka_run_group_tests_name("bpf detector (BPF_PROG_TEST_RUN)", tests, NULL, NULL);
}
