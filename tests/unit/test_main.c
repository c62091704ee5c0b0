// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * main.c's lifecycle on its error paths, without root: start() and
 * stop() as main() calls them (tests/sanitize/daemon_race.c drives the
 * same functions through a whole run, as root).
 */
#define main faultloop_main
#include "../../src/main.c"
#undef main

#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* A port someone else holds: start() fails at the bind, and stop() must
 * tear down only what started (it closed fd 0 twice: the session's
 * descriptors of a daemon never opened are 0, not -1). */
static void test_port_in_use_closes_nothing_else(void **state)
{
	static struct daemon d;	/* zeroed, as main()'s */
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	char addr[32];
	char *argv[] = { "faultloop", "--metrics", addr, NULL };
	int holder = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), p[2];

	(void)state;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(holder >= 0);
	assert_int_equal(bind(holder, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(holder, 1), 0);
	assert_int_equal(getsockname(holder, (struct sockaddr *)&a, &alen), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(a.sin_port));
	/* fd 0: a pipe of ours, to see whether it is closed */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(dup2(p[0], 0), 0);
	fl_config_parse(&d.cfg, 3, argv);
	assert_true(start(&d) < 0);
	stop(&d);
	assert_int_not_equal(fcntl(0, F_GETFD), -1);
	close(p[0]);
	close(p[1]);
	close(holder);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_port_in_use_closes_nothing_else),
	};

	return cmocka_run_group_tests_name("main", tests, NULL, NULL);
}
