// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The kernel's HZ: config lines, /proc/timer_list, the rate snap, and the
 * real answer on this machine against its own kernel config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "hz.h"

static void test_config_line(void **state)
{
	assert_int_equal(fl_config_hz_line("CONFIG_HZ=250\n"), 250);
	assert_int_equal(fl_config_hz_line("CONFIG_HZ=1000"), 1000);
	assert_int_equal(fl_config_hz_line("CONFIG_HZ_250=y\n"), 0);
	assert_int_equal(fl_config_hz_line("# CONFIG_HZ_1000 is not set\n"), 0);
	assert_int_equal(fl_config_hz_line("CONFIG_HZ=\n"), 0);
	assert_int_equal(fl_config_hz_line("CONFIG_HZ=25x\n"), 0);
	assert_int_equal(fl_config_hz_line("CONFIG_HZ=0\n"), 0);
}

/* The head of a real 6.18 /proc/timer_list (abridged). */
static const char timer_list[] =
	"Timer List Version: v0.10\n"
	"HRTIMER_MAX_CLOCK_BASES: 8\n"
	"now at 21412374583386 nsecs\n"
	"\n"
	"cpu: 0\n"
	" clock 0:\n"
	"  .resolution: 1 nsecs\n"
	"  .idle_jiffies   : 4300245335\n"
	"  .last_jiffies   : 4300245335\n"
	"jiffies: 4300245538\n"
	"\n"
	"cpu: 1\n"
	"jiffies: 4300245539\n";

static void test_timer_list(void **state)
{
	uint64_t now = 0, j = 0;

	assert_int_equal(fl_timer_list_parse(timer_list, &now, &j), 0);
	assert_int_equal(now, 21412374583386ULL);
	assert_int_equal(j, 4300245538ULL);	/* the first, not .last_jiffies */
	assert_int_not_equal(fl_timer_list_parse("now at 5 nsecs\n", &now, &j), 0);
	assert_int_not_equal(fl_timer_list_parse("jiffies: 7\nnow at 5 nsecs\n", &now, &j), 0);
	assert_int_not_equal(fl_timer_list_parse("", &now, &j), 0);
}

static void test_rate_snap(void **state)
{
	assert_int_equal(fl_hz_from_rate(250.0), 250);
	assert_int_equal(fl_hz_from_rate(245.0), 250);	/* 200 ms: 49 jiffies */
	assert_int_equal(fl_hz_from_rate(295.0), 300);
	assert_int_equal(fl_hz_from_rate(990.0), 1000);
	assert_int_equal(fl_hz_from_rate(100.0), 100);
	assert_int_equal(fl_hz_from_rate(170.0), 0);	/* no such HZ: refuse */
	assert_int_equal(fl_hz_from_rate(0.0), 0);
}

/* This kernel: the measurement agrees with what fl_kernel_hz() finds
 * (its kernel config, here; the VM guests have none and measure). */
static void test_this_kernel(void **state)
{
	const char *src = NULL, *msrc = NULL;
	unsigned int hz = fl_kernel_hz(&src), mhz = fl_measured_hz(&msrc);

	assert_non_null(src);
	print_message("HZ %u from %s; measured %u (%s)\n", hz, src, mhz, msrc);
	assert_true(hz >= 24 && hz <= 1024);
	assert_int_equal(mhz, hz);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_line),
		cmocka_unit_test(test_timer_list),
		cmocka_unit_test(test_rate_snap),
		cmocka_unit_test(test_this_kernel),
	};

	return cmocka_run_group_tests_name("hz", tests, NULL, NULL);
}
