/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Types shared by the BPF programs (bpf/) and the loader (src/).
 *
 * Everything here crosses the user/kernel boundary through maps or the
 * report ring buffer, so only fixed-width types and no pointers.
 */
#ifndef FAULTLOOP_H
#define FAULTLOOP_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define FL_COMM_LEN	16
/* task_struct.flags (and /proc/PID/stat's flags field) of a kernel thread:
 * PF_KTHREAD, include/linux/sched.h, the same bit on every kernel */
#define FL_PF_KTHREAD	0x00200000
#define FL_MAX_STACK	32	/* kernel frames captured per report */

/*
 * Logical signals.  The first FL_NR_ADDR_SIGS carry a user address and feed
 * the retry detector (each has a slot in struct fl_episode); the others are
 * counted only.  Order matters: keep address signals first.
 */
enum fl_signal {
	FL_SIG_NONE = 0,
	/* fault-in attempts: addr/size of the range being faulted in */
	FL_SIG_FAULT_IN_READABLE,
	FL_SIG_FAULT_IN_WRITEABLE,
	FL_SIG_FAULT_IN_SAFE_WRITEABLE,
	FL_SIG_FAULT_IN_SUBPAGE_WRITEABLE,
	FL_SIG_FAULT_IN_IOV_READABLE,
	FL_SIG_FAULT_IN_IOV_WRITEABLE,
	/* failed atomic / nofault copies: addr where the copy stopped */
	FL_SIG_COPY_ATOMIC,
	FL_SIG_COPY_TO_USER_NOFAULT,
	FL_SIG_COPY_FROM_USER_NOFAULT,
	FL_SIG_EB_TO_USER_NOFAULT,
	/* fault path: faulting user address, kernel mode only */
	FL_SIG_PF_KERNEL,		/* page fault with page faults enabled */
	FL_SIG_PF_KERNEL_ATOMIC,	/* page fault under pagefault_disable() */
	FL_SIG_FIXUP_EXCEPTION,
	FL_SIG_HANDLE_MM_FAULT,
	FL_SIG_DO_PAGE_FAULT,
	FL_SIG_TAG_CHECK_FAULT,
	FL_SIG_KERNEL_FAULT,
	FL_NR_ADDR_SIGS,
	/* loop owners: their return ends the episode */
	FL_SIG_OWNER_SEARCH_IOCTL = FL_NR_ADDR_SIGS,
	FL_SIG_OWNER_GENERIC_PERFORM_WRITE,
	FL_SIG_OWNER_BTRFS_BUFFERED_WRITE,
	FL_SIG_OWNER_IOMAP_BUFFERED_WRITE,
	FL_SIG_OWNER_FUSE_PERFORM_WRITE,
	/* housekeeping */
	FL_SIG_TASK_EXIT,
	/* a task sampled on its CPU inside one kernel fault or GUP call that
	 * makes no progress (the stall sampler, fl_stall in bpf/) */
	FL_SIG_FAULT_STALL,
	FL_SIG__MAX,
};

enum fl_report_kind {
	FL_REPORT_DETECTED = 1,
	FL_REPORT_ONGOING,
	FL_REPORT_ENDED,
};

/* Why an episode ended (ENDED reports, histograms). */
enum fl_end_reason {
	FL_END_NONE = 0,
	FL_END_OWNER_RETURN,	/* the loop owner returned */
	FL_END_OWNER_ENTRY,	/* a new owner call began on this task */
	FL_END_GAP,		/* no event for --gap */
	FL_END_SYSCALL,		/* the task started another read/write call or slept */
	FL_END_TASK_EXIT,
	FL_END_DETACH,		/* faultloop stopped while the loop was active */
	FL_END_LEFT_CPU,	/* the task left its CPU (switched out, migrated)
				 * before any retry: see struct fl_cur */
	FL_END_PROGRESS,	/* a stalled fault completed, or the task slept
				 * or returned to user space */
	FL_END__MAX,
};

enum fl_counter {
	FL_CNT_EPISODES,	/* episodes opened */
	FL_CNT_RETRIES,		/* retries counted (episode maximum grew) */
	FL_CNT_DETECTED,
	FL_CNT_REPORTS,		/* reports submitted to the ring buffer */
	FL_CNT_REPORTS_LOST,	/* ring buffer full */
	FL_CNT_EPISODES_DROPPED,/* episode map full: a retrying task not tracked */
	FL_CNT_STASH_DROPPED,	/* kprobe entry stash full */
	FL_CNT_FILTERED,	/* events dropped by -p / --cgroup */
	FL_CNT_NESTED,		/* events and samples skipped: they interrupted
				 * the detector on their CPU (fl_enter) */
	FL_CNT_VMA_BUSY,	/* stall samples that could not look up their
				 * fault address's VMA (mmap_lock contended;
				 * always on PREEMPT_RT, in the timer's irq) */
	FL_CNT__MAX,
};

#define FL_HIST_SLOTS 32	/* log2 buckets */

/* One per-CPU value; user space sums the CPUs. */
struct fl_stats {
	__u64 events[FL_SIG__MAX];
	__u64 failures[FL_SIG__MAX];	/* fault-in short, copy short, owner < 0 */
	__u64 cnt[FL_CNT__MAX];
	__u64 ended[FL_END__MAX];	/* all episodes, by end reason */
	__u64 hist_retries[FL_HIST_SLOTS];
	__u64 hist_duration_us[FL_HIST_SLOTS];
	__u64 sum_retries;		/* histogram sums */
	__u64 sum_duration_ns;
};

#define FL_EP_REPORTED	0x1	/* DETECTED was sent */
#define FL_EP_HAS_RET	0x2	/* owner_ret is valid */
#define FL_EP_UFFD	0x4	/* userfaultfd in this fault: a stall sample was in
				 * handle_userfault(), or a retried
				 * handle_mm_fault() was on a VMA registered with
				 * a userfaultfd (vm_userfaultfd_ctx set) */
#define FL_EP_SHADOW	0x8	/* the other detector reported this task's loop
				 * first: this one stays silent */
#define FL_EP_SIGPEND	0x10	/* an unblocked signal was pending (pending &
				 * ~blocked: fl_task_sigpend) in a sampled stall
				 * or when the loop was reported */
#define FL_EP_VMA	0x20	/* the stall's fault address was looked up in
				 * its task's VMAs (bpf_find_vma): FL_EP_UFFD
				 * then says what the VMA is */

/*
 * Per-task episode of a task that has retried, keyed by tid (see struct
 * fl_cur for the ones that have not).  Each address signal keeps the range of
 * user addresses it has covered and its own retry count: one loop
 * iteration is usually seen by several probes (an atomic-copy fault, then
 * the fault-in's own fault at the same address), and a retry is the *same*
 * probe coming back inside the range it already covered.  Extending the
 * range, upwards or downwards, is progress: execve's copy_strings() fills
 * the new stack top-down, one fault per page.  The episode's retries are
 * the maximum over probes, so adding probes never inflates the count.
 */
struct fl_episode {
	__u64 start_ns;
	__u64 last_ns;
	__u64 last_report_ns;
	__u64 io_seq;		/* the call boundary (fl_task_seq) when opened;
				 * stalls: min_flt + maj_flt */
	__u64 sys_seq;		/* its read/write-call part: ioac.syscr + syscw */
	__u64 addr;		/* last address seen */
	__u64 size;
	__u64 cgroup_id;
	__u32 pid;
	__u32 tid;
	__u32 retries;		/* max over sig_retries[]; 0 for a stall */
	__u32 events;
	__u64 sig_mask;		/* 1 << signal, for every signal seen */
	__u64 lo[FL_NR_ADDR_SIGS];	/* covered range per signal */
	__u64 hi[FL_NR_ADDR_SIGS];
	__u32 sig_retries[FL_NR_ADDR_SIGS];
	__u8 top_sig;		/* signal holding the maximum */
	__u8 flags;
	__u8 owner;		/* owner signal that ended it, if any */
	__u8 pad;
	__u32 samples;		/* stall sampler: samples inside the fault */
	__s64 owner_ret;
	char comm[FL_COMM_LEN];
	__u64 oncpu_ns;		/* stall sampler: the task's CPU time when opened */
};

/*
 * Per CPU: the episode of the task this CPU saw last, while it has no
 * retry.  Most episodes never retry (a write faults once, a read walks
 * fresh pages), so they live and die here, at the cost of an inlined
 * per-CPU array access: no clock read, no hash lookup.  The first retry
 * moves the episode into the episodes hash (promotion), where it carries
 * on across context switches and CPUs.  The slot belongs to its task only
 * while that task has not left the CPU: io_seq (a new read/write call or a
 * sleep) and se.nr_migrations (a move to another CPU) must not change.
 * Times are in the coarse clock (jiffies, or ns when jiffy_ns is 0).
 */
struct fl_cur {
	__u64 io_seq;
	__u64 sys_seq;		/* see struct fl_episode */
	__u64 migr;		/* task->se.nr_migrations when opened */
	__u64 start_j;
	__u64 last_j;
	__u64 addr;
	__u64 size;
	__u64 sig_mask;
	__u32 pid;
	__u32 tid;
	__u32 events;
	__u32 live;		/* holds an episode that is not in the hash */
	__u32 busy;		/* this CPU is inside the detector (fl_enter) */
	__u32 pad;
	__u64 lo[FL_NR_ADDR_SIGS];
	__u64 hi[FL_NR_ADDR_SIGS];
};

struct fl_report {
	__u8 kind;		/* enum fl_report_kind */
	__u8 sig;		/* signal that holds the retry maximum */
	__u8 last_sig;		/* signal of the event that triggered the report */
	__u8 owner;		/* owner signal that returned (ENDED), else 0 */
	__u8 reason;		/* enum fl_end_reason for ENDED */
	__u8 flags;
	__u16 pad;
	__u32 pid;
	__u32 tid;
	__u64 ts_ns;		/* CLOCK_MONOTONIC */
	__u64 start_ns;
	__u64 duration_ns;
	__u64 cgroup_id;
	__u64 addr;
	__u64 size;
	__u64 retries;		/* 0 for a stall: see samples */
	__u64 events;
	__u64 sig_mask;
	__s64 owner_ret;
	char comm[FL_COMM_LEN];
	__s32 stack_sz;		/* bytes from bpf_get_stack(), <0 on error */
	__u32 samples;		/* stall sampler: samples inside the fault */
	__u64 stack[FL_MAX_STACK];
};

/* Per CPU, from the page_fault_kernel program (bpf/probe.bpf.h). */
struct fl_pf_cpu {
	__u32 atomic_tid;	/* the task whose next fault the gate lets through */
};

/* Where a task took its last kernel fault on user memory (page_fault_kernel),
 * for the stall sampler: slot tid % FL_FAULT_SLOTS, which the task keeps on
 * whatever CPU it runs next (fault_at in bpf/probe.bpf.h). */
#define FL_FAULT_SLOTS	1024
struct fl_fault_at {
	__u32 tid;
	__u32 pad;
	__u64 addr;
};

/* The stall sampler's code ranges: kernel text whose presence in a sampled
 * stack means "inside a fault or a GUP call" (see bpf/stall.bpf.h). */
#define FL_STALL_RANGES	12

/*
 * One running user thread from the task iterator (fl_task_iter): what /proc
 * cannot tell about a task that is on a CPU right now.  /proc/PID/syscall
 * says only "running" for it; the syscall number is in the pt_regs saved
 * at kernel entry, and sched_info.last_arrival says since when it has been
 * on its CPU.
 */
struct fl_task_rec {
	__u32 pid;
	__u32 tid;
	__s64 syscall;		/* -1: not in a syscall, or unknown */
	__u64 last_arrival_ns;	/* sched_clock; 0: CONFIG_SCHED_INFO off */
	__u64 now_ns;		/* bpf_ktime_get_ns() at the read */
};

#endif /* FAULTLOOP_H */
