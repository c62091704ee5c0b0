// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int ksym_cmp(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return 0;
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
	char line[512], *name, *mod, type;
	unsigned long long addr;
	struct ksyms *ks;
	size_t i, nonzero = 0;
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
	return ks;
err:
	if (f)
		fclose(f);
	ksyms__free(ks);
	errno = ENOMEM;
	return NULL;
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

static bool is_text(char t)
{
	return t == 't' || t == 'T' || t == 'w' || t == 'W';
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
	/* several symbols can share an address; prefer a text one */
	while (lo > 0 && !is_text(ks->syms[lo].type) &&
	       ks->syms[lo - 1].addr == ks->syms[lo].addr)
		lo--;
	return &ks->syms[lo];
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
	size_t i;

	if (!k || !k->addr || !is_text(k->type))
		return -ENOENT;
	/* sorted by address: the end is the next symbol at a higher address */
	for (i = k - ks->syms + 1; i < ks->n; i++) {
		if (ks->syms[i].addr > k->addr) {
			*start = k->addr;
			*end = ks->syms[i].addr;
			return 0;
		}
	}
	return -ENOENT;
}
