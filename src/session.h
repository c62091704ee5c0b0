/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The BPF side's lifecycle: probe selection, the final object's knobs,
 * load, attach (and the later arming of held probes), teardown.  After
 * fl_session_open() returns, everything the HTTP thread reads from here
 * is either written once (progs[]) or taken under set.lock (fl_probes_rows).
 */
#ifndef FL_SESSION_H
#define FL_SESSION_H

#include <signal.h>
#include <stdbool.h>
#include "config.h"
#include "probes.h"

struct faultloop_bpf;
struct bpf_link;
struct ksyms;

/* A loaded program, by name: its fd for BPF run-time stats. */
struct fl_loaded_prog {
	const char *name;
	int fd;
};

struct fl_session {
	const struct fl_config *cfg;
	struct faultloop_bpf *skel;
	struct fl_probe_set set;
	struct ksyms *ks;		/* NULL when /proc/kallsyms is unreadable */
	bool ks_hidden;			/* addresses hidden: no symbolization */
	char stall_blind[256];		/* why the stall sampler has no code ranges, "" */
	int cg_fd;			/* --cgroup, -1 */
	int stats_fd;			/* BPF_ENABLE_STATS while open, -1 */
	struct bpf_link *iter;		/* fl_task_iter; NULL: unavailable */
	/* Objects of fallback candidates (fl_session_arm), sharing skel's maps. */
#define FL_MAX_FALLBACKS 3
	struct faultloop_bpf *fallback[FL_MAX_FALLBACKS];
	int nfallback;
	/* Entries are written once; nprogs grows (atomically) when a fallback
	 * object loads, after its entries. */
	struct fl_loaded_prog *progs;
	int nprogs, progs_cap;
	int attached;			/* probes attached so far */
	const volatile sig_atomic_t *stop;	/* non-zero: stop starting */
};

/* Before anything else (fl_session_close() is then safe whatever
 * follows): *stop becoming non-zero ends start-up at the next stage
 * (fl_session_open() returns -EINTR, fl_session_arm() attaches no more). */
void fl_session_init(struct fl_session *s, const volatile sig_atomic_t *stop);
/* Select the probes, open, configure and load the final object.
 * Messages on stderr; a negative errno on failure, -EINTR on *stop. */
int fl_session_open(struct fl_session *s, const struct fl_config *cfg);
/* Attach every selected probe not attached yet; with hold, leave those
 * that patch kernel text held (set.hold).  Returns how many attached now. */
int fl_session_arm(struct fl_session *s, const char *hold);
/* A probe feeds the detector an address, or one is held. */
bool fl_session_can_detect(const struct fl_session *s);
int fl_session_enable_stats(struct fl_session *s);
/* The maps and the program the episode consumer works with. */
struct fl_session_fds {
	int reports, episodes, stats, sweep, stalls;
};
void fl_session_fds(const struct fl_session *s, struct fl_session_fds *fds);
/* The stuck-task iterator's link fd, -1 when it is unavailable. */
int fl_session_iter_fd(const struct fl_session *s);
/* BPF run-time stats of the attached probes' programs (rows from
 * fl_probes_rows), into out[]; returns how many. */
int fl_session_prog_stats(const struct fl_session *s, const struct fl_probe_row *rows,
			  int nrows, struct fl_prog_stat *out, int max);
void fl_session_detach(struct fl_session *s);
void fl_session_close(struct fl_session *s);

#endif
