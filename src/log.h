/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libbpf's messages go through one callback, installed once: -v shows
 * info, -vv debug.  Trials and attaches expect refusals and summarise
 * them per probe, so they silence it below -vv.
 */
#ifndef FL_LOG_H
#define FL_LOG_H

#include <stdbool.h>

void fl_libbpf_log_init(int verbose);
/* Silence it (below -vv) or not; returns the previous setting. */
bool fl_libbpf_quiet(bool quiet);
/* The program libbpf last said failed to load ("" none since forgotten). */
const char *fl_libbpf_failed_prog(void);
void fl_libbpf_forget_failure(void);

/*
 * An error that ends the run: "faultloop: MESSAGE" on stderr, or under
 * --json one object on stdout, {"error":"MESSAGE"} (bpftool's shape), and
 * nothing on stderr.  Warnings and notices stay text on stderr.
 */
void fl_log_json(bool json);
void fl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
