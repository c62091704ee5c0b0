// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * BPF_PROG_TEST_RUN driver for the detector: feeds synthetic events into
 * the same detector.bpf.h code the probes use, through the real verifier and
 * JIT.  args[]: op, sig, tid, addr, now (ns), io_seq, ret/pid, migrations,
 * the read/write-call part of io_seq + 1 (0: all of it), signal pending.
 * The coarse clock is now / jiffy_ns, as the test sets it.
 * FL_TEST_PF_GATE runs the page_fault_kernel gate (bpf/probe.bpf.h),
 * which includes the detector.
 */
#include "stall.bpf.h"
#include "detect_test.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* FL_TEST_PF_GATE's result */
__u32 gate_sig = 0;

SEC("raw_tp/detector_test")
int detector_test(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 op = ctx->args[0], sig = ctx->args[1], tid = ctx->args[2];
	__u64 now = ctx->args[4];
	struct fl_stats *st = fl_stats();
	struct fl_ev ev = {};
	struct fl_cur *c;
	int ret = 0;

	if (!st)
		return 1;
	/* the sweeps and the sampler take the guard themselves */
	if (op == FL_TEST_SWEEP)
		return fl_sweep_one(ctx, tid, ctx->args[5], now) ? 0 : 3;
	if (op == FL_TEST_STALL_SWEEP)
		return fl_stall_sweep_one(ctx, tid, ctx->args[5], now) ? 0 : 3;
	if (op == FL_TEST_STALL_SAMPLE) {
		__u64 ips[FL_MAX_STACK] = { ctx->args[3] };

		fl_stall_entry(ctx, st, tid, sig, ctx->args[5], ctx->args[6], ips,
			       ctx->args[3] ? 1 : 0, now, false);
		return 0;
	}
	c = fl_enter(st);
	if (!c)
		return 7;
	switch (op) {
	case FL_TEST_EVENT:
		ev.tid = tid;
		ev.pid = ctx->args[6] ? ctx->args[6] : tid;
		ev.addr = ctx->args[3];
		ev.size = 4096;
		ev.now = now;
		ev.now_j = jiffy_ns ? now / jiffy_ns : now;
		ev.io_seq = ctx->args[5];
		/* args[8]: the read/write-call part, 0: all of io_seq */
		ev.sys_seq = ctx->args[8] ? ctx->args[8] - 1 : ev.io_seq;
		ev.sigpend = ctx->args[9];
		ev.migr = ctx->args[7];
		ev.join_only = sig & FL_TEST_JOIN_ONLY;
		ev.flags = sig & FL_TEST_UFFD ? FL_EP_UFFD : 0;
		ev.sig = sig & ~(FL_TEST_JOIN_ONLY | FL_TEST_UFFD);
		fl_event(ctx, st, c, &ev);
		break;
	case FL_TEST_OWNER_ENTRY:
		fl_end(ctx, st, c, tid, sig, FL_END_OWNER_ENTRY, 0, false, now);
		break;
	case FL_TEST_OWNER_EXIT:
		fl_end(ctx, st, c, tid, sig, FL_END_OWNER_RETURN, (long)ctx->args[6], true, now);
		break;
	case FL_TEST_TASK_EXIT:
		fl_end(ctx, st, c, tid, FL_SIG_TASK_EXIT, FL_END_TASK_EXIT, 0, false, now);
		break;
	case FL_TEST_LOST_END: {
		/* what a probe's fl_end does, with the user-space sweep's
		 * delete landing between its lookup and its close */
		__u32 key = tid;
		struct fl_episode *ep = bpf_map_lookup_elem(&episodes, &key);

		if (!ep)
			ret = 4;
		else if (bpf_map_delete_elem(&episodes, &key))
			ret = 5;
		else if (fl_ep_close(ctx, st, ep, key, FL_END_OWNER_RETURN, sig, 0, true, now))
			ret = 6;
		break;
	}
	case FL_TEST_SWEEP_RACE: {
		/* a probe's event at args[4] on tid's episode with the sweep
		 * (on another CPU) running at args[5] between the probe's
		 * lookup and its writes; then task args[6] is promoted, and
		 * would take a deleted element's memory */
		__u32 key = tid;
		struct fl_episode *ep = bpf_map_lookup_elem(&episodes, &key);

		barrier_var(sig);
		if (!ep || sig >= FL_NR_ADDR_SIGS) {
			ret = 4;
			break;
		}
		ev.tid = tid;
		ev.pid = tid;
		ev.addr = ctx->args[3];
		ev.now = now;
		ev.now_j = jiffy_ns ? now / jiffy_ns : now;
		ev.sig = sig;
		ev.sigpend = 0;
		fl_exit(c);	/* the sweep runs on its own CPU, outside this guard */
		if (fl_sweep_one(ctx, tid, false, ctx->args[5]))
			ret = 8;
		c = fl_enter(st);
		if (!c)
			return 7;
		fl_ep_add(ctx, st, ep, &ev, sig, ev.addr);
		break;
	}
	case FL_TEST_SIGPEND:
		/* the evidence flag for the current task (the test pins itself
		 * to CPU 0, where this runs) */
		ret = fl_task_sigpend(fl_current()) ? 10 : 11;
		break;
	case FL_TEST_NESTED:
		/* a probe mid-detector on this CPU when the sampler's
		 * interrupt comes: its sample must not touch the detector */
		{
			__u64 ips[FL_MAX_STACK] = { ctx->args[3] };

			fl_stall_entry(ctx, st, tid, sig, ctx->args[5], ctx->args[6], ips,
				       ctx->args[3] ? 1 : 0, now, false);
		}
		break;
	case FL_TEST_PF_GATE: {
		/* as fl_pf_sig() does it, with the count given, not current's */
		__u32 zero = 0;
		struct fl_pf_cpu *pc = bpf_map_lookup_elem(&pf_cpu, &zero);

		gate_sig = fl_pf_gate((int)sig, tid, pc ? &pc->atomic_tid : NULL);
		break;
	}
	default:
		ret = 2;
	}
	fl_exit(c);
	return ret;
}

/*
 * FL_TEST_STALL_SAMPLE through the sampler that looks up the fault's VMA
 * (bpf_find_vma, 5.17): its own program, as fl_stall_vma__perf is, since
 * its callback does not load before 5.13; the driver loads it only where
 * the helper exists.  Under BPF_PROG_TEST_RUN the current task is the
 * driver: the VMAs are its own.
 */
SEC("?raw_tp/detector_test")
int detector_test_vma(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 ips[FL_MAX_STACK] = { ctx->args[3] };
	struct fl_stats *st = fl_stats();

	if (!st || ctx->args[0] != FL_TEST_STALL_SAMPLE)
		return 2;
	fl_stall_entry(ctx, st, ctx->args[2], ctx->args[1], ctx->args[5], ctx->args[6], ips,
		       ctx->args[3] ? 1 : 0, ctx->args[4], true);
	return 0;
}
