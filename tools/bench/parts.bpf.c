// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Where faultloop's per-event time goes: its page_fault_kernel program
 * rebuilt step by step, each program one step more than the one before
 * (tools/bench/parts runs each alone and reads its ns/run).  The detector
 * (fl_event), the glue and the maps are the real ones (bpf/detector.bpf.h,
 * bpf/probe.bpf.h).  The steps take the detector's path for every fault,
 * without the atomic-fault gate; "gate" is the gate alone, as a kernel
 * fault with page faults enabled takes it, and "prog" is faultloop's
 * page_fault_kernel program itself.
 */
#include "probe.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

volatile __u64 sink;

/* The previous choices for single steps, each measured against the step it
 * replaces: what the current hot path saves */
#define OLD_PID		1	/* 3: bpf_get_current_pid_tgid(), a helper call */
#define OLD_KTIME	2	/* 4: bpf_ktime_get_ns() on every event */
#define OLD_HASH	4	/* 6: the episode hash lookup by tid (insert on a miss) */

static const struct fl_episode zero_ep;	/* OLD_HASH's insert */

static __always_inline int steps(void *ctx, __u64 address, const int upto, const int alt)
{
	struct task_struct *t;
	struct fl_stats *st;
	struct fl_ev ev = {};
	__u32 sig = FL_SIG_PF_KERNEL;
	struct fl_cur *c;
	__u64 id;

	if (upto < 1)
		return 0;
	/* 1: user address? atomic or not (task->pagefault_disabled) */
	if (!fl_user_addr(address))
		return 0;
	t = bpf_get_current_task_btf();
	if (t->pagefault_disabled > 0)
		sig = FL_SIG_PF_KERNEL_ATOMIC;
	if (upto < 2) {
		sink = sig;
		return 0;
	}
	/* 2: per-CPU stats slot, events[sig]++ */
	st = fl_stats();
	if (!st)
		return 0;
	if (upto < 3) {
		st->events[sig]++;
		return 0;
	}
	/* 3: tid/tgid */
	if (alt & OLD_PID)
		id = bpf_get_current_pid_tgid();
	else
		id = (__u64)t->tgid << 32 | (__u32)t->pid;
	if (upto < 4) {
		st->events[sig]++;
		sink = id;
		return 0;
	}
	/* 4: the clock */
	if (alt & OLD_KTIME)
		ev.now_j = bpf_ktime_get_ns();
	else
		ev.now_j = bpf_jiffies64();
	if (upto < 5) {
		st->events[sig]++;
		sink = id + ev.now_j;
		return 0;
	}
	/* 5: io_seq and nr_migrations from the task */
	ev.sys_seq = t->ioac.syscr + t->ioac.syscw;
	ev.io_seq = ev.sys_seq + t->nvcsw;
	ev.migr = t->se.nr_migrations;
	if (upto < 6) {
		st->events[sig]++;
		sink = id + ev.now_j + ev.io_seq + ev.migr;
		return 0;
	}
	ev.addr = address;
	ev.pid = id >> 32;
	ev.tid = (__u32)id;
	ev.sig = sig;
	/* 6: the per-task state, nothing else */
	if (upto < 7) {
		__u32 tid = ev.tid;
		struct fl_episode *ep;

		st->events[sig]++;
		if (alt & OLD_HASH) {
			ep = bpf_map_lookup_elem(&episodes, &tid);
			if (!ep) {
				bpf_map_update_elem(&episodes, &tid, &zero_ep, BPF_NOEXIST);
				return 0;
			}
			sink = ep->events + ev.now_j + ev.io_seq;
			return 0;
		}
		c = fl_cur();
		if (!c)
			return 0;
		if (c->live && c->tid == tid && c->io_seq == ev.io_seq && c->migr == ev.migr) {
			sink = c->events + ev.now_j;
			return 0;
		}
		c->tid = tid;
		c->io_seq = ev.io_seq;
		c->migr = ev.migr;
		c->live = 1;
		return 0;
	}
	/* 7: everything: the recursion guard and fl_event() as faultloop
	 * runs them */
	ev.sigpend = -1;
	c = fl_enter(st);
	if (!c)
		return 0;
	fl_event(ctx, st, c, &ev);
	fl_exit(c);
	return 0;
}

#define STEP(name, n, alt)							\
SEC("tp_btf/page_fault_kernel")							\
int BPF_PROG(name, unsigned long address, struct pt_regs *regs,		\
	     unsigned long error_code)						\
{										\
	return steps(ctx, address, n, alt);					\
}

/* faultloop's gate (fl_pf_sig) and its count, never the detector: what a
 * fault that only counts costs */
static __always_inline int gate(void *ctx, __u64 address)
{
	struct task_struct *t;

	if (!fl_user_addr(address))
		return fl_probe_count(FL_SIG_PF_KERNEL, false);
	t = fl_current();
	sink = fl_pf_sig(t, (__u32)fl_task_id(t), address);
	return fl_probe_count(FL_SIG_PF_KERNEL, false);
}

SEC("tp_btf/page_fault_kernel")
int BPF_PROG(gate_only, unsigned long address, struct pt_regs *regs,
	     unsigned long error_code)
{
	return gate(ctx, address);
}

volatile __u32 never;

/* the gate, plus the detector behind a branch that is never taken */
SEC("tp_btf/page_fault_kernel")
int BPF_PROG(gate_big, unsigned long address, struct pt_regs *regs,
	     unsigned long error_code)
{
	if (never)
		return fl_probe_event(ctx, FL_SIG_PF_KERNEL, address, 0, false);
	return gate(ctx, address);
}

/* the gate, with a stack frame of BYTES behind a branch never taken (MASK
 * keeps the index in it): kernels from 6.13 give tracing programs with a
 * frame of 64 bytes or more a private stack */
#define GATE_FRAME(name, BYTES, MASK)						\
SEC("tp_btf/page_fault_kernel")							\
int BPF_PROG(name, unsigned long address, struct pt_regs *regs,		\
	     unsigned long error_code)						\
{										\
	if (never) {								\
		char buf[BYTES];						\
										\
		__builtin_memset(buf, never, sizeof(buf));			\
		bpf_probe_read_kernel(buf, sizeof(buf), (void *)address);	\
		sink = buf[never & (MASK)];					\
		return 0;							\
	}									\
	return gate(ctx, address);						\
}

GATE_FRAME(gate_stack, 256, 255)
GATE_FRAME(gate_stack48, 40, 31)

SEC("tp_btf/page_fault_kernel")
int BPF_PROG(prog, unsigned long address, struct pt_regs *regs,
	     unsigned long error_code)
{
	return fl_pf_kernel(ctx, address);
}

STEP(step0, 0, 0)
STEP(step1, 1, 0)
STEP(step2, 2, 0)
STEP(step3, 3, 0)
STEP(step4, 4, 0)
STEP(step5, 5, 0)
STEP(step6, 6, 0)
STEP(step7, 7, 0)
STEP(old_pid, 3, OLD_PID)
STEP(old_ktime, 4, OLD_KTIME)
STEP(old_hash, 6, OLD_HASH)
STEP(old_all, 6, OLD_PID | OLD_KTIME | OLD_HASH)
