/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The names and classes of the ABI enums of include/faultloop.h: signals,
 * report kinds, end reasons.  Report, metrics and probe selection all read
 * them from here, so none of them depends on another for a name.
 */
#ifndef FL_SIGNALS_H
#define FL_SIGNALS_H

#include <stdbool.h>
#include "faultloop.h"

/* What a signal's probe watches. */
enum fl_kind {
	FL_K_FAULTIN,		/* fault_in_*() attempts */
	FL_K_COPY,		/* atomic / nofault user copies */
	FL_K_FAULT,		/* the page-fault path */
	FL_K_OWNER,		/* functions that own a retry loop */
	FL_K_HOUSEKEEPING,	/* task exit */
};

const char *fl_sig_name(unsigned int sig);
/* The signal called name ("search_ioctl"), 0 if none. */
unsigned int fl_sig_by_name(const char *name);
enum fl_kind fl_sig_kind(unsigned int sig);
const char *fl_kind_name(enum fl_kind k);
/* The signal's events carry a user address on this architecture, and so
 * feed the detector (arm64's fixup_exception has none). */
bool fl_sig_has_addr(unsigned int sig);
bool fl_sig_is_owner(unsigned int sig);

const char *fl_end_reason_name(unsigned int reason);
const char *fl_report_kind_name(unsigned int kind);

#endif
