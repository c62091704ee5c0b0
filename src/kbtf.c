// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/btf.h>
#include "kbtf.h"
#include "ksyms.h"

int fl_kbtf_open(struct fl_kbtf *kb)
{
	memset(kb, 0, sizeof(*kb));
	kb->vmlinux = btf__load_vmlinux_btf();
	return kb->vmlinux ? 0 : -errno;
}

/* The BTF of module mod, loaded the first time a candidate lives there:
 * loading every module's BTF up front cost a start-up's worth of time
 * and, capped, could miss btrfs or fuse. */
static struct btf *kbtf_module(struct fl_kbtf *kb, const char *mod)
{
	void *grown;
	int i;

	for (i = 0; i < kb->nmods; i++)
		if (!strcmp(kb->mods[i].name, mod))
			return kb->mods[i].btf;
	grown = realloc(kb->mods, (kb->nmods + 1) * sizeof(*kb->mods));
	if (!grown)
		return NULL;
	kb->mods = grown;
	snprintf(kb->mods[kb->nmods].name, sizeof(kb->mods[0].name), "%s", mod);
	kb->mods[kb->nmods].btf = btf__load_module_btf(mod, kb->vmlinux);
	return kb->mods[kb->nmods++].btf;
}

static int btf_func_nargs(const struct btf *btf, const char *name)
{
	const struct btf_type *t, *proto;
	int id = btf ? btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) : -ENOENT;

	if (id <= 0)
		return -ENOENT;
	t = btf__type_by_id(btf, id);
	proto = t ? btf__type_by_id(btf, t->type) : NULL;
	return proto ? (int)btf_vlen(proto) : -ENOENT;
}

/* Arity of a kernel function from BTF, vmlinux's or its module's (as
 * kallsyms names it): -ENOENT when it has no BTF FUNC. */
int fl_kbtf_func_nargs(struct fl_kbtf *kb, const struct ksym *k, const char *name)
{
	int n = btf_func_nargs(kb->vmlinux, name);

	if (n >= 0 || !k || !k->module || !kb->vmlinux)
		return n;
	return btf_func_nargs(kbtf_module(kb, k->module), name);
}

/* tp_btf needs the tracepoint's btf_trace_<event> typedef (what libbpf
 * looks up at load). */
bool fl_kbtf_has_tp(struct fl_kbtf *kb, const char *event)
{
	char name[128];

	snprintf(name, sizeof(name), "btf_trace_%s", event);
	return kb->vmlinux && btf__find_by_name_kind(kb->vmlinux, name, BTF_KIND_TYPEDEF) > 0;
}

bool fl_kbtf_has_helper(struct fl_kbtf *kb, const char *helper)
{
	const struct btf_type *t;
	char name[64];
	int id, i;

	if (!kb->vmlinux)
		return false;
	id = btf__find_by_name_kind(kb->vmlinux, "bpf_func_id", BTF_KIND_ENUM);
	if (id <= 0)
		return false;
	snprintf(name, sizeof(name), "BPF_FUNC_%s", helper);
	t = btf__type_by_id(kb->vmlinux, id);
	for (i = 0; i < btf_vlen(t); i++)
		if (!strcmp(btf__name_by_offset(kb->vmlinux, btf_enum(t)[i].name_off), name))
			return true;
	return false;
}

void fl_kbtf_free(struct fl_kbtf *kb)
{
	int i;

	for (i = 0; i < kb->nmods; i++)
		btf__free(kb->mods[i].btf);
	free(kb->mods);
	btf__free(kb->vmlinux);
}
