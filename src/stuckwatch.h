/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Threads spinning in the kernel when faultloop starts (stuck.h has the
 * /proc parsers and the verdict): found before any probe is armed, named,
 * exported, and rechecked until they leave, so that held probes can be
 * armed.  The HTTP thread reads t[] through fl_stuckwatch_copy().
 */
#ifndef FL_STUCKWATCH_H
#define FL_STUCKWATCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "stuck.h"

struct bpf_link;
struct fl_report_ctx;

struct fl_stuckwatch {
	pthread_mutex_t lock;		/* n and t[], for other threads */
	struct fl_stuck_task t[FL_STUCK_MAX];
	int n;
	struct fl_proc_sample running;	/* the first sample */
	struct fl_proc_sample prev;	/* the last sample of exactly t[] */
	int iter_fd;			/* fl_task_iter link; -1: syscall unknown */
	long clk_tck;
	const struct fl_report_ctx *rctx;
	bool checked;			/* fl_stuckwatch_first() has run */
};

void fl_stuckwatch_init(struct fl_stuckwatch *w, const struct fl_report_ctx *rctx);
/* The first sample: every running thread now.  The window of the check
 * runs from here to fl_stuckwatch_first() (at least FL_STUCK_WINDOW_NS). */
void fl_stuckwatch_begin(struct fl_stuckwatch *w);
/* The verdict; reports each stuck thread.  Returns how many. */
int fl_stuckwatch_first(struct fl_stuckwatch *w);
/* While any remain: report and drop those that scheduled or left. */
void fl_stuckwatch_recheck(struct fl_stuckwatch *w, uint64_t now);
int fl_stuckwatch_count(struct fl_stuckwatch *w);
/* Arming kprobes waits only on stop_machine() (arm64) or also on RCU-tasks
 * grace periods (x86): only the former gets past a preempted spinner. */
#if defined(__aarch64__)
#define FL_STOP_MACHINE_ARMS	1
#else
#define FL_STOP_MACHINE_ARMS	0
#endif
/* Stuck threads that arming fentry/kprobes would wait for (all on x86,
 * those never preempted on arm64). */
int fl_stuckwatch_blocking(struct fl_stuckwatch *w);
/* Copy t[] for another thread; returns n. */
int fl_stuckwatch_copy(struct fl_stuckwatch *w, struct fl_stuck_task *out, int max);
void fl_stuckwatch_free(struct fl_stuckwatch *w);

#endif
