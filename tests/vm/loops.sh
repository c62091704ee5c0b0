#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Guest side of the loops inside one fault or GUP call (issue: the
# userfaultfd + pending-signal busy loop, the MADV_POPULATE EIO loop), run
# by tests/vm/vmtest.sh and vmtest-arm64.sh in every guest, faultloop at
# default settings (auto mode) started first.  Prints, per scenario:
#   LOOPS-BEGIN NAME
#   the workload's own output (pid, tid, signal_realtime_ns, ...)
#   LOOPS-REPORTS              then faultloop's JSON reports
#   LOOPS-END NAME
# tests/vm/check_loops.py judges them.  POSIX sh (busybox).
#
#   loops.sh DIR [EIO_FILE]    DIR holds faultloop, uffd-loop, populate-eio
cd "$1" || exit 1
eio=${2:-}

start_fl() {
	rm -f /tmp/l.json /tmp/l.err
	./faultloop --json --metrics off >/tmp/l.json 2>/tmp/l.err &
	FL=$!
	i=0
	while ! grep -q 'probes attached' /tmp/l.err 2>/dev/null && [ $i -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

stop_fl() {
	kill "$FL" 2>/dev/null
	wait "$FL"
	echo LOOPS-REPORTS
	cat /tmp/l.json
	echo "LOOPS-END $1"
}

for dir in write read; do
	echo "LOOPS-BEGIN uffd-$dir"
	start_fl
	./uffd-loop -d "$dir" -t 3 -c "uffd$dir"
	sleep 0.3
	stop_fl "uffd-$dir"
done

echo "LOOPS-BEGIN uffd-sleep"
start_fl
./uffd-loop -n -t 2 -c uffdsleep
stop_fl uffd-sleep

if [ -n "$eio" ]; then
	echo "LOOPS-BEGIN populate-eio"
	start_fl
	./populate-eio -t 4 -c popeio "$eio"
	sleep 0.3
	stop_fl populate-eio
fi
