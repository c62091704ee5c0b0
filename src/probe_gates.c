// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel's capability gates: before the final object loads (and
 * verifies, 20-60 ms a program pair under TCG), a program of two or three
 * instructions, or a perf kprobe event without a program, asks the kernel
 * what it would refuse for one target or for all of them: fentry at all,
 * a `const void *` argument, a notrace function's trampoline or kprobe.
 * Each gate names the kernel change it tests for.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "kbtf.h"
#include "probe_stages.h"
#include "util.h"

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
 * (EPERM, by policy: this project's CI host, 6.18), or no BPF trampoline
 * (ENOTSUPP): x86-64 has one since 5.5 (fec56f5890d9), arm64's fentry
 * needs ftrace direct calls, 6.4 (2aa6ac03516d; Debian's arm64 6.1
 * refuses with -524).  A
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
			fl_probe_drop_try(p, k--, err, true);
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
				fl_probe_drop_try(p, k--, err, true);
		}
	}
}

/*
 * Would a kprobe on sym register?  A perf kprobe event without a program
 * is what the attach creates (libbpf, the kprobe PMU of 4.17,
 * e12f03d7031a): a register and an unregister, no verification.
 * trace_kprobe refuses a function with no ftrace site, "Could not probe
 * notrace function" (45408c4f9250), unless the kernel has
 * CONFIG_KPROBE_EVENTS_ON_NOTRACE.  1: cannot tell (no kprobe PMU).
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
		fl_probe_drop_try(p, k--, err, false);
	}
}

void fl_probes_check_kprobes(struct fl_probe_set *set)
{
	int i;

	for (i = 0; i < set->n; i++)
		if (fl_probe_needs_load(&set->probes[i]))
			check_kprobes_of(&set->probes[i]);
}

/*
 * The functions the table marks notrace_hint (fault_in_iov_iter_*, the
 * atomic iterator copies, copy_to_user_nofault) refuse fexit and kprobe
 * on every Debian kernel from 5.10 to 7.3 (tests/vm/expect; on 7.3 they
 * are missing from available_filter_functions, which takes 240-390 ms to
 * read under TCG), so their fexit program is verified (20-48 ms under
 * TCG) and then refused at attach: the trampoline is installed at the
 * function's ftrace site (fec56f5890d9), which a notrace function does
 * not have; and so is their kprobe (kprobe_registers).  A two-instruction fexit program,
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
			fl_probe_drop_try(p, k--, err, false);
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


void fl_probes_gate(struct fl_probe_set *set, const struct fl_kbtf *kb)
{
	gate_fentry(set, kb);
	gate_const_void(set, kb);
	gate_notrace(set, kb);
}
