/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Rendering of loop reports: human text or one JSON object per line. */
#ifndef FL_REPORT_H
#define FL_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "faultloop.h"

struct ksyms;
struct fl_probe_set;

struct fl_report_ctx {
	FILE *out;
	bool json;
	const struct ksyms *ks;			/* NULL: raw addresses */
	const struct fl_probe_set *probes;	/* NULL: symbol "?" */
	int64_t real_minus_mono_ns;		/* CLOCK_REALTIME - CLOCK_MONOTONIC */
	/* cgroup id -> path; NULL: no paths */
	const char *(*cgroup_path)(uint64_t id, char *buf, size_t len);
};

/*
 * The loop owner: the owner probe that returned (ENDED), else the first
 * known owner function found in the kernel stack (compiler clones such as
 * .isra.0 included).  NULL if unknown.
 */
const char *fl_report_owner(const struct fl_report *r, const struct ksyms *ks);
/* The symbols of r's stack frames, NULL where none contains the frame
 * (ksyms__map_addr; ks NULL: all NULL); returns how many frames. */
struct ksym;
int fl_report_stack_syms(const struct fl_report *r, const struct ksyms *ks,
			 const struct ksym *syms[FL_MAX_STACK]);
/* The same as an owner signal, 0 if unknown. */
unsigned int fl_report_owner_sig(const struct fl_report *r, const struct ksyms *ks);
struct fl_known_bug;
/* A report, with what user space found: the owner signal (0 unknown) and
 * the known bug the loop is (NULL none). */
void fl_report_print(const struct fl_report_ctx *c, const struct fl_report *r,
		     unsigned int owner, const struct fl_known_bug *bug);

struct fl_stuck_task;
/* A task found spinning in the kernel (stuck.h), or leaving that state. */
void fl_report_print_stuck(const struct fl_report_ctx *c, const struct fl_stuck_task *t,
			   bool ended, uint64_t now_mono_ns);

struct fl_probe_set;
struct jw;
/* --probes: one row per probe, attached or why not. */
void fl_report_probes(const struct fl_probe_set *set, FILE *out);
void fl_report_probes_json(const struct fl_probe_set *set, struct jw *w);
/* One line per kind: which signals are there and which are missing. */
void fl_report_probe_summary(const struct fl_probe_set *set, FILE *out);

/* The exit summary: what BPF counted, and what was lost. */
void fl_report_print_summary(FILE *out, const struct fl_stats *s, uint64_t sweep_errors,
			     int verbose);

#endif
