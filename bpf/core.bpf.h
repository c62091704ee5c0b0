/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * faultloop detection core: maps, knobs and the per-task episode logic.
 *
 * Included by bpf/faultloop.bpf.c (the probes) and by the BPF_PROG_TEST_RUN
 * driver in tests/bpf/, so the tests exercise this exact code through the
 * verifier and JIT.  Everything on the event path is O(1): one per-CPU
 * stats lookup and one hash lookup keyed by tid; the ring buffer is only
 * written when an episode crosses the threshold (then rate limited).
 */
#ifndef FAULTLOOP_CORE_BPF_H
#define FAULTLOOP_CORE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "faultloop.h"

/* Knobs, set by the loader before load (frozen .rodata: dead branches are
 * pruned by the verifier). */
const volatile __u32 targ_tgid = 0;
const volatile bool filter_cg = false;
const volatile __u32 threshold = 64;
/* An episode is a loop only once it has also lasted this long: a live-lock
 * never ends, while a contended copy can retry thousands of times and then
 * complete (measured under qemu TCG: 1,821 retries in one pwrite() on 6.1,
 * 12,493 in one btrfs search ioctl lasting 414 ms on 6.12).  The loader
 * sets it (--min-duration, default 1s); 0 reports on retries alone. */
const volatile __u64 min_duration_ns = 0;
const volatile __u64 gap_ns = 1000000000ULL;
const volatile __u64 ongoing_ns = 1000000000ULL;
/* arm64 user pointers may carry a tag in bits 56-63 (TBI); compare untagged. */
const volatile __u64 addr_mask = ~0ULL;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);	/* loader: --max-tasks */
	__type(key, __u32);
	__type(value, struct fl_episode);
} episodes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fl_stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} reports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_filter SEC(".maps");

/* A zeroed episode to insert from: map values may come from .rodata. */
static const struct fl_episode zero_episode;

/* One event, already attributed to a task.  The probes fill it from
 * current; the test driver fills it from its arguments. */
struct fl_ev {
	__u64 now;
	__u64 addr;
	__u64 size;
	__u64 io_seq;
	__u32 pid;
	__u32 tid;
	__u32 sig;
	bool failed;
};

static __always_inline struct fl_stats *fl_stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&stats, &zero);
}

static __always_inline __u32 fl_log2(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xffffffffULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xffff) << 4; v >>= shift; r |= shift;
	shift = (v > 0xff) << 3; v >>= shift; r |= shift;
	shift = (v > 0xf) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

/* Bucket i holds values in [2^(i-1), 2^i); bucket 0 holds 0. */
static __always_inline __u32 fl_slot(__u64 v)
{
	__u64 s = v ? fl_log2(v) + 1 : 0;

	if (s > FL_HIST_SLOTS - 1)
		s = FL_HIST_SLOTS - 1;
	/* clang folds a plain mask away; the verifier needs to see it */
	asm volatile("%0 &= %1" : "+r"(s) : "i"(FL_HIST_SLOTS - 1));
	return s;
}

static __always_inline bool fl_user_addr(__u64 addr)
{
	/* page_fault_kernel also fires for vmalloc and spurious kernel faults.
	 * x86_64: kernel addresses have bit 63 set.  arm64: bit 55 selects
	 * TTBR1 (kernel); the top byte may hold an MTE/TBI tag, and FAR_EL1
	 * bits 63:60 are UNKNOWN on a tag check fault. */
#if defined(__TARGET_ARCH_arm64)
	return addr && !(addr & (1ULL << 55));
#else
	return addr && !(addr >> 63);
#endif
}

/* Fault-path signals know the exact faulting address (a bad MTE granule,
 * the byte a copy stopped at); fault-ins and nofault copies only the start
 * of their range.  Once an episode has seen one, reports carry its address. */
#define FL_FAULT_SIGS	(((1ULL << (FL_SIG_KERNEL_FAULT + 1)) - 1) & \
			 ~((1ULL << FL_SIG_PF_KERNEL) - 1))

static __always_inline void fl_emit(void *ctx, struct fl_stats *st,
				    const struct fl_episode *ep, __u8 kind,
				    __u32 last_sig, __u8 reason, __u64 now,
				    __u64 end_ns)
{
	struct fl_report *r;

	r = bpf_ringbuf_reserve(&reports, sizeof(*r), 0);
	if (!r) {
		st->cnt[FL_CNT_REPORTS_LOST]++;
		return;
	}
	r->kind = kind;
	r->sig = ep->top_sig;
	r->last_sig = last_sig;
	r->owner = ep->owner;
	r->reason = reason;
	r->flags = ep->flags;
	r->pad = 0;
	r->pid = ep->pid;
	r->tid = ep->tid;
	r->ts_ns = now;
	r->start_ns = ep->start_ns;
	r->duration_ns = end_ns - ep->start_ns;
	r->cgroup_id = ep->cgroup_id;
	r->addr = ep->addr;
	r->size = ep->size;
	r->retries = ep->retries;
	r->events = ep->events;
	r->sig_mask = ep->sig_mask;
	r->owner_ret = ep->owner_ret;
	__builtin_memcpy(r->comm, ep->comm, sizeof(r->comm));
	r->pad2 = 0;
	/* The stack of the event that made the report: for DETECTED/ONGOING
	 * that is inside the loop, so it names the loop owner; for an owner's
	 * return it shows its caller.  An episode closed by the task's next
	 * event or exit gets none: that stack belongs to something else. */
	if (kind != FL_REPORT_ENDED || reason == FL_END_OWNER_RETURN)
		r->stack_sz = bpf_get_stack(ctx, r->stack, sizeof(r->stack), 0);
	else
		r->stack_sz = 0;
	bpf_ringbuf_submit(r, 0);
	st->cnt[FL_CNT_REPORTS]++;
}

/* Account an episode that is ending; report it if it had crossed. */
static __always_inline void fl_close(void *ctx, struct fl_stats *st,
				     struct fl_episode *ep, __u8 reason,
				     __u32 owner, __s64 ret, bool has_ret,
				     __u64 now)
{
	/* A loop that went quiet ended at its last event, not when we noticed. */
	__u64 end = (reason == FL_END_GAP || reason == FL_END_SYSCALL) ?
		    ep->last_ns : now;

	if (reason < FL_END__MAX)
		st->ended[reason]++;
	st->hist_retries[fl_slot(ep->retries)]++;
	st->hist_duration_us[fl_slot((end - ep->start_ns) / 1000)]++;
	st->sum_retries += ep->retries;
	st->sum_duration_ns += end - ep->start_ns;
	if (!(ep->flags & FL_EP_REPORTED))
		return;
	ep->owner = owner;
	if (has_ret) {
		ep->owner_ret = ret;
		ep->flags |= FL_EP_HAS_RET;
	}
	fl_emit(ctx, st, ep, FL_REPORT_ENDED, owner, reason, now, end);
	st->cnt[FL_CNT_ENDED]++;
}

/*
 * The detector.  Called for every address-carrying event that passed the
 * filters.  A task's episode opens with its first event and collects
 * retries until its owner returns, it goes idle for gap_ns, the task
 * starts another read/write syscall (io_seq moved) or exits.
 */
static __always_inline void fl_event(void *ctx, struct fl_stats *st,
				     const struct fl_ev *ev)
{
	__u32 sig = ev->sig, tid = ev->tid, r;
	struct fl_episode *ep;
	__u64 ua, bit;

	if (sig >= FL_SIG__MAX)
		return;
	st->events[sig]++;
	if (ev->failed)
		st->failures[sig]++;
	if (sig >= FL_NR_ADDR_SIGS || !fl_user_addr(ev->addr))
		return;
	ua = ev->addr & addr_mask;

	ep = bpf_map_lookup_elem(&episodes, &tid);
	if (ep) {
		__u8 reason = FL_END_NONE;

		if (ev->now - ep->last_ns > gap_ns)
			reason = FL_END_GAP;
		else if (ep->io_seq != ev->io_seq)
			reason = FL_END_SYSCALL;
		if (reason != FL_END_NONE) {
			fl_close(ctx, st, ep, reason, 0, 0, false, ev->now);
			/* Reuse the slot in place: an update would recycle the
			 * element under our pointer. */
			__builtin_memset(ep, 0, sizeof(*ep));
		}
	} else {
		if (bpf_map_update_elem(&episodes, &tid, &zero_episode,
					BPF_NOEXIST)) {
			st->cnt[FL_CNT_EPISODES_DROPPED]++;
			return;
		}
		ep = bpf_map_lookup_elem(&episodes, &tid);
		if (!ep)
			return;
	}

	if (ep->events == 0) {
		ep->start_ns = ev->now;
		ep->io_seq = ev->io_seq;
		ep->pid = ev->pid;
		ep->tid = tid;
		/* only here: a helper call per event would be wasted */
		ep->cgroup_id = bpf_get_current_cgroup_id();
		st->cnt[FL_CNT_EPISODES]++;
	}
	ep->events++;
	ep->last_ns = ev->now;
	bit = 1ULL << sig;
	if ((bit & FL_FAULT_SIGS) || !(ep->sig_mask & FL_FAULT_SIGS)) {
		ep->addr = ua;	/* untagged on arm64 */
		ep->size = ev->size;
	}

	if (!(ep->sig_mask & bit)) {
		ep->lo[sig] = ua;
		ep->hi[sig] = ua;
	} else if (ua > ep->hi[sig]) {
		ep->hi[sig] = ua;
	} else if (ua < ep->lo[sig]) {
		ep->lo[sig] = ua;
	} else {
		r = ++ep->sig_retries[sig];
		if (r > ep->retries) {
			ep->retries = r;
			ep->top_sig = sig;
			st->cnt[FL_CNT_RETRIES]++;
		}
	}
	ep->sig_mask |= bit;

	if (!(ep->flags & FL_EP_REPORTED)) {
		if (ep->retries < threshold ||
		    ev->now - ep->start_ns < min_duration_ns)
			return;
		ep->flags |= FL_EP_REPORTED;
		ep->last_report_ns = ev->now;
		bpf_get_current_comm(ep->comm, sizeof(ep->comm));
		fl_emit(ctx, st, ep, FL_REPORT_DETECTED, sig, 0, ev->now, ev->now);
		st->cnt[FL_CNT_DETECTED]++;
	} else if (ev->now - ep->last_report_ns >= ongoing_ns) {
		ep->last_report_ns = ev->now;
		fl_emit(ctx, st, ep, FL_REPORT_ONGOING, sig, 0, ev->now, ev->now);
	}
}

/*
 * The task's episode ends here, if it has one: its loop owner returned
 * (has_ret, reason FL_END_OWNER_RETURN), an owner call began, or the task
 * exits.  sig is the signal of the probe that saw it.
 */
static __always_inline void fl_end(void *ctx, struct fl_stats *st, __u32 tid,
				   __u32 sig, __u8 reason, __s64 ret,
				   bool has_ret, __u64 now)
{
	struct fl_episode *ep;

	if (sig >= FL_SIG__MAX)
		return;
	st->events[sig]++;
	if (has_ret && ret < 0)
		st->failures[sig]++;
	ep = bpf_map_lookup_elem(&episodes, &tid);
	if (!ep)
		return;
	fl_close(ctx, st, ep, reason, has_ret ? sig : 0, ret, has_ret, now);
	bpf_map_delete_elem(&episodes, &tid);
}

static __always_inline void fl_owner_exit(void *ctx, struct fl_stats *st,
					  __u32 tid, __u32 owner, __s64 ret,
					  __u64 now)
{
	fl_end(ctx, st, tid, owner, FL_END_OWNER_RETURN, ret, true, now);
}

static __always_inline void fl_boundary(void *ctx, struct fl_stats *st,
					__u32 tid, __u32 sig, __u8 reason,
					__u64 now)
{
	fl_end(ctx, st, tid, sig, reason, 0, false, now);
}

#endif /* FAULTLOOP_CORE_BPF_H */
