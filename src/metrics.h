/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Prometheus exposition: the registry of what faultloop knows (a snapshot
 * the caller fills), its rendering in text format 0.0.4 or OpenMetrics
 * 1.0, and the HTTP endpoint (libmicrohttpd).
 */
#ifndef FL_METRICS_H
#define FL_METRICS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "faultloop.h"
#include "stuck.h"

struct fl_probe_set;

#define FL_METRICS_DEFAULT_PORT	19477
#define FL_METRICS_MAX_COMMS	16	/* distinct comm label values, then "other" */
#define FL_METRICS_MAX_LOOPS	256	/* distinct (signal, owner, comm) series */

struct fl_loop_series {
	uint8_t sig;
	uint8_t owner;		/* owner signal or 0 */
	char comm[FL_COMM_LEN + 1];
	uint64_t count;
};

struct fl_prog_stat {
	char name[64];
	uint64_t run_cnt;
	uint64_t run_time_ns;
};

/* Counters kept by user space, shared with the HTTP thread. */
struct fl_user_stats {
	pthread_mutex_t lock;
	struct fl_loop_series loops[FL_METRICS_MAX_LOOPS];
	int nloops;
	char comms[FL_METRICS_MAX_COMMS][FL_COMM_LEN + 1];
	int ncomms;
	uint64_t loops_overflow;	/* series table full: counted under "other" */
	/* episodes that user space closed (idle): BPF never saw them end */
	__u64 hist_retries[FL_HIST_SLOTS];
	__u64 hist_duration_us[FL_HIST_SLOTS];
	uint64_t sum_retries;
	uint64_t sum_duration_ns;
	uint64_t scrapes;
	uint64_t http_errors;
};

struct fl_metrics_snapshot {
	struct fl_stats bpf;			/* summed over CPUs */
	const struct fl_probe_set *probes;
	uint64_t loops_active;			/* episodes over threshold now */
	struct fl_prog_stat *progs;		/* NULL unless --bpf-stats */
	int nprogs;
	bool bpf_stats;
	const char *version;
	struct fl_stuck_task stuck[FL_STUCK_MAX];	/* spinning in the kernel */
	int nstuck;
};

void fl_user_stats_init(struct fl_user_stats *u);
/* A DETECTED report: one more loop under (signal, owner, comm). */
void fl_user_stats_loop(struct fl_user_stats *u, unsigned int sig,
			unsigned int owner, const char *comm, size_t comm_len);
void fl_user_stats_episode(struct fl_user_stats *u, uint64_t retries,
			   uint64_t duration_ns);

/* Prometheus label value escaping: \\ \" \n. */
void fl_metrics_escape(FILE *out, const char *s, size_t len);
/* Render everything; openmetrics selects OpenMetrics 1.0 (ends "# EOF"). */
void fl_metrics_render(FILE *out, bool openmetrics,
		       const struct fl_metrics_snapshot *snap,
		       struct fl_user_stats *u);

/* ---- HTTP ------------------------------------------------------------------ */

/* Fills a snapshot for one scrape (called on the HTTP thread). */
typedef int (*fl_snapshot_fn)(void *ctx, struct fl_metrics_snapshot *snap);
typedef void (*fl_snapshot_free_fn)(void *ctx, struct fl_metrics_snapshot *snap);

struct fl_http;

/*
 * "[ADDR:]PORT" ("19477", "127.0.0.1:19477", "[::1]:19477", ":19477" for
 * all addresses).  Returns 0 and fills the socket address, or -EINVAL with
 * *why set.
 */
int fl_metrics_parse_listen(const char *s, void *sockaddr_storage,
			    unsigned int *len, const char **why);
struct fl_http *fl_http_start(const void *sockaddr, unsigned int len,
			      fl_snapshot_fn snap, fl_snapshot_free_fn snap_free,
			      void *ctx, struct fl_user_stats *u);
void fl_http_stop(struct fl_http *h);

#endif
