// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Attach: per probe, its loaded candidates in order until one sticks
 * (a notrace function loads as fentry but refuses the attach); held
 * probes (set->hold) armed by a second call; detach.  Every change of a
 * probe's status and links is published under set->lock for the HTTP
 * thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "log.h"
#include "probe_stages.h"

static struct bpf_link *attach_one(const struct fl_impl *impl,
				   struct bpf_program *prog, const char *sym,
				   bool ret)
{
	char cat[64];
	const char *event;

	switch (impl->mode) {
	case FL_MODE_FENTRY:
	case FL_MODE_TP_BTF:
		return bpf_program__attach(prog);
	case FL_MODE_KPROBE:
		return bpf_program__attach_kprobe(prog, ret, sym);
	case FL_MODE_RAW_TP:
		fl_split_tp(sym, cat, sizeof(cat), &event);
		return bpf_program__attach_raw_tracepoint(prog, event);
	case FL_MODE_TRACEPOINT:
		fl_split_tp(sym, cat, sizeof(cat), &event);
		return bpf_program__attach_tracepoint(prog, cat, event);
	default:
		errno = EINVAL;
		return NULL;
	}
}


/* Both programs of a pair attach, or neither stays attached. */
static int attach_impl(const struct fl_impl *impl, struct bpf_object *obj,
		       const char *sym, struct bpf_link *links[2])
{
	const char *names[2] = { impl->entry, impl->exit };
	struct bpf_program *progs[2] = {};
	int i, err = 0;

	links[0] = links[1] = NULL;
	for (i = 0; i < 2; i++)
		if (names[i] && !(progs[i] = fl_find_prog(obj, names[i])))
			return -ENOENT;		/* before anything is attached */
	for (i = 0; i < 2; i++) {
		if (!progs[i])
			continue;
		links[i] = attach_one(impl, progs[i], sym, i == 1);
		if (!links[i]) {
			err = errno ? -errno : -EINVAL;
			goto cleanup;
		}
	}
	return 0;
cleanup:
	for (i = 0; i < 2; i++) {
		bpf_link__destroy(links[i]);
		links[i] = NULL;
	}
	return err;
}

bool fl_probes_patch_text(const struct fl_probe_set *set)
{
	int i, k;

	for (i = 0; i < set->n; i++)
		for (k = 0; k < set->probes[i].ntries; k++)
			if (set->probes[i].status != FL_ST_ATTACHED &&
			    fl_mode_patches_text(set->probes[i].tries[k].impl->mode))
				return true;
	return false;
}

/* Attach p's candidates in order until one sticks; publish the result
 * under set->lock (the attach itself may take long: not under it). */
static int attach_probe(struct fl_probe_set *set, struct fl_probe *p)
{
	struct bpf_link *links[2] = {}, **cpu_links = NULL;
	const struct fl_try *won = NULL;
	int ncpu = 0;
	enum fl_status st = p->status;
	bool held = false;
	int k, err;

	for (k = 0; k < p->ntries && !won; k++) {
		struct fl_try *t = &p->tries[k];

		if (!t->obj || t->failed)
			continue;	/* not loaded (yet), or refused before */
		if (set->hold && fl_mode_patches_text(t->impl->mode)) {
			if (p->status != FL_ST_HELD)
				fl_probe_reason(p, "%s %s: held: %s", t->sym,
					   fl_mode_name(t->impl), set->hold);
			held = true;
			continue;	/* a tracepoint candidate may follow */
		}
		if (t->impl->mode == FL_MODE_PERF)
			err = fl_attach_perf(fl_find_prog(t->obj, t->impl->entry), set->perf_hz,
					  &cpu_links, &ncpu);
		else
			err = attach_impl(t->impl, t->obj, t->sym, links);
		t->failed = err != 0;
		if (err)	/* the errno too: a sandbox's refusal says which */
			fl_probe_reason(p, "%s %s: %s (%s)", t->sym, fl_mode_name(t->impl),
				   fl_probe_explain(t->impl->mode, false, err), strerror(err < 0 ? -err : err));
		else
			won = t;
	}
	if (won)
		st = FL_ST_ATTACHED;
	else if (p->ntries)
		st = held ? FL_ST_HELD : FL_ST_REFUSED;
	pthread_mutex_lock(&set->lock);
	if (won) {
		p->impl = won->impl;
		snprintf(p->sym, sizeof(p->sym), "%s", won->sym);
		p->links[0] = links[0];
		p->links[1] = links[1];
		p->cpu_links = cpu_links;
		p->ncpu_links = ncpu;
	}
	p->status = st;
	pthread_mutex_unlock(&set->lock);
	return won != NULL;
}

/* Phase 3: per probe, attach the candidates in order until one sticks. */
int fl_probes_attach(struct fl_probe_set *set)
{
	bool quiet;
	int i, n = 0;

	quiet = fl_libbpf_quiet(true);
	/* an attach may wait for RCU-tasks or stop_machine(): a signal
	 * in between stops start-up before the next one */
	for (i = 0; i < set->n && !(set->stop && *set->stop); i++)
		if (set->probes[i].status != FL_ST_ATTACHED)	/* a second call arms what was held */
			n += attach_probe(set, &set->probes[i]);
	fl_libbpf_quiet(quiet);
	return n;
}

void fl_probes_detach(struct fl_probe_set *set)
{
	int i, j;

	pthread_mutex_lock(&set->lock);
	for (i = 0; i < set->n; i++) {
		struct fl_probe *p = &set->probes[i];

		for (j = 0; j < 2; j++) {
			bpf_link__destroy(p->links[j]);
			p->links[j] = NULL;
		}
		for (j = 0; j < p->ncpu_links; j++)
			bpf_link__destroy(p->cpu_links[j]);
		free(p->cpu_links);
		p->cpu_links = NULL;
		p->ncpu_links = 0;
	}
	pthread_mutex_unlock(&set->lock);
}
