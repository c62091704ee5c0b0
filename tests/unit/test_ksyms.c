// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "ksyms.h"
#include "unit.h"

static const char fixture[] =
	"ffffffff81000000 T _stext\n"
	"ffffffff81100000 T generic_perform_write\n"
	"ffffffff81100400 t copy_to_sk.isra.0\n"
	"ffffffff81100800 d some_data\n"
	"ffffffff81100800 t search_ioctl\n"
	"ffffffff81101000 T fault_in_readable\n"
	"ffffffffc0100000 t btrfs_buffered_write.isra.0\t[btrfs]\n"
	"ffffffffc0100200 T read_extent_buffer_to_user_nofault\t[btrfs]\n";

static int setup(void **state)
{
	*state = ksyms_from_text(fixture);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	ksyms__free(*state);
	return 0;
}

static void test_map_addr(void **state)
{
	struct ksyms *ks = *state;
	const struct ksym *k;

	assert_int_equal(ksyms__count(ks), 8);
	assert_false(ksyms__hidden(ks));
	k = ksyms__map_addr(ks, 0xffffffff81100010ULL);
	assert_string_equal(k->name, "generic_perform_write");
	assert_null(k->module);
	/* data and text share an address: text wins */
	k = ksyms__map_addr(ks, 0xffffffff81100810ULL);
	assert_string_equal(k->name, "search_ioctl");
	k = ksyms__map_addr(ks, 0xffffffffc0100210ULL);
	assert_string_equal(k->name, "read_extent_buffer_to_user_nofault");
	assert_string_equal(k->module, "btrfs");
	assert_null(ksyms__map_addr(ks, 0x1000));
}

static void test_clones(void **state)
{
	struct ksyms *ks = *state;
	char buf[64];

	assert_string_equal(ksyms__find_attachable(ks, "fault_in_readable")->name, "fault_in_readable");
	assert_string_equal(ksyms__find_attachable(ks, "copy_to_sk")->name, "copy_to_sk.isra.0");
	assert_string_equal(ksyms__find_attachable(ks, "btrfs_buffered_write")->name,
			    "btrfs_buffered_write.isra.0");
	assert_null(ksyms__find_attachable(ks, "copy_to"));	/* prefix is not a clone */
	assert_null(ksyms__find_attachable(ks, "some_data"));	/* not text */
	assert_string_equal(ksyms__base_name("copy_to_sk.isra.0", buf, sizeof(buf)), "copy_to_sk");
	assert_string_equal(ksyms__base_name("search_ioctl", buf, sizeof(buf)), "search_ioctl");
}

static void test_hidden_and_missing(void **state)
{
	struct ksyms *ks = ksyms_from_text("0000000000000000 T a\n0000000000000000 T b\n");

	assert_non_null(ks);
	assert_true(ksyms__hidden(ks));
	ksyms__free(ks);
	assert_null(ksyms__load("/nonexistent/kallsyms"));
}

/*
 * An empty kallsyms, or one with no line in the format (fuzz_ksyms,
 * UBSan: qsort(NULL, 0, ...) on zero symbols; its first argument is
 * declared nonnull): no symbols, nothing found, not "hidden".
 */
static void test_empty(void **state)
{
	static const char *const texts[] = { "", "no symbols here\n\n" };
	uint64_t start, end;
	struct ksyms *ks;
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		ks = ksyms_from_text(texts[i]);
		assert_non_null(ks);
		assert_int_equal(ksyms__count(ks), 0);
		assert_false(ksyms__hidden(ks));
		assert_null(ksyms__map_addr(ks, 0xffffffff81000000ULL));
		assert_null(ksyms__find_attachable(ks, "generic_perform_write"));
		assert_int_not_equal(ksyms__range(ks, "generic_perform_write", &start, &end), 0);
		ksyms__free(ks);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_map_addr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clones, setup, teardown),
		cmocka_unit_test(test_hidden_and_missing),
		cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests_name("ksyms", tests, NULL, NULL);
}
