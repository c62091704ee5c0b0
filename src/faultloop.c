// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * faultloop: catch the kernel stuck in a fault-in / uaccess retry loop.
 */
#define _GNU_SOURCE
#include <argp.h>
#include <pthread.h>
#include <time.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "faultloop.h"
#include "faultloop.skel.h"
#include "cgroup.h"
#include "hz.h"
#include "json.h"
#include "ksyms.h"
#ifndef FL_NO_METRICS
#include "metrics.h"
#else
#include "metrics_stub.h"
#endif
#include "probes.h"
#include "report.h"
#include "stuck.h"
#include "util.h"

#ifndef FAULTLOOP_VERSION
#define FAULTLOOP_VERSION "0.1.0"
#endif

/* Benign maxima measured on the race workload and ordinary load are
 * documented in README ("Choosing the threshold"); the default sits well
 * above them while a real live-lock reaches it within milliseconds. */
#define DEFAULT_THRESHOLD	64
/* A live-lock never ends; contended copies under emulation retry thousands
 * of times and finish within half a second (README, "Choosing the
 * threshold"): a loop must also last this long before it is reported. */
#define DEFAULT_MIN_DURATION_NS	(1000ULL * 1000000ULL)
#define DEFAULT_GAP_NS		(1000ULL * 1000000ULL)
#define DEFAULT_INTERVAL_NS	(1000ULL * 1000000ULL)
#define DEFAULT_MAX_TASKS	4096

static struct env {
	__u32 pid;
	const char *cgroup;
	__u32 threshold;
	__u64 min_duration_ns;
	__u64 gap_ns;
	__u64 interval_ns;
	__u64 duration_ns;
	__u32 max_tasks;
	enum fl_mode_sel mode;
	bool probes;
	bool json;
	int verbose;
	const char *metrics;	/* [ADDR:]PORT or "off" */
	bool bpf_stats;
} env = {
	.threshold = DEFAULT_THRESHOLD,
	.min_duration_ns = DEFAULT_MIN_DURATION_NS,
	.gap_ns = DEFAULT_GAP_NS,
	.interval_ns = DEFAULT_INTERVAL_NS,
	.max_tasks = DEFAULT_MAX_TASKS,
	.mode = FL_SEL_AUTO,
#ifndef FL_NO_METRICS
	.metrics = "127.0.0.1:19477",
#else
	.metrics = "off",
#endif
};

const char *argp_program_version = "faultloop " FAULTLOOP_VERSION;
const char *argp_program_bug_address = "<https://github.com/faultloop/faultloop/issues>";
static const char argp_program_doc[] =
"Catch the kernel stuck in a fault-in/uaccess retry loop.\n"
"\n"
"A task's episode is the run of fault-in attempts, failed atomic/nofault\n"
"copies and kernel page faults it makes on user addresses; an event that\n"
"comes back inside the address range its probe already covered is a\n"
"retry. An episode that reaches the threshold of retries and has lasted\n"
"--min-duration is a loop: reported DETECTED once, ONGOING while it lasts\n"
"(rate limited), ENDED with totals.\n"
"\v"
"EXAMPLES:\n"
"    faultloop                     # watch every task, default threshold\n"
"    faultloop --probes            # what can be attached on this kernel\n"
"    faultloop --probes --json     # the same, machine readable\n"
"    faultloop -p 1234 -t 8        # one process, report at 8 retries\n"
"    faultloop -t 2 -D 0 --json    # every episode with 2 retries, however short\n"
"    faultloop --cgroup /system.slice/foo.service --json\n"
"    faultloop --mode kprobe -d 60 # kprobes for functions, stop after 60 s\n"
"    faultloop --metrics :19477    # metrics on every address (default: loopback)\n"
"    faultloop --metrics off --json\n";

enum {
	OPT_PROBES = 0x100,
	OPT_MAX_TASKS,
	OPT_INTERVAL,
	OPT_METRICS,
	OPT_BPF_STATS,
};

static const struct argp_option opts[] = {
	{ "pid", 'p', "PID", 0, "Only this process (tgid)", 0 },
	{ "cgroup", 'c', "PATH", 0, "Only tasks in this cgroup v2 (absolute, or relative to the cgroup2 mount)", 0 },
	{ "threshold", 't', "N", 0, "Report an episode once it has N retries (default 64)", 0 },
	{ "min-duration", 'D', "DURATION", 0, "A loop must also have lasted this long (default 1s; 0: retries alone)", 0 },
	{ "gap", 'g', "DURATION", 0, "Idle gap that ends an episode (default 1s; units ns us ms s m h)", 0 },
	{ "metrics", OPT_METRICS, "[ADDR:]PORT|off", 0, "Serve Prometheus metrics on GET /metrics (default 127.0.0.1:19477)", 0 },
	{ "bpf-stats", OPT_BPF_STATS, NULL, 0, "Enable the kernel's BPF run-time stats and export them (costs a little per event)", 0 },
	{ "interval", OPT_INTERVAL, "DURATION", 0, "Minimum time between ONGOING reports of one loop (default 1s)", 0 },
	{ "duration", 'd', "SECONDS", 0, "Stop after this long (default: until SIGINT/SIGTERM)", 0 },
	{ "mode", 'm', "MODE", 0, "auto|fentry|kprobe|tracepoint: attach modes for function probes (tracepoints always attach)", 0 },
	{ "max-tasks", OPT_MAX_TASKS, "N", 0, "Retrying tasks tracked at once (default 4096)", 0 },
	{ "probes", OPT_PROBES, NULL, 0, "Print which probes attach on this kernel and exit", 0 },
	{ "json", 'j', NULL, 0, "One JSON object per line", 0 },
	{ "verbose", 'v', NULL, 0, "Verbose debug output (twice: libbpf too)", 0 },
	{ NULL, 'h', NULL, OPTION_HIDDEN, "Show the full help", 0 },
	{},
};

static int bad_value(struct argp_state *state, const char *flag,
		     const char *arg, const char *why)
{
	/* one line, exit status 2 (argp_error would add a usage hint) */
	argp_failure(state, 2, 0, "invalid %s '%s': %s", flag, arg, why);
	return EINVAL;	/* not reached */
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	const char *why;
	uint64_t v;

	switch (key) {
	case 'p':
		if (parse_u64(arg, 1, 0x3fffffff, &v, &why))	/* PID_MAX_LIMIT */
			return bad_value(state, "--pid", arg, why);
		env.pid = v;
		break;
	case 'c':
		if (!*arg)
			return bad_value(state, "--cgroup", arg, "empty path");
		env.cgroup = arg;
		break;
	case 't':
		if (parse_u64(arg, 1, 1000000000, &v, &why))
			return bad_value(state, "--threshold", arg, why);
		env.threshold = v;
		break;
	case 'D':
		if (parse_duration_ns(arg, 1000000000ULL, 0, 3600ULL * 1000000000ULL, &v, &why))
			return bad_value(state, "--min-duration", arg, why);
		env.min_duration_ns = v;
		break;
	case 'g':
		if (parse_duration_ns(arg, 1000000ULL, 1000000ULL, 3600ULL * 1000000000ULL, &v, &why))
			return bad_value(state, "--gap", arg,
					 !strcmp(why, "too small") ? "must be at least 1ms" : why);
		env.gap_ns = v;
		break;
	case OPT_METRICS: {
		struct sockaddr_storage ss;
		unsigned int len;

		if (strcmp(arg, "off") && fl_metrics_parse_listen(arg, &ss, &len, &why))
			return bad_value(state, "--metrics", arg, why);
		env.metrics = arg;
		break;
	}
	case OPT_BPF_STATS:
		env.bpf_stats = true;
		break;
	case OPT_INTERVAL:
		if (parse_duration_ns(arg, 1000000ULL, 10000000ULL, 3600ULL * 1000000000ULL, &v, &why))
			return bad_value(state, "--interval", arg,
					 !strcmp(why, "too small") ? "must be at least 10ms" : why);
		env.interval_ns = v;
		break;
	case 'd':
		if (parse_duration_ns(arg, 1000000000ULL, 1000000ULL, 365ULL * 86400 * 1000000000ULL, &v, &why))
			return bad_value(state, "--duration", arg, why);
		env.duration_ns = v;
		break;
	case 'm':
		if (fl_mode_sel_parse(arg, &env.mode))
			return bad_value(state, "--mode", arg, "expected auto, fentry, kprobe or tracepoint");
		break;
	case OPT_MAX_TASKS:
		if (parse_u64(arg, 1, 1 << 22, &v, &why))
			return bad_value(state, "--max-tasks", arg, why);
		env.max_tasks = v;
		break;
	case OPT_PROBES:
		env.probes = true;
		break;
	case 'j':
		env.json = true;
		break;
	case 'v':
		env.verbose++;
		break;
	case 'h':
		argp_state_help(state, stderr, ARGP_HELP_STD_HELP);
		break;
	case ARGP_KEY_ARG:
		argp_failure(state, 2, 0, "unexpected argument '%s' (see --help)", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static int libbpf_print_fn(enum libbpf_print_level level, const char *format,
			   va_list args)
{
	if (level == LIBBPF_DEBUG && env.verbose < 2)
		return 0;
	if (level == LIBBPF_INFO && env.verbose < 1)
		return 0;
	return vfprintf(stderr, format, args);
}

static volatile sig_atomic_t exiting;

static void sig_handler(int sig)
{
	(void)sig;
	exiting = 1;
}

/* ---- preflight ----------------------------------------------------------- */

static bool has_cap(unsigned int cap)
{
	char line[256];
	unsigned long long eff = 0;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return cap < 64 && (eff >> cap) & 1;
}

static int preflight(void)
{
	/* CAP_BPF (39) + CAP_PERFMON (38) since 5.8; CAP_SYS_ADMIN (21) before */
	if (!has_cap(21) && !(has_cap(39) && has_cap(38))) {
		fprintf(stderr, "faultloop: needs root or CAP_BPF and CAP_PERFMON (running as uid %u without them)\n",
			getuid());
		return -EPERM;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		fprintf(stderr, "faultloop: this kernel has no BTF (/sys/kernel/btf/vmlinux: %s); "
			"faultloop needs CONFIG_DEBUG_INFO_BTF=y\n", strerror(errno));
		return -ENOENT;
	}
	return 0;
}

/* ---- calibration objects -------------------------------------------------- */

struct trial_ctx {
	struct faultloop_bpf *skel;
};

static struct bpf_object *trial_open(void *p)
{
	struct trial_ctx *t = p;

	t->skel = faultloop_bpf__open();
	return t->skel ? t->skel->obj : NULL;
}

static void trial_close(void *p, struct bpf_object *obj)
{
	struct trial_ctx *t = p;

	(void)obj;
	faultloop_bpf__destroy(t->skel);
	t->skel = NULL;
}

/* Load one program alone, the way fl_probes_select() trials probes. */
static bool trial_load_prog(const char *name)
{
	struct faultloop_bpf *skel = faultloop_bpf__open();
	libbpf_print_fn_t old = NULL;
	struct bpf_program *prog;
	struct bpf_map *map;
	int err;

	if (!skel)
		return false;
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, !strcmp(bpf_program__name(prog), name));
	bpf_object__for_each_map(map, skel->obj) {
		if (bpf_map__type(map) == BPF_MAP_TYPE_RINGBUF)
			bpf_map__set_max_entries(map, 4096);
		else if (bpf_map__type(map) == BPF_MAP_TYPE_HASH)
			bpf_map__set_max_entries(map, 1);
	}
	if (env.verbose < 2)
		old = libbpf_set_print(NULL);
	err = faultloop_bpf__load(skel);
	if (env.verbose < 2)
		libbpf_set_print(old);
	if (err && env.verbose)
		fprintf(stderr, "faultloop: %s does not load here: %s\n", name, strerror(-err));
	faultloop_bpf__destroy(skel);
	return !err;
}

/* ---- runtime -------------------------------------------------------------- */

/* Threads found spinning in the kernel (stuck.h); the HTTP thread reads t[]. */
struct stuck_state {
	pthread_mutex_t lock;
	struct fl_stuck_task t[FL_STUCK_MAX];
	int n;
	struct fl_proc_sample prev;	/* the last sample of exactly t[] */
	struct bpf_link *iter;		/* fl_task_iter; NULL: syscall unknown */
	long clk_tck;
};

/* The owner a DETECTED report named, for the ENDED report of the same
 * episode when no owner probe returned (its stack is not the loop's). */
#define OWNER_SLOTS 256

struct runtime {
	struct faultloop_bpf *skel;
	struct fl_probe_set *set;
	struct stuck_state stuck;
	struct { __u32 tid; __u8 owner; } owners[OWNER_SLOTS];
	struct fl_report_ctx rctx;
	struct fl_user_stats ustats;
	int stats_fd;		/* BPF_ENABLE_STATS, -1 when off */
	__u64 reports_seen;
	__u64 swept;
};

static void print_report(struct runtime *rt, const struct fl_report *r);

static int handle_report(void *ctx, void *data, size_t len)
{
	struct runtime *rt = ctx;
	const struct fl_report *r = data;

	if (len < sizeof(struct fl_report))
		return 0;
	rt->reports_seen++;
	print_report(rt, r);
	return 0;
}

static void print_report(struct runtime *rt, const struct fl_report *r)
{
	unsigned int slot = r->tid % OWNER_SLOTS;

	if (r->kind == FL_REPORT_DETECTED) {
		unsigned int owner = fl_report_owner_sig(r, rt->rctx.ks);

		fl_user_stats_loop(&rt->ustats, r->sig, owner, r->comm, sizeof(r->comm));
		rt->owners[slot].tid = r->tid;
		rt->owners[slot].owner = owner;
	} else if (r->kind == FL_REPORT_ENDED && !r->owner && r->stack_sz <= 0 &&
		   rt->owners[slot].tid == r->tid && rt->owners[slot].owner) {
		struct fl_report copy;

		memcpy(&copy, r, sizeof(copy));
		copy.owner = rt->owners[slot].owner;
		fl_report_print(&rt->rctx, &copy);
		return;
	}
	fl_report_print(&rt->rctx, r);
}

static void report_from_episode(struct runtime *rt, const struct fl_episode *ep,
				__u8 reason, __u64 now)
{
	struct fl_report r = {};
	__u64 end = reason == FL_END_GAP ? ep->last_ns : now;

	r.kind = FL_REPORT_ENDED;
	r.sig = ep->top_sig;
	r.reason = reason;
	r.flags = ep->flags;
	r.pid = ep->pid;
	r.tid = ep->tid;
	r.ts_ns = now;
	r.start_ns = ep->start_ns;
	r.duration_ns = end - ep->start_ns;
	r.cgroup_id = ep->cgroup_id;
	r.addr = ep->addr;
	r.size = ep->size;
	r.retries = ep->retries;
	r.events = ep->events;
	r.sig_mask = ep->sig_mask;
	r.owner_ret = ep->owner_ret;
	memcpy(r.comm, ep->comm, sizeof(r.comm));
	r.stack_sz = 0;
	print_report(rt, &r);
}

/*
 * Episodes that simply stop get no further event to close them in BPF;
 * end them here after the gap.  With all = true (detach) every episode that
 * crossed the threshold gets its ENDED.
 */
/* Keys first: deleting while walking would restart the walk. */
static int episode_keys(int fd, __u32 *keys, int max)
{
	__u32 key, *prev = NULL;
	int n = 0;

	while (n < max && bpf_map_get_next_key(fd, prev, &key) == 0) {
		keys[n] = key;
		prev = &keys[n++];
	}
	return n;
}

static void sweep(struct runtime *rt, bool all)
{
	int fd = bpf_map__fd(rt->skel->maps.episodes), n, i;
	__u32 *keys = calloc(env.max_tasks, sizeof(*keys));
	struct fl_episode ep;
	__u64 now = now_mono_ns();

	if (!keys)
		return;
	n = episode_keys(fd, keys, env.max_tasks);
	for (i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(fd, &keys[i], &ep))
			continue;
		if (!all && (now < ep.last_ns || now - ep.last_ns <= env.gap_ns))
			continue;
		if (bpf_map_delete_elem(fd, &keys[i]))
			continue;
		/* only after a delete that succeeded: see nr_promoted */
		__atomic_fetch_sub(&rt->skel->bss->nr_promoted, 1, __ATOMIC_RELAXED);
		rt->swept++;
		fl_user_stats_episode(&rt->ustats, ep.retries, ep.last_ns - ep.start_ns);
		if (ep.flags & FL_EP_REPORTED)
			report_from_episode(rt, &ep, all ? FL_END_DETACH : FL_END_GAP, now);
	}
	free(keys);
}

static int read_stats(struct faultloop_bpf *skel, struct fl_stats *sum);

/* ---- tasks stuck in the kernel ---------------------------------------------- */

/* The syscall and time on CPU of stuck threads, from the task iterator. */
static void stuck_enrich(struct stuck_state *st, struct fl_stuck_task *t, int n)
{
	struct fl_task_rec r;
	int fd, i;

	for (i = 0; i < n; i++)
		if (t[i].on_cpu_ns < t[i].quiet_ns)
			t[i].on_cpu_ns = t[i].quiet_ns;	/* at least what we saw */
	if (!st->iter)
		return;
	fd = bpf_iter_create(bpf_link__fd(st->iter));
	if (fd < 0)
		return;
	while (read(fd, &r, sizeof(r)) == sizeof(r)) {
		for (i = 0; i < n; i++) {
			if (t[i].tid != r.tid)
				continue;
			t[i].syscall = r.syscall;
			/* sched_clock and ktime both count from boot; a
			 * last_arrival in the future is clock skew: ignore */
			if (r.last_arrival_ns && r.now_ns > r.last_arrival_ns &&
			    r.now_ns - r.last_arrival_ns > t[i].on_cpu_ns)
				t[i].on_cpu_ns = r.now_ns - r.last_arrival_ns;
		}
	}
	close(fd);
}

/* Keep prev as the sample of exactly the threads in st->t[], in order. */
static void stuck_keep(struct stuck_state *st, const struct fl_proc_sample *b)
{
	int i, j, k = 0;

	for (i = 0; i < st->n; i++)
		for (j = 0; j < b->n; j++)
			if (b->t[j].tid == st->t[i].tid && k < st->prev.cap)
				st->prev.t[k++] = b->t[j];
	st->prev.n = k;
	st->prev.mono_ns = b->mono_ns;
}

/*
 * First verdict, before any probe is armed: sample `a` was taken before
 * probe selection, so its seconds of trial loads are the window.
 */
static int stuck_first(struct runtime *rt, struct fl_proc_sample *a)
{
	struct stuck_state *st = &rt->stuck;
	struct fl_proc_sample b = {};
	__u64 waited = now_mono_ns() - a->mono_ns;
	int n, i;

	if (a->n <= 0)
		return 0;
	if (waited < FL_STUCK_WINDOW_NS) {
		struct timespec ts = { 0, (long)(FL_STUCK_WINDOW_NS - waited) };

		nanosleep(&ts, NULL);
	}
	if (fl_proc_resample(&b, a, "/proc") < 0)
		return 0;
	n = fl_stuck_find(a, &b, st->clk_tck, st->t, FL_STUCK_MAX);
	stuck_enrich(st, st->t, n);
	st->prev.t = calloc(FL_STUCK_MAX, sizeof(*st->prev.t));
	st->prev.cap = st->prev.t ? FL_STUCK_MAX : 0;
	pthread_mutex_lock(&st->lock);
	st->n = n;
	pthread_mutex_unlock(&st->lock);
	stuck_keep(st, &b);
	fl_proc_sample_free(&b);
	for (i = 0; i < n; i++) {
		const struct fl_stuck_task *t = &st->t[i];
		const char *name = t->syscall >= 0 ? fl_syscall_name(t->syscall) : NULL;

		fprintf(stderr, "faultloop: task %u (%s, tid %u) is stuck in the kernel on CPU %d: "
			"%u%% system time, no context switch for %.1fs%s%s\n",
			t->pid, t->comm, t->tid, t->cpu, t->sys_pct, t->on_cpu_ns / 1e9,
			t->syscall >= 0 ? ", syscall " : "", t->syscall >= 0 ? (name ? name : "?") : "");
	}
	return n;
}

/* While stuck threads remain: drop those that scheduled or left. */
static void stuck_recheck(struct runtime *rt, __u64 now)
{
	struct stuck_state *st = &rt->stuck;
	struct fl_proc_sample b = {};
	struct fl_stuck_task keep[FL_STUCK_MAX];
	int i, j, k = 0;

	if (!st->n || now - st->prev.mono_ns < FL_STUCK_WINDOW_NS)
		return;
	if (fl_proc_resample(&b, &st->prev, "/proc") < 0)
		return;
	for (i = 0; i < st->n; i++) {
		const struct fl_task_stat *pa = NULL, *pb = NULL;
		unsigned int pct = 0;

		for (j = 0; j < st->prev.n; j++)
			if (st->prev.t[j].tid == st->t[i].tid)
				pa = &st->prev.t[j];
		for (j = 0; j < b.n; j++)
			if (b.t[j].tid == st->t[i].tid)
				pb = &b.t[j];
		if (pa && pb && fl_stuck_judge(pa, pb, b.mono_ns - st->prev.mono_ns,
					       st->clk_tck, &pct)) {
			keep[k] = st->t[i];
			keep[k].quiet_ns += b.mono_ns - st->prev.mono_ns;
			keep[k].sys_pct = pct > 100 ? 100 : pct;
			k++;
		} else {
			fl_report_print_stuck(&rt->rctx, &st->t[i], true, now);
		}
	}
	stuck_enrich(st, keep, k);
	pthread_mutex_lock(&st->lock);
	memcpy(st->t, keep, k * sizeof(keep[0]));
	st->n = k;
	pthread_mutex_unlock(&st->lock);
	stuck_keep(st, &b);
	fl_proc_sample_free(&b);
}

/* ---- metrics snapshot (HTTP thread) --------------------------------------- */

static int take_snapshot(void *ctx, struct fl_metrics_snapshot *snap)
{
	struct runtime *rt = ctx;
	int fd = bpf_map__fd(rt->skel->maps.episodes), n, i, j;
	__u32 *keys;
	struct fl_episode ep;

	if (read_stats(rt->skel, &snap->bpf))
		return -EIO;
	snap->probes = rt->set;
	snap->version = FAULTLOOP_VERSION;
	pthread_mutex_lock(&rt->stuck.lock);
	snap->nstuck = rt->stuck.n;
	memcpy(snap->stuck, rt->stuck.t, rt->stuck.n * sizeof(rt->stuck.t[0]));
	pthread_mutex_unlock(&rt->stuck.lock);
	keys = calloc(env.max_tasks, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	n = episode_keys(fd, keys, env.max_tasks);
	for (i = 0; i < n; i++)
		if (!bpf_map_lookup_elem(fd, &keys[i], &ep) && (ep.flags & FL_EP_REPORTED))
			snap->loops_active++;
	free(keys);
	snap->bpf_stats = rt->stats_fd >= 0;
	if (!snap->bpf_stats)
		return 0;
	snap->progs = calloc(2 * rt->set->n, sizeof(*snap->progs));
	if (!snap->progs)
		return -ENOMEM;
	for (i = 0; i < rt->set->n; i++) {
		const struct fl_probe *p = &rt->set->probes[i];

		if (p->status != FL_ST_ATTACHED)
			continue;
		for (j = 0; j < 2; j++) {
			const char *name = j ? p->impl->exit : p->impl->entry;
			struct bpf_program *prog;
			struct bpf_prog_info info = {};
			__u32 len = sizeof(info);

			if (!name)
				continue;
			prog = bpf_object__find_program_by_name(rt->skel->obj, name);
			if (!prog || bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
				continue;
			snprintf(snap->progs[snap->nprogs].name, sizeof(snap->progs[0].name), "%s", name);
			snap->progs[snap->nprogs].run_cnt = info.run_cnt;
			snap->progs[snap->nprogs].run_time_ns = info.run_time_ns;
			snap->nprogs++;
		}
	}
	return 0;
}

static void free_snapshot(void *ctx, struct fl_metrics_snapshot *snap)
{
	(void)ctx;
	free(snap->progs);
	snap->progs = NULL;
}

/*
 * Once attached, faultloop needs only bpf() on the fds it holds: keep
 * CAP_BPF (5.8+; with kernel.unprivileged_bpf_disabled, kernels before
 * 6.5 refuse every bpf() command without it) and drop everything else,
 * bounding set included.
 */
static int drop_capabilities(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = {};
	int cap, last = 40;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");

	if (f) {
		if (fscanf(f, "%d", &last) != 1)
			last = 40;
		fclose(f);
	}
	for (cap = 0; cap <= last; cap++)
		if (cap != CAP_BPF)
			prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	data[CAP_TO_INDEX(CAP_BPF)].effective = CAP_TO_MASK(CAP_BPF);
	data[CAP_TO_INDEX(CAP_BPF)].permitted = CAP_TO_MASK(CAP_BPF);
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ? -errno : 0;
}

static int read_stats(struct faultloop_bpf *skel, struct fl_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus(), i, j;
	struct fl_stats *per;
	__u32 zero = 0;

	if (ncpu <= 0)
		return -EINVAL;
	per = calloc(ncpu, sizeof(*per));
	if (!per)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.stats), &zero, per)) {
		free(per);
		return -errno;
	}
	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < ncpu; i++) {
		__u64 *src = (__u64 *)&per[i], *dst = (__u64 *)sum;

		for (j = 0; j < (int)(sizeof(*sum) / sizeof(__u64)); j++)
			dst[j] += src[j];
	}
	free(per);
	return 0;
}

static void print_exit_stats(struct runtime *rt)
{
	struct fl_stats s;
	__u64 events = 0;
	int i;

	if (read_stats(rt->skel, &s))
		return;
	for (i = 0; i < FL_SIG__MAX; i++)
		events += s.events[i];
	fprintf(stderr,
		"faultloop: %llu events, %llu episodes, %llu retries, %llu loops detected, "
		"%llu reports lost, %llu tasks untracked (map full), %llu stash drops\n",
		(unsigned long long)events, (unsigned long long)s.cnt[FL_CNT_EPISODES],
		(unsigned long long)s.cnt[FL_CNT_RETRIES],
		(unsigned long long)s.cnt[FL_CNT_DETECTED],
		(unsigned long long)s.cnt[FL_CNT_REPORTS_LOST],
		(unsigned long long)s.cnt[FL_CNT_EPISODES_DROPPED],
		(unsigned long long)s.cnt[FL_CNT_STASH_DROPPED]);
	if (env.verbose)
		for (i = 1; i < FL_SIG__MAX; i++)
			if (s.events[i])
				fprintf(stderr, "  %-28s %12llu events %10llu failed\n",
					fl_sig_name(i), (unsigned long long)s.events[i],
					(unsigned long long)s.failures[i]);
}

/* A copy or fault probe that reports addresses is attached (see
 * faultin_joins_only in bpf/faultloop.bpf.c). */
static bool have_copy_or_fault_signal(const struct fl_probe_set *set)
{
	int i;

	for (i = 0; i < set->n; i++) {
		const struct fl_probe *p = &set->probes[i];

		if (p->status == FL_ST_ATTACHED && p->def->sig < FL_NR_ADDR_SIGS &&
		    (p->def->kind == FL_K_COPY || p->def->kind == FL_K_FAULT) &&
#if defined(__aarch64__)
		    p->def->sig != FL_SIG_FIXUP_EXCEPTION &&	/* no address on arm64 */
#endif
		    true)
			return true;
	}
	return false;
}

/* page_fault_kernel is attached: handle_mm_fault only counts (see
 * mm_fault_count_only in bpf/faultloop.bpf.c). */
static bool have_pf_kernel(const struct fl_probe_set *set)
{
	int i;

	for (i = 0; i < set->n; i++)
		if (set->probes[i].status == FL_ST_ATTACHED &&
		    set->probes[i].def->sig == FL_SIG_PF_KERNEL)
			return true;
	return false;
}

static void set_knobs(struct runtime *rt, const struct fl_probe_set *set)
{
	rt->skel->bss->faultin_joins_only = have_copy_or_fault_signal(set);
	rt->skel->bss->mm_fault_count_only = have_pf_kernel(set);
}

static bool have_address_signal(const struct fl_probe_set *set)
{
	int i;

	for (i = 0; i < set->n; i++)
		if (set->probes[i].status == FL_ST_ATTACHED &&
		    set->probes[i].def->sig < FL_NR_ADDR_SIGS &&
		    set->probes[i].def->sig != FL_SIG_FIXUP_EXCEPTION)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	static const struct argp argp = {
		.options = opts,
		.parser = parse_arg,
		.doc = argp_program_doc,
	};
	struct fl_probe_set set = {};
	struct trial_ctx trial = {};
	struct runtime rt = { .stats_fd = -1 };
	struct fl_http *http = NULL;
	struct ring_buffer *rb = NULL;
	struct ksyms *ks = NULL;
	struct fl_proc_sample running = {};
	__u64 start, last_sweep, sweep_every;
	int err, cg_fd = -1, n, nstuck;
	bool iter_ok, caps_dropped = false;
	const char *hz_source = NULL;
	uint64_t jiffy_ns, gap_j;
	unsigned int hz;

	fl_user_stats_init(&rt.ustats);
	pthread_mutex_init(&rt.stuck.lock, NULL);
	rt.stuck.clk_tck = sysconf(_SC_CLK_TCK);
	err = argp_parse(&argp, argc, argv, 0, NULL, NULL);
	if (err)
		return err;
	libbpf_set_print(libbpf_print_fn);

	err = preflight();
	if (err)
		return 1;

	ks = ksyms__load(NULL);
	if (!ks) {
		fprintf(stderr, "faultloop: cannot read /proc/kallsyms: %s\n", strerror(errno));
		err = -errno;
		goto cleanup;
	}
	if (ksyms__hidden(ks))
		fprintf(stderr, "faultloop: kernel addresses are hidden (kptr_restrict): stacks will not be symbolized\n");

	if (env.cgroup) {
		char resolved[4096];

		cg_fd = cgroup_open(env.cgroup, resolved, sizeof(resolved));
		if (cg_fd < 0) {
			fprintf(stderr, "faultloop: --cgroup '%s': %s\n", env.cgroup, strerror(-cg_fd));
			err = cg_fd;
			goto cleanup;
		}
	}

	rt.rctx.out = stdout;
	rt.rctx.json = env.json;
	rt.rctx.ks = ksyms__hidden(ks) ? NULL : ks;
	rt.rctx.probes = &set;
	rt.rctx.real_minus_mono_ns = (int64_t)(now_real_ns() - now_mono_ns());
	rt.rctx.cgroup_path = cgroup2_mount() ? cgroup_path : NULL;
	rt.set = &set;

	/* Threads running now: the first half of the stuck-task check, whose
	 * window is the probe selection below (stuck_first). */
	if (fl_proc_sample_running(&running, "/proc", getpid()) < 0)
		fprintf(stderr, "faultloop: cannot scan /proc for stuck tasks: %s\n", strerror(errno));
	iter_ok = trial_load_prog("fl_task_iter");
	/* may sleep 200 ms to measure: inside the stuck check's window */
	hz = fl_kernel_hz(&hz_source);

	set.sel = env.mode;
	set.verbose = env.verbose > 1;
	n = fl_probes_select(&set, ks, trial_open, trial_close, &trial);
	if (n < 0) {
		fprintf(stderr, "faultloop: probe selection failed: %s\n", strerror(-n));
		err = n;
		goto cleanup;
	}

	rt.skel = faultloop_bpf__open();
	if (!rt.skel) {
		fprintf(stderr, "faultloop: failed to open BPF object: %s\n", strerror(errno));
		err = -errno;
		goto cleanup;
	}
	rt.skel->rodata->targ_tgid = env.pid;
	rt.skel->rodata->filter_cg = env.cgroup != NULL;
	rt.skel->rodata->threshold = env.threshold;
	rt.skel->rodata->min_duration_ns = env.min_duration_ns;
	rt.skel->rodata->gap_ns = env.gap_ns;
	rt.skel->rodata->ongoing_ns = env.interval_ns;
	fl_clock_knobs(hz, env.gap_ns, &jiffy_ns, &gap_j);
	rt.skel->rodata->jiffy_ns = jiffy_ns;
	rt.skel->rodata->gap_j = gap_j;
	if (!hz)	/* a degradation, not an error: the slot reads the precise clock */
		fprintf(stderr, "faultloop: kernel HZ unknown (%s): using the precise clock on every event\n",
			hz_source);
	else if (env.verbose)
		fprintf(stderr, "faultloop: kernel HZ %u (%s): episodes without a retry keep jiffies\n",
			hz, hz_source);
#if defined(__aarch64__)
	rt.skel->rodata->addr_mask = (1ULL << 56) - 1;	/* TBI: drop the tag */
#endif
	bpf_map__set_max_entries(rt.skel->maps.episodes, env.max_tasks);
	err = fl_probes_prepare(&set, rt.skel->obj);
	if (!fl_probes_need_stash(&set))	/* 385 KiB for nothing otherwise */
		bpf_map__set_max_entries(rt.skel->maps.stash, 1);
	if (!err && iter_ok)
		err = bpf_program__set_autoload(rt.skel->progs.fl_task_iter, true);
	if (!err)
		err = faultloop_bpf__load(rt.skel);
	if (err) {
		fprintf(stderr, "faultloop: failed to load BPF programs: %s\n", strerror(-err));
		goto cleanup;
	}
	if (cg_fd >= 0) {
		__u32 zero = 0;

		if (bpf_map_update_elem(bpf_map__fd(rt.skel->maps.cgroup_filter), &zero, &cg_fd, BPF_ANY)) {
			err = -errno;
			fprintf(stderr, "faultloop: cannot set cgroup filter: %s\n", strerror(errno));
			goto cleanup;
		}
	}

	rb = ring_buffer__new(bpf_map__fd(rt.skel->maps.reports), handle_report, &rt, NULL);
	if (!rb) {
		err = -errno;
		fprintf(stderr, "faultloop: failed to create ring buffer: %s\n", strerror(errno));
		goto cleanup;
	}

	signal(SIGINT, sig_handler);
	signal(SIGTERM, sig_handler);

	if (iter_ok) {
		rt.stuck.iter = bpf_program__attach_iter(rt.skel->progs.fl_task_iter, NULL);
		if (!rt.stuck.iter && env.verbose)
			fprintf(stderr, "faultloop: task iterator: %s (stuck tasks without syscall)\n",
				strerror(errno));
	}
	nstuck = stuck_first(&rt, &running);
	fl_proc_sample_free(&running);
	if (nstuck > 0) {
		int i;

		for (i = 0; i < nstuck; i++)
			fl_report_print_stuck(&rt.rctx, &rt.stuck.t[i], false, now_mono_ns());
		/*
		 * Arming a kprobe or an fentry waits for every CPU: arm64
		 * patches kernel text under stop_machine(); on x86, BPF
		 * trampolines and kprobes wait for RCU-tasks grace periods,
		 * which need every CPU to schedule.  A CPU spinning in the
		 * kernel never does, and faultloop (and often the machine)
		 * stalls behind it: seen on Debian 5.10 arm64 with the btrfs
		 * search_ioctl MTE live-lock, and on 6.1 x86 under qemu with a
		 * writer live-locked in generic_perform_write() (faultloop
		 * blocked in attach for 400 s, rcu_tasks_rude hung).
		 * Tracepoints only flip a static key.
		 */
		set.hold = "a task spins in the kernel; arming waits for every CPU";
		fprintf(stderr, "faultloop: not arming fentry/kprobe probes while %d task(s) spin in the kernel: "
			"arming waits for every CPU (%s), and the spinning one never comes; "
			"they are armed once no task is stuck\n", nstuck,
#if defined(__aarch64__)
			"stop_machine() on arm64"
#else
			"RCU-tasks grace periods on x86"
#endif
			);
	}

	/* --probes attaches for real too: only an attach proves a probe */
	n = fl_probes_attach(&set, rt.skel->obj);
	set_knobs(&rt, &set);
	if (env.probes) {
		if (env.json) {
			struct jw w;

			jw_init(&w, stdout);
			fl_probes_print_json(&set, &w);
			fputc('\n', stdout);
		} else {
			fl_probes_print_table(&set, stdout);
		}
		err = 0;
		goto cleanup;
	}
	if (!have_address_signal(&set) && !fl_probes_count(&set, FL_ST_HELD)) {
		fprintf(stderr, "faultloop: no fault-in, copy or fault probe could be attached on this kernel "
			"(run 'faultloop --probes' for the reasons)\n");
		err = -ENOENT;
		goto cleanup;
	}

	if (env.bpf_stats) {
		/* run counts and times of every BPF program while the fd is open */
		rt.stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (rt.stats_fd < 0) {
			err = rt.stats_fd;
			fprintf(stderr, "faultloop: --bpf-stats: cannot enable BPF stats: %s\n", strerror(-err));
			goto cleanup;
		}
	}
	if (strcmp(env.metrics, "off")) {
		struct sockaddr_storage ss;
		unsigned int sslen;
		const char *why;

		fl_metrics_parse_listen(env.metrics, &ss, &sslen, &why);	/* checked by argp */
		http = fl_http_start(&ss, sslen, take_snapshot, free_snapshot, &rt, &rt.ustats);
		if (!http) {
			err = -EADDRINUSE;
			fprintf(stderr, "faultloop: cannot serve metrics on %s (in use or not a local address; --metrics off disables)\n",
				env.metrics);
			goto cleanup;
		}
	}
	/* held probes still need CAP_PERFMON/CAP_SYS_ADMIN to be armed */
	if (!set.hold) {
		err = drop_capabilities();
		if (err) {
			fprintf(stderr, "faultloop: cannot drop capabilities: %s\n", strerror(-err));
			goto cleanup;
		}
		caps_dropped = true;
	}

	fprintf(stderr, "faultloop: %d probes attached (threshold %u retries, min-duration %llums, gap %llums, mode %s)%s\n",
		n, env.threshold, (unsigned long long)(env.min_duration_ns / 1000000),
		(unsigned long long)(env.gap_ns / 1000000),
		env.mode == FL_SEL_AUTO ? "auto" : env.mode == FL_SEL_FENTRY ? "fentry" :
		env.mode == FL_SEL_KPROBE ? "kprobe" : "tracepoint",
		fl_probes_count(&set, FL_ST_ATTACHED) < set.n ? "; some signals missing:" : "");
	fl_probes_print_summary(&set, stderr);
	if (http)
		fprintf(stderr, "faultloop: metrics on http://%s%s/metrics\n",
			strchr(env.metrics, ':') ? "" : "127.0.0.1:", env.metrics);

	start = last_sweep = now_mono_ns();
	sweep_every = env.gap_ns / 2;
	if (sweep_every < 50000000ULL)
		sweep_every = 50000000ULL;
	if (sweep_every > 1000000000ULL)
		sweep_every = 1000000000ULL;
	while (!exiting) {
		__u64 now;

		err = ring_buffer__poll(rb, 100);
		if (err == -EINTR) {
			err = 0;
			break;
		}
		if (err < 0) {
			fprintf(stderr, "faultloop: polling the ring buffer: %s\n", strerror(-err));
			break;
		}
		err = 0;
		now = now_mono_ns();
		if (now - last_sweep >= sweep_every) {
			sweep(&rt, false);
			stuck_recheck(&rt, now);
			last_sweep = now;
		}
		if (set.hold && !rt.stuck.n) {
			set.hold = NULL;
			n = fl_probes_attach(&set, rt.skel->obj);
			set_knobs(&rt, &set);
			fprintf(stderr, "faultloop: no task is stuck in the kernel any more: %d held probes armed\n", n);
			fl_probes_print_summary(&set, stderr);
		}
		if (!set.hold && !caps_dropped) {
			err = drop_capabilities();
			if (err) {
				fprintf(stderr, "faultloop: cannot drop capabilities: %s\n", strerror(-err));
				break;
			}
			caps_dropped = true;
		}
		if (env.duration_ns && now - start >= env.duration_ns)
			break;
	}
	/* drain what BPF already queued, then close what is still open */
	ring_buffer__consume(rb);
	fl_probes_detach(&set);
	ring_buffer__consume(rb);
	sweep(&rt, true);
	print_exit_stats(&rt);

cleanup:
	fl_http_stop(http);
	bpf_link__destroy(rt.stuck.iter);
	free(rt.stuck.prev.t);
	if (rt.stats_fd >= 0)
		close(rt.stats_fd);
	ring_buffer__free(rb);
	fl_probes_free(&set);
	faultloop_bpf__destroy(rt.skel);
	if (cg_fd >= 0)
		close(cg_fd);
	ksyms__free(ks);
	cgroup_cache_free();
	return err < 0 ? 1 : 0;
}
