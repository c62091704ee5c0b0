// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * floor: attach empty BPF programs (tools/bench/floor.bpf.c) to the hooks
 * faultloop attaches, and hold them until SIGINT/SIGTERM.  The benchmark's
 * floor: what attaching there costs at all.
 *
 *   floor MODE:SYMBOL...
 *
 * MODE:SYMBOL is what `faultloop --probes` prints for an attached probe:
 * fentry, fexit, fentry+fexit, kprobe, kretprobe, kprobe+kretprobe (a
 * kernel function), tp_btf, raw_tp or tracepoint (SYMBOL "category/event").
 * Every program is its own object copy, so each has its own attach target
 * and its own run-time stats, as faultloop's do.
 *
 * Prints "floor: N programs attached" on stderr once all are attached, then
 * one line per program: "floor: prog ID KIND TARGET".
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "floor.skel.h"

#define MAX_PROGS 128

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

static struct floor_bpf *skels[MAX_PROGS];
static struct bpf_link *links[MAX_PROGS];
static int nprogs;

static int libbpf_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	if (lvl == LIBBPF_DEBUG || !getenv("FLOOR_VERBOSE"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* One empty program of this kind on this target. */
static int attach_one(const char *kind, const char *sym)
{
	const char *slash = strchr(sym, '/'), *event = slash ? slash + 1 : sym;
	struct bpf_program *prog, *want = NULL;
	struct floor_bpf *skel;
	struct bpf_link *link;
	char cat[64] = "";
	int err;

	if (nprogs == MAX_PROGS) {
		fprintf(stderr, "floor: more than %d programs\n", MAX_PROGS);
		return -E2BIG;
	}
	if (slash) {
		snprintf(cat, sizeof(cat), "%.*s", (int)(slash - sym), sym);
	}
	skel = floor_bpf__open();
	if (!skel)
		return -errno;
	if (!strcmp(kind, "tp_btf"))
		want = skel->progs.floor_tp_btf;
	else if (!strcmp(kind, "raw_tp"))
		want = skel->progs.floor_raw_tp;
	else if (!strcmp(kind, "tracepoint"))
		want = skel->progs.floor_tp;
	else if (!strcmp(kind, "fentry"))
		want = skel->progs.floor_fentry;
	else if (!strcmp(kind, "fexit"))
		want = skel->progs.floor_fexit;
	else if (!strcmp(kind, "kprobe"))
		want = skel->progs.floor_kprobe;
	else if (!strcmp(kind, "kretprobe"))
		want = skel->progs.floor_kretprobe;
	if (!want) {
		fprintf(stderr, "floor: unknown kind '%s'\n", kind);
		floor_bpf__destroy(skel);
		return -EINVAL;
	}
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, prog == want);
	if (want == skel->progs.floor_tp_btf || want == skel->progs.floor_fentry ||
	    want == skel->progs.floor_fexit)
		bpf_program__set_attach_target(want, 0, event);
	err = floor_bpf__load(skel);
	if (err) {
		fprintf(stderr, "floor: %s:%s: load: %s\n", kind, sym, strerror(-err));
		floor_bpf__destroy(skel);
		return err;
	}
	if (want == skel->progs.floor_kprobe || want == skel->progs.floor_kretprobe)
		link = bpf_program__attach_kprobe(want, want == skel->progs.floor_kretprobe, sym);
	else if (want == skel->progs.floor_raw_tp)
		link = bpf_program__attach_raw_tracepoint(want, event);
	else if (want == skel->progs.floor_tp)
		link = bpf_program__attach_tracepoint(want, cat, event);
	else
		link = bpf_program__attach(want);
	if (!link) {
		err = -errno;
		fprintf(stderr, "floor: %s:%s: attach: %s\n", kind, sym, strerror(errno));
		floor_bpf__destroy(skel);
		return err;
	}
	skels[nprogs] = skel;
	links[nprogs] = link;
	nprogs++;
	{
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		bpf_obj_get_info_by_fd(bpf_program__fd(want), &info, &len);
		fprintf(stderr, "floor: prog %u %s %s\n", info.id, kind, sym);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int i, err = 0;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fprintf(stderr, "usage: floor MODE:SYMBOL...   (e.g. tp_btf:exceptions/page_fault_kernel fentry+fexit:search_ioctl)\n");
		return 2;
	}
	libbpf_set_print(libbpf_print);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	for (i = 1; i < argc && !err; i++) {
		char spec[256], *colon, *kind, *save = NULL;

		snprintf(spec, sizeof(spec), "%s", argv[i]);
		colon = strchr(spec, ':');
		if (!colon) {
			fprintf(stderr, "floor: '%s': want MODE:SYMBOL\n", argv[i]);
			err = -EINVAL;
			break;
		}
		*colon = 0;
		for (kind = strtok_r(spec, "+", &save); kind && !err; kind = strtok_r(NULL, "+", &save))
			err = attach_one(kind, colon + 1);
	}
	if (!err) {
		sigset_t block, old;

		sigemptyset(&block);
		sigaddset(&block, SIGINT);
		sigaddset(&block, SIGTERM);
		sigprocmask(SIG_BLOCK, &block, &old);
		fprintf(stderr, "floor: %d programs attached\n", nprogs);
		while (!exiting)
			sigsuspend(&old);
	}
	for (i = nprogs - 1; i >= 0; i--) {
		bpf_link__destroy(links[i]);
		floor_bpf__destroy(skels[i]);
	}
	return err ? 1 : 0;
}
