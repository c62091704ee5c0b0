#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# run-systemd-vm.sh --rootfs DIR --payload DIR --timeout SECONDS
#                   [--arch amd64] [--smp 2] [--mem 2048] [--log FILE]
#
# Boot a Debian root filesystem made by tools/vm/build-rootfs.sh (DIR holds
# rootfs.img, vmlinuz, initrd.img) with systemd as PID 1 under qemu (TCG,
# never KVM: see tools/vm/README.md), the root disk in snapshot mode (the
# cached image is never written).  The payload directory goes in as a second
# disk (/dev/vdb, ext4); the image's faultloop-vm-payload.service runs its
# run.sh once multi-user.target is reached, output on the serial console,
# and powers off.  run.sh ends with "FAULTLOOP-VM-EXIT <status>" on a line
# of its own.
#
# Exit status: the payload's status from that marker; 124 if the guest was
# killed at the timeout; 125 if it stopped without printing the marker;
# 1 on a host-side error; 2 on bad usage.  The console goes to stdout and
# to the log file.
set -euo pipefail
readonly PROG=${0##*/}
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/../lib.sh"
usage() {
	echo "usage: $PROG --rootfs DIR --payload DIR --timeout SECONDS [--arch amd64] [--smp N] [--mem MB] [--log FILE]" >&2
	exit 2
}
rootfs="" payload="" timeout="" arch=amd64 smp=2 mem=2048 logfile=""
while [[ $# -gt 0 ]]; do
	[[ $# -ge 2 ]] || usage
	case $1 in
		--rootfs) rootfs=$2 ;;
		--payload) payload=$2 ;;
		--timeout) timeout=$2 ;;
		--arch) arch=$2 ;;
		--smp) smp=$2 ;;
		--mem) mem=$2 ;;
		--log) logfile=$2 ;;
		*) usage ;;
	esac
	shift 2
done
[[ -n $rootfs && -n $payload && -n $timeout ]] || usage
[[ $timeout =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive number of seconds"
[[ $arch == amd64 ]] || die "only amd64 guests are supported (got '$arch')"
for f in rootfs.img vmlinuz initrd.img; do
	[[ -s $rootfs/$f ]] || die "$rootfs has no $f (tools/vm/build-rootfs.sh makes it)"
done
[[ -f $payload/run.sh ]] || die "payload directory '$payload' has no run.sh"
PATH=$PATH:/usr/sbin:/sbin
ensure_tools mkfs.ext4:e2fsprogs
# qemu 10, as run-vm.sh: bookworm's 7.2 runs stale translations of patched
# kernel text under multi-threaded TCG (tools/fetch-qemu.sh)
qemu_x86=$("$(dirname "$0")/../fetch-qemu.sh" x86_64) ||
	die "no qemu-system-x86_64 >= 10.0 and tools/fetch-qemu.sh failed"

run=$(mktemp -d "${TMPDIR:-/tmp}/faultloop-sysvm.XXXXXX")
qpid="" tailpid=""
cleanup() {
	[[ -z $qpid ]] || kill "$qpid" 2>/dev/null || true
	[[ -z $tailpid ]] || kill "$tailpid" 2>/dev/null || true
	rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

size=$(( $(du -sm "$payload" | cut -f1) + 32 ))
truncate -s "${size}M" "$run/payload.img"
mkfs.ext4 -q -F -L payload -d "$payload" "$run/payload.img" >/dev/null || die "mkfs.ext4 of the payload failed"

logfile=${logfile:-$run/console.log}
mkdir -p "$(dirname "$logfile")"
: >"$logfile"

# -accel tcg (multi-threaded: the race needs its two threads truly in
# parallel), never kvm; -nic none: no network; snapshot=on: writes go to a
# temporary overlay, the cached image stays as built.
qemu_args=("$qemu_x86" -machine q35 -audio none -accel tcg,thread=multi -cpu max -m "$mem" -smp "$smp"
	-nographic -no-reboot -nic none
	-kernel "$rootfs/vmlinuz" -initrd "$rootfs/initrd.img"
	-append "root=/dev/vda rw console=ttyS0 panic=-1 quiet systemd.show_status=false"
	-drive "file=$rootfs/rootfs.img,if=virtio,format=raw,snapshot=on"
	-drive "file=$run/payload.img,if=virtio,format=raw,readonly=on")

log "booting $(cat "$rootfs/KVER" 2>/dev/null) with $(basename "$rootfs") (smp=$smp, mem=${mem}M, timeout=${timeout}s), log: $logfile"
start=$(date +%s.%N)
"${qemu_args[@]}" </dev/null >"$logfile" 2>&1 &
qpid=$!
tail -n +1 -f --pid="$qpid" "$logfile" &
tailpid=$!

deadline=$(($(date +%s) + timeout))
timed_out=0 marker_seen_at=""
while kill -0 "$qpid" 2>/dev/null; do
	if grep -aq '^FAULTLOOP-VM-EXIT [0-9]' "$logfile"; then
		# every result is out and the root disk is a snapshot: no need to
		# wait for systemd's power-off (tens of seconds under TCG)
		marker_seen_at=${marker_seen_at:-$(date +%s)}
		if (($(date +%s) - marker_seen_at >= 2)); then
			kill "$qpid" 2>/dev/null || true
			break
		fi
	fi
	if (($(date +%s) >= deadline)); then
		timed_out=1
		kill "$qpid" 2>/dev/null || true
		break
	fi
	sleep 0.5
done
wait "$qpid" 2>/dev/null || true
qpid=""
wait "$tailpid" 2>/dev/null || true
tailpid=""
total=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

status=$(tr -d '\r' <"$logfile" | sed -n 's/^FAULTLOOP-VM-EXIT \([0-9][0-9]*\)$/\1/p' | tail -n1)
if [[ -z $status ]]; then
	if ((timed_out)); then
		log "timeout: guest killed after ${timeout}s (log: $logfile)"
		exit 124
	fi
	log "guest stopped without printing FAULTLOOP-VM-EXIT after ${total}s (log: $logfile)"
	exit 125
fi
log "guest exit status $status after ${total}s"
exit "$status"
