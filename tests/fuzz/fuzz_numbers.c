// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Flag values (src/util.c): parse_u64 and parse_duration_ns against a
 * reference written here from the README's rules: decimal digits only (no
 * sign, space, base prefix or exponent), then for durations one of ns us
 * ms s m h, the result in [min, max], no overflow; on error *out is left
 * alone and *err says why.  Bounds and the bare number's unit come from
 * the input too.
 */
#include "fuzz.h"
#include "util.h"

static const struct {
	const char *s;
	uint64_t ns;
} units[] = {
	{ "ns", 1ULL }, { "us", 1000ULL }, { "ms", 1000000ULL }, { "s", 1000000000ULL },
	{ "m", 60000000000ULL }, { "h", 3600000000000ULL },
};

/* 0 and the value, or -1 */
static int ref_digits(const char *s, const char **end, uint64_t *v)
{
	const char *p = s;
	bool over = false;

	*v = 0;
	while (*p >= '0' && *p <= '9') {
		unsigned d = *p++ - '0';

		if (*v > (UINT64_MAX - d) / 10)
			over = true;
		else
			*v = *v * 10 + d;
	}
	*end = p;
	return p == s || over ? -1 : 0;
}

static int ref_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *end;
	uint64_t v;

	if (ref_digits(s, &end, &v) || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int ref_duration(const char *s, uint64_t unit, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *end;
	uint64_t v;
	size_t i;

	if (ref_digits(s, &end, &v))
		return -1;
	if (*end) {
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (!strcmp(end, units[i].s))
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return -1;
		unit = units[i].ns;
	}
	if (v && v > UINT64_MAX / unit)
		return -1;
	v *= unit;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint64_t a = fz_u64(&f), b = fz_u64(&f), unit = fz_u64(&f);
	uint64_t min = a < b ? a : b, max = a < b ? b : a;
	uint64_t got = 0x5a5a, want = 0x5a5a;
	const char *err = NULL;
	char *s = fz_strndup(f.d, f.n);
	int r, w;

	/* the flags' units: a bare number is in one of them */
	unit = units[unit % (sizeof(units) / sizeof(units[0]))].ns;
	r = parse_u64(s, min, max, &got, &err);
	w = ref_u64(s, min, max, &want);
	FZ_ASSERT((r == 0) == (w == 0));
	FZ_ASSERT(got == want);
	FZ_ASSERT(r == 0 || err != NULL);

	got = want = 0x5a5a;
	err = NULL;
	r = parse_duration_ns(s, unit, min, max, &got, &err);
	w = ref_duration(s, unit, min, max, &want);
	FZ_ASSERT((r == 0) == (w == 0));
	FZ_ASSERT(got == want);
	FZ_ASSERT(r == 0 || err != NULL);
	free(s);
	return 0;
}
