// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The known-bug table: matches by owner, arch, flags and stack, and the
 * "does this kernel have the fix" answer by version. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "exposure.h"
#include "knownbugs.h"
#include "ksyms.h"
#include "unit.h"

static const char fixture[] =
	"ffffffff81001000 T exc_page_fault\n"
	"ffffffff81002000 T handle_userfault\n"
	"ffffffff81003000 T madvise_populate\n"
	"ffffffff81004000 T do_syscall_64\n"
	"ffffffff81005000 T faultin_vma_page_range\n"
	"ffffffff81006000 T _etext\n";	/* the last symbol's end */

static struct ksyms *load_fixture(void)
{
	struct ksyms *ks = ksyms_from_text(fixture);

	assert_non_null(ks);
	return ks;
}

/* A report of sig with the frames given (0-terminated) and flags. */
static struct fl_report report(unsigned int sig, uint8_t flags, const uint64_t *frames)
{
	struct fl_report r = { .kind = FL_REPORT_DETECTED, .sig = sig,
			       .flags = FL_EP_REPORTED | flags };
	int n = 0;

	while (frames[n] && n < FL_MAX_STACK) {
		r.stack[n] = frames[n];
		n++;
	}
	r.stack_sz = n * 8;
	return r;
}

#define EXC	0xffffffff81001010ULL	/* exc_page_fault */
#define UFFD	0xffffffff81002010ULL	/* handle_userfault */
#define MADV	0xffffffff81003020ULL	/* madvise_populate */
#define SYSC	0xffffffff81004010ULL	/* do_syscall_64 */
#define FVPR	0xffffffff81005040ULL	/* faultin_vma_page_range */
#define UFFD_ID	"uffd-signal-busy-loop"
#define POP_ID	"madv-populate-eio"
#define MTE_ID	"btrfs-search-ioctl-subpage"

/* One report: its signal, flags, stack (which frames), owner and the
 * host's architecture, and the bug it must be named ("none": no bug). */
struct match_case {
	const char *why;
	unsigned int sig;
	uint8_t flags;
	const uint64_t *frames;
	unsigned int owner, arch;
	const char *want;
};

static const uint64_t plain[] = { EXC, SYSC, 0 }, in_uffd[] = { UFFD, EXC, SYSC, 0 };
static const uint64_t populate[] = { FVPR, MADV, SYSC, 0 };

#define X86	FL_BUG_ARCH_X86
#define ARM64	FL_BUG_ARCH_ARM64
#define GPW	FL_SIG_OWNER_GENERIC_PERFORM_WRITE
#define SIO	FL_SIG_OWNER_SEARCH_IOCTL
#define BOTH	(FL_EP_UFFD | FL_EP_SIGPEND)

static void check_cases(const struct match_case *c, size_t n)
{
	struct ksyms *ks = load_fixture();
	size_t i;

	for (i = 0; i < n; i++) {
		struct fl_report r = report(c[i].sig, c[i].flags, c[i].frames);
		const struct fl_known_bug *b = fl_known_bug_match_on(&r, ks, c[i].owner, c[i].arch);

		if (strcmp(b ? b->id : "none", c[i].want))
			fail_msg("%s: %s, want %s", c[i].why, b ? b->id : "none", c[i].want);
	}
	ksyms__free(ks);
}

/* The stall sampler's reports: the uffd loop needs userfaultfd in the
 * fault (its flag or handle_userfault's frame) and an unblocked signal. */
static void test_match_stall(void **state)
{
	static const struct match_case cases[] = {
		{ "nothing telling", FL_SIG_FAULT_STALL, 0, plain, 0, X86, "none" },
		{ "uffd flag, signal", FL_SIG_FAULT_STALL, BOTH, plain, 0, X86, UFFD_ID },
		{ "uffd frame, signal", FL_SIG_FAULT_STALL, FL_EP_SIGPEND, in_uffd, 0, ARM64, UFFD_ID },
		/* one piece of evidence alone is another loop */
		{ "signal alone", FL_SIG_FAULT_STALL, FL_EP_SIGPEND, plain, 0, X86, "none" },
		{ "uffd flag alone", FL_SIG_FAULT_STALL, FL_EP_UFFD, plain, 0, X86, "none" },
		{ "uffd frame alone", FL_SIG_FAULT_STALL, 0, in_uffd, 0, X86, "none" },
		/* a GUP loop under madvise_populate, 6.1's name and the inlined one */
		{ "populate", FL_SIG_FAULT_STALL, 0, populate, 0, X86, POP_ID },
		{ "populate inlined", FL_SIG_FAULT_STALL, 0, populate + 1, 0, X86, POP_ID },
	};
	struct ksyms *ks = load_fixture();
	struct fl_report r = report(FL_SIG_FAULT_STALL, BOTH, plain);

	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
	/* the public entry point uses this host's architecture */
	assert_string_equal(fl_known_bug_match(&r, ks, 0)->id, UFFD_ID);
	ksyms__free(ks);
}

/* The retry detector's reports (a copy, fault-in or fault probe). */
static void test_match_detector(void **state)
{
	static const uint64_t gup[] = { FVPR, SYSC, 0 };
	static const struct match_case cases[] = {
		/* issue 19: the madvise/pwrite race with SIGUSR1 blocked and
		 * pending (BPF leaves FL_EP_SIGPEND clear), and unblocked */
		{ "race, blocked signal", FL_SIG_PF_KERNEL_ATOMIC, 0, plain, GPW, X86, "none" },
		{ "race, signal", FL_SIG_PF_KERNEL_ATOMIC, FL_EP_SIGPEND, plain, GPW, X86, "none" },
		/* the uffd loop seen by the fault path's probes */
		{ "uffd, handle_mm_fault", FL_SIG_HANDLE_MM_FAULT, BOTH, plain, 0, X86, UFFD_ID },
		{ "uffd frame, do_page_fault", FL_SIG_DO_PAGE_FAULT, FL_EP_SIGPEND, in_uffd, 0, ARM64,
		  UFFD_ID },
		{ "uffd, no signal", FL_SIG_HANDLE_MM_FAULT, FL_EP_UFFD, plain, 0, X86, "none" },
		/* MADV_POPULATE's GUP seen by handle_mm_fault */
		{ "populate GUP", FL_SIG_HANDLE_MM_FAULT, 0, gup, 0, X86, POP_ID },
		{ "GUP elsewhere", FL_SIG_HANDLE_MM_FAULT, 0, plain, 0, X86, "none" },
		/* search_ioctl's copy: the seeds' loop on arm64 only, and only
		 * when search_ioctl owns it */
		{ "search_ioctl, arm64", FL_SIG_EB_TO_USER_NOFAULT, 0, plain, SIO, ARM64, MTE_ID },
		{ "search_ioctl, x86", FL_SIG_EB_TO_USER_NOFAULT, 0, plain, SIO, X86, "none" },
		{ "other owner", FL_SIG_EB_TO_USER_NOFAULT, 0, plain, GPW, ARM64, "none" },
		{ "no owner", FL_SIG_EB_TO_USER_NOFAULT, 0, plain, 0, ARM64, "none" },
		{ "tag check", FL_SIG_TAG_CHECK_FAULT, FL_EP_SIGPEND, plain, SIO, ARM64, MTE_ID },
	};

	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_fixed_by_version(void **state)
{
	const struct fl_known_bug *mte = fl_known_bug_by_id("btrfs-search-ioctl-subpage");
	const struct fl_known_bug *uffd = fl_known_bug_by_id("uffd-signal-busy-loop");
	const struct fl_known_bug *pop = fl_known_bug_by_id("madv-populate-eio");

	assert_int_equal(fl_known_bug_fixed_in(mte, "5.10.223"), 0);	/* never backported */
	assert_int_equal(fl_known_bug_fixed_in(mte, "5.15.170"), 0);
	assert_int_equal(fl_known_bug_fixed_in(mte, "5.19"), 1);
	assert_int_equal(fl_known_bug_fixed_in(mte, "6.1.119"), 1);
	assert_int_equal(fl_known_bug_fixed_in(pop, "6.8.7"), 0);
	assert_int_equal(fl_known_bug_fixed_in(pop, "6.8.8"), 1);	/* stable took it */
	assert_int_equal(fl_known_bug_fixed_in(pop, "6.1.176"), 0);	/* failed to apply */
	assert_int_equal(fl_known_bug_fixed_in(pop, "6.9.0"), 1);
	assert_int_equal(fl_known_bug_fixed_in(pop, "7.3.4"), 1);
	assert_int_equal(fl_known_bug_fixed_in(uffd, "7.3.4"), 0);	/* no fix exists */
	assert_int_equal(fl_known_bug_fixed_in(pop, "garbage"), -1);
	assert_int_equal(fl_known_bug_fixed_in(pop, ""), -1);
}

/* The running kernel's version is a dotted number. */
static void test_kernel_version(void **state)
{
	const char *v = fl_kernel_version();
	unsigned int a, b;

	assert_true(sscanf(v, "%u.%u", &a, &b) == 2);
	assert_true(a >= 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_stall),
		cmocka_unit_test(test_match_detector),
		cmocka_unit_test(test_fixed_by_version),
		cmocka_unit_test(test_kernel_version),
	};

	return cmocka_run_group_tests_name("knownbugs", tests, NULL, NULL);
}
