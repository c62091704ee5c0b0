/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef FL_UTIL_H
#define FL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Strict number parsing for flags: the whole string must be a number in
 * [min, max]; no sign for unsigned, no junk, no overflow.  On error, *err
 * gets a short reason ("not a number", "out of range") and -EINVAL is
 * returned.
 */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out,
	      const char **err);

/*
 * Durations: a number with an optional unit ns|us|ms|s|m|h (default
 * default_unit_ns per unit-less number).  Result in nanoseconds, > 0.
 */
int parse_duration_ns(const char *s, uint64_t default_unit_ns, uint64_t min_ns,
		      uint64_t max_ns, uint64_t *out, const char **err);

/* Monotonic and realtime clocks in ns. */
uint64_t now_mono_ns(void);
uint64_t now_real_ns(void);

/* "12.3ms" style rendering of a duration, into buf. */
const char *fmt_duration(uint64_t ns, char *buf, size_t len);

/* A comm (chosen by any user, possibly unterminated within inlen) as it
 * reads, the one rendering of it in text, JSON and metrics: well-formed
 * UTF-8 characters kept, control bytes, DEL and bytes that start no
 * character become '?'.  out is terminated, with no half character. */
void fl_sanitize_comm(const char *in, size_t inlen, char *out, size_t outlen);

/* Bytes of the well-formed UTF-8 sequence at s (at most n), 0 if none
 * starts there (RFC 3629). */
size_t fl_utf8_seq(const unsigned char *s, size_t n);

#endif
