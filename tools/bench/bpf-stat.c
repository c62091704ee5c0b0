// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bpf-stat: what one tracer process costs, read from the kernel (a
 * bpftool-free probe for VM guests, same numbers as `bpftool prog show` /
 * `bpftool map show`).
 *
 *   bpf-stat [-e] PID
 *
 * Programs and maps are the ones PID holds (prog, link and map fds in
 * /proc/PID/fdinfo) plus the maps its programs use.  Prints:
 *
 *   proc pid=P cpu_s=S rss_kb=R hwm_kb=H threads=T
 *   prog id=I name=N run_cnt=C run_time_ns=T xlated=X jited=J verified_insns=V
 *   map id=I name=N type=T max_entries=M memlock=B [entries=E]
 *   total progs=P maps=M memlock=B run_cnt=C run_time_ns=T
 *
 * cpu_s is utime+stime of all its threads; run_cnt/run_time_ns count only
 * while kernel.bpf_stats_enabled is 1.  -e counts the entries of hash maps.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#define MAX_IDS 1024

static __u32 prog_ids[MAX_IDS], map_ids[MAX_IDS];
static int nprog, nmap;

static void add_id(__u32 *ids, int *n, __u32 id)
{
	for (int i = 0; i < *n; i++)
		if (ids[i] == id)
			return;
	if (*n < MAX_IDS)
		ids[(*n)++] = id;
}

/* "key:\tvalue" from an fdinfo file; -1 if absent. */
static long long fdinfo_field(const char *path, const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	long long v = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtoll(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static void print_proc(int pid)
{
	char path[64], buf[4096], *p;
	unsigned long long ut = 0, st = 0;
	long rss = -1, hwm = -1, threads = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
			/* after ")": state ppid pgrp session tty tpgid flags
			 * minflt cminflt majflt cmajflt utime stime */
			sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st);
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (f) {
		while (fgets(buf, sizeof(buf), f)) {
			sscanf(buf, "VmRSS: %ld", &rss);
			sscanf(buf, "VmHWM: %ld", &hwm);
			sscanf(buf, "Threads: %ld", &threads);
		}
		fclose(f);
	}
	printf("proc pid=%d cpu_s=%.2f rss_kb=%ld hwm_kb=%ld threads=%ld\n", pid,
	       (double)(ut + st) / sysconf(_SC_CLK_TCK), rss, hwm, threads);
}

static long count_entries(int fd, __u32 key_size)
{
	char key[512], next[512];
	void *prev = NULL;
	long n = 0;

	if (key_size > sizeof(key))
		return -1;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		if (++n > 10000000)
			break;
	}
	return n;
}

int main(int argc, char **argv)
{
	unsigned long long tot_cnt = 0, tot_ns = 0, tot_memlock = 0;
	bool entries = false;
	char path[64];
	struct dirent *de;
	DIR *d;
	int pid, i;

	if (argc > 1 && !strcmp(argv[1], "-e")) {
		entries = true;
		argc--, argv++;
	}
	if (argc != 2 || (pid = atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: bpf-stat [-e] PID\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/proc/%d/fdinfo", pid);
	d = opendir(path);
	if (!d) {
		fprintf(stderr, "bpf-stat: %s: %s\n", path, strerror(errno));
		return 1;
	}
	print_proc(pid);
	while ((de = readdir(d))) {
		char fpath[320];
		long long id;

		if (de->d_name[0] == '.')
			continue;
		snprintf(fpath, sizeof(fpath), "%s/%s", path, de->d_name);
		if ((id = fdinfo_field(fpath, "prog_id")) > 0)
			add_id(prog_ids, &nprog, id);
		if ((id = fdinfo_field(fpath, "map_id")) > 0)
			add_id(map_ids, &nmap, id);
	}
	closedir(d);

	for (i = 0; i < nprog; i++) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info), ids[64], n;
		int fd = bpf_prog_get_fd_by_id(prog_ids[i]);

		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
			close(fd);
			continue;
		}
		n = info.nr_map_ids < 64 ? info.nr_map_ids : 64;
		printf("prog id=%u name=%s run_cnt=%llu run_time_ns=%llu xlated=%u jited=%u verified_insns=%u\n",
		       info.id, info.name, (unsigned long long)info.run_cnt,
		       (unsigned long long)info.run_time_ns, info.xlated_prog_len,
		       info.jited_prog_len, info.verified_insns);
		tot_cnt += info.run_cnt;
		tot_ns += info.run_time_ns;
		memset(&info, 0, sizeof(info));
		info.nr_map_ids = n;
		info.map_ids = (__u64)(unsigned long)ids;
		len = sizeof(info);
		if (n && !bpf_obj_get_info_by_fd(fd, &info, &len))
			for (__u32 j = 0; j < n; j++)
				add_id(map_ids, &nmap, ids[j]);
		close(fd);
	}
	for (i = 0; i < nmap; i++) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_map_get_fd_by_id(map_ids[i]);
		char fpath[64];
		long long memlock;

		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
			close(fd);
			continue;
		}
		snprintf(fpath, sizeof(fpath), "/proc/self/fdinfo/%d", fd);
		memlock = fdinfo_field(fpath, "memlock");
		printf("map id=%u name=%s type=%u max_entries=%u memlock=%lld", info.id,
		       info.name, info.type, info.max_entries, memlock);
		if (entries && (info.type == 1 /* HASH */ || info.type == 5 /* PERCPU_HASH */ ||
				info.type == 9 /* LRU_HASH */))
			printf(" entries=%ld", count_entries(fd, info.key_size));
		printf("\n");
		if (memlock > 0)
			tot_memlock += memlock;
		close(fd);
	}
	printf("total progs=%d maps=%d memlock=%llu run_cnt=%llu run_time_ns=%llu\n",
	       nprog, nmap, tot_memlock, tot_cnt, tot_ns);
	return 0;
}
