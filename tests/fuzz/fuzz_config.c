// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The command line (src/config.c fl_config_parse): every flag faultloop
 * defines, with any value, in any order and spelling (--flag=VALUE,
 * --flag VALUE, -fVALUE, -f VALUE), plus stray arguments.
 *
 * config.c ends a usage error with argp_failure(state, 2, ...) and -h
 * with argp_state_help(), both of which exit.  This file defines both
 * (the executable's definition wins over libc's for config.o's calls):
 * they record the exit status and end the parse (state->next = argc), so
 * one process runs input after input.  What is asserted: a usage error
 * exits FL_EXIT_USAGE (2), never anything else, with a message; a parse
 * that succeeds leaves every value inside the range README gives.
 * argp's own errors (unknown flag, missing value) never reach config.c:
 * the inputs here cannot make them (tests/exit.sh checks their status).
 */
#include <argp.h>
#include <stdarg.h>
#include "config.h"
#include "fuzz.h"

static int exit_status = -1;
static char message[512];

void argp_failure(const struct argp_state *state, int status, int errnum,
		  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	(void)errnum;
	if (status && exit_status < 0) {
		exit_status = status;
		((struct argp_state *)state)->next = state->argc;
	}
}

void argp_state_help(const struct argp_state *state, FILE *stream, unsigned flags)
{
	(void)stream;
	if (exit_status < 0) {
		exit_status = flags & ARGP_HELP_EXIT_ERR ? argp_err_exit_status : 0;
		((struct argp_state *)state)->next = state->argc;
	}
}

static const struct {
	const char *lng;
	char shrt;		/* 0: long only */
	bool arg;
} flags[] = {
	{ "pid", 'p', true }, { "cgroup", 'c', true }, { "threshold", 't', true },
	{ "min-duration", 'D', true }, { "gap", 'g', true }, { "metrics", 0, true },
	{ "bpf-stats", 0, false }, { "stall", 0, true }, { "interval", 0, true },
	{ "duration", 'd', true }, { "mode", 'm', true }, { "max-tasks", 0, true },
	{ "probes", 0, false }, { "json", 'j', false }, { "verbose", 'v', false },
	{ NULL, 'h', false },
};
#define NFLAGS (sizeof(flags) / sizeof(flags[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	char *argv[64], *owned[128];
	int argc = 0, nowned = 0, i;
	struct fl_config cfg;

	argv[argc++] = "faultloop";
	while (f.n && argc < 60) {
		uint8_t op = fz_u8(&f);
		char *val = fz_token(&f), *a;
		size_t k = op % (NFLAGS + 1);

		owned[nowned++] = val;
		if (k == NFLAGS) {
			/* a stray argument; one starting with '-' would be a flag */
			if (val[0] == '-')
				val[0] = 'x';
			argv[argc++] = val;
			continue;
		}
		if (!flags[k].arg) {
			if (flags[k].lng && (op & 0x80 || !flags[k].shrt)) {
				a = malloc(strlen(flags[k].lng) + 3);
				sprintf(a, "--%s", flags[k].lng);
				argv[argc++] = owned[nowned++] = a;
			} else {
				a = malloc(3);
				sprintf(a, "-%c", flags[k].shrt);
				argv[argc++] = owned[nowned++] = a;
			}
			continue;
		}
		switch ((op >> 5) % 4 + (flags[k].shrt ? 0 : 4)) {
		case 0:		/* -fVALUE (an empty VALUE would take the next argument) */
			if (!val[0])
				goto separate_short;
			a = malloc(strlen(val) + 3);
			sprintf(a, "-%c%s", flags[k].shrt, val);
			argv[argc++] = owned[nowned++] = a;
			break;
		case 1:
		separate_short:
			a = malloc(3);
			sprintf(a, "-%c", flags[k].shrt);
			argv[argc++] = owned[nowned++] = a;
			argv[argc++] = val;
			break;
		case 2: case 4: case 5:	/* --flag=VALUE */
			a = malloc(strlen(flags[k].lng) + strlen(val) + 4);
			sprintf(a, "--%s=%s", flags[k].lng, val);
			argv[argc++] = owned[nowned++] = a;
			break;
		default:	/* --flag VALUE */
			a = malloc(strlen(flags[k].lng) + 3);
			sprintf(a, "--%s", flags[k].lng);
			argv[argc++] = owned[nowned++] = a;
			argv[argc++] = val;
		}
	}
	argv[argc] = NULL;

	exit_status = -1;
	message[0] = 0;
	fl_config_parse(&cfg, argc, argv);
	if (exit_status > 0) {
		FZ_ASSERT(exit_status == FL_EXIT_USAGE);
		FZ_ASSERT(message[0] != 0);
	} else if (exit_status < 0) {
		/* parsed: every value in its documented range */
		FZ_ASSERT(cfg.threshold >= 1 && cfg.threshold <= 1000000000);
		FZ_ASSERT(cfg.pid <= FL_PID_MAX_LIMIT);
		FZ_ASSERT(cfg.max_tasks >= 1 && cfg.max_tasks <= FL_MAX_TASKS_LIMIT);
		FZ_ASSERT(cfg.min_duration_ns <= 3600ULL * 1000000000ULL);
		FZ_ASSERT(cfg.gap_ns >= 1000000ULL && cfg.gap_ns <= 3600ULL * 1000000000ULL);
		FZ_ASSERT(cfg.interval_ns >= 10000000ULL && cfg.interval_ns <= 3600ULL * 1000000000ULL);
		FZ_ASSERT(cfg.stall_ns == 0 || cfg.stall_ns >= 200000000ULL);
		FZ_ASSERT(cfg.mode <= FL_SEL_TRACEPOINT);
		FZ_ASSERT(!cfg.cgroup || cfg.cgroup[0]);
		if (cfg.metrics.family) {
			struct fl_listen l;
			const char *why;

			/* parsed once, from the flag's own text */
			FZ_ASSERT(cfg.metrics.spec && !fl_listen_parse(cfg.metrics.spec, &l, &why));
			FZ_ASSERT(l.family == cfg.metrics.family && l.port == cfg.metrics.port);
			FZ_ASSERT(!memcmp(&l.addr, &cfg.metrics.addr, sizeof(l.addr)));
		}
	}
	for (i = 0; i < nowned; i++)
		free(owned[i]);
	return 0;
}
