/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What faultloop needs to start, and what it keeps once its probes are armed. */
#ifndef FL_PRIVS_H
#define FL_PRIVS_H

#include <stdbool.h>

/* Root, or CAP_BPF with CAP_PERFMON, and the kernel's BTF: one line on
 * stderr and a negative errno when missing. */
int fl_privs_preflight(void);
/* Whether cap is in the effective set. */
bool fl_privs_has(unsigned int cap);
/* Keep CAP_BPF only, bounding set included, and set no_new_privs. */
int fl_privs_drop(void);

#endif
