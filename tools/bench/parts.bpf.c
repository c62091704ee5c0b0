// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Where faultloop's per-event time goes: its page_fault_kernel program
 * rebuilt step by step, each program one step more than the one before
 * (tools/bench/parts runs each alone and reads its ns/run).  The detector
 * itself (fl_event) and the maps are the real ones from bpf/core.bpf.h; the
 * probe glue mirrors fl_pf_kernel() / fl_probe_event() in
 * bpf/faultloop.bpf.c for the tp_btf attach mode on a 6.x kernel.
 */
#include "core.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

volatile __u64 sink;
extern int CONFIG_HZ __kconfig;

/* Alternatives for single steps, each measured against the step it replaces */
#define ALT_PID		1	/* 3: tid/tgid loaded from the task, no helper call */
#define ALT_JIFFIES	2	/* 4: bpf_jiffies64() (5.5; inlined by the verifier),
				 * as ns.  (bpf_ktime_get_coarse_ns() is refused
				 * in tracing programs.) */
#define ALT_TLS		4	/* 6: task-local storage (5.11) instead of the tid hash */

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct fl_episode);
} ep_tls SEC(".maps");

static __always_inline int steps(void *ctx, __u64 address, const int upto, const int alt)
{
	struct task_struct *t;
	struct fl_stats *st;
	struct fl_ev ev = {};
	__u32 sig = FL_SIG_PF_KERNEL;
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
	/* 3: bpf_get_current_pid_tgid() */
	if (alt & ALT_PID)
		id = (__u64)t->tgid << 32 | (__u32)t->pid;
	else
		id = bpf_get_current_pid_tgid();
	if (upto < 4) {
		st->events[sig]++;
		sink = id;
		return 0;
	}
	/* 4: bpf_ktime_get_ns() */
	if (alt & ALT_JIFFIES)
		ev.now = bpf_jiffies64() * (1000000000ULL / CONFIG_HZ);
	else
		ev.now = bpf_ktime_get_ns();
	if (upto < 5) {
		st->events[sig]++;
		sink = id + ev.now;
		return 0;
	}
	/* 5: io_seq from the task (a second bpf_get_current_task_btf()) */
	if (!(alt & ALT_PID))
		t = bpf_get_current_task_btf();
	ev.io_seq = t->nvcsw + t->ioac.syscr + t->ioac.syscw;
	if (upto < 6) {
		st->events[sig]++;
		sink = id + ev.now + ev.io_seq;
		return 0;
	}
	ev.addr = address;
	ev.pid = id >> 32;
	ev.tid = (__u32)id;
	ev.sig = sig;
	/* 6: the episode's hash lookup (insert on a miss), nothing else */
	if (upto < 7) {
		__u32 tid = ev.tid;
		struct fl_episode *ep;

		st->events[sig]++;
		if (alt & ALT_TLS) {
			ep = bpf_task_storage_get(&ep_tls, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
			if (!ep)
				return 0;
		} else {
			ep = bpf_map_lookup_elem(&episodes, &tid);
			if (!ep) {
				bpf_map_update_elem(&episodes, &tid, &zero_episode, BPF_NOEXIST);
				return 0;
			}
		}
		sink = ep->events + ev.now + ev.io_seq;
		return 0;
	}
	/* 7: everything: fl_event() as faultloop runs it */
	fl_event(ctx, st, &ev);
	return 0;
}

#define STEP(name, n, alt)							\
SEC("tp_btf/page_fault_kernel")							\
int BPF_PROG(name, unsigned long address, struct pt_regs *regs,		\
	     unsigned long error_code)						\
{										\
	return steps(ctx, address, n, alt);					\
}

STEP(step0, 0, 0)
STEP(step1, 1, 0)
STEP(step2, 2, 0)
STEP(step3, 3, 0)
STEP(step4, 4, 0)
STEP(step5, 5, 0)
STEP(step6, 6, 0)
STEP(step7, 7, 0)
STEP(alt_pid, 3, ALT_PID)
STEP(alt_jiffies, 4, ALT_JIFFIES)
STEP(alt_tls, 6, ALT_TLS)
STEP(alt_all, 6, ALT_PID | ALT_JIFFIES | ALT_TLS)
