// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The kernel's HZ: config lines, /proc/timer_list, the rate snap, and the
 * real answer on this machine against its own kernel config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <zlib.h>
#include <unistd.h>
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

/*
 * CONFIG_HZ from a kernel config, read here without src/hz.c: the
 * independent answer the measurement is held to.  0: no such file or no
 * CONFIG_HZ line.  gzopen() reads plain files as they are.
 */
static unsigned int config_hz(const char *path)
{
	unsigned int hz = 0;
	char line[256], nl;
	gzFile f = gzopen(path, "rb");

	if (!f)
		return 0;
	while (!hz && gzgets(f, line, sizeof(line)))
		if (sscanf(line, "CONFIG_HZ=%u%c", &hz, &nl) == 2 && nl != '\n')
			hz = 0;
	gzclose(f);
	return hz;
}

/*
 * This kernel: the measurement (/proc/timer_list) and fl_kernel_hz()
 * against the kernel's own config, /boot/config-$(uname -r) or
 * /proc/config.gz (FL_TEST_KCONFIG: another file, to show the test
 * failing or skipping).  Where there is no config (the VM guests), nothing
 * independent says what HZ is: skipped, not passed.
 */
static void test_this_kernel(void **state)
{
	const char *src = NULL, *msrc = NULL, *cfg = getenv("FL_TEST_KCONFIG");
	unsigned int hz, mhz, khz = 0;
	char boot[320];
	struct utsname u;

	if (cfg) {
		khz = config_hz(cfg);
	} else {
		assert_int_equal(uname(&u), 0);
		snprintf(boot, sizeof(boot), "/boot/config-%s", u.release);
		cfg = boot;
		khz = config_hz(cfg);
		if (!khz) {
			cfg = "/proc/config.gz";
			khz = config_hz(cfg);
		}
	}
	if (!khz) {
		print_message("SKIPPED: no CONFIG_HZ in %s: no kernel config to hold the "
			      "measured HZ to\n", cfg);
		skip();
	}
	hz = fl_kernel_hz(&src);
	assert_non_null(src);
	print_message("CONFIG_HZ %u (%s); fl_kernel_hz %u (%s)\n", khz, cfg, hz, src);
	assert_int_equal(hz, khz);
	/* the measurement, which kernels without a config rely on, reads
	 * /proc/timer_list: root only */
	if (access("/proc/timer_list", R_OK)) {
		print_message("SKIPPED: /proc/timer_list unreadable (not root): the "
			      "measured HZ is not checked\n");
		skip();
	}
	mhz = fl_measured_hz(&msrc);
	print_message("measured %u (%s)\n", mhz, msrc);
	assert_int_equal(mhz, khz);
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
