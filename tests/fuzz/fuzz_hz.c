// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HZ measured from /proc/timer_list (src/hz.c): the head of the file, as
 * timer_list_read() hands it over (at most 16383 bytes, NUL-terminated),
 * and the rate between two readings snapped to a Kconfig HZ, then the
 * clock knobs derived from it.  The first 8 bytes are the rate (any
 * double: NaN and infinities too), the next 8 the idle gap.
 */
#include <math.h>
#include "fuzz.h"
#include "hz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint64_t bits = fz_u64(&f), gap = fz_u64(&f), now = 0, jiffies = 0;
	uint64_t jiffy_ns, gap_j;
	unsigned int hz;
	double rate;
	char *text;

	memcpy(&rate, &bits, sizeof(rate));
	gap %= 3600ULL * 1000000000ULL + 1;	/* --gap's range (config.c) */
	hz = fl_hz_from_rate(rate);
	FZ_ASSERT(!hz || (isfinite(rate) && rate > 0));
	fl_clock_knobs(hz, gap, &jiffy_ns, &gap_j);
	if (hz)
		FZ_ASSERT(jiffy_ns && gap_j * jiffy_ns >= gap && gap_j * jiffy_ns < gap + jiffy_ns);
	else
		FZ_ASSERT(jiffy_ns == 0 && gap_j == gap);

	if (f.n > 16383)
		f.n = 16383;
	text = fz_strndup(f.d, f.n);
	/* sscanf: a space in the format matches any run of white space
	 * (newlines too), or none; the words themselves must be there */
	if (!fl_timer_list_parse(text, &now, &jiffies))
		FZ_ASSERT(strstr(text, "now") && strstr(text, "at") && strstr(text, "jiffies:"));
	free(text);
	return 0;
}
