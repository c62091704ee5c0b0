// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * faultloop: catch the kernel stuck in a fault-in / uaccess retry loop.
 *
 * The stages, in the order data flows: config.c (the flags, parsed once)
 * -> probes.c and probe_*.c (which kernel hooks) and session.c (the BPF
 * object) -> bpf/detector.bpf.h (episodes, in the kernel) -> episodes.c
 * (the report consumer) -> report.c / metrics.c (text, JSON, Prometheus;
 * snapshot.c gathers a scrape), served by http.c.  stuckwatch.c finds
 * tasks already spinning at start.  main() only wires them.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cgroup.h"
#include "config.h"
#include "episodes.h"
#include "exposure.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "privs.h"
#include "report.h"
#include "session.h"
#include "snapshot.h"
#include "stuckwatch.h"
#include "util.h"

struct daemon {
	struct fl_config cfg;		/* immutable after parsing */
	struct fl_session s;
	struct fl_stuckwatch stuck;
	struct fl_episodes eps;
	struct fl_report_ctx rctx;
	struct fl_user_stats ustats;
	struct fl_snapshot_src snap;	/* what the HTTP thread's scrape reads */
	struct fl_http *http;
	int http_fd;			/* bound, not yet served; -1 */
	bool caps_dropped;
	uint64_t start_ns;		/* at main(): the start-up figure */
};

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

static void print_probes(const struct daemon *d)
{
	struct jw w;

	if (!d->cfg.json) {
		fl_report_probes(&d->s.set, stdout);
		fl_exposure_print(stdout);
		return;
	}
	/* one document, as bpftool prints: the text's two tables as two keys */
	jw_init(&w, stdout);
	jw_object_start(&w);
	jw_name(&w, "probes");
	fl_report_probes_json(&d->s.set, &w);
	jw_name(&w, "known_loops");
	fl_exposure_json(&w);
	jw_object_end(&w);
	fputc('\n', stdout);
}

static void banner(const struct daemon *d)
{
	const struct fl_config *c = &d->cfg;

	fprintf(stderr, "faultloop: %d probes attached in %llu ms (threshold %u retries, "
		"min-duration %llums, gap %llums, mode %s)%s\n", d->s.attached,
		(unsigned long long)((now_mono_ns() - d->start_ns) / 1000000), c->threshold,
		(unsigned long long)(c->min_duration_ns / 1000000),
		(unsigned long long)(c->gap_ns / 1000000), fl_mode_sel_name(c->mode),
		fl_probes_missing(&d->s.set) ? "; some signals missing:" : "");
	fl_report_probe_summary(&d->s.set, stderr);
	fl_exposure_banner(stderr);
	if (d->http)
		fprintf(stderr, "faultloop: metrics on http://%s%s/metrics\n",
			strchr(c->metrics.spec, ':') ? "" : "127.0.0.1:", c->metrics.spec);
}

/* Before anything is loaded: a port in use is one line and exit 1, with
 * no probe attached in between. */
static int bind_metrics(struct daemon *d)
{
	if (!d->cfg.metrics.family || d->cfg.probes)	/* --probes serves nothing */
		return 0;
	d->http_fd = fl_http_listen(&d->cfg.metrics);
	if (d->http_fd >= 0)
		return 0;
	fl_fail("cannot serve metrics on %s: %s (--metrics off disables)",
		d->cfg.metrics.spec, strerror(-d->http_fd));
	return d->http_fd;
}

/* The HTTP thread is born confined (fl_privs_drop on the thread that
 * starts it): it parses network input, and the main thread may keep its
 * capabilities for a while yet (held probes). */
static int serve_metrics(struct daemon *d)
{
	int err;

	if (d->http_fd < 0)
		return 0;
	d->snap = (struct fl_snapshot_src){
		.s = &d->s, .stuck = &d->stuck, .ustats = &d->ustats, .max_tasks = d->cfg.max_tasks,
	};
	d->http = fl_http_start(d->http_fd, fl_snapshot_render, &d->snap, fl_privs_drop, &err);
	d->http_fd = -1;	/* fl_http_start owns it */
	if (d->http)
		return 0;
	fl_fail("cannot serve metrics on %s: %s", d->cfg.metrics.spec, strerror(-err));
	return err;
}

/* Held probes still need CAP_PERFMON/CAP_SYS_ADMIN to be armed. */
static int drop_privs_once(struct daemon *d)
{
	int err;

	if (d->caps_dropped || d->s.set.hold)
		return 0;
	err = fl_privs_drop();
	if (err)
		fl_fail("cannot drop capabilities: %s", strerror(-err));
	d->caps_dropped = !err;
	return err;
}

/*
 * Arming a kprobe or an fentry waits for every CPU: arm64 patches kernel
 * text under stop_machine(); on x86, BPF trampolines and kprobes wait for
 * RCU-tasks grace periods, which need every CPU to schedule.  A CPU
 * spinning in the kernel never does, and faultloop (and often the
 * machine) stalls behind it: seen on Debian 5.10 arm64 with the btrfs
 * search_ioctl MTE live-lock, and on 6.1 x86 under qemu with a writer
 * live-locked in generic_perform_write() (faultloop blocked in attach for
 * 400 s, rcu_tasks_rude hung).  Tracepoints only flip a static key.
 */
static const char *hold_reason(int nstuck)
{
#if defined(__aarch64__)
	static const char waits_for[] = "stop_machine() on arm64";
#else
	static const char waits_for[] = "RCU-tasks grace periods on x86";
#endif

	if (!nstuck)
		return NULL;
	fprintf(stderr, "faultloop: not arming fentry/kprobe probes while %d task(s) spin in the kernel: "
		"arming waits for every CPU (%s), and the spinning one never comes; "
		"they are armed once no task is stuck\n", nstuck, waits_for);
	return "a task spins in the kernel; arming waits for every CPU";
}

/*
 * SIGINT/SIGTERM during start-up end it at the next stage, before
 * anything more is loaded or attached: -EINTR, and stop() detaches what
 * was.  The stuck window's sleep ends with the signal (nanosleep is never
 * restarted, signal(7)); an attach in progress finishes first.
 */
static int start(struct daemon *d)
{
	struct fl_session_fds fds;
	const char *hold = NULL;
	int err;

	/* first: stop() may follow any failure below */
	d->http_fd = -1;
	fl_session_init(&d->s, &exiting);
	fl_user_stats_init(&d->ustats);
	fl_stuckwatch_init(&d->stuck, &d->rctx);
	/* the stuck check's window is the probe selection in between */
	err = bind_metrics(d);
	if (err)
		return err;
	fl_stuckwatch_begin(&d->stuck);
	err = fl_session_open(&d->s, &d->cfg);
	if (err)
		return err;
	d->rctx = (struct fl_report_ctx){
		.out = stdout,
		.json = d->cfg.json,
		.ks = d->s.ks_hidden ? NULL : d->s.ks,
		.probes = &d->s.set,
		.real_minus_mono_ns = (int64_t)(now_real_ns() - now_mono_ns()),
		.cgroup_path = cgroup2_mount() ? cgroup_path : NULL,
	};
	d->stuck.iter_fd = fl_session_iter_fd(&d->s);
	/* --probes attaches for real too: only an attach proves a probe.  The
	 * stuck check decides whether probes that patch kernel text may be
	 * armed; with none to arm (tracepoints and the sampler only flip
	 * static keys and open perf events), it need not hold start-up. */
	if (fl_probes_patch_text(&d->s.set) || d->cfg.probes)
		if (fl_stuckwatch_first(&d->stuck))
			hold = hold_reason(fl_stuckwatch_blocking(&d->stuck));
	if (exiting)
		return -EINTR;
	fl_session_arm(&d->s, hold);
	if (exiting)
		return -EINTR;
	if (d->cfg.probes) {
		print_probes(d);
		return 0;
	}
	if (!fl_session_can_detect(&d->s)) {
		fl_fail("no fault-in, copy or fault probe could be attached on this kernel "
			"(run 'faultloop --probes' for the reasons)");
		return -ENOENT;
	}
	fl_session_fds(&d->s, &fds);
	err = fl_episodes_open(&d->eps, fds.reports, fds.episodes, fds.stalls, fds.stats,
			       fds.sweep, d->cfg.max_tasks, &d->rctx, &d->ustats);
	if (err) {
		fl_fail("cannot read reports: %s", strerror(-err));
		return err;
	}
	if (d->cfg.bpf_stats && (err = fl_session_enable_stats(&d->s)))
		return err;
	err = serve_metrics(d);
	if (!err)
		err = drop_privs_once(d);
	if (!err)
		banner(d);
	if (!err && !d->stuck.checked)
		fl_stuckwatch_first(&d->stuck);	/* its reports, after arming */
	return err;
}

/*
 * The report stream's reader is gone (`faultloop --json | head -1`): the
 * write end of a pipe or socket polls POLLERR once nobody reads (SIGPIPE
 * is ignored, a write fails with EPIPE).  1: the run ends as on SIGTERM;
 * a write error of another kind (a full disk) is a failure.
 */
static int report_stream_done(struct daemon *d)
{
	struct pollfd p = { .fd = fileno(d->rctx.out) };

	if (poll(&p, 1, 0) == 1 && (p.revents & POLLERR)) {
		fprintf(stderr, "faultloop: the report stream's reader is gone (EPIPE): stopping\n");
		return 1;
	}
	if (!ferror(d->rctx.out))
		return 0;
	fprintf(stderr, "faultloop: cannot write reports\n");
	return -EIO;
}

/* Until a signal, --duration or the report stream's end: reports as they
 * come, the idle sweep and the stuck recheck every half gap (50 ms to
 * 1 s), held probes armed once no task is stuck. */
static int run(struct daemon *d)
{
	uint64_t start_ns = now_mono_ns(), last_sweep = start_ns, now;
	uint64_t every = d->cfg.gap_ns / 2;
	int err = 0;

	every = every < 50000000ULL ? 50000000ULL : every > 1000000000ULL ? 1000000000ULL : every;
	while (!exiting && !err) {
		err = fl_episodes_poll(&d->eps, 100);
		if (err == -EINTR)
			return 0;
		if (err)
			fprintf(stderr, "faultloop: polling the ring buffer: %s\n", strerror(-err));
		if (!err && (err = report_stream_done(d)) > 0)
			return 0;
		now = now_mono_ns();
		if (now - last_sweep >= every) {
			fl_episodes_sweep(&d->eps, false);
			fl_stuckwatch_recheck(&d->stuck, now);
			last_sweep = now;
		}
		if (d->s.set.hold && !fl_stuckwatch_blocking(&d->stuck)) {
			fprintf(stderr, "faultloop: no task that arming would wait for is stuck in the kernel any more: %d held probes armed\n",
				fl_session_arm(&d->s, NULL));
			fl_report_probe_summary(&d->s.set, stderr);
			err = drop_privs_once(d);
		}
		if (d->cfg.duration_ns && now - start_ns >= d->cfg.duration_ns)
			break;
	}
	return err;
}

/* Drain what BPF queued, detach, then end what is still open. */
static void stop(struct daemon *d)
{
	struct fl_stats st;
	struct fl_session_fds fds;

	if (d->eps.rb) {
		fl_episodes_drain(&d->eps);
		d->stuck.iter_fd = -1;		/* its link goes with the probes' */
		fl_session_detach(&d->s);
		fl_episodes_drain(&d->eps);
		fl_episodes_sweep(&d->eps, true);
		fl_episodes_drain(&d->eps);
		fl_session_fds(&d->s, &fds);
		if (!fl_stats_read(fds.stats, &st))
			fl_report_print_summary(stderr, &st, d->eps.sweep_errors, d->cfg.verbose);
	}
	fl_http_stop(d->http);
	if (d->http_fd >= 0)
		close(d->http_fd);
	fl_episodes_close(&d->eps);
	fl_session_close(&d->s);
	fl_stuckwatch_free(&d->stuck);
}

int main(int argc, char **argv)
{
	static struct daemon d;
	int err;

	d.start_ns = now_mono_ns();
	fl_config_parse(&d.cfg, argc, argv);
	fl_log_json(d.cfg.json);
	fl_libbpf_log_init(d.cfg.verbose);
	if (fl_privs_preflight())
		return FL_EXIT_FAILURE;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	/* a reader that goes away is an EPIPE on the report stream (run()) */
	signal(SIGPIPE, SIG_IGN);
	err = start(&d);
	if (err == -EINTR) {
		fprintf(stderr, "faultloop: stopped during start-up\n");
		err = 0;
	} else if (!err && !d.cfg.probes) {
		err = run(&d);
	}
	stop(&d);
	return err ? FL_EXIT_FAILURE : FL_EXIT_OK;
}
