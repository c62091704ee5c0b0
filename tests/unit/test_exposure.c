// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Each host's exposure to the known loops (src/exposure.c), from fixture
 * facts: uname, /proc/version, Debian's changelog, /proc/filesystems,
 * /proc/cpuinfo, the userfaultfd sysctl and device; and this host's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <cmocka.h>
#include "exposure.h"
#include "json.h"

static const struct fl_known_bug *by_id(const char *id)
{
	const struct fl_known_bug *b = fl_known_bug_by_id(id);

	assert_non_null(b);
	return b;
}

#define MTE	"btrfs-search-ioctl-subpage"
#define UFFD	"uffd-signal-busy-loop"
#define POP	"madv-populate-eio"

static const char *status(const char *id, const struct fl_host_facts *h)
{
	struct fl_exposure_result r;

	fl_exposure_decide(by_id(id), h, &r);
	return fl_exposure_name(r.status);
}

static const char arm64_mte_cpuinfo[] =
	"processor\t: 0\nBogoMIPS\t: 125.00\n"
	"Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics cpuid sve bti mte mte3\n"
	"CPU implementer\t: 0x41\n";
static const char arm64_cpuinfo[] =
	"processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics cpuid\n";
static const char fs_btrfs[] = "nodev\tsysfs\nnodev\ttmpfs\n\text4\n\tbtrfs\n";
static const char fs_plain[] = "nodev\tsysfs\nnodev\ttmpfs\n\text4\n\tbtrfs2\n";

/* The CI host: 6.18 x86, not a Debian build, uffd closed to users. */
static void test_ci_host(void **state)
{
	struct fl_host_facts h = {
		.arch = FL_BUG_ARCH_X86, .release = "6.18.44-fc-v1272",
		.proc_version = "Linux version 6.18.44-fc-v1272 (builder@sandboxing) #1 SMP",
		.filesystems = fs_btrfs, .cpuinfo = "flags\t\t: fpu vme mte\n",
		.unpriv_uffd = 0, .dev_uffd_mode = 0600,
	};
	struct fl_exposure_result r;

	assert_string_equal(status(MTE, &h), "not_applicable");
	assert_string_equal(status(UFFD, &h), "not_applicable");
	fl_exposure_decide(by_id(POP), &h, &r);
	assert_string_equal(fl_exposure_name(r.status), "fixed");
	assert_string_equal(r.version, "6.18.44");
	assert_string_equal(r.source, "uname");
}

/* Debian bookworm, 6.1: the populate fix failed to apply to 6.1-stable. */
static void test_debian_61(void **state)
{
	static const char changelog[] =
		"linux (6.1.119-1) bookworm-security; urgency=high\n\n"
		"  * New upstream stable update:\n"
		"    https://www.kernel.org/pub/linux/kernel/v6.x/ChangeLog-6.1.117\n"
		"    - mm: something else\n"
		"    https://www.kernel.org/pub/linux/kernel/v6.x/ChangeLog-6.1.119\n"
		"    - btrfs: Avoid live-lock in search_ioctl() on hardware with sub-page faults\n";
	struct fl_host_facts h = {
		.arch = FL_BUG_ARCH_X86, .release = "6.1.0-28-amd64",
		.proc_version = "Linux version 6.1.0-28-amd64 (debian-kernel@lists.debian.org) "
				"#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)",
		.changelog = changelog, .filesystems = fs_btrfs,
		.unpriv_uffd = 1, .dev_uffd_mode = 0600,
	};
	struct fl_exposure_result r;

	fl_exposure_decide(by_id(POP), &h, &r);
	assert_string_equal(fl_exposure_name(r.status), "exposed");
	assert_string_equal(r.version, "6.1.119");
	assert_string_equal(r.source, "debian-changelog");
	assert_string_equal(status(UFFD, &h), "exposed");
	assert_string_equal(status(MTE, &h), "not_applicable");
	/* userfaultfd: the device open to a group, the sysctl closed */
	h.unpriv_uffd = 0;
	assert_string_equal(status(UFFD, &h), "not_applicable");
	h.dev_uffd_mode = 0660;
	assert_string_equal(status(UFFD, &h), "exposed");
	/* no sysctl, no device: CONFIG_USERFAULTFD off */
	h.unpriv_uffd = -1;
	h.dev_uffd_mode = -1;
	fl_exposure_decide(by_id(UFFD), &h, &r);
	assert_string_equal(fl_exposure_name(r.status), "not_applicable");
	assert_non_null(strstr(r.reason, "CONFIG_USERFAULTFD"));
	/* a container's /dev: the host's device mode cannot be seen */
	h.unpriv_uffd = 0;
	h.dev_uffd_mode = FL_DEV_HIDDEN;
	fl_exposure_decide(by_id(UFFD), &h, &r);
	assert_string_equal(fl_exposure_name(r.status), "unknown");
	assert_non_null(strstr(r.reason, "not visible"));
	h.unpriv_uffd = -1;
	h.dev_uffd_mode = FL_DEV_ABSENT;
	/* without the changelog, /proc/version's Debian version decides */
	h.changelog = NULL;
	fl_exposure_decide(by_id(POP), &h, &r);
	assert_string_equal(fl_exposure_name(r.status), "exposed");
	assert_string_equal(r.source, "debian");
	/* a Debian cherry-pick, named in the changelog: fixed */
	h.changelog = "linux (6.1.120-1) bookworm; urgency=medium\n"
		      "  * [x86] mm/madvise: make MADV_POPULATE_(READ|WRITE) handle VM_FAULT_RETRY properly\n";
	assert_string_equal(status(POP, &h), "fixed");
}

/* 6.8 took the populate fix in 6.8.8; 6.9 has it upstream. */
static void test_stable_backport(void **state)
{
	struct fl_host_facts h = {
		.arch = FL_BUG_ARCH_X86, .release = "6.8.0-1-amd64",
		.proc_version = "Linux version 6.8.0-1-amd64 #1 Debian 6.8.7-1 (2024-04-20)",
		.unpriv_uffd = -1, .dev_uffd_mode = -1,
	};

	assert_string_equal(status(POP, &h), "exposed");
	h.proc_version = "Linux version 6.8.0-1-amd64 #1 Debian 6.8.9-1 (2024-05-03)";
	assert_string_equal(status(POP, &h), "fixed");
	h.proc_version = "Linux version 6.12.0-1-amd64 #1 Debian 6.12.57-1";
	assert_string_equal(status(POP, &h), "fixed");
	/* before 5.14 there is no MADV_POPULATE_* to loop */
	h.proc_version = "Linux version 5.10.0-32-amd64 #1 Debian 5.10.223-1";
	assert_string_equal(status(POP, &h), "not_applicable");
}

/* Debian bullseye arm64 with MTE: the seeds' loop, never fixed in 5.10. */
static void test_debian_510_arm64(void **state)
{
	struct fl_host_facts h = {
		.arch = FL_BUG_ARCH_ARM64, .release = "5.10.0-32-arm64",
		.proc_version = "Linux version 5.10.0-32-arm64 #1 SMP Debian 5.10.223-1 (2024-08-10)",
		.filesystems = fs_btrfs, .cpuinfo = arm64_mte_cpuinfo,
		.unpriv_uffd = 1, .dev_uffd_mode = -1,
	};
	struct fl_exposure_result r;

	fl_exposure_decide(by_id(MTE), &h, &r);
	assert_string_equal(fl_exposure_name(r.status), "exposed");
	assert_string_equal(r.version, "5.10.223");
	/* no MTE in the CPU, or no btrfs: not applicable */
	h.cpuinfo = arm64_cpuinfo;
	assert_string_equal(status(MTE, &h), "not_applicable");
	h.cpuinfo = NULL;
	assert_string_equal(status(MTE, &h), "not_applicable");
	h.cpuinfo = arm64_mte_cpuinfo;
	h.filesystems = fs_plain;
	assert_string_equal(status(MTE, &h), "not_applicable");
	h.filesystems = fs_btrfs;
	/* 6.1 has the fix upstream (5.19) */
	h.proc_version = "Linux version 6.1.0-28-arm64 #1 SMP Debian 6.1.119-1";
	assert_string_equal(status(MTE, &h), "fixed");
	/* before 5.2, no sysctl: userfaultfd is anyone's */
	h.unpriv_uffd = -1;
	h.proc_version = "Linux version 4.19.0-27-arm64 #1 SMP Debian 4.19.316-1";
	assert_string_equal(status(UFFD, &h), "exposed");
}

/* A version that says nothing about backports: say so. */
static void test_unknown(void **state)
{
	struct fl_host_facts h = {
		.arch = FL_BUG_ARCH_ARM64, .release = "5.15.0-91-generic",
		.proc_version = "Linux version 5.15.0-91-generic (buildd@lcy02) #101-Ubuntu SMP",
		.filesystems = fs_btrfs, .cpuinfo = arm64_mte_cpuinfo,
		.unpriv_uffd = 1, .dev_uffd_mode = -1,
	};
	struct fl_exposure_result r;

	fl_exposure_decide(by_id(MTE), &h, &r);
	assert_string_equal(fl_exposure_name(r.status), "unknown");
	assert_non_null(strstr(r.reason, "backports"));
	assert_string_equal(status(POP, &h), "unknown");
	/* the mainline release with the fix: fixed, whoever built it */
	h.release = "6.0.2-custom";
	h.proc_version = "Linux version 6.0.2-custom";
	assert_string_equal(status(MTE, &h), "fixed");
	/* nothing at all */
	h.release = "";
	h.proc_version = NULL;
	assert_string_equal(status(POP, &h), "unknown");
	/* the loop without a fix is exposed whatever the version */
	assert_string_equal(status(UFFD, &h), "exposed");
}

/* This host: what the kernel and the CPU are decides, not a guess. */
static void test_this_host(void **state)
{
	const struct fl_exposure_result *e = fl_exposure_host();
	unsigned int v[3], fix[3] = { 6, 9, 0 };
	struct utsname u;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int i;

	assert_int_equal(uname(&u), 0);
	for (i = 0; i < fl_nr_known_bugs; i++) {
		if (!strcmp(fl_known_bugs[i].id, MTE) && strcmp(u.machine, "aarch64"))
			assert_int_equal(e[i].status, FL_EXP_NOT_APPLICABLE);
		if (!strcmp(fl_known_bugs[i].id, POP) && !fl_version_parse(u.release, v) &&
		    fl_version_cmp(v, fix) >= 0)
			assert_int_equal(e[i].status, FL_EXP_FIXED);
	}
	/* the metric: one series per bug, its status one of the four */
	f = open_memstream(&buf, &len);
	fl_exposure_metrics(f);
	fclose(f);
	for (i = 0; i < fl_nr_known_bugs; i++) {
		char want[256];

		snprintf(want, sizeof(want), "faultloop_known_bug_exposure{bug=\"%s\",status=\"%s\",",
			 fl_known_bugs[i].id, fl_exposure_name(e[i].status));
		assert_non_null(strstr(buf, want));
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ci_host),
		cmocka_unit_test(test_debian_61),
		cmocka_unit_test(test_stable_backport),
		cmocka_unit_test(test_debian_510_arm64),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_this_host),
	};

	return cmocka_run_group_tests_name("exposure", tests, NULL, NULL);
}
