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
	"ffffffff81102000 T _etext\n"
	"ffffffffc0100000 t btrfs_buffered_write.isra.0\t[btrfs]\n"
	"ffffffffc0100200 T read_extent_buffer_to_user_nofault\t[btrfs]\n"
	"ffffffffc0100400 b __key.1\t[btrfs]\n";

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

	assert_int_equal(ksyms__count(ks), 10);
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

/*
 * Issue 19: a 6.1 guest's reports named BPF code after the nearest
 * preceding module symbol ("__this_module+0x4036 [virtio_pci_modern_dev]",
 * "ftrace_trampoline+0x2036 [__builtin__ftrace]", "__key.1+0x397ac
 * [btrfs]") or left it raw.  The module area as that kernel lists it
 * (data symbols of modules included) and our programs once loaded.
 */
static const char module_area[] =
	"ffffffff81000000 T _stext\n"
	"ffffffff81001000 T handle_mm_fault\n"
	"ffffffff81002000 T _etext\n"
	"ffffffffc0100000 t btrfs_search_slot\t[btrfs]\n"
	"ffffffffc0100200 T read_extent_buffer_to_user_nofault\t[btrfs]\n"
	"ffffffffc0100400 b __key.1\t[btrfs]\n"
	"ffffffffc0200000 t vp_modern_probe\t[virtio_pci_modern_dev]\n"
	"ffffffffc0200800 d __this_module\t[virtio_pci_modern_dev]\n"
	"ffffffffc0300000 t ftrace_trampoline\t[__builtin__ftrace]\n"
	"ffffffffc0340000 t bpf_trampoline_6442491234\t[bpf]\n"
	"ffffffffc0342000 t bpf_prog_0123456789abcdef_fl_fentry\t[bpf]\n"
	"ffffffffc0342800 t bpf_prog_fedcba9876543210_fl_stall\t[bpf]\n"
	"ffffffffc0400000 t last_fn\t[lastmod]\n";

static const char *name_of(const struct ksyms *ks, uint64_t addr)
{
	const struct ksym *k = ksyms__map_addr(ks, addr);

	return k ? k->name : "-";
}

static void test_frames_inside_symbols(void **state)
{
	struct ksyms *ks = ksyms_from_text(module_area);

	assert_non_null(ks);
	/* inside: named */
	assert_string_equal(name_of(ks, 0xffffffff81001234ULL), "handle_mm_fault");
	assert_string_equal(name_of(ks, 0xffffffffc0100300ULL), "read_extent_buffer_to_user_nofault");
	assert_string_equal(name_of(ks, 0xffffffffc0200010ULL), "vp_modern_probe");
	assert_string_equal(name_of(ks, 0xffffffffc0300010ULL), "ftrace_trampoline");
	/* past a data symbol, a text symbol has ended: not named */
	assert_string_equal(name_of(ks, 0xffffffffc0100400ULL + 0x397ac), "-");
	assert_string_equal(name_of(ks, 0xffffffffc0200800ULL + 0x4036), "-");
	/* a trampoline is a page at most */
	assert_string_equal(name_of(ks, 0xffffffffc0300000ULL + 0x2036), "-");
	assert_string_equal(name_of(ks, 0xffffffffc0340000ULL + 0x1010), "-");
	/* a module's last symbol, its end unknown: not named */
	assert_string_equal(name_of(ks, 0xffffffffc0400010ULL), "-");
	/* the last BPF program: its end unknown (0xffffffffc0342d45 above) */
	assert_string_equal(name_of(ks, 0xffffffffc0342d45ULL), "-");
	assert_string_equal(name_of(ks, 0xffffffff81002010ULL), "-");	/* vmlinux's last */
	ksyms__free(ks);
}

/* Our own programs, once kallsyms lists them (after ksyms__reload): BPF. */
static void test_bpf_frames(void **state)
{
	struct ksyms *ks = ksyms_from_text(module_area);
	const struct ksym *k;

	assert_non_null(ks);
	k = ksyms__map_addr(ks, 0xffffffffc0342100ULL);
	assert_string_equal(k->name, "bpf_prog_0123456789abcdef_fl_fentry");
	assert_true(ksyms__is_bpf(k));
	k = ksyms__map_addr(ks, 0xffffffffc0340040ULL);
	assert_string_equal(k->name, "bpf_trampoline_6442491234");
	assert_true(ksyms__is_bpf(k));
	assert_false(ksyms__is_bpf(ksyms__map_addr(ks, 0xffffffffc0300010ULL)));
	assert_false(ksyms__is_bpf(ksyms__map_addr(ks, 0xffffffff81001010ULL)));
	ksyms__free(ks);
}

static char *temp_file(const char *text)
{
	char *path = strdup("/tmp/fl-text-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* /proc/modules gives a module's end: its last function is named up to it. */
static void test_module_end(void **state)
{
	char *syms = temp_file(module_area);
	char *mods = temp_file("btrfs 1572864 0 - Live 0xffffffffc0100000\n"
			       "lastmod 8192 0 - Live 0xffffffffc0400000 (O)\n");
	struct ksyms *ks = ksyms__load_with(syms, mods);
	uint64_t start, end;

	assert_non_null(ks);
	assert_string_equal(name_of(ks, 0xffffffffc0400010ULL), "last_fn");
	assert_string_equal(name_of(ks, 0xffffffffc0401fffULL), "last_fn");
	assert_string_equal(name_of(ks, 0xffffffffc0402000ULL), "-");
	assert_int_equal(ksyms__range(ks, "last_fn", &start, &end), 0);
	assert_true(start == 0xffffffffc0400000ULL && end == 0xffffffffc0402000ULL);
	/* the next symbol still ends one before the module does */
	assert_string_equal(name_of(ks, 0xffffffffc0100400ULL + 0x10), "-");
	ksyms__free(ks);
	/* without /proc/modules, nothing after the last symbol */
	ks = ksyms__load_with(syms, NULL);
	assert_string_equal(name_of(ks, 0xffffffffc0400010ULL), "-");
	assert_int_not_equal(ksyms__range(ks, "last_fn", &start, &end), 0);
	ksyms__free(ks);
	unlink(syms);
	unlink(mods);
	free(syms);
	free(mods);
}

/*
 * Aliases at one address: a global text symbol names it, then the first
 * name in byte order, whatever the order of the lines (qsort is not
 * stable, and kallsyms lists aliases in link order).
 */
static void test_alias_ties(void **state)
{
	static const char *const orders[] = {
		"ffffffff81000000 T a\nffffffff81001000 t zeta\nffffffff81001000 W weak\n"
		"ffffffff81001000 T beta\nffffffff81001000 d data\nffffffff81001000 T alpha\n"
		"ffffffff81002000 t x\nffffffff81002000 t b\nffffffff81003000 T _etext\n",
		"ffffffff81001000 d data\nffffffff81001000 T alpha\nffffffff81002000 t b\n"
		"ffffffff81001000 T beta\nffffffff81003000 T _etext\nffffffff81002000 t x\n"
		"ffffffff81001000 W weak\nffffffff81001000 t zeta\nffffffff81000000 T a\n",
	};
	size_t i;

	for (i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		struct ksyms *ks = ksyms_from_text(orders[i]);

		assert_non_null(ks);
		assert_string_equal(name_of(ks, 0xffffffff81001010ULL), "alpha");
		assert_string_equal(name_of(ks, 0xffffffff81002010ULL), "b");
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
		cmocka_unit_test(test_frames_inside_symbols),
		cmocka_unit_test(test_bpf_frames),
		cmocka_unit_test(test_module_end),
		cmocka_unit_test(test_alias_ties),
	};

	return cmocka_run_group_tests_name("ksyms", tests, NULL, NULL);
}
