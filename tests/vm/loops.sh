#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Guest side of the loops inside one fault or GUP call (issue: the
# userfaultfd + pending-signal busy loop, the MADV_POPULATE EIO loop), run
# by tests/vm/vmtest.sh and vmtest-arm64.sh in every guest, faultloop at
# default settings (auto mode) started first, one faultloop for them all
# (each start costs 3 to 10 s under TCG).  Prints, per scenario run:
#   LOOPS-BEGIN NAME#I up=S    I: the run's number, from 1; S: uptime
#   the workload's own output (pid, tid, signal_realtime_ns, ...)
#   LOOPS-REPORTS up=S         then faultloop's JSON reports of its thread
#   LOOPS-END NAME#I
# and LOOPS-ATTACHED up=S whenever a faultloop has attached.
# tests/vm/check_loops.py judges them.  POSIX sh (busybox).
#
#   loops.sh DIR [EIO_FILE]    DIR holds faultloop, uffd-loop, populate-eio
#
# Environment:
#   LOOPS_REPEAT=N   run each userfaultfd scenario N times (default 3; the
#                    arm64 matrix 2): a CI run makes 58 such loops over its
#                    12 suites, so a wedge that comes once in 20 loops
#                    shows in 95% of CI runs (1 - 0.95^58; issue 19), and a
#                    hunt for one repeats more (tools/vm/loops-repeat.sh).  Run
#                    1 of each spins its full 3 s; runs 2..N each end as
#                    soon as they are DETECTED (about 1.5 s a run under TCG)
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
	[ -n "$FL" ] || return 0
	kill "$FL" 2>/dev/null
	wait "$FL"
	FL=
}

# The end of a scenario's block: faultloop's reports of its thread (tid
# from the workload's output; all of them when it printed none)
reports() {	# NAME
	echo "LOOPS-REPORTS up=$(up)"
	tid=$(sed -n 's/^tid //p' /tmp/u.out)
	if [ -n "$tid" ]; then grep "\"tid\":$tid," /tmp/l.json; else cat /tmp/l.json; fi 2>/dev/null
	echo "LOOPS-END $1"
}

# One scenario: NAME, then the workload's command.  One faultloop serves
# them all (started first below), unless LOOPS_RESTART=1: then each gets
# its own, attached before and stopped after it.  The workload's output
# goes to /tmp/u.out, removed first: a background job truncates its file
# later than a loop reading it may look (a shared run read the last
# run's tid, already DETECTED, and filled its own page before it spun:
# trixie in CI, "stime_ms 0 over 0.0s").
scenario() {	# NAME CMD...
	name=$1
	shift
	echo "LOOPS-BEGIN $name up=$(up)"
	[ "${LOOPS_RESTART:-0}" = 1 ] && start_fl
	rm -f /tmp/u.out
	"$@" >/tmp/u.out
	cat /tmp/u.out
	sleep 0.3	# its last report (ENDED) out of the ring buffer
	reports "$name"
	[ "${LOOPS_RESTART:-0}" = 1 ] && stop_fl
}

# A run that ends once DETECTED: the page is filled (SIGUSR2) when the
# loop is reported, 4 s at most; without faultloop it spins its 3 s
uffd_until_detected() {	# DIR
	./uffd-loop -d "$1" -t 3 -c "uffd$1" &
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
}

# check_loops.py counts the runs against this (unquoted: one space apart)
# shellcheck disable=SC2086
echo "LOOPS-PLAN repeat=$repeat only=$(echo $only | tr ' ' ,)"
[ "${LOOPS_RESTART:-0}" = 1 ] || start_fl
n=1
while [ $n -le "$repeat" ]; do
	if wanted attach; then
		# faultloop started and stopped alone (tools/vm/loops-repeat.sh)
		echo "LOOPS-BEGIN attach#$n up=$(up)"
		stop_fl
		start_fl
		rm -f /tmp/u.out
		reports "attach#$n"
		[ "${LOOPS_RESTART:-0}" = 1 ] && stop_fl
	fi
	for dir in write read; do
		wanted "uffd-$dir" || continue
		# run 1 spins its full 3 s (DETECTED, ONGOING, ENDED when the
		# page is filled); the others end once DETECTED
		if [ $n = 1 ]; then
			scenario "uffd-$dir#$n" ./uffd-loop -d "$dir" -t 3 -c "uffd$dir"
		else
			scenario "uffd-$dir#$n" uffd_until_detected "$dir"
		fi
	done
	n=$((n + 1))
done
wanted uffd-sleep && scenario uffd-sleep#1 ./uffd-loop -n -t 2 -c uffdsleep
if [ -n "$eio" ] && wanted populate-eio; then
	scenario populate-eio#1 ./populate-eio -t 4 -c popeio "$eio"
fi
stop_fl
