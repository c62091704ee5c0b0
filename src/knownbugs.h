/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel loops this class is known for, with their fixes: each
 * DETECTED loop is matched against them by owner, signal and stack, and
 * its reports say which bug it is, its fix, and whether the running
 * kernel's version carries that fix.
 */
#ifndef FL_KNOWNBUGS_H
#define FL_KNOWNBUGS_H

#include <stdbool.h>
#include <stdint.h>
#include "faultloop.h"

struct ksyms;

/*
 * One piece of evidence a report must carry: the flag (FL_EP_*, set by
 * BPF for this fault), or one of the frames in its symbolized stack.
 * Several pieces are each required: a report with only some of them is
 * another loop (issue 19: a race with a blocked signal pending was named
 * the userfaultfd loop on the signal alone).
 */
struct fl_bug_evidence {
	uint8_t flag;		/* 0: no flag tells it */
	const char *frames[3];	/* functions, NULL-terminated */
};

#define FL_BUG_MAX_NEED	2

struct fl_known_bug {
	const char *id;		/* metric label value */
	const char *title;
	const char *fix;	/* mainline commit; NULL: no fix merged */
	const char *fixed_in;	/* first mainline release with it */
	/* stable branches that took it: "X.Y.Z" = branch X.Y from Z on */
	const char *stable[4];
	const char *fix_title;	/* its subject, as Debian's changelog lists it */
	const char *since;	/* first release that can loop, NULL: older */
	unsigned int needs;	/* FL_BUG_NEEDS_*: what the host must offer */
	/* the match: every field given must hold */
	unsigned int arch;	/* FL_BUG_ARCH_*, 0 any */
	unsigned int owner;	/* owner signal, 0 any */
	unsigned int sig;	/* the report's signal, 0 any */
	struct fl_bug_evidence need[FL_BUG_MAX_NEED];
};

#define FL_BUG_ARCH_X86		1
#define FL_BUG_ARCH_ARM64	2

#define FL_BUG_NEEDS_MTE	0x1	/* a CPU with MTE ("mte" in Features) */
#define FL_BUG_NEEDS_BTRFS	0x2	/* btrfs in /proc/filesystems */
#define FL_BUG_NEEDS_UFFD	0x4	/* userfaultfd for kernel faults, to
					 * unprivileged processes */

/* This build's architecture, FL_BUG_ARCH_*. */
unsigned int fl_known_bug_arch(void);
/* "X.Y[.Z]..." into v[3] (Z 0 if absent): 0, or -1 without "X.Y". */
int fl_version_parse(const char *s, unsigned int v[3]);
int fl_version_cmp(const unsigned int a[3], const unsigned int b[3]);

extern const struct fl_known_bug fl_known_bugs[];
extern const int fl_nr_known_bugs;

/* The entry with this id, NULL if none. */
const struct fl_known_bug *fl_known_bug_by_id(const char *id);
/* The bug a report's loop is, NULL if none.  owner: fl_report_owner_sig(). */
const struct fl_known_bug *fl_known_bug_match(const struct fl_report *r,
					      const struct ksyms *ks,
					      unsigned int owner);
/* The same on a host of architecture arch (FL_BUG_ARCH_*; for the tests). */
const struct fl_known_bug *fl_known_bug_match_on(const struct fl_report *r,
						 const struct ksyms *ks,
						 unsigned int owner, unsigned int arch);
/* 1: upstream version "X.Y.Z" has the fix (mainline, or a stable branch
 * that took it); 0: it has not (or none exists); -1: no version.  The
 * running kernel's answer is exposure.h's fl_known_bug_fixed(). */
int fl_known_bug_fixed_in(const struct fl_known_bug *b, const char *version);

#endif
