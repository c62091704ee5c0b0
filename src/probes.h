/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Probe selection.  A logical probe (one signal) is data: candidate kernel
 * symbols (renames across the kernels tested, 5.10 to 7.3) and, per symbol, the programs that
 * can attach it in each mode.  Selection is by actually loading and
 * attaching, never by symbol presence alone.
 */
#ifndef FL_PROBES_H
#define FL_PROBES_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "faultloop.h"
#include "signals.h"

struct bpf_object;
struct bpf_link;
struct ksyms;
struct jw;

enum fl_mode {
	FL_MODE_FENTRY,		/* fentry / fexit (BPF trampoline) */
	FL_MODE_KPROBE,		/* kprobe / kretprobe */
	FL_MODE_TP_BTF,		/* BTF-typed raw tracepoint */
	FL_MODE_RAW_TP,		/* raw tracepoint */
	FL_MODE_TRACEPOINT,	/* classic tracepoint (needs tracefs) */
	FL_MODE_PERF,		/* software perf event on every CPU (the stall sampler) */
	FL_MODE__MAX,
};

/* --mode */
enum fl_mode_sel {
	FL_SEL_AUTO,
	FL_SEL_FENTRY,
	FL_SEL_KPROBE,
	FL_SEL_TRACEPOINT,
};

#define FL_ARCH_X86	0x1
#define FL_ARCH_ARM64	0x2
#define FL_ARCH_ALL	(FL_ARCH_X86 | FL_ARCH_ARM64)

#define FL_MAX_CANDS	4
#define FL_MAX_IMPLS	6

struct fl_impl {
	enum fl_mode mode;
	const char *entry;	/* program run at entry / on the tracepoint */
	const char *exit;	/* program run at return (fexit, kretprobe) */
	int nargs;		/* exact arity the fexit program assumes, 0 any */
	/* 1 + the index of a `const void *` argument the fentry/fexit
	 * program reads, 0: none (such a read is rejected before 6.16:
	 * const_void_gate in src/probe_gates.c) */
	int const_void_arg;
	/* refused at attach on every kernel seen so far (x86: gate_notrace
	 * in src/probe_gates.c tries a bare program's attach before this loads) */
	bool notrace_hint;
	/* a BPF helper the program calls (bpf_<helper>): the program is a
	 * candidate only where the kernel's BTF names it (fl_kbtf_has_helper);
	 * since: its kernel and commit; loss: what the next program lacks */
	const char *helper, *helper_since, *helper_loss;
};

struct fl_cand {
	const char *sym;	/* function, or "category/event" */
	struct fl_impl impl[FL_MAX_IMPLS];
};

struct fl_probe_def {
	const char *name;	/* logical signal name */
	enum fl_signal sig;	/* its kind: fl_sig_kind() */
	unsigned int arch;
	const char *since;	/* kernel version / commit the symbol appeared */
	struct fl_cand cand[FL_MAX_CANDS];
};

enum fl_status {
	FL_ST_UNTRIED,
	FL_ST_ATTACHED,
	FL_ST_REFUSED,		/* present, the kernel refused every mode */
	FL_ST_ABSENT,		/* no candidate symbol on this kernel */
	FL_ST_DISABLED,		/* excluded by --mode */
	FL_ST_OTHER_ARCH,
	FL_ST_HELD,		/* loaded, not armed: set->hold says why */
	FL_ST_NO_SYMBOLS,	/* needs kernel addresses: set->no_symbols says why */
};

#define FL_MAX_TRIES 8

/* A candidate that loaded on its own: attached in order at the end. */
struct fl_try {
	const struct fl_impl *impl;
	char sym[128];
	struct bpf_object *obj;	/* loaded in; NULL: not (yet) */
	bool pending;		/* autoloaded in the object being loaded */
	bool failed;		/* its attach was refused */
};

struct fl_probe {
	const struct fl_probe_def *def;
	enum fl_status status;
	const struct fl_impl *impl;	/* chosen */
	char sym[128];			/* attached symbol as the kernel knows it */
	char reason[512];		/* why not, per tried candidate */
	struct bpf_link *links[2];
	struct bpf_link **cpu_links;	/* FL_MODE_PERF: one per online CPU */
	int ncpu_links;
	struct fl_try tries[FL_MAX_TRIES];
	int ntries;
};

struct fl_probe_set {
	struct fl_probe *probes;
	int n;
	/* Taken by fl_probes_attach() around every change of a probe's
	 * status, impl, sym and links, and by fl_probes_rows(): the HTTP
	 * thread reads the set while held probes are being armed. */
	pthread_mutex_t lock;
	enum fl_mode_sel sel;
	/* The stall sampler's rate (FL_MODE_PERF), 0: off, the probe disabled. */
	unsigned int perf_hz;
	/* Non-NULL: fl_probes_attach() leaves fentry/kprobe candidates
	 * unattached (FL_ST_HELD) for this reason; clear it and call
	 * fl_probes_attach() again to arm them. */
	const char *hold;
	/* Non-NULL: the stall sampler has no code ranges to test a sample
	 * against, for this reason; it is not attached (FL_ST_NO_SYMBOLS). */
	const char *no_symbols;
	/* Non-NULL and non-zero (a signal): fl_probes_attach() attaches no
	 * further probe. */
	const volatile sig_atomic_t *stop;
};

typedef struct bpf_object *(*fl_open_fn)(void *ctx);
typedef void (*fl_close_fn)(void *ctx, struct bpf_object *obj);

extern const struct fl_probe_def fl_probe_defs[];
extern const int fl_nr_probe_defs;

const char *fl_mode_name(const struct fl_impl *impl);
const char *fl_mode_sel_name(enum fl_mode_sel sel);
const char *fl_status_name(enum fl_status st);
int fl_mode_sel_parse(const char *s, enum fl_mode_sel *out);
bool fl_mode_allowed(enum fl_mode_sel sel, enum fl_mode m);
/* tp_btf, raw_tp, tracepoint and perf: no kernel function to find, no
 * kernel text patched, allowed whatever --mode says. */
bool fl_mode_is_tp(enum fl_mode m);
/* The running binary's architecture is among arch (FL_ARCH_*). */
bool fl_arch_matches(unsigned int arch);


/*
 * Load only the named programs (entry, exit; either may be NULL) of a
 * freshly opened object, with their attach target set to sym when their
 * type needs one at load (fentry, tp_btf); maps shrunk to their minimum.
 * Nothing is attached.  0 or a negative errno.
 */
int fl_trial_load(fl_open_fn open_obj, fl_close_fn close_obj, void *ctx,
		  const struct fl_impl *impl, const char *sym);

/*
 * Three phases, so that each probe patches kernel text once:
 * 1. fl_probes_select(): per probe, the candidates that exist (kallsyms,
 *    BTF, arity), that --mode allows, and whose mode the kernel accepts:
 *    one two-instruction fentry load stands for the mode.  Returns the
 *    number of candidates.
 * 2. fl_probes_prepare(): on the final object, autoload the first
 *    candidate of each probe and set its target; the caller loads it and
 *    calls fl_probes_loaded().  Should that
 *    load fail, fl_probes_drop_prog() drops the program libbpf named, or
 *    fl_probes_verify() trial-loads each candidate alone (open_obj()
 *    returns a freshly opened object of the faultloop programs,
 *    close_obj() frees it) and drops those that fail; the caller loads a
 *    fresh object again.
 * 3. fl_probes_attach(): attach each probe's loaded candidates in order
 *    until one sticks (notrace functions load as fentry but refuse the
 *    attach).  Returns the number of probes attached.  Where every loaded
 *    candidate of a probe was refused, fl_probes_prepare() on another
 *    object (its maps shared with the first) autoloads the next one; load,
 *    fl_probes_loaded(), attach again.  A fallback is thus verified only
 *    where the kernel refused the candidate before it, not on every start
 *    (BENCHMARKS.md, "Start-up").
 */
int fl_probes_select(struct fl_probe_set *set, const struct ksyms *ks);
/* Returns how many candidates it autoloaded (0: nothing left to load). */
int fl_probes_prepare(struct fl_probe_set *set, struct bpf_object *obj);
/* The prepared candidates are loaded in obj (NULL: the load failed). */
void fl_probes_loaded(struct fl_probe_set *set, struct bpf_object *obj);
/* Drop the kprobe candidates next in line whose kprobe does not register. */
void fl_probes_check_kprobes(struct fl_probe_set *set);
int fl_probes_verify(struct fl_probe_set *set, fl_open_fn open_obj,
		     fl_close_fn close_obj, void *ctx);
/* Drop every candidate that runs program prog (it did not load: err);
 * returns how many. */
int fl_probes_drop_prog(struct fl_probe_set *set, const char *prog, int err);
int fl_probes_attach(struct fl_probe_set *set);
/* Does attaching this mode patch kernel text (fentry, kprobe)? */
bool fl_mode_patches_text(enum fl_mode m);
/* Would attaching what is left to attach patch kernel text? */
bool fl_probes_patch_text(const struct fl_probe_set *set);
bool fl_probes_need_stash(const struct fl_probe_set *set);
void fl_probes_detach(struct fl_probe_set *set);
void fl_probes_free(struct fl_probe_set *set);

/* The probe a signal's events come from, NULL if the table has none. */
const struct fl_probe *fl_probes_get(const struct fl_probe_set *set, unsigned int sig);
/* The symbol a signal's events come from ("?" if not attached). */
const char *fl_probes_symbol(const struct fl_probe_set *set, unsigned int sig);
int fl_probes_count(const struct fl_probe_set *set, enum fl_status st);
/* Probes of this architecture that are not attached. */
int fl_probes_missing(const struct fl_probe_set *set);
/* An attached probe feeds the detector a user address (fl_sig_has_addr);
 * with kinds != 0, only a probe of one of those kinds (1 << FL_K_*). */
bool fl_probes_have_addr(const struct fl_probe_set *set, unsigned int kinds);
bool fl_probes_have(const struct fl_probe_set *set, unsigned int sig);

/* What the HTTP thread shows of a probe: a copy, taken under set->lock. */
struct fl_probe_row {
	const char *name;	/* static: the table's */
	unsigned int sig;
	enum fl_status status;
	const char *mode;	/* static; "none" when not attached */
	char sym[128];		/* attached symbol, else the first candidate */
	const char *prog[2];	/* entry, exit program names; NULL: none */
};
/* Fills rows[] (set->n of them); returns how many. */
int fl_probes_rows(struct fl_probe_set *set, struct fl_probe_row *rows, int max);

/* A probe program's BPF run-time stats (--bpf-stats), by the name in
 * fl_probe_row.prog[]: read by session.c, exported by metrics.c. */
struct fl_prog_stat {
	char name[64];
	uint64_t run_cnt;
	uint64_t run_time_ns;
};

#endif
