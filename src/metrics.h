/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Prometheus exposition of what faultloop knows: a snapshot the caller
 * fills (immutable while rendered), rendered in text format 0.0.4 or
 * OpenMetrics 1.0.  The loop series are counted by the report consumer
 * and read by the HTTP thread, under their lock.
 */
#ifndef FL_METRICS_H
#define FL_METRICS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "faultloop.h"
#include "probes.h"
#include "stuck.h"

#define FL_METRICS_DEFAULT_PORT	19477
#define FL_METRICS_MAX_COMMS	16	/* distinct comm label values, then "other" */
#define FL_METRICS_MAX_LOOPS	256	/* distinct (signal, owner, bug, comm) series */
#define FL_METRICS_MAX_BUGS	16	/* >= fl_nr_known_bugs (tests/unit/test_metrics.c) */

struct fl_known_bug;

struct fl_loop_series {
	uint8_t sig;
	uint8_t owner;		/* owner signal or 0 */
	const char *bug;	/* known bug id (static) or NULL */
	char comm[FL_COMM_LEN + 1];
	uint64_t count;
};

/* Counters kept by user space, shared with the HTTP thread. */
struct fl_user_stats {
	pthread_mutex_t lock;
	struct fl_loop_series loops[FL_METRICS_MAX_LOOPS];
	int nloops;
	char comms[FL_METRICS_MAX_COMMS][FL_COMM_LEN + 1];
	int ncomms;
	uint64_t loops_overflow;	/* series table full: counted under "other" */
	/* every loop by known bug: [0] none, [1 + i] fl_known_bugs[i]; a
	 * bounded label set, so each series is exported from the start at 0
	 * and increase() sees the first loop (a series born at 1 has no
	 * earlier sample to increase from) */
	uint64_t bug_loops[1 + FL_METRICS_MAX_BUGS];
	double start_time;		/* unix seconds: when the counters began */
	uint64_t scrapes;
	uint64_t scrape_errors;
};

struct fl_metrics_snapshot {
	struct fl_stats bpf;			/* summed over CPUs */
	struct fl_probe_row *probes;		/* copies (fl_probes_rows) */
	int nprobes;
	uint64_t loops_active;			/* episodes over threshold now */
	struct fl_prog_stat *progs;		/* NULL unless --bpf-stats */
	int nprogs;
	bool bpf_stats;
	bool symbols;				/* kernel addresses readable */
	const char *version;
	struct fl_stuck_task stuck[FL_STUCK_MAX];	/* spinning in the kernel */
	int nstuck;
};

void fl_user_stats_init(struct fl_user_stats *u);
/* A DETECTED report: one more loop under (signal, owner, bug, comm);
 * bug: an entry of fl_known_bugs[] or NULL. */
void fl_user_stats_loop(struct fl_user_stats *u, unsigned int sig,
			unsigned int owner, const struct fl_known_bug *bug,
			const char *comm, size_t comm_len);
void fl_user_stats_scrape(struct fl_user_stats *u, bool ok);

/* Prometheus label value escaping: \\ \" \n. */
void fl_metrics_escape(FILE *out, const char *s, size_t len);
/* Render everything; openmetrics selects OpenMetrics 1.0 (ends "# EOF"). */
void fl_metrics_render(FILE *out, bool openmetrics,
		       const struct fl_metrics_snapshot *snap,
		       struct fl_user_stats *u);

#endif
