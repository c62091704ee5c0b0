// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "util.h"

static void test_parse_u64_ok(void **state)
{
	const char *err = NULL;
	uint64_t v;

	assert_int_equal(parse_u64("64", 1, 100, &v, &err), 0);
	assert_int_equal(v, 64);
	/* decimal: "-t 010" is ten, not eight (strtoull base 0 read octal) */
	assert_int_equal(parse_u64("010", 1, 100, &v, &err), 0);
	assert_int_equal(v, 10);
	assert_int_equal(parse_u64("1", 1, 1, &v, &err), 0);
}

static void test_parse_u64_rejects(void **state)
{
	static const char *const bad[] = {
		"", "-1", "+3", " 3", "3 ", "12abc", "abc", "1e3", "0", "101", "0x10",
		"99999999999999999999999", "18446744073709551616",
	};
	const char *err;
	uint64_t v = 7;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		err = NULL;
		assert_int_not_equal(parse_u64(bad[i], 1, 100, &v, &err), 0);
		assert_non_null(err);
		assert_int_equal(v, 7);	/* untouched on error */
	}
}

static void test_parse_duration(void **state)
{
	const char *err;
	uint64_t v;

	assert_int_equal(parse_duration_ns("250ms", 1000000, 1, UINT64_MAX, &v, &err), 0);
	assert_int_equal(v, 250000000ULL);
	assert_int_equal(parse_duration_ns("2", 1000000000ULL, 1, UINT64_MAX, &v, &err), 0);
	assert_int_equal(v, 2000000000ULL);
	assert_int_equal(parse_duration_ns("3m", 1, 1, UINT64_MAX, &v, &err), 0);
	assert_int_equal(v, 180000000000ULL);
	assert_int_equal(parse_duration_ns("1h", 1, 1, UINT64_MAX, &v, &err), 0);
	assert_int_equal(parse_duration_ns("5us", 1, 1, UINT64_MAX, &v, &err), 0);
	assert_int_equal(v, 5000);
}

static void test_parse_duration_rejects(void **state)
{
	static const char *const bad[] = {
		"", "-1s", "1x", "ms", "1 s", "0", "0s", "99999999999999999999h",
		"18446744073709551615h", "1.5s",
	};
	const char *err;
	uint64_t v;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		err = NULL;
		assert_int_not_equal(parse_duration_ns(bad[i], 1000000000ULL, 1, UINT64_MAX, &v, &err), 0);
		assert_non_null(err);
	}
	/* bounds */
	assert_int_not_equal(parse_duration_ns("500us", 1, 1000000, UINT64_MAX, &v, &err), 0);
	assert_int_not_equal(parse_duration_ns("2h", 1, 1, 3600ULL * 1000000000ULL, &v, &err), 0);
}

static void test_fmt_duration(void **state)
{
	char buf[32];

	assert_string_equal(fmt_duration(999, buf, sizeof(buf)), "999ns");
	assert_string_equal(fmt_duration(1500, buf, sizeof(buf)), "1.5us");
	assert_string_equal(fmt_duration(12300000, buf, sizeof(buf)), "12.3ms");
	assert_string_equal(fmt_duration(2500000000ULL, buf, sizeof(buf)), "2.50s");
}

/* One sanitizer for the comm in text reports and stuck-task reports. */
static void test_sanitize_comm(void **state)
{
	const char raw[16] = { 'a', '\n', 'b', 0x7f, (char)0xc3, (char)0xa9, 'c', 'd', 'e', 'f',
			       'g', 'h', 'i', 'j', 'k', 'l' };	/* no terminator */
	char out[17];

	fl_sanitize_comm(raw, sizeof(raw), out, sizeof(out));
	/* one rendering for text, JSON and metrics: UTF-8 kept */
	assert_string_equal(out, "a?b?\xc3\xa9" "cdefghijkl");
	fl_sanitize_comm("abc", 4, out, 3);
	assert_string_equal(out, "ab");
	/* a byte that starts no character; no half character at the end */
	fl_sanitize_comm("x\xff\xc3", 3, out, sizeof(out));
	assert_string_equal(out, "x??");
	fl_sanitize_comm("ab\xc3\xa9", 4, out, 4);
	assert_string_equal(out, "ab");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u64_ok),
		cmocka_unit_test(test_sanitize_comm),
		cmocka_unit_test(test_parse_u64_rejects),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_duration_rejects),
		cmocka_unit_test(test_fmt_duration),
	};

	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
