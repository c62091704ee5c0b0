// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The probe table (every signal's candidate symbols and programs per
 * attach mode) and the names of its modes. */
#include <errno.h>
#include <string.h>
#include "probes.h"
#include "util.h"

/* ---- the table ----------------------------------------------------------- */

#define P(name) "fl_" #name
#define I_FEXIT(name, n)	{ FL_MODE_FENTRY, NULL, P(name) "__fexit", n }
#define I_FEXITN(name, n)	{ FL_MODE_FENTRY, NULL, P(name) "__fexit" #n, n }
#define I_FENTRY(name)		{ FL_MODE_FENTRY, P(name) "__fentry", NULL, 0 }
#define I_KPROBE(name)		{ FL_MODE_KPROBE, P(name) "__kprobe", NULL, 0 }
#define I_KPROBE2(name)		{ FL_MODE_KPROBE, P(name) "__kprobe", P(name) "__kretprobe", 0 }
#define I_KRETPROBE(name)	{ FL_MODE_KPROBE, NULL, P(name) "__kretprobe", 0 }

/* fault-in / copy: fexit has args and return; kprobe needs both halves */
#define CAND_FEXIT_KPROBE(name, n) { #name, { I_FEXIT(name, n), I_KPROBE2(name) } }
/* the same, for a function whose fexit and kprobe the Debian kernels
 * (5.10 to 7.3) refuse: notrace (gate_notrace in src/probe_gates.c) */
#define CAND_FEXIT_KPROBE_NT(name, n)						\
	{ #name, { { FL_MODE_FENTRY, NULL, P(name) "__fexit", n, 0, true },	\
		   I_KPROBE2(name) } }
#define CAND_FENTRY_KPROBE(name) { #name, { I_FENTRY(name), I_KPROBE(name) } }
#define CAND_TP(event, name)							\
	{ event, { { FL_MODE_TP_BTF, P(name) "__tp_btf", NULL, 0 },		\
		   { FL_MODE_RAW_TP, P(name) "__raw_tp", NULL, 0 },		\
		   { FL_MODE_TRACEPOINT, P(name) "__tp", NULL, 0 } } }

const struct fl_probe_def fl_probe_defs[] = {
	/* fault-in attempts */
	{ "fault_in_readable", FL_SIG_FAULT_IN_READABLE, FL_ARCH_ALL,
	  "5.16 (bb523b406c84)", { CAND_FEXIT_KPROBE(fault_in_readable, 2) } },
	{ "fault_in_writeable", FL_SIG_FAULT_IN_WRITEABLE, FL_ARCH_ALL,
	  "5.16 (bb523b406c84)", { CAND_FEXIT_KPROBE(fault_in_writeable, 2) } },
	{ "fault_in_safe_writeable", FL_SIG_FAULT_IN_SAFE_WRITEABLE, FL_ARCH_ALL,
	  "5.16 (cdd591fc86e3)", { CAND_FEXIT_KPROBE(fault_in_safe_writeable, 2) } },
	{ "fault_in_subpage_writeable", FL_SIG_FAULT_IN_SUBPAGE_WRITEABLE, FL_ARCH_ALL,
	  "5.19 (da32b5817253)", { CAND_FEXIT_KPROBE(fault_in_subpage_writeable, 2) } },
	{ "fault_in_iov_readable", FL_SIG_FAULT_IN_IOV_READABLE, FL_ARCH_ALL,
	  "5.16 rename of iov_iter_fault_in_readable (a6294593e8a1)",
	  { CAND_FEXIT_KPROBE_NT(fault_in_iov_iter_readable, 2),
	    CAND_FEXIT_KPROBE_NT(iov_iter_fault_in_readable, 2) } },
	{ "fault_in_iov_writeable", FL_SIG_FAULT_IN_IOV_WRITEABLE, FL_ARCH_ALL,
	  "5.16 (cdd591fc86e3)", { CAND_FEXIT_KPROBE_NT(fault_in_iov_iter_writeable, 2) } },

	/* failed atomic / nofault copies */
	{ "copy_atomic", FL_SIG_COPY_ATOMIC, FL_ARCH_ALL,
	  "folio 6.6 / page 5.14 / iov_iter_copy_from_user_atomic <= 5.13",
	  { CAND_FEXIT_KPROBE_NT(copy_folio_from_iter_atomic, 4),
	    CAND_FEXIT_KPROBE_NT(copy_page_from_iter_atomic, 4),
	    CAND_FEXIT_KPROBE_NT(iov_iter_copy_from_user_atomic, 4) } },
	{ "copy_to_user_nofault", FL_SIG_COPY_TO_USER_NOFAULT, FL_ARCH_ALL,
	  "5.8 (c0ee37e85e0e)", { CAND_FEXIT_KPROBE_NT(copy_to_user_nofault, 3) } },
	{ "copy_from_user_nofault", FL_SIG_COPY_FROM_USER_NOFAULT, FL_ARCH_ALL,
	  "5.8 (c0ee37e85e0e)",
	  /* the fexit program reads src, a const void __user * */
	  { { "copy_from_user_nofault",
	      { { FL_MODE_FENTRY, NULL, P(copy_from_user_nofault) "__fexit", 3, 2 },
		I_KPROBE2(copy_from_user_nofault) } } } },
	{ "eb_to_user_nofault", FL_SIG_EB_TO_USER_NOFAULT, FL_ARCH_ALL,
	  "5.9 btrfs (a48b73eca4ce)",
	  { CAND_FEXIT_KPROBE(read_extent_buffer_to_user_nofault, 4) } },

	/* fault path */
	{ "page_fault_kernel", FL_SIG_PF_KERNEL, FL_ARCH_X86,
	  "x86 exceptions tracepoint (3.18, d34603b07c4f)",
	  { CAND_TP("exceptions/page_fault_kernel", pf_kernel) } },
	{ "fixup_exception", FL_SIG_FIXUP_EXCEPTION, FL_ARCH_ALL,
	  "x86 fault_addr argument 4.19 (81fd9c18444d)",
	  { CAND_FENTRY_KPROBE(fixup_exception) } },
	{ "handle_mm_fault", FL_SIG_HANDLE_MM_FAULT, FL_ARCH_ALL,
	  "regs argument 5.9 (bce617edecad)", { CAND_FENTRY_KPROBE(handle_mm_fault) } },
	{ "do_page_fault", FL_SIG_DO_PAGE_FAULT, FL_ARCH_ARM64,
	  "arm64; not traceable on 6.12", { CAND_FENTRY_KPROBE(do_page_fault) } },
	{ "do_tag_check_fault", FL_SIG_TAG_CHECK_FAULT, FL_ARCH_ARM64,
	  "arm64 MTE 5.10 (98c970da8b35)", { CAND_FENTRY_KPROBE(do_tag_check_fault) } },
	{ "__do_kernel_fault", FL_SIG_KERNEL_FAULT, FL_ARCH_ARM64,
	  "arm64", { CAND_FENTRY_KPROBE(__do_kernel_fault) } },

	/* loop owners */
	{ "search_ioctl", FL_SIG_OWNER_SEARCH_IOCTL, FL_ARCH_ALL,
	  "btrfs fault-in loop 5.9 (a48b73eca4ce); fixed 5.19 (18788e34642e)",
	  { { "search_ioctl", { { FL_MODE_FENTRY, P(search_ioctl) "__fentry",
				  P(search_ioctl) "__fexit4", 4 },
				I_KPROBE2(search_ioctl) } } } },
	{ "generic_perform_write", FL_SIG_OWNER_GENERIC_PERFORM_WRITE, FL_ARCH_ALL,
	  "(file, i, pos) until 5.18, (iocb, i) from 5.19 (182c25e9c157)",
	  { { "generic_perform_write", { I_FEXITN(generic_perform_write, 2),
					 I_FEXITN(generic_perform_write, 3),
					 I_KRETPROBE(generic_perform_write) } } } },
	{ "btrfs_buffered_write", FL_SIG_OWNER_BTRFS_BUFFERED_WRITE, FL_ARCH_ALL,
	  "btrfs; .isra clone on 5.10",
	  { { "btrfs_buffered_write", { I_FEXITN(btrfs_buffered_write, 2),
					I_KRETPROBE(btrfs_buffered_write) } } } },
	{ "iomap_file_buffered_write", FL_SIG_OWNER_IOMAP_BUFFERED_WRITE, FL_ARCH_ALL,
	  "3 args <= 6.6, 4 from 6.7 (private), 5 in 6.18",
	  { { "iomap_file_buffered_write", { I_FEXITN(iomap_file_buffered_write, 3),
					     I_FEXITN(iomap_file_buffered_write, 4),
					     I_FEXITN(iomap_file_buffered_write, 5),
					     I_KRETPROBE(iomap_file_buffered_write) } } } },
	{ "fuse_perform_write", FL_SIG_OWNER_FUSE_PERFORM_WRITE, FL_ARCH_ALL,
	  "fuse; (iocb, ii) from 6.x, 4 args on 5.10",
	  { { "fuse_perform_write", { I_FEXITN(fuse_perform_write, 2),
				      I_FEXITN(fuse_perform_write, 4),
				      I_KRETPROBE(fuse_perform_write) } } } },

	/* loops inside one fault or GUP call, found by sampling: no function
	 * probe needed (bpf/stall.bpf.h) */
	{ "fault_stall", FL_SIG_FAULT_STALL, FL_ARCH_ALL,
	  "software cpu-clock perf event, any kernel",
	  { { "perf/cpu-clock",
	      /* first the one that looks up the fault's VMA (bpf/stall.bpf.h) */
	      { { FL_MODE_PERF, P(stall_vma) "__perf", NULL, 0, .helper = "find_vma",
		  .helper_since = "5.17, 7c7e3d31e785",
		  .helper_loss = "a userfaultfd loop is named only from a sample in handle_userfault()" },
		{ FL_MODE_PERF, P(stall) "__perf", NULL, 0 } } } } },

	/* housekeeping: drop a task's episode when it exits */
	{ "task_exit", FL_SIG_TASK_EXIT, FL_ARCH_ALL,
	  "sched tracepoint", { CAND_TP("sched/sched_process_exit", task_exit) } },
};
const int fl_nr_probe_defs = ARRAY_SIZE(fl_probe_defs);

/* ---- names --------------------------------------------------------------- */

const char *fl_mode_name(const struct fl_impl *impl)
{
	if (!impl)
		return "-";
	switch (impl->mode) {
	case FL_MODE_FENTRY:
		return impl->entry && impl->exit ? "fentry+fexit" : impl->exit ? "fexit" : "fentry";
	case FL_MODE_KPROBE:
		return impl->entry && impl->exit ? "kprobe+kretprobe" : impl->exit ? "kretprobe" : "kprobe";
	case FL_MODE_TP_BTF:
		return "tp_btf";
	case FL_MODE_RAW_TP:
		return "raw_tp";
	case FL_MODE_TRACEPOINT:
		return "tracepoint";
	case FL_MODE_PERF:
		return "perf_event";
	default:
		return "?";
	}
}

const char *fl_status_name(enum fl_status st)
{
	switch (st) {
	case FL_ST_UNTRIED: return "untried";
	case FL_ST_ATTACHED: return "attached";
	case FL_ST_REFUSED: return "refused";
	case FL_ST_ABSENT: return "not present";
	case FL_ST_DISABLED: return "disabled";
	case FL_ST_OTHER_ARCH: return "other arch";
	case FL_ST_HELD: return "held";
	case FL_ST_NO_SYMBOLS: return "no symbols";
	}
	return "?";
}

int fl_mode_sel_parse(const char *s, enum fl_mode_sel *out)
{
	static const struct { const char *n; enum fl_mode_sel v; } t[] = {
		{ "auto", FL_SEL_AUTO }, { "fentry", FL_SEL_FENTRY },
		{ "kprobe", FL_SEL_KPROBE }, { "tracepoint", FL_SEL_TRACEPOINT },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		if (!strcmp(s, t[i].n)) {
			*out = t[i].v;
			return 0;
		}
	}
	return -EINVAL;
}

bool fl_mode_is_tp(enum fl_mode m)
{
	return m == FL_MODE_TP_BTF || m == FL_MODE_RAW_TP || m == FL_MODE_TRACEPOINT ||
	       m == FL_MODE_PERF;
}

const char *fl_mode_sel_name(enum fl_mode_sel sel)
{
	switch (sel) {
	case FL_SEL_AUTO: return "auto";
	case FL_SEL_FENTRY: return "fentry";
	case FL_SEL_KPROBE: return "kprobe";
	case FL_SEL_TRACEPOINT: return "tracepoint";
	}
	return "?";
}

/* fentry/kprobe restrict the function probes; tracepoints always attach. */
bool fl_mode_allowed(enum fl_mode_sel sel, enum fl_mode m)
{
	if (fl_mode_is_tp(m))
		return true;
	switch (sel) {
	case FL_SEL_AUTO: return true;
	case FL_SEL_FENTRY: return m == FL_MODE_FENTRY;
	case FL_SEL_KPROBE: return m == FL_MODE_KPROBE;
	case FL_SEL_TRACEPOINT: return false;
	}
	return false;
}

bool fl_mode_patches_text(enum fl_mode m)
{
	return m == FL_MODE_FENTRY || m == FL_MODE_KPROBE;
}

bool fl_arch_matches(unsigned int arch)
{
#if defined(__x86_64__)
	return arch & FL_ARCH_X86;
#elif defined(__aarch64__)
	return arch & FL_ARCH_ARM64;
#else
	return false;
#endif
}
