// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <bpf/libbpf.h>
#include "probe_stages.h"

/* The stall sampler: a software cpu-clock event on each CPU, hz times a
 * second.  CPUs that are offline are skipped; one is enough. */
int fl_attach_perf(struct bpf_program *prog, unsigned int hz,
		       struct bpf_link ***out, int *nout)
{
	int ncpu = libbpf_num_possible_cpus(), cpu, n = 0, err = -ENODEV;
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_period = hz ? 1000000000ULL / hz : 0,
	};
	struct bpf_link **links;

	if (ncpu <= 0 || !hz)
		return -EINVAL;
	links = calloc(ncpu, sizeof(*links));
	if (!links)
		return -ENOMEM;
	for (cpu = 0; cpu < ncpu; cpu++) {
		int fd = syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);

		if (fd < 0) {
			err = -errno;
			continue;
		}
		links[n] = bpf_program__attach_perf_event(prog, fd);
		if (!links[n]) {
			err = -errno;
			close(fd);
			continue;
		}
		n++;
	}
	if (!n) {
		free(links);
		return err;
	}
	*out = links;
	*nout = n;
	return 0;
}
