// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ksyms.h"

struct ksyms {
	struct ksym *syms;
	size_t n, cap;
	char *strs;
	size_t strs_len, strs_cap;
	bool hidden;
	/* by name: chains of indexes into syms, hashed on the name up to its
	 * first '.', so that a clone ("x.isra.0") chains with "x" */
	uint32_t *bucket, *next;
	size_t nbuckets;
};

#define NO_SYM UINT32_MAX

static size_t name_hash(const char *s, size_t nbuckets)
{
	uint32_t h = 2166136261u;

	for (; *s && *s != '.'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h & (nbuckets - 1);
}

static int index_names(struct ksyms *ks)
{
	size_t i, b;

	for (ks->nbuckets = 1024; ks->nbuckets < ks->n; ks->nbuckets *= 2)
		;
	ks->bucket = malloc(ks->nbuckets * sizeof(*ks->bucket));
	ks->next = malloc((ks->n ? ks->n : 1) * sizeof(*ks->next));
	if (!ks->bucket || !ks->next)
		return -ENOMEM;
	memset(ks->bucket, 0xff, ks->nbuckets * sizeof(*ks->bucket));
	for (i = ks->n; i-- > 0;) {	/* chains in address order */
		b = name_hash(ks->syms[i].name, ks->nbuckets);
		ks->next[i] = ks->bucket[b];
		ks->bucket[b] = i;
	}
	return 0;
}

/* "ffffffff81000000 T name [module]": 0, or -1 for anything else */
static int parse_line(char *line, unsigned long long *addr, char *type, char **name,
		      char **mod)
{
	char *p, *end;

	*addr = strtoull(line, &p, 16);
	if (p == line || *p != ' ' || !p[1] || p[2] != ' ')
		return -1;
	*type = p[1];
	*name = p + 3;
	end = *name + strcspn(*name, " \t\n");
	if (end == *name)
		return -1;
	*mod = NULL;
	if (*end == '\t' || *end == ' ') {
		p = strchr(end + 1, '[');
		if (p) {
			*mod = p + 1;
			p[1 + strcspn(p + 1, "]\n")] = 0;
		}
	}
	*end = 0;
	return 0;
}

static bool is_text(char t)
{
	return t == 't' || t == 'T' || t == 'w' || t == 'W';
}

/* Which of several symbols at one address names it: a global text symbol,
 * a weak one, a local one, then data (libbpf-tools breaks ties too). */
static int type_rank(char t)
{
	return t == 'T' ? 0 : t == 'W' ? 1 : t == 't' ? 2 : t == 'w' ? 3 : 4;
}

/* By address; at one address by type_rank, name, then module (vmlinux
 * first): a total order, so qsort's choice among aliases is specified. */
static int ksym_cmp(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;
	int c;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (type_rank(x->type) != type_rank(y->type))
		return type_rank(x->type) - type_rank(y->type);
	c = strcmp(x->name, y->name);
	if (c || x->module == y->module)
		return c;
	if (!x->module || !y->module)
		return x->module ? 1 : -1;
	return strcmp(x->module, y->module);
}

static bool same_module(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* A module's [start, end) from /proc/modules ("name size refs deps state
 * 0xaddr"): before 6.4 one allocation holds its text and data; from 6.4
 * the address is its text's and the size all of its memory's, so end
 * stays an upper bound of its text. */
struct mod_span {
	char name[64];
	uint64_t start, end;
};

static size_t read_modules(const char *path, struct mod_span **out)
{
	unsigned long long size, addr;
	struct mod_span *m = NULL, *p;
	size_t n = 0, cap = 0;
	char line[512];
	FILE *f;

	*out = NULL;
	f = path ? fopen(path, "re") : NULL;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char name[64];

		if (sscanf(line, "%63s %llu %*s %*s %*s %llx", name, &size, &addr) != 3 || !addr)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			p = realloc(m, cap * sizeof(*m));
			if (!p)
				break;
			m = p;
		}
		snprintf(m[n].name, sizeof(m[n].name), "%s", name);
		m[n].start = addr;
		m[n].end = addr + size;
		n++;
	}
	fclose(f);
	*out = m;
	return n;
}

/* The span of a real module's memory holding addr, NULL if not known. */
static const struct mod_span *module_span(const struct mod_span *m, size_t n,
					  const char *mod, uint64_t addr)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(m[i].name, mod) && addr >= m[i].start && addr < m[i].end)
			return &m[i];
	return NULL;
}

/*
 * Pseudo-modules: every symbol is an allocation of its own.  ftrace
 * trampolines, kprobe instruction slots and BPF trampolines and
 * dispatchers take at most a page (arch_alloc_bpf_trampoline() refuses
 * more); a BPF program is as long as its JIT image, which kallsyms does
 * not say: only the next program (a bpf_prog_pack, 5.18+) bounds it.
 */
static bool pseudo_module(const char *mod)
{
	return mod && (!strcmp(mod, "bpf") || !strncmp(mod, "__builtin__", 11));
}

static uint64_t page_end(uint64_t addr)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	return (addr | (page - 1)) + 1;
}

/*
 * Where each symbol ends (issue 19: BPF code after a module was named
 * "__this_module+0x4036 [virtio_pci_modern_dev]"): at the next symbol at
 * a higher address of any type if that one is of the same module (or
 * vmlinux), and never past the module's end; a module's last symbol ends
 * at the module's end if /proc/modules gave it, vmlinux's is unknown.
 */
static void set_ends(struct ksyms *ks, const struct mod_span *mods, size_t nmods)
{
	const struct mod_span *span = NULL;
	size_t i, next = ks->n;

	for (i = ks->n; i-- > 0;) {
		struct ksym *k = &ks->syms[i];
		const struct ksym *nx;

		if (i + 1 < ks->n && ks->syms[i + 1].addr > k->addr)
			next = i + 1;
		nx = next < ks->n ? &ks->syms[next] : NULL;
		k->end = 0;
		if (!k->addr)
			continue;
		if (nx && same_module(nx->module, k->module))
			k->end = nx->addr;
		if (!k->module)
			continue;
		if (!span || strcmp(span->name, k->module) || k->addr < span->start ||
		    k->addr >= span->end)
			span = pseudo_module(k->module) ? NULL :
			       module_span(mods, nmods, k->module, k->addr);
		if (span && (!k->end || k->end > span->end))
			k->end = span->end;
		if (pseudo_module(k->module) && strncmp(k->name, "bpf_prog_", 9) &&
		    (!k->end || k->end > page_end(k->addr)))
			k->end = page_end(k->addr);
	}
}

/* Strings are stored as offsets until the buffer stops moving. */
static long str_add(struct ksyms *ks, const char *s)
{
	size_t len = strlen(s) + 1;
	long off;

	if (ks->strs_len + len > ks->strs_cap) {
		size_t cap = ks->strs_cap ? ks->strs_cap * 2 : 1 << 20;
		char *p;

		while (cap < ks->strs_len + len)
			cap *= 2;
		p = realloc(ks->strs, cap);
		if (!p)
			return -1;
		ks->strs = p;
		ks->strs_cap = cap;
	}
	off = ks->strs_len;
	memcpy(ks->strs + off, s, len);
	ks->strs_len += len;
	return off;
}

struct ksyms *ksyms__load(const char *path)
{
	return ksyms__load_with(path, path ? NULL : "/proc/modules");
}

struct ksyms *ksyms__load_with(const char *path, const char *modules)
{
	struct mod_span *mods = NULL;
	char line[512], *name, *mod, type;
	unsigned long long addr;
	struct ksyms *ks;
	size_t i, nmods, nonzero = 0;
	FILE *f;

	f = fopen(path ? path : "/proc/kallsyms", "re");
	if (!f)
		return NULL;
	ks = calloc(1, sizeof(*ks));
	if (!ks)
		goto err;
	while (fgets(line, sizeof(line), f)) {
		long noff, moff = -1;

		if (parse_line(line, &addr, &type, &name, &mod))
			continue;
		if (ks->n == ks->cap) {
			size_t cap = ks->cap ? ks->cap * 2 : 65536;
			struct ksym *p = realloc(ks->syms, cap * sizeof(*p));

			if (!p)
				goto err;
			ks->syms = p;
			ks->cap = cap;
		}
		noff = str_add(ks, name);
		if (noff < 0)
			goto err;
		if (mod && *mod) {
			moff = str_add(ks, mod);
			if (moff < 0)
				goto err;
		}
		ks->syms[ks->n].addr = addr;
		ks->syms[ks->n].type = type;
		ks->syms[ks->n].name = (const char *)(intptr_t)noff;
		ks->syms[ks->n].module = (const char *)(intptr_t)moff;
		ks->n++;
		if (addr)
			nonzero++;
	}
	fclose(f);
	f = NULL;
	for (i = 0; i < ks->n; i++) {
		intptr_t moff = (intptr_t)ks->syms[i].module;

		ks->syms[i].name = ks->strs + (intptr_t)ks->syms[i].name;
		ks->syms[i].module = moff < 0 ? NULL : ks->strs + moff;
	}
	ks->hidden = ks->n > 0 && nonzero == 0;
	if (ks->n)	/* syms is NULL without any: qsort's first argument is nonnull */
		qsort(ks->syms, ks->n, sizeof(*ks->syms), ksym_cmp);
	if (index_names(ks))
		goto err;
	/* two statements: an argument list has no order of evaluation, and
	 * arm64's gcc read mods (NULL) before read_modules() set it */
	nmods = read_modules(modules, &mods);
	set_ends(ks, mods, nmods);
	free(mods);
	return ks;
err:
	if (f)
		fclose(f);
	ksyms__free(ks);
	errno = ENOMEM;
	return NULL;
}

int ksyms__reload(struct ksyms *ks, const char *path)
{
	struct ksyms *fresh = ksyms__load(path), old;

	if (!fresh)
		return -errno;
	if (fresh->hidden && !ks->hidden) {	/* CAP_SYSLOG dropped since */
		ksyms__free(fresh);
		return -EPERM;
	}
	old = *ks;
	*ks = *fresh;
	*fresh = old;
	ksyms__free(fresh);
	return 0;
}

void ksyms__free(struct ksyms *ks)
{
	if (!ks)
		return;
	free(ks->syms);
	free(ks->strs);
	free(ks->bucket);
	free(ks->next);
	free(ks);
}

bool ksyms__hidden(const struct ksyms *ks)
{
	return ks->hidden;
}

/*
 * kallsyms_show_value() (kernel/kallsyms.c, later kernel/ksyms_common.c),
 * for the opener's credentials since 5.8 (160251842cd3): with
 * kptr_restrict 0 a reader sees addresses if perf_event_paranoid <= 1
 * (kallsyms_for_perf), else if it has CAP_SYSLOG; with 1 only with
 * CAP_SYSLOG; with 2 never.
 */
const char *ksyms__hidden_why(int kptr_restrict, int perf_paranoid, bool cap_syslog,
			      char *buf, size_t len)
{
	if (kptr_restrict >= 2)
		snprintf(buf, len, "kernel.kptr_restrict is %d, which hides them from everyone: "
			 "set it to 1 and grant CAP_SYSLOG", kptr_restrict);
	else if (cap_syslog)
		snprintf(buf, len, "kernel.kptr_restrict is %d and CAP_SYSLOG is held, yet they are "
			 "hidden: CAP_SYSLOG outside the initial user namespace, or a security module",
			 kptr_restrict);
	else if (kptr_restrict == 1)
		snprintf(buf, len, "kernel.kptr_restrict is 1 and no CAP_SYSLOG: grant CAP_SYSLOG");
	else
		snprintf(buf, len, "kernel.perf_event_paranoid is %d (above 1) and no CAP_SYSLOG: "
			 "grant CAP_SYSLOG, or set kernel.perf_event_paranoid=1", perf_paranoid);
	return buf;
}

size_t ksyms__count(const struct ksyms *ks)
{
	return ks->n;
}

const struct ksym *ksyms__map_addr(const struct ksyms *ks, uint64_t addr)
{
	size_t lo = 0, hi = ks->n;

	if (!ks->n || addr < ks->syms[0].addr)
		return NULL;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (ks->syms[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	/* of several at one address, ksym_cmp put the one that names it first */
	while (lo > 0 && ks->syms[lo - 1].addr == ks->syms[lo].addr)
		lo--;
	if (!is_text(ks->syms[lo].type) || addr >= ks->syms[lo].end)
		return NULL;
	return &ks->syms[lo];
}

bool ksyms__is_bpf(const struct ksym *k)
{
	return k->module && !strcmp(k->module, "bpf");
}

const struct ksym *ksyms__get(const struct ksyms *ks, const char *name)
{
	uint32_t i;

	if (!ks->nbuckets)
		return NULL;
	for (i = ks->bucket[name_hash(name, ks->nbuckets)]; i != NO_SYM; i = ks->next[i])
		if (is_text(ks->syms[i].type) && !strcmp(ks->syms[i].name, name))
			return &ks->syms[i];
	return NULL;
}

static bool clone_suffix(const char *s)
{
	static const char *const ok[] = { ".isra.", ".constprop.", ".part." };
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strncmp(s, ok[i], strlen(ok[i])))
			return true;
	return false;
}

const struct ksym *ksyms__find_attachable(const struct ksyms *ks,
					  const char *name)
{
	const struct ksym *exact = ksyms__get(ks, name);
	size_t len = strlen(name);
	uint32_t i;

	if (exact || !ks->nbuckets)
		return exact;
	for (i = ks->bucket[name_hash(name, ks->nbuckets)]; i != NO_SYM; i = ks->next[i]) {
		const char *s = ks->syms[i].name;

		if (is_text(ks->syms[i].type) && !strncmp(s, name, len) &&
		    s[len] == '.' && clone_suffix(s + len))
			return &ks->syms[i];
	}
	return NULL;
}

const char *ksyms__base_name(const char *name, char *buf, size_t len)
{
	const char *dot = strchr(name, '.');
	size_t n = dot ? (size_t)(dot - name) : strlen(name);

	if (n >= len)
		n = len - 1;
	memcpy(buf, name, n);
	buf[n] = 0;
	return buf;
}

int ksyms__range(const struct ksyms *ks, const char *name, uint64_t *start, uint64_t *end)
{
	const struct ksym *k = ksyms__get(ks, name);

	if (!k || !k->addr || !k->end)
		return -ENOENT;
	*start = k->addr;
	*end = k->end;
	return 0;
}
