/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Ops of the BPF_PROG_TEST_RUN driver (tests/bpf/detect_test.bpf.c) that
 * only the tests know; FL_TEST_* in include/faultloop.h are the others. */
#ifndef FAULTLOOP_DETECT_TEST_H
#define FAULTLOOP_DETECT_TEST_H

/* args: op, pagefault_disabled count, tid: the atomic-fault gate
 * (fl_pf_gate() in bpf/probe.bpf.h) on this CPU's pf_atomic_tid slot;
 * the signal it returns lands in the driver's gate_sig */
#define FL_TEST_PF_GATE	100

#endif
