// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * btrfs-search: drive btrfs search_ioctl() through its fault-in loop.
 *
 * Calls BTRFS_IOC_TREE_SEARCH_V2 on the root tree of a mounted btrfs in a
 * loop while a dropper thread discards the result buffer's pages with
 * madvise(MADV_DONTNEED).  When a page goes away between the loop's
 * fault-in and copy_to_user_nofault(), the copy fails and search_ioctl()
 * goes round again at the same offset: search_ioctl episodes with retries,
 * ended by search_ioctl returning.  On x86 every call still completes.
 *
 *   btrfs-search [-t SECONDS] [-c COMM] [-n] MOUNTPOINT
 *     -n   no dropper (a clean run: episodes without retries)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define BUF_PAGES 16

static atomic_int stop;
static char *buf_pages;

static void *dropper(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		madvise(buf_pages, BUF_PAGES * PAGE, MADV_DONTNEED);
	return NULL;
}

int main(int argc, char **argv)
{
	struct btrfs_ioctl_search_args_v2 *args;
	long calls = 0, items = 0, errors = 0;
	const char *comm = NULL;
	struct timespec t0, t1;
	double secs = 3;
	bool drop = true;
	pthread_t th;
	char *base;
	int fd, opt;

	while ((opt = getopt(argc, argv, "t:c:n")) != -1) {
		switch (opt) {
		case 't': secs = atof(optarg); break;
		case 'c': comm = optarg; break;
		case 'n': drop = false; break;
		default: goto usage;
		}
	}
	if (optind != argc - 1 || secs <= 0) {
usage:
		fprintf(stderr, "usage: btrfs-search [-t SECONDS] [-c COMM] [-n] MOUNTPOINT\n");
		return 2;
	}
	if (comm)
		prctl(PR_SET_NAME, comm);
	fd = open(argv[optind], O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		perror("btrfs-search: open");
		return 1;
	}
	/* header at the end of page 0, result buffer from page 1: the dropper
	 * discards only the buffer, never the search key */
	base = mmap(NULL, (BUF_PAGES + 1) * PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		perror("btrfs-search: mmap");
		return 1;
	}
	args = (void *)(base + PAGE - sizeof(*args));
	buf_pages = base + PAGE;
	printf("pid %d\nbuffer %p\n", getpid(), (void *)buf_pages);
	fflush(stdout);
	if (drop)
		pthread_create(&th, NULL, dropper, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		memset(&args->key, 0, sizeof(args->key));
		args->key.tree_id = 1;	/* BTRFS_ROOT_TREE_OBJECTID */
		args->key.max_objectid = (__u64)-1;
		args->key.max_offset = (__u64)-1;
		args->key.max_transid = (__u64)-1;
		args->key.max_type = 255;
		args->key.nr_items = 4096;
		args->buf_size = BUF_PAGES * PAGE;
		if (ioctl(fd, BTRFS_IOC_TREE_SEARCH_V2, args) < 0) {
			if (errno != EFAULT && errno != EOVERFLOW) {
				perror("btrfs-search: BTRFS_IOC_TREE_SEARCH_V2");
				return 1;
			}
			errors++;
		} else {
			items += args->key.nr_items;
		}
		calls++;
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9 < secs);
	atomic_store(&stop, 1);
	if (drop)
		pthread_join(th, NULL);
	printf("calls %ld items %ld errors %ld\n", calls, items, errors);
	return 0;
}
