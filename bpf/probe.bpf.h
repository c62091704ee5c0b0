/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The probes' glue between the kernel and the detector (bpf/detector.bpf.h):
 * who the current task is, its call boundary, the filters, and the
 * page_fault_kernel program body.  Included by bpf/faultloop.bpf.c and by
 * tools/bench/parts.bpf.c, which measures this very code.
 */
#ifndef FAULTLOOP_PROBE_BPF_H
#define FAULTLOOP_PROBE_BPF_H

#include "detector.bpf.h"

/* The VMA is registered with a userfaultfd (CONFIG_USERFAULTFD: its
 * vm_userfaultfd_ctx.ctx is set from UFFDIO_REGISTER to UNREGISTER), so
 * the fault may end in handle_userfault(): FL_EP_UFFD, the known bug's
 * evidence where the stall sampler's stack is not the one reporting
 * (handle_mm_fault's probe, the sampler's bpf_find_vma()). */
static __always_inline __u8 fl_vma_uffd(struct vm_area_struct *vma)
{
	if (!bpf_core_field_exists(vma->vm_userfaultfd_ctx))
		return 0;
	return BPF_CORE_READ(vma, vm_userfaultfd_ctx.ctx) ? FL_EP_UFFD : 0;
}

/* ---- current-task helpers --------------------------------------------- */

static __always_inline int fl_pagefault_disabled(struct task_struct *t)
{
	if (FL_HAVE_TASK_BTF)
		return t->pagefault_disabled;
	return BPF_CORE_READ(t, pagefault_disabled) - 1;
}

/* bpf_get_current_pid_tgid() without the helper call, where we can */
static __always_inline __u64 fl_task_id(struct task_struct *t)
{
	if (FL_HAVE_TASK_BTF)
		return (__u64)t->tgid << 32 | (__u32)t->pid;
	return bpf_get_current_pid_tgid();
}

/*
 * PREEMPT_RT (upstream 6.12; Debian's -rt flavours from 5.10): spinlock_t
 * is an rt_mutex there, without the raw_spinlock member rlock, and a task
 * that meets a contended one blocks in schedule_rtlock(), which
 * __schedule() counts in nvcsw (SM_RTLOCK_WAIT is outside
 * SM_MASK_PREEMPT).  A live-lock whose retries take such a lock (the page
 * table lock, an extent buffer lock) then sleeps in every turn.  A CO-RE
 * constant: the verifier drops the branch this kernel does not take.
 */
#define FL_PREEMPT_RT	(!bpf_core_field_exists(struct spinlock, rlock))

/*
 * A cheap boundary between calls, with no per-syscall program:
 * - task->ioac.syscr + syscw count once per read-/write-type syscall
 *   (CONFIG_TASK_IO_ACCOUNTING, on in Debian 5.10-6.12): consecutive
 *   write()s of one buffer must not merge into one endless episode where
 *   no owner probe attaches (sys_seq);
 * - task->nvcsw counts voluntary switches: a task that blocked (wait4,
 *   I/O) has left whatever loop it was in: bash forking in a loop re-faults
 *   its COW'd stack in copy_fpstate_to_sigframe() at each SIGCHLD, and
 *   without this those faults add up to "retries" across wait4() calls.
 *   Not every such switch is a sleep: fl_left_call() lets a loop's own
 *   schedule() with a signal pending through.  Not on PREEMPT_RT, where
 *   the loop's own sleeping spinlocks move it (FL_PREEMPT_RT): there only
 *   read/write calls, owners, the gap and exit end an episode.
 * And se.nr_migrations (set_task_cpu(), every kernel): the per-CPU slot
 * (struct fl_cur) is the task's only while it has not moved.
 */
static __always_inline void fl_task_seq(struct task_struct *t, struct fl_ev *ev)
{
	ev->sys_seq = 0;
	if (FL_HAVE_TASK_BTF) {
		if (bpf_core_field_exists(t->ioac))
			ev->sys_seq = t->ioac.syscr + t->ioac.syscw;
		ev->io_seq = ev->sys_seq + (FL_PREEMPT_RT ? 0 : t->nvcsw);
		ev->migr = t->se.nr_migrations;
	} else {
		if (bpf_core_field_exists(t->ioac))
			ev->sys_seq = BPF_CORE_READ(t, ioac.syscr) +
				      BPF_CORE_READ(t, ioac.syscw);
		ev->io_seq = ev->sys_seq + (FL_PREEMPT_RT ? 0 : BPF_CORE_READ(t, nvcsw));
		ev->migr = BPF_CORE_READ(t, se.nr_migrations);
	}
}

static __always_inline bool fl_pass(struct fl_stats *st, __u64 id)
{
	if (targ_tgid && (id >> 32) != targ_tgid)
		goto filtered;
	if (filter_cg && !bpf_current_task_under_cgroup(&cgroup_filter, 0))
		goto filtered;
	return true;
filtered:
	st->cnt[FL_CNT_FILTERED]++;
	return false;
}

/* t, id: the current task (fl_current()) and fl_task_id(t), which gated
 * callers already hold */
static __always_inline int fl_probe_task_event(void *ctx, struct task_struct *t,
					       __u64 id, __u32 sig, __u64 addr,
					       __u64 size, bool failed, bool join_only,
					       __u8 flags)
{
	struct fl_stats *st = fl_stats();
	struct fl_cur *c;
	struct fl_ev ev;

	if (!st)
		return 0;
	c = fl_enter(st);
	if (!c)
		return 0;
	if (!fl_pass(st, id))
		goto out;
	ev.now = 0;
	ev.now_j = fl_coarse_now();
	ev.addr = addr;
	ev.size = size;
	fl_task_seq(t, &ev);
	ev.pid = id >> 32;
	ev.tid = (__u32)id;
	ev.sig = sig;
	ev.failed = failed;
	ev.join_only = join_only;
	ev.flags = flags;
	ev.sigpend = -1;
	fl_event(ctx, st, c, &ev);
out:
	fl_exit(c);
	return 0;
}

static __always_inline int fl_probe_any_event(void *ctx, __u32 sig, __u64 addr,
					      __u64 size, bool failed, bool join_only,
					      __u8 flags)
{
	struct task_struct *t = fl_current();

	return fl_probe_task_event(ctx, t, fl_task_id(t), sig, addr, size,
				   failed, join_only, flags);
}

static __always_inline int fl_probe_event(void *ctx, __u32 sig, __u64 addr,
					  __u64 size, bool failed)
{
	return fl_probe_any_event(ctx, sig, addr, size, failed, false, 0);
}

/* Count only (address-less signals, successful copies). */
static __always_inline int fl_probe_count(__u32 sig, bool failed)
{
	struct fl_stats *st = fl_stats();

	if (!st || sig >= FL_SIG__MAX)
		return 0;
	st->events[sig]++;
	if (failed)
		st->failures[sig]++;
	return 0;
}

/* The task's episode ends (fl_end): an owner returned (has_ret) or began,
 * or the task exits. */
static __always_inline int fl_probe_end(void *ctx, __u32 sig, __u8 reason,
					long ret, bool has_ret)
{
	struct fl_stats *st = fl_stats();
	__u64 id = bpf_get_current_pid_tgid();
	struct fl_cur *c;

	if (!st)
		return 0;
	c = fl_enter(st);
	if (!c)
		return 0;
	fl_end(ctx, st, c, (__u32)id, sig, reason, ret, has_ret, 0);
	fl_exit(c);
	return 0;
}

/* ---- page_fault_kernel --------------------------------------------------- */

/* x86 exceptions:page_fault_kernel fires first thing in handle_page_fault(),
 * before the exception-table fixup, for every kernel-mode #PF, including
 * uaccess under pagefault_disable() (which is how the notrace atomic copies
 * are seen).  pagefault_disabled tells an atomic copy from a fault-in. */
/*
 * The task that last took a page fault under pagefault_disable() on this
 * CPU.  A kernel fault with page faults enabled (a read() into fresh
 * pages, a plain copy_to_user()) is part of a fault-in/uaccess loop only
 * right after that task's atomic copy faulted: the loop's fault-in then
 * faults the failing address in, and that is its first fault.  So the
 * pass is good for one fault: kept, one atomic fault of a task (one in
 * execve is enough) would let every later fault of it on that CPU into
 * the detector.  Every other one is only counted, which keeps the
 * detector off the most common kernel fault there is (BENCHMARKS.md, w2k).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fl_pf_cpu);
} pf_cpu SEC(".maps");

/* The gate's rule, apart from the current task so that BPF_PROG_TEST_RUN
 * can drive it (tests/bpf): the signal a kernel fault on user memory feeds
 * the detector with, or 0 when it is only counted.  pf_disabled: the
 * faulting task's pagefault_disabled count; tid: its tid; last: this CPU's
 * pf_cpu slot's atomic_tid (NULL if the lookup failed). */
static __always_inline __u32 fl_pf_gate(int pf_disabled, __u32 tid, __u32 *last)
{
	if (pf_disabled > 0) {
		if (last)
			*last = tid;
		return FL_SIG_PF_KERNEL_ATOMIC;
	}
	if (!last || *last != tid)
		return 0;
	*last = 0;	/* tid 0, the idle task, takes no user fault */
	return FL_SIG_PF_KERNEL;
}

/*
 * The stall sampler's fault address (fl_stall_addr): a loop inside one
 * fault takes its #PF once, so the address is the one its task faulted at
 * last.  Kept by tid, not per CPU: a loop preempted by busy neighbours
 * resumes on another CPU, where a per-CPU slot had no address for it (no
 * address, no VMA lookup, the known bug unnamed: BENCHMARKS.md, "Naming
 * the userfaultfd loop").  Two plain stores; a task of another tid in the
 * same slot overwrites it, and the sampler checks the tid.
 */
struct fl_fault_at fault_at[FL_FAULT_SLOTS] = {};

/* The gate for the current task t.  tid: t's.  Also keeps the fault's
 * address for the stall sampler. */
static __always_inline __u32 fl_pf_sig(struct task_struct *t, __u32 tid, __u64 addr)
{
	struct fl_fault_at *at = &fault_at[tid & (FL_FAULT_SLOTS - 1)];
	__u32 zero = 0;
	struct fl_pf_cpu *c = bpf_map_lookup_elem(&pf_cpu, &zero);

	at->tid = tid;
	at->addr = addr;
	return fl_pf_gate(fl_pagefault_disabled(t), tid, c ? &c->atomic_tid : NULL);
}

static __always_inline int fl_pf_kernel(void *ctx, __u64 address)
{
	struct task_struct *t;
	__u32 sig;
	__u64 id;

	if (!fl_user_addr(address))
		return fl_probe_count(FL_SIG_PF_KERNEL, false);
	t = fl_current();
	id = fl_task_id(t);
	sig = fl_pf_sig(t, (__u32)id, address);
	if (!sig)
		return fl_probe_count(FL_SIG_PF_KERNEL, false);
	/* one call site: the detector is inlined once per program */
	return fl_probe_task_event(ctx, t, id, sig, address, 0, false, false, 0);
}

#endif /* FAULTLOOP_PROBE_BPF_H */
