#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# text-poke-stress.sh: the CI guest wedge (issue 19) without faultloop.
# A kprobe on a hot function (default handle_mm_fault, the fault path
# faultloop hooks) and, on x86, the page_fault_user tracepoint armed and
# disarmed through tracefs as fast as the shell can, each an int3-based
# text_poke_bp() of code every page fault runs, while two shells exec
# busybox applets (every exec faults its pages in through both).  No faultloop, no BPF: what a guest
# does here is the kernel's and the emulator's alone.
#
# Why: both CI wedges were a task spinning in the kernel while faultloop
# attached; the bookworm one was `[exe:510]`, a busybox applet between its
# execve() of /proc/self/exe and its own prctl(PR_SET_NAME) (busybox
# re-executes itself for an applet, so that is its name for a moment),
# i.e. faulting its first pages in.  A vCPU of multi-threaded TCG that
# runs a stale translation of patched text executes an int3 that memory no
# longer holds.  Kernels before 6.3 take such an int3 for "a breakpoint
# removed right after we hit it", back up and run the instruction again
# (kprobe_int3_handler; dropped by 8e791f7eba4c, v6.3): the same stale
# int3 again, a task that never leaves the kernel, a soft lockup.  From
# 6.3 nothing claims it: "Oops: int3" (tools/lib.sh tcg_stale_int3).
#
#   tools/vm/text-poke-stress.sh [--suite bookworm] [--arch amd64] [--boots 3]
#       [--seconds 60] [--func handle_mm_fault] [--tcg multi|single] [--smp 2]
#
# Per boot one line: arm/disarm cycles, applets run, and the guest's
# trouble lines if it crashed, locked up or stalled (run-vm.sh status
# 123); logs in .output/vm-logs/text-poke-SUITE-ARCH-BOOT.log.  Exit
# status 0 if no boot wedged, 1 if one did, 2 on bad usage.
set -euo pipefail
cd "$(dirname "$0")/../.."
PROG=text-poke-stress
# shellcheck source=tools/lib.sh
. tools/lib.sh

suite=bookworm arch=amd64 boots=3 seconds=60 func=handle_mm_fault tcg=multi smp=2
while [[ $# -gt 0 ]]; do
	case $1 in
		--suite|--arch|--boots|--seconds|--func|--tcg|--smp)
			[[ $# -ge 2 ]] || { log "$1 needs a value"; exit 2; }
			declare "${1#--}=$2"
			shift 2 ;;
		*) log "unknown argument '$1' (see the header of $0)"; exit 2 ;;
	esac
done
known_suite "$suite" || { log "unknown suite '$suite'"; exit 2; }
[[ $boots =~ ^[1-9][0-9]*$ && $seconds =~ ^[1-9][0-9]*$ && $func =~ ^[A-Za-z_][A-Za-z0-9_.]*$ ]] ||
	{ log "--boots and --seconds take positive numbers, --func a symbol"; exit 2; }

work=$(mktemp -d /tmp/faultloop-text-poke.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/payload" .output/vm-logs
cat >"$work/payload/run.sh" <<GUEST
#!/bin/sh
T=/sys/kernel/tracing
[ -e \$T/kprobe_events ] || T=/sys/kernel/debug/tracing
echo 'p:flstress $func' >\$T/kprobe_events || { echo "STRESS no kprobe on $func"; exit 1; }
E=\$T/events/kprobes/flstress/enable
# and, on x86, the static branch of the user page fault tracepoint inside
# exc_page_fault() (6.12's stale int3 was at exc_page_fault+0x3d, one of
# these): each enable or disable another text_poke_bp()
P=\$T/events/exceptions/page_fault_user/enable
[ -e \$P ] || P=/dev/null
# grep is no shell builtin: each one an execve() of /proc/self/exe
execs() { n=0; while [ ! -e /tmp/stop ]; do grep -q . /proc/uptime; n=\$((n + 1)); done; echo \$n >/tmp/execs.\$1; }
execs 1 & a=\$!
execs 2 & b=\$!
end=\$((\$(cut -d. -f1 /proc/uptime) + $seconds))
n=0
while [ \$(cut -d. -f1 /proc/uptime) -lt \$end ]; do
	echo 1 >\$E
	echo 1 >\$P
	echo 0 >\$E
	echo 0 >\$P
	n=\$((n + 1))
done
touch /tmp/stop
wait \$a \$b
echo "STRESS cycles=\$n execs=\$((\$(cat /tmp/execs.1) + \$(cat /tmp/execs.2)))"
echo >\$T/kprobe_events
GUEST
chmod +x "$work/payload/run.sh"

wedged=0 t0=$EPOCHSECONDS
for ((b = 1; b <= boots; b++)); do
	logf=.output/vm-logs/text-poke-$suite-$arch-$b.log
	rc=0
	tools/vm/run-vm.sh --suite "$suite" --arch "$arch" --payload "$work/payload" --tcg "$tcg" \
		--smp "$smp" --timeout $((seconds + 120)) --log "$logf" >/dev/null 2>"$work/err" || rc=$?
	res=$(tr -d '\r' <"$logf" | grep -m1 '^STRESS ' || echo "STRESS did not finish")
	boot_line "$b" "$rc" "$work/err" "${res#STRESS }" || wedged=$((wedged + 1))
done
echo "text-poke-stress $suite-$arch $func: $boots boots of ${seconds}s, $wedged wedged ($((EPOCHSECONDS - t0))s; logs .output/vm-logs/text-poke-$suite-$arch-*.log)"
((wedged == 0))
