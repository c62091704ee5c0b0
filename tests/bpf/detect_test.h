/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The BPF_PROG_TEST_RUN driver's ops (detect_test.bpf.c, detect_test.c). */
#ifndef FL_DETECT_TEST_H
#define FL_DETECT_TEST_H

enum fl_test_op {
	FL_TEST_EVENT = 1,
	FL_TEST_OWNER_ENTRY,
	FL_TEST_OWNER_EXIT,
	FL_TEST_TASK_EXIT,
	FL_TEST_SWEEP,		/* args[5]: all */
	FL_TEST_LOST_END,	/* the sweep deletes between a probe's lookup and its close */
	/* args: op, progress, tid, frames (0: user mode; 1: one frame at
	 * args[3]), now, oncpu, in_fault (frame inside range 0) */
	FL_TEST_STALL_SAMPLE,
	FL_TEST_STALL_SWEEP,	/* args[5]: all */
	/* args: op, pagefault_disabled count, tid: the atomic-fault gate
	 * (fl_pf_gate() in bpf/probe.bpf.h) on this CPU's pf_cpu
	 * slot; the signal it returns lands in the driver's gate_sig */
	FL_TEST_PF_GATE = 100,
};
#define FL_TEST_JOIN_ONLY	0x100	/* or'ed into the signal: a fault-in that only joins */

#endif
