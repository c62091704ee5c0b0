// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tasks stuck in the kernel, from /proc: see stuck.h. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "faultloop.h"
#include "stuck.h"
#include "util.h"

int fl_parse_task_stat(const char *buf, struct fl_task_stat *st)
{
	const char *open = strchr(buf, '('), *close = strrchr(buf, ')'), *p;
	unsigned long long v[40];
	size_t len;
	int i;

	/* comm may hold spaces and parentheses: it ends at the last ')' */
	if (!open || !close || close < open)
		return -EINVAL;
	len = close - open - 1;
	if (len >= sizeof(st->comm))
		len = sizeof(st->comm) - 1;
	memcpy(st->comm, open + 1, len);
	st->comm[len] = 0;
	p = close + 1;
	while (*p == ' ')
		p++;
	if (!*p)
		return -EINVAL;
	st->state = *p++;
	/* fields 4.. (1-based): ppid pgrp session tty tpgid flags ... */
	for (i = 4; i <= 39; i++) {
		char *end;

		while (*p == ' ')
			p++;
		if (!*p)
			return -EINVAL;
		/* tty_nr and some others may be negative in principle */
		v[i] = strtoull(p, &end, 10);
		if (end == p)
			return -EINVAL;
		p = end;
	}
	st->kthread = v[9] & FL_PF_KTHREAD;
	st->utime = v[14];
	st->stime = v[15];
	st->cpu = (int)v[39];
	return 0;
}

static int field_u64(const char *buf, const char *name, uint64_t *out)
{
	const char *p = buf;
	size_t n = strlen(name);

	while ((p = strstr(p, name))) {
		if ((p == buf || p[-1] == '\n') && p[n] == ':') {
			char *end;

			p += n + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			*out = strtoull(p, &end, 10);
			return end == p ? -EINVAL : 0;
		}
		p += n;
	}
	return -ENOENT;
}

int fl_parse_task_status(const char *buf, struct fl_task_stat *st)
{
	if (field_u64(buf, "voluntary_ctxt_switches", &st->nvcsw) ||
	    field_u64(buf, "nonvoluntary_ctxt_switches", &st->nivcsw))
		return -EINVAL;
	return 0;
}

int fl_parse_task_io(const char *buf, struct fl_task_stat *st)
{
	uint64_t r, w;

	if (field_u64(buf, "syscr", &r) || field_u64(buf, "syscw", &w))
		return -EINVAL;
	st->io_calls = r + w;
	return 0;
}

static int read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

/* stat, then (only for candidates) status and io of one thread */
static int sample_thread(const char *proc, uint32_t pid, uint32_t tid,
			 bool running_only, struct fl_task_stat *st)
{
	char path[128], buf[2048];

	memset(st, 0, sizeof(*st));
	st->pid = pid;
	st->tid = tid;
	snprintf(path, sizeof(path), "%s/%u/task/%u/stat", proc, pid, tid);
	if (read_small(path, buf, sizeof(buf)) || fl_parse_task_stat(buf, st))
		return -ENOENT;
	if (running_only && (st->state != 'R' || st->kthread))
		return -EAGAIN;
	snprintf(path, sizeof(path), "%s/%u/task/%u/status", proc, pid, tid);
	if (read_small(path, buf, sizeof(buf)) || fl_parse_task_status(buf, st))
		return -ENOENT;
	/* io needs ptrace-read access: without it, judge on the rest */
	snprintf(path, sizeof(path), "%s/%u/task/%u/io", proc, pid, tid);
	if (read_small(path, buf, sizeof(buf)) || fl_parse_task_io(buf, st))
		st->io_calls = UINT64_MAX;
	return 0;
}

static struct fl_task_stat *sample_slot(struct fl_proc_sample *s)
{
	if (s->n == s->cap) {
		int cap = s->cap ? s->cap * 2 : 64;
		struct fl_task_stat *t = realloc(s->t, cap * sizeof(*t));

		if (!t)
			return NULL;
		s->t = t;
		s->cap = cap;
	}
	return &s->t[s->n];
}

static bool numeric(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return false;
	v = strtoul(s, &end, 10);
	if (*end || v > UINT32_MAX)
		return false;
	*out = v;
	return true;
}

int fl_proc_sample_running(struct fl_proc_sample *s, const char *proc, pid_t self)
{
	struct dirent *pe, *te;
	DIR *pd, *td;
	char path[128];
	uint32_t pid, tid;

	s->n = 0;
	s->mono_ns = now_mono_ns();
	pd = opendir(proc);
	if (!pd)
		return -errno;
	while ((pe = readdir(pd))) {
		if (!numeric(pe->d_name, &pid) || pid == (uint32_t)self)
			continue;
		snprintf(path, sizeof(path), "%s/%u/task", proc, pid);
		td = opendir(path);
		if (!td)
			continue;	/* exited meanwhile */
		while ((te = readdir(td))) {
			struct fl_task_stat *st;

			if (!numeric(te->d_name, &tid))
				continue;
			st = sample_slot(s);
			if (!st) {
				closedir(td);
				closedir(pd);
				return -ENOMEM;
			}
			if (!sample_thread(proc, pid, tid, true, st))
				s->n++;
		}
		closedir(td);
	}
	closedir(pd);
	return s->n;
}

int fl_proc_resample(struct fl_proc_sample *b, const struct fl_proc_sample *a,
		     const char *proc)
{
	int i;

	b->n = 0;
	b->mono_ns = now_mono_ns();
	for (i = 0; i < a->n; i++) {
		struct fl_task_stat *st = sample_slot(b);

		if (!st)
			return -ENOMEM;
		if (!sample_thread(proc, a->t[i].pid, a->t[i].tid, false, st))
			b->n++;
	}
	return b->n;
}

void fl_proc_sample_free(struct fl_proc_sample *s)
{
	free(s->t);
	memset(s, 0, sizeof(*s));
}

bool fl_stuck_judge(const struct fl_task_stat *a, const struct fl_task_stat *b,
		    uint64_t window_ns, long clk_tck, unsigned int *sys_pct, bool *preempted)
{
	uint64_t window_ticks, dsys, dusr;

	if (clk_tck <= 0 || window_ns < 1000000)
		return false;
	window_ticks = window_ns * (uint64_t)clk_tck / 1000000000ULL;
	if (!window_ticks || a->tid != b->tid || a->state != 'R' || b->state != 'R')
		return false;
	/* Only a voluntary switch (a sleep, a wait, a lock) can mean that the
	 * thread left its syscall.  A preemption does not: on PREEMPT_RT the
	 * timers and softirqs run in threads that preempt a live-locked
	 * search_ioctl() ~55 times a second (Debian 5.10.0-32-rt-arm64:
	 * nivcsw 33 -> 843 in 14.85 s, nvcsw unchanged), and cond_resched()
	 * on a !PREEMPT kernel counts as involuntary too (__schedule(SM_PREEMPT)). */
	if (b->nvcsw != a->nvcsw)
		return false;
	if (a->io_calls != UINT64_MAX && b->io_calls != UINT64_MAX &&
	    a->io_calls != b->io_calls)
		return false;	/* a busy reader/writer making one call after another */
	if (b->stime < a->stime || b->utime < a->utime)
		return false;
	dsys = b->stime - a->stime;
	dusr = b->utime - a->utime;
	if (preempted)
		*preempted = b->nivcsw != a->nivcsw;
	if (sys_pct)
		*sys_pct = dsys * 100 / window_ticks;
	/* The tick samples user or system mode: a thread spinning in the
	 * kernel gets every tick as system time.  Half the window allows for
	 * tick granularity (CLK_TCK 100 vs HZ 250) and a slow emulated CPU. */
	return dsys * 2 >= window_ticks && dusr * 10 <= window_ticks;
}

int fl_stuck_find(const struct fl_proc_sample *a, const struct fl_proc_sample *b,
		  long clk_tck, struct fl_stuck_task *out, int max)
{
	uint64_t window = b->mono_ns - a->mono_ns;
	int i, j = 0, n = 0;

	/* b was resampled from a: same order, minus threads that exited */
	for (i = 0; i < b->n && n < max; i++) {
		const struct fl_task_stat *sb = &b->t[i];
		unsigned int pct = 0;
		bool preempted = false;

		while (j < a->n && a->t[j].tid != sb->tid)
			j++;
		if (j == a->n)
			break;
		if (!fl_stuck_judge(&a->t[j], sb, window, clk_tck, &pct, &preempted))
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].pid = sb->pid;
		out[n].tid = sb->tid;
		memcpy(out[n].comm, sb->comm, sizeof(out[n].comm));
		out[n].cpu = sb->cpu;
		out[n].syscall = -1;
		out[n].quiet_ns = window;
		out[n].sys_pct = pct > 100 ? 100 : pct;
		out[n].first_ns = a->mono_ns;
		out[n].preempted = preempted;
		n++;
	}
	return n;
}

/*
 * Whether arming fentry/kprobes waits for a stuck thread.  On arm64 a preempted one is
 * not: stop_machine() queues its work on every CPU's stopper thread, whose
 * stop class outranks every other (kernel/sched/stop_task.c), so it runs
 * at the spinner's next preemption point, and a thread that was preempted
 * has such points.  On x86 it still is: attaching an fentry on 5.5-5.11
 * waits for a classic RCU-tasks grace period (bpf_trampoline_update():
 * synchronize_rcu_tasks(), then synchronize_rcu_mult(call_rcu_tasks, ..)
 * until e21aa341785c), whose holdout check counts voluntary switches only
 * (kernel/rcu/tasks.h, t->nvcsw).
 */
bool fl_stuck_blocks_arming(const struct fl_stuck_task *t, bool stop_machine_only)
{
	return !t->preempted || !stop_machine_only;
}

/* The calls that copy to or from user memory in loops, by this build's
 * numbering (x86_64 and arm64 differ). */
static const struct {
	long nr;
	const char *name;
} syscalls[] = {
#define S(n) { __NR_##n, #n }
	S(read), S(write), S(pread64), S(pwrite64), S(readv), S(writev),
	S(preadv), S(pwritev), S(preadv2), S(pwritev2), S(ioctl), S(sendfile),
	S(splice), S(vmsplice), S(copy_file_range), S(sendto), S(recvfrom),
	S(sendmsg), S(recvmsg), S(getdents64), S(getrandom), S(madvise),
	S(mmap), S(munmap), S(execve), S(futex), S(io_submit),
	S(io_uring_enter), S(process_vm_readv), S(process_vm_writev),
	S(openat), S(close), S(fsync), S(ptrace),
#undef S
};

const char *fl_syscall_name(long nr)
{
	size_t i;

	for (i = 0; i < sizeof(syscalls) / sizeof(syscalls[0]); i++)
		if (syscalls[i].nr == nr)
			return syscalls[i].name;
	return NULL;
}
