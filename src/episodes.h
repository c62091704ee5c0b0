/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The episode consumer: drains the report ring buffer into report.c and
 * the loop series, runs the idle sweep (BPF's own close, fl_sweep) and
 * the flush at detach, and reads the BPF counters.  Main thread only,
 * except fl_episodes_active() and fl_stats_read(), which read maps.
 */
#ifndef FL_EPISODES_H
#define FL_EPISODES_H

#include <stdbool.h>
#include <stdint.h>
#include "faultloop.h"

struct ring_buffer;
struct fl_report_ctx;
struct fl_user_stats;
struct fl_known_bug;

/* A loop reported DETECTED and not ENDED yet: the owner its stack named,
 * for an ENDED report that carries no stack of its own. */
struct fl_open_loop {
	uint32_t tid;
	uint8_t owner;
	const struct fl_known_bug *bug;
};

struct fl_episodes {
	int episodes_fd, stalls_fd, stats_fd, sweep_fd;
	uint32_t max_tasks;
	uint32_t *keys;			/* max_tasks, for the sweep's walk */
	struct ring_buffer *rb;
	const struct fl_report_ctx *rctx;
	struct fl_user_stats *ustats;
	struct fl_open_loop *open;	/* max_tasks */
	uint32_t nopen;
	uint64_t reports;		/* received */
	uint64_t swept;			/* ended by the sweep */
	uint64_t sweep_errors;		/* BPF_PROG_TEST_RUN refused */
};

int fl_episodes_open(struct fl_episodes *e, int reports_fd, int episodes_fd,
		     int stalls_fd, int stats_fd, int sweep_fd, uint32_t max_tasks,
		     const struct fl_report_ctx *rctx, struct fl_user_stats *u);
/* Wait up to timeout_ms for reports and handle them; < 0 on error
 * (-EINTR when a signal came). */
int fl_episodes_poll(struct fl_episodes *e, int timeout_ms);
/* Handle what the ring buffer holds now. */
void fl_episodes_drain(struct fl_episodes *e);
/* End idle episodes (all: every one, faultloop is detaching). */
void fl_episodes_sweep(struct fl_episodes *e, bool all);
void fl_episodes_close(struct fl_episodes *e);

/* Handle one report as received from BPF (exposed for the tests). */
void fl_episodes_handle(struct fl_episodes *e, const struct fl_report *r);

/* Episodes (of the detector and the stall sampler) over the threshold
 * now, in the map fd of max entries (any thread). */
int fl_episodes_active(int fd, uint32_t max, uint64_t *n);
/* The per-CPU counters summed (any thread). */
int fl_stats_read(int stats_fd, struct fl_stats *sum);

#endif
