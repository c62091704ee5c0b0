/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Tasks stuck in the kernel, found from /proc before any probe is armed.
 *
 * A live-lock that is already spinning when faultloop starts never gives
 * the probes an entry to see, and on arm64 it is worse than invisible:
 * arming a kprobe or an fentry patches kernel text under stop_machine(),
 * which waits for every CPU, and the spinning CPU never comes (seen on
 * Debian 5.10 arm64 with the btrfs search_ioctl MTE live-lock).  So
 * faultloop first looks for threads that stay in state R, accumulate
 * system time at the pace of the wall clock, make no read/write call and
 * never switch context voluntarily, and reports them as stuck.  One that
 * was preempted meanwhile (PREEMPT_RT) is stuck too, but preemptible: it
 * does not keep stop_machine() from running (stuckwatch.h).
 */
#ifndef FL_STUCK_H
#define FL_STUCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define FL_STUCK_MAX		16	/* reported and exported at once */
#define FL_STUCK_WINDOW_NS	(500ULL * 1000000ULL)	/* minimum observation */

/* One thread, as /proc/PID/task/TID/{stat,status,io} show it. */
struct fl_task_stat {
	uint32_t pid, tid;
	char state;
	bool kthread;
	int cpu;
	uint64_t utime, stime;		/* clock ticks */
	uint64_t nvcsw, nivcsw;
	uint64_t io_calls;		/* syscr + syscw; UINT64_MAX: unreadable */
	char comm[17];
};

struct fl_proc_sample {
	struct fl_task_stat *t;
	int n, cap;
	uint64_t mono_ns;		/* when the sample was taken */
};

struct fl_stuck_task {
	uint32_t pid, tid;
	char comm[17];
	int cpu;
	long syscall;			/* -1: unknown */
	uint64_t on_cpu_ns;		/* since its last context switch; 0: unknown */
	uint64_t quiet_ns;		/* observed without a switch or an I/O call */
	unsigned int sys_pct;		/* system time / wall time in the window */
	uint64_t first_ns;		/* CLOCK_MONOTONIC when first seen */
	bool preempted;			/* involuntary switches while stuck */
};

/* Parsers, exposed for the unit tests; 0 on success. */
int fl_parse_task_stat(const char *buf, struct fl_task_stat *st);
int fl_parse_task_status(const char *buf, struct fl_task_stat *st);
int fl_parse_task_io(const char *buf, struct fl_task_stat *st);

/*
 * Sample every thread under proc ("/proc") that is running (state R), not a
 * kernel thread and not in process `self`.  Returns the number sampled or a
 * negative errno.
 */
int fl_proc_sample_running(struct fl_proc_sample *s, const char *proc, pid_t self);
/* Sample again exactly the threads of `a` (those that still exist). */
int fl_proc_resample(struct fl_proc_sample *b, const struct fl_proc_sample *a,
		     const char *proc);
void fl_proc_sample_free(struct fl_proc_sample *s);

/*
 * The verdict for one thread seen at a and, window_ns later, at b: running
 * both times, no voluntary context switch, no read/write call, no user
 * time to speak of, and system time for at least half the window.
 * *preempted (when stuck): it was switched out involuntarily meanwhile.
 */
bool fl_stuck_judge(const struct fl_task_stat *a, const struct fl_task_stat *b,
		    uint64_t window_ns, long clk_tck, unsigned int *sys_pct, bool *preempted);
/* All stuck threads between two samples, at most max.  Returns the count. */
int fl_stuck_find(const struct fl_proc_sample *a, const struct fl_proc_sample *b,
		  long clk_tck, struct fl_stuck_task *out, int max);

/* Whether arming fentry/kprobes waits for t: always when arming waits for
 * RCU-tasks grace periods (x86), only if never preempted when it waits on
 * stop_machine() alone (stop_machine_only, arm64). */
bool fl_stuck_blocks_arming(const struct fl_stuck_task *t, bool stop_machine_only);

/* "ioctl" for this architecture's number, NULL when not in the table. */
const char *fl_syscall_name(long nr);

#endif
