// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * mte-search: the btrfs search_ioctl() live-lock on arm64 with MTE, for real.
 *
 * The result buffer of BTRFS_IOC_TREE_SEARCH lives in PROT_MTE memory whose
 * granules all carry the pointer's tag, except ONE 16-byte granule inside the
 * data of an item the kernel copies, retagged so that it mismatches.  The
 * tagged-address ABI is on with synchronous tag checks, so the kernel's
 * uaccess to that granule takes a tag check fault.
 *
 * Before 5.19 (5.10, 5.15) search_ioctl() prefaults the buffer page-wise
 * (fault_in_pages_writeable: the first byte, one byte per page, the last
 * byte), which never touches the bad granule and so succeeds; copy_to_sk()
 * then fails in read_extent_buffer_to_user_nofault(), rewinds sk_offset to
 * the item's header and returns 0: the loop goes round again, for ever, with
 * no signal check.  The task spins in the kernel (state R, system time at a
 * full CPU, no context switch) and SIGKILL cannot end it.  From 5.19
 * ("btrfs: Avoid live-lock in search_ioctl() on hardware with sub-page
 * faults") the prefault probes every granule and the ioctl returns -EFAULT.
 *
 * The bad granule must be neither the granule the prefault writes (the item's
 * header: the loop rewinds to it, and the prefault starts there), nor the
 * buffer's last byte.  A first, clean search on the same buffer learns where
 * the items land; the granule is taken from the data of the first item long
 * enough to hold one clear of its header.
 *
 *   mte-search [-m livelock|control] [-c COMM] [-C CPU] [-T TREE] MOUNTPOINT
 *     livelock  (default) retag one granule, then the ioctl: on 5.10 it never
 *               returns; on 5.19+ it returns -EFAULT
 *     control   MTE sanity: a user read of a mismatched granule must raise
 *               SIGSEGV/SEGV_MTESERR and its neighbours must read fine; then
 *               the ioctl on a correctly tagged buffer must succeed.  Exit 0
 *               only if all of that holds.
 *     -C CPU    pin to this CPU (default: the last one allowed), so that a
 *               live-locked task leaves the other CPUs alone
 *     -T TREE   tree to search (default 1, the root tree)
 *
 * Before the ioctl it prints, one per line: "pid N", "cpu N",
 * "buffer 0xTAGGED", "bad 0xTAGGED untagged 0xUNTAGGED" (livelock mode),
 * "item ..." (the item the bad granule is in) and "ioctl start realtime
 * SECONDS.NANOSECONDS" (CLOCK_REALTIME just before the call); after it
 * "ioctl ret R errno E (TEXT) items N".
 *
 * Build: aarch64-linux-gnu-gcc -static -O2 -march=armv8.5-a+memtag
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PROT_MTE
#define PROT_MTE 0x20
#endif
#ifndef HWCAP2_MTE
#define HWCAP2_MTE (1 << 18)
#endif
#ifndef PR_SET_TAGGED_ADDR_CTRL
#define PR_SET_TAGGED_ADDR_CTRL 55
#define PR_TAGGED_ADDR_ENABLE (1UL << 0)
#endif
#ifndef PR_MTE_TCF_SYNC
#define PR_MTE_TCF_SYNC (1UL << 1)
#define PR_MTE_TAG_SHIFT 3
#endif
#ifndef SEGV_MTESERR
#define SEGV_MTESERR 9
#endif

#define PAGE 4096
#define GRANULE 16
#define TAG 0x3UL	/* the pointer's tag, and every granule's */
#define BAD_TAG 0xcUL	/* the one mismatched granule */

static uintptr_t with_tag(const void *p, unsigned long tag)
{
	return ((uintptr_t)p & ~(0xffUL << 56)) | (tag << 56);
}

/* STG: set the allocation tag of the granule at p to p's tag */
static void set_tag(uintptr_t p)
{
	asm volatile(".arch_extension memtag\n\tstg %0, [%0]" : : "r"(p) : "memory");
}

static unsigned long get_tag(uintptr_t p)
{
	uintptr_t t = p;

	asm volatile(".arch_extension memtag\n\tldg %0, [%1]" : "+r"(t) : "r"(p));
	return (t >> 56) & 0xf;
}

static void sigsegv(int sig, siginfo_t *si, void *uc)
{
	(void)sig; (void)uc;
	_exit(si->si_code == SEGV_MTESERR ? 10 : 11);
}

/* In a child: read one byte at p.  0 = read fine, 10 = MTE sync tag fault,
 * 11 = another SIGSEGV, other = something else. */
static int probe_read(uintptr_t p)
{
	struct sigaction sa = { .sa_sigaction = sigsegv, .sa_flags = SA_SIGINFO };
	int st;
	pid_t c = fork();

	if (c == 0) {
		sigaction(SIGSEGV, &sa, NULL);
		(void)*(volatile char *)p;
		_exit(0);
	}
	if (c < 0 || waitpid(c, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static int last_cpu(void)
{
	cpu_set_t set;
	int i;

	if (sched_getaffinity(0, sizeof(set), &set))
		return -1;
	for (i = CPU_SETSIZE - 1; i >= 0; i--)
		if (CPU_ISSET(i, &set))
			return i;
	return -1;
}

static void init_key(struct btrfs_ioctl_search_key *k, unsigned long tree)
{
	memset(k, 0, sizeof(*k));
	k->tree_id = tree;
	k->max_objectid = (__u64)-1;
	k->max_offset = (__u64)-1;
	k->max_transid = (__u64)-1;
	k->max_type = 255;
	k->nr_items = 4096;
}

static void usage(void)
{
	fprintf(stderr, "usage: mte-search [-m livelock|control] [-c COMM] [-C CPU] [-T TREE] MOUNTPOINT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *comm = NULL, *mode = "livelock";
	struct btrfs_ioctl_search_args *args;
	unsigned long tree = 1;
	int cpu = -1, fd, opt, ret, err, control;
	uintptr_t ubuf, bad = 0;
	struct timespec ts;
	cpu_set_t set;
	char *base;
	size_t i;

	while ((opt = getopt(argc, argv, "m:c:C:T:")) != -1) {
		switch (opt) {
		case 'm': mode = optarg; break;
		case 'c': comm = optarg; break;
		case 'C': cpu = atoi(optarg); break;
		case 'T': tree = strtoul(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (optind != argc - 1)
		usage();
	control = !strcmp(mode, "control");
	if (!control && strcmp(mode, "livelock"))
		usage();
	if (comm)
		prctl(PR_SET_NAME, comm);
	if (!(getauxval(AT_HWCAP2) & HWCAP2_MTE)) {
		fprintf(stderr, "mte-search: no MTE on this CPU (HWCAP2_MTE unset)\n");
		return 3;
	}
	if (prctl(PR_SET_TAGGED_ADDR_CTRL, PR_TAGGED_ADDR_ENABLE | PR_MTE_TCF_SYNC |
		  (0xfffeUL << PR_MTE_TAG_SHIFT), 0, 0, 0)) {
		perror("mte-search: PR_SET_TAGGED_ADDR_CTRL");
		return 3;
	}
	fd = open(argv[optind], O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		perror("mte-search: open");
		return 1;
	}
	base = mmap(NULL, PAGE, PROT_READ | PROT_WRITE | PROT_MTE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		perror("mte-search: mmap PROT_MTE");
		return 3;
	}
	/* every granule of the page gets the pointer's tag */
	for (i = 0; i < PAGE; i += GRANULE)
		set_tag(with_tag(base + i, TAG));
	args = (void *)with_tag(base, TAG);
	ubuf = (uintptr_t)args->buf;

	/* a clean search first: where do the items land in the buffer? */
	init_key(&args->key, tree);
	if (ioctl(fd, BTRFS_IOC_TREE_SEARCH, args) < 0) {
		perror("mte-search: BTRFS_IOC_TREE_SEARCH on a correctly tagged buffer");
		return 1;
	}
	if (args->key.nr_items == 0) {
		fprintf(stderr, "mte-search: tree %lu has no items\n", tree);
		return 1;
	}

	if (control) {
		/* granule 10 of the page mismatches for a moment, for the
		 * user-space check; qemu < 8.0 checked the page's first granule */
		uintptr_t g = with_tag(base + 10 * GRANULE, TAG);
		int r_bad, r_prev, r_next, r_first;

		set_tag(with_tag((void *)g, BAD_TAG));
		r_bad = probe_read(g);
		r_prev = probe_read(g - GRANULE);
		r_next = probe_read(g + GRANULE);
		r_first = probe_read(with_tag(base, TAG));
		printf("mte user read: mismatched granule %s, neighbours %s/%s, first granule %s (ldg tag %lx, want %lx)\n",
		       r_bad == 10 ? "SEGV_MTESERR" : r_bad == 0 ? "no fault" : "other fault",
		       r_prev ? "fault" : "ok", r_next ? "fault" : "ok", r_first ? "fault" : "ok",
		       get_tag(g), BAD_TAG);
		set_tag(g);
		if (r_bad != 10 || r_prev || r_next || r_first || get_tag(g) != TAG) {
			printf("mte broken\n");
			return 1;
		}
		printf("mte ok\n");
	} else {
		struct btrfs_ioctl_search_header sh;
		size_t off = 0;
		unsigned int n;

		/* first item with a granule wholly inside its data, clear of the
		 * 16 bytes after its header (the rewound prefault writes only
		 * the header's first byte, but keep a margin) */
		for (n = 0; n < args->key.nr_items; n++) {
			uintptr_t data, end, g;

			memcpy(&sh, args->buf + off, sizeof(sh));
			data = ubuf + off + sizeof(sh);
			end = data + sh.len;
			g = (data + GRANULE + GRANULE - 1) & ~(uintptr_t)(GRANULE - 1);
			if (g + GRANULE <= end && g + GRANULE < ubuf + sizeof(args->buf)) {
				bad = g;
				printf("item %u objectid %llu type %u offset %llu len %u at +%zu\n", n,
				       (unsigned long long)sh.objectid, sh.type,
				       (unsigned long long)sh.offset, sh.len, off);
				break;
			}
			off += sizeof(sh) + sh.len;
		}
		if (!bad) {
			fprintf(stderr, "mte-search: no item with room for a bad granule\n");
			return 1;
		}
	}

	if (cpu < 0)
		cpu = last_cpu();
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		perror("mte-search: sched_setaffinity");
		return 1;
	}
	printf("pid %d\ncpu %d\nbuffer %#lx\n", getpid(), sched_getcpu(), (unsigned long)ubuf);
	if (bad) {
		set_tag(with_tag((void *)bad, BAD_TAG));
		printf("bad %#lx untagged %#lx tag %lx pointer tag %lx\n", (unsigned long)bad,
		       (unsigned long)with_tag((void *)bad, 0), get_tag(bad), TAG);
	}
	init_key(&args->key, tree);
	clock_gettime(CLOCK_REALTIME, &ts);
	printf("ioctl start realtime %lld.%09ld\n", (long long)ts.tv_sec, ts.tv_nsec);
	fflush(stdout);
	ret = ioctl(fd, BTRFS_IOC_TREE_SEARCH, args);
	err = ret < 0 ? errno : 0;
	printf("ioctl ret %d errno %d (%s) items %u\n", ret, err, err ? strerror(err) : "ok",
	       ret < 0 ? 0 : args->key.nr_items);
	fflush(stdout);
	if (control)
		return ret == 0 && args->key.nr_items > 0 ? 0 : 1;
	return 0;
}
