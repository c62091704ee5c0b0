// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>
#include "knownbugs.h"
#include "ksyms.h"
#include "report.h"
#include "util.h"

const struct fl_known_bug fl_known_bugs[] = {
	/* the seeds: copy_to_sk() faults on one MTE granule, the fault-in of
	 * the whole page succeeds, the copy fails again at the same place.
	 * Required: arm64 and search_ioctl owning the loop (its probe, or its
	 * frame).  The tag-check fault is not: the copy's signal is whichever
	 * probe attached (eb_to_user_nofault, copy_to_user_nofault, the fault
	 * path), and a retagged granule is the only sub-page fault that
	 * search_ioctl's buffer meets on arm64. */
	{ "btrfs-search-ioctl-subpage",
	  "btrfs search_ioctl() live-lock on sub-page faults (arm64 MTE)",
	  "18788e34642e", "5.19", { NULL },
	  .fix_title = "btrfs: Avoid live-lock in search_ioctl() on hardware with sub-page faults",
	  .needs = FL_BUG_NEEDS_MTE | FL_BUG_NEEDS_BTRFS,
	  .arch = FL_BUG_ARCH_ARM64, .owner = FL_SIG_OWNER_SEARCH_IOCTL },
	/* handle_userfault() returns VM_FAULT_RETRY at once while a signal
	 * is pending, and a kernel-mode fault retries on anything but a
	 * fatal one.  "mm/userfaultfd: prevent busy looping for tasks with
	 * signals pending" (2025) was proposed and dropped.  Its samples sit
	 * in handle_userfault() or, writing the page, in the allocation
	 * do_anonymous_page() undoes before calling it.  Required, both:
	 * userfaultfd in this fault (BPF's FL_EP_UFFD, or handle_userfault()
	 * in the stack) and a signal pending that the task has not blocked
	 * (FL_EP_SIGPEND; a blocked one leaves signal_pending() false, and
	 * handle_userfault() sleeps). */
	{ "uffd-signal-busy-loop",
	  "userfaultfd fault retried in the kernel while a signal is pending",
	  NULL, NULL, { NULL }, .needs = FL_BUG_NEEDS_UFFD,
	  .need = { { FL_EP_UFFD, { "handle_userfault" } }, { FL_EP_SIGPEND } } },
	/* faultin_vma_page_range() let __get_user_pages() return 0 on
	 * VM_FAULT_RETRY without FOLL_TRIED: a read error retried forever.
	 * The fix renamed it faultin_page_range(); madvise_populate() is
	 * inlined into do_madvise() on Debian's 6.1.  Required: one of the
	 * two in the stack (the fixed kernels' faultin_page_range() does not
	 * loop).  No flag: a signal does not stop GUP here.  Stable: 6.8.8
	 * took it; 6.1 did not ("failed to apply to 6.1-stable tree", Greg
	 * Kroah-Hartman, 2024-04-23), nor 6.6 by 6.6.29; 5.10 and 5.15 have
	 * no stable entry (MADV_POPULATE_* came in 5.14, 4ca9b3859dac). */
	{ "madv-populate-eio",
	  "MADV_POPULATE_(READ|WRITE) retried forever on a file read error",
	  "631426ba1d45", "6.9", { "6.8.8" },
	  .fix_title = "mm/madvise: make MADV_POPULATE_(READ|WRITE) handle VM_FAULT_RETRY properly",
	  .since = "5.14",
	  .need = { { 0, { "faultin_vma_page_range", "madvise_populate" } } } },
};
const int fl_nr_known_bugs = ARRAY_SIZE(fl_known_bugs);

const struct fl_known_bug *fl_known_bug_by_id(const char *id)
{
	int i;

	for (i = 0; i < fl_nr_known_bugs; i++)
		if (!strcmp(fl_known_bugs[i].id, id))
			return &fl_known_bugs[i];
	return NULL;
}

/* One of frames (NULL-terminated, at most 3) names a frame of the stack. */
static bool stack_has_any(const struct fl_report *r, const struct ksyms *ks,
			  const char *const frames[3])
{
	const struct ksym *syms[FL_MAX_STACK];
	int i, f, n = fl_report_stack_syms(r, ks, syms);
	char base[128];

	for (i = 0; i < n; i++) {
		if (!syms[i])
			continue;
		ksyms__base_name(syms[i]->name, base, sizeof(base));
		for (f = 0; f < 3 && frames[f]; f++)
			if (!strcmp(base, frames[f]))
				return true;
	}
	return false;
}

unsigned int fl_known_bug_arch(void)
{
#if defined(__aarch64__)
	return FL_BUG_ARCH_ARM64;
#else
	return FL_BUG_ARCH_X86;
#endif
}

/* Every piece of evidence given is there. */
static bool has_evidence(const struct fl_known_bug *b, const struct fl_report *r,
			 const struct ksyms *ks)
{
	int i;

	for (i = 0; i < FL_BUG_MAX_NEED; i++) {
		const struct fl_bug_evidence *e = &b->need[i];

		if (!e->flag && !e->frames[0])
			continue;
		if (!((r->flags & e->flag) || stack_has_any(r, ks, e->frames)))
			return false;
	}
	return true;
}

const struct fl_known_bug *fl_known_bug_match_on(const struct fl_report *r,
						 const struct ksyms *ks,
						 unsigned int owner, unsigned int arch)
{
	int i;

	for (i = 0; i < fl_nr_known_bugs; i++) {
		const struct fl_known_bug *b = &fl_known_bugs[i];

		if ((b->arch && b->arch != arch) ||
		    (b->owner && b->owner != owner) || (b->sig && b->sig != r->sig))
			continue;
		if (has_evidence(b, r, ks))
			return b;
	}
	return NULL;
}

const struct fl_known_bug *fl_known_bug_match(const struct fl_report *r,
					      const struct ksyms *ks,
					      unsigned int owner)
{
	return fl_known_bug_match_on(r, ks, owner, fl_known_bug_arch());
}

/* "6.1.119-1", "5.10.0-32-amd64": -1 if no "X.Y" */
int fl_version_parse(const char *s, unsigned int v[3])
{
	v[2] = 0;
	return s && sscanf(s, "%u.%u.%u", &v[0], &v[1], &v[2]) >= 2 ? 0 : -1;
}

int fl_version_cmp(const unsigned int a[3], const unsigned int b[3])
{
	int i;

	for (i = 0; i < 3; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return 0;
}

int fl_known_bug_fixed_in(const struct fl_known_bug *b, const char *version)
{
	unsigned int have[3], fix[3];
	int i;

	if (!b->fix)
		return 0;
	if (fl_version_parse(version, have) || fl_version_parse(b->fixed_in, fix))
		return -1;
	if (fl_version_cmp(have, fix) >= 0)
		return 1;
	for (i = 0; i < 4 && b->stable[i]; i++)
		if (!fl_version_parse(b->stable[i], fix) && have[0] == fix[0] &&
		    have[1] == fix[1] && have[2] >= fix[2])
			return 1;
	return 0;
}
