// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>
#include "json.h"

void jw_init(struct jw *w, FILE *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
}

/* Separator before a value (or a name) at the current level. */
static void jw_sep(struct jw *w)
{
	if (w->after_name) {
		w->after_name = false;
		return;
	}
	if (w->depth > 0) {
		if (!w->first[w->depth])
			fputc(',', w->out);
		w->first[w->depth] = false;
	}
}

static void jw_open(struct jw *w, char c)
{
	jw_sep(w);
	fputc(c, w->out);
	if (w->depth + 1 >= JW_MAX_DEPTH) {
		w->error = true;
		return;
	}
	w->first[++w->depth] = true;
}

static void jw_close(struct jw *w, char c)
{
	if (w->depth <= 0) {
		w->error = true;
		return;
	}
	w->depth--;
	fputc(c, w->out);
}

void jw_object_start(struct jw *w) { jw_open(w, '{'); }
void jw_object_end(struct jw *w) { jw_close(w, '}'); }
void jw_array_start(struct jw *w) { jw_open(w, '['); }
void jw_array_end(struct jw *w) { jw_close(w, ']'); }

/* utf8: s is well-formed UTF-8 (fl_sanitize_comm), its bytes >= 0x80
 * written as they are; else each byte is one code point */
static void jw_quoted(struct jw *w, const char *s, size_t len, bool utf8)
{
	size_t i;

	fputc('"', w->out);
	for (i = 0; i < len && s[i]; i++) {
		unsigned char c = s[i];

		switch (c) {
		case '"': fputs("\\\"", w->out); break;
		case '\\': fputs("\\\\", w->out); break;
		case '\n': fputs("\\n", w->out); break;
		case '\r': fputs("\\r", w->out); break;
		case '\t': fputs("\\t", w->out); break;
		default:
			/* control bytes and non-UTF-8 high bytes (comm is
			 * user-controlled): escape as code points */
			if (c < 0x20 || c == 0x7f || (c > 0x7f && !utf8))
				fprintf(w->out, "\\u%04x", c);
			else
				fputc(c, w->out);
		}
	}
	fputc('"', w->out);
}

void jw_name(struct jw *w, const char *name)
{
	jw_sep(w);
	jw_quoted(w, name, strlen(name), false);
	fputc(':', w->out);
	w->after_name = true;
}

void jw_string_n(struct jw *w, const char *s, size_t len)
{
	jw_sep(w);
	jw_quoted(w, s, len, false);
}

void jw_string_utf8(struct jw *w, const char *s)
{
	jw_sep(w);
	jw_quoted(w, s, strlen(s), true);
}

void jw_string(struct jw *w, const char *s)
{
	if (!s) {
		jw_null(w);
		return;
	}
	jw_string_n(w, s, strlen(s));
}

void jw_uint(struct jw *w, uint64_t v)
{
	jw_sep(w);
	fprintf(w->out, "%llu", (unsigned long long)v);
}

void jw_int(struct jw *w, int64_t v)
{
	jw_sep(w);
	fprintf(w->out, "%lld", (long long)v);
}

void jw_bool(struct jw *w, bool v)
{
	jw_sep(w);
	fputs(v ? "true" : "false", w->out);
}

void jw_null(struct jw *w)
{
	jw_sep(w);
	fputs("null", w->out);
}

void jw_hex(struct jw *w, uint64_t v)
{
	jw_sep(w);
	fprintf(w->out, "\"0x%llx\"", (unsigned long long)v);
}

void jw_kv_string(struct jw *w, const char *k, const char *v) { jw_name(w, k); jw_string(w, v); }
void jw_kv_uint(struct jw *w, const char *k, uint64_t v) { jw_name(w, k); jw_uint(w, v); }
void jw_kv_int(struct jw *w, const char *k, int64_t v) { jw_name(w, k); jw_int(w, v); }
void jw_kv_bool(struct jw *w, const char *k, bool v) { jw_name(w, k); jw_bool(w, v); }
void jw_kv_hex(struct jw *w, const char *k, uint64_t v) { jw_name(w, k); jw_hex(w, v); }
