// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The JSON writer (src/json.c), with arbitrary bytes in names and
 * strings (a comm is any 16 bytes, a cgroup path any name).  The input
 * drives a document: at each step it picks one of the calls that are
 * legal there (a name only inside an object, a value after a name or in
 * an array), so the writer is never misused; what it writes must be one
 * valid JSON text (RFC 8259, UTF-8), unless nesting went past
 * JW_MAX_DEPTH, which it must flag.  Every string must decode to its
 * bytes, each byte one code point (the writer escapes bytes >= 0x7f as
 * \u00XX), up to the first NUL or the length given.
 */
#define _GNU_SOURCE
#include "fuzz.h"
#include "json.h"

/* The writer's output for one string, decoded: code points, or -1. */
static int decode(const char *s, size_t n, uint32_t *cp, size_t max)
{
	size_t i = 1, k = 0;

	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return -1;
	while (i < n - 1) {
		unsigned char c = s[i];

		if (k == max)
			return -1;
		if (c == '\\') {
			char e = s[i + 1];

			if (e == 'u') {
				unsigned v;

				if (i + 6 > n - 1 || sscanf(s + i + 2, "%4x", &v) != 1)
					return -1;
				cp[k++] = v;
				i += 6;
				continue;
			}
			cp[k++] = e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' :
				  e == '"' ? '"' : e == '\\' ? '\\' : 0xffffffff;
			i += 2;
			continue;
		}
		if (c < 0x20 || c >= 0x7f)
			return -1;	/* the writer escapes these */
		cp[k++] = c;
		i++;
	}
	return k;
}

static void string_roundtrip(const char *bytes, size_t len)
{
	uint32_t cp[512];
	char *out = NULL;
	size_t outlen = 0, want, i;
	struct jw w;
	FILE *f = open_memstream(&out, &outlen);
	int n;

	jw_init(&w, f);
	jw_string_n(&w, bytes, len);
	fclose(f);
	want = strnlen(bytes, len);
	n = decode(out, outlen, cp, sizeof(cp) / sizeof(cp[0]));
	FZ_ASSERT(n >= 0 && (size_t)n == want);
	for (i = 0; i < want; i++)
		FZ_ASSERT(cp[i] == (unsigned char)bytes[i]);
	FZ_ASSERT(fz_json_valid(out, outlen));
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	char stack[64];		/* '{' or '[' per open container */
	int depth = 0, steps = 0;
	bool need_value = false, overflow = false;
	char *out = NULL;
	size_t outlen = 0;
	struct jw w;
	FILE *o;

	if (size > 256)
		string_roundtrip((const char *)data, 256);
	else
		string_roundtrip((const char *)data, size);

	o = open_memstream(&out, &outlen);
	jw_init(&w, o);
	jw_object_start(&w);
	stack[depth++] = '{';
	while (f.n && steps++ < 1000) {
		uint8_t op = fz_u8(&f);
		bool in_obj = stack[depth - 1] == '{';

		if (in_obj && !need_value) {
			/* a name, or close this object */
			if (op % 5 == 0 && depth > 1) {
				jw_object_end(&w);
				depth--;
				need_value = false;
			} else {
				char *name = fz_token(&f);

				jw_name(&w, name);
				free(name);
				need_value = true;
			}
			continue;
		}
		/* a value (after a name, or in an array), or close the array */
		switch (op % 11) {
		case 0:
			if (!in_obj && depth > 1) {
				jw_array_end(&w);
				depth--;
				need_value = false;
				continue;
			}
			/* fall through */
		case 1: {
			char *s = fz_token(&f);

			jw_string(&w, s);
			free(s);
			break;
		}
		case 2: {
			size_t len = fz_u8(&f) % 24, take = len < f.n ? len : f.n;

			jw_string_n(&w, (const char *)f.d, take);
			f.d += take;
			f.n -= take;
			break;
		}
		case 3: jw_uint(&w, fz_u64(&f)); break;
		case 4: jw_int(&w, (int64_t)fz_u64(&f)); break;
		case 5: jw_bool(&w, op & 0x80); break;
		case 6: jw_null(&w); break;
		case 7: jw_hex(&w, fz_u64(&f)); break;
		case 8: jw_string(&w, NULL); break;
		case 9:
		case 10:
			if (depth >= (int)sizeof(stack)) {
				jw_null(&w);
				break;
			}
			/* the writer holds JW_MAX_DEPTH - 1 levels */
			if (depth >= JW_MAX_DEPTH - 1)
				overflow = true;
			if (op % 11 == 9)
				jw_object_start(&w);
			else
				jw_array_start(&w);
			stack[depth++] = op % 11 == 9 ? '{' : '[';
			need_value = false;
			continue;
		}
		need_value = false;
	}
	/* finish the document */
	if (need_value)
		jw_null(&w);
	while (depth > 0) {
		if (stack[--depth] == '{')
			jw_object_end(&w);
		else
			jw_array_end(&w);
	}
	fclose(o);
	if (overflow)
		FZ_ASSERT(w.error);
	else
		FZ_ASSERT(!w.error && w.depth == 0 && fz_json_valid(out, outlen));
	free(out);
	return 0;
}
