// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loads: a candidate's programs alone in a fresh object (a trial, when
 * the final object failed), and the final object's autoload set, one
 * candidate a probe, with its attach target.  Which candidate loaded
 * where is kept per try (fl_try.obj) for the attach (probe_attach.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "log.h"
#include "probe_stages.h"

struct bpf_program *fl_find_prog(struct bpf_object *obj, const char *name)
{
	return name ? bpf_object__find_program_by_name(obj, name) : NULL;
}

void fl_split_tp(const char *sym, char *cat, size_t clen, const char **event)
{
	const char *slash = strchr(sym, '/');
	size_t n = slash ? (size_t)(slash - sym) : 0;

	*event = slash ? slash + 1 : sym;
	if (!clen)
		return;
	if (n >= clen)
		n = clen - 1;
	memcpy(cat, sym, n);
	cat[n] = 0;
}

/* Target name for set_attach_target / attach calls. */
static void set_target(const struct fl_impl *impl, struct bpf_program *prog,
		       const char *sym)
{
	char cat[64];
	const char *event;

	if (impl->mode == FL_MODE_FENTRY) {
		bpf_program__set_attach_target(prog, 0, sym);
	} else if (impl->mode == FL_MODE_TP_BTF) {
		fl_split_tp(sym, cat, sizeof(cat), &event);
		bpf_program__set_attach_target(prog, 0, event);
	}
}


/*
 * The verifier checks fentry/tp_btf programs against their target at load.
 * Nothing is attached: every attach patches kernel text (on arm64 through
 * stop_machine), so each probe is attached once, in the final object.
 */
int fl_trial_load(fl_open_fn open_obj, fl_close_fn close_obj, void *ctx,
		  const struct fl_impl *impl, const char *sym)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_map *map;
	bool quiet;
	int err = 0, i;

	obj = open_obj(ctx);
	if (!obj)
		return -errno ? -errno : -EINVAL;
	bpf_object__for_each_program(prog, obj)
		bpf_program__set_autoload(prog, false);
	/* Keep trial objects tiny: nothing is recorded during a trial. */
	bpf_object__for_each_map(map, obj) {
		if (bpf_map__type(map) == BPF_MAP_TYPE_RINGBUF)
			bpf_map__set_max_entries(map, 4096);
		else if (bpf_map__type(map) == BPF_MAP_TYPE_HASH ||
			 bpf_map__type(map) == BPF_MAP_TYPE_LRU_HASH)
			bpf_map__set_max_entries(map, 1);
	}
	for (i = 0; i < 2; i++) {
		const char *name = i ? impl->exit : impl->entry;

		if (!name)
			continue;
		prog = fl_find_prog(obj, name);
		if (!prog) {
			err = -ENOENT;
			goto out;
		}
		bpf_program__set_autoload(prog, true);
		if (sym)
			set_target(impl, prog, sym);
	}
	quiet = fl_libbpf_quiet(true);
	err = bpf_object__load(obj);
	fl_libbpf_quiet(quiet);
out:
	close_obj(ctx, obj);
	return err;
}

int fl_probes_drop_prog(struct fl_probe_set *set, const char *prog, int err)
{
	int i, k, n = 0;

	for (i = 0; i < set->n; i++) {
		struct fl_probe *p = &set->probes[i];

		for (k = 0; k < p->ntries; k++) {
			const struct fl_impl *im = p->tries[k].impl;

			if ((im->entry && !strcmp(im->entry, prog)) ||
			    (im->exit && !strcmp(im->exit, prog))) {
				fl_probe_drop_try(p, k--, err, true);
				n++;
			}
		}
	}
	return n;
}

/* The final object did not load: find the candidates that do not, one
 * trial each, and drop them.  Returns how many were dropped. */
int fl_probes_verify(struct fl_probe_set *set, fl_open_fn open_obj,
		     fl_close_fn close_obj, void *ctx)
{
	bool quiet;
	int i, k, err, n = 0;

	quiet = fl_libbpf_quiet(true);
	for (i = 0; i < set->n; i++) {
		struct fl_probe *p = &set->probes[i];

		for (k = 0; k < p->ntries; k++) {
			err = fl_trial_load(open_obj, close_obj, ctx, p->tries[k].impl,
					    p->tries[k].sym);
			if (err) {
				fl_probe_drop_try(p, k--, err, true);
				n++;
			}
		}
	}
	fl_libbpf_quiet(quiet);
	return n;
}

/* A probe needs a candidate loaded: none is, or every loaded one was
 * refused at attach. */
bool fl_probe_needs_load(const struct fl_probe *p)
{
	int k;

	if (p->status == FL_ST_ATTACHED)
		return false;
	for (k = 0; k < p->ntries; k++)
		if (p->tries[k].obj && !p->tries[k].failed)
			return false;
	return true;
}

/*
 * Phase 2: per probe that needs one, its next candidate not loaded yet.
 * Only the first: a fentry program that loads (verified against its
 * target) attaches unless the function is notrace, and every fallback
 * loaded beside it cost as much again (under TCG, 20-45 ms of
 * verification and JIT per copy of the detector, BENCHMARKS.md).
 */
int fl_probes_prepare(struct fl_probe_set *set, struct bpf_object *obj)
{
	struct bpf_program *prog;
	int i, j, k, n = 0;

	bpf_object__for_each_program(prog, obj)
		bpf_program__set_autoload(prog, false);
	for (i = 0; i < set->n; i++) {
		struct fl_probe *p = &set->probes[i];
		bool want = fl_probe_needs_load(p);

		for (k = 0; k < p->ntries; k++) {
			struct fl_try *t = &p->tries[k];

			t->pending = false;
			if (!want || t->obj)
				continue;
			want = false;
			for (j = 0; j < 2; j++) {
				const char *name = j ? t->impl->exit : t->impl->entry;

				if (!name)
					continue;
				prog = fl_find_prog(obj, name);
				if (!prog)
					return -ENOENT;
				bpf_program__set_autoload(prog, true);
				set_target(t->impl, prog, t->sym);
			}
			t->pending = true;
			n++;
		}
	}
	return n;
}

void fl_probes_loaded(struct fl_probe_set *set, struct bpf_object *obj)
{
	int i, k;

	for (i = 0; i < set->n; i++)
		for (k = 0; k < set->probes[i].ntries; k++) {
			struct fl_try *t = &set->probes[i].tries[k];

			if (t->pending && obj)
				t->obj = obj;
			t->pending = false;
		}
}

/* A kprobe on a copy may run: its kretprobe needs the entry's arguments
 * from the stash map (fl_stash_put in bpf/faultloop.bpf.c). */
bool fl_probes_need_stash(const struct fl_probe_set *set)
{
	int i, k;

	for (i = 0; i < set->n; i++)
		for (k = 0; k < set->probes[i].ntries; k++)
			if (fl_sig_kind(set->probes[i].def->sig) == FL_K_COPY &&
			    set->probes[i].tries[k].impl->mode == FL_MODE_KPROBE)
				return true;
	return false;
}

