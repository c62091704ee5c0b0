/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * faultloop detection core: maps, knobs and the per-task episode logic.
 *
 * Included by bpf/faultloop.bpf.c (the probes) and by the BPF_PROG_TEST_RUN
 * driver in tests/bpf/, so the tests exercise this exact code through the
 * verifier and JIT.  Everything on the event path is O(1).  An episode
 * with no retry lives in a per-CPU slot (struct fl_cur) and costs no
 * clock read and no hash lookup; only a retrying one moves to the hash
 * keyed by tid.  The ring buffer is only written when an episode crosses
 * the threshold (then rate limited).
 */
#ifndef FAULTLOOP_DETECTOR_BPF_H
#define FAULTLOOP_DETECTOR_BPF_H

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
 * complete (README, "Choosing the threshold", has the maxima measured
 * under qemu TCG).  The loader sets it (--min-duration); 0 reports on
 * retries alone. */
const volatile __u64 min_duration_ns = 0;
const volatile __u64 gap_ns = 1000000000ULL;
const volatile __u64 ongoing_ns = 1000000000ULL;
/* arm64 user pointers may carry a tag in bits 56-63 (TBI); compare untagged. */
const volatile __u64 addr_mask = ~0ULL;
/*
 * The coarse clock of the per-CPU slot: ns per jiffy (the loader finds
 * HZ), so a slot event reads bpf_jiffies64(), which the verifier inlines,
 * instead of bpf_ktime_get_ns(), a helper call and the largest single
 * step of the slot's cost (BENCHMARKS.md).  0: HZ unknown, the slot uses ns.
 * gap_j is gap_ns in that clock.
 */
const volatile __u64 jiffy_ns = 0;
const volatile __u64 gap_j = 1000000000ULL;

/* Episodes in the hash, i.e. promoted (retrying) ones.  While it is 0, an
 * event whose task has no slot on this CPU needs no hash lookup.  BPF and
 * user space (the idle sweep) decrement it only after a delete that
 * succeeded, so it never falls short of the truth. */
__u64 nr_promoted = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);	/* loader: --max-tasks */
	__type(key, __u32);
	__type(value, struct fl_episode);
} episodes SEC(".maps");

/* Per CPU: a scratch episode, the copy an ENDED report is made from (see
 * fl_map_close) or the episode an insert is built in (fl_promote,
 * fl_stall_open).  The recursion guard (fl_enter) keeps the stall sampler,
 * which interrupts the probes in hard-irq context, from sharing it. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fl_episode);
} scratch SEC(".maps");

/* The stall sampler's episodes (bpf/stall.bpf.h), keyed by tid; here
 * because each detector checks the other's before it reports. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);	/* loader: --max-tasks */
	__type(key, __u32);
	__type(value, struct fl_episode);
} stalls SEC(".maps");

/* Elements in stalls: task exit and the detector skip the lookup while
 * it is 0. */
__u64 nr_stalls = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fl_stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fl_cur);
} cur SEC(".maps");

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

/* One event, already attributed to a task.  The probes fill it from
 * current; the test driver fills it from its arguments. */
struct fl_ev {
	__u64 now;	/* ns, CLOCK_MONOTONIC; 0 until needed (fl_ev_ns) */
	__u64 now_j;	/* the coarse clock (jiffy_ns) */
	__u64 addr;
	__u64 size;
	__u64 io_seq;	/* the call boundary: fl_task_seq() */
	__u64 sys_seq;	/* its read/write-call part */
	__u64 migr;	/* task->se.nr_migrations */
	__u32 pid;
	__u32 tid;
	__u32 sig;
	bool failed;
	bool join_only;	/* count only, unless the task has an episode */
	__u8 flags;	/* FL_EP_UFFD when the event saw userfaultfd */
	__s8 sigpend;	/* an unblocked signal pending: -1 until needed
			 * (fl_ev_sigpend) */
};

/*
 * bpf_get_current_task_btf() (5.11, 3ca1032ab7ab) gives a pointer the
 * program may dereference with plain loads; each event takes it once.  On
 * 5.10 we fall back to bpf_get_current_task() and bpf_probe_read_kernel(),
 * which itself runs under pagefault_disable() (copy_from_kernel_nofault)
 * and so reads pagefault_disabled one too high.  The enum test is a CO-RE
 * constant: the verifier drops the branch this kernel does not take.
 */
#define FL_HAVE_TASK_BTF \
	bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf)

static __always_inline struct task_struct *fl_current(void)
{
	if (FL_HAVE_TASK_BTF)
		return bpf_get_current_task_btf();
	return (void *)bpf_get_current_task();
}

/*
 * An unblocked signal is pending for t: a signal queued to the thread or
 * its process that t does not block.  That is the condition under which
 * recalc_sigpending_tsk() and complete_signal() (kernel/signal.c, every
 * kernel) set TIF_SIGPENDING, which signal_pending() tests: what makes
 * __schedule() leave an interruptible task on its runqueue
 * (signal_pending_state()), so that handle_userfault()'s schedule() does
 * not sleep and the fault retries at once.  A blocked signal (a daemon
 * taking it with sigwait) leaves TIF_SIGPENDING clear: the task sleeps in
 * handle_userfault() and nothing loops.  _NSIG is 64 on x86_64 and arm64:
 * word 0 is every signal.  Read when a report is made, per stall sample,
 * and when a task's call boundary moved, never per plain event.
 */
static __always_inline bool fl_task_sigpend(struct task_struct *t)
{
	__u64 pend, shared, blocked;

	if (FL_HAVE_TASK_BTF) {
		pend = t->pending.signal.sig[0];
		shared = t->signal->shared_pending.signal.sig[0];
		blocked = t->blocked.sig[0];
	} else {
		pend = BPF_CORE_READ(t, pending.signal.sig[0]);
		shared = BPF_CORE_READ(t, signal, shared_pending.signal.sig[0]);
		blocked = BPF_CORE_READ(t, blocked.sig[0]);
	}
	return (pend | shared) & ~blocked;
}

static __always_inline bool fl_ev_sigpend(struct fl_ev *ev)
{
	if (ev->sigpend < 0)
		ev->sigpend = fl_task_sigpend(fl_current());
	return ev->sigpend;
}

/* The precise clock, read once per event and only when needed: on the
 * hash path and for reports. */
static __always_inline __u64 fl_ev_ns(struct fl_ev *ev)
{
	if (!ev->now)
		ev->now = bpf_ktime_get_ns();
	return ev->now;
}

static __always_inline __u64 fl_now(__u64 now)
{
	return now ? now : bpf_ktime_get_ns();
}

static __always_inline __u64 fl_coarse_now(void)
{
	return jiffy_ns ? bpf_jiffies64() : bpf_ktime_get_ns();
}

static __always_inline __u64 fl_coarse_ns(__u64 d)
{
	return jiffy_ns ? d * jiffy_ns : d;
}

static __always_inline struct fl_stats *fl_stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&stats, &zero);
}

static __always_inline struct fl_cur *fl_cur(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cur, &zero);
}

static __always_inline struct fl_episode *fl_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch, &zero);
}

/*
 * The per-CPU recursion guard (retsnoop's, per CPU rather than per
 * program): the detector's per-CPU state (the slot, the scratch episode,
 * the stats) belongs to one program at a time.  The stall sampler runs
 * from a cpu-clock perf event, in hard-irq context, and can land in the
 * middle of a probe on the same CPU; a probe can also preempt another
 * where tracing programs are preemptible (PREEMPT_RT, fentry under
 * preempt=full).  Whoever finds the CPU busy skips its event or sample and
 * counts it (FL_CNT_NESTED, atomically: the owner may be mid-increment).
 * NULL: skip.  A plain load and store suffice: an interrupter that got in
 * has left busy as it found it before the interrupted program runs on.
 */
static __always_inline struct fl_cur *fl_enter(struct fl_stats *st)
{
	struct fl_cur *c = fl_cur();

	if (!c)
		return NULL;
	if (c->busy) {
		__sync_fetch_and_add(&st->cnt[FL_CNT_NESTED], 1);
		return NULL;
	}
	c->busy = 1;
	return c;
}

static __always_inline void fl_exit(struct fl_cur *c)
{
	c->busy = 0;
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

/* Reserve and fill a report of ep; NULL when the ring buffer is full
 * (counted).  The caller submits it (fl_submit) or discards it. */
static __always_inline struct fl_report *fl_report(void *ctx, struct fl_stats *st,
						   const struct fl_episode *ep,
						   __u8 kind, __u32 last_sig,
						   __u8 reason, __u64 now,
						   __u64 end_ns)
{
	struct fl_report *r;

	r = bpf_ringbuf_reserve(&reports, sizeof(*r), 0);
	if (!r) {
		st->cnt[FL_CNT_REPORTS_LOST]++;
		return NULL;
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
	r->samples = ep->samples;
	r->events = ep->events;
	r->sig_mask = ep->sig_mask;
	r->owner_ret = ep->owner_ret;
	__builtin_memcpy(r->comm, ep->comm, sizeof(r->comm));
	/* The stack of the event that made the report: for DETECTED/ONGOING
	 * that is inside the loop, so it names the loop owner; for an owner's
	 * return it shows its caller.  An episode closed by the task's next
	 * event, its exit or the sweep gets none: that stack belongs to
	 * something else. */
	if (kind != FL_REPORT_ENDED || reason == FL_END_OWNER_RETURN)
		r->stack_sz = bpf_get_stack(ctx, r->stack, sizeof(r->stack), 0);
	else
		r->stack_sz = 0;
	return r;
}

static __always_inline void fl_submit(struct fl_stats *st, struct fl_report *r)
{
	bpf_ringbuf_submit(r, 0);
	st->cnt[FL_CNT_REPORTS]++;
}

/*
 * An episode in map (the episodes hash, or the stall sampler's) ends: its
 * ENDED report (if it had crossed) and its accounting happen only if this
 * side's delete succeeds; *live counts the map's elements.  The idle
 * sweep (fl_sweep_one, run by user space) races with the probes; whoever
 * deletes the element owns the end, so an episode is reported ended once.
 * Returns whether this side ended it.
 */
/* Delete tid's element from map; only if that succeeds, account for the
 * end (*live counts the map's elements).  Whether it did. */
static __always_inline bool fl_map_end(struct fl_stats *st, void *map, __u64 *live,
				       __u32 tid, __u8 reason, __u64 retries, __u64 dur)
{
	if (bpf_map_delete_elem(map, &tid))
		return false;
	__sync_fetch_and_add(live, -1);
	if (reason < FL_END__MAX)
		st->ended[reason]++;
	st->hist_retries[fl_slot(retries)]++;
	st->hist_duration_us[fl_slot(dur / 1000)]++;
	st->sum_retries += retries;
	st->sum_duration_ns += dur;
	return true;
}

static __always_inline bool fl_map_close(void *ctx, struct fl_stats *st,
					 void *map, __u64 *live,
					 struct fl_episode *ep, __u32 tid,
					 __u8 reason, __u32 owner, __s64 ret,
					 bool has_ret, __u64 now)
{
	/* A loop that went quiet ended at its last event, not when we noticed. */
	__u64 end = (reason == FL_END_GAP || reason == FL_END_SYSCALL ||
		     reason == FL_END_PROGRESS) ? ep->last_ns : now;
	/* Never a wrapped duration: an element is inserted whole (fl_promote,
	 * fl_stall_open), so end < start would be a bug, not a long loop. */
	__u64 dur = end > ep->start_ns ? end - ep->start_ns : 0;
	/* A stall's retries histogram entry is none: it counts samples
	 * (struct fl_episode), and a stall has no retry. */
	__u64 retries = ep->retries;
	struct fl_episode *last;
	struct fl_report *r;

	if (!(ep->flags & FL_EP_REPORTED))
		return fl_map_end(st, map, live, tid, reason, retries, dur);
	/* Another CPU may reuse ep once it is deleted, and only the side
	 * whose delete wins may report: keep a copy, delete, then report
	 * from the copy.  (Reserving first and discarding on a lost delete
	 * was rejected by the 6.1 verifier: "Unreleased reference".) */
	last = fl_scratch();
	if (!last) {
		st->cnt[FL_CNT_REPORTS_LOST]++;
		return fl_map_end(st, map, live, tid, reason, retries, dur);
	}
	__builtin_memcpy(last, ep, sizeof(*last));
	if (!fl_map_end(st, map, live, tid, reason, retries, dur))
		return false;
	last->owner = owner;
	if (has_ret) {
		last->owner_ret = ret;
		last->flags |= FL_EP_HAS_RET;
	}
	r = fl_report(ctx, st, last, FL_REPORT_ENDED, owner, reason, now, end);
	if (r)
		fl_submit(st, r);
	return true;
}

static __always_inline bool fl_ep_close(void *ctx, struct fl_stats *st,
					struct fl_episode *ep, __u32 tid,
					__u8 reason, __u32 owner, __s64 ret,
					bool has_ret, __u64 now)
{
	return fl_map_close(ctx, st, &episodes, &nr_promoted, ep, tid, reason,
			    owner, ret, has_ret, now);
}

/* sig's covered range [lo[sig], hi[sig]] takes ua in (see struct
 * fl_episode); true when ua was inside it already: a retry, and nothing
 * changes.  mask: the signals the episode has seen. */
static __always_inline bool fl_cover(__u64 *lo, __u64 *hi, __u64 mask,
				     __u32 sig, __u64 ua)
{
	if (!(mask & (1ULL << sig))) {
		lo[sig] = ua;
		hi[sig] = ua;
	} else if (ua > hi[sig]) {
		hi[sig] = ua;
	} else if (ua < lo[sig]) {
		lo[sig] = ua;
	} else {
		return true;
	}
	return false;
}

/* One loop, one report: the retry detector and the stall sampler may
 * both see it; the first to report owns it, the other stays silent
 * (FL_EP_SHADOW).  The task's episode in the other detector, not yet
 * reported, is the same loop seen from elsewhere, and its evidence counts
 * for this report: FL_EP_UFFD from the fault probe's VMA or from a sample
 * in handle_userfault() (on 5.10 arm64 the sampler crossed first, none of
 * its samples yet in handle_userfault(), and named no known bug though
 * handle_mm_fault's kprobe had seen the VMA).  One lookup, only when an
 * episode crosses. */
static __always_inline bool fl_reported_elsewhere(struct fl_episode *ep, void *map, __u64 live)
{
	struct fl_episode *o;
	__u32 tid = ep->tid;

	if (!live)
		return false;
	o = bpf_map_lookup_elem(map, &tid);
	if (!o)
		return false;
	if (o->flags & FL_EP_REPORTED)
		return true;
	ep->flags |= o->flags & FL_EP_UFFD;
	return false;
}

/*
 * The report an episode owes now, made: DETECTED the first time it is a
 * loop (ready) unless the other detector (other map, other_live of its
 * elements) reported the task first, then ONGOING at most every
 * ongoing_ns.  sig: the signal of the event that made it.
 */
static __always_inline void fl_report_due(void *ctx, struct fl_stats *st,
					  struct fl_episode *ep, bool ready,
					  void *other, __u64 other_live,
					  __u32 sig, __u64 now)
{
	struct fl_report *r;
	__u8 kind;

	if (!(ep->flags & FL_EP_REPORTED)) {
		if (!ready || (ep->flags & FL_EP_SHADOW))
			return;
		if (fl_reported_elsewhere(ep, other, other_live)) {
			ep->flags |= FL_EP_SHADOW;
			return;
		}
		ep->flags |= FL_EP_REPORTED;
		bpf_get_current_comm(ep->comm, sizeof(ep->comm));
		st->cnt[FL_CNT_DETECTED]++;
		kind = FL_REPORT_DETECTED;
	} else if (now - ep->last_report_ns >= ongoing_ns) {
		kind = FL_REPORT_ONGOING;
	} else {
		return;
	}
	ep->last_report_ns = now;
	if (fl_task_sigpend(fl_current()))
		ep->flags |= FL_EP_SIGPEND;
	r = fl_report(ctx, st, ep, kind, sig, 0, now, now);
	if (r)
		fl_submit(st, r);
}

/* Whether sig's address becomes the episode's: see FL_FAULT_SIGS. */
static __always_inline bool fl_takes_addr(__u64 mask, __u32 sig)
{
	return ((1ULL << sig) & FL_FAULT_SIGS) || !(mask & FL_FAULT_SIGS);
}

/* An episode in the slot ends: it had no retry and was never reported. */
static __always_inline void fl_cur_close(struct fl_stats *st, struct fl_cur *c,
					 __u8 reason)
{
	__u64 d = fl_coarse_ns(c->last_j - c->start_j);

	c->live = 0;
	if (reason < FL_END__MAX)
		st->ended[reason]++;
	st->hist_retries[0]++;
	/* mostly 0 (one write, one jiffy): no division then */
	st->hist_duration_us[d ? fl_slot(d / 1000) : 0]++;
	st->sum_duration_ns += d;
}

static __always_inline void fl_cur_open(struct fl_stats *st, struct fl_cur *c,
					const struct fl_ev *ev, __u32 sig, __u64 ua)
{
	c->io_seq = ev->io_seq;
	c->sys_seq = ev->sys_seq;
	c->migr = ev->migr;
	c->start_j = ev->now_j;
	c->last_j = ev->now_j;
	c->addr = ua;
	c->size = ev->size;
	c->sig_mask = 1ULL << sig;
	c->pid = ev->pid;
	c->tid = ev->tid;
	c->events = 1;
	c->live = 1;
	c->lo[sig] = ua;
	c->hi[sig] = ua;
	st->cnt[FL_CNT_EPISODES]++;
}

/* Add an event to the slot's episode.  True when it is a retry: the same
 * signal inside the range it already covered (see struct fl_episode); the
 * slot is then left as it was, for the promotion to copy. */
static __always_inline bool fl_cur_add(struct fl_cur *c, const struct fl_ev *ev,
				       __u32 sig, __u64 ua)
{
	if (fl_cover(c->lo, c->hi, c->sig_mask, sig, ua))
		return true;
	if (fl_takes_addr(c->sig_mask, sig)) {
		c->addr = ua;	/* untagged on arm64 */
		c->size = ev->size;
	}
	c->sig_mask |= 1ULL << sig;
	c->events++;
	c->last_j = ev->now_j;
	return false;
}

/* A new element for tid in map, built whole in the scratch episode by the
 * caller and inserted with BPF_NOEXIST: the idle sweep, on another CPU,
 * may look at an element as soon as it is in the map, and one inserted
 * zeroed and filled afterwards showed it start_ns set and last_ns 0 (a
 * duration of 0 - start_ns, 1.8e19 ns, in the sums).  *live counts the
 * map's elements.  NULL when the map is full (counted). */
static __always_inline struct fl_episode *fl_map_insert(struct fl_stats *st, void *map,
							__u64 *live, __u32 tid,
							struct fl_episode *fresh)
{
	struct fl_episode *ep;
	long err;

	err = bpf_map_update_elem(map, &tid, fresh, BPF_NOEXIST);
	if (!err)
		__sync_fetch_and_add(live, 1);
	ep = bpf_map_lookup_elem(map, &tid);
	if (!ep)
		st->cnt[FL_CNT_EPISODES_DROPPED]++;
	/* EEXIST is not reachable while *live is exact (the task had no
	 * element when it began this one); should it happen, that element
	 * carries on. */
	return ep;
}

/* The slot's episode saw its first retry: move it into the hash. */
static __always_inline struct fl_episode *fl_promote(void *ctx, struct fl_stats *st,
						     struct fl_cur *c, struct fl_ev *ev)
{
	struct fl_episode *ep = fl_scratch();
	__u64 now = fl_ev_ns(ev);

	if (!ep)
		return NULL;
	__builtin_memset(ep, 0, sizeof(*ep));
	ep->start_ns = now - fl_coarse_ns(ev->now_j - c->start_j);
	ep->last_ns = now;	/* fl_ep_add() moves it on with this event */
	ep->io_seq = c->io_seq;
	ep->sys_seq = c->sys_seq;
	ep->addr = c->addr;
	ep->size = c->size;
	ep->cgroup_id = bpf_get_current_cgroup_id();
	ep->pid = c->pid;
	ep->tid = c->tid;
	ep->events = c->events;
	ep->sig_mask = c->sig_mask;
	__builtin_memcpy(ep->lo, c->lo, sizeof(ep->lo));
	__builtin_memcpy(ep->hi, c->hi, sizeof(ep->hi));
	ep = fl_map_insert(st, &episodes, &nr_promoted, c->tid, ep);
	if (ep)		/* map full: the slot stays, the next retry tries again */
		c->live = 0;
	return ep;
}

/* One more event for an episode in the hash: retries, threshold, reports. */
static __always_inline void fl_ep_add(void *ctx, struct fl_stats *st,
				      struct fl_episode *ep, struct fl_ev *ev,
				      __u32 sig, __u64 ua)
{
	__u64 now = fl_ev_ns(ev);
	bool seen = ep->sig_mask & (1ULL << sig);
	__u32 n;

	ep->events++;
	ep->last_ns = now;
	ep->flags |= ev->flags;
	if (fl_takes_addr(ep->sig_mask, sig)) {
		ep->addr = ua;
		ep->size = ev->size;
	}
	if (fl_cover(ep->lo, ep->hi, ep->sig_mask, sig, ua)) {
		n = ++ep->sig_retries[sig];
		if (n > ep->retries) {
			ep->retries = n;
			ep->top_sig = sig;
			st->cnt[FL_CNT_RETRIES]++;
		}
	} else if (seen && !(ep->flags & FL_EP_REPORTED)) {
		/*
		 * Progress: the copy got past everything it had touched.  A
		 * live-lock fails at the same place for ever (the MTE granule
		 * of search_ioctl(), the page GUP faults again); a storm under
		 * a racing munmap/madvise moves on, retrying a while at each
		 * place.  Retries and duration count from the last progress,
		 * so a long call that keeps advancing (a btrfs tree search
		 * over a buffer being discarded, slowed by a busy host) is
		 * never one loop.  Promoted episodes only: no cost per plain
		 * fault.
		 */
		ep->start_ns = now;
		ep->retries = 0;
		__builtin_memset(ep->sig_retries, 0, sizeof(ep->sig_retries));
	}
	ep->sig_mask |= 1ULL << sig;

	fl_report_due(ctx, st, ep, ep->retries >= threshold &&
		      now - ep->start_ns >= min_duration_ns, &stalls, nr_stalls, sig, now);
}

/*
 * Whether the task left its call between two of its events: the call
 * boundary (fl_task_seq: read/write calls, and sleeps where they count)
 * moved from *io_seq, the episode's, to ev's.  Called only when it moved.
 * A read/write call that began always ends the episode.  A sleep does
 * (a task that blocked in wait4() or on I/O has left whatever loop it was
 * in), except one with an unblocked signal pending: __schedule() leaves
 * an interruptible task with signal_pending() on its runqueue
 * (signal_pending_state(), kernel/sched/core.c, every kernel), so the
 * switch is the loop's own schedule() that did not sleep (the userfaultfd
 * loop's, counted in nvcsw whenever another task got the CPU: it split
 * one loop into DETECTED, ENDED next_call, and a second DETECTED).  A
 * task that went back to user space took its unblocked signals there.
 * Then the episode carries on from the new value.
 */
static __always_inline bool fl_left_call(struct fl_ev *ev, __u64 *io_seq, __u64 sys_seq)
{
	if (sys_seq != ev->sys_seq || !fl_ev_sigpend(ev))
		return true;
	*io_seq = ev->io_seq;
	return false;
}

/*
 * The detector.  Called for every address-carrying event that passed the
 * filters.  A task's episode opens with its first event and collects
 * retries until its owner returns, it goes idle for gap_ns, the task
 * starts another read/write syscall or sleeps (io_seq moved) or exits.
 * It opens in this CPU's slot; if the task leaves the CPU before it
 * retries, it ends there (FL_END_LEFT_CPU).  A live-lock retries many
 * times within one time slice, and once promoted its episode follows it.
 */
static __always_inline void fl_event(void *ctx, struct fl_stats *st,
				     struct fl_cur *c, struct fl_ev *ev)
{
	__u32 sig = ev->sig, tid = ev->tid;
	struct fl_episode *ep;
	__u8 reason;
	__u64 ua;

	/* bounds check and index in one register: clang may otherwise test
	 * one copy and index with another, which the verifier rejects */
	barrier_var(sig);
	if (sig >= FL_SIG__MAX)
		return;
	st->events[sig]++;
	if (ev->failed)
		st->failures[sig]++;
	if (sig >= FL_NR_ADDR_SIGS || !fl_user_addr(ev->addr))
		return;
	ua = ev->addr & addr_mask;

	if (c->live && c->tid == tid) {
		reason = FL_END_NONE;
		if (ev->now_j - c->last_j > gap_j)
			reason = FL_END_GAP;
		else if (c->io_seq != ev->io_seq &&
			 fl_left_call(ev, &c->io_seq, c->sys_seq))
			reason = FL_END_SYSCALL;
		else if (c->migr != ev->migr)
			reason = FL_END_LEFT_CPU;
		if (reason == FL_END_NONE) {
			if (!fl_cur_add(c, ev, sig, ua))
				return;		/* the common case */
			ep = fl_promote(ctx, st, c, ev);
			if (!ep)
				return;
			goto add;
		}
		fl_cur_close(st, c, reason);
	}

	if (nr_promoted) {
		ep = bpf_map_lookup_elem(&episodes, &tid);
		if (ep) {
			__u64 now = fl_ev_ns(ev);

			reason = FL_END_NONE;
			if (now - ep->last_ns > gap_ns)
				reason = FL_END_GAP;
			else if (ep->io_seq != ev->io_seq &&
				 fl_left_call(ev, &ep->io_seq, ep->sys_seq))
				reason = FL_END_SYSCALL;
			if (reason == FL_END_NONE)
				goto add;
			fl_ep_close(ctx, st, ep, tid, reason, 0, 0, false, now);
		}
	}

	if (ev->join_only)
		return;
	if (c->live)	/* another task's: it left this CPU without a retry */
		fl_cur_close(st, c, FL_END_LEFT_CPU);
	fl_cur_open(st, c, ev, sig, ua);
	return;
add:	/* one copy of the report path in the program, not one per caller */
	fl_ep_add(ctx, st, ep, ev, sig, ua);
}

/*
 * The task's episode ends here, if it has one: its loop owner returned
 * (has_ret, reason FL_END_OWNER_RETURN), an owner call began, or the task
 * exits (then its stall too, if any).  sig is the signal of the probe that
 * saw it.  now: 0 reads the clock, only if there is an episode to end.
 */
static __always_inline void fl_end(void *ctx, struct fl_stats *st, struct fl_cur *c,
				   __u32 tid, __u32 sig, __u8 reason, __s64 ret,
				   bool has_ret, __u64 now)
{
	struct fl_episode *ep;

	if (sig >= FL_SIG__MAX)
		return;
	st->events[sig]++;
	if (has_ret && ret < 0)
		st->failures[sig]++;
	if (c->live && c->tid == tid)
		fl_cur_close(st, c, reason);
	if (reason == FL_END_TASK_EXIT && nr_stalls) {
		ep = bpf_map_lookup_elem(&stalls, &tid);
		if (ep)
			fl_map_close(ctx, st, &stalls, &nr_stalls, ep, tid, reason, 0, 0,
				     false, fl_now(now));
	}
	if (!nr_promoted)
		return;
	ep = bpf_map_lookup_elem(&episodes, &tid);
	if (!ep)
		return;
	fl_ep_close(ctx, st, ep, tid, reason, has_ret ? sig : 0, ret, has_ret,
		    fl_now(now));
}

/*
 * The idle sweep, which user space runs with BPF_PROG_TEST_RUN (fl_sweep
 * in bpf/faultloop.bpf.c) for each key of the episodes hash: a task that
 * stopped producing events sends none to close its episode.  all:
 * faultloop is detaching, end every episode.  now: 0 reads the clock.
 * The probes' own close (fl_ep_close): one report path, and only the side
 * whose delete wins reports.
 *
 * The sweep runs on another CPU than the task, and the hashes are
 * preallocated: an element deleted here is reused by the next insert at
 * once, so a probe that had looked it up would write into another task's
 * episode.  A probe keeps an episode whose last event is at most gap old
 * (fl_event); the sweep takes only one idle for gap and half a gap more
 * (FL_SWEEP_SLACK), so a probe that passed its own test was still inside
 * its event half a gap later for the two to meet: more than a BPF program
 * runs, even preempted (tracing programs run with preemption off outside
 * PREEMPT_RT and fentry under preempt=full).  The ENDED report's end time
 * is the last event either way; it comes up to half a gap later.
 */
#define FL_SWEEP_SLACK(gap)	((gap) + (gap) / 2)

static __always_inline bool fl_sweep_map(void *ctx, void *map, __u64 *live, __u64 gap,
					 __u32 tid, bool all, __u64 now)
{
	struct fl_stats *st = fl_stats();
	struct fl_episode *ep;
	struct fl_cur *c;
	bool ended = false;

	if (!st)
		return false;
	c = fl_enter(st);
	if (!c)
		return false;
	now = fl_now(now);
	ep = bpf_map_lookup_elem(map, &tid);
	/* last_ns may be newer than now: its task runs on another CPU */
	if (ep && (all || (ep->last_ns < now && now - ep->last_ns > FL_SWEEP_SLACK(gap))))
		ended = fl_map_close(ctx, st, map, live, ep, tid,
				     all ? FL_END_DETACH : FL_END_GAP, 0, 0, false, now);
	fl_exit(c);
	return ended;
}

static __always_inline bool fl_sweep_one(void *ctx, __u32 tid, bool all, __u64 now)
{
	return fl_sweep_map(ctx, &episodes, &nr_promoted, gap_ns, tid, all, now);
}

#endif /* FAULTLOOP_DETECTOR_BPF_H */
