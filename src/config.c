// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE	/* pipe2 */
#include <argp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include "config.h"
#include "log.h"
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
#define DEFAULT_METRICS		"127.0.0.1:19477"
/* A fault that stays on its CPU this long without completing is a loop
 * (bpf/stall.bpf.h); a fault that waits sleeps instead. */
#define DEFAULT_STALL_NS	(1000ULL * 1000000ULL)

#define NS_PER_SEC	1000000000ULL
#define NS_PER_MS	1000000ULL

const char *argp_program_version = "faultloop " FAULTLOOP_VERSION;
const char *argp_program_bug_address = "<https://github.com/faultloop/faultloop/issues>";
static const char doc[] =
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
"    faultloop --metrics off --json\n"
"    faultloop --stall 500ms       # report a fault stuck on its CPU for 0.5 s\n"
"\n"
"EXIT STATUS:\n"
"    0  stopped by SIGINT/SIGTERM or --duration, or --probes printed\n"
"    1  a run-time failure: privileges, no BTF, no probe, port in use\n"
"    2  a usage error: unknown flag, missing or bad value, stray argument\n";

enum {
	OPT_PROBES = 0x100,
	OPT_MAX_TASKS,
	OPT_INTERVAL,
	OPT_METRICS,
	OPT_BPF_STATS,
	OPT_STALL,
};

static const struct argp_option opts[] = {
	{ "pid", 'p', "PID", 0, "Only this process (tgid; at most 4194304, and this host's kernel.pid_max)", 0 },
	{ "cgroup", 'c', "PATH", 0, "Only tasks in this cgroup v2 (absolute, or relative to the cgroup2 mount)", 0 },
	{ "threshold", 't', "N", 0, "Report an episode once it has N retries (default 64)", 0 },
	{ "min-duration", 'D', "DURATION", 0, "A loop must also have lasted this long (default 1s; 0: retries alone)", 0 },
	{ "gap", 'g', "DURATION", 0, "Idle gap that ends an episode (default 1s; units ns us ms s m h)", 0 },
	{ "metrics", OPT_METRICS, "[ADDR:]PORT|off", 0, "Serve Prometheus metrics on GET /metrics (default " DEFAULT_METRICS ")", 0 },
	{ "bpf-stats", OPT_BPF_STATS, NULL, 0, "Enable the kernel's BPF run-time stats and export them (costs a little per event)", 0 },
	{ "stall", OPT_STALL, "DURATION|off", 0, "A task on its CPU inside one fault or GUP call this long, with no fault completed, is a loop (default 1s; sampled at 10 Hz; off: no sampler)", 0 },
	{ "interval", OPT_INTERVAL, "DURATION", 0, "Minimum time between ONGOING reports of one loop (default 1s)", 0 },
	{ "duration", 'd', "SECONDS", 0, "Stop after this long (default: until SIGINT/SIGTERM)", 0 },
	{ "mode", 'm', "MODE", 0, "auto|fentry|kprobe|tracepoint: attach modes for function probes (tracepoints always attach)", 0 },
	{ "max-tasks", OPT_MAX_TASKS, "N", 0, "Retrying tasks tracked at once (default 4096, at most 65536: two preallocated BPF hashes of ~552 bytes an entry, ~72 MB of kernel memory at the maximum)", 0 },
	{ "probes", OPT_PROBES, NULL, 0, "Print which probes attach on this kernel and exit", 0 },
	{ "json", 'j', NULL, 0, "One JSON object per line", 0 },
	{ "verbose", 'v', NULL, 0, "Verbose debug output (twice: libbpf too)", 0 },
	{ NULL, 'h', NULL, OPTION_HIDDEN, "Show the full help", 0 },
	{},
};

/*
 * --json: what getopt and argp say about a bad command line ("faultloop:
 * MESSAGE", then maybe a "Try --help" line) goes to stderr, which is a
 * pipe while parsing (a few lines: never full); argp then exits.  Its
 * first line becomes the one error object (fl_fail).  The flag is looked
 * for before parsing, since an error can come before it.
 */
static int saved_stderr = -1, usage_fd[2] = { -1, -1 };

static void usage_errors_as_json(void)
{
	char buf[512], *nl, *msg;
	ssize_t n;

	if (saved_stderr < 0)
		return;
	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	close(usage_fd[1]);
	n = read(usage_fd[0], buf, sizeof(buf) - 1);
	close(usage_fd[0]);
	if (n <= 0)
		return;
	buf[n] = '\0';
	nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	/* the prefix: the program's name or path, then ": " */
	msg = strstr(buf, ": ");
	msg = msg && !memchr(buf, ' ', msg - buf) ? msg + 2 : buf;
	fl_fail("%s", msg);
}

static void capture_usage_errors(void)
{
	static bool registered;

	if (pipe2(usage_fd, O_CLOEXEC | O_NONBLOCK))
		return;		/* then they stay text */
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	if (saved_stderr < 0 || dup2(usage_fd[1], STDERR_FILENO) < 0) {
		close(usage_fd[0]);
		close(usage_fd[1]);
		if (saved_stderr >= 0)
			close(saved_stderr);
		saved_stderr = -1;
		return;
	}
	if (!registered)	/* once: the fuzzer parses again and again */
		registered = !atexit(usage_errors_as_json);
}

static bool json_asked(int argc, char **argv)
{
	size_t n;
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		n = strlen(argv[i]);
		if (!strcmp(argv[i], "-j") || (n >= 3 && !strncmp(argv[i], "--json", n)))
			return true;
	}
	return false;
}

/*
 * One line, exit status 2 (argp_error would add a usage hint).  Not
 * noreturn: argp_failure() exits, but the fuzzer's returns
 * (tests/fuzz/fuzz_config.c), so every caller returns what this does and
 * writes nothing it failed to parse.
 */
static error_t bad_value(struct argp_state *state, const char *flag,
			 const char *arg, const char *why)
{
	argp_failure(state, FL_EXIT_USAGE, 0, "invalid %s '%s': %s", flag, arg, why);
	return EINVAL;
}

/* Duration flags: name, unit of a bare number, range, message below min. */
static const struct {
	int key;
	const char *flag;
	uint64_t unit, min, max;
	const char *too_small;
	size_t off;
} durations[] = {
	{ 'D', "--min-duration", NS_PER_SEC, 0, 3600 * NS_PER_SEC, NULL,
	  offsetof(struct fl_config, min_duration_ns) },
	{ 'g', "--gap", NS_PER_MS, NS_PER_MS, 3600 * NS_PER_SEC, "must be at least 1ms",
	  offsetof(struct fl_config, gap_ns) },
	{ OPT_INTERVAL, "--interval", NS_PER_MS, 10 * NS_PER_MS, 3600 * NS_PER_SEC,
	  "must be at least 10ms", offsetof(struct fl_config, interval_ns) },
	{ 'd', "--duration", NS_PER_SEC, NS_PER_MS, 365ULL * 86400 * NS_PER_SEC, NULL,
	  offsetof(struct fl_config, duration_ns) },
	/* two samples at least: one sample cannot tell a stall from a fault */
	{ OPT_STALL, "--stall", NS_PER_SEC, 200 * NS_PER_MS, 3600 * NS_PER_SEC,
	  "must be at least 200ms (two samples)", offsetof(struct fl_config, stall_ns) },
};

/* Integer flags. */
static const struct {
	int key;
	const char *flag;
	uint64_t min, max;
	size_t off;
} integers[] = {
	/* PID_MAX_LIMIT (4194304 on 64-bit): no kernel has a larger pid;
	 * this host's kernel.pid_max is checked at run time (session.c) */
	{ 'p', "--pid", 1, FL_PID_MAX_LIMIT, offsetof(struct fl_config, pid) },
	{ 't', "--threshold", 1, 1000000000, offsetof(struct fl_config, threshold) },
	/* Two preallocated episode hashes (episodes, stalls) of max_tasks
	 * entries, 552 bytes each in kernel memory (bytes_memlock): 65536
	 * is ~36 MB each; 1 << 22 was ~2.3 GB each. */
	{ OPT_MAX_TASKS, "--max-tasks", 1, FL_MAX_TASKS_LIMIT, offsetof(struct fl_config, max_tasks) },
};

/* A number flag: 0 or the usage error, into *handled; false: not one. */
static bool parse_number(struct fl_config *cfg, int key, const char *arg,
			 struct argp_state *state, error_t *handled)
{
	const char *why;
	uint64_t v;
	size_t i;

	*handled = 0;
	for (i = 0; i < ARRAY_SIZE(durations); i++) {
		if (durations[i].key != key)
			continue;
		if (parse_duration_ns(arg, durations[i].unit, durations[i].min,
				      durations[i].max, &v, &why))
			*handled = bad_value(state, durations[i].flag, arg,
					     durations[i].too_small && !strcmp(why, "too small") ?
					     durations[i].too_small : why);
		else
			*(uint64_t *)((char *)cfg + durations[i].off) = v;
		return true;
	}
	for (i = 0; i < ARRAY_SIZE(integers); i++) {
		if (integers[i].key != key)
			continue;
		if (parse_u64(arg, integers[i].min, integers[i].max, &v, &why))
			*handled = bad_value(state, integers[i].flag, arg, why);
		else
			*(uint32_t *)((char *)cfg + integers[i].off) = v;
		return true;
	}
	return false;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	struct fl_config *cfg = state->input;
	struct fl_listen l;
	const char *why;
	error_t err;

	if (key == OPT_STALL && !strcmp(arg, "off")) {
		cfg->stall_ns = 0;
		return 0;
	}
	if (parse_number(cfg, key, arg, state, &err))
		return err;
	switch (key) {
	case 'c':
		if (!*arg)
			return bad_value(state, "--cgroup", arg, "empty path");
		cfg->cgroup = arg;
		break;
	case OPT_METRICS:
		if (!strcmp(arg, "off")) {
			cfg->metrics = (struct fl_listen){ .family = 0 };
			break;
		}
		if (fl_listen_parse(arg, &l, &why))
			return bad_value(state, "--metrics", arg, why);
		cfg->metrics = l;
		break;
	case OPT_BPF_STATS:
		cfg->bpf_stats = true;
		break;
	case 'm':
		if (fl_mode_sel_parse(arg, &cfg->mode))
			return bad_value(state, "--mode", arg, "expected auto, fentry, kprobe or tracepoint");
		break;
	case OPT_PROBES:
		cfg->probes = true;
		break;
	case 'j':
		cfg->json = true;
		break;
	case 'v':
		cfg->verbose++;
		break;
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		break;
	case ARGP_KEY_ARG:
		argp_failure(state, FL_EXIT_USAGE, 0, "unexpected argument '%s' (see --help)", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

void fl_config_parse(struct fl_config *cfg, int argc, char **argv)
{
	static const struct argp argp = {
		.options = opts,
		.parser = parse_arg,
		.doc = doc,
	};
	const char *why;

	*cfg = (struct fl_config){
		.threshold = DEFAULT_THRESHOLD,
		.min_duration_ns = DEFAULT_MIN_DURATION_NS,
		.gap_ns = DEFAULT_GAP_NS,
		.interval_ns = DEFAULT_INTERVAL_NS,
		.max_tasks = DEFAULT_MAX_TASKS,
		.mode = FL_SEL_AUTO,
		.stall_ns = DEFAULT_STALL_NS,
	};
	fl_listen_parse(DEFAULT_METRICS, &cfg->metrics, &why);	/* a constant that parses */
	/* unknown flags and missing values: argp_error() exits with this */
	argp_err_exit_status = FL_EXIT_USAGE;
	if (json_asked(argc, argv)) {
		fl_log_json(true);
		capture_usage_errors();
	}
	argp_parse(&argp, argc, argv, 0, NULL, cfg);
	usage_errors_as_json();
}

const char *fl_config_version(void)
{
	return FAULTLOOP_VERSION;
}
