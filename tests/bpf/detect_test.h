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
	/* args: op, sig, tid, addr, probe's now, sweep's now: the sweep
	 * between a probe's lookup and its writes (returns 8 if it ended it) */
	FL_TEST_SWEEP_RACE,
	FL_TEST_SIGPEND,	/* fl_task_sigpend(current): 10 yes, 11 no */
	/* FL_TEST_STALL_SAMPLE's args, run while the detector is busy on
	 * this CPU (the sampler's interrupt inside a probe) */
	FL_TEST_NESTED,
	/* args: op, pagefault_disabled count, tid: the atomic-fault gate
	 * (fl_pf_gate() in bpf/probe.bpf.h) on this CPU's pf_cpu
	 * slot; the signal it returns lands in the driver's gate_sig */
	FL_TEST_PF_GATE = 100,
};
#define FL_TEST_JOIN_ONLY	0x100	/* or'ed into the signal: a fault-in that only joins */
#define FL_TEST_UFFD		0x200	/* or'ed into the signal: the event saw userfaultfd */

#endif
