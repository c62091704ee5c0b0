// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "config.h"
#include "episodes.h"
#include "metrics.h"
#include "session.h"
#include "snapshot.h"
#include "stuckwatch.h"
#include "util.h"

int fl_snapshot_render(void *ctx, FILE *out, bool openmetrics)
{
	const struct fl_snapshot_src *src = ctx;
	struct fl_metrics_snapshot snap = { .version = fl_config_version() };
	struct fl_probe_row rows[64];
	struct fl_prog_stat progs[64];
	struct fl_session_fds fds;
	uint64_t stalled = 0;
	int err;

	fl_session_fds(src->s, &fds);
	err = fl_stats_read(fds.stats, &snap.bpf);
	if (!err)
		err = fl_episodes_active(fds.episodes, src->max_tasks, &snap.loops_active);
	if (!err)
		err = fl_episodes_active(fds.stalls, src->max_tasks, &stalled);
	snap.loops_active += stalled;
	fl_user_stats_scrape(src->ustats, !err);
	if (err)
		return err;
	snap.probes = rows;
	snap.nprobes = fl_probes_rows(&src->s->set, rows, ARRAY_SIZE(rows));
	snap.nstuck = fl_stuckwatch_copy(src->stuck, snap.stuck, FL_STUCK_MAX);
	snap.bpf_stats = src->s->stats_fd >= 0;
	snap.symbols = !src->s->ks_hidden;
	if (snap.bpf_stats) {
		snap.progs = progs;
		snap.nprogs = fl_session_prog_stats(src->s, rows, snap.nprobes, progs,
						    ARRAY_SIZE(progs));
	}
	fl_metrics_render(out, openmetrics, &snap, src->ustats);
	return 0;
}
