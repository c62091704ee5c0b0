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
#   LOOPS_REPEAT=N   run each userfaultfd scenario N times (default 3; the
#                    arm64 matrix 2): a CI run makes 68 such loops over its
#                    14 suites, so a wedge that comes once in 20 loops
#                    shows in 97% of CI runs (1 - 0.95^68; issue 19), and a
#                    hunt for one repeats more (tools/vm/loops-repeat.sh).  Run
#                    1 of each gets a faultloop of its own and spins its full
#                    3 s; runs 2..N share one faultloop, and each ends as
#                    soon as it is DETECTED (about 2 s a run under TCG)
#   LOOPS_RESTART=1  every run gets a faultloop of its own (its attach and
#                    detach repeated too; tools/vm/loops-repeat.sh)
#   LOOPS_ONLY=LIST  only these scenarios (uffd-write uffd-read uffd-sleep
#                    populate-eio; default all; "attach": faultloop started
#                    and stopped LOOPS_REPEAT times with no workload, the
#                    shell forking beside it)
#   LOOPS_FL=ARGS    faultloop's arguments instead of the defaults; "none":
#                    no faultloop at all (the control of tools/vm/loops-repeat.sh)
cd "$1" || exit 1
eio=${2:-}
repeat=${LOOPS_REPEAT:-3}
only=${LOOPS_ONLY:-uffd-write uffd-read uffd-sleep populate-eio}

up() { cut -d' ' -f1 /proc/uptime; }
wanted() { case " $only " in *" $1 "*) return 0 ;; esac; return 1; }

shared=
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

# A run inside a shared faultloop: the page is filled (SIGUSR2) once the
# loop is DETECTED, 3 s at most; without faultloop it spins the 3 s
shared_run() {	# DIR N
	echo "LOOPS-BEGIN uffd-$1#$2 up=$(up)"
	# the background job truncates /tmp/u.out later than the loop below
	# may read it: the last run's tid, already DETECTED, filled this
	# run's page before it spun (trixie, CI, "stime_ms 0 over 0.0s")
	rm -f /tmp/u.out
	./uffd-loop -d "$1" -t 3 -c "uffd$1" >/tmp/u.out &
	u=$!
	i=0
	tid=
	while [ -n "$FL" ] && [ $i -lt 40 ] && kill -0 $u 2>/dev/null; do
		[ -n "$tid" ] || tid=$(sed -n 's/^tid //p' /tmp/u.out)
		[ -n "$tid" ] && grep -q "\"event\":\"detected\".*\"tid\":$tid," /tmp/l.json && break
		sleep 0.1
		i=$((i + 1))
	done
	[ -z "$FL" ] || kill -USR2 $u
	wait $u
	cat /tmp/u.out
	echo "LOOPS-REPORTS up=$(up)"
	[ -z "$tid" ] || grep "\"tid\":$tid," /tmp/l.json
	echo "LOOPS-END uffd-$1#$2"
}

# check_loops.py counts the runs against this (unquoted: one space apart)
# shellcheck disable=SC2086
echo "LOOPS-PLAN repeat=$repeat only=$(echo $only | tr ' ' ,)"
n=1
while [ $n -le "$repeat" ]; do
	if wanted attach; then
		echo "LOOPS-BEGIN attach#$n up=$(up)"
		start_fl
		stop_fl "attach#$n"
	fi
	for dir in write read; do
		wanted "uffd-$dir" || continue
		if [ $n = 1 ] || [ "${LOOPS_RESTART:-0}" = 1 ]; then
			echo "LOOPS-BEGIN uffd-$dir#$n up=$(up)"
			start_fl
			./uffd-loop -d "$dir" -t 3 -c "uffd$dir"
			sleep 0.3
			stop_fl "uffd-$dir#$n"
			continue
		fi
		if [ -z "$shared" ]; then
			start_fl
			shared=1
		fi
		shared_run "$dir" $n
	done
	n=$((n + 1))
done
[ -z "$shared" ] || stop_fl shared >/dev/null

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
