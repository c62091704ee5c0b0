#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# eio-image.sh OUT.img: a small btrfs image holding two 64 KiB files, /good
# and /eio.  Every data block of /eio is overwritten in the image after the
# filesystem is unmounted, so its checksums fail and every read of it
# returns EIO; /good reads back as written.  tools/populate-eio uses the
# image as the read-only disk of a VM guest:
#
#   mount -t btrfs -o ro /dev/vda /mnt && ./populate-eio -t 20 /mnt/eio
#
# How: mkfs.btrfs on a 128 MiB file, loop mount, write both files from
# /dev/urandom (incompressible, larger than any inline extent), sync, read
# /eio's single extent with filefrag -v (on btrfs its "physical" offset is a
# btrfs logical address), map it to the device offset with
# btrfs-map-logical, unmount, check that the bytes at that offset are the
# file's, overwrite them with zeros.  The result is checked by mounting the
# image read-only again: reading /eio must fail with EIO and /good must
# match.  Needs root (loop devices) and a host kernel with btrfs.
set -euo pipefail
readonly PROG=${0##*/}
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $# -eq 1 && $1 != -* ]] || { echo "usage: tools/eio-image.sh OUT.img" >&2; exit 2; }
out=$1
[[ $(id -u) -eq 0 ]] || die "needs root (loop mount)"
PATH=$PATH:/usr/sbin:/sbin
ensure_tools mkfs.btrfs:btrfs-progs btrfs-map-logical:btrfs-progs filefrag:e2fsprogs losetup:mount

size=$((64 * 1024))
work=$(mktemp -d /tmp/eio-image.XXXXXX)
img=$out.tmp.$$
mnt=$work/mnt
loopdev=
cleanup() {
	mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"
	[[ -n $loopdev ]] && losetup -d "$loopdev" 2>/dev/null
	rm -rf "$work"
	rm -f "$img"
}
trap cleanup EXIT

mkdir -p "$mnt"
truncate -s 128M "$img"
mkfs.btrfs -q -f "$img" >/dev/null
loopdev=$(losetup --find --show "$img")
mount -t btrfs "$loopdev" "$mnt"
head -c $size /dev/urandom >"$work/good"
head -c $size /dev/urandom >"$work/eio"
cp "$work/good" "$mnt/good"
cp "$work/eio" "$mnt/eio"
sync

# One extent, not inline, not compressed or encoded:
#  ext:     logical_offset:        physical_offset: length:   expected: flags:
#    0:        0..      15:       3328..      3343:     16:             last,eof
frag=$(filefrag -v -b4096 "$mnt/eio")
ext=$(awk '$1 ~ /^[0-9]+:$/' <<<"$frag")
[[ $(wc -l <<<"$ext") -eq 1 ]] || die "/eio has more than one extent: $frag"
grep -qE 'inline|encoded|not_aligned|unknown|delalloc' <<<"$ext" && die "unusable extent: $ext"
read -r -a f <<<"${ext//[:.]/ }"
# f: ext lstart lend pstart pend length ...
[[ ${f[1]} -eq 0 && ${f[5]} -eq $((size / 4096)) ]] || die "unexpected extent: $ext"
logical=$((f[3] * 4096))
umount "$mnt"
losetup -d "$loopdev"
loopdev=

# btrfs-map-logical prints "mirror 1 logical L physical P device D".
map=$(btrfs-map-logical -l "$logical" -b $size "$img" 2>/dev/null)
mapfile -t phys < <(awk '$1 == "mirror" && $5 == "physical" {print $6}' <<<"$map")
[[ ${#phys[@]} -eq 1 ]] || die "expected one copy of logical $logical: $map"
cmp -s -n $size -i "${phys[0]}:0" "$img" "$work/eio" ||
	die "bytes at device offset ${phys[0]} are not /eio's data"
dd if=/dev/zero of="$img" bs=4096 seek=$((phys[0] / 4096)) count=$((size / 4096)) \
	conv=notrunc status=none

# Check: /eio now fails with EIO, /good still reads back.
mkdir -p "$mnt"
loopdev=$(losetup --find --show --read-only "$img")
mount -t btrfs -o ro "$loopdev" "$mnt"
cmp -s "$mnt/good" "$work/good" || die "/good does not read back"
if err=$(dd if="$mnt/eio" of=/dev/null bs=4096 2>&1); then
	die "/eio reads without error"
fi
grep -q 'Input/output error' <<<"$err" || die "/eio fails, but not with EIO: $err"
umount "$mnt"
losetup -d "$loopdev"
loopdev=
mv "$img" "$out"
log "$out: /eio (logical $logical, device offset ${phys[0]}, $size bytes zeroed) fails with EIO, /good reads"
