/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The stall sampler: a detector that needs no function probe.
 *
 * A loop inside the fault handler or inside GUP never leaves it: x86's
 * do_user_addr_fault() goes back to retry: while handle_mm_fault() returns
 * VM_FAULT_RETRY with only a non-fatal signal pending (a kernel-mode
 * fault; userfaultfd returns it at once while a signal is pending), and
 * page_fault_kernel fires once, at the #PF, not per retry.  What such a
 * task shows is a stack inside fault or GUP code, sample after sample,
 * while its fault counters stand still: mm_account_fault() (5.9,
 * bce617edecad) counts min_flt/maj_flt only for a fault that completed,
 * GUP's included, never for VM_FAULT_RETRY or an error.  The loop calls
 * schedule() on every turn, and __schedule() counts a switch out with a
 * signal pending in nvcsw, so context switches are no measure of it; CPU
 * time is: a fault that waits for I/O sleeps and uses next to none, a
 * loop uses all it is given.  (sched_info.run_delay would add the time
 * it waited for a CPU, but only with delay accounting on, off by default
 * since 5.14, e4042ad49235.)
 *
 * So: a software cpu-clock perf event per CPU runs this at a low rate
 * (the loader sets it); a sample whose kernel stack is inside the code
 * ranges the loader found (exc_page_fault, do_user_addr_fault,
 * handle_mm_fault, __get_user_pages, ...) opens or extends the task's
 * stall, keyed by tid; min_flt + maj_flt moving, or a sample in user
 * mode, ends it (FL_END_PROGRESS).  A stall that has lasted stall_ns, with
 * a quarter of it at least on a CPU (a loop sharing its CPU with three
 * other busy tasks), is a loop: DETECTED, ONGOING and ENDED like any
 * episode, through the same report path.  Cost: one stack walk per
 * sample, nothing per event.
 */
#ifndef FAULTLOOP_STALL_BPF_H
#define FAULTLOOP_STALL_BPF_H

#include "probe.bpf.h"

/* Knobs (frozen .rodata): 0 turns the sampler off. */
const volatile __u64 stall_ns = 0;
/* The sweep ends a stall not sampled for this long (>= a few periods). */
const volatile __u64 stall_gap_ns = 1000000000ULL;
const volatile __u64 stall_lo[FL_STALL_RANGES] = {};
const volatile __u64 stall_hi[FL_STALL_RANGES] = {};
const volatile __u32 nr_stall_ranges = 0;
/* handle_userfault()'s range among them, for the known-bug match */
const volatile __u32 stall_uffd_range = FL_STALL_RANGES;


/* Completed faults of the task, GUP's included. */
static __always_inline __u64 fl_progress(struct task_struct *t)
{
	if (FL_HAVE_TASK_BTF)
		return t->min_flt + t->maj_flt;
	return BPF_CORE_READ(t, min_flt) + BPF_CORE_READ(t, maj_flt);
}

/* The task's CPU time (updated at each tick and switch). */
static __always_inline __u64 fl_oncpu(struct task_struct *t)
{
	if (FL_HAVE_TASK_BTF)
		return t->se.sum_exec_runtime;
	return BPF_CORE_READ(t, se.sum_exec_runtime);
}

/*
 * 0: no frame in fault or GUP code; else 1, with FL_EP_UFFD when one is
 * in handle_userfault().  ips[] is zeroed past the stack, so the loops run
 * their full, constant length: an exit that depended on the stack's depth
 * made the verifier walk everything after it once per possible depth
 * (over a second of verification at load).
 */
static __always_inline __u32 fl_in_fault_code(const __u64 *ips)
{
	__u32 u = stall_uffd_range;
	int i, j;

	if (u < FL_STALL_RANGES)
		for (i = 0; i < FL_MAX_STACK; i++)
			if (ips[i] >= stall_lo[u] && ips[i] < stall_hi[u])
				return 1 | FL_EP_UFFD;
	for (i = 0; i < FL_MAX_STACK; i++)
		for (j = 0; j < FL_STALL_RANGES && j < nr_stall_ranges; j++)
			if (ips[i] >= stall_lo[j] && ips[i] < stall_hi[j])
				return 1;
	return 0;
}

static __always_inline bool fl_stall_close(void *ctx, struct fl_stats *st,
					   struct fl_episode *ep, __u32 tid,
					   __u8 reason, __u64 now)
{
	return fl_map_close(ctx, st, &stalls, &nr_stalls, ep, tid, reason, 0, 0,
			    false, now);
}

static __always_inline void fl_stall_open(struct fl_stats *st, __u64 id,
					  __u64 progress, __u64 oncpu, __u64 now)
{
	struct fl_episode *ep = fl_scratch();
	__u32 tid = (__u32)id;

	if (!ep)
		return;
	__builtin_memset(ep, 0, sizeof(*ep));
	ep->start_ns = now;
	ep->last_ns = now;
	ep->io_seq = progress;
	ep->oncpu_ns = oncpu;
	ep->cgroup_id = bpf_get_current_cgroup_id();
	ep->pid = id >> 32;
	ep->tid = tid;
	ep->events = 1;
	ep->samples = 1;
	ep->top_sig = FL_SIG_FAULT_STALL;
	ep->sig_mask = 1ULL << FL_SIG_FAULT_STALL;
	if (fl_map_insert(st, &stalls, &nr_stalls, tid, ep))
		st->cnt[FL_CNT_EPISODES]++;
}

/* Where the task faulted last, if page_fault_kernel saw it (fault_at in
 * bpf/probe.bpf.h): the loop's #PF fires once. */
static __always_inline void fl_stall_addr(struct fl_episode *ep, __u32 tid)
{
	const struct fl_fault_at *at = &fault_at[tid & (FL_FAULT_SLOTS - 1)];

	if (at->tid != tid || ep->addr)
		return;
	ep->addr = at->addr & addr_mask;
	ep->sig_mask |= 1ULL << FL_SIG_PF_KERNEL;
}

/*
 * The userfaultfd evidence from the fault address's VMA (fl_vma_uffd),
 * once per stall.  Writing a registered page, the loop's samples can land
 * in the allocation before handle_mm_fault() reaches handle_userfault(),
 * so no sample's stack may say userfaultfd before the stall is reported
 * (stall.sh's write direction; BENCHMARKS.md, "Naming the userfaultfd
 * loop"); the VMA says it at the first sample that has the address.  bpf_find_vma() (5.17,
 * 7c7e3d31e785) takes mmap_lock with a trylock: -EBUSY while a writer
 * holds or waits for it, and always in the timer's irq on PREEMPT_RT
 * (bpf_mmap_unlock_get_irq_work()); such a sample counts FL_CNT_VMA_BUSY
 * and the next one tries again.  Its callback is a BPF_PSEUDO_FUNC load,
 * which a kernel before 5.13 rejects anywhere in a program, so only the
 * program built with vma (fl_stall_vma__perf) calls it, and the loader
 * picks that program only where the kernel's BTF has BPF_FUNC_find_vma.
 */
#ifndef EBUSY
#define EBUSY 16
#endif

static long fl_vma_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	*(__u8 *)data = fl_vma_uffd(vma);
	return 0;
}

static __always_inline void fl_stall_vma(struct fl_stats *st, struct fl_episode *ep)
{
	__u8 uffd = 0;
	long err;

	if (!ep->addr || (ep->flags & FL_EP_VMA))
		return;
	err = bpf_find_vma(bpf_get_current_task_btf(), ep->addr, fl_vma_cb, &uffd, 0);
	if (err == -EBUSY) {
		st->cnt[FL_CNT_VMA_BUSY]++;
		return;
	}
	ep->flags |= FL_EP_VMA | uffd;	/* -ENOENT: in no VMA, no userfaultfd */
}

/* One sample of task id on this CPU: its completed faults (fl_progress),
 * its CPU time (fl_oncpu), whether an unblocked signal is pending
 * (fl_task_sigpend),
 * its kernel stack ips[FL_MAX_STACK] of n frames, zeros after them (n 0:
 * the sample interrupted user mode). */
static __always_inline void fl_stall_sample(void *ctx, struct fl_stats *st, __u64 id,
					    __u64 progress, __u64 oncpu, bool sigpend,
					    const __u64 *ips, int n, __u64 now, bool vma)
{
	__u32 tid = (__u32)id;
	struct fl_episode *ep = NULL;
	__u32 in;

	st->events[FL_SIG_FAULT_STALL]++;
	if (nr_stalls)
		ep = bpf_map_lookup_elem(&stalls, &tid);
	if (ep && (n <= 0 || ep->io_seq != progress)) {
		fl_stall_close(ctx, st, ep, tid, FL_END_PROGRESS, now);
		ep = NULL;
	}
	in = n > 0 ? fl_in_fault_code(ips) : 0;
	if (!in)
		return;		/* elsewhere in the kernel: neither stuck nor free */
	if (!ep) {
		fl_stall_open(st, id, progress, oncpu, now);
		return;
	}
	ep->flags |= (in & FL_EP_UFFD) | (sigpend ? FL_EP_SIGPEND : 0);
	fl_stall_addr(ep, tid);
	if (vma)
		fl_stall_vma(st, ep);
	ep->last_ns = now;
	ep->events++;
	ep->samples++;		/* inside the same fault */
	fl_report_due(ctx, st, ep, now - ep->start_ns >= stall_ns &&
		      oncpu - ep->oncpu_ns >= stall_ns / 4, &episodes, nr_promoted,
		      FL_SIG_FAULT_STALL, now);
}

/* The sample's entry into the detector: the recursion guard (fl_enter),
 * the filters, then fl_stall_sample().  The perf programs and the tests
 * come in here; vma, a constant: this program may call bpf_find_vma(). */
static __always_inline void fl_stall_entry(void *ctx, struct fl_stats *st, __u64 id,
					   __u64 progress, __u64 oncpu, bool sigpend,
					   const __u64 *ips, int n, __u64 now, bool vma)
{
	struct fl_cur *c = fl_enter(st);

	if (!c)
		return;
	if (fl_pass(st, id))
		fl_stall_sample(ctx, st, id, progress, oncpu, sigpend, ips, n, now, vma);
	fl_exit(c);
}


/* The idle sweep's half for stalls (see fl_sweep_one): a task no longer
 * sampled (asleep, or gone without an exit event) ends its stall. */
static __always_inline bool fl_stall_sweep_one(void *ctx, __u32 tid, bool all, __u64 now)
{
	return fl_sweep_map(ctx, &stalls, &nr_stalls, stall_gap_ns, tid, all, now);
}

#endif /* FAULTLOOP_STALL_BPF_H */
