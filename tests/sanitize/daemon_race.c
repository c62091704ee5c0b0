// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The daemon's threads racing, for ThreadSanitizer (tests/sanitize.sh, as
 * root): main.c's own start(), run() and stop(), with what a live host
 * seldom gives at once.  Every cycle pretends a task was stuck at start
 * (its probes held) and lets run() find it gone: the stuck recheck
 * publishes the change, run() re-arms the probes and publishes their
 * status, while the sweep closes episodes every 50 ms, the report
 * consumer counts the loops of the race workload (the script runs it) and
 * scraper threads keep the HTTP thread rendering.  The scrapers keep
 * going through stop(), whose detach and HTTP shutdown must not race a
 * scrape either.
 *
 *   daemon_race PORT SECONDS     (metrics on 127.0.0.1:PORT)
 */
#define main faultloop_main
#include "../../src/main.c"
#undef main

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static struct daemon d;
static int port;
static atomic_int stopping, scrapers_done;
static atomic_long scrapes_ok, scrapes_bad;
static atomic_int helper_tid;

/* A thread that sleeps: the pretend stuck task, which the recheck finds
 * asleep and reports gone. */
static void *helper(void *arg)
{
	(void)arg;
	atomic_store(&helper_tid, (int)syscall(SYS_gettid));
	while (!atomic_load(&scrapers_done))
		usleep(20000);
	return NULL;
}

static int scrape(void)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	char buf[65536];
	size_t got = 0;
	ssize_t n;
	int fd, ok;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) || write(fd, req, sizeof(req) - 1) < 0) {
		close(fd);
		return -1;
	}
	while ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0 && got + n < sizeof(buf) - 1)
		got += n;
	buf[got] = 0;
	close(fd);
	ok = !strncmp(buf, "HTTP/1.1 200", 12) && strstr(buf, "faultloop_stuck_tasks");
	return ok ? 0 : 1;
}

static void *scraper(void *arg)
{
	(void)arg;
	/* through stop() too: until the endpoint is gone */
	for (;;) {
		int r = scrape();

		if (r == 0)
			atomic_fetch_add(&scrapes_ok, 1);
		else if (r > 0 && !atomic_load(&stopping))
			atomic_fetch_add(&scrapes_bad, 1);	/* cut short by stop(): no error */
		else if (r < 0 && atomic_load(&stopping))
			break;
		else
			usleep(10000);
	}
	return NULL;
}

/* What fl_stuckwatch_first() leaves behind when it finds one stuck task. */
static void pretend_stuck(void)
{
	struct fl_stuck_task t = {
		.pid = getpid(), .tid = atomic_load(&helper_tid), .comm = "pretend",
		.cpu = 0, .syscall = 35, .on_cpu_ns = 2000000000ULL,
		.quiet_ns = 1000000000ULL, .sys_pct = 99, .first_ns = now_mono_ns(),
	};

	d.stuck.prev.n = 0;
	if (d.stuck.prev.cap) {
		memset(&d.stuck.prev.t[0], 0, sizeof(d.stuck.prev.t[0]));
		d.stuck.prev.t[0].pid = t.pid;
		d.stuck.prev.t[0].tid = t.tid;
		d.stuck.prev.t[0].state = 'R';
		d.stuck.prev.n = 1;
	}
	/* old enough for the recheck's window */
	d.stuck.prev.mono_ns = now_mono_ns() - 2 * FL_STUCK_WINDOW_NS;
	pthread_mutex_lock(&d.stuck.lock);
	d.stuck.t[0] = t;
	d.stuck.n = 1;
	pthread_mutex_unlock(&d.stuck.lock);
	d.s.set.hold = "daemon_race: a pretend stuck task";
}

int main(int argc, char **argv)
{
	char addr[32];
	char *args[] = { "daemon_race", "--json", "-t", "2", "-D", "0", "-g", "100ms",
			 "--metrics", addr, "--bpf-stats", NULL };
	pthread_t th[3];
	int seconds, cycles = 0, rearmed = 0, err, i;
	uint64_t end;

	if (argc != 3 || !(port = atoi(argv[1])) || (seconds = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: daemon_race PORT SECONDS\n");
		return 2;
	}
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	fl_config_parse(&d.cfg, ARRAY_SIZE(args) - 1, args);
	fl_libbpf_log_init(0);
	if (fl_privs_preflight())
		return 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	pthread_create(&th[0], NULL, helper, NULL);
	while (!atomic_load(&helper_tid))
		usleep(1000);
	err = start(&d);
	if (err) {
		fprintf(stderr, "daemon_race: start: %s\n", strerror(-err));
		stop(&d);
		return 1;
	}
	pthread_create(&th[1], NULL, scraper, NULL);
	pthread_create(&th[2], NULL, scraper, NULL);
	end = now_mono_ns() + seconds * 1000000000ULL;
	d.cfg.duration_ns = 700000000ULL;	/* one run() per cycle */
	while (!err && !exiting && now_mono_ns() < end) {
		pretend_stuck();
		err = run(&d);
		cycles++;
		rearmed += !d.s.set.hold;
	}
	atomic_store(&stopping, 1);
	stop(&d);
	atomic_store(&scrapers_done, 1);
	for (i = 2; i >= 0; i--)
		pthread_join(th[i], NULL);
	fprintf(stderr, "daemon_race: %d cycles, %d re-armed, %ld scrapes served, %ld bad\n",
		cycles, rearmed, atomic_load(&scrapes_ok), atomic_load(&scrapes_bad));
	return err || !cycles || rearmed != cycles || !atomic_load(&scrapes_ok) ||
	       atomic_load(&scrapes_bad);
}
