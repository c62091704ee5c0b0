// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <bpf/libbpf.h>
#include "log.h"

static int log_verbose;
static bool log_quiet;	/* trials and attaches: refusals are expected */

static int libbpf_print(enum libbpf_print_level level, const char *format,
			va_list args)
{
	int need = level == LIBBPF_DEBUG ? 2 : level == LIBBPF_INFO ? 1 : 0;

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
