// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Reports from the kernel (src/episodes.c fl_episodes_handle, src/report.c,
 * src/knownbugs.c fl_known_bug_match): ring buffer records are struct
 * fl_report, written by BPF; their comm is any 16 bytes a process chose
 * and their cgroup path (cgroup.c, a walk of cgroupfs) any directory
 * names a delegated user created.  The input is a sequence of records
 * (the rest of the input after each is the cgroup path), handled as the
 * consumer handles them, in text or JSON by the first byte.
 *
 * JSON: one valid JSON text per line.  Text: every line a report's head
 * ("HH:MM:SS KIND ...") or its indented continuation: nothing a process
 * or cgroup name holds may start a line of its own.
 *
 * Kernel-supplied times are CLOCK_MONOTONIC (bpf_ktime_get_ns), kept
 * below 2^62 ns (146 years of uptime); stack frames whose top byte is
 * 0xff are mapped onto the symbols below, so that stacks name owners,
 * tracer frames and known bugs' functions.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <unistd.h>
#include "episodes.h"
#include "fuzz.h"
#include "knownbugs.h"
#include "ksyms.h"
#include "metrics.h"
#include "report.h"

#define KBASE 0xffffffff81000000ULL

static const char kallsyms[] =
	"ffffffff81000000 T _stext\n"
	"ffffffff81000100 T bpf_trace_run2\n"
	"ffffffff81000200 T __bpf_trace_page_fault_kernel\n"
	"ffffffff81000300 t exc_page_fault\n"
	"ffffffff81000400 T asm_exc_page_fault\n"
	"ffffffff81000500 T fault_in_readable\n"
	"ffffffff81000600 T generic_perform_write\n"
	"ffffffff81000700 t handle_userfault\n"
	"ffffffff81000800 t madvise_populate\n"
	"ffffffff81000900 t copy_to_sk.isra.0\n"
	"ffffffff81000a00 t kretprobe_trampoline\n"
	"ffffffff81000b00 T do_syscall_64\n"
	"ffffffff81000c00 t search_ioctl\t[btrfs]\n"
	"ffffffff81000d00 t btrfs_buffered_write.isra.0\t[btrfs]\n"
	"ffffffff81000e00 T _etext\n";

static struct ksyms *ks;
static char *cg_name;

static const char *fake_cgroup_path(uint64_t id, char *buf, size_t len)
{
	if (id & 1)
		return NULL;
	snprintf(buf, len, "/%s", cg_name);
	return buf;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[64];
	int fd = memfd_create("kallsyms", MFD_CLOEXEC);

	(void)argc;
	(void)argv;
	if (fd < 0 || write(fd, kallsyms, sizeof(kallsyms) - 1) != sizeof(kallsyms) - 1)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ks = ksyms__load(path);
	close(fd);
	if (!ks)
		abort();
	return 0;
}

static void check_json(const char *s, size_t n)
{
	const char *p = s, *nl;

	while (p < s + n) {
		nl = memchr(p, '\n', s + n - p);
		FZ_ASSERT(nl != NULL);
		FZ_ASSERT(fz_json_valid(p, nl - p));
		p = nl + 1;
	}
}

static void check_text(const char *s, size_t n)
{
	const char *p = s, *nl;
	size_t i;

	while (p < s + n) {
		nl = memchr(p, '\n', s + n - p);
		FZ_ASSERT(nl != NULL);
		/* "12:34:56 DETECTED ..." or four spaces */
		FZ_ASSERT((nl - p >= 4 && !memcmp(p, "    ", 4)) ||
			  (nl - p >= 9 && p[2] == ':' && p[5] == ':' && p[8] == ' '));
		for (i = 0; p + i < nl; i++)
			FZ_ASSERT((unsigned char)p[i] >= 0x20 && p[i] != 0x7f);
		p = nl + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fl_user_stats u;
	struct fz f = { data, size };
	struct fl_open_loop open[4];
	struct fl_episodes e = { .max_tasks = 4, .open = open, .ustats = &u };
	struct fl_report_ctx c = {
		.ks = ks,
		.real_minus_mono_ns = 1700000000LL * 1000000000LL,
		.cgroup_path = fake_cgroup_path,
	};
	struct fl_report r;
	char *out = NULL;
	size_t outlen = 0;
	int i;

	c.json = fz_u8(&f) & 1;
	c.out = open_memstream(&out, &outlen);
	e.rctx = &c;
	fl_user_stats_init(&u);
	while (f.n >= sizeof(r)) {
		memcpy(&r, f.d, sizeof(r));
		f.d += sizeof(r);
		f.n -= sizeof(r);
		cg_name = fz_token(&f);
		r.ts_ns &= (1ULL << 62) - 1;
		r.start_ns &= (1ULL << 62) - 1;
		for (i = 0; i < FL_MAX_STACK; i++)
			if (r.stack[i] >> 56 == 0xff)
				r.stack[i] = KBASE + (r.stack[i] & 0xfff);
		fl_episodes_handle(&e, &r);
		free(cg_name);
	}
	fclose(c.out);
	if (c.json)
		check_json(out, outlen);
	else
		check_text(out, outlen);
	free(out);
	pthread_mutex_destroy(&u.lock);
	return 0;
}
