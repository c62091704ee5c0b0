// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Why kernel addresses are hidden: the cause named is the kernel's rule
 * (kallsyms_show_value()), with the capability or sysctl that fixes it;
 * a pod with CAP_BPF + CAP_PERFMON on a host with kptr_restrict 0 and
 * perf_event_paranoid 2 was told "kptr_restrict".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <cmocka.h>
#include "ksyms.h"
#include "metrics.h"
#include "unit.h"

static const char *why(int kptr, int paranoid, bool syslog)
{
	static char buf[256];

	return ksyms__hidden_why(kptr, paranoid, syslog, buf, sizeof(buf));
}

static void test_paranoid_not_kptr(void **state)
{
	(void)state;
	/* kptr_restrict 0: the reader lacks CAP_SYSLOG and paranoid is above 1 */
	assert_non_null(strstr(why(0, 2, false), "perf_event_paranoid is 2 (above 1) and no CAP_SYSLOG"));
	assert_non_null(strstr(why(0, 3, false), "grant CAP_SYSLOG, or set kernel.perf_event_paranoid=1"));
	assert_null(strstr(why(0, 2, false), "kptr_restrict"));
}

static void test_kptr_restrict(void **state)
{
	(void)state;
	assert_non_null(strstr(why(1, 2, false), "kptr_restrict is 1 and no CAP_SYSLOG: grant CAP_SYSLOG"));
	assert_non_null(strstr(why(2, 1, true), "kptr_restrict is 2, which hides them from everyone"));
	assert_non_null(strstr(why(2, 1, false), "set it to 1 and grant CAP_SYSLOG"));
	/* held and still hidden: not a missing capability */
	assert_non_null(strstr(why(1, 2, true), "CAP_SYSLOG is held, yet"));
}

/* the exposition says whether symbols are available, for the alert */
static void test_metric(void **state)
{
	struct fl_metrics_snapshot snap = { .version = "t" };
	struct fl_user_stats u;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int i;

	(void)state;
	fl_user_stats_init(&u);
	for (i = 0; i < 2; i++) {
		snap.symbols = i;
		f = open_memstream(&buf, &len);
		assert_non_null(f);
		fl_metrics_render(f, false, &snap, &u);
		fclose(f);
		assert_non_null(strstr(buf, i ? "\nfaultloop_symbols_available 1\n"
					      : "\nfaultloop_symbols_available 0\n"));
		assert_non_null(strstr(buf, "# TYPE faultloop_symbols_available gauge\n"));
		free(buf);
		buf = NULL;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paranoid_not_kptr),
		cmocka_unit_test(test_kptr_restrict),
		cmocka_unit_test(test_metric),
	};

	return cmocka_run_group_tests_name("symstatus", tests, NULL, NULL);
}
