#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Guest side of the loops inside one fault or GUP call (issue: the
# userfaultfd + pending-signal busy loop, the MADV_POPULATE EIO loop), run
# by tests/vm/vmtest.sh and vmtest-arm64.sh in every guest, faultloop at
# default settings (auto mode) started first.  Prints, per scenario run:
#   LOOPS-BEGIN NAME#I up=S    I: the run's number, from 1; S: uptime
#   LOOPS-ATTACHED up=S        faultloop attached (the workload starts)
#   the workload's own output (pid, tid, signal_realtime_ns, ...)
#   LOOPS-REPORTS up=S         faultloop stopped; then its JSON reports
#   LOOPS-END NAME#I
# tests/vm/check_loops.py judges them.  POSIX sh (busybox).
#
#   loops.sh DIR [EIO_FILE]    DIR holds faultloop, uffd-loop, populate-eio
#
# Environment:
#   LOOPS_REPEAT=N   run the userfaultfd scenarios N times (default 1): each
#                    run starts faultloop afresh (the attach, with the shell
#                    forking beside it, is where a guest once wedged) and a
#                    wedge that comes once in ten runs must show up
#   LOOPS_ONLY=LIST  only these scenarios (uffd-write uffd-read uffd-sleep
#                    populate-eio; default all)
#   LOOPS_FL=ARGS    faultloop's arguments instead of the defaults; "none":
#                    no faultloop at all (the control of tools/vm/loops-repeat.sh)
cd "$1" || exit 1
eio=${2:-}
repeat=${LOOPS_REPEAT:-1}
only=${LOOPS_ONLY:-uffd-write uffd-read uffd-sleep populate-eio}

up() { cut -d' ' -f1 /proc/uptime; }
wanted() { case " $only " in *" $1 "*) return 0 ;; esac; return 1; }

start_fl() {
	rm -f /tmp/l.json /tmp/l.err
	FL=
	[ "${LOOPS_FL:-}" = none ] && return
	# shellcheck disable=SC2086 # LOOPS_FL is a list of arguments
	./faultloop --json --metrics off ${LOOPS_FL:-} >/tmp/l.json 2>/tmp/l.err &
	FL=$!
	i=0
	while ! grep -q 'probes attached' /tmp/l.err 2>/dev/null && [ $i -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	echo "LOOPS-ATTACHED up=$(up)"
}

stop_fl() {
	if [ -n "$FL" ]; then
		kill "$FL" 2>/dev/null
		wait "$FL"
	fi
	echo "LOOPS-REPORTS up=$(up)"
	cat /tmp/l.json 2>/dev/null
	echo "LOOPS-END $1"
}

# check_loops.py counts the runs against this
echo "LOOPS-PLAN repeat=$repeat only=$(echo $only | tr ' ' ,)"
n=1
while [ $n -le "$repeat" ]; do
	for dir in write read; do
		wanted "uffd-$dir" || continue
		echo "LOOPS-BEGIN uffd-$dir#$n up=$(up)"
		start_fl
		./uffd-loop -d "$dir" -t 3 -c "uffd$dir"
		sleep 0.3
		stop_fl "uffd-$dir#$n"
	done
	n=$((n + 1))
done

if wanted uffd-sleep; then
	echo "LOOPS-BEGIN uffd-sleep#1 up=$(up)"
	start_fl
	./uffd-loop -n -t 2 -c uffdsleep
	stop_fl "uffd-sleep#1"
fi

if [ -n "$eio" ] && wanted populate-eio; then
	echo "LOOPS-BEGIN populate-eio#1 up=$(up)"
	start_fl
	./populate-eio -t 4 -c popeio "$eio"
	sleep 0.3
	stop_fl "populate-eio#1"
fi
