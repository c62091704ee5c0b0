/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Static builds (VM guests) have no libmicrohttpd: the same calls, no
 * endpoint.  --metrics other than "off" is refused with a clear message.
 */
#ifndef FL_METRICS_STUB_H
#define FL_METRICS_STUB_H

#include <errno.h>
#include <pthread.h>
#include "faultloop.h"

struct fl_probe_set;
struct fl_user_stats { int unused; };
struct fl_metrics_snapshot {
	struct fl_stats bpf;
	const struct fl_probe_set *probes;
	unsigned long long loops_active;
	struct { char name[64]; unsigned long long run_cnt, run_time_ns; } *progs;
	int nprogs;
	int bpf_stats;
	const char *version;
};
struct fl_http;
typedef int (*fl_snapshot_fn)(void *ctx, struct fl_metrics_snapshot *snap);
typedef void (*fl_snapshot_free_fn)(void *ctx, struct fl_metrics_snapshot *snap);

static inline void fl_user_stats_init(struct fl_user_stats *u) { (void)u; }
static inline void fl_user_stats_loop(struct fl_user_stats *u, unsigned int s, unsigned int o,
				      const char *c, size_t l) { (void)u; (void)s; (void)o; (void)c; (void)l; }
static inline void fl_user_stats_episode(struct fl_user_stats *u, unsigned long long r,
					 unsigned long long d) { (void)u; (void)r; (void)d; }
static inline int fl_metrics_parse_listen(const char *s, void *ss, unsigned int *len, const char **why)
{
	(void)s; (void)ss; (void)len;
	*why = "this static build has no metrics endpoint (use --metrics off)";
	return -EINVAL;
}
static inline struct fl_http *fl_http_start(const void *sa, unsigned int len, fl_snapshot_fn f,
					    fl_snapshot_free_fn g, void *ctx, struct fl_user_stats *u)
{
	(void)sa; (void)len; (void)f; (void)g; (void)ctx; (void)u;
	return NULL;
}
static inline void fl_http_stop(struct fl_http *h) { (void)h; }

#endif
