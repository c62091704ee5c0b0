// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "json.h"

static char *render(void (*fn)(struct jw *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct jw w;

	assert_non_null(f);
	jw_init(&w, f);
	fn(&w);
	assert_false(w.error);
	fclose(f);
	return buf;
}

static void nested(struct jw *w)
{
	jw_object_start(w);
	jw_kv_string(w, "a", "x");
	jw_name(w, "list");
	jw_array_start(w);
	jw_uint(w, 1);
	jw_int(w, -2);
	jw_object_start(w);
	jw_object_end(w);
	jw_bool(w, true);
	jw_null(w);
	jw_array_end(w);
	jw_kv_hex(w, "addr", 0xffff800012345678ULL);
	jw_object_end(w);
}

static void test_nesting_and_commas(void **state)
{
	char *s = render(nested);

	assert_string_equal(s, "{\"a\":\"x\",\"list\":[1,-2,{},true,null],\"addr\":\"0xffff800012345678\"}");
	free(s);
}

static void hostile(struct jw *w)
{
	/* a comm as a user may set it: quote, backslash, newline, control, high byte */
	static const char comm[16] = { 'a', '"', 'b', '\\', '\n', 1, (char)0xff, 't', 'a',
				       'b', 'c', 'd', 'e', 'f', 'g', 'h' };

	jw_object_start(w);
	jw_name(w, "comm");
	jw_string_n(w, comm, sizeof(comm));	/* not NUL terminated */
	jw_object_end(w);
}

static void test_escaping(void **state)
{
	char *s = render(hostile);

	assert_string_equal(s, "{\"comm\":\"a\\\"b\\\\\\n\\u0001\\u00fftabcdefgh\"}");
	free(s);
}

static void misuse(struct jw *w)
{
	jw_object_end(w);
}

static void test_misuse_flagged(void **state)
{
	struct jw w;
	FILE *f = fopen("/dev/null", "w");

	jw_init(&w, f);
	misuse(&w);
	assert_true(w.error);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nesting_and_commas),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_misuse_flagged),
	};

	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
