// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "ksyms.h"
#include "unit.h"
#include "report.h"

static const char fixture[] =
	"ffffffff81000000 T bpf_trace_run3\n"
	"ffffffff81001000 T exc_page_fault\n"
	"ffffffff81002000 T copy_to_sk.isra.0\n"
	"ffffffff81003000 t search_ioctl\n"
	"ffffffff81004000 T btrfs_ioctl\n"
	"ffffffff81005000 T kretprobe_trampoline\n"
	"ffffffff81006000 T handle_mm_fault\n"
	"ffffffff81007000 T do_user_addr_fault\n"
	"ffffffff81008000 T _etext\n"
	"ffffffffc0200000 t vp_modern_probe\t[virtio_pci_modern_dev]\n"
	"ffffffffc0200800 d __this_module\t[virtio_pci_modern_dev]\n"
	"ffffffffc0300000 t ftrace_trampoline\t[__builtin__ftrace]\n"
	"ffffffffc0340000 t bpf_trampoline_6442491234\t[bpf]\n"
	"ffffffffc0342000 t bpf_prog_0123456789abcdef_fl_fentry\t[bpf]\n"
	"ffffffffc0343000 t bpf_prog_fedcba9876543210_fl_stall\t[bpf]\n";

static struct ksyms *load_fixture(void)
{
	struct ksyms *ks = ksyms_from_text(fixture);

	assert_non_null(ks);
	return ks;
}

static void sample(struct fl_report *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = FL_REPORT_DETECTED;
	r->sig = FL_SIG_TAG_CHECK_FAULT;
	r->pid = 42;
	r->tid = 43;
	r->addr = 0xffff8000a040ULL;
	r->size = 4096;
	r->retries = 64;
	r->events = 256;
	r->duration_ns = 6400000;
	r->sig_mask = (1ULL << FL_SIG_TAG_CHECK_FAULT) | (1ULL << FL_SIG_EB_TO_USER_NOFAULT);
	memcpy(r->comm, "repro\"\n\\x", 9);
	r->stack[0] = 0xdeadbeef00000000ULL;	/* JIT'ed program: no symbol */
	r->stack[1] = 0xffffffff81000010ULL;	/* bpf_trace_run3 */
	r->stack[2] = 0xffffffff81001010ULL;
	r->stack[3] = 0xffffffff81002020ULL;	/* copy_to_sk.isra.0 */
	r->stack[4] = 0xffffffff81003030ULL;	/* search_ioctl */
	r->stack_sz = 5 * 8;
}

static char *membuf;
static size_t membuf_len;

static char *print(const struct fl_report *r, struct ksyms *ks, bool json)
{
	struct fl_report_ctx c = { .json = json, .ks = ks };

	c.out = open_memstream(&membuf, &membuf_len);
	assert_non_null(c.out);
	fl_report_print(&c, r, fl_report_owner_sig(r, ks), NULL);
	fclose(c.out);
	return membuf;
}

static void test_owner_from_stack(void **state)
{
	struct ksyms *ks = load_fixture();
	struct fl_report r;

	sample(&r);
	assert_string_equal(fl_report_owner(&r, ks), "search_ioctl");
	assert_null(fl_report_owner(&r, NULL));
	r.owner = FL_SIG_OWNER_GENERIC_PERFORM_WRITE;	/* the probe that returned wins */
	assert_string_equal(fl_report_owner(&r, ks), "generic_perform_write");
	ksyms__free(ks);
}

static void test_json_keys(void **state)
{
	static const char *const keys[] = {
		"\"event\":\"detected\"", "\"time\":\"", "\"pid\":42", "\"tid\":43",
		"\"comm\":\"repro\\\"?\\\\x\"", "\"cgroup\":null", "\"signal\":\"do_tag_check_fault\"",
		"\"symbol\":\"?\"", "\"addr\":\"0xffff8000a040\"", "\"size\":4096",
		"\"retries\":64", "\"duration_ns\":6400000", "\"owner\":\"search_ioctl\"",
		"\"owner_ret\":null", "\"signals\":[\"eb_to_user_nofault\",\"do_tag_check_fault\"]",
		"\"stack\":[\"exc_page_fault+0x10\",\"copy_to_sk.isra.0+0x20\",\"search_ioctl+0x30\"]",
	};
	struct ksyms *ks = load_fixture();
	struct fl_report r;
	char *s;
	size_t i;

	sample(&r);
	s = print(&r, ks, true);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strstr(s, keys[i]))
			fail_msg("missing %s in %s", keys[i], s);
	/* one object, one line */
	assert_int_equal(strchr(s, '\n') - s, strlen(s) - 1);
	free(s);

	r.kind = FL_REPORT_ENDED;
	r.reason = FL_END_OWNER_RETURN;
	r.owner = FL_SIG_OWNER_SEARCH_IOCTL;
	r.owner_ret = -14;
	r.flags = FL_EP_REPORTED | FL_EP_HAS_RET;
	s = print(&r, ks, true);
	assert_non_null(strstr(s, "\"event\":\"ended\""));
	assert_non_null(strstr(s, "\"owner_ret\":-14"));
	assert_non_null(strstr(s, "\"reason\":\"owner_return\""));
	free(s);
	ksyms__free(ks);
}

/* A kretprobe swaps return addresses: mid-stack, its trampoline is not a
 * tracer frame, and what is above it is the loop (arm64 5.10, search_ioctl
 * probed by kretprobe). */
static void test_kretprobe_mid_stack(void **state)
{
	struct ksyms *ks = load_fixture();
	struct fl_report r;
	char *s;

	sample(&r);
	r.stack[5] = 0xffffffff81005000ULL;	/* kretprobe_trampoline */
	r.stack[6] = 0xffffffff81004040ULL;	/* btrfs_ioctl */
	r.stack_sz = 7 * 8;
	s = print(&r, ks, true);
	if (!strstr(s, "\"stack\":[\"exc_page_fault+0x10\",\"copy_to_sk.isra.0+0x20\",\"search_ioctl+0x30\","
		    "\"kretprobe_trampoline+0x0\",\"btrfs_ioctl+0x40\"]"))
		fail_msg("stack cut at the kretprobe trampoline: %s", s);
	free(s);
	ksyms__free(ks);
}

/*
 * Issue 19's stack (6.1 guest, the sampler interrupting our fentry
 * program on handle_mm_fault): BPF code between real frames was named
 * "__this_module+0x4036 [virtio_pci_modern_dev]" and
 * "ftrace_trampoline+0x2036 [__builtin__ftrace]".  Listed BPF code is
 * labelled [bpf]; an address inside no symbol stays an address.
 */
static void test_bpf_between_frames(void **state)
{
	struct ksyms *ks = load_fixture();
	struct fl_report r;
	char *s;

	sample(&r);
	r.stack[0] = 0xffffffffc0342040ULL;	/* our program, leading: dropped */
	r.stack[1] = 0xffffffffc0340020ULL;	/* its trampoline, leading: dropped */
	r.stack[2] = 0xffffffff81006010ULL;	/* handle_mm_fault */
	r.stack[3] = 0xffffffffc0342080ULL;	/* a program mid-stack: labelled */
	r.stack[4] = 0xffffffffc0200800ULL + 0x4036;	/* past __this_module */
	r.stack[5] = 0xffffffffc0300000ULL + 0x2036;	/* past the ftrace trampoline */
	r.stack[6] = 0xffffffff81007010ULL;	/* do_user_addr_fault */
	r.stack_sz = 7 * 8;
	s = print(&r, ks, true);
	if (!strstr(s, "\"stack\":[\"handle_mm_fault+0x10\","
		    "\"bpf_prog_0123456789abcdef_fl_fentry+0x80 [bpf]\","
		    "\"0xffffffffc0204836\",\"0xffffffffc0302036\",\"do_user_addr_fault+0x10\"]"))
		fail_msg("BPF frames misnamed: %s", s);
	free(s);
	ksyms__free(ks);
}

/*
 * The comm reads the same in text, JSON and metrics (issue 19: three
 * sanitizers; JSON wrote "é" as "\u00c3\u00a9", text as "??"): UTF-8
 * kept, a byte that starts no character and a control byte as '?'.
 */
static void test_comm_one_rendering(void **state)
{
	struct fl_report r;
	char *s;

	sample(&r);
	r.stack_sz = 0;
	memcpy(r.comm, "h\xc3\xa9\xff\x1b[2Jx", 10);
	s = print(&r, NULL, false);
	if (!strstr(s, " comm h\xc3\xa9??[2Jx cgroup "))
		fail_msg("text: %s", s);
	free(s);
	s = print(&r, NULL, true);
	if (!strstr(s, "\"comm\":\"h\xc3\xa9??[2Jx\""))
		fail_msg("json: %s", s);
	free(s);
}

static void test_text(void **state)
{
	struct ksyms *ks = load_fixture();
	struct fl_report r;
	char *s;

	sample(&r);
	s = print(&r, ks, false);
	/* printable quote kept, newline masked: still one line */
	assert_non_null(strstr(s, "DETECTED pid 42 tid 43 comm repro\"?\\x cgroup ?\n"));
	assert_non_null(strstr(s, "64 retries, 256 events in 6.4ms at 0xffff8000a040"));
	assert_non_null(strstr(s, "owner search_ioctl"));
	assert_non_null(strstr(s, "      copy_to_sk.isra.0+0x20\n"));
	assert_null(strstr(s, "bpf_trace_run3"));
	free(s);
	ksyms__free(ks);
}

/* any directory name a delegated user created: here a newline and an
 * escape sequence, as mkdir on cgroupfs accepts them */
static const char *hostile_cgroup(uint64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "/user.slice/x\n12:00:00 DETECTED pid 1\r\x1b[2J");
	return buf;
}

/*
 * Text reports are one head line and indented lines, whatever names they
 * carry (fuzz_report: a cgroup path holding a newline started a line of
 * its own, so a user who may create cgroups could forge report lines or
 * send escape sequences to the terminal).  The comm was masked already;
 * the cgroup path is masked the same way.  JSON escapes both.
 */
static void test_text_cgroup_masked(void **state)
{
	struct fl_report_ctx c = { .json = false, .cgroup_path = hostile_cgroup };
	struct fl_report r;
	char *s, *p;

	sample(&r);
	r.stack_sz = 0;
	c.out = open_memstream(&membuf, &membuf_len);
	fl_report_print(&c, &r, 0, NULL);
	fclose(c.out);
	s = membuf;
	if (!strstr(s, " cgroup /user.slice/x?12:00:00 DETECTED pid 1??[2J\n"))
		fail_msg("cgroup path not masked: %s", s);
	for (p = s; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\n')
			fail_msg("control byte 0x%02x in %s", *p, s);
	for (p = strchr(s, '\n'); p && p[1]; p = strchr(p + 1, '\n'))
		if (strncmp(p + 1, "    ", 4))
			fail_msg("a line that is neither head nor continuation: %s", p + 1);
	free(s);

	c.json = true;
	c.out = open_memstream(&membuf, &membuf_len);
	fl_report_print(&c, &r, 0, NULL);
	fclose(c.out);
	assert_non_null(strstr(membuf, "\"cgroup\":\"/user.slice/x\\n12:00:00 DETECTED pid 1\\r\\u001b[2J\""));
	free(membuf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owner_from_stack),
		cmocka_unit_test(test_json_keys),
		cmocka_unit_test(test_kretprobe_mid_stack),
		cmocka_unit_test(test_bpf_between_frames),
		cmocka_unit_test(test_comm_one_rendering),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_text_cgroup_masked),
	};

	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
