#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The VM harness's verdict on a guest console, without booting anything:
# guest_trouble (the crash/lockup/stall scanner) and vm_boot_again (which
# failed boots may be tried again) of tools/lib.sh, on console excerpts of
# the kinds the matrices have met.  The first case is issue 19's CI run:
# a soft lockup during uffd-write, the guest killed at the timeout, then
# booted again and passed, the run green.
set -euo pipefail
cd "$(dirname "$0")/../.."
PROG=test_trouble
# shellcheck source=tools/lib.sh
. tools/lib.sh

work=$(mktemp -d /tmp/faultloop-trouble.XXXXXX)
trap 'rm -rf "$work"' EXIT
fails=0
check() {	# name want-trouble(0|1) want-retry(0|1) status console...
	local name=$1 want_t=$2 want_r=$3 st=$4 got_t=0 got_r=0 lines
	shift 4
	printf '%s\r\n' "$@" >"$work/log"
	lines=$(guest_trouble "$work/log") && got_t=1
	vm_boot_again "$work/log" "$st" >/dev/null && got_r=1
	if ((got_t == want_t && got_r == want_r)); then
		echo "ok   $name: trouble $got_t, boot again $got_r${lines:+ (${lines%%$'\n'*})}"
	else
		echo "FAIL $name: trouble $got_t (want $want_t), boot again $got_r (want $want_r)${lines:+: $lines}"
		fails=$((fails + 1))
	fi
}

start='FAULTLOOP-VM-START uptime=4.6'
check "soft lockup in a scenario, killed at the timeout" 1 0 124 "$start" 'LOOPS-BEGIN uffd-write#1' \
	'[  243.113018] watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [exe:510]'
check "the same line cut into a payload's line" 1 0 123 "$start" \
	'{"event":"detected","comm":"uffd[  243.113018] watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [exe:510]'
check "RCU self-detected stall" 1 0 123 "$start" '[  251.2] rcu: INFO: rcu_preempt self-detected stall on CPU'
check "RCU tasks stall" 1 0 123 "$start" '[  600.0] INFO: rcu_tasks detected stalls on tasks:'
check "hung task" 1 0 123 "$start" '[  369.8] INFO: task khugepaged:38 blocked for more than 120 seconds.'
check "x86 Oops" 1 0 123 "$start" '[   88.1] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI'
check "arm64 Oops" 1 0 123 "$start" '[   88.1] Internal error: Oops: 0000000096000004 [#1] SMP'
check "WARN" 1 0 123 "$start" '[   12.0] WARNING: CPU: 1 PID: 77 at mm/gup.c:1101 __get_user_pages+0x1/0x2'
check "panic before the payload" 1 0 123 '[    1.2] Kernel panic - not syncing: VFS: Unable to mount root fs'
check "hard lockup" 1 0 123 "$start" '[   50.0] NMI watchdog: Watchdog detected hard LOCKUP on cpu 1'
# a payload's own words are no kernel message
check "reports naming bugs" 0 0 1 "$start" 'known_bug uffd-signal-busy-loop BUG: Oops soft lockup' \
	'FAULTLOOP-VM-EXIT 1'
check "a clean run" 0 0 0 "$start" '[    6.6] trace_kprobe: Could not probe notrace function copy_to_user_nofault' \
	'[    0.2] Spectre V2 : WARNING: Unprivileged eBPF is enabled with eIBRS on, data leaks possible via Spectre v2 BHB attacks!' \
	'FAULTLOOP-VM-EXIT 0'
# the kernel's own live-lock, announced: its lockup lines are expected,
# a crash after the marker is not
check "expected live-lock" 0 0 0 "$start" 'FAULTLOOP-VM-EXPECT-LOCKUP search_ioctl on 5.10.0-35-arm64' \
	'[   60.1] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [mteloop:321]' \
	'[   61.0] rcu: INFO: rcu_sched self-detected stall on CPU' 'FAULTLOOP-VM-DONE 0'
check "a crash after the expected live-lock" 1 0 123 "$start" 'FAULTLOOP-VM-EXPECT-LOCKUP search_ioctl' \
	'[   70.1] Unable to handle kernel NULL pointer dereference at virtual address 0'
check "a lockup before the marker" 1 0 123 "$start" '[   20.1] watchdog: BUG: soft lockup - CPU#0 stuck for 23s! [exe:99]' \
	'FAULTLOOP-VM-EXPECT-LOCKUP search_ioctl'
# infrastructure: booted again, with a reason
check "qemu died before the payload" 0 1 125 'qemu-system-x86_64: cannot allocate memory'
check "boot hung before the payload" 0 1 124 '[    0.5] Booting the kernel.'
check "payload started, then the timeout" 0 0 124 "$start" 'LOOPS-BEGIN uffd-read#3'
# multi-threaded TCG's stale translation of patched text (6.12, at attach):
# the int3 trapped on is no longer in memory (the Code: bytes).  A kernel
# crash all the same: never booted again (tcg_stale_int3 names it beside
# the failure; its own cases below)
int3='[   70.191558] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI'
rip='[   70.192320] RIP: 0010:handle_mm_fault+0x5/0x2c0'
code='[   70.192503] Code: 90 90 90 90 f3 0f 1e fa e8 <67> 5b 3e 37 41 57 41 56'
check "stale int3 under multi-threaded TCG" 1 0 123 "$start" 'PHASE attach up=67.49' "$int3" "$rip" "$code" \
	'[   70.195938] Kernel panic - not syncing: Fatal exception in interrupt'
check "an int3 still in memory" 1 0 123 "$start" "$int3" "$rip" \
	'[   70.192503] Code: 90 90 90 90 f3 0f 1e fa cc <67> 5b 3e 37 41 57 41 56'
check "a stale int3 and a lockup" 1 0 123 "$start" "$int3" "$rip" "$code" \
	'[   99.1] watchdog: BUG: soft lockup - CPU#0 stuck for 23s! [flrunning:658]'
check "an int3 Oops without its Code line" 1 0 123 "$start" "$int3" "$rip"

# the diagnosis itself: the emulator's only where the Code: bytes prove it
diag() {	# name want(0|1) console...
	local name=$1 want=$2 got=0
	shift 2
	printf '%s\r\n' "$@" >"$work/log"
	tcg_stale_int3 "$work/log" >/dev/null && got=1
	if ((got == want)); then echo "ok   $name: stale int3 $got"; else echo "FAIL $name: stale int3 $got (want $want)"; fails=$((fails + 1)); fi
}
diag "diagnosis: stale int3" 1 "$start" "$int3" "$rip" "$code" '[   70.195938] Kernel panic - not syncing: Fatal exception in interrupt'
diag "diagnosis: int3 still in memory" 0 "$start" "$int3" "$rip" '[   70.192503] Code: 90 90 90 90 f3 0f 1e fa cc <67> 5b 3e 37 41 57 41 56'
diag "diagnosis: a lockup beside it" 0 "$start" "$int3" "$rip" "$code" '[   99.1] watchdog: BUG: soft lockup - CPU#0 stuck for 23s! [flrunning:658]'

((fails == 0)) && echo "test_trouble: all passed" || echo "test_trouble: $fails failed"
((fails == 0))
