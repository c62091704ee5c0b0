// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgroup paths (src/cgroup.c): --cgroup's value, absolute or relative to
 * the cgroup2 mount, resolved into a caller's buffer of any size; and ids
 * from reports (any value the kernel hands over) mapped back to paths.
 * Read-only: stat() and open(O_DIRECTORY) of whatever the path names.
 */
#include <unistd.h>
#include "cgroup.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	char resolved[300], path[4096];
	uint8_t len = fz_u8(&f);
	uint64_t id = fz_u64(&f);
	char *arg = fz_token(&f);
	int fd;

	memset(resolved, 'x', sizeof(resolved));
	fd = cgroup_open(arg, len ? resolved : NULL, len);
	if (fd >= 0) {
		if (len)
			FZ_ASSERT(memchr(resolved, 0, len) != NULL);
		close(fd);
	}
	if (cgroup_path(id, path, 1 + id % sizeof(path)))
		FZ_ASSERT(memchr(path, 0, sizeof(path)) != NULL);
	free(arg);
	return 0;
}
