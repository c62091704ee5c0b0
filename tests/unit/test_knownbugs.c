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
#include "knownbugs.h"
#include "ksyms.h"
#include "unit.h"

static const char fixture[] =
	"ffffffff81001000 T exc_page_fault\n"
	"ffffffff81002000 T handle_userfault\n"
	"ffffffff81003000 T madvise_populate\n"
	"ffffffff81004000 T do_syscall_64\n"
	"ffffffff81005000 T faultin_vma_page_range\n";

static struct ksyms *load_fixture(void)
{
	struct ksyms *ks = ksyms_from_text(fixture);

	assert_non_null(ks);
	return ks;
}

static const struct fl_known_bug *by_id(const char *id)
{
	int i;

	for (i = 0; i < fl_nr_known_bugs; i++)
		if (!strcmp(fl_known_bugs[i].id, id))
			return &fl_known_bugs[i];
	fail_msg("no bug %s", id);
	return NULL;
}

static void test_match(void **state)
{
	struct ksyms *ks = load_fixture();
	struct fl_report r = { .kind = FL_REPORT_DETECTED, .sig = FL_SIG_FAULT_STALL };
	const struct fl_known_bug *b;

	/* a stall with no telling frame or flag: no bug */
	r.stack[0] = 0xffffffff81001010ULL;
	r.stack_sz = 8;
	assert_null(fl_known_bug_match(&r, ks, 0));
	/* handle_userfault in the stack, or the sampler's flag */
	r.stack[1] = 0xffffffff81002010ULL;
	r.stack_sz = 16;
	b = fl_known_bug_match(&r, ks, 0);
	assert_non_null(b);
	assert_string_equal(b->id, "uffd-signal-busy-loop");
	r.stack_sz = 8;
	r.flags = FL_EP_UFFD;
	assert_ptr_equal(fl_known_bug_match(&r, ks, 0), b);
	/* or a signal pending in the stalled fault (the write direction's
	 * samples rarely land in handle_userfault) */
	r.flags = FL_EP_REPORTED | FL_EP_SIGPEND;
	assert_ptr_equal(fl_known_bug_match(&r, ks, 0), b);
	/* a GUP loop under madvise_populate */
	r.flags = 0;
	r.stack[1] = 0xffffffff81003020ULL;
	r.stack_sz = 16;
	assert_string_equal(fl_known_bug_match(&r, ks, 0)->id, "madv-populate-eio");
	r.stack[1] = 0xffffffff81005040ULL;	/* 6.1's name, which the fix changed */
	assert_string_equal(fl_known_bug_match(&r, ks, 0)->id, "madv-populate-eio");
	/* search_ioctl owns the seeds' loop on arm64 only */
	r.stack_sz = 8;
	b = fl_known_bug_match(&r, ks, FL_SIG_OWNER_SEARCH_IOCTL);
#if defined(__aarch64__)
	assert_string_equal(b->id, "btrfs-search-ioctl-subpage");
#else
	assert_null(b);
#endif
	ksyms__free(ks);
}

static void test_fixed_by_version(void **state)
{
	const struct fl_known_bug *mte = by_id("btrfs-search-ioctl-subpage");
	const struct fl_known_bug *uffd = by_id("uffd-signal-busy-loop");
	const struct fl_known_bug *pop = by_id("madv-populate-eio");

	assert_int_equal(fl_known_bug_fixed_in(mte, "5.10.223"), 0);	/* never backported */
	assert_int_equal(fl_known_bug_fixed_in(mte, "5.15.170"), 0);
	assert_int_equal(fl_known_bug_fixed_in(mte, "5.19"), 1);
	assert_int_equal(fl_known_bug_fixed_in(mte, "6.1.119"), 1);
	assert_int_equal(fl_known_bug_fixed_in(pop, "6.8.12"), 0);
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
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_fixed_by_version),
		cmocka_unit_test(test_kernel_version),
	};

	return cmocka_run_group_tests_name("knownbugs", tests, NULL, NULL);
}
