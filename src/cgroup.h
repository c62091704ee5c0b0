/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* cgroup v2 ids (what bpf_get_current_cgroup_id() returns) to paths. */
#ifndef FL_CGROUP_H
#define FL_CGROUP_H

#include <stddef.h>
#include <stdint.h>

/* Mount point of the cgroup2 hierarchy (e.g. /sys/fs/cgroup or
 * /sys/fs/cgroup/unified on hybrid hosts), NULL if none. */
const char *cgroup2_mount(void);
/*
 * Path of cgroup id relative to the cgroup2 mount ("/" for the root,
 * "/system.slice/x.service"), copied to buf; the tree is rescanned on a
 * miss at most once per second.  Returns NULL if unknown.
 */
const char *cgroup_path(uint64_t id, char *buf, size_t len);
/* Open a cgroup directory given as an absolute path or relative to the
 * cgroup2 mount; returns an O_RDONLY directory fd or -errno. */
int cgroup_open(const char *path, char *resolved, size_t len);
void cgroup_cache_free(void);

#endif
