// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zlib.h>
#include "kconfig.h"

const char *fl_kconfig_line(const char *line, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(line, "CONFIG_", 7) || strncmp(line + 7, name, n) || line[7 + n] != '=')
		return NULL;
	return line + 8 + n;
}

/* gzopen() reads plain files as they are */
static int kconfig_file(const char *path, const char *name, char *val, size_t len)
{
	char line[512];
	const char *v;
	gzFile f = gzopen(path, "rb");
	int found = 0;

	if (!f)
		return -ENOENT;
	while (!found && gzgets(f, line, sizeof(line))) {
		v = fl_kconfig_line(line, name);
		if (!v)
			continue;
		snprintf(val, len, "%.*s", (int)strcspn(v, "\n"), v);
		found = 1;
	}
	gzclose(f);
	return found;
}

int fl_kconfig_get(const char *name, char *val, size_t len, const char **source)
{
	/* Debian up to 6.x installs /boot/config-KVER; from 7.x (the split
	 * linux-base-KVER package) only /usr/lib/modules/KVER/config, and
	 * without CONFIG_IKCONFIG there is no /proc/config.gz either */
	static const char *const where[] = {
		"/boot/config-%s", "/usr/lib/modules/%s/config", "/lib/modules/%s/config",
	};
	static char path[300];
	struct utsname u;
	size_t i;
	int ret;

	for (i = 0; !uname(&u) && i < sizeof(where) / sizeof(where[0]); i++) {
		snprintf(path, sizeof(path), where[i], u.release);
		ret = kconfig_file(path, name, val, len);
		if (ret >= 0) {
			if (source)
				*source = path;
			return ret;
		}
	}
	ret = kconfig_file("/proc/config.gz", name, val, len);
	if (ret >= 0 && source)
		*source = "/proc/config.gz";
	return ret;
}

uint64_t fl_thread_size(const char *arch, unsigned int page_shift, int kasan,
			int kasan_hw_tags, int vmap_stack)
{
	unsigned int shift;

	if (!strcmp(arch, "x86_64"))
		return (1ULL << page_shift) << (2 + !!kasan);
	if (strcmp(arch, "arm64"))
		return 0;
	/* KASAN_THREAD_SHIFT is 1 for generic and software-tag KASAN only */
	shift = 14 + (kasan && !kasan_hw_tags);
	if (vmap_stack && shift < page_shift)
		shift = page_shift;
	return 1ULL << shift;
}

static int kconfig_y(const char *name, int dflt)
{
	char v[8];
	int ret = fl_kconfig_get(name, v, sizeof(v), NULL);

	return ret < 0 ? dflt : ret == 1 && !strcmp(v, "y");
}

uint64_t fl_kernel_thread_size(void)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned int shift = 0;

	while (page > 1 && shift < 30) {
		page >>= 1;
		shift++;
	}
#if defined(__x86_64__)
	return fl_thread_size("x86_64", shift, kconfig_y("KASAN", 0), 0, 1);
#elif defined(__aarch64__)
	return fl_thread_size("arm64", shift, kconfig_y("KASAN", 0),
			      kconfig_y("KASAN_HW_TAGS", 0), kconfig_y("VMAP_STACK", 1));
#else
	return 0;
#endif
}
