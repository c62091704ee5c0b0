// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>
#include "listen.h"
#include "knownbugs.h"
#include "metrics.h"

/* noinline: inlined, gcc 12 takes the returned buffer for a pointer to
 * the local that open_memstream updates (-Wdangling-pointer) */
static __attribute__((noinline)) char *render(bool om, struct fl_user_stats *u, const struct fl_metrics_snapshot *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fl_metrics_render(f, om, s, u);
	fclose(f);
	return buf;
}

static void test_labels_escaped_and_bounded(void **state)
{
	static struct fl_user_stats u;
	struct fl_metrics_snapshot s = { .version = "1.2\"3" };
	char comm[16];
	char *out;
	int i;

	fl_user_stats_init(&u);
	memcpy(comm, "a\"b\\c\nd", 8);
	fl_user_stats_loop(&u, FL_SIG_TAG_CHECK_FAULT, FL_SIG_OWNER_SEARCH_IOCTL,
			   &fl_known_bugs[0], comm, sizeof(comm));
	fl_user_stats_loop(&u, FL_SIG_TAG_CHECK_FAULT, FL_SIG_OWNER_SEARCH_IOCTL,
			   &fl_known_bugs[0], comm, sizeof(comm));
	/* 40 distinct comms: 16 get their own label value, the rest "other" */
	for (i = 0; i < 40; i++) {
		snprintf(comm, sizeof(comm), "task%d", i);
		fl_user_stats_loop(&u, FL_SIG_PF_KERNEL, 0, NULL, comm, strlen(comm));
	}
	out = render(false, &u, &s);
	assert_non_null(strstr(out, "faultloop_loops_detected_total{signal=\"do_tag_check_fault\","
				 "owner=\"search_ioctl\",bug=\"btrfs-search-ioctl-subpage\","
				 "comm=\"a\\\"b\\\\c?d\"} 2\n"));
	assert_non_null(strstr(out, "comm=\"task14\"} 1\n"));
	assert_null(strstr(out, "comm=\"task15\""));	/* 16th distinct comm is the 17th value */
	assert_non_null(strstr(out, "owner=\"unknown\",bug=\"none\",comm=\"other\"} 25\n"));
	assert_non_null(strstr(out, "faultloop_build_info{version=\"1.2\\\"3\"} 1\n"));
	assert_null(strstr(out, "# EOF"));
	free(out);
}

/*
 * Label values are UTF-8 in both formats; Prometheus and promtool reject
 * the whole scrape on one that is not ("invalid label value").  A comm is
 * any 16 bytes, and one cut at 15 bytes can end inside a character
 * (fuzz_metrics: a comm "\xdfmtzloop").  Bytes that start no well-formed
 * sequence are written '?', well-formed characters as they are; comms
 * that read the same that way are one series, never two with the same
 * labels.
 */
static void test_labels_utf8(void **state)
{
	static struct fl_user_stats u;
	struct fl_metrics_snapshot s = { .version = "x" };
	char *buf = NULL, *out;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fl_metrics_escape(f, "\xdfmtzloop", 9);
	fl_metrics_escape(f, "|caf\xc3\xa9", 6);			/* valid: kept */
	fl_metrics_escape(f, "|abcdefghijklmn\xc3", 16);		/* cut: '?' */
	fl_metrics_escape(f, "|\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80", 10);	/* overlong, surrogate, > U+10FFFF */
	fl_metrics_escape(f, "|\xe2\x82\xac\xf0\x9f\x98\x80\"", 9);	/* 3 and 4 bytes, then a quote */
	fclose(f);
	assert_string_equal(buf, "?mtzloop|caf\xc3\xa9|abcdefghijklmn?|?????????|\xe2\x82\xac\xf0\x9f\x98\x80\\\"");
	free(buf);

	fl_user_stats_init(&u);
	fl_user_stats_loop(&u, FL_SIG_PF_KERNEL, 0, NULL, "a\xff", 2);
	fl_user_stats_loop(&u, FL_SIG_PF_KERNEL, 0, NULL, "a\xfe", 2);
	fl_user_stats_loop(&u, FL_SIG_PF_KERNEL, 0, NULL, "a?", 2);
	out = render(false, &u, &s);
	assert_non_null(strstr(out, "bug=\"none\",comm=\"a?\"} 3\n"));
	assert_int_equal(u.nloops, 1);
	free(out);
}

static void test_histogram_and_openmetrics(void **state)
{
	static struct fl_user_stats u;
	struct fl_metrics_snapshot s = {};
	char *out, *p;

	fl_user_stats_init(&u);
	s.bpf.hist_retries[0] = 3;	/* 0 retries */
	s.bpf.hist_retries[3] = 2;	/* 4..7 */
	s.bpf.sum_retries = 11;
	s.bpf.hist_retries[7] = 1;	/* 64..127: an episode the sweep ended */
	s.bpf.sum_retries += 100;
	out = render(false, &u, &s);
	assert_non_null(strstr(out, "# TYPE faultloop_episode_retries histogram\n"));
	assert_non_null(strstr(out, "faultloop_episode_retries_bucket{le=\"0\"} 3\n"));
	assert_non_null(strstr(out, "faultloop_episode_retries_bucket{le=\"7\"} 5\n"));
	assert_non_null(strstr(out, "faultloop_episode_retries_bucket{le=\"127\"} 6\n"));
	assert_non_null(strstr(out, "faultloop_episode_retries_bucket{le=\"+Inf\"} 6\n"));
	assert_non_null(strstr(out, "faultloop_episode_retries_sum 111\n"));
	assert_non_null(strstr(out, "faultloop_episode_retries_count 6\n"));
	assert_non_null(strstr(out, "# TYPE faultloop_retries_total counter\n"));
	free(out);

	out = render(true, &u, &s);
	/* OpenMetrics: counter families lose _total, info is a type, # EOF last */
	assert_non_null(strstr(out, "# TYPE faultloop_retries counter\nfaultloop_retries_total 0\n"));
	assert_non_null(strstr(out, "# TYPE faultloop_build info\n"));
	p = out + strlen(out) - strlen("# EOF\n");
	assert_string_equal(p, "# EOF\n");
	free(out);
}

/*
 * The alert's counter: increase() needs two samples, so a series born at 1
 * hides the loop that created it.  Every bug's series (and "none") exists
 * at 0 from the first scrape; every loop counts, the series table's
 * overflow included.
 */
static void test_loops_by_bug_from_zero(void **state)
{
	static struct fl_user_stats u;
	struct fl_metrics_snapshot s = { .version = "x", .symbols = true };
	char *out, *p, line[160], comm[16];
	struct timespec now;
	double start;
	int i;

	assert_true(fl_nr_known_bugs <= FL_METRICS_MAX_BUGS);
	fl_user_stats_init(&u);
	out = render(false, &u, &s);
	assert_non_null(strstr(out, "# TYPE faultloop_loops_by_bug_total counter\n"));
	assert_non_null(strstr(out, "faultloop_loops_by_bug_total{bug=\"none\"} 0\n"));
	for (i = 0; i < fl_nr_known_bugs; i++) {
		snprintf(line, sizeof(line), "faultloop_loops_by_bug_total{bug=\"%s\"} 0\n",
			 fl_known_bugs[i].id);
		assert_non_null(strstr(out, line));
	}
	/* the labelled detail has no series yet: it cannot be pre-created (comm) */
	assert_null(strstr(out, "faultloop_loops_detected_total{"));
	assert_non_null(strstr(out, "faultloop_symbols_available 1\n"));
	clock_gettime(CLOCK_REALTIME, &now);
	p = strstr(out, "\nfaultloop_start_time_seconds ");
	assert_non_null(p);
	start = strtod(p + 30, NULL);
	assert_true(start > now.tv_sec - 60 && start <= now.tv_sec + 1);
	free(out);

	for (i = 0; i < FL_METRICS_MAX_LOOPS + 3; i++) {
		snprintf(comm, sizeof(comm), "t%d", i);
		fl_user_stats_loop(&u, i % (FL_SIG__MAX - 1) + 1, 0, NULL, comm, strlen(comm));
	}
	fl_user_stats_loop(&u, FL_SIG_PF_KERNEL, 0, &fl_known_bugs[fl_nr_known_bugs - 1], "x", 1);
	s.symbols = false;
	out = render(true, &u, &s);
	snprintf(line, sizeof(line), "faultloop_loops_by_bug_total{bug=\"none\"} %d\n",
		 FL_METRICS_MAX_LOOPS + 3);
	assert_non_null(strstr(out, line));
	snprintf(line, sizeof(line), "faultloop_loops_by_bug_total{bug=\"%s\"} 1\n",
		 fl_known_bugs[fl_nr_known_bugs - 1].id);
	assert_non_null(strstr(out, line));
	assert_non_null(strstr(out, "# TYPE faultloop_loops_by_bug counter\n"));
	assert_non_null(strstr(out, "faultloop_symbols_available 0\n"));
	free(out);
}

/*
 * fl_slot() clamps: the top slot holds every value from 2^(FL_HIST_SLOTS-2)
 * up, with no upper bound.  It must count toward +Inf only: a live-lock of
 * an hour (3.6e9 us) is not "le 2147.48 s".
 */
static void test_histogram_clamp_slot(void **state)
{
	static struct fl_user_stats u;
	struct fl_metrics_snapshot s = {};
	char *out, line[128];

	fl_user_stats_init(&u);
	s.bpf.hist_retries[FL_HIST_SLOTS - 2] = 1;	/* [2^29, 2^30) retries */
	s.bpf.hist_retries[FL_HIST_SLOTS - 1] = 4;	/* 2^30 and more: the clamp */
	s.bpf.hist_duration_us[FL_HIST_SLOTS - 1] = 1;	/* an hour-long episode */
	s.bpf.sum_duration_ns = 3600ULL * 1000000000;
	out = render(false, &u, &s);
	/* the last finite bound is the slot below the clamp's: 2^30 - 1 */
	snprintf(line, sizeof(line), "faultloop_episode_retries_bucket{le=\"%llu\"} 1\n",
		 (1ULL << (FL_HIST_SLOTS - 2)) - 1);
	assert_non_null(strstr(out, line));
	assert_non_null(strstr(out, "faultloop_episode_retries_bucket{le=\"+Inf\"} 5\n"));
	assert_non_null(strstr(out, "faultloop_episode_retries_count 5\n"));
	/* no finite bound counts the clamp slot */
	assert_null(strstr(out, "faultloop_episode_retries_bucket{le=\"2147483647\"}"));
	assert_null(strstr(out, "faultloop_episode_duration_seconds_bucket{le=\"2147.48\"}"));
	assert_non_null(strstr(out, "faultloop_episode_duration_seconds_bucket{le=\"1073.74\"} 0\n"));
	assert_non_null(strstr(out, "faultloop_episode_duration_seconds_bucket{le=\"+Inf\"} 1\n"));
	free(out);
}

static void test_parse_listen(void **state)
{
	struct fl_listen l;
	const char *why;

	assert_int_equal(fl_listen_parse("19477", &l, &why), 0);
	assert_int_equal(l.family, AF_INET);
	assert_int_equal(l.addr.v4.s_addr, htonl(INADDR_LOOPBACK));
	assert_int_equal(l.port, 19477);
	assert_string_equal(l.spec, "19477");
	assert_int_equal(fl_listen_parse(":80", &l, &why), 0);
	assert_int_equal(l.addr.v4.s_addr, htonl(INADDR_ANY));
	assert_int_equal(l.port, 80);
	assert_int_equal(fl_listen_parse("[::1]:9", &l, &why), 0);
	assert_int_equal(l.family, AF_INET6);
	assert_memory_equal(&l.addr.v6, &in6addr_loopback, sizeof(in6addr_loopback));
	assert_int_equal(l.port, 9);
	assert_int_not_equal(fl_listen_parse("0", &l, &why), 0);
	assert_string_equal(why, "port must be 1-65535");
	assert_int_not_equal(fl_listen_parse("65536", &l, &why), 0);
	assert_int_not_equal(fl_listen_parse("x:1", &l, &why), 0);
	assert_string_equal(why, "not an IPv4 address");
	assert_int_not_equal(fl_listen_parse("[::1]", &l, &why), 0);
	assert_string_equal(why, "expected [IPV6]:PORT");
	assert_int_not_equal(fl_listen_parse("[x]:1", &l, &why), 0);
	assert_string_equal(why, "not an IPv6 address");
	assert_int_not_equal(fl_listen_parse("", &l, &why), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_labels_escaped_and_bounded),
		cmocka_unit_test(test_histogram_and_openmetrics),
		cmocka_unit_test(test_histogram_clamp_slot),
		cmocka_unit_test(test_loops_by_bug_from_zero),
		cmocka_unit_test(test_parse_listen),
		cmocka_unit_test(test_labels_utf8),
	};

	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
