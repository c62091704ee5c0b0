// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The command line's error paths, with argp_failure() returning as the
 * fuzzer's does (tests/fuzz/fuzz_config.c): a bad value must leave the
 * configuration as it was, never write the value it failed to parse.
 */
#include <argp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include "config.h"

static int failures;

/* The executable's definition wins over libc's for config.o's calls. */
void argp_failure(const struct argp_state *state, int status, int errnum,
		  const char *fmt, ...)
{
	(void)errnum;
	(void)fmt;
	if (status) {
		failures++;
		((struct argp_state *)state)->next = state->argc;
	}
}

static void parse(struct fl_config *cfg, const char *flag, const char *value)
{
	char *argv[] = { "faultloop", (char *)flag, (char *)value, NULL };

	failures = 0;
	fl_config_parse(cfg, 3, argv);
}

/* Junk for an integer and for a duration: the defaults stay. */
static void test_bad_value_writes_nothing(void **state)
{
	static const struct {
		const char *flag, *value;
		size_t off, size;
	} bad[] = {
		{ "--threshold", "junk", offsetof(struct fl_config, threshold), sizeof(uint32_t) },
		{ "--max-tasks", "-1", offsetof(struct fl_config, max_tasks), sizeof(uint32_t) },
		{ "--gap", "forever", offsetof(struct fl_config, gap_ns), sizeof(uint64_t) },
		{ "--pid", "0", offsetof(struct fl_config, pid), sizeof(uint32_t) },
	};
	struct fl_config dflt, cfg;
	char *argv[] = { "faultloop", NULL };
	size_t i;

	(void)state;
	fl_config_parse(&dflt, 1, argv);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse(&cfg, bad[i].flag, bad[i].value);
		assert_int_equal(failures, 1);
		assert_memory_equal((char *)&cfg + bad[i].off, (char *)&dflt + bad[i].off,
				    bad[i].size);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_value_writes_nothing),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
