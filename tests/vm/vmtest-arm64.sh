#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The arm64 + MTE matrix: the btrfs search_ioctl() live-lock of the seeds
# (an MTE tag mismatch inside a copied item, 5.10 rewinding and retrying for
# ever) reproduced for real on Debian arm64 kernels in qemu (TCG, virt with
# mte=on, qemu >= 8.0 from tools/fetch-qemu.sh), with faultloop watching.
# Per kernel (bullseye 5.10, bookworm 6.1, trixie 6.12, and the newest of sid
# and trixie-backports, 7.x at the time of writing):
#   - `--probes --json` in every --mode against tests/vm/expect/SUITE-arm64.txt;
#     the known loops' exposure against SUITE-arm64.exposure, the MTE
#     live-lock, where exposed, caught by the repro (tests/vm/exposure.py);
#   - control: MTE really works (a user read of a mismatched granule faults,
#     its neighbours do not) and the ioctl on a correctly tagged buffer
#     succeeds;
#   - faultloop started first, then tools/mte-search with one bad granule:
#     5.10 never returns from the ioctl (state R, system time growing, no
#     context switch) and faultloop reports it DETECTED within 5 s, for the
#     right pid/comm, owner search_ioctl, tag-check signals and the bad
#     granule's address, then ONGOING with growing retries, metrics showing
#     the loop active, faultloop still serving on the other CPU; 6.1, 6.12
#     and 7.x return -EFAULT, faultloop having seen
#     fault_in_subpage_writeable() refuse the buffer, and nothing is detected;
#   - 5.10 only, a second boot: the live-lock already spinning when
#     faultloop starts.  faultloop must not wedge the guest (arming kprobes
#     on arm64 goes through stop_machine, which waits for the spinning CPU
#     for ever) and must name the stuck task within a bounded time.
# A live-locked guest cannot power off: the payload prints all its results
# and then FAULTLOOP-VM-DONE, on which run-vm.sh stops qemu.
#
# Then the kernel configurations production runs (tools/lib.sh): bullseye-rt
# (5.10 PREEMPT_RT, the seeds' live-lock too), trixie-rt and trixie-16k (6.12
# with 16K pages, MTE), the same scenarios.
#
#   tests/vm/vmtest-arm64.sh [--update] [SUITE...]   (default: all but sid)
#   --update rewrites tests/vm/expect/SUITE-arm64.{txt,exposure} from the run
# One qemu at a time is plenty for a 2-core host: run it under
# `flock /tmp/faultloop-heavy.lock` when other heavy jobs share the machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
PROG=vmtest-arm64
# shellcheck source=tools/lib.sh
. tools/lib.sh

update=0
if [[ ${1:-} == --update ]]; then update=1; shift; fi
suites=("$@")
# sid only when named, as in tests/vm/vmtest.sh
((${#suites[@]})) || suites=(bullseye bookworm trixie trixie-backports bullseye-rt trixie-rt trixie-16k)
for s in "${suites[@]}"; do known_suite "$s" || die "unknown suite '$s' (want one of: $DEBIAN_SUITES)"; done
out=.output/arm64-static
expect_dir=tests/vm/expect
work=$(mktemp -d /tmp/faultloop-vm-arm64.XXXXXX)
trap 'rm -rf "$work"' EXIT
start=$(date +%s)

make -s ARCH=arm64 STATIC=1 "$out/faultloop" "$out/mte-search" "$out/uffd-loop" \
	"$out/populate-eio" >/dev/null ||
	die "make ARCH=arm64 STATIC=1 failed"

img=$(btrfs_image)

mkdir -p "$work/payload"
cp "$out/faultloop" "$out/mte-search" "$out/uffd-loop" "$out/populate-eio" tests/vm/loops.sh \
	"$work/payload/"
cat >"$work/payload/run.sh" <<'GUEST'
#!/bin/sh
# plan: "main" (probes, control, faultloop then the repro) or "late" (the
# repro spinning, then faultloop)
cd /payload
plan=$(cat plan)
up() { cut -d' ' -f1 /proc/uptime; }
# state utime stime (ticks) voluntary/involuntary switches of a process
proc() {
	set -- $1 "$(cut -d' ' -f3,14,15 /proc/$1/stat 2>/dev/null)" \
		"$(sed -n 's/^voluntary_ctxt_switches:\t*//p' /proc/$1/status 2>/dev/null)" \
		"$(sed -n 's/^nonvoluntary_ctxt_switches:\t*//p' /proc/$1/status 2>/dev/null)"
	echo "PROC pid=$1 up=$(up) stat=$2 vcsw=$3 nvcsw=$4"
}
# GET /metrics: busybox nc, since the static busybox wget of bullseye and
# bookworm arm64 segfaults in the guest
scrape() {
	printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' | nc -w 5 127.0.0.1 19477 2>&1 | tr -d '\r'
}
# wait up to $2 tenths of a second for pattern $1 in file $3
waitfor() { i=0; while ! grep -q "$1" "$3" 2>/dev/null && [ $i -lt $2 ]; do sleep 0.1; i=$((i+1)); done; }
echo "KERNEL $(uname -r)"
# The search_ioctl() live-lock below is the kernel's own on 5.10 (no
# 18788e34642e): its soft lockup and RCU stall lines are expected there,
# and only there (tools/lib.sh, GUEST_EXPECT_LOCKUP); any other trouble
# line still fails the run
expect_lockup() {
	case $(uname -r) in 5.10.*) echo "FAULTLOOP-VM-EXPECT-LOCKUP search_ioctl on $(uname -r)" ;; esac
}
mount -t btrfs -o ro /dev/vda /mnt || echo "MOUNT-FAILED"
./mte-search -m control -c mtectl /mnt >/tmp/c.out 2>&1
echo "CONTROL-BEGIN rc=$?"; cat /tmp/c.out; echo "CONTROL-END"

if [ "$plan" = main ]; then
	for m in $(cat probe-modes); do
		echo "PROBES-BEGIN $m"
		./faultloop --probes --json --mode $m
		echo "PROBES-END $m rc=$?"
	done
	# loops inside one fault or GUP call at default settings, before the
	# MTE repro, which on 5.10 spins for good (tests/vm/loops.sh); each
	# userfaultfd loop twice here, 3 times in the amd64 matrix where both
	# wedges were seen (the CI budget: loops.sh)
	LOOPS_REPEAT=2 sh ./loops.sh /payload /mnt/eio

	# faultloop first, default threshold and --min-duration
	./faultloop --json --metrics 127.0.0.1:19477 >/tmp/d.out 2>/tmp/d.err &
	fl=$!
	waitfor 'probes attached' 600 /tmp/d.err
	expect_lockup
	./mte-search -c mteloop /mnt >/tmp/w.out 2>&1 &
	rp=$!
	waitfor 'ioctl start' 100 /tmp/w.out
	proc $rp
	# ONGOING every second: 6 s of them while the ioctl spins.  A fixed
	# kernel's ioctl returns at once: 2 s later (twice --min-duration) no
	# episode of it can still be reported
	i=0
	while [ $i -lt 60 ] && { kill -0 $rp 2>/dev/null || [ $i -lt 20 ]; }; do sleep 0.1; i=$((i+1)); done
	proc $rp
	echo "METRICS-BEGIN"
	scrape | grep -E '^faultloop_(loops|retries|stuck|episodes|faultin_failures)'
	echo "METRICS-END rc=$?"
	kill -0 $fl 2>/dev/null && alive=1 || alive=0
	echo "FAULTLOOP alive=$alive"
	if ! kill -0 $rp 2>/dev/null; then
		# the ioctl returned: detaching is safe, no CPU spins
		kill -TERM $fl; wait $fl; echo "FAULTLOOP-STOP rc=$?"
	fi
	echo "SCENARIO-BEGIN first"
	cat /tmp/w.out
	cat /tmp/d.out
	echo "SCENARIO-END first"
	cat /tmp/d.err
	spinner=$rp
else
	expect_lockup
	./mte-search -c mtelate /mnt >/tmp/w.out 2>&1 &
	rp=$!
	waitfor 'ioctl start' 100 /tmp/w.out
	sleep 2
	proc $rp
	echo "LATE-START up=$(up)"
	./faultloop --json --metrics 127.0.0.1:19477 >/tmp/d.out 2>/tmp/d.err &
	fl=$!
	# bounded: a faultloop that arms kprobes now wedges the guest, and then
	# nothing below ever prints (the host's timeout ends the run)
	t0=$(up)
	waitfor "mtelate" 300 /tmp/d.out
	echo "LATE-NAMED up=$(up) after=$(awk -v a="$t0" -v b="$(up)" 'BEGIN { printf "%.1f", b - a }')"
	# where the loop is preemptible (PREEMPT_RT) nothing is held: the
	# kprobes are armed with the loop running (35.8 s under TCG on
	# 5.10-rt), then its next retries are DETECTED
	waitfor 'probes attached\|held\|not arming' 900 /tmp/d.err
	grep -q 'not arming' /tmp/d.err || waitfor '"event":"detected"' 100 /tmp/d.out
	sleep 2
	proc $rp
	echo "METRICS-BEGIN"
	scrape | grep -E '^faultloop_(loops|stuck|probe_info)'
	echo "METRICS-END rc=$?"
	kill -0 $fl 2>/dev/null && alive=1 || alive=0
	echo "FAULTLOOP alive=$alive"
	echo "SCENARIO-BEGIN late"
	cat /tmp/w.out
	cat /tmp/d.out
	echo "SCENARIO-END late"
	echo "STDERR-BEGIN"; cat /tmp/d.err; echo "STDERR-END"
	echo "LATE-END up=$(up)"
	spinner=$rp
fi
if kill -0 $spinner 2>/dev/null; then
	# a CPU spins in the kernel: poweroff would hang behind it
	dmesg | grep -iE 'soft lockup|rcu.*stall' | head -3
	echo "FAULTLOOP-VM-DONE 0"
	sleep 30
fi
GUEST
chmod +x "$work/payload/run.sh"

pass=0 fail=0
boot() {	# suite plan timeout -> log in $work/$suite-$plan.log, status in $work/rc
	local suite=$1 plan=$2 tmo=$3 rc=0
	printf '%s\n' "$plan" >"$work/payload/plan"
	suite_probe_modes "$suite" >"$work/payload/probe-modes"
	mkdir -p .output/vm-logs
	tools/vm/run-vm.sh --suite "$suite" --arch arm64 --payload "$work/payload" \
		--modules btrfs --disk "$img" --timeout "$tmo" --log "$work/$suite-$plan.log" \
		>/dev/null 2>"$work/$suite-$plan.err" || rc=$?
	cp "$work/$suite-$plan.log" ".output/vm-logs/$suite-arm64-$plan.log" 2>/dev/null || true
	# a guest kernel that crashed, locked up or stalled (run-vm.sh status
	# 123): its lines, and check-arm64.py fails the boot on the status
	grep '^    ' "$work/$suite-$plan.err" || true
	printf '%s\n' "$rc" >"$work/$suite-$plan.rc"
}
for suite in "${suites[@]}"; do
	t0=$(date +%s)
	# 360 s, twice the slowest guest (trixie-rt, 186 s with the uffd loops
	# 10 times each); a guest that crashes or locks up is stopped 20 s
	# after it says so, only a silent hang costs the whole timeout
	boot "$suite" main 360
	plans=(main)
	# bullseye-rt too: there the loop is preemptible, so faultloop names it
	# stuck but preempted, holds nothing (stop_machine() does not wait on
	# it), arms its kprobes with the loop running and reports it DETECTED
	if [[ $suite == bullseye ]]; then
		# the late start may wedge the guest: keep its timeout short
		boot "$suite" late 90
		plans+=(late)
	elif [[ $suite == bullseye-rt ]]; then
		# arming under TCG with the loop running took 35.8 s
		boot "$suite" late 180
		plans+=(late)
	fi
	kver=$(grep -m1 -o 'booting [^ ]*' "$work/$suite-main.err" | cut -d' ' -f2 || true)
	args=()
	for p in "${plans[@]}"; do
		args+=("$p" "$work/$suite-$p.log" "$(<"$work/$suite-$p.rc")" "$(tail -n1 "$work/$suite-$p.err")")
	done
	if python3 tests/vm/check-arm64.py "$suite" "$kver" "$expect_dir/$suite-arm64.txt" "$update" "${args[@]}"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
	fi
	echo "     $suite took $(($(date +%s) - t0))s (logs: .output/vm-logs/$suite-arm64-*.log)"
done
echo "vmtest-arm64: $pass passed, $fail failed ($(($(date +%s) - start))s)"
((fail == 0))
