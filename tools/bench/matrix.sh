#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The benchmark's measuring loop, shared by the host and the VM guests (so
# POSIX sh with busybox tools only).  tools/bench/bench.sh sets the
# environment and turns the records this prints into the report.
#
#   BIN=DIR FL=faultloop TRACERS='none faultloop floor bpftrace' \
#   WORKLOADS='pwrite pfault kfault race retry getpid' REPS=5 DUR=1.5 \
#   tools/bench/matrix.sh
#
# Tracers: none; faultloop[:MODE] (its defaults, plus --mode MODE and
# $FL_ARGS); floor[:MODE] (empty programs on the hooks `faultloop --probes
# --mode MODE` attaches); bpftrace ($BT_PROG).
#
# Phases:
#  1. main: REPS repetitions; each starts every tracer in turn (order rotated
#     per repetition) and runs every workload under it (order rotated too)
#     for DUR seconds after WARM seconds of warm-up.  BPF stats stay off.
#  2. stats (STATS=1): kernel.bpf_stats_enabled=1, one run per tracer and
#     workload, per-program run counts and times before and after; the
#     sysctl is restored.
#  3. memory (MEM=1): faultloop (and bpftrace) sampled at start, under the
#     race with 1 writer, during and after the race with MEM_THREADS writers.
#
# Output: one tab-separated record per line, each starting with "BENCH".
set -u

: "${BIN:?BIN: directory with bench-work, floor, bpf-stat}"
: "${FL:?FL: the faultloop binary}"
TRACERS=${TRACERS:-none faultloop floor}
WORKLOADS=${WORKLOADS:-pwrite pfault kfault race retry getpid}
REPS=${REPS:-5}
DUR=${DUR:-1.5}
WARM=${WARM:-0.3}
STATS=${STATS:-1}
MEM=${MEM:-1}
MEM_THREADS=${MEM_THREADS:-64}
MEM_DUR=${MEM_DUR:-4}
FL_ARGS=${FL_ARGS:-}
LOADCHECK=${LOADCHECK:-}
BT_PROG=${BT_PROG:-'tracepoint:exceptions:page_fault_kernel { @[tid, args->address] = count(); }'}
TMPD=${TMPD:-/tmp/faultloop-bench.$$}
mkdir -p "$TMPD"

TAB=$(printf '\t')
rec() {	# fields... -> one record
	old_ifs=$IFS
	IFS=$TAB
	printf 'BENCH\t%s\n' "$*"
	IFS=$old_ifs
}
note() { printf 'bench: %s\n' "$*" >&2; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }

# rotate N WORDS...: the words, starting at the N-th (0-based, modulo)
rotate() {
	n=$1
	shift
	k=$(($# > 0 ? n % $# : 0))
	i=0 head='' tail=''
	for w; do
		if [ $i -lt $k ]; then head="$head $w"; else tail="$tail $w"; fi
		i=$((i + 1))
	done
	# shellcheck disable=SC2086
	echo $tail $head
}

# ---- floor hooks: what faultloop attaches in each mode ---------------------

mode_of() {	# tracer label -> mode ("auto" if none given)
	case $1 in
	*:*) echo "${1#*:}" ;;
	*) echo auto ;;
	esac
}

hooks_file() { echo "$TMPD/hooks.$1"; }

derive_hooks() {	# mode -> floor MODE:SYMBOL specs, from faultloop --probes
	f=$(hooks_file "$1")
	[ -s "$f" ] && return 0
	# the stall sampler (perf_event) is no per-event hook: it stays in
	# faultloop's figures, and the floor is what the per-event hooks cost
	"$FL" --probes --json --mode "$1" 2>"$TMPD/probes.err" | tr '{' '\n' |
		grep '"status":"attached"' | grep -v '"mode":"perf_event"' |
		sed -n 's/.*"symbol":"\([^"]*\)","mode":"\([^"]*\)".*/\2:\1/p' >"$f"
	if [ ! -s "$f" ]; then
		note "faultloop --probes --mode $1 attached nothing: $(tail -1 "$TMPD/probes.err")"
		return 1
	fi
	# shellcheck disable=SC2046
	rec hooks "$1" $(cat "$f")
}

# ---- tracers ---------------------------------------------------------------

TPID=''
wait_for() {	# file pattern pid: until the pattern shows up (60 s), or pid dies
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		if ! kill -0 "$3" 2>/dev/null || [ $i -ge 600 ]; then
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	return 0
}

start_tracer() {	# label -> TPID ('' for none); 1 if it failed to start
	TPID=''
	case $1 in
	none)
		return 0 ;;
	faultloop*)
		m=$(mode_of "$1")
		margs=''
		[ "$m" = auto ] || margs="--mode $m"
		# shellcheck disable=SC2086
		"$FL" $FL_ARGS $margs >"$TMPD/tracer.out" 2>"$TMPD/tracer.err" &
		TPID=$!
		pat='probes attached' log=err ;;
	floor*)
		m=$(mode_of "$1")
		# shellcheck disable=SC2046
		"$BIN/floor" $(cat "$(hooks_file "$m")") >"$TMPD/tracer.out" 2>"$TMPD/tracer.err" &
		TPID=$!
		pat='programs attached' log=err ;;
	bpftrace)
		bpftrace -e "$BT_PROG" >"$TMPD/tracer.out" 2>"$TMPD/tracer.err" &
		TPID=$!
		pat='Attaching' log=out ;;	# on stdout
	*)
		note "unknown tracer $1"
		return 1 ;;
	esac
	if ! wait_for "$TMPD/tracer.$log" "$pat" "$TPID"; then
		rec warn "$1 did not start: $(tail -2 "$TMPD/tracer.err" | tr '\n\t' '  ')"
		kill -KILL "$TPID" 2>/dev/null
		wait "$TPID" 2>/dev/null
		TPID=''
		return 1
	fi
	if [ "$1" = bpftrace ]; then
		# "Attaching" comes before the attach: wait for the program
		i=0
		while [ $i -lt 100 ] && ! "$BIN/bpf-stat" "$TPID" 2>/dev/null | grep -q '^prog '; do
			sleep 0.1
			i=$((i + 1))
		done
	fi
	sleep 0.5	# let it settle (metrics thread, first sweep)
	return 0
}

stop_tracer() {
	[ -n "$TPID" ] || return 0
	kill -INT "$TPID" 2>/dev/null
	wait "$TPID" 2>/dev/null
	TPID=''
}

# bpf-stat of the tracer (empty for none)
sample() {
	if [ -n "$TPID" ]; then "$BIN/bpf-stat" "$@" "$TPID" 2>/dev/null; fi
}
field() {	# record-line key -> value of key=
	sed -n "s/.*[ ]$2=\([^ ]*\).*/\1/p" <<EOF
$1
EOF
}
proc_cpu() { field "$(sample | grep '^proc ')" cpu_s; }

run_wl() {	# workload threads [duration]: bench-work's line in $TMPD/wl.out
	"$BIN/bench-work" -w "$1" -t "$2" -d "${3:-$DUR}" -W "$WARM" >"$TMPD/wl.out" ||
		rec warn "bench-work -w $1 -t $2 failed"
}
wl() { field " $(cat "$TMPD/wl.out")" "$1"; }	# key of the last run
num() { case $1 in ''|*[!0-9]*) echo 0 ;; *) echo "$1" ;; esac; }

stats_was=$(cat /proc/sys/kernel/bpf_stats_enabled 2>/dev/null || echo 0)
stats_set=0
restore_stats() {	# only if we changed it
	if [ "$stats_set" = 1 ]; then
		echo "$stats_was" >/proc/sys/kernel/bpf_stats_enabled
		stats_set=0
	fi
}
cleanup() {
	stop_tracer
	restore_stats
	rm -rf "$TMPD"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. main: interleaved repetitions --------------------------------------

for t in $TRACERS; do
	case $t in
	floor*) derive_hooks "$(mode_of "$t")" || TRACERS=$(echo " $TRACERS " | sed "s/ $t / /") ;;
	esac
done
# shellcheck disable=SC2086
rec info tracers $TRACERS
# shellcheck disable=SC2086
rec info workloads $WORKLOADS
rec info reps "$REPS"
rec info dur "$DUR"
rec info warm "$WARM"
if [ "$stats_was" != 0 ]; then
	rec warn "kernel.bpf_stats_enabled is already 1: every BPF program pays for its stats in the main phase"
fi

rep=1
while [ "$rep" -le "$REPS" ]; do
	[ -n "$LOADCHECK" ] && $LOADCHECK
	note "repetition $rep/$REPS"
	# shellcheck disable=SC2086
	for t in $(rotate $((rep - 1)) $TRACERS); do
		start_tracer "$t" || continue
		s=$(sample)
		p=$(echo "$s" | grep '^proc ')
		tot=$(echo "$s" | grep '^total ')
		rec sess "$rep" "$t" start "$(field "$tot" memlock)" "$(field "$tot" progs)" "$(field "$tot" maps)" \
			"$(field "$p" rss_kb)" "$(field "$p" hwm_kb)" "$(field "$tot" run_cnt)" "$(field "$p" cpu_s)"
		if [ "$rep" = 1 ]; then
			echo "$s" | grep '^map ' | while read -r line; do
				rec map "$t" "$(field "$line" name)" "$(field "$line" type)" \
					"$(field "$line" max_entries)" "$(field "$line" memlock)"
			done
			echo "$s" | grep '^prog ' | while read -r line; do
				rec prog "$t" "$(field "$line" name)" "$(field "$line" xlated)" \
					"$(field "$line" jited)" "$(field "$line" verified_insns)"
			done
		fi
		# shellcheck disable=SC2086
		for w in $(rotate $((rep - 1)) $WORKLOADS); do
			c0=$(proc_cpu) u0=$(uptime_s)
			run_wl "$w" 1
			c1=$(proc_cpu) u1=$(uptime_s)
			rec run "$rep" "$t" "$w" 1 "$(wl ops_per_s)" "${c0:--}" "${c1:--}" "$u0" "$u1"
		done
		s=$(sample)
		p=$(echo "$s" | grep '^proc ')
		tot=$(echo "$s" | grep '^total ')
		# run_cnt moving with bpf_stats off: someone else enabled the stats
		rec sess "$rep" "$t" end "$(field "$tot" memlock)" "$(field "$tot" progs)" "$(field "$tot" maps)" \
			"$(field "$p" rss_kb)" "$(field "$p" hwm_kb)" "$(field "$tot" run_cnt)" "$(field "$p" cpu_s)"
		stop_tracer
	done
	rep=$((rep + 1))
done
[ -n "$LOADCHECK" ] && $LOADCHECK

# ---- 2. BPF run-time stats -------------------------------------------------


if [ "$STATS" = 1 ]; then
	note "BPF stats pass"
	stats_set=1
	echo 1 >/proc/sys/kernel/bpf_stats_enabled
	for t in $TRACERS; do
		[ "$t" = none ] && continue
		start_tracer "$t" || continue
		for w in $WORKLOADS; do
			sample | grep '^prog ' >"$TMPD/before"
			run_wl "$w" 1
			sample | grep '^prog ' >"$TMPD/after"
			while read -r line; do
				id=$(field "$line" id)
				b=$(grep "^prog id=$id " "$TMPD/before")
				rec stat "$t" "$w" "$(wl ops_per_s)" "$(wl all_ops)" "$(field "$line" name)" "$id" \
					"$(($(num "$(field "$line" run_cnt)") - $(num "$(field "$b" run_cnt)")))" \
					"$(($(num "$(field "$line" run_time_ns)") - $(num "$(field "$b" run_time_ns)")))" \
					"$(field "$line" xlated)" "$(field "$line" jited)" "$(field "$line" verified_insns)"
			done <"$TMPD/after"
		done
		stop_tracer
	done
	restore_stats
fi

# ---- 3. memory under many tasks ----------------------------------------------

mem_sample() {	# tracer phase threads ops
	s=$(sample -e)
	p=$(echo "$s" | grep '^proc ')
	tot=$(echo "$s" | grep '^total ')
	# the biggest hash map's entries: faultloop's episodes, bpftrace's @
	ent=$(echo "$s" | sed -n 's/^map .*max_entries=\([0-9]*\) .*entries=\([0-9]*\).*/\2/p' | sort -n | tail -1)
	rec mem "$1" "$2" "$3" "$(field "$p" rss_kb)" "$(field "$p" hwm_kb)" "$(field "$tot" memlock)" "${ent:--}" "${4:--}"
}

if [ "$MEM" = 1 ]; then
	for t in $TRACERS; do
		case $t in faultloop*|bpftrace) ;; *) continue ;; esac
		note "memory pass: $t"
		start_tracer "$t" || continue
		mem_sample "$t" start 0
		run_wl race 1 "$MEM_DUR"
		mem_sample "$t" after-race-1 1 "$(wl ops_per_s)"
		"$BIN/bench-work" -w race -t "$MEM_THREADS" -d "$MEM_DUR" -W 0 >"$TMPD/mem.out" &
		wp=$!
		sleep "$(awk "BEGIN { print $MEM_DUR / 2 }")"
		mem_sample "$t" "during-race-$MEM_THREADS" "$MEM_THREADS"
		wait $wp
		mem_sample "$t" "after-race-$MEM_THREADS" "$MEM_THREADS" "$(field " $(cat "$TMPD/mem.out")" ops_per_s)"
		run_wl kfault 1 "$MEM_DUR"
		mem_sample "$t" after-kfault 1 "$(wl ops_per_s)"
		stop_tracer
		if [ "${t%%:*}" = faultloop ]; then
			rec summary "$t" "$(grep 'events,' "$TMPD/tracer.err" | tail -1)"
		fi
	done
fi
rec end
