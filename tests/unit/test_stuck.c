// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The stuck-task check (src/stuck.c): /proc parsers and the verdict. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "stuck.h"
#include "stuckwatch.h"

#define MS 1000000ULL

/* Debian 5.10 arm64, the search_ioctl live-lock: comm with a space and a
 * parenthesis, flags, utime 0, stime 2207 ticks, CPU 1. */
static const char stat_line[] =
	"412 (mte search) x) R 1 412 412 34816 412 4194560 113 0 0 0 0 2207 0 0 20 0 1 0 "
	"310 2301952 98 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

static void test_parse_stat(void **state)
{
	struct fl_task_stat st = {};

	assert_int_equal(fl_parse_task_stat(stat_line, &st), 0);
	assert_string_equal(st.comm, "mte search) x");
	assert_int_equal(st.state, 'R');
	assert_false(st.kthread);
	assert_int_equal(st.utime, 0);
	assert_int_equal(st.stime, 2207);
	assert_int_equal(st.cpu, 1);

	/* a kernel thread (PF_KTHREAD in flags) */
	assert_int_equal(fl_parse_task_stat("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 3 0 0 20 0 1 0 "
					    "5 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 "
					    "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", &st), 0);
	assert_true(st.kthread);
	assert_int_equal(st.state, 'S');

	assert_int_not_equal(fl_parse_task_stat("", &st), 0);
	assert_int_not_equal(fl_parse_task_stat("12 (x", &st), 0);
	assert_int_not_equal(fl_parse_task_stat("12 (x) R 1 2 3", &st), 0);	/* truncated */
}

static void test_parse_status_io(void **state)
{
	struct fl_task_stat st = {};

	assert_int_equal(fl_parse_task_status("Name:\tx\nState:\tR (running)\n"
					      "voluntary_ctxt_switches:\t3\n"
					      "nonvoluntary_ctxt_switches:\t17\n", &st), 0);
	assert_int_equal(st.nvcsw, 3);
	assert_int_equal(st.nivcsw, 17);
	/* "voluntary" must not match inside "nonvoluntary" */
	assert_int_equal(fl_parse_task_status("nonvoluntary_ctxt_switches:\t17\n"
					      "voluntary_ctxt_switches:\t5\n", &st), 0);
	assert_int_equal(st.nvcsw, 5);
	assert_int_not_equal(fl_parse_task_status("Name:\tx\n", &st), 0);

	assert_int_equal(fl_parse_task_io("rchar: 1\nwchar: 2\nsyscr: 30\nsyscw: 12\n", &st), 0);
	assert_int_equal(st.io_calls, 42);
	assert_int_not_equal(fl_parse_task_io("rchar: 1\n", &st), 0);
}

static struct fl_task_stat task(uint32_t tid, char state, uint64_t ut, uint64_t st,
				uint64_t nv, uint64_t niv, uint64_t io)
{
	struct fl_task_stat t = { .pid = tid, .tid = tid, .state = state, .utime = ut,
				  .stime = st, .nvcsw = nv, .nivcsw = niv, .io_calls = io };

	snprintf(t.comm, sizeof(t.comm), "t%u", tid);
	return t;
}

/* CLK_TCK 100, a 1 s window: 100 ticks */
static void test_judge(void **state)
{
	struct fl_task_stat a = task(1, 'R', 0, 1000, 5, 9, 40);
	struct fl_task_stat b;
	unsigned int pct = 0;
	bool pre = true;

	b = task(1, 'R', 0, 1100, 5, 9, 40);	/* the live-lock */
	assert_true(fl_stuck_judge(&a, &b, 1000 * MS, 100, &pct, &pre));
	assert_int_equal(pct, 100);
	assert_false(pre);
	b = task(1, 'R', 0, 1050, 5, 9, 40);	/* half the window: a slow CPU */
	assert_true(fl_stuck_judge(&a, &b, 1000 * MS, 100, &pct, &pre));
	b = task(1, 'R', 0, 1049, 5, 9, 40);	/* less: not spinning all the time */
	assert_false(fl_stuck_judge(&a, &b, 1000 * MS, 100, &pct, &pre));
	/* the live-lock on PREEMPT_RT: preempted by timer and softirq
	 * threads (5.10.0-32-rt-arm64: ~55 a second), still in its syscall */
	b = task(1, 'R', 0, 1100, 5, 64, 40);
	assert_true(fl_stuck_judge(&a, &b, 1000 * MS, 100, &pct, &pre));
	assert_true(pre);
	b = task(1, 'R', 0, 1049, 5, 64, 40);	/* preempted and not spinning all the time */
	assert_false(fl_stuck_judge(&a, &b, 1000 * MS, 100, &pct, &pre));
	b = task(1, 'R', 0, 1100, 6, 9, 40);	/* slept */
	assert_false(fl_stuck_judge(&a, &b, 1000 * MS, 100, &pct, &pre));
	b = task(1, 'R', 0, 1100, 6, 64, 40);	/* slept and preempted */
	assert_false(fl_stuck_judge(&a, &b, 1000 * MS, 100, &pct, &pre));
	b = task(1, 'R', 0, 1100, 5, 9, 41);	/* one read() after another */
	assert_false(fl_stuck_judge(&a, &b, 1000 * MS, 100, &pct, &pre));
	b = task(1, 'R', 0, 1100, 5, 9, UINT64_MAX);	/* io unreadable: the rest decides */
	assert_true(fl_stuck_judge(&a, &b, 1000 * MS, 100, &pct, &pre));
	b = task(1, 'R', 20, 1080, 5, 9, 40);	/* a fifth in user mode */
	assert_false(fl_stuck_judge(&a, &b, 1000 * MS, 100, &pct, &pre));
	b = task(1, 'S', 0, 1100, 5, 9, 40);
	assert_false(fl_stuck_judge(&a, &b, 1000 * MS, 100, &pct, &pre));
	b = task(2, 'R', 0, 1100, 5, 9, 40);	/* not the same thread */
	assert_false(fl_stuck_judge(&a, &b, 1000 * MS, 100, &pct, &pre));
	b = task(1, 'R', 0, 1100, 5, 9, 40);
	assert_false(fl_stuck_judge(&a, &b, 0, 100, &pct, &pre));	/* no window */
	assert_false(fl_stuck_judge(&a, &b, 1000 * MS, 0, &pct, &pre));	/* no CLK_TCK */
}

static void test_find(void **state)
{
	struct fl_task_stat ta[4] = { task(10, 'R', 0, 0, 1, 1, 0), task(11, 'R', 0, 0, 1, 1, 0),
				      task(12, 'R', 0, 0, 1, 1, 0), task(13, 'R', 0, 0, 1, 1, 0) };
	/* 11 exited; 10 spins; 12 spins, preempted; 13 slept */
	struct fl_task_stat tb[3] = { task(10, 'R', 0, 60, 1, 1, 0), task(12, 'R', 0, 60, 1, 2, 0),
				      task(13, 'R', 0, 60, 2, 1, 0) };
	struct fl_proc_sample a = { .t = ta, .n = 4, .mono_ns = 1000 * MS };
	struct fl_proc_sample b = { .t = tb, .n = 3, .mono_ns = 1600 * MS };
	struct fl_stuck_task out[FL_STUCK_MAX];

	assert_int_equal(fl_stuck_find(&a, &b, 100, out, FL_STUCK_MAX), 2);
	assert_int_equal(out[0].tid, 10);
	assert_string_equal(out[0].comm, "t10");
	assert_int_equal(out[0].quiet_ns, 600 * MS);
	assert_int_equal(out[0].sys_pct, 100);
	assert_int_equal(out[0].syscall, -1);
	assert_false(out[0].preempted);
	assert_int_equal(out[1].tid, 12);
	assert_true(out[1].preempted);
	assert_int_equal(fl_stuck_find(&a, &b, 100, out, 0), 0);
}

/* Arming waits for stuck threads never preempted, and on x86 for all. */
static void test_blocking(void **state)
{
	struct fl_stuckwatch w;

	fl_stuckwatch_init(&w, NULL);
	w.n = 3;
	w.t[0].tid = 10;			/* spins, never preempted */
	w.t[1].tid = 12, w.t[1].preempted = true;	/* PREEMPT_RT's spinner */
	w.t[2].tid = 14, w.t[2].preempted = true;
	assert_int_equal(fl_stuckwatch_count(&w), 3);
	/* x86: an fentry attach waits for RCU-tasks, which preemption
	 * does not satisfy; arm64: stop_machine() preempts the spinner */
	assert_int_equal(fl_stuckwatch_blocking(&w), FL_STOP_MACHINE_ARMS ? 1 : 3);
	w.t[0].preempted = true;
	assert_int_equal(fl_stuckwatch_count(&w), 3);	/* still named */
	assert_int_equal(fl_stuckwatch_blocking(&w), FL_STOP_MACHINE_ARMS ? 0 : 3);

	/* both policies, whatever this host's architecture */
	assert_true(fl_stuck_blocks_arming(&w.t[1], false));	/* x86 */
	assert_false(fl_stuck_blocks_arming(&w.t[1], true));	/* arm64 */
	w.t[1].preempted = false;
	assert_true(fl_stuck_blocks_arming(&w.t[1], false));
	assert_true(fl_stuck_blocks_arming(&w.t[1], true));
	fl_stuckwatch_free(&w);
}

static atomic_int spin_stop;

static void *spin_user(void *p)
{
	volatile unsigned long x = 0;

	(void)p;
	while (!atomic_load(&spin_stop))
		x++;
	return NULL;
}

/* Real /proc: a thread spinning in user space is running, but not stuck. */
static void test_real_proc(void **state)
{
	struct fl_proc_sample a = {}, b = {};
	struct fl_stuck_task out[FL_STUCK_MAX];
	struct timespec ts = { 0, 600 * MS };
	pthread_t th;
	int i, n, mine = 0;

	assert_int_equal(pthread_create(&th, NULL, spin_user, NULL), 0);
	nanosleep(&(struct timespec){ 0, 100 * MS }, NULL);
	/* self = 0: include this process */
	assert_true(fl_proc_sample_running(&a, "/proc", 0) >= 1);
	for (i = 0; i < a.n; i++)
		mine += a.t[i].pid == (uint32_t)getpid();
	assert_true(mine >= 1);
	nanosleep(&ts, NULL);
	assert_true(fl_proc_resample(&b, &a, "/proc") >= 1);
	n = fl_stuck_find(&a, &b, sysconf(_SC_CLK_TCK), out, FL_STUCK_MAX);
	for (i = 0; i < n; i++)
		assert_int_not_equal(out[i].pid, getpid());
	atomic_store(&spin_stop, 1);
	pthread_join(th, NULL);
	/* and with self excluded, none of ours is sampled */
	assert_true(fl_proc_sample_running(&a, "/proc", getpid()) >= 0);
	for (i = 0; i < a.n; i++)
		assert_int_not_equal(a.t[i].pid, getpid());
	assert_int_equal(fl_proc_sample_running(&b, "/nonexistent", 0), -ENOENT);
	fl_proc_sample_free(&a);
	fl_proc_sample_free(&b);
}

static void test_syscall_names(void **state)
{
	assert_string_equal(fl_syscall_name(__NR_ioctl), "ioctl");
	assert_string_equal(fl_syscall_name(__NR_pwrite64), "pwrite64");
	assert_null(fl_syscall_name(-1));
	assert_null(fl_syscall_name(100000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_stat),
		cmocka_unit_test(test_parse_status_io),
		cmocka_unit_test(test_judge),
		cmocka_unit_test(test_blocking),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_real_proc),
		cmocka_unit_test(test_syscall_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
