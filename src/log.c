// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "json.h"
#include "log.h"

static int log_verbose;
static bool log_quiet;		/* trials and attaches: refusals are expected */
static char failed_prog[64];	/* the last "prog 'X': failed to load" */

/* libbpf names the program whose load failed only in its log (1.x:
 * "prog 'NAME': failed to load: -22"); keep that name. */
static void note_failure(const char *format, va_list args)
{
	char line[256], name[64], *p;

	if (!strstr(format, "failed to load"))
		return;
	vsnprintf(line, sizeof(line), format, args);
	p = strstr(line, "prog '");	/* after libbpf's "libbpf: " */
	if (p && sscanf(p, "prog '%63[^']': failed to load", name) == 1)
		memcpy(failed_prog, name, sizeof(failed_prog));
}

static int libbpf_print(enum libbpf_print_level level, const char *format,
			va_list args)
{
	int need = level == LIBBPF_DEBUG ? 2 : level == LIBBPF_INFO ? 1 : 0;
	va_list copy;

	va_copy(copy, args);
	note_failure(format, copy);
	va_end(copy);
	if (log_quiet && log_verbose < 2)
		return 0;
	if (log_verbose < need)
		return 0;
	return vfprintf(stderr, format, args);
}

void fl_libbpf_log_init(int verbose)
{
	log_verbose = verbose;
	libbpf_set_print(libbpf_print);
}

bool fl_libbpf_quiet(bool quiet)
{
	bool was = log_quiet;

	log_quiet = quiet;
	return was;
}

const char *fl_libbpf_failed_prog(void)
{
	return failed_prog;
}

void fl_libbpf_forget_failure(void)
{
	failed_prog[0] = 0;
}

static bool log_json;

void fl_log_json(bool json)
{
	log_json = json;
}

void fl_fail(const char *fmt, ...)
{
	char msg[512];
	struct jw w;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!log_json) {
		fprintf(stderr, "faultloop: %s\n", msg);
		return;
	}
	jw_init(&w, stdout);
	jw_object_start(&w);
	jw_kv_string(&w, "error", msg);
	jw_object_end(&w);
	fputc('\n', stdout);
	fflush(stdout);
}
