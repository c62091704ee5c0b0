# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Shared by the tools/ scripts: source after setting PROG.
# shellcheck shell=bash

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
log() { printf '%s: %s\n' "$PROG" "$*" >&2; }

# The Debian suites the kernel tools fetch from (tools/fetch-kernel.sh) and
# boot (tools/vm/run-vm.sh): the three releases, trixie-backports (whose
# release carries no busybox and no dependencies of its own: its base,
# trixie, comes along) and sid.  A suite may name a kernel flavour after
# its release: RELEASE-rt is the PREEMPT_RT kernel (linux-image-rt-ARCH:
# spinlocks and many rwsems sleep, so a task looping in the kernel can
# switch out), trixie-16k the arm64 kernel with 16K pages
# (linux-image-arm64-16k; Debian builds it from 6.12 on, arm64 only).
DEBIAN_SUITES="bullseye bookworm trixie trixie-backports sid bullseye-rt bookworm-rt trixie-rt trixie-16k"
known_suite() { [[ " $DEBIAN_SUITES " == *" $1 "* ]]; }
# The Debian suite (apt archives, busybox, release facts) of a suite.
suite_release() { case $1 in *-rt | *-16k) printf '%s\n' "${1%-*}" ;; *) printf '%s\n' "$1" ;; esac; }
# Its kernel flavour: rt, 16k, or "" for the release's cloud/generic kernel.
suite_flavour() { case $1 in *-rt | *-16k) printf '%s\n' "${1##*-}" ;; *) printf '\n' ;; esac; }
# The --mode values whose --probes a matrix guest checks against its
# expectation: all four on a release's own kernel; auto alone on a flavour,
# whose forced modes select from the same symbols as its release's kernel
# (checked there in all four) and whose races still run in every mode.
# Issue 20 asks the flavours to run what differs, within the CI budget:
# forced --probes took 33 s of trixie-rt's 230 guest seconds.
suite_probe_modes() { if [[ -n $(suite_flavour "$1") ]]; then echo auto; else echo auto fentry kprobe tracepoint; fi; }

# Install the Debian packages providing missing tools ("cmd:package" pairs),
# quietly; apt's output is shown only if the install fails.
ensure_tools() {
	local spec missing=()
	for spec in "$@"; do
		command -v "${spec%%:*}" >/dev/null 2>&1 || missing+=("${spec#*:}")
	done
	[[ ${#missing[@]} -gt 0 ]] || return 0
	[[ $(id -u) -eq 0 ]] || die "missing packages ${missing[*]}; install them or run as root"
	log "installing ${missing[*]}"
	local outp
	if ! outp=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" 2>&1); then
		# A fresh machine may have no package lists yet.
		outp=$(apt-get update -q 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" 2>&1) ||
			{ printf '%s\n' "$outp" >&2; die "apt-get install ${missing[*]} failed"; }
	fi
}

# The small btrfs image the VM scenarios attach read-only, made once:
#   img=$(btrfs_image)
btrfs_image() {
	# tools/eio-image.sh: a btrfs image whose /eio reads fail with EIO (the
	# MADV_POPULATE loop of tests/vm/loops.sh); the btrfs searches only
	# need a btrfs
	local img=.output/btrfs-eio.img
	if [[ ! -s $img ]]; then
		PATH=$PATH:/usr/sbin:/sbin
		ensure_tools mkfs.btrfs:btrfs-progs filefrag:e2fsprogs
		mkdir -p .output
		tools/eio-image.sh "$img.tmp.$$" >&2 || die "cannot make the btrfs image"
		mv "$img.tmp.$$" "$img"
	fi
	printf '%s\n' "$img"
}

# ------------------------------------------------------- guest kernel trouble --
# A guest kernel that crashed, locked up or stalled: the console lines that
# say so.  One definition for every guest this project boots (run-vm.sh
# scans its console with it while the guest runs; tests/vm/vmtest*.sh fail a
# suite on it and never boot it again).  Anchored on printk's timestamp
# (run-vm.sh boots with printk.time=1), so a payload's own output (reports
# naming a known bug, a stack frame) never matches, and unanchored at the
# start: a kernel line can begin in the middle of a payload's line on the
# shared UART.
#   crash:  Oops (x86 "Oops: 0002 [#1]", arm64 "Internal error: Oops"),
#           BUG: (soft lockup, NULL pointer, scheduling while atomic,
#           workqueue lockup), kernel BUG at, general protection fault,
#           Unable to handle kernel (arm64), Kernel panic, a WARN on any
#           path ("WARNING: CPU: N PID: N at ...": ours run on the fault path;
#           not any "WARNING:", which some boot notices carry)
#   lockup: soft lockup (watchdog, 2 x watchdog_thresh = 20 s), hard LOCKUP,
#           RCU CPU and RCU-tasks stalls ("rcu: INFO: rcu_sched
#           self-detected stall", "rcu_tasks detected stalls"), hung tasks
#           ("blocked for more than 120 seconds")
GUEST_LOCKUP_RE='soft lockup|hard LOCKUP|detected stalls? |self-detected stall|blocked for more than [0-9]+ seconds'
GUEST_TROUBLE_RE="\\[ *[0-9]+\\.[0-9]+\\] .*(Oops|BUG: |kernel BUG at|general protection fault|Unable to handle kernel|Kernel panic|WARNING: CPU: |$GUEST_LOCKUP_RE)"

# A payload about to start a live-lock that the kernel is known to have on
# its own (bullseye arm64's search_ioctl() with MTE, the point of that test)
# prints this marker first; the lockup lines after it (never a crash) are
# expected, the others still trouble.
GUEST_EXPECT_LOCKUP=FAULTLOOP-VM-EXPECT-LOCKUP

# guest_trouble LOG: print the console's trouble lines (at most 8, \r
# stripped), expected lockups left out; status 0 if there was any.
guest_trouble() {
	# the regexes through ENVIRON: awk -v would process their backslashes
	tr -d '\r' <"$1" | T="$GUEST_TROUBLE_RE" L="$GUEST_LOCKUP_RE" M="^$GUEST_EXPECT_LOCKUP" awk '
		$0 ~ ENVIRON["M"] { expect = 1 }
		$0 ~ ENVIRON["T"] && !(expect && $0 ~ ENVIRON["L"]) { print; if (++n == 8) exit }
		END { exit n == 0 }'
}

# vm_boot_again LOG STATUS: may a failed boot (run-vm.sh STATUS, console
# LOG) be tried again?  Only for the infrastructure: a guest that never
# reached its payload (qemu died, the boot hung, a download failed); the
# reason is printed.  Never a guest kernel that crashed, locked up or
# stalled (status 123), nor a payload that started: a retry once hid a soft
# lockup in the middle of a scenario (issue 19).  Not even one that
# tcg_stale_int3 proves the emulator's: a kernel crash fails the run.
vm_boot_again() {
	(($2 != 0 && $2 != 123)) || return 1
	! tr -d '\r' <"$1" 2>/dev/null | grep -q '^FAULTLOOP-VM-START' || return 1
	guest_trouble "$1" >/dev/null && return 1
	echo "the guest never reached its payload (run-vm status $2)"
}

# boot_line N RC ERR WHAT: the line of a repeat tool (loops-repeat.sh,
# text-poke-stress.sh) for its boot N, run-vm.sh status RC, its stderr in
# ERR: WEDGED with the guest's trouble lines when the kernel crashed,
# locked up or stalled (status 123; returns 1), else the status and WHAT.
boot_line() {
	if (($2 == 123)); then
		echo "boot $1: WEDGED ($4): $(tail -n1 "$3")"
		grep '^    ' "$3" || true
		return 1
	fi
	echo "boot $1: rc $2, $4"
}

# tcg_stale_int3 LOG: is the console's only trouble the emulator's, not the
# kernel's?  x86 patches live text with int3 (text_poke_bp(): int3, sync
# every CPU, the rest, sync, the first byte, sync), and a CPU never runs
# the int3 after the last sync.  Multi-threaded TCG can: another vCPU's
# stale translation still holds it ("Oops: int3" at handle_mm_fault+0x5,
# 6.12, seen at attach, never on a real CPU).  The proof is in the Oops
# itself: its Code: bytes are memory as the kernel reads it at the trap,
# and the byte before the trapping RIP (<..>) is not the int3 (cc) the CPU
# executed.  Any other trouble line (but the panic that Oops brings), or an
# int3 still in memory, is the kernel's.  A diagnosis printed beside the
# failure, never a reason to boot again: the guide allows a retry for
# infrastructure only, never for a kernel crash, and the emulator's crash
# is still one (tools/vm/text-poke-stress.sh reproduces it without
# faultloop; tools/vm/README.md).
tcg_stale_int3() {
	tr -d '\r' <"$1" 2>/dev/null | T="$GUEST_TROUBLE_RE" python3 -c '
import os, re, sys
lines = sys.stdin.read().split("\n")
trouble = [i for i, l in enumerate(lines) if re.search(os.environ["T"], l)]
oops = [i for i in trouble if re.search(r"\] Oops: int3: ", lines[i])]
# the Oops, and the panic it brings ("Fatal exception" or "... in interrupt")
if not oops or any(i not in oops and not re.search(r"Kernel panic - not syncing: Fatal exception", lines[i])
                   for i in trouble):
    sys.exit(1)
for i in oops:
    code = next((l for l in lines[i + 1:i + 12] if " Code: " in l), "")
    m = re.search(r"Code: (?:[0-9a-f]{2} )*([0-9a-f]{2}) <([0-9a-f]{2})>", code)
    if not m or m.group(1) == "cc":
        sys.exit(1)
rip = next((l.split("RIP: ")[1] for l in lines[oops[0]:oops[0] + 6] if "RIP: " in l), "?")
print("emulator: a vCPU ran a stale translation (Oops: int3 at %s, no int3 in memory there)" % rip.strip())
'
}
