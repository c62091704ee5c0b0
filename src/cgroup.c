// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>
#include "cgroup.h"
#include "util.h"

static char mnt[PATH_MAX];
static int mnt_state;	/* 0 unknown, 1 found, -1 none */

const char *cgroup2_mount(void)
{
	char line[4096], path[PATH_MAX], fstype[64];
	FILE *f;

	if (mnt_state)
		return mnt_state > 0 ? mnt : NULL;
	mnt_state = -1;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint opts... - fstype src opts */
		char *sep = strstr(line, " - ");

		if (!sep || sscanf(sep + 3, "%63s", fstype) != 1)
			continue;
		if (strcmp(fstype, "cgroup2"))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", path) == 1) {
			snprintf(mnt, sizeof(mnt), "%s", path);
			mnt_state = 1;
			break;
		}
	}
	fclose(f);
	return mnt_state > 0 ? mnt : NULL;
}

struct cg_entry {
	uint64_t id;
	char *path;
};

static struct cg_entry *cache;
static size_t cache_n, cache_cap;
static uint64_t last_scan_ns;

static int scan_cb(const char *fpath, const struct stat *sb, int type,
		   struct FTW *ftw)
{
	const char *rel;
	struct cg_entry *e;

	(void)ftw;
	if (type != FTW_D)
		return 0;
	if (cache_n == cache_cap) {
		size_t cap = cache_cap ? cache_cap * 2 : 256;
		struct cg_entry *p = realloc(cache, cap * sizeof(*p));

		if (!p)
			return -1;
		cache = p;
		cache_cap = cap;
	}
	rel = fpath + strlen(mnt);
	e = &cache[cache_n];
	/* a cgroup2 directory's inode number is its cgroup id */
	e->id = sb->st_ino;
	e->path = strdup(*rel ? rel : "/");
	if (!e->path)
		return -1;
	cache_n++;
	return 0;
}

void cgroup_cache_free(void)
{
	size_t i;

	for (i = 0; i < cache_n; i++)
		free(cache[i].path);
	free(cache);
	cache = NULL;
	cache_n = cache_cap = 0;
}

const char *cgroup_path(uint64_t id, char *buf, size_t len)
{
	size_t i;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < cache_n; i++) {
			if (cache[i].id == id) {
				snprintf(buf, len, "%s", cache[i].path);
				return buf;
			}
		}
		/* rescan at most once a second: a storm of reports from
		 * unknown cgroups must not turn into a storm of tree walks */
		if (pass || !cgroup2_mount() || now_mono_ns() - last_scan_ns < 1000000000ULL)
			break;
		last_scan_ns = now_mono_ns();
		cgroup_cache_free();
		nftw(mnt, scan_cb, 16, FTW_PHYS | FTW_MOUNT);
	}
	return NULL;
}

int cgroup_open(const char *path, char *resolved, size_t len)
{
	char buf[PATH_MAX];
	struct statfs st;
	int fd;

	/* an absolute path on a cgroup2 filesystem as it is; any other
	 * (even one that exists, like "/") is under the cgroup2 mount */
	if (path[0] == '/' && statfs(path, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC) {
		snprintf(buf, sizeof(buf), "%s", path);
	} else {
		if (!cgroup2_mount())
			return -ENOENT;
		if ((size_t)snprintf(buf, sizeof(buf), "%s/%s", mnt,
				     path[0] == '/' ? path + 1 : path) >= sizeof(buf))
			return -ENAMETOOLONG;
	}
	fd = open(buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (resolved && len)
		memcpy(resolved, buf, len < sizeof(buf) ? len - 1 : sizeof(buf) - 1),
		resolved[(len < sizeof(buf) ? len : sizeof(buf)) - 1] = 0;
	return fd;
}
