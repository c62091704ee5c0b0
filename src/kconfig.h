/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The running kernel's build configuration, for the facts no interface
 * states (CONFIG_HZ, THREAD_SIZE): /boot/config-$(uname -r),
 * /usr/lib/modules/$(uname -r)/config (Debian 7.x), then /proc/config.gz
 * (CONFIG_IKCONFIG_PROC).
 */
#ifndef FL_KCONFIG_H
#define FL_KCONFIG_H

#include <stddef.h>
#include <stdint.h>

/*
 * CONFIG_<name>'s value ("y", "250") into val.  1: set; 0: the config was
 * read and does not set it; -ENOENT: no config to read.  *source (if not
 * NULL) names the file read.
 */
int fl_kconfig_get(const char *name, char *val, size_t len, const char **source);
/* "CONFIG_HZ=250" with name "HZ": the value's start, else NULL. */
const char *fl_kconfig_line(const char *line, const char *name);

/*
 * THREAD_SIZE, the size of a task's kernel stack, for arch "x86_64" or
 * "arm64": x86_64 PAGE_SIZE << (2 + KASAN) (page_64_types.h); arm64
 * 1 << max(14 + KASAN generic/sw-tags, PAGE_SHIFT with VMAP_STACK)
 * (asm/memory.h).  0 for any other arch.
 */
uint64_t fl_thread_size(const char *arch, unsigned int page_shift, int kasan,
			int kasan_hw_tags, int vmap_stack);
/* This kernel's, from its config and page size; without a config, no
 * KASAN and (arm64) VMAP_STACK, as Debian builds them. */
uint64_t fl_kernel_thread_size(void);

#endif
