/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the kernel's BTF says about a probe's target: a function's arity
 * (vmlinux's BTF, or its module's, loaded when first needed), whether a
 * tracepoint has its btf_trace_ typedef, whether a BPF helper exists. */
#ifndef FL_KBTF_H
#define FL_KBTF_H

#include <stdbool.h>

struct btf;
struct ksym;

struct fl_kbtf {
	struct btf *vmlinux;	/* NULL: no BTF, every answer "no" */
	struct { char name[64]; struct btf *btf; } *mods;
	int nmods;
};

int fl_kbtf_open(struct fl_kbtf *kb);
/* Arguments of function name, -ENOENT when BTF has no FUNC for it;
 * k: its kallsyms entry (names its module), or NULL. */
int fl_kbtf_func_nargs(struct fl_kbtf *kb, const struct ksym *k, const char *name);
bool fl_kbtf_has_tp(struct fl_kbtf *kb, const char *event);
/* The kernel has BPF helper bpf_<helper> (BPF_FUNC_<helper> in its BTF's
 * enum bpf_func_id, the value the CO-RE enum checks in bpf/ read). */
bool fl_kbtf_has_helper(struct fl_kbtf *kb, const char *helper);
void fl_kbtf_free(struct fl_kbtf *kb);

#endif
