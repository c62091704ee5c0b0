/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The metrics snapshot: what every stage knows at one scrape, read on the
 * HTTP thread (the session's maps and rows, the stuck tasks, the report
 * consumer's counters) and handed to metrics.c to render.
 */
#ifndef FL_SNAPSHOT_H
#define FL_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct fl_session;
struct fl_stuckwatch;
struct fl_user_stats;

/* The stages a scrape reads; set once before the HTTP thread starts. */
struct fl_snapshot_src {
	struct fl_session *s;
	struct fl_stuckwatch *stuck;
	struct fl_user_stats *ustats;
	uint32_t max_tasks;		/* --max-tasks: the episode hashes' size */
};

/* An fl_http_render_fn: ctx is a struct fl_snapshot_src.  Non-zero (a map
 * read failed, counted as a scrape error): nothing written. */
int fl_snapshot_render(void *ctx, FILE *out, bool openmetrics);

#endif
