// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * BPF_PROG_TEST_RUN driver for the detector: feeds synthetic events into
 * the same detector.bpf.h code the probes use, through the real verifier and
 * JIT.  args[]: op, sig, tid, addr, now (ns), io_seq, ret/pid, migrations.
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

	if (!st)
		return 1;
	switch (op) {
	case FL_TEST_EVENT:
		ev.tid = tid;
		ev.pid = ctx->args[6] ? ctx->args[6] : tid;
		ev.addr = ctx->args[3];
		ev.size = 4096;
		ev.now = now;
		ev.now_j = jiffy_ns ? now / jiffy_ns : now;
		ev.io_seq = ctx->args[5];
		ev.migr = ctx->args[7];
		ev.join_only = sig & FL_TEST_JOIN_ONLY;
		ev.sig = sig & ~FL_TEST_JOIN_ONLY;
		fl_event(ctx, st, &ev);
		return 0;
	case FL_TEST_OWNER_ENTRY:
		fl_end(ctx, st, tid, sig, FL_END_OWNER_ENTRY, 0, false, now);
		return 0;
	case FL_TEST_OWNER_EXIT:
		fl_end(ctx, st, tid, sig, FL_END_OWNER_RETURN, (long)ctx->args[6], true, now);
		return 0;
	case FL_TEST_TASK_EXIT:
		fl_end(ctx, st, tid, FL_SIG_TASK_EXIT, FL_END_TASK_EXIT, 0, false, now);
		return 0;
	case FL_TEST_SWEEP:
		return fl_sweep_one(ctx, tid, ctx->args[5], now) ? 0 : 3;
	case FL_TEST_LOST_END: {
		/* what a probe's fl_end does, with the user-space sweep's
		 * delete landing between its lookup and its close */
		__u32 key = tid;
		struct fl_episode *ep = bpf_map_lookup_elem(&episodes, &key);

		if (!ep)
			return 4;
		if (bpf_map_delete_elem(&episodes, &key))
			return 5;
		return fl_ep_close(ctx, st, ep, key, FL_END_OWNER_RETURN, sig, 0,
				   true, now) ? 6 : 0;
	}
	case FL_TEST_STALL_SAMPLE: {
		__u64 ips[FL_MAX_STACK] = { ctx->args[3] };

		fl_stall_sample(ctx, st, tid, sig, ctx->args[5], ctx->args[6],
				ips, ctx->args[3] ? 1 : 0, now);
		return 0;
	}
	case FL_TEST_STALL_SWEEP:
		return fl_stall_sweep_one(ctx, tid, ctx->args[5], now) ? 0 : 3;
	case FL_TEST_PF_GATE: {
		/* as fl_pf_sig() does it, with the count given, not current's */
		__u32 zero = 0;
		struct fl_pf_cpu *c = bpf_map_lookup_elem(&pf_cpu, &zero);

		gate_sig = fl_pf_gate((int)sig, tid, c ? &c->atomic_tid : NULL);
		return 0;
	}
	}
	return 2;
}
