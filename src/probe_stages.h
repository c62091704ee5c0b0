/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the probe stages share, inside the probe set only (the rest of
 * faultloop uses probes.h):
 *   probes.c       selection: candidates from the table, static checks
 *   probe_gates.c  the kernel's capability gates, before the final load
 *   probe_load.c   trial loads and the final object's candidates
 *   probe_attach.c attach, arm held probes, detach
 *   probe_perf.c   the stall sampler's perf events
 */
#ifndef FL_PROBE_STAGES_H
#define FL_PROBE_STAGES_H

#include "probes.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524	/* kernel-internal, leaks out of BPF trampoline setup */
#endif

struct bpf_program;
struct fl_kbtf;

/* probes.c: a reason appended to p->reason ("; "-separated) */
void fl_probe_reason(struct fl_probe *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The words for a refusal: at_load, else at attach. */
const char *fl_probe_explain(enum fl_mode m, bool at_load, int err);
/* Drop p->tries[k], its reason recorded (refused at load, else at attach). */
void fl_probe_drop_try(struct fl_probe *p, int k, int err, bool at_load);

/* probe_gates.c: drop the candidates the kernel refuses for reasons one
 * tiny program shows, before the final object loads them. */
void fl_probes_gate(struct fl_probe_set *set, const struct fl_kbtf *kb);

/* probe_load.c */
struct bpf_program *fl_find_prog(struct bpf_object *obj, const char *name);
/* "category/event": cat gets the category, *event points to the event */
void fl_split_tp(const char *sym, char *cat, size_t clen, const char **event);
/* No candidate of p is loaded and still unrefused. */
bool fl_probe_needs_load(const struct fl_probe *p);

/* probe_perf.c: the stall sampler, one cpu-clock event per online CPU */
int fl_attach_perf(struct bpf_program *prog, unsigned int hz,
		   struct bpf_link ***out, int *nout);

#endif
