// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include "metrics.h"
#include "probes.h"
#include "util.h"

/* ---- user-space counters --------------------------------------------------- */

void fl_user_stats_init(struct fl_user_stats *u)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
}

/* comm is chosen by any user: keep its label values to a bounded set */
static const char *comm_bucket(struct fl_user_stats *u, const char *comm, size_t len)
{
	char c[FL_COMM_LEN + 1];
	int i;

	if (len > FL_COMM_LEN)
		len = FL_COMM_LEN;
	memcpy(c, comm, len);
	c[len] = 0;
	for (i = 0; i < u->ncomms; i++)
		if (!strcmp(u->comms[i], c))
			return u->comms[i];
	if (u->ncomms == FL_METRICS_MAX_COMMS)
		return "other";
	memcpy(u->comms[u->ncomms], c, sizeof(c));
	return u->comms[u->ncomms++];
}

void fl_user_stats_loop(struct fl_user_stats *u, unsigned int sig,
			unsigned int owner, const char *comm, size_t comm_len)
{
	struct fl_loop_series *l;
	const char *b;
	int i;

	pthread_mutex_lock(&u->lock);
	b = comm_bucket(u, comm, comm_len);
	for (i = 0; i < u->nloops; i++) {
		l = &u->loops[i];
		if (l->sig == sig && l->owner == owner && !strcmp(l->comm, b))
			goto found;
	}
	if (u->nloops == FL_METRICS_MAX_LOOPS) {
		u->loops_overflow++;
		goto out;
	}
	l = &u->loops[u->nloops++];
	l->sig = sig;
	l->owner = owner;
	snprintf(l->comm, sizeof(l->comm), "%s", b);
found:
	l->count++;
out:
	pthread_mutex_unlock(&u->lock);
}

static unsigned int slot(uint64_t v)
{
	unsigned int s = 0;

	while (v) {
		s++;
		v >>= 1;
	}
	return s < FL_HIST_SLOTS ? s : FL_HIST_SLOTS - 1;
}

void fl_user_stats_episode(struct fl_user_stats *u, uint64_t retries,
			   uint64_t duration_ns)
{
	pthread_mutex_lock(&u->lock);
	u->hist_retries[slot(retries)]++;
	u->hist_duration_us[slot(duration_ns / 1000)]++;
	u->sum_retries += retries;
	u->sum_duration_ns += duration_ns;
	pthread_mutex_unlock(&u->lock);
}

/* ---- rendering -------------------------------------------------------------- */

void fl_metrics_escape(FILE *out, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && s[i]; i++) {
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

/* BPF's buckets plus user space's (episodes it closed itself) */
static void histogram(FILE *out, const char *name, const __u64 *b,
		      const __u64 *ub, double sum, bool duration)
{
	uint64_t cum = 0;
	int i;

	for (i = 0; i < FL_HIST_SLOTS; i++) {
		cum += b[i] + ub[i];
		/* slot i holds integers in [2^(i-1), 2^i): at most 2^i - 1 */
		if (duration)
			fprintf(out, "%s_bucket{le=\"%g\"} %llu\n", name,
				(double)(1ULL << i) / 1e6, (unsigned long long)cum);
		else
			fprintf(out, "%s_bucket{le=\"%llu\"} %llu\n", name,
				(unsigned long long)((1ULL << i) - 1), (unsigned long long)cum);
	}
	fprintf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
	fprintf(out, "%s_sum %.9g\n", name, sum);
	fprintf(out, "%s_count %llu\n", name, (unsigned long long)cum);
}

static const char *mode_of(const struct fl_probe_set *ps, unsigned int sig)
{
	const struct fl_probe *p = fl_probes_get(ps, sig);

	return p && p->status == FL_ST_ATTACHED ? fl_mode_name(p->impl) : "none";
}

static enum fl_kind kind_of(unsigned int sig)
{
	int i;

	if (sig == FL_SIG_PF_KERNEL_ATOMIC)
		return FL_K_FAULT;
	for (i = 0; i < fl_nr_probe_defs; i++)
		if (fl_probe_defs[i].sig == sig)
			return fl_probe_defs[i].kind;
	return FL_K_HOUSEKEEPING;
}

static void per_signal(FILE *out, bool om, const char *name, const char *help,
		       const struct fl_metrics_snapshot *s, const __u64 *v,
		       enum fl_kind kind, bool with_mode)
{
	unsigned int sig;

	family(out, om, name, M_COUNTER, help);
	for (sig = 1; sig < FL_SIG__MAX; sig++) {
		if (!with_mode && kind_of(sig) != kind)
			continue;
		fprintf(out, "%s{signal=\"%s\"", name, fl_sig_name(sig));
		if (with_mode)
			fprintf(out, ",mode=\"%s\"", mode_of(s->probes, sig));
		fprintf(out, "} %llu\n", (unsigned long long)v[sig]);
	}
}

void fl_metrics_render(FILE *out, bool om, const struct fl_metrics_snapshot *s,
		       struct fl_user_stats *u)
{
	const struct fl_stats *b = &s->bpf;
	int i;

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

	family(out, om, "faultloop_loops_detected_total", M_COUNTER,
	       "Episodes whose retries reached the threshold, by signal, loop owner and comm (16 comms, then \"other\").");
	pthread_mutex_lock(&u->lock);
	for (i = 0; i < u->nloops; i++) {
		const struct fl_loop_series *l = &u->loops[i];

		fprintf(out, "faultloop_loops_detected_total{signal=\"%s\",owner=\"%s\",comm=\"",
			fl_sig_name(l->sig), l->owner ? fl_sig_name(l->owner) : "unknown");
		esc(out, l->comm);
		fprintf(out, "\"} %llu\n", (unsigned long long)l->count);
	}
	if (u->loops_overflow)
		fprintf(out, "faultloop_loops_detected_total{signal=\"other\",owner=\"other\",comm=\"other\"} %llu\n",
			(unsigned long long)u->loops_overflow);

	scalar(out, om, "faultloop_loops_active", M_GAUGE,
	       "Episodes over the threshold that have not ended.", s->loops_active);

	family(out, om, "faultloop_episode_retries", M_HISTOGRAM,
	       "Retries per ended episode.");
	histogram(out, "faultloop_episode_retries", b->hist_retries, u->hist_retries,
		  (double)(b->sum_retries + u->sum_retries), false);
	family(out, om, "faultloop_episode_duration_seconds", M_HISTOGRAM,
	       "Duration of ended episodes.");
	histogram(out, "faultloop_episode_duration_seconds", b->hist_duration_us,
		  u->hist_duration_us, (b->sum_duration_ns + u->sum_duration_ns) / 1e9, true);
	pthread_mutex_unlock(&u->lock);

	scalar(out, om, "faultloop_reports_lost_total", M_COUNTER,
	       "Reports dropped because the ring buffer was full.", b->cnt[FL_CNT_REPORTS_LOST]);
	scalar(out, om, "faultloop_tasks_untracked_total", M_COUNTER,
	       "Events of tasks not tracked because the episode map was full (--max-tasks).",
	       b->cnt[FL_CNT_EPISODES_DROPPED]);

	scalar(out, om, "faultloop_stuck_tasks", M_GAUGE,
	       "Tasks found spinning in the kernel without a context switch when faultloop started, still there.",
	       s->nstuck);
	family(out, om, "faultloop_stuck_task_seconds", M_GAUGE,
	       "How long each stuck task has been on its CPU in the kernel, by pid, tid, comm and syscall.");
	for (i = 0; i < s->nstuck; i++) {
		const struct fl_stuck_task *t = &s->stuck[i];
		const char *name = t->syscall >= 0 ? fl_syscall_name(t->syscall) : NULL;

		fprintf(out, "faultloop_stuck_task_seconds{pid=\"%u\",tid=\"%u\",comm=\"", t->pid, t->tid);
		esc(out, t->comm);
		if (name)
			fprintf(out, "\",syscall=\"%s\"} %.3f\n", name, t->on_cpu_ns / 1e9);
		else if (t->syscall >= 0)
			fprintf(out, "\",syscall=\"%ld\"} %.3f\n", t->syscall, t->on_cpu_ns / 1e9);
		else
			fprintf(out, "\",syscall=\"unknown\"} %.3f\n", t->on_cpu_ns / 1e9);
	}

	family(out, om, "faultloop_probe_info", M_INFO,
	       "One series per probe: the symbol and mode attached, or why not (status).");
	for (i = 0; s->probes && i < s->probes->n; i++) {
		const struct fl_probe *p = &s->probes->probes[i];
		bool ok = p->status == FL_ST_ATTACHED;

		fprintf(out, "faultloop_probe_info{signal=\"%s\",kind=\"%s\",symbol=\"", p->def->name,
			fl_kind_name(p->def->kind));
		esc(out, ok ? p->sym : p->def->cand[0].sym);
		fprintf(out, "\",mode=\"%s\",status=\"%s\"} 1\n", ok ? fl_mode_name(p->impl) : "none",
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

	family(out, om, "faultloop_build_info", M_INFO, "faultloop's version.");
	fprintf(out, "faultloop_build_info{version=\"");
	esc(out, s->version ? s->version : "unknown");
	fprintf(out, "\"} 1\n");
	if (om)
		fputs("# EOF\n", out);
}

/* ---- HTTP ------------------------------------------------------------------- */

struct fl_http {
	struct MHD_Daemon *d;
	fl_snapshot_fn snap;
	fl_snapshot_free_fn snap_free;
	void *ctx;
	struct fl_user_stats *u;
};

int fl_metrics_parse_listen(const char *s, void *ss, unsigned int *len, const char **why)
{
	struct sockaddr_in *v4 = ss;
	struct sockaddr_in6 *v6 = ss;
	char host[128] = "127.0.0.1";
	const char *port_s = s, *colon;
	uint64_t port;
	bool is6 = false;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host)) {
			*why = "expected [IPV6]:PORT";
			return -EINVAL;
		}
		memcpy(host, s + 1, end - s - 1);
		host[end - s - 1] = 0;
		port_s = end + 2;
		is6 = true;
	} else if ((colon = strrchr(s, ':'))) {
		if ((size_t)(colon - s) >= sizeof(host)) {
			*why = "address too long";
			return -EINVAL;
		}
		memcpy(host, s, colon - s);
		host[colon - s] = 0;
		if (!host[0])
			strcpy(host, "0.0.0.0");
		port_s = colon + 1;
	}
	if (parse_u64(port_s, 1, 65535, &port, why)) {
		*why = "port must be 1-65535";
		return -EINVAL;
	}
	memset(ss, 0, sizeof(struct sockaddr_in6));
	if (is6) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host, &v6->sin6_addr) != 1) {
			*why = "not an IPv6 address";
			return -EINVAL;
		}
		*len = sizeof(*v6);
	} else {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		if (inet_pton(AF_INET, host, &v4->sin_addr) != 1) {
			*why = "not an IPv4 address";
			return -EINVAL;
		}
		*len = sizeof(*v4);
	}
	return 0;
}

static const char landing[] =
	"<!DOCTYPE html>\n<html><head><title>faultloop</title></head><body>\n"
	"<h1>faultloop</h1>\n"
	"<p>Catches the kernel stuck in fault-in/uaccess retry loops.</p>\n"
	"<p><a href=\"/metrics\">Metrics</a></p>\n</body></html>\n";

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int code,
			     const char *type, const char *body, size_t len,
			     bool must_free)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)body,
					    must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		if (must_free)
			free((void *)body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

/* OpenMetrics only when the scraper asks for it (Prometheus does). */
static bool wants_openmetrics(struct MHD_Connection *c)
{
	const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);

	return accept && strstr(accept, "application/openmetrics-text");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version,
			       const char *upload, size_t *upload_size, void **state)
{
	static int first_call;
	struct fl_http *h = cls;
	struct fl_metrics_snapshot snap;
	char *body = NULL;
	size_t len = 0;
	bool om;
	FILE *f;

	(void)version;
	(void)upload;
	if (strcmp(method, MHD_HTTP_METHOD_GET)) {
		/* drain any request body, then refuse */
		if (*upload_size) {
			*upload_size = 0;
			return MHD_YES;
		}
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
			     "405 method not allowed: use GET\n", 32, false);
	}
	if (!*state) {		/* headers only so far */
		*state = &first_call;
		return MHD_YES;
	}
	if (*upload_size) {	/* GET with a body: ignore it */
		*upload_size = 0;
		return MHD_YES;
	}
	if (!strcmp(url, "/"))
		return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", landing,
			     sizeof(landing) - 1, false);
	if (strcmp(url, "/metrics"))
		return reply(c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8",
			     "404 not found: try /metrics\n", 28, false);

	memset(&snap, 0, sizeof(snap));
	if (h->snap(h->ctx, &snap)) {
		pthread_mutex_lock(&h->u->lock);
		h->u->http_errors++;
		pthread_mutex_unlock(&h->u->lock);
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
			     "500 cannot read the BPF maps\n", 29, false);
	}
	om = wants_openmetrics(c);
	f = open_memstream(&body, &len);
	if (!f) {
		h->snap_free(h->ctx, &snap);
		return MHD_NO;
	}
	fl_metrics_render(f, om, &snap, h->u);
	fclose(f);
	h->snap_free(h->ctx, &snap);
	pthread_mutex_lock(&h->u->lock);
	h->u->scrapes++;
	pthread_mutex_unlock(&h->u->lock);
	return reply(c, MHD_HTTP_OK,
		     om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
			: "text/plain; version=0.0.4; charset=utf-8",
		     body, len, true);
}

struct fl_http *fl_http_start(const void *sa, unsigned int len, fl_snapshot_fn snap,
			      fl_snapshot_free_fn snap_free, void *ctx,
			      struct fl_user_stats *u)
{
	struct fl_http *h = calloc(1, sizeof(*h));
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;

	if (!h)
		return NULL;
	(void)len;
	h->snap = snap;
	h->snap_free = snap_free;
	h->ctx = ctx;
	h->u = u;
	if (((const struct sockaddr *)sa)->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/*
	 * One polling thread; bounded connections (a scraper needs one),
	 * 10 s idle timeout against slow clients, 32 KiB of memory per
	 * connection so oversized headers are refused, not buffered.
	 */
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, h,
				MHD_OPTION_SOCK_ADDR, sa,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)32,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)16,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024,
				MHD_OPTION_END);
	if (!h->d) {
		free(h);
		return NULL;
	}
	return h;
}

void fl_http_stop(struct fl_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
