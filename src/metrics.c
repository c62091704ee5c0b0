// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "exposure.h"
#include "knownbugs.h"
#include "metrics.h"
#include "signals.h"
#include "util.h"

/* ---- user-space counters --------------------------------------------------- */

void fl_user_stats_init(struct fl_user_stats *u)
{
	struct timespec ts;

	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	clock_gettime(CLOCK_REALTIME, &ts);
	u->start_time = ts.tv_sec + ts.tv_nsec / 1e9;
}

static int nr_bugs(void)
{
	return fl_nr_known_bugs < FL_METRICS_MAX_BUGS ? fl_nr_known_bugs : FL_METRICS_MAX_BUGS;
}

/* comm is chosen by any user: keep its label values to a bounded set */
static const char *comm_bucket(struct fl_user_stats *u, const char *comm, size_t len)
{
	char c[FL_COMM_LEN + 1];
	int i;

	/* as text and JSON show it: comms that read the same are one series */
	fl_sanitize_comm(comm, len > FL_COMM_LEN ? FL_COMM_LEN : len, c, sizeof(c));
	for (i = 0; i < u->ncomms; i++)
		if (!strcmp(u->comms[i], c))
			return u->comms[i];
	if (u->ncomms == FL_METRICS_MAX_COMMS)
		return "other";
	memcpy(u->comms[u->ncomms], c, sizeof(c));
	return u->comms[u->ncomms++];
}

void fl_user_stats_loop(struct fl_user_stats *u, unsigned int sig,
			unsigned int owner, const struct fl_known_bug *kb,
			const char *comm, size_t comm_len)
{
	const char *bug = kb ? kb->id : NULL;
	struct fl_loop_series *l;
	const char *b;
	int i;

	pthread_mutex_lock(&u->lock);
	i = kb ? 1 + (int)(kb - fl_known_bugs) : 0;
	if (i <= nr_bugs())
		u->bug_loops[i]++;
	b = comm_bucket(u, comm, comm_len);
	for (i = 0; i < u->nloops; i++) {
		l = &u->loops[i];
		if (l->sig == sig && l->owner == owner && l->bug == bug && !strcmp(l->comm, b))
			goto found;
	}
	if (u->nloops == FL_METRICS_MAX_LOOPS) {
		u->loops_overflow++;
		goto out;
	}
	l = &u->loops[u->nloops++];
	l->sig = sig;
	l->owner = owner;
	l->bug = bug;
	snprintf(l->comm, sizeof(l->comm), "%s", b);
found:
	l->count++;
out:
	pthread_mutex_unlock(&u->lock);
}

void fl_user_stats_scrape(struct fl_user_stats *u, bool ok)
{
	pthread_mutex_lock(&u->lock);
	if (ok)
		u->scrapes++;
	else
		u->scrape_errors++;
	pthread_mutex_unlock(&u->lock);
}

/* ---- rendering -------------------------------------------------------------- */

void fl_metrics_escape(FILE *out, const char *s, size_t len)
{
	size_t i, k;

	for (i = 0; i < len && s[i]; i += k) {
		k = fl_utf8_seq((const unsigned char *)s + i, len - i);
		if (!k) {	/* a byte that starts no character */
			fputc('?', out);
			k = 1;
			continue;
		}
		if (k > 1) {
			fwrite(s + i, 1, k, out);
			continue;
		}
		switch (s[i]) {
		case '\\': fputs("\\\\", out); break;
		case '"': fputs("\\\"", out); break;
		case '\n': fputs("\\n", out); break;
		default: fputc(s[i], out);
		}
	}
}

static void esc(FILE *out, const char *s)
{
	fl_metrics_escape(out, s, strlen(s));
}

/*
 * One family: HELP and TYPE.  In OpenMetrics a counter family drops the
 * _total suffix and an info family the _info suffix; in 0.0.4 the family
 * is the sample name and info is a gauge.
 */
enum mtype { M_COUNTER, M_GAUGE, M_HISTOGRAM, M_INFO };

static void family(FILE *out, bool om, const char *name, enum mtype t, const char *help)
{
	static const char *const tn[] = { "counter", "gauge", "histogram", "info" };
	char fam[128];
	size_t n = strlen(name);

	snprintf(fam, sizeof(fam), "%s", name);
	if (om && t == M_COUNTER && n > 6 && !strcmp(name + n - 6, "_total"))
		fam[n - 6] = 0;
	if (om && t == M_INFO && n > 5 && !strcmp(name + n - 5, "_info"))
		fam[n - 5] = 0;
	fprintf(out, "# HELP %s %s\n", fam, help);
	fprintf(out, "# TYPE %s %s\n", fam, !om && t == M_INFO ? "gauge" : tn[t]);
}

static void scalar(FILE *out, bool om, const char *name, enum mtype t,
		   const char *help, unsigned long long v)
{
	family(out, om, name, t, help);
	fprintf(out, "%s %llu\n", name, v);
}

/*
 * log2 buckets: see fl_slot() in bpf/detector.bpf.h.  Its top slot is a
 * clamp (every value from 2^(FL_HIST_SLOTS-2) up, ~18 minutes or 2^30
 * retries), so it has no finite bound: it counts toward +Inf only.
 */
static void histogram(FILE *out, const char *name, const __u64 *b,
		      double sum, bool duration)
{
	uint64_t cum = 0;
	int i;

	for (i = 0; i < FL_HIST_SLOTS - 1; i++) {
		cum += b[i];
		/* slot i holds integers in [2^(i-1), 2^i): at most 2^i - 1 */
		if (duration)
			fprintf(out, "%s_bucket{le=\"%g\"} %llu\n", name,
				(double)(1ULL << i) / 1e6, (unsigned long long)cum);
		else
			fprintf(out, "%s_bucket{le=\"%llu\"} %llu\n", name,
				(unsigned long long)((1ULL << i) - 1), (unsigned long long)cum);
	}
	cum += b[FL_HIST_SLOTS - 1];
	fprintf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
	fprintf(out, "%s_sum %.9g\n", name, sum);
	fprintf(out, "%s_count %llu\n", name, (unsigned long long)cum);
}

static const char *mode_of(const struct fl_metrics_snapshot *s, unsigned int sig)
{
	int i;

	/* the atomic flavour of page_fault_kernel comes from the same probe */
	if (sig == FL_SIG_PF_KERNEL_ATOMIC)
		sig = FL_SIG_PF_KERNEL;
	for (i = 0; i < s->nprobes; i++)
		if (s->probes[i].sig == sig)
			return s->probes[i].mode;
	return "none";
}

static void per_signal(FILE *out, bool om, const char *name, const char *help,
		       const struct fl_metrics_snapshot *s, const __u64 *v,
		       enum fl_kind kind, bool with_mode)
{
	unsigned int sig;

	family(out, om, name, M_COUNTER, help);
	for (sig = 1; sig < FL_SIG__MAX; sig++) {
		if (!with_mode && fl_sig_kind(sig) != kind)
			continue;
		fprintf(out, "%s{signal=\"%s\"", name, fl_sig_name(sig));
		if (with_mode)
			fprintf(out, ",mode=\"%s\"", mode_of(s, sig));
		fprintf(out, "} %llu\n", (unsigned long long)v[sig]);
	}
}

static void render_events(FILE *out, bool om, const struct fl_metrics_snapshot *s,
			  struct fl_user_stats *u)
{
	const struct fl_stats *b = &s->bpf;

	(void)u;
	per_signal(out, om, "faultloop_events_total",
		   "Events seen per signal and the attach mode of its probe.",
		   s, b->events, 0, true);
	per_signal(out, om, "faultloop_faultin_attempts_total",
		   "fault_in_*() calls seen.", s, b->events, FL_K_FAULTIN, false);
	per_signal(out, om, "faultloop_faultin_failures_total",
		   "fault_in_*() calls that left bytes not faulted in.", s, b->failures,
		   FL_K_FAULTIN, false);
	per_signal(out, om, "faultloop_copy_failures_total",
		   "Atomic or nofault user copies that came up short.", s, b->failures,
		   FL_K_COPY, false);

	scalar(out, om, "faultloop_retries_total", M_COUNTER,
	       "Retries counted: an episode's retry maximum grew by one.", b->cnt[FL_CNT_RETRIES]);
	scalar(out, om, "faultloop_episodes_total", M_COUNTER,
	       "Episodes opened (per task runs of fault-in/uaccess events).", b->cnt[FL_CNT_EPISODES]);
}

static void render_loops(FILE *out, bool om, const struct fl_metrics_snapshot *s,
			  struct fl_user_stats *u)
{
	const struct fl_stats *b = &s->bpf;
	int i;

	family(out, om, "faultloop_loops_detected_total", M_COUNTER,
	       "Loops detected, by signal, loop owner, known bug (\"none\" if none matched) and comm (16 comms, then \"other\").");
	pthread_mutex_lock(&u->lock);
	for (i = 0; i < u->nloops; i++) {
		const struct fl_loop_series *l = &u->loops[i];

		fprintf(out, "faultloop_loops_detected_total{signal=\"%s\",owner=\"%s\",bug=\"%s\",comm=\"",
			fl_sig_name(l->sig), l->owner ? fl_sig_name(l->owner) : "unknown",
			l->bug ? l->bug : "none");
		esc(out, l->comm);
		fprintf(out, "\"} %llu\n", (unsigned long long)l->count);
	}
	if (u->loops_overflow)
		fprintf(out, "faultloop_loops_detected_total{signal=\"other\",owner=\"other\",bug=\"other\",comm=\"other\"} %llu\n",
			(unsigned long long)u->loops_overflow);

	family(out, om, "faultloop_loops_by_bug_total", M_COUNTER,
	       "Loops detected, by known bug (\"none\" if none matched): every bug's series from the start, at 0.");
	for (i = 0; i <= nr_bugs(); i++)
		fprintf(out, "faultloop_loops_by_bug_total{bug=\"%s\"} %llu\n",
			i ? fl_known_bugs[i - 1].id : "none", (unsigned long long)u->bug_loops[i]);

	scalar(out, om, "faultloop_loops_active", M_GAUGE,
	       "Episodes over the threshold that have not ended.", s->loops_active);

	family(out, om, "faultloop_episode_retries", M_HISTOGRAM,
	       "Retries per ended episode.");
	histogram(out, "faultloop_episode_retries", b->hist_retries,
		  (double)b->sum_retries, false);
	family(out, om, "faultloop_episode_duration_seconds", M_HISTOGRAM,
	       "Duration of ended episodes.");
	histogram(out, "faultloop_episode_duration_seconds", b->hist_duration_us,
		  b->sum_duration_ns / 1e9, true);
	family(out, om, "faultloop_episodes_ended_total", M_COUNTER,
	       "Episodes ended, by why they ended.");
	for (i = 1; i < FL_END__MAX; i++)
		fprintf(out, "faultloop_episodes_ended_total{reason=\"%s\"} %llu\n",
			fl_end_reason_name(i), (unsigned long long)b->ended[i]);
	pthread_mutex_unlock(&u->lock);
}

/* What the BPF side dropped or skipped, each a counter of its own */
static const struct {
	const char *name, *help;
	int cnt;
} drop_counters[] = {
	{ "faultloop_reports_lost_total",
	  "Reports dropped because the ring buffer was full.", FL_CNT_REPORTS_LOST },
	{ "faultloop_events_filtered_total",
	  "Events of tasks outside --pid / --cgroup, dropped before the detector.", FL_CNT_FILTERED },
	{ "faultloop_tasks_untracked_total",
	  "Events of tasks not tracked because the episode map was full (--max-tasks).",
	  FL_CNT_EPISODES_DROPPED },
	{ "faultloop_kprobe_stash_dropped_total",
	  "Kprobe entries not stashed for their return (stash full): owner returns not seen.",
	  FL_CNT_STASH_DROPPED },
	{ "faultloop_events_nested_total",
	  "Events and samples skipped because they interrupted the detector on their CPU.",
	  FL_CNT_NESTED },
	{ "faultloop_vma_lookups_busy_total",
	  "Stall samples that could not look up their fault address's VMA (mmap_lock busy; always on PREEMPT_RT): the userfaultfd evidence waits for the next.",
	  FL_CNT_VMA_BUSY },
};

static void render_health(FILE *out, bool om, const struct fl_metrics_snapshot *s,
			  struct fl_user_stats *u)
{
	const struct fl_stats *b = &s->bpf;
	int i;

	(void)u;
	for (i = 0; i < (int)ARRAY_SIZE(drop_counters); i++)
		scalar(out, om, drop_counters[i].name, M_COUNTER, drop_counters[i].help,
		       b->cnt[drop_counters[i].cnt]);

	scalar(out, om, "faultloop_stuck_tasks", M_GAUGE,
	       "Tasks found spinning in the kernel without a context switch when faultloop started, still there.",
	       s->nstuck);
	family(out, om, "faultloop_stuck_task_seconds", M_GAUGE,
	       "How long each stuck task has been on its CPU in the kernel, by pid, tid, comm, syscall and preempted (preemptible: probes not held).");
	for (i = 0; i < s->nstuck; i++) {
		const struct fl_stuck_task *t = &s->stuck[i];
		const char *name = t->syscall >= 0 ? fl_syscall_name(t->syscall) : NULL;

		fprintf(out, "faultloop_stuck_task_seconds{pid=\"%u\",tid=\"%u\",comm=\"", t->pid, t->tid);
		esc(out, t->comm);
		if (name)
			fprintf(out, "\",syscall=\"%s\"", name);
		else if (t->syscall >= 0)
			fprintf(out, "\",syscall=\"%ld\"", t->syscall);
		else
			fprintf(out, "\",syscall=\"unknown\"");
		fprintf(out, ",preempted=\"%s\"} %.3f\n", t->preempted ? "true" : "false",
			t->on_cpu_ns / 1e9);
	}
}

static void render_probes(FILE *out, bool om, const struct fl_metrics_snapshot *s,
			  struct fl_user_stats *u)
{
	int i;

	(void)u;
	scalar(out, om, "faultloop_symbols_available", M_GAUGE,
	       "1: kernel addresses readable, stacks and owners symbolized and the stall sampler armed; "
	       "0: hidden (the start-up line and fault_stall's probe_info say why).", s->symbols);
	family(out, om, "faultloop_probe_info", M_INFO,
	       "One series per probe: the symbol and mode attached, or why not (status).");
	for (i = 0; i < s->nprobes; i++) {
		const struct fl_probe_row *p = &s->probes[i];

		fprintf(out, "faultloop_probe_info{signal=\"%s\",kind=\"%s\",symbol=\"", p->name,
			fl_kind_name(fl_sig_kind(p->sig)));
		esc(out, p->sym);
		fprintf(out, "\",mode=\"%s\",status=\"%s\"} 1\n", p->mode,
			fl_status_name(p->status));
	}

	if (s->bpf_stats) {
		family(out, om, "faultloop_bpf_prog_run_total", M_COUNTER,
		       "Runs of faultloop's BPF programs (kernel BPF stats, --bpf-stats).");
		for (i = 0; i < s->nprogs; i++)
			fprintf(out, "faultloop_bpf_prog_run_total{program=\"%s\"} %llu\n",
				s->progs[i].name, (unsigned long long)s->progs[i].run_cnt);
		family(out, om, "faultloop_bpf_prog_run_seconds_total", M_COUNTER,
		       "Time spent in faultloop's BPF programs (kernel BPF stats, --bpf-stats).");
		for (i = 0; i < s->nprogs; i++)
			fprintf(out, "faultloop_bpf_prog_run_seconds_total{program=\"%s\"} %.9f\n",
				s->progs[i].name, s->progs[i].run_time_ns / 1e9);
	}
}

static void render_self(FILE *out, bool om, const struct fl_metrics_snapshot *s,
			  struct fl_user_stats *u)
{
	family(out, om, "faultloop_scrapes_total", M_COUNTER,
	       "Scrapes of this endpoint, this one included, by result.");
	pthread_mutex_lock(&u->lock);
	fprintf(out, "faultloop_scrapes_total{result=\"ok\"} %llu\n", (unsigned long long)u->scrapes);
	fprintf(out, "faultloop_scrapes_total{result=\"error\"} %llu\n",
		(unsigned long long)u->scrape_errors);
	pthread_mutex_unlock(&u->lock);

	family(out, om, "faultloop_start_time_seconds", M_GAUGE,
	       "When this faultloop's counters began, in seconds since the epoch.");
	fprintf(out, "faultloop_start_time_seconds %.3f\n", u->start_time);

	family(out, om, "faultloop_build_info", M_INFO, "faultloop's version.");
	fprintf(out, "faultloop_build_info{version=\"");
	esc(out, s->version ? s->version : "unknown");
	fprintf(out, "\"} 1\n");
}

void fl_metrics_render(FILE *out, bool om, const struct fl_metrics_snapshot *s,
		       struct fl_user_stats *u)
{
	render_events(out, om, s, u);
	render_loops(out, om, s, u);
	render_health(out, om, s, u);
	render_probes(out, om, s, u);
	render_self(out, om, s, u);
	fl_exposure_metrics(out);
	if (om)
		fputs("# EOF\n", out);
}
