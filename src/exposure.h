/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Before a loop fires: whether this host can hit each known loop
 * (knownbugs.h), decided once at start from what the host says about
 * itself: the architecture, the CPU's features, the file systems and
 * userfaultfd it offers, and which upstream fixes its kernel carries
 * (Debian's changelog lists the stable updates merged and their commits).
 */
#ifndef FL_EXPOSURE_H
#define FL_EXPOSURE_H

#include <stdio.h>
#include "knownbugs.h"

enum fl_exposure {
	FL_EXP_UNKNOWN,		/* the version says nothing about backports */
	FL_EXP_EXPOSED,
	FL_EXP_FIXED,
	FL_EXP_NOT_APPLICABLE,	/* wrong arch, no MTE, no userfaultfd, no btrfs */
};

/* What the decision reads; texts NULL when the file is absent. */
struct fl_host_facts {
	unsigned int arch;		/* FL_BUG_ARCH_* */
	const char *release;		/* uname -r */
	const char *proc_version;	/* /proc/version */
	const char *changelog;		/* changelog.Debian of the running kernel */
	const char *filesystems;	/* /proc/filesystems */
	const char *cpuinfo;		/* /proc/cpuinfo */
	int unpriv_uffd;		/* vm.unprivileged_userfaultfd, -1 absent */
	int dev_uffd_mode;		/* /dev/userfaultfd's mode bits, or: */
#define FL_DEV_ABSENT	(-1)		/* no such device (sysfs agrees) */
#define FL_DEV_HIDDEN	(-2)		/* the device exists, this /dev lacks it */
};

struct fl_exposure_result {
	enum fl_exposure status;
	char version[32];	/* the upstream version decided on, "" unknown */
	const char *source;	/* where it came from: "debian-changelog", ... */
	char reason[192];
};

const char *fl_exposure_name(enum fl_exposure e);
/* b's status on a host with facts h (the tests feed fixtures). */
void fl_exposure_decide(const struct fl_known_bug *b, const struct fl_host_facts *h,
			struct fl_exposure_result *out);
/* This host's, for every known bug (fl_known_bugs order), decided once. */
const struct fl_exposure_result *fl_exposure_host(void);

/* The running kernel: 1 it has b's fix, 0 it has not (or none exists),
 * -1 unknown (fl_exposure_host's decision; where b does not apply, by
 * version alone). */
int fl_known_bug_fixed(const struct fl_known_bug *b);
/* Its upstream version "X.Y.Z" (see fl_exposure_decide), "" if unknown. */
const char *fl_kernel_version(void);

/* --probes: a section after the probe table, or a JSON array. */
void fl_exposure_print(FILE *out);
struct jw;
void fl_exposure_json(struct jw *w);
/* Start-up: one line per loop this host is exposed to, nothing if none. */
void fl_exposure_banner(FILE *out);
/* faultloop_known_bug_exposure{bug,status,fixed_in} 1, one per bug. */
void fl_exposure_metrics(FILE *out);

#endif
