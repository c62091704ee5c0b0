// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "hz.h"
#include "kconfig.h"
#include "util.h"

/* A CONFIG_HZ value: a whole positive number, nothing after it. */
static unsigned int hz_value(const char *v)
{
	unsigned long hz;
	char *end;

	errno = 0;
	hz = strtoul(v, &end, 10);
	if (errno || end == v || (*end && *end != '\n') || hz == 0 || hz > 100000)
		return 0;
	return hz;
}

unsigned int fl_config_hz_line(const char *line)
{
	const char *v = fl_kconfig_line(line, "HZ");

	return v ? hz_value(v) : 0;
}

/* "now at 21412374583386 nsecs" (line 3) and the first "jiffies: N" */
int fl_timer_list_parse(const char *text, uint64_t *now_ns, uint64_t *jiffies)
{
	const char *p = text;
	bool have_now = false;
	unsigned long long v;

	while (p && *p) {
		if (!have_now && sscanf(p, "now at %llu nsecs", &v) == 1) {
			*now_ns = v;
			have_now = true;
		} else if (have_now && sscanf(p, "jiffies: %llu", &v) == 1) {
			*jiffies = v;
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -ENOENT;
}

unsigned int fl_hz_from_rate(double r)
{
	/* every choice of kernel/Kconfig.hz, and arch-specific ones */
	static const unsigned int known[] = { 24, 32, 48, 64, 100, 128, 200, 250, 256, 300, 500, 1000, 1024 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(known); i++)
		if (r > known[i] * 0.93 && r < known[i] * 1.07)
			return known[i];
	return 0;
}

/* Only the head of the file: it lists every timer of every CPU after that. */
static int timer_list_read(uint64_t *now_ns, uint64_t *jiffies)
{
	char buf[16384];
	size_t n;
	FILE *f;

	f = fopen("/proc/timer_list", "re");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return fl_timer_list_parse(buf, now_ns, jiffies);
}

void fl_clock_knobs(unsigned int hz, uint64_t gap_ns, uint64_t *jiffy_ns, uint64_t *gap_j)
{
	uint64_t j = hz ? 1000000000ULL / hz : 0;

	*jiffy_ns = j;
	*gap_j = j ? (gap_ns + j - 1) / j : gap_ns;
}

unsigned int fl_measured_hz(const char **source)
{
	struct timespec ts = { 0, 200 * 1000 * 1000 };
	uint64_t n0, j0, n1, j1;
	unsigned int hz;

	if (timer_list_read(&n0, &j0)) {
		*source = "no kernel config and no /proc/timer_list";
		return 0;
	}
	nanosleep(&ts, NULL);
	if (timer_list_read(&n1, &j1) || n1 <= n0 || j1 < j0) {
		*source = "/proc/timer_list unreadable";
		return 0;
	}
	hz = fl_hz_from_rate((double)(j1 - j0) * 1e9 / (double)(n1 - n0));
	*source = hz ? "measured (/proc/timer_list)" : "measured rate is no known HZ";
	return hz;
}

unsigned int fl_kernel_hz(const char **source)
{
	char val[32];
	unsigned int hz;

	if (fl_kconfig_get("HZ", val, sizeof(val), source) == 1) {
		hz = hz_value(val);
		if (hz)
			return hz;
	}
	return fl_measured_hz(source);
}
