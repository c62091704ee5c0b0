// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "faultloop.h"	/* the skeleton's .bss types */
#include "faultloop.skel.h"
#include "cgroup.h"
#include "hz.h"
#include "kconfig.h"
#include "log.h"
#include "ksyms.h"
#include "privs.h"
#include "session.h"
#include "util.h"

/* Trial objects for probe selection: a fresh skeleton each. */
static struct bpf_object *trial_open(void *p)
{
	struct faultloop_bpf **skel = p;

	*skel = faultloop_bpf__open();
	return *skel ? (*skel)->obj : NULL;
}

static void trial_close(void *p, struct bpf_object *obj)
{
	struct faultloop_bpf **skel = p;

	(void)obj;
	faultloop_bpf__destroy(*skel);
	*skel = NULL;
}

/* The stall sampler's rate: enough to see a 1 s loop ten times, cheap
 * enough to leave on (BENCHMARKS.md). */
#define STALL_HZ	10
#define STALL_GAP_NS	(10 * 1000000000ULL)

/*
 * Kernel text that a stalled task's stack passes through: the fault
 * handler (idtentry since 5.8, 0a4b00a08b89; arm64's abort handlers),
 * handle_mm_fault() and userfaultfd, GUP.  Missing names are skipped.
 */
static const char *const stall_funcs[] = {
#if defined(__x86_64__)
	"asm_exc_page_fault", "exc_page_fault", "do_user_addr_fault",
#elif defined(__aarch64__)
	"do_mem_abort", "do_page_fault", "do_translation_fault", "do_tag_check_fault",
#endif
	"handle_mm_fault", "__handle_mm_fault", "handle_userfault",
	"__get_user_pages", "faultin_page", "fixup_user_fault",
};

static void set_stall_ranges(struct fl_session *s)
{
	struct faultloop_bpf *skel = s->skel;
	unsigned int i, n = 0;
	uint64_t lo, hi;

	for (i = 0; i < ARRAY_SIZE(stall_funcs) && n < FL_STALL_RANGES; i++) {
		if (s->ks_hidden || ksyms__range(s->ks, stall_funcs[i], &lo, &hi))
			continue;
		if (!strcmp(stall_funcs[i], "handle_userfault"))
			skel->rodata->stall_uffd_range = n;
		skel->rodata->stall_lo[n] = lo;
		skel->rodata->stall_hi[n++] = hi;
	}
	skel->rodata->nr_stall_ranges = n;
	skel->rodata->stall_ns = n ? s->cfg->stall_ns : 0;
	/* A stall ends on progress, in user mode or at exit; the sweep only
	 * ends one whose task has not been seen in its fault for long.  Not
	 * --gap: a loop that waits for I/O in each turn (MADV_POPULATE on a
	 * failing read, 631426ba1d45) is on its CPU a third of the time and
	 * can go unsampled for a second or more. */
	skel->rodata->stall_gap_ns = s->cfg->gap_ns > STALL_GAP_NS ? s->cfg->gap_ns : STALL_GAP_NS;
}

static int read_sysctl(const char *path)
{
	FILE *f = fopen(path, "re");
	int v = -1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/*
 * Without kernel addresses stacks and owners stay raw, and the stall
 * sampler has no code ranges to test a sample against: it would attach
 * and see nothing.  It is left unattached (FL_ST_NO_SYMBOLS, with the
 * reason) and the start-up line names the cause and its fix.
 */
static void check_symbols(struct fl_session *s)
{
	char why[200];
	unsigned int i;
	uint64_t lo, hi;

	s->ks_hidden = ksyms__hidden(s->ks);
	if (s->ks_hidden) {
		ksyms__hidden_why(read_sysctl("/proc/sys/kernel/kptr_restrict"),
				  read_sysctl("/proc/sys/kernel/perf_event_paranoid"),
				  fl_privs_has(CAP_SYSLOG), why, sizeof(why));
		fprintf(stderr, "faultloop: kernel addresses are hidden in /proc/kallsyms (%s): "
			"stacks and owners will not be symbolized\n", why);
		snprintf(s->stall_blind, sizeof(s->stall_blind), "kernel addresses hidden: %s", why);
	} else {
		for (i = 0; i < ARRAY_SIZE(stall_funcs); i++)
			if (!ksyms__range(s->ks, stall_funcs[i], &lo, &hi))
				break;
		if (i == ARRAY_SIZE(stall_funcs))
			snprintf(s->stall_blind, sizeof(s->stall_blind),
				 "no fault-handler symbol in /proc/kallsyms (%s, ...)", stall_funcs[0]);
	}
	if (s->stall_blind[0] && s->cfg->stall_ns)
		fprintf(stderr, "faultloop: the stall sampler is off: %s\n", s->stall_blind);
	s->set.no_symbols = s->stall_blind[0] ? s->stall_blind : NULL;
}

/* The knobs the verifier prunes against (frozen .rodata). */
static void set_rodata(struct fl_session *s, unsigned int hz)
{
	const struct fl_config *cfg = s->cfg;
	struct faultloop_bpf *skel = s->skel;
	uint64_t jiffy_ns, gap_j;

	skel->rodata->targ_tgid = cfg->pid;
	skel->rodata->filter_cg = cfg->cgroup != NULL;
	skel->rodata->threshold = cfg->threshold;
	skel->rodata->min_duration_ns = cfg->min_duration_ns;
	skel->rodata->gap_ns = cfg->gap_ns;
	skel->rodata->ongoing_ns = cfg->interval_ns;
	fl_clock_knobs(hz, cfg->gap_ns, &jiffy_ns, &gap_j);
	skel->rodata->jiffy_ns = jiffy_ns;
	skel->rodata->gap_j = gap_j;
	skel->rodata->thread_size = fl_kernel_thread_size();
#if defined(__aarch64__)
	skel->rodata->addr_mask = (1ULL << 56) - 1;	/* TBI: drop the tag */
#endif
	set_stall_ranges(s);
}

static bool stopping(const struct fl_session *s)
{
	return s->stop && *s->stop;
}

/* The stuck-task iterator is optional: an iter/task program needs 5.8. */
static bool iter_loads(void)
{
	static const struct fl_impl iter = { FL_MODE_TP_BTF, "fl_task_iter", NULL, 0 };
	struct faultloop_bpf *skel = NULL;

	return fl_trial_load(trial_open, trial_close, &skel, &iter, NULL) == 0;
}

static unsigned int kernel_hz(const struct fl_config *cfg)
{
	const char *source = NULL;
	unsigned int hz = fl_kernel_hz(&source);	/* may measure for 200 ms */

	if (!hz)	/* a degradation, not an error: the slot reads the precise clock */
		fprintf(stderr, "faultloop: kernel HZ unknown (%s): using the precise clock on every event\n",
			source);
	else if (cfg->verbose)
		fprintf(stderr, "faultloop: kernel HZ %u (%s): episodes without a retry keep jiffies\n",
			hz, source);
	return hz;
}

/* FAULTLOOP_VERIFY_STATS=1 with -vv: the verifier's statistics per
 * program (BPF_LOG_STATS: instructions processed, verification time),
 * what start-up spends in the kernel under TCG (BENCHMARKS.md). */
static void verify_stats(struct bpf_object *obj)
{
	struct bpf_program *prog;

	if (getenv("FAULTLOOP_VERIFY_STATS"))
		bpf_object__for_each_program(prog, obj)
			bpf_program__set_log_level(prog, 4);
}

static int load(struct fl_session *s, bool with_iter, unsigned int hz, bool quiet)
{
	struct faultloop_bpf *skel = faultloop_bpf__open();
	bool was;
	int err;

	s->skel = skel;
	if (!skel) {
		err = -errno;
		fl_fail("failed to open BPF object: %s", strerror(-err));
		return err;
	}
	set_rodata(s, hz);
	bpf_map__set_max_entries(skel->maps.episodes, s->cfg->max_tasks);
	bpf_map__set_max_entries(skel->maps.stalls, s->cfg->max_tasks);
	err = fl_probes_prepare(&s->set, skel->obj);
	err = err < 0 ? err : 0;
	if (!fl_probes_need_stash(&s->set))	/* a 4096-entry hash for nothing */
		bpf_map__set_max_entries(skel->maps.stash, 1);
	if (!err)
		err = bpf_program__set_autoload(skel->progs.fl_sweep, true);
	if (!err && with_iter)
		err = bpf_program__set_autoload(skel->progs.fl_task_iter, true);
	if (!err)
		verify_stats(skel->obj);
	was = fl_libbpf_quiet(quiet);
	if (!err)
		err = faultloop_bpf__load(skel);
	fl_libbpf_quiet(was);
	fl_probes_loaded(&s->set, err ? NULL : skel->obj);
	if (err && !quiet)
		fl_fail("failed to load BPF programs: %s", strerror(-err));
	return err;
}

/*
 * Every candidate that passed selection, in one object: the common case
 * is one load.  When a program does not load (fexit on a function with a
 * void * argument before 6.16, 1271a40eeafa, for one), libbpf's log names
 * it: drop its candidates and load again, a few times at most; past that,
 * or if the log named none, trial each candidate alone.
 */
/*
 * After a failed load: the program libbpf's log named goes, with the
 * candidates that run it (or the task iterator, where with_iter is
 * given).  false: the log named none, or nothing of ours.
 */
static bool drop_failed_prog(struct fl_session *s, int err, bool *with_iter)
{
	char prog[64];

	snprintf(prog, sizeof(prog), "%s", fl_libbpf_failed_prog());
	if (with_iter && *with_iter && !strcmp(prog, "fl_task_iter"))
		*with_iter = false;
	else if (!prog[0] || !fl_probes_drop_prog(&s->set, prog, err))
		return false;
	if (s->cfg->verbose)
		fprintf(stderr, "faultloop: %s does not load here (%s): dropped\n",
			prog, strerror(-err));
	return true;
}

static int load_final(struct fl_session *s, unsigned int hz)
{
	struct faultloop_bpf *trial = NULL;
	bool with_iter = true;
	int err, round, n;

	for (round = 0; round < 4; round++) {
		uint64_t t0 = now_mono_ns();

		fl_libbpf_forget_failure();
		err = load(s, with_iter, hz, true);
		if (!err)
			return 0;
		if (stopping(s))	/* the verifier ends on a pending signal */
			return -EINTR;
		if (s->cfg->verbose)
			fprintf(stderr, "faultloop: start-up: failed load %llu ms\n",
				(unsigned long long)((now_mono_ns() - t0) / 1000000));
		faultloop_bpf__destroy(s->skel);
		s->skel = NULL;
		if (!drop_failed_prog(s, err, &with_iter))
			break;
	}
	n = fl_probes_verify(&s->set, trial_open, trial_close, &trial);
	with_iter = with_iter && iter_loads();
	if (s->cfg->verbose)
		fprintf(stderr, "faultloop: the object did not load (%s): %d more candidates%s dropped\n",
			strerror(-err), n, with_iter ? "" : " and the task iterator");
	return load(s, with_iter, hz, false);
}

/* The loaded programs of obj join progs[] (their run-time stats): the
 * entries first, then nprogs, which the HTTP thread reads. */
static void add_progs(struct fl_session *s, struct bpf_object *obj)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, obj) {
		if (bpf_program__fd(prog) < 0 || s->nprogs >= s->progs_cap)
			continue;
		s->progs[s->nprogs].name = bpf_program__name(prog);
		s->progs[s->nprogs].fd = bpf_program__fd(prog);
		__atomic_store_n(&s->nprogs, s->nprogs + 1, __ATOMIC_RELEASE);
	}
}

static int index_progs(struct fl_session *s)
{
	struct bpf_program *prog;
	int n = 0;

	bpf_object__for_each_program(prog, s->skel->obj)
		n++;
	/* room for the fallback objects' programs (load_fallback) */
	s->progs = calloc(n * (1 + FL_MAX_FALLBACKS), sizeof(*s->progs));
	if (!s->progs)
		return -ENOMEM;
	s->progs_cap = n * (1 + FL_MAX_FALLBACKS);
	add_progs(s, s->skel->obj);
	return 0;
}

/* Before the slow part: a --pid above this host's kernel.pid_max names
 * no process that can exist (config.c bounds it by PID_MAX_LIMIT). */
static int check_pid(const struct fl_session *s)
{
	unsigned long pid_max = 0;
	FILE *f;

	if (!s->cfg->pid)
		return 0;
	f = fopen("/proc/sys/kernel/pid_max", "re");
	if (f) {
		if (fscanf(f, "%lu", &pid_max) != 1)
			pid_max = 0;
		fclose(f);
	}
	if (!pid_max || s->cfg->pid <= pid_max)
		return 0;
	fl_fail("--pid %u: above this host's kernel.pid_max (%lu): no such process can exist",
		s->cfg->pid, pid_max);
	return -ESRCH;
}

/* Before the slow part: a bad --cgroup fails at once. */
static int open_cgroup(struct fl_session *s)
{
	char resolved[4096];

	if (!s->cfg->cgroup)
		return 0;
	s->cg_fd = cgroup_open(s->cfg->cgroup, resolved, sizeof(resolved));
	if (s->cg_fd < 0) {
		fl_fail("--cgroup '%s': %s", s->cfg->cgroup, strerror(-s->cg_fd));
		return s->cg_fd;
	}
	return 0;
}

static int set_cgroup_filter(struct fl_session *s)
{
	__u32 zero = 0;

	if (s->cg_fd < 0)
		return 0;
	if (bpf_map_update_elem(bpf_map__fd(s->skel->maps.cgroup_filter), &zero, &s->cg_fd, BPF_ANY)) {
		int err = -errno;

		fl_fail("cannot set cgroup filter: %s", strerror(-err));
		return err;
	}
	return 0;
}

void fl_session_init(struct fl_session *s, const volatile sig_atomic_t *stop)
{
	memset(s, 0, sizeof(*s));
	s->cg_fd = -1;
	s->stats_fd = -1;
	s->stop = stop;
	s->set.stop = stop;
}

int fl_session_open(struct fl_session *s, const struct fl_config *cfg)
{
	uint64_t start = now_mono_ns(), t[3];
	int err;

	s->cfg = cfg;
	s->ks = ksyms__load(NULL);
	t[0] = now_mono_ns();
	if (!s->ks) {
		err = -errno;
		fl_fail("cannot read /proc/kallsyms: %s", strerror(-err));
		return err;
	}
	check_symbols(s);
	err = check_pid(s);
	if (!err)
		err = open_cgroup(s);
	if (err)
		return err;
	s->set.sel = cfg->mode;
	s->set.perf_hz = cfg->stall_ns ? STALL_HZ : 0;
	err = fl_probes_select(&s->set, s->ks);
	if (err < 0) {
		fl_fail("probe selection failed: %s", strerror(-err));
		return err;
	}
	t[1] = now_mono_ns();
	if (stopping(s))	/* a signal: the slow part is next */
		return -EINTR;
	err = load_final(s, kernel_hz(cfg));
	t[2] = now_mono_ns();
	if (cfg->verbose)
		fprintf(stderr, "faultloop: start-up: kallsyms %llu ms, probe selection %llu ms, "
			"load %llu ms\n", (unsigned long long)((t[0] - start) / 1000000),
			(unsigned long long)((t[1] - t[0]) / 1000000),
			(unsigned long long)((t[2] - t[1]) / 1000000));
	if (!err && stopping(s))
		err = -EINTR;
	if (!err)
		err = index_progs(s);
	if (!err)
		err = set_cgroup_filter(s);
	if (err || bpf_program__fd(s->skel->progs.fl_task_iter) < 0)
		return err;
	s->iter = bpf_program__attach_iter(s->skel->progs.fl_task_iter, NULL);
	if (!s->iter && cfg->verbose)
		fprintf(stderr, "faultloop: task iterator: %s (stuck tasks without syscall)\n",
			strerror(errno));
	return 0;
}

/*
 * The next candidate of each probe whose loaded ones the kernel refused
 * at attach (fl_probes_prepare), in an object of its own that shares the
 * first one's maps, so that both feed one detector state.  Its programs
 * are added to progs[] (for their run-time stats) before nprogs counts
 * them.  How many candidates it loaded, 0 for none, or a negative errno.
 */
static int load_fallback(struct fl_session *s)
{
	struct faultloop_bpf *skel;
	struct bpf_map *map, *mine;
	int err = 0, n = 0, round;
	bool was;

	if (s->nfallback >= FL_MAX_FALLBACKS)
		return 0;
	fl_probes_check_kprobes(&s->set);
	for (round = 0; round < 4; round++) {
		skel = faultloop_bpf__open();
		if (!skel)
			return -errno;
		bpf_object__for_each_map(map, skel->obj) {
			mine = bpf_object__find_map_by_name(s->skel->obj, bpf_map__name(map));
			err = mine ? bpf_map__reuse_fd(map, bpf_map__fd(mine)) : -ENOENT;
			if (err)
				break;
		}
		n = err ? err : fl_probes_prepare(&s->set, skel->obj);
		if (n <= 0) {
			fl_probes_loaded(&s->set, NULL);
			faultloop_bpf__destroy(skel);
			return n;
		}
		verify_stats(skel->obj);
		fl_libbpf_forget_failure();
		was = fl_libbpf_quiet(true);	/* a refusal here is expected */
		err = faultloop_bpf__load(skel);
		fl_libbpf_quiet(was);
		fl_probes_loaded(&s->set, err ? NULL : skel->obj);
		if (!err)
			break;
		faultloop_bpf__destroy(skel);
		if (!drop_failed_prog(s, err, NULL))
			return err;
	}
	if (err)
		return err;
	s->fallback[s->nfallback++] = skel;
	add_progs(s, skel->obj);
	return n;
}

int fl_session_arm(struct fl_session *s, const char *hold)
{
	uint64_t t0 = now_mono_ns();
	int n, loaded = 0;

	s->set.hold = hold;
	n = fl_probes_attach(&s->set);
	while (!stopping(s) && (loaded = load_fallback(s)) > 0) {
		if (s->cfg->verbose)
			fprintf(stderr, "faultloop: %d fallback candidates loaded\n", loaded);
		n += fl_probes_attach(&s->set);
	}
	if (loaded < 0)
		fprintf(stderr, "faultloop: fallback candidates did not load: %s\n",
			strerror(-loaded));
	s->attached += n;
	if (s->cfg->verbose)
		fprintf(stderr, "faultloop: start-up: attach %d probes %llu ms\n", n,
			(unsigned long long)((now_mono_ns() - t0) / 1000000));
	/* a fault-in only joins an episode once a copy or fault probe that
	 * reports addresses runs (faultin_joins_only in bpf/faultloop.bpf.c) */
	s->skel->bss->faultin_joins_only =
		fl_probes_have_addr(&s->set, 1u << FL_K_COPY | 1u << FL_K_FAULT);
	/* page_fault_kernel sees every fault handle_mm_fault would
	 * (mm_fault_count_only in bpf/faultloop.bpf.c) */
	s->skel->bss->mm_fault_count_only = fl_probes_have(&s->set, FL_SIG_PF_KERNEL);
	/* kallsyms lists our programs and trampolines only now that they
	 * exist: without them their frames were named after a module symbol
	 * (issue 19) */
	t0 = now_mono_ns();
	if (!s->ks_hidden && ksyms__reload(s->ks, NULL) && s->cfg->verbose)
		fprintf(stderr, "faultloop: kallsyms not read again: BPF frames stay unnamed\n");
	if (s->cfg->verbose)
		fprintf(stderr, "faultloop: start-up: kallsyms again %llu ms\n",
			(unsigned long long)((now_mono_ns() - t0) / 1000000));
	return n;
}

bool fl_session_can_detect(const struct fl_session *s)
{
	return fl_probes_have_addr(&s->set, 0) || fl_probes_count(&s->set, FL_ST_HELD);
}

int fl_session_enable_stats(struct fl_session *s)
{
	/* run counts and times of every BPF program while the fd is open */
	s->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (s->stats_fd < 0) {
		fl_fail("--bpf-stats: cannot enable BPF stats: %s",
			strerror(-s->stats_fd));
		return s->stats_fd;
	}
	return 0;
}

void fl_session_fds(const struct fl_session *s, struct fl_session_fds *fds)
{
	fds->reports = bpf_map__fd(s->skel->maps.reports);
	fds->episodes = bpf_map__fd(s->skel->maps.episodes);
	fds->stats = bpf_map__fd(s->skel->maps.stats);
	fds->sweep = bpf_program__fd(s->skel->progs.fl_sweep);
	fds->stalls = bpf_map__fd(s->skel->maps.stalls);
}

int fl_session_iter_fd(const struct fl_session *s)
{
	return s->iter ? bpf_link__fd(s->iter) : -1;
}

static int prog_fd(const struct fl_session *s, const char *name)
{
	int i, n = __atomic_load_n(&s->nprogs, __ATOMIC_ACQUIRE);

	for (i = 0; name && i < n; i++)
		if (!strcmp(s->progs[i].name, name))
			return s->progs[i].fd;
	return -1;
}

int fl_session_prog_stats(const struct fl_session *s, const struct fl_probe_row *rows,
			  int nrows, struct fl_prog_stat *out, int max)
{
	int i, j, n = 0;

	for (i = 0; i < nrows; i++) {
		for (j = 0; j < 2 && n < max; j++) {
			struct bpf_prog_info info = {};
			__u32 len = sizeof(info);
			int fd = prog_fd(s, rows[i].prog[j]);

			if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
				continue;
			snprintf(out[n].name, sizeof(out[n].name), "%s", rows[i].prog[j]);
			out[n].run_cnt = info.run_cnt;
			out[n].run_time_ns = info.run_time_ns;
			n++;
		}
	}
	return n;
}

/* Every link: the probes', and the stuck-task iterator's (no event runs
 * it, but a link left is a link left). */
void fl_session_detach(struct fl_session *s)
{
	fl_probes_detach(&s->set);
	bpf_link__destroy(s->iter);
	s->iter = NULL;
}

void fl_session_close(struct fl_session *s)
{
	int i;

	bpf_link__destroy(s->iter);
	if (s->stats_fd >= 0)
		close(s->stats_fd);
	fl_probes_free(&s->set);
	for (i = 0; i < s->nfallback; i++)
		faultloop_bpf__destroy(s->fallback[i]);
	faultloop_bpf__destroy(s->skel);
	if (s->cg_fd >= 0)
		close(s->cg_fd);
	free(s->progs);
	ksyms__free(s->ks);
	cgroup_cache_free();
	fl_session_init(s, s->stop);
}
