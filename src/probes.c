// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "kbtf.h"
#include "ksyms.h"
#include "log.h"
#include "probes.h"
#include "util.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524	/* kernel-internal, leaks out of BPF trampoline setup */
#endif


/* ---- calibration ------------------------------------------------------------ */

static void add_reason(struct fl_probe *p, const char *fmt, ...)
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

static const char *explain(enum fl_mode m, bool at_load, int err)
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

static struct bpf_program *find_prog(struct bpf_object *obj, const char *name)
{
	return name ? bpf_object__find_program_by_name(obj, name) : NULL;
}

static void split_tp(const char *sym, char *cat, size_t clen, const char **event)
{
	const char *slash = strchr(sym, '/');
	size_t n = slash ? (size_t)(slash - sym) : 0;

	if (n >= clen)
		n = clen - 1;
	memcpy(cat, sym, n);
	cat[n] = 0;
	*event = slash ? slash + 1 : sym;
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
		split_tp(sym, cat, sizeof(cat), &event);
		bpf_program__set_attach_target(prog, 0, event);
	}
}

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
		split_tp(sym, cat, sizeof(cat), &event);
		return bpf_program__attach_raw_tracepoint(prog, event);
	case FL_MODE_TRACEPOINT:
		split_tp(sym, cat, sizeof(cat), &event);
		return bpf_program__attach_tracepoint(prog, cat, event);
	default:
		errno = EINVAL;
		return NULL;
	}
}

/* The stall sampler: a software cpu-clock event on each CPU, hz times a
 * second.  CPUs that are offline are skipped; one is enough. */
static int attach_perf(struct bpf_program *prog, unsigned int hz,
		       struct bpf_link ***out, int *nout)
{
	int ncpu = libbpf_num_possible_cpus(), cpu, n = 0, err = -ENODEV;
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_period = hz ? 1000000000ULL / hz : 0,
	};
	struct bpf_link **links;

	if (ncpu <= 0 || !hz)
		return -EINVAL;
	links = calloc(ncpu, sizeof(*links));
	if (!links)
		return -ENOMEM;
	for (cpu = 0; cpu < ncpu; cpu++) {
		int fd = syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);

		if (fd < 0) {
			err = -errno;
			continue;
		}
		links[n] = bpf_program__attach_perf_event(prog, fd);
		if (!links[n]) {
			err = -errno;
			close(fd);
			continue;
		}
		n++;
	}
	if (!n) {
		free(links);
		return err;
	}
	*out = links;
	*nout = n;
	return 0;
}

static int attach_impl(const struct fl_impl *impl, struct bpf_object *obj,
		       const char *sym, struct bpf_link *links[2])
{
	const char *names[2] = { impl->entry, impl->exit };
	int i, err;

	for (i = 0; i < 2; i++) {
		struct bpf_program *prog;

		links[i] = NULL;
		if (!names[i])
			continue;
		prog = find_prog(obj, names[i]);
		if (!prog)
			return -ENOENT;
		links[i] = attach_one(impl, prog, sym, i == 1);
		if (!links[i]) {
			err = -errno;
			if (i == 1 && links[0]) {
				bpf_link__destroy(links[0]);
				links[0] = NULL;
			}
			return err ? err : -EINVAL;
		}
	}
	return 0;
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
		prog = find_prog(obj, name);
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

	switch (impl->mode) {
	case FL_MODE_FENTRY:
		if (nargs < 0) {
			add_reason(p, "%s fentry: not in BTF", sym);
			return false;
		}
		return !impl->nargs || impl->nargs == nargs;	/* else another arity variant */
	case FL_MODE_KPROBE:
		if (!kallsym) {
			add_reason(p, "%s kprobe: not in kallsyms", sym);
			return false;
		}
		if (!kprobes) {
			add_reason(p, "%s kprobe: kernel has no kprobes", sym);
			return false;
		}
		return true;
	case FL_MODE_TP_BTF:
		if (!fl_kbtf_has_tp(ki, event ? event + 1 : sym)) {
			add_reason(p, "%s tp_btf: no such tracepoint in BTF", sym);
			return false;
		}
		return true;
	default:
		return true;	/* raw_tp, tracepoint, perf: the attach decides */
	}
}

/* Phase 1: which candidates exist and are allowed by --mode; whether they
 * load is decided for all at once (fl_probes_gate_modes, then the final
 * object, and fl_probes_verify only if that fails). */
static void select_one(struct fl_probe *p, struct fl_kbtf *ki, bool kprobes,
		       const struct ksyms *ks, const struct fl_probe_set *set)
{
	const struct fl_probe_def *d = p->def;
	bool any_present = false, any_allowed = false;
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
				add_reason(p, "%s: not present", cand->sym);
				continue;
			}
		}
		any_present = true;
		for (i = 0; i < FL_MAX_IMPLS && (cand->impl[i].entry || cand->impl[i].exit); i++) {
			const struct fl_impl *impl = &cand->impl[i];

			if (!fl_mode_allowed(set->sel, impl->mode))
				continue;
			if (impl->mode == FL_MODE_PERF && !set->perf_hz) {
				add_reason(p, "excluded by --stall off");
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
			add_reason(p, "%s fexit: %d arguments in BTF, no program for that arity",
				   cand->sym, nargs);
	}
	if (!any_present)
		p->status = FL_ST_ABSENT;
	else if (!any_allowed)
		p->status = FL_ST_DISABLED;
	else
		p->status = FL_ST_REFUSED;	/* until an attach succeeds */
	if (p->status == FL_ST_DISABLED && !p->reason[0])
		add_reason(p, "excluded by --mode");
}

/* at_load: refused at load, else at attach (the reason's words) */
static void drop_try_at(struct fl_probe *p, int k, int err, bool at_load)
{
	const struct fl_try *t = &p->tries[k];

	add_reason(p, "%s %s: %s", t->sym, fl_mode_name(t->impl),
		   explain(t->impl->mode, at_load, err));
	memmove(&p->tries[k], &p->tries[k + 1], (p->ntries - k - 1) * sizeof(p->tries[0]));
	p->ntries--;
}

static void drop_try(struct fl_probe *p, int k, int err)
{
	drop_try_at(p, k, err, true);
}

/* r0 = 0; exit: the bare programs below */
static const struct bpf_insn ret0[] = {
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
	{ .code = BPF_JMP | BPF_EXIT },
};

/*
 * A bare tracing program against sym in vmlinux's BTF, loaded without an
 * object, map or BTF upload: 0 (and *fd, or closed at once with fd NULL),
 * 1 for no verdict (a module's function), else the load's negative errno.
 */
static int bare_tracing_prog(const struct fl_kbtf *kb, const char *sym,
			     enum bpf_attach_type type, const char *name,
			     const struct bpf_insn *insns, size_t n, int *fd)
{
	int id = kb->vmlinux ? btf__find_by_name_kind(kb->vmlinux, sym, BTF_KIND_FUNC) : -1;
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = type,
		    .attach_btf_id = id);

	int prog;

	if (id <= 0)
		return 1;
	prog = bpf_prog_load(BPF_PROG_TYPE_TRACING, name, "GPL", insns, n, &opts);
	if (prog < 0)
		return -errno;
	if (fd)
		*fd = prog;
	else
		close(prog);
	return 0;
}

/* A refusal that holds for every program of the mode, not for one target:
 * fentry refused by policy (EPERM), no BPF trampoline (ENOTSUPP). */
static bool refused_for_all(int err)
{
	err = err < 0 ? -err : err;
	return err == EPERM || err == ENOTSUPP || err == EOPNOTSUPP;
}

/*
 * fentry is the one mode the kernel may refuse for every target: forbidden
 * (EPERM, this project's CI host), or no BPF trampoline (ENOTSUPP).  A
 * two-instruction fentry program loaded against the first fentry
 * candidate in vmlinux's BTF tells, at the cost of no object, map or BTF
 * upload; on such a refusal every fentry candidate goes at once, before
 * the final object would fail on each of them in turn.
 */
static int fentry_gate(const struct fl_kbtf *kb, const char *sym)
{
	return bare_tracing_prog(kb, sym, BPF_TRACE_FENTRY, "fl_fentry_gate",
				 ret0, ARRAY_SIZE(ret0), NULL);
}

static void gate_fentry(struct fl_probe_set *set, const struct fl_kbtf *kb)
{
	int i, k, err = 1;

	for (i = 0; i < set->n; i++) {
		struct fl_probe *p = &set->probes[i];

		for (k = 0; k < p->ntries; k++) {
			if (p->tries[k].impl->mode != FL_MODE_FENTRY)
				continue;
			if (err > 0) {		/* no verdict yet */
				err = fentry_gate(kb, p->tries[k].sym);
				if (err <= 0 && !refused_for_all(err))
					return;		/* the final load decides, per program */
				if (err > 0)
					continue;
			}
			drop_try(p, k--, err);
		}
	}
}

/*
 * Before 6.16 (1271a40eeafa) the verifier lets a tracing program read a
 * pointer argument only if it points to void or to a struct: `const void
 * *` (a pointer to a const modifier) is rejected at load, "not a struct".
 * The final object would fail on that program and be loaded a second
 * time (203 ms under TCG on 6.1: the maps and vmlinux BTF again).  A
 * three-instruction fexit program that reads the same argument, loaded
 * without an object, gets the same verdict.  0: loads; 1: no verdict (a
 * module's function); else the negative errno.
 */
static int const_void_gate(const struct fl_kbtf *kb, const char *sym, int arg)
{
	const struct bpf_insn prog[] = {
		{ .code = BPF_LDX | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_2,
		  .src_reg = BPF_REG_1, .off = arg * 8 },
		ret0[0], ret0[1],
	};

	return bare_tracing_prog(kb, sym, BPF_TRACE_FEXIT, "fl_arg_gate",
				 prog, ARRAY_SIZE(prog), NULL);
}

static void gate_const_void(struct fl_probe_set *set, const struct fl_kbtf *kb)
{
	int i, k, err;

	for (i = 0; i < set->n; i++) {
		struct fl_probe *p = &set->probes[i];

		for (k = 0; k < p->ntries; k++) {
			const struct fl_impl *im = p->tries[k].impl;

			if (im->mode != FL_MODE_FENTRY || !im->const_void_arg)
				continue;
			err = const_void_gate(kb, p->tries[k].sym, im->const_void_arg - 1);
			if (err < 0)
				drop_try(p, k--, err);
		}
	}
}

/*
 * The functions the table marks notrace_hint (fault_in_iov_iter_*, the
 * atomic iterator copies, copy_to_user_nofault) refuse fexit and kprobe
 * on every Debian kernel from 5.10 to 7.3 (tests/vm/expect; on 7.3 they
 * are missing from available_filter_functions, which takes 240-390 ms to
 * read under TCG), so their fexit program is verified (20-48 ms under TCG) and then refused
 * at attach, and so is their kprobe.  A two-instruction fexit program,
 * loaded without an object, tries the attach first: refused, the
 * candidate goes before the final object loads it, and the kprobe after
 * it is checked the same way (check_kprobes_of).  Should the function be
 * traceable after all, the bare program's trampoline is attached and
 * detached once.  x86 only: on arm64 that would be text patched through
 * stop_machine() before the stuck-task check can hold it (session.c).
 * 0: attaches; 1: no verdict; else the attach's negative errno.
 */
#if defined(__x86_64__)
static int notrace_gate(const struct fl_kbtf *kb, const char *sym)
{
	int fd, link, err;

	if (bare_tracing_prog(kb, sym, BPF_TRACE_FEXIT, "fl_notrace_gate",
			      ret0, ARRAY_SIZE(ret0), &fd))
		return 1;	/* the final load gives its own verdict */
	link = bpf_raw_tracepoint_open(NULL, fd);
	err = link < 0 ? -errno : 0;
	if (link >= 0)
		close(link);
	close(fd);
	return err;
}
#endif

static void check_kprobes_of(struct fl_probe *p);

static void gate_notrace(struct fl_probe_set *set, const struct fl_kbtf *kb)
{
#if defined(__x86_64__)
	int i, k, err;

	for (i = 0; i < set->n; i++) {
		struct fl_probe *p = &set->probes[i];
		bool dropped = false;

		for (k = 0; k < p->ntries; k++) {
			const struct fl_try *t = &p->tries[k];

			if (t->impl->mode != FL_MODE_FENTRY || !t->impl->notrace_hint)
				continue;
			err = notrace_gate(kb, t->sym);
			if (err >= 0)
				continue;
			drop_try_at(p, k--, err, false);
			dropped = true;
		}
		if (dropped)
			check_kprobes_of(p);
	}
#else
	(void)set;
	(void)kb;
#endif
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
	/* the kprobe PMU (4.17), else tracefs' kprobe_events */
	kprobes = !access("/sys/bus/event_source/devices/kprobe/type", F_OK) ||
		  !access("/sys/kernel/tracing/kprobe_events", F_OK) ||
		  !access("/sys/kernel/debug/tracing/kprobe_events", F_OK);
	for (i = 0; i < set->n; i++) {
		set->probes[i].def = &fl_probe_defs[i];
		select_one(&set->probes[i], &ki, kprobes, ks, set);
	}
	gate_fentry(set, &ki);
	gate_const_void(set, &ki);
	gate_notrace(set, &ki);
	for (i = 0; i < set->n; i++)
		n += set->probes[i].ntries;
	fl_libbpf_quiet(quiet);
	fl_kbtf_free(&ki);
	return n;
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
				drop_try(p, k--, err);
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
				drop_try(p, k--, err);
				n++;
			}
		}
	}
	fl_libbpf_quiet(quiet);
	return n;
}

/* A probe needs a candidate loaded: none is, or every loaded one was
 * refused at attach. */
static bool needs_load(const struct fl_probe *p)
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
		bool want = needs_load(p);

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
				prog = find_prog(obj, name);
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

/*
 * Would a kprobe on sym register?  A perf kprobe event without a program
 * is what the attach creates (libbpf, perf PMU): a register and an
 * unregister, no verification.  1: cannot tell (no kprobe PMU).
 */
static int kprobe_registers(const char *sym)
{
	struct perf_event_attr attr = { .size = sizeof(attr) };
	char buf[32];
	int fd, type;
	FILE *f = fopen("/sys/bus/event_source/devices/kprobe/type", "re");

	if (!f)
		return 1;
	type = fgets(buf, sizeof(buf), f) ? atoi(buf) : -1;
	fclose(f);
	if (type < 0)
		return 1;
	attr.type = type;
	attr.config1 = (__u64)(unsigned long)sym;	/* kprobe_func */
	fd = syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/*
 * Before a fallback object loads kprobe candidates for functions whose
 * fentry/fexit the kernel refused at attach: the Debian kernels (6.1 to
 * 7.3) refuse the kprobe on each of those functions too
 * (fault_in_iov_iter_*, copy_page_from_iter_atomic, copy_to_user_nofault),
 * and a kprobe program pair that inlines the detector costs 40-60 ms of
 * verification and JIT under TCG for an attach that cannot succeed.
 * Such candidates go now, with the attach's reason.
 */
static void check_kprobes_of(struct fl_probe *p)
{
	int k, err;

	for (k = 0; k < p->ntries; k++) {
		struct fl_try *t = &p->tries[k];

		if (t->obj)
			continue;
		if (t->impl->mode != FL_MODE_KPROBE)
			break;	/* the next to load is not a kprobe */
		err = kprobe_registers(t->sym);
		if (err >= 0)
			break;
		drop_try_at(p, k--, err, false);
	}
}

void fl_probes_check_kprobes(struct fl_probe_set *set)
{
	int i;

	for (i = 0; i < set->n; i++)
		if (needs_load(&set->probes[i]))
			check_kprobes_of(&set->probes[i]);
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
				add_reason(p, "%s %s: held: %s", t->sym,
					   fl_mode_name(t->impl), set->hold);
			held = true;
			continue;	/* a tracepoint candidate may follow */
		}
		if (t->impl->mode == FL_MODE_PERF)
			err = attach_perf(find_prog(t->obj, t->impl->entry), set->perf_hz,
					  &cpu_links, &ncpu);
		else
			err = attach_impl(t->impl, t->obj, t->sym, links);
		t->failed = err != 0;
		if (err)	/* the errno too: a sandbox's refusal says which */
			add_reason(p, "%s %s: %s (%s)", t->sym, fl_mode_name(t->impl),
				   explain(t->impl->mode, false, err), strerror(err < 0 ? -err : err));
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
	for (i = 0; i < set->n; i++)
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
