#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Overhead benchmark: faultloop vs an empty BPF program on the same hooks
# (the floor) vs bpftrace, on six workloads, interleaved (see BENCHMARKS.md).
#
#   tools/bench/bench.sh [options]            (make bench; root)
#     -r, --reps N          repetitions (default 8; --vm: 3)
#     -d, --duration S      seconds per workload run (default 1; --vm: 1)
#     -w, --workloads 'A B' default: pwrite pfault kfault race retry getpid
#                           (--vm: all but race, whose timing TCG distorts)
#     -t, --tracers 'A B'   default: none faultloop floor bpftrace (--vm: none
#                           faultloop:fentry floor:fentry faultloop:kprobe
#                           floor:kprobe; MODE after ':' is faultloop's --mode)
#         --mem-threads N   writers in the memory pass (default 64)
#         --no-stats        skip the BPF stats pass
#         --no-mem          skip the memory pass
#         --no-parts        skip the cost breakdown of faultloop's program
#                           (tools/bench/parts, host only)
#         --vm SUITE        instead: run a reduced matrix in a qemu (TCG) guest
#                           of Debian SUITE (one of tools/lib.sh's DEBIAN_SUITES) with
#                           faultloop --mode fentry and --mode kprobe
#     -o, --out DIR         keep records and report here (default .output/bench)
#
# Takes /tmp/faultloop-heavy.lock for the whole run, so no other heavy job
# (VM tests) shares the CPU, and warns about anything else that does.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck disable=SC2034  # used by tools/lib.sh
PROG=bench
# shellcheck source=tools/lib.sh
. tools/lib.sh

reps='' dur='' warm=0.3 workloads='' tracers=''
mem_threads=64 stats=1 mem=1 parts=1 vm='' out=.output/bench
orig_args=("$@")
while (($#)); do
	case $1 in
	-r|--reps) reps=$2; shift ;;
	-d|--duration) dur=$2; shift ;;
	-w|--workloads) workloads=$2; shift ;;
	-t|--tracers) tracers=$2; shift ;;
	--mem-threads) mem_threads=$2; shift ;;
	--no-stats) stats=0 ;;
	--no-mem) mem=0 ;;
	--no-parts) parts=0 ;;
	--vm) vm=$2; shift ;;
	-o|--out) out=$2; shift ;;
	-h|--help) sed -n '4,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option $1 (--help)" ;;
	esac
	shift
done
# the guests run a reduced matrix: TCG is slow and only its ratios count
if [[ -z $vm ]]; then
	: "${reps:=8}" "${dur:=1}" "${workloads:=pwrite pfault kfault race retry getpid}"
	: "${tracers:=none faultloop floor bpftrace}"
else
	: "${reps:=3}" "${dur:=1}" "${workloads:=pwrite pfault kfault retry getpid}"
	: "${tracers:=none faultloop:fentry floor:fentry faultloop:kprobe floor:kprobe}"
fi
[[ $reps =~ ^[1-9][0-9]*$ ]] || die "--reps: want a positive integer"
[[ $dur =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--duration: want seconds"
(($(id -u) == 0)) || die "run as root (BPF, sysctl kernel.bpf_stats_enabled)"
[[ $(uname -m) == x86_64 ]] || die "x86_64 only"

# one heavy job at a time on this machine
lock=/tmp/faultloop-heavy.lock
if [[ ${FAULTLOOP_BENCH_LOCKED:-} != 1 ]]; then
	if ! flock -n "$lock" true; then
		log "waiting for $lock (another heavy job is running)"
	fi
	exec flock "$lock" env FAULTLOOP_BENCH_LOCKED=1 "$0" "${orig_args[@]}"
fi

mkdir -p "$out"
work=$(mktemp -d /tmp/faultloop-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp tools/bench/matrix.sh "$work/"	# sh reads its script as it goes: edits must not reach a running one

meta() { printf 'BENCH\tmeta\t%s\t%s\n' "$1" "$2"; }
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
version=$(git describe --tags --always --dirty 2>/dev/null || echo '?')

if [[ -z $vm ]]; then
	# ---- this machine ----------------------------------------------------
	make -s faultloop
	make -s -f tools/bench/bench.mk
	bin=.output/x86_64/bench
	[[ " $tracers " == *" bpftrace "* ]] && ensure_tools bpftrace:bpftrace
	if [[ ! -e /sys/kernel/tracing/events ]]; then
		mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
	fi
	fmt=/sys/kernel/tracing/events/exceptions/page_fault_kernel/format
	bt_prog='tracepoint:exceptions:page_fault_kernel { @[tid, args->address] = count(); }'
	if [[ " $tracers " == *" bpftrace "* ]] && ! grep -q 'field:unsigned long address;' "$fmt" 2>/dev/null; then
		log "no 'address' field in $fmt: bpftrace skipped"
		tracers=${tracers/bpftrace/}
	fi
	# faultloop with its defaults; its metrics port only if the default is taken
	fl_args=''
	port_free() { python3 -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1])))" "$1" 2>/dev/null; }
	if ! port_free 19477; then
		for p in 19478 19479 19480 19481 19482; do
			if port_free "$p"; then fl_args="--metrics 127.0.0.1:$p"; break; fi
		done
		log "port 19477 is taken: faultloop serves its metrics on ${fl_args#--metrics } instead"
	fi
	records=$out/host.tsv
	{
		meta machine "$cpu_model, $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
		meta kernel "$(uname -r)"
		meta faultloop "$version, default settings${fl_args:+ except $fl_args (19477 was taken)}; metrics thread on"
		[[ " $tracers " == *" bpftrace "* ]] && meta bpftrace "$(bpftrace --version 2>&1 | head -1): $bt_prog"
		meta command "tools/bench/bench.sh ${orig_args[*]}"
		meta date "$(date -u +%Y-%m-%dT%H:%MZ)"
		BIN=$bin FL=./faultloop TRACERS=$tracers WORKLOADS=$workloads REPS=$reps DUR=$dur WARM=$warm \
			STATS=$stats MEM=$mem MEM_THREADS=$mem_threads FL_ARGS=$fl_args BT_PROG=$bt_prog \
			TMPD=$work/m LOADCHECK="python3 tools/bench/loadcheck.py $work/load.state" \
			sh "$work/matrix.sh"
	} | tee "$records.tmp" | grep --line-buffered -E '^BENCH	(warn|hooks)' >&2 || true
	mv "$records.tmp" "$records"
	grep -q '^BENCH	end' "$records" || die "the run did not finish (records in $records)"
	python3 tools/bench/report.py "$records" \
		--title "faultloop overhead benchmark: this machine ($(uname -r)), tracepoint mode" | tee "$out/host.txt"
	tools/bench/startup.sh ./faultloop 9 auto tracepoint >"$out/startup-host.tsv"
	python3 tools/bench/startup_report.py "$out/startup-host.tsv" "this machine, $(uname -r)" |
		tee -a "$out/host.txt"
	if ((parts)); then
		log "cost breakdown of faultloop's page_fault_kernel program (tools/bench/parts)"
		{
			echo
			echo "Where faultloop's time per event goes (tools/bench/parts: its tp_btf program rebuilt step by"
			echo "step with the real maps and fl_event(), each program attached alone, BPF stats ns/run):"
			for w in kfault retry; do
				"$bin/parts" -w "$w" -r 5 -d 0.3
			done
		} | tee -a "$out/host.txt"
	fi
	exit 0
fi

# ---- a VM guest (qemu TCG) ----------------------------------------------------
known_suite "$vm" || die "--vm: one of $DEBIAN_SUITES"
static=.output/x86_64-static
make -s STATIC=1 "$static/faultloop"
make -s -f tools/bench/bench.mk STATIC=1
payload=$work/payload
mkdir -p "$payload"
cp "$static/faultloop" "$static/bench/bench-work" "$static/bench/floor" "$static/bench/bpf-stat" \
	tools/bench/matrix.sh tools/bench/startup.sh "$payload/"
vm_tracers=${tracers//bpftrace/}
cat >"$payload/run.sh" <<GUEST
#!/bin/sh
cd /payload
echo "BENCH	meta	guest	\$(uname -r), \$(grep -c ^processor /proc/cpuinfo) vCPUs"
sh ./startup.sh /payload/faultloop 5 auto fentry kprobe tracepoint
BIN=/payload FL=/payload/faultloop TRACERS='$vm_tracers' WORKLOADS='$workloads' \\
	REPS=$reps DUR=$dur WARM=$warm STATS=$stats MEM=0 TMPD=/tmp/m sh ./matrix.sh
GUEST
chmod +x "$payload/run.sh"
records=$out/vm-$vm.tsv
log_file=$work/vm.log
python3 tools/bench/loadcheck.py "$work/load.state" >"$work/load.tsv"
log "booting $vm in qemu (TCG); the guest runs ${reps} repetitions of $(wc -w <<<"$vm_tracers") tracers x $(wc -w <<<"$workloads") workloads"
rc=0
tools/vm/run-vm.sh --suite "$vm" --arch amd64 --payload "$payload" --timeout 3000 \
	--log "$log_file" >/dev/null 2>"$work/vm.err" || rc=$?
python3 tools/bench/loadcheck.py "$work/load.state" >>"$work/load.tsv"
{
	meta host "$cpu_model, $(nproc) cores, kernel $(uname -r); guest: qemu TCG -cpu max, 2 vCPUs"
	meta faultloop "$version (static build, no metrics endpoint)"
	meta command "tools/bench/bench.sh ${orig_args[*]}"
	meta date "$(date -u +%Y-%m-%dT%H:%MZ)"
	tr -d '\r' <"$log_file" | grep -a '^BENCH	'
	cat "$work/load.tsv"
} >"$records"
((rc == 0)) || die "guest failed (status $rc): $(tail -1 "$work/vm.err"); records so far in $records"
grep -q '^BENCH	end' "$records" || die "the guest run did not finish (records in $records)"
python3 tools/bench/report.py "$records" --tcg \
	--title "faultloop overhead benchmark: Debian $vm guest, fentry and kprobe modes" \
	--note "bpftrace is not in the guest (busybox only): skipped there" | tee "$out/vm-$vm.txt"
python3 tools/bench/startup_report.py "$records" "Debian $vm guest under qemu TCG" |
	tee -a "$out/vm-$vm.txt"
