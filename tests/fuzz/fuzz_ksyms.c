// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * /proc/kallsyms (src/ksyms.c): module symbols come from any loaded
 * module.  The input is the file (read through a memfd, as ksyms__load
 * reads a path); then every lookup report.c and probes.c make.  A named
 * frame lies inside its symbol, which is text: [addr, end).
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <unistd.h>
#include "fuzz.h"
#include "ksyms.h"

static const char *const names[] = {
	"generic_perform_write", "search_ioctl", "copy_to_sk", "btrfs_buffered_write",
	"fault_in_readable", "", ".", "a", "x.isra.0",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], buf[64];
	struct ksyms *ks;
	uint64_t start, end;
	size_t i, n;
	int fd;

	fd = memfd_create("kallsyms", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ks = ksyms__load(path);
	close(fd);
	if (!ks)
		return 0;
	n = ksyms__count(ks);
	(void)ksyms__hidden(ks);
	/* addresses near the input's own numbers, and the extremes */
	for (i = 0; i + 8 <= size && i < 64; i += 8) {
		uint64_t a;
		const struct ksym *k;

		memcpy(&a, data + i, 8);
		k = ksyms__map_addr(ks, a);
		FZ_ASSERT(!k || (k->addr <= a && a < k->end));
		if (k) {
			FZ_ASSERT(k->name != NULL);
			FZ_ASSERT(strchr("tTwW", k->type) && k->type);
			FZ_ASSERT(ksyms__map_addr(ks, k->addr) != NULL);
			(void)ksyms__is_bpf(k);
			ksyms__find_attachable(ks, k->name);
			if (!ksyms__range(ks, k->name, &start, &end))
				FZ_ASSERT(start < end && start == ksyms__get(ks, k->name)->addr);
			ksyms__base_name(k->name, buf, 1 + (a % sizeof(buf)));
			FZ_ASSERT(strlen(buf) < sizeof(buf));
		}
	}
	FZ_ASSERT(!ksyms__map_addr(ks, 0) || n);
	ksyms__map_addr(ks, UINT64_MAX);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct ksym *k = ksyms__find_attachable(ks, names[i]);

		FZ_ASSERT(!k || !strncmp(k->name, names[i], strlen(names[i])));
		if (!ksyms__range(ks, names[i], &start, &end))
			FZ_ASSERT(start < end);
		ksyms__base_name(names[i], buf, sizeof(buf));
	}
	ksyms__free(ks);
	return 0;
}
