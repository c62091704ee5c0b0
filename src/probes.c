// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Probe selection: per probe of the table (probe_table.c), the candidates
 * that exist on this kernel (kallsyms, BTF, arity) and that --mode
 * allows, in the table's order; the reasons a candidate is dropped.  The
 * kernel's own verdicts come after: probe_gates.c, probe_load.c,
 * probe_attach.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "kbtf.h"
#include "ksyms.h"
#include "log.h"
#include "probe_stages.h"

void fl_probe_reason(struct fl_probe *p, const char *fmt, ...)
{
	size_t len = strlen(p->reason);
	va_list ap;

	if (len && len < sizeof(p->reason) - 2) {
		strcat(p->reason, "; ");
		len += 2;
	}
	if (len >= sizeof(p->reason) - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(p->reason + len, sizeof(p->reason) - len, fmt, ap);
	va_end(ap);
}

const char *fl_probe_explain(enum fl_mode m, bool at_load, int err)
{
	err = err < 0 ? -err : err;
	if (m == FL_MODE_FENTRY) {
		if (at_load && err == EPERM)
			return "fentry refused by the kernel (EPERM)";
		if (err == ENOTSUPP || err == EOPNOTSUPP)
			return "no BPF trampoline on this kernel";
		if (at_load && (err == ESRCH || err == ENOENT))
			return "not in BTF";
		if (at_load)
			return "rejected at load";
		return "attach refused (notrace?)";
	}
	if (m == FL_MODE_KPROBE) {
		if (err == EINVAL || err == EOPNOTSUPP)
			return "kprobe refused (notrace or blacklisted)";
		if (err == ENOENT)
			return "kprobe cannot find it";
		if (err == EPERM || err == EACCES)
			return "kprobe not permitted";
		return at_load ? "rejected at load" : "kprobe attach failed";
	}
	/* Debian's and Ubuntu's perf_event_paranoid 3 (an out-of-tree patch,
	 * their default) checks capable(CAP_SYS_ADMIN), not CAP_PERFMON */
	if (m == FL_MODE_PERF && !at_load && (err == EACCES || err == EPERM))
		return "perf_event_open refused (kernel.perf_event_paranoid above 2 needs CAP_SYS_ADMIN)";
	if (err == ENOENT || err == ESRCH)
		return "no such tracepoint";
	return at_load ? "rejected at load" : "attach failed";
}

static void add_try(struct fl_probe *p, const struct fl_impl *impl, const char *sym)
{
	struct fl_try *t;

	if (p->ntries >= FL_MAX_TRIES)
		return;
	t = &p->tries[p->ntries++];
	t->impl = impl;
	snprintf(t->sym, sizeof(t->sym), "%s", sym);
}

/* Static checks of one candidate impl: false (with a reason) when it
 * cannot load or attach here, whatever a trial would say. */
static bool plausible(struct fl_probe *p, struct fl_kbtf *ki, bool kprobes,
		      const struct fl_impl *impl, const struct fl_cand *cand,
		      const struct ksym *kallsym, int nargs)
{
	const char *sym = cand->sym, *event = strchr(sym, '/');

	/* a program that calls a helper this kernel lacks: the next one of
	 * the candidate, without it, follows */
	if (impl->helper && !fl_kbtf_has_helper(ki, impl->helper)) {
		fl_probe_reason(p, "%s %s: this kernel has no bpf_%s (%s): %s", sym,
				impl->entry ? impl->entry : impl->exit, impl->helper,
				impl->helper_since, impl->helper_loss);
		return false;
	}
	switch (impl->mode) {
	case FL_MODE_FENTRY:
		if (nargs < 0) {
			fl_probe_reason(p, "%s fentry: not in BTF", sym);
			return false;
		}
		return !impl->nargs || impl->nargs == nargs;	/* else another arity variant */
	case FL_MODE_KPROBE:
		if (!kallsym) {
			fl_probe_reason(p, "%s kprobe: not in kallsyms", sym);
			return false;
		}
		if (!kprobes) {
			fl_probe_reason(p, "%s kprobe: kernel has no kprobes", sym);
			return false;
		}
		return true;
	case FL_MODE_TP_BTF:
		if (!fl_kbtf_has_tp(ki, event ? event + 1 : sym)) {
			fl_probe_reason(p, "%s tp_btf: no such tracepoint in BTF", sym);
			return false;
		}
		return true;
	default:
		return true;	/* raw_tp, tracepoint, perf: the attach decides */
	}
}

/* Phase 1: which candidates exist and are allowed by --mode; whether they
 * load is decided for all at once (fl_probes_gate in probe_gates.c, then
 * the final object, and fl_probes_verify only if that fails). */
static void select_one(struct fl_probe *p, struct fl_kbtf *ki, bool kprobes,
		       const struct ksyms *ks, const struct fl_probe_set *set)
{
	const struct fl_probe_def *d = p->def;
	bool any_present = false, any_allowed = false, blind = false;
	int c, i;

	if (!fl_arch_matches(d->arch)) {
		p->status = FL_ST_OTHER_ARCH;
		snprintf(p->reason, sizeof(p->reason), "not on this architecture");
		return;
	}
	for (c = 0; c < FL_MAX_CANDS && d->cand[c].sym; c++) {
		const struct fl_cand *cand = &d->cand[c];
		const struct ksym *kallsym = NULL;
		bool arity_seen = false, arity_ok = false;
		int nargs = -ENOENT;

		if (!fl_mode_is_tp(cand->impl[0].mode)) {
			kallsym = ks ? ksyms__find_attachable(ks, cand->sym) : NULL;
			nargs = fl_kbtf_func_nargs(ki, kallsym, cand->sym);
			if (!kallsym && nargs < 0) {
				fl_probe_reason(p, "%s: not present", cand->sym);
				continue;
			}
		}
		any_present = true;
		for (i = 0; i < FL_MAX_IMPLS && (cand->impl[i].entry || cand->impl[i].exit); i++) {
			const struct fl_impl *impl = &cand->impl[i];

			if (!fl_mode_allowed(set->sel, impl->mode))
				continue;
			if (impl->mode == FL_MODE_PERF && !set->perf_hz) {
				fl_probe_reason(p, "excluded by --stall off");
				continue;
			}
			if (impl->mode == FL_MODE_PERF && set->no_symbols) {
				fl_probe_reason(p, "%s", set->no_symbols);
				blind = true;
				continue;
			}
			any_allowed = true;
			if (impl->mode == FL_MODE_FENTRY && impl->nargs && nargs >= 0) {
				arity_seen = true;
				arity_ok |= impl->nargs == nargs;
			}
			/* raw_tp (4.17) attaches wherever a classic tracepoint
			 * program would: one program less to verify */
			if (impl->mode == FL_MODE_TRACEPOINT && p->ntries &&
			    p->tries[p->ntries - 1].impl->mode == FL_MODE_RAW_TP)
				continue;
			if (plausible(p, ki, kprobes, impl, cand, kallsym, nargs))
				/* a kprobe takes the name kallsyms has: maybe a .isra clone */
				add_try(p, impl, impl->mode == FL_MODE_KPROBE ? kallsym->name : cand->sym);
		}
		if (arity_seen && !arity_ok)
			fl_probe_reason(p, "%s fexit: %d arguments in BTF, no program for that arity",
				   cand->sym, nargs);
	}
	if (!any_present)
		p->status = FL_ST_ABSENT;
	else if (!any_allowed)
		p->status = blind ? FL_ST_NO_SYMBOLS : FL_ST_DISABLED;
	else
		p->status = FL_ST_REFUSED;	/* until an attach succeeds */
	if (p->status == FL_ST_DISABLED && !p->reason[0])
		fl_probe_reason(p, "excluded by --mode");
}

/* at_load: refused at load, else at attach (the reason's words) */
void fl_probe_drop_try(struct fl_probe *p, int k, int err, bool at_load)
{
	const struct fl_try *t = &p->tries[k];

	fl_probe_reason(p, "%s %s: %s", t->sym, fl_mode_name(t->impl),
			fl_probe_explain(t->impl->mode, at_load, err));
	memmove(&p->tries[k], &p->tries[k + 1], (p->ntries - k - 1) * sizeof(p->tries[0]));
	p->ntries--;
}

int fl_probes_select(struct fl_probe_set *set, const struct ksyms *ks)
{
	struct fl_kbtf ki;
	bool kprobes, quiet;
	int i, n = 0;

	set->probes = calloc(fl_nr_probe_defs, sizeof(*set->probes));
	if (!set->probes)
		return -ENOMEM;
	set->n = fl_nr_probe_defs;
	pthread_mutex_init(&set->lock, NULL);
	quiet = fl_libbpf_quiet(true);	/* refusals are expected: summarised per probe */
	fl_kbtf_open(&ki);	/* without BTF, fentry and tp_btf are not plausible */
	/* the kprobe PMU (4.17, e12f03d7031a), else tracefs' kprobe_events */
	kprobes = !access("/sys/bus/event_source/devices/kprobe/type", F_OK) ||
		  !access("/sys/kernel/tracing/kprobe_events", F_OK) ||
		  !access("/sys/kernel/debug/tracing/kprobe_events", F_OK);
	for (i = 0; i < set->n; i++) {
		set->probes[i].def = &fl_probe_defs[i];
		select_one(&set->probes[i], &ki, kprobes, ks, set);
	}
	fl_probes_gate(set, &ki);
	for (i = 0; i < set->n; i++)
		n += set->probes[i].ntries;
	fl_libbpf_quiet(quiet);
	fl_kbtf_free(&ki);
	return n;
}

void fl_probes_free(struct fl_probe_set *set)
{
	if (set->probes) {
		fl_probes_detach(set);
		pthread_mutex_destroy(&set->lock);
	}
	free(set->probes);
	set->probes = NULL;
	set->n = 0;
}
