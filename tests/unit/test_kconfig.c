// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Kernel config lines and THREAD_SIZE, which the task iterator needs on
 * 5.10-5.14 to find a task's saved registers (was a constant 16 KiB). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "kconfig.h"

static void test_config_line(void **state)
{
	assert_string_equal(fl_kconfig_line("CONFIG_HZ=250\n", "HZ"), "250\n");
	assert_null(fl_kconfig_line("CONFIG_HZ_250=y\n", "HZ"));
	assert_null(fl_kconfig_line("# CONFIG_KASAN is not set\n", "KASAN"));
	assert_string_equal(fl_kconfig_line("CONFIG_KASAN=y", "KASAN"), "y");
	assert_null(fl_kconfig_line("CONFIG_KASAN_GENERIC=y", "KASAN"));
}

static void test_thread_size(void **state)
{
	/* x86_64: PAGE_SIZE << (2 + KASAN_STACK_ORDER) */
	assert_int_equal(fl_thread_size("x86_64", 12, 0, 0, 1), 16384);
	assert_int_equal(fl_thread_size("x86_64", 12, 1, 0, 1), 32768);
	/* arm64: 1 << max(14 + KASAN_THREAD_SHIFT, PAGE_SHIFT if VMAP_STACK) */
	assert_int_equal(fl_thread_size("arm64", 12, 0, 0, 1), 16384);
	assert_int_equal(fl_thread_size("arm64", 14, 0, 0, 1), 16384);
	assert_int_equal(fl_thread_size("arm64", 16, 0, 0, 1), 65536);
	assert_int_equal(fl_thread_size("arm64", 16, 0, 0, 0), 16384);
	assert_int_equal(fl_thread_size("arm64", 12, 1, 0, 1), 32768);
	assert_int_equal(fl_thread_size("arm64", 12, 1, 1, 1), 16384);	/* HW tags: no shift */
	assert_int_equal(fl_thread_size("riscv64", 12, 0, 0, 1), 0);
}

/* This kernel: what its config says, as the loader computes it. */
static void test_this_kernel(void **state)
{
	char v[8];
	int kasan = fl_kconfig_get("KASAN", v, sizeof(v), NULL);
	uint64_t ts = fl_kernel_thread_size();

#if defined(__x86_64__)
	assert_int_equal(ts, kasan == 1 && !strcmp(v, "y") ? 32768 : 16384);
#else
	(void)kasan;
	assert_true(ts >= 16384 && !(ts & (ts - 1)));
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_line),
		cmocka_unit_test(test_thread_size),
		cmocka_unit_test(test_this_kernel),
	};

	return cmocka_run_group_tests_name("kconfig", tests, NULL, NULL);
}
