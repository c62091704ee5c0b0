// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>
#include "signals.h"
#include "util.h"

/* sig_mask is a __u64 in the episode, the slot and the report */
_Static_assert(FL_SIG__MAX <= 64, "signal bitmask must fit 64 bits");

static const struct {
	const char *name;
	enum fl_kind kind;
} sigs[FL_SIG__MAX] = {
	[FL_SIG_NONE] = { "none", FL_K_HOUSEKEEPING },
	[FL_SIG_FAULT_IN_READABLE] = { "fault_in_readable", FL_K_FAULTIN },
	[FL_SIG_FAULT_IN_WRITEABLE] = { "fault_in_writeable", FL_K_FAULTIN },
	[FL_SIG_FAULT_IN_SAFE_WRITEABLE] = { "fault_in_safe_writeable", FL_K_FAULTIN },
	[FL_SIG_FAULT_IN_SUBPAGE_WRITEABLE] = { "fault_in_subpage_writeable", FL_K_FAULTIN },
	[FL_SIG_FAULT_IN_IOV_READABLE] = { "fault_in_iov_readable", FL_K_FAULTIN },
	[FL_SIG_FAULT_IN_IOV_WRITEABLE] = { "fault_in_iov_writeable", FL_K_FAULTIN },
	[FL_SIG_COPY_ATOMIC] = { "copy_atomic", FL_K_COPY },
	[FL_SIG_COPY_TO_USER_NOFAULT] = { "copy_to_user_nofault", FL_K_COPY },
	[FL_SIG_COPY_FROM_USER_NOFAULT] = { "copy_from_user_nofault", FL_K_COPY },
	[FL_SIG_EB_TO_USER_NOFAULT] = { "eb_to_user_nofault", FL_K_COPY },
	[FL_SIG_PF_KERNEL] = { "page_fault_kernel", FL_K_FAULT },
	[FL_SIG_PF_KERNEL_ATOMIC] = { "page_fault_kernel_atomic", FL_K_FAULT },
	[FL_SIG_FIXUP_EXCEPTION] = { "fixup_exception", FL_K_FAULT },
	[FL_SIG_HANDLE_MM_FAULT] = { "handle_mm_fault", FL_K_FAULT },
	[FL_SIG_DO_PAGE_FAULT] = { "do_page_fault", FL_K_FAULT },
	[FL_SIG_TAG_CHECK_FAULT] = { "do_tag_check_fault", FL_K_FAULT },
	[FL_SIG_KERNEL_FAULT] = { "__do_kernel_fault", FL_K_FAULT },
	[FL_SIG_OWNER_SEARCH_IOCTL] = { "search_ioctl", FL_K_OWNER },
	[FL_SIG_OWNER_GENERIC_PERFORM_WRITE] = { "generic_perform_write", FL_K_OWNER },
	[FL_SIG_OWNER_BTRFS_BUFFERED_WRITE] = { "btrfs_buffered_write", FL_K_OWNER },
	[FL_SIG_OWNER_IOMAP_BUFFERED_WRITE] = { "iomap_file_buffered_write", FL_K_OWNER },
	[FL_SIG_OWNER_FUSE_PERFORM_WRITE] = { "fuse_perform_write", FL_K_OWNER },
	[FL_SIG_TASK_EXIT] = { "task_exit", FL_K_HOUSEKEEPING },
	[FL_SIG_FAULT_STALL] = { "fault_stall", FL_K_FAULT },
};

const char *fl_sig_name(unsigned int sig)
{
	return sig < FL_SIG__MAX && sigs[sig].name ? sigs[sig].name : "unknown";
}

unsigned int fl_sig_by_name(const char *name)
{
	unsigned int s;

	for (s = 1; s < FL_SIG__MAX; s++)
		if (sigs[s].name && !strcmp(sigs[s].name, name))
			return s;
	return 0;
}

enum fl_kind fl_sig_kind(unsigned int sig)
{
	return sig < FL_SIG__MAX ? sigs[sig].kind : FL_K_HOUSEKEEPING;
}

const char *fl_kind_name(enum fl_kind k)
{
	switch (k) {
	case FL_K_FAULTIN: return "fault-in";
	case FL_K_COPY: return "copy";
	case FL_K_FAULT: return "fault";
	case FL_K_OWNER: return "owner";
	case FL_K_HOUSEKEEPING: return "housekeeping";
	}
	return "?";
}

bool fl_sig_has_addr(unsigned int sig)
{
	if (sig == FL_SIG_NONE || sig >= FL_NR_ADDR_SIGS)
		return false;
#if defined(__aarch64__)
	/* arm64 fixup_exception(regs[, esr]) has no fault address */
	if (sig == FL_SIG_FIXUP_EXCEPTION)
		return false;
#endif
	return true;
}

bool fl_sig_is_owner(unsigned int sig)
{
	return sig < FL_SIG__MAX && sigs[sig].kind == FL_K_OWNER;
}

const char *fl_end_reason_name(unsigned int r)
{
	static const char *const names[FL_END__MAX] = {
		[FL_END_NONE] = "none",
		[FL_END_OWNER_RETURN] = "owner_return",
		[FL_END_OWNER_ENTRY] = "owner_entry",
		[FL_END_GAP] = "idle",
		[FL_END_SYSCALL] = "next_call",
		[FL_END_TASK_EXIT] = "task_exit",
		[FL_END_DETACH] = "detach",
		[FL_END_LEFT_CPU] = "left_cpu",
		[FL_END_PROGRESS] = "progress",
	};

	return r < FL_END__MAX && names[r] ? names[r] : "unknown";
}

const char *fl_report_kind_name(unsigned int kind)
{
	switch (kind) {
	case FL_REPORT_DETECTED: return "detected";
	case FL_REPORT_ONGOING: return "ongoing";
	case FL_REPORT_ENDED: return "ended";
	}
	return "unknown";
}
