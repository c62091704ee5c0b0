/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * One JSON writer for every machine-readable output (reports, --probes).
 * Tracks nesting so callers never place commas themselves.
 */
#ifndef FL_JSON_H
#define FL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JW_MAX_DEPTH 16

struct jw {
	FILE *out;
	int depth;
	bool first[JW_MAX_DEPTH];
	bool after_name;
	bool error;		/* nesting misuse: output is not valid */
};

void jw_init(struct jw *w, FILE *out);
void jw_object_start(struct jw *w);
void jw_object_end(struct jw *w);
void jw_array_start(struct jw *w);
void jw_array_end(struct jw *w);
void jw_name(struct jw *w, const char *name);
void jw_string(struct jw *w, const char *s);
/* at most len bytes (comm is not NUL-terminated when 16 bytes long) */
void jw_string_n(struct jw *w, const char *s, size_t len);
/* s well-formed UTF-8 (a comm through fl_sanitize_comm): written as it reads */
void jw_string_utf8(struct jw *w, const char *s);
void jw_uint(struct jw *w, uint64_t v);
void jw_int(struct jw *w, int64_t v);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);
/* "0x..." string: JSON numbers lose precision above 2^53 */
void jw_hex(struct jw *w, uint64_t v);

/* name + value shorthands */
void jw_kv_string(struct jw *w, const char *k, const char *v);
void jw_kv_uint(struct jw *w, const char *k, uint64_t v);
void jw_kv_int(struct jw *w, const char *k, int64_t v);
void jw_kv_bool(struct jw *w, const char *k, bool v);
void jw_kv_hex(struct jw *w, const char *k, uint64_t v);

#endif
