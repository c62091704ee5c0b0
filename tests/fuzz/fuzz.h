/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Shared by the libFuzzer targets (tests/fuzz/fuzz_*.c): a reader over the
 * input bytes, the properties the targets assert (valid UTF-8, valid
 * JSON), and FZ_ASSERT, which aborts so that libFuzzer saves the input.
 * Built with clang -fsanitize=fuzzer,address,undefined (make fuzz-test).
 */
#ifndef FL_FUZZ_H
#define FL_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"

#define FZ_ASSERT(cond)                                                          \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "fuzz: property violated: %s (%s:%d)\n", \
				#cond, __FILE__, __LINE__);                      \
			abort();                                                 \
		}                                                                \
	} while (0)

/* The input as a C string (the parsers read NUL-terminated buffers). */
static inline char *fz_strndup(const uint8_t *d, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, d, n);
	s[n] = 0;
	return s;
}

/* Consuming the input a piece at a time. */
struct fz {
	const uint8_t *d;
	size_t n;
};

static inline uint8_t fz_u8(struct fz *f)
{
	uint8_t v;

	if (!f->n)
		return 0;
	v = *f->d++;
	f->n--;
	return v;
}

static inline uint64_t fz_u64(struct fz *f)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | fz_u8(f);
	return v;
}

/* The bytes up to the next NUL (or the end), as a new C string. */
static inline char *fz_token(struct fz *f)
{
	const uint8_t *end = memchr(f->d, 0, f->n);
	size_t len = end ? (size_t)(end - f->d) : f->n;
	char *s = fz_strndup(f->d, len);

	f->d += len + (end != NULL);
	f->n -= len + (end != NULL);
	return s;
}

/* every byte in a well-formed sequence (src/util.c fl_utf8_seq, whose
 * edge cases tests/unit/test_metrics.c pins) */
static inline bool fz_utf8_valid(const char *s, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		k = fl_utf8_seq((const unsigned char *)s + i, n - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

/* ---- a strict JSON validator (RFC 8259), for the writer's output -------- */

struct fz_json {
	const char *p, *end;
	int depth;
};

static bool fz_json_value(struct fz_json *j);

static inline void fz_json_ws(struct fz_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static inline bool fz_json_lit(struct fz_json *j, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n))
		return false;
	j->p += n;
	return true;
}

static inline bool fz_json_string(struct fz_json *j)
{
	if (j->p >= j->end || *j->p != '"')
		return false;
	j->p++;
	while (j->p < j->end) {
		unsigned char c = *j->p;
		size_t k;

		if (c == '"') {
			j->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (j->end - j->p < 2)
				return false;
			c = j->p[1];
			if (c == 'u') {
				int i;

				if (j->end - j->p < 6)
					return false;
				for (i = 2; i < 6; i++)
					if (!strchr("0123456789abcdefABCDEF", j->p[i]) || !j->p[i])
						return false;
				j->p += 6;
				continue;
			}
			if (!c || !strchr("\"\\/bfnrt", c))
				return false;
			j->p += 2;
			continue;
		}
		k = fl_utf8_seq((const unsigned char *)j->p, j->end - j->p);
		if (!k)
			return false;
		j->p += k;
	}
	return false;
}

static inline bool fz_json_number(struct fz_json *j)
{
	const char *s = j->p;

	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return false;
	if (*j->p == '0')
		j->p++;
	else
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return false;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	return j->p > s;
}

static bool fz_json_value(struct fz_json *j)
{
	bool first = true;
	char close;

	fz_json_ws(j);
	if (j->p >= j->end)
		return false;
	switch (*j->p) {
	case '"':
		return fz_json_string(j);
	case 't':
		return fz_json_lit(j, "true");
	case 'f':
		return fz_json_lit(j, "false");
	case 'n':
		return fz_json_lit(j, "null");
	case '{':
	case '[':
		if (++j->depth > 512)
			return false;
		close = *j->p == '{' ? '}' : ']';
		j->p++;
		for (;;) {
			fz_json_ws(j);
			if (j->p < j->end && *j->p == close) {
				j->p++;
				j->depth--;
				return true;
			}
			if (!first) {
				if (j->p >= j->end || *j->p != ',')
					return false;
				j->p++;
				fz_json_ws(j);
			}
			first = false;
			if (close == '}') {
				if (!fz_json_string(j))
					return false;
				fz_json_ws(j);
				if (j->p >= j->end || *j->p != ':')
					return false;
				j->p++;
			}
			if (!fz_json_value(j))
				return false;
		}
	default:
		return fz_json_number(j);
	}
}

/* One JSON text, nothing after it but white space. */
static inline bool fz_json_valid(const char *s, size_t n)
{
	struct fz_json j = { s, s + n, 0 };

	if (!fz_json_value(&j))
		return false;
	fz_json_ws(&j);
	return j.p == j.end;
}

#endif
