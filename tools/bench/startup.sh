#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Start-up per attach mode: faultloop's banner says how long it took from
# main() to its probes being armed ("N probes attached in M ms"); this
# runs it RUNS times per MODE and prints one record per mode:
#   BENCH <tab> startup <tab> MODE <tab> ms ms ms ...   ("x": no banner)
# POSIX sh: it runs in the busybox VM guests too.
#
#   tools/bench/startup.sh FAULTLOOP RUNS MODE...
FL=$1
RUNS=$2
shift 2
for mode in "$@"; do
	vals=
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		ms=$("$FL" --metrics off --mode "$mode" -d 1ms 2>&1 >/dev/null |
			sed -n 's/.* probes attached in \([0-9]*\) ms.*/\1/p')
		vals="$vals ${ms:-x}"
		i=$((i + 1))
	done
	printf 'BENCH\tstartup\t%s\t%s\n' "$mode" "${vals# }"
done
