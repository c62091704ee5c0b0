// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "episodes.h"
#include "knownbugs.h"
#include "metrics.h"
#include "report.h"

static struct fl_open_loop *open_find(struct fl_episodes *e, uint32_t tid)
{
	uint32_t i;

	for (i = 0; i < e->nopen; i++)
		if (e->open[i].tid == tid)
			return &e->open[i];
	return NULL;
}

/*
 * What user space adds to a report: the owner (from its stack, or the
 * owner probe that returned) and the known bug, both decided at DETECTED,
 * whose stack is inside the loop, and kept for the loop's ONGOING and
 * ENDED reports (an ENDED one carries no stack of its own unless an
 * owner returned).
 */
void fl_episodes_handle(struct fl_episodes *e, const struct fl_report *r)
{
	struct fl_open_loop *o = open_find(e, r->tid);
	unsigned int owner = fl_report_owner_sig(r, e->rctx->ks);
	const struct fl_known_bug *bug = NULL;

	e->reports++;
	if (r->kind == FL_REPORT_DETECTED) {
		bug = fl_known_bug_match(r, e->rctx->ks, owner);
		fl_user_stats_loop(e->ustats, r->sig, owner, bug,
				   r->comm, sizeof(r->comm));
		if (!o && e->nopen < e->max_tasks)
			o = &e->open[e->nopen++];
		if (o) {
			o->tid = r->tid;
			o->owner = owner;
			o->bug = bug;
		}
	} else if (o) {
		if (!owner)
			owner = o->owner;
		bug = o->bug;
		if (r->kind == FL_REPORT_ENDED)
			*o = e->open[--e->nopen];
	}
	fl_report_print(e->rctx, r, owner, bug);
}

static int on_report(void *ctx, void *data, size_t len)
{
	if (len >= sizeof(struct fl_report))
		fl_episodes_handle(ctx, data);
	return 0;
}

int fl_episodes_open(struct fl_episodes *e, int reports_fd, int episodes_fd,
		     int stalls_fd, int stats_fd, int sweep_fd, uint32_t max_tasks,
		     const struct fl_report_ctx *rctx, struct fl_user_stats *u)
{
	memset(e, 0, sizeof(*e));
	e->episodes_fd = episodes_fd;
	e->stalls_fd = stalls_fd;
	e->stats_fd = stats_fd;
	e->sweep_fd = sweep_fd;
	e->max_tasks = max_tasks;
	e->rctx = rctx;
	e->ustats = u;
	e->keys = calloc(max_tasks, sizeof(*e->keys));
	e->open = calloc(max_tasks, sizeof(*e->open));
	if (!e->keys || !e->open)
		return -ENOMEM;
	e->rb = ring_buffer__new(reports_fd, on_report, e, NULL);
	return e->rb ? 0 : -errno;
}

int fl_episodes_poll(struct fl_episodes *e, int timeout_ms)
{
	int n = ring_buffer__poll(e->rb, timeout_ms);

	return n < 0 ? n : 0;
}

void fl_episodes_drain(struct fl_episodes *e)
{
	ring_buffer__consume(e->rb);
}

/* Keys first: deleting while walking would restart the walk. */
static uint32_t episode_keys(int fd, uint32_t *keys, uint32_t max)
{
	uint32_t key, *prev = NULL, n = 0;

	while (n < max && bpf_map_get_next_key(fd, prev, &key) == 0) {
		keys[n] = key;
		prev = &keys[n++];
	}
	return n;
}

/* BPF decides and closes (fl_sweep_one, fl_stall_sweep_one): the gap test
 * against the task's last event and the delete that owns the end are one
 * step there.  stalls: the sampler's map, else the episodes hash. */
static void sweep_map(struct fl_episodes *e, int fd, bool stalls, bool all)
{
	uint32_t n = episode_keys(fd, e->keys, e->max_tasks), i;

	for (i = 0; i < n; i++) {
		uint64_t args[3] = { e->keys[i], all, stalls };
		LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args,
			    .ctx_size_in = sizeof(args));

		if (bpf_prog_test_run_opts(e->sweep_fd, &opts))
			e->sweep_errors++;
		else if (opts.retval == 1)
			e->swept++;
	}
}

void fl_episodes_sweep(struct fl_episodes *e, bool all)
{
	sweep_map(e, e->episodes_fd, false, all);
	if (e->stalls_fd >= 0)
		sweep_map(e, e->stalls_fd, true, all);
}

void fl_episodes_close(struct fl_episodes *e)
{
	ring_buffer__free(e->rb);
	free(e->keys);
	free(e->open);
	memset(e, 0, sizeof(*e));
}

int fl_episodes_active(int fd, uint32_t max_tasks, uint64_t *n)
{
	uint32_t *keys = calloc(max_tasks, sizeof(*keys)), nk, i;
	struct fl_episode ep;

	if (!keys)
		return -ENOMEM;
	nk = episode_keys(fd, keys, max_tasks);
	*n = 0;
	for (i = 0; i < nk; i++)
		if (!bpf_map_lookup_elem(fd, &keys[i], &ep) && (ep.flags & FL_EP_REPORTED))
			(*n)++;
	free(keys);
	return 0;
}

/* summed word by word */
_Static_assert(sizeof(struct fl_stats) % sizeof(__u64) == 0, "fl_stats holds __u64 only");

int fl_stats_read(int fd, struct fl_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	size_t j, words = sizeof(*sum) / sizeof(__u64);
	struct fl_stats *per;
	__u32 zero = 0;

	if (ncpu <= 0)
		return -EINVAL;
	per = calloc(ncpu, sizeof(*per));
	if (!per)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &zero, per)) {
		free(per);
		return -errno;
	}
	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < ncpu; i++) {
		const __u64 *src = (const __u64 *)&per[i];
		__u64 *dst = (__u64 *)sum;

		for (j = 0; j < words; j++)
			dst[j] += src[j];
	}
	free(per);
	return 0;
}
