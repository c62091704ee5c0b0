// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "report.h"
#include "stuckwatch.h"
#include "util.h"

void fl_stuckwatch_init(struct fl_stuckwatch *w, const struct fl_report_ctx *rctx)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
	w->iter_fd = -1;
	w->clk_tck = sysconf(_SC_CLK_TCK);
	w->rctx = rctx;
}

void fl_stuckwatch_begin(struct fl_stuckwatch *w)
{
	if (fl_proc_sample_running(&w->running, "/proc", getpid()) < 0)
		fprintf(stderr, "faultloop: cannot scan /proc for stuck tasks: %s\n", strerror(errno));
}

/* The syscall and time on CPU of stuck threads, from the task iterator. */
static void stuck_enrich(struct fl_stuckwatch *st, struct fl_stuck_task *t, int n)
{
	struct fl_task_rec r;
	int fd, i;

	for (i = 0; i < n; i++)
		if (t[i].on_cpu_ns < t[i].quiet_ns)
			t[i].on_cpu_ns = t[i].quiet_ns;	/* at least what we saw */
	if (st->iter_fd < 0)
		return;
	fd = bpf_iter_create(st->iter_fd);
	if (fd < 0)
		return;
	while (read(fd, &r, sizeof(r)) == sizeof(r)) {
		for (i = 0; i < n; i++) {
			if (t[i].tid != r.tid)
				continue;
			t[i].syscall = r.syscall;
			/* sched_clock and ktime both count from boot; a
			 * last_arrival in the future is clock skew: ignore */
			if (r.last_arrival_ns && r.now_ns > r.last_arrival_ns &&
			    r.now_ns - r.last_arrival_ns > t[i].on_cpu_ns)
				t[i].on_cpu_ns = r.now_ns - r.last_arrival_ns;
		}
	}
	close(fd);
}

/* Keep prev as the sample of exactly the threads in st->t[], in order. */
static void stuck_keep(struct fl_stuckwatch *st, const struct fl_proc_sample *b)
{
	int i, j, k = 0;

	for (i = 0; i < st->n; i++)
		for (j = 0; j < b->n; j++)
			if (b->t[j].tid == st->t[i].tid && k < st->prev.cap)
				st->prev.t[k++] = b->t[j];
	st->prev.n = k;
	st->prev.mono_ns = b->mono_ns;
}

/*
 * First verdict, before any probe is armed: sample `a` was taken before
 * probe selection, so its seconds of trial loads are the window.
 */
int fl_stuckwatch_first(struct fl_stuckwatch *st)
{
	struct fl_proc_sample *a = &st->running;
	struct fl_proc_sample b = {};
	uint64_t waited = now_mono_ns() - a->mono_ns;
	int n, i;

	st->checked = true;
	if (a->n <= 0)
		return 0;
	if (waited < FL_STUCK_WINDOW_NS) {
		struct timespec ts = { 0, (long)(FL_STUCK_WINDOW_NS - waited) };

		nanosleep(&ts, NULL);
	}
	if (fl_proc_resample(&b, a, "/proc") < 0)
		return 0;
	n = fl_stuck_find(a, &b, st->clk_tck, st->t, FL_STUCK_MAX);
	stuck_enrich(st, st->t, n);
	st->prev.t = calloc(FL_STUCK_MAX, sizeof(*st->prev.t));
	st->prev.cap = st->prev.t ? FL_STUCK_MAX : 0;
	pthread_mutex_lock(&st->lock);
	st->n = n;
	pthread_mutex_unlock(&st->lock);
	stuck_keep(st, &b);
	fl_proc_sample_free(&b);
	for (i = 0; i < n; i++) {
		const struct fl_stuck_task *t = &st->t[i];
		const char *name = t->syscall >= 0 ? fl_syscall_name(t->syscall) : NULL;
		char comm[sizeof(t->comm)];

		fl_sanitize_comm(t->comm, sizeof(t->comm), comm, sizeof(comm));
		fprintf(stderr, "faultloop: task %u (%s, tid %u) is stuck in the kernel on CPU %d: "
			"%u%% system time, no %scontext switch for %.1fs%s%s%s\n",
			t->pid, comm, t->tid, t->cpu, t->sys_pct, t->preempted ? "voluntary " : "",
			/* last_arrival moves at each preemption: then only
			 * the observed window is known to be switch-free */
			(t->preempted ? t->quiet_ns : t->on_cpu_ns) / 1e9,
			t->syscall >= 0 ? ", syscall " : "",
			t->syscall >= 0 ? (name ? name : "?") : "",
			t->preempted ? "; preemptible (preempted meanwhile)" : "");
		fl_report_print_stuck(st->rctx, t, false, now_mono_ns());
	}
	return n;
}

/* While stuck threads remain: drop those that scheduled or left. */
void fl_stuckwatch_recheck(struct fl_stuckwatch *st, uint64_t now)
{
	struct fl_proc_sample b = {};
	struct fl_stuck_task keep[FL_STUCK_MAX];
	int i, j, k = 0;

	if (!st->n || now - st->prev.mono_ns < FL_STUCK_WINDOW_NS)
		return;
	if (fl_proc_resample(&b, &st->prev, "/proc") < 0)
		return;
	for (i = 0; i < st->n; i++) {
		const struct fl_task_stat *pa = NULL, *pb = NULL;
		unsigned int pct = 0;
		bool preempted = false;

		for (j = 0; j < st->prev.n; j++)
			if (st->prev.t[j].tid == st->t[i].tid)
				pa = &st->prev.t[j];
		for (j = 0; j < b.n; j++)
			if (b.t[j].tid == st->t[i].tid)
				pb = &b.t[j];
		if (pa && pb && fl_stuck_judge(pa, pb, b.mono_ns - st->prev.mono_ns,
					       st->clk_tck, &pct, &preempted)) {
			keep[k] = st->t[i];
			keep[k].quiet_ns += b.mono_ns - st->prev.mono_ns;
			keep[k].sys_pct = pct > 100 ? 100 : pct;
			/* preempted once, preemptible for good: the kernel's
			 * preemption model does not change under a syscall */
			keep[k].preempted |= preempted;
			k++;
		} else {
			fl_report_print_stuck(st->rctx, &st->t[i], true, now);
		}
	}
	stuck_enrich(st, keep, k);
	pthread_mutex_lock(&st->lock);
	memcpy(st->t, keep, k * sizeof(keep[0]));
	st->n = k;
	pthread_mutex_unlock(&st->lock);
	stuck_keep(st, &b);
	fl_proc_sample_free(&b);
}

int fl_stuckwatch_count(struct fl_stuckwatch *w)
{
	int n;

	pthread_mutex_lock(&w->lock);
	n = w->n;
	pthread_mutex_unlock(&w->lock);
	return n;
}

/* On arm64 arming waits on stop_machine() only (stuck.c). */
int fl_stuckwatch_blocking(struct fl_stuckwatch *w)
{
	int i, n = 0;

	pthread_mutex_lock(&w->lock);
	for (i = 0; i < w->n; i++)
		n += fl_stuck_blocks_arming(&w->t[i], FL_STOP_MACHINE_ARMS);
	pthread_mutex_unlock(&w->lock);
	return n;
}

int fl_stuckwatch_copy(struct fl_stuckwatch *w, struct fl_stuck_task *out, int max)
{
	int n;

	pthread_mutex_lock(&w->lock);
	n = w->n < max ? w->n : max;
	memcpy(out, w->t, n * sizeof(out[0]));
	pthread_mutex_unlock(&w->lock);
	return n;
}

void fl_stuckwatch_free(struct fl_stuckwatch *w)
{
	fl_proc_sample_free(&w->running);
	free(w->prev.t);
	w->prev.t = NULL;
	pthread_mutex_destroy(&w->lock);
}
