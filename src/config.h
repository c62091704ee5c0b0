/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The command line, parsed once into an immutable configuration. */
#ifndef FL_CONFIG_H
#define FL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include "listen.h"
#include "probes.h"

/* Exit statuses (README, "Flags"): one per kind of failure. */
#define FL_EXIT_OK	0
#define FL_EXIT_FAILURE	1	/* at run time: privileges, kernel, port */
#define FL_EXIT_USAGE	2	/* a flag, a value or an argument */

/* --pid: the kernel's PID_MAX_LIMIT on 64-bit; a host's kernel.pid_max
 * is at most this */
#define FL_PID_MAX_LIMIT	4194304
/* --max-tasks: bounded by the kernel memory of two preallocated hashes */
#define FL_MAX_TASKS_LIMIT	65536

struct fl_config {
	uint32_t pid;			/* -p: tgid, 0 all */
	const char *cgroup;		/* --cgroup, NULL all */
	uint32_t threshold;
	uint64_t min_duration_ns;
	uint64_t gap_ns;
	uint64_t interval_ns;		/* ONGOING rate limit */
	uint64_t duration_ns;		/* 0: until a signal */
	uint64_t stall_ns;		/* --stall: the sampler's loop length, 0 off */
	uint32_t max_tasks;
	enum fl_mode_sel mode;
	bool probes;			/* --probes: report and exit */
	bool json;
	int verbose;
	struct fl_listen metrics;	/* --metrics, parsed; family 0: off */
	bool bpf_stats;
};

/* Parse argv into *cfg.  Usage errors print one line and exit with
 * FL_EXIT_USAGE; --help and --version exit 0. */
void fl_config_parse(struct fl_config *cfg, int argc, char **argv);
const char *fl_config_version(void);

#endif
