#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# populate-eio-vm.sh: run tools/populate-eio in a Debian kernel guest on the
# btrfs image of tools/eio-image.sh, whose /eio fails every read with EIO.
#
#   tools/populate-eio-vm.sh --suite SUITE [--arch amd64|arm64] [--seconds N]
#       [--expect loop|efault|einval] [--run-vm PATH] [--log FILE]
#
# The guest mounts the image read-only and runs, in order:
#   control  populate-eio /mnt/good        (MADV_POPULATE_READ on a good file)
#   read     populate-eio -t N /mnt/eio    (MADV_POPULATE_READ)
#   write    populate-eio -w -t 10 /mnt/eio (MADV_POPULATE_WRITE, private map)
# with the btrfs error counters (corruption_errs: one per failed read of a
# block) before and after each, and prints
#   populate-eio-result control=C read=R write=W
# each one of ok (madvise returned 0), efault, einval, loop (still inside
# madvise when the timeout expired), other.  With --expect the script
# exits 1 unless read and write are that and control is ok (einval for
# --expect einval: kernels before 5.14 have no MADV_POPULATE_*).
#
# The static binary is built into .output/populate-eio-ARCH and the image
# made once as .output/eio.img (root: loop mount).  --run-vm picks another
# run-vm.sh (default: tools/vm/run-vm.sh beside this script).
set -euo pipefail
readonly PROG=${0##*/}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tools/lib.sh
. "$here/lib.sh"

usage() {
	echo "usage: tools/populate-eio-vm.sh --suite SUITE [--arch amd64|arm64] [--seconds N] [--expect loop|efault|einval] [--run-vm PATH] [--log FILE]" >&2
	exit 2
}
suite="" arch=amd64 secs=20 expect="" runvm=$here/vm/run-vm.sh logfile=""
while [[ $# -gt 0 ]]; do
	[[ $# -ge 2 ]] || usage
	case $1 in
	--suite) suite=$2 ;;
	--arch) arch=$2 ;;
	--seconds) secs=$2 ;;
	--expect) expect=$2 ;;
	--run-vm) runvm=$2 ;;
	--log) logfile=$2 ;;
	*) usage ;;
	esac
	shift 2
done
[[ -n $suite ]] || usage
[[ $secs =~ ^[1-9][0-9]*$ ]] || usage
case $expect in "" | loop | efault | einval) ;; *) usage ;; esac
case $arch in
amd64) cc=gcc ;;
arm64) cc=aarch64-linux-gnu-gcc ;;
*) usage ;;
esac

cd "$here/.."
mkdir -p .output
bin=.output/populate-eio-$arch
if [[ ! -x $bin || tools/populate-eio.c -nt $bin ]]; then
	command -v "$cc" >/dev/null || die "$cc not found (apt-get install gcc-aarch64-linux-gnu for arm64)"
	"$cc" -static -O2 -Wall -o "$bin" tools/populate-eio.c -lpthread
fi
img=.output/eio.img
[[ -s $img ]] || tools/eio-image.sh "$img"

payload=$(mktemp -d /tmp/populate-eio-vm.XXXXXX)
out=$payload.out
trap 'rm -rf "$payload" "$out"' EXIT
cp "$bin" "$payload/populate-eio"
cat >"$payload/run.sh" <<EOF
#!/bin/sh
secs=$secs
EOF
cat >>"$payload/run.sh" <<'EOF'
uname -r
dmesg -n 1
echo "kallsyms: $(grep -E ' (faultin_vma_page_range|faultin_page_range)$' /proc/kallsyms | cut -d' ' -f2- | tr '\n' ' ')"
mkdir -p /mnt && mount -t btrfs -o ro /dev/vda /mnt || { echo "mount failed"; exit 10; }
stats() { for f in /sys/fs/btrfs/*/devinfo/*/error_stats; do [ -r "$f" ] && echo "error_stats: $(tr '\n' ' ' <"$f")"; done; }
classify() {
	if [ "$1" = 3 ]; then echo loop
	elif [ "$1" != 0 ]; then echo other
	elif grep -q 'errno 14 (EFAULT)' /tmp/o; then echo efault
	elif grep -q 'errno 22 (EINVAL)' /tmp/o; then echo einval
	elif grep -q 'returned 0 errno 0' /tmp/o; then echo ok
	else echo other; fi
}
run() {
	name=$1; shift
	echo "== $name: populate-eio $*"
	stats
	./populate-eio "$@" >/tmp/o 2>&1
	rc=$?
	cat /tmp/o
	echo "rc=$rc"
	stats
	sleep 1
	echo "still alive: $(ps | grep -c '[p]opulate-eio')"
	eval "res_$name=$(classify $rc)"
}
echo "dd: $(dd if=/mnt/eio of=/dev/null bs=4096 2>&1 | head -n 1)"
run control -t 10 /mnt/good
# the kernel's own loop where it lacks 631426ba1d45: its lockup lines are
# expected from here (run-vm.sh fails a run on any other)
echo "FAULTLOOP-VM-EXPECT-LOCKUP MADV_POPULATE on an EIO file"
run read -t "$secs" /mnt/eio
run write -w -t 10 /mnt/eio
echo "csum failed lines in dmesg: $(dmesg | grep -c 'csum failed')"
dmesg | grep -iE 'stall|soft lockup|hung task|blocked for' | head
echo "populate-eio-result control=$res_control read=$res_read write=$res_write"
exit 0
EOF
chmod +x "$payload/run.sh"

args=(--suite "$suite" --arch "$arch" --payload "$payload" --disk "$img" --modules btrfs
	--timeout $((secs + 240)))
[[ -n $logfile ]] && args+=(--log "$logfile")
rc=0
"$runvm" "${args[@]}" 2>&1 | tee "$out" || rc=$?
[[ $rc -eq 0 ]] || die "run-vm.sh exited $rc"
result=$(grep -a -o 'populate-eio-result control=[a-z]* read=[a-z]* write=[a-z]*' "$out" | tail -n 1) ||
	die "no populate-eio-result line from the guest"
log "$suite/$arch: ${result#populate-eio-result }"
[[ -n $expect ]] || exit 0
want_control=ok
[[ $expect == einval ]] && want_control=einval
[[ $result == "populate-eio-result control=$want_control read=$expect write=$expect" ]] ||
	die "expected control=$want_control read=$expect write=$expect"
