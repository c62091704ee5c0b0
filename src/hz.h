/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef FL_HZ_H
#define FL_HZ_H

#include <stdint.h>

/*
 * The kernel's tick rate (CONFIG_HZ), which BPF needs to turn
 * bpf_jiffies64() into time.  No interface states it: USER_HZ
 * (sysconf(_SC_CLK_TCK)) is always 100.  Tried in turn:
 * /boot/config-$(uname -r), /proc/config.gz (CONFIG_IKCONFIG_PROC), and a
 * measurement: jiffies against CLOCK_MONOTONIC over 200 ms from two reads
 * of /proc/timer_list, accepted only near a rate Kconfig offers.
 * Returns HZ, or 0 (not found; *source says why); *source names the
 * source otherwise.
 */
unsigned int fl_kernel_hz(const char **source);

/*
 * The BPF knobs of the coarse clock (see jiffy_ns, gap_j in
 * bpf/detector.bpf.h) for HZ hz and an idle gap of gap_ns: ns per jiffy and
 * the gap in jiffies, rounded up; hz 0 (unknown): 0 and gap_ns, the slot
 * then reads the precise clock.
 */
void fl_clock_knobs(unsigned int hz, uint64_t gap_ns, uint64_t *jiffy_ns, uint64_t *gap_j);

/* Pieces, for the unit tests. */
unsigned int fl_measured_hz(const char **source);
unsigned int fl_config_hz_line(const char *line);	/* "CONFIG_HZ=250" -> 250, else 0 */
int fl_timer_list_parse(const char *text, uint64_t *now_ns, uint64_t *jiffies);
unsigned int fl_hz_from_rate(double jiffies_per_sec);	/* snapped to a Kconfig HZ, or 0 */

#endif
