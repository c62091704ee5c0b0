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

struct fl_known_bug {
	const char *id;		/* metric label value */
	const char *title;
	const char *fix;	/* mainline commit; NULL: no fix merged */
	const char *fixed_in;	/* first mainline release with it */
	/* stable branches that took it: "X.Y.Z" = branch X.Y from Z on */
	const char *stable[4];
	/* the match: every field given must hold */
	unsigned int arch;	/* FL_BUG_ARCH_*, 0 any */
	unsigned int owner;	/* owner signal, 0 any */
	unsigned int sig;	/* the report's signal, 0 any */
	/* ... and, if either is given, one of them: */
	uint8_t flags;		/* any of these report flags (FL_EP_UFFD, ...) */
	const char *frames[3];	/* functions, one of which is in the stack */
};

#define FL_BUG_ARCH_X86		1
#define FL_BUG_ARCH_ARM64	2

extern const struct fl_known_bug fl_known_bugs[];
extern const int fl_nr_known_bugs;

/* The bug a report's loop is, NULL if none.  owner: fl_report_owner_sig(). */
const struct fl_known_bug *fl_known_bug_match(const struct fl_report *r,
					      const struct ksyms *ks,
					      unsigned int owner);
/* 1: the running kernel's version has the fix; 0: it has not (or none
 * exists); -1: the version is unknown. */
int fl_known_bug_fixed(const struct fl_known_bug *b);
/* The same against a version string "X.Y.Z" (exposed for the tests). */
int fl_known_bug_fixed_in(const struct fl_known_bug *b, const char *version);
/* The running kernel's version "X.Y.Z": the Debian package's
 * (/proc/version says "Debian 6.1.119-1"), else uname's release. */
const char *fl_kernel_version(void);

#endif
