/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Kernel symbols from /proc/kallsyms, modules included. */
#ifndef FL_KSYMS_H
#define FL_KSYMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ksym {
	uint64_t addr;
	uint64_t end;		/* first address past it; 0: not known */
	const char *name;
	const char *module;	/* NULL for vmlinux */
	char type;
};

struct ksyms;

/* path NULL = /proc/kallsyms, with /proc/modules for the modules' ends.
 * NULL on error (errno set). */
struct ksyms *ksyms__load(const char *path);
/* kallsyms and a /proc/modules text (NULL: no module ends). */
struct ksyms *ksyms__load_with(const char *path, const char *modules);
/* Read path again (NULL: /proc/kallsyms, /proc/modules) into ks, for the
 * BPF programs and trampolines loaded since: the kernel lists them only
 * once they exist.  On error ks is unchanged. */
int ksyms__reload(struct ksyms *ks, const char *path);
void ksyms__free(struct ksyms *ks);
/* Addresses are all zero when the kernel hides them from this reader. */
bool ksyms__hidden(const struct ksyms *ks);
/*
 * Why the kernel hides them, and what shows them, from kernel.kptr_restrict,
 * kernel.perf_event_paranoid (-1: unknown) and whether the reader has
 * CAP_SYSLOG: one phrase into buf.
 */
const char *ksyms__hidden_why(int kptr_restrict, int perf_paranoid, bool cap_syslog,
			      char *buf, size_t len);
size_t ksyms__count(const struct ksyms *ks);
/*
 * The text symbol addr lies inside, NULL if none: [addr, end) where end
 * is the next symbol's address (any type: a data symbol ends the text
 * before it), bounded by the module's end; a module's last symbol without
 * a known end names nothing.  Of several at one address, a global text
 * symbol, then the first name in byte order.
 */
const struct ksym *ksyms__map_addr(const struct ksyms *ks, uint64_t addr);
/* The code of a BPF program, trampoline or dispatcher (the kernel lists
 * them as module "bpf": bpf_prog_<tag>_<name> since 4.18, and
 * bpf_trampoline_<key> since 5.7). */
bool ksyms__is_bpf(const struct ksym *k);
/* Exact name lookup (first match). */
const struct ksym *ksyms__get(const struct ksyms *ks, const char *name);
/*
 * Name as kprobes can attach it: the exact symbol, else a compiler clone
 * "name.isra.N", "name.constprop.N", "name.part.N", "name.cold" excluded
 * (GCC clones keep the source name as prefix; 5.10's copy_to_sk and
 * btrfs_buffered_write exist only as .isra.0).
 */
const struct ksym *ksyms__find_attachable(const struct ksyms *ks,
					  const char *name);
/* [start, end) of text symbol name (see ksyms__map_addr); -ENOENT if it
 * is absent, hidden or its end is unknown. */
int ksyms__range(const struct ksyms *ks, const char *name, uint64_t *start, uint64_t *end);
/* Strip a clone suffix: "copy_to_sk.isra.0" -> "copy_to_sk" into buf. */
const char *ksyms__base_name(const char *name, char *buf, size_t len);

#endif
