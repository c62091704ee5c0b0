// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "util.h"

/*
 * The leading decimal digits of s into *v, *end after them.  Rejects "",
 * "-1", "+3", " 3" (strtoull would accept them) with why_not; decimal
 * only: base 0 read "010" as 8 and took "0x10".
 */
static int leading_u64(const char *s, unsigned long long *v, char **end,
		       const char *why_not, const char **err)
{
	if (!s || !isdigit((unsigned char)*s)) {
		*err = why_not;
		return -EINVAL;
	}
	errno = 0;
	*v = strtoull(s, end, 10);
	if (errno == ERANGE) {
		*err = "too large";
		return -EINVAL;
	}
	return 0;
}

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out,
	      const char **err)
{
	unsigned long long v;
	char *end;

	if (leading_u64(s, &v, &end, "not a non-negative integer", err))
		return -EINVAL;
	if (*end) {
		*err = "not a non-negative integer";
		return -EINVAL;
	}
	if (v < min || v > max) {
		*err = v < min ? "too small" : "too large";
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static const struct {
	const char *suffix;
	uint64_t ns;
} units[] = {
	{ "ns", 1ULL },
	{ "us", 1000ULL },
	{ "ms", 1000000ULL },
	{ "s", 1000000000ULL },
	{ "m", 60ULL * 1000000000ULL },
	{ "h", 3600ULL * 1000000000ULL },
};

int parse_duration_ns(const char *s, uint64_t default_unit_ns, uint64_t min_ns,
		      uint64_t max_ns, uint64_t *out, const char **err)
{
	uint64_t unit = default_unit_ns;
	unsigned long long v;
	char *end;
	size_t i;

	if (leading_u64(s, &v, &end, "not a duration (e.g. 500ms, 2s, 1m)", err))
		return -EINVAL;
	if (*end) {
		for (i = 0; i < ARRAY_SIZE(units); i++)
			if (!strcmp(end, units[i].suffix))
				break;
		if (i == ARRAY_SIZE(units)) {
			*err = "unknown unit (use ns, us, ms, s, m or h)";
			return -EINVAL;
		}
		unit = units[i].ns;
	}
	if (v && v > UINT64_MAX / unit) {
		*err = "too large";
		return -EINVAL;
	}
	v *= unit;
	if (v < min_ns || v > max_ns) {
		*err = v < min_ns ? "too small" : "too large";
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t now_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t now_real_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

const char *fmt_duration(uint64_t ns, char *buf, size_t len)
{
	if (ns < 1000ULL)
		snprintf(buf, len, "%lluns", (unsigned long long)ns);
	else if (ns < 1000000ULL)
		snprintf(buf, len, "%.1fus", ns / 1e3);
	else if (ns < 1000000000ULL)
		snprintf(buf, len, "%.1fms", ns / 1e6);
	else
		snprintf(buf, len, "%.2fs", ns / 1e9);
	return buf;
}

void fl_sanitize_comm(const char *in, size_t inlen, char *out, size_t outlen)
{
	size_t i = 0, o = 0, k;

	if (!outlen)
		return;
	while (i < inlen && in[i] && o + 1 < outlen) {
		unsigned char c = in[i];

		k = fl_utf8_seq((const unsigned char *)in + i, inlen - i);
		if (k > 1) {
			if (o + k >= outlen)
				break;	/* no half characters */
			memcpy(out + o, in + i, k);
			o += k;
			i += k;
			continue;
		}
		out[o++] = !k || c < 0x20 || c == 0x7f ? '?' : c;
		i++;
	}
	out[o] = 0;
}

/*
 * Bytes of the well-formed UTF-8 sequence at s (at most n bytes), 0 if
 * none starts there (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF).  Label values must be UTF-8 in both formats.
 */
size_t fl_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}
